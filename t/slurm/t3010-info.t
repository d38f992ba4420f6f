#!/bin/bash
# wn-timeout: 240
# `winnow info` under srun in a real (private, one-node) Slurm cluster.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"

slurm_cluster_start || bail_out "could not start the test Slurm cluster"

out=$(srun -n 2 --mpi=pmix "$WINNOW" info 2>&1); st=$?
ok $st "srun -n 2 --mpi=pmix winnow info exits 0" || diag "$out"
like "$out" "2 ranks on 1 node, launched by srun" "two ranks launched by srun"
like "$out" "^rank 0/2 .* procid 0 localid 0 nodeid 0" "rank 0 is Slurm task 0"
like "$out" "^rank 1/2 .* procid 1 localid 1 nodeid 0" "rank 1 is Slurm task 1"
like "$out" "^slurm: job [0-9]+ step [0-9]+, 2 tasks on 1 nodes" "the Slurm step is reported"

out=$(srun -n 4 --mpi=pmix "$WINNOW" info 2>&1); st=$?
ok $st "srun -n 4 --mpi=pmix winnow info exits 0" || diag "$out"
is "$(printf '%s\n' "$out" | grep -c '^rank [0-3]/4 .* procid ')" 4 "four ranks with matching Slurm ids"

# Without PMIx OpenMPI starts each task as a singleton: rank 0 of 1 while
# Slurm says task 1 of 2.  winnow must refuse and name the likely cause.
out=$(srun -n 2 --mpi=none "$WINNOW" info 2>&1); st=$?
is "$st" 2 "srun --mpi=none winnow info fails as a launch error (exit 2)"
like "$out" "PMI mismatch" "the message says PMI mismatch"
like "$out" "srun --mpi=pmix" "the message suggests srun --mpi=pmix"
like "$out" "rank 0 of 1, Slurm says task 1 of 2" "the message shows both views"

done_testing
