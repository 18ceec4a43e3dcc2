"""The training-stack commands over the broken-input corpus of tests/core/test_fuzz_commands.py (issue 16):
configs and checkpoints for train, test, export onnx, publish, browse and infer. Same rules: non-zero exit, one
``error:`` line naming the broken file, no traceback, nothing written, previous outputs intact."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import torch

import mmpose_ext  # noqa: F401  (fixes and registries before mmpose is imported)
from mmpx.cli.main import main
from tests.core.test_fuzz_commands import KINDS, place, snapshot
from tests.helpers import write_tiny_config

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_coco) -> dict:
    from mmpose.apis import init_model

    root = tmp_path_factory.mktemp("fuzz_stack")
    config = write_tiny_config(root / "tiny.py", tiny_coco, max_epochs=1)
    model = init_model(str(config), None, device="cpu")
    ckpt = root / "good.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
    image = root / "img.jpg"
    cv2.imwrite(str(image), np.full((64, 64, 3), 90, np.uint8))
    prev = root / "prev"
    (prev / "work").mkdir(parents=True)
    (prev / "work" / "earlier.log").write_text("an earlier run\n")
    (prev / "browse").mkdir()
    (prev / "browse" / "0.jpg").write_bytes(image.read_bytes())
    for name in ("out.json", "out.onnx", "out.pth"):
        (prev / name).write_text(f"previous {name}\n")
    # out.json is also the sidecar copy of the earlier out.onnx: export replaces only a sidecar it wrote
    (prev / "out.json").write_text('{"format": "mmpose-ext/onnx-pose", "previous": "out.json"}\n')
    return dict(cfg=config, ckpt=ckpt, image=image, prev=prev,
                good=dict(config=config.read_bytes(), ckpt=ckpt.read_bytes()))


# slot: (good content key, broken file name, argv builder(bad, prev, world)[, where 1e400 goes])
SLOTS = {
    "train config": ("config", "cfg.py", lambda b, p, w: ["train", b, "--work-dir", p / "work"], b"max_epochs="),
    "train --resume": ("ckpt", "w.pth", lambda b, p, w: ["train", w["cfg"], "--work-dir", p / "work",
                                                         "--resume", b]),
    "test config": ("config", "cfg.py", lambda b, p, w: ["test", b, w["ckpt"], "--work-dir", p / "work", "--out",
                                                         p / "out.json"], b"max_epochs="),
    "test checkpoint": ("ckpt", "w.pth", lambda b, p, w: ["test", w["cfg"], b, "--work-dir", p / "work", "--out",
                                                          p / "out.json"]),
    "export onnx": ("ckpt", "w.pth", lambda b, p, w: ["export", "onnx", w["cfg"], b, "--out", p / "out.onnx"]),
    "publish": ("ckpt", "w.pth", lambda b, p, w: ["publish", b, p / "out.pth"]),
    "browse": ("config", "cfg.py", lambda b, p, w: ["browse", b, "--out-dir", p / "browse"], b"max_epochs="),
    "infer --pose": ("config", "cfg.py", lambda b, p, w: [
        "infer", w["image"], "--pose", b, "--weights", w["ckpt"], "--whole-image", "--no-progress",
        "--save-json", p / "out.json"], b"codec = dict(type='MSRAHeatmap', input_size=("),
}
NOT_USED = {  # (slot, kind): why that broken input is no error for the command
    ("test config", "huge_number"): "max_epochs (where 1e400 goes) is not read by a test",
    ("browse", "huge_number"): "max_epochs (where 1e400 goes) is not read by browse",
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_broken_config_or_checkpoint(world, tmp_path, capsys, slot, kind):
    good_key, name, argv_for = SLOTS[slot][:3]
    if kind == "huge_number" and good_key == "ckpt":
        pytest.skip("no numbers to enlarge in a binary file")
    if (slot, kind) in NOT_USED:
        pytest.skip(NOT_USED[slot, kind])
    case = tmp_path / "case"
    prev = case / "prev"
    shutil.copytree(world["prev"], prev)
    bad = place(case / "bad" / name, world["good"][good_key], kind, SLOTS[slot][3] if len(SLOTS[slot]) > 3 else b"")
    argv = [str(a) for a in argv_for(bad, prev, world)]
    before = snapshot(case)
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code not in (0, None), f"{slot} / {kind}: exit 0 for a broken input\n{err}"
    assert "Traceback" not in err and "this is unexpected" not in err, f"{slot} / {kind}:\n{err}"
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, f"{slot} / {kind}: expected one error line\n{err}"
    shown = " ".join(lines[lines.index(errors[0]):])
    assert bad.name in shown or str(bad.parent) in shown, f"{slot} / {kind}: the input is not named\n{err}"
    assert snapshot(case) == before, f"{argv}: the folder changed"
