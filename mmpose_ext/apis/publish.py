"""Turn a training checkpoint into a release file: weights and what inference needs, nothing to resume from.

MMPose's ``tools/misc/publish_model.py`` shells out to ``sha256sum`` and loads with plain ``torch.load``; this
is pure Python (any OS) and loads through the safe loader.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mmpose_ext.compat import checkpoint as safe_checkpoint
from mmpx.atomic import clean_stale, file_mode, lock_tmp, release, tmp_name
from mmpx.errors import CheckpointError

# meta entries that describe the model; the rest of meta (and every top-level key but state_dict) is resume state
KEEP_META = ("dataset_meta", "cfg", "mmengine_version", "mmpose_version", "experiment_name", "time", "epoch", "iter")


def publish(checkpoint: str | Path, out: str | Path) -> Path:
    """Write ``OUT-<sha256[:8]>.pth`` with ``state_dict`` and the model's ``meta``; returns its path.

    Drops the optimizer, parameter schedulers, ``message_hub`` and any other resume state. The file is written
    to a temporary name and renamed once complete, so no half-written release exists.

    Args:
        checkpoint: a checkpoint written by mmengine (``epoch_N.pth``, ``best_*.pth``).
        out: the release name, e.g. ``release/rtmpose-t_carpose.pth``; the hash goes before the suffix.

    Raises:
        CheckpointError: the file has no ``state_dict``.
        UntrustedCheckpointError: the file needs pickle globals outside the safe-load allow-list.
    """
    if not Path(checkpoint).is_file():
        raise CheckpointError(f"checkpoint {checkpoint} does not exist or is not a file",
                              "give a .pth written by training (see the work dir)")
    ckpt = safe_checkpoint.load(str(checkpoint), map_location="cpu")
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{checkpoint} has no 'state_dict'", "give a checkpoint written by mmengine's Runner")
    meta = {k: v for k, v in (ckpt.get("meta") or {}).items() if k in KEEP_META}
    return _write_release({"state_dict": ckpt["state_dict"], "meta": meta}, Path(out))


def _write_release(release_ckpt: dict, out: Path) -> Path:
    """Save ``release_ckpt`` beside ``out`` under a temporary name, then rename it to ``OUT-<sha256[:8]>.pth``: the
    final name holds the file's hash, so the temporary is made here rather than by ``mmpx.atomic.atomic_path``."""
    import torch

    stem = out.name[: -len(out.suffix)] if out.suffix == ".pth" else out.name
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out.parent)  # what killed publishes left there
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=tmp_name(out.name), suffix=".tmp")
    os.close(fd)
    lock_tmp(tmp)  # another run's cleanup leaves it alone while this one writes
    try:
        torch.save(release_ckpt, tmp)
        final = out.parent / f"{stem}-{safe_checkpoint.sha256_file(tmp)[:8]}.pth"  # checked when loaded
        os.chmod(tmp, file_mode())  # a release others can read, as a plain open() would make it
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        release(tmp)
    return final
