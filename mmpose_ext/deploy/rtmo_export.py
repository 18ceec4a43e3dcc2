"""Export a one-stage RTMO model (``BottomupPoseEstimator`` with ``RTMOHead``) to ONNX plus its sidecar, which
:class:`mmpx.runtime.one_stage.OnnxOneStage` runs without torch.

The graph takes the normalised N x 3 x H x W image that MMPose's test pipeline makes (``BottomupResize``: the image
scaled to fit and centred on a padded canvas) and holds backbone, neck and head, the box decoding from the priors,
the score (sigmoid, best class) and the keypoint visibilities; then the ``top_k`` best anchors by score (sorted)
and, for those only, the head's dynamic coordinate classifier (DCC, in MMPose's deploy form): running it for every
anchor costs more than the rest of the head. Outputs, per image and anchor: ``boxes`` (xyxy, input pixels),
``scores``, ``keypoints`` (input pixels), ``keypoint_scores`` and ``anchors`` (the anchor's index). The score
threshold, NMS and the mapping back to image pixels stay outside, in numpy, so the graph has no data-dependent
shapes. The instances equal MMPose's ``model.predict`` while at most ``top_k`` anchors pass the score threshold.
"""

from __future__ import annotations

from pathlib import Path

from mmpx.errors import ConfigError, MmpxError
from mmpx.runtime.model_file import publish, staged_path
from mmpx.runtime.one_stage import ONE_STAGE_FORMAT, OUTPUTS

SIDECAR_VERSION = 1
SUPPORTED_MODELS = ("BottomupPoseEstimator",)
SUPPORTED_HEADS = ("RTMOHead",)
DEFAULT_TOP_K = 100


def is_one_stage_config(cfg) -> bool:
    """Whether ``cfg.model`` is a one-stage pose model this exporter takes (``export_onnx`` then hands it here)."""
    model = cfg.get("model") or {}
    return model.get("type") in SUPPORTED_MODELS and (model.get("head") or {}).get("type") in SUPPORTED_HEADS


def check_one_stage(cfg, config) -> dict:
    """Raise a clear error unless the test pipeline is one the numpy side reproduces; returns its resize step."""
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        pipeline = None
    resize = next((dict(s) for s in pipeline or [] if s.get("type") == "BottomupResize"), None)
    if resize is None or resize.get("input_size") is None:
        raise ConfigError(f"{config}: test_dataloader.dataset.pipeline has no BottomupResize with an input_size",
                          "the one-stage test pipeline is LoadImage, BottomupResize(input_size=..., "
                          "pad_val=(114, 114, 114)), PackPoseInputs")
    if resize.get("resize_mode", "fit") != "fit" or resize.get("use_udp", False) or resize.get("aug_scales"):
        raise ConfigError(f"{config}: BottomupResize with resize_mode={resize.get('resize_mode', 'fit')!r}, "
                          f"use_udp={resize.get('use_udp', False)}, aug_scales={resize.get('aug_scales')} has no "
                          "fixed-size ONNX port", "use resize_mode='fit', use_udp=False and no aug_scales")
    size = resize["input_size"]
    factor = int(resize.get("size_factor", 32))
    if (not isinstance(size, (list, tuple)) or len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)
            or any(v % factor for v in size)):
        raise ConfigError(f"{config}: BottomupResize input_size {size!r} is not (width, height), multiples of "
                          f"size_factor {factor}", "e.g. input_size=(640, 640)")
    pad = resize.get("pad_val", (0, 0, 0))
    pad = list(pad) if isinstance(pad, (list, tuple)) else [pad] * 3
    test_cfg = cfg.model.get("test_cfg") or {}
    if test_cfg.get("flip_test") or test_cfg.get("multiscale_test"):
        raise ConfigError(f"{config}: model.test_cfg has flip_test or multiscale_test, which RTMO does not use",
                          "remove them from model.test_cfg")
    return {"size": (int(size[0]), int(size[1])), "pad_value": [float(v) for v in pad]}


