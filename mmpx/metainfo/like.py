"""``mmpx metainfo from-coco --like``: take names, skeleton, swaps, sigmas and joint weights from an existing
metainfo file, one of MMPose's own dataset files (``300w``, found in the installed package without importing it)
or any metainfo ``.py``.

A file without keypoint names (numbered ``kpt_0`` ..) takes everything by position, when the counts agree; a file
with names takes the rest by name, when both files name the same keypoints. Anything else is refused with what
differs, so a keypoint never silently gets another keypoint's swap or sigma.
"""

from __future__ import annotations

from pathlib import Path

from mmpx.errors import MmpxError
from mmpx.metainfo.build import DEFAULT_SIGMA, keypoint_names
from mmpx.metainfo.io import load_metainfo


def mmpose_datasets() -> Path | None:
    """MMPose's shipped dataset metainfo folder (``<mmpose>/.mim/configs/_base_/datasets``); None when MMPose is
    not installed. Found without importing MMPose (the core never imports torch)."""
    from mmpx.metainfo.mapping import _mmpose_configs

    configs = _mmpose_configs()
    folder = configs / "_base_" / "datasets" if configs else None
    return folder if folder is not None and folder.is_dir() else None


def mmpose_sets_with(count: int) -> list[str]:
    """The names of MMPose's dataset metainfo files with ``count`` keypoints (``['300vw', '300w', ...]``)."""
    folder = mmpose_datasets()
    found = []
    for path in sorted(folder.glob("*.py")) if folder else []:
        try:
            if len(load_metainfo(path).get("keypoint_info") or {}) == count:
                found.append(path.stem)
        except MmpxError:
            continue  # a file mmpx cannot read literally is no candidate
    return found


def numbered_note(path: Path, cat: dict, count: int) -> str:
    """The warning for a category without names: what was written, and which MMPose files could name them."""
    # the file's own dataset first (test_300w.json: 300w), then alphabetical
    hint = f"{path.parent.name} {path.stem}".lower()
    sets = sorted(mmpose_sets_with(count), key=lambda name: (name not in hint, name))
    where = (f"MMPose's metainfo files with {count} keypoints: {', '.join(sets)}; take one with --like "
             f"{sets[0]} (or --like YOUR_METAINFO.py)" if sets else
             f"no MMPose metainfo file has {count} keypoints" if mmpose_datasets() else
             "MMPose is not installed here to suggest one of its files")
    return (f"{path}: category {cat.get('id')} ({cat.get('name')}) names no keypoints: wrote {count} numbered "
            f"names kpt_0..kpt_{count - 1} (counted in the annotations), no left/right swaps, no skeleton; {where}")


def resolve_like(like: str) -> Path:
    """The metainfo file ``--like`` means: an existing file, ``mmpose::``/``mmpose_ext::`` paths, or the NAME of
    one of MMPose's dataset files (``300w``, ``coco_wholebody_face``)."""
    from mmpx.errors import ConfigError
    from mmpx.metainfo.mapping import resolve_metainfo_path

    if Path(like).is_file() or "::" in like:
        try:
            return resolve_metainfo_path(like)
        except ConfigError as exc:
            raise MmpxError(f"--like {like}: {exc.message}", exc.hint) from None
    if "/" in like or "\\" in like or like.endswith(".py"):
        raise MmpxError(f"--like {like}: no such metainfo file",
                        "give an existing metainfo .py, or the name of an MMPose dataset file such as 300w")
    folder = mmpose_datasets()
    if folder is None:
        raise MmpxError(f"--like {like}: MMPose is not installed here, so its dataset files cannot be named",
                        "give the path of a metainfo .py instead")
    if not (folder / f"{like}.py").is_file():
        names = ", ".join(sorted(p.stem for p in folder.glob("*.py")))
        raise MmpxError(f"--like {like}: MMPose has no dataset metainfo file {like}.py in {folder}",
                        f"one of: {names}")
    return folder / f"{like}.py"


def _per_keypoint(values, count: int) -> list[float] | None:
    return [float(v) for v in values] if isinstance(values, list) and len(values) == count else None


