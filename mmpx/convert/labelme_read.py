"""Read one labelme JSON file (labelme 3.x to 6.x) into rectangles, points and counts of other shapes.

Every problem raises :class:`~mmpx.convert.summary.FileProblem` naming the file and what to fix. This is the
converter's hot loop (thousands of files a second), hence plain tuples and few calls per shape.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field

from mmpx.convert.paths import NotRegular, read_regular
from mmpx.convert.summary import FileProblem

# Coordinates may stick out of the image by this much (a click on the border pixel's far edge, rounding); they
# are clipped to the image. Farther out is an error.
TOLERANCE_PX = 1.0
OCCLUDED_SUFFIX = "_occluded"

# A point shape is a plain tuple (far cheaper than an object; a file has dozens):
# (shape number, keypoint name with any _occluded suffix stripped, x, y, COCO visibility 1 or 2)
Point = tuple


@dataclass(slots=True)
class Rect:
    """A rectangle shape, corners ordered and clipped to the image."""

    number: int  # 1-based shape number in the file, for messages
    label: str
    group: object
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(slots=True)
class LabelmeFile:
    """What the converter needs from one labelme file; points are bucketed by ``group_id`` when read."""

    path: str
    width: int
    height: int
    image_path: str | None
    image_data: str | None
    rects: list[Rect] = field(default_factory=list)
    groups: dict[object, list[Point]] = field(default_factory=dict)  # points with a group_id
    ungrouped: list[Point] = field(default_factory=list)
    other_shapes: Counter = field(default_factory=Counter)


def _size(data: dict, path: str) -> tuple[int, int]:
    height, width = data.get("imageHeight"), data.get("imageWidth")
    for key, value in (("imageHeight", height), ("imageWidth", width)):
        if value is None:
            raise FileProblem(path, f"missing {key}",
                              "open and save the file once in labelme 4 or later, which records the image "
                              "size, or add imageHeight/imageWidth by hand")
        if type(value) not in (int, float) or not math.isfinite(value) or value <= 0 or value != int(value):
            raise FileProblem(path, f"{key} must be a positive whole number, got {value!r}",
                              "fix the value to the image's size in pixels")
    return int(width), int(height)


def _xy(pt, path: str, what: str, width: int, height: int) -> tuple[float, float]:
    """One [x, y] pair, checked to be finite numbers inside the image (within the tolerance), then clipped.

    The point loop of :func:`read_labelme` inlines the common case; anything unusual comes here.
    """
    try:
        x, y = pt
    except (TypeError, ValueError):
        raise FileProblem(path, f"{what} has a malformed point {pt!r}", "each point must be [x, y]") from None
    if type(x) not in (int, float) or type(y) not in (int, float) or not math.isfinite(x + y):
        raise FileProblem(path, f"{what} has non-numeric coordinates {pt!r}", "coordinates must be numbers")
    if x < -TOLERANCE_PX or y < -TOLERANCE_PX or x > width + TOLERANCE_PX or y > height + TOLERANCE_PX:
        raise FileProblem(path, f"{what} at ({x:g}, {y:g}) is outside the {width}x{height} image "
                          f"(tolerance {TOLERANCE_PX:g} px)",
                          "move it inside the image in labelme, or check imageWidth/imageHeight")
    return min(max(x, 0.0), width), min(max(y, 0.0), height)


def _shape_keys(shape, path: str, number: int) -> tuple:
    """``shape_type``, ``label``, ``points`` of a shape missing some of them (files older than labelme 3)."""
    if type(shape) is not dict:
        raise FileProblem(path, f"shape {number} is not an object")
    return shape.get("shape_type") or "polygon", shape.get("label"), shape.get("points")


def _check_shape(kind: str, label, pts, path: str, number: int) -> None:
    if type(label) is not str or not label:
        raise FileProblem(path, f"shape {number} ({kind}) has no label",
                          "give every point and rectangle a label")
    if type(pts) is not list or not pts:
        raise FileProblem(path, f"{kind} {label!r} (shape {number}) has no coordinates",
                          "delete the shape or redraw it")


def _rect(shape: dict, number: int, label: str, pts: list, path: str, width: int, height: int) -> Rect:
    if len(pts) == 2 and type(pts[0]) is list and type(pts[1]) is list and len(pts[0]) == 2 == len(pts[1]):
        (ax, ay), (bx, by) = pts  # the usual two corners: checked inline, _xy only for anything unusual
        if all(type(v) is float or type(v) is int for v in (ax, ay, bx, by)) and \
                -TOLERANCE_PX <= min(ax, bx) and max(ax, bx) <= width + TOLERANCE_PX and \
                -TOLERANCE_PX <= min(ay, by) and max(ay, by) <= height + TOLERANCE_PX:
            x0, x1 = max(min(ax, bx), 0.0), min(max(ax, bx), width)
            y0, y1 = max(min(ay, by), 0.0), min(max(ay, by), height)
            if x0 < x1 and y0 < y1:
                return Rect(number, label, shape.get("group_id"), x0, y0, x1, y1)
    what = f"rectangle {label!r} (shape {number})"
    if len(pts) < 2:
        raise FileProblem(path, f"{what} has fewer than 2 corners", "delete the shape or redraw it")
    xys = [_xy(pt, path, what, width, height) for pt in pts]
    xs, ys = [p[0] for p in xys], [p[1] for p in xys]
    if min(xs) >= max(xs) or min(ys) >= max(ys):
        raise FileProblem(path, f"{what} has zero width or height", "redraw it")
    return Rect(number, label, shape.get("group_id"), min(xs), min(ys), max(xs), max(ys))


def _load(path: str) -> dict:
    try:
        data = json.loads(read_regular(path))  # a FIFO would block, /dev/zero never end
    except NotRegular as exc:
        raise FileProblem(path, f"is {exc.what}, not a regular file; only regular files are read",
                          "remove it from SRC (or replace it with the file itself)") from None
    except OSError as exc:
        raise FileProblem(path, f"cannot read the file: {exc.strerror}") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise FileProblem(path, f"invalid JSON: {exc}", "fix the file or remove it from the folder") from None
    except RecursionError:
        raise FileProblem(path, "invalid JSON: nested too deeply to read",
                          "this is no labelme file: remove it") from None
    if type(data) is not dict or type(data.get("shapes")) is not list:
        raise FileProblem(path, "not a labelme file (no 'shapes' list)",
                          "remove non-labelme JSON files from SRC")
    return data


def read_labelme(path: str, known: frozenset[str] | None = None, known_hint: str = "") -> LabelmeFile:
    """Parse the labelme file at ``path``.

    Args:
        path: the JSON file.
        known: the allowed keypoint names; None accepts any point label.
        known_hint: the hint for an unknown label (the list of known names).

    Raises:
        FileProblem: unreadable or invalid JSON, not a labelme file, missing image size or path, malformed or
            out-of-image coordinates, unknown keypoint label.
    """
    data = _load(path)
    width, height = _size(data, path)
    image_path, image_data = data.get("imagePath"), data.get("imageData")
    if not (isinstance(image_path, str) and image_path) and not image_data:
        raise FileProblem(path, "has neither imagePath nor imageData",
                          "set imagePath to the image's file name")
    result = LabelmeFile(path, width, height, image_path or None, image_data or None)
    groups, ungrouped = result.groups, result.ungrouped
    lo, hi_x, hi_y = -TOLERANCE_PX, width + TOLERANCE_PX, height + TOLERANCE_PX
    number = 0
    for shape in data["shapes"]:
        number += 1
        try:  # subscripts are cheaper than .get(); labelme >= 3 always writes these keys
            kind, label, pts = shape["shape_type"], shape["label"], shape["points"]
        except (KeyError, TypeError):
            kind, label, pts = _shape_keys(shape, path, number)
        if kind != "point":
            if kind == "rectangle":
                _check_shape(kind, label, pts, path, number)
                result.rects.append(_rect(shape, number, label, pts, path, width, height))
            else:
                result.other_shapes[kind or "polygon"] += 1  # labelme's own default when shape_type is null
            continue
        if type(label) is not str or not label or type(pts) is not list or not pts:
            _check_shape(kind, label, pts, path, number)
        name, visibility = label, 2
        if label.endswith(OCCLUDED_SUFFIX):
            name, visibility = label[: -len(OCCLUDED_SUFFIX)], 1
        elif "flags" in shape and (flags := shape["flags"]) and type(flags) is dict and \
                (flags.get("occluded") or flags.get("invisible")) or shape.get("visible", True) is False:
            visibility = 1
        if known is not None and name not in known:
            raise FileProblem(path, f"unknown keypoint label {label!r} (shape {number})", known_hint)
        pt = pts[0]
        x, y = pt if type(pt) is list and len(pt) == 2 else (None, None)
        # fast path: plain numbers inside the image (NaN fails every comparison and takes the slow path)
        if (type(x) is float or type(x) is int) and (type(y) is float or type(y) is int) and \
                lo <= x <= hi_x and lo <= y <= hi_y:
            x = 0.0 if x < 0 else width if x > width else x
            y = 0.0 if y < 0 else height if y > height else y
        else:
            x, y = _xy(pt, path, f"point {label!r} (shape {number})", width, height)
        group = shape.get("group_id")
        if group is None:
            ungrouped.append((number, name, x, y, visibility))
        elif group in groups:
            groups[group].append((number, name, x, y, visibility))
        else:
            if type(group) is not int and type(group) is not str:
                raise FileProblem(path, f"shape {number} has an invalid group_id {group!r}",
                                  "use a whole number or none")
            groups[group] = [(number, name, x, y, visibility)]
    return result
