#!/bin/bash
# bench/shuffle.sh [BUILDDIR] - the UCX shuffle against MPI_Alltoallv on
# the same data among 4 ranks, in one run: 1 MiB per pair of ranks in
# 64 KiB chunks, and 16 MiB per pair; best of SHUFFLE_REPS (default 5)
# each, the max over ranks of first insert to data read.  Prints a line
# per size, the peak RSS of each rank, and ends with:
#   shuffle: <GB/s> GB/s, ratio <R> vs MPI_Alltoallv
# (GB/s over both sizes together: bytes moved between ranks / summed
# best times; R the same figure for Alltoallv divided into it).
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -np 4 --oversubscribe --bind-to none "$build/bench/shuffle" "${SHUFFLE_REPS:-5}"
