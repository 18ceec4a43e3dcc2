"""Reports written on a full disk leave the previous file whole and no temporary file:
`compare --markdown` truncated an existing report and `eval --out` left 0-byte files."""

from __future__ import annotations

import builtins
import errno
import os

import pytest

import mmpx.atomic
from mmpx.evaluation import tables


class _FullDisk:
    """A file whose writes stop half-way with ENOSPC, as on a full disk."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.fixture()
def full_disk(monkeypatch):
    def opener(file, mode="r", *args, **kwargs):
        f = builtins.open(file, mode, *args, **kwargs)
        return _FullDisk(f) if "w" in mode else f

    monkeypatch.setattr(mmpx.atomic, "open", opener, raising=False)


@pytest.mark.parametrize("writer", ["markdown", "json", "compare"])
def test_previous_report_survives(tmp_path, full_disk, writer):
    target = tmp_path / "report.out"
    target.write_text("the previous report\n")
    metrics = {"coco/AP": 0.5, "PCK": 0.9}
    with pytest.raises(OSError) as info:
        if writer == "markdown":
            tables.write_markdown(metrics, target)
        elif writer == "json":
            tables.write_json(metrics, target)
        else:
            rows = tables.compare(metrics, {"coco/AP": 0.6, "PCK": 0.8})
            tables.write_compare_markdown(rows, target)
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "the previous report\n" and os.listdir(tmp_path) == ["report.out"]
