"""MMPose dataset metainfo (``dataset_info = dict(...)`` files): build, infer swaps, write and read safely.

Pure Python (no torch, no mmengine), so converters and checks stay fast. The format is MMPose's
``configs/_base_/datasets/*.py``: ``keypoint_info`` (name, id, color, type, swap), ``skeleton_info`` (link by
names, id, color), ``joint_weights`` and ``sigmas``; a file written here loads with
``metainfo=dict(from_file=PATH)`` in a config.
"""

from __future__ import annotations

import ast
import pprint
import re
from collections.abc import Sequence
from pathlib import Path

from mmpx import atomic
from mmpx.check.metainfo_rules import validate_metainfo
from mmpx.errors import MmpxError

__all__ = [
    "build_metainfo", "dumps", "infer_swaps", "keypoint_names", "load_metainfo", "metainfo_from_coco", "name_key",
    "name_words", "validate_metainfo", "write_atomic", "write_metainfo",
]

# MMPose's convention: left green, right orange, centre blue
LEFT_COLOR, RIGHT_COLOR, CENTER_COLOR = [0, 255, 0], [255, 128, 0], [51, 153, 255]
# Default OKS sigma for keypoints of a new dataset: COCO's smallest body sigmas are 0.025 (eyes/nose) and the
# largest 0.107 (hips); 0.025 is strict, so an AP on a new dataset is never flattered. Override per keypoint.
DEFAULT_SIGMA = 0.025

_SIDE_WORDS = {"left": "left", "l": "left", "right": "right", "r": "right"}
_OTHER_SIDE = {"left": "right", "right": "left"}
# MMPose's animal files abbreviate the limb after the side: L_F_Paw is the left front paw, R_B_Paw the right back
_LIMB_LETTERS = {"f": "front", "b": "back"}
# words: camelCase parts, runs of capitals, numbers, and runs of any other letters (kept, never dropped)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[^\W\d_A-Za-z]+")


def name_words(name: str) -> tuple[str | None, list[str]]:
    """The one reading of a keypoint name that swaps and keypoint mapping share: ``(side, other words)``.

    ``side`` is ``'left'``, ``'right'`` or None, from the first side word anywhere in the name (``left``,
    ``right``, or ``L``/``R`` beside another word); the other words are lower case, in order, with MMPose's limb
    letters spelled out in a name with a side (``F`` front, ``B`` back). ``L_Eye``, ``left_eye``, ``Eye_Left``,
    ``eyeL`` and ``LeftEye`` all read as ``('left', ['eye'])``; ``L_F_Paw`` as ``('left', ['front', 'paw'])``.
    """
    words = _WORD.findall(name)
    for i, word in enumerate(words):
        if word.lower() in _SIDE_WORDS and (len(word) > 1 or len(words) > 1):
            rest = [w.lower() for w in words[:i] + words[i + 1:]]
            return _SIDE_WORDS[word.lower()], [_LIMB_LETTERS.get(w, w) for w in rest]
    return None, [w.lower() for w in words]


def name_key(name: str, side: str | None = None) -> str:
    """A keypoint name as compared across spellings: the side first, then the other words, no separators
    (``L_Eye``, ``left-eye`` and ``Eye_Left`` all give ``lefteye``). ``side`` replaces the name's own side (the
    key of its mirror partner)."""
    own, words = name_words(name)
    return (side or own or "") + "".join(words)


def _side(name: str) -> str | None:
    return name_words(name)[0]


def infer_swaps(names: Sequence[str]) -> dict[str, str]:
    """Left/right partners among ``names``: ``{'left-front-tire': 'right-front-tire', ...}`` (both ways).

    A name's partner is the one name whose :func:`name_key` is its own with the other side (``L_Eye`` and
    ``R_Eye``, ``eyeL`` and ``eyeR``); a left name without its right partner, or with several, has no swap.
    """
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(name_key(name), []).append(name)
    swaps = {}
    for name in names:
        side = _side(name)
        partners = by_key.get(name_key(name, _OTHER_SIDE[side]), []) if side else []
        if len(partners) == 1 and partners[0] != name:
            swaps[name] = partners[0]
    return swaps


