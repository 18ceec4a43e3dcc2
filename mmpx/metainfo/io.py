"""Write metainfo files atomically and read them without executing them (literals only, bounded)."""

from __future__ import annotations

import ast
import pprint
from pathlib import Path

from mmpx import atomic
from mmpx.errors import MmpxError


def dumps(info: dict) -> str:
    """The text of a metainfo file for ``info``."""
    body = pprint.pformat(info, indent=1, width=100, sort_dicts=False)
    return f"# MMPose dataset metainfo, written by mmpose-ext.\ndataset_info = {body}\n"


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a half-written file."""
    atomic.write_text(path, text)


def write_metainfo(path: str | Path, info: dict) -> None:
    """Write ``info`` as a metainfo file (:func:`dumps`) to ``path``, atomically."""
    write_atomic(path, dumps(info))


# Bound on lists built with `[1.0] * K` or `+` in metainfo files (the largest MMPose file has 137 keypoints).
_MAX_ITEMS = 100_000


def _literal(node: ast.AST, path: Path, env: dict | None = None):
    """Evaluate literals, ``dict(...)``, ``[1.0] * K``, ``a + b`` and names assigned earlier in the file.

    Nothing is executed: MMPose's own files use only these forms (``colors['sss']`` in deepfashion2.py).
    """
    env = env or {}
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(e, path, env) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return {_literal(k, path, env): _literal(v, path, env) for k, v in pairs}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
            and not node.args):
        return {kw.arg: _literal(kw.value, path, env) for kw in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, path, env)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        try:
            return _literal(node.value, path, env)[_literal(node.slice, path, env)]
        except (KeyError, IndexError, TypeError):
            pass
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _literal(node.left, path, env), _literal(node.right, path, env)
        if isinstance(node.op, ast.Mult) and isinstance(right, list) and isinstance(left, int):
            left, right = right, left
        size = len(left) * (right if isinstance(right, int) else 1) if isinstance(left, (list, tuple)) else 0
        if size <= _MAX_ITEMS:
            try:
                return left + right if isinstance(node.op, ast.Add) else left * right
            except TypeError:
                pass
    raise MmpxError(f"{path}:{getattr(node, 'lineno', '?')}: metainfo files may hold only literals, "
                    f"dict(...), lists joined with + or *, earlier names; found {ast.unparse(node)[:60]!r}",
                    "write the values out literally")


def load_metainfo(path: str | Path) -> dict:
    """Read ``dataset_info`` from a metainfo ``.py`` file without executing it.

    Raises:
        MmpxError: missing file, syntax error, no ``dataset_info``, or non-literal content.
    """
    path = Path(path)
    if not path.is_file():
        raise MmpxError(f"metainfo file {path} does not exist", "give the path of a dataset_info .py file")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise MmpxError(f"{path}:{exc.lineno}: syntax error in metainfo file: {exc.msg}",
                        "fix that line") from None
    except UnicodeDecodeError as exc:
        raise MmpxError(f"{path}: not a text file (byte {exc.start} is not UTF-8)",
                        "give the dataset_info .py file (MMPose's configs/_base_/datasets/ has examples)") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; nesting beyond the parser
        raise MmpxError(f"{path}: not a Python metainfo file ({exc})", "give the dataset_info .py file") from None
    env: dict = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "dataset_info" in targets:
            info = _literal(node.value, path, env)
            if not isinstance(info, dict):
                raise MmpxError(f"{path}: dataset_info is not a dict",
                                "dataset_info = dict(keypoint_info=..., ...)")
            return info
        try:  # helpers such as `colors = dict(...)`; a non-data one matters only if dataset_info uses it
            value = _literal(node.value, path, env)
        except MmpxError:
            continue
        env.update((name, value) for name in targets)
    raise MmpxError(f"{path}: no `dataset_info = dict(...)` assignment",
                    "see MMPose's configs/_base_/datasets/")
