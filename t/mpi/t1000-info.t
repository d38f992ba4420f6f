#!/bin/bash
# wn-timeout: 180
# `winnow info` on real OpenMPI ranks started by mpirun.
. "$(dirname "$0")/../lib/tap.sh"

for np in 4 2; do
    out=$(mpirun_np $np "$WINNOW" info 2>&1); st=$?
    ok $st "mpirun -np $np winnow info exits 0" || diag "$out"
    like "$out" "$np ranks on 1 node, launched by mpirun" "$np ranks on one node"
    is "$(printf '%s\n' "$out" | grep -c '^rank ')" "$np" "one line per rank"
    last=$((np - 1))
    like "$out" "^rank $last/$np node 0 \([^)]*\) local $last/$np " "last rank has local rank $last of $np"
    # Rank 0 prints: the layout appears once, not once per rank.
    is "$(printf '%s\n' "$out" | grep -c '^winnow .* launched by')" 1 "only rank 0 prints the header"
done

# Two ranks on a 2-core machine with 4 ranks oversubscribed get 1 CPU each
# at least (never 0: each must be able to host an actor).
out=$(mpirun_np 4 "$WINNOW" info 2>&1)
if printf '%s\n' "$out" | grep '^rank ' | grep -q 'cpus 0 '; then ok 1 "no rank has 0 CPUs"; else ok 0 "no rank has 0 CPUs"; fi

done_testing
