"""The Chinese docs (README_zh-CN.md and docs/zh_cn/) stay true to the English ones.

Every Chinese page has an English twin at the same path (docs/zh_cn/x.md beside docs/x.md, README_zh-CN.md beside
README.md), links to it at the top and is linked from it; every fenced code block of a Chinese page occurs in the
twin as it is; every ``mmpx`` command line shown names a command and options the real command tree has (parsed
by click's own parser, from the Typer app ``mmpx`` builds, so no process is started); links resolve, and go to the
Chinese twin of a page when there is one. An English block missing from the Chinese page is only a warning: the
English page changed and the translation has not caught up yet, which is worth seeing but not worth a red build.

The checkers take the repository root, so the tests below can point them at small trees of their own.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import warnings
from functools import cache
from pathlib import Path

import pytest
import typer

from tests.docs.test_docs_links import FENCE, INLINE_CODE, LINK, _prose, broken_links
from tests.helpers import ROOT

ZH_README = "README_zh-CN.md"


def zh_pages(root: Path = ROOT) -> list[Path]:
    readme = root / ZH_README
    return [*([readme] if readme.is_file() else []), *sorted((root / "docs" / "zh_cn").rglob("*.md"))]


def twin(page: Path, root: Path = ROOT) -> Path:
    """The English page a Chinese page translates: same path without ``zh_cn/`` (README_zh-CN.md: README.md)."""
    if page == root / ZH_README:
        return root / "README.md"
    return root / "docs" / page.relative_to(root / "docs" / "zh_cn")


def zh_twin(page: Path, root: Path = ROOT) -> Path:
    """The Chinese path of an English page (it may not exist)."""
    if page == root / "README.md":
        return root / ZH_README
    return root / "docs" / "zh_cn" / page.relative_to(root / "docs")


def code_blocks(text: str) -> list[str]:
    """The fenced blocks of a page, without their fences, trailing spaces dropped from every line."""
    blocks, current = [], None
    for line in text.splitlines():
        if FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line.rstrip())
    return blocks


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def missing_twins(root: Path = ROOT) -> list[str]:
    return [f"{_rel(page, root)}: no English page {_rel(twin(page, root), root)}"
            for page in zh_pages(root) if not twin(page, root).is_file()]


def blocks_not_in_twin(root: Path = ROOT) -> list[str]:
    """Blocks of a Chinese page its English twin does not have: commands and code are copied, never rewritten."""
    found = []
    for page in zh_pages(root):
        english = twin(page, root)
        if not english.is_file():
            continue
        theirs = set(code_blocks(english.read_text(encoding="utf-8")))
        for block in code_blocks(page.read_text(encoding="utf-8")):
            if block not in theirs:
                first = block.strip().splitlines()[0] if block.strip() else "(empty block)"
                found.append(f"{_rel(page, root)}: a block not in {_rel(english, root)}: {first}")
    return found


def drift(root: Path = ROOT) -> list[str]:
    """English blocks a Chinese page lacks: where the English page moved on (a warning, not a failure)."""
    found = []
    for page in zh_pages(root):
        english = twin(page, root)
        if not english.is_file():
            continue
        ours = set(code_blocks(page.read_text(encoding="utf-8")))
        for block in code_blocks(english.read_text(encoding="utf-8")):
            if block not in ours:
                first = block.strip().splitlines()[0] if block.strip() else "(empty block)"
                found.append(f"{_rel(english, root)} -> {_rel(page, root)}: {first}")
    return found


def language_links(root: Path = ROOT) -> list[str]:
    """Each Chinese page links its English twin near the top, and the twin links back."""
    found = []
    for page in zh_pages(root):
        english = twin(page, root)
        if not english.is_file():
            continue
        for source, target in ((page, english), (english, page)):
            head = source.read_text(encoding="utf-8").splitlines()[:5]
            targets = {(source.parent / t.partition("#")[0]).resolve() for line in head for t in LINK.findall(line)}
            if target.resolve() not in targets:
                found.append(f"{_rel(source, root)}: no link to {_rel(target, root)} in its first lines")
    return found


def zh_links(root: Path = ROOT) -> list[str]:
    """Broken links of the Chinese pages, and links to an English page that has a Chinese twin."""
    found = []
    for page in zh_pages(root):
        found += broken_links(page, root)
        english = twin(page, root).resolve()
        for number, line in _prose(page.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                path = target.partition("#")[0]
                if not path.endswith(".md") or re.match(r"^[a-z][a-z0-9+.-]*:", path, re.I):
                    continue
                resolved = (page.parent / path).resolve()
                if resolved == english or not resolved.is_relative_to(root.resolve()):
                    continue  # the language link itself, or a file outside the checkout
                chinese = zh_twin(resolved, root.resolve()) if _english_doc(resolved, root) else None
                if chinese is not None and chinese.is_file():
                    found.append(f"{_rel(page, root)}:{number}: {target} has a Chinese twin: "
                                 f"{_rel(chinese, root.resolve())}")
    return found


def _english_doc(path: Path, root: Path) -> bool:
    root = root.resolve()
    docs, zh = root / "docs", root / "docs" / "zh_cn"
    return path == root / "README.md" or (path.is_relative_to(docs) and not path.is_relative_to(zh))


# --- mmpx command lines -------------------------------------------------------------------------------------------

ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SEPARATORS = {"&&", "||", "|", ";"}


def command_lines(text: str) -> list[str]:
    """``mmpx ...`` command lines of a page: in fenced blocks (``\\`` continuations joined, ``$`` prompts and
    comments dropped, several commands on a line split) and in inline code."""
    lines, block, pending = [], False, ""
    for line in text.splitlines():
        if FENCE.match(line):
            block, pending = not block, ""
            continue
        if block:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            lines.append(pending + line)
            pending = ""
        else:
            lines += [match.group(0).strip("`") for match in INLINE_CODE.finditer(line)]
    commands = []
    for line in lines:
        try:
            tokens = shlex.split(line.strip().removeprefix("$ "), comments=True)
        except ValueError:
            continue  # not shell (an unbalanced quote in prose or Python)
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token in SEPARATORS:
                while command and ENV_ASSIGNMENT.match(command[0]):
                    command.pop(0)
                if command and Path(command[0]).name == "mmpx":
                    commands.append(shlex.join(["mmpx", *command[1:]]))
                command = []
            else:
                command.append(token)
    return commands


try:  # Typer ships its own copy of click, which its commands are built from
    from typer._click import exceptions as cli_errors
except ImportError:  # an older Typer, on click itself
    from click import exceptions as cli_errors
STOPS = (cli_errors.UsageError, typer.Exit, getattr(cli_errors, "Exit", typer.Exit))


@cache
def mmpx_command():
    """The built-in command tree, plugins left out (as the CLI reference is generated)."""
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return typer.main.get_command(build_app(load_plugins(env={"MMPX_DISABLE_PLUGIN_AUTOLOAD": "1"})))


def _unbracket(token: str) -> str:
    """A usage line's ``[--opt VALUE]`` or ``[--progress/--no-progress]`` as the option a user would type."""
    if token.lstrip("[(").startswith("-"):
        return token.lstrip("[(").rstrip("])").split("/-")[0]
    return token


