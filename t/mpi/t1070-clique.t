#!/bin/bash
# wn-timeout: 200
# RAFT cliques on CPU ranks: a RAFT stage's actors form one communicator;
# every member runs exactly one batch, all at once, and the clique's
# allreduce (sum, min, max), allgather, bcast and barrier give the
# results the inputs imply -- with uneven task counts, on a clique of
# one, and with the collectives running while the event loop serves pulls.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

# check RESULTS N TASKS ROWS: the clique_check rows against items 1..N
check() {
    python3 - "$@" <<'PY'
import json, sys
path, members, tasks, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = tasks * rows
got = sorted((json.loads(l) for l in open(path)), key=lambda r: r["member"])
errs = []
if [r["member"] for r in got] != list(range(members)):
    errs.append("members %s" % [r["member"] for r in got])
counts = [r["count"] for r in got]
# tasks split evenly over the members (the first ones get one more)
per = [tasks // members + (1 if m < tasks % members else 0) for m in range(members)]
if counts != [p * rows for p in per]:
    errs.append("counts %s, want %s" % (counts, [p * rows for p in per]))
if sum(r["sum"] for r in got) != n * (n + 1) // 2:
    errs.append("sums do not add up to 1..%d" % n)
for r in got:
    want = dict(size=members, total_count=n, total_sum=n * (n + 1) // 2,
                min_count=min(counts), max_count=max(counts), root_sum=got[0]["sum"],
                counts=counts)
    for k, v in want.items():
        if r[k] != v:
            errs.append("member %d: %s=%s, want %s" % (r["member"], k, r[k], v))
print("; ".join(errs) if errs else "members=%d counts=%s total=%d" % (members, counts, n))
sys.exit(1 if errs else 0)
PY
}

cat >c.yaml <<'YAML'
name: clique
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 7, rows: 10}}
  - {name: raft, type: teststages.so:clique_check}
YAML

out=$(mpirun_np 4 "$WINNOW" run c.yaml --results c4.jsonl --stats c4.json --progress off 2>&1); st=$?
ok $st "a RAFT stage on 4 ranks (3 actors)" || diag "$out"
r=$(check c4.jsonl 3 7 10); st=$?
ok $st "allreduce sum/min/max, allgather, bcast: $r"
is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stages"][1]["batches"])' c4.json)" 3 \
    "one batch per member"

out=$(mpirun_np 3 "$WINNOW" run c.yaml --set stages.generate.tasks=5 --results c3.jsonl \
      --progress off 2>&1); st=$?
ok $st "5 tasks over 2 members (uneven)" || diag "$out"
r=$(check c3.jsonl 2 5 10); st=$?
ok $st "the same results: $r"

out=$(mpirun_np 4 "$WINNOW" run c.yaml --set stages.raft.num_workers=1 --results c1.jsonl \
      --progress off 2>&1); st=$?
ok $st "a clique of one (num_workers 1)" || diag "$out"
r=$(check c1.jsonl 1 7 10); st=$?
ok $st "a clique of one: $r"

out=$("$WINNOW" run c.yaml --results calone.jsonl --progress off 2>&1); st=$?
ok $st "alone, without mpirun: rank 0 plans and is the clique" || diag "$out"
r=$(check calone.jsonl 1 7 10); st=$?
ok $st "alone: $r"

# Big inputs made on one rank, node arenas off: members pull them over
# MPI from it while the others already wait in the clique's collectives
# (the event loop serves the pulls while a collective is under way).
out=$(WINNOW_ARENA_MB=0 mpirun_np 4 -x WINNOW_ARENA_MB "$WINNOW" run c.yaml --set stages.generate.tasks=9 \
      --set stages.generate.rows=200000 --results cbig.jsonl --stats cbig.json --progress off 2>&1); st=$?
ok $st "members pulling 9 inputs of 200000 rows while others wait in a collective" || diag "$out"
pulled=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stages"][1]["pulled_bytes"])' cbig.json)
ok $([ "$pulled" -gt 10000000 ]; echo $?) "inputs were pulled between ranks ($pulled bytes)"
r=$(check cbig.jsonl 3 9 200000); st=$?
ok $st "their results: $r"

out=$("$WINNOW" run c.yaml --set stages.raft.num_output_tasks=2 2>&1); st=$?
is $st 2 "num_output_tasks on a RAFT stage: exit 2"
like "$out" "num_output_tasks is set by the clique size" "and why"

# A RAFT batch that fails is not retried alone (its clique runs
# together): the run fails at once, naming the batch and why, no hang.
cat >bad.yaml <<'YAML'
name: badclique
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 6, rows: 3}}
  - {name: cc, type: connected_components}
YAML
t0=$SECONDS
out=$(mpirun_np 4 "$WINNOW" run bad.yaml --progress off 2>&1); st=$?
is $st 1 "a RAFT stage whose members fail: exit 1" || diag "$out"
ok $([ $((SECONDS - t0)) -lt 20 ]; echo $?) "without retries or a hang ($((SECONDS - t0)) s)"
like "$out" "stage 'cc' failed: batch [0-9]+ .*failed 1 times.*expected u64 edge columns" "the error says which batch and why"

# A GPU RAFT stage on ranks without GPUs is refused before work.
out=$(mpirun_np 2 "$WINNOW" run c.yaml --set stages.raft.resources.gpus=1 2>&1); st=$?
is "$st" 2 "a RAFT stage asking for GPUs where there are none is refused before any work (exit 2)"
like "$out" "GPU" "naming GPUs"

done_testing
