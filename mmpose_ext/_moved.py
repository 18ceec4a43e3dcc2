"""Old import paths of code that moved to the torch-free core (:mod:`mmpx`), kept for one release."""

from __future__ import annotations

import importlib
import sys
import warnings

REMOVED_IN = "mmpose-ext 0.3"


def alias(old: str, new: str) -> None:
    """Make module ``old`` the module ``new`` (same object), warning once per import of ``old``."""
    warnings.warn(
        f"{old} moved to {new} (no torch needed there); the old name goes away in {REMOVED_IN}",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)
