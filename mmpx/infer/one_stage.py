"""A one-stage pose model (RTMO) as ``mmpx infer``, ``mmpx suggest`` and the Python API drive it: both the box
source and the pose model.

The runner asks the box source for an image's boxes, then the pose model for the keypoints in those boxes.
:class:`OneStageModel` answers the first call by running the model once on the whole image (ONNX Runtime's
:class:`~mmpx.runtime.one_stage.OnnxOneStage`, or the torch ``mmpose_ext.infer.one_stage.TorchOneStage``) and
keeps the instances it found; the second call hands back the keypoints of those very boxes (the same array
object). So the runner, the video batching, tracking, records, tables and pre-labels work unchanged, and the
model runs once per image. Boxes that did not come from the model (``bboxes=``, the tracked boxes between
detections of ``--det-every``) are refused: a one-stage model finds its own instances.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError

_KEPT = 64  # images whose instances wait for their keypoints call (a video chunk is a few frames)


class OneStageModel:
    """A one-stage predictor (``predict(image) -> OneStagePrediction``, ``predict_batch(images)``, ``dataset_meta``)
    as a box source (``model(image) -> (xyxy, scores)``, ``batch(images)``) and a pose model (``predict(image,
    xyxy) -> (keypoints, scores)`` for the boxes it gave)."""

    name = "one-stage model"
    one_stage = True

    def __init__(self, predictor) -> None:
        self.predictor = predictor
        self.dataset_meta = predictor.dataset_meta
        self.input_size = tuple(getattr(predictor, "input_size", (0, 0)))
        self._found: OrderedDict[int, tuple] = OrderedDict()  # id(boxes) -> (boxes, keypoints, scores)
        self.truncated = 0  # images whose instances may have been cut at the export's top_k (all of them passed)

    @property
    def score_thr(self) -> float:
        return float(self.predictor.score_thr)

    @property
    def nms_thr(self) -> float:
        return float(self.predictor.nms_thr)

    def _keep(self, found) -> tuple[np.ndarray, np.ndarray]:
        self.truncated += bool(getattr(found, "truncated", False))
        boxes = np.asarray(found.boxes, np.float32).reshape(-1, 4)
        self._found[id(boxes)] = (boxes, np.asarray(found.keypoints, np.float32),
                                  np.asarray(found.keypoint_scores, np.float32))
        while len(self._found) > _KEPT:
            self._found.popitem(last=False)
        return boxes, np.asarray(found.scores, np.float32).reshape(-1)

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The instances' boxes (N, 4) xyxy and scores (N,), best first."""
        return self._keep(self.predictor.predict(image_bgr))

    def batch(self, images_bgr) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`__call__` for several frames, in one run where the predictor batches."""
        return [self._keep(found) for found in self.predictor.predict_batch(list(images_bgr))]

    def predict(self, image_bgr: np.ndarray, bboxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The keypoints (N, K, 2) and keypoint scores (N, K) of the boxes this model just gave for the image.

        Raises:
            MmpxError: boxes from elsewhere.
        """
        kept = self._found.pop(id(bboxes), None)
        if kept is not None and kept[0] is bboxes:
            return kept[1], kept[2]
        k = int(self.dataset_meta.get("num_keypoints", 0))
        if len(np.asarray(bboxes).reshape(-1, 4)) == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        raise MmpxError("a one-stage model finds its own instances: it does not take boxes from elsewhere "
                        "(bboxes=, a detector, the tracked boxes of --det-every)",
                        "leave those out: each image's boxes, scores and keypoints come from the model")

    def predict_frames(self, images, bboxes) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.predict(image, boxes) for image, boxes in zip(images, bboxes, strict=True)]


def is_one_stage(model) -> bool:
    """Whether a loaded model is a :class:`OneStageModel` (box source and pose model in one)."""
    return isinstance(model, OneStageModel)


def onnx_is_one_stage(onnx_path: str | Path) -> bool:
    """Whether an exported model is one-stage, from its ``NAME.json`` copy, else the sidecar inside the model
    (False for a file that is not a readable model: loading it says why)."""
    path = Path(onnx_path)
    copy = path.with_suffix(".json")
    from mmpx.runtime.model_file import KINDS, ONE_STAGE_FORMAT, open_session

    try:
        data = json.loads(copy.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("format") in KINDS:
            return data["format"] == ONE_STAGE_FORMAT
    except (OSError, ValueError):
        pass
    if not path.is_file():
        return False
    try:
        _, embedded = open_session(path, threads=1)
    except MmpxError:  # damaged: said when the model loads
        return False
    return isinstance(embedded, dict) and embedded.get("format") == ONE_STAGE_FORMAT


def refuse_boxes(what: str, hint: str = "leave it out: the model gives each instance's box and score") -> None:
    """The error for a box option given with a one-stage model."""
    raise MmpxError(f"{what} given with a one-stage model, which finds its own boxes", hint)


__all__ = ["OneStageModel", "is_one_stage", "onnx_is_one_stage", "refuse_boxes"]
