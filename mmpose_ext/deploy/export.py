"""Export a top-down MMPose model to ONNX plus a JSON sidecar with everything decoding and drawing need.

The ONNX graph is backbone + neck + head ``forward`` on a normalised N x 3 x H x W input and returns the raw
head outputs (SimCC x/y vectors or heatmaps; a visibility head's per-keypoint output as a last output ``visible``,
which the sidecar's ``visibility`` describes); cropping, normalisation, flip test and decoding stay outside the
graph, done by :class:`mmpx.runtime.ort.OnnxPoseModel` exactly as MMPose does them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import CheckpointError, ConfigError, MmpxError
from mmpx.runtime.model_file import publish, staged_path
from mmpx.runtime.ort import SIDECAR_FORMAT, sidecar_path_for

SIDECAR_VERSION = 1
# head type -> (kind, output names); the heads whose forward() returns exactly these tensors
SUPPORTED_HEADS = {
    "RTMCCHead": ("simcc", ["simcc_x", "simcc_y"]),
    "RTMWHead": ("simcc", ["simcc_x", "simcc_y"]),
    "SimCCHead": ("simcc", ["simcc_x", "simcc_y"]),
    "HeatmapHead": ("heatmap", ["heatmaps"]),
    "ViPNASHead": ("heatmap", ["heatmaps"]),
}
# heads that wrap a pose head (``pose_cfg``) and add a visibility output per keypoint
VISIBILITY_HEADS = ("VisPredictHead", "VisibilityHead")
VISIBLE_OUTPUT = "visible"
SUPPORTED_TEXT = ("top-down models (TopdownPoseEstimator) with a head of type " + ", ".join(SUPPORTED_HEADS)
                  + ", and one-stage RTMO models (BottomupPoseEstimator with RTMOHead)")
DEFAULT_OPSET = 17


@dataclass
class ExportResult:
    onnx_path: Path
    sidecar_path: Path
    sidecar: dict
    max_abs_diff: float  # ONNX Runtime vs torch on a random input, checked at export


def json_safe(value):
    """numpy arrays/scalars, tuples and int-keyed dicts to plain JSON types."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, type):
        return value.__name__
    return str(value)


def _pipeline_step(pipeline, name: str) -> dict | None:
    for step in pipeline or []:
        if step.get("type") == name:
            return dict(step)
    return None


def check_supported(cfg, config) -> tuple[str, list[str], dict, dict]:
    """Raise a clear error unless ``cfg`` is a top-down model with a supported head; returns what export needs."""
    model_type = cfg.model.get("type")
    head = pose_head_cfg(cfg)
    head_type = head.get("type")
    if model_type != "TopdownPoseEstimator" or head_type not in SUPPORTED_HEADS:
        raise MmpxError(
            f"{config}: model type {model_type} with head {head_type} is not supported for ONNX export",
            f"mmpx export onnx supports {SUPPORTED_TEXT}",
        )
    if not head.get("decoder"):
        raise ConfigError(f"{config}: model.head.decoder is not set", "set model.head.decoder to the codec config")
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        pipeline = None
    affine = _pipeline_step(pipeline, "TopdownAffine")
    if affine is None:
        raise ConfigError(
            f"{config}: test_dataloader.dataset.pipeline has no TopdownAffine step",
            "export needs the top-down test pipeline (GetBBoxCenterScale, TopdownAffine) to know the crop",
        )
    center_scale = _pipeline_step(pipeline, "GetBBoxCenterScale") or {}
    kind, outputs = SUPPORTED_HEADS[head_type]
    return kind, outputs, affine, center_scale


def pose_head_cfg(cfg) -> dict:
    """The config of the head that predicts keypoints: ``model.head``, or its ``pose_cfg`` in a visibility head."""
    head = cfg.model.get("head") or {}
    return (head.get("pose_cfg") or {}) if head.get("type") in VISIBILITY_HEADS else head


