#!/bin/bash
# bench/checkpoint.sh [BUILDDIR] - what checkpointing costs: the same
# pipeline (1 planner + 3 actors; 48 tasks of 20000 rows, about 0.5 MB
# each, through a stage doing 40 ms of work per task, then a pass-through
# and a sum) with --checkpoint and without, alternating, best of 3 each.
# Every batch's outputs go to an HDF5 part file and the journal is synced
# once per poll.  The checkpointed runs are made under each part-file
# compression (executor.checkpoint_compression) in $COMPRESSIONS (default
# "none deflate:1 deflate:6"), each line with the checkpoint's bytes.
# Ends with a line per compression:
#   checkpoint: ratio <R> on/off, <B> bytes, compression <C>
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The test stages are a plugin built with the tests (make check); build
# just it when it is not there yet.
plugin=$build/t/plugins/teststages.so
[ -f "$plugin" ] || make -C "$build" t/plugins/teststages.so >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/p.yaml" <<YAML
name: ckbench
stages:
  - {name: generate, type: $plugin:fanout, params: {tasks: 48, rows: 20000}}
  - {name: work, type: $plugin:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 40}}
  - {name: pass, type: $plugin:noop, batch_size: 1}
  - {name: total, type: $plugin:sum, batch_size: 4}
YAML
run() { # [--checkpoint DIR ...] -> the run's wall seconds (MPI start-up excluded)
    mpirun -np 4 --oversubscribe --bind-to none "$build/winnow" run "$tmp/p.yaml" \
        --progress off --stats "$tmp/s.json" "$@" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall_s"])' "$tmp/s.json"
}
compressions=${COMPRESSIONS:-none deflate:1 deflate:6}
best_off=1e9
declare -A best_on bytes
for c in $compressions; do best_on[$c]=1e9; done
for i in 1 2 3; do
    off=$(run)
    best_off=$(python3 -c "print(min($best_off, $off))")
    line="run $i: off ${off} s"
    for c in $compressions; do
        rm -rf "$tmp/ck"
        on=$(run --checkpoint "$tmp/ck" --set executor.checkpoint_compression=$c)
        files=$(find "$tmp/ck/stages" -name 'part-*.h5' | wc -l)
        bytes[$c]=$(du -sb "$tmp/ck" | cut -f1)
        line="$line; $c ${on} s ($files part files, ${bytes[$c]} bytes)"
        best_on[$c]=$(python3 -c "print(min(${best_on[$c]}, $on))")
    done
    echo "$line"
done
for c in $compressions; do
    python3 -c "print('checkpoint: ratio %.2f on/off (%.2f s vs %.2f s), %d bytes, compression %s' %
                      (${best_on[$c]} / $best_off, ${best_on[$c]}, $best_off, ${bytes[$c]}, '$c'))"
done
