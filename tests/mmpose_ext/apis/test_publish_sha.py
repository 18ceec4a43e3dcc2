"""A release's name carries its sha256 prefix (``NAME-<sha256[:8]>.pth``, as ``mmpx publish`` writes it): every
load through the project's checkpoint loader checks it, so weights changed after publishing are refused instead of
loaded without complaint. Other names are never checked."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import torch

import mmpose_ext  # noqa: F401  (applies the fixes under test)
from mmpose_ext.apis.publish import publish
from mmpose_ext.compat import checkpoint as safe
from mmpx.errors import CheckpointError
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def _release(tmp_path, state_dict: dict, name: str = "m.pth"):
    """Publish a checkpoint; again (a new serialization id, a new hash) in the 2.3% of cases where the hash's 8
    digits hold no letter: such names are not checked (see test_only_the_publish_format_is_checked)."""
    ckpt = tmp_path / "epoch_1.pth"
    torch.save({"state_dict": state_dict, "meta": {"epoch": 1}, "optimizer": {}}, ckpt)
    for _ in range(10):
        final = publish(ckpt, tmp_path / "release" / name)
        if safe.published_prefix(str(final)):
            return final
        final.unlink()
    raise AssertionError("ten hashes without a letter")


def _change_weights(path) -> None:
    """What an attacker (or a careless edit) does: load, change a tensor, save under the same name."""
    data = torch.load(path, weights_only=True)
    for value in data["state_dict"].values():
        value.add_(1.0)
        break
    torch.save(data, path)


def test_a_changed_release_is_refused_naming_file_and_both_prefixes(tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import _load_checkpoint

    final = _release(tmp_path, {"w": torch.arange(6.0)})
    expected = final.name[2:10]
    assert hashlib.sha256(final.read_bytes()).hexdigest()[:8] == expected
    assert safe.load(str(final))["state_dict"]["w"].tolist() == [0, 1, 2, 3, 4, 5]
    _change_weights(final)
    actual = hashlib.sha256(final.read_bytes()).hexdigest()[:8]
    for loader in (safe.load, lambda p: _load_checkpoint(p, map_location="cpu")):
        with pytest.raises(CheckpointError) as info:
            loader(str(final))
        message = info.value.message
        assert "\n" not in message and str(final) in message
        assert f"its name says sha256 {expected}..." in message and f"hashes to {actual}..." in message
        assert f"rename it without the -{expected} suffix" in info.value.hint
    monkeypatch.setenv(safe.TRUST_ENV, str(final))  # trust allows pickle globals; it does not vouch for content
    with pytest.raises(CheckpointError, match="its name says sha256"):
        safe.load(str(final))
    renamed = final.with_name("m-edited.pth")
    final.rename(renamed)
    assert safe.load(str(renamed))["state_dict"]["w"].tolist() == [1, 2, 3, 4, 5, 6]


def test_only_the_publish_format_is_checked(tmp_path):
    """NAME-<8 lowercase hex digits, one a letter>.pth: dates, run numbers, upper case, MMPose's model-zoo names
    (NAME-<sha>_<date>.pth, not what mmpx publish writes) and other suffixes are left alone."""
    data = {"state_dict": {"w": torch.zeros(2)}}
    names = {"notes-deadbeef.pth": "deadbeef", "m-1234567a.pth": "1234567a", "model-20240501.pth": None,
             "epoch_3.pth": None, "run-DEADBEEF.pth": None, "rtm-e613ba3f_20230127.pth": None, "x-deadbeef0.pth": None,
             "-deadbeef.pth": None, "m-deadbeef.pth.bak": None, "best_coco_AP_epoch_10.pth": None}
    for name, prefix in names.items():
        path = tmp_path / name
        torch.save(data, path)
        assert safe.published_prefix(str(path)) == prefix, name
        if prefix is None:
            assert safe.load(str(path))["state_dict"]["w"].tolist() == [0, 0], name
        else:
            with pytest.raises(CheckpointError, match=f"its name says sha256 {prefix}"):
                safe.load(str(path))


def test_each_file_is_hashed_once_per_process(tmp_path):
    big = {"w": torch.zeros(50 * 2**20 // 4)}  # 50 MiB of weights
    final = _release(tmp_path, big)
    key = (lambda st: (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))(final.stat())
    assert key in safe._HASHED  # publish hashed it under its temporary name: the same file, reused
    hashed = len(safe._HASHED)
    start = time.perf_counter()
    for _ in range(3):
        safe.load(str(final))
    loads = time.perf_counter() - start
    assert len(safe._HASHED) == hashed
    safe._HASHED.pop(key)
    start = time.perf_counter()
    safe.check_published_hash(str(final))
    first = time.perf_counter() - start
    print(f"sha256 of {final.stat().st_size / 2**20:.0f} MiB: {first * 1000:.0f} ms; 3 loads {loads * 1000:.0f} ms")
    _change_weights(final)  # a new mtime and size: hashed again, and refused
    with pytest.raises(CheckpointError, match="its name says sha256"):
        safe.load(str(final))


def test_commands_refuse_a_changed_release(tmp_path, tiny_coco):
    """A real model: `mmpx publish`, `mmpx infer` with the release, then the same after its weights changed."""
    from mmpose.apis import init_model

    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    model = init_model(str(config), None, device="cpu")
    ckpt = tmp_path / "epoch_1.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"epoch": 1}}, ckpt)
    for _ in range(10):
        result = mmpx("publish", str(ckpt), str(tmp_path / "release" / "tiny.pth"))
        assert result.returncode == 0, result.stderr[-2000:]
        (final,) = (tmp_path / "release").glob("tiny-*.pth")
        if safe.published_prefix(str(final)):
            break
        final.unlink()
    out = tmp_path / "r.json"
    infer = ("infer", str(tiny_coco / "images"), "--pose", str(config), "--weights", str(final), "--whole-image",
             "--no-progress", "--save-json", str(out))
    result = mmpx(*infer)
    assert result.returncode == 0 and len(json.loads(out.read_text())) == 6, result.stderr[-2000:]
    out.unlink()
    _change_weights(final)
    for args in (infer, ("publish", str(final), str(tmp_path / "again" / "tiny.pth"))):
        result = mmpx(*args)
        err = result.stderr
        assert result.returncode == 1 and "Traceback" not in err and "unexpected" not in err, err[-3000:]
        (line,) = [line for line in err.splitlines() if line.startswith("error:")]
        assert str(final) in line and f"its name says sha256 {final.name[5:13]}..." in line
        assert not out.exists() and not (tmp_path / "again").exists()