def _load_state_dict(model, checkpoint: Path):
    """The checkpoint's state dict, loaded strictly; a mismatch names the differing keys."""
    from mmengine.runner import CheckpointLoader

    try:
        ckpt = CheckpointLoader.load_checkpoint(str(checkpoint), map_location="cpu")
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"{checkpoint} is not a readable checkpoint: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            "give a .pth file written by mmpx train / MMPose",
        ) from exc
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{checkpoint} holds a {type(ckpt).__name__}, not a checkpoint dict")
    state = ckpt.get("state_dict", ckpt)
    state = {k.removeprefix("module."): v for k, v in state.items() if hasattr(v, "shape")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own if k in state
              and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
            if items:
                parts.append(f"{len(items)} {label} ({', '.join(items[:3])}{', ...' if len(items) > 3 else ''})")
        raise CheckpointError(
            f"checkpoint {checkpoint} does not match the config's model: {'; '.join(parts)}",
            "pass the config the checkpoint was trained with (its work dir holds a copy)",
        )
    model.load_state_dict(state, strict=True)
    return ckpt


class _Network:
    """Builds the exported module lazily (torch imported only here)."""

    @staticmethod
    def wrap(model):
        import torch

        class PoseNetwork(torch.nn.Module):
            """backbone + neck + head forward: the raw head outputs for a normalised batch."""

            def __init__(self, pose_model):
                super().__init__()
                self.model = pose_model

            def forward(self, inputs):
                out = self.model.head.forward(self.model.extract_feat(inputs))
                if hasattr(self.model.head, "vis_head"):  # a visibility head: (pose outputs, visibility)
                    pose, visible = out
                    return (*(pose if isinstance(pose, (tuple, list)) else (pose,)), visible)
                return tuple(out) if isinstance(out, (tuple, list)) else out

        return PoseNetwork(model).eval()


def _torch_export(net, example, path, outputs, dynamic_batch, opset) -> str:
    """TorchScript exporter first (fast, reliable for CSPNeXt/RTMCC and ResNet/heatmap heads); dynamo if it fails."""
    import warnings

    import torch

    errors = []
    for dynamo in (False, True):
        kwargs = dict(input_names=["input"], output_names=outputs, opset_version=opset, dynamo=dynamo)
        if dynamic_batch and not dynamo:
            kwargs["dynamic_axes"] = {"input": {0: "batch"}, **{o: {0: "batch"} for o in outputs}}
        if dynamo:
            kwargs["external_data"] = False  # one file, so the atomic rename covers all of it
        if dynamic_batch and dynamo:
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=1, max=4096)},)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net, (example,), str(path), **kwargs)
            return "dynamo" if dynamo else "torchscript"
        except Exception as exc:
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(exc).__name__}: {str(exc)[:300]}")
    raise MmpxError("torch.onnx.export failed with both exporters: " + " | ".join(errors),
                    "try another --opset (e.g. 17 or 18); run with --debug for the traceback")


