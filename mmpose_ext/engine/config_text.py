"""mmengine formats a config's text with yapf every time it reads ``Config.pretty_text``: the Runner's log, its
config dump and every checkpoint's metadata. The text is the same each time within a run, and yapf takes 0.8 s
of a 2-core CPU for a generated RTMPose config: a two-epoch test training spent 6.3 s of its 24 s in 8 such
calls. :func:`remember_formatting` keeps the last few results of yapf's ``FormatCode`` as mmengine calls it, so
the same text is formatted once. Pure: the output is what yapf gives for that input and style.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=8)
def _format(source: str, style: tuple) -> tuple[str, bool]:
    from yapf.yapflib.yapf_api import FormatCode

    return FormatCode(source, style_config=dict(style))


def format_code(unformatted_source: str, style_config=None, **kwargs):
    """yapf's ``FormatCode``, remembered for a dict style and no other argument (how mmengine calls it)."""
    from yapf.yapflib.yapf_api import FormatCode

    if kwargs or not isinstance(style_config, dict):
        return FormatCode(unformatted_source, style_config=style_config, **kwargs)
    try:
        style = tuple(sorted(style_config.items()))
        hash(style)
    except TypeError:  # a value that does not hash: format it as it comes
        return FormatCode(unformatted_source, style_config=style_config)
    return _format(unformatted_source, style)


def remember_formatting() -> None:
    """mmengine's ``Config.pretty_text`` formats through :func:`format_code` from now on (in this process)."""
    import mmengine.config.config as mm_config

    if mm_config.FormatCode is not format_code:
        mm_config.FormatCode = format_code


__all__ = ["format_code", "remember_formatting"]
