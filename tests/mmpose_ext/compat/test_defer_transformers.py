"""``import mmpose_ext`` loads the stack without Hugging Face transformers, and its two consumers get back what they
had: mmengine's ``Adafactor`` builds the real optimizer, mmdet's text-transform names resolve to transformers'."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tests.helpers import run

pytestmark = pytest.mark.stack
pytest.importorskip("transformers", reason="nothing is deferred where transformers is not installed")


def _python(code: str) -> dict:
    proc = run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_stack_loads_without_transformers_and_gets_it_back_on_use():
    out = _python("""
        import json, sys
        import mmpose_ext.apis.run  # what mmpx train / test import
        from mmpose_ext.compat import defer_transformers as d
        loaded = "transformers" in sys.modules
        import torch
        from mmengine.registry import OPTIMIZERS
        import mmdet.datasets.transforms.text_transformers as text
        opt = OPTIMIZERS.build(dict(type="Adafactor", params=[torch.nn.Parameter(torch.zeros(3))], lr=1e-3,
                                    relative_step=False))
        import transformers
        from mmengine.optim.optimizer.builder import TRANSFORMERS_OPTIMIZERS
        print(json.dumps(dict(
            loaded=loaded, deferred=sorted(set(d.deferred_for)),
            optimizer=type(opt) is transformers.Adafactor, registered=TRANSFORMERS_OPTIMIZERS,
            tokenizer=text.AutoTokenizer.resolve() is transformers.AutoTokenizer,
            bert=text.HFBertModel.resolve() is transformers.BertModel,
            tokenizer_method=text.AutoTokenizer.from_pretrained == transformers.AutoTokenizer.from_pretrained)))
    """)
    assert out["loaded"] is False
    assert out["deferred"] == ["mmdet.datasets.transforms.text_transformers", "mmengine.optim.optimizer.builder"]
    assert out["optimizer"] and out["registered"] == ["Adafactor"]
    assert out["tokenizer"] and out["bert"] and out["tokenizer_method"]


def test_any_other_importer_gets_the_real_package(tmp_path):
    (tmp_path / "probe_mod.py").write_text("import transformers\nVERSION = transformers.__version__\n")
    out = _python(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from mmpose_ext.compat.defer_transformers import deferred, deferred_for  # mmpose_ext's own import defers
        before = list(deferred_for)
        with deferred():
            import probe_mod
        import transformers
        print(json.dumps(dict(version=probe_mod.VERSION == transformers.__version__,
                              deferred=deferred_for[len(before):],
                              finders=[type(f).__name__ for f in sys.meta_path])))
    """)
    assert out["version"] and out["deferred"] == []
    assert "_Refuse" not in out["finders"]


def test_an_already_imported_transformers_is_left_as_it_is():
    out = _python("""
        import json, sys
        import transformers
        import mmpose_ext
        from mmpose_ext.compat.defer_transformers import deferred_for
        from mmengine.registry import OPTIMIZERS
        print(json.dumps(dict(deferred=deferred_for, real=OPTIMIZERS.get("Adafactor") is transformers.Adafactor)))
    """)
    assert out == {"deferred": [], "real": True}


def test_a_broken_transformers_no_longer_breaks_the_stack_s_import(tmp_path):
    """A transformers that fails on import (one once did, over torchvision) now fails only what uses it."""
    (tmp_path / "transformers").mkdir()
    (tmp_path / "transformers" / "__init__.py").write_text("raise ValueError('broken transformers (simulated)')\n")
    out = _python(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import mmpose_ext.apis.run
        import mmdet.datasets.transforms.text_transformers as text
        try:
            text.AutoTokenizer.from_pretrained
        except ValueError as exc:
            error = str(exc)
        print(json.dumps(dict(error=error)))
    """)
    assert out == {"error": "broken transformers (simulated)"}
