"""Map keypoints between two MMPose metainfo files by name, and read a metainfo file the way a config names it.

Mixing datasets with different skeletons needs, for each keypoint of the target skeleton, the keypoint of the
source skeleton it is (MMPose's ``KeypointConverter`` takes that as a hand-written list of index pairs).
:func:`map_keypoints` builds it from the keypoint names: explicit aliases first, then equal names, then names
equal as :func:`mmpx.metainfo.name_key` reads them, the reading that infers left/right swaps too: case and
separators ignored, the side word first, ``L``/``R`` read as left/right (``Left-Eye`` = ``left_eye`` = ``L_Eye``
= ``Eye_Left`` = ``eyeL``); each keypoint is used at most once. :class:`KeypointMap` holds the pairs and says
what was kept, what the source has that the target drops, and which target keypoints no source keypoint fills
(they stay invisible).

Pure Python (no torch, no mmengine): the metainfo files are parsed by :mod:`mmpx.metainfo`, never executed.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import ConfigError, MmpxError
from mmpx.metainfo import load_metainfo, name_key, validate_metainfo

__all__ = ["KeypointMap", "map_keypoints", "metainfo_indices", "read_metainfo", "resolve_metainfo_path"]

MMPOSE_PREFIX = "mmpose::"
EXT_PREFIX = "mmpose_ext::"  # mmpose-ext's own files: mmpose_ext::datasets/metainfo/carpose.py


def _package_folder(package: str) -> Path | None:
    """An installed package's folder, found without importing it (mmpose and mmpose_ext import torch)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _mmpose_configs() -> Path | None:
    """MMPose's shipped configs folder (``mmpose/.mim/configs``)."""
    folder = _package_folder("mmpose")
    return folder / ".mim" / "configs" if folder else None


def resolve_metainfo_path(path: str | os.PathLike) -> Path:
    """The file a config's ``metainfo=dict(from_file=PATH)`` or a ``--metainfo`` option means.

    ``mmpose::_base_/datasets/coco.py`` is under MMPose's shipped configs, ``mmpose_ext::datasets/metainfo/
    carpose.py`` in mmpose-ext's package (both from any folder); an existing path is itself; a missing one falls
    back, as MMPose's ``parse_pose_metainfo`` does, to the file of the same name in MMPose's
    ``configs/_base_/datasets/`` (so ``configs/_base_/datasets/coco.py`` works without an MMPose checkout).

    Raises:
        ConfigError: no such file.
    """
    text = os.fspath(path)
    if text.startswith(EXT_PREFIX):
        return _named_file(text, _package_folder("mmpose_ext"), "mmpose_ext::datasets/metainfo/carpose.py")
    configs = _mmpose_configs()
    if text.startswith(MMPOSE_PREFIX):
        return _named_file(text, configs, "mmpose::_base_/datasets/coco.py")
    if Path(text).is_file():
        return Path(text)
    if Path(text).is_dir():
        raise ConfigError(f"metainfo file {text} is a folder", "give the path of a dataset_info .py file")
    fallback = configs / "_base_" / "datasets" / Path(text).name if configs else None
    if fallback is not None and fallback.is_file():
        return fallback
    raise ConfigError(f"metainfo file {text} does not exist",
                      "give the path of a dataset_info .py file, or mmpose::_base_/datasets/NAME.py")


def _named_file(text: str, folder: Path | None, example: str) -> Path:
    """``PACKAGE::inner/path.py`` under ``folder`` (None: the package is not installed)."""
    package, _, inner = text.partition("::")
    if folder is not None and (folder / inner).is_file():
        return folder / inner
    raise ConfigError(f"metainfo file {text} does not exist" + ("" if folder else f" ({package} is not installed)"),
                      f"e.g. {example}")