def build_metainfo(
    dataset_name: str,
    keypoints: Sequence[str],
    skeleton: Sequence[tuple[str, str]] = (),
    swaps: dict[str, str] | None = None,
    sigmas: Sequence[float] | None = None,
    joint_weights: Sequence[float] | None = None,
) -> dict:
    """An MMPose ``dataset_info`` dict.

    Args:
        dataset_name: a short name.
        keypoints: keypoint names, in annotation order.
        skeleton: pairs of keypoint names to draw as links.
        swaps: left/right partners; inferred from the names when None.
        sigmas: OKS sigma per keypoint (default :data:`DEFAULT_SIGMA`).
        joint_weights: loss weight per keypoint (default 1.0).

    Raises:
        MmpxError: duplicate names, a skeleton or swap naming an unknown keypoint, wrong lengths.
    """
    keypoints = list(keypoints)
    if len(set(keypoints)) != len(keypoints):
        dupes = sorted({k for k in keypoints if keypoints.count(k) > 1})
        raise MmpxError(f"duplicate keypoint names: {', '.join(dupes)}", "every keypoint needs a unique name")
    swaps = infer_swaps(keypoints) if swaps is None else dict(swaps)
    known = set(keypoints)
    for a, b in list(swaps.items()):
        if a not in known or b not in known:
            raise MmpxError(f"swap pair {a!r}/{b!r} names an unknown keypoint",
                            f"keypoints are: {', '.join(keypoints)}")
        swaps.setdefault(b, a)
    for link in skeleton:
        unknown = [n for n in link if n not in known]
        if len(link) != 2 or unknown:
            raise MmpxError(f"skeleton link {tuple(link)!r} names unknown keypoint(s) {unknown}",
                            f"keypoints are: {', '.join(keypoints)}")
    for label, values in (("sigmas", sigmas), ("joint_weights", joint_weights)):
        if values is not None and len(values) != len(keypoints):
            raise MmpxError(f"{label} has {len(values)} values for {len(keypoints)} keypoints",
                            f"give one {label[:-1]} per keypoint")

    def color(name: str) -> list[int]:
        side = _side(name)
        return {"left": LEFT_COLOR, "right": RIGHT_COLOR}.get(side, CENTER_COLOR)

    keypoint_info = {
        i: dict(name=name, id=i, color=color(name), type="", swap=swaps.get(name, ""))
        for i, name in enumerate(keypoints)
    }
    skeleton_info = {
        i: dict(link=(a, b), id=i, color=color(a) if color(a) == color(b) else CENTER_COLOR)
        for i, (a, b) in enumerate(skeleton)
    }
    return dict(
        dataset_name=dataset_name,
        paper_info=dict(),
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[float(w) for w in (joint_weights or [1.0] * len(keypoints))],
        sigmas=[float(s) for s in (sigmas or [DEFAULT_SIGMA] * len(keypoints))],
    )


