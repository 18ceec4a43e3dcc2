"""Plugin API v1 with the training stack: transformers installed, doctor in a fresh process, shipped configs as
bases, and the backbone protocol (preflight's head checks, --freeze with declared stages)."""

from __future__ import annotations

import json
import textwrap
import time

import pytest
import torch.nn as nn

from mmpx.errors import ConfigError
from tests.helpers import mmpx, run

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

transformers_installed = pytest.mark.skipif(
    __import__("importlib").util.find_spec("transformers") is None, reason="transformers is not installed")


@transformers_installed
def test_mmpose_ext_imports_first_with_transformers_installed():
    """The old failure: `ValueError: torchvision.__spec__ is None` when transformers saw the stand-in."""
    code = textwrap.dedent("""
        import sys, json
        import mmpose_ext
        from mmpose.utils import register_all_modules
        register_all_modules()
        import transformers.utils.import_utils as hf
        print(json.dumps(dict(tv='torchvision' in sys.modules, hf_tv=bool(hf.is_torchvision_available()))))
    """)
    result = run([__import__("sys").executable, "-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == dict(tv=False, hf_tv=False)


def test_doctor_fails_when_the_first_import_of_mmpose_ext_fails(tmp_path):
    """A library that breaks `import mmpose_ext` (as transformers once did, before the stack loaded without it)
    makes doctor red, not "All good". albumentations is one MMPose imports on load and catches ImportError only."""
    (tmp_path / "albumentations").mkdir()
    (tmp_path / "albumentations" / "__init__.py").write_text(
        "raise ValueError('torchvision.__spec__ is None (simulated)')\n")
    result = mmpx("doctor", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1
    rows = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    first = rows["import mmpose_ext"]
    assert first["ok"] is False and "torchvision.__spec__ is None (simulated)" in first["detail"]
    assert "fresh process" in first["detail"]


def test_doctor_shows_the_first_import_and_plugin_rows():
    result = mmpx("doctor", "--json")
    rows = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert rows["import mmpose_ext"]["ok"] and "fresh process" in rows["import mmpose_ext"]["value"]
    assert rows["example"]["section"] == "plugins" and rows["example"]["ok"]


def test_a_user_config_inherits_a_shipped_one_by_name(tmp_path):
    from mmpose_ext.config import load_config

    mine = tmp_path / "mine.py"
    mine.write_text("_base_ = ['mmpx::carpose-quickstart']\ntrain_cfg = dict(max_epochs=3)\n")
    cfg = load_config(mine)
    assert cfg.train_cfg.max_epochs == 3 and cfg.model.backbone.type == "ResNet"
    mine.write_text("_base_ = ['mmpx::carpose-quikstart']\n")
    with pytest.raises(ConfigError) as err:
        load_config(mine)
    assert "carpose-quikstart" in err.value.message


def test_configs_dump_writes_one_file_that_plain_mmengine_loads(tmp_path):
    out = tmp_path / "flat.py"
    result = mmpx("configs", "dump", "carpose-quickstart", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    code = f"from mmengine.config import Config; c = Config.fromfile({str(out)!r}); print(c.model.head.in_channels)"
    loaded = run([__import__("sys").executable, "-c", code])  # no mmpx, no mmpose_ext: as MMPose's tools read it
    assert loaded.returncode == 0 and loaded.stdout.strip().splitlines()[-1] == "256", loaded.stderr[-2000:]
    again = mmpx("configs", "dump", "carpose-quickstart", str(out))
    assert again.returncode == 1 and "--overwrite" in again.stderr


def _cfg(head: dict, codec_size=(96, 96), backbone=None):
    from mmengine.config import Config

    backbone = backbone or dict(type="ResNet", depth=18, num_stages=3, out_indices=(2,), strides=(1, 2, 2),
                                dilations=(1, 1, 1), init_cfg=None)
    return Config(dict(model=dict(type="TopdownPoseEstimator", backbone=backbone,
                                  head=dict(head, decoder=dict(type="MSRAHeatmap", input_size=codec_size,
                                                               heatmap_size=(24, 24), sigma=2)))))


def test_preflight_checks_a_plugin_backbone_head_in_seconds_with_the_right_value(tmp_path):
    import mmpx_plugin_example.backbone  # noqa: F401  (a plugin's backbone)

    from mmpose_ext.models.backbone import head_problems

    cfg = _cfg(dict(type="HeatmapHead", in_channels=32, out_channels=4, deconv_out_channels=(32,),
                    deconv_kernel_sizes=(4,)),
               backbone=dict(type="ExampleTinyNet", widths=(16, 32, 64), strides=(2, 2, 2)))
    start = time.perf_counter()
    problems = head_problems(cfg, "cfg.py")
    assert time.perf_counter() - start < 5
    assert [(p.where, p.hint) for p in problems] == [("cfg.py:model.head.in_channels",
                                                         "set model.head.in_channels=64")]


def test_preflight_checks_rtmcc_featuremap_and_heatmap_sizes():
    from mmpose_ext.models.backbone import head_problems

    rtmcc = _cfg(dict(type="RTMCCHead", in_channels=256, out_channels=8, input_size=(96, 96),
                      in_featuremap_size=(3, 3), simcc_split_ratio=2.0, final_layer_kernel_size=7,
                      gau_cfg=dict(hidden_dims=64, s=64, expansion_factor=2, dropout_rate=0.0, drop_path=0.0,
                                   act_fn='SiLU', use_rel_bias=False, pos_enc=False)))
    assert [p.hint for p in head_problems(rtmcc, "c.py")] == ["set model.head.in_featuremap_size=(6, 6)"]
    heatmap = _cfg(dict(type="HeatmapHead", in_channels=256, out_channels=8, deconv_out_channels=(64,),
                        deconv_kernel_sizes=(4,)))
    [problem] = head_problems(heatmap, "c.py")
    assert "HeatmapHead outputs 12x12 heatmaps" in problem.message and "(12, 12)" in problem.hint


class _Declared(nn.Module):
    """A wrapper that keeps a library's model whole: no layer<k>/stage<k> children of its own."""

    def __init__(self, lie=False):
        super().__init__()
        self.model = nn.ModuleDict(dict(embed=nn.Conv2d(3, 4, 3, stride=2, padding=1),
                                        blocks=nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1),
                                                             nn.Conv2d(8, 8, 3, stride=2, padding=1))))
        self.mmpx_stem = ("model.embed",)
        self.mmpx_stages = ("model.blocks.0", "model.blocks.1")
        self.mmpx_out_channels = (8,)
        self.mmpx_out_strides = (4,) if lie else (8,)

    def forward(self, x):
        return (self.model["blocks"](self.model["embed"](x)),)


def test_freeze_counts_the_declared_stages():
    from mmpose_ext.engine.hooks import resolve_freeze_patterns

    model = nn.Module()
    model.backbone = _Declared()
    frozen = resolve_freeze_patterns(model, ["backbone:1"])["backbone:1"]
    assert frozen == ["backbone.model.embed.weight", "backbone.model.embed.bias",
                      "backbone.model.blocks.0.weight", "backbone.model.blocks.0.bias"]
    with pytest.raises(ConfigError, match=r"declares 2 stage\(s\) \(model.blocks.0, model.blocks.1\)"):
        resolve_freeze_patterns(model, ["backbone:3"])


def test_a_declaration_that_forward_contradicts_is_reported():
    from mmpose_ext.models.backbone import _declared_mismatch, measure

    net = _Declared(lie=True)
    found = measure(net, (64, 32))
    assert (found.channels, found.sizes, found.strides) == ((8,), ((8, 4),), (8.0,))
    assert _declared_mismatch(net, found) == "_Declared.mmpx_out_strides is (4,) but forward gave (8.0,)"


def test_a_backbone_that_returns_no_maps_is_one_problem():
    from mmpose_ext.models.backbone import measure

    class Flat(nn.Module):
        def forward(self, x):
            return [x.mean()]

    with pytest.raises(TypeError, match=r"forward returned \['Tensor\(\)'\]; a backbone returns a tuple of NCHW"):
        measure(Flat(), (32, 32))
