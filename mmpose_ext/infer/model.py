"""A top-down MMPose model behind the small interface ``mmpx infer`` drives (shared with the ONNX Runtime model).

``predict(image_bgr, bboxes_xyxy) -> (keypoints (N,K,2), scores (N,K))``, plus ``dataset_meta`` and
``input_size``; ``predict_with_visibility`` adds each keypoint's probability of being seen (a model trained with
``mmpx configs new --visibility``; None for the others, ``has_visibility`` says which). Built on
``mmpose.apis.init_model`` / ``inference_topdown``; the checkpoint is loaded here, so that one whose tensors do not
fit the config (another keypoint count) is an error and not MMPose's warning followed by random head weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmpx.errors import CheckpointError, ConfigError, MmpxError


def load_any_config(config: str | Path, cfg_options: list[str] | None = None):
    """A config file or a package config (``mmdet::rtmdet/...py``): :func:`mmpose_ext.config.load_config`."""
    from mmpose_ext.config import load_config

    return load_config(config, cfg_options)


def check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MmpxError(f"--device {device}: CUDA is not available here (torch {torch.__version__})",
                        "use --device cpu, or install a CUDA build of torch (see README: set-up)")
    if not (device == "cpu" or device.startswith("cuda")):
        raise MmpxError(f"--device {device!r} is not a device", "use cpu, cuda or cuda:N")
    return device


class TorchPoseModel:
    """A top-down pose estimator from an MMPose config and (optionally) a checkpoint.

    Args:
        config: MMPose config file (or ``mmpose::...``).
        weights: checkpoint; None keeps the random initialisation (tests, smoke runs).
        device: 'cpu', 'cuda' or 'cuda:N'.
        cfg_options: ``KEY=VALUE`` overrides applied to the config.
        batch_size: instances per forward pass (an image with more boxes is run in chunks).
        flip_test: override the config's ``model.test_cfg.flip_test`` (None keeps it).
        threads: torch's intra-op threads (``torch.set_num_threads``; None: :mod:`mmpx.runtime.threads`' policy).

    Raises:
        ConfigError: the config is missing or does not load, or is not a top-down model.
        CheckpointError: the checkpoint is missing, unreadable, untrusted, or does not fit the config.
    """

    def __init__(self, config, weights=None, device: str = "cpu", cfg_options: list[str] | None = None,
                 batch_size: int = 32, flip_test: bool | None = None, threads: int | None = None) -> None:
        from mmpose.models import TopdownPoseEstimator

        import mmpose_ext  # noqa: F401  (compatibility fixes and registries before mmpose loads anything)
        from mmpose_ext.deploy.model import build_model, dataset_meta

        cfg = load_any_config(config, cfg_options)
        if "test_dataloader" not in cfg:
            raise ConfigError(f"{config} has no test_dataloader, whose pipeline prepares each box",
                              "use a full MMPose config (with test_dataloader.dataset.pipeline)")
        pipeline = cfg.test_dataloader.dataset.get("pipeline", [])
        # a test pipeline that also encodes targets (for a validation loss) needs ground truth inference has not
        cfg.test_dataloader.dataset.pipeline = [t for t in pipeline if t.get("type") != "GenerateTarget"]
        self.config = str(config)
        self.batch_size = max(1, int(batch_size))
        device = check_device(device)
        try:
            self.model = build_model(cfg, device)  # as init_model, minus its metainfo read (mmpose_ext.deploy.model)
            self.input_size = self._input_size(cfg)
        except (TypeError, ValueError, OverflowError, AssertionError) as exc:  # a value the model refuses
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise ConfigError(f"config {config}: the model cannot be built from it ({type(exc).__name__}: {first})",
                              "check the model and codec settings (sizes are positive whole numbers)") from exc
        if not isinstance(self.model, TopdownPoseEstimator):
            raise ConfigError(f"{config}: model.type is {cfg.model.type!r}; mmpx infer runs top-down models",
                              "use a top-down config (model.type='TopdownPoseEstimator')")
        meta_from_ckpt = self._load(weights) if weights is not None else None
        self.model.dataset_meta = dataset_meta(meta_from_ckpt, cfg, config)  # the checkpoint's first
        self.dataset_meta = self.model.dataset_meta
        self.num_keypoints = self._head_keypoints()
        k_meta = int(self.dataset_meta.get("num_keypoints", len(self.dataset_meta.get("keypoint_id2name", {}))))
        if self.num_keypoints is not None and k_meta != self.num_keypoints:
            where = f"checkpoint {weights}" if meta_from_ckpt is not None else f"config {config}"
            raise (CheckpointError if meta_from_ckpt is not None else ConfigError)(
                f"{where} describes {k_meta} keypoints (metainfo {self.dataset_meta.get('dataset_name')!r}) but "
                f"the model's head predicts {self.num_keypoints}",
                "use the config the checkpoint was trained with, or set the dataset metainfo of the config "
                "to the skeleton its head predicts",
            )
        self.num_keypoints = k_meta
        if flip_test is not None:
            self.model.test_cfg = dict(self.model.test_cfg or {}, flip_test=bool(flip_test))
        import torch

        from mmpx.runtime.threads import current

        torch.set_num_threads(int(threads or current().threads))  # default: the thread policy's (free cores)

    # -- the shared interface ----------------------------------------------------------------------------------

    def predict(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        """Keypoints (N,K,2) float32 in image pixels and scores (N,K) float32 for N xyxy boxes."""
        keypoints, scores, _, _ = self._run(image_bgr, bboxes, heatmaps=False)
        return keypoints, scores

    def predict_with_heatmaps(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        """As :meth:`predict`, plus heatmaps (K,H,W) in image pixels (max over boxes), or None when the head has
        none to give."""
        keypoints, scores, maps, _ = self._run(image_bgr, bboxes, heatmaps=True)
        return keypoints, scores, maps

    @property
    def has_visibility(self) -> bool:
        """Whether the head predicts visibility (MMPose's ``VisPredictHead`` or mmpose-ext's ``VisibilityHead``)."""
        from mmpose.models.heads import VisPredictHead

        return isinstance(getattr(self.model, "head", None), VisPredictHead)

    def predict_with_visibility(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        """As :meth:`predict`, plus ``visible`` (N,K) float32: the probability that each keypoint is seen (not
        hidden), or None when the model has no visibility head."""
        keypoints, scores, _, visible = self._run(image_bgr, bboxes, heatmaps=False)
        return keypoints, scores, visible

    # -- internals ---------------------------------------------------------------------------------------------

    def _run(self, image_bgr, bboxes, heatmaps: bool):
        from mmpose.apis import inference_topdown
        from mmpose.structures import merge_data_samples

        bboxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
        k = self.num_keypoints
        vis = self.has_visibility  # else MMPose fills pred_instances.keypoints_visible with the scores
        if len(bboxes) == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32), None, \
                np.zeros((0, k), np.float32) if vis else None
        test_cfg = self.model.test_cfg if self.model.test_cfg is not None else {}
        self.model.test_cfg = test_cfg
        test_cfg["output_heatmaps"] = heatmaps
        kpts, scores, maps, visible = [], [], None, []
        for start in range(0, len(bboxes), self.batch_size):
            samples = inference_topdown(self.model, image_bgr, bboxes[start:start + self.batch_size], "xyxy")
            merged = merge_data_samples(samples)
            kpts.append(np.asarray(merged.pred_instances.keypoints, np.float32).reshape(-1, k, 2))
            scores.append(np.asarray(merged.pred_instances.keypoint_scores, np.float32).reshape(-1, k))
            if vis:
                visible.append(np.asarray(merged.pred_instances.keypoints_visible, np.float32).reshape(-1, k))
            if heatmaps and "pred_fields" in merged and "heatmaps" in merged.pred_fields:
                chunk = np.asarray(merged.pred_fields.heatmaps, np.float32)
                maps = chunk if maps is None else np.maximum(maps, chunk)
        return np.concatenate(kpts), np.concatenate(scores), maps, np.concatenate(visible) if vis else None

    def _load(self, weights) -> dict | None:
        """Load the checkpoint's weights; every tensor must fit. Returns its dataset_meta, if it has one."""
        from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict

        path = Path(weights)
        if "://" not in str(weights) and not path.is_file():
            raise CheckpointError(f"checkpoint {weights} does not exist", "check the --weights path")
        try:
            ckpt = _load_checkpoint(str(weights), map_location="cpu")
        except MmpxError:
            raise
        except Exception as exc:
            raise CheckpointError(f"{weights} is not a readable checkpoint: {type(exc).__name__}: {exc}",
                                  "pass a .pth written by MMPose / mmpx train") from exc
        from mmpose_ext.models.checkpoint_fit import check_fits, state_dict_of

        state = state_dict_of(ckpt, str(weights))
        meta = (ckpt.get("meta") or {}).get("dataset_meta")
        check_fits(self.model, state, str(weights), f"config {self.config}", meta, self._head_keypoints())
        load_state_dict(self.model, state, strict=False)
        return meta if isinstance(meta, dict) else None

    def _head_keypoints(self) -> int | None:
        head = getattr(self.model, "head", None)
        for attr in ("out_channels", "num_keypoints"):
            value = getattr(head, attr, None)
            if isinstance(value, int):
                return value
        return None

    @staticmethod
    def _input_size(cfg) -> tuple[int, int]:
        for step in cfg.test_dataloader.dataset.get("pipeline", []):
            if step.get("type") == "TopdownAffine":
                return tuple(int(v) for v in step["input_size"])
        codec = cfg.get("codec")
        codec = codec[0] if isinstance(codec, (list, tuple)) else codec
        return tuple(int(v) for v in codec["input_size"]) if codec else (0, 0)
