"""``mmpx infer --save-as FILE``: the predictions as a SLEAP ``.slp``, an NWB ``.nwb`` (ndx-pose PoseEstimation), a
Label Studio ``.json``, written by sleap-io, or a DeepLabCut ``.csv``, so people proofread in the tool they know.

The DeepLabCut CSV has the layout sleap-io's ``save_csv(format="dlc")`` writes and ``load_dlc`` reads (header rows
scorer, [individuals,] bodyparts, coords x/y/likelihood; one row per frame), written here with pandas because
sleap-io 0.9.5's writer drops the likelihoods, names every video ``video`` and keeps one instance per frame
without tracks. Rows are named as DeepLabCut names its frames: ``labeled-data/<folder>/<image file>`` and
``labeled-data/<video stem>/img<frame>.png`` (zero-padded to the digits of the frame count, as ``extract_frames``).

Each image is a one-frame video of its file, each video input a video (frame numbers kept); keypoints scoring
under ``--kpt-thr`` are left out (missing), as in ``--save-labelme``'s pre-labels. The file is written beside
itself and renamed into place (:func:`mmpx.atomic.atomic_path`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError

SAVE_AS = {".slp": "SLEAP", ".nwb": "NWB", ".json": "Label Studio", ".csv": "DeepLabCut"}
DLC_SCORER = "mmpx"  # the scorer row; DeepLabCut's CollectedData_<scorer> files carry the labeller's name


def check_save_as(path: Path) -> None:
    """A known suffix, sleap-io installed and the file writable: before any model is loaded."""
    from mmpx.atomic import check_writable
    from mmpx.convert.sleapio_read import sleap_io

    if path.suffix.lower() not in SAVE_AS:
        raise MmpxError(f"--save-as {path}: unknown format {path.suffix or '(no suffix)'}",
                        "end the name in " + ", ".join(f"{s} ({n})" for s, n in SAVE_AS.items()))
    sleap_io()
    check_writable(path, "--save-as")


def check_sources(path: Path, sources: Sequence) -> None:
    """NWB pose estimates belong to videos (sleap-io writes no image files to them), and DeepLabCut names a frame
    by its folder and file (or its video's stem): both refused before any work."""
    images = [src.name for src in sources if src.kind == "image"]
    if path.suffix.lower() == ".nwb" and images:
        raise MmpxError(f"--save-as {path}: NWB pose estimates are per video, and {images[0]} is an image",
                        "give videos only, or save images' predictions as .slp, .json or .csv")
    if path.suffix.lower() == ".csv":
        seen: dict[str, str] = {}
        for src in sources:
            key = _dlc_folder(src.path, src.kind == "image")
            if src.kind == "image":
                key += "/" + src.path.name
            if key in seen:
                raise MmpxError(f"--save-as {path}: {seen[key]} and {src.name} are both {key} in DeepLabCut's "
                                "naming (labeled-data/<folder>/<file>, a video's frames under its stem)",
                                "rename one of them, or run them separately")
            seen[key] = src.name


def save_for_model(path: Path, records: Sequence[dict], sources: Mapping[str, Path], meta: dict,
                   kpt_thr: float) -> int:
    """:func:`save_predictions` with the keypoint names, links and name of the model's metainfo (``mmpx infer``
    and :func:`mmpx.api.save_predictions`)."""
    from mmpx.infer.results import keypoint_names

    names = keypoint_names(meta)
    links = [(names[a], names[b]) for a, b in meta.get("skeleton_links", []) if max(a, b) < len(names)]
    return save_predictions(path, records, sources, names, links, str(meta.get("dataset_name") or ""), kpt_thr)


def save_predictions(path: Path, records: Sequence[dict], sources: Mapping[str, Path], names: Sequence[str],
                     links: Sequence[tuple[str, str]], dataset_name: str, kpt_thr: float) -> int:
    """Write ``records`` (:func:`mmpx.infer.results.instance_records`, ``file_name`` ``name`` or
    ``name#frame=N``) to ``path``; ``sources`` maps each input's name to its file. Returns the frames written."""
    from mmpx.atomic import atomic_path
    from mmpx.convert.sleapio_read import sleap_io

    if path.suffix.lower() == ".csv":
        return _save_dlc(path, records, sources, names, kpt_thr)
    sio = sleap_io()
    skeleton = sio.Skeleton(list(names), edges=[list(link) for link in links], name=dataset_name or "mmpx")
    suffix = path.suffix.lower()
    videos, frames, tracks = {}, {}, {}
    for record in records:
        name, _, frame = record["file_name"].partition("#frame=")
        if name not in videos:
            videos[name] = sio.Video.from_filename(str(sources[name]))
        key = (name, int(frame or 0))
        if key not in frames:
            frames[key] = sio.LabeledFrame(video=videos[name], frame_idx=key[1])
        kpts = np.asarray(record["keypoints"], np.float64).reshape(-1, 3)
        xy = np.where((kpts[:, 2] >= kpt_thr)[:, None], kpts[:, :2], np.nan)
        if suffix == ".json" and np.isnan(xy).all():
            continue  # a Label Studio box without points: sleap-io 0.9.5 cannot read it back (KeyError)
        track = None
        if "track_id" in record:
            track = tracks.setdefault(record["track_id"], sio.Track(f"track_{record['track_id']}"))
        frames[key].instances.append(sio.PredictedInstance.from_numpy(
            xy, point_scores=kpts[:, 2], score=float(record["score"]), skeleton=skeleton, track=track))
    labels = sio.Labels(list(frames.values()), videos=list(videos.values()), skeletons=[skeleton],
                        tracks=list(tracks.values()))
    with atomic_path(path, suffix=suffix) as tmp:
        # HDF5 locks the file it creates, and the temporary one is locked already (against cleaners): sleap-io
        # writes a second name, moved onto the temporary one
        part = tmp.with_name(f"{tmp.stem}.part{suffix}")
        try:
            if suffix == ".slp":
                sio.save_slp(labels, str(part), verbose=False)
            elif suffix == ".nwb":
                sio.save_nwb(labels, str(part), nwb_format="predictions")
            else:
                sio.save_labelstudio(labels, str(part))
            os.replace(part, tmp)
        finally:
            part.unlink(missing_ok=True)
    return len(frames)


def _dlc_folder(path: Path, image: bool) -> str:
    """The ``labeled-data`` folder DeepLabCut keeps a frame in: an image's folder, a video's stem."""
    return path.parent.name if image else path.stem


def _dlc_digits(video: Path, last: int) -> int:
    """DeepLabCut's frame name width: ``ceil(log10(frame count))`` (``extract_frames``); the count from the
    video's header, else the last frame predicted."""
    import math

    import cv2

    capture = cv2.VideoCapture(str(video))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    return int(math.ceil(math.log10(max(count, last + 1, 1))))


def _save_dlc(path: Path, records: Sequence[dict], sources: Mapping[str, Path], names: Sequence[str],
              kpt_thr: float) -> int:
    """The predictions as a DeepLabCut CSV: one row per frame; individuals (``track_N``, or ``individualN`` in
    the order of each frame's instances) when tracked or when a frame has several instances."""
    from mmpx.atomic import atomic_path
    from mmpx.convert.sleapio_read import sleap_io

    sleap_io()  # pandas comes with it
    import pandas as pd

    frames: dict[tuple[str, int], list[dict]] = {}
    for record in records:
        name, _, frame = record["file_name"].partition("#frame=")
        frames.setdefault((name, int(frame or -1)), []).append(record)
    tracked = any("track_id" in r for r in records)
    individuals = ([f"track_{t}" for t in sorted({r["track_id"] for r in records})] if tracked
                   else [f"individual{i + 1}" for i in range(max(map(len, frames.values()), default=0))])
    multi = tracked or len(individuals) > 1
    slots = {name: i for i, name in enumerate(individuals)}
    last: dict[str, int] = {}  # each video's last frame predicted
    for name, frame in frames:
        if frame >= 0:
            last[name] = max(last.get(name, 0), frame)
    digits = {name: _dlc_digits(sources[name], frame) for name, frame in last.items()}
    index, rows = [], []
    for (name, frame), found in frames.items():
        source = sources[name]
        file = source.name if frame < 0 else f"img{str(frame).zfill(digits[name])}.png"
        index.append(f"labeled-data/{_dlc_folder(source, frame < 0)}/{file}")
        row = np.full((len(individuals) if multi else 1, len(names), 3), np.nan)
        for i, record in enumerate(found):
            slot = slots[f"track_{record['track_id']}"] if tracked else i
            kpts = np.asarray(record["keypoints"], np.float64).reshape(-1, 3)
            row[slot] = np.where((kpts[:, 2] >= kpt_thr)[:, None], kpts, np.nan)
        rows.append(row.reshape(-1))
    coords = ["x", "y", "likelihood"]
    if multi:
        columns = pd.MultiIndex.from_tuples(
            [(DLC_SCORER, ind, n, c) for ind in individuals for n in names for c in coords],
            names=["scorer", "individuals", "bodyparts", "coords"])
    else:
        columns = pd.MultiIndex.from_tuples([(DLC_SCORER, n, c) for n in names for c in coords],
                                            names=["scorer", "bodyparts", "coords"])
    table = pd.DataFrame(np.array(rows).reshape(len(rows), len(columns)), index=index, columns=columns)
    with atomic_path(path, suffix=".csv") as tmp:
        table.to_csv(tmp)
    return len(frames)
