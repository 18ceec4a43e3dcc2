"""Export an mmdet RTMDet detector to ONNX, with the sidecar :class:`mmpx.runtime.det.OnnxDetector` runs it from.

The graph is backbone + neck + bbox head ``forward`` on a normalised N x 3 x H x W input (H x W: the test
pipeline's Pad size, or with ``dynamic_size`` any multiple of the largest stride), with the levels concatenated
in-graph: ``scores`` (N, P, C), the sigmoid of the class logits, and ``distances`` (N, P, 4), each prior's
left/top/right/bottom distances in input pixels. Everything that depends on the image (resize, pad, score
threshold, top-k, decoding from the priors, NMS, rescale) stays outside, in numpy, so the graph has no
data-dependent shapes and the numpy side is exactly mmdet's ``_predict_by_feat_single``. Other detectors keep
the torch path (``mmpx infer --det-config``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import CheckpointError, ConfigError, MmpxError
from mmpx.runtime.det import DET_FORMAT
from mmpx.runtime.model_file import publish, staged_path

SIDECAR_VERSION = 1
SUPPORTED_MODELS = ("RTMDet",)
SUPPORTED_HEADS = ("RTMDetHead", "RTMDetSepBNHead")


@dataclass
class DetExportResult:
    onnx_path: Path
    sidecar_path: Path
    sidecar: dict
    max_abs_diff: float  # ONNX Runtime vs torch on a random input, checked at export


def is_detector_config(cfg) -> bool:
    """Whether ``cfg.model`` is an mmdet detector (``mmpx export onnx`` then picks this exporter)."""
    model = cfg.get("model") or {}
    scope = cfg.get("default_scope")
    return scope == "mmdet" or "bbox_head" in model or "rpn_head" in model or "roi_head" in model


def config_is_detector(config, cfg_options: list[str] | None = None) -> bool:
    """Whether the config file (or name) ``config`` holds an mmdet detector. A config that does not load counts as
    not one: the pose exporter then reports it (and a missing checkpoint first) exactly as before."""
    from mmpose_ext.config import load_config
    from mmpx.configs.paths import config_path

    try:
        return is_detector_config(load_config(config_path(config), cfg_options))
    except MmpxError:
        return False


def _step(pipeline, name: str) -> dict | None:
    for step in pipeline or []:
        if str(step.get("type", "")).split(".")[-1] == name:  # mmdet.Resize after adapt_mmdet_pipeline
            return dict(step)
    return None


def _size(value, config, what) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[1])
    raise ConfigError(f"{config}: {what} is {value!r}", "set it to (width, height), e.g. (320, 320)")


def check_detector(cfg, config) -> dict:
    """Raise a clear error unless ``cfg`` is an RTMDet with a fixed-size test pipeline; returns what export needs:
    the resize scale, the padded input size (w, h), the pad value and keep_ratio."""
    model_type = cfg.model.get("type")
    head_type = (cfg.model.get("bbox_head") or {}).get("type")
    if model_type not in SUPPORTED_MODELS or head_type not in SUPPORTED_HEADS:
        head = f" with bbox_head {head_type}" if head_type else ""
        raise MmpxError(
            f"{config}: detector type {model_type}{head} cannot be exported to ONNX "
            f"(supported: {', '.join(SUPPORTED_MODELS)} with {' or '.join(SUPPORTED_HEADS)})",
            "use it through torch instead: mmpx infer --det-config CONFIG --det-weights CKPT",
        )
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        pipeline = None
    resize, pad = _step(pipeline, "Resize"), _step(pipeline, "Pad")
    if resize is None or pad is None or pad.get("size") is None:
        raise ConfigError(
            f"{config}: test_dataloader.dataset.pipeline needs a Resize and a Pad with a size (found "
            f"{[s.get('type') for s in pipeline or []]})",
            "the ONNX detector has a fixed input: add dict(type='Pad', size=(W, H), pad_val=dict(img=(114, 114, 114)))",
        )
    pad_val = pad.get("pad_val", {})
    pad_val = pad_val.get("img", 0) if isinstance(pad_val, dict) else pad_val
    values = list(pad_val) if isinstance(pad_val, (tuple, list)) else [pad_val] * 3
    if len(set(values)) != 1:
        raise ConfigError(f"{config}: Pad pad_val {pad_val!r} differs between channels", "use one value, e.g. 114")
    preprocessor = cfg.model.get("data_preprocessor") or {}
    size = _size(pad["size"], config, "the test Pad's size")
    divisor = int(preprocessor.get("pad_size_divisor", 1) or 1)
    if size[0] % divisor or size[1] % divisor:
        raise ConfigError(f"{config}: the Pad size {size} is not a multiple of pad_size_divisor {divisor}",
                          "pad to a multiple of it, e.g. (320, 320)")
    test_cfg = cfg.model.get("test_cfg") or {}
    nms = test_cfg.get("nms") or {}
    if nms.get("type", "nms") != "nms" or "iou_threshold" not in nms:
        raise MmpxError(f"{config}: model.test_cfg.nms is {dict(nms)!r}; only type='nms' with an iou_threshold "
                        "has a numpy port", "set model.test_cfg.nms=dict(type='nms', iou_threshold=0.65)")
    return {
        "resize_scale": _size(resize.get("scale"), config, "the test Resize's scale"),
        "keep_ratio": bool(resize.get("keep_ratio", False)),
        "size": size,
        "pad_value": float(values[0]),
        "test_cfg": {"score_thr": float(test_cfg.get("score_thr", 0.0)), "nms_pre": int(test_cfg.get("nms_pre", -1)),
                     "iou_threshold": float(nms["iou_threshold"]), "max_per_img": int(test_cfg.get("max_per_img", 100)),
                     "min_bbox_size": float(test_cfg.get("min_bbox_size", -1))},
    }


def _classes(ckpt: dict, cfg, num_classes: int) -> list[str]:
    """The checkpoint's ``meta.dataset_meta.classes``, else the config's test dataset's, else COCO's for 80."""
    meta = (ckpt.get("meta") or {}).get("dataset_meta") or {}
    classes = meta.get("classes")
    if not classes:
        dataset = (cfg.get("test_dataloader") or {}).get("dataset") or {}
        classes = (dataset.get("metainfo") or {}).get("classes")
    if not classes and num_classes == 80:
        from mmdet.evaluation import get_classes

        classes = get_classes("coco")
    if not classes:
        classes = [f"class_{i}" for i in range(num_classes)]
    if len(classes) != num_classes:
        raise ConfigError(f"the detector has {num_classes} classes, its metainfo names {len(classes)}: {classes}",
                          "set metainfo=dict(classes=(...)) on the config's datasets to the trained classes")
    return [str(c) for c in classes]


def _build(cfg):
    """The detector as ``mmdet.apis.init_detector`` builds it, without its checkpoint loading (done strictly
    here) and its COCO-classes warning (it resets the warning filters, so it cannot be silenced)."""
    from mmdet.registry import MODELS
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    backbone = cfg.model.get("backbone")
    if isinstance(backbone, dict) and "init_cfg" in backbone:
        backbone["init_cfg"] = None  # the weights come from the checkpoint: never download
    init_default_scope(cfg.get("default_scope", "mmdet"))
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.cfg = cfg
    return model.eval()


def _wrap(model):
    import torch

    class DetNetwork(torch.nn.Module):
        """backbone + neck + bbox head; levels flattened (row-major, like the priors) and concatenated."""

        def __init__(self, detector):
            super().__init__()
            self.model = detector

        def forward(self, inputs):
            cls_scores, bbox_preds = self.model.bbox_head(self.model.extract_feat(inputs))
            n = inputs.shape[0]
            scores = torch.cat([c.permute(0, 2, 3, 1).reshape(n, -1, c.shape[1]) for c in cls_scores], 1)
            dists = torch.cat([b.permute(0, 2, 3, 1).reshape(n, -1, 4) for b in bbox_preds], 1)
            return scores.sigmoid(), dists

    return DetNetwork(model).eval()


def _export_dynamic_size(net, example, path, outputs, dynamic_batch, opset) -> str:
    """The TorchScript exporter with the input's H and W (and so the outputs' prior axis) as dynamic axes: RTMDet
    is convolutions, upsampling by 2 and reshapes, which it traces without fixing the spatial size."""
    import warnings

    import torch

    batch = {0: "batch"} if dynamic_batch else {}
    axes = {"input": {**batch, 2: "height", 3: "width"}, **{o: {**batch, 1: "priors"} for o in outputs}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (example,), str(path), input_names=["input"], output_names=outputs,
                              opset_version=opset, dynamo=False, dynamic_axes=axes)
    except Exception as exc:
        raise MmpxError(f"torch.onnx.export with a dynamic input size failed: {type(exc).__name__}: "
                        f"{str(exc)[:300]}", "export without --dynamic-size (a fixed input), or try another "
                        "--opset (e.g. 17 or 18)") from exc
    return "torchscript"


def size_divisor(strides, preprocessor: dict) -> int:
    """What a dynamic-size input is padded to a multiple of: the largest stride (so that every level's feature map
    is the input over its stride exactly) or the data preprocessor's ``pad_size_divisor``, whichever is larger."""
    return max(max(int(s) for s in strides), int(preprocessor.get("pad_size_divisor", 1) or 1))


