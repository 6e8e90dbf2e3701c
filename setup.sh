#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for this project: Xvfb (GUI rendering on a server), the CPU build of
# PyTorch 2.13.0 (an unpinned torch would pull a multi-GB CUDA build), then the project (with onnx, onnxscript and
# onnxruntime for `train.py export`), its test tools and the optional Ray backend.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

if ! command -v xvfb-run >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing xvfb" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb >/dev/null
fi

if ! "$PY" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' >/dev/null 2>&1; then
  echo "setup: installing torch==2.13.0 (CPU)" >&2
  "$PY" -m pip install -q --disable-pip-version-check torch==2.13.0
fi

echo "setup: installing the project (editable) with its dev tools and Ray (for --backend ray and its tests)" >&2
"$PY" -m pip install -q --disable-pip-version-check -e ".[dev,ray]"
