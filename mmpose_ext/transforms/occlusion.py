"""``RandomOcclusion``: paste occluders over the instance so the model learns to place keypoints it cannot see.

Occluders are random polygons (convex or star-shaped, a random colour with a gradient), textured patches
(noise, stripes, a checkerboard or a blurred random texture, as a rectangle, an ellipse or a convex polygon) and,
optionally, crops of instances from other images. Each has an exact pixel mask: the pixels it paints are the
pixels of its mask, nothing is blended, so whether a keypoint is covered is exact too.

As COCO annotates occluded points (``v=1``: labelled, not visible), covered keypoints stay targets:
``keypoints_visible`` is never changed. With ``record_covered`` the transform writes which keypoints it covered to
``results['keypoints_covered']``, for models that predict visibility.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmpose_ext.registry import TRANSFORMS
from mmpx.errors import ConfigError

KINDS = ("polygon", "texture", "object")
_HINT = ("e.g. dict(type='RandomOcclusion', prob=0.5, num_range=(1, 3), size_range=(0.1, 0.4), "
         "kinds=('polygon', 'texture'))")


def _pair(name: str, value, cast) -> tuple:
    try:
        low, high = (cast(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"RandomOcclusion: {name} must be a pair (min, max), got {value!r}", _HINT) from None
    if low > high:
        raise ConfigError(f"RandomOcclusion: {name} has min > max: {value!r}", f"give {name}=(min, max), min <= max")
    return low, high


def _polygon_mask(rng: np.random.Generator, h: int, w: int, star: bool) -> np.ndarray:
    """A filled convex or star polygon whose vertices span the whole ``h`` x ``w`` window."""
    if star:
        spikes = int(rng.integers(4, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, 2 * spikes)) + rng.uniform(0, 2 * np.pi)
        radii = np.where(np.arange(2 * spikes) % 2 == 0, 1.0, rng.uniform(0.3, 0.7, 2 * spikes))
        points = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    else:
        points = rng.uniform(0, 1, (int(rng.integers(5, 12)), 2))
        points = cv2.convexHull(points.astype(np.float32))[:, 0].astype(np.float64)
    low, span = points.min(0), np.ptp(points, axis=0)
    points = (points - low) / np.where(span > 0, span, 1) * [w - 1, h - 1]
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def _shape_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A rectangle, an ellipse or a convex polygon filling the window."""
    shape = int(rng.integers(3))
    if shape == 0 or min(h, w) < 3:
        return np.ones((h, w), bool)
    if shape == 1:
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (((w - 1) / 2, (h - 1) / 2), (w, h), 0), 1, -1, lineType=cv2.LINE_8)
        return mask.astype(bool)
    return _polygon_mask(rng, h, w, star=False)


def _colour(rng: np.random.Generator, channels: int) -> np.ndarray:
    return rng.uniform(0, 255, channels)


