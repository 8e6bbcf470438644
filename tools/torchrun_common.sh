# Sourced by tools/dist_train.sh and tools/dist_test.sh: starts GPUS processes of a tools/*.py with torchrun.
#   torchrun_tool GPUS TOOL [TOOL arguments...]
# NNODES, NODE_RANK, MASTER_ADDR and PORT describe the nodes; PYTHON picks the interpreter (default .venv).
# One node without PORT: torchrun's standalone rendezvous, on a port the OS gives it when it binds, so that
# two runs on one machine (or two test workers) never ask for the same port.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi

torchrun_tool() {
    local gpus=$1 tool=$2
    shift 2
    local nodes=(--standalone)
    if [ "${NNODES:-1}" != 1 ] || [ -n "${PORT:-}" ]; then
        nodes=(--nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}"
               --master_port="${PORT:-29500}")
    fi
    "$PYTHON" -m torch.distributed.run "${nodes[@]}" --nproc_per_node="$gpus" \
        "$REPO/tools/$tool" "$@" --launcher pytorch
}
