#!/bin/bash
# bench/clique.sh [BUILDDIR] [RANKS] - what a RAFT stage's clique costs
# against plain MPI_Allreduce on the same ranks (1-256 MiB), and NCCL's
# bus bandwidth where every rank has a GPU.  Ends with:
#   clique: ratio <R> vs MPI_Allreduce
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
np=${2:-4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -np "$np" --oversubscribe --bind-to none "$build/bench/clique"