def _texture(rng: np.random.Generator, h: int, w: int, channels: int) -> np.ndarray:
    """Noise (possibly blocky), stripes, a checkerboard or a blurred random texture; float (h, w, channels)."""
    kind = int(rng.integers(4))
    ys, xs = np.mgrid[:h, :w].astype(np.float64)
    a, b = _colour(rng, channels), _colour(rng, channels)
    if kind == 0:  # noise, at full resolution or in blocks
        cell = int(rng.integers(1, 5))
        small = rng.uniform(0, 255, (math.ceil(h / cell), math.ceil(w / cell), channels))
        return np.repeat(np.repeat(small, cell, 0), cell, 1)[:h, :w]
    if kind == 1:  # stripes at a random angle
        theta, period = rng.uniform(0, np.pi), rng.uniform(3, max(4.0, min(h, w) / 2))
        phase = (xs * np.cos(theta) + ys * np.sin(theta)) / period + rng.uniform(0, 1)
        on = (phase % 1.0) < rng.uniform(0.3, 0.7)
        return np.where(on[..., None], a, b)
    if kind == 2:  # checkerboard
        cell = rng.uniform(2, max(3.0, min(h, w) / 3))
        on = ((xs // cell + ys // cell) % 2).astype(bool)
        return np.where(on[..., None], a, b)
    noise = rng.uniform(0, 255, (h, w, channels)).astype(np.float32)  # blurred: blobs, then full contrast
    sigma = float(rng.uniform(1, 4))
    blurred = cv2.GaussianBlur(noise, (0, 0), sigma).reshape(h, w, channels).astype(np.float64)
    low, high = blurred.min(), blurred.max()
    return (blurred - low) / max(high - low, 1e-6) * 255


@TRANSFORMS.register_module()
class RandomOcclusion(BaseTransform):
    """Paste random occluders over each instance; keypoints and their visibility are left as they are.

    Place it after ``TopdownAffine`` (on the crop: the instance's ``bbox`` mapped into the crop, or the whole crop
    when there is no box; keypoints from ``transformed_keypoints``) or before it, on the whole image (occluders
    inside each instance's ``bbox``, keypoints from ``keypoints``; the whole image when there is no box).

    Each instance gets occluders with probability ``prob``: a number drawn from ``num_range``, each a kind drawn
    from ``kinds``, its width and height each a fraction drawn from ``size_range`` of the instance box's width and
    height, placed at random wholly inside the box. Kinds:

    - ``'polygon'``: a random convex or star polygon of a random colour (with a gradient);
    - ``'texture'``: noise, stripes, a checkerboard or a blurred random texture, as a rectangle, an ellipse or a
      convex polygon;
    - ``'object'``: a crop of an instance from another image. A transform has no handle on its dataset, so it
      keeps a bank of up to ``bank_size`` crops of the instance boxes it has seen (a reservoir sample: every image
      seen so far is equally likely to be in it) and pastes one, resized, through a random shape mask. Until the
      bank has a crop (the first image), a ``'texture'`` is pasted instead. Each dataloader worker has its own
      bank.

    Masks are exact: every pixel of an occluder's mask is painted and no other, so a keypoint is covered exactly
    when its pixel (``round(x), round(y)``) is inside a pasted mask. Covered keypoints stay targets, as COCO keeps
    occluded points (``v=1``) labelled.

    Required keys: ``img``, ``transformed_keypoints`` (on the crop) or ``keypoints``; ``bbox`` (optional);
    ``input_center``, ``input_scale``, ``input_size``, ``bbox_rotation`` (optional, to map the box into the crop).

    Modified keys: ``img``. Added keys: ``keypoints_covered`` (``record_covered``); ``occlusion_mask`` and
    ``occluders`` (``record_masks``).

    Args:
        prob: chance that an instance gets occluders.
        num_range: (min, max) occluders per occluded instance, both included.
        size_range: (min, max) occluder width (height) as a fraction of the instance box's width (height), in
            (0, 1].
        kinds: the kinds to draw from, uniformly: ``'polygon'``, ``'texture'``, ``'object'``.
        record_covered: write ``results['keypoints_covered']``, (N, K) float32, 1 where a keypoint's pixel was
            painted by an occluder (computed from the coordinates alone: combine it with ``keypoints_visible``;
            keypoints outside the image are 0). ``keypoints_visible`` is not changed, so covered keypoints stay
            targets. An earlier ``keypoints_covered`` of the same shape is kept (the flags are or-ed).
            ``PackPoseInputs`` does not pack it: add it to ``meta_keys`` or read it in your own packing.
        record_masks: also write ``results['occlusion_mask']`` (H, W) bool, every pixel painted, and
            ``results['occluders']``: per occluder a dict with ``kind``, ``instance``, ``box`` (the instance's
            pixel window, x0, y0, x1, y1 with x1, y1 excluded), ``window`` (the occluder's, same convention) and
            ``mask`` (its own bool mask, window-sized). For tests and pictures.
        bank_size: most crops kept for ``'object'`` occluders.
        seed: seed of the transform's own random generator (``None``: each call draws from NumPy's global one, so
            a pipeline seeded by mmengine repeats).

    Examples:
        >>> import numpy as np
        >>> from mmpose.registry import TRANSFORMS
        >>> t = TRANSFORMS.build(dict(type='RandomOcclusion', prob=1.0, num_range=(2, 2), size_range=(0.3, 0.5),
        ...                           record_covered=True, record_masks=True, seed=0))
        >>> out = t(dict(img=np.zeros((64, 64, 3), np.uint8), transformed_keypoints=np.array([[[10., 20.],
        ...          [40., 30.]]]), keypoints_visible=np.ones((1, 2))))
        >>> len(out['occluders']), out['keypoints_visible'].tolist()  # visibility unchanged: still targets
        (2, [[1.0, 1.0]])
        >>> mask = out['occlusion_mask']
        >>> out['keypoints_covered'].tolist() == [[float(mask[20, 10]), float(mask[30, 40])]]
        True
    """

    def __init__(self, prob: float = 0.5, num_range: Sequence[int] = (1, 3),
                 size_range: Sequence[float] = (0.1, 0.4), kinds: Sequence[str] = ("polygon", "texture"),
                 record_covered: bool = False, record_masks: bool = False, bank_size: int = 64,
                 seed: int | None = None) -> None:
        if not 0 <= float(prob) <= 1:
            raise ConfigError(f"RandomOcclusion: prob must be between 0 and 1, got {prob!r}", _HINT)
        self.num_range = _pair("num_range", num_range, int)
        if self.num_range[0] < 0:
            raise ConfigError(f"RandomOcclusion: num_range must not be negative, got {num_range!r}", _HINT)
        self.size_range = _pair("size_range", size_range, float)
        if not 0 < self.size_range[0] <= self.size_range[1] <= 1:
            raise ConfigError(f"RandomOcclusion: size_range must lie in (0, 1] (a fraction of the instance box's "
                              f"side), got {size_range!r}", "e.g. size_range=(0.1, 0.4)")
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        if not kinds:
            raise ConfigError("RandomOcclusion: kinds is empty", f"name at least one of {', '.join(KINDS)}")
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ConfigError(f"RandomOcclusion: unknown kind(s) {', '.join(map(repr, unknown))}",
                              f"kinds are {', '.join(map(repr, KINDS))}")
        if int(bank_size) < 1:
            raise ConfigError(f"RandomOcclusion: bank_size must be at least 1, got {bank_size!r}", "e.g. 64")
        self.prob = float(prob)
        self.kinds = kinds
        self.record_covered = record_covered
        self.record_masks = record_masks
        self.bank_size = int(bank_size)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._bank: list[np.ndarray] = []
        self._seen = 0

    # --- geometry ------------------------------------------------------------------------------------------

    @staticmethod
    def _crop_boxes(results: dict, width: int, height: int) -> np.ndarray | None:
        """The instance boxes mapped into the crop (as ``TopdownAffine`` warped the image), or None."""
        if results.get("bbox") is None or results.get("input_center") is None or results.get("input_scale") is None:
            return None
        from mmpose.structures.bbox import get_warp_matrix

        rotation = results.get("bbox_rotation")
        rot = float(np.ravel(rotation)[0]) if rotation is not None and np.size(rotation) else 0.0
        size = results.get("input_size") or (width, height)
        warp = get_warp_matrix(np.asarray(results["input_center"], np.float32),
                               np.asarray(results["input_scale"], np.float32), rot, output_size=tuple(size))
        boxes = np.asarray(results["bbox"], np.float32).reshape(-1, 4)
        corners = boxes[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)
        moved = cv2.transform(corners.reshape(-1, 1, 2), warp).reshape(-1, 4, 2)
        return np.concatenate([moved.min(1), moved.max(1)], axis=1)

    @staticmethod
    def _window(box, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The pixels of a box (x0, y0, x1, y1 float) inside the image: x0, y0 included, x1, y1 excluded."""
        x0, y0 = max(0, math.ceil(float(box[0]) - 1e-6)), max(0, math.ceil(float(box[1]) - 1e-6))
        x1, y1 = min(width, math.floor(float(box[2]) + 1e-6) + 1), min(height, math.floor(float(box[3]) + 1e-6) + 1)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    # --- occluders -----------------------------------------------------------------------------------------

    def _patch(self, rng: np.random.Generator, kind: str, h: int, w: int, channels: int):
        """(pixels float (h, w, channels), mask bool (h, w), the kind actually drawn)."""
        if kind == "object" and self._bank:
            crop = self._bank[int(rng.integers(len(self._bank)))]
            if crop.shape[2] == channels:
                pixels = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, channels)
                return pixels.astype(np.float64), _shape_mask(rng, h, w), "object"
            kind = "texture"
        if kind == "polygon":
            mask = _polygon_mask(rng, h, w, star=bool(rng.random() < 0.5))
            a, b = _colour(rng, channels), _colour(rng, channels)
            theta = rng.uniform(0, 2 * np.pi)
            ys, xs = np.mgrid[:h, :w]
            t = (xs * np.cos(theta) + ys * np.sin(theta)) / max(h, w, 1)
            t = (t - t.min()) / max(float(np.ptp(t)), 1e-6) * rng.uniform(0, 0.5)  # a gentle gradient
            return a + (b - a) * t[..., None], mask, "polygon"
        return _texture(rng, h, w, channels), _shape_mask(rng, h, w), "texture"

    def _remember(self, rng: np.random.Generator, img: np.ndarray, windows: list) -> None:
        """Reservoir-sample one instance crop of this image into the bank (crops at most 64 px a side)."""
        if not windows:
            return
        x0, y0, x1, y1 = windows[int(rng.integers(len(windows)))]
        crop = img[y0:y1, x0:x1]
        scale = min(1.0, 64 / max(crop.shape[:2]))
        if scale < 1:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        crop = crop.reshape(crop.shape[0], crop.shape[1], -1).copy()
        self._seen += 1
        if len(self._bank) < self.bank_size:
            self._bank.append(crop)
        else:
            slot = int(rng.integers(self._seen))
            if slot < self.bank_size:
                self._bank[slot] = crop

    def transform(self, results: dict) -> dict:
        rng = self._rng if self._rng is not None else np.random.default_rng(np.random.randint(0, 2**31 - 1))
        img = results["img"]
        height, width = img.shape[:2]
        channels = img.shape[2] if img.ndim == 3 else 1
        tk = results.get("transformed_keypoints")
        on_crop = (tk is not None and np.ndim(tk) == 3) or results.get("input_center") is not None
        keypoints = tk if on_crop else results.get("keypoints")
        keypoints = np.asarray(keypoints, np.float32) if keypoints is not None and np.ndim(keypoints) == 3 else None

        boxes = self._crop_boxes(results, width, height) if on_crop else (
            np.asarray(results["bbox"], np.float32).reshape(-1, 4) if results.get("bbox") is not None else None)
        if boxes is None:
            count = len(keypoints) if keypoints is not None else 1
            boxes = np.tile(np.array([[0, 0, width - 1, height - 1]], np.float32), (max(count, 1), 1))
        windows = [self._window(b, width, height) for b in boxes]

        original = img if "object" in self.kinds else None
        out = img.copy()
        canvas = out.reshape(height, width, channels)
        painted = np.zeros((height, width), bool)
        occluders = []
        lo, hi = self.size_range
        for index, window in enumerate(windows):
            if window is None or rng.random() >= self.prob:
                continue
            bx0, by0, bx1, by1 = window
            bw, bh = bx1 - bx0, by1 - by0
            for _ in range(int(rng.integers(self.num_range[0], self.num_range[1] + 1))):
                kind = self.kinds[int(rng.integers(len(self.kinds)))]
                w = min(bw, max(1, round(rng.uniform(lo, hi) * bw)))
                h = min(bh, max(1, round(rng.uniform(lo, hi) * bh)))
                x0 = bx0 + int(rng.integers(bw - w + 1))
                y0 = by0 + int(rng.integers(bh - h + 1))
                pixels, mask, drawn = self._patch(rng, kind, h, w, channels)
                if not mask.any():
                    mask[h // 2, w // 2] = True
                if np.issubdtype(out.dtype, np.integer):
                    info = np.iinfo(out.dtype)
                    pixels = np.clip(np.round(pixels), info.min, info.max)
                region = canvas[y0:y0 + h, x0:x0 + w]
                region[mask] = pixels[mask].astype(out.dtype)
                painted[y0:y0 + h, x0:x0 + w] |= mask
                occluders.append(dict(kind=drawn, instance=index, box=window, window=(x0, y0, x0 + w, y0 + h),
                                      mask=mask))
        if original is not None:
            self._remember(rng, original.reshape(height, width, channels), [w for w in windows if w is not None])
        results["img"] = out

        if self.record_covered:
            covered = self.covered(keypoints, painted) if keypoints is not None else np.zeros((0, 0), np.float32)
            previous = results.get("keypoints_covered")
            if previous is not None and np.shape(previous) == covered.shape:
                covered = np.maximum(covered, np.asarray(previous, np.float32))
            results["keypoints_covered"] = covered
        if self.record_masks:
            results["occlusion_mask"] = painted
            results["occluders"] = occluders
        return results

    @staticmethod
    def covered(keypoints: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(N, K) float32: 1 where keypoint ``(x, y)``'s pixel ``(round(x), round(y))`` is set in ``mask``
        (H, W); keypoints outside the image are 0."""
        xy = np.floor(np.asarray(keypoints, np.float64)[..., :2] + 0.5).astype(np.int64)
        height, width = mask.shape
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)
        flags = np.zeros(xy.shape[:-1], np.float32)
        flags[inside] = mask[xy[..., 1][inside], xy[..., 0][inside]]
        return flags

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(prob={self.prob}, num_range={self.num_range}, size_range={self.size_range}, "
                f"kinds={self.kinds}, record_covered={self.record_covered}, seed={self.seed})")
