"""``mmpx browse`` on a dataset of several classes: each instance drawn with its own class's keypoints, skeleton,
colours and name; on the synthetic street data as converted with ``--classes car,bicycle``, and on a hand-made
two-class set whose metainfo has skeletons."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpose_ext.visual.browse import browse, build_dataset
from mmpx.configs.new import plan_config
from mmpx.configs.new_text import render
from mmpx.convert.labelme import convert_labelme
from mmpx.synth.street import synth_street
from tests.helpers import mmpx
from tests.mmpx.configs.multiclass_data import make_dataset

pytestmark = pytest.mark.stack


def _config(data: Path, out: Path) -> Path:
    out.write_text(render(plan_config(data, "rtmpose-t", input_size="128x128"), "test"), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> Path:
    """``mmpx data synth street`` (3 images) converted with ``--classes car,bicycle``, and its config."""
    root = tmp_path_factory.mktemp("street")
    synth_street(root / "raw", n=3, seed=1, size=160)
    convert_labelme(root / "raw", root / "data", classes="car,bicycle", val_ratio=0.0, images="copy")
    return _config(root / "data", root / "street.py")


@pytest.fixture(scope="module")
def handmade(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hand")
    return _config(make_dataset(root / "data", images=3), root / "hand.py")


def _bgr(rgb) -> np.ndarray:
    return np.asarray(rgb, dtype=int).reshape(-1)[::-1]


def _near(img, xy, bgr, r=2, tol=60) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    window = img[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1].astype(int)
    return window.size > 0 and bool((np.abs(window - bgr).max(axis=-1) <= tol).any())


def _check_views(result, classes: dict, union_colours) -> set[str]:
    """Every sample names its class and holds that class's keypoints only, each drawn in its class's colour."""
    seen = set()
    for view in result.samples:
        cls = classes[view.class_name]
        seen.add(view.class_name)
        assert view.keypoints.shape == (1, len(cls["keypoints"]), 2)
        img = cv2.imread(str(view.path))
        for k, (xy, v) in enumerate(zip(view.keypoints[0], view.visible[0], strict=True)):
            if v > 0 and 0 <= xy[0] < view.image_size[0] and 0 <= xy[1] < view.image_size[1]:
                assert _near(img, xy, _bgr(union_colours[cls["start"] + k])), (view.path, view.class_name, k)
    return seen


def test_street_original_each_instance_its_class(street, tmp_path):
    meta = dict(build_dataset(street, "train").metainfo)
    classes = {c["name"]: c for c in meta["classes"]}
    result = browse(street, max_samples=32, out_dir=tmp_path)
    assert _check_views(result, classes, meta["keypoint_colors"]) == {"car", "bicycle"}
    assert (tmp_path / "train_original" / "contact_sheet.jpg").is_file()


def test_handmade_skeleton_and_label(handmade, tmp_path):
    """The class's own links are drawn between its points, and its name is written above its box."""
    meta = dict(build_dataset(handmade, "train").metainfo)
    classes = {c["name"]: c for c in meta["classes"]}
    result = browse(handmade, max_samples=8, out_dir=tmp_path)
    assert [v.class_name for v in result.samples] == ["car", "bicycle"] * 2
    assert _check_views(result, classes, meta["keypoint_colors"]) == {"car", "bicycle"}
    for view in result.samples:
        img = cv2.imread(str(view.path)).astype(int)
        cls = classes[view.class_name]
        # the class's first link is drawn: the pixels between its two points changed from the raw image's
        raw = cv2.imread(str(handmade.parent / "data" / "images" / f"{view.name}.png"))
        raw = cv2.resize(raw, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST).astype(int)
        a, b = next((a, b) for a, b in meta["skeleton_links"] if cls["start"] <= a < cls["stop"])
        p, q = view.keypoints[0, a - cls["start"]], view.keypoints[0, b - cls["start"]]
        along = [np.round(p + t * (q - p)).astype(int) for t in np.linspace(0.3, 0.7, 9)]
        assert np.mean([np.abs(img[y, x] - raw[y, x]).max() for x, y in along]) > 30, (view.path, view.class_name)
        # white label text on black above the box (its top-left corner, scaled 2x)
        x, y = view.keypoints[0].min(axis=0)
        top = img[: max(1, int(y)), max(0, int(x) - 16): int(x) + 60]
        assert (top.max(axis=-1) < 30).sum() > 20 and (top.min(axis=-1) > 200).sum() > 5, view.path


def test_transformed_mode_cuts_to_the_class(street, tmp_path):
    meta = dict(build_dataset(street, "train").metainfo)
    result = browse(street, mode="transformed", max_samples=4, out_dir=tmp_path)
    own = {c["name"]: len(c["keypoints"]) for c in meta["classes"]}
    assert result.samples and all(v.keypoints.shape == (1, own[v.class_name], 2) for v in result.samples)
    assert all(v.target == "simcc" for v in result.samples)


def test_cli_on_street(street, tmp_path):
    result = mmpx("browse", str(street), "--max", "2", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "drew 2 train samples (original)" in result.stderr
