"""mmpx.atomic: the one writer. A failure inside the block leaves the old file and no temporary file."""

from __future__ import annotations

import os
import stat

import pytest

from mmpx import atomic


def test_write_replaces_whole_and_keeps_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "a.json"
    atomic.write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    atomic.write_json(target, [1, 2], indent=None)
    assert target.read_text() == "[1,2]\n"
    assert stat.S_IMODE(target.stat().st_mode) == atomic.file_mode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


@pytest.mark.parametrize("durable", [False, True])
def test_failure_inside_leaves_old_file_and_no_temp(tmp_path, durable):
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic.atomic_open(target, "wb", durable=durable) as f:
        f.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]


def test_atomic_path_for_writers_that_want_a_name(tmp_path):
    target = tmp_path / "v.mp4"
    with atomic.atomic_path(target, suffix=".mp4") as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path and not target.exists()
        tmp.write_bytes(b"video")
    assert target.read_bytes() == b"video" and os.listdir(tmp_path) == ["v.mp4"]


def test_replace_dir(tmp_path):
    final, new = tmp_path / "out", tmp_path / "new"
    final.mkdir()
    (final / "old.jpg").write_text("1")
    new.mkdir()
    (new / "new.jpg").write_text("2")
    atomic.replace_dir(new, final)
    assert os.listdir(final) == ["new.jpg"] and not new.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(atomic.TMP_PREFIX)]
