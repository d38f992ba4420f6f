#!/bin/bash
# wn-timeout: 300
# Two real Slurm nodes on this host (slurm-cluster.sh --nodes 2: slurmds
# n1 and n2, each with its own port, spool and PMIx directory): winnow
# ranks launched by `srun --mpi=pmix` across both see SLURM_NODEID 0 and 1,
# a pipeline runs across them with the same results as alone,
# setup_on_node runs once per node, and ignore_head_node keeps every actor
# off node 0.  MPI runs with OpenMPI's defaults (the helper gives each
# node its own shared-memory directory).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"
summ() { python3 "$SRCDIR/t/lib/results.py" "$1"; }

slurm_cluster_skip_unless_available
slurm_cluster_start --nodes 2 || bail_out "could not start the two-node test Slurm cluster"
cd "$TEST_TMP" || bail_out "no $TEST_TMP"

is "$SLURM_TEST_NODES" "n1,n2" "the cluster has nodes n1 and n2"
is "$(sinfo -h -N -o '%N %T' | sort -u | tr '\n' ' ')" "n1 idle n2 idle " "sinfo shows both idle"

# --- where the ranks are -----------------------------------------------
out=$(timeout 60 srun --mpi=pmix -N 2 -n 4 "$WINNOW" info 2>&1); st=$?
ok $st "srun --mpi=pmix -N 2 -n 4 winnow info exits 0" || { diag "$out"; slurm__log_tails; }
like "$out" "^winnow .*: 4 ranks on 2 nodes, launched by srun" "winnow counts 4 ranks on 2 nodes"
like "$out" "^slurm: job [0-9]+ step [0-9]+, 4 tasks on 2 nodes" "one Slurm step of 4 tasks on 2 nodes"
ranks=$(printf '%s\n' "$out" | grep -E '^rank [0-3]/4 ')
is "$(printf '%s\n' "$ranks" | grep -c .)" 4 "four rank lines"
# Each rank: its node id is Slurm's SLURM_NODEID, and node K is n(K+1).
bad=$(printf '%s\n' "$ranks" | awk '{
        r = $2; sub(/\/.*/, "", r); node = $4; name = $5; gsub(/[()]/, "", name)
        for (i = 1; i < NF; i++) { if ($i == "procid") p = $(i + 1); if ($i == "nodeid") s = $(i + 1) }
        if (p != r || s != node || name != "n" (node + 1)) print
      }')
is "$bad" "" "every rank: procid = rank, node id = SLURM_NODEID, node 0 is n1 and node 1 is n2"
is "$(printf '%s\n' "$ranks" | sed -n 's/.* nodeid \([0-9]*\) .*/\1/p' | sort -u | tr '\n' ' ')" "0 1 " \
   "ranks on node 0 and on node 1"
like "$(printf '%s\n' "$ranks" | grep '^rank 0/4 ')" " nodeid 0 " "rank 0 (the planner) is on node 0"

# --- a pipeline across both nodes --------------------------------------
mkdir probe
cat >two.yaml <<YAML
name: two
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 12, rows: 3}}
  - {name: first, type: teststages.so:probe, batch_size: 1, params: {dir: $TEST_TMP/probe}}
  - {name: work, type: teststages.so:sleep, batch_size: 2, params: {ms_per_item: 1}}
  - {name: total, type: teststages.so:sum, batch_size: 4}
