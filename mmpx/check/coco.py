"""Rules for COCO keypoint annotation files, as MMPose's ``BaseCocoStyleDataset`` reads them.

Per-annotation bookkeeping is plain Python; keypoint arrays are checked with NumPy, group by group, so that
10k annotations take a fraction of a second. Each rule reports at most one problem per annotation.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from numbers import Real

from mmpx.check.layouts import Layout, Part, guess_layout
from mmpx.errors.problems import Problem, error, warning

TOP_KEYS = ("images", "annotations", "categories")
TINY_BOX = 4  # px: a box below this on a side is most likely a slip
TOL = 1.0  # pixels a box or keypoint may stray past an edge (rounding of annotation tools)


@dataclass
class Findings:
    """What a format checker found: problems, counts for the summary, and notes on choices it made."""

    problems: list[Problem] = field(default_factory=list)
    images: int = 0
    annotations: int = 0
    keypoints: int = 0
    notes: list[str] = field(default_factory=list)
    classes: list[dict] = field(default_factory=list)  # with a multi-class metainfo: per class, its counts


def _num(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def id_ok(v) -> bool:
    """A usable COCO id: an integer (3.0 passes), or a string as some tools write; not inf, NaN, 3.5, a bool."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int | str) or (isinstance(v, float) and v.is_integer())


def first_bad_id(coco: dict) -> str | None:
    """``"images[0].id is inf"`` for the first id of ``coco`` that :func:`id_ok` refuses, else None."""
    for key, fields in (("images", ("id",)), ("categories", ("id",)),
                        ("annotations", ("id", "image_id", "category_id"))):
        for i, item in enumerate(coco.get(key) or ()):
            for name in fields:
                if isinstance(item, dict) and name in item and not id_ok(item[name]):
                    return f"{key}[{i}].{name} is {item[name]!r}, not an integer id"
    return None


def image_refs(data: dict) -> list[tuple[str, str, tuple | None]]:
    """``(field, file_name, (width, height) or None)`` for each image entry with a file name."""
    refs = []
    for i, img in enumerate(data.get("images") or []):
        if isinstance(img, dict) and isinstance(img.get("file_name"), str) and img["file_name"]:
            w, h = img.get("width"), img.get("height")
            refs.append((f"images[{i}]", img["file_name"], (w, h) if _num(w) and _num(h) else None))
    return refs


def _layout(cat: dict, sample: dict | None, meta_names: list[str] | None, layout: Layout | None,
            notes: list[str]) -> tuple[Layout, int, tuple]:
    """``(layout, K, names)``: where the category's annotations hold their keypoints, and how many.

    ``layout`` is the dataset class's (:mod:`mmpx.check.layouts`); without it the file's content decides: Human-Art
    keeps 17 COCO keypoints in ``keypoints`` and all 21 in ``keypoints_21`` while its category lists 21 names
    (``keypoints`` is checked unless the metainfo asks for 21), and COCO-WholeBody splits its 133 keypoints over
    five arrays.
    """
    cat_names = [str(n) for n in cat.get("keypoints") or []]
    names = meta_names if meta_names is not None else cat_names
    k = len(names)
    if layout is not None:
        return layout, k, tuple(names)
    if meta_names is not None and (guessed := guess_layout(sample, k)) is not None:
        notes.append(f"category {cat.get('id')}: {k} keypoints, checked where {guessed.describe()}")
        return guessed, k, tuple(names)
    fld = "keypoints"
    kp = sample.get("keypoints") if sample else None
    alt = f"keypoints_{k}"
    if isinstance(kp, list) and len(kp) != 3 * k and isinstance(sample.get(alt), list):
        if meta_names is not None:
            fld = alt
            notes.append(f"category {cat.get('id')}: checked `{alt}` (the metainfo has {k} keypoints)")
        elif len(kp) % 3 == 0 and 0 < len(kp) < 3 * k:
            k, names = len(kp) // 3, cat_names[: len(kp) // 3]
            notes.append(f"category {cat.get('id')}: checked `keypoints` as the first {k} of its "
                         f"{len(cat_names)} names (`{alt}` holds all {len(cat_names)}; pass a "
                         f"{len(cat_names)}-keypoint --metainfo to check it)")
    return Layout("COCO", (Part((fld,)),)), k, tuple(names)


def _named_field(layout: Layout) -> str | None:
    """The one keypoint array a category's names describe (``keypoints``, Human-Art's ``keypoints_21``); None when
    the dataset reads others (COCO-WholeBody's names list its 17 body keypoints only)."""
    parts = layout.parts
    if len(parts) == 1 and len(parts[0].fields) == 1 and parts[0].fields[0].startswith("keypoints"):
        return parts[0].fields[0]
    return None


