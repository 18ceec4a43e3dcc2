"""Write checkpoints and ``last_checkpoint`` atomically, so a run killed at any moment leaves no half-written file.

mmengine 0.10.7's ``save_checkpoint`` serialises into memory and then opens the final path with ``'wb'`` and
writes it; ``CheckpointHook`` then rewrites ``<work_dir>/last_checkpoint`` in place. A SIGKILL (or a full disk)
during either write leaves a truncated ``epoch_N.pth`` or an empty ``last_checkpoint``, and ``--resume`` then
fails. With this fix both are written to a temporary file in the same folder, flushed and ``fsync``-ed, then
moved over the final name with ``os.replace`` (atomic on POSIX and Windows), and the folder is ``fsync``-ed:
a reader sees the old file or the complete new one, never a part. A failed save removes its temporary file.

Patched where mmengine looks the names up: ``mmengine.runner.checkpoint.save_checkpoint`` (the definition),
``mmengine.runner.save_checkpoint`` (``CheckpointHook._publish_model`` imports it from there at call time),
``mmengine.runner.runner.save_checkpoint`` (``Runner.save_checkpoint`` imported it by name) and the strategies
that imported it by name, if loaded. ``last_checkpoint`` is written by ``CheckpointHook._save_checkpoint_with_step``
with the builtin ``open``; the hook's module gets an ``open`` that is the builtin for everything except writing a
file named ``last_checkpoint``. Remote (``s3://``, ``pavi://``, ...) paths keep mmengine's own writer.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import os.path as osp
import sys
import tempfile

from mmpose_ext.compat._fix import Fix

TMP_PREFIX = ".mmpx-tmp-"
_MODULES_IMPORTING_BY_NAME = (
    "mmengine.runner",
    "mmengine.runner.runner",
    "mmengine._strategy.deepspeed",
    "mmengine._strategy.colossalai",
)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` atomically.

    On any exception (or interruption) inside the block the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + osp.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _is_local(filename, file_client_args, backend_args) -> bool:
    if not isinstance(filename, (str, os.PathLike)) or file_client_args is not None:
        return False
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.backends import LocalBackend

    if str(filename).startswith("pavi://"):
        return False
    return isinstance(get_file_backend(str(filename), backend_args=backend_args), LocalBackend)


def _atomic_save_checkpoint(original):
    @functools.wraps(original)
    def save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None):
        if not _is_local(filename, file_client_args, backend_args):
            return original(checkpoint, filename, file_client_args=file_client_args, backend_args=backend_args)
        import torch

        with atomic_open(filename, "wb") as f:
            torch.save(checkpoint, f)

    save_checkpoint.__mmpx_atomic__ = True
    return save_checkpoint


def _hook_open(file, mode="r", *args, **kwargs):
    """``open`` for mmengine's checkpoint_hook module: atomic when it (re)writes ``last_checkpoint``."""
    if isinstance(file, (str, os.PathLike)) and osp.basename(os.fspath(file)) == "last_checkpoint" and mode == "w":
        return atomic_open(file, "w", *args, **kwargs)
    return builtins.open(file, mode, *args, **kwargs)


_hook_open.__mmpx_atomic__ = True


def _needed() -> bool:
    """mmengine's own ``save_checkpoint`` (under our wrapper, if applied) writes in place: always in 0.10.x."""
    from mmengine.runner import checkpoint

    original = getattr(checkpoint.save_checkpoint, "__wrapped__", checkpoint.save_checkpoint)
    return getattr(original, "__module__", "") == "mmengine.runner.checkpoint"


def _patch() -> str:
    from mmengine.hooks import checkpoint_hook
    from mmengine.runner import checkpoint

    original = checkpoint.save_checkpoint
    patched = original if getattr(original, "__mmpx_atomic__", False) else _atomic_save_checkpoint(original)
    checkpoint.save_checkpoint = patched
    places = ["mmengine.runner.checkpoint"]
    for name in _MODULES_IMPORTING_BY_NAME:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "save_checkpoint", None) is original:
            module.save_checkpoint = patched
            places.append(name)
    checkpoint_hook.open = _hook_open
    return f"save_checkpoint atomic in {', '.join(places)}; last_checkpoint written atomically by CheckpointHook"


FIX = Fix(
    name="atomic_save",
    summary="checkpoints and last_checkpoint are written atomically (temp file, fsync, os.replace)",
    needed=_needed,
    patch=_patch,
)
