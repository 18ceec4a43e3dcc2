#!/usr/bin/env bash
# The core tier's venv (.venv-core): mmpose-ext with the core's dependencies only (numpy, OpenCV, matplotlib,
# ONNX Runtime, xtcocotools, pluggy, typer, rich) and the test tools, without torch, mmengine, mmcv, mmpose or
# mmdet. `make test` runs every test not marked `stack` in it, so a training-stack import creeping into the core
# fails the tests.
#
# Idempotent like setup.sh (a stamp); about a minute the first time. Switches: PYTHON, MMPX_CORE_VENV,
# MMPX_SETUP_FORCE=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3.11}
VENV=${MMPX_CORE_VENV:-$ROOT/.venv-core}
PINS=$ROOT/mmpx/stack.txt
STAMP=$VENV/.mmpx-setup-stamp
START=$(date +%s)

trap 'echo "setup-core: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
say() { printf '\033[1m[setup-core %3ss]\033[0m %s\n' "$(( $(date +%s) - START ))" "$*"; }
key() { cat "$PINS" "$ROOT/pyproject.toml" "$ROOT/scripts/setup-core.sh" "$ROOT/scripts/xtcocotools.sh" | sha256sum | cut -c1-16; }

if [ -z "${MMPX_SETUP_FORCE:-}" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(key)" ] &&
  "$VENV/bin/python" -c 'import mmpx, onnxruntime, xtcocotools' 2>/dev/null; then
  say "already set up ($VENV)"
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "setup-core: $PYTHON not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || { say "creating virtual environment $VENV"; "$PYTHON" -m venv "$VENV"; }

say "installing mmpose-ext's core (no torch) with its test tools"
"$VENV/bin/python" -m pip --disable-pip-version-check -q install -c "$PINS" -e "$ROOT[core,test,formats]"
bash "$ROOT/scripts/xtcocotools.sh" "$VENV" "$PINS"
if "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ("torch", "mmengine", "mmcv", "mmpose", "mmdet")))'; then
  key >"$STAMP"
  say "done"
else
  echo "setup-core: the core venv has a training-stack package installed; it must not (recreate $VENV)" >&2
  exit 1
fi
