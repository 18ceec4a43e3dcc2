"""``mmpx configs new``'s choices and text (torch-free), on real annotation files of ../shared/data and on a dataset
that mmpx convert wrote."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from mmpx.configs.new import box_stats, flip_indices, parse_input_size, plan_config, schedule
from mmpx.configs.new_text import render
from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, metainfo_from_coco, write_metainfo


def _metainfo(tmp_path: Path, ann: Path, **kwargs) -> Path:
    out = tmp_path / f"{ann.stem}_meta.py"
    write_metainfo(out, metainfo_from_coco(ann, **kwargs))
    return out


def _values(text: str) -> dict:
    """The top-level assignments of a config whose values are literals and dict(...) of them."""
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:  # dict(...) of literals; names of other entries stay text
                found[node.targets[0].id] = eval(ast.unparse(node.value), {"__builtins__": {}, "dict": dict})
            except NameError:
                found[node.targets[0].id] = ast.unparse(node.value)
    return found


def _said(text: str) -> str:
    """The config's comments as one line (they are wrapped at 116 characters)."""
    return " ".join(line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line)


def _plan_and_text(ann: Path, meta: Path, model: str = "rtmpose-t", **kwargs):
    plan = plan_config(ann, model, metainfo=meta, **kwargs)
    text = render(plan, "mmpx configs new (test)")
    compile(text, "config.py", "exec")
    return plan, text


@pytest.mark.parametrize("name, k, pairs, size", [
    ("locust", 35, 15, (256, 160)),  # wide insects: median width/height 1.57
    ("zebra", 9, 2, (256, 128)),  # very wide: the short side stops at 128
    ("onehand10k", 21, 0, (160, 256)),  # upright hands, no left/right names: no flip
])
def test_choices_on_real_files(shared_data, tmp_path, name, k, pairs, size):
    ann = shared_data / "mmpose-testdata" / name / f"test_{name}.json"
    plan, text = _plan_and_text(ann, _metainfo(tmp_path, ann))
    assert (len(plan.names), plan.pairs, plan.input_size) == (k, pairs, size)
    assert all(s % 32 == 0 for s in plan.input_size)
    assert plan.flip is (pairs > 0)
    assert f"out_channels={k},  # the metainfo's keypoint count" in text
    assert f"flip_test={plan.flip}" in text and ("RandomFlip" in text) is plan.flip
    values = _values(text)
    assert values["data_root"] == f"{ann.parent.as_posix()}/"
    assert values["metainfo"] == {"from_file": str(tmp_path / f"test_{name}_meta.py")}
    assert values["codec"]["input_size"] == size
    # two instances: the batch is capped, the schedule longer than RTMPose's 210 epochs to reach 3000 steps
    assert plan.batch == plan.stats.instances and values["max_epochs"] == plan.epochs == 1500
    assert "the default 0.025 for every keypoint" in _said(text) and "mmpx metainfo sigmas" in _said(text)
    assert "init_cfg=None" in text and "load_from" not in values
    assert "also the val and test file" in _said(text)  # one COCO file: no held-out split, said


def test_face_without_names_and_heatmap_model(shared_data, tmp_path):
    """300W's file names no keypoints: a metainfo of 68 plain names, no swaps, so no flip; square faces."""
    ann = shared_data / "mmpose-testdata" / "300w" / "test_300w.json"
    meta = tmp_path / "face.py"
    write_metainfo(meta, build_metainfo("face", [f"p{i}" for i in range(68)], sigmas=[0.02] * 68))
    plan, text = _plan_and_text(ann, meta, model="heatmap-resnet50")
    assert plan.input_size == (256, 256) and not plan.flip and len(plan.names) == 68
    values = _values(text)
    assert values["codec"] == dict(type="MSRAHeatmap", input_size=(256, 256), heatmap_size=(64, 64), sigma=2)
    assert "type='HeatmapHead'" in text and "out_channels=68" in text and "MultiStepLR" in text
    assert "0.02, 0.02" in _said(text) and "default 0.025" not in _said(text)  # the metainfo's own sigmas, listed


def test_no_sigmas_scores_by_pck(shared_data, tmp_path):
    """MMPose's own face and hand metainfo files have no sigmas: COCO AP (OKS) would fail at the first validation."""
    ann = shared_data / "mmpose-testdata" / "300w" / "test_300w.json"
    meta = tmp_path / "face.py"
    info = build_metainfo("face", [f"p{i}" for i in range(68)])
    write_metainfo(meta, dict(info, sigmas=[]))
    plan, text = _plan_and_text(ann, meta)
    assert not plan.coco_metric and not plan.default_sigmas
    assert _values(text)["val_evaluator"] == [dict(type="PCKAccuracy", thr=0.05, norm_item="bbox"), dict(type="EPE")]
    assert "save_best='PCK'" in text and "CocoMetric" not in text and "No OKS sigmas" in _said(text)


def test_ap10k_category_and_swaps(shared_data, tmp_path):
    ann = shared_data / "mmpose-testdata" / "ap10k" / "test_ap10k.json"
    plan, text = _plan_and_text(ann, _metainfo(tmp_path, ann, category_id=1), model="rtmpose-m")
    assert len(plan.names) == 17 and plan.pairs == 7 and plan.flip
    i, j = plan.names.index("left_eye"), plan.names.index("right_eye")
    assert plan.flip_indices[i] == j and plan.flip_indices[j] == i
    assert "deepen_factor=0.67, widen_factor=0.75" in text and "in_channels=768" in text


