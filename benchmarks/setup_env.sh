#!/usr/bin/env bash
# Creates .venv-bench: the project's pinned stack plus torchvision, for the benchmarks in this folder.
# It is tools/setup_env.sh run with benchmarks/requirements.txt (torch 2.14.1 + torchvision 0.29.1, the pair that
# imports together on this machine). torch 2.14's headers need C++20 while mmcv 2.1.0's setup.py asks for
# C++17, so mmcv's wheel is first built here from its sdist with the standard raised to C++20 and put where
# setup_env.sh looks for a wheel built against this torch. About a second once .venv-bench is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv-bench"  # absolute: the mmcv build below runs from its source folder
REQUIREMENTS=benchmarks/requirements.txt
PYTHON=${PYTHON:-python3}
pin() { grep -E "^$1==" "$REQUIREMENTS" | head -n 1; }

if [ ! -f "$VENV/.installed-$(cat "$REQUIREMENTS" pyproject.toml | sha256sum | cut -c1-16)" ]; then  # as setup_env.sh
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
    "${PIP[@]}" install -q "$(pin torch)" "$(pin numpy)" "$(pin setuptools)" wheel ninja
    TORCH=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')
    BUILD_PLAN=$("$VENV/bin/python" tools/cuda_build.py plan)  # CPU or CUDA ops, as in setup_env.sh
    eval "$BUILD_PLAN"
    WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/mmdet-pennfudan/wheels/$MMCV_WHEEL_DIR"
    if ! compgen -G "$WHEELS/mmcv-2.1.0-*.whl" >/dev/null; then
        SRC=$(mktemp -d)
        "${PIP[@]}" download -q --no-deps --no-binary :all: -d "$SRC" "$(pin mmcv)"
        tar xzf "$SRC"/mmcv-*.tar.gz -C "$SRC"
        sed -i "s/-std=c++17/-std=c++20/g" "$SRC"/mmcv-*/setup.py
        echo "[bench] building mmcv with C++20 against torch $TORCH (much longer than setup_env.sh's build)"
        mkdir -p "$WHEELS"
        (cd "$SRC"/mmcv-*/ && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "${PIP[@]}" wheel -q --no-cache-dir --no-deps --no-build-isolation -w "$WHEELS" .)
        rm -rf "$SRC"
    fi
fi
VENV=$VENV REQUIREMENTS=$REQUIREMENTS bash tools/setup_env.sh
"$VENV/bin/python" -c 'import torchvision; print("[setup] ok: torchvision", torchvision.__version__)'
