#!/bin/bash
# wn-timeout: 600
# Crash requeue in the shipped batch scripts (sbatch/winnow-job.sh), in
# the private Slurm cluster: one rank of a running job killed with -9 ends
# the step (srun --kill-on-bad-exit); the job requeues itself, resumes
# from its checkpoint (Restarts 1) and ends with the results of a run
# never interrupted.  A bad option (winnow exits 2) is never requeued,
# even with a checkpoint there; a rank that crashes in every attempt is
# requeued WINNOW_MAX_RESTARTS times (default 2), then the job fails.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"

slurm_cluster_start || bail_out "could not start the test Slurm cluster"
cd "$TEST_TMP"
SB=$SRCDIR/sbatch
SBATCH="sbatch --parsable -n 4 --ntasks-per-node=4 --mem-per-cpu=0 --time=10"

# 120 batches of 0.4 s on 3 actors: about 16 s.
cat >slow.yaml <<'YAML'
name: slowcrash
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 120, rows: 4}}
  - {name: work, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 100}}
  - {name: total, type: teststages.so:sum, batch_size: 10}
YAML
out=$("$WINNOW" run slow.yaml --results ref.jsonl --progress off \
      --set stages.work.params.ms_per_item=0 2>&1)
ok $? "a run never interrupted, outside Slurm (reference)" || diag "$out"
CK=$TEST_TMP/winnow-checkpoints/slowcrash

id=$($SBATCH -o "$TEST_TMP/crash.out" "$SB/pipeline.sbatch" slow.yaml \
     --results "$TEST_TMP/crash.jsonl")
ok $? "a job submitted ($id)"
p=
for _ in $(seq 1200); do
    [ "$(grep -ao '"stage":1,"sum"' "$CK/journal" 2>/dev/null | wc -l)" -ge 10 ] &&
        p=$(rank_pid "$CK" 2) && break
    sleep 0.1
done
[ -n "$p" ] && kill -9 "$p"
ok $? "10 batches in: rank 2 of the job killed with -9 (pid ${p:-not found})"
for _ in $(seq 120); do
    [ "$(slurm_job_field "$id" Restarts)" -ge 1 ] 2>/dev/null && break
    sleep 1
done
is "$(slurm_job_field "$id" Restarts)" 1 "the job requeued itself (Restarts 1)" ||
    diag "$(cat crash.out)"
# The requeued job waits for the old run's credential to expire
# (cred_expire, 10 s here): see t3050-sbatch.t.
state=$(slurm_wait_job "$id" 240)
is "$state" COMPLETED "the requeued job completes" || { diag "$(cat crash.out)"; slurm__log_tails; }
out=$(cat crash.out)
like "$out" "winnow-job: winnow exited [0-9]+.*; job $id requeued \(restart 1 of at most 2\)" \
    "the first run's failure requeued the job, saying why"
like "$out" "job $id \(restart 1\)" "the second run has SLURM_RESTART_COUNT 1"
like "$out" "resuming from checkpoint .*/winnow-checkpoints/slowcrash" "it resumed from the checkpoint"
is "$(slurm_job_field "$id" Restarts)" 1 "requeued once only"
cmp -s ref.jsonl crash.jsonl; ok $? "results byte-identical to the run never interrupted"

# Exit 2 with a checkpoint there: not requeued.
id=$($SBATCH -o "$TEST_TMP/bad.out" "$SB/pipeline.sbatch" slow.yaml \
     --set executor.drain_timeout=-1)
state=$(slurm_wait_job "$id" 120)
is "$state" FAILED "a bad option (exit 2), its checkpoint there: the job fails" ||
    diag "$(cat bad.out)"
like "$(cat bad.out)" "winnow exited 2 .*not requeued" "... and says it is not requeued"
is "$(slurm_job_field "$id" Restarts)" 0 "... nor was it (Restarts 0)"

# A rank that crashes in every attempt: bounded.
cat >crash.yaml <<'YAML'
name: alwayscrash
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 6, rows: 2}}
  - {name: boom, type: teststages.so:fail, batch_size: 1, params: {failures: 1000, mode: crash}}
YAML
id=$($SBATCH -o "$TEST_TMP/always.out" "$SB/pipeline.sbatch" crash.yaml)
state=$(slurm_wait_job "$id" 300)
is "$state" FAILED "a rank crashing in every attempt: the job ends failed" ||
    { diag "$(cat always.out)"; slurm__log_tails; }
is "$(slurm_job_field "$id" Restarts)" 2 "... after 2 restarts (WINNOW_MAX_RESTARTS default)"
out=$(cat always.out)
like "$out" "crashed \(Segmentation fault\) in stage 'boom'" "each attempt crashed in stage 'boom'"
like "$out" "restart 2 of at most 2" "it was requeued a second time"
like "$out" "the job was restarted 2 times, WINNOW_MAX_RESTARTS=2: not requeued" \
    "then not again, saying why"

done_testing