def test_converted_dataset_folder(tmp_path):
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    synth_carpose(tmp_path / "labelme", 30, seed=1)
    data = tmp_path / "cars"
    convert_labelme(tmp_path / "labelme", data, val_ratio=0.2, seed=0)
    plan = plan_config(data, "rtmpose-s")
    text = render(plan, "test")
    values = _values(text)
    assert plan.source.held_out and "also the val and test file" not in _said(text)
    assert values["data_root"] == f"{data.as_posix()}/"
    assert values["metainfo"] == {"from_file": str(data / "metainfo.py")}
    assert "ann_file='annotations/train.json'" in text and "ann_file='annotations/val.json'" in text
    assert "data_prefix=dict(img='images/')" in text
    assert plan.flip and plan.pairs == 4 and len(plan.names) == 8
    train = json.loads((data / "annotations" / "train.json").read_text())
    assert plan.stats.instances == sum(1 for a in train["annotations"] if any(a["keypoints"][2::3]))


def test_flip_indices_as_mmpose_derives_them():
    info = build_metainfo("x", ["nose", "left_eye", "right_eye", "tail"])
    assert flip_indices(info) == [0, 2, 1, 3]


def test_schedule_scales_with_the_dataset():
    assert schedule("rtmpose-t", 10_000, "auto")[:2] == (210, 64)  # 157 steps an epoch: RTMPose's 210 epochs
    epochs, batch, lr, warmup, interval, _ = schedule("rtmpose-t", 640, "auto")  # warm-up: a tenth of 3000 steps
    assert (epochs, batch, interval) == (300, 64, 15) and warmup == 300 and lr == pytest.approx(4e-3)
    epochs, batch, lr, *_ = schedule("heatmap-resnet50", 8, "auto")
    assert batch == 8 and epochs == 1500 and lr == pytest.approx(5e-4 * 0.5)
    assert schedule("rtmpose-t", 100, 50)[0] == 50


def test_bad_choices_are_one_clear_error(shared_data, tmp_path):
    ann = shared_data / "mmpose-testdata" / "locust" / "test_locust.json"
    meta = _metainfo(tmp_path, ann)
    with pytest.raises(MmpxError, match="multiples of 32") as err:
        parse_input_size("250x190")
    assert "256x192" in err.value.hint
    with pytest.raises(MmpxError, match="needs --metainfo"):
        plan_config(ann, "rtmpose-t")
    with pytest.raises(MmpxError, match="not one of"):
        plan_config(ann, "rtmpose-x", metainfo=meta)
    with pytest.raises(MmpxError, match="--epochs"):
        plan_config(ann, "rtmpose-t", metainfo=meta, epochs="0")
    with pytest.raises(MmpxError, match="--load-from"):
        plan_config(ann, "rtmpose-t", metainfo=meta, load_from=tmp_path / "none.pth")
    other = tmp_path / "nine.py"
    write_metainfo(other, build_metainfo("nine", [f"k{i}" for i in range(9)]))
    with pytest.raises(MmpxError, match=r"annotations\[0\]\.keypoints has 35 keypoints, the metainfo 9"):
        plan_config(ann, "rtmpose-t", metainfo=other)


def test_box_stats_ignores_unlabelled_instances(tmp_path):
    ann = tmp_path / "a.json"
    ann.write_text(json.dumps({"annotations": [
        {"image_id": 1, "bbox": [0, 0, 40, 20], "keypoints": [1, 1, 2, 0, 0, 0]},
        {"image_id": 1, "bbox": [0, 0, 10, 40], "keypoints": [0, 0, 0, 0, 0, 0]},  # nothing labelled
        {"image_id": 2, "bbox": [0, 0, 60, 30], "keypoints": [1, 1, 2, 2, 2, 1]},
    ]}))
    stats = box_stats(ann, 2)
    assert (stats.instances, stats.images, stats.ratio) == (2, 2, 2.0)


def test_box_stats_skips_malformed_values_instead_of_crashing(tmp_path):
    ann = tmp_path / "a.json"
    ann.write_text(json.dumps({"annotations": [
        {"image_id": 1, "bbox": [0, 0, "40", 20], "keypoints": [1, 1, 2, 0, 0, 0]},  # a string width
        {"image_id": 2, "bbox": [0, 0, 60, 30], "keypoints": [1, 1, "2", 2, 2, 1]},  # a string visibility
    ]}))
    with pytest.raises(MmpxError, match="no annotation with a box and a labelled keypoint"):
        box_stats(ann, 2)


def test_flow_writes_atomically_and_refuses_what_it_would_replace(shared_data, tmp_path, monkeypatch):
    from mmpx.app.configs_new import ConfigsNewRequest, configs_new

    ann = shared_data / "mmpose-testdata" / "locust" / "test_locust.json"
    meta = _metainfo(tmp_path, ann)
    out = tmp_path / "cfg.py"
    with pytest.raises(MmpxError, match="ends in .py"):
        configs_new(ConfigsNewRequest(ann, "rtmpose-t", tmp_path / "cfg.txt", meta, check=False))
    # no training stack: said before anything is written
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(MmpxError, match="needs torch and MMPose"):
        configs_new(ConfigsNewRequest(ann, "rtmpose-t", out, meta))
    assert not out.exists()
    monkeypatch.undo()
    done = configs_new(ConfigsNewRequest(ann, "rtmpose-t", out, meta, check=False))
    assert out.read_text() == done.text and sorted(p.name for p in tmp_path.iterdir()) == [
        "cfg.py", "test_locust_meta.py"]
    with pytest.raises(MmpxError, match="exists"):
        configs_new(ConfigsNewRequest(ann, "rtmpose-t", out, meta, check=False))