def _verify(path: Path, net, example, outputs) -> float:
    """onnx.checker plus one ONNX Runtime run compared with torch; returns the max abs difference."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    onnx.checker.check_model(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": example.numpy()})
    with torch.no_grad():
        ref = net(example)
    ref = ref if isinstance(ref, tuple) else (ref,)
    worst = 0.0
    for name, a, b in zip(outputs, got, ref, strict=True):
        b = b.numpy()
        diff = float(np.abs(a - b).max())
        if a.shape != b.shape or diff > 1e-3 * max(1.0, float(np.abs(b).max())):
            raise MmpxError(f"ONNX output {name!r} differs from torch: shape {a.shape} vs {b.shape}, max diff {diff}",
                            "report this model; try another --opset")
        worst = max(worst, diff)
    return worst


def export_onnx(
    config: str | Path,
    checkpoint: str | Path,
    out: str | Path | None = None,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
) -> ExportResult:
    """Export ``checkpoint`` of ``config`` to ``out`` (default: the checkpoint's path with ``.onnx``) + sidecar.

    Raises:
        ConfigError: missing/broken config, no metainfo, no top-down test pipeline.
        CheckpointError: missing/unreadable checkpoint or one that does not match the config's model.
        MmpxError: unsupported model (names the supported ones) or a failed export/verification.
    """
    from mmpx.configs.paths import config_path

    config, checkpoint = config_path(config), Path(checkpoint)  # a file, a shipped config's name, mmdet::...
    if not checkpoint.is_file():
        raise CheckpointError(
            f"checkpoint {checkpoint} does not exist", "check the path (e.g. work_dirs/NAME/epoch_N.pth)"
        )
    if not 7 <= opset <= 23:
        raise MmpxError(f"--opset {opset} is out of range", "use an ONNX opset between 7 and 23 (default 17)")
    onnx_path = Path(out) if out is not None else checkpoint.with_suffix(".onnx")
    if onnx_path.suffix != ".onnx":
        raise MmpxError(f"--out {onnx_path} must end in .onnx", "the sidecar is written beside it as NAME.json")
    sidecar_path = sidecar_path_for(onnx_path)

    from mmpose_ext.compat import checkpoint as safe_checkpoint
    from mmpose_ext.config import load_config

    cfg = load_config(config, cfg_options)  # plugins registered, overrides applied
    from mmpose_ext.deploy.rtmo_export import export_one_stage, is_one_stage_config

    if is_one_stage_config(cfg):  # RTMO: boxes and keypoints from the whole image (sidecar kind "one-stage")
        if trust_checkpoint:
            safe_checkpoint.trust(str(checkpoint))
        return export_one_stage(cfg, config, checkpoint, onnx_path, dynamic_batch, opset)
    kind, outputs, affine, center_scale = check_supported(cfg, config)
    if trust_checkpoint:
        safe_checkpoint.trust(str(checkpoint))

    import mmpose
    import torch

    from mmpose_ext.deploy.model import build_model, dataset_meta

    model = build_model(cfg)  # not init_model: it reads the dataset class's metainfo before the checkpoint's
    ckpt = _load_state_dict(model, checkpoint)
    meta = dataset_meta((ckpt.get("meta") or {}).get("dataset_meta"), cfg, config)

    w, h = (int(v) for v in affine["input_size"])
    net = _Network.wrap(model)
    example = torch.randn(2 if dynamic_batch else 1, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        probe = net(example)
    probe = probe if isinstance(probe, tuple) else (probe,)
    num_out = probe[0].shape[1]
    pose_head = pose_head_cfg(cfg)
    visibility = None
    if cfg.model.head.get("type") in VISIBILITY_HEADS:  # the last output; "logits": the sigmoid is still to apply
        outputs = [*outputs, VISIBLE_OUTPUT]
        visibility = {"output": VISIBLE_OUTPUT, "logits": not bool(getattr(model.head, "use_sigmoid", False))}
    expected = meta["num_keypoints"] * (3 if pose_head["decoder"].get("heatmap_type") == "combined" else 1)
    if num_out != expected:
        raise ConfigError(
            f"the head outputs {num_out} channels but the dataset metainfo has {meta['num_keypoints']} keypoints",
            "set the head's out_channels to the number of keypoints in the metainfo",
        )

    tmp = staged_path(onnx_path)
    try:
        exporter = _torch_export(net, example, tmp, outputs, dynamic_batch, opset)
        max_diff = _verify(tmp, net, example, outputs)
        preprocessor = cfg.model.get("data_preprocessor") or {}
        sidecar = {
            "format": SIDECAR_FORMAT,
            "version": SIDECAR_VERSION,
            "onnx": onnx_path.name,
            "input": {
                "name": "input",
                "shape": ["batch" if dynamic_batch else 1, 3, h, w],
                "size": [w, h],
                "dynamic_batch": bool(dynamic_batch),
                "dtype": "float32",
            },
            "outputs": [
                {"name": name, "shape": ["batch" if dynamic_batch else 1, *list(t.shape[1:])]}
                for name, t in zip(outputs, probe, strict=True)
            ],
            "head": {"type": pose_head["type"], "kind": kind},
            "preprocess": {
                "mean": json_safe(preprocessor.get("mean")),
                "std": json_safe(preprocessor.get("std")),
                "bgr_to_rgb": bool(preprocessor.get("bgr_to_rgb", False) or preprocessor.get("rgb_to_bgr", False)),
                "bbox_padding": float(center_scale.get("padding", 1.25)),
                "use_udp": bool(affine.get("use_udp", False)),
            },
            "codec": json_safe(dict(pose_head["decoder"])),
            "test_cfg": json_safe(dict(cfg.model.get("test_cfg") or {})),
            "dataset_meta": json_safe(meta),
            **({"visibility": visibility} if visibility else {}),
            "source": {
                "config": str(config),
                "checkpoint": str(checkpoint),
                "opset": opset,
                "exporter": exporter,
                "mmpose": mmpose.__version__,
                "torch": torch.__version__,
                "max_abs_diff_vs_torch": max_diff,
            },
        }
        publish(tmp, onnx_path, sidecar, sidecar_path)  # one rename: the sidecar travels inside the model
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(onnx_path, sidecar_path, sidecar, max_diff)
