#!/bin/bash
# bench/dispatch.sh [BUILDDIR] - dispatch rate of the executor: empty tasks
# (batch_size 1, a no-op stage) through 1 planner + 3 actors, against raw
# MPI 64-byte round trips between the same 4 ranks, measured in the same
# run.  Ends with: dispatch: <tasks/s> tasks/s, ratio <R> vs raw MPI round trips
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
tasks=${DISPATCH_TASKS:-20000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The test stages are a plugin built with the tests (make check); build
# just it when it is not there yet.
plugin=$build/t/plugins/teststages.so
[ -f "$plugin" ] || make -C "$build" t/plugins/teststages.so >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/dispatch.yaml" <<YAML
name: dispatch
stages:
  - {name: generate, type: $plugin:fanout, params: {tasks: $tasks, rows: 0}}
  - {name: empty, type: $plugin:noop, batch_size: 1}
YAML
best_raw=0 best_wn=0
for i in 1 2 3; do
    raw=$(mpirun -np 4 --oversubscribe --bind-to none "$build/bench/mpi_roundtrip" "$tasks" 3 |
          awk '{print $1}')
    mpirun -np 4 --oversubscribe --bind-to none "$build/winnow" run "$tmp/dispatch.yaml" \
        --stats "$tmp/s.json" --progress off >/dev/null
    wn=$(python3 -c 'import json,sys; s=[x for x in json.load(open(sys.argv[1]))["stages"] if x["name"]=="empty"][0]; print(s["tasks_in"]/(s["t_end"]-s["t_begin"]))' "$tmp/s.json")
    echo "run $i: raw MPI $raw round trips/s, winnow $wn tasks/s"
    best_raw=$(python3 -c "print(max($best_raw, $raw))")
    best_wn=$(python3 -c "print(max($best_wn, $wn))")
done
python3 -c "print('dispatch: %.0f tasks/s, ratio %.2f vs raw MPI round trips' % ($best_wn, $best_wn / $best_raw))"
