"""Validate an MMPose ``dataset_info`` dict: the rules ``parse_pose_metainfo`` assumes but does not check.

MMPose asserts only that the top-level keys exist; a wrong swap, an unknown skeleton name or a short sigma
list surfaces later as a ``KeyError`` in a transform, silently wrong flips, or a broadcast error in
``CocoMetric``. Pure Python, so ``mmpx metainfo check`` and ``mmpx check data`` stay fast.
"""

from __future__ import annotations

import math
from numbers import Real

from mmpx.errors import MmpxError
from mmpx.errors.problems import Problem, error, warning
from mmpx.metainfo.classes import keypoint_classes

REQUIRED_KEYS = ("dataset_name", "keypoint_info", "skeleton_info", "joint_weights", "sigmas")
KEYPOINT_TYPES = ("", "upper", "lower")


def _color_problem(color) -> str | None:
    if (isinstance(color, (list, tuple)) and len(color) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)):
        return None
    return f"color {color!r} is not 3 integers 0-255"


def _check_keypoints(kinfo: dict, file: str | None) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    keys = list(kinfo)
    if keys != list(range(len(keys))):
        problems.append(error(file, "keypoint_info", f"keys are {keys[:8]}{'...' if len(keys) > 8 else ''}, "
                              f"expected 0..{len(keys) - 1} in order",
                              "MMPose uses the dict order as the keypoint order: number keys 0..K-1",
                              "kpt-ids"))
    names: list[str] = []
    for key, kp in kinfo.items():
        field = f"keypoint_info[{key}]"
        if not isinstance(kp, dict):
            problems.append(error(file, field, f"entry is {type(kp).__name__}, not a dict",
                                  "dict(name=..., id=..., color=[r, g, b], type='', swap='')", "kpt-entry"))
            names.append("")
            continue
        name = kp.get("name")
        if not isinstance(name, str) or not name:
            problems.append(error(file, f"{field}.name", f"missing or empty name ({name!r})",
                                  "every keypoint needs a unique name", "kpt-name"))
        elif name in names:
            problems.append(error(file, f"{field}.name", f"duplicate keypoint name {name!r} "
                                  f"(also keypoint_info[{names.index(name)}])", "names must be unique",
                                  "kpt-dup"))
        names.append(name if isinstance(name, str) else "")
        if "id" not in kp:
            problems.append(warning(file, f"{field}.id", "no id", f"add id={key}", "kpt-id"))
        elif kp["id"] != key:  # MMPose numbers keypoints by the dict key and never reads `id`
            problems.append(warning(file, f"{field}.id", f"id {kp['id']!r} differs from its key {key!r} "
                                    "(MMPose uses the key)", f"set id={key}", "kpt-id"))
        if "color" in kp and (msg := _color_problem(kp["color"])):
            problems.append(error(file, f"{field}.color", msg, "e.g. color=[255, 128, 0]", "color"))
        if kp.get("type", "") not in KEYPOINT_TYPES:
            problems.append(warning(file, f"{field}.type", f"type {kp['type']!r} is not '', 'upper' or "
                                    "'lower'", "half-body augmentation reads only 'upper' and 'lower'",
                                    "kpt-type"))
    by_name = {n: kp for n, kp in zip(names, kinfo.values(), strict=True) if n}
    for key, kp in kinfo.items():
        if not isinstance(kp, dict) or not kp.get("swap"):
            continue
        field, name, swap = f"keypoint_info[{key}].swap", kp.get("name"), kp["swap"]
        if swap == name:
            problems.append(warning(file, field, f"{name!r} swaps with itself",
                                    "use swap='' for a keypoint on the mirror axis", "swap-self"))
        elif swap not in by_name:
            problems.append(error(file, field, f"swap {swap!r} of {name!r} is not a keypoint name",
                                  "name an existing keypoint, or swap=''", "swap-unknown"))
        elif by_name[swap].get("swap") != name:
            back = by_name[swap].get("swap")
            # one-sided (partner has swap=''): flipping copies one label onto both, a bug in MMPose's own
            # deepfashion2.py, so a warning; a partner that swaps with a third keypoint is contradictory
            make = warning if not back else error
            problems.append(make(file, field, f"{name!r} swaps with {swap!r}, but {swap!r} swaps with "
                                 f"{back or 'nothing'}: flip augmentation corrupts these labels",
                                 f"set swap={name!r} on {swap!r}: flips must be pairs", "swap-asymmetric"))
    return problems, names