def command_problem(line: str, root_command=None) -> str | None:
    """Why click would not take the command line (an unknown command or option), or None. Only names are
    checked, not values: pages show placeholders (``<run>``), files that do not exist here, and options in prose
    without their value."""
    tokens = shlex.split(line)
    for i, token in enumerate(tokens):  # ``mmpx convert dlc|sleap SRC``: each alternative on its own
        if "|" in token and not token.startswith("-"):
            alternatives = (shlex.join([*tokens[:i], alt, *tokens[i + 1:]]) for alt in token.split("|") if alt)
            return next(filter(None, (command_problem(alt, root_command) for alt in alternatives)), None)
    command = root_command or mmpx_command()
    args, name, parent = [_unbracket(token) for token in tokens[1:]], "mmpx", None
    while True:
        ctx = command.context_class(command, info_name=name, parent=parent)
        try:
            if not hasattr(command, "resolve_command"):  # not a group
                command.make_parser(ctx).parse_args(args=list(args))  # options matched, values left alone
                return None
            with contextlib.redirect_stdout(io.StringIO()):  # a group's --help or --version prints and exits
                rest = command.parse_args(ctx, list(args))  # a group's own parsing (``mmpx plot RUN``)
        except cli_errors.NoSuchOption as exc:
            return f"{exc.format_message()} ({ctx.command_path})"
        except STOPS:
            return None  # a missing value, --help, --version: the names are right
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args  # click < 8.2
        rest = [*protected, *rest]
        if not rest or rest[0] in ("...", "…") or rest[0].startswith("<"):
            return None  # a group alone, or ``mmpx --debug ...`` / ``<command>``: any command
        try:
            sub_name, sub, args = command.resolve_command(ctx, rest)
        except cli_errors.UsageError:
            sub = None
        if sub is None:
            return f"no command {rest[0]!r} in {ctx.command_path}"
        command, name, parent = sub, sub_name, ctx


