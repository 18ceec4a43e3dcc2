"""``mmpx configs new`` as a function: plan the config (:mod:`mmpx.configs.new`), render it, then load it, build the
model and the training set and run preflight on the text BEFORE it replaces the target, so that a config that
cannot train is never written."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import ConfigError, MmpxError


@dataclass(frozen=True)
class ConfigsNewRequest:
    """What ``mmpx configs new`` was asked (see its --help); ``command`` is the command line, quoted in the
    config's header. ``check=False`` skips the build and preflight (for torch-free use)."""

    data: Path
    model: str
    out: Path
    metainfo: Path | None = None
    images: Path | None = None
    input_size: str = "auto"
    epochs: str = "auto"
    load_from: Path | None = None
    flip: str = "auto"
    overwrite: bool = False
    command: str = "mmpx configs new"
    check: bool = True
    visibility: bool = False  # --visibility: the head also predicts seen/hidden per keypoint


@dataclass(frozen=True)
class ConfigsNewOutcome:
    """The plan (:class:`~mmpx.configs.new.Plan`), the file written and the config's text."""

    plan: object
    out: Path
    text: str


def configs_new(request: ConfigsNewRequest) -> ConfigsNewOutcome:
    """Plan, render, check (build + preflight) and write the config atomically."""
    from mmpx.atomic import atomic_path, check_writable
    from mmpx.configs.new import plan_config
    from mmpx.configs.new_text import render

    out = request.out
    if out.suffix != ".py":
        raise ConfigError(f"--out {out}: a config file ends in .py", f"e.g. {out.with_suffix('.py')}")
    if out.exists() and not request.overwrite:
        raise ConfigError(f"--out {out} exists", "add --overwrite to replace it")
    check_writable(out, "--out")
    plan = plan_config(request.data, request.model, request.metainfo, request.images, request.input_size,
                       request.epochs, request.load_from, request.flip)
    if request.visibility:
        from mmpx.configs.visibility import visibility_plan

        plan = visibility_plan(plan)
    text = render(plan, request.command)
    if request.check and not all(importlib.util.find_spec(m) for m in ("torch", "mmengine", "mmpose")):
        raise MmpxError(f"--out {out}: the config is built and preflighted before it is written, which needs torch "
                        "and MMPose, and this environment has no training stack",
                        "run it where mmpx train runs (scripts/setup.sh installs the stack)")
    with atomic_path(out, suffix=".py") as tmp:
        tmp.write_text(text, encoding="utf-8")
        if request.check:
            check_built(tmp, plan, out)
    return ConfigsNewOutcome(plan, out, text)


@contextlib.contextmanager
def _quiet():
    """Silence what is not the user's to fix: torch's FutureWarning about mmdet's autocast, and MMPose's note that
    it finds ``configs/_base_/datasets/NAME.py`` in its own package (the form the config writes on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", "The metainfo config file", UserWarning)
        yield


def check_built(path: Path, plan, shown: Path) -> None:
    """Load the config at ``path``, run preflight for training (files, metainfo, annotations, head channels and
    feature-map size against one forward pass), build the whole model and the training set, and compare the
    dataset's flip_indices and keypoint count with the plan. ``shown`` is the name errors give."""
    from mmpose_ext.apis.prepare import TRAIN_KEYS, check_config, load_runnable

    cfg = load_runnable(str(path), None, TRAIN_KEYS)
    with _quiet():
        check_config(cfg, str(shown))
    from mmengine.registry import DefaultScope

    from mmpose_ext.registry import DATASETS, MODELS

    try:
        with DefaultScope.overwrite_default_scope("mmpose"), _quiet():
            MODELS.build(cfg.model)
            with contextlib.redirect_stdout(io.StringIO()):  # xtcocotools prints as it loads the file
                dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    except Exception as exc:  # what the Runner would hit first; said in one line
        first = (str(exc).strip().splitlines() or [""])[0]
        raise MmpxError(f"{shown}: the generated config does not build: {type(exc).__name__}: {first}",
                        "report this with the command line; --input-size or --model may avoid it") from None
    meta = dataset.metainfo
    if meta["num_keypoints"] != len(plan.names) or list(meta["flip_indices"]) != plan.flip_indices:
        raise MmpxError(f"{shown}: MMPose reads {meta['num_keypoints']} keypoints with flip_indices "
                        f"{list(meta['flip_indices'])} from {plan.source.metainfo}, the config was planned for "
                        f"{len(plan.names)} with {plan.flip_indices}", f"mmpx metainfo check {plan.source.metainfo}")
