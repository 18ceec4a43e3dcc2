"""A config's text is formatted by yapf once per run, and reads exactly as mmengine formats it."""

from __future__ import annotations

import pytest
from yapf.yapflib.yapf_api import FormatCode

from mmpose_ext.engine import config_text
from mmpose_ext.engine.config_text import format_code, remember_formatting

pytestmark = pytest.mark.stack

CONFIG = "mmpose_ext/configs/carpose_quickstart.py"


def test_pretty_text_is_unchanged_and_formatted_once():
    import mmengine.config.config as mm_config
    from mmengine.config import Config

    before = mm_config.FormatCode
    try:
        mm_config.FormatCode = FormatCode
        cfg = Config.fromfile(CONFIG)
        plain = cfg.pretty_text
        remember_formatting()
        assert mm_config.FormatCode is format_code
        config_text._format.cache_clear()
        first = cfg.pretty_text
        again = [cfg.pretty_text for _ in range(5)]
        assert first == plain and again == [plain] * 5
        info = config_text._format.cache_info()
        assert (info.misses, info.hits) == (1, 5)  # yapf ran once; its speed is benchmarks' business
    finally:
        mm_config.FormatCode = before


def test_other_calls_go_to_yapf_as_they_are():
    source = "x = dict( a=1,b=[1,2] )\n"
    assert format_code(source) == FormatCode(source)
    assert format_code(source, style_config="pep8") == FormatCode(source, style_config="pep8")
    style = dict(based_on_style="pep8", blank_line_before_nested_class_or_def=True)
    assert format_code(source, style_config=style) == FormatCode(source, style_config=style)
    assert format_code(source, style_config=style, lines=None) == FormatCode(source, style_config=style, lines=None)