def export_detector_onnx(
    config: str | Path,
    checkpoint: str | Path,
    out: str | Path | None = None,
    dynamic_batch: bool = True,
    opset: int = 17,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
    dynamic_size: bool = False,
) -> DetExportResult:
    """Export ``checkpoint`` of the RTMDet ``config`` to ``out`` (default: the checkpoint with ``.onnx``) and its
    sidecar (kind "detector": classes, sizes, normalisation, strides, thresholds), checked against torch.

    By default the graph's input is the test pipeline's Pad size, as mmdet's test pipeline pads every image.
    ``dynamic_size``: the input's height and width are dynamic axes, and :class:`mmpx.runtime.det.OnnxDetector`
    pads each resized image only to the next multiple of the sidecar's ``preprocess.size_divisor`` (mmdet's
    ``Pad(size_divisor=...)`` mode): a 640x480 frame runs at 640x480, not 640x640. The check against torch then
    runs at the fixed size and at a non-square one.

    Raises:
        ConfigError: missing/broken config, no fixed-size test pipeline, classes that do not fit.
        CheckpointError: missing/unreadable checkpoint or one that does not match the config's model.
        MmpxError: not an RTMDet (the torch detector path remains), or a failed export/verification.
    """
    from mmpx.configs.paths import config_path
    from mmpx.runtime.ort import sidecar_path_for

    config, checkpoint = config_path(config), Path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint {checkpoint} does not exist",
                              "check the path (e.g. work_dirs/NAME/epoch_N.pth)")
    if not 7 <= opset <= 23:
        raise MmpxError(f"--opset {opset} is out of range", "use an ONNX opset between 7 and 23 (default 17)")
    onnx_path = Path(out) if out is not None else checkpoint.with_suffix(".onnx")
    if onnx_path.suffix != ".onnx":
        raise MmpxError(f"--out {onnx_path} must end in .onnx", "the sidecar is written beside it as NAME.json")
    sidecar_path = sidecar_path_for(onnx_path)

    from mmpose_ext.compat import checkpoint as safe_checkpoint
    from mmpose_ext.config import load_config

    cfg = load_config(config, cfg_options)
    spec = check_detector(cfg, config)
    if trust_checkpoint:
        safe_checkpoint.trust(str(checkpoint))

    import warnings

    import mmdet
    import torch

    from mmpose_ext.deploy.export import _load_state_dict, _torch_export, _verify, json_safe

    model = _build(cfg)
    ckpt = _load_state_dict(model, checkpoint)
    model.eval()
    head = model.bbox_head
    strides = [int(s[0]) for s in head.prior_generator.strides]
    if getattr(head.prior_generator, "offset", 0) != 0:
        raise MmpxError(f"{config}: the prior generator's offset is {head.prior_generator.offset}, not 0",
                        "only RTMDet's MlvlPointGenerator(offset=0) has a numpy port")
    classes = _classes(ckpt, cfg, int(head.cls_out_channels))

    preprocessor = cfg.model.get("data_preprocessor") or {}
    if preprocessor.get("mean") is None or preprocessor.get("std") is None:
        raise ConfigError(f"{config}: model.data_preprocessor has no mean/std",
                          "set model.data_preprocessor mean and std (RTMDet's: BGR 103.53/116.28/123.675)")
    w, h = spec["size"]
    divisor = size_divisor(strides, preprocessor)
    net = _wrap(model)
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(2 if dynamic_batch else 1, 3, h, w, generator=generator)
    checks = [example]
    if dynamic_size:  # a second, non-square size (e.g. 640x480 for 640x640): the spatial axes really are dynamic
        other_h = max(divisor, (h * 3 // 4) // divisor * divisor)
        other_h = other_h if other_h != w else other_h + divisor
        checks.append(torch.randn(1, 3, other_h, w, generator=generator))
    outputs = ["scores", "distances"]
    tmp = staged_path(onnx_path)
    try:
        if dynamic_size:
            exporter = _export_dynamic_size(net, example, tmp, outputs, dynamic_batch, opset)
        else:
            exporter = _torch_export(net, example, tmp, outputs, dynamic_batch, opset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # mmdet's torch.cuda.amp.autocast, on every forward
            max_diff = max(_verify(tmp, net, x, outputs) for x in checks)
            with torch.no_grad():
                priors = int(net(example[:1])[0].shape[1])
        batch = "batch" if dynamic_batch else 1
        prior_axis = "priors" if dynamic_size else priors
        sidecar = {
            "format": DET_FORMAT,
            "version": SIDECAR_VERSION,
            "kind": "detector",
            "onnx": onnx_path.name,
            # size: the fixed input, or with dynamic_size the config's Pad size (what the fixed export would take)
            "input": {"name": "input", "shape": [batch, 3, "height" if dynamic_size else h,
                                                 "width" if dynamic_size else w], "size": [w, h],
                      "dynamic_batch": bool(dynamic_batch), "dynamic_size": bool(dynamic_size), "dtype": "float32"},
            "outputs": [{"name": "scores", "shape": [batch, prior_axis, len(classes)]},
                        {"name": "distances", "shape": [batch, prior_axis, 4]}],
            "model": {"type": cfg.model.type, "bbox_head": cfg.model.bbox_head.type},
            "classes": classes,
            "strides": strides,
            "preprocess": {
                "mean": json_safe(preprocessor.get("mean")),
                "std": json_safe(preprocessor.get("std")),
                "bgr_to_rgb": bool(preprocessor.get("bgr_to_rgb", False) or preprocessor.get("rgb_to_bgr", False)),
                "resize_scale": list(spec["resize_scale"]),
                "keep_ratio": spec["keep_ratio"],
                "pad_value": spec["pad_value"],
                **({"size_divisor": divisor} if dynamic_size else {}),
            },
            "test_cfg": spec["test_cfg"],
            "source": {"config": str(config), "checkpoint": str(checkpoint), "opset": opset, "exporter": exporter,
                       "mmdet": mmdet.__version__, "torch": torch.__version__, "max_abs_diff_vs_torch": max_diff},
        }
        publish(tmp, onnx_path, sidecar, sidecar_path)  # one rename: the sidecar travels inside the model
    finally:
        tmp.unlink(missing_ok=True)
    return DetExportResult(onnx_path, sidecar_path, sidecar, max_diff)


__all__ = ["DetExportResult", "check_detector", "config_is_detector", "export_detector_onnx", "is_detector_config",
           "size_divisor"]
