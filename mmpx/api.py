"""The Python API: what ``mmpx infer`` does, in a few lines of Python, on any backend.

    from mmpx.api import PoseEstimator, save_coco

    pose = PoseEstimator("model.onnx")                                  # ONNX Runtime: no torch needed
    pose = PoseEstimator("pose.onnx", detector="det.onnx")              # both exported: still no torch
    pose = PoseEstimator("configs/carpose/rtmpose-t_carpose-256x256.py", "epoch_420.pth",
                         detector="configs/carpose/rtmdet-tiny_carpose.py", det_weights="det.pth")
    result = pose("car.jpg")                     # a path or a BGR array; boxes from the detector or whole image
    result.keypoints, result.scores, result.bboxes                     # (N, K, 2), (N, K), (N, 4) xyxy
    cv2.imwrite("drawn.jpg", result.draw(kpt_thr=0.3))
    rows = result.to_table()                     # one row per keypoint; a pandas DataFrame with as_frame=True
    save_coco(pose.run(["photos/", "clip.mp4"]), "results.json")        # folders, videos: one result per frame
    results = list(pose.run("clip.mp4", track=True, smooth=True))      # track ids, One-Euro smoothed keypoints
    results[0].track_ids, results[0].raw_keypoints                     # (N,), (N, K, 2) before smoothing
    save_trajectories(results, "clip.csv")       # one row per frame, track and keypoint (as mmpx infer --save-csv)
    save_predictions(pose.run("photos/"), "preds.slp")  # SLEAP .slp, NWB .nwb, Label Studio .json, DeepLabCut .csv

A model is an exported ``.onnx`` (``mmpx export onnx``: its sidecar is inside), or an MMPose config with a
checkpoint (a training checkpoint or an ``mmpx publish`` release). Boxes come from ``bboxes=`` per call, else
the detector (an exported ``det.onnx``, an mmdet config and weights, or any callable ``image -> (xyxy,
scores)``), else the whole image.
``mmpx infer`` is built on the same loaders. See docs/reference/python-api.md.

This module sits with the commands (it chooses the backend): the torch side is imported only for a config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.runtime.threads import apply_env

# The thread policy (mmpx.runtime.threads) for a Python user, as `mmpx` applies it: in effect for torch's waiting
# only when this module is imported before torch; the thread counts apply to every model loaded here.
apply_env()

Boxes = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_pose_model(model: str | Path, weights: str | Path | None = None, *, device: str = "cpu",
                    flip_test: bool | None = None, threads: int | None = None, batch_size: int = 32,
                    cfg_options: list[str] | None = None, score_thr: float | None = None,
                    nms_thr: float | None = None):
    """The pose model behind ``mmpx infer``: ``OnnxPoseModel`` for an ``.onnx``, else ``TorchPoseModel`` for a config
    (with ``weights``). Both answer ``predict(image_bgr, xyxy) -> (keypoints (N,K,2), scores (N,K))``.

    A one-stage model (RTMO: an ``.onnx`` exported from it, or its config) comes as a
    :class:`mmpx.infer.one_stage.OneStageModel`, its own box source; ``score_thr`` and ``nms_thr`` then filter its
    instances (None: the config's ``model.test_cfg``)."""
    from mmpx.infer.one_stage import OneStageModel, onnx_is_one_stage

    if str(model).lower().endswith(".onnx"):
        try:
            from mmpx.runtime.ort import OnnxPoseModel
        except ImportError as exc:
            raise MmpxError(f"ONNX Runtime does not import ({exc})", "run `mmpx doctor`") from exc
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else None
        if onnx_is_one_stage(model):
            from mmpx.runtime.one_stage import OnnxOneStage

            return OneStageModel(OnnxOneStage(str(model), providers=providers, threads=threads, score_thr=score_thr,
                                              nms_thr=nms_thr))
        return OnnxPoseModel(str(model), providers=providers, threads=threads, flip_test=flip_test,
                             codec_builder=_mmpose_codec)
    from mmpose_ext.infer.frames import TorchFramesModel  # TorchPoseModel + crops of several video frames at once
    from mmpose_ext.infer.one_stage import TorchOneStage, is_one_stage_config

    if is_one_stage_config(model, cfg_options):
        return OneStageModel(TorchOneStage(model, None if weights is None else str(weights), device=device,
                                           cfg_options=cfg_options, threads=threads, score_thr=score_thr,
                                           nms_thr=nms_thr))
    return TorchFramesModel(model, None if weights is None else str(weights), device=device,
                            cfg_options=cfg_options, batch_size=batch_size, flip_test=flip_test, threads=threads)


def _mmpose_codec(codec_cfg: dict):
    """MMPose's own codec, for the few without a numpy decoder (only then is mmpose imported)."""
    from mmpose_ext.deploy import build_codec

    return build_codec(codec_cfg)


def load_detector(config: str | Path, weights: str | Path | None = None, *, device: str = "cpu",
                  cat_ids: Sequence[int] = (0,), bbox_thr: float = 0.3, nms_thr: float = 0.3,
                  threads: int | None = None) -> Boxes:
    """The box source of ``mmpx infer``: ``image -> (xyxy (M,4), scores (M,))``. An exported detector
    (``DET.onnx`` from ``mmpx export onnx DET_CONFIG DET_CKPT``, as ``--det-weights DET.onnx``) runs on ONNX
    Runtime without torch (:class:`mmpx.runtime.det.OnnxBoxes`, which also detects a batch of frames in one run);
    an mmdet config (with ``weights``) as ``--det-config``. Both keep the classes ``cat_ids`` scoring above
    ``bbox_thr``, then NMS at ``nms_thr``."""
    if str(config).lower().endswith(".onnx"):
        if weights is not None:
            raise MmpxError(f"detector {config} is an exported detector: it takes no det_weights ({weights})",
                            "leave det_weights out (the .onnx holds the weights and its sidecar the config)")
        try:
            from mmpx.runtime.det import OnnxBoxes
        except ImportError as exc:
            raise MmpxError(f"ONNX Runtime does not import ({exc})", "run `mmpx doctor`") from exc
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else None
        return OnnxBoxes(config, cat_ids=list(cat_ids), bbox_thr=bbox_thr, nms_thr=nms_thr, providers=providers,
                         threads=threads)
    from mmpose_ext.infer.detector import MMDetDetector

    return MMDetDetector(config, weights, device=device, cat_ids=list(cat_ids), bbox_thr=bbox_thr, nms_thr=nms_thr)


@dataclass
class PoseResult:
    """The poses found in one image (or video frame).

    Attributes:
        name: the image's name (a path, or ``clip.mp4#frame=12``).
        keypoints: (N, K, 2) float32, image pixels. scores: (N, K). bboxes: (N, 4) xyxy. bbox_scores: (N,).
        dataset_meta: the model's keypoint metainfo (``keypoint_id2name``, skeleton, colours).
        image: the BGR image the poses were found in (for :meth:`draw`).
        heatmaps: (K, H, W) per instance when asked for (torch backend), else None.
        source: the input's name (``clip.mp4``); frame, time: the frame's index and time in seconds (0 for an
            image).
        track_ids: (N,) with tracking (``run(..., track=True)``), else None.
        raw_keypoints: (N, K, 2) the model's keypoints when ``keypoints`` are smoothed, else None.
        path: the image or video file (None for an array): :func:`save_predictions` names it.
        metas: instances of several classes (a multi-class model whose detector labels each box): each
            instance's class metainfo (its own keypoint names, skeleton, ``class_id``, ``class_name``); then
            ``keypoints``, ``scores`` (and ``raw_keypoints``) are lists with one (K_i, 2), (K_i,) array per
            instance, K_i its class's keypoint count, and ``dataset_meta`` is the union's. None otherwise.
        visible: (N, K) float32, a visibility head's probability (0..1) that each keypoint is seen, not hidden
            (a model of ``mmpx configs new --visibility``); None for a model without one.
    """

    name: str
    keypoints: np.ndarray
    scores: np.ndarray
    bboxes: np.ndarray
    bbox_scores: np.ndarray
    dataset_meta: dict
    image: np.ndarray | None = field(default=None, repr=False)
    heatmaps: np.ndarray | None = field(default=None, repr=False)
    source: str | None = None
    frame: int = 0
    time: float = 0.0
    track_ids: np.ndarray | None = None
    raw_keypoints: np.ndarray | None = field(default=None, repr=False)
    path: Path | None = None
    metas: list[dict] | None = field(default=None, repr=False)
    visible: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def classes(self) -> list[str | None]:
        """Each instance's class name (a multi-class model's: ``class_name=``, or its detector label's); None
        each for a one-class model. Its keypoint names and skeleton are that class's own."""
        if self.metas is not None:
            return [m["class_name"] for m in self.metas]
        return [self.dataset_meta.get("class_name")] * len(self)

    @property
    def category_ids(self) -> list[int]:
        """Each instance's COCO ``category_id``: its class's id for a multi-class model, else 1."""
        if self.metas is not None:
            return [int(m["class_id"]) for m in self.metas]
        return [self.category_id] * len(self)

    @property
    def category_id(self) -> int:
        """The COCO ``category_id`` of the instances: the class's id for a multi-class model, else 1.

        Raises:
            MmpxError: instances of several classes (use :attr:`category_ids`).
        """
        if self.metas is not None:
            raise MmpxError(f"{self.name}: the instances are of several classes", "use result.category_ids")
        return int(self.dataset_meta.get("class_id", 1))

    @property
    def names(self) -> list[str]:
        """Keypoint names in model order.

        Raises:
            MmpxError: instances of several classes (use :attr:`instance_names`).
        """
        if self.metas is not None:
            raise MmpxError(f"{self.name}: the instances are of several classes, each with its keypoint names",
                            "use result.instance_names (one list per instance)")
        return _names(self.dataset_meta, self.keypoints.shape[1] if self.keypoints.ndim == 3 else None)

    @property
    def instance_names(self) -> list[list[str]]:
        """Each instance's keypoint names (its class's; the model's for one class)."""
        if self.metas is not None:
            return [_names(m) for m in self.metas]
        return [self.names] * len(self)

    def _instances(self):
        """(keypoints (K, 2), scores (K,), raw keypoints or None, class meta) of each instance."""
        metas = self.metas if self.metas is not None else [self.dataset_meta] * len(self)
        raws = self.raw_keypoints if self.raw_keypoints is not None else [None] * len(self)
        return list(zip(self.keypoints, self.scores, raws, metas, strict=True))

    def draw(self, image: np.ndarray | None = None, *, kpt_thr: float = 0.3, radius: int = 3, thickness: int = 1,
             draw_bbox: bool = False, show_kpt_idx: bool = False, skeleton_style: str = "mmpose") -> np.ndarray:
        """The poses drawn on a copy of ``image`` (default: the image they were found in), BGR; with track ids,
        each instance's ``#id`` (and its box in the track's colour with ``draw_bbox``)."""
        from mmpx.infer.track import draw_track_ids
        from mmpx.visual.draw import draw_pose

        base = self.image if image is None else image
        if base is None:
            raise MmpxError(f"{self.name}: no image to draw on", "pass draw(image=...)")
        tracked = self.track_ids is not None
        options = dict(kpt_thr=kpt_thr, radius=radius, thickness=thickness, show_kpt_idx=show_kpt_idx,
                       skeleton_style=skeleton_style, draw_bbox=draw_bbox and not tracked)
        if self.metas is None:
            drawn = draw_pose(base, self.keypoints, self.scores, self.dataset_meta, bboxes=self.bboxes, **options)
        else:  # each class with its own skeleton and colours
            drawn = np.array(base, copy=True)
            classes = self.classes
            for name in dict.fromkeys(classes):
                rows = [i for i, c in enumerate(classes) if c == name]
                drawn = draw_pose(drawn, np.stack([self.keypoints[i] for i in rows]),
                                  np.stack([self.scores[i] for i in rows]), self.metas[rows[0]],
                                  bboxes=np.asarray(self.bboxes)[rows], **options)
        if tracked:
            draw_track_ids(drawn, self.bboxes, self.track_ids, thickness=thickness, draw_bbox=draw_bbox)
        return drawn

    def to_coco(self, image_id: int = 1, category_id: int | None = None) -> list[dict]:
        """COCO keypoint results (what ``mmpx eval`` and pycocotools read), scored as MMPose's CocoMetric does;
        with ``track_id`` and ``keypoints_raw`` as ``mmpx infer`` writes them when tracked and smoothed, and
        ``keypoint_visible`` with a visibility head. ``category_id`` defaults to the class's id (a multi-class
        model, with a ``category`` name) or 1."""
        from mmpx.infer.results import add_track_fields, add_visible, instance_records

        if self.metas is None:
            cid = self.category_id if category_id is None else category_id
            records = instance_records(image_id, self.name, self.keypoints, self.scores, self.bboxes,
                                       self.bbox_scores, cid, self.dataset_meta.get("class_name"))
            return add_visible(add_track_fields(records, self.track_ids, self.raw_keypoints, self.scores),
                               self.visible)
        records = []  # several classes: each instance its class's id and keypoints
        for i, (kpts, kscores, raw, meta) in enumerate(self._instances()):
            one = instance_records(image_id, self.name, kpts[None], kscores[None], np.asarray(self.bboxes)[i:i + 1],
                                   np.asarray(self.bbox_scores)[i:i + 1],
                                   int(meta["class_id"]) if category_id is None else category_id, meta["class_name"])
            records += add_track_fields(one, None if self.track_ids is None else self.track_ids[i:i + 1],
                                        None if raw is None else raw[None], kscores[None])
        return records

    def to_labelme(self, image_path: str, *, kpt_thr: float = 0.3, label: str | None = None) -> dict:
        """The labelme document ``mmpx infer --save-labelme`` writes for this image (``image_path`` relative to
        where the JSON goes): a rectangle and named points per instance, points under ``kpt_thr`` flagged
        ``check``; ``mmpx convert labelme`` reads it back to these keypoints. The rectangle's ``label`` defaults to
        the class (a multi-class model: what ``convert labelme --classes`` reads) or ``object``. With a
        visibility head each point has the flag ``occluded`` (ticked when :attr:`visible` is under 0.5), which the
        converter reads as a hidden point."""
        from mmpx.convert.labelme_write import prelabel

        if self.image is None:
            raise MmpxError(f"{self.name}: the image size is unknown (no image)", "run the model on an image")
        height, width = self.image.shape[:2]
        if self.metas is not None:  # several classes: each rectangle labelled with its instance's class
            from mmpx.infer.labelme_out import instances_prelabel

            return instances_prelabel(image_path, width, height, self.keypoints, self.scores, self.bboxes,
                                      list(zip(self.classes, self.instance_names, strict=True)), kpt_thr,
                                      source="mmpx.api")
        from mmpx.infer.labelme_out import mark_hidden

        label = label or self.dataset_meta.get("class_name") or "object"
        return mark_hidden(prelabel(image_path, width, height, self.keypoints, self.scores, self.bboxes, self.names,
                                    label, kpt_thr, source="mmpx.api"), self.visible, self.names)

    def to_table(self, as_frame: bool = False):
        """One row per instance and keypoint: ``image``, ``instance``, ``keypoint``, ``x``, ``y``, ``score``,
        ``bbox_score`` (and ``class`` after ``instance`` for a multi-class model; each instance its own
        keypoints; ``visible`` after ``score`` with a visibility head: :attr:`visible`); a pandas DataFrame with
        ``as_frame=True`` (pandas is optional)."""
        names, classes = self.instance_names, self.classes
        cls = self.metas is not None or self.dataset_meta.get("class_name") is not None  # a class column
        vis = self.visible is not None
        rows = [dict(image=self.name, instance=i, **({"class": classes[i]} if cls else {}),
                     keypoint=names[i][k], x=float(self.keypoints[i][k, 0]), y=float(self.keypoints[i][k, 1]),
                     score=float(self.scores[i][k]), **({"visible": float(self.visible[i][k])} if vis else {}),
                     bbox_score=float(self.bbox_scores[i]))
                for i in range(len(self)) for k in range(len(names[i]))]
        if not as_frame:
            return rows
        try:
            import pandas as pd
        except ImportError as exc:
            raise MmpxError("to_table(as_frame=True) needs pandas", "pip install pandas, or use the list") from exc
        columns = ["image", "instance"] + (["class"] if cls else []) + ["keypoint", "x", "y", "score"] + \
            (["visible"] if vis else []) + ["bbox_score"]
        return pd.DataFrame(rows, columns=columns)


class PoseEstimator:
    """A pose model with its boxes: call it on an image, or :meth:`run` it on files and videos.

    A one-stage model (RTMO: its config and checkpoint, or the ``.onnx`` exported from it) finds its own boxes:
    no detector, each result's ``bboxes`` and ``bbox_scores`` are the model's instances; ``detector``,
    ``det_weights``, ``det_cat_ids``, ``class_name`` and ``bboxes=`` per call are refused.

    Args:
        model: an exported ``.onnx`` or an MMPose config (``PACKAGE::path`` works too).
        weights: the checkpoint for a config (training checkpoint or ``mmpx publish`` release).
        detector: an exported ``det.onnx`` (``mmpx export onnx DET_CONFIG DET_CKPT``: ONNX Runtime, no torch), an
            mmdet config (with ``det_weights``), a callable ``image -> (xyxy, scores)``, or None for the whole
            image as one box.
        device, flip_test, threads, batch_size, cfg_options: as ``mmpx infer``'s options.
        det_cat_ids, bbox_thr, nms_thr: which detector classes to keep (default [0]; every class when the
            boxes are of several classes), the score threshold, NMS IoU (default 0.3 each; a one-stage model's
            instances: default its config's ``test_cfg.score_thr`` and ``nms_thr``).
        class_name: a multi-class model's class of every box (``mmpx infer --class``): each instance
            gets that class's keypoints, names and skeleton only. Refused for a one-class model. Without it, a
            multi-class model with a detector whose class names are the model's (an exported ``det.onnx``, an
            mmdet config) gives each box the class of its detector label (:attr:`PoseResult.metas`); else it is
            required, here or per call.
    """

    def __init__(self, model: str | Path, weights: str | Path | None = None, *, detector=None,
                 det_weights: str | Path | None = None, det_cat_ids: Sequence[int] | None = None,
                 bbox_thr: float | None = None, nms_thr: float | None = None, device: str = "cpu",
                 flip_test: bool | None = None, threads: int | None = None,
                 batch_size: int = 32, cfg_options: list[str] | None = None, class_name: str | None = None) -> None:
        from mmpx.infer.boxes import WholeImage
        from mmpx.infer.classes import for_class, model_classes
        from mmpx.infer.mixed import MixedModel, for_boxes

        self._union = load_pose_model(model, weights, device=device, flip_test=flip_test, threads=threads,
                                      batch_size=batch_size, cfg_options=cfg_options, score_thr=bbox_thr,
                                      nms_thr=nms_thr)
        self.class_name = class_name
        self._model = None  # a multi-class model without a class: each call names one
        self._no_class: MmpxError | None = None  # why calls without a class_name cannot be answered
        if getattr(self._union, "one_stage", False):  # its own box source
            from mmpx.infer.one_stage import refuse_boxes

            given = [n for n, v in (("detector", detector), ("det_weights", det_weights),
                                    ("det_cat_ids", det_cat_ids), ("class_name", class_name)) if v is not None]
            if given:
                refuse_boxes(f"{model}: {', '.join(given)}", "leave it out: each call gives the instances' boxes "
                             "and scores (bbox_thr and nms_thr filter them)")
            self._model = self._detector = self.boxes = self._union
            return
        bbox_thr, nms_thr = 0.3 if bbox_thr is None else bbox_thr, 0.3 if nms_thr is None else nms_thr
        if class_name is not None or model_classes(self._union.dataset_meta) is None:
            self._model = for_class(self._union, class_name, "class_name")
        if detector is None:
            self.boxes: Boxes = WholeImage()
        elif callable(detector):
            self.boxes = detector
        else:
            self.boxes = load_detector(detector, det_weights, device=device, cat_ids=det_cat_ids or (0,),
                                       bbox_thr=bbox_thr, nms_thr=nms_thr, threads=threads)
        self._detector = self.boxes  # as loaded: the boxes of a call that names its class
        if self._model is None and getattr(self.boxes, "classes", None) and hasattr(self.boxes, "labelled"):
            try:
                mixed, boxes = for_boxes(self._union, self.boxes, None, det_cat_ids, "class_name")
            except MmpxError as exc:  # a detector with none of the classes: each call must name one
                self._no_class = exc
            else:
                if isinstance(mixed, MixedModel):  # each box its detector label's class
                    self._model, self.boxes = mixed, boxes

    @property
    def mixed(self) -> bool:
        """Whether each box takes its class from its detector label (a multi-class model, no ``class_name``)."""
        from mmpx.infer.mixed import MixedModel

        return isinstance(self._model, MixedModel)

    @property
    def model(self):
        """The pose model as it answers: a multi-class model's cut to ``class_name`` (or its union, with each
        box's class from the detector: :class:`mmpx.infer.mixed.MixedModel`)."""
        if self._model is None:
            from mmpx.infer.classes import for_class

            if self._no_class is not None:
                raise self._no_class
            for_class(self._union, None, "class_name")  # raises: which class?
        return self._model

    @property
    def dataset_meta(self) -> dict:
        """The keypoint metainfo of the results (a class's own for a multi-class model; its union, with
        ``classes``, before a class is chosen)."""
        return (self._model or self._union).dataset_meta

    @property
    def classes(self) -> list[str] | None:
        """A multi-class model's class names (the values ``class_name`` takes); None for a one-class model."""
        from mmpx.infer.classes import model_classes

        found = model_classes(self._union.dataset_meta)
        return None if found is None else [c.name for c in found]

    def __call__(self, image: str | Path | np.ndarray, bboxes: np.ndarray | None = None, *,
                 heatmaps: bool = False, name: str | None = None, class_name: str | None = None) -> PoseResult:
        """Poses in one image: a path or a BGR ``uint8`` array (H, W, 3); ``bboxes`` (M, 4) xyxy overrides the
        detector (scores 1); ``class_name`` the class of the boxes for this call (a multi-class model)."""
        from mmpx.infer.classes import for_class
        from mmpx.infer.sequence import has_visibility

        mixed = self.mixed and class_name is None
        if mixed and bboxes is not None:
            raise MmpxError("bboxes given without a class: the classes of this estimator's boxes come from its "
                            "detector", f"name their class: pose(image, bboxes=..., class_name=...) "
                            f"(one of {', '.join(self.classes or [])})")
        model = self.model if class_name is None else for_class(self._union, class_name, "class_name")
        boxes = self.boxes if class_name is None else self._detector
        path = None
        if isinstance(image, (str, Path)):
            name, path = name or str(image), Path(image)
            image = _read_image(path)
        elif not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
            raise MmpxError(f"expected an image path or a BGR array (H, W, 3), got {type(image).__name__}"
                            + (f" of shape {image.shape}" if isinstance(image, np.ndarray) else ""),
                            "cv2.imread gives such an array")
        classes = None
        if bboxes is None:
            from mmpx.infer.mixed import unpack

            bboxes, bbox_scores, classes = unpack(boxes(image))
        else:
            bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
            bbox_scores = np.ones(len(bboxes), np.float32)
        maps = None
        if heatmaps and mixed:
            raise MmpxError("heatmaps=True: the boxes are of several classes", "pass class_name= for heatmaps")
        if heatmaps:
            if not hasattr(model, "predict_with_heatmaps"):
                raise MmpxError("heatmaps=True: this backend gives no heatmaps", "load a config + checkpoint")
            keypoints, scores, maps = model.predict_with_heatmaps(image, bboxes)
        visible = None
        if has_visibility(model):
            keypoints, scores, visible = model.predict_with_visibility(image, bboxes)
        elif not heatmaps:
            keypoints, scores = model.predict(image, bboxes)
        result = PoseResult(name or "image", np.asarray(keypoints), np.asarray(scores), np.asarray(bboxes),
                            np.asarray(bbox_scores), model.dataset_meta, image, maps, path=path, visible=visible)
        return _cut(result, model, classes) if mixed else result

    def suggest(self, inputs: str | Path | Iterable[str | Path], out: str | Path, n: int = 50, **options):
        """``mmpx suggest``: choose ``n`` of the images and video frames of ``inputs`` to label next and write them
        with pre-labels into ``out``; ``options`` as :func:`mmpx.suggest.run.suggest` (``strategy``, ``seed``,
        ``frame_step``, ``kpt_thr``, ``label``, ``exclude``). Load the estimator with ``flip_test=False``: the
        mirrored prediction is made separately. Returns the :class:`~mmpx.suggest.run.SuggestReport`."""
        from mmpx.infer.inputs import collect
        from mmpx.suggest.run import suggest

        if self.mixed:
            raise MmpxError("suggest scores the keypoints of one class; this estimator's boxes are of several",
                            "load the estimator with class_name=...")
        paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
        sources, _ = collect(paths)
        return suggest(sources, self.model, self.boxes, out, n, inputs=paths, **options)

    def run(self, inputs: str | Path | Iterable[str | Path], *, track=False, smooth=False, det_every: int = 1,
            batch_frames: int = 4, kpt_thr: float = 0.3) -> Iterator[PoseResult]:
        """Results for every image and every video frame of ``inputs`` (files and folders, as ``mmpx infer``
        takes them), in order; an unreadable file raises naming it. Video frames are decoded in a background
        thread and their crops batched, as ``mmpx infer`` does (the same code).

        Args:
            track: give instances track ids (True, or a :class:`mmpx.infer.track.TrackParams`); one tracker per
                video, and an image is a one-frame sequence.
            smooth: One-Euro smoothing per track and keypoint (True, or :class:`mmpx.infer.smooth.OneEuroParams`);
                turns on ``track``.
            det_every: the box source on every N-th frame only, predicted track boxes between (turns on
                ``track``).
            batch_frames: video frames whose crops are run as one batch.
            kpt_thr: keypoints scoring below this are left out of track matching.
        """
        from mmpx.app.infer import sequence_options  # the rules mmpx infer's switches follow
        from mmpx.infer.frames import FrameReader
        from mmpx.infer.inputs import collect
        from mmpx.infer.sequence import sequence_poses

        options = sequence_options(track, smooth, det_every=det_every, batch_frames=batch_frames, kpt_thr=kpt_thr)
        if det_every > 1 and getattr(self._union, "one_stage", False):
            raise MmpxError(f"det_every={det_every}: a one-stage model finds every frame's instances itself",
                            "leave det_every out")
        paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
        sources, _ = collect(paths)
        for src in sources:
            if src.kind == "image":
                image = _read_image(src.path)
                if options.track is None:
                    yield self._with(self(image, name=src.name), src)
                    continue
                (pose,) = sequence_poses([image], self.model, self.boxes, options)
                yield self._result(pose, src.name, src)
                continue
            with FrameReader(src.path) as reader:
                if reader.first is None:
                    raise MmpxError(f"{src.path}: {reader.problem}", "docs/reference/security.md: the pixel "
                                    "limit (MMPX_MAX_IMAGE_PIXELS) and the video formats OpenCV reads")
                for pose in sequence_poses(reader, self.model, self.boxes, options, fps=reader.fps):
                    yield self._result(pose, f"{src.name}#frame={pose.index}", src)

    def _result(self, pose, name: str, src) -> PoseResult:
        result = PoseResult(name, pose.keypoints, pose.scores, pose.bboxes, pose.bbox_scores, self.dataset_meta,
                            pose.image, None, src.name, pose.index, pose.time, pose.track_ids, pose.raw_keypoints,
                            src.path, visible=pose.visible)
        return result if pose.classes is None else _cut(result, self.model, pose.classes)

    @staticmethod
    def _with(result: PoseResult, src) -> PoseResult:
        result.source, result.path = src.name, src.path
        return result


def _cut(result: PoseResult, model, classes) -> PoseResult:
    """A result of the union (boxes of several classes) with each instance cut to its class."""
    from mmpx.infer.mixed import cut_instances

    result.keypoints, result.scores, result.metas, raw = cut_instances(model, result.keypoints, result.scores,
                                                                       classes, result.raw_keypoints)
    result.raw_keypoints = None if result.raw_keypoints is None else raw
    return result


def trajectories(results: Iterable[PoseResult], kpt_thr: float = 0.3):
    """The trajectory table of tracked results (``run(..., track=True)``), as ``mmpx infer --save-csv`` writes it:
    one row per frame, track and keypoint. Returns a :class:`mmpx.infer.trajectories.TrajectoryTable`
    (``rows()``, ``to_frame()`` for pandas, ``write(path)``).

    Raises:
        MmpxError: a result without track ids.
    """
    from mmpx.infer.trajectories import TrajectoryTable

    table = None
    for result in results:
        if result.track_ids is None:
            raise MmpxError(f"{result.name}: no track ids", "run with pose.run(..., track=True)")
        if table is None and result.metas is not None:  # several classes: each row its instance's class
            table = TrajectoryTable([], kpt_thr=kpt_thr, classes=[])
        elif table is None:
            table = TrajectoryTable(result.names, kpt_thr=kpt_thr, class_name=result.dataset_meta.get("class_name"))
        if result.metas is None:
            table.add(result.source or result.name, result.frame, result.time, result.track_ids, result.keypoints,
                      result.scores, result.raw_keypoints, visible=result.visible)
            continue
        for i, (kpts, kscores, raw, meta) in enumerate(result._instances()):
            table.add_instance(result.source or result.name, result.frame, result.time, int(result.track_ids[i]),
                               kpts, kscores, raw, _names(meta), meta["class_name"])
    if table is None:
        raise MmpxError("no results to make trajectories of", "pass the results of pose.run(..., track=True)")
    return table


def save_trajectories(results: Iterable[PoseResult], path: str | Path, kpt_thr: float = 0.3) -> Path:
    """Write :func:`trajectories` to ``path`` atomically: Parquet for ``.parquet`` (needs pyarrow), else CSV."""
    return trajectories(results, kpt_thr).write(path)


def save_coco(results: Iterable[PoseResult], path: str | Path, category_id: int | None = None) -> Path:
    """Write every result as COCO keypoint results (image ids 1, 2, ... in order, ``file_name`` each), atomically;
    ``category_id`` defaults to each result's class id (a multi-class model) or 1."""
    from mmpx.atomic import write_json

    records = []
    for image_id, result in enumerate(results, 1):
        records += result.to_coco(image_id, category_id)
    write_json(path, records, indent=None)
    return Path(path)


def save_predictions(results: Iterable[PoseResult], path: str | Path, kpt_thr: float = 0.3) -> Path:
    """Write the results as ``mmpx infer --save-as`` does (:mod:`mmpx.infer.sleapio_out`, the formats extra):
    SLEAP ``.slp``, NWB ``.nwb`` (videos only), Label Studio ``.json`` or DeepLabCut ``.csv``; keypoints under
    ``kpt_thr`` left out, track ids as tracks. Atomically; returns ``path``.

    The suffix and the file are checked before the first result is taken (a generator from :meth:`run` has
    done no work yet), and each input as it first comes (an image for ``.nwb`` stops the run at once).

    Raises:
        MmpxError: an unknown suffix, sleap-io missing, ``path`` not writable; a result without its file (an
            array was given, not a path); an image for ``.nwb``; no results.
    """
    from mmpx.infer.inputs import Source
    from mmpx.infer.sleapio_out import check_save_as, check_sources, save_for_model

    path = Path(path)
    check_save_as(path)
    records: list[dict] = []
    sources: dict[str, Source] = {}
    meta = None
    for image_id, result in enumerate(results, 1):
        if result.path is None:
            raise MmpxError(f"{result.name}: the result has no image or video file to name",
                            "save the results of pose.run(...) or of pose(path), not of an array")
        if result.metas is not None:
            raise MmpxError(f"{path}: such a file has one skeleton, and the instances of {result.name} are of "
                            "several classes", "use PoseEstimator(..., class_name=...) per class, or save_coco")
        name = result.source or result.name
        if name not in sources:
            sources[name] = Source(result.path, name, "video" if "#frame=" in result.name else "image")
            check_sources(path, [sources[name]])
        records += result.to_coco(image_id)
        meta = meta or result.dataset_meta
    if meta is None:
        raise MmpxError(f"{path}: no results to save", "pass the results of pose.run(...)")
    check_sources(path, list(sources.values()))
    save_for_model(path, records, {n: s.path for n, s in sources.items()}, meta, kpt_thr)
    return path


def _names(meta: dict, count: int | None = None) -> list[str]:
    id2name = meta.get("keypoint_id2name") or {}
    count = len(id2name) if count is None else count
    return [str(id2name.get(i, id2name.get(str(i), i))) for i in range(count)]  # JSON sidecars key by str


def _read_image(path: Path) -> np.ndarray:
    from mmpx.check.images import decode_image

    image, why = decode_image(path)
    if image is None:
        raise MmpxError(f"{path}: {why}")
    return image


__all__ = ["PoseEstimator", "PoseResult", "load_detector", "load_pose_model", "save_coco", "save_predictions",
           "save_trajectories", "trajectories"]
