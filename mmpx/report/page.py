"""Render the report with Jinja2 (autoescaped: names from users' files are text, never markup) into one HTML file.

The stylesheet and the script are inlined from ``templates/`` and allowed by their hashes in the page's
Content-Security-Policy, which allows nothing else: no request leaves the page (images are data URIs), and a
script that found its way into the data would not run.
"""

from __future__ import annotations

import base64
import hashlib
import math
from functools import lru_cache
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def num(value, digits: int = 4) -> str:
    """A metric for the page: 4 decimals, '-' for none or NaN, COCO's -1 ('not applicable') as 'n/a'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if value == -1:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def signed(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=num, signed=signed)
    return env


def render(context: dict) -> str:
    """The HTML page for ``context`` (see :mod:`mmpx.report.build`)."""
    from markupsafe import Markup

    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    csp = (f"default-src 'none'; img-src data:; style-src {_hash(css)}; script-src {_hash(js)}; "
           "base-uri 'none'; form-action 'none'")
    defaults = dict(curves=[], keypoints=None, gallery=None, changes=None, notes=[], data=[], settings=[])
    return _environment().get_template("report.html.j2").render(
        **{**defaults, **context}, css=Markup(css), js=Markup(js), csp=csp)
