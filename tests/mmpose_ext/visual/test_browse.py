"""``mmpx browse``: datasets drawn as annotated and as the model sees them, checked down to the pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpose_ext.visual.browse import STRIP, browse
from mmpx.errors import MmpxError
from tests.helpers import ROOT, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CARPOSE_CONFIG = ROOT / "configs" / "carpose" / "rtmpose-t_carpose-256x256.py"
EXAMPLE_CONFIG = ROOT / "plugins" / "mmpx-plugin-example" / "mmpx_plugin_example" / "configs" / "smoke.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_coco) -> Path:
    return write_tiny_config(tmp_path_factory.mktemp("browse") / "tiny.py", tiny_coco)


@pytest.fixture(scope="module")
def carpose(tmp_path_factory) -> Path:
    """A small real carpose set: `mmpx data synth carpose` then `mmpx convert labelme --images copy`."""
    root = tmp_path_factory.mktemp("carpose")
    result = mmpx("data", "synth", "carpose", str(root / "synth"), "--n", "4", "--size", "160", "--seed", "3")
    assert result.returncode == 0, result.stderr
    metainfo = ROOT / "mmpose_ext" / "datasets" / "metainfo" / "carpose.py"
    result = mmpx("convert", "labelme", str(root / "synth"), str(root / "data"), "--metainfo", str(metainfo),
                  "--category", "car", "--images", "copy")
    assert result.returncode == 0, result.stderr
    return root / "data"


def _colours(metainfo: dict) -> np.ndarray:
    return np.asarray(metainfo["keypoint_colors"], dtype=int)[:, ::-1]  # metainfo RGB -> image BGR


def _metainfo(config: Path, phase: str = "train", options=None) -> dict:
    from mmpose_ext.visual.browse import build_dataset

    return dict(build_dataset(config, phase, options).metainfo)


def _colour_near(img: np.ndarray, xy, bgr, r: int = 2, tol: int = 60) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    window = img[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1].astype(int)
    return window.size > 0 and bool((np.abs(window - bgr).max(axis=-1) <= tol).any())


def _check_keypoints_drawn(view, metainfo: dict) -> int:
    """Every visible keypoint has its metainfo colour under it in the written JPEG; returns how many."""
    img = cv2.imread(str(view.path))
    assert img is not None, view.path
    colours, checked = _colours(metainfo), 0
    for inst, vis in zip(view.keypoints, view.visible, strict=True):
        for k, (xy, v) in enumerate(zip(inst, vis, strict=True)):
            if v > 0 and 0 <= xy[0] < view.image_size[0] and 0 <= xy[1] < view.image_size[1]:
                assert _colour_near(img, xy, colours[k]), (view.path, k, xy, colours[k])
                checked += 1
    return checked


def test_original_tiny_coco(tiny, tiny_coco, tmp_path):
    result = browse(tiny, mode="original", max_samples=10, out_dir=tmp_path)
    folder = tmp_path / "train_original"
    assert result.folder == folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:05d}_{i:03d}.jpg" for i in range(6)] + ["contact_sheet.jpg"]  # 6 samples, not 10
    metainfo = _metainfo(tiny)
    assert len(metainfo["keypoint_colors"]) == 17
    for view in result.samples:
        img = cv2.imread(str(view.path))
        assert img.shape == (192, 192, 3) and view.image_size == (192, 192)  # 96 px enlarged 2x
        assert _check_keypoints_drawn(view, metainfo) == 17
        assert (np.abs(img.astype(int) - (0, 255, 0)).max(-1) < 60).sum() > 100  # the green bbox
    # the keypoints are the annotation's, scaled 2x: no pipeline ran
    import json

    ann = json.loads((tiny_coco / "annotations.json").read_text())["annotations"][0]
    assert np.allclose(result.samples[0].keypoints[0], np.reshape(ann["keypoints"], (17, 3))[:, :2] * 2)
    sheet = cv2.imread(str(result.sheet))
    assert sheet.shape == (2 * 256, 4 * 256, 3)  # 6 cells, 4 columns


def test_transformed_heatmap_targets(tiny, tiny_coco, tmp_path):
    result = browse(tiny, mode="transformed", max_samples=2, out_dir=tmp_path)
    metainfo = _metainfo(tiny)
    import json

    ann = json.loads((tiny_coco / "annotations.json").read_text())["annotations"][0]
    x, y, w, h = ann["bbox"]
    side = max(w, h) * 1.25  # GetBBoxCenterScale padding, TopdownAffine keeps the 1:1 input aspect
    expected = (np.reshape(ann["keypoints"], (17, 3))[:, :2] - (x + w / 2, y + h / 2)) * 64 / side + 32
    view = result.samples[0]
    assert view.target == "heatmap" and view.image_size == (256, 256)  # 64x64 input enlarged 4x
    assert np.allclose(view.keypoints[0], expected * 4, atol=1e-3)  # the keypoints in the network input
    assert _check_keypoints_drawn(view, metainfo) == 17
    img = cv2.imread(str(view.path))
    assert img.shape == (256, 256, 3)
    # the jet overlay: strong red near the keypoints, blue far from them (a corner)
    assert img[..., 2].max() > 200 and img[2, 2, 0] > img[2, 2, 2]
    assert len(result.samples) == 2 and cv2.imread(str(result.sheet)).shape == (256, 512, 3)


def test_transformed_simcc_on_carpose(carpose, tmp_path):
    options = [f"train_dataloader.dataset.data_root={carpose}/"]
    result = browse(CARPOSE_CONFIG, mode="transformed", max_samples=3, out_dir=tmp_path, cfg_options=options,
                    seed=1)
    metainfo = _metainfo(CARPOSE_CONFIG, options=options)
    assert len(metainfo["keypoint_colors"]) == 8
    colours = _colours(metainfo)
    drawn = peaks = 0
    for view in result.samples:
        assert view.target == "simcc" and view.image_size == (256, 256)
        img = cv2.imread(str(view.path))
        assert img.shape == (256 + STRIP, 256 + STRIP, 3)
        drawn += _check_keypoints_drawn(view, metainfo)
        # a keypoint inside the input, with no other one near its x, has its x distribution peaking right below
        # it in its colour (curves of keypoints at about the same x overdraw each other)
        xs = view.keypoints[0][:, 0]
        for k, (xy, v) in enumerate(zip(view.keypoints[0], view.visible[0], strict=True)):
            others = np.delete(xs[view.visible[0] > 0], np.flatnonzero(np.flatnonzero(view.visible[0] > 0) == k))
            if v > 0 and 2 <= xy[0] < 254 and np.all(np.abs(others - xy[0]) > 12):
                column = img[256 + 2: 256 + 12, int(xy[0]) - 2: int(xy[0]) + 3].astype(int)
                assert (np.abs(column - colours[k]).max(-1) < 80).any(), (view.path, k)
                peaks += 1
    assert drawn >= 3 and peaks >= 2
    again = browse(CARPOSE_CONFIG, mode="transformed", max_samples=3, out_dir=tmp_path / "b", cfg_options=options,
                   seed=1)
    other = browse(CARPOSE_CONFIG, mode="transformed", max_samples=3, out_dir=tmp_path / "c", cfg_options=options,
                   seed=2)
    same = [a.path.read_bytes() == b.path.read_bytes() for a, b in zip(result.samples, again.samples, strict=True)]
    differ = [a.path.read_bytes() != b.path.read_bytes() for a, b in zip(result.samples, other.samples, strict=True)]
    assert all(same) and all(differ)  # --seed fixes the augmentations


def test_original_carpose_any_skeleton(carpose, tmp_path, capsys):
    from mmpx.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["browse", str(CARPOSE_CONFIG), "--phase", "val", "--max", "2", "--out-dir", str(tmp_path),
              "--cfg-options", f"val_dataloader.dataset.data_root={carpose}/"])
    assert not exit_.value.code
    out = capsys.readouterr().out.split()
    folder = tmp_path / "val_original"
    assert out[-1] == str(folder / "contact_sheet.jpg") and len(out) >= 2  # the val split may hold one car
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(p).name for p in out)
    img = cv2.imread(out[0])
    assert img.shape == (160, 160, 3)  # 160 px synthetic images: 2x would pass 256, so kept as they are


def test_in_memory_dataset_of_the_example_plugin(tmp_path):
    from mmpose_ext.visual.browse import build_dataset

    dataset = build_dataset(EXAMPLE_CONFIG, "val")
    metainfo = dict(dataset.metainfo)
    for mode in ("original", "transformed"):
        result = browse(EXAMPLE_CONFIG, phase="val", mode=mode, max_samples=2, out_dir=tmp_path)
        for view in result.samples:
            assert view.path.name.startswith(f"{view.index:05d}_")
            assert _check_keypoints_drawn(view, metainfo) >= 3
            if mode == "original":  # the array in data_info['img'], enlarged 2x, with marks at the keypoints
                raw = cv2.resize(dataset.get_data_info(view.index)["img"], None, fx=2, fy=2,
                                 interpolation=cv2.INTER_NEAREST).astype(int)
                drawn = cv2.imread(str(view.path)).astype(int)
                assert drawn.shape == raw.shape == (192, 192, 3)
                changed = [np.abs(drawn - raw)[int(y) - 2: int(y) + 3, int(x) - 2: int(x) + 3].max()
                           for x, y in view.keypoints[0]]
                assert max(changed) > 40 and np.abs(drawn - raw)[:, :20].mean() < 15  # marks; elsewhere JPEG noise
        assert result.sheet.is_file()


def test_real_coco_images(shared_data, tmp_path):
    coco = shared_data / "mmpose-testdata" / "coco"
    config = write_tiny_config(tmp_path / "coco.py", coco)
    text = config.read_text().replace("annotations.json", "test_coco.json").replace("'images/'", "''")
    config.write_text(text)
    result = browse(config, phase="val", mode="original", max_samples=3, out_dir=tmp_path / "o")
    metainfo = _metainfo(config, "val")
    for view in result.samples:
        real = cv2.imread(str(coco / (view.name.split("_")[0] + ".jpg")))
        drawn = cv2.imread(str(view.path))
        assert drawn.shape == real.shape  # 640 px wide photos: no enlargement
        assert _check_keypoints_drawn(view, metainfo) > 0
    result = browse(config, phase="train", mode="transformed", max_samples=3, out_dir=tmp_path / "t")
    assert all(v.target == "heatmap" for v in result.samples)
    assert sum(_check_keypoints_drawn(v, metainfo) for v in result.samples) > 5


def test_errors(tiny, tmp_path, capsys):
    from mmpx.cli.main import main

    def run(*args):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(["browse", str(tiny), "--out-dir", str(tmp_path), *args])
        assert exit_.value.code == 1
        return capsys.readouterr().err

    assert "--max must be at least 1, got 0" in run("--max", "0")
    err = run("--phase", "test", "--cfg-options", "test_dataloader=None")
    assert "has no test_dataloader.dataset" in err and "--phase train or val" in err
    err = run("--cfg-options", "train_dataloader.dataset.ann_file=missing.json")
    assert "train_dataloader.dataset (type 'CocoDataset'" in err and "missing.json" in err
    with pytest.raises(MmpxError, match="does not exist"):
        browse(tmp_path / "absent.py")
    assert not list(tmp_path.iterdir())


def test_failure_leaves_previous_output(tiny, tiny_coco, tmp_path):
    first = browse(tiny, max_samples=3, out_dir=tmp_path)
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    image = tiny_coco / "images" / "001.png"
    saved = image.read_bytes()
    image.write_bytes(b"not a png")
    try:
        with pytest.raises(MmpxError, match=f"image {image} .sample 1. is not a readable image"):
            browse(tiny, max_samples=3, out_dir=tmp_path)
        with pytest.raises(MmpxError, match="pipeline step LoadImage failed on sample 1"):
            browse(tiny, mode="transformed", max_samples=3, out_dir=tmp_path)
    finally:
        image.write_bytes(saved)
    assert {p.name: p.read_bytes() for p in first.folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train_original"]  # no temporary folder left


@pytest.mark.slow
def test_cli_subprocess(tiny, tmp_path):
    result = mmpx("browse", str(tiny), "--mode", "transformed", "--max", "2", "--out-dir", str(tmp_path), env=ENV)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines == [str(tmp_path / "train_transformed" / n) for n in ("00000_000.jpg", "00001_001.jpg",
                                                                          "contact_sheet.jpg")]
    assert "drew 2 train samples (transformed, targets: heatmap)" in result.stderr
