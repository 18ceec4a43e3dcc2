"""Output paths are checked before the work: ``infer``/``test`` found an unwritable output
only after all the images or the whole test set; ``eval`` and ``export`` likewise after their work."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mmpx.atomic import check_writable
from mmpx.errors import MmpxError
from tests.onnx_model import write_tiny_onnx


@pytest.fixture()
def blocker(tmp_path):
    """A plain file where an output's parent folder would have to be made."""
    path = tmp_path / "blocker"
    path.write_text("not a folder")
    return path


def test_check_writable(tmp_path, blocker):
    for path, folder, text in [
        (blocker, True, "is a file, expected a folder"),
        (tmp_path, False, "is a folder, expected a file path"),
        (blocker / "out.json", False, "blocker is a file, so a file cannot be made under it"),
        (blocker / "a" / "b", True, "blocker is a file, so a folder cannot be made under it"),
    ]:
        with pytest.raises(MmpxError, match=text):
            check_writable(path, "--out", folder=folder)
    check_writable(tmp_path / "new" / "deeper" / "r.json", "--out")  # parents made later: fine
    check_writable(tmp_path, "--out-dir", folder=True)
    check_writable(blocker, "--out")  # an existing file is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]  # the probe file is gone, nothing made


@pytest.fixture(scope="module")
def app():
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return build_app(load_plugins())


def _invoke(app, *args):
    start = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result, time.perf_counter() - start


def test_infer_checks_its_outputs_before_the_images(app, tmp_path, blocker):
    model = write_tiny_onnx(tmp_path / "tiny.onnx")
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"{i}.jpg"), np.full((32, 32, 3), 90, np.uint8))
    base = ["infer", images, "--backend", "onnxruntime", "--weights", model, "--whole-image", "--no-progress"]
    for extra, text in [(["--out-dir", blocker / "drawn"], "--out-dir"),
                        (["--save-json", tmp_path], "--save-json")]:
        result, _ = _invoke(app, *base, *extra)
        assert isinstance(result.exception, MmpxError), result.output
        assert str(result.exception).startswith(text), result.exception
    result, _ = _invoke(app, *base, "--save-json", tmp_path / "out" / "r.json")
    assert result.exit_code == 0, result.output  # the same run with a good path works


def test_eval_test_and_export_check_their_outputs_first(app, tmp_path, blocker):
    """The inputs here do not even exist: the output is what is checked first."""
    missing = tmp_path / "missing"
    for args, text in [
        (["eval", missing / "gt.json", missing / "pred.json", "--out", blocker / "r.json"], "--out"),
        (["eval", missing / "gt.json", missing / "pred.json", "--markdown", tmp_path], "--markdown"),
        (["test", missing / "cfg.py", missing / "w.pth", "--out", blocker / "m.json"], "--out"),
        (["test", missing / "cfg.py", missing / "w.pth", "--dump", blocker / "p.pkl"], "--dump"),
        (["test", missing / "cfg.py", missing / "w.pth", "--show-dir", blocker], "--show-dir"),
        (["export", "onnx", missing / "cfg.py", missing / "w.pth", "--out", blocker / "m.onnx"], "--out"),
        (["export", "int8", missing / "m.onnx", "--calib-ann", missing / "a.json", "--calib-images", missing,
          "--out", tmp_path], "--out"),
    ]:
        result, seconds = _invoke(app, *args)
        assert isinstance(result.exception, MmpxError), (args, result.output)
        assert str(result.exception).startswith(text), (args, result.exception)
        assert seconds < 5, f"{args[0]} took {seconds:.1f} s to refuse its output path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
