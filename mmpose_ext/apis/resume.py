"""Pick the checkpoint to resume from: the one ``last_checkpoint`` names if it is intact, else the newest intact one.

mmengine's ``find_latest_checkpoint`` trusts ``<work_dir>/last_checkpoint`` blindly, so a checkpoint truncated by a
kill, a full disk or a copy cut short stops ``--resume`` with an unpickling error. :func:`latest_good_checkpoint`
checks the file first (a torch zip archive whose members all pass their CRC and that holds ``data.pkl``; a
legacy non-zip file is loaded with the safe loader) and otherwise falls back to the newest intact ``epoch_*.pth``
/ ``iter_*.pth`` in the folder, with a warning naming the bad file and the one used.
"""

from __future__ import annotations

import logging
import os.path as osp
import re
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

_NUMBERED = re.compile(r"^(epoch|iter)_(\d+)\.pth$")


def _warn(message: str) -> None:
    """To mmengine's current logger (the run log, when a Runner exists) and to ``logging``."""
    logger.warning(message)
    try:
        from mmengine.logging import MMLogger

        if MMLogger._instance_dict:  # only once some logger exists: never create one here
            MMLogger.get_current_instance().warning(message)
    except Exception:  # logging must never stop a resume
        pass


def checkpoint_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a loadable checkpoint, or ``None`` when it is intact."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    if path.stat().st_size == 0:
        return "empty"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            return f"unreadable zip archive ({exc})"
        if bad is not None:
            return f"corrupt member {bad}"
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "no data.pkl in the archive"
        return None
    # not a zip: a truncated zip (end record lost) or torch's legacy format; a full load decides
    from mmpose_ext.compat import checkpoint as safe_checkpoint
    from mmpx.errors import UntrustedCheckpointError

    try:
        safe_checkpoint.load(str(path), map_location="cpu")
    except UntrustedCheckpointError:
        return None  # readable; whether to trust it is decided when it is really loaded
    except Exception as exc:
        return f"not loadable ({type(exc).__name__})"
    return None


def _numbered(work_dir: Path) -> list[Path]:
    found = []
    for p in work_dir.iterdir():
        m = _NUMBERED.match(p.name)
        if m and p.is_file():
            found.append((m.group(1), int(m.group(2)), p))
    return [p for _, _, p in sorted(found, key=lambda t: (t[0] == "epoch", t[1]), reverse=True)]


def latest_good_checkpoint(work_dir: str | Path) -> str | None:
    """The checkpoint ``--resume`` should load from ``work_dir``, or ``None`` when there is none to resume.

    ``last_checkpoint`` wins when the file it names is intact (as with mmengine). When it is missing, empty or
    names a damaged file, the newest intact ``epoch_N.pth`` (else ``iter_N.pth``) is used and a warning names
    the bad file and the one used. A ``last_checkpoint`` written by a run in another folder (the run was moved)
    is followed to the file of the same name in ``work_dir``.
    """
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    named: Path | None = None
    pointer = work_dir / "last_checkpoint"
    if pointer.is_file():
        text = pointer.read_text(errors="replace").strip()
        if text:
            named = Path(text)
            if not named.is_file() and (work_dir / named.name).is_file():
                named = work_dir / named.name
    bad: list[str] = []
    if named is not None:
        problem = checkpoint_problem(named)
        if problem is None:
            return str(named)
        bad.append(f"{named} ({problem})")
    for candidate in _numbered(work_dir):
        if named is not None and osp.realpath(candidate) == osp.realpath(named):
            continue
        problem = checkpoint_problem(candidate)
        if problem is None:
            if bad:
                _warn(f"resume: skipping damaged checkpoint {', '.join(bad)}; resuming from {candidate} instead")
            elif named is None:
                _warn(f"resume: {pointer} is missing or empty; resuming from {candidate}")
            return str(candidate)
        bad.append(f"{candidate} ({problem})")
    if bad:
        _warn(f"resume: no intact checkpoint in {work_dir} (damaged: {', '.join(bad)}); starting from scratch")
    return None


__all__ = ["checkpoint_problem", "latest_good_checkpoint"]