YAML
# 36 items: sum 666, sum of squares 36*37*73/6 = 16206
want="count=36 sum=666 sum_sq=16206"
"$WINNOW" run two.yaml --results alone.jsonl --progress off >/dev/null 2>&1
like "$(summ alone.jsonl)" "^$want " "alone: every item once"
rm -f probe/*

# Two ranks a node: node 0 holds the planner (rank 0) and rank 1.
out=$(timeout 120 srun --mpi=pmix -N 2 -n 4 --ntasks-per-node=2 "$WINNOW" run two.yaml \
      --results two.jsonl --stats two.json --progress off 2>&1); st=$?
ok $st "srun -N 2 -n 4 winnow run exits 0" || { diag "$out"; slurm__log_tails; }
like "$(summ two.jsonl)" "^$want " "every item exactly once across two nodes"
cmp -s alone.jsonl two.jsonl; ok $? "the same results as alone, byte for byte"
is "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["ranks"], s["nodes"])' two.json 2>&1)" \
   "4 2" "stats: 4 ranks on 2 nodes"
is "$(sort probe/first.node_setup 2>&1 | awk '{ print $1, $2, $3, $4, $5 }' | tr '\n' ';')" \
   "node 0 n1 actors 1;node 1 n2 actors 2;" \
   "setup_on_node ran exactly once per node (n1: 1 actor, n2: 2)"
is "$(awk '{ print $2 ":" $4 }' probe/first.setup 2>&1 | sort | tr '\n' ' ')" "1:0 2:1 3:1 " \
   "setup once per actor: rank 1 on node 0, ranks 2 and 3 on node 1"
is "$(awk '{ s += $4 } END { print s }' probe/first.batches)" 12 "the stage processed 12 tasks"
like "$(awk '{ print $2 }' probe/first.batches | sort -u | tr '\n' ' ')" "[23] " \
    "node 1's ranks processed batches"

# --- ignore_head_node ----------------------------------------------------
rm -f probe/*
# two.yaml's stages, the head node's ranks left without actors
sed -e 's/^name: two$/name: head\nexecutor: {ignore_head_node: true}/' two.yaml >head.yaml
out=$(timeout 120 srun --mpi=pmix -N 2 -n 4 --ntasks-per-node=2 "$WINNOW" run head.yaml \
      --results head.jsonl --stats head.json --progress off 2>&1); st=$?
ok $st "ignore_head_node: srun -N 2 -n 4 winnow run exits 0" || { diag "$out"; slurm__log_tails; }
cmp -s alone.jsonl head.jsonl; ok $? "ignore_head_node: the same results as alone"
is "$(awk '{ print $1, $2, $3, $4, $5 }' probe/first.node_setup 2>&1)" "node 1 n2 actors 2" \
   "ignore_head_node: setup_on_node ran once, on node 1 only"
is "$(awk '{ print $2 ":" $4 }' probe/first.setup 2>&1 | sort | tr '\n' ' ')" "2:1 3:1 " \
   "ignore_head_node: the actors are ranks 2 and 3 on node 1"
is "$(cat probe/first.batches probe/first.teardown 2>&1 | awk '{ print $2 }' | sort -u | tr '\n' ' ')" "2 3 " \
   "ignore_head_node: no batch or teardown on node 0's ranks 0 and 1"
is "$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(" ".join("%s:%s" % (t["name"], ",".join(map(str, t["ranks"]))) for t in s["stages"]))' head.json 2>&1)" \
   "generate:2 first:2,3 work:2,3 total:2,3" \
   "ignore_head_node: every stage's actors are on node 1 (stats)"

# All ranks on one node: that node is node 0 of the step, whichever it is
# (SLURM_NODEID counts the step's nodes), so nothing is left for actors.
out=$(timeout 60 srun --mpi=pmix -N 1 -n 2 -w n2 "$WINNOW" info 2>&1)
like "$out" "^rank 0/2 node 0 \(n2\) .* nodeid 0 " "a step on n2 alone: n2 is its node 0"
out=$(timeout 60 srun --mpi=pmix -N 1 -n 3 -w n2 "$WINNOW" run head.yaml --progress off 2>&1); st=$?
is "$st" 2 "ignore_head_node with every rank on one node (n2): refused before any work (exit 2)"
like "$out" "ignore_head_node leaves no rank for actors: all 2 actor ranks are on node 0" "the error says why"

# --- a batch job over both nodes -----------------------------------------
cat >job.sh <<JOB
#!/bin/bash
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
srun --mpi=pmix "$WINNOW" run "$TEST_TMP/two.yaml" --results "$TEST_TMP/batch.jsonl" --progress off
JOB
id=$(sbatch --parsable -N 2 --ntasks-per-node=2 -o "$TEST_TMP/job.out" job.sh); st=$?
ok $st "sbatch -N 2 accepted the job ($id)"
state=$(slurm_wait_job "$id" 120)
is "$state" COMPLETED "the two-node batch job completed" || diag "$(cat job.out)"
is "$(slurm_job_field "$id" NodeList)" "n[1-2]" "it ran on n1 and n2"
cmp -s alone.jsonl batch.jsonl; ok $? "the batch job's results equal the run alone"

# --- the stop leaves nothing behind --------------------------------------
dir=$SLURM_TEST_DIR
slurm_cluster_stop
is "$(slurm__our_pids "$dir" | tr '\n' ' ')" "" "slurm_cluster_stop stopped every daemon of both nodes"
if [ "${WN_KEEP_TMP:-0}" = 1 ]; then skip 1 "WN_KEEP_TMP=1 keeps $dir"
else [ ! -e "$dir" ]; ok $? "slurm_cluster_stop removed $dir"; fi

done_testing
