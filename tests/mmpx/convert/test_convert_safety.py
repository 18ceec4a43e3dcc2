"""Converters never delete or replace what they read, nor files mmpx did not write.

Before: `mmpx convert labelme SRC SRC --overwrite` deleted every labelme file; `... par/src par --overwrite`
deleted `par/src` and unrelated files in `par`; the same for `convert yolo` / `to-yolo`; `mmpx metainfo
from-coco A.json A.json --force` replaced the COCO file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mmpx.convert.to_yolo import convert_to_yolo
from mmpx.convert.yolo import convert_yolo
from mmpx.errors import MmpxError
from tests.helpers import run
from tests.mmpx.convert.test_convert_labelme import _dataset, convert
from tests.mmpx.convert.test_convert_yolo import make_yolo


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_out_equal_to_src_is_refused_and_nothing_is_deleted(tmp_path):
    src = _dataset(tmp_path / "labels")
    before = snapshot(src)
    for overwrite in (False, True):
        with pytest.raises(MmpxError, match=r"output folder .*labels is the input .*labels"):
            convert(src, src, overwrite=overwrite)
    assert snapshot(src) == before


def test_out_containing_src_is_refused(tmp_path):
    par = tmp_path / "par"
    src = _dataset(par / "src")
    (par / "notes.txt").write_text("mine")
    before = snapshot(par)
    with pytest.raises(MmpxError, match="contains the input"):
        convert(src, par, overwrite=True)
    assert snapshot(par) == before


def test_out_inside_src_is_refused(tmp_path):
    src = _dataset(tmp_path / "src")
    with pytest.raises(MmpxError, match="lies inside the input"):
        convert(src, src / "coco")
    assert not (src / "coco").exists()


def test_out_holding_the_metainfo_input_is_refused(tmp_path):
    src = _dataset(tmp_path / "src")
    convert(src, tmp_path / "out")
    with pytest.raises(MmpxError, match="contains the input"):
        convert(src, tmp_path / "out", overwrite=True, metainfo=tmp_path / "out" / "metainfo.py", keypoints=None)


def test_overwrite_replaces_only_an_mmpx_output(tmp_path):
    src = _dataset(tmp_path / "src")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"\xff\xd8 not ours")
    with pytest.raises(MmpxError, match="was not written by an mmpx conversion") as err:
        convert(src, other, overwrite=True)
    assert "choose a new folder" in err.value.hint and snapshot(other) == {"holiday.jpg": b"\xff\xd8 not ours"}

    out = tmp_path / "out"
    convert(src, out)
    (out / "report.json").write_text(json.dumps({"converter": "labelme", "out": str(out)}))
    convert(src, out, overwrite=True)  # our own earlier output: replaced
    assert json.loads((out / "report.json").read_text())["files_read"] == 10


def test_yolo_and_to_yolo_refuse_their_inputs(tmp_path):
    data = make_yolo(tmp_path / "pose")
    before = snapshot(tmp_path / "pose")
    with pytest.raises(MmpxError, match="(is|contains) the input"):
        convert_yolo(data, tmp_path / "pose", overwrite=True)
    assert snapshot(tmp_path / "pose") == before

    coco = tmp_path / "coco"
    convert_yolo(data, coco)
    before = snapshot(coco)
    with pytest.raises(MmpxError, match="is the input"):
        convert_to_yolo(coco / "annotations", coco / "images", coco / "images", overwrite=True)
    with pytest.raises(MmpxError, match="contains the input"):
        convert_to_yolo(coco / "annotations", coco, coco / "images", overwrite=True)
    assert snapshot(coco) == before


def test_metainfo_from_coco_never_replaces_its_input(tmp_path):
    ann = tmp_path / "a.json"
    ann.write_text(json.dumps(dict(images=[], annotations=[], categories=[
        dict(id=1, name="car", keypoints=["a", "b"], skeleton=[[1, 2]])])))
    before = ann.read_bytes()
    result = run([sys.executable, "-m", "mmpx", "metainfo", "from-coco", str(ann), str(ann), "--force"])
    assert result.returncode == 1 and "is the input ANN" in result.stderr
    assert ann.read_bytes() == before


def test_synth_never_replaces_files_it_did_not_write(tmp_path):
    """`mmpx data synth` into a folder of the user's own files replaced them (000000.jpg, ...)."""
    from mmpx.synth.carpose import synth_carpose

    mine = tmp_path / "labels"
    mine.mkdir()
    (mine / "000000.jpg").write_bytes(b"my photo")
    with pytest.raises(MmpxError, match="was not written by mmpx data synth"):
        synth_carpose(mine, 2, size=64)
    assert (mine / "000000.jpg").read_bytes() == b"my photo"
    synth_carpose(tmp_path / "s", 2, size=64)
    synth_carpose(tmp_path / "s", 3, size=64)  # a synth folder is extended
    assert len(list((tmp_path / "s").glob("*.json"))) == 3


def test_a_conversion_that_converts_nothing_fails_and_writes_nothing(tmp_path):
    """Every file invalid JSON used to give an empty dataset, exit 0, and "no point shapes found"."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.json").write_text("{not json")
    with pytest.raises(MmpxError, match=r"nothing converted: all 3 file\(s\) under .* were skipped, e.g. .*0.json"):
        convert(src, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
