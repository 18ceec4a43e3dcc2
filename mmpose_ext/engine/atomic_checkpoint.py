"""``AtomicCheckpointHook``: mmengine's ``CheckpointHook`` whose files never end up half-written.

mmengine 0.10.7's ``save_checkpoint`` serialises into memory, then opens the final path with ``'wb'`` and writes
it; ``CheckpointHook`` then rewrites ``<work_dir>/last_checkpoint`` in place. A SIGKILL (or a full disk) during
either write leaves a truncated ``epoch_N.pth`` or an empty ``last_checkpoint``, and ``--resume`` fails. This hook
writes both to a temporary file in the same folder, ``fsync``-s it, moves it over the final name with
``os.replace`` and ``fsync``-s the folder: a reader sees the old file or the complete new one.

It is explicit: ``mmpx train`` puts it in place of ``default_hooks.checkpoint`` (keeping every argument), and any
config can name it: ``default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1))``.
Importing mmpose-ext changes nothing in mmengine. While the hook saves (and only then) mmengine's
``save_checkpoint`` and the hook module's ``open`` are swapped for atomic ones, and put back afterwards.
Remote (``s3://``, ``pavi://``, ...) paths keep mmengine's own writer.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import os.path as osp
import sys

from mmengine.hooks import CheckpointHook

from mmpose_ext.registry import HOOKS
from mmpx.atomic import TMP_PREFIX, atomic_open

# where mmengine looks ``save_checkpoint`` up by name when the hook saves
_SAVE_NAMES = ("mmengine.runner.checkpoint", "mmengine.runner", "mmengine.runner.runner")


def _is_local(filename, file_client_args, backend_args) -> bool:
    if not isinstance(filename, (str, os.PathLike)) or file_client_args is not None:
        return False
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.backends import LocalBackend

    if str(filename).startswith("pavi://"):
        return False
    return isinstance(get_file_backend(str(filename), backend_args=backend_args), LocalBackend)


def atomic_save_checkpoint(original):
    """``original`` (mmengine's ``save_checkpoint``), writing local files atomically."""

    @functools.wraps(original)
    def save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None):
        if not _is_local(filename, file_client_args, backend_args):
            return original(checkpoint, filename, file_client_args=file_client_args, backend_args=backend_args)
        import torch

        with atomic_open(filename, "wb", durable=True) as f:
            torch.save(checkpoint, f)

    return save_checkpoint


def _hook_open(file, mode="r", *args, **kwargs):
    """``open`` for mmengine's checkpoint_hook module: atomic when it (re)writes ``last_checkpoint``."""
    if isinstance(file, (str, os.PathLike)) and osp.basename(os.fspath(file)) == "last_checkpoint" and mode == "w":
        return atomic_open(file, "w", *args, durable=True, **kwargs)
    return builtins.open(file, mode, *args, **kwargs)


@contextlib.contextmanager
def atomic_saving():
    """While inside, mmengine's checkpoint writes are atomic; everything is put back on exit."""
    from mmengine.hooks import checkpoint_hook
    from mmengine.runner import checkpoint

    original = checkpoint.save_checkpoint
    patched = atomic_save_checkpoint(original)
    swapped = []
    for name in _SAVE_NAMES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "save_checkpoint", None) is original:
            module.save_checkpoint = patched
            swapped.append(module)
    had_open = "open" in vars(checkpoint_hook)
    checkpoint_hook.open = _hook_open
    try:
        yield
    finally:
        for module in swapped:
            module.save_checkpoint = original
        if not had_open:
            del checkpoint_hook.open


# MMPose's metric names (the part after ``dataset/``): mmengine infers a rule only from substrings such as 'mAP'
# and 'acc', so ``save_best='auto'`` or ``save_best='coco/AP'`` without ``rule`` stopped the run with "Cannot infer
# the rule" (with 'auto' only at the first validation, an epoch in)
_GREATER = {"ap", "ar", "pck", "pckh", "auc", "head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "mean"}
_LESS = {"epe", "nme", "mpjpe", "p-mpjpe", "n-mpjpe"}


def pose_rule(key: str) -> str | None:
    """``'greater'``/``'less'`` for an MMPose metric key (``coco/AP``, ``PCK``, ``mpii/PCKh@0.1``, ``EPE``), else
    None (mmengine's own inference then decides)."""
    name = key.rsplit("/", 1)[-1].split("@")[0].split(" ")[0].lower()
    return "greater" if name in _GREATER else "less" if name in _LESS else None


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` with atomic checkpoint and ``last_checkpoint`` writes.

    Takes every argument ``CheckpointHook`` takes. See the module docstring. A ``save_best`` key without
    ``rule`` also gets its rule from MMPose's metric names (:func:`pose_rule`).
    """

    def _init_rule(self, rules, key_indicators) -> None:
        if len(rules) == 1:
            rules = rules * len(key_indicators)
        rules = [pose_rule(key) if rule is None and key != "auto" else rule
                 for rule, key in zip(rules, key_indicators, strict=False)]
        return super()._init_rule(rules, key_indicators)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with atomic_saving():
            return super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with atomic_saving():
            return super()._save_best_checkpoint(runner, metrics)

    def after_train(self, runner) -> None:  # publishes the final model (``published_keys``)
        with atomic_saving():
            return super().after_train(runner)


def use_atomic_checkpoints(cfg) -> bool:
    """Make ``cfg``'s checkpoint hook an :class:`AtomicCheckpointHook` (``mmpx train`` does); True if changed.

    Only mmengine's own ``CheckpointHook`` is replaced (with every argument kept): a config that names another
    checkpoint hook keeps it.
    """
    hooks = cfg.get("default_hooks") or {}
    hook = hooks.get("checkpoint")
    if not hook or hook.get("type") not in ("CheckpointHook", CheckpointHook):
        return False
    hook["type"] = "AtomicCheckpointHook"
    hook["_scope_"] = "mmpose"  # registered in MMPose's HOOKS: found from a detector config (scope mmdet) too
    return True


__all__ = ["AtomicCheckpointHook", "TMP_PREFIX", "atomic_saving", "pose_rule", "use_atomic_checkpoints"]
