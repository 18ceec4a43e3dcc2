"""``HumanArtScenesDataset``: Human-Art with scenario/group selection, 17 or 21 keypoints, local layouts."""

from __future__ import annotations

import os.path as osp
from collections.abc import Iterable

import mmpose
from mmengine.fileio import exists
from mmengine.logging import MessageHub
from mmpose.datasets.datasets.base import BaseCocoStyleDataset

from mmpose_ext.registry import DATASETS
from mmpx.datasets.humanart import resolve_scenes, scene_of_image
from mmpx.errors import MmpxError

HUMANART_PREFIX = "HumanArt/images/"
# MMPose's own metainfo files, by their installed path (a relative one works too, with a warning per build)
_METAINFO = {n: osp.join(osp.dirname(mmpose.__file__), ".mim", "configs", "_base_", "datasets", name)
             for n, name in ((17, "humanart.py"), (21, "humanart21.py"))}


@DATASETS.register_module()
class HumanArtScenesDataset(BaseCocoStyleDataset):
    """Human-Art (CVPR'2023) that can select scenarios and scenario groups.

    Each data info also carries the image's ``scenario`` (e.g. ``'digital_art'``) and ``group``
    (``'real_human'``, ``'2D_virtual_human'`` or ``'3D_virtual_human'``), so metrics can be grouped by them.
    Images with neither (COCO images in ``*_humanart_coco.json``) have ``None`` and are dropped by any
    scenario selection.

    Args:
        keypoints: 17 (COCO keypoints, the ``keypoints`` field, like MMPose's ``HumanArtDataset``) or 21 (the
            ``keypoints_21`` field with fingers and toes, like ``HumanArt21Dataset``).
        scenes: scenario names to keep (``'digital art'``, ``'Digital_Art'`` and ``'digital_art'`` are
            the same), or group names; None keeps all. The table is in
            :mod:`mmpx.datasets.humanart`.
        groups: group names to keep; the union with ``scenes`` is kept.
        strip_prefix: how to map ``file_name`` (``HumanArt/images/<group>/<scenario>/x.jpg``) to a local file.
            ``'auto'`` (default) strips ``HumanArt/images/`` when the file is not found with it but is found
            without it (decided on the first image); a string strips that prefix wherever present; None never
            strips.
        **kwargs: everything :class:`~mmpose.datasets.datasets.base.BaseCocoStyleDataset` takes. Its
            ``filter_cfg`` may also hold ``scenes`` and ``groups`` (MMPose's own configs pass
            ``filter_cfg=dict(scenes=[...])``, which MMPose's datasets silently ignore).

    Raises:
        MmpxError: an unknown scenario or group name (the message lists the valid ones), or ``keypoints``
            not 17 or 21.
    """

    METAINFO: dict = dict(from_file=_METAINFO[17])

    def __init__(self, *args, keypoints: int = 17, scenes: str | Iterable[str] | None = None,
                 groups: str | Iterable[str] | None = None, strip_prefix: str | None = "auto",
                 **kwargs) -> None:
        if keypoints not in _METAINFO:
            raise MmpxError(f"keypoints={keypoints!r}: Human-Art has 17 or 21 keypoints", "use 17 or 21")
        self.num_keypoints_mode = keypoints
        filter_cfg = dict(kwargs.get("filter_cfg") or {})
        by_args = resolve_scenes(scenes, groups)
        by_filter = resolve_scenes(filter_cfg.get("scenes"), filter_cfg.get("groups"))
        chosen = [c for c in (by_args, by_filter) if c is not None]
        # arguments and filter_cfg both restrict: keep what both allow
        self.selected_scenes = frozenset.intersection(*chosen) if chosen else None
        if self.selected_scenes is not None and not self.selected_scenes:
            raise MmpxError(
                f"HumanArtScenesDataset: scenes={scenes!r}, groups={groups!r} select {', '.join(sorted(by_args))} "
                f"and filter_cfg {dict((k, filter_cfg[k]) for k in ('scenes', 'groups') if k in filter_cfg)} "
                f"selects {', '.join(sorted(by_filter))}: no scenario is in both",
                "both selections apply together (their intersection): drop one, or make them overlap")
        self.strip_prefix = strip_prefix
        self._strip: str | None = None if strip_prefix == "auto" else strip_prefix
        self._strip_decided = strip_prefix != "auto"
        if kwargs.get("metainfo") is None and keypoints == 21:
            kwargs["metainfo"] = dict(from_file=_METAINFO[21])
        super().__init__(*args, **kwargs)
        if self.test_mode and (self.selected_scenes is not None or keypoints == 21):
            # MMPose hands the whole ann_file to CocoMetric, which would then score every image in it (and the
            # 17-keypoint field); without it the metric builds its ground truth from the selected samples
            key = f"{self.metainfo['dataset_name']}_ann_file"
            MessageHub.get_current_instance().update_info_dict({key: None})

    # -- loading ---------------------------------------------------------------------------------------------
    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        ann = raw_data_info["raw_ann_info"]
        if self.num_keypoints_mode == 21:
            if "keypoints_21" not in ann:
                return None
            # the 21-keypoint fields replace the 17 ones, so raw_ann_info (used for evaluation without an
            # ann_file) matches the keypoints trained on
            ann = dict(ann, keypoints=ann["keypoints_21"])
            if "num_keypoints_21" in ann:
                ann["num_keypoints"] = ann["num_keypoints_21"]
            raw_data_info = dict(raw_data_info, raw_ann_info=ann)
        return super().parse_data_info(raw_data_info)

    def _load_annotations(self):
        instances, images = super()._load_annotations()
        self._add_scene_and_path(instances + images)
        return instances, images

    def _load_detection_results(self):
        data_list = super()._load_detection_results()
        self._add_scene_and_path(data_list)
        return data_list

    def _add_scene_and_path(self, infos: list[dict]) -> None:
        """Set ``scenario``, ``group`` and the local ``img_path`` of each info (``self.coco`` is loaded)."""
        images = self.coco.imgs
        for info in infos:
            img = images[info["img_id"]]
            info["scenario"], info["group"] = scene_of_image(img)
            info["img_path"] = self._local_path(img["file_name"])

    def _local_path(self, file_name: str) -> str:
        img_dir = self.data_prefix.get("img") or ""
        if not self._strip_decided:
            self._strip_decided = True
            stripped = file_name[len(HUMANART_PREFIX):]
            if (file_name.startswith(HUMANART_PREFIX) and not exists(osp.join(img_dir, file_name))
                    and exists(osp.join(img_dir, stripped))):
                self._strip = HUMANART_PREFIX
        if self._strip and file_name.startswith(self._strip):
            file_name = file_name[len(self._strip):]
        return osp.join(img_dir, file_name)

    def _get_bottomup_data_infos(self, instance_list, image_list):
        data_list = super()._get_bottomup_data_infos(instance_list, image_list)
        # bottom-up infos gather every instance key into a list; scenario and group are per image
        scene = {img["img_id"]: (img.get("scenario"), img.get("group")) for img in image_list}
        for info in data_list:
            info["scenario"], info["group"] = scene.get(info["img_id"], (None, None))
        return data_list

    # -- selection -------------------------------------------------------------------------------------------
    def filter_data(self) -> list[dict]:
        filter_cfg = self.filter_cfg
        if filter_cfg:
            # MMPose's filter only knows bbox_score_thr; hide our keys from it
            self.filter_cfg = {k: v for k, v in filter_cfg.items() if k not in ("scenes", "groups")} or None
        try:
            data_list = super().filter_data()
        finally:
            self.filter_cfg = filter_cfg
        if self.selected_scenes is None:
            return data_list
        kept = [info for info in data_list if info.get("scenario") in self.selected_scenes]
        if not kept:
            # mmengine fails obscurely on an empty dataset; say what the file has instead
            found = sorted({str(info.get("scenario")) for info in data_list})
            wanted = ", ".join(sorted(self.selected_scenes))
            raise MmpxError(f"no images of scenario(s) {wanted} in {self.ann_file}",
                            f"it has: {', '.join(found) or 'no instances'}")
        return kept
