"""A newcomer's first day on MMPose's own datasets and tutorials, run for real on MMPose's test files.

COCO-WholeBody through preflight, training and ``mmpx test``; MPII scored with the evaluator preflight's hint names;
an evaluator that computes no metric stopping ``train`` and ``test``; hints that point at the config, not at an
option ``mmpx train`` does not have; ``--resume`` with nothing to resume; ``mmpx infer`` when every score is under
``--kpt-thr``; MMPose's bare ``--resume``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mmpose_ext  # noqa: F401  (registries, hooks and fixes, as mmpx train has them)
from mmpose_ext.apis.preflight import preflight
from mmpose_ext.config import load_config
from tests.helpers import make_tiny_coco, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# a tiny top-down model on one of MMPose's test files: a training epoch and a validation in seconds
CONFIG = """
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)
data_root = {data_root!r}
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto', rule='greater'),
                     logger=dict(type='LoggerHook', interval=1))
codec = dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(1, ),
                  init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=128, out_channels={k}, deconv_out_channels=(32, ),
              deconv_kernel_sizes=(4, ), loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))
pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
            dict(type='TopdownAffine', input_size=codec['input_size']),
            dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]
dataset = dict(type={dataset!r}, data_root=data_root, data_mode='topdown', ann_file={ann!r},
               data_prefix=dict(img=''), pipeline=pipeline)
