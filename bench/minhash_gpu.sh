#!/bin/bash
# bench/minhash_gpu.sh [BUILDDIR] [MB] - the minhash stage on CUDA device 0
# (resources {gpus: 1}: n-gram hashes on the host, permutations and minima
# on the GPU) against the best CPU kernel on one core, on MB (default 8)
# megabytes of real text in 4 KiB documents, 32-bit defaults.  Ends with:
#   minhash_gpu: <MB/s> MB/s, ratio <R> vs 1 CPU core
# Where no GPU is usable it prints why and exits 0.
set -u
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
"$build/bench/minhash" --gpu --mb "${2:-8}"
st=$?
if [ $st -eq 77 ]; then
    echo "skipped: no GPU"
    exit 0
fi
exit $st
