"""Every ```python block of docs/reference/python-api.md, run as written: in order, in one namespace (as a
reader would paste them into one session), in a folder holding the files they name.

What the blocks leave to the reader is made here, small: ``pose_config``/``pose_checkpoint`` are the carpose
RTMPose-t config trained for one iteration on synthetic cars, ``rtmpose-t_carpose.onnx`` its export,
``det_config``/``det_checkpoint`` the carpose RTMDet-tiny config (at most 2 boxes per image) with its class and box
branches set to constant outputs (random weights give no box), ``car.jpg`` a synthetic car and ``traffic.mp4`` the
clip of ``mmpx data synth traffic``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmpx.testing import carpose_data, run_cli, train_briefly
from tests.helpers import ROOT

pytestmark = [pytest.mark.stack, pytest.mark.slow]
DOC = ROOT / "docs" / "reference" / "python-api.md"
POSE_CONFIG = ROOT / "configs" / "carpose" / "rtmpose-t_carpose-256x256.py"
DET_CONFIG = ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose.py"


# the carpose detector at 160x160 (its 640 takes seconds per frame on a busy CPU), at most 2 boxes per image
SMALL_DET = """_base_ = [{base!r}]
model = dict(test_cfg=dict(max_per_img=2))
test_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='Pad', size=(160, 160), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.M | re.S)


def _detector(root: Path) -> tuple[Path, Path]:
    """A detector config file and checkpoint whose boxes do not depend on its (random) weights."""
    import torch
    from mmdet.apis import init_detector

    from mmpose_ext.infer.model import load_any_config

    config = root / "det.py"
    config.write_text(SMALL_DET.format(base=str(DET_CONFIG)))
    det = init_detector(load_any_config(config), None, device="cpu")
    with torch.no_grad():  # score 0.5 everywhere, boxes 6 strides from each prior on every side
        for conv in det.bbox_head.rtm_cls:
            conv.weight.zero_(), conv.bias.zero_()
        for conv in det.bbox_head.rtm_reg:
            conv.weight.zero_(), conv.bias.fill_(6.0)
    checkpoint = root / "det.pth"
    torch.save({"state_dict": det.state_dict(), "meta": {"dataset_meta": {"classes": ("car",)}}}, checkpoint)
    return config, checkpoint


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> tuple[Path, dict]:
    from mmpose_ext.deploy.export import export_onnx

    root = tmp_path_factory.mktemp("docs_api")
    data = carpose_data(root / "cars", n=4, size=128)
    loaders = [f"{loader}.dataset.data_root={data}/" for loader in ("train_dataloader", "val_dataloader",
                                                                    "test_dataloader")]
    checkpoint = train_briefly(POSE_CONFIG, root / "run", samples=2, batch_size=2, cfg_options=loaders)
    export_onnx(POSE_CONFIG, checkpoint, out=root / "rtmpose-t_carpose.onnx")
    det_config, det_checkpoint = _detector(root)
    shutil.copy(next((data / "images").rglob("*.jpg")), root / "car.jpg")
    made = run_cli("data", "synth", "traffic", root / "traffic.mp4", "--frames", "13", "--width", "320",
                   "--height", "240")
    assert made.exit_code == 0, made.stderr
    names = dict(pose_config=str(POSE_CONFIG), pose_checkpoint=str(checkpoint), det_config=str(det_config),
                 det_checkpoint=str(det_checkpoint))
    return root, names


# Runs the blocks in a fresh interpreter, as a reader would: nothing imported before them (mmpose_ext's fixes
# included), then prints what the test checks as the last line.
RUNNER = """
import json, re, sys, time
doc = open(sys.argv[1]).read()
namespace = json.loads(sys.argv[2])
seconds, outputs = [], []
for number, block in enumerate(re.findall(r"^```python\\n(.*?)^```", doc, flags=re.M | re.S), 1):
    start = time.perf_counter()
    exec(compile(block, f"python-api.md block {number}", "exec"), namespace)
    seconds.append(round(time.perf_counter() - start, 1))
    outputs.append({k: namespace[k] for k in ("keypoints",) if k in namespace})
r, df = namespace["r"], namespace["df"]
print(json.dumps(dict(seconds=seconds, keypoints=[o["keypoints"].tolist() for o in outputs[:2]],
                      frame=[r.source, r.frame, r.time], tracked=r.track_ids is not None, frame_rows=len(df),
                      table_rows=len(namespace["table"].rows()), columns=list(df.columns))))
"""


def test_every_python_block_runs_as_written(workspace):
    root, names = workspace
    assert len(python_blocks(DOC)) == 4, "a block was added or removed: say here what it needs"
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(DOC), json.dumps(names)], cwd=root, text=True,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, f"{DOC.name}: a python block fails as written:\n{proc.stderr[-3000:]}"
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    print("seconds per block:", got["seconds"])
    # the tutorial and mmpose-ext find the same poses (blocks 1 and 2), and both drew them
    np.testing.assert_allclose(got["keypoints"][1], got["keypoints"][0], atol=1e-2)
    assert (root / "drawn.jpg").is_file()
    # block 4: the clip's frame 12 at 25 fps, tracked; the pandas table has the trajectory table's rows; the CSV
    assert got["frame"][:2] == ["traffic.mp4", 12] and round(got["frame"][2], 2) == 0.48 and got["tracked"]
    assert got["frame_rows"] == got["table_rows"] > 0
    assert got["columns"][:5] == ["video", "frame", "time", "track_id", "keypoint"]
    assert (root / "tracked.jpg").is_file() and (root / "traffic.csv").is_file()