def _wrap(model, priors, strides, top_k: int):
    import torch

    class OneStageNetwork(torch.nn.Module):
        """backbone + neck + head, box decoding, then the DCC keypoints of the ``top_k`` best anchors."""

        def __init__(self, pose_model):
            super().__init__()
            self.model = pose_model
            self.register_buffer("priors", priors)
            self.register_buffer("strides", strides)

        def forward(self, inputs):
            head = self.model.head
            cls_scores, bbox_preds, _, kpt_vis, pose_vecs = head.head_module(self.model.extract_feat(inputs))
            flat = head._flatten_predictions
            scores = flat(cls_scores).sigmoid().max(dim=-1)[0]  # (N, P): one-class heads, as predict's max(1)
            boxes = head.decode_bbox(flat(bbox_preds), self.priors, self.strides)
            vis = flat(kpt_vis).sigmoid()
            vecs = flat(pose_vecs)
            top, anchors = scores.topk(top_k, dim=1)  # sorted, best first

            def pick(t):
                return torch.gather(t, 1, anchors.unsqueeze(-1).expand(-1, -1, t.shape[-1]))

            boxes, vis, vecs = pick(boxes), pick(vis), pick(vecs)
            grids = self.priors[anchors]
            wh = (boxes[..., 2:] - boxes[..., :2]) * head.bbox_padding  # bbox_xyxy2cs
            center = (boxes[..., 2:] + boxes[..., :2]) * 0.5
            keypoints = head.dcc.forward_test(vecs, torch.cat([center, wh], dim=-1), grids)
            if keypoints.dim() == 3:  # the deploy DCC squeezes a batch of one outside ONNX export
                keypoints = keypoints.unsqueeze(0)
            return boxes, top, keypoints, vis, anchors

    return OneStageNetwork(model).eval()


# Keypoint coordinates allowed to differ on the random check input. RTMO decodes a keypoint as the expectation
# over its bins; a briefly trained model on noise has near-flat or two-peaked distributions over huge boxes, where
# float noise moves a few expectations by many pixels (seen: 1032 px on a model trained 35 minutes). Boxes, scores
# and anchors stay strict; the suite's parity test (real images) stays strict on keypoints too.
KEYPOINT_OUTLIERS = 0.05