def command_problems(root: Path = ROOT, root_command=None) -> list[str]:
    found = []
    for page in zh_pages(root):
        for line in command_lines(page.read_text(encoding="utf-8")):
            problem = command_problem(line, root_command)
            if problem:
                found.append(f"{_rel(page, root)}: {line}: {problem}")
    return found


# --- the tests ----------------------------------------------------------------------------------------------------


def test_every_chinese_page_has_its_english_twin():
    assert zh_pages(), "no Chinese pages"
    assert not missing_twins(), "\n".join(missing_twins())


def test_code_blocks_are_copied_from_the_english_twin():
    found = blocks_not_in_twin()
    assert not found, "blocks the English page does not have (copy them, never rewrite):\n" + "\n".join(found)


def test_every_mmpx_command_and_option_exists():
    found = command_problems()
    assert not found, "commands or options mmpx does not have:\n" + "\n".join(found)


def test_links_resolve_and_stay_in_chinese():
    found = zh_links() + language_links()
    assert not found, "\n".join(found)


def test_the_chinese_map_names_every_chinese_page():
    docs = ROOT / "docs" / "zh_cn"
    named = {(docs / target.partition("#")[0]).resolve()
             for _, line in _prose((docs / "README.md").read_text(encoding="utf-8")) for target in LINK.findall(line)}
    missing = [_rel(page, ROOT) for page in zh_pages() if page.parent != ROOT and page.name != "README.md"
               and page.resolve() not in named]
    assert not missing, f"pages docs/zh_cn/README.md does not list: {missing}"


def test_english_changes_the_chinese_pages_lack_are_listed():
    found = drift()
    if found:
        warnings.warn("English code blocks the Chinese twin does not have (translate them):\n" + "\n".join(found),
                      stacklevel=1)


# --- the checkers on planted trees --------------------------------------------------------------------------------


def _tree(root: Path, english: str, chinese: str) -> None:
    (root / "docs" / "guides").mkdir(parents=True)
    (root / "docs" / "zh_cn" / "guides").mkdir(parents=True)
    (root / "docs" / "guides" / "a.md").write_text(english, encoding="utf-8")
    (root / "docs" / "zh_cn" / "guides" / "a.md").write_text(chinese, encoding="utf-8")


ENGLISH = "# A\n\n[简体中文](../zh_cn/guides/a.md)\n\n```bash\nmmpx train cfg.py --work-dir runs/a\n```\n"


