"""MMPose's top-down pre- and post-processing in plain numpy and OpenCV (no torch).

Each function mirrors one MMPose 1.3.2 function, named in its docstring, operation for operation (same dtypes,
same quirks such as the ``1 < x`` bound of ``refine_keypoints``), so that results match MMPose's to float
precision. Batched over instances where MMPose loops, which gives the same numbers.
"""

from __future__ import annotations

import cv2
import numpy as np

# codecs decoded here; any other codec is decoded by building MMPose's own (see ort.py)
NUMPY_CODECS = ("SimCCLabel", "MSRAHeatmap", "UDPHeatmap")


# ---- pre-processing: GetBBoxCenterScale, TopdownAffine ----


def bbox_xyxy2cs(bboxes: np.ndarray, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """``mmpose.structures.bbox.bbox_xyxy2cs`` for (N, 4) boxes: centres and padded scales, (N, 2) each."""
    scale = (bboxes[..., 2:] - bboxes[..., :2]) * padding
    center = (bboxes[..., 2:] + bboxes[..., :2]) * 0.5
    return center, scale


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """``TopdownAffine._fix_aspect_ratio``: grow (w, h) to the model's w/h ratio."""
    w, h = np.hsplit(scale, [1])
    return np.where(w > h * aspect_ratio, np.hstack([w, w / aspect_ratio]), np.hstack([h * aspect_ratio, h]))


def _rotate_point(pt: np.ndarray, angle_rad: float) -> np.ndarray:
    sn, cs = np.sin(angle_rad), np.cos(angle_rad)
    return np.array([[cs, -sn], [sn, cs]]) @ pt


def _get_3rd_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    direction = a - b
    return b + np.r_[-direction[1], direction[0]]


def get_warp_matrix(center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rot: float = 0.0):
    """``mmpose.structures.bbox.get_warp_matrix`` (no shift, aspect ratio fixed, forward direction)."""
    src_w = scale[0]
    dst_w, dst_h = output_size
    rot_rad = np.deg2rad(rot)
    src_dir = _rotate_point(np.array([src_w * -0.5, 0.0]), rot_rad)
    dst_dir = np.array([dst_w * -0.5, 0.0])
    shift = np.array((0.0, 0.0))
    src = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center + scale * shift
    src[1, :] = center + src_dir + scale * shift
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0, :] = [dst_w * 0.5, dst_h * 0.5]
    dst[1, :] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2, :] = _get_3rd_point(src[0, :], src[1, :])
    dst[2, :] = _get_3rd_point(dst[0, :], dst[1, :])
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def get_udp_warp_matrix(center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rot: float = 0.0):
    """``mmpose.structures.bbox.get_udp_warp_matrix``."""
    import math

    input_size = center * 2
    rot_rad = np.deg2rad(rot)
    warp_mat = np.zeros((2, 3), dtype=np.float32)
    scale_x = (output_size[0] - 1) / scale[0]
    scale_y = (output_size[1] - 1) / scale[1]
    cos, sin = math.cos(rot_rad), math.sin(rot_rad)
    warp_mat[0, 0] = cos * scale_x
    warp_mat[0, 1] = -sin * scale_x
    warp_mat[0, 2] = scale_x * (-0.5 * input_size[0] * cos + 0.5 * input_size[1] * sin + 0.5 * scale[0])
    warp_mat[1, 0] = sin * scale_y
    warp_mat[1, 1] = cos * scale_y
    warp_mat[1, 2] = scale_y * (-0.5 * input_size[0] * sin - 0.5 * input_size[1] * cos + 0.5 * scale[1])
    return warp_mat


def crop_instances(image, bboxes, input_size, padding=1.25, use_udp=False):
    """GetBBoxCenterScale + TopdownAffine for every box: (N, h, w, 3) uint8 crops, centres and scales (N, 2)."""
    w, h = input_size
    center, scale = bbox_xyxy2cs(bboxes, padding)
    scale = fix_aspect_ratio(scale, aspect_ratio=w / h)
    warp = get_udp_warp_matrix if use_udp else get_warp_matrix
    crops = np.empty((len(bboxes), int(h), int(w), 3), dtype=image.dtype)
    for i in range(len(bboxes)):
        mat = warp(center[i], scale[i], output_size=(w, h))
        crops[i] = cv2.warpAffine(image, mat, (int(w), int(h)), flags=cv2.INTER_LINEAR)
    return crops, center, scale


