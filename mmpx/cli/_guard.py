"""Commands declare, once, which of their parameters are paths they read and which are paths they write; the
output guard (:func:`mmpx.atomic.guard.check_apart`) compares them before the command's body runs.

    @guarded(inputs=("inputs", "weights"), outputs=("out_dir", "save_json"))
    def infer(...): ...

The declaration is kept on the function (``__mmpx_io__``) so that a test can walk every command and point each
output at each input. Paths a command learns later (a config's dataset) are checked where they are learnt.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandIO:
    """A command's path parameters (by Python name).

    Attributes:
        inputs: parameters holding paths the command reads.
        outputs: parameters holding paths it writes (files or folders).
        may_contain: outputs that are run folders allowed to hold inputs (a work dir holding the checkpoint tested).
        writes_inside: inputs that are folders the command is meant to write into (a run folder getting a plot).
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    may_contain: tuple[str, ...] = ()
    writes_inside: tuple[str, ...] = ()


def label(fn: Callable, param: str) -> str:
    """How the user typed ``param`` of command ``fn``: ``--out-dir`` for an option, ``IMAGES`` for an argument."""
    import typing

    import typer.models

    hint = typing.get_type_hints(fn, include_extras=True).get(param)
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, typer.models.OptionInfo):
            # in Annotated, typer.Option("--json", ...) passes the name as its first argument, ``default``
            first = [meta.default] if isinstance(meta.default, str) else []
            decls = [d for d in (*first, *(meta.param_decls or ())) if d.startswith("--")]
            return decls[0].split("/")[0] if decls else "--" + param.replace("_", "-")
        if isinstance(meta, typer.models.ArgumentInfo):
            return param.upper()
    return "--" + param.replace("_", "-")


def _values(arguments: dict, params: Iterable[str], fn: Callable) -> dict:
    return {label(fn, p): arguments.get(p) for p in params}


def guarded(inputs: Iterable[str] = (), outputs: Iterable[str] = (), may_contain: Iterable[str] = (),
            writes_inside: Iterable[str] = ()) -> Callable:
    """Declare a command's input and output path parameters; the guard runs before the command's body."""
    io = CommandIO(tuple(inputs), tuple(outputs), tuple(may_contain), tuple(writes_inside))

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        missing = [p for p in (*io.inputs, *io.outputs) if p not in signature.parameters]
        if missing:  # a renamed parameter must not silently drop out of the guard
            raise TypeError(f"{fn.__name__}: guarded parameters {missing} are not parameters of the command")

        @functools.wraps(fn)
        def command(*args, **kwargs):
            from mmpx.atomic.guard import check_apart

            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_apart(_values(bound.arguments, io.outputs, fn), _values(bound.arguments, io.inputs, fn),
                        may_contain=[label(fn, p) for p in io.may_contain],
                        writes_inside=[label(fn, p) for p in io.writes_inside])
            return fn(*args, **kwargs)

        command.__mmpx_io__ = io
        return command

    return decorate


__all__ = ["CommandIO", "guarded", "label"]