def _compare_names(cat_names: list[str], meta_names: list[str], fld: str, file: str, where: str):
    if not cat_names or cat_names == meta_names:
        return None
    k = len(meta_names)
    if fld == "keypoints" and cat_names[:k] == meta_names:
        return None  # the extended layout of _layout: `keypoints` holds the first K names
    if sorted(cat_names) == sorted(meta_names):
        return error(file, where, "category lists the metainfo's keypoint names in a different order",
                     "MMPose reads keypoints by position: order the metainfo like the annotations",
                     "names-order")
    diff = next((i for i, (a, b) in enumerate(zip(cat_names, meta_names, strict=False)) if a != b), None)
    detail = (f"first difference at {diff}: {cat_names[diff]!r} vs {meta_names[diff]!r}" if diff is not None
              else f"{len(cat_names)} names vs {k}")
    return warning(file, where, f"category keypoint names differ from the metainfo's ({detail})",
                   "MMPose uses the metainfo's names and order; make them agree", "names-differ")


def _check_skeleton(cat: dict, j: int, file: str, add) -> None:
    """COCO skeleton links are pairs of 1-based indices into the category's keypoint names."""
    k = len(cat.get("keypoints") or [])
    if not k:
        return
    for m, link in enumerate(cat.get("skeleton") or []):
        if not (isinstance(link, list) and len(link) == 2 and all(type(v) is int and 1 <= v <= k for v in link)):
            add(error(file, f"categories[{j}].skeleton[{m}]",
                      f"category {cat['id']}: skeleton link {link!r} is not a pair of keypoint numbers 1..{k}",
                      "COCO skeleton links are 1-based indices into the category's keypoints", "skeleton-index"))


METAINFO_FIX = "pass a {n}-keypoint --metainfo if meant"


