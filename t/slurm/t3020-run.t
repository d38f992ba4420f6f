#!/bin/bash
# wn-timeout: 300
# A pipeline under srun in the private Slurm cluster, interactively and as
# a batch job: the same items arrive as with mpirun.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"
summ() { python3 "$SRCDIR/t/lib/results.py" "$1"; }

slurm_cluster_start || bail_out "could not start the test Slurm cluster"
cd "$TEST_TMP"
cat >count.yaml <<'YAML'
name: count
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 30, rows: 3}}
  - {name: work, type: teststages.so:sleep, batch_size: 2, params: {ms_per_item: 1}}
  - {name: total, type: teststages.so:sum, batch_size: 4}
YAML
# 90 items: sum 4095, sum of squares 90*91*181/6 = 247065
want="count=90 sum=4095 sum_sq=247065"

out=$(srun -n 4 --mpi=pmix "$WINNOW" run count.yaml --results srun.jsonl --stats s.json \
      --progress lines 2>&1); st=$?
ok $st "srun -n 4 --mpi=pmix winnow run exits 0" || diag "$out"
like "$(summ srun.jsonl)" "^$want " "every item exactly once under srun"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(s["ranks"] != 4)' s.json
ok $? "stats: 4 ranks"
like "$out" "stage 2/3 'work' done: 30 tasks" "progress lines in the step's output"

"$WINNOW" run count.yaml --results alone.jsonl --progress off >/dev/null 2>&1
cmp -s alone.jsonl srun.jsonl; ok $? "the same results as a run alone, byte for byte"

# As a batch job: what a user's sbatch script does.
cat >job.sh <<JOB
#!/bin/bash
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
srun --mpi=pmix "$WINNOW" run "$TEST_TMP/count.yaml" --results "$TEST_TMP/batch.jsonl"
JOB
id=$(sbatch --parsable -n 3 -o "$TEST_TMP/job.out" job.sh); st=$?
ok $st "sbatch accepted the job ($id)"
state=$(slurm_wait_job "$id" 120)
is "$state" "COMPLETED" "the batch job completed" || diag "$(cat job.out)"
like "$(cat job.out)" "work +2 +30 +30" "the job's output file has the summary (2 actors)"
cmp -s alone.jsonl batch.jsonl; ok $? "the batch job's results equal the run alone"

# A bad pipeline fails the step with exit 2 before any work.
printf 'name: bad\nstages:\n  - {type: teststages.so:fanout, tasks: 3}\n' >bad.yaml
out=$(srun -n 2 --mpi=pmix "$WINNOW" run bad.yaml 2>&1); st=$?
ok $((st == 0)) "a bad pipeline fails under srun (exit $st)"
like "$out" "bad.yaml:3:.*unknown key 'tasks'" "error names file, line and key"

done_testing
