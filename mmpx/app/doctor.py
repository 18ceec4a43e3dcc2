"""Health checks behind ``mmpx doctor``: versions, compiled ops, compatibility fixes and plugins.

Every probe runs on its own and turns its failure into a row, so the report works on a broken install, which is
when it is needed. Each problem row carries the one command that fixes it.

Everything that imports the stack runs in a fresh process that imports ``mmpose_ext`` first, as a config's
``custom_imports`` does: an environment where that import fails (a library that breaks it only in that order,
as transformers once did) must never be reported healthy because doctor happened to import in another order.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

SETUP = "bash scripts/setup.sh  (from an mmpose-ext checkout; it fixes every row below)"

# How to install each pinned package by hand, where a plain `pip install` is wrong (see docs/guides/troubleshooting.md)
_INSTALL = {
    "torch": "pip install {req}  (CPU build; a CUDA build: add --index-url https://download.pytorch.org/whl/cu128)",
    "mmcv": "MMCV_WITH_OPS=1 pip install --no-deps --no-build-isolation {req}  (builds its ops: ~7 min)",
    "mmpose": "pip install --no-deps {req}",
    "mmdet": "pip install --no-deps {req}",
    "albumentations": "pip install --no-deps {req} albucore==0.0.24 && pip install pydantic stringzilla simsimd",
    "albucore": "pip install --no-deps {req}",
    "norfair": "pip install --no-deps {req} filterpy==1.4.5  (it declares numpy<2 and runs on NumPy 2)",
    "filterpy": "pip install --no-deps {req}",
    "xtcocotools": "pip install --no-deps --force-reinstall --no-build-isolation --no-binary xtcocotools {req}",
}


@dataclass
class Check:
    """One row of the report."""

    section: str
    name: str
    ok: bool
    value: str = ""
    detail: str = ""
    fix: str | None = None


def stack_pins() -> dict[str, str]:
    """The pinned requirements from ``mmpx/stack.txt``, by package name."""
    from packaging.requirements import Requirement

    text = importlib.resources.files("mmpx").joinpath("stack.txt").read_text()
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            pins[req.name] = str(req)
    return pins


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_checks() -> list[Check]:
    from packaging.requirements import Requirement

    checks = [
        Check(
            "python",
            "python",
            sys.version_info >= (3, 11),
            platform.python_version(),
            "" if sys.version_info >= (3, 11) else "mmpose-ext needs Python >= 3.11",
            None if sys.version_info >= (3, 11) else "use Python 3.11: PYTHON=python3.11 " + SETUP,
        )
    ]
    for name, req in stack_pins().items():
        installed = _version(name)
        spec = Requirement(req).specifier
        ok = installed is not None and spec.contains(installed.split("+")[0], prereleases=True)
        fix = None if ok else _INSTALL.get(name, 'pip install "{req}"').format(req=req)
        detail = f"wanted {req}" if installed else f"not installed; wanted {req}"
        checks.append(Check("packages", name, ok, installed or "-", "" if ok else detail, fix))
    return checks


def _probe(section: str, name: str, func, fix: str | None) -> Check:
    try:
        value = func() or "ok"
        return Check(section, name, True, str(value))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        return Check(section, name, False, "broken", f"{type(exc).__name__}: {first}", fix)


def _mmcv_ops() -> str:
    import torch
    from mmcv.ops import nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    if keep.tolist() != [0, 2]:
        raise RuntimeError(f"nms returned {keep.tolist()}, expected [0, 2]")
    return "compiled (nms runs)"


def _cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        return f"not available (torch {torch.__version__}); training runs on the CPU"
    return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}"


def _xtcocotools() -> str:
    import numpy as np
    from xtcocotools import mask

    rle = mask.encode(np.asfortranarray(np.ones((4, 4), dtype=np.uint8)))
    return f"imports and runs with NumPy {np.__version__} (area {int(mask.area(rle))})"


def _registries() -> str:
    import mmdet.models  # noqa: F401
    from mmpose.utils import register_all_modules

    import mmpose_ext  # noqa: F401

    register_all_modules(init_default_scope=False)
    from mmpose.registry import MODELS

    return f"mmpose_ext, mmpose and mmdet models import ({len(MODELS.module_dict)} mmpose models)"


def _threads() -> str:
    """What a run's torch uses here: the thread policy (mmpx.runtime.threads) applied, as a run's header shows it."""
    from mmpose_ext.engine.cpu import apply_to_torch, torch_threads

    apply_to_torch()
    return torch_threads() + "; MMPX_THREADS, MMPX_WAIT_POLICY change it"


def runtime_checks() -> list[Check]:
    fix_ops = _INSTALL["mmcv"].format(req=stack_pins().get("mmcv", "mmcv"))
    fix_xtc = _INSTALL["xtcocotools"].format(req=stack_pins().get("xtcocotools", "xtcocotools"))
    return [
        _probe("runtime", "cuda", _cuda, None),
        _probe("runtime", "mmcv ops", _mmcv_ops, fix_ops),
        _probe("runtime", "xtcocotools build", _xtcocotools, fix_xtc),
        _probe("runtime", "registries", _registries, SETUP),
        _probe("runtime", "threads", _threads, None),
    ]


def compat_checks() -> list[Check]:
    """One row per patch ``import mmpose_ext`` may apply: whether it is active here, why it exists, what it did."""
    try:
        import mmpose_ext
        from mmpose_ext import compat
    except Exception as exc:
        return [
            Check(
                "compat", "mmpose_ext", False, "broken", f"import failed: {type(exc).__name__}: {exc}", SETUP
            )
        ]
    del mmpose_ext
    rows = []
    for status in compat.report():
        if status.needed and status.active:
            state = "active"
        elif not status.needed:
            state = "not needed"
        else:
            state = "-"
        done = status.detail if status.detail and status.detail != status.summary else ""
        why = f"why: {status.summary}" + (f"; {done}" if done else "")
        rows.append(
            Check("compat", status.name, status.problem is None, state, status.problem or why,
                  status.fix or (SETUP if status.problem else None))
        )
    rows.append(
        Check("compat", "atomic checkpoints", True, "hook, not a patch",
              "AtomicCheckpointHook: mmpx train adds it, a config can name it; importing changes nothing")
    )
    return rows


def plugin_checks() -> list[Check]:
    """One row per plugin (after importing every plugin's registry modules), then the plugins' own checks."""
    from mmpx.plugins.manager import get_host

    host = get_host()
    try:
        from mmpose_ext.plugins import register_plugin_modules

        register_plugin_modules(host)
    except Exception as exc:  # mmpose itself broken: the runtime rows say so
        return [Check("plugins", "registration", False, "skipped", f"{type(exc).__name__}: {exc}", SETUP)]
    rows = []
    for info in host.plugins():
        ok = info.status in ("loaded", "blocked", "not-allowed", "disabled")
        fix = (
            None
            if ok
            else f"MMPX_BLOCK_PLUGINS={info.name} mmpx ...  (or fix/uninstall {info.distribution or info.module})"
        )
        version = f" {info.version}" if info.version else ""
        rows.append(Check("plugins", info.name, ok, info.status + version, "; ".join(info.errors), fix))
    rows += [Check("plugins", r.name, r.ok, r.value, r.detail, r.fix) for r in host.run_doctor_checks()]
    return rows


def fresh_import_check() -> Check:
    """``import mmpose_ext`` as the first import of a process; must run before anything else imports the stack."""
    start = time.perf_counter()
    try:
        import mmpose_ext  # noqa: F401
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        return Check("runtime", "import mmpose_ext", False, "broken",
                     f"first import in a fresh process (as custom_imports runs it): {type(exc).__name__}: {first}",
                     SETUP + "; or MMPX_BLOCK_PLUGINS / uninstall the package named in the error")
    return Check("runtime", "import mmpose_ext", True,
                 f"{time.perf_counter() - start:.1f} s, first import in a fresh process")


_MARK = "mmpx-doctor-rows:"
_CHILD = "from mmpx.app.doctor import child_main; child_main()"


def child_main() -> None:
    """The heavy half of doctor, in its own process: prints its rows as one JSON line."""
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):  # what the stack prints must not mix with the rows
        rows = [fresh_import_check(), *runtime_checks(), *compat_checks(), *plugin_checks()]
    print(_MARK + json.dumps([asdict(row) for row in rows]), flush=True)


def stack_checks(timeout: float = 600) -> list[Check]:
    """Runtime, compatibility and plugin rows from a fresh process (see the module docstring)."""
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [Check("runtime", "fresh process", False, "timed out",
                      f"importing and probing the stack took over {timeout:.0f} s", SETUP)]
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_MARK):
            return [Check(**row) for row in json.loads(line[len(_MARK):])]
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:]) or f"exit code {proc.returncode}, no output"
    return [Check("runtime", "fresh process", False, "crashed", tail, SETUP)]


def diagnose() -> list[Check]:
    """Run every check. Heavy (a process that imports torch, mmcv, mmpose): several seconds."""
    return package_checks() + stack_checks()


def as_json(checks: list[Check]) -> dict:
    return {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}
