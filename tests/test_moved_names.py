"""Names that moved to the core keep working for one release, warn, and are the very same objects."""

from __future__ import annotations

import importlib
import sys

import pytest

from tests.helpers import run

MOVED = {
    "mmpose_ext.deploy.ort": "mmpx.runtime.ort",
    "mmpose_ext.deploy.decode": "mmpx.runtime.decode",
    "mmpose_ext.deploy.quantize": "mmpx.runtime.quantize",
    "mmpose_ext.infer.inputs": "mmpx.infer.inputs",
    "mmpose_ext.infer.results": "mmpx.infer.results",
    "mmpose_ext.infer.runner": "mmpx.infer.runner",
    "mmpose_ext.visual.draw": "mmpx.draw",
    "mmpose_ext.evaluation.evaluators.indexed_dataset": "mmpose_ext.datasets.indexed",
}


@pytest.mark.parametrize("old, new", MOVED.items())
def test_old_module_path_warns_and_is_the_new_module(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_old_class_names_are_the_new_classes():
    import mmpose_ext.deploy
    import mmpose_ext.evaluation
    from mmpose_ext.datasets import IndexedCombinedDataset
    from mmpx.runtime import OnnxPoseModel

    with pytest.warns(DeprecationWarning, match="mmpx.runtime.OnnxPoseModel"):
        assert mmpose_ext.deploy.OnnxPoseModel is OnnxPoseModel
    assert mmpose_ext.evaluation.IndexedCombinedDataset is IndexedCombinedDataset
    from mmpose_ext.infer.detector import WholeImage
    from mmpx.infer.boxes import WholeImage as CoreWholeImage

    assert WholeImage is CoreWholeImage


def test_python_m_mmpose_ext_still_runs_the_cli():
    result = run([sys.executable, "-m", "mmpose_ext", "--version"])
    assert result.returncode == 0 and result.stdout.startswith("mmpx ")
    assert "deprecated" in result.stderr
