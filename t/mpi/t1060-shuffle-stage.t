#!/bin/bash
# wn-timeout: 400
# Shuffle stages in a pipeline: rows repartitioned by key over UCX (every
# row exactly once, one output per partition, the same results with any
# rank count), the LSH stage's band rounds checked against buckets
# computed from the signatures themselves, a hot bucket that spills, empty
# input, and kill -9 in the middle of the rounds -> resume -> byte-identical.
. "$(dirname "$0")/../lib/tap.sh"
summ() { python3 "$SRCDIR/t/lib/results.py" "$1"; }
lshcheck() { python3 "$SRCDIR/t/lib/lsh_check.py" "$@"; }
stat() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stages"][int(sys.argv[2])]; print(eval(sys.argv[3], {}, s))' "$@"; }
cd "$TEST_TMP"

# ---- shuffle: repartition by key
cat >s.yaml <<'YAML'
name: shuf
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 12, rows: 20}}
  - {name: part, type: shuffle, batch_size: 2, total_nparts: 5, params: {key: value}}
  - {name: total, type: teststages.so:sum, batch_size: 1}
YAML
want="count=240 sum=28920 sum_sq=4636840"
out=$(mpirun_np 4 "$WINNOW" run s.yaml --results s4.jsonl --stats s4.json --progress off 2>&1); st=$?
ok $st "a shuffle stage runs on 4 ranks" || diag "$out"
like "$(summ s4.jsonl)" "^$want " "every row arrives exactly once"
is "$(stat s4.json 1 tasks_out)" 5 "one output task per partition (total_nparts 5)"
is "$(stat s4.json 1 'shuffle["rounds"]')" 1 "stats: one round"
ok $([ "$(stat s4.json 1 'shuffle["bytes"]')" -gt 0 ]; echo $?) "stats: bytes went between actors over UCX"
for np in 2 3; do
    out=$(mpirun_np $np "$WINNOW" run s.yaml --results s$np.jsonl --progress off 2>&1); st=$?
    ok $st "the same on $np ranks" || diag "$out"
    cmp -s s4.jsonl s$np.jsonl; ok $? "$np ranks: byte-identical results (partition order does not depend on arrival)"
done
out=$("$WINNOW" run s.yaml --results s1.jsonl --progress off 2>&1); st=$?
ok $st "alone, without mpirun (rank 0 plans and is the one actor)" || diag "$out"
cmp -s s4.jsonl s1.jsonl; ok $? "1 rank: byte-identical results"
out=$(mpirun_np 4 "$WINNOW" run s.yaml --set stages.part.total_nparts=0 --stats s0.json \
      --results s0.jsonl --progress off 2>&1); st=$?
ok $st "without total_nparts" || diag "$out"
is "$(stat s0.json 1 tasks_out)" 12 "the partitions are the input tasks (12)"
like "$(summ s0.jsonl)" "^$want " "every row exactly once"
out=$(mpirun_np 4 "$WINNOW" run s.yaml --set stages.part.total_nparts=64 --stats s64.json \
      --results s64.jsonl --progress off 2>&1); st=$?
ok $st "more partitions than rows' keys fill (64): empty partitions" || diag "$out"
like "$(summ s64.jsonl)" "^$want " "every row exactly once"
ok $([ "$(stat s64.json 1 tasks_out)" -lt 64 ]; echo $?) "empty partitions make no output task"

# ---- LSH: band rounds against buckets computed from the signatures
cat >l.yaml <<'YAML'
name: lsh
stages:
  - {name: docs, type: teststages.so:lsh_testdata, params: {tasks: 6, rows: 60}}
  - {name: lsh, type: lsh, batch_size: 2}
YAML
out=$(mpirun_np 4 "$WINNOW" run l.yaml --results l5.jsonl --stats l5.json --progress off 2>&1); st=$?
ok $st "lsh, 5 bands per round" || diag "$out"
r=$(lshcheck l5.jsonl tasks=6 rows=60); st=$?
ok $st "buckets of 2+ documents in every band, each exactly once: $r"
is "$(stat l5.json 1 'shuffle["rounds"]')" 4 "20 bands, 5 per round: 4 rounds"
is "$(stat l5.json 1 tasks_out)" 16 "4 partitions per round (6 inputs, down to a power of two)"
for bpi in 20 3; do
    out=$(mpirun_np 3 "$WINNOW" run l.yaml --set stages.lsh.bands_per_iteration=$bpi \
          --results l$bpi.jsonl --progress off 2>&1); st=$?
    ok $st "lsh, $bpi bands per round, 3 ranks" || diag "$out"
    r=$(lshcheck l$bpi.jsonl tasks=6 rows=60); st=$?
    ok $st "$bpi bands per round: the same buckets: $r"
done

# buckets_to_edges after lsh: each bucket's sorted ids chained, every
# edge once (shuffled by its first id), compared with the chains of the
# buckets checked above.
cat >e.yaml <<'YAML'
name: edges
stages:
  - {name: docs, type: teststages.so:lsh_testdata, params: {tasks: 6, rows: 60}}
  - {name: lsh, type: lsh, batch_size: 2}
  - {name: edges, type: buckets_to_edges, batch_size: 2}
