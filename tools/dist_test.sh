#!/usr/bin/env bash
# Distributed testing with PyTorch's launcher (torchrun): each process evaluates a share of the test set.
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options...]
# Several nodes: as in tools/dist_train.sh, with NNODES, NODE_RANK, MASTER_ADDR and PORT set on every node.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=29500] $0 CONFIG CHECKPOINT GPUS" \
         "[test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
REPO="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi

"$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$REPO/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