def read_metainfo(spec: str | os.PathLike | Mapping) -> tuple[dict, str]:
    """A ``dataset_info`` dict and a short label for it, from what a config may give.

    Args:
        spec: a path (see :func:`resolve_metainfo_path`), ``dict(from_file=PATH)``, or a ``dataset_info`` dict
            itself (with ``keypoint_info``).

    Returns:
        ``(info, label)``; the label is the file name, else the ``dataset_name``.

    Raises:
        ConfigError: a missing or unreadable file, or a metainfo with errors (``mmpx metainfo check`` lists them).
    """
    path = None
    if isinstance(spec, Mapping) and "from_file" in spec:
        spec = spec["from_file"]
    if isinstance(spec, Mapping):
        info, label = dict(spec), str(spec.get("dataset_name") or "metainfo")
    elif isinstance(spec, (str, os.PathLike)):
        path = resolve_metainfo_path(spec)
        try:
            info = load_metainfo(path)
        except MmpxError as exc:
            raise ConfigError(exc.message, exc.hint) from None
        label = path.name
    else:
        raise ConfigError(f"metainfo must be a path, dict(from_file=PATH) or a dataset_info dict, got "
                          f"{type(spec).__name__}", "e.g. 'mmpose::_base_/datasets/coco.py'")
    errors = [p for p in validate_metainfo(info, str(path) if path else None) if p.severity == "error"]
    if errors:
        first = errors[0]
        raise ConfigError(f"metainfo {label} has {len(errors)} error(s), first: {first.where}: {first.message}",
                          f"run mmpx metainfo check {path}" if path else first.hint or None)
    return info, label


def metainfo_indices(info: Mapping) -> dict:
    """What MMPose's ``parse_pose_metainfo`` derives from a ``dataset_info`` dict, as plain lists.

    Returns:
        ``names`` (in keypoint order), ``flip_indices``, ``flip_pairs``, ``upper_body_ids``, ``lower_body_ids``,
        ``skeleton_links`` (index pairs) and ``joint_weights``, each as MMPose computes it.
    """
    kinfo = info["keypoint_info"]
    names = [kinfo[key]["name"] for key in kinfo]
    ids = {kinfo[key]["name"]: key for key in kinfo}
    flip, pairs, upper, lower = [], [], [], []
    for key in kinfo:
        kp = kinfo[key]
        swap = kp.get("swap", "") or kp["name"]
        flip.append(ids[swap])
        if swap != kp["name"] and (ids[swap], key) not in pairs:
            pairs.append((ids[swap], key))
        if kp.get("type", "") == "upper":
            upper.append(key)
        elif kp.get("type", "") == "lower":
            lower.append(key)
    links = [(ids[a], ids[b]) for a, b in (sk["link"] for sk in (info.get("skeleton_info") or {}).values())]
    weights = [float(w) for w in info.get("joint_weights") or [1.0] * len(names)]
    return dict(names=names, flip_indices=flip, flip_pairs=pairs, upper_body_ids=upper, lower_body_ids=lower,
                skeleton_links=links, joint_weights=weights)


@dataclass
class KeypointMap:
    """Which source keypoint fills which target keypoint.

    Attributes:
        source, target: labels of the two metainfo files.
        source_names, target_names: keypoint names in keypoint order.
        pairs: ``(source_index, target_index)`` in target order: the ``mapping`` of MMPose's
            ``KeypointConverter``.
        how: for each pair, ``'exact'``, ``'normalized'`` (equal as :func:`mmpx.metainfo.name_key` reads them:
            case and separators ignored, ``L_``/``R_`` and side words read as left/right) or ``'alias'``.
        target_info: the target's :func:`metainfo_indices` (flip indices, weights, ...).
    """

    source: str
    target: str
    source_names: list[str]
    target_names: list[str]
    pairs: list[tuple[int, int]]
    how: list[str]
    target_info: dict = field(repr=False, default_factory=dict)

    @property
    def kept(self) -> list[tuple[str, str]]:
        """``(source name, target name)`` of each mapped keypoint."""
        return [(self.source_names[s], self.target_names[t]) for s, t in self.pairs]

    @property
    def dropped(self) -> list[str]:
        """Source keypoints no target keypoint takes."""
        used = {s for s, _ in self.pairs}
        return [n for i, n in enumerate(self.source_names) if i not in used]

    @property
    def missing(self) -> list[str]:
        """Target keypoints no source keypoint fills: always invisible (weight 0) after the mapping."""
        used = {t for _, t in self.pairs}
        return [n for i, n in enumerate(self.target_names) if i not in used]

    def report(self) -> str:
        """One line: ``source -> target: kept N: a->b, ...; dropped from source: ...; missing in target ...``.

        A kept keypoint whose name is the same on both sides is written once.
        """
        kept = ", ".join(s if s == t else f"{s}->{t}" for s, t in self.kept)
        return (f"{self.source} -> {self.target}: kept {len(self.pairs)} of {len(self.target_names)}: {kept}; "
                f"dropped from source ({len(self.dropped)}): {', '.join(self.dropped) or 'none'}; "
                f"missing in target, left invisible ({len(self.missing)}): {', '.join(self.missing) or 'none'}")


