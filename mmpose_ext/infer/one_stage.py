"""A one-stage MMPose model (RTMO: ``BottomupPoseEstimator``) on torch, behind the interface of the exported one
(:class:`mmpx.runtime.one_stage.OnnxOneStage`): ``predict(image) -> OneStagePrediction`` with each instance's box,
score, keypoints and keypoint scores in image pixels, best first.

It runs MMPose's own test path (``mmpose.apis.inference_bottomup``: the test pipeline, ``model.test_step``), so the
instances are what ``mmpx test`` scores; the score and NMS thresholds are the config's ``model.test_cfg`` unless
given. The checkpoint is loaded and checked as :class:`~mmpose_ext.infer.model.TorchPoseModel` does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmpose_ext.infer.model import TorchPoseModel, check_device, load_any_config
from mmpx.errors import ConfigError
from mmpx.runtime.one_stage import OneStagePrediction

ONE_STAGE_MODELS = ("BottomupPoseEstimator",)


def is_one_stage_config(config: str | Path, cfg_options: list[str] | None = None) -> bool:
    """Whether the config's model is one-stage (``BottomupPoseEstimator``), which needs no detector."""
    cfg = load_any_config(config, cfg_options)
    return (cfg.get("model") or {}).get("type") in ONE_STAGE_MODELS


class TorchOneStage:
    """A one-stage pose model from an MMPose config and (optionally) a checkpoint.

    Args:
        config, weights, device, cfg_options, threads: as :class:`~mmpose_ext.infer.model.TorchPoseModel`.
        score_thr, nms_thr: override ``model.test_cfg``'s (None keeps the config's).

    Raises:
        ConfigError: the config does not load, or its model is not one-stage.
        CheckpointError: the checkpoint is missing, unreadable or does not fit the config.
    """

    def __init__(self, config, weights=None, device: str = "cpu", cfg_options: list[str] | None = None,
                 threads: int | None = None, *, score_thr: float | None = None, nms_thr: float | None = None,
                 batch_size: int = 8) -> None:
        import mmpose_ext  # noqa: F401  (compatibility fixes and registries before mmpose loads anything)
        from mmpose_ext.deploy.model import build_model, dataset_meta

        cfg = load_any_config(config, cfg_options)
        if (cfg.get("model") or {}).get("type") not in ONE_STAGE_MODELS:
            raise ConfigError(f"{config}: model.type is {cfg.model.get('type')!r}, not a one-stage model",
                              f"one-stage models: {', '.join(ONE_STAGE_MODELS)}")
        if "test_dataloader" not in cfg:
            raise ConfigError(f"{config} has no test_dataloader, whose pipeline resizes each image",
                              "use a full MMPose config (with test_dataloader.dataset.pipeline)")
        self.config = str(config)
        self.batch_size = max(1, int(batch_size))
        self.model = build_model(cfg, check_device(device))
        meta = TorchPoseModel._load(self, weights) if weights is not None else None  # same checks, same errors
        self.model.dataset_meta = dataset_meta(meta, cfg, config)
        self.dataset_meta = self.model.dataset_meta
        resize = next((s for s in cfg.test_dataloader.dataset.get("pipeline", [])
                       if s.get("type") == "BottomupResize"), {})
        self.input_size = tuple(int(v) for v in resize.get("input_size", (0, 0)))
        test_cfg = dict(self.model.test_cfg or {})
        if score_thr is not None:
            test_cfg["score_thr"] = float(score_thr)
        if nms_thr is not None:
            test_cfg["nms_thr"] = float(nms_thr)
        self.model.test_cfg = test_cfg
        self.score_thr = float(test_cfg.get("score_thr", 0.01))
        self.nms_thr = float(test_cfg.get("nms_thr", 1.0))
        import torch

        from mmpx.runtime.threads import current

        torch.set_num_threads(int(threads or current().threads))

    def _head_keypoints(self) -> int | None:  # what TorchPoseModel._load checks the checkpoint against
        value = getattr(getattr(self.model, "head", None), "num_keypoints", None)
        return value if isinstance(value, int) else None

    def predict_batch(self, images_bgr) -> list[OneStagePrediction]:
        """The instances of several BGR images (``batch_size`` images per forward pass)."""
        import torch
        from mmengine.dataset import Compose, pseudo_collate
        from mmengine.registry import init_default_scope

        scope = self.model.cfg.get("default_scope", "mmpose")
        if scope is not None:
            init_default_scope(scope)
        pipeline = Compose(self.model.cfg.test_dataloader.dataset.pipeline)
        k = int(self.dataset_meta["num_keypoints"])
        out = []
        images = list(images_bgr)
        for start in range(0, len(images), self.batch_size):
            data = [pipeline(dict(img=image, **self.dataset_meta)) for image in images[start:start + self.batch_size]]
            with torch.no_grad():
                samples = self.model.test_step(pseudo_collate(data))
            for sample in samples:
                pred = sample.pred_instances
                scores = np.asarray(pred.bbox_scores, np.float32).reshape(-1)
                order = np.argsort(-scores, kind="stable")
                out.append(OneStagePrediction(
                    boxes=np.asarray(pred.bboxes, np.float32).reshape(-1, 4)[order],
                    scores=scores[order],
                    keypoints=np.asarray(pred.keypoints, np.float32).reshape(-1, k, 2)[order],
                    keypoint_scores=np.asarray(pred.keypoint_scores, np.float32).reshape(-1, k)[order]))
        return out

    def predict(self, image_bgr: np.ndarray) -> OneStagePrediction:
        """The instances of one BGR image, best score first, in the image's pixels."""
        return self.predict_batch([image_bgr])[0]


__all__ = ["ONE_STAGE_MODELS", "TorchOneStage", "is_one_stage_config"]
