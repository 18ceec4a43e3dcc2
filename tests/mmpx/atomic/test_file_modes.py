"""Every kind of output gets the permissions a plain ``open()`` gives (0666 less the umask), not mkstemp's 0600:
checkpoints, last_checkpoint, plots, metainfo.py, a published model, ONNX exports, results."""

from __future__ import annotations

import os
import stat

import pytest

import mmpose_ext  # noqa: F401
from mmpx.atomic import file_mode
from tests.helpers import make_tiny_coco, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


@pytest.fixture(scope="module")
def umask_022():
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.slow
def test_training_outputs(tmp_path, umask_022):
    data = tmp_path / "data"
    make_tiny_coco(data, num_images=6)
    config = write_tiny_config(tmp_path / "tiny.py", data, max_epochs=1)
    work = tmp_path / "w"
    result = mmpx("train", str(config), "--work-dir", str(work), env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = [work / "epoch_1.pth", work / "last_checkpoint", work / "loss.png"]
    result = mmpx("publish", str(work / "epoch_1.pth"), str(tmp_path / "rel" / "model.pth"))
    assert result.returncode == 0, result.stderr[-2000:]
    outputs += list((tmp_path / "rel").glob("model-*.pth"))
    result = mmpx("export", "onnx", str(config), str(work / "epoch_1.pth"), "--out", str(tmp_path / "m.onnx"))
    assert result.returncode == 0, result.stderr[-2000:]
    outputs += [tmp_path / "m.onnx", tmp_path / "m.json"]
    assert len(outputs) == 6
    assert {str(p): oct(mode(p)) for p in outputs} == {str(p): oct(0o644) for p in outputs}
    assert file_mode() == 0o644


def test_metainfo_and_results(tmp_path, umask_022):
    from mmpx.metainfo import build_metainfo, write_metainfo

    write_metainfo(tmp_path / "metainfo.py", build_metainfo("x", ["a", "b"]))
    assert mode(tmp_path / "metainfo.py") == 0o644
