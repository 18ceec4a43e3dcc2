"""The plugin loads as users get it: installed, found through its entry point, after ``import mmpose_ext``."""

from mmpx.testing import plugin_loads

# the hooks the scaffold wrote, sorted
HOOKS = "__HOOKS__".split()


def test_plugin_loads_in_a_fresh_process_with_its_hooks():
    row = plugin_loads("__NAME__")  # raises with the plugin's errors when it does not load cleanly
    assert row["api"] == 1
    assert sorted(row["hooks"]) == HOOKS


def test_plugin_module_stays_light():
    import subprocess
    import sys

    code = "import sys, __PKG__.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "mmpx --help loads the plugin module: import torch inside hooks"
