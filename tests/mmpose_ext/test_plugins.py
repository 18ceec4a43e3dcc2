"""A plugin module cannot replace MMPose's (or another plugin's) classes with ``force=True``.

Before: a plugin registering its own ``RTMCCHead`` with ``force=True`` silently replaced MMPose's head, trained
with it, and ``mmpx plugins list --check`` said ``loaded``.
"""

from __future__ import annotations

import textwrap

import pytest

import mmpose_ext  # noqa: F401  (fixes and registries)
from mmpose_ext.plugins import register_plugin_modules
from mmpose_ext.registry import MODELS
from mmpx.plugins.types import ModuleContribution
from tests.mmpx.plugins.test_plugins import _Distribution, _EntryPoint, _plugin

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def test_force_replacement_is_refused_and_undone(tmp_path, monkeypatch):
    (tmp_path / "shadow_head_plugin.py").write_text(textwrap.dedent("""
        from mmpose.registry import MODELS
        from mmpose.models.heads import RTMCCHead

        @MODELS.register_module(name="RTMCCHead", force=True)
        class ShadowHead(RTMCCHead):
            pass

        @MODELS.register_module()
        class ShadowExtra(RTMCCHead):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from mmpx.plugins.manager import load_plugins

    original = MODELS.get("RTMCCHead")
    shadow = _plugin("shadow", mmpx_modules=lambda: [ModuleContribution("MODELS", "ShadowExtra", "shadow_head_plugin")])
    host = load_plugins(distributions=[_Distribution("s", _EntryPoint("shadow", shadow))], env={})
    assert register_plugin_modules(host) == []
    assert MODELS.get("RTMCCHead") is original
    errors = " ".join({p.name: p for p in host.plugins()}["shadow"].errors)
    assert "replaced MODELS.RTMCCHead" in errors and "force=True" in errors



def test_a_name_taken_twice_is_one_line_naming_both_owners(tmp_path, monkeypatch):
    (tmp_path / "dup_resnet_plugin.py").write_text(textwrap.dedent("""
        from torch import nn
        from mmpose.registry import MODELS

        @MODELS.register_module()  # no force: mmengine raises KeyError, MMPose has a ResNet
        class ResNet(nn.Module):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from mmpx.plugins.manager import load_plugins

    original = MODELS.get("ResNet")
    dup = _plugin("dup", mmpx_modules=lambda: [ModuleContribution("MODELS", "ResNet", "dup_resnet_plugin")])
    host = load_plugins(distributions=[_Distribution("mmpx-plugin-dup", _EntryPoint("dup", dup), version="2.0")],
                        env={})
    assert register_plugin_modules(host) == []
    assert MODELS.get("ResNet") is original
    errors = {p.name: p for p in host.plugins()}["dup"].errors
    assert len(errors) == 1 and "\n" not in errors[0] and "KeyError" not in errors[0]
    assert errors[0].startswith("mmpx_modules: the name 'ResNet' in MMPose's model registry is taken twice: first by "
                                "mmpose 1.3.2 (mmpose.models.backbones.resnet), then by plugin dup (mmpx-plugin-dup "
                                "2.0) (dup_resnet_plugin)")
