"""``mmpx data synth traffic``: the synthetic clip docs/guides/infer.md and docs/reference/python-api.md run on,
written whole or not at all, with its refusals before any work."""

from __future__ import annotations

import cv2
import numpy as np

from mmpx.synth.traffic import traffic_clip
from mmpx.testing import run_cli


def test_writes_the_clip_the_docs_use(tmp_path):
    out = tmp_path / "clips" / "traffic.mp4"
    result = run_cli("data", "synth", "traffic", out, "--frames", "13", "--width", "160", "--height", "120")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}: 13 frames of 160x120 at 25 fps, 3 cars")
    reader = cv2.VideoCapture(str(out))
    assert reader.get(cv2.CAP_PROP_FPS) == 25 and reader.get(cv2.CAP_PROP_FRAME_COUNT) == 13
    ok, first = reader.read()
    reader.release()
    drawn = traffic_clip(frames=13, cars=3, width=160, height=120, fps=25).frames[0]
    assert ok and first.shape == (120, 160, 3) and np.abs(first.astype(int) - drawn).mean() < 8  # mp4v is lossy
    assert sorted(p.name for p in out.parent.iterdir()) == ["traffic.mp4"]  # no temporary file left
    avi = tmp_path / "clip.avi"
    assert run_cli("data", "synth", "traffic", avi, "--frames", "2", "--cars", "2", "--width", "96",
                   "--height", "96", "--fps", "12").exit_code == 0
    assert cv2.VideoCapture(str(avi)).get(cv2.CAP_PROP_FPS) == 12


def test_refusals_name_the_path_and_write_nothing(tmp_path):
    (tmp_path / "old.mp4").write_bytes(b"mine")
    (tmp_path / "folder.mp4").mkdir()
    for path, words in ((tmp_path / "old.mp4", "exists"), (tmp_path / "clip.mkv", "name it .mp4 or .avi"),
                        (tmp_path / "folder.mp4", "is a folder")):
        result = run_cli("data", "synth", "traffic", path, "--frames", "2")
        assert result.exit_code == 1 and words in result.stderr and str(path) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert (tmp_path / "old.mp4").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.mp4", "old.mp4"]
    forced = run_cli("data", "synth", "traffic", tmp_path / "old.mp4", "--frames", "2", "--force")
    assert forced.exit_code == 0 and (tmp_path / "old.mp4").stat().st_size > 100
