"""Load mmengine checkpoints with ``weights_only=True`` by allowing exactly the globals they contain.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls plain ``torch.load``, so
``--resume`` and testing fail on the checkpoints mmengine itself just wrote (numpy arrays and scalars in
``meta``, ``HistoryBuffer`` objects in ``message_hub``). Turning ``weights_only`` off would let any checkpoint
run code. Instead every loader of mmengine's ``CheckpointLoader`` (which ``load_checkpoint``,
``Runner.resume``/``load_checkpoint`` and ``mmpose.apis.init_model`` all go through) loads under an allow-list:

- numpy arrays, scalars and plain dtypes (numeric, bool, str; no object dtype), under their NumPy 1 and 2 names;
- ``mmengine.logging.history_buffer.HistoryBuffer``;
- ``getattr``, but only as a protocol-2 pickle uses it for ``HistoryBuffer.min/max/current/mean`` (the
  buffers' ``statistics_methods``); any other ``getattr`` is refused, so allowing it opens nothing else;
- ``bytes``, but only called empty, as protocol 2 writes ``b""`` (the data of an empty numpy array, e.g. the
  skeleton links of a metainfo without a skeleton).

A file that needs anything more is refused with :class:`~mmpx.errors.UntrustedCheckpointError`, which names the
globals and the opt-in: ``--trust-checkpoint`` on ``mmpx`` commands, or ``MMPX_TRUSTED_CHECKPOINTS=PATH[:PATH]``.

A file named as ``mmpx publish`` names a release, ``NAME-<first 8 hex digits of its sha256>.pth``, is hashed before
it is loaded and refused when the digits differ (:func:`check_published_hash`): its weights were changed after it
was published. Trust does not lift this: it allows pickle globals, it does not vouch for the content.
"""

from __future__ import annotations

import functools
import hashlib
import os
import os.path as osp
import pickle
import re
from contextlib import contextmanager

from mmpose_ext.compat._fix import Fix
from mmpx.errors import CheckpointError, UntrustedCheckpointError

TRUST_ENV = "MMPX_TRUSTED_CHECKPOINTS"
_STATISTICS = ("min", "max", "current", "mean")
# What mmpx publish writes: NAME-<sha256[:8]>.pth. Eight digits without a letter are left alone: a date or a run
# number (model-20240501.pth) is not a hash; 2.3% of real hashes, (10/16)**8, have no letter and go unchecked.
PUBLISHED_NAME = re.compile(r".+-(?=[0-9]*[a-f])([0-9a-f]{8})\.pth")
_HASHED: dict[tuple, str] = {}  # (device, inode, size, mtime) -> sha256 hex: each file is hashed once per process


class _RefusedGetattr(pickle.UnpicklingError):
    """A pickle asked for a ``getattr`` (or ``bytes``) call outside the ones mmengine checkpoints use."""


def _restricted_getattr(obj, name):
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and name in _STATISTICS:
        return getattr(obj, name)
    raise _RefusedGetattr(f"builtins.getattr({getattr(obj, '__qualname__', type(obj).__name__)}, {name!r})")


def _empty_bytes(*args):
    """``bytes()``: how a protocol-2 pickle writes an empty byte string (e.g. an empty numpy array's data)."""
    if args:
        raise _RefusedGetattr(f"builtins.bytes{args!r:.60}")
    return b""


