"""Read and write the data YAML of an Ultralytics pose dataset, naming the file and field of any problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError


@dataclass
class YoloSpec:
    """What the converter needs from a data YAML."""

    yaml: Path
    root: Path
    splits: dict[str, list[str]]
    num_keypoints: int
    dim: int
    class_names: list[str]
    keypoint_names: list[str]
    has_kpt_names: bool
    flip_idx: list[int] = field(default_factory=list)

    @property
    def class_blocks(self) -> list[tuple[str, int, list[str]]] | None:
        """Several classes in the union layout ``mmpx convert to-yolo`` writes (``kpt_names`` of two or more
        classes are ``<class>/<keypoint>``, class after class in ``names`` order): per class its name, where its
        block starts and its own keypoint names; None for one keypoint set shared by the classes."""
        if len(self.class_names) < 2 or not self.has_kpt_names:
            return None
        blocks, start = [], 0
        for name in self.class_names:
            prefix = f"{name}/"
            own = []
            while start + len(own) < len(self.keypoint_names) and \
                    self.keypoint_names[start + len(own)].startswith(prefix):
                own.append(self.keypoint_names[start + len(own)][len(prefix):])
            if not own:
                return None
            blocks.append((name, start, own))
            start += len(own)
        return blocks if start == len(self.keypoint_names) else None

    @property
    def swaps(self) -> dict[str, str]:
        """Left/right partners from ``flip_idx`` (a keypoint that maps to itself has none)."""
        names = self.keypoint_names
        return {names[i]: names[j] for i, j in enumerate(self.flip_idx) if i != j}


def find_yaml(src: str | Path) -> Path:
    """``src`` itself, or the data YAML in the folder ``src`` (``data.yaml``, else its only ``*.yaml``)."""
    src = Path(src)
    if src.is_file():
        return src
    if not src.is_dir():
        raise MmpxError(f"{src} does not exist", "give the dataset's data YAML (or its folder)")
    if (src / "data.yaml").is_file():
        return src / "data.yaml"
    found = sorted(p for p in src.iterdir() if p.suffix in (".yaml", ".yml"))
    if len(found) != 1:
        raise MmpxError(f"{src} holds {len(found)} YAML files and no data.yaml",
                        "give the data YAML itself, e.g. mmpx convert yolo DATA.yaml OUT")
    return found[0]


def _bad(path: Path, key: str, problem: str, hint: str) -> MmpxError:
    return MmpxError(f"{path}: field {key!r} {problem}", hint)


def _names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, dict) and names and sorted(names) == list(range(len(names))):
        return [str(names[i]) for i in range(len(names))]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    problem = "is missing" if names is None else f"is not a list or a {{0: name, 1: ...}} mapping: {names!r}"
    raise _bad(path, "names", problem, "e.g. names: {0: person}")


def _kpt_names(data: dict, path: Path, k: int) -> list[str] | None:
    value = data.get("kpt_names")
    if value is None:
        return None
    if isinstance(value, dict) and value:  # Ultralytics: {class: [names]}; one set of keypoints for all
        value = value[min(value)]
    elif isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    if not isinstance(value, list) or len(value) != k or len(set(map(str, value))) != k:
        raise _bad(path, "kpt_names", f"must list {k} unique names (kpt_shape says {k})",
                   "e.g. kpt_names: {0: [nose, left_eye, ...]}")
    return [str(v) for v in value]


def _splits(data: dict, path: Path) -> dict[str, list[str]]:
    splits = {}
    for key in ("train", "val", "test"):
        value = data.get(key)
        if value is None or value == "":
            if key != "test":
                raise _bad(path, key, "is missing", f"e.g. {key}: images/{key}")
            continue
        entries = value if isinstance(value, list) else [value]
        if not all(isinstance(e, str) and e for e in entries):
            raise _bad(path, key, f"must be a path or a list of paths, got {value!r}",
                       f"e.g. {key}: images/{key}")
        splits[key] = entries
    return splits


def read_pose_yaml(src: str | Path) -> YoloSpec:
    """Parse and check the data YAML of ``src`` (see :func:`find_yaml`).

    Raises:
        MmpxError: unreadable YAML; a missing or invalid ``train``, ``val``, ``kpt_shape``, ``flip_idx``,
            ``names`` or ``kpt_names``, naming the file and the field.
    """
    import yaml

    path = find_yaml(src)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise MmpxError(f"{path}: cannot read the YAML: {exc}", "fix the file's syntax") from None
    if not isinstance(data, dict):
        raise MmpxError(f"{path}: not a data YAML (expected a mapping of fields)", "see docs/guides/convert.md")
    shape = data.get("kpt_shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(v) is int for v in shape)
            and shape[0] > 0 and shape[1] in (2, 3)):
        problem = "is missing" if shape is None else f"must be [K, 2] or [K, 3], got {shape!r}"
        raise _bad(path, "kpt_shape", problem, "e.g. kpt_shape: [17, 3] (17 keypoints with x, y, visibility)")
    k, dim = shape
    flip = data.get("flip_idx")
    if flip is None:
        flip = list(range(k))
    elif not (isinstance(flip, list) and len(flip) == k and all(type(i) is int and 0 <= i < k for i in flip)
              and all(flip[flip[i]] == i for i in range(k))):
        raise _bad(path, "flip_idx", f"must list, for each of the {k} keypoints, the index of its mirror "
                   f"image (pairs both ways), got {flip!r}",
                   "e.g. flip_idx: [0, 2, 1] for nose, left_eye, right_eye")
    root = data.get("path")
    root = path.parent if not root else Path(root) if Path(root).is_absolute() else path.parent / root
    kpt_names = _kpt_names(data, path, k)
    return YoloSpec(yaml=path, root=root, splits=_splits(data, path), num_keypoints=k, dim=dim,
                    class_names=_names(data, path),
                    keypoint_names=kpt_names or [f"kpt_{i}" for i in range(k)],
                    has_kpt_names=kpt_names is not None, flip_idx=flip)


def pose_yaml_text(root: Path, splits: Sequence[str], class_names: Sequence[str],
                   keypoint_names: Sequence[str], flip_idx: Sequence[int], union: bool = False) -> str:
    """The data YAML of a pose dataset written by :func:`mmpx.convert.to_yolo.convert_to_yolo`; ``union``: the
    keypoints are several classes' union (``<class>/<keypoint>``), which a comment at the top says."""
    import yaml

    data = dict(path=str(root))
    for split in ("train", "val", "test"):
        if split in splits:
            data[split] = f"images/{split}"
    if "val" not in data:  # Ultralytics requires a val set: validate on train rather than fail
        data["val"] = data.get("train") or f"images/{splits[0]}"
    if "train" not in data:
        data["train"] = f"images/{splits[0]}"
    data.update(kpt_shape=[len(keypoint_names), 3], flip_idx=list(flip_idx),
                names=dict(enumerate(class_names)),
                kpt_names={i: list(keypoint_names) for i in range(len(class_names))})
    head = "# Ultralytics pose dataset, written by mmpose-ext (mmpx convert to-yolo)\n"
    if union:
        head += ("# several classes with different keypoints: kpt_shape is their union, class after class (named "
                 "<class>/<keypoint>);\n# each label line holds its class's points, 0 0 0 for the other classes'\n")
    return head + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None)
