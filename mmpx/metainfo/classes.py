"""Metainfo for several object classes with different skeletons (cars with 8 keypoints, people with 17) in one
dataset and one model.

The file is MMPose's, extended so that a one-class file stays exactly today's: a multi-class file adds a
``classes`` list, and its ``keypoint_info`` (and skeleton, sigmas, joint weights) is the union of the classes'
keypoints, class after class, each named ``<class>/<keypoint>``::

    dataset_info = dict(
        dataset_name='street',
        classes=[dict(id=1, name='car', keypoints=['front_left', ...]),
                 dict(id=2, name='person', keypoints=['nose', ...])],
        keypoint_info={0: dict(name='car/front_left', id=0, ..., swap='car/front_right'), ...,
                       8: dict(name='person/nose', id=8, ...), ...},
        skeleton_info=..., joint_weights=[...], sigmas=[...])

``id`` is the class's COCO ``category_id``; its ``keypoints`` are the COCO category's own names, in its order (the
annotations of that category have as many). Swaps and links never cross classes. MMPose's own loader reads such a
file as one union skeleton (it ignores ``classes``); mmpx's multi-class dataset maps each instance into its class's
block of the union, so a model predicts the union and every instance is supervised only on its own class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmpx.errors import MmpxError
from mmpx.metainfo.build import DEFAULT_SIGMA, build_metainfo, keypoint_names

SEP = "/"  # between the class and the keypoint in a union name


@dataclass(frozen=True)
class KeypointClass:
    """One class of a multi-class metainfo: its COCO ``category_id``, name, own keypoint names, and where its
    block lies in the union (``start`` .. ``stop``)."""

    id: int
    name: str
    keypoints: tuple[str, ...]
    start: int

    @property
    def stop(self) -> int:
        return self.start + len(self.keypoints)

    @property
    def union_names(self) -> list[str]:
        return [union_name(self.name, k) for k in self.keypoints]


def union_name(class_name: str, keypoint: str) -> str:
    """``car/front_left``: a class's keypoint as the union names it."""
    return f"{class_name}{SEP}{keypoint}"


def build_classes_metainfo(dataset_name: str, classes: Sequence[Mapping]) -> dict:
    """A multi-class ``dataset_info`` dict.

    Args:
        dataset_name: a short name.
        classes: per class, in the order of the union: ``id`` (COCO category id), ``name``, ``keypoints`` (its own
            names), and optionally ``skeleton`` (pairs of its own names), ``swaps`` (its own names; inferred from
            them when absent), ``sigmas`` and ``joint_weights`` (one per keypoint).

    Raises:
        MmpxError: fewer than two classes, repeated ids or names, a name holding ``/``, or what
            :func:`~mmpx.metainfo.build.build_metainfo` refuses within a class (named).
    """
    _check_classes([(c.get("id"), c.get("name"), c.get("keypoints")) for c in classes], "classes")
    names, skeleton, swaps, sigmas, weights = [], [], {}, [], []
    colors = {}
    for c in classes:
        try:
            own = build_metainfo(c["name"], c["keypoints"], c.get("skeleton", ()), c.get("swaps"), c.get("sigmas"),
                                 c.get("joint_weights"))
        except MmpxError as exc:
            raise MmpxError(f"class {c['name']!r}: {exc.message}", exc.hint) from None
        for kp in own["keypoint_info"].values():
            full = union_name(c["name"], kp["name"])
            names.append(full)
            colors[full] = kp["color"]
            if kp["swap"]:
                swaps[full] = union_name(c["name"], kp["swap"])
        skeleton += [(union_name(c["name"], s["link"][0]), union_name(c["name"], s["link"][1]))
                     for s in own["skeleton_info"].values()]
        sigmas += own["sigmas"]
        weights += own["joint_weights"]
    info = build_metainfo(dataset_name, names, skeleton, swaps, sigmas, weights)
    for kp in info["keypoint_info"].values():  # colours by side within the class (the union name hides it)
        kp["color"] = colors[kp["name"]]
    own_classes = [dict(id=int(c["id"]), name=str(c["name"]), keypoints=list(c["keypoints"])) for c in classes]
    return dict(dataset_name=info.pop("dataset_name"), classes=own_classes, **info)


