"""The ONNX Runtime path's normalisation writes into a preallocated buffer and is bit-identical to
``PoseDataPreprocessor``'s arithmetic (float32 convert, subtract, divide, NHWC -> NCHW)."""

from __future__ import annotations

import numpy as np
import pytest

from mmpx.runtime.decode import normalize

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def reference(crops, bgr_to_rgb):
    x = (crops[..., ::-1] if bgr_to_rgb else crops).astype(np.float32)
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("bgr_to_rgb", [True, False])
def test_bit_identical_and_in_place(bgr_to_rgb):
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 24, 3), dtype=np.uint8)
    expected = reference(crops, bgr_to_rgb)
    got = normalize(crops, MEAN, STD, bgr_to_rgb)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"] and np.array_equal(got, expected)
    buffer = np.full((5, 3, 32, 24), np.nan, np.float32)
    out = normalize(crops, MEAN, STD, bgr_to_rgb, out=buffer[:3])
    assert np.shares_memory(out, buffer) and np.array_equal(buffer[:3], expected) and np.isnan(buffer[3:]).all()