def check_coco(data: dict, file: str, meta_names: list[str] | None = None, layout: Layout | None = None,
               metainfo_fix: str = METAINFO_FIX, meta_classes: list | None = None) -> Findings:
    """Check a parsed COCO keypoint file (images are checked separately, see :mod:`mmpx.check`).

    Args:
        data: the parsed JSON.
        file: its path, named in each problem.
        meta_names: keypoint names from the metainfo; None to take them from each category.
        layout: where the dataset class reads keypoints (:func:`mmpx.check.layouts.layout_of`); None: COCO's
            ``keypoints``, or what the file's content shows.
        metainfo_fix: the advice when an annotation holds another count of keypoints, ``{n}`` that count.
        meta_classes: the classes of a multi-class metainfo (:class:`~mmpx.metainfo.classes.KeypointClass`):
            each category is checked against the class of its id (its own keypoints); a category no class has
            is an error. ``meta_names`` is then ignored.
    """
    out = Findings()
    by_class = {c.id: c for c in meta_classes} if meta_classes else None
    add = out.problems.append
    for key in TOP_KEYS:
        if key not in data:
            add(error(file, key, f"missing top-level key {key!r}", "a COCO keypoint file has images, "
                      "annotations and categories lists", "top-key"))
        elif not isinstance(data[key], list):
            add(error(file, key, f"{key} is {type(data[key]).__name__}, not a list", "", "top-key"))
    images, anns, cats = (data.get(k) if isinstance(data.get(k), list) else [] for k in TOP_KEYS)
    out.images, out.annotations = len(images), len(anns)

    sizes: dict = {}
    for i, img in enumerate(images):
        w, h = (img.get("width"), img.get("height")) if isinstance(img, dict) else (None, None)
        if not isinstance(img, dict) or img.get("id") is None:
            add(error(file, f"images[{i}]", "image entry has no id", "give every image a unique id",
                      "image-id"))
        elif not id_ok(img["id"]):
            add(error(file, f"images[{i}].id", f"image id {img['id']!r} is not an integer", "", "image-id"))
        elif img["id"] in sizes:
            add(error(file, f"images[{i}].id", f"duplicate image id {img['id']}", "image ids must be unique",
                      "dup-image-id"))
        else:
            ok = _num(w) and _num(h) and w > 0 and h > 0
            sizes[img["id"]] = (w, h) if ok else None
            if not ok:
                add(error(file, f"images[{i}]", f"width/height missing or not positive ({w!r}, {h!r})",
                          "MMPose reads width and height to clip boxes", "image-size"))
            if not isinstance(img.get("file_name"), str) or not img.get("file_name"):
                add(error(file, f"images[{i}].file_name", "no file_name", "name the image file", "file-name"))

    first_ann: dict = {}
    for ann in anns:
        if isinstance(ann, dict) and isinstance(ann.get("keypoints"), list):
            first_ann.setdefault(ann.get("category_id"), ann)
    layouts: dict = {}
    if not cats and anns:
        add(error(file, "categories", f"categories is empty, but {len(anns)} annotation(s) refer to one",
                  "add the category with its keypoint names and skeleton", "no-categories"))
    for j, cat in enumerate(cats):
        if not isinstance(cat, dict) or cat.get("id") is None:
            add(error(file, f"categories[{j}]", "category has no id", "", "category-id"))
            continue
        _check_skeleton(cat, j, file, add)
        if cat["id"] in layouts:
            add(error(file, f"categories[{j}].id", f"duplicate category id {cat['id']}", "",
                      "dup-category-id"))
            continue
        if by_class is not None:
            _class_category(cat, j, by_class, layouts, first_ann, layout, file, out)
            continue
        elif not cat.get("keypoints") and meta_names is None:
            layouts[cat["id"]] = None
            if cat["id"] in first_ann:
                add(error(file, f"categories[{j}].keypoints", f"category {cat['id']} lists no keypoint names",
                          "add keypoint names, or pass --metainfo", "category-keypoints"))
            continue
        layouts[cat["id"]] = _layout(cat, first_ann.get(cat["id"]), meta_names, layout, out.notes)
        fld = _named_field(layouts[cat["id"]][0])
        if meta_names is not None and fld and (p := _compare_names([str(n) for n in cat.get("keypoints") or []],
                                                                   meta_names, fld, file,
                                                                   f"categories[{j}].keypoints")):
            add(p)

    groups: dict = defaultdict(list)
    counts: Counter = Counter()  # per class id: annotations, and (id, "kp"): labelled keypoints
    single: list[str] = []  # instances with one labelled keypoint (of several)
    ann_ids: set = set()
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            add(error(file, where, "annotation is not an object", "", "ann-entry"))
            continue
        aid = ann.get("id")
        if aid is None:
            add(error(file, where, "annotation has no id", "give every annotation a unique id", "ann-id"))
        elif aid in ann_ids:
            add(error(file, f"{where}.id", f"duplicate annotation id {aid}", "ids must be unique",
                      "dup-ann-id"))
        ann_ids.add(aid)
        label = f"annotation {aid}"
        if images and ann.get("image_id") not in sizes:
            add(error(file, f"{where}.image_id", f"{label}: unknown image id {ann.get('image_id')!r}",
                      "point image_id at an entry of images", "unknown-image"))
        cid = ann.get("category_id")
        if cats and cid not in layouts:
            add(error(file, f"{where}.category_id", f"{label}: unknown category id {cid!r}",
                      "point category_id at an entry of categories", "unknown-category"))
        counts[cid] += 1
        size = sizes.get(ann.get("image_id"))
        lay = layouts.get(cid)
        if lay is None or not lay[0].parts:  # no keypoint names, or keypoints kept in another file
            _instance_box(ann, "bbox", size, file, where, label, add)
            continue
        layout, k, names = lay
        for part in layout.parts:
            values = part.read(ann)
            if values is None:
                continue  # MMPose skips it too (not valid, nothing labelled)
            box = _instance_box(ann, part.box, size, file, where, label, add)
            kp = _keypoint_values(values, part, ann, k, (file, where, label), add, metainfo_fix)
            if by_class is not None and kp is not None:
                counts[cid, "kp"] += sum(1 for v in kp[2::3] if _num(v) and v > 0)
            if kp is not None:
                groups[part.name, k, names].append((where, label, ann, kp, size, box))
                if k > 1 and sum(1 for v in kp[2::3] if _num(v) and v > 0) == 1:
                    single.append(label)
    if single:
        add(warning(file, "annotations", f"{len(single)} instance(s) have a single labelled keypoint, e.g. "
                    f"{single[0]}", "fine for partly visible objects; a labelling slip (a stray group_id) otherwise",
                    "single-keypoint"))

    from mmpx.check.keypoints import check_keypoint_groups

    out.keypoints = check_keypoint_groups(groups, file, add)
    if by_class is not None:
        out.classes = [dict(id=c.id, name=c.name, keypoints=len(c.keypoints), annotations=counts[c.id],
                            labelled=counts[c.id, "kp"]) for c in by_class.values()]
        absent = [c.name for c in by_class.values() if c.id not in layouts]
        if absent:
            add(warning(file, "categories", f"the metainfo's class(es) {', '.join(absent)} have no category here",
                        "fine for a split without them; else add the category (id = the class's id)",
                        "class-absent"))
    return out