def keypoint_classes(info: Mapping, where: str = "metainfo") -> list[KeypointClass] | None:
    """The classes of a multi-class metainfo dict, each with its block of the union; None for a one-class file.

    Raises:
        MmpxError: ``classes`` malformed, or not matching ``keypoint_info`` (names and order), naming ``where``.
    """
    raw = info.get("classes")
    if raw is None:
        return None
    if not isinstance(raw, (list, tuple)) or not all(isinstance(c, Mapping) for c in raw):
        raise MmpxError(f"{where}: 'classes' must be a list of dict(id=..., name=..., keypoints=[...])",
                        "see docs/guides/multiclass.md for the format, or drop 'classes' for one class")
    _check_classes([(c.get("id"), c.get("name"), c.get("keypoints")) for c in raw], f"{where}: 'classes'")
    found, start = [], 0
    for c in raw:
        found.append(KeypointClass(int(c["id"]), str(c["name"]), tuple(c["keypoints"]), start))
        start += len(c["keypoints"])
    expected = [n for c in found for n in c.union_names]
    names = keypoint_names(dict(info))
    if names != expected:
        first = next((i for i, (a, b) in enumerate(zip(names, expected, strict=False)) if a != b),
                     min(len(names), len(expected)))
        got = names[first] if first < len(names) else "(none)"
        want = expected[first] if first < len(expected) else "(none)"
        raise MmpxError(f"{where}: keypoint_info does not match 'classes': keypoint {first} is {got!r}, the "
                        f"classes make it {want!r} ({len(names)} keypoints, the classes list {len(expected)})",
                        "keypoint_info must be the classes' keypoints, class after class, named <class>/<keypoint>"
                        " (mmpx writes such files: mmpx.metainfo.classes.build_classes_metainfo)")
    return found


def class_specs(info: Mapping, where: str = "metainfo") -> list[dict] | None:
    """Per class, what :func:`build_classes_metainfo` takes (``id``, ``name``, own ``keypoints``, ``skeleton`` and
    ``swaps`` by own names, ``sigmas``, ``joint_weights``), read back from a multi-class metainfo dict; None for
    a one-class file. ``build_classes_metainfo(name, class_specs(info))`` gives the file's classes back.

    Raises:
        MmpxError: as :func:`keypoint_classes`.
    """
    found = keypoint_classes(info, where)
    if found is None:
        return None
    kps = sorted(info["keypoint_info"].values(), key=lambda kp: kp.get("id", 0))
    links = [tuple(s["link"]) for s in sorted(info.get("skeleton_info", {}).values(), key=lambda s: s.get("id", 0))]
    sigmas, weights = info.get("sigmas"), info.get("joint_weights")
    specs = []
    for c in found:
        own = {union_name(c.name, k): k for k in c.keypoints}
        swaps = {own[kp["name"]]: own[kp["swap"]] for kp in kps[c.start:c.stop]
                 if kp.get("swap") and kp["swap"] in own}
        specs.append(dict(id=c.id, name=c.name, keypoints=list(c.keypoints),
                          skeleton=[(own[a], own[b]) for a, b in links if a in own and b in own],
                          swaps=swaps,
                          sigmas=list(sigmas[c.start:c.stop]) if sigmas is not None else None,
                          joint_weights=list(weights[c.start:c.stop]) if weights is not None else None))
    return specs


def _check_classes(classes: list[tuple], where: str) -> None:
    if len(classes) < 2:
        raise MmpxError(f"{where}: {len(classes)} class(es); a multi-class metainfo has two or more",
                        "for one class, write an ordinary metainfo file (no 'classes')")
    ids, names = set(), set()
    for cid, name, keypoints in classes:
        if not isinstance(cid, int) or isinstance(cid, bool) or cid < 1:
            raise MmpxError(f"{where}: class {name!r} has id {cid!r}", "ids are the COCO category ids: 1, 2, ...")
        if not isinstance(name, str) or not name or SEP in name:
            raise MmpxError(f"{where}: class name {name!r} (id {cid})",
                            f"a class needs a non-empty name without {SEP!r}")
        if not isinstance(keypoints, (list, tuple)) or not keypoints or not all(
                isinstance(k, str) and k for k in keypoints):
            raise MmpxError(f"{where}: class {name!r} has no list of keypoint names", "e.g. keypoints=['nose', ...]")
        if cid in ids or name in names:
            raise MmpxError(f"{where}: class {name!r} (id {cid}) repeats an id or a name",
                            "each class needs its own id and name")
        ids.add(cid)
        names.add(name)


__all__ = ["DEFAULT_SIGMA", "SEP", "KeypointClass", "build_classes_metainfo", "class_specs", "keypoint_classes",
           "union_name"]
