#!/bin/bash
# wn-timeout: 400
# Checkpoint and stop before the Slurm limit, in the private cluster:
# a job that gets USR1 (--signal) exits 3; one whose time runs short
# (time_margin, asked of slurmctld through libslurm) exits 3; the same job
# submitted again resumes and finishes with the results of a run that was
# never stopped.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"

slurm_cluster_start || bail_out "could not start the test Slurm cluster"
cd "$TEST_TMP"
cat >p.yaml <<'YAML'
name: slurmckpt
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 300, rows: 4}}
  - {name: work, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 100}}
  - {name: total, type: teststages.so:sum, batch_size: 10}
YAML
# 300 batches of 0.4 s on 3 actors: about 40 s, so that a stop lands
# mid-run (slurmctld sends --signal at its periodic check, here within
# 35 s).
"$WINNOW" run p.yaml --results ref.jsonl --progress off --set stages.work.ms_per_item=0 >/dev/null 2>&1
ok $? "reference run"

job() { # NAME CHECKPOINT [srun options...]
    local name=$1 ck=$2
    shift 2
    cat >"$name.sh" <<JOB
#!/bin/bash
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
srun --mpi=pmix "$WINNOW" run "$TEST_TMP/p.yaml" --checkpoint "$TEST_TMP/$ck" \\
    --results "$TEST_TMP/$name.jsonl" --progress lines $*
echo "winnow exit \$?"
JOB
}

# 1. --signal=USR1@115 on a 2-minute job: due after 5 s, sent at
# slurmctld's next periodic check.
job sig cksig --set executor.time_margin=0
id=$(sbatch --parsable -n 4 --time=2 --signal=USR1@115 -o "$TEST_TMP/sig.out" sig.sh); st=$?
ok $st "sbatch --signal=USR1@115 accepted ($id)"
state=$(slurm_wait_job "$id" 150)
like "$(cat sig.out)" "winnow exit 3" "the step exited 3 (checkpointed)" || diag "$(cat sig.out)"
like "$(cat sig.out)" "stopping \(User defined signal 1 on rank [0-9]+\)" "it says why"
id=$(sbatch --parsable -n 4 -o "$TEST_TMP/sig2.out" sig.sh)
state=$(slurm_wait_job "$id" 150)
is "$state" "COMPLETED" "submitted again: the job completes" || diag "$(cat sig2.out)"
like "$(cat sig2.out)" "resuming from checkpoint" "it resumed"
cmp -s ref.jsonl sig.jsonl; ok $? "byte-identical results to a run never stopped"

# 2. time_margin: a 1-minute job, margin 50 s -> asked every 12.5 s, it
# stops about 10 s in.
job lim cklim --set executor.time_margin=50
id=$(sbatch --parsable -n 4 --time=1 -o "$TEST_TMP/lim.out" lim.sh); st=$?
ok $st "sbatch --time=1 accepted ($id)"
state=$(slurm_wait_job "$id" 150)
like "$(cat lim.out)" "stopping \(the Slurm job has [0-9]+ s left, time_margin 50 s\)" \
    "it stops before the limit, saying so" || diag "$(cat lim.out)"
like "$(cat lim.out)" "winnow exit 3" "the step exited 3"
id=$(sbatch --parsable -n 4 -o "$TEST_TMP/lim2.out" lim.sh)
state=$(slurm_wait_job "$id" 150)
is "$state" "COMPLETED" "submitted again (no limit): the job completes" || diag "$(cat lim2.out)"
cmp -s ref.jsonl lim.jsonl; ok $? "byte-identical results to a run never stopped"

done_testing
