"""What a run was trained with, read from the config mmengine copied into its folder, without executing it.

mmengine writes the config as flat Python (``model = dict(type=..., ...)``, literals only), so the literal parts
are read with :mod:`ast`; anything else (a name, an expression) reads as None.
"""

from __future__ import annotations

import ast
from pathlib import Path

_UNKNOWN = object()


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand)
        return -value if isinstance(value, (int, float)) else None
    return None


def read_config(path: str | Path) -> dict:
    """The config's top-level assignments as plain values (None where not a literal); {} if it does not parse."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    out = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = _literal(stmt.value)
    return out


def get(cfg: dict, dotted: str):
    """``cfg['a']['b']`` for ``'a.b'``; None when any part is missing."""
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _types(value) -> str | None:
    items = value if isinstance(value, list) else [value]
    names = [i.get("type") for i in items if isinstance(i, dict) and i.get("type")]
    return ", ".join(map(str, names)) or None


def summary(cfg: dict) -> list[tuple[str, str]]:
    """(setting, value) rows: the model, input size, schedule, optimiser, batch size, data and evaluators."""
    rows = [
        ("model", get(cfg, "model.type")),
        ("backbone", " ".join(str(v) for v in (get(cfg, "model.backbone.type"), get(cfg, "model.backbone.depth"))
                              if v is not None) or None),
        ("head", get(cfg, "model.head.type")),
        ("codec", get(cfg, "model.head.decoder.type") or get(cfg, "codec.type")),
        ("input size", get(cfg, "model.head.decoder.input_size") or get(cfg, "codec.input_size")),
        ("epochs", get(cfg, "train_cfg.max_epochs")),
        ("iterations", get(cfg, "train_cfg.max_iters")),
        ("validation every", get(cfg, "train_cfg.val_interval")),
        ("optimizer", " ".join(f"{v}" for v in (get(cfg, "optim_wrapper.optimizer.type"),
                                                 get(cfg, "optim_wrapper.optimizer.lr")) if v is not None) or None),
        ("lr schedule", _types(cfg.get("param_scheduler"))),
        ("batch size", get(cfg, "train_dataloader.batch_size")),
        ("dataset", get(cfg, "train_dataloader.dataset.type")),
        ("train annotations", _data_file(cfg, "train_dataloader")),
        ("val annotations", _data_file(cfg, "val_dataloader")),
        ("evaluators", _types(cfg.get("val_evaluator"))),
        ("seed", get(cfg, "randomness.seed")),
        ("weights loaded (load_from)", cfg.get("load_from")),
    ]
    return [(name, _text(value)) for name, value in rows if value not in (None, "", [])]


def _text(value) -> str:
    if isinstance(value, list):
        return " x ".join(map(str, value)) if all(isinstance(v, (int, float)) for v in value) else str(value)
    return str(value)


def _data_file(cfg: dict, loader: str) -> str | None:
    ann = get(cfg, f"{loader}.dataset.ann_file")
    if not isinstance(ann, str):
        return None
    root = get(cfg, f"{loader}.dataset.data_root")
    return str(Path(root) / ann) if isinstance(root, str) and root else ann
