#!/bin/bash
# scripts/gpu-check.sh - the GPU check in one command, for a machine with a
# GPU lent for minutes: builds (installing what is missing), runs the GPU
# tier of the suite and the GPU benchmarks, and prints a summary.  Meant
# to finish within 8 minutes; each step has its own time limit so that one
# hang cannot eat the rest.  Exit status: 0 when every step passed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
log=${GPU_CHECK_LOG:-$top/gpu-check.log}
: >"$log"
summary=()
step() { # NAME LIMIT CMD...
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    echo "=== $name" | tee -a "$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    local st=$?
    summary+=("$(printf '%-28s exit %3d  %4d s' "$name" "$st" $((SECONDS - t0)))")
    return $st
}
nvidia-smi -L 2>&1 | tee -a "$log" || echo "no nvidia-smi" | tee -a "$log"
step build 300 scripts/build.sh || { printf '%s\n' "${summary[@]}"; tail -30 "$log"; exit 1; }
fail=0
step "gpu tests" 150 make -C build check \
    TESTS='t/gpu/test_gpu.t t/gpu/t4000-raft-gpu.t t/gpu/t4010-minhash-gpu.t t/gpu/t4020-streaming-gpu.t' || fail=1
step "bench minhash_gpu" 90 bench/minhash_gpu.sh build 64 || fail=1
step "bench clique" 90 bench/clique.sh build 2 || fail=1
echo
echo "--- gpu-check summary ($(date -u +%FT%TZ))"
printf '%s\n' "${summary[@]}"
grep -h '^\(PASS\|FAIL\|SKIP\|ERROR\|XPASS\)' build/t/gpu/*.log 2>/dev/null | cut -c1-110
grep -h '^[a-z_]*: .*ratio' "$log"
exit $fail