def _check_numbers(info: dict, key: str, k: int, file: str | None) -> list[Problem]:
    values = info[key]
    if not isinstance(values, (list, tuple)):
        return [error(file, key, f"{key} is {type(values).__name__}, not a list", "one number per keypoint",
                      key)]
    if not all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
        return [error(file, key, f"{key} holds non-numbers", "one number per keypoint", key)]
    if (inf := next((i for i, v in enumerate(values) if not math.isfinite(v)), None)) is not None:
        return [error(file, f"{key}[{inf}]", f"{key}[{inf}] is {values[inf]!r}", "finite numbers only "
                      "(an inf or NaN sigma makes every OKS 0 or NaN)", key)]
    problems = []
    if key == "sigmas" and not values:
        problems.append(warning(file, key, "sigmas is empty: OKS metrics (CocoMetric) cannot be computed",
                                "fine for PCK/NME/AUC metrics; give one sigma per keypoint for COCO AP", key))
    elif len(values) != k:
        # joint_weights are read only with GenerateTarget(use_dataset_keypoint_weights=True)
        make = warning if key == "joint_weights" else error
        problems.append(make(file, key, f"{key} has {len(values)} values for {k} keypoints",
                             "give exactly one value per keypoint, in keypoint_info order", key))
    bad = [i for i, v in enumerate(values) if v < 0 or (key == "sigmas" and v == 0)]
    if bad:
        problems.append(error(file, f"{key}[{bad[0]}]", f"{key} must be positive; {len(bad)} value(s) are "
                              f"not (first: {values[bad[0]]!r})", "sigmas > 0, joint_weights >= 0", key))
    zero = [i for i, v in enumerate(values) if v == 0] if key == "joint_weights" else []
    if zero:
        problems.append(warning(file, f"{key}[{zero[0]}]", f"{len(zero)} keypoint(s) have joint weight 0 "
                                "and are ignored by the loss", "intended? otherwise use 1.0", key))
    return problems


def validate_metainfo(info: dict, path: str | None = None) -> list[Problem]:
    """Every problem in a ``dataset_info`` dict (empty list when it is sound).

    Args:
        info: the dict, e.g. from :func:`mmpx.metainfo.load_metainfo`.
        path: the file it came from, named in each problem.

    Returns:
        Errors for what breaks training or silently corrupts flips/metrics, warnings for the rest.

    Examples:
        >>> from mmpx.metainfo import build_metainfo
        >>> validate_metainfo(build_metainfo("cars", ["left_light", "right_light"]))
        []
    """
    file = str(path) if path is not None else None
    if not isinstance(info, dict):
        return [error(file, "dataset_info", f"dataset_info is {type(info).__name__}, not a dict", "",
                      "not-dict")]
    problems = [error(file, key, f"missing required key {key!r}",
                      "see MMPose configs/_base_/datasets/coco.py", "missing-key")
                for key in REQUIRED_KEYS if key not in info]
    kinfo = info.get("keypoint_info")
    names: list[str] = []
    if isinstance(kinfo, dict):
        kp_problems, names = _check_keypoints(kinfo, file)
        problems += kp_problems
        if not kinfo:
            problems.append(error(file, "keypoint_info", "no keypoints", "add at least one keypoint",
                                  "kpt-empty"))
    elif kinfo is not None:
        problems.append(error(file, "keypoint_info", f"keypoint_info is {type(kinfo).__name__}, not a dict",
                              "keypoint_info={0: dict(name=..., ...), ...}", "kpt-entry"))
    known = set(names)
    skeleton = info.get("skeleton_info", {})
    if not isinstance(skeleton, dict):
        problems.append(error(file, "skeleton_info", f"skeleton_info is {type(skeleton).__name__}, not dict",
                              "skeleton_info={0: dict(link=('a', 'b'), id=0, color=[r, g, b]), ...}", "link"))
        skeleton = {}
    for key, sk in skeleton.items():
        field = f"skeleton_info[{key}]"
        link = sk.get("link") if isinstance(sk, dict) else None
        if not isinstance(link, (list, tuple)) or len(link) != 2:
            problems.append(error(file, f"{field}.link", f"link {link!r} does not have 2 ends",
                                  "link=('name_a', 'name_b')", "link"))
        elif known and (unknown := [n for n in link if n not in known]):
            problems.append(error(file, f"{field}.link", f"link {tuple(link)!r} names unknown keypoint(s) "
                                  f"{', '.join(map(repr, unknown))}", "use names from keypoint_info", "link"))
        if isinstance(sk, dict) and "color" in sk and (msg := _color_problem(sk["color"])):
            problems.append(error(file, f"{field}.color", msg, "e.g. color=[255, 128, 0]", "color"))
    for key in ("sigmas", "joint_weights"):
        if key in info and names:
            problems += _check_numbers(info, key, len(names), file)
    if "classes" in info and not any(p.severity == "error" for p in problems):  # a sound union first
        problems += _check_classes(info, file)
    return problems


def _check_classes(info: dict, file: str | None) -> list[Problem]:
    """A multi-class file (:mod:`mmpx.metainfo.classes`): ``classes`` matches the union, and no swap or link
    joins two classes (a flip would move one class's label onto another's keypoint)."""
    try:
        classes = keypoint_classes(info, file or "metainfo")
    except MmpxError as exc:
        return [error(file, "classes", exc.message.removeprefix(f"{file or 'metainfo'}: "), exc.hint or "",
                      "classes")]
    owner = {n: c.name for c in classes for n in c.union_names}
    problems = []
    for key, kp in info["keypoint_info"].items():
        swap = kp.get("swap")
        if swap and swap in owner and owner[swap] != owner[kp["name"]]:
            problems.append(error(file, f"keypoint_info[{key}].swap", f"{kp['name']!r} (class "
                                  f"{owner[kp['name']]!r}) swaps with {swap!r} of the class {owner[swap]!r}",
                                  "swaps stay within a class", "class-swap"))
    for key, sk in info.get("skeleton_info", {}).items():
        a, b = sk["link"]
        if owner[a] != owner[b]:
            problems.append(error(file, f"skeleton_info[{key}].link", f"link ({a!r}, {b!r}) joins the classes "
                                  f"{owner[a]!r} and {owner[b]!r}", "links stay within a class", "class-link"))
    return problems
