"""``FreezeHook`` and ``PartialLoadHook``: fine-tuning pieces for mmengine's Runner (see docs/guides/training.md).

Pattern rules for :class:`FreezeHook` (``resolve_freeze_patterns``):

- a pattern is an :mod:`fnmatch` glob on ``model.named_parameters()`` names (``backbone.stem.*``, ``*.bn*``);
  a pattern that names a module (``backbone``, ``head.final_layer``) also matches everything under it;
- ``MODULE:N`` (usually ``backbone:N``) is the stem and the first ``N`` stages of that module. Its stages are its
  top-level children named ``layer<k>``, ``stage<k>`` or ``res_layer<k>``, in registration order (ResNet's
  ``layer1..4``, CSPNeXt's ``stage1..4``, HRNet's ``layer1, stage2..4``, MobileNetV2's ``layer1..7``); ``N``
  stages means everything registered up to and including the ``N``-th stage (the stem: ``conv1``/``norm1`` or
  ``stem``, HRNet's transitions in between) plus the module's own direct parameters. A module that declares
  ``mmpx_stem`` and ``mmpx_stages`` (the backbone protocol, docs/guides/plugins.md) is counted by its declaration:
  ``N`` stages are its stem modules and its first ``N`` declared stages.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from mmengine.hooks import Hook

from mmpose_ext.models.backbone import declared_stages
from mmpose_ext.registry import HOOKS
from mmpx.errors import CheckpointError, ConfigError

_STAGE = re.compile(r"^(layer|stage|res_layer)\d+$")
_SHORTHAND = re.compile(r"^([A-Za-z_][\w.]*):(\d+)$")


def _unwrap(model):
    from mmengine.model import is_model_wrapper

    return model.module if is_model_wrapper(model) else model


def _examples(names: list[str], limit: int = 8) -> str:
    prefixes = list(dict.fromkeys(".".join(n.split(".")[:2]) for n in names))
    shown = ", ".join(prefixes[:limit]) + (", ..." if len(prefixes) > limit else "")
    return f"modules: {shown}; e.g. {names[0]}" if names else "the model has no parameters"


def _stage_globs(model, prefix: str, stages: int, spec: str) -> list[str]:
    try:
        module = model.get_submodule(prefix)
    except AttributeError:
        raise ConfigError(
            f"--freeze {spec!r}: the model has no module {prefix!r}",
            _examples([n for n, _ in model.named_parameters()]),
        ) from None
    declared = declared_stages(module)
    if declared is not None:  # the backbone protocol: the module names its stem and stages itself
        stem, stages_declared = declared
        if stages < 1 or stages > len(stages_declared):
            raise ConfigError(
                f"--freeze {spec!r}: {prefix} declares {len(stages_declared)} stage(s) "
                f"({', '.join(stages_declared)}), so N must be 1 to {len(stages_declared)}",
                f"e.g. --freeze {prefix}:1 freezes its stem ({', '.join(stem) or 'none'}) and first stage",
            )
        direct = [f"{prefix}.{n}" for n, _ in module.named_parameters(recurse=False)]
        return direct + [f"{prefix}.{name}.*" for name in (*stem, *stages_declared[:stages])]
    children = [name for name, _ in module.named_children()]
    found = [name for name in children if _STAGE.match(name)]
    if stages < 1 or stages > len(found):
        raise ConfigError(
            f"--freeze {spec!r}: {prefix} has {len(found)} stage(s) ({', '.join(found) or 'none'}), "
            f"so N must be 1 to {len(found)}",
            f"stages are children named layer<k>/stage<k>/res_layer<k>; its children are: {', '.join(children)}",
        )
    last = children.index(found[stages - 1])
    direct = [f"{prefix}.{n}" for n, _ in module.named_parameters(recurse=False)]
    return direct + [f"{prefix}.{child}.*" for child in children[: last + 1]]


def resolve_freeze_patterns(model, patterns: list[str]) -> dict[str, list[str]]:
    """Parameter names each pattern selects, in pattern order.

    Raises:
        ConfigError: a pattern matches no parameter (naming the pattern and some valid names), or a ``MODULE:N``
            shorthand names no module or more stages than it has.
    """
    model = _unwrap(model)
    names = [n for n, _ in model.named_parameters()]
    selected: dict[str, list[str]] = {}
    for spec in patterns:
        shorthand = _SHORTHAND.match(spec)
        globs = _stage_globs(model, shorthand[1], int(shorthand[2]), spec) if shorthand else [spec, spec + ".*"]
        matched = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in globs)]
        if not matched:
            raise ConfigError(
                f"--freeze pattern {spec!r} matches no parameter of the model",
                f"patterns are globs on parameter names ({_examples(names)}), a module name, or backbone:N",
            )
        selected[spec] = matched
    return selected


def freeze_summary(model) -> list[tuple[str, int, int]]:
    """``(module prefix, frozen, trainable)`` parameter element counts per two-level module prefix."""
    rows: dict[str, list[int]] = {}
    for name, param in _unwrap(model).named_parameters():
        row = rows.setdefault(".".join(name.split(".")[:2]), [0, 0])
        row[0 if not param.requires_grad else 1] += param.numel()
    return [(prefix, frozen, trainable) for prefix, (frozen, trainable) in rows.items()]


def _format_table(rows: list[tuple[str, int, int]]) -> str:
    total = ("total", sum(r[1] for r in rows), sum(r[2] for r in rows))
    lines = [("module", "frozen", "trainable"), *[(p, f"{f:,}", f"{t:,}") for p, f, t in [*rows, total]]]
    widths = [max(len(str(line[i])) for line in lines) for i in range(3)]
    fmt = lambda line: f"{line[0]:<{widths[0]}}  {line[1]:>{widths[1]}}  {line[2]:>{widths[2]}}"  # noqa: E731
    rule = "-" * (sum(widths) + 4)
    return "\n".join([fmt(lines[0]), rule, *map(fmt, lines[1:-1]), rule, fmt(lines[-1])])


@HOOKS.register_module()
class FreezeHook(Hook):
    """Freeze parameters by name pattern: ``requires_grad=False`` and BatchNorm statistics kept fixed.

    In ``before_train`` (after weights are initialised or loaded) matching parameters stop requiring gradients,
    so the optimizer never updates them (torch optimizers skip parameters whose ``grad`` is None, weight decay
    included). BatchNorm layers whose parameters are all frozen are put in eval mode before every training
    iteration (mmengine's loop calls ``model.train()`` each epoch), so their running statistics stay fixed too.
    A table of frozen and trainable parameter counts goes to the runner's logger.

    Args:
        patterns: fnmatch globs on parameter names, module names, or ``MODULE:N`` (stem + first N stages).
    """

    priority = "HIGH"

    def __init__(self, patterns: list[str] | str) -> None:
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        if not self.patterns:
            raise ConfigError("FreezeHook needs at least one pattern", "e.g. patterns=['backbone']")
        self.frozen: list[str] = []
        self._norms: list = []

    def before_train(self, runner) -> None:
        from torch.nn.modules.batchnorm import _BatchNorm

        model = _unwrap(runner.model)
        selected = resolve_freeze_patterns(model, self.patterns)
        frozen = set().union(*selected.values())
        for name, param in model.named_parameters():
            if name in frozen:
                param.requires_grad_(False)
        self.frozen = [n for n, _ in model.named_parameters() if n in frozen]
        self._norms = [
            m
            for m in model.modules()
            if isinstance(m, _BatchNorm)
            and any(True for _ in m.parameters())
            and not any(p.requires_grad for p in m.parameters())
        ]
        counts = ", ".join(f"{spec!r}: {len(names)}" for spec, names in selected.items())
        runner.logger.info(
            f"FreezeHook froze {len(self.frozen)} parameter tensors ({counts}) and {len(self._norms)} BatchNorm "
            f"layers (eval mode)\n{_format_table(freeze_summary(model))}"
        )
        self._freeze_norms()

    def _freeze_norms(self) -> None:
        for module in self._norms:
            module.eval()

    def before_train_epoch(self, runner) -> None:
        self._freeze_norms()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._freeze_norms()


@dataclass
class LoadReport:
    """What :func:`partial_load` loaded and skipped; ``skipped`` holds ``(tensor name, reason)`` pairs."""

    checkpoint: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def lines(self, limit: int = 30) -> list[str]:
        head = f"loaded {len(self.loaded)} tensors from {self.checkpoint}, skipped {len(self.skipped)}"
        shown = [f"  skipped {name}: {reason}" for name, reason in self.skipped[:limit]]
        more = [f"  ... and {len(self.skipped) - limit} more"] if len(self.skipped) > limit else []
        return [head + (":" if self.skipped else ""), *shown, *more]


def partial_load(model, checkpoint: str, logger=None) -> LoadReport:
    """Load every tensor of ``checkpoint`` whose name and shape match ``model``'s; report the others.

    Loading goes through :func:`mmpose_ext.compat.checkpoint.load` (safe unless the file is trusted). Reasons
    in the report: ``missing in checkpoint``, ``shape mismatch: checkpoint (17, 64, 1, 1) vs model (8, 64, 1,
    1)``, ``unexpected in checkpoint`` (a tensor the model does not have).

    Raises:
        CheckpointError: the file holds no weights, or not one tensor matches (most likely another model).
    """
    import torch

    from mmpose_ext.compat import checkpoint as safe_checkpoint
    from mmpose_ext.models.checkpoint_fit import state_dict_of

    model = _unwrap(model)
    path = str(checkpoint)
    source = state_dict_of(safe_checkpoint.load(path, map_location="cpu"), path)
    target = model.state_dict()
    report = LoadReport(path)
    matched = {}
    for name, tensor in target.items():
        if name not in source:
            report.skipped.append((name, "missing in checkpoint"))
        elif not isinstance(source[name], torch.Tensor) or source[name].shape != tensor.shape:
            theirs = tuple(getattr(source[name], "shape", ()))
            report.skipped.append((name, f"shape mismatch: checkpoint {theirs} vs model {tuple(tensor.shape)}"))
        else:
            matched[name] = source[name]
    report.skipped += [(name, "unexpected in checkpoint") for name in source if name not in target]
    if not matched:
        raise CheckpointError(
            f"no tensor of {path} matches the model (names or shapes all differ)",
            f"is it a checkpoint of this kind of model? model tensors look like {next(iter(target), '?')}, "
            f"the checkpoint's like {next(iter(source))}",
        )
    model.load_state_dict(matched, strict=False)
    report.loaded = list(matched)
    if logger is not None:
        logger.info("\n".join(report.lines()))
    return report


@HOOKS.register_module()
class PartialLoadHook(Hook):
    """Load a checkpoint's matching tensors before training (``mmpx train --load-from`` uses it).

    Unlike mmengine's ``load_from`` (``strict=False``, a warning), every tensor is either loaded or listed with
    its reason, so a 17-keypoint checkpoint starts an 8-keypoint model with everything but the head's final
    layer. It runs in ``before_train``, after the runner initialised the weights; an ``EMAHook``'s averaged
    copy is refreshed from the loaded weights. ``self.report`` holds the :class:`LoadReport`.

    Args:
        checkpoint: path of the checkpoint.
    """

    priority = "VERY_HIGH"

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = str(checkpoint)
        self.report: LoadReport | None = None

    def before_train(self, runner) -> None:
        self.report = partial_load(runner.model, self.checkpoint, logger=runner.logger)
        model = _unwrap(runner.model)
        for hook in runner.hooks:
            ema = getattr(hook, "ema_model", None)
            if ema is not None and hasattr(ema, "module"):
                ema.module.load_state_dict(model.state_dict())
