#!/bin/bash
# wn-timeout: 500
# The shipped batch scripts (sbatch/) in the private Slurm cluster, as a
# user submits them: each CPU script on the bundled sample corpus, its
# outputs equal to a run outside Slurm; the checkpoint under the working
# directory, named after the pipeline; and a job whose time runs out: it
# gets USR1 (--signal=B:USR1@300), checkpoints, exits 3, requeues itself,
# resumes (SLURM_RESTART_COUNT 1) and ends with the results of a run never
# stopped.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"

slurm_cluster_start || bail_out "could not start the test Slurm cluster"
cd "$TEST_TMP"
SB=$SRCDIR/sbatch
SAMPLE=$SRCDIR/examples/sample
IDS="--set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id"
# The scripts ask for 8-16 tasks per node; the test node has 4 CPUs.
SBATCH="sbatch --parsable -n 4 --ntasks-per-node=4 --mem-per-cpu=0"

# submit NAME SCRIPT ARGS...: runs the job to its end, prints its state.
submit() {
    local name=$1
    shift
    local id
    id=$($SBATCH -o "$TEST_TMP/$name.out" "$@") || return 1
    slurm_wait_job "$id" 180
}

"$WINNOW" run "$SRCDIR/examples/fuzzy-dedup.yaml" --set input="$SAMPLE" --set output=ref-fuzzy \
    $IDS --progress off >ref.log 2>&1
ok $? "fuzzy dedup of the sample outside Slurm (reference)" || diag "$(cat ref.log)"
state=$(submit fuzzy "$SB/fuzzy-dedup-cpu.sbatch" "$SAMPLE" out-fuzzy $IDS)
is "$state" COMPLETED "sbatch fuzzy-dedup-cpu.sbatch SAMPLE OUT: the job completes" || diag "$(cat fuzzy.out)"
diff -r ref-fuzzy out-fuzzy >/dev/null; ok $? "its outputs equal the reference's, byte for byte"
like "$(cat fuzzy.out)" "remove_duplicates: 191 documents in 2 files, [0-9]+ of them in [0-9]+ duplicate groups" "it says what it found"
[ -f winnow-checkpoints/fuzzy-dedup/manifest.h5 ]
ok $? "its checkpoint is ./winnow-checkpoints/fuzzy-dedup (named after the pipeline)"

"$WINNOW" run "$SRCDIR/examples/exact-dedup.yaml" --set input="$SAMPLE" --set output=ref-exact \
    --progress off >/dev/null 2>&1
state=$(submit exact "$SB/exact-dedup.sbatch" "$SAMPLE" out-exact)
is "$state" COMPLETED "sbatch exact-dedup.sbatch SAMPLE OUT: the job completes" || diag "$(cat exact.out)"
diff -r ref-exact out-exact >/dev/null; ok $? "its outputs equal the reference's"

"$WINNOW" run "$SRCDIR/examples/filter.yaml" --set input="$SAMPLE" --set output=ref-filter \
    --progress off >/dev/null 2>&1
state=$(submit filter "$SB/pipeline.sbatch" "$SRCDIR/examples/filter.yaml" --set input="$SAMPLE" \
        --set output=out-filter)
is "$state" COMPLETED "sbatch pipeline.sbatch examples/filter.yaml --set ...: the job completes" || diag "$(cat filter.out)"
diff -r ref-filter out-filter >/dev/null; ok $? "its outputs equal the reference's"

state=$(submit bad "$SB/pipeline.sbatch" no-such.yaml)
is "$state" FAILED "a pipeline file that is not there: the job fails"
like "$(cat bad.out)" "cannot read the pipeline file 'no-such.yaml'" "... saying so"
state=$(submit usage "$SB/fuzzy-dedup-cpu.sbatch")
like "$(cat usage.out)" "usage: sbatch .* INPUT_DIR OUTPUT_DIR" "fuzzy-dedup-cpu.sbatch without arguments prints its usage"

# Preemption.  300 batches of 0.4 s on 3 actors (about 40 s); once the job
# runs, its limit is cut to 1 minute: USR1 is due at once (--signal
# B:USR1@300) and winnow's own time_margin check (55 s) would stop it too.
cat >slow.yaml <<'YAML'
name: slowjob
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 300, rows: 4}}
  - {name: work, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 100}}
  - {name: total, type: teststages.so:sum, batch_size: 10}
YAML
"$WINNOW" run slow.yaml --results ref-slow.jsonl --progress off --set stages.work.ms_per_item=0 \
    >/dev/null 2>&1
id=$($SBATCH --time=10 -o "$TEST_TMP/slow.out" "$SB/pipeline.sbatch" slow.yaml \
     --results "$TEST_TMP/slow.jsonl" --set executor.time_margin=55)
ok $? "a long job submitted ($id)"
for _ in $(seq 120); do
    [ "$(slurm_job_field "$id" JobState)" = RUNNING ] && grep -q "'work':" slow.out 2>/dev/null && break
    sleep 1
done
scontrol update JobId="$id" TimeLimit=1
ok $? "running: its time limit cut to 1 minute"
for _ in $(seq 150); do
    [ "$(slurm_job_field "$id" Restarts)" -ge 1 ] 2>/dev/null && break
    sleep 1
done
is "$(slurm_job_field "$id" Restarts)" 1 "the job requeued itself (Restarts 1)"
# A requeued job waits (BeginTime) until the old run's job credential has
# expired: cred_expire, 10 s in the test cluster (Slurm's default 120 s).
# Starting it earlier makes the launch fail ("credential revoked").
scontrol update JobId="$id" TimeLimit=10
state=$(slurm_wait_job "$id" 200)
is "$state" COMPLETED "the requeued job completes" || { diag "$(cat slow.out)"; slurm__log_tails; }
out=$(cat slow.out)
like "$out" "winnow-job: USR1 \(time limit near\)|stopping \(the Slurm job has" "the first run was told its time is short"
like "$out" "exit 3\); job $id requeued" "it exited 3 and requeued the job"
like "$out" "job $id \(restart 1\)" "the second run has SLURM_RESTART_COUNT 1"
like "$out" "resuming from checkpoint .*/winnow-checkpoints/slowjob" "it resumed from ./winnow-checkpoints/slowjob"
cmp -s ref-slow.jsonl slow.jsonl; ok $? "results byte-identical to a run never stopped"

# A new submission (new job id) finds the same checkpoint.
id2=$($SBATCH -o "$TEST_TMP/again.out" "$SB/pipeline.sbatch" slow.yaml \
      --results "$TEST_TMP/again.jsonl")
state=$(slurm_wait_job "$id2" 120)
is "$state" COMPLETED "submitted again as job $id2: completes"
like "$(cat again.out)" "resuming from checkpoint .*/winnow-checkpoints/slowjob" "from the same checkpoint"
cmp -s ref-slow.jsonl again.jsonl; ok $? "with the same results"

done_testing
