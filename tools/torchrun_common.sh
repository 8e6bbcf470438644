# Sourced by tools/dist_train.sh and tools/dist_test.sh: starts GPUS processes of a tools/*.py with torchrun.
#   torchrun_tool GPUS TOOL [TOOL arguments...]
# NNODES, NODE_RANK, MASTER_ADDR and PORT describe the nodes; PYTHON picks the interpreter (default .venv).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi

torchrun_tool() {
    local gpus=$1 tool=$2
    shift 2
    "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" \
        --nproc_per_node="$gpus" \
        "$REPO/tools/$tool" "$@" --launcher pytorch
}
