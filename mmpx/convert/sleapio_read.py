"""Reading DeepLabCut, SLEAP, Label Studio and NWB files into a sleap-io ``Labels`` (``mmpx convert dlc|...``).

sleap-io (the optional ``formats`` extra) is imported inside the functions: ``mmpx --help`` and the other
converters never pay for it (h5py, pynwb, pandas). Each reader checks what sleap-io would fail on obscurely (a
missing file, a CSV that is not DeepLabCut's, an ``.slp`` or ``.nwb`` that is not HDF5) and turns any error of
sleap-io's into one line naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import MmpxError

FORMATS = {"dlc": "DeepLabCut", "sleap": "SLEAP", "labelstudio": "Label Studio", "nwb": "NWB"}
EXPECTED = {
    "dlc": "a DeepLabCut project folder (config.yaml + labeled-data/*/CollectedData_*.csv), its config.yaml, "
           "or one CollectedData_*.csv",
    "sleap": "a SLEAP .slp file",
    "labelstudio": "a Label Studio JSON export of keypoint tasks",
    "nwb": "an NWB file with ndx-pose data (PoseTraining or PoseEstimation)",
}


@dataclass
class Source:
    """What was read: the labels, the file they came from, where relative image paths start, and the keypoint
    order the source states (DeepLabCut's config.yaml ``bodyparts``; None: the skeleton's own)."""

    labels: object
    path: Path
    root: Path
    order: list[str] | None = None


def sleap_io():
    """The sleap_io module, or an error saying how to install it."""
    try:
        import sleap_io as sio
    except ImportError:
        raise MmpxError("this converter needs sleap-io, which is not installed",
                        "pip install 'mmpose-ext[formats]' (scripts/setup.sh and setup-core.sh install it)") from None
    return sio


def read_source(fmt: str, src: str | Path) -> Source:
    """Read ``src`` as ``fmt`` (one of :data:`FORMATS`).

    Raises:
        MmpxError: ``src`` is missing or not a file of that format; sleap-io cannot read it.
    """
    src = Path(src)
    if fmt not in FORMATS:
        raise MmpxError(f"unknown format {fmt!r}", f"one of {', '.join(FORMATS)}")
    if not src.exists():
        raise MmpxError(f"{src}: no such file or folder", f"give {EXPECTED[fmt]}")
    if src.is_dir() and fmt != "dlc":
        raise MmpxError(f"{src}: is a folder", f"give {EXPECTED[fmt]}")
    sio = sleap_io()
    reader = {"dlc": _read_dlc, "sleap": _read_hdf5, "labelstudio": _read_labelstudio, "nwb": _read_hdf5}[fmt]
    try:
        return reader(sio, fmt, src)
    except MmpxError:
        raise
    except Exception as exc:  # sleap-io's errors are of every kind (KeyError, ValueError, OSError...)
        raise MmpxError(f"{src}: sleap-io cannot read it as {FORMATS[fmt]}: {type(exc).__name__}: {exc}",
                        f"give {EXPECTED[fmt]}") from None


def _read_hdf5(sio, fmt: str, src: Path) -> Source:
    import h5py

    if not h5py.is_hdf5(src):
        suffix = ".slp" if fmt == "sleap" else ".nwb"
        raise MmpxError(f"{src}: not an HDF5 file (a {suffix} file is HDF5)", f"give {EXPECTED[fmt]}")
    labels = sio.load_slp(str(src)) if fmt == "sleap" else sio.load_nwb(str(src))
    return Source(labels, src, src.parent)


def _read_dlc(sio, fmt: str, src: Path) -> Source:
    from sleap_io.io.dlc import is_dlc_file

    if src.is_dir() or src.suffix.lower() in (".yaml", ".yml"):
        config = src / "config.yaml" if src.is_dir() else src
        if not config.is_file():
            raise MmpxError(f"{src}: no config.yaml in this folder", f"give {EXPECTED[fmt]}")
        return Source(sio.load_dlc_project(str(config)), config, config.parent, _bodyparts(config))
    if src.suffix.lower() == ".h5":  # DeepLabCut writes the CSV beside it; reading the .h5 would need PyTables
        twin = src.with_suffix(".csv")
        if not twin.is_file():
            raise MmpxError(f"{src}: only the CSV twin of a DeepLabCut .h5 is read, and {twin.name} is missing",
                            "DeepLabCut writes CollectedData_<scorer>.csv beside the .h5; give the CSV or "
                            "the project folder")
        src = twin
    if not is_dlc_file(src):
        raise MmpxError(f"{src}: not a DeepLabCut CSV (expected the header rows scorer, bodyparts, coords)",
                        f"give {EXPECTED[fmt]}")
    config = next((p / "config.yaml" for p in src.parents[:3] if (p / "config.yaml").is_file()), None)
    return Source(sio.load_dlc(str(src)), src, config.parent if config else src.parent,
                  _bodyparts(config) if config else None)


def _bodyparts(config: Path) -> list[str] | None:
    """The keypoint order of a DeepLabCut project (``multianimalbodyparts`` + ``uniquebodyparts``, or
    ``bodyparts``); sleap-io sorts the names."""
    import yaml

    try:
        cfg = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MmpxError(f"{config}: cannot read it as YAML: {exc}", "fix the DeepLabCut config.yaml") from None
    names = list(cfg.get("multianimalbodyparts") or []) + list(cfg.get("uniquebodyparts") or [])
    names = names or list(cfg.get("bodyparts") or [])
    return [str(n) for n in names] or None


def _read_labelstudio(sio, fmt: str, src: Path) -> Source:
    from sleap_io.io.labelstudio import infer_nodes, parse_tasks

    try:
        tasks = json.loads(src.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MmpxError(f"{src}: not JSON: {exc}", f"give {EXPECTED[fmt]}") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and "annotations" in t for t in tasks):
        raise MmpxError(f"{src}: not a Label Studio export (expected a list of tasks with 'annotations')",
                        f"give {EXPECTED[fmt]} (Label Studio: Export > JSON)")
    for task in tasks:
        _image_task(task, src.parent)
    labels = parse_tasks(tasks, infer_nodes(tasks))
    for video in labels.videos:  # sleap-io 0.9.5 passes the task's frame shape where the video backend goes
        if isinstance(video.backend, (list, tuple)):
            video.backend = None  # opened on the first frame read
    # Label Studio has no keypoint order (sleap-io gathers the labels in a set): sorted, so runs agree
    order = sorted(labels.skeletons[0].node_names) if labels.skeletons else None
    return Source(labels, src, src.parent, order)


def _image_task(task: dict, folder: Path) -> None:
    """Give an exported image task the ``meta.video`` record sleap-io reads: its image, found under the JSON's
    folder by name (Label Studio exports ``/data/upload/<project>/<hash>-<name>`` or a URL)."""
    if "video" in task.get("meta", {}):
        return
    data = task.get("data") or {}
    ref = next((v for v in data.values() if isinstance(v, str)), None)
    if ref is None:
        raise MmpxError(f"task {task.get('id', '?')} names no image in 'data'",
                        "export the tasks with their image field")
    name = ref.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    candidates = [folder / ref, folder / name, folder / "images" / name]
    if "-" in name:  # Label Studio's upload prefix: <8 hex>-<original name>
        candidates += [folder / name.split("-", 1)[1], folder / "images" / name.split("-", 1)[1]]
    if os.path.isabs(ref):
        candidates.insert(0, Path(ref))
    # a missing image stays named: converting that task reports it (skipped, or the error with --strict)
    path = next((p for p in candidates if p.is_file()), folder / name)
    task.setdefault("meta", {})["video"] = dict(filename=[str(path)], frame_idx=0, shape=None)