def _class_category(cat: dict, j: int, by_class: dict, layouts: dict, first_ann: dict, layout, file: str,
                    out: Findings) -> None:
    """Lay out a category by its class of a multi-class metainfo; a category of no class is an error."""
    add, where = out.problems.append, f"categories[{j}]"
    c = by_class.get(cat["id"])
    if c is None:
        layouts[cat["id"]] = None
        known = ", ".join(f"{k.name} (id {k.id})" for k in by_class.values())
        add(error(file, f"{where}.id", f"category {cat['id']} ({cat.get('name')}) is no class of the metainfo "
                  f"(its classes: {known})", "give the category the id of its class, or add the class to the "
                  "metainfo (docs/guides/multiclass.md)", "unknown-class"))
        return
    if cat.get("name") != c.name:
        add(warning(file, f"{where}.name", f"category {cat['id']} is named {cat.get('name')!r}, its class in the "
                    f"metainfo {c.name!r}", "the class is found by id; make the names agree", "class-name"))
    own = list(c.keypoints)
    layouts[cat["id"]] = _layout(cat, first_ann.get(cat["id"]), own, layout, out.notes)
    fld = _named_field(layouts[cat["id"]][0])
    if fld and (p := _compare_names([str(n) for n in cat.get("keypoints") or []], own, fld, file,
                                    f"{where}.keypoints")):
        add(p)


def _instance_box(ann: dict, fld: str, size, file: str, where: str, label: str, add) -> tuple | None:
    if fld == "bbox" and ann.get("bbox") is None and "center" in ann and "scale" in ann:
        return None  # MPII-TRB style: MpiiTrbDataset reads center/scale, not bbox
    return _check_box(ann.get(fld), size, file, f"{where}.{fld}", label, add)


def _keypoint_values(values: list | str, part: Part, ann: dict, k: int, at: tuple, add,
                     metainfo_fix: str) -> list | None:
    """``values`` (what ``part`` reads from ``ann``) when they hold K triples; else None, with the problem added.
    ``at`` is (file, annotation path, label)."""
    file, where, label = at
    fld = part.name
    if isinstance(values, str) and values not in ann:  # base COCO skips an instance without keypoints; others fail
        add(warning(file, f"{where}.{values}", f"{label} has no {values}: MMPose skips it", "", "no-keypoints")
            if part.fields == ("keypoints",) else
            error(file, f"{where}.{values}", f"{label} has no {values} (MMPose reads {fld})", "", "no-keypoints"))
        return None
    if isinstance(values, str) or len(values) != 3 * k:
        fld, n = (values, type(ann[values]).__name__) if isinstance(values, str) else (fld, len(values))
        hint = "one x, y, visibility triple per keypoint"
        if isinstance(n, int) and n % 3 == 0 and n:
            hint += f"; these hold {n // 3} keypoints: " + metainfo_fix.replace("{n}", str(n // 3))
        add(error(file, f"{where}.{fld}", f"{label}: {fld} has {n} values, expected {3 * k} (x, y, v for "
                  f"each of {k} keypoints)", hint, "keypoints-length"))
        return None
    return values


def _check_box(bbox, size, file: str, fld: str, label: str, add) -> tuple | None:
    """Check ``bbox`` (x, y, w, h) at ``fld`` (``annotations[3].bbox``); return it as a tuple when usable for the
    keypoint checks."""
    name = fld.rsplit(".", 1)[-1]
    if bbox is None:
        add(warning(file, fld, f"{label} has no bbox: MMPose skips it", "add [x, y, w, h]", "no-bbox")
            if name == "bbox" else error(file, fld, f"{label} has no {name}", "add [x, y, w, h]", "no-bbox"))
        return None
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(_num(v) for v in bbox):
        add(error(file, fld, f"{label}: {name} {bbox!r} is not 4 numbers", "[x, y, w, h]", "bbox"))
        return None
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        add(error(file, fld, f"{label}: empty box (w={w:g}, h={h:g})", "w and h must be > 0",
                  "bbox-empty"))
        return None
    if w < TINY_BOX or h < TINY_BOX:
        add(warning(file, fld, f"{label}: box {w:g}x{h:g} px is under {TINY_BOX} px on a side",
                    "a labelling slip? (a lone point with no rectangle gets a 2x2 box)", "tiny-box"))
    if size is not None:
        iw, ih = size
        if x > iw + TOL or y > ih + TOL or x + w < -TOL or y + h < -TOL:
            add(error(file, fld, f"{label}: box {_fmt(bbox)} lies outside the {iw}x{ih} image",
                      "boxes are [x, y, width, height] in pixels", "bbox-outside"))
        elif x < -TOL or y < -TOL or x + w > iw + TOL or y + h > ih + TOL:
            add(warning(file, fld, f"{label}: box {_fmt(bbox)} extends past the {iw}x{ih} image "
                        "(MMPose clips it)", "check the box is [x, y, width, height]", "bbox-partly-outside"))
    return (x, y, w, h)


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"
