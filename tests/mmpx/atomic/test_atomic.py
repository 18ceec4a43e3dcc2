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


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(*paths) -> None:
    for path in paths:
        os.utime(path, (0, 0))  # made long ago, by a run that ended since


def test_clean_stale_removes_only_what_ended_runs_left(tmp_path):
    """A later run removes the temporaries nobody holds a lock on (leftovers such as .OUT.mmpx-tmp-*,
    .m.onnx.*.tmp.onnx used to stay); one this process writes (locked) and a fresh one are kept."""
    dead = _dead_pid()
    (tmp_path / f".mmpx-tmp-p{dead}-epoch_3.pth.abc").write_bytes(b"half")
    (tmp_path / f".data.mmpx-tmp-p{dead}-1a2b").mkdir()  # a converter's staging folder
    (tmp_path / f".data.mmpx-tmp-p{dead}-1a2b" / "x.json").write_text("{}")
    _age(tmp_path / f".mmpx-tmp-p{dead}-epoch_3.pth.abc", tmp_path / f".data.mmpx-tmp-p{dead}-1a2b")
    mine = tmp_path / f".mmpx-tmp-p{os.getpid()}-report.md.xyz"  # a write in progress in this process
    mine.write_text("..")
    atomic.lock_tmp(mine)
    _age(mine)
    old = tmp_path / ".mmpx-tmp-legacy.json.q"  # no process id, not locked, old
    old.write_text("..")
    _age(old)
    recent = tmp_path / ".mmpx-tmp-recent.json.q"  # may be a run's that has not locked it yet
    recent.write_text("..")
    (tmp_path / ".hidden-user-file").write_text("keep")
    removed = {p.name for p in atomic.clean_stale(tmp_path)}
    assert removed == {f".mmpx-tmp-p{dead}-epoch_3.pth.abc", f".data.mmpx-tmp-p{dead}-1a2b", old.name}
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, recent.name, ".hidden-user-file"])
    assert atomic.tmp_name("m.onnx") == f".mmpx-tmp-p{os.getpid()}-m.onnx."
    atomic.release(mine)


def test_a_conversion_removes_the_staging_folder_of_a_killed_one(tmp_path):
    from tests.mmpx.convert.test_convert_labelme import _dataset, convert

    src = _dataset(tmp_path / "src", n=2)
    leftover = tmp_path / f".out.mmpx-tmp-p{_dead_pid()}-dead"
    leftover.mkdir()
    _age(leftover)
    convert(src, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["out", "src"]
