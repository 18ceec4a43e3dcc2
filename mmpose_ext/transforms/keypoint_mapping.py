"""``KeypointMapping``: MMPose's ``KeypointConverter`` with the index list built from two metainfo files' names.

To train one model on datasets with different skeletons, MMPose converts each dataset's keypoints to the model's
skeleton with ``KeypointConverter(num_keypoints, mapping=[(source_index, target_index), ...])``, written by
hand. ``KeypointMapping`` builds that list from the keypoint names of the two metainfo files
(:func:`mmpx.metainfo.mapping.map_keypoints`: aliases, then equal names, then names equal ignoring case and
``_``/``-``), runs ``KeypointConverter`` with it (so the keypoints and visibilities are exactly what it gives),
and puts the target's metainfo in the sample: ``flip_indices`` (``KeypointConverter`` leaves the source's, wrong
for a flip after it), ``flip_pairs``, ``upper_body_ids``, ``lower_body_ids``, ``skeleton_links`` and
``dataset_keypoint_weights``. What was kept, dropped and left missing is logged once per transform.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from mmcv.transforms import BaseTransform

from mmpose_ext.registry import TRANSFORMS
from mmpx.metainfo.mapping import KeypointMap, map_keypoints


@TRANSFORMS.register_module()
class KeypointMapping(BaseTransform):
    """Convert keypoints from a source skeleton to a target skeleton, matched by keypoint name.

    Target keypoints that no source keypoint fills get coordinates 0 and visibility 0, with loss weight 0
    (``keypoints_visible[..., 1]``, as ``KeypointConverter`` sets it), so they teach the model nothing. Put it in
    each sub-dataset's pipeline of a ``CombinedDataset`` (MMPose's place for ``KeypointConverter``), or first in
    the pipeline of a dataset whose skeleton differs from the model's (before any flip: the flip then uses the
    target's ``flip_indices``).

    Required keys: ``keypoints``, ``keypoints_visible`` (``(N, K)`` or ``(N, K, 2)``) with the source's K.

    Modified keys: ``keypoints`` (``(N, K_target, 2)``), ``keypoints_visible`` (``(N, K_target, 2)``: visibility
    and weight), ``flip_indices``, ``flip_pairs``, ``upper_body_ids``, ``lower_body_ids``, ``skeleton_links``,
    ``dataset_keypoint_weights`` (the target's).

    Args:
        source: metainfo of the samples: a file path, ``'mmpose::_base_/datasets/NAME.py'``, a path under
            MMPose's ``configs/_base_/datasets/`` (found as MMPose finds it), ``dict(from_file=...)``, or a
            ``dataset_info`` dict.
        target: metainfo of the model, in the same forms.
        aliases: ``{source name: target name}`` for keypoints named differently.

    Raises:
        ConfigError: an unreadable metainfo, an alias to an unknown name, no keypoint in common (both name
            lists in the message), or a sample whose keypoint count is not the source's.

    Examples:
        >>> import numpy as np
        >>> from mmpose.registry import TRANSFORMS
        >>> from mmpx.metainfo import build_metainfo
        >>> head = build_metainfo('head', ['right_eye', 'left_eye', 'nose', 'chin'])
        >>> t = TRANSFORMS.build(dict(type='KeypointMapping', source='mmpose::_base_/datasets/coco.py',
        ...                           target=head))
        >>> t.map.pairs  # (COCO index, head index), as KeypointConverter's mapping
        [(2, 0), (1, 1), (0, 2)]
        >>> out = t(dict(keypoints=np.arange(34.).reshape(1, 17, 2), keypoints_visible=np.ones((1, 17))))
        >>> out['keypoints'][0].tolist(), out['keypoints_visible'][0, :, 0].tolist(), out['flip_indices']
        ([[4.0, 5.0], [2.0, 3.0], [0.0, 1.0], [0.0, 0.0]], [1.0, 1.0, 1.0, 0.0], [1, 0, 2, 3])
    """

    def __init__(self, source: str | os.PathLike | Mapping, target: str | os.PathLike | Mapping,
                 aliases: Mapping[str, str] | None = None) -> None:
        from mmpose.datasets.transforms import KeypointConverter

        self.source, self.target = source, target
        self.aliases = dict(aliases or {})
        self.map: KeypointMap = map_keypoints(source, target, self.aliases)
        self.num_source = len(self.map.source_names)
        self.converter = KeypointConverter(num_keypoints=len(self.map.target_names), mapping=self.map.pairs)
        self._reported = False

    @property
    def mapping(self) -> list[tuple[int, int]]:
        """The ``mapping`` argument of an equivalent ``KeypointConverter``."""
        return list(self.map.pairs)

    def transform(self, results: dict) -> dict:
        from mmpx.errors import ConfigError

        if not self._reported:
            from mmengine.logging import print_log

            print_log(f"KeypointMapping {self.map.report()}", logger="current")
            self._reported = True
        k = np.shape(results["keypoints"])[1]
        if k != self.num_source:
            raise ConfigError(f"KeypointMapping expects {self.num_source} keypoints ({self.map.source}), the sample "
                              f"has {k}", "set source= to the metainfo of the dataset this pipeline reads")
        results = self.converter(results)
        info = self.map.target_info
        results["flip_indices"] = list(info["flip_indices"])
        results["flip_pairs"] = [tuple(p) for p in info["flip_pairs"]]
        results["upper_body_ids"] = list(info["upper_body_ids"])
        results["lower_body_ids"] = list(info["lower_body_ids"])
        results["skeleton_links"] = [tuple(p) for p in info["skeleton_links"]]
        results["dataset_keypoint_weights"] = np.array(info["joint_weights"], dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.map.source!r}, target={self.map.target!r}, " \
               f"aliases={self.aliases}, mapping={self.map.pairs})"