@functools.cache
def allowed_globals() -> tuple:
    """Everything an mmengine checkpoint may contain beyond torch's own defaults."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np._core.multiarray
    dtypes = [
        np.bool_,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
        np.longdouble,
        np.complex64,
        np.complex128,
        np.str_,
        np.bytes_,
    ]
    return (
        np.ndarray,
        np.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
        # numpy 1 wrote these under numpy.core; older (model zoo) checkpoints name them so
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        (multiarray.scalar, "numpy.core.multiarray.scalar"),
        *{type(np.dtype(t)) for t in dtypes},
        HistoryBuffer,
        (_restricted_getattr, "builtins.getattr"),
        (_empty_bytes, "builtins.bytes"),
    )


def trusted_paths() -> set[str]:
    """Checkpoints the user chose to trust (``MMPX_TRUSTED_CHECKPOINTS``), as real paths."""
    return {osp.realpath(osp.expanduser(p)) for p in os.environ.get(TRUST_ENV, "").split(os.pathsep) if p}


def trust(*paths: str) -> None:
    """Trust these files in this process and the processes it starts (what ``--trust-checkpoint`` does)."""
    known = os.environ.get(TRUST_ENV, "")
    os.environ[TRUST_ENV] = os.pathsep.join([p for p in [known, *map(str, paths)] if p])


def _unsafe_globals(filename, error: BaseException) -> list[str]:
    import torch

    cause = error
    while cause is not None:
        if isinstance(cause, _RefusedGetattr):
            return [str(cause)]
        cause = cause.__cause__ or cause.__context__
    if isinstance(filename, str) and osp.isfile(filename):
        try:
            with torch.serialization.safe_globals(list(allowed_globals())):
                return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(filename))
        except Exception:
            pass
    import re

    return sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(error))))  # a legacy (non-zip) file: torch names it


@contextmanager
def safe_loading():
    """Allow exactly :func:`allowed_globals` for ``weights_only`` loads inside the block."""
    import torch

    with torch.serialization.safe_globals(list(allowed_globals())):
        yield


def sha256_file(path: str) -> str:
    """The file's sha256 (hex), cached per process until the file changes (another size or mtime)."""
    st = os.stat(path)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)  # the same file under any name (publish renames it)
    if key not in _HASHED:
        with open(path, "rb") as f:
            _HASHED[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _HASHED[key]


def published_prefix(filename: str) -> str | None:
    """The sha256 prefix a release's name carries (``NAME-<8 hex digits, one a letter>.pth``), else None."""
    found = PUBLISHED_NAME.fullmatch(osp.basename(filename))
    return found.group(1) if found else None


def check_published_hash(filename: str) -> None:
    """Refuse a file whose name carries a publish-style sha256 prefix that its content does not have.

    Raises:
        CheckpointError: the prefix differs; the message names the file, both prefixes and the fix.
    """
    expected = published_prefix(filename)
    if expected is None:
        return
    try:
        actual = sha256_file(filename)[:8]
    except OSError:
        return  # unreadable: torch.load says so, as for any other file
    if actual != expected:
        raise CheckpointError(
            f"{filename}: its name says sha256 {expected}... (as mmpx publish names a release) but its content "
            f"hashes to {actual}...: the file was changed, damaged or replaced after it was published",
            "download or publish it again (mmpx publish CKPT OUT); if you changed it on purpose, rename it without "
            f"the -{expected} suffix. --trust-checkpoint would not help: it allows pickle globals, not other content",
        )


def load(filename: str, map_location=None):
    """``torch.load`` of a local checkpoint, safe unless the user trusts the file.

    Raises:
        FileNotFoundError: as mmengine's loader does, when the file is missing.
        UntrustedCheckpointError: the file needs globals outside the allow-list.
        CheckpointError: the file is not a readable checkpoint (e.g. truncated), or its name's sha256 prefix
            (``NAME-<sha256[:8]>.pth``, as ``mmpx publish`` writes) is not its content's.
    """
    import torch

    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"{filename} can not be found.")
    check_published_hash(filename)
    if osp.realpath(filename) in trusted_paths():
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        with safe_loading():
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        names = _unsafe_globals(filename, exc)
        if names:
            raise UntrustedCheckpointError(filename, names) from None
        raise _unreadable(filename, exc) from exc  # garbage, not a refusal: trusting it would not help
    except Exception as exc:  # empty, truncated, text or random bytes: torch raises anything from EOFError to KeyError
        raise _unreadable(filename, exc) from exc


def _unreadable(filename: str, exc: BaseException) -> CheckpointError:
    first = (str(exc).strip().splitlines() or [""])[0]
    size = osp.getsize(filename) if osp.isfile(filename) else 0
    if size == 0:
        what = "it is empty"
    elif isinstance(exc, pickle.UnpicklingError):
        what = "not torch's format: invalid pickle data"
    else:
        what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return CheckpointError(
        f"{filename} is not a readable checkpoint ({what})",
        "the file is damaged or not a torch checkpoint (a run stopped while saving it leaves a truncated one); "
        "use an earlier checkpoint. --trust-checkpoint would not help: it only allows more pickle globals",
    )