def normalize(crops: np.ndarray, mean, std, bgr_to_rgb: bool, out: np.ndarray | None = None) -> np.ndarray:
    """``PoseDataPreprocessor``: channel swap, float32, (x - mean) / std, NHWC -> NCHW.

    Each channel is written straight into the (N, 3, H, W) float32 ``out`` (allocated when None): the same float32
    operations as converting, subtracting and dividing the whole array, so bit-identical, without its three
    temporaries and the final transpose copy (about 10x less time per crop).
    """
    n, h, w, _ = crops.shape
    if out is None:
        out = np.empty((n, 3, h, w), np.float32)
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    for c in range(3):
        plane = out[:, c]
        np.subtract(crops[..., 2 - c if bgr_to_rgb else c], mean[c], out=plane, dtype=np.float32)
        np.divide(plane, std[c], out=plane)
    return out


def to_image_space(keypoints: np.ndarray, input_size, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``TopdownPoseEstimator.add_pred_to_datasample``: input-space keypoints (N, K, 2) to image pixels."""
    return keypoints / np.asarray(input_size) * scale[:, None] + center[:, None] - 0.5 * scale[:, None]


# ---- flip test: mmpose.models.utils.tta ----


def flip_vectors(x: np.ndarray, y: np.ndarray, flip_indices) -> tuple[np.ndarray, np.ndarray]:
    """``flip_vectors``: swap symmetric keypoints, reverse the x vectors."""
    return x[:, flip_indices, ::-1], y[:, flip_indices]


def flip_heatmaps(heatmaps: np.ndarray, flip_indices, flip_mode="heatmap", shift_heatmap=False) -> np.ndarray:
    """``flip_heatmaps`` for (B, C, H, W) heatmaps, in the three modes MMPose has."""
    B, C, H, W = heatmaps.shape
    if flip_mode == "heatmap":
        heatmaps = heatmaps[..., ::-1][:, flip_indices]
    elif flip_mode == "udp_combined":
        heatmaps = heatmaps.reshape(B, C // 3, 3, H, W)[..., ::-1][:, flip_indices].copy()
        heatmaps[:, :, 1] = -heatmaps[:, :, 1]
        heatmaps = heatmaps.reshape(B, C, H, W)
    elif flip_mode == "offset":
        heatmaps = heatmaps.reshape(B, C // 2, -1, H, W)[..., ::-1][:, flip_indices].copy()
        heatmaps[:, :, 0] = -heatmaps[:, :, 0]
        heatmaps = heatmaps.reshape(B, C, H, W)
    else:
        raise ValueError(f'Invalid flip_mode value "{flip_mode}"')
    heatmaps = np.ascontiguousarray(heatmaps)
    if shift_heatmap:
        heatmaps[..., 1:] = heatmaps[..., :-1].copy()
    return heatmaps


# ---- decoding: mmpose.codecs.utils and the codecs' decode() ----


def get_simcc_maximum(simcc_x: np.ndarray, simcc_y: np.ndarray, apply_softmax: bool = False):
    """``get_simcc_maximum`` for (N, K, W) vectors: locations (N, K, 2) and values (N, K)."""
    N, K, _ = simcc_x.shape
    sx, sy = simcc_x.reshape(N * K, -1), simcc_y.reshape(N * K, -1)
    if apply_softmax:
        sx = sx - np.max(sx, axis=1, keepdims=True)
        sy = sy - np.max(sy, axis=1, keepdims=True)
        ex, ey = np.exp(sx), np.exp(sy)
        sx, sy = ex / np.sum(ex, axis=1, keepdims=True), ey / np.sum(ey, axis=1, keepdims=True)
    locs = np.stack((np.argmax(sx, axis=1), np.argmax(sy, axis=1)), axis=-1).astype(np.float32)
    vals = np.minimum(np.amax(sx, axis=1), np.amax(sy, axis=1))
    locs[vals <= 0.0] = -1
    return locs.reshape(N, K, 2), vals.reshape(N, K)


def get_heatmap_maximum(heatmaps: np.ndarray):
    """``get_heatmap_maximum`` for (N, K, H, W) heatmaps: locations (N, K, 2) and values (N, K)."""
    N, K, H, W = heatmaps.shape
    flat = heatmaps.reshape(N * K, -1)
    y_locs, x_locs = np.unravel_index(np.argmax(flat, axis=1), shape=(H, W))
    locs = np.stack((x_locs, y_locs), axis=-1).astype(np.float32)
    vals = np.amax(flat, axis=1)
    locs[vals <= 0.0] = -1
    return locs.reshape(N, K, 2), vals.reshape(N, K)


def gaussian_blur(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """``gaussian_blur`` of (K, H, W) heatmaps, in place, each map keeping its maximum."""
    border = (kernel - 1) // 2
    K, H, W = heatmaps.shape
    for k in range(K):
        origin_max = np.max(heatmaps[k])
        dr = np.zeros((H + 2 * border, W + 2 * border), dtype=np.float32)
        dr[border:-border, border:-border] = heatmaps[k].copy()
        dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)
        heatmaps[k] = dr[border:-border, border:-border].copy()
        heatmaps[k] *= origin_max / np.max(heatmaps[k])
    return heatmaps


def gaussian_blur1d(simcc: np.ndarray, kernel: int = 11) -> np.ndarray:
    """``gaussian_blur1d`` of (N, K, W) vectors, in place."""
    border = (kernel - 1) // 2
    N, K, Wx = simcc.shape
    for n in range(N):
        for k in range(K):
            origin_max = np.max(simcc[n, k])
            dr = np.zeros((1, Wx + 2 * border), dtype=np.float32)
            dr[0, border:-border] = simcc[n, k].copy()
            dr = cv2.GaussianBlur(dr, (kernel, 1), 0)
            simcc[n, k] = dr[0, border:-border].copy()
            simcc[n, k] *= origin_max / np.max(simcc[n, k])
    return simcc


def refine_keypoints(keypoints: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """``refine_keypoints``: a quarter pixel towards the higher neighbour; keypoints (K, 2), heatmaps (K, H, W)."""
    K, H, W = heatmaps.shape
    x, y = keypoints[:, 0].astype(int), keypoints[:, 1].astype(int)
    k = np.arange(K)
    # MMPose's bounds, kept as they are (note 1 < x, not 0 < x)
    ok_x = (1 < x) & (x < W - 1) & (0 < y) & (y < H)
    ok_y = (1 < y) & (y < H - 1) & (0 < x) & (x < W)
    xs, ys = np.clip(x, 1, W - 2), np.clip(y, 1, H - 2)
    yc, xc = np.clip(y, 0, H - 1), np.clip(x, 0, W - 1)
    dx = np.where(ok_x, heatmaps[k, yc, xs + 1] - heatmaps[k, yc, xs - 1], 0.0)
    dy = np.where(ok_y, heatmaps[k, ys + 1, xc] - heatmaps[k, ys - 1, xc], 0.0)
    keypoints += np.sign(np.stack([dx, dy], axis=-1)).astype(np.float32) * 0.25
    return keypoints


def refine_keypoints_dark(keypoints: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """``refine_keypoints_dark`` (DARK, MSRAHeatmap's ``unbiased``); keypoints (K, 2), heatmaps (K, H, W)."""
    K, H, W = heatmaps.shape
    heatmaps = gaussian_blur(heatmaps, blur_kernel_size)
    np.maximum(heatmaps, 1e-10, out=heatmaps)
    np.log(heatmaps, heatmaps)
    for k in range(K):
        x, y = keypoints[k, :2].astype(int)
        if 1 < x < W - 2 and 1 < y < H - 2:
            hm = heatmaps[k]
            dx = 0.5 * (hm[y, x + 1] - hm[y, x - 1])
            dy = 0.5 * (hm[y + 1, x] - hm[y - 1, x])
            dxx = 0.25 * (hm[y, x + 2] - 2 * hm[y, x] + hm[y, x - 2])
            dxy = 0.25 * (hm[y + 1, x + 1] - hm[y - 1, x + 1] - hm[y + 1, x - 1] + hm[y - 1, x - 1])
            dyy = 0.25 * (hm[y + 2, x] - 2 * hm[y, x] + hm[y - 2, x])
            if dxx * dyy - dxy**2 != 0:
                offset = -np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ np.array([[dx], [dy]])
                keypoints[k, :2] += np.squeeze(np.array(offset.T), axis=0)
    return keypoints


def refine_keypoints_dark_udp(keypoints: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """``refine_keypoints_dark_udp``; keypoints (K, 2), heatmaps (K, H, W)."""
    K, H, W = heatmaps.shape
    heatmaps = gaussian_blur(heatmaps, blur_kernel_size)
    np.clip(heatmaps, 1e-3, 50.0, heatmaps)
    np.log(heatmaps, heatmaps)
    pad = np.pad(heatmaps, ((0, 0), (1, 1), (1, 1)), mode="edge").flatten()
    index = keypoints[:, 0] + 1 + (keypoints[:, 1] + 1) * (W + 2)
    index += (W + 2) * (H + 2) * np.arange(0, K)
    index = index.astype(int).reshape(-1, 1)
    i_ = pad[index]
    ix1, iy1, ix1y1 = pad[index + 1], pad[index + W + 2], pad[index + W + 3]
    ix1_y1_, ix1_, iy1_ = pad[index - W - 3], pad[index - 1], pad[index - 2 - W]
    derivative = np.concatenate([0.5 * (ix1 - ix1_), 0.5 * (iy1 - iy1_)], axis=1).reshape(K, 2, 1)
    dxx = ix1 - 2 * i_ + ix1_
    dyy = iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.concatenate([dxx, dxy, dxy, dyy], axis=1).reshape(K, 2, 2)
    hessian = np.linalg.inv(hessian + np.finfo(np.float32).eps * np.eye(2))
    keypoints -= np.einsum("imn,ink->imk", hessian, derivative).squeeze()
    return keypoints


def refine_simcc_dark(keypoints: np.ndarray, simcc: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """``refine_simcc_dark``; keypoints (N, K) along one axis, simcc (N, K, W)."""
    simcc = gaussian_blur1d(simcc, blur_kernel_size)
    np.clip(simcc, 1e-3, 50.0, simcc)
    np.log(simcc, simcc)
    simcc = np.pad(simcc, ((0, 0), (0, 0), (2, 2)), "edge")
    for n in range(simcc.shape[0]):
        px = (keypoints[n] + 2.5).astype(np.int64).reshape(-1, 1)
        dx0 = np.take_along_axis(simcc[n], px, axis=1)
        dx1, dx_1 = np.take_along_axis(simcc[n], px + 1, axis=1), np.take_along_axis(simcc[n], px - 1, axis=1)
        dx2, dx_2 = np.take_along_axis(simcc[n], px + 2, axis=1), np.take_along_axis(simcc[n], px - 2, axis=1)
        dx = 0.5 * (dx1 - dx_1)
        dxx = 1e-9 + 0.25 * (dx2 - 2 * dx0 + dx_2)
        keypoints[n] -= (dx / dxx).reshape(-1)
    return keypoints


def decode_simcc(codec: dict, simcc_x: np.ndarray, simcc_y: np.ndarray):
    """``SimCCLabel.decode`` for (N, K, Wx) and (N, K, Wy): keypoints (N, K, 2) in input pixels, scores (N, K)."""
    keypoints, scores = get_simcc_maximum(simcc_x, simcc_y)
    if codec.get("use_dark", False):
        sigma = codec.get("sigma", 6.0)
        sigma = np.array([sigma, sigma]) if isinstance(sigma, (int, float)) else np.array(sigma)
        x_blur, y_blur = int((sigma[0] * 20 - 7) // 3), int((sigma[1] * 20 - 7) // 3)
        x_blur -= int((x_blur % 2) == 0)
        y_blur -= int((y_blur % 2) == 0)
        keypoints[:, :, 0] = refine_simcc_dark(keypoints[:, :, 0], simcc_x.copy(), x_blur)
        keypoints[:, :, 1] = refine_simcc_dark(keypoints[:, :, 1], simcc_y.copy(), y_blur)
    keypoints /= codec.get("simcc_split_ratio", 2.0)
    return keypoints, scores


def decode_msra(codec: dict, heatmaps: np.ndarray):
    """``MSRAHeatmap.decode`` per instance of (N, K, H, W) heatmaps."""
    keypoints, scores = get_heatmap_maximum(heatmaps)
    scale_factor = (np.array(codec["input_size"]) / codec["heatmap_size"]).astype(np.float32)
    for n in range(len(heatmaps)):
        if codec.get("unbiased", False):
            refine_keypoints_dark(keypoints[n], heatmaps[n].copy(), codec.get("blur_kernel_size", 11))
        else:
            refine_keypoints(keypoints[n], heatmaps[n])
    return keypoints * scale_factor, scores


def decode_udp(codec: dict, heatmaps: np.ndarray):
    """``UDPHeatmap.decode`` per instance of (N, C, H, W) heatmaps (``gaussian`` and ``combined`` types)."""
    heatmap_type = codec.get("heatmap_type", "gaussian")
    blur = codec.get("blur_kernel_size", 11)
    N, C, H, W = heatmaps.shape
    if heatmap_type == "gaussian":
        keypoints, scores = get_heatmap_maximum(heatmaps)
        for n in range(N):
            refine_keypoints_dark_udp(keypoints[n], heatmaps[n].copy(), blur)
    elif heatmap_type == "combined":
        K = C // 3
        radius = codec.get("radius_factor", 0.0546875) * max(W, H)
        kpts, vals = [], []
        for n in range(N):
            hm = heatmaps[n].copy()
            for cls_heatmap in hm[::3]:
                ks = 2 * blur + 1
                cv2.GaussianBlur(cls_heatmap, (ks, ks), 0, cls_heatmap)
            x_offset, y_offset = hm[1::3].flatten() * radius, hm[2::3].flatten() * radius
            k, s = get_heatmap_maximum(hm[None, ::3])
            k, s = k[0], s[0]
            index = (k[..., 0] + k[..., 1] * W).flatten() + W * H * np.arange(0, K)
            index = index.astype(int)
            k += np.stack((x_offset[index], y_offset[index]), axis=-1)
            kpts.append(k.astype(np.float32))
            vals.append(s)
        keypoints, scores = np.stack(kpts), np.stack(vals)
    else:
        raise ValueError(f"UDPHeatmap heatmap_type {heatmap_type!r} is not 'gaussian' or 'combined'")
    keypoints = keypoints / [W - 1, H - 1] * np.asarray(codec["input_size"])
    return keypoints, scores
