"""Every command over a generated corpus of broken inputs.

Each command slot has a good input of its kind; the corpus derives broken ones from it (missing, a folder, empty,
random bytes, not UTF-8, truncated, the wrong JSON type, nested 50,000 deep, a number too large for a float).
Each run goes through ``mmpx.cli.main.main`` as on the command line and must: exit non-zero, print one
``error:`` line (and a hint) naming the broken file, no traceback and no "this is unexpected", and leave the
folder as it was: nothing written, the previous output (given as the command's output) intact.
The training-stack commands (train, test, export onnx, publish, browse, infer --pose) run over the same corpus
with their configs and checkpoints broken (marked ``stack``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmpx.cli.main import main
from mmpx.metainfo import build_metainfo, write_metainfo
from tests.helpers import make_tiny_coco
from tests.mmpx.convert.test_convert_yolo import make_yolo
from tests.onnx_model import write_tiny_onnx

KINDS = ("missing", "folder", "empty", "garbage", "non_utf8", "truncated", "wrong_type", "nested", "huge_number")


def broken(good: bytes, kind: str, anchor: bytes = b"") -> bytes | None:
    """The broken content of ``kind`` made from ``good`` (None: no file, or a folder; see :func:`place`)."""
    text_like = good[:1] in (b"{", b"[") or good.isascii()
    if kind in ("missing", "folder"):
        return None
    if kind == "empty":
        return b""
    if kind == "garbage":
        return np.random.default_rng(len(good)).integers(0, 256, 512, dtype=np.uint8).tobytes()
    if kind == "non_utf8":
        return b"\xff\xfe\x00 not utf-8 \xc3\x28" + good[:64]
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "wrong_type":
        return b'{"a": 1}' if good[:1] == b"[" else b"[1, 2, 3]"
    if kind == "nested":
        return b"[" * 50_000 + b"]" * 50_000 if text_like else b"\x00" * 50_000
    if kind == "huge_number":  # the first number (after ``anchor``) becomes 1e400: inf as a float
        if not text_like:
            return good[:16] + b"1e400" + good[16:]
        at = good.index(anchor) if anchor else 0  # a value: after [ : , = ( or "- "; never in base64 or a string
        return good[:at] + re.sub(rb"(?<=[\[:,-] )\d+(\.\d+)?|(?<=[\[:,=(])\d+(\.\d+)?", b"1e400", good[at:],
                                  count=1)
    raise ValueError(kind)


def place(path: Path, good: bytes, kind: str, anchor: bytes = b"") -> Path:
    content = broken(good, kind, anchor)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "folder":
        path.mkdir()
        (path / "inside.txt").write_text("x")
    elif content is not None:
        path.write_bytes(content)
    return path


def snapshot(folder: Path) -> dict:
    out = {}
    for p in sorted(folder.rglob("*")):
        out[p.relative_to(folder).as_posix()] = p.read_bytes() if p.is_file() else "<dir>"
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """Good inputs and previous outputs, built once; each case copies what it needs."""
    import cv2

    root = tmp_path_factory.mktemp("fuzz")
    coco_root = root / "coco"
    make_tiny_coco(coco_root, num_images=4, size=64)
    ann = coco_root / "annotations.json"
    coco = json.loads(ann.read_text())
    preds = [dict(image_id=a["image_id"], category_id=a["category_id"], keypoints=a["keypoints"], score=0.9)
             for a in coco["annotations"]]
    ok, png = cv2.imencode(".png", np.full((48, 64, 3), 90, np.uint8))
    labelme = dict(version="5.2.1", flags={}, imagePath="a.png", imageData=base64.b64encode(png.tobytes()).decode(),
                   imageHeight=48, imageWidth=64, shapes=[
                       dict(label="nose", points=[[10, 10]], group_id=None, shape_type="point", flags={}),
                       dict(label="tail", points=[[30, 30]], group_id=None, shape_type="point", flags={})])
    yolo = make_yolo(root / "yolo")
    onnx = write_tiny_onnx(root / "tiny.onnx")
    names = coco["categories"][0]["keypoints"]
    write_metainfo(root / "meta.py", build_metainfo("tiny", names, [(names[0], names[1])]))
    scalars = b"".join(json.dumps(dict(loss=1.0 / (i + 1), epoch=1, iter=i + 1, step=i + 1)).encode() + b"\n"
                       for i in range(5))
    w = dict(root=root, ann=ann, images=coco_root / "images", good=dict(
        coco=ann.read_bytes(), preds=json.dumps(preds).encode(), labelme=json.dumps(labelme).encode(),
        yolo=yolo.read_bytes(), metainfo=(root / "meta.py").read_bytes(), onnx=onnx.read_bytes(),
        metrics=b'{"coco/AP": 0.5, "PCK": 0.7}', scalars=scalars, trajectories=b"".join(
            [b"video,frame,time,track_id,keypoint,x,y,score,visible\n"]
            + [f"clip.mp4,{f},{f / 10:.4f},1,{k},{10 + f}.5,{20 + f}.25,0.9,1\n".encode()
               for f in range(3) for k in "ab"])),
        yolo_root=yolo.parent, onnx=onnx)
    w["prev"] = _previous_outputs(root, w)
    return w


def _previous_outputs(root: Path, w: dict) -> Path:
    """Outputs of earlier good runs, given to the commands as their output (they must stay intact)."""
    prev = root / "prev"
    prev.mkdir()
    for name in ("out.json", "out.md", "out.onnx", "out.png", "metainfo.py"):
        (prev / name).write_text(f"previous {name}\n")
    # out.json is also the sidecar copy of the earlier out.onnx: export replaces only a sidecar it wrote
    (prev / "out.json").write_text('{"format": "mmpose-ext/onnx-pose", "previous": "out.json"}\n')
    good_lm = root / "good_labelme"
    good_lm.mkdir()
    (good_lm / "a.json").write_bytes(w["good"]["labelme"])
    for argv in (["convert", "labelme", good_lm, prev / "labelme_out"],
                 ["convert", "to-yolo", w["ann"], prev / "yolo_out", "--images", w["images"]],
                 ["convert", "yolo", w["yolo_root"], prev / "coco_out"]):
        with pytest.raises(SystemExit) as done:
            main([str(a) for a in argv])
        assert done.value.code in (0, None)
    return prev


# slot: (good content key, file name of the broken input, argv builder(bad, prev, world)[, where 1e400 goes])
SLOTS = {
    "check data": ("coco", "ann.json", lambda b, p, w: ["check", "data", b]),
    "check data --metainfo": ("metainfo", "meta.py", lambda b, p, w: ["check", "data", w["ann"], "--metainfo", b],
                              b"'sigmas'"),
    "metainfo from-coco": ("coco", "ann.json",
                           lambda b, p, w: ["metainfo", "from-coco", b, p / "metainfo.py", "--force"]),
    "metainfo check": ("metainfo", "meta.py", lambda b, p, w: ["metainfo", "check", b], b"'sigmas'"),
    "metainfo map": ("metainfo", "meta.py", lambda b, p, w: ["metainfo", "map", b, w["root"] / "meta.py"],
                     b"'sigmas'"),
    "convert labelme": ("labelme", "src/x.json",
                        lambda b, p, w: ["convert", "labelme", b.parent, p / "labelme_out", "--overwrite"]),
    "convert to-yolo": ("coco", "ann.json", lambda b, p, w: ["convert", "to-yolo", b, p / "yolo_out", "--images",
                                                             w["images"], "--overwrite"]),
    "convert yolo": ("yolo", "data.yaml", lambda b, p, w: ["convert", "yolo", b, p / "coco_out", "--overwrite"]),
    "eval gt": ("coco", "gt.json", lambda b, p, w: ["eval", b, w["pred"], "--out", p / "out.json"]),
    "eval pred": ("preds", "pred.json", lambda b, p, w: ["eval", w["ann"], b, "--out", p / "out.json",
                                                         "--markdown", p / "out.md"]),
    "compare": ("metrics", "a.json", lambda b, p, w: ["compare", b, w["metrics"], "--markdown", p / "out.md"]),
    "plot": ("scalars", "run/scalars.json", lambda b, p, w: ["plot", b, "--out", p / "out.png"]),
    "plot trajectories": ("trajectories", "t.csv", lambda b, p, w: ["plot", "trajectories", b, "--out", p / "out.png"]),
    "infer --weights": ("onnx", "model.onnx", lambda b, p, w: [
        "infer", w["images"], "--backend", "onnxruntime", "--weights", b, "--whole-image", "--no-progress",
        "--save-json", p / "out.json"]),
    "export int8": ("onnx", "model.onnx", lambda b, p, w: [
        "export", "int8", b, "--calib-ann", w["ann"], "--calib-images", w["images"], "--out", p / "out.onnx"]),
}

HUGE_IS_FINE = {  # why 1e400 (inf) as the first number is no error for these
    "infer --weights": "no numbers to enlarge in a binary file",
    "export int8": "no numbers to enlarge in a binary file",
    "metainfo from-coco": "the first number is an image id, which from-coco does not read",
    "compare": "a metric may be inf or NaN (a diverged loss): shown as it is",
    "plot": "a metric may be inf or NaN (a diverged loss): plotted as it is",
}
REPORTS = {"check data", "check data --metainfo", "metainfo check"}


def run_broken(tmp_path: Path, w: dict, slot: tuple, kind: str, capsys) -> tuple[int, str, Path]:
    good_key, name, argv_for = slot[:3]
    case = tmp_path / "case"
    case.mkdir()
    prev = case / "prev"
    shutil.copytree(w["prev"], prev, symlinks=True)
    for key, content in (("pred", w["good"]["preds"]), ("metrics", w["good"]["metrics"])):
        w[key] = case / f"good_{key}.json"
        w[key].write_bytes(content)
    bad = place(case / "bad" / name, w["good"][good_key], kind, slot[3] if len(slot) > 3 else b"")
    argv = [str(a) for a in argv_for(bad, prev, w)]
    before = snapshot(case)
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    assert snapshot(case) == before, f"{argv}: the folder changed (a write, or a previous output touched)"
    return done.value.code, captured.out, captured.err, bad


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_broken_input_gives_one_clear_error_and_changes_nothing(world, tmp_path, capsys, slot, kind):
    if kind == "huge_number" and slot in HUGE_IS_FINE:
        pytest.skip(HUGE_IS_FINE[slot])
    if kind == "truncated" and slot == "plot":
        pytest.skip("a cut last line is the one a running training is writing: plotted without it, by design")
    code, out, err, bad = run_broken(tmp_path, world, SLOTS[slot], kind, capsys)
    everything = out + err
    assert code not in (0, None), f"{slot} / {kind}: exit 0 for a broken input\n{everything}"
    assert "Traceback" not in everything and "this is unexpected" not in err, f"{slot} / {kind}:\n{everything}"
    if slot in REPORTS and out.strip():  # checkers report problems in a table (exit 1) naming the file
        assert "error" in out and bad.name in " ".join(out.split()), f"{slot} / {kind}:\n{everything}"
        return
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, f"{slot} / {kind}: expected one error line\n{everything}"
    shown = " ".join(lines[lines.index(errors[0]):])
    assert bad.name in shown or str(bad.parent) in shown, f"{slot} / {kind}: the input is not named\n{err}"


def test_the_corpus_is_really_broken(world):
    """Guards the generator: each kind differs from the good content, and the good inputs work (the slots'
    commands succeed on them: see _previous_outputs and the other test files)."""
    for key, good in world["good"].items():
        for kind in KINDS[2:]:
            assert broken(good, kind) != good, (key, kind)


def test_a_broken_image_is_skipped_named_and_fails_the_run(world, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("good.png", "bad.png"):
        (images / name).write_bytes((world["images"] / sorted(os.listdir(world["images"]))[0]).read_bytes())
    (images / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as done:
        main(["infer", str(images), "--backend", "onnxruntime", "--weights", str(world["onnx"]), "--whole-image",
              "--no-progress", "--save-json", str(out)])
    err = capsys.readouterr().err
    assert done.value.code == 1 and "Traceback" not in err
    assert "skipped 1 unreadable input(s)" in err and "bad.png" in err
    assert [r["file_name"] for r in json.loads(out.read_text())] == ["good.png"]


# --- the training-stack commands: configs and checkpoints for train, test, export onnx, publish, browse, infer


@pytest.fixture(scope="module")
def stack_world(tmp_path_factory, tiny_coco) -> dict:
    import mmpose_ext  # noqa: F401  (fixes and registries before mmpose is imported)

    root = tmp_path_factory.mktemp("fuzz_stack")
    import cv2
    import torch
    from mmpose.apis import init_model

    from tests.helpers import write_tiny_config

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
STACK_SLOTS = {
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
STACK_NOT_USED = {  # (slot, kind): why that broken input is no error for the command
    ("test config", "huge_number"): "max_epochs (where 1e400 goes) is not read by a test",
    ("browse", "huge_number"): "max_epochs (where 1e400 goes) is not read by browse",
}


@pytest.mark.stack
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("slot", sorted(STACK_SLOTS))
def test_broken_config_or_checkpoint(stack_world, tmp_path, capsys, slot, kind):
    world = stack_world
    good_key, name, argv_for = STACK_SLOTS[slot][:3]
    if kind == "huge_number" and good_key == "ckpt":
        pytest.skip("no numbers to enlarge in a binary file")
    if (slot, kind) in STACK_NOT_USED:
        pytest.skip(STACK_NOT_USED[slot, kind])
    case = tmp_path / "case"
    prev = case / "prev"
    shutil.copytree(world["prev"], prev)
    anchor = STACK_SLOTS[slot][3] if len(STACK_SLOTS[slot]) > 3 else b""
    bad = place(case / "bad" / name, world["good"][good_key], kind, anchor)
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
