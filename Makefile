# The README's two commands are `make quickstart` and `make test`; both set up first (idempotent, seconds when
# nothing changed). Variables: PYTHON (default python3.11), MMPX_TORCH_INDEX_URL (a CUDA torch), see
# scripts/setup.sh.
VENV ?= .venv
CORE_VENV ?= .venv-core
MMPX := $(VENV)/bin/mmpx
WORK ?= work_dirs/quickstart

.PHONY: setup setup-core setup-browser quickstart test test-core lint bench

setup:
	bash scripts/setup.sh

# A second venv without torch/mmengine/mmcv/mmpose/mmdet for the torch-free tier (docs/architecture.md).
setup-core:
	MMPX_CORE_VENV=$(CORE_VENV) bash scripts/setup-core.sh

# Debian's chromium for the tests that open mmpx's HTML pages in a real browser (skipped without it; root + apt only).
setup-browser:
	bash scripts/setup-browser.sh

# Check the environment, then synthesise car keypoints, convert, check, train on the CPU, test, plot, draw, report.
quickstart: setup
	$(MMPX) doctor
	$(MMPX) quickstart --work-dir $(WORK)

# The whole suite in the full venv, then the torch-free tier (every test not marked `stack`) again in the venv without
# the training stack.
# Two pytest workers, one test file each at a time (--dist loadfile keeps a file's fixtures in one process): on 2
# cores much of a test is process start-up and imports, which the other worker overlaps. TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
WORKERS = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
test: setup setup-core setup-browser
	$(VENV)/bin/python -m pytest $(WORKERS)
	$(MAKE) --no-print-directory test-core

# the same workers: the torch-free tier took 3:13 serial, 1:34 with two
test-core: setup-core setup-browser
	$(CORE_VENV)/bin/python -m pytest -m "not stack" tests -p no:cacheprovider $(WORKERS)

lint: setup
	$(VENV)/bin/ruff check mmpx mmpose_ext tests plugins benchmarks scripts configs
	$(VENV)/bin/lint-imports --no-cache

bench: setup
	$(VENV)/bin/python benchmarks/cli_startup.py
