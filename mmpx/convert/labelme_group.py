"""Group a labelme file's rectangles and points into instances (the rules are in ``docs/guides/convert.md``).

(a) a rectangle takes the points that share its ``group_id``; (b) a point without ``group_id`` goes to the one
rectangle that contains it (inside several, or none while rectangles exist, is a problem: never guessed);
(c) in an image without rectangles, the points form one instance per ``group_id`` whose box is derived from
its points with :data:`PAD_RATIO` padding. In an image with rectangles, a ``group_id`` that no rectangle has is
an error (a typo would otherwise make a phantom instance).
"""

from __future__ import annotations

from mmpx.convert.labelme_read import LabelmeFile, Point, Rect
from mmpx.convert.summary import FileProblem

# A derived box is the points' extent grown on every side by 10% of its larger side (at least 1 px, so a lone
# point still gets a box), then clipped to the image: enough context for a top-down model's crop.
PAD_RATIO = 0.10
MIN_PAD_PX = 1.0

# An instance: ([x, y, w, h], [(shape number, name, x, y, v), ...]).
Instance = tuple


def derived_box(points: list[Point], width: int, height: int) -> list[float]:
    """The points' extent padded by :data:`PAD_RATIO` of its larger side (min :data:`MIN_PAD_PX`), clipped."""
    xs, ys = [p[2] for p in points], [p[3] for p in points]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    pad = max(PAD_RATIO * max(x1 - x0, y1 - y0), MIN_PAD_PX)
    x0, y0 = max(x0 - pad, 0.0), max(y0 - pad, 0.0)
    x1, y1 = min(x1 + pad, float(width)), min(y1 + pad, float(height))
    return [x0, y0, x1 - x0, y1 - y0]


def _check_unique(points: list[Point], path: str, where: str) -> list[Point]:
    if len({p[1] for p in points}) != len(points):
        first: dict[str, int] = {}
        for number, name, *_ in points:
            if name in first:
                raise FileProblem(path, f"keypoint {name!r} appears twice in the instance of {where} "
                                  f"(shapes {first[name]} and {number})",
                                  "delete one, or give each instance's rectangle and points its own group_id")
            first[name] = number
    return points


def _rect_groups(rects: list[Rect], path: str) -> dict[object, int]:
    by_group: dict[object, int] = {}
    for j, rect in enumerate(rects):
        group = rect.group
        if group is None:
            continue
        if type(group) is not int and type(group) is not str:
            raise FileProblem(path, f"shape {rect.number} has an invalid group_id {group!r}",
                              "use a whole number or none")
        if group in by_group:
            other = rects[by_group[group]]
            raise FileProblem(path, f"rectangles in shapes {other.number} and {rect.number} share "
                              f"group_id {group}", "give each instance its own group_id")
        by_group[group] = j
    return by_group


def _containing(rects: list[Rect], point: Point, path: str) -> int:
    """The index of the one rectangle containing an ungrouped point; anything else is a problem."""
    x, y = point[2], point[3]
    hits = [j for j, r in enumerate(rects) if r.x0 <= x <= r.x1 and r.y0 <= y <= r.y1]
    if len(hits) == 1:
        return hits[0]
    where = f"point {point[1]!r} (shape {point[0]}) at ({x:g}, {y:g})"
    if hits:
        shapes = ", ".join(str(rects[j].number) for j in hits)
        raise FileProblem(path, f"ambiguous: {where} lies inside {len(hits)} rectangles (shapes {shapes})",
                          "give the point the group_id of its rectangle")
    raise FileProblem(path, f"{where} lies in no rectangle",
                      "draw a rectangle around the instance, or give the point a group_id")


def group_instances(lf: LabelmeFile) -> tuple[list[Instance], list[str]]:
    """The instances of one file, ``(bbox, points)`` each, and warnings about it (empty rectangles).

    Raises:
        FileProblem: two rectangles with one ``group_id``, an ambiguous or stray point, a duplicate keypoint.
    """
    path, rects, groups = lf.path, lf.rects, lf.groups
    members: list[list[Point]] = [[] for _ in rects]
    if rects:
        for group, j in _rect_groups(rects, path).items():
            members[j] = groups.pop(group, members[j])
        for group, pts in groups.items():  # a typo in a group_id: never a phantom instance of its own
            number, name = pts[0][0], pts[0][1]
            have = sorted({repr(r.group) for r in rects if r.group is not None}) or ["none"]
            raise FileProblem(path, f"point {name!r} (shape {number}) has group_id {group!r}, which no rectangle "
                              f"has (rectangles' group_ids: {', '.join(have)})",
                              "fix the point's group_id to its rectangle's (mind 1 vs \"1\"), or draw the rectangle")
        for p in lf.ungrouped:
            members[_containing(rects, p, path)].append(p)
    elif lf.ungrouped:
        groups[None] = lf.ungrouped  # rule (c): all the points of an image without rectangles

    instances, warnings = [], []
    for rect, pts in zip(rects, members, strict=True):
        where = f"rectangle {rect.label!r} (shape {rect.number})"
        if not pts:
            warnings.append(f"{where} has no keypoints; kept as an instance with 0 keypoints")
        box = [rect.x0, rect.y0, rect.x1 - rect.x0, rect.y1 - rect.y0]
        instances.append((box, _check_unique(pts, path, where)))
    for group, pts in groups.items():
        where = "the points without a rectangle" if group is None else f"group_id {group} (no rectangle)"
        instances.append((derived_box(pts, lf.width, lf.height), _check_unique(pts, path, where)))
    return instances, warnings
