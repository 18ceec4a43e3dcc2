"""Every relative link in README.md, docs/**/*.md and the plugins' READMEs points at a file that exists, and at a
heading of it when the link names one (GitHub's anchors). Links inside code blocks and inline code are not links;
web addresses are not checked (no network)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import ROOT

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\s+(?:name|id)\s*=\s*["']([^"']+)["']""")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")


def pages(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md")), *sorted(root.glob("plugins/*/README.md"))]


def _prose(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, inline code removed, with their line numbers."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, INLINE_CODE.sub("", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen = set(), {}
    for _, line in _prose(page.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    found = []
    for number, line in _prose(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line) + HTML_LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                continue  # a web address or mailto:
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(root)}:{number}: {target}"
            if not resolved.exists():
                found.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor.lower() not in anchors(resolved):
                found.append(f"{where} (no heading #{anchor})")
    return found


def test_every_relative_link_resolves():
    found = [problem for page in pages() for problem in broken_links(page)]
    assert not found, "broken links:\n" + "\n".join(found)


def test_the_map_names_every_page():
    docs = ROOT / "docs"
    named = {(docs / target).resolve() for _, line in _prose((docs / "README.md").read_text(encoding="utf-8"))
             for target in LINK.findall(line)}
    missing = [str(page.relative_to(ROOT)) for page in sorted(docs.rglob("*.md"))
               if page.name != "README.md" and page.resolve() not in named
               and "zh_cn" not in page.relative_to(docs).parts]  # zh_cn/ has its own map (test_zh_cn.py)
    assert not missing, f"pages docs/README.md does not list: {missing}"


def test_a_planted_broken_link_is_found(tmp_path):
    (tmp_path / "docs" / "guides").mkdir(parents=True)
    (tmp_path / "docs" / "guides" / "a.md").write_text("# A page\n\n## Some `code` here\n")
    (tmp_path / "README.md").write_text(
        "[fine](docs/guides/a.md) [anchor](docs/guides/a.md#some-code-here) [web](https://example.org/x.md)\n"
        "```\n[in a code block](nowhere.md)\n```\n`[inline](nowhere.md)`\n"
        "[gone](docs/guides/b.md) [bad anchor](docs/guides/a.md#nothing) <img src=\"docs/images/x.png\">\n")
    found = [problem for page in pages(tmp_path) for problem in broken_links(page, tmp_path)]
    assert found == ["README.md:6: docs/guides/b.md (no such file)",
                     "README.md:6: docs/guides/a.md#nothing (no heading #nothing)",
                     "README.md:6: docs/images/x.png (no such file)"]
