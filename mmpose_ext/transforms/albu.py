"""``AlbumentationsKeypoints``: albumentations with the keypoints, their visibility and the boxes.

MMPose's own ``Albumentation`` hands albumentations the image only, so it can use only pixel-level transforms.
This bridge hands over the keypoints too (and the boxes, on a whole image), so geometric transforms (affine,
perspective, elastic, flips, rotations) move them with the pixels. Two rules MMPose needs and albumentations
does not know:

- a keypoint that leaves the image becomes invisible (``keypoints_visible = 0``), with its coordinates as the
  transform put them, never clipped onto the border (a clipped point would teach the model a wrong place);
- a transform that mirrors the image (a flip, a transpose, an affine with a reflection) swaps left and right
  keypoints with the dataset's ``flip_indices``, as MMPose's ``RandomFlip`` does. Mirroring is detected from the
  transform itself: a small triangle at the image centre travels with the keypoints, and its orientation says
  whether the image was reflected, whatever the transform was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmpose_ext.registry import TRANSFORMS
from mmpx.errors import ConfigError


def _orientation(points: np.ndarray) -> float:
    """Twice the signed area of a triangle: its sign is its orientation."""
    (x0, y0), (x1, y1), (x2, y2) = points
    return float((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0))


@TRANSFORMS.register_module()
class AlbumentationsKeypoints(BaseTransform):
    """Apply albumentations transforms to the image, the keypoints (with visibility) and the boxes.

    Place it after ``TopdownAffine`` (it then works on the crop and on ``transformed_keypoints``, as
    ``GenerateTarget`` reads them) or before ``GetBBoxCenterScale`` (on the whole image: ``keypoints`` and
    ``bbox`` move; the box becomes the extent of its transformed corners, inside the image).

    Required keys: ``img``, ``keypoints`` or ``transformed_keypoints``, ``keypoints_visible``; ``bbox`` on a
    whole image; ``flip_indices`` (from the dataset's metainfo) when a transform may mirror.

    Modified keys: ``img``, ``transformed_keypoints`` or ``keypoints`` and ``bbox``, ``keypoints_visible``;
    ``img_shape``.

    Args:
        transforms: albumentations transforms as config dicts, e.g.
            ``[dict(type='Affine', rotate=(-30, 30), p=0.5), dict(type='Perspective', p=0.3)]``; nested
            ``OneOf``/``SomeOf`` take ``transforms=[...]``. albumentations 1.x argument names of
            ``CoarseDropout``/``GridDropout`` are translated; any argument albumentations would drop is an error.
        swap_on_mirror: swap left/right keypoints (``flip_indices``) when the transform mirrors the image.
        seed: seed of albumentations' own random generator (``None``: from NumPy's, so a pipeline seeded by
            mmengine repeats).

    Examples:
        >>> import numpy as np
        >>> from mmpose.registry import TRANSFORMS
        >>> t = TRANSFORMS.build(dict(type='AlbumentationsKeypoints',
        ...                           transforms=[dict(type='HorizontalFlip', p=1.0)]))
        >>> out = t(dict(img=np.zeros((20, 40, 3), np.uint8), transformed_keypoints=np.array([[[1., 2.],
        ...          [30., 5.]]]), keypoints_visible=np.ones((1, 2)), flip_indices=[1, 0]))
        >>> out["transformed_keypoints"].tolist()  # x -> 39 - x (MMPose's convention), then left and right swapped
        [[[9.0, 5.0], [38.0, 2.0]]]
    """

    def __init__(self, transforms: Sequence[dict], swap_on_mirror: bool = True, seed: int | None = None) -> None:
        import albumentations as A

        from mmpose_ext.compat.albumentations import build

        if not transforms:
            raise ConfigError("AlbumentationsKeypoints needs at least one transform",
                              "e.g. transforms=[dict(type='Affine', rotate=(-30, 30), p=0.5)]")
        self.transforms = list(transforms)
        self.swap_on_mirror = swap_on_mirror
        self.seed = seed
        self.aug = A.Compose([build(t) for t in self.transforms],
                             keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
                             seed=seed)

    def transform(self, results: dict) -> dict:
        on_crop = results.get("transformed_keypoints") is not None and np.ndim(results["transformed_keypoints"]) == 3
        key = "transformed_keypoints" if on_crop else "keypoints"
        if not on_crop and "bbox_center" in results:
            raise ConfigError("AlbumentationsKeypoints on a whole image must come before GetBBoxCenterScale "
                              "(the box centre and scale would not follow the transform)",
                              "put it before GetBBoxCenterScale, or after TopdownAffine to work on the crop")
        img = results["img"]
        height, width = img.shape[:2]
        keypoints = np.asarray(results[key], dtype=np.float32)
        visible = np.asarray(results["keypoints_visible"], dtype=np.float32).copy()
        num, k = keypoints.shape[:2]
        points = [keypoints[..., :2].reshape(-1, 2)]
        boxes = None
        if not on_crop and results.get("bbox") is not None:
            boxes = np.asarray(results["bbox"], dtype=np.float32).reshape(-1, 4)
            corners = boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 2)  # each box's four corners
            points.append(corners)
        side = max(2.0, 0.05 * min(width, height))
        cx, cy = width / 2, height / 2
        triangle = np.array([[cx, cy], [cx + side, cy], [cx, cy + side]], np.float32)
        points.append(triangle)
        if self.seed is None:
            self.aug.set_random_seed(int(np.random.randint(0, 2**31 - 1)))
        out = self.aug(image=img, keypoints=np.concatenate(points))
        moved = np.asarray(out["keypoints"], dtype=np.float32)[:, :2]
        new_img = out["image"]
        new_h, new_w = new_img.shape[:2]
        new_kpts = keypoints.copy()
        new_kpts[..., :2] = moved[: num * k].reshape(num, k, 2)
        inside = ((new_kpts[..., 0] >= 0) & (new_kpts[..., 0] < new_w) & (new_kpts[..., 1] >= 0)
                  & (new_kpts[..., 1] < new_h))
        visible = visible * inside
        mirrored = _orientation(moved[-3:]) * _orientation(triangle) < 0
        if mirrored and self.swap_on_mirror:
            flip = results.get("flip_indices")
            if flip is None or len(flip) != k:
                raise ConfigError(f"a transform mirrored the image but the sample has no flip_indices for its {k} "
                                  "keypoints", "use a dataset with metainfo swap pairs, or swap_on_mirror=False")
            new_kpts = new_kpts[:, list(flip)]
            visible = visible[:, list(flip)]
        results[key] = new_kpts
        results["keypoints_visible"] = visible
        if boxes is not None:
            corners = moved[num * k: num * k + 4 * len(boxes)].reshape(-1, 4, 2)
            low = np.clip(corners.min(axis=1), 0, [new_w, new_h])
            high = np.clip(corners.max(axis=1), 0, [new_w, new_h])
            results["bbox"] = np.concatenate([low, high], axis=1).astype(np.float32)
        results["img"] = new_img
        results["img_shape"] = (new_h, new_w)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transforms={self.transforms}, swap_on_mirror={self.swap_on_mirror})"
