#!/usr/bin/env bash
# Distributed testing with PyTorch's launcher (torchrun): each process evaluates a share of the test set.
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options...]
# Several nodes: as in tools/dist_train.sh, with NNODES, NODE_RANK, MASTER_ADDR and PORT set on every node.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=N] $0 CONFIG CHECKPOINT GPUS" \
         "[test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
source "$(dirname "$0")/torchrun_common.sh"
torchrun_tool "$GPUS" test.py "$CONFIG" "$CHECKPOINT" "$@"
