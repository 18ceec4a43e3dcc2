"""docs/reference/plugin-api.md: generated from the docstrings, complete, up to date, and every example runs."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import sys

import pytest

from tests.helpers import ROOT, has_training_stack

SCRIPT = ROOT / "scripts" / "gen_plugin_api_docs.py"


def _script():
    spec = importlib.util.spec_from_file_location("gen_plugin_api_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen = _script()


def test_the_reference_is_up_to_date():
    assert gen.DOC.read_text(encoding="utf-8") == gen.render(), "run: python scripts/gen_plugin_api_docs.py"


def test_every_public_name_is_documented_or_declared_internal():
    assert gen.problems() == []


def test_an_undocumented_public_helper_fails_the_check(tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    (tmp_path / "lib.py").write_text('def shown():\n    """Documented.\n\n    Examples:\n        >>> 1\n        1\n'
                                     '    """\n\n\ndef helper():\n    return 1\n\n\ndef _private():\n    pass\n')
    section = gen.Section("Lib", "", "lib", "lib.py", (gen.Entry("shown", gen.STABLE),))
    found = gen.problems((section,), {"lib": "lib.py"}, {})
    assert len(found) == 1 and found[0].startswith("lib.helper is public but not in docs/reference/plugin-api.md")
    assert gen.problems((section,), {"lib": "lib.py"}, {"lib.helper": "a detail"}) == []
    # documented without a docstring: refused too
    bare = gen.Section("Lib", "", "lib", "lib.py", (gen.Entry("helper", gen.STABLE, ">>> 1\n1\n"),))
    assert any("no docstring" in p for p in gen.problems((bare,), {}, {}))


EXAMPLES = [(section, entry) for section in gen.SECTIONS for entry in section.entries]


@pytest.mark.parametrize("section, entry", EXAMPLES, ids=[f"{s.module}.{e.name}" for s, e in EXAMPLES])
def test_every_example_runs(section, entry, tmp_path, monkeypatch):
    if (section.needs_stack or entry.needs_stack) and not has_training_stack():
        pytest.skip("needs torch and mmpose (the full tier runs it)")
    monkeypatch.chdir(tmp_path)
    text = gen.example_of(section, entry)
    # a docstring's example runs in its module, as doctest.testmod runs it
    defined_in = gen.source_of(section, entry).removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    globs = dict(vars(importlib.import_module(defined_in)))
    test = doctest.DocTestParser().get_doctest(text, globs, f"{section.module}.{entry.name}", str(SCRIPT), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda s: pytest.fail(s))
    assert runner.failures == 0
