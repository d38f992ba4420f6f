#!/bin/bash
# wn-timeout: 300
# Failures on real ranks: retry on another actor then success, retries
# exhausted (failed-tasks file, non-zero exit naming stage, task, error),
# ignore_failures, a crashed rank, and bad configuration before any work.
. "$(dirname "$0")/../lib/tap.sh"
summ() { python3 "$SRCDIR/t/lib/results.py" "$1"; }
cd "$TEST_TMP"

pipeline() { # failures every max_retries ignore
cat <<YAML
name: flaky
executor:
  max_retries: $3
  ignore_failures: $4
stages:
  - name: generate
    type: teststages.so:fanout
    params: {tasks: 20, rows: 1}
  - name: flaky
    type: teststages.so:fail
    params: {failures: $1, every: $2}
  - name: total
    type: teststages.so:sum
    batch_size: 20
YAML
}

# Every 5th item's batch fails once, then succeeds on another actor.
pipeline 1 5 2 false >retry.yaml
out=$(mpirun_np 4 "$WINNOW" run retry.yaml --results r.jsonl --stats s.json --progress off 2>&1); st=$?
ok $st "a batch failing once is retried and the run succeeds" || diag "$out"
like "$(summ r.jsonl)" "^count=20 sum=210 " "every item arrived exactly once after retries"
like "$out" "failed on rank [0-9]+ \(attempt 1 of 3\).*retrying" "the retry is logged"
python3 -c 'import json,sys; s={x["name"]:x for x in json.load(open(sys.argv[1]))["stages"]}; sys.exit(s["flaky"]["retries"] != 4)' s.json
ok $? "stats count 4 retries (items 5, 10, 15, 20)"
# The retry goes to another actor: every failing batch ran on two ranks.
[ ! -e flaky.failed-tasks.jsonl ]; ok $? "no failed-tasks file when all succeeded"

# Failing more often than max_retries allows: the run fails.
pipeline 5 5 1 false >exhaust.yaml
out=$(mpirun_np 4 "$WINNOW" run exhaust.yaml --progress off 2>&1); st=$?
is $st 1 "retries exhausted: exit 1"
like "$out" "stage 'flaky' failed: batch [0-9]+ \(first task [0-9a-f]{16}\) failed 2 times" \
    "the message names stage, batch and task"
like "$out" "injected failure" "the message carries the stage's error"
[ -s flaky.failed-tasks.jsonl ]; ok $? "failed-tasks file written"
python3 - flaky.failed-tasks.jsonl <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
# The batch that exhausted its retries ran twice; batches that failed while
# the run was already stopping are recorded as they are (not retried).
assert recs and all(r["stage"] == "flaky" for r in recs), recs
assert any(r["attempts"] == 2 for r in recs), recs
assert all(1 <= r["attempts"] <= 2 for r in recs), recs
assert all(len(t) == 16 for r in recs for t in r["tasks"]), recs
assert all("injected failure" in r["error"] for r in recs), recs
PY
ok $? "failed-tasks records: stage, attempts, task ids, error"
rm -f flaky.failed-tasks.jsonl

# ignore_failures: the 4 failing items are dropped, the rest goes on.
pipeline 5 5 1 true >ignore.yaml
out=$(mpirun_np 4 "$WINNOW" run ignore.yaml --results ri.jsonl --progress off 2>&1); st=$?
ok $st "ignore_failures: exit 0" || diag "$out"
like "$(summ ri.jsonl)" "^count=16 sum=160 " "the 4 failed items are missing, 16 arrived"
is "$(wc -l <flaky.failed-tasks.jsonl)" 4 "4 batches recorded as failed"

# A crashing rank aborts the job with a message naming rank and stage.
cat >crash.yaml <<'YAML'
name: crash
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 6}}
  - {name: boom, type: teststages.so:fail, params: {mode: crash, every: 3}}
YAML
out=$(mpirun_np 4 "$WINNOW" run crash.yaml --progress off 2>&1); st=$?
ok $((st == 0)) "a crashed rank fails the job (exit $st)"
like "$out" "rank [1-3] crashed \(Segmentation fault\) in stage 'boom'" "the message names rank and stage"

# Bad configuration fails before any work, with file:line.
cat >bad.yaml <<'YAML'
name: bad
stages:
  - name: generate
    type: teststages.so:fanout
    batchsize: 4
YAML
out=$(mpirun_np 4 "$WINNOW" run bad.yaml 2>&1); st=$?
is $st 2 "unknown key: exit 2"
like "$out" "bad.yaml:5:5: .*unknown key 'batchsize'" "error names file, line and key"
is "$(printf '%s\n' "$out" | grep -c 'unknown key')" 1 "reported once, by rank 0"

cat >badparam.yaml <<'YAML'
name: bad
stages:
  - name: generate
    type: teststages.so:fanout
    params: {taskz: 4}
YAML
out=$("$WINNOW" run badparam.yaml 2>&1); st=$?
is $st 2 "unknown stage parameter: exit 2"
like "$out" "stage 'generate'.*taskz" "error names the stage and the parameter"

out=$("$WINNOW" run retry.yaml --set stages.nosuch.x=1 2>&1); st=$?
is $st 2 "--set of an unknown stage: exit 2"
like "$out" "nosuch" "error names the stage"

out=$("$WINNOW" run retry.yaml --set stages.generate.type=nosuchtype 2>&1); st=$?
is $st 2 "unknown stage type: exit 2"
like "$out" "unknown stage type 'nosuchtype'" "error names the type"

done_testing
