#!/usr/bin/env bash
# Set up mmpose-ext in one command: a virtual environment with torch, the OpenMMLab pose stack made to work on
# today's packages (see docs/guides/troubleshooting.md for why each step is the way it is), and mmpose-ext itself.
#
# Idempotent: a second run with nothing changed checks a stamp and returns in about a second; the compiled mmcv
# wheel is cached outside the tree, so even a fresh venv skips the 6-10 minute mmcv build.
#
# Environment switches:
#   PYTHON=python3.11               interpreter for the venv
#   MMPX_VENV=.venv                 where the venv goes
#   MMPX_CACHE_DIR=~/.cache/mmpose-ext   where the mmcv wheel is cached
#   MMPX_TORCH_INDEX_URL=URL        install torch (and torchvision) from this index, e.g. a CUDA build:
#                                   https://download.pytorch.org/whl/cu128 ; default: the CPU build
#   MMPX_SETUP_FORCE=1              ignore the stamp and run every step
set -euo pipefail
shopt -s nullglob

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3.11}
VENV=${MMPX_VENV:-$ROOT/.venv}
CACHE=${MMPX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmpose-ext}
TORCH_INDEX=${MMPX_TORCH_INDEX_URL:-}
PINS=$ROOT/mmpx/stack.txt
STAMP=$VENV/.mmpx-setup-stamp
START=$(date +%s)

trap 'echo "setup: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
say() { printf '\033[1m[setup %3ss]\033[0m %s\n' "$(( $(date +%s) - START ))" "$*"; }
pip_() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pin() { grep -E "^$1[=<>]" "$PINS" | head -n1 | sed -E 's/^[^=<>]+==//'; }

stamp_key() {
  cat "$PINS" "$ROOT/pyproject.toml" "$ROOT/scripts/setup.sh" "$ROOT/scripts/xtcocotools.sh" "$ROOT"/plugins/*/pyproject.toml 2>/dev/null |
    sha256sum | cut -c1-16
  echo "torch-index=$TORCH_INDEX"
}

if [ -z "${MMPX_SETUP_FORCE:-}" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_key)" ] &&
  "$VENV/bin/python" -c 'import mmpx, mmcv, mmpose' 2>/dev/null; then
  say "already set up ($VENV); MMPX_SETUP_FORCE=1 redoes every step"
  exit 0
fi

command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# Build tools first. setuptools must still ship pkg_resources (<81, mmengine imports it) and satisfy torch (>=77).
say "installing build tools"
pip_ install -c "$PINS" "setuptools" wheel ninja cython "numpy" packaging

say "installing torch $(pin torch)${TORCH_INDEX:+ from $TORCH_INDEX}"
if [ -n "$TORCH_INDEX" ]; then
  # A CUDA machine gets the matching torchvision too; it is used as is when it imports.
  pip_ install -c "$PINS" --index-url "$TORCH_INDEX" "torch==$(pin torch)" torchvision
else
  pip_ install -c "$PINS" "torch==$(pin torch)"
fi

# mmcv 2.1.0 has no wheel for this torch: build it with its compiled ops, once per (mmcv, torch, python, cuda).
read -r TORCH_V PY_TAG CUDA_TAG < <("$VENV/bin/python" -c '
import sys, torch
cuda = torch.version.cuda
print(torch.__version__.replace("+", "_"), f"cp{sys.version_info[0]}{sys.version_info[1]}",
      ("cu" + cuda.replace(".", "")) if cuda and torch.cuda.is_available() else "cpu")')
MMCV_V=$(pin mmcv)
WHEEL_DIR=$CACHE/wheels/mmcv-$MMCV_V-torch$TORCH_V-$PY_TAG-$CUDA_TAG
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_V')" 2>/dev/null; then
  wheels=("$WHEEL_DIR"/mmcv-*.whl)
  if [ ${#wheels[@]} -eq 0 ]; then
    say "building mmcv $MMCV_V with compiled ops (about 6-10 minutes on 2 cores; cached in $WHEEL_DIR)"
    tmp=$(mktemp -d)
    force_cuda=0; [ "$CUDA_TAG" != cpu ] && force_cuda=1
    # -g0: no debug info, same machine code (benchmarks/mmcv_build.py: 0.60x compile time, 3% object size, stripped
    # objects identical); setuptools uses CFLAGS instead of Python's -O3 -DNDEBUG flags, so those come first, and
    # torch's ninja compile ignores CXXFLAGS.
    py_cflags=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS") or "")')
    CFLAGS="${CFLAGS:-$py_cflags} -g0" MMCV_WITH_OPS=1 FORCE_CUDA=$force_cuda MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      pip_ wheel --no-deps --no-build-isolation "mmcv==$MMCV_V" -w "$tmp"
    mkdir -p "$WHEEL_DIR" && mv "$tmp"/mmcv-*.whl "$WHEEL_DIR"/ && rm -rf "$tmp"
    wheels=("$WHEEL_DIR"/mmcv-*.whl)
  else
    say "using cached mmcv wheel from $WHEEL_DIR"
  fi
  pip_ install --no-deps --force-reinstall "${wheels[0]}"
fi

# What mmcv, mmengine, mmpose and mmdet really import (their declared requirements pull chumpy, which does not
# build, and a CUDA torchvision, which does not import next to CPU torch).
say "installing mmengine, mmpose, mmdet and what they really use"
pip_ install -c "$PINS" mmengine addict pyyaml yapf opencv-python pillow matplotlib json-tricks munkres scipy \
  pycocotools shapely terminaltables six tqdm rich termcolor scikit-image scikit-learn onnx onnxruntime onnxscript \
  tensorboard
# albumentations 2 declares opencv-python-headless, which would overwrite opencv-python's cv2: without its deps
pip_ install -c "$PINS" pydantic stringzilla simsimd
pip_ install -c "$PINS" --no-deps mmpose mmdet albumentations albucore
# mmpx infer --track: norfair declares numpy<2 but runs on NumPy 2 (tests/mmpx/infer/test_video.py), so it and its Kalman
# filter library go in without their declared requirements (scipy, rich and matplotlib are already here)
pip_ install -c "$PINS" --no-deps norfair filterpy
# mmpx infer --save-parquet (optional: CSV needs nothing)
pip_ install -c "$PINS" pyarrow

# The xtcocotools wheel is built against NumPy 1 and fails with NumPy 2: build it from the sdist (a few seconds).
say "checking xtcocotools against NumPy 2"
bash "$ROOT/scripts/xtcocotools.sh" "$VENV" "$PINS"

say "installing mmpose-ext (editable) with its core's dependencies and test tools, and the plugins under plugins/"
pip_ install -c "$PINS" -e "$ROOT[core,test,formats]"
# With their dependencies (the transformers plugin brings transformers); mmpose-ext is already there, and the pins
# keep pip from touching the stack.
for plugin in "$ROOT"/plugins/*/; do
  if [ -f "$plugin/pyproject.toml" ]; then pip_ install -c "$PINS" -e "$plugin"; fi
done

stamp_key >"$STAMP"
say "done; check it with: $VENV/bin/mmpx doctor"
