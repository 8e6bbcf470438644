#!/usr/bin/env bash
# Distributed training with PyTorch's launcher (torchrun): one process per GPU, on one or several nodes.
#   tools/dist_train.sh CONFIG GPUS [tools/train.py options...]
# One node: the processes meet on a free port (set PORT to choose one). Several nodes: run it on every node with
# the same MASTER_ADDR/PORT (default 29500) and NNODES, and NODE_RANK 0..NNODES-1:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 tools/dist_train.sh configs/pennfudan_maskrcnn.py 8
# Without CUDA the processes run on the CPU over gloo (custom/engine/distributed.py). PYTHON picks the interpreter.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=N] $0 CONFIG GPUS [train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
source "$(dirname "$0")/torchrun_common.sh"
torchrun_tool "$GPUS" train.py "$CONFIG" "$@"
