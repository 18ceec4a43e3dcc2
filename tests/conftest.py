"""Shared fixtures; the helpers themselves are in :mod:`tests.helpers`."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from mmpx.runtime.threads import apply_env
from tests import forkserver
from tests.helpers import SHARED_DATA, has_training_stack, make_tiny_coco

# The thread policy (mmpx.runtime.threads) for this process and every process it starts (the `mmpx` subprocesses
# inherit it): xdist's workers split the free cores between them and wait passively, so two workers that train
# with torch on two cores do not starve each other. Before any test module imports torch.
apply_env(share=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
if has_training_stack():  # the fork server for the tests' mmpx runs (tests/forkserver.py) starts from this environment
    forkserver.set_base_env()

# A suite started in the background by a script (`make test &`, nohup) inherits SIGINT ignored, and so would every
# process it starts: the Ctrl-C tests need it delivered as a terminal delivers it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_coco")
    make_tiny_coco(root)
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (it sits beside the checkout on project machines only)")
    return SHARED_DATA


# ``pytestmark = pytest.mark.stack`` at the top level of a module: the whole module needs the training stack (it
# imports torch or mmpose when it loads), so a venv without it does not even import the module.
_WHOLE_MODULE_STACK = re.compile(r"^pytestmark = .*\bpytest\.mark\.stack\b", re.M)


def pytest_ignore_collect(collection_path, config):
    from tests.helpers import has_training_stack

    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") and not has_training_stack():
        return bool(_WHOLE_MODULE_STACK.search(collection_path.read_text(encoding="utf-8"))) or None
    return None


def pytest_collection_modifyitems(config, items):
    from tests.helpers import has_training_stack

    if has_training_stack():
        return
    skip = pytest.mark.skip(reason="needs the training stack (torch, mmpose); the full tier runs it")
    for item in items:
        if "stack" in item.keywords:
            item.add_marker(skip)


def _mmpose_scope():
    """Build under the ``mmpose`` scope whatever an earlier test left: mmengine's ``DefaultScope`` treats the newest
    instance ever made as current, so a test that loaded a detector (``default_scope='mmdet'``) would otherwise send
    a later test's plain ``METRICS.build`` on the same xdist worker to mmdet's registry. The earlier instances come
    back afterwards (mmengine's ``overwrite_default_scope``)."""
    registry = sys.modules.get("mmengine.registry")  # not loaded yet: no scope can have leaked
    return registry.DefaultScope.overwrite_default_scope("mmpose") if registry else contextlib.nullcontext()


@pytest.fixture(scope="module", autouse=True)
def _module_scope():
    """For the module-scoped fixtures (datasets and pipelines built once per file)."""
    with _mmpose_scope():
        yield


@pytest.fixture(autouse=True)
def _test_scope():
    with _mmpose_scope():
        yield
