#!/bin/bash
# bench/minhash.sh [BUILDDIR] [MB] - the minhash stage's throughput on one
# core at the defaults (char_ngrams 24, 260 hashes = 20 bands x 13, seed
# 42, 32-bit) on MB (default 2) megabytes of real text read at run time
# (/usr/share/common-licenses/* and /usr/share/doc/*/copyright, cut into
# 4 KiB documents): a line per SIMD level the CPU has (portable scalar,
# AVX2, AVX-512, AVX-512 IFMA; all give the same bits), one for 64-bit
# hashes and one for algorithm one_permutation, and last:
#   minhash: <MB/s> MB/s/core, ratio <R> vs scalar
# (the best level against the portable scalar kernel; MB/s per second of
# the thread's CPU time, so a shared machine disturbs it less).
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
exec "$build/bench/minhash" --mb "${2:-2}"
