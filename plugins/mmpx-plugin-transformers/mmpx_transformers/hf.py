"""Building a transformers ``AutoBackbone`` from a model type and a config dict, and reading its layout.

Shared by :class:`mmpx_transformers.backbone.HFBackbone`, ``mmpx transformers-info`` and the doctor check.
Everything here builds from a config: nothing reads the Hugging Face Hub or the network.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, Sequence

from mmpx.errors import ConfigError

# Families whose backbone needs timm, which does not work on this stack; refused with a clear message.
UNSUPPORTED = {"timm_backbone": "it wraps a timm model, and timm is not usable with mmpose-ext"}
# Config keys the wrapper sets itself from its own ``out_indices``.
OWN_KEYS = ("out_features", "out_indices", "_out_features", "_out_indices", "stage_names")


def backbone_model_types() -> list[str]:
    """The model types transformers' ``AutoBackbone`` builds (``convnext``, ``resnet``, ``swin``, ...)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_BACKBONE_MAPPING_NAMES

    return sorted(set(MODEL_FOR_BACKBONE_MAPPING_NAMES) - set(UNSUPPORTED))


def close_names(name: str, names: Sequence[str], n: int = 5) -> list[str]:
    """Up to ``n`` of ``names`` that look like ``name`` (typos, other separators)."""
    key = name.lower().replace("-", "_")
    found = difflib.get_close_matches(key, [m.replace("-", "_") for m in names], n=n, cutoff=0.6)
    by_key = {m.replace("-", "_"): m for m in names}
    starts = [m for m in names if m.startswith(key[:4]) and m not in found] if len(key) >= 4 else []
    return [by_key[f] for f in found] + starts[: max(0, n - len(found))]


def check_model_type(model_type: str) -> str:
    """Return ``model_type`` when ``AutoBackbone`` can build it.

    Raises:
        ConfigError: naming the close valid model types (or all of them).
    """
    if model_type in UNSUPPORTED:
        raise ConfigError(f"HFBackbone model_type {model_type!r} is not supported: {UNSUPPORTED[model_type]}",
                          "use a native family such as 'convnext' or 'resnet'")
    valid = backbone_model_types()
    if model_type in valid:
        return model_type
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    near = close_names(str(model_type), valid)
    what = ("a transformers model type without an AutoBackbone class" if model_type in CONFIG_MAPPING_NAMES
            else "not a transformers backbone model type")
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise ConfigError(f"HFBackbone model_type {model_type!r} is {what}",
                      f"{hint}AutoBackbone model types: {', '.join(valid)}")


def config_keys(model_type: str) -> set[str]:
    """The keyword arguments the model type's config class takes (its own fields and the common ones)."""
    from transformers import PreTrainedConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cls = CONFIG_MAPPING[model_type]
    keys: set[str] = set()
    for klass in (cls, PreTrainedConfig):
        keys |= {p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "kwargs")}
    keys |= set(cls().to_dict())
    return keys - set(OWN_KEYS)


def stage_index(out_indices: Sequence[int], num_stages: int) -> tuple[int, ...]:
    """0-based stage indices (negative counts from the end) as sorted, non-negative ones.

    Raises:
        ConfigError: empty, out of range, or the same stage twice.
    """
    if isinstance(out_indices, int):
        out_indices = (out_indices,)
    out = [int(i) for i in out_indices]
    if not out or any(not -num_stages <= i < num_stages for i in out):
        raise ConfigError(f"HFBackbone out_indices {tuple(out)} must index the {num_stages} stages "
                          f"(0 to {num_stages - 1}, or -1 for the last)",
                          "out_indices count the stages after the stem, from 0; e.g. (-1,) for the last")
    fixed = [i % num_stages for i in out]
    if len(set(fixed)) != len(fixed):
        raise ConfigError(f"HFBackbone out_indices {tuple(out)} name a stage twice", "give each stage once")
    return tuple(sorted(fixed))


def make_config(model_type: str, config: Mapping | None = None, out_indices: Sequence[int] = (-1,)):
    """The transformers config of ``model_type`` with ``config``'s values and the chosen output stages.

    Args:
        model_type: an ``AutoBackbone`` model type (``convnext``, ``resnet``, ...).
        config: keyword arguments of that type's config class (``hidden_sizes``, ``depths``, ...).
        out_indices: 0-based stages after the stem (negative from the end).

    Returns:
        ``(hf_config, stage_indices)``: the config (its ``out_indices`` count the stem as 0, as transformers
        does) and the sorted 0-based stage indices.

    Raises:
        ConfigError: an unknown model type or config key, or values transformers refuses.
    """
    from transformers import AutoConfig

    check_model_type(model_type)
    config = dict(config or {})
    own = [k for k in config if k in OWN_KEYS]
    if own:
        raise ConfigError(f"HFBackbone config sets {', '.join(own)}, which the wrapper sets",
                          "choose the stages with HFBackbone's out_indices=(...) instead")
    known = config_keys(model_type)
    unknown = sorted(k for k in config if k not in known)
    if unknown:
        near = {k: close_names(k, sorted(known), n=3) for k in unknown}
        said = "; ".join(f"{k!r}" + (f" (did you mean {', '.join(v)}?)" if v else "")
                         for k, v in near.items())
        raise ConfigError(f"HFBackbone config for {model_type!r}: unknown key(s) {said}",
                          f"the keys of its config class: {', '.join(sorted(known))}")
    try:
        hf_config = AutoConfig.for_model(model_type, **config)
        num_stages = len(hf_config.stage_names) - 1
        stages = stage_index(out_indices, num_stages)
        hf_config.out_indices = [i + 1 for i in stages]  # transformers counts the stem as stage 0
    except ConfigError:
        raise
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ConfigError(f"HFBackbone: transformers refused the {model_type!r} config {config}: {exc}",
                          "check the lengths of per-stage lists (depths, hidden_sizes, ...)") from exc
    return hf_config, stages


