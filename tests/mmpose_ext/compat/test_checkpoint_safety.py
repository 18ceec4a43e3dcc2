"""Checkpoints that mmengine writes load again with weights_only=True; anything else is refused."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mmpose_ext  # noqa: F401  (applies the fixes under test)
from mmpose_ext.compat import checkpoint as safe
from mmpx.errors import CheckpointError, UntrustedCheckpointError
from tests.helpers import mmpx, run, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

MMPOSE_TOOLS = Path(__import__("mmpose").__file__).parent / ".mim" / "tools"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_coco):
    """A real 2-epoch run of `mmpx train` on a config that uses custom_imports."""
    root = tmp_path_factory.mktemp("run")
    config = write_tiny_config(root / "tiny.py", tiny_coco, max_epochs=2)
    result = mmpx("train", str(config), "--work-dir", str(root / "work"))
    assert result.returncode == 0, result.stderr[-3000:]
    return config, root / "work"


def test_plain_torch_load_fails_on_mmengine_checkpoint(trained):
    # The problem being solved: torch >= 2.6 refuses the file mmengine just wrote.
    _, work = trained
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(work / "epoch_2.pth")


def test_checkpoint_loads_through_mmengine_paths(trained):
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner import load_checkpoint
    from mmengine.runner.checkpoint import _load_checkpoint

    _, work = trained
    ckpt = _load_checkpoint(str(work / "epoch_2.pth"), map_location="cpu")
    assert ckpt["meta"]["epoch"] == 2
    buffers = ckpt["message_hub"]["log_scalars"]
    assert isinstance(buffers["train/loss"], HistoryBuffer)
    # the statistics methods came through the restricted getattr, and work
    assert buffers["train/loss"].statistics("mean") == pytest.approx(buffers["train/loss"].mean())
    assert set(ckpt["optimizer"]["state"])  # Adam state tensors present

    model = torch.nn.Module()
    load_checkpoint(model, str(work / "epoch_2.pth"), map_location="cpu", strict=False)


def test_init_model_loads_checkpoint(trained):
    from mmpose.apis import init_model

    config, work = trained
    model = init_model(str(config), str(work / "epoch_2.pth"), device="cpu")
    assert model.dataset_meta["num_keypoints"] == 17


def test_resume_and_test_with_mmpx(trained, tmp_path):
    config, work = trained
    result = mmpx(
        "train",
        str(config),
        "--work-dir",
        str(work),
        "--resume",
        "auto",
        "--cfg-options",
        "train_cfg.max_epochs=3",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed epoch: 2" in result.stdout + result.stderr
    assert (work / "epoch_3.pth").is_file()

    out = tmp_path / "metrics.json"
    result = mmpx(
        "test", str(config), str(work / "epoch_3.pth"), "--work-dir", str(tmp_path), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "coco/AP" in out.read_text()


def test_mmpose_own_tools_with_custom_imports(trained, tmp_path):
    """MMPose's tools/train.py --resume and tools/test.py run the custom_imports config on torch 2.13."""
    config, work = trained
    result = run(
        [
            sys.executable,
            str(MMPOSE_TOOLS / "test.py"),
            str(config),
            str(work / "epoch_2.pth"),
            "--work-dir",
            str(tmp_path / "test"),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "coco/AP" in result.stdout + result.stderr

    result = run(
        [
            sys.executable,
            str(MMPOSE_TOOLS / "train.py"),
            str(config),
            "--work-dir",
            str(work),
            "--resume",
            str(work / "epoch_2.pth"),
            "--cfg-options",
            "train_cfg.max_epochs=3",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed epoch: 2" in result.stdout + result.stderr


def test_mmpose_tools_fail_without_mmpose_ext(trained, tmp_path):
    """Control: the same config without custom_imports fails on this stack, so the test above proves the fix."""
    config, work = trained
    plain = tmp_path / "plain.py"
    plain.write_text(
        config.read_text().replace(
            "custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)", ""
        )
    )
    result = run(
        [
            sys.executable,
            str(MMPOSE_TOOLS / "test.py"),
            str(plain),
            str(work / "epoch_2.pth"),
            "--work-dir",
            str(tmp_path / "test"),
        ]
    )
    assert result.returncode != 0
    assert "torchvision" in result.stderr or "Weights only load failed" in result.stderr


class _RunsCommand:
    """Unpickling this runs a shell command (what a malicious checkpoint does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "meta": {"x": _RunsCommand(marker)}}, path)
    with pytest.raises(UntrustedCheckpointError) as info:
        _load_checkpoint(str(path), map_location="cpu")
    assert not marker.exists()
    assert "posix.system" in str(info.value) or "nt.system" in str(info.value)
    assert str(path) in info.value.message
    assert "--trust-checkpoint" in info.value.hint and safe.TRUST_ENV in info.value.hint


class _GetattrEscape:
    """Uses the allowed ``getattr`` on an allowed class to reach something else."""

    def __reduce__(self):
        import numpy as np

        return (getattr, (np.ndarray, "tofile"))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = tmp_path / "getattr.pth"
    torch.save({"meta": _GetattrEscape()}, path)
    with pytest.raises(UntrustedCheckpointError, match=r"getattr\(ndarray, 'tofile'\)"):
        safe.load(str(path))


def test_trust_opt_in_loads_a_file_with_other_globals(tmp_path, monkeypatch):
    import collections
    import fractions

    path = tmp_path / "other.pth"
    torch.save({"meta": {"ratio": fractions.Fraction(1, 3), "c": collections.Counter(a=1)}}, path)
    with pytest.raises(UntrustedCheckpointError, match="fractions.Fraction"):
        safe.load(str(path))
    monkeypatch.setenv(safe.TRUST_ENV, str(path))
    assert safe.load(str(path))["meta"]["ratio"] == fractions.Fraction(1, 3)


def test_truncated_checkpoint_is_a_clear_error(trained, tmp_path):
    _, work = trained
    data = (work / "epoch_1.pth").read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        safe.load(str(cut))


def test_empty_numpy_arrays_load_and_bytes_is_limited_to_empty(tmp_path):
    """A metainfo without skeleton puts empty arrays in dataset_meta; protocol 2 writes their data as bytes()."""
    import numpy as np

    path = tmp_path / "empty.pth"
    torch.save({"meta": {"dataset_meta": {"skeleton_links": np.zeros((0, 2), dtype=np.int64)}}}, path)
    assert safe.load(str(path))["meta"]["dataset_meta"]["skeleton_links"].shape == (0, 2)

    class _BigBytes:
        def __reduce__(self):
            return (bytes, (10**6,))

    torch.save({"meta": _BigBytes()}, tmp_path / "big.pth")
    with pytest.raises(UntrustedCheckpointError, match=r"builtins.bytes\(1000000,\)"):
        safe.load(str(tmp_path / "big.pth"))


def test_numpy1_names_are_accepted(tmp_path):
    """Checkpoints written under NumPy 1 (model zoo files) name numpy.core.multiarray, not numpy._core."""
    import numpy as np

    path = tmp_path / "np1.pth"
    torch.save({"meta": {"sigmas": np.arange(3, dtype=np.float32), "seed": np.int64(7)}}, path)
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            dst.writestr(item, data)
    path.write_bytes(out.getvalue())
    loaded = safe.load(str(path))
    assert loaded["meta"]["sigmas"].tolist() == [0.0, 1.0, 2.0] and loaded["meta"]["seed"] == 7


def test_publish_keeps_weights_and_metadata_only(trained, tmp_path):
    import hashlib
    import re

    from mmpose.apis import init_model

    config, work = trained
    result = mmpx("publish", str(work / "epoch_2.pth"), str(tmp_path / "release" / "tiny.pth"))
    assert result.returncode == 0, result.stderr[-2000:]
    (final,) = (tmp_path / "release").glob("tiny-*.pth")
    assert re.fullmatch(r"tiny-[0-9a-f]{8}\.pth", final.name)
    assert final.name[5:13] == hashlib.sha256(final.read_bytes()).hexdigest()[:8]
    assert not list((tmp_path / "release").glob(".*"))  # no temporary file left behind

    release = safe.load(str(final))
    assert set(release) == {"state_dict", "meta"}
    assert release["meta"]["dataset_meta"]["num_keypoints"] == 17 and "cfg" in release["meta"]
    assert final.stat().st_size < (work / "epoch_2.pth").stat().st_size  # optimizer state dropped

    original = init_model(str(config), str(work / "epoch_2.pth"), device="cpu").state_dict()
    published = init_model(str(config), str(final), device="cpu").state_dict()
    assert original.keys() == published.keys()
    assert all(torch.equal(original[k], published[k]) for k in original)


def test_publish_refuses_a_file_without_weights(tmp_path):
    path = tmp_path / "meta_only.pth"
    torch.save({"meta": {}}, path)
    result = mmpx("publish", str(path), str(tmp_path / "out.pth"))
    assert result.returncode == 1 and "has no 'state_dict'" in result.stderr
    assert not list(tmp_path.glob("out*"))


class _Evil:
    def __reduce__(self):
        return os.system, ("true",)


def test_damaged_files_are_unreadable_not_untrusted(tmp_path, caplog):
    """Random bytes used to say "refused ... pass --trust-checkpoint" (which would turn safety off for a corrupt
    file); empty and text files gave IndexError/KeyError."""
    from mmengine.runner.checkpoint import _load_checkpoint

    (tmp_path / "random.pth").write_bytes(np.random.default_rng(0).bytes(2000))
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("these are my notes\n")
    for name, detail in (("random", "invalid pickle data"), ("empty", "it is empty"), ("text", "Error")):
        with pytest.raises(CheckpointError, match=rf"{name}.pth is not a readable checkpoint \(.*{detail}") as info:
            _load_checkpoint(str(tmp_path / f"{name}.pth"), map_location="cpu")
        assert not isinstance(info.value, UntrustedCheckpointError)
        assert "--trust-checkpoint would not help" in info.value.hint
    torch.save({"x": _Evil()}, tmp_path / "evil.pth")
    torch.save({"x": _Evil()}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    for name in ("evil", "legacy"):
        with pytest.raises(UntrustedCheckpointError, match="posix.system"):
            _load_checkpoint(str(tmp_path / f"{name}.pth"), map_location="cpu")


def test_loaders_name_themselves():
    """mmengine prints "Loads checkpoint by {loader.__name__[10:]} backend": it said "der" for our wrapped loader."""
    from mmengine.runner.checkpoint import CheckpointLoader

    for path, scheme in (("/x/ok.pth", "local"), ("https://h/ok.pth", "http"), ("http://h/ok.pth", "http")):
        assert CheckpointLoader._get_checkpoint_loader(path).__name__[10:] == scheme
