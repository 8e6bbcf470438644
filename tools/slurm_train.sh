#!/usr/bin/env bash
# Training on a Slurm cluster with mmengine's slurm launcher: srun starts one task per GPU.
#   [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] tools/slurm_train.sh PARTITION JOB_NAME CONFIG \
#       WORK_DIR [tools/train.py options...]
# mmengine reads the rank and the master node from Slurm's variables; PORT (MASTER_PORT) defaults to 29500.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: [GPUS=8 GPUS_PER_NODE=8] $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}

# shellcheck disable=SC2086  # SRUN_ARGS holds several words on purpose
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres="gpu:$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="${CPUS_PER_TASK:-5}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "$PYTHON" -u "$REPO/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher slurm "$@"
