"""http(s) checkpoints and their cached copies load under the same allow-list as local files.

mmengine's http loader goes through ``torch.hub.load_state_dict_from_url``, which loads with
``weights_only=False``: a crafted file served over http (``load_from``, ``init_cfg=dict(type='Pretrained',
checkpoint=URL)``) or left in the torch hub cache ran code. A local server on 127.0.0.1 serves the files here;
the crafted one would create a marker file when unpickled, and the marker must never appear.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading

import numpy as np
import pytest
import torch

import mmpose_ext  # noqa: F401  (the fixes under test)
from mmpose_ext.compat.checkpoint import cached_path
from mmpx.errors import UntrustedCheckpointError
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """(base url, folder it serves, marker path); TORCH_HOME points into tmp_path."""
    root = tmp_path / "www"
    root.mkdir()
    marker = tmp_path / "PWNED"
    torch.save({"state_dict": {"w": torch.ones(2)}, "meta": {"x": _Evil(marker)}}, root / "evil.pth")
    torch.save({"state_dict": {"w": torch.arange(3.0)}, "meta": {"epoch": np.int64(3)}}, root / "good.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, marker
    finally:
        server.shutdown()
        server.server_close()


def _load(url):
    from mmengine.runner.checkpoint import CheckpointLoader

    return CheckpointLoader.load_checkpoint(url, map_location="cpu")


def test_served_checkpoints_go_through_the_allow_list(served):
    base, _, marker = served
    good = _load(f"{base}/good.pth")
    assert torch.equal(good["state_dict"]["w"], torch.arange(3.0)) and good["meta"]["epoch"] == 3
    assert os.path.isfile(cached_path(f"{base}/good.pth"))  # cached where torch.hub keeps it
    with pytest.raises(UntrustedCheckpointError, match="posix.system") as info:
        _load(f"{base}/evil.pth")
    assert cached_path(f"{base}/evil.pth") in str(info.value)  # the file a user would have to trust
    assert not marker.exists()


def test_a_crafted_file_in_the_cache_is_refused_offline(served, tmp_path):
    base, root, marker = served
    url = "http://127.0.0.1:9/cached-evil.pth"  # nothing listens there: only the cached copy can be loaded
    os.makedirs(os.path.dirname(cached_path(url)), exist_ok=True)
    shutil.copy(root / "evil.pth", cached_path(url))
    with pytest.raises(UntrustedCheckpointError, match="posix.system"):
        _load(url)
    assert not marker.exists()


def test_init_cfg_pretrained_url_is_refused(served):
    from mmpose_ext.registry import MODELS

    base, _, marker = served
    backbone = MODELS.build(dict(type="ResNet", depth=18, num_stages=1, strides=(1,), dilations=(1,), out_indices=(0,),
                                 init_cfg=dict(type="Pretrained", checkpoint=f"{base}/evil.pth")))
    with pytest.raises(UntrustedCheckpointError):
        backbone.init_weights()
    assert not marker.exists()


@pytest.mark.slow
def test_load_from_url_in_a_config_is_refused_by_mmpx_train(served, tmp_path, tiny_coco):
    base, _, marker = served
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=1)
    result = mmpx("train", str(config), "--work-dir", str(tmp_path / "w"), "--no-preflight", "--cfg-options",
                  f"load_from={base}/evil.pth", env={"TORCH_HOME": os.environ["TORCH_HOME"], "OMP_NUM_THREADS": "1"})
    assert result.returncode == 1, result.stderr[-2000:]
    assert "refused to load checkpoint" in result.stderr and "posix.system" in result.stderr
    assert not marker.exists()
