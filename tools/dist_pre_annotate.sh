#!/usr/bin/env bash
# Pre-annotation shared out over processes with PyTorch's launcher (torchrun): one process per GPU (or CPU
# processes without CUDA), each predicting a share of the images into its own part of the cache; rank 0 writes
# the drafts once all are done.
#   tools/dist_pre_annotate.sh GPUS [--backend onnxruntime MODEL.onnx | CONFIG CHECKPOINT] INPUT... [options]
# Several nodes: as in tools/dist_train.sh, with NNODES, NODE_RANK, MASTER_ADDR and PORT set on every node, and
# --cache on a file system every node reaches.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=29500] $0 GPUS CONFIG CHECKPOINT INPUT..." \
         "--format FORMAT --out OUT [pre_annotate.py options]" >&2
    exit 2
fi
GPUS=$1
shift 1
source "$(dirname "$0")/torchrun_common.sh"
torchrun_tool "$GPUS" pre_annotate.py "$@"