def _guard(loader):
    """Wrap one of mmengine's remote loaders so its ``torch.load`` sees the allow-list."""

    @functools.wraps(loader)
    def guarded(filename, map_location=None):
        try:
            with safe_loading():
                return loader(filename, map_location)
        except pickle.UnpicklingError as exc:
            raise UntrustedCheckpointError(filename, _unsafe_globals(filename, exc)) from None
        except ModuleNotFoundError as exc:  # torchvision:// and modelzoo:// names are resolved by torchvision
            if not (exc.name or "").startswith("torchvision"):
                raise
            raise CheckpointError(f"checkpoint {filename}: mmengine asks torchvision for the download address of "
                                  "this name, and torchvision is not installed here",
                                  "give the checkpoint's https:// URL or a local .pth file instead "
                                  "(docs/guides/troubleshooting.md says why torchvision is absent)") from None

    guarded.__mmpx_guarded__ = True
    return guarded


def _local_loader(filename, map_location=None):
    return load(filename, map_location)


_local_loader.__mmpx_guarded__ = True
_local_loader.__name__ = "load_from_local"  # mmengine prints "Loads checkpoint by {name[10:]} backend"


def cached_path(url: str, model_dir: str | None = None) -> str:
    """Where torch.hub (and so mmengine) keeps a downloaded checkpoint: ``<hub dir>/checkpoints/<basename>``."""
    from urllib.parse import urlparse

    import torch.hub

    model_dir = model_dir or osp.join(torch.hub.get_dir(), "checkpoints")
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def _fetch(url: str, cached: str) -> None:
    import torch.hub

    os.makedirs(osp.dirname(cached), exist_ok=True)
    torch.hub.download_url_to_file(url, cached, None, progress=False)  # writes a temp file, then renames


def load_url(url: str, map_location=None, model_dir=None, progress=False):
    """mmengine's ``load_from_http``, loading through the same allow-list as a local file.

    mmengine's own goes through ``torch.hub.load_state_dict_from_url``, which loads with ``weights_only=False``:
    any http(s) checkpoint (``load_from``, ``init_cfg=dict(type='Pretrained', checkpoint=URL)``, and the
    ``torchvision://`` / ``openmmlab://`` / ``mmcls://`` names that resolve to URLs) could run code, and so could
    the copy it leaves in the cache, loaded again on every later run. Here the file is downloaded to the same
    cache (rank 0 first, as mmengine does) and then loaded like a local file, cached or not; a legacy zip is
    unpacked first. To trust one, trust its cached path (``MMPX_TRUSTED_CHECKPOINTS``, which the error names).
    """
    import zipfile

    from mmengine.dist import get_dist_info

    cached = cached_path(url, model_dir)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(cached):
        _fetch(url, cached)
    if world_size > 1:
        import torch.distributed

        torch.distributed.barrier()
        if not osp.exists(cached):
            _fetch(url, cached)
    if zipfile.is_zipfile(cached):
        with zipfile.ZipFile(cached) as z:
            names = z.namelist()
            legacy = len(names) == 1 and not names[0].endswith(("data.pkl", "/"))  # torch's own zips hold data.pkl
            if legacy:  # torch.hub's legacy format: the checkpoint zipped as one file
                z.extractall(osp.dirname(cached))
                cached = osp.join(osp.dirname(cached), names[0])
    return load(cached, map_location)


load_url.__mmpx_guarded__ = True
load_url.__name__ = "load_from_http"  # for mmengine's "Loads checkpoint by http backend"


def _needed() -> bool:
    import torch
    from packaging.version import Version

    return Version(torch.__version__.split("+")[0]) >= Version("2.6")


def _patch() -> str:
    from mmengine.runner import checkpoint

    schemes = checkpoint.CheckpointLoader._schemes
    for prefix, loader in list(schemes.items()):
        if not getattr(loader, "__mmpx_guarded__", False):
            schemes[prefix] = _local_loader if prefix == "" else _guard(loader)
    for prefix in ("http://", "https://"):  # the remote files and their cached copies: same allow-list
        schemes[prefix] = load_url
    checkpoint.load_from_local = _local_loader
    checkpoint.load_from_http = load_url  # torchvision://, openmmlab://, mmcls:// call it by this name
    return f"{len(schemes)} checkpoint loaders (http(s) and its cache too): weights_only=True, mmengine globals"


FIX = Fix(
    name="checkpoint",
    summary="mmengine checkpoints load with weights_only=True (torch >= 2.6), other globals refused",
    needed=_needed,
    patch=_patch,
)
