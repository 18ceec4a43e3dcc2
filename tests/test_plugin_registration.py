"""A plugin module cannot replace MMPose's (or another plugin's) classes with ``force=True`` (issue 16, item 7).

Before: a plugin registering its own ``RTMCCHead`` with ``force=True`` silently replaced MMPose's head, trained
with it, and ``mmpx plugins list --check`` said ``loaded``.
"""

from __future__ import annotations

import textwrap

import mmpose_ext  # noqa: F401  (fixes and registries)
from mmpose_ext.plugins import register_plugin_modules
from mmpose_ext.registry import MODELS
from mmpx.plugins.types import ModuleContribution
from tests.core.test_plugins import _Distribution, _EntryPoint, _plugin


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