def map_keypoints(source: str | os.PathLike | Mapping, target: str | os.PathLike | Mapping,
                  aliases: Mapping[str, str] | None = None) -> KeypointMap:
    """Map the keypoints of ``source`` onto those of ``target`` by name.

    Args:
        source: the metainfo the samples are annotated with (see :func:`read_metainfo` for the forms).
        target: the metainfo the model is trained on.
        aliases: ``{source name: target name}`` for keypoints named differently (``dict(head_top='top')``);
            they win over matching names.

    Raises:
        ConfigError: an unreadable metainfo, an alias naming an unknown keypoint or a keypoint twice, or no
            keypoint in common (both name lists are in the message).

    Examples:
        >>> src = dict(keypoint_info={0: dict(name='nose', id=0, swap=''), 1: dict(name='Left-Eye', id=1,
        ...            swap='Right-Eye'), 2: dict(name='Right-Eye', id=2, swap='Left-Eye')}, skeleton_info={},
        ...            joint_weights=[1.0] * 3, sigmas=[0.03] * 3, dataset_name='src')
        >>> tgt = dict(keypoint_info={0: dict(name='right_eye', id=0, swap='left_eye'), 1: dict(name='left_eye',
        ...            id=1, swap='right_eye'), 2: dict(name='chin', id=2, swap='')}, skeleton_info={},
        ...            joint_weights=[1.0] * 3, sigmas=[0.03] * 3, dataset_name='tgt')
        >>> m = map_keypoints(src, tgt)
        >>> m.pairs
        [(2, 0), (1, 1)]
        >>> print(m.report())  # doctest: +NORMALIZE_WHITESPACE
        src -> tgt: kept 2 of 3: Right-Eye->right_eye, Left-Eye->left_eye; dropped from source (1): nose;
        missing in target, left invisible (1): chin
    """
    src_info, src_label = read_metainfo(source)
    tgt_info, tgt_label = read_metainfo(target)
    src_names = metainfo_indices(src_info)["names"]
    target_info = metainfo_indices(tgt_info)
    tgt_names = target_info["names"]
    chosen: dict[int, tuple[int, str]] = {}  # target index -> (source index, how)
    used: set[int] = set()
    for s_name, t_name in (aliases or {}).items():
        if s_name not in src_names:
            raise ConfigError(f"alias {s_name!r} -> {t_name!r}: {s_name!r} is not a keypoint of {src_label}",
                              f"its keypoints: {', '.join(src_names)}")
        if t_name not in tgt_names:
            raise ConfigError(f"alias {s_name!r} -> {t_name!r}: {t_name!r} is not a keypoint of {tgt_label}",
                              f"its keypoints: {', '.join(tgt_names)}")
        s, t = src_names.index(s_name), tgt_names.index(t_name)
        if t in chosen:
            raise ConfigError(f"aliases map two keypoints onto {t_name!r}", "give each target keypoint one alias")
        chosen[t] = (s, "alias")
        used.add(s)
    for how, key in (("exact", str), ("normalized", name_key)):
        free_src: dict[str, list[int]] = {}
        for s, name in enumerate(src_names):
            if s not in used:
                free_src.setdefault(key(name), []).append(s)
        free_tgt: dict[str, list[int]] = {}
        for t, name in enumerate(tgt_names):
            if t not in chosen:
                free_tgt.setdefault(key(name), []).append(t)
        for key_value, targets in free_tgt.items():
            sources = free_src.get(key_value, [])
            if len(sources) == 1 and len(targets) == 1:  # an ambiguous name is left unmatched, never guessed
                chosen[targets[0]] = (sources[0], how)
                used.add(sources[0])
    if not chosen:
        raise ConfigError(f"no keypoint of {src_label} matches one of {tgt_label} by name: "
                          f"{src_label} has {', '.join(src_names)}; {tgt_label} has {', '.join(tgt_names)}",
                          "map them with aliases=dict(SOURCE_NAME='TARGET_NAME', ...) "
                          "(mmpx metainfo map: --alias SOURCE_NAME=TARGET_NAME)")
    order = sorted(chosen)
    return KeypointMap(source=src_label, target=tgt_label, source_names=src_names, target_names=tgt_names,
                       pairs=[(chosen[t][0], t) for t in order], how=[chosen[t][1] for t in order],
                       target_info=target_info)
