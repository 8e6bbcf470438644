#!/usr/bin/env bash
# Creates .venv in the repo, installs the pinned stack from requirements.txt and the project itself (editable,
# so `import custom` works from any folder with the venv active). Idempotent: when .venv already matches
# requirements.txt and pyproject.toml it returns in about a second.
# VENV=... REQUIREMENTS=... build another environment from another pin file (benchmarks/setup_env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
REQUIREMENTS=${REQUIREMENTS:-requirements.txt}
STAMP="$VENV/.installed-$(cat "$REQUIREMENTS" pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ]; then
    echo "[setup] $VENV is up to date with $REQUIREMENTS"
    exit 0
fi

PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
pin() { grep -E "^$1( |=|<|>)" "$REQUIREMENTS" | head -n 1; }

echo "[setup] 1/4 installing $(pin torch), $(pin numpy) and the build tools for mmcv"
"${PIP[@]}" install -q "$(pin torch)" "$(pin numpy)" "$(pin setuptools)" wheel ninja

# mmcv's compiled ops are built against the installed torch, so the cached wheel is keyed by it, and by the GPU
# architectures when torch sees a GPU: tools/cuda_build.py sets MMCV_BUILD (cpu/cuda), MMCV_WHEEL_DIR and, for
# CUDA, FORCE_CUDA, CUDA_HOME and TORCH_CUDA_ARCH_LIST, or stops naming what to install (no nvcc).
TORCH=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
BUILD_PLAN=$("$VENV/bin/python" tools/cuda_build.py plan)
eval "$BUILD_PLAN"
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/mmdet-pennfudan/wheels/$MMCV_WHEEL_DIR"
mkdir -p "$WHEELS"
if compgen -G "$WHEELS/mmcv-2.1.0-*.whl" >/dev/null; then
    echo "[setup] 2/4 reusing the mmcv wheel built earlier in $WHEELS"
else
    echo "[setup] 2/4 building $(pin mmcv) with compiled $MMCV_BUILD ops against torch $TORCH"
    echo "[setup]     this takes 10-17 minutes on 2 CPU cores (longer when CUDA ops are built)"
    # --no-cache-dir: pip's own wheel cache is not keyed by torch and would hand back a build for another torch.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "${PIP[@]}" wheel -q --no-cache-dir --no-deps --no-build-isolation -w "$WHEELS" "$(pin mmcv)"
fi

echo "[setup] 3/4 installing the rest of $REQUIREMENTS"
"${PIP[@]}" install -q --find-links "$WHEELS" -r "$REQUIREMENTS"
echo "[setup] 4/4 installing this project (editable: custom/ is imported from the repo)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .
# From / so the import proves the editable install, not the current folder.
VENV_PYTHON="$(cd "$VENV" && pwd)/bin/python"
(cd / && "$VENV_PYTHON" -c 'import custom, mmcv.ops, mmdet, mmengine, torch; print("[setup] ok: torch", torch.__version__, "| mmcv", mmcv.__version__, "| mmengine", mmengine.__version__, "| mmdet", mmdet.__version__, "| cuda", torch.cuda.is_available())')
# A CUDA build must really run on the GPU: no silent CPU-only ops.
if [ "$MMCV_BUILD" = cuda ]; then "$VENV_PYTHON" tools/cuda_build.py check; fi
rm -f "$VENV"/.installed-*
touch "$STAMP"