YAML
for np in 4 2; do
    out=$(mpirun_np $np "$WINNOW" run e.yaml --results e$np.jsonl --progress off 2>&1); st=$?
    ok $st "lsh then buckets_to_edges on $np ranks" || diag "$out"
done
python3 - l5.jsonl e4.jsonl <<'PY'
import json, sys
from collections import defaultdict
groups = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    groups[(r["_band"], r["_bucket_id"])].append(r["_curator_dedup_id"])
want = set()
for ids in groups.values():
    ids = sorted(ids)
    want |= set(zip(ids, ids[1:]))
got = [(r["_curator_dedup_id_x"], r["_curator_dedup_id_y"]) for r in map(json.loads, open(sys.argv[2]))]
print("# edges: %d, expected %d" % (len(got), len(want)), file=sys.stderr)
sys.exit(0 if len(got) == len(set(got)) and set(got) == want and all(x < y for x, y in got) else 1)
PY
ok $? "the edges are the buckets' chains, each once, x < y"
cmp -s e4.jsonl e2.jsonl; ok $? "the same edges, byte for byte, on 2 ranks"

# One bucket per band holds every document (all copies of one): the
# owner's memory limit is far below what arrives, so it spills.
out=$(mpirun_np 4 "$WINNOW" run l.yaml --set stages.docs.copy_every=1 --set stages.docs.rows=2000 \
      --set executor.shuffle_memory_limit=262144 --results hot.jsonl --stats hot.json \
      --progress off 2>&1); st=$?
ok $st "a hot bucket with a 256 KiB memory limit completes" || diag "$out"
ok $([ "$(stat hot.json 1 'shuffle["spilled_bytes"]')" -gt 1000000 ]; echo $?) \
    "it spilled ($(stat hot.json 1 'shuffle["spilled_bytes"]') bytes)"
held=$(stat hot.json 1 'shuffle["peak_held_bytes"]')
ok $([ "$held" -le $((262144 + 1048576)) ]; echo $?) "peak held in memory $held bytes: the limit plus one message at most"
python3 - hot.jsonl <<'PY'
import json, sys
from collections import defaultdict
groups = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    groups[(r["_band"], r["_bucket_id"])].append(r["_curator_dedup_id"])
ok = len(groups) == 20 and all(sorted(g) == list(range(12000)) for g in groups.values())
sys.exit(0 if ok else 1)
PY
ok $? "every band: one bucket of all 12000 documents, each once"

out=$(mpirun_np 4 "$WINNOW" run l.yaml --set stages.docs.rows=0 --results empty.jsonl \
      --stats empty.json --progress off 2>&1); st=$?
ok $st "zero rows in: the rounds still complete" || diag "$out"
is "$(stat empty.json 1 tasks_out)" 0 "and make no output"

# ---- configuration errors, before any work
out=$("$WINNOW" run s.yaml --set stages.total.total_nparts=3 2>&1); st=$?
is $st 2 "total_nparts on a stage that does not shuffle: exit 2"
like "$out" "total_nparts is for shuffle stages" "and says why"
out=$("$WINNOW" run l.yaml --set stages.lsh.bands_per_iteration=0 2>&1); st=$?
ok $([ $st -ne 0 ]; echo $?) "bands_per_iteration 0 is refused"
like "$out" "bands_per_iteration" "naming the parameter"

# ---- kill -9 during the rounds, resume (2, 3 or 4 ranks): identical
cat >k.yaml <<'YAML'
name: lshkill
stages:
  - {name: docs, type: teststages.so:lsh_testdata, params: {tasks: 24, rows: 400}}
  - {name: slow, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 10}}
  - {name: lsh, type: lsh, batch_size: 1, params: {bands_per_iteration: 1}}
YAML
t0=$(date +%s%N)
out=$(mpirun_np 4 "$WINNOW" run k.yaml --results kref.jsonl --progress off 2>&1); st=$?
run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $st "the kill pipeline, uninterrupted (${run_ms} ms)" || diag "$out"
r=$(lshcheck kref.jsonl tasks=24 rows=400); st=$?
ok $st "20 rounds of one band: $r"
RANDOM=20261124
nps=(2 3 4 3 2 4)
mid=0
for trial in 0 1 2 3 4 5; do
    ms=$(( run_ms / 2 + RANDOM % (run_ms / 2) ))
    dir=kill$trial
    kill_run_after "$ms" k.yaml "$dir"
    s=$("$WINNOW" status "$dir" 2>/dev/null | awk '$2 == "lsh"' | grep -o '[0-9]*/[0-9]*' | head -1)
    case "$s" in [1-9]*/*) [ "${s%/*}" != "${s#*/}" ] && mid=$((mid + 1)) ;; esac
    np=${nps[$trial]}
    out=$(mpirun_np "$np" "$WINNOW" run k.yaml --checkpoint "$dir" --results "k$trial.jsonl" \
          --progress off 2>&1); st=$?
    if [ $st -ne 0 ]; then diag "$out"; fi
    cmp -s kref.jsonl "k$trial.jsonl"
    ok $? "kill -9 after ${ms} ms (lsh ${s:-not begun}), resumed on $np ranks: byte-identical"
done
ok $([ $mid -ge 1 ]; echo $?) "$mid of the kills came in the middle of the lsh rounds"

done_testing
