"""The backbone: built from a config dict, true to its protocol declarations, trainable with mmpx train."""

import pytest
from mmpx.testing import carpose_data, run_cli, train_briefly

CONFIG = "__NAME__-net-carpose"


@pytest.fixture(scope="module")
def models():
    import mmpose_ext  # noqa: F401  (fixes for today's packages first)
    from mmpose.registry import MODELS

    import __PKG__.backbone  # noqa: F401  (registers __CLASS__)

    return MODELS


def test_builds_from_a_config_dict_and_returns_what_it_declares(models):
    from mmpose_ext.models.backbone import measure

    net = models.build(dict(type="__CLASS__", widths=(8, 16, 32), out_indices=(1, 2)))
    found = measure(net, (64, 96))
    assert found.channels == net.mmpx_out_channels == (16, 32)
    assert found.strides == net.mmpx_out_strides == (8, 16)
    assert found.sizes == ((8, 12), (4, 6))


def test_rejects_out_indices_outside_its_stages(models):
    with pytest.raises(ValueError, match="must index the 3 stages"):
        models.build(dict(type="__CLASS__", out_indices=(3,)))


def test_loads_pretrained_weights_from_a_local_file_only(models, tmp_path):
    import torch

    trained = models.build(dict(type="__CLASS__", widths=(8, 16)))
    torch.save(trained.state_dict(), tmp_path / "net.pth")
    loaded = models.build(dict(type="__CLASS__", widths=(8, 16), pretrained=str(tmp_path / "net.pth")))
    weights = loaded.state_dict()
    assert all(torch.equal(tensor, weights[key]) for key, tensor in trained.state_dict().items())
    with pytest.raises(ValueError, match="a local file only"):
        models.build(dict(type="__CLASS__", pretrained="https://example.com/net.pth"))


def test_preflight_names_the_right_head_channels_in_one_line(tmp_path):
    data = carpose_data(tmp_path / "cars", n=4)
    result = run_cli("train", CONFIG, "--work-dir", tmp_path / "w", "--cfg-options", *_on(data),
                     "model.head.in_channels=64")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    error = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert "model.head.in_channels is 64 but the backbone's last output has 128 channels" in error


def _on(data):
    """Point the config's datasets at ``data``."""
    return [f"train_dataloader.dataset.data_root={data}", f"val_dataloader.dataset.data_root={data}"]


@pytest.mark.slow
def test_trains_briefly_with_the_stem_and_first_stage_frozen(tmp_path, no_network):
    data = carpose_data(tmp_path / "cars", n=8)
    checkpoint = train_briefly(CONFIG, tmp_path / "work", cfg_options=_on(data), args=["--freeze", "backbone:1"])
    log = next(checkpoint.parent.rglob("*.log")).read_text()
    assert "FreezeHook froze" in log and "backbone.stem" in log
