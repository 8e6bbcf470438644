#!/usr/bin/env bash
# Creates .venv-bench: the project's pinned stack plus torchvision, for tools/benchmark.py.
# It is tools/setup_env.sh run with requirements-bench.txt (torch 2.14.1 + torchvision 0.29.1, mmcv compiled
# against that torch: about 10 minutes on 2 CPU cores the first time, about a second once it is up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-bench REQUIREMENTS=requirements-bench.txt bash tools/setup_env.sh
.venv-bench/bin/python -c 'import torchvision; print("[setup] ok: torchvision", torchvision.__version__)'