def build_backbone(model_type: str, config: Mapping | None = None, out_indices: Sequence[int] = (-1,)):
    """A randomly initialised ``AutoBackbone`` from a config (no download); see :func:`make_config`.

    Returns:
        ``(model, stage_indices)``.

    Raises:
        ConfigError: as :func:`make_config`, or the model cannot be built from these values.
    """
    from transformers import AutoBackbone

    hf_config, stages = make_config(model_type, config, out_indices)
    try:
        model = AutoBackbone.from_config(hf_config)
    except (ValueError, TypeError, IndexError, KeyError, RuntimeError) as exc:
        raise ConfigError(f"HFBackbone: transformers cannot build {model_type!r} from {dict(config or {})}: "
                          f"{type(exc).__name__}: {exc}",
                          "check the lengths of per-stage lists (depths, hidden_sizes, ...)") from exc
    return model, stages


def _shallowest(names: list[str]) -> str | None:
    return min(names, key=lambda n: (n.count("."), n)) if names else None


def layout(model) -> tuple[str | None, list[str]]:
    """``(stem, stages)``: dotted names in ``model`` of its stem module and of each stage, in order.

    Found by shape, not by family: the stages are the shallowest ``ModuleList`` named ``stages``, ``layers``,
    ``layer`` or ``stage`` with one entry per stage (ConvNeXt and ResNet ``encoder.stages``, Swin
    ``encoder.layers``, DINOv2 ``encoder.layer``), the stem the shallowest module named ``embeddings``,
    ``embedder`` or ``stem``. Either may be missing (``None`` / ``[]``) for an unusual family.
    """
    import torch.nn as nn

    num_stages = len(model.stage_names) - 1
    lists = [n for n, m in model.named_modules()
             if isinstance(m, nn.ModuleList) and len(m) == num_stages
             and n.rsplit(".", 1)[-1] in ("stages", "layers", "layer", "stage")]
    stages_name = _shallowest(lists)
    stem = _shallowest([n for n, _ in model.named_modules()
                        if n and n.rsplit(".", 1)[-1] in ("embeddings", "embedder", "stem")])
    stages = [f"{stages_name}.{i}" for i in range(num_stages)] if stages_name else []
    return stem, stages


# Output stride of each stage, from the config, for the families whose layout is known (checked against a
# forward pass in the tests). Others are measured by a forward pass (see stage_strides).
def _pyramid(cfg, num_stages: int) -> list[int]:
    return [cfg.patch_size * 2**i for i in range(num_stages)]


def _resnet(cfg, num_stages: int) -> list[int]:
    first = 2 if getattr(cfg, "downsample_in_first_stage", False) else 1  # the stem's conv and pool give 4
    return [4 * first * 2**i for i in range(num_stages)]


def _plain(cfg, num_stages: int) -> list[int]:
    return [cfg.patch_size] * num_stages  # ViT-like: every block keeps the patch grid


STRIDE_RULES = {
    "convnext": _pyramid, "convnextv2": _pyramid, "swin": _pyramid, "swinv2": _pyramid,
    "maskformer-swin": _pyramid, "resnet": _resnet, "rt_detr_resnet": _resnet,
    "dinov2": _plain, "dinov2_with_registers": _plain,
}


def stage_strides(model, measure_size: int | None = None) -> list[int]:
    """The stride (input size / map size) of every stage of ``model``, 0-based after the stem.

    Known families are computed from the config; others (or ``measure_size`` given) by one forward pass on a
    zero ``measure_size`` square input, with every stage returned (in eval mode, no gradients).
    """
    cfg = model.config
    num_stages = len(model.stage_names) - 1
    rule = STRIDE_RULES.get(cfg.model_type)
    if rule is not None and measure_size is None:
        return rule(cfg, num_stages)
    import copy

    import torch

    size = measure_size or (cfg.image_size if isinstance(getattr(cfg, "image_size", None), int) else 224)
    probe_cfg = copy.deepcopy(cfg)
    probe_cfg.out_indices = list(range(1, num_stages + 1))
    from transformers import AutoBackbone

    probe = AutoBackbone.from_config(probe_cfg).eval()
    with torch.no_grad():
        maps = probe(torch.zeros(1, cfg.num_channels, size, size)).feature_maps
    return [round(size / m.shape[-2]) for m in maps]