def test_a_made_up_option_fails(tmp_path):
    bad = "mmpx train cfg.py --work-dir runs/a --learning-speed 3"
    block = f"\n```bash\n{bad}\n```\n"
    _tree(tmp_path, ENGLISH + block, "# A\n\n[English](../../guides/a.md)\n" + block)
    found = command_problems(tmp_path)
    assert len(found) == 1 and "--learning-speed" in found[0] and found[0].startswith("docs/zh_cn/guides/a.md")
    assert not blocks_not_in_twin(tmp_path) and not language_links(tmp_path)


def test_a_made_up_command_fails_in_blocks_and_inline_code(tmp_path):
    chinese = ("# A\n\n[English](../../guides/a.md)\n\n先运行 `mmpx trian cfg.py`。\n\n"
               "```bash\n$ MMPX_DEBUG=1 mmpx convert labelme \\\n"
               "  data/ out/ --keypoints a,b && mmpx convert lebelme data/\n```\n")
    _tree(tmp_path, ENGLISH, chinese)
    found = command_problems(tmp_path)
    assert [problem.split(": ")[-1] for problem in found] == [
        "no command 'trian' in mmpx", "no command 'lebelme' in mmpx convert"]
    assert "mmpx convert labelme data/ out/ --keypoints a,b" in command_lines(chinese)
    assert command_problem("mmpx convert yolo|lebelme SRC OUT") == "no command 'lebelme' in mmpx convert"


def test_good_lines_pass():
    for line in ["mmpx train cfg.py --work-dir=runs/a --freeze backbone --cfg-options a=1 b=2",
                 "mmpx --debug plot runs/a", "mmpx --debug <command>", "mmpx --debug ...", "mmpx plot curves runs/a",
                 "mmpx infer --help", "mmpx train cfg.py --resume", "mmpx convert dlc|sleap SRC OUT --append",
                 "mmpx infer x --save-as a.slp|.csv", "mmpx train CONFIG [--work-dir DIR] [--progress/--no-progress]"]:
        assert command_problem(line) is None, line


def test_a_changed_block_fails_and_a_missing_one_warns(tmp_path):
    chinese = "# A\n\n[English](../../guides/a.md)\n\n```bash\nmmpx train cfg.py --work-dir runs/b\n```\n"
    _tree(tmp_path, ENGLISH, chinese)
    assert blocks_not_in_twin(tmp_path) == [
        "docs/zh_cn/guides/a.md: a block not in docs/guides/a.md: mmpx train cfg.py --work-dir runs/b"]
    assert drift(tmp_path) == ["docs/guides/a.md -> docs/zh_cn/guides/a.md: mmpx train cfg.py --work-dir runs/a"]


def test_missing_twins_language_links_and_english_links_are_found(tmp_path):
    _tree(tmp_path, "# A\n", "# A\n\n见 [B](../../guides/b.md) 和 [A](../../guides/a.md)。\n")
    (tmp_path / "docs" / "zh_cn" / "guides" / "orphan.md").write_text("# 孤页\n", encoding="utf-8")
    (tmp_path / "docs" / "guides" / "b.md").write_text("# B\n", encoding="utf-8")
    (tmp_path / "docs" / "zh_cn" / "guides" / "b.md").write_text("# B\n", encoding="utf-8")
    assert missing_twins(tmp_path) == ["docs/zh_cn/guides/orphan.md: no English page docs/guides/orphan.md"]
    assert zh_links(tmp_path) == ["docs/zh_cn/guides/a.md:3: ../../guides/b.md has a Chinese twin: "
                                  "docs/zh_cn/guides/b.md"]
    assert "docs/guides/a.md: no link to docs/zh_cn/guides/a.md in its first lines" in language_links(tmp_path)


@pytest.mark.parametrize("page", [ZH_README, "docs/zh_cn/README.md"])
def test_the_link_checker_covers_the_chinese_pages(page):
    from tests.docs.test_docs_links import pages

    assert (ROOT / page).is_file()
    if page.startswith("docs/"):
        assert ROOT / page in pages()  # test_docs_links globs docs/**
    assert not broken_links(ROOT / page)
