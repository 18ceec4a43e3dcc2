"""The pose model and its box source as ``mmpx infer`` and ``mmpx suggest`` choose them: the option combinations
that cannot work, the checkpoints to trust, and the loading (through :mod:`mmpx.api`'s loaders)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from mmpx.errors import MmpxError


@dataclass(frozen=True)
class ModelChoice:
    """The model options of ``mmpx infer`` and ``mmpx suggest``.

    Attributes:
        pose, weights: the config and its checkpoint (torch), or the ``.onnx`` as ``weights`` (onnxruntime).
        det_config, det_weights, det_cat_id, bbox_thr, nms_thr: the mmdet detector that finds the boxes (or an
            exported ``.onnx`` as ``det_weights`` alone, run without torch), the classes it keeps (default [0]),
            its score threshold and NMS IoU.
        whole_image: no detector: one box, the whole image.
        A one-stage model (RTMO: its config, or the ``.onnx`` exported from it) is its own box source: the detector
        options, ``whole_image`` and ``class_name`` are refused, and ``bbox_thr``/``nms_thr``, when given, filter
        its instances (None: its config's ``model.test_cfg``; a detector's default is 0.3 each).
        device, backend, threads, cfg_options: where and how the pose model runs.
        trust_checkpoint: load the named checkpoints without the safe-load allow-list.
        class_name: the class of every box for a multi-class model (``--class``; refused for a one-class
            model): each instance gets that class's keypoints only (:mod:`mmpx.infer.classes`). Without it, a
            multi-class model with a detector whose class names are pose classes gives each box the class of its
            detector label (:mod:`mmpx.infer.mixed`); with any other box source it is required.
    """

    pose: Path | None = None
    weights: Path | None = None
    det_config: str | None = None
    det_weights: Path | None = None
    det_cat_id: list[int] | None = None
    whole_image: bool = False
    bbox_thr: float | None = None
    nms_thr: float | None = None
    device: str = "cpu"
    backend: str = "torch"
    threads: int | None = None
    cfg_options: list[str] | None = None
    trust_checkpoint: bool = False
    class_name: str | None = None

    def check(self) -> None:
        """Option combinations that cannot work, found before any model is loaded."""
        if self.backend == "torch" and self.pose is None:
            raise MmpxError("--pose CONFIG is required with the torch backend",
                            "e.g. --pose configs/carpose/rtmpose-t_carpose-256x256.py --weights best.pth")
        if self.backend == "onnxruntime" and (self.weights is None or self.weights.suffix.lower() != ".onnx"):
            raise MmpxError("--backend onnxruntime needs --weights MODEL.onnx (with its MODEL.json beside it)",
                            "export one with `mmpx export`")
        if self.weights is not None and "://" not in str(self.weights) and not self.weights.is_file():
            raise MmpxError(f"--weights {self.weights} does not exist", "check the path")
        if self.one_stage:
            self._check_one_stage()
        else:
            self._check_boxes()

    @cached_property
    def one_stage(self) -> bool:
        """Whether the pose model is one-stage (its own box source): from the exported model's sidecar, or the
        config's ``model.type`` (torch)."""
        if self.backend == "onnxruntime":
            from mmpx.infer.one_stage import onnx_is_one_stage

            return self.weights is not None and onnx_is_one_stage(self.weights)
        if self.pose is None:
            return False
        if "::" not in str(self.pose):  # a file: the config is loaded (torch imported) only when it may be one
            try:
                text = Path(self.pose).read_text(encoding="utf-8", errors="replace")
            except OSError:  # missing: said when the model loads
                return False
            if "Bottomup" not in text and "_base_" not in text:
                return False
        try:  # a config that does not load (or no torch) is said so when the model loads
            from mmpose_ext.infer.one_stage import is_one_stage_config

            return is_one_stage_config(self.pose, self.cfg_options)
        except (ImportError, MmpxError):
            return False

    def _check_one_stage(self) -> None:
        from mmpx.infer.one_stage import refuse_boxes

        given = [name for name, value in (("--det-config", self.det_config), ("--det-weights", self.det_weights),
                                          ("--det-cat-id", self.det_cat_id), ("--whole-image", self.whole_image))
                 if value]
        if given:
            refuse_boxes(" and ".join(given), "leave them out: the model gives each instance's box and score "
                         "(--bbox-thr and --nms-thr filter them)")
        if self.class_name is not None:
            refuse_boxes(f"--class {self.class_name}", "leave it out: the instances are of the model's one class")

    @property
    def det_bbox_thr(self) -> float:
        """The score threshold in effect for a detector (0.3 unless given)."""
        return 0.3 if self.bbox_thr is None else self.bbox_thr

    @property
    def det_nms_thr(self) -> float:
        """The NMS IoU in effect for a detector (0.3 unless given)."""
        return 0.3 if self.nms_thr is None else self.nms_thr

    @property
    def onnx_detector(self) -> bool:
        """An exported detector (``--det-weights DET.onnx``): ONNX Runtime, no torch, no --det-config."""
        return self.det_weights is not None and self.det_weights.suffix.lower() == ".onnx"

    def _check_boxes(self) -> None:
        if self.onnx_detector:
            if self.det_config is not None or self.whole_image:
                raise MmpxError(f"--det-weights {self.det_weights} is an exported detector: it takes neither "
                                "--det-config nor --whole-image", "leave those out (its sidecar holds its config)")
            if not self.det_weights.is_file():
                raise MmpxError(f"--det-weights {self.det_weights} does not exist",
                                "export the detector with `mmpx export onnx DET_CONFIG DET_CKPT --out det.onnx`")
            return
        if self.det_weights is not None and self.det_config is None:
            raise MmpxError("--det-weights given without --det-config", "pass the detector's config with --det-config "
                            "(or an exported detector: --det-weights DET.onnx alone)")
        if self.det_config is not None and self.whole_image:
            raise MmpxError("--det-config and --whole-image both given", "use one way of finding boxes")
        if self.det_config is None and not self.whole_image:
            raise MmpxError(
                "no detector given: mmpx does not guess one (a pose model never silently gets a person detector)",
                "pass --det-config DET_CONFIG [--det-weights DET.pth] [--det-cat-id N] to detect the objects, or "
                "--whole-image to use each whole image as one box",
            )

    def trust(self) -> None:
        """Import the torch side when it is needed (the fixes, safe checkpoint loading) and, with
        ``trust_checkpoint``, trust the weights named."""
        all_onnx = self.whole_image or self.onnx_detector or self.one_stage
        if self.backend == "torch" or not all_onnx:  # all ONNX: none of it
            from mmpose_ext.compat.checkpoint import trust

            if self.trust_checkpoint:
                trust(*[str(p) for p in (self.weights, self.det_weights) if p is not None])

    def load(self, batch_size: int = 32, flip_test: bool | None = None):
        """The pose model and its box source as they answer together (:func:`mmpx.infer.mixed.for_boxes`): one
        class for every box (``class_name``, or a one-class model), or each box its detector label's class."""
        from mmpx.infer.mixed import for_boxes

        model = self.load_pose(batch_size, flip_test, union=True)
        if self.one_stage:  # boxes, scores and keypoints from one run per image
            return model, model
        boxes = self.load_boxes()
        return for_boxes(model, boxes, self.class_name, self.det_cat_id)

    def load_pose(self, batch_size: int = 32, flip_test: bool | None = None, union: bool = False):
        """The pose model (:func:`mmpx.api.load_pose_model`); a multi-class model's cut to ``class_name`` (its
        union with ``union``)."""
        from mmpx.api import load_pose_model  # the Python API's loader: the commands are built on it
        from mmpx.infer.classes import for_class

        if self.backend == "onnxruntime":
            model = load_pose_model(self.weights, device=self.device, flip_test=flip_test, threads=self.threads,
                                    score_thr=self.bbox_thr, nms_thr=self.nms_thr)
        else:
            model = load_pose_model(self.pose, self.weights, device=self.device, flip_test=flip_test,
                                    threads=self.threads, batch_size=batch_size, cfg_options=self.cfg_options,
                                    score_thr=self.bbox_thr, nms_thr=self.nms_thr)
        return model if union or getattr(model, "one_stage", False) else for_class(model, self.class_name)

    def load_boxes(self):
        """The box source: the whole image, or an mmdet detector (:func:`mmpx.api.load_detector`) keeping the
        labels ``det_cat_id`` (default [0]; for boxes of several classes, every label unless given:
        :class:`mmpx.infer.mixed.ClassBoxes`)."""
        if self.whole_image:
            from mmpx.infer.boxes import WholeImage

            return WholeImage()
        if self.onnx_detector:
            from mmpx.runtime.det import OnnxBoxes

            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if self.device.startswith("cuda") else None
            return OnnxBoxes(self.det_weights, cat_ids=self.det_cat_id or [0], bbox_thr=self.det_bbox_thr,
                             nms_thr=self.det_nms_thr, providers=providers, threads=self.threads)
        from mmpx import api  # looked up when called: a test may stand a detector in for it

        return api.load_detector(self.det_config, self.det_weights, device=self.device,
                                 cat_ids=self.det_cat_id or [0], bbox_thr=self.det_bbox_thr,
                                 nms_thr=self.det_nms_thr)


__all__ = ["ModelChoice"]