def dumps(info: dict) -> str:
    """The text of a metainfo file for ``info``."""
    body = pprint.pformat(info, indent=1, width=100, sort_dicts=False)
    return f"# MMPose dataset metainfo, written by mmpose-ext.\ndataset_info = {body}\n"


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a half-written file."""
    atomic.write_text(path, text)


def write_metainfo(path: str | Path, info: dict) -> None:
    """Write ``info`` as a metainfo file (:func:`dumps`) to ``path``, atomically."""
    write_atomic(path, dumps(info))


# Bound on lists built with `[1.0] * K` or `+` in metainfo files (the largest MMPose file has 137 keypoints).
_MAX_ITEMS = 100_000


def _literal(node: ast.AST, path: Path, env: dict | None = None):
    """Evaluate literals, ``dict(...)``, ``[1.0] * K``, ``a + b`` and names assigned earlier in the file.

    Nothing is executed: MMPose's own files use only these forms (``colors['sss']`` in deepfashion2.py).
    """
    env = env or {}
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(e, path, env) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return {_literal(k, path, env): _literal(v, path, env) for k, v in pairs}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
            and not node.args):
        return {kw.arg: _literal(kw.value, path, env) for kw in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, path, env)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        try:
            return _literal(node.value, path, env)[_literal(node.slice, path, env)]
        except (KeyError, IndexError, TypeError):
            pass
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _literal(node.left, path, env), _literal(node.right, path, env)
        if isinstance(node.op, ast.Mult) and isinstance(right, list) and isinstance(left, int):
            left, right = right, left
        size = len(left) * (right if isinstance(right, int) else 1) if isinstance(left, (list, tuple)) else 0
        if size <= _MAX_ITEMS:
            try:
                return left + right if isinstance(node.op, ast.Add) else left * right
            except TypeError:
                pass
    raise MmpxError(f"{path}:{getattr(node, 'lineno', '?')}: metainfo files may hold only literals, "
                    f"dict(...), lists joined with + or *, earlier names; found {ast.unparse(node)[:60]!r}",
                    "write the values out literally")


def load_metainfo(path: str | Path) -> dict:
    """Read ``dataset_info`` from a metainfo ``.py`` file without executing it.

    Raises:
        MmpxError: missing file, syntax error, no ``dataset_info``, or non-literal content.
    """
    path = Path(path)
    if not path.is_file():
        raise MmpxError(f"metainfo file {path} does not exist", "give the path of a dataset_info .py file")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise MmpxError(f"{path}:{exc.lineno}: syntax error in metainfo file: {exc.msg}",
                        "fix that line") from None
    except UnicodeDecodeError as exc:
        raise MmpxError(f"{path}: not a text file (byte {exc.start} is not UTF-8)",
                        "give the dataset_info .py file (MMPose's configs/_base_/datasets/ has examples)") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; nesting beyond the parser
        raise MmpxError(f"{path}: not a Python metainfo file ({exc})", "give the dataset_info .py file") from None
    env: dict = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "dataset_info" in targets:
            info = _literal(node.value, path, env)
            if not isinstance(info, dict):
                raise MmpxError(f"{path}: dataset_info is not a dict",
                                "dataset_info = dict(keypoint_info=..., ...)")
            return info
        try:  # helpers such as `colors = dict(...)`; a non-data one matters only if dataset_info uses it
            value = _literal(node.value, path, env)
        except MmpxError:
            continue
        env.update((name, value) for name in targets)
    raise MmpxError(f"{path}: no `dataset_info = dict(...)` assignment",
                    "see MMPose's configs/_base_/datasets/")


def keypoint_names(info: dict) -> list[str]:
    """Keypoint names in id order."""
    entries = sorted(info.get("keypoint_info", {}).values(), key=lambda kp: kp.get("id", 0))
    return [kp["name"] for kp in entries]


def _read_json(path: Path):
    import json

    if not path.is_file():
        raise MmpxError(f"annotation file {path} does not exist",
                        "give the path of a COCO keypoint .json file")
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MmpxError(f"{path}: not valid JSON ({exc})",
                        "check the file is complete (not truncated)") from None


def keypoint_category(data: dict, path: Path, category_id: int | None = None) -> dict:
    """The one category of a COCO file that lists keypoints (``category_id`` picks one of several)."""
    cats = [c for c in data["categories"] if isinstance(c, dict) and c.get("keypoints")]
    if category_id is not None:
        cats = [c for c in cats if c.get("id") == category_id]
        if not cats:
            raise MmpxError(f"{path}: no category with id {category_id} and keypoints",
                            "run without --category-id to see the categories")
    if len(cats) != 1:
        listing = ", ".join(f"{c.get('id')} ({c.get('name')})" for c in cats) or "none"
        raise MmpxError(f"{path}: categories[*].keypoints: {len(cats)} categories have keypoints ({listing})",
                        "pick one with --category-id" if cats else "COCO keypoint files name the keypoints in "
                        "their category's `keypoints` list")
    return cats[0]


def metainfo_from_coco(ann_json_path: str | Path, category_id: int | None = None,
                       dataset_name: str | None = None) -> dict:
    """An MMPose ``dataset_info`` dict from the keypoint category of a COCO annotation file.

    Keypoint names and skeleton come from the category (COCO skeletons are 1-based; a skeleton that uses index
    0 is taken as 0-based); left/right swaps are inferred from the names; sigmas and joint weights are the
    defaults of :func:`build_metainfo`.

    Args:
        ann_json_path: COCO keypoint annotation file.
        category_id: which category, when the file has several with ``keypoints``.
        dataset_name: defaults to the file name without extension.

    Raises:
        MmpxError: unreadable or non-COCO file, no (or an ambiguous) keypoint category, bad skeleton indices.

    Examples:
        >>> info = metainfo_from_coco("annotations/person_keypoints_val2017.json")  # doctest: +SKIP
        >>> write_metainfo("configs/my_metainfo.py", info)  # doctest: +SKIP
    """
    path = Path(ann_json_path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise MmpxError(f"{path}: not a COCO annotation file (no 'categories' list)",
                        "COCO keypoint files hold images, annotations and categories")
    cat = keypoint_category(data, path, category_id)
    names = [str(n) for n in cat["keypoints"]]
    links = [tuple(link) for link in cat.get("skeleton") or []]
    flat = [i for link in links for i in link]
    if any(not isinstance(i, int) for i in flat) or any(len(link) != 2 for link in links):
        raise MmpxError(f"{path}: category {cat.get('id')} skeleton must be pairs of keypoint indices",
                        "e.g. skeleton: [[1, 2], [2, 3]] (1-based)")
    base = 0 if 0 in flat else 1
    if flat and (min(flat) < base or max(flat) >= len(names) + base):
        raise MmpxError(f"{path}: category {cat.get('id')} skeleton index out of range 1..{len(names)}",
                        "COCO skeleton indices are 1-based keypoint numbers")
    skeleton = [(names[a - base], names[b - base]) for a, b in links]
    return build_metainfo(dataset_name or path.stem, names, skeleton)
