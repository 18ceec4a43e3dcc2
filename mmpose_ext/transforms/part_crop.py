"""``RandomPartCrop``: crop to a random connected part of any skeleton (MMPose's ``RandomHalfBody``, generalised).

MMPose's ``RandomHalfBody`` crops a person to the upper or the lower body, from the ``type='upper'|'lower'`` of
the metainfo's keypoints: it knows only people. ``RandomPartCrop`` crops any instance to a part: one of named
parts (a car's front, its left side), or, with no parts given, a connected part grown over the metainfo's
skeleton from a random visible keypoint. The model learns to find keypoints when only part of the object is in
view (truncated at the image border, occluded, or detected with a tight box).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmpose_ext.registry import TRANSFORMS
from mmpx.errors import ConfigError

GROUPS = ("upper", "lower")  # MMPose's keypoint types: `upper_body_ids` / `lower_body_ids` in a sample


@TRANSFORMS.register_module()
class RandomPartCrop(BaseTransform):
    """With probability ``prob``, set an instance's box to one part of it: a random connected part of the
    skeleton, or one of named parts.

    The part is chosen among the instance's visible keypoints only. The new box is the extent of the part's
    visible keypoints, centred on it and enlarged ``padding`` times (``RandomHalfBody`` centres on their mean,
    which can cut a part's outer keypoints off; this one never does). ``TopdownAffine`` then widens the shorter
    side to the model's aspect ratio, as for any box; a part whose keypoints all lie on a line is fine, one whose
    keypoints coincide is left uncropped. Keypoints outside the new box stay in the sample, as after
    ``RandomHalfBody``: ``TopdownAffine`` moves them out of the input and ``GenerateTarget`` gives them weight 0
    once their target is off the map (MSRA heatmaps: the whole Gaussian, 3 sigma, outside the heatmap; SimCC:
    outside the input), so a keypoint just past the border still teaches its place. ``bbox`` is left as it was
    (as ``RandomHalfBody`` does): ``bbox_center`` and ``bbox_scale`` are what ``TopdownAffine`` crops.

    Place it where ``RandomHalfBody`` goes: after ``GetBBoxCenterScale`` (and ``RandomFlip``), before
    ``RandomBBoxTransform`` and ``TopdownAffine``.

    Where it reads the skeleton: ``metainfo`` when given, else the sample's ``skeleton_links`` (MMPose's
    datasets put their metainfo's links, ``upper_body_ids`` and ``lower_body_ids`` in every sample). Keypoint
    names are not in a sample, so named parts need ``metainfo``. Give ``metainfo`` too after a
    ``KeypointConverter`` (whose samples keep the source dataset's links).

    Required keys: ``keypoints``, ``keypoints_visible``, ``bbox_center``, ``bbox_scale``; ``skeleton_links``
    (``parts=None`` without ``metainfo``), ``upper_body_ids``/``lower_body_ids`` (groups without ``metainfo``).

    Modified keys: ``bbox_center``, ``bbox_scale``.

    Args:
        prob: probability to crop an instance that has enough visible keypoints.
        parts: ``None``: grow a connected part over the skeleton. Or named parts, one chosen at random among those
            with at least ``min_keypoints`` visible: a dict ``{label: keypoints}`` or a list of keypoints lists,
            each a list of keypoint names (needs ``metainfo``) or indices, or the group name ``'upper'`` or
            ``'lower'`` (the keypoints of that ``type`` in the metainfo: ``parts=['upper', 'lower']`` is
            ``RandomHalfBody``'s choice).
        metainfo: the dataset's metainfo: a file path, ``'mmpose::_base_/datasets/NAME.py'``,
            ``dict(from_file=...)`` or a ``dataset_info`` dict (read by :mod:`mmpx.metainfo`, never executed).
        min_keypoints: fewest visible keypoints in a part.
        min_total_keypoints: fewest visible keypoints an instance needs to be cropped (default
            ``min_keypoints + 1``: a part is less than the whole).
        min_fraction, max_fraction: a grown part has a random fraction in this range of the instance's visible
            keypoints (rounded, at least ``min_keypoints``, fewer than all of them when possible).
        padding: the part's extent is enlarged this many times (``RandomHalfBody``: 1.5).

    Examples:
        >>> import numpy as np
        >>> from mmpose.registry import TRANSFORMS
        >>> t = TRANSFORMS.build(dict(type='RandomPartCrop', prob=1.0, parts=dict(front=[0, 1]), padding=2.0))
        >>> out = t(dict(keypoints=np.array([[[10., 10.], [30., 20.], [50., 80.]]]), keypoints_visible=np.ones((1, 3)),
        ...              bbox_center=np.array([[30., 45.]]), bbox_scale=np.array([[60., 100.]])))
        >>> out['bbox_center'].tolist(), out['bbox_scale'].tolist()
        ([[20.0, 15.0]], [[40.0, 20.0]])
    """

    def __init__(self, prob: float = 0.3, parts: Mapping | Sequence | None = None,
                 metainfo: str | os.PathLike | Mapping | None = None, min_keypoints: int = 2,
                 min_total_keypoints: int | None = None, min_fraction: float = 0.3, max_fraction: float = 0.7,
                 padding: float = 1.5) -> None:
        super().__init__()
        if not 0 <= prob <= 1:
            raise ConfigError(f"RandomPartCrop prob must be in [0, 1], got {prob}", "e.g. prob=0.3")
        if not 0 < min_fraction <= max_fraction <= 1:
            raise ConfigError(f"RandomPartCrop needs 0 < min_fraction <= max_fraction <= 1, got {min_fraction}, "
                              f"{max_fraction}", "e.g. min_fraction=0.3, max_fraction=0.7")
        if min_keypoints < 1 or padding <= 0:
            raise ConfigError(f"RandomPartCrop needs min_keypoints >= 1 and padding > 0, got {min_keypoints}, "
                              f"{padding}", "e.g. min_keypoints=2, padding=1.5")
        self.prob, self.padding = prob, padding
        self.min_keypoints = min_keypoints
        self.min_total_keypoints = min_keypoints + 1 if min_total_keypoints is None else min_total_keypoints
        self.min_fraction, self.max_fraction = min_fraction, max_fraction
        self.metainfo = metainfo
        self.info = None
        if metainfo is not None:
            from mmpx.metainfo.mapping import metainfo_indices, read_metainfo

            self.info = metainfo_indices(read_metainfo(metainfo)[0])
        self.parts = parts
        self.labels, self._parts = self._parse_parts(parts)

    def _parse_parts(self, parts) -> tuple[list[str], list[list[int] | str] | None]:
        if parts is None:
            return [], None
        if isinstance(parts, Mapping):
            labels, values = [str(k) for k in parts], list(parts.values())
        elif isinstance(parts, Sequence) and not isinstance(parts, str):
            values = list(parts)
            labels = [v if isinstance(v, str) else f"part{i}" for i, v in enumerate(values)]
        else:
            raise ConfigError(f"RandomPartCrop parts must be None, a dict or a list, got {parts!r}",
                              "e.g. parts=dict(front=['left_front_bumper', 'right_front_bumper'])")
        if not values:
            raise ConfigError("RandomPartCrop parts is empty", "give at least one part, or parts=None")
        names = self.info["names"] if self.info else None
        resolved: list[list[int] | str] = []
        for label, value in zip(labels, values, strict=True):
            if isinstance(value, str):
                if value not in GROUPS:
                    raise ConfigError(f"RandomPartCrop part {label!r} is {value!r}: a part is a list of keypoints "
                                      f"or a group name ({', '.join(GROUPS)})", f"e.g. {label}=[{value!r}, ...]")
                resolved.append(value)
                continue
            if not isinstance(value, Sequence) or not value:
                raise ConfigError(f"RandomPartCrop part {label!r} must be a non-empty list of keypoints, got "
                                  f"{value!r}", "keypoint names (with metainfo=...) or indices")
            ids = []
            for kp in value:
                if isinstance(kp, str):
                    if names is None:
                        raise ConfigError(f"RandomPartCrop part {label!r} names keypoint {kp!r} but the transform "
                                          "has no metainfo to look names up in (samples carry indices only)",
                                          "add metainfo='path/to/metainfo.py' (or dict(from_file=...))")
                    if kp not in names:
                        raise ConfigError(f"RandomPartCrop part {label!r}: {kp!r} is not a keypoint of the "
                                          "metainfo", f"its keypoints: {', '.join(names)}")
                    ids.append(names.index(kp))
                elif isinstance(kp, (int, np.integer)) and not isinstance(kp, bool):
                    ids.append(int(kp))
                else:
                    raise ConfigError(f"RandomPartCrop part {label!r}: {kp!r} is not a keypoint name or index",
                                      "list keypoint names or indices")
            resolved.append(sorted(set(ids)))
        return labels, resolved

    # --- which keypoints -----------------------------------------------------------------------------------------

    def _meta(self, results: dict, key: str, k: int):
        if self.info is not None:
            return self.info[key]
        if key == "skeleton_links" and not results.get(key):
            raise ConfigError("RandomPartCrop with parts=None needs a skeleton: the sample has no skeleton_links",
                              "add metainfo=... with a skeleton_info, or give parts=...")
        if key not in results:
            raise ConfigError(f"RandomPartCrop: the sample has no {key!r}", "add metainfo=...")
        return results[key]

    def _part_lists(self, results: dict, k: int) -> list[list[int]]:
        lists = []
        for label, part in zip(self.labels, self._parts, strict=True):
            if isinstance(part, str):
                ids = list(self._meta(results, f"{part}_body_ids", k))
                if not ids:
                    raise ConfigError(f"RandomPartCrop part {label!r}: the metainfo has no keypoint of type "
                                      f"{part!r}", "name the part's keypoints instead")
            else:
                ids = part
            if max(ids) >= k:
                raise ConfigError(f"RandomPartCrop part {label!r} has keypoint index {max(ids)}, the sample has {k} "
                                  "keypoints", "check the part against the dataset's metainfo")
            lists.append(ids)
        return lists

    def _grow(self, visible: np.ndarray, links) -> list[int] | None:
        """A random connected set of visible keypoints, grown over the skeleton's links among them."""
        neighbours: dict[int, set[int]] = {int(i): set() for i in np.flatnonzero(visible)}
        for a, b in links:
            a, b = int(a), int(b)
            if a != b and a in neighbours and b in neighbours:
                neighbours[a].add(b)
                neighbours[b].add(a)
        starts = []
        for node in neighbours:  # keypoints whose visible component is big enough for a part
            seen, todo = {node}, [node]
            while todo:
                for nxt in neighbours[todo.pop()] - seen:
                    seen.add(nxt)
                    todo.append(nxt)
            if len(seen) >= self.min_keypoints:
                starts.append(node)
        if not starts:
            return None
        n = len(neighbours)
        size = int(round(np.random.uniform(self.min_fraction, self.max_fraction) * n))
        size = max(self.min_keypoints, min(size, n - 1 if n - 1 >= self.min_keypoints else n))
        part = {starts[np.random.randint(len(starts))]}
        frontier = set().union(*(neighbours[p] for p in part)) - part
        while len(part) < size and frontier:
            node = sorted(frontier)[np.random.randint(len(frontier))]
            part.add(node)
            frontier = (frontier | neighbours[node]) - part
        return sorted(part)

    def select_parts(self, results: dict) -> list[list[int] | None]:
        """For each instance, the indices of the keypoints of its part (``None``: not cropped). Draws from NumPy's
        random generator (seeded by mmengine), as ``transform`` does."""
        visible = np.asarray(results["keypoints_visible"])
        if visible.ndim == 3:
            visible = visible[..., 0]
        visible = visible > 0
        k = visible.shape[1]
        if self.info is not None and len(self.info["names"]) != k:
            raise ConfigError(f"RandomPartCrop metainfo has {len(self.info['names'])} keypoints, the sample has {k}",
                              "give the metainfo of the keypoints at this point of the pipeline")
        lists = self._part_lists(results, k) if self._parts is not None else None
        links = self._meta(results, "skeleton_links", k) if self._parts is None else None
        chosen: list[list[int] | None] = []
        for vis in visible:
            if self.prob == 0 or vis.sum() < self.min_total_keypoints or np.random.rand() >= self.prob:
                chosen.append(None)
                continue
            if lists is None:
                chosen.append(self._grow(vis, links))
                continue
            candidates = [[i for i in ids if vis[i]] for ids in lists]
            candidates = [c for c in candidates if len(c) >= self.min_keypoints]
            chosen.append(candidates[np.random.randint(len(candidates))] if candidates else None)
        return chosen

    # --- the box -------------------------------------------------------------------------------------------------

    def transform(self, results: dict) -> dict:
        parts = self.select_parts(results)
        if all(p is None for p in parts):
            return results
        centers = np.array(results["bbox_center"], dtype=np.float32, copy=True)
        scales = np.array(results["bbox_scale"], dtype=np.float32, copy=True)
        keypoints = np.asarray(results["keypoints"])
        for i, ids in enumerate(parts):
            if ids is None:
                continue
            xy = keypoints[i, ids, :2]
            low, high = xy.min(axis=0), xy.max(axis=0)
            scale = (high - low) * self.padding
            if scale.max() < 1:  # the part's keypoints coincide: no box to crop to
                continue
            centers[i] = (low + high) / 2
            scales[i] = scale
        results["bbox_center"] = centers
        results["bbox_scale"] = scales
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(prob={self.prob}, parts={self.parts}, min_keypoints={self.min_keypoints}, "
                f"min_total_keypoints={self.min_total_keypoints}, min_fraction={self.min_fraction}, "
                f"max_fraction={self.max_fraction}, padding={self.padding})")
