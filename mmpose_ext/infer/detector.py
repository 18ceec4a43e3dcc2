"""Boxes for the top-down model from an mmdet detector (kept categories, score threshold, NMS).

The whole-image box source needs no torch: :class:`mmpx.infer.boxes.WholeImage`.
"""

from __future__ import annotations

import numpy as np

from mmpx.errors import CheckpointError, MmpxError


class MMDetDetector:
    """An mmdet detector (``mmdet.apis.init_detector`` / ``inference_detector``) filtered as MMPose's demos do:
    labels in ``cat_ids``, score above ``bbox_thr``, then NMS at ``nms_thr`` (``mmpose.evaluation.functional.nms``).

    Args:
        config: mmdet config file, or ``mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py``.
        weights: checkpoint; None keeps random weights (only useful for tests).
        cat_ids: detector label indices kept (0-based as the detector counts them: 0 is 'person' in COCO).
    """

    def __init__(self, config, weights=None, device: str = "cpu", cat_ids=(0,), bbox_thr: float = 0.3,
                 nms_thr: float = 0.3, cfg_options: list[str] | None = None) -> None:
        import mmpose_ext  # noqa: F401  (safe checkpoint loading before mmdet loads anything)

        try:
            from mmdet.apis import init_detector
        except ImportError as exc:
            raise MmpxError(f"--det-config needs mmdet, which does not import: {exc}",
                            "run `mmpx doctor` to see what is missing") from exc
        from mmpose_ext.infer.model import check_device, load_any_config

        cfg = load_any_config(config, cfg_options)
        if weights is not None:
            from pathlib import Path

            if "://" not in str(weights) and not Path(weights).is_file():
                raise CheckpointError(f"detector checkpoint {weights} does not exist", "check the --det-weights path")
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="checkpoint is None")  # random weights are asked for
            try:
                self.model = init_detector(cfg, None if weights is None else str(weights), device=check_device(device))
            except MmpxError:
                raise
            except (RuntimeError, KeyError) as exc:
                raise CheckpointError(f"detector checkpoint {weights} does not fit {config}: {exc}",
                                      "pass the config the detector was trained with") from exc
        from mmpose.utils import adapt_mmdet_pipeline

        # prefix the detector's transforms with mmdet., so that they resolve while mmpose is the default scope
        self.model.cfg = adapt_mmdet_pipeline(self.model.cfg)
        self.name = str(config)
        self.classes = list((getattr(self.model, "dataset_meta", None) or {}).get("classes") or [])
        self.cat_ids = [int(c) for c in cat_ids]
        if self.classes:
            bad = [c for c in self.cat_ids if not 0 <= c < len(self.classes)]
            if bad:
                raise MmpxError(f"--det-cat-id {bad[0]}: the detector has {len(self.classes)} classes "
                                f"(0..{len(self.classes) - 1}: {', '.join(map(str, self.classes[:8]))}"
                                f"{', ...' if len(self.classes) > 8 else ''})",
                                "pass the 0-based index of the class to keep")
        self.bbox_thr = float(bbox_thr)
        self.nms_thr = float(nms_thr)

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N,4) xyxy float32 and their scores (N,), best first."""
        from mmdet.apis import inference_detector
        from mmpose.evaluation.functional import nms

        pred = inference_detector(self.model, image_bgr).pred_instances.cpu().numpy()
        keep = np.isin(pred.labels, self.cat_ids) & (pred.scores > self.bbox_thr)
        dets = np.concatenate([pred.bboxes[keep], pred.scores[keep, None]], axis=1).astype(np.float32)
        if len(dets) and self.nms_thr < 1:
            dets = dets[nms(dets, self.nms_thr)]
        return dets[:, :4].reshape(-1, 4), dets[:, 4].reshape(-1)

    def labelled(self, image_bgr: np.ndarray, cat_ids=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, scores and labels of the classes ``cat_ids`` (None: every class), NMS within each class: the
        boxes of a run with several classes (:func:`mmpx.runtime.det.labelled_filter`, as the exported
        detector's)."""
        from mmdet.apis import inference_detector

        from mmpx.runtime.det import labelled_filter

        pred = inference_detector(self.model, image_bgr).pred_instances.cpu().numpy()
        return labelled_filter(pred.bboxes, pred.scores, pred.labels, cat_ids, self.bbox_thr, self.nms_thr)