def _match(ours: list[str], theirs: list[str]) -> dict[str, str] | None:
    """Each of ``theirs`` names to the one of ``ours`` it is: equal names, else equal as
    :func:`~mmpx.metainfo.name_key` reads them (``L_Eye`` = ``left_eye``); None when the two sets differ."""
    from mmpx.metainfo.names import name_key

    if set(ours) == set(theirs):
        return {n: n for n in theirs}
    keys = {name_key(n): n for n in ours}
    if len(keys) == len(ours) and len({name_key(n) for n in theirs}) == len(theirs) \
            and set(keys) == {name_key(n) for n in theirs}:
        return {n: keys[name_key(n)] for n in theirs}
    return None


def take_like(info: dict, like: str, by_name: bool) -> tuple[dict, str]:
    """``info`` with skeleton, swaps, sigmas and joint weights taken from the metainfo ``like`` names: by name
    (equal, or equal as :func:`~mmpx.metainfo.name_key` reads them; ``info``'s names stay) or, when ``by_name`` is
    False (numbered keypoints), by position with the names too. Returns it and a line saying what was taken.

    Raises:
        MmpxError: a missing file, a different keypoint count, or (by name) other keypoint names.
    """
    path = resolve_like(like)
    other = load_metainfo(path)
    theirs, ours = keypoint_names(other), keypoint_names(info)
    label = f"--like {like} ({path.name}, {len(theirs)} keypoints)"
    if len(theirs) != len(ours):
        fits = mmpose_sets_with(len(ours))
        raise MmpxError(f"{label}: the annotation file has {len(ours)} keypoints",
                        f"pick a metainfo with {len(ours)} keypoints" + (f": {', '.join(fits)}" if fits else ""))
    rename = _match(ours, theirs) if by_name else {n: n for n in theirs}
    if rename is None:
        only_ours, only_theirs = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
        raise MmpxError(f"{label} names other keypoints: only in the annotation file: "
                        f"{', '.join(only_ours[:8])}{' ...' if len(only_ours) > 8 else ''}; only in {path.name}: "
                        f"{', '.join(only_theirs[:8])}{' ...' if len(only_theirs) > 8 else ''}",
                        "rename the keypoints in one of them, or drop --like and edit the metainfo by hand")
    names = ours if by_name else theirs
    where = {rename[n]: i for i, n in enumerate(theirs)}  # our name -> its index in the other file
    order = [where[n] for n in names]
    entries = sorted(other["keypoint_info"].values(), key=lambda kp: kp.get("id", 0))
    keypoint_info = {}
    for new_id, (name, old) in enumerate(zip(names, order, strict=True)):
        kp = entries[old]
        keypoint_info[new_id] = dict(name=name, id=new_id, color=list(kp.get("color") or [51, 153, 255]),
                                     type=kp.get("type", ""), swap=rename.get(kp.get("swap") or "", ""))
    skeleton_info = {i: dict(sk, id=i, link=tuple(rename[n] for n in sk["link"]))
                     for i, sk in enumerate((other.get("skeleton_info") or {}).values())}
    sigmas = _per_keypoint(other.get("sigmas"), len(theirs))
    weights = _per_keypoint(other.get("joint_weights"), len(theirs))
    result = dict(info, keypoint_info=keypoint_info, skeleton_info=skeleton_info,
                  joint_weights=[weights[i] for i in order] if weights else info["joint_weights"],
                  sigmas=[sigmas[i] for i in order] if sigmas else info["sigmas"])
    pairs = sum(1 for kp in keypoint_info.values() if kp["swap"]) // 2
    took = "names, " if not by_name else ""
    kept = "" if sigmas else f" ({path.name} has none: {DEFAULT_SIGMA} each, tune them by hand)"
    how = "by position" if not by_name else "by name" + ("" if set(ours) == set(theirs) else " (spelling aside)")
    return result, (f"{label}: took {took}skeleton ({len(skeleton_info)} links), swaps ({pairs} pairs), "
                    f"sigmas{kept} and joint weights {how}")
