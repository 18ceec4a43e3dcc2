"""A metainfo from a COCO keypoint file (``mmpx metainfo from-coco``): which category's keypoint list to take, and
what to do when the file names no keypoints.

COCO keypoint files come in more shapes than one category with names: AP-10K has 54 categories (one per species)
that all share one 17-keypoint list, which is one keypoint set; 300W's category lists no names at all
(``keypoints: []``, 68 points per annotation), so the count comes from the annotations and the names are numbered
(``kpt_0`` .. ``kpt_67``, the names mmpx gives unnamed keypoints elsewhere). Every such decision is said in a note
the command prints; ``like`` (:mod:`mmpx.metainfo.like`) then takes names, skeleton, swaps and sigmas from an
existing metainfo file. ``all_categories`` makes a multi-class metainfo instead (:mod:`mmpx.metainfo.classes`),
one class per category, for files whose categories have different keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError
from mmpx.metainfo.build import _read_json, build_metainfo


@dataclass
class FromCoco:
    """The metainfo dict, and one line per decision the user did not make: ``notes`` (categories sharing one
    list, what ``--like`` took) and ``warnings`` (numbered names: no swaps, no skeleton, and the files to take them
    from)."""

    info: dict
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def numbered_names(count: int) -> list[str]:
    """Names for keypoints a file leaves unnamed: ``kpt_0`` .. ``kpt_{count - 1}`` (as ``mmpx infer`` and the
    YOLO converter name them)."""
    return [f"kpt_{i}" for i in range(count)]


def _listing(cats: list[dict]) -> str:
    return ", ".join(f"{c.get('id')} ({c.get('name')})" for c in cats)


def _categories(data: dict, path: Path, category_id: int | None) -> tuple[list[dict], list[str]]:
    """The categories whose annotations make the keypoint set (several only when they share one keypoint list),
    and a note when several do."""
    cats = [c for c in data["categories"] if isinstance(c, dict)]
    if category_id is not None:
        chosen = [c for c in cats if c.get("id") == category_id]
        if not chosen:
            raise MmpxError(f"{path}: no category with id {category_id}",
                            f"the categories are: {_listing(cats) or 'none'}")
        return chosen[:1], []
    named = [c for c in cats if c.get("keypoints")]
    if not named:  # no names anywhere: the annotations of every category say how many keypoints there are
        if not cats:
            raise MmpxError(f"{path}: categories is empty", "a COCO keypoint file has one category per object kind, "
                            'e.g. {"id": 1, "name": "face", "keypoints": [...]}')
        return cats, []
    lists: dict[tuple, list[dict]] = {}
    for c in named:
        key = tuple(map(str, c["keypoints"])) if isinstance(c["keypoints"], list) else (repr(c["keypoints"]),)
        lists.setdefault(key, []).append(c)
    if len(lists) > 1:
        groups = "; ".join(f"{len(key)} keypoints: {_listing(group)}" for key, group in lists.items())
        raise MmpxError(f"{path}: categories[*].keypoints: {len(named)} categories have keypoints, in {len(lists)} "
                        f"different lists ({groups})", "pick one with --category-id, or make one class per category "
                        "with --all-categories (a multi-class metainfo: docs/guides/multiclass.md)")
    if len(named) > 1:
        return named, [f"{len(named)} categories share one keypoint list ({_listing(named[:5])}"
                       f"{', ...' if len(named) > 5 else ''}): one metainfo for all of them"]
    return named, []


def _count(data: dict, path: Path, cats: list[dict]) -> int:
    """The keypoint count of the categories' annotations (x, y, v per keypoint); they must all agree."""
    ids = {c.get("id") for c in cats}
    counts: dict[int, list] = {}
    for i, ann in enumerate(data.get("annotations") or []):
        if not isinstance(ann, dict) or ann.get("category_id", next(iter(ids))) not in ids:
            continue
        kpts = ann.get("keypoints")
        if not isinstance(kpts, list) or not kpts:
            continue
        if len(kpts) % 3:
            raise MmpxError(f"{path}: annotations[{i}] (id {ann.get('id')}): keypoints has {len(kpts)} values, "
                            "not a multiple of 3", "COCO lists x, y, v for every keypoint")
        counts.setdefault(len(kpts) // 3, []).append(ann.get("id"))
    if not counts:
        raise MmpxError(f"{path}: category {_listing(cats)} lists no keypoint names and no annotation has "
                        "keypoints, so the number of keypoints is unknown",
                        'name them in the category: "keypoints": ["nose", "left_eye", ...]')
    if len(counts) > 1:
        seen = "; ".join(f"{k} keypoints in {len(ids_)} (e.g. id {ids_[0]})" for k, ids_ in sorted(counts.items()))
        raise MmpxError(f"{path}: the category lists no keypoint names and its annotations disagree on how many "
                        f"keypoints there are: {seen}",
                        "fix the annotations so that each has the same number, or name the keypoints in the category")
    return next(iter(counts))


def _skeleton(cat: dict, names: list[str], path: Path) -> list[tuple[str, str]]:
    """The category's skeleton as name pairs (COCO's are 1-based; one that uses index 0 is taken as 0-based)."""
    links = [tuple(link) if isinstance(link, list | tuple) else (link,) for link in cat.get("skeleton") or []]
    flat = [i for link in links for i in link]
    if any(not isinstance(i, int) or isinstance(i, bool) for i in flat) or any(len(link) != 2 for link in links):
        raise MmpxError(f"{path}: category {cat.get('id')} skeleton must be pairs of keypoint indices",
                        "e.g. skeleton: [[1, 2], [2, 3]] (1-based)")
    base = 0 if 0 in flat else 1
    if flat and (min(flat) < base or max(flat) >= len(names) + base):
        raise MmpxError(f"{path}: category {cat.get('id')} skeleton index out of range 1..{len(names)}",
                        "COCO skeleton indices are 1-based keypoint numbers")
    return [(names[a - base], names[b - base]) for a, b in links]


def from_coco(ann_json_path: str | Path, category_id: int | None = None, dataset_name: str | None = None,
              like: str | None = None, all_categories: bool = False) -> FromCoco:
    """The metainfo of a COCO keypoint file, with a note for each choice made for the user.

    Names and skeleton come from the keypoint category (several categories sharing one list, as AP-10K's species,
    make one set); a category without names gets numbered names, their count from the annotations, and no swaps.
    Left/right swaps are inferred from the names; sigmas and joint weights are :func:`build_metainfo`'s defaults.
    ``like`` (an MMPose dataset name such as ``300w``, or a metainfo file) takes names, skeleton, swaps, sigmas and
    joint weights from that file (:func:`mmpx.metainfo.like.take_like`). ``all_categories``: one class per
    category (its id, name, own keypoints and skeleton), written as a multi-class metainfo.

    Raises:
        MmpxError: unreadable or non-COCO file, categories with different keypoint lists and no ``category_id``,
            unnamed keypoints whose annotations disagree on the count, bad skeleton indices, a ``like`` that does
            not fit.
    """
    path = Path(ann_json_path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise MmpxError(f"{path}: not a COCO annotation file (no 'categories' list)",
                        "COCO keypoint files hold images, annotations and categories")
    if all_categories:
        if category_id is not None or like is not None:
            raise MmpxError("--all-categories takes every category: not with --category-id or --like",
                            "drop --category-id/--like (tune the written file by hand)")
        return _all_categories(data, path, dataset_name or path.stem)
    cats, notes = _categories(data, path, category_id)
    cat = cats[0]
    if not isinstance(cat.get("keypoints") or [], list):
        raise MmpxError(f"{path}: category {cat.get('id')} keypoints is {str(cat['keypoints'])[:40]!r}, not a list",
                        'e.g. "keypoints": ["nose", "left_eye", ...]')
    names = [str(n) for n in cat.get("keypoints") or []]
    numbered = not names
    if numbered:
        names = numbered_names(_count(data, path, cats))
    info = build_metainfo(dataset_name or path.stem, names, _skeleton(cat, names, path))
    if like is not None:
        from mmpx.metainfo.like import take_like

        info, taken = take_like(info, like, by_name=not numbered)
        return FromCoco(info, notes + [taken])
    if numbered:
        from mmpx.metainfo.like import numbered_note

        return FromCoco(info, notes, [numbered_note(path, cat, len(names))])
    return FromCoco(info, notes)


def _all_categories(data: dict, path: Path, dataset_name: str) -> FromCoco:
    """One class per category: a multi-class metainfo (each category must name its keypoints)."""
    from mmpx.metainfo.classes import build_classes_metainfo

    cats = [c for c in data["categories"] if isinstance(c, dict)]
    classes = []
    for c in cats:
        names = c.get("keypoints")
        if not isinstance(names, list) or not names:
            raise MmpxError(f"{path}: --all-categories: category {c.get('id')} ({c.get('name')}) names no keypoints",
                            'name them in the category: "keypoints": ["nose", ...]; or leave out --all-categories')
        names = [str(n) for n in names]
        classes.append(dict(id=c.get("id"), name=c.get("name"), keypoints=names, skeleton=_skeleton(c, names, path)))
    try:
        info = build_classes_metainfo(dataset_name, classes)
    except MmpxError as exc:
        raise MmpxError(f"{path}: --all-categories: {exc.message}", exc.hint) from None
    note = f"{len(classes)} classes, one per category: " + ", ".join(
        f"{c['name']} (id {c['id']}, {len(c['keypoints'])} keypoints)" for c in classes)
    return FromCoco(info, [note])


def metainfo_from_coco(ann_json_path: str | Path, category_id: int | None = None,
                       dataset_name: str | None = None, like: str | None = None) -> dict:
    """An MMPose ``dataset_info`` dict from the keypoint category of a COCO annotation file.

    Names and skeleton come from the category (COCO skeletons are 1-based; one that uses index 0 is taken as
    0-based); categories sharing one keypoint list make one set; a category without names gets numbered names
    (``kpt_0`` ..), counted from the annotations. Left/right swaps are inferred from the names; sigmas and joint
    weights are the defaults of :func:`build_metainfo`. ``mmpx.metainfo.coco.from_coco`` returns the same with a
    note for each choice made.

    Args:
        ann_json_path: COCO keypoint annotation file.
        category_id: which category, when the file has several with different keypoint lists.
        dataset_name: defaults to the file name without extension.
        like: an MMPose dataset name (``300w``) or a metainfo file to take names, skeleton, swaps and sigmas from.

    Raises:
        MmpxError: unreadable or non-COCO file, categories with different keypoint lists and no ``category_id``,
            unnamed keypoints whose annotations disagree on the count, bad skeleton indices, a ``like`` that
            does not fit.

    Examples:
        >>> info = metainfo_from_coco("annotations/person_keypoints_val2017.json")  # doctest: +SKIP
        >>> write_metainfo("configs/my_metainfo.py", info)  # doctest: +SKIP
    """
    return from_coco(ann_json_path, category_id, dataset_name, like).info
