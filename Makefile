# The README's two commands are `make quickstart` and `make test`; both set up first (idempotent, seconds when
# nothing changed). Variables: PYTHON (default python3.11), MMPX_TORCH_INDEX_URL (a CUDA torch), see
# scripts/setup.sh.
VENV ?= .venv
MMPX := $(VENV)/bin/mmpx
WORK ?= work_dirs/quickstart

.PHONY: setup quickstart test lint bench

setup:
	bash scripts/setup.sh

# Check the environment, then synthesise car keypoints, convert, check, train on the CPU, test, plot, draw, report.
quickstart: setup
	$(MMPX) doctor
	$(MMPX) quickstart --work-dir $(WORK)

test: setup
	$(VENV)/bin/python -m pytest

lint: setup
	$(VENV)/bin/ruff check mmpx mmpose_ext tests plugins benchmarks scripts configs

bench: setup
	$(VENV)/bin/python benchmarks/cli_startup.py
