"""``mmpx infer --save-as FILE``: the predictions as a SLEAP ``.slp``, an NWB ``.nwb`` (ndx-pose PoseEstimation) or a
Label Studio ``.json``, written by sleap-io, so people proofread in the tool they know.

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

SAVE_AS = {".slp": "SLEAP", ".nwb": "NWB", ".json": "Label Studio"}


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
    """NWB pose estimates belong to videos (sleap-io writes no image files to them): refused before any work."""
    images = [src.name for src in sources if src.kind == "image"]
    if path.suffix.lower() == ".nwb" and images:
        raise MmpxError(f"--save-as {path}: NWB pose estimates are per video, and {images[0]} is an image",
                        "give videos only, or save images' predictions as .slp or .json")


def save_predictions(path: Path, records: Sequence[dict], sources: Mapping[str, Path], names: Sequence[str],
                     links: Sequence[tuple[str, str]], dataset_name: str, kpt_thr: float) -> int:
    """Write ``records`` (:func:`mmpx.infer.results.instance_records`, ``file_name`` ``name`` or
    ``name#frame=N``) to ``path``; ``sources`` maps each input's name to its file. Returns the frames written."""
    from mmpx.atomic import atomic_path
    from mmpx.convert.sleapio_read import sleap_io

    sio = sleap_io()
    skeleton = sio.Skeleton(list(names), edges=[list(link) for link in links], name=dataset_name or "mmpx")
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
        track = None
        if "track_id" in record:
            track = tracks.setdefault(record["track_id"], sio.Track(f"track_{record['track_id']}"))
        frames[key].instances.append(sio.PredictedInstance.from_numpy(
            xy, point_scores=kpts[:, 2], score=float(record["score"]), skeleton=skeleton, track=track))
    labels = sio.Labels(list(frames.values()), videos=list(videos.values()), skeletons=[skeleton],
                        tracks=list(tracks.values()))
    suffix = path.suffix.lower()
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