train_dataloader = dict(batch_size=7, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dataset)
val_dataloader = dict(batch_size=7, num_workers=0, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(dataset, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = {evaluator}
test_evaluator = val_evaluator
"""


def _config(path: Path, data_root: Path, dataset: str, ann: str, k: int, evaluator: str) -> Path:
    path.write_text(CONFIG.format(data_root=str(data_root), dataset=dataset, ann=ann, k=k, evaluator=evaluator))
    return path


def _log(result) -> str:
    return result.stdout + result.stderr


# -- 1. COCO-WholeBody: 17 + 6 + 68 + 21 + 21 keypoints in five arrays ------------------------------------------


def test_wholebody_passes_preflight_trains_and_tests(shared_data, tmp_path):
    root = shared_data / "mmpose-testdata" / "coco"
    config = _config(tmp_path / "wholebody.py", root, "CocoWholeBodyDataset", "test_coco_wholebody.json", 133,
                     f"dict(type='CocoWholeBodyMetric', ann_file={str(root / 'test_coco_wholebody.json')!r})")
    assert preflight(load_config(config), config) == []  # was: keypoints has 51 values, expected 399
    work = tmp_path / "work"
    result = mmpx("train", str(config), "--work-dir", str(work), env=ENV)
    assert result.returncode == 0, _log(result)[-3000:]
    assert "coco-wholebody/AP" in _log(result)
    result = mmpx("test", str(config), str(work / "epoch_1.pth"), "--work-dir", str(work),
                  "--out", str(tmp_path / "metrics.json"), env=ENV)
    assert result.returncode == 0, _log(result)[-3000:]
    assert "coco-wholebody/AP" in json.loads((tmp_path / "metrics.json").read_text())


# -- 2. MPII: the hinted evaluator scores; an evaluator with no metric stops the run -----------------------------


@pytest.fixture(scope="module")
def mpii(shared_data, tmp_path_factory):
    """MPII's test file trained one epoch with the evaluator preflight's hint names for MPII without head boxes."""
    root = tmp_path_factory.mktemp("mpii")
    data = shared_data / "mmpose-testdata" / "mpii"
    bad = _config(root / "bad.py", data, "MpiiDataset", "test_mpii.json", 16,
                  "dict(type='MpiiPCKAccuracy', norm_item='bbox')")
    [problem] = preflight(load_config(bad), bad)
    assert problem.code == "evaluator-no-metric" and problem.field == "val_evaluator.norm_item"
    hinted = re.search(r"dict\(type='PCKAccuracy', norm_item='bbox'\)", problem.hint).group(0)
    config = _config(root / "mpii.py", data, "MpiiDataset", "test_mpii.json", 16, hinted)
    result = mmpx("train", str(config), "--work-dir", str(root / "work"), env=ENV)
    assert result.returncode == 0, _log(result)[-3000:]
    return root, bad, result


def test_mpii_with_the_hinted_evaluator_gives_pck(mpii):
    root, _, result = mpii
    assert re.search(r"Epoch\(val\) \[1\]\[1/1\]\s+PCK: \d", _log(result))
    assert (root / "work" / "val.png").is_file()  # no metric: no plot
    assert list((root / "work").glob("best_PCK_epoch_1.pth"))  # no metric: best-checkpoint saving skipped


def test_the_head_box_hint_names_an_evaluator_that_scores():
    import mmpose

    config = (f"{mmpose.__path__[0]}/.mim/configs/body_2d_keypoint/topdown_heatmap/mpii/"
              "td-hm_res50_8xb64-210e_mpii-256x256.py")
    cfg = load_config(config, ["val_dataloader.dataset.headbox_file=None"])
    [problem] = [p for p in preflight(cfg, config, ("val",)) if p.code == "headbox-missing"]
    assert "dict(type='PCKAccuracy', norm_item='bbox')" in problem.hint


def test_an_evaluator_with_no_metric_fails_train_and_test(mpii):
    root, bad, _ = mpii
    work = root / "no_metric"
    result = mmpx("train", str(bad), "--work-dir", str(work), "--no-preflight", env=ENV)
    assert result.returncode == 1 and "Traceback" not in result.stderr, _log(result)[-3000:]
    assert (f"error: val_evaluator of {bad}: MpiiPCKAccuracy(norm_item='bbox') computed no metric"
            in result.stderr)
    assert "dict(type='PCKAccuracy', norm_item='bbox')" in result.stderr  # what to use instead
    out = root / "metrics.json"
    result = mmpx("test", str(bad), str(root / "work" / "epoch_1.pth"), "--work-dir", str(work), "--out", str(out),
                  "--no-preflight", env=ENV)
    assert result.returncode == 1 and "Traceback" not in result.stderr, _log(result)[-3000:]
    assert "error: test_evaluator" in result.stderr and "computed no metric" in result.stderr
    assert not out.exists()  # was: {} and exit status 0


# -- 3. hints that point where the fix is ---------------------------------------------------------------------


def test_coco_default_metainfo_with_other_keypoints_says_to_set_the_dataset_metainfo(tmp_path, tiny_coco):
    """CocoDataset without metainfo reads COCO's 17 keypoints: the data's 35 and the head's 35 are not the slip."""
    gt = json.loads((tiny_coco / "annotations.json").read_text())
    for ann in gt["annotations"]:
        ann["keypoints"] = ann["keypoints"] + ann["keypoints"][:51] + [5.0, 5.0, 2]  # 35 keypoints
    ann_file = tmp_path / "ann35.json"
    ann_file.write_text(json.dumps(gt))
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    cfg = load_config(config, ["model.head.out_channels=35", f"train_dataloader.dataset.ann_file={ann_file}",
                               f"val_dataloader.dataset.ann_file={ann_file}"])
    problems = preflight(cfg, config, ("train", "val"))
    first = problems[0]
    assert first.code == "keypoints-length" and "these hold 35 keypoints" in first.hint
    assert "CocoDataset's default (coco.py, 17 keypoints)" in first.hint
    assert "set train_dataloader.dataset.metainfo=dict(from_file=...) in the config" in first.hint
    [head] = [p for p in problems if p.code == "head-keypoints"]
    assert "CocoDataset's default metainfo coco.py" in head.message
    assert "out_channels=17" not in head.hint and "train_dataloader.dataset.metainfo=dict(" in head.hint
    assert not any("--metainfo" in p.hint for p in problems)  # mmpx train has no --metainfo


def test_resume_with_nothing_to_resume_says_so(tmp_path, tiny_coco):
    """A bare --resume (MMPose's spelling) into an empty work dir: one warning naming it, then from scratch."""
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=1)
    work = tmp_path / "work"
    result = mmpx("train", str(config), "--work-dir", str(work), "--resume", env=ENV)
    assert result.returncode == 0, _log(result)[-3000:]
    assert f"--resume: no checkpoint to resume from in {work}; training starts from scratch" in _log(result)


def test_infer_says_when_every_score_is_under_kpt_thr(shared_data, tmp_path, tiny_coco):
    import torch
    from mmpose.apis import init_model
    from typer.testing import CliRunner

    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    model = init_model(str(config), None, device="cpu")
    weights = tmp_path / "tiny.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, weights)
    image = shared_data / "mmpose-testdata" / "coco" / "000000000785.jpg"
    app = build_app(load_plugins(distributions=[], env={}))

    def infer(thr: str):
        result = CliRunner().invoke(app, ["infer", str(image), "--pose", str(config), "--weights", str(weights),
                                          "--whole-image", "--out-dir", str(tmp_path / f"out{thr}"), "--kpt-thr",
                                          thr, "--no-progress"])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    said = re.search(r"every keypoint scores below --kpt-thr 1e\+09 \(the highest is (-?[\d.e+-]+)\): none is "
                     r"drawn", infer("1e9"))
    assert said and float(said.group(1)) < 1e9
    assert "every keypoint scores below" not in infer("-1e9")  # something is drawn: nothing to say


# -- 4. MMPose's bare --resume ------------------------------------------------------------------------------------


def test_bare_resume_after_sigkill_resumes_from_the_epoch_checkpoint(tmp_path):
    data = tmp_path / "data"
    make_tiny_coco(data, num_images=24)  # 8 iterations an epoch
    config = write_tiny_config(tmp_path / "tiny.py", data, max_epochs=3)
    work = tmp_path / "work"
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "mmpx", "train", str(config), "--work-dir", str(work)],
                            env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (work / "epoch_1.pth").exists():
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert not (work / "epoch_3.pth").exists(), "the run finished before it was killed"

    result = mmpx("train", str(config), "--resume", "--work-dir", str(work), env=ENV)  # bare, before an option
    assert result.returncode == 0, _log(result)[-3000:]
    resumed = re.search(r"resumed epoch: (\d+), iter: (\d+)", _log(result))
    assert resumed and int(resumed.group(1)) >= 1, _log(result)[-3000:]
    assert f"Auto resumed from the latest checkpoint {work}/epoch_{resumed.group(1)}.pth" in _log(result)
    assert (work / "epoch_3.pth").is_file()
