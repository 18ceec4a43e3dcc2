"""Preflight: config problems found before the first training step, each once, naming file and field."""

from __future__ import annotations

import json

import pytest

import mmpose_ext  # noqa: F401  (registries and fixes, as mmpx train has them)
from mmpose_ext.apis.preflight import preflight
from mmpose_ext.config import load_config
from mmpx.metainfo import build_metainfo, write_metainfo
from tests.helpers import ROOT, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def _codes(problems):
    return sorted(p.code for p in problems)


@pytest.fixture
def tiny(tmp_path, tiny_coco):
    return write_tiny_config(tmp_path / "tiny.py", tiny_coco)


def test_a_sound_config_has_no_problem(tiny):
    assert preflight(load_config(tiny), tiny) == []


def test_head_channels_must_match_the_keypoints(tiny):
    problems = preflight(load_config(tiny, ["model.head.out_channels=8"]), tiny)
    assert _codes(problems) == ["head-keypoints"]  # once, though three loaders disagree
    assert problems[0].field == "model.head.out_channels"
    assert "predicts 8 keypoints but train_dataloader.dataset has 17" in problems[0].message
    assert "out_channels=17" in problems[0].hint


def test_missing_files_are_named_once(tiny, tmp_path):
    cfg = load_config(tiny, ["train_dataloader.dataset.ann_file=nope.json", "load_from=/no/such.pth",
                             "val_dataloader.dataset.data_prefix.img=gone/"])
    problems = preflight(cfg, tiny)
    assert _codes(problems) == ["ann-missing", "images-missing", "load-from-missing"]
    assert any(p.field == "train_dataloader.dataset.ann_file" and "nope.json" in p.message for p in problems)


def test_metainfo_and_annotation_errors_come_from_the_data_checks(tiny, tmp_path, tiny_coco):
    bad_meta = tmp_path / "meta.py"
    info = build_metainfo("tiny", [f"k{i}" for i in range(17)])
    info["keypoint_info"][0]["swap"] = "nonexistent"
    write_metainfo(bad_meta, info)
    gt = json.loads((tiny_coco / "annotations.json").read_text())
    gt["annotations"][0]["keypoints"] = gt["annotations"][0]["keypoints"][:-3]  # 16 keypoints
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(gt))
    cfg = load_config(tiny, [f"train_dataloader.dataset.metainfo.from_file={bad_meta}",
                             f"train_dataloader.dataset.ann_file={ann}"])
    problems = preflight(cfg, tiny)
    assert any(str(bad_meta) == p.file and "swap" in p.field for p in problems)
    assert any(p.file == str(ann) and "annotations[0]" in p.field for p in problems)


def test_combined_datasets_are_looked_into():
    config = ROOT / "configs" / "humanart" / "rtmpose-t_humanart-two-scenes-val.py"
    fields = {p.field for p in preflight(load_config(config), config)}
    assert "val_dataloader.dataset.datasets[0].ann_file" in fields  # data/HumanArt/... is not on this machine


def test_configs_without_files_pass():
    config = ROOT / "plugins" / "mmpx-plugin-example" / "mmpx_plugin_example" / "configs" / "smoke.py"
    assert preflight(load_config(config), config) == []


def test_mmpx_train_stops_before_building_anything(tiny, tmp_path):
    from tests.helpers import mmpx

    result = mmpx("train", str(tiny), "--work-dir", str(tmp_path / "w"), "--cfg-options", "model.head.out_channels=8")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "model.head.out_channels: the head predicts 8 keypoints but train_dataloader.dataset has 17" in result.stderr
    assert "hint: set model.head.out_channels=17" in result.stderr
    assert not (tmp_path / "w").exists()  # failed before the Runner made its work dir


def test_each_command_checks_only_the_data_it_uses(tiny):
    """Testing with only the test file was refused for a missing training file."""
    cfg = load_config(tiny, ["train_dataloader.dataset.ann_file=training_only.json"])
    assert _codes(preflight(cfg, tiny, ("test",))) == []
    assert _codes(preflight(cfg, tiny, ("train", "val"))) == ["ann-missing"]
    cfg = load_config(tiny, ["test_dataloader.dataset.ann_file=test_only.json"])
    assert _codes(preflight(cfg, tiny, ("train", "val"))) == []
    assert _codes(preflight(cfg, tiny, ("test",))) == ["ann-missing"]


def test_mmpx_test_runs_without_the_training_file(tiny, tmp_path):
    import torch
    from mmpose.apis import init_model

    from tests.helpers import mmpx

    model = init_model(str(tiny), None, device="cpu")
    ckpt = tmp_path / "w.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
    result = mmpx("test", str(tiny), str(ckpt), "--work-dir", str(tmp_path / "w"), "--cfg-options",
                  "train_dataloader.dataset.ann_file=training_only.json", env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "coco/AP" in result.stdout


def test_mpii_pckh_needs_its_head_box_file(tmp_path):
    """MPII without mpii_gt_val.mat failed after a whole epoch ("this is unexpected")."""
    mmpose = pytest.importorskip("mmpose")
    config = (f"{mmpose.__path__[0]}/.mim/configs/body_2d_keypoint/topdown_heatmap/mpii/"
              "td-hm_res50_8xb64-210e_mpii-256x256.py")
    cfg = load_config(config)
    found = [p for p in preflight(cfg, config, ("val",)) if p.code == "headbox-missing"]
    assert len(found) == 1 and "mpii_gt_val.mat" in found[0].message and "docs/reference/datasets.md" in found[0].hint
    cfg = load_config(config, ["val_dataloader.dataset.headbox_file=None"])
    found = [p for p in preflight(cfg, config, ("val",)) if p.code == "headbox-missing"]
    assert len(found) == 1 and "computes PCKh" in found[0].message and found[0].field.endswith("headbox_file")
