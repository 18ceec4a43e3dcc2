"""Hugging Face ``transformers`` stays unimported while ``import mmpose_ext`` loads the training stack.

Where ``transformers`` is installed (the transformers plugin, or any environment that has it), two modules of the
stack import it on load for things a pose run never uses: mmengine's optimizer builder registers its
``Adafactor``, and mmdet's text transforms (GroundingDINO) bind ``AutoTokenizer`` and ``BertModel``. That
cost every ``mmpx train`` / ``test`` process about 2 s of its 8.6 s start-up here (benchmarks/startup.md).

While :func:`deferred` is active, those two modules, and only they, find ``transformers`` missing (each has an
``except ImportError`` for that); every other importer gets the real package. Afterwards each gets back what it
would have had, resolved on first use: ``Adafactor`` is registered as a builder that imports it, and mmdet's
names become proxies that import ``transformers`` when touched. Where ``transformers`` was already imported, or
is not installed, nothing is deferred.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys

# module -> its names bound from ``transformers`` (module global -> attribute of transformers)
CONSUMERS: dict[str, dict[str, str]] = {
    "mmengine.optim.optimizer.builder": {},  # registers Adafactor from inside a function: see _restore
    "mmdet.datasets.transforms.text_transformers": {"AutoTokenizer": "AutoTokenizer", "HFBertModel": "BertModel"},
}
deferred_for: list[str] = []  # the consumers that found transformers missing in this process


class DeferredName:
    """Stands for ``transformers.<name>`` and imports it on first use (attribute or call)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def resolve(self):
        return getattr(importlib.import_module("transformers"), self._name)

    def __getattr__(self, attr: str):
        return getattr(self.resolve(), attr)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<transformers.{self._name}, imported on first use>"


def Adafactor(*args, **kwargs):  # noqa: N802  (the registered name, as mmengine registers it)
    """``transformers.Adafactor``, imported when a config builds it."""
    from transformers import Adafactor as cls

    return cls(*args, **kwargs)


def _importer() -> str:
    """The module whose ``import`` statement reached the finder (the first frame outside importlib)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


class _Refuse:
    """A meta-path finder: ``transformers`` is missing for the known consumers, found as usual by anyone else."""

    def find_spec(self, name, path=None, target=None):
        if name == "transformers":
            importer = _importer()
            if importer in CONSUMERS:
                deferred_for.append(importer)
                raise ModuleNotFoundError("transformers is imported on first use (mmpose_ext)", name=name)
        return None


def _restore(module_name: str) -> None:
    module = sys.modules.get(module_name)
    if module is None:
        return
    if module_name == "mmengine.optim.optimizer.builder":
        if "Adafactor" not in module.OPTIMIZERS.module_dict:
            module.OPTIMIZERS.register_module(name="Adafactor", module=Adafactor)
            module.TRANSFORMERS_OPTIMIZERS.append("Adafactor")
        return
    for global_name, attr in CONSUMERS[module_name].items():
        if getattr(module, global_name, None) is None:
            setattr(module, global_name, DeferredName(attr))


@contextlib.contextmanager
def deferred():
    """Within: the known consumers find ``transformers`` missing; on exit they get it back, lazily."""
    if "transformers" in sys.modules or importlib.util.find_spec("transformers") is None:
        yield
        return
    finder = _Refuse()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in dict.fromkeys(deferred_for):
            _restore(name)


__all__ = ["CONSUMERS", "Adafactor", "DeferredName", "deferred", "deferred_for"]
