# The README's two commands are `make quickstart` and `make test`; both set up first (idempotent, seconds when
# nothing changed). Variables: PYTHON (default python3.11), MMPX_TORCH_INDEX_URL (a CUDA torch), see
# scripts/setup.sh.
VENV ?= .venv
MMPX := $(VENV)/bin/mmpx
WORK ?= work_dirs/quickstart
SMOKE := plugins/mmpx-plugin-example/mmpx_plugin_example/configs/smoke.py

.PHONY: setup quickstart test lint bench

setup:
	bash scripts/setup.sh

# Until `mmpx quickstart` exists: check the environment, train the example plugin's smoke config on CPU, test it.
quickstart: setup
	$(MMPX) doctor
	$(MMPX) train $(SMOKE) --work-dir $(WORK)
	$(MMPX) test $(SMOKE) "$$(cat $(WORK)/last_checkpoint)" --work-dir $(WORK)/test \
		--out $(WORK)/metrics.json

test: setup
	$(VENV)/bin/python -m pytest

lint: setup
	$(VENV)/bin/ruff check mmpx mmpose_ext tests plugins benchmarks

bench: setup
	$(VENV)/bin/python benchmarks/cli_startup.py
