"""mmengine finds packages through ``pkg_resources``, which setuptools 81 removed.

mmengine's ``is_installed`` and ``get_installed_path`` (used to resolve ``mmpose::`` config bases) import
``pkg_resources``. Where it is missing, they are replaced by ``importlib.metadata`` equivalents with the same
behaviour, in every module that imported them by name.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os.path as osp

from mmpose_ext.compat._fix import Fix


def _needed() -> bool:
    # find_spec, not import: importing pkg_resources is slow and warns
    return importlib.util.find_spec("pkg_resources") is None


def is_installed(package: str) -> bool:
    """Same contract as ``mmengine.utils.is_installed``."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """Same contract as ``mmengine.utils.package_utils.package2module``."""
    top_level = importlib.metadata.distribution(package).read_text("top_level.txt")
    if top_level:
        return top_level.split("\n")[0]
    raise ValueError(f"can not infer the module name of {package}")


def get_installed_path(package: str) -> str:
    """Same contract as ``mmengine.utils.get_installed_path``."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise
        if spec.origin is None:
            raise RuntimeError(f"{package} is a namespace package, which is invalid for `get_install_path`") from None
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(""))
    possible_path = osp.join(location, package)
    if osp.exists(possible_path):
        return possible_path
    return osp.join(location, package2module(package))


_REPLACEMENTS = {"is_installed": is_installed, "get_installed_path": get_installed_path,
                 "package2module": package2module}
_MODULES = ("mmengine.utils.package_utils", "mmengine.utils", "mmengine.config.config", "mmengine.hub.hub")


def _patch() -> str:
    patched = []
    for name in _MODULES:
        module = importlib.import_module(name)
        for attr, replacement in _REPLACEMENTS.items():
            if hasattr(module, attr):
                setattr(module, attr, replacement)
                patched.append(f"{name}.{attr}")
    return "mmengine package look-ups use importlib.metadata (" + str(len(patched)) + " functions)"


FIX = Fix(
    name="pkg_resources",
    summary="mmengine package look-ups without pkg_resources (setuptools >= 81)",
    needed=_needed,
    patch=_patch,
)
