#!/usr/bin/env bash
# Make xtcocotools work with NumPy 2 in the venv $1 (pins: $2). Its wheel is built against NumPy 1, and its
# source uses np.NPY_OWNDATA, which NumPy 2 removed (its mask functions fail): build it from the sdist with the
# rename pycocotools made. Does nothing when the installed one already works. Used by setup.sh and setup-core.sh.
set -euo pipefail
VENV=$1
PINS=$2
PY="$VENV/bin/python"
if "$PY" -c 'import numpy as np, xtcocotools.mask as m; m.area(m.encode(np.asfortranarray(np.ones((2, 2), np.uint8))))' 2>/dev/null; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip --disable-pip-version-check -q install -c "$PINS" cython numpy setuptools wheel
"$PY" -m pip --disable-pip-version-check -q download -c "$PINS" --no-deps --no-binary :all: -d "$tmp" xtcocotools
tar -xzf "$tmp"/xtcocotools-*.tar.gz -C "$tmp"
sed -i 's/np\.NPY_OWNDATA/np.NPY_ARRAY_OWNDATA/g' "$tmp"/xtcocotools-*/xtcocotools/_mask.pyx
"$PY" -m pip --disable-pip-version-check -q install --no-build-isolation --no-deps --force-reinstall \
  "$(ls -d "$tmp"/xtcocotools-*/)"