def _verify(path: Path, net, example) -> tuple[float, dict]:
    """onnx.checker, then ONNX Runtime vs torch on ``example``: anchors found by both must agree (an anchor only
    one of them has must tie with the last score kept); returns the max abs difference (keypoint coordinates out
    of tolerance left out) and how many keypoint coordinates were out of it."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    onnx.checker.check_model(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": example.numpy()})
    with torch.no_grad():
        ref = [t.numpy() for t in net(example)]
    worst, outliers, total, largest = 0.0, 0, 0, 0.0
    for b in range(example.shape[0]):
        scores = float(np.abs(got[1][b] - ref[1][b]).max())  # sorted: the same whatever the order of ties
        common, ia, ir = np.intersect1d(got[4][b], ref[4][b], return_indices=True)
        only_onnx = np.setdiff1d(np.arange(len(got[4][b])), ia)
        if scores > 1e-3 or np.any(np.abs(got[1][b][only_onnx] - ref[1][b][-1]) > 1e-3):
            raise MmpxError(f"ONNX scores or anchors differ from torch (scores by {scores})",
                            "report this model; try another --opset")
        worst = max(worst, scores)
        for name, g, r in zip(OUTPUTS[:4], got[:4], ref[:4], strict=True):
            if not len(common):
                continue
            diff = np.abs(g[b][ia] - r[b][ir])
            tol = 1e-3 * max(1.0, float(np.abs(r[b]).max()))
            if name == "keypoints":
                far = diff > tol
                outliers, total = outliers + int(far.sum()), total + far.size
                largest = max(largest, float(diff.max()))
                diff = diff[~far]
            d = float(diff.max()) if diff.size else 0.0
            if d > tol:
                raise MmpxError(f"ONNX output {name!r} differs from torch by {d}",
                                "report this model; try another --opset")
            worst = max(worst, d)
    if outliers > KEYPOINT_OUTLIERS * max(total, 1):
        raise MmpxError(f"ONNX output 'keypoints' differs from torch in {outliers} of {total} coordinates (up to "
                        f"{largest:.1f})", "report this model; try another --opset")
    return worst, dict(keypoint_coords_differing=outliers, of=total, largest=round(largest, 3))


def export_one_stage(cfg, config, checkpoint: Path, onnx_path: Path, dynamic_batch: bool, opset: int,
                     top_k: int = DEFAULT_TOP_K):
    """Export the RTMO of the loaded ``cfg`` (checkpoint, opset and output path already checked by
    :func:`mmpose_ext.deploy.export.export_onnx`, which calls this for one-stage configs) with its sidecar.

    Raises:
        ConfigError: a test pipeline without a fixed-size BottomupResize, keypoints that do not fit the metainfo.
        CheckpointError: a checkpoint that does not match the config's model.
        MmpxError: an unsupported head, or a failed export/verification.
    """
    head_type = (cfg.model.get("head") or {}).get("type")
    if head_type not in SUPPORTED_HEADS:
        raise MmpxError(f"{config}: one-stage head {head_type} cannot be exported to ONNX",
                        f"supported one-stage heads: {', '.join(SUPPORTED_HEADS)}")
    spec = check_one_stage(cfg, config)
    if top_k < 1:
        raise MmpxError(f"top_k {top_k} must be >= 1", "e.g. 100: the most instances one image can give")

    import warnings

    import mmpose
    import torch

    from mmpose_ext.deploy.export import ExportResult, _load_state_dict, _torch_export, json_safe
    from mmpose_ext.deploy.model import build_model, dataset_meta
    from mmpx.runtime.ort import sidecar_path_for

    model = build_model(cfg)
    ckpt = _load_state_dict(model, checkpoint)
    meta = dataset_meta((ckpt.get("meta") or {}).get("dataset_meta"), cfg, config)
    head = model.head
    if int(head.num_keypoints) != int(meta["num_keypoints"]):
        raise ConfigError(f"{config}: the head predicts {head.num_keypoints} keypoints, the dataset metainfo has "
                          f"{meta['num_keypoints']}", "set model.head.num_keypoints to the metainfo's keypoints")
    w, h = spec["size"]
    for module in model.modules():  # the neck's position encodings and the DCC's merged layers
        if module is not model and callable(getattr(module, "switch_to_deploy", None)):
            module.switch_to_deploy({"input_size": (h, w)})  # MMPose reads it as (h, w) there
    example = torch.randn(2 if dynamic_batch else 1, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sizes = [c.shape[2:] for c in head.head_module(model.extract_feat(example[:1]))[0]]
    priors = torch.cat(head.prior_generator.grid_priors(sizes, dtype=torch.float32, device="cpu"))
    strides = torch.cat([priors.new_full((s.numel(),), float(st)) for s, st in zip(sizes, head.featmap_strides,
                                                                                    strict=True)])
    k = min(int(top_k), len(priors))
    net = _wrap(model, priors, strides, k)
    preprocessor = cfg.model.get("data_preprocessor") or {}
    test_cfg = cfg.model.get("test_cfg") or {}
    batch = "batch" if dynamic_batch else 1
    n_kpt = int(meta["num_keypoints"])
    tmp = staged_path(onnx_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exporter = _torch_export(net, example, tmp, list(OUTPUTS), dynamic_batch, opset)
            max_diff, check = _verify(tmp, net, example)
        sidecar = {
            "format": ONE_STAGE_FORMAT,
            "version": SIDECAR_VERSION,
            "kind": "one-stage",
            "onnx": onnx_path.name,
            "input": {"name": "input", "shape": [batch, 3, h, w], "size": [w, h], "dynamic_batch": bool(dynamic_batch),
                      "dtype": "float32"},
            "outputs": [{"name": "boxes", "shape": [batch, k, 4]}, {"name": "scores", "shape": [batch, k]},
                        {"name": "keypoints", "shape": [batch, k, n_kpt, 2]},
                        {"name": "keypoint_scores", "shape": [batch, k, n_kpt]},
                        {"name": "anchors", "shape": [batch, k]}],
            "model": {"type": cfg.model.type, "head": head_type, "top_k": k, "num_anchors": len(priors),
                      "bbox_padding": float(head.bbox_padding)},
            "preprocess": {
                "mean": json_safe(preprocessor.get("mean")),
                "std": json_safe(preprocessor.get("std")),
                "bgr_to_rgb": bool(preprocessor.get("bgr_to_rgb", False) or preprocessor.get("rgb_to_bgr", False)),
                "resize": "BottomupResize",
                "pad_value": spec["pad_value"],
            },
            "test_cfg": {"score_thr": float(test_cfg.get("score_thr", 0.01)),
                         "nms_thr": float(test_cfg.get("nms_thr", 1.0))},
            "dataset_meta": json_safe(meta),
            "source": {"config": str(config), "checkpoint": str(checkpoint), "opset": opset, "exporter": exporter,
                       "mmpose": mmpose.__version__, "torch": torch.__version__, "max_abs_diff_vs_torch": max_diff,
                       "check_on_random_input": check},
        }
        sidecar_path = sidecar_path_for(onnx_path)
        publish(tmp, onnx_path, sidecar, sidecar_path)  # one rename: the sidecar travels inside the model
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(onnx_path, sidecar_path, sidecar, max_diff)


__all__ = ["DEFAULT_TOP_K", "check_one_stage", "export_one_stage", "is_one_stage_config"]
