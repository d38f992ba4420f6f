#!/bin/bash
# bench/checkpoint.sh [BUILDDIR] - what checkpointing costs: the same
# pipeline (1 planner + 3 actors; 48 tasks of 20000 rows, about 0.5 MB
# each, through a stage doing 40 ms of work per task, then a pass-through
# and a sum) with --checkpoint and without, alternating, best of 3 each.
# Every batch's outputs go to an HDF5 part file and the journal is synced
# once per poll.  Ends with: checkpoint: ratio <R> on/off
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
run() { # [--checkpoint DIR] -> the run's wall seconds (MPI start-up excluded)
    mpirun -np 4 --oversubscribe --bind-to none "$build/winnow" run "$tmp/p.yaml" \
        --progress off --stats "$tmp/s.json" "$@" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall_s"])' "$tmp/s.json"
}
best_off=1e9 best_on=1e9
for i in 1 2 3; do
    off=$(run)
    rm -rf "$tmp/ck"
    on=$(run --checkpoint "$tmp/ck")
    files=$(find "$tmp/ck/stages" -name 'part-*.h5' | wc -l)
    bytes=$(du -sb "$tmp/ck" | cut -f1)
    echo "run $i: off ${off} s, on ${on} s ($files part files, $bytes bytes)"
    best_off=$(python3 -c "print(min($best_off, $off))")
    best_on=$(python3 -c "print(min($best_on, $on))")
done
python3 -c "print('checkpoint: ratio %.2f on/off (%.2f s vs %.2f s)' % ($best_on / $best_off, $best_on, $best_off))"
