#!/bin/bash
# wn-timeout: 400
# The executor on real MPI ranks: every item processed exactly once,
# fanout, results independent of rank count, stats and trace files.
. "$(dirname "$0")/../lib/tap.sh"

summ() { python3 "$SRCDIR/t/lib/results.py" "$1"; }

cat >"$TEST_TMP/count.yaml" <<'YAML'
name: count
stages:
  - name: generate
    type: teststages.so:fanout
    params: {tasks: 50, rows: 4}
  - name: split
    type: teststages.so:fanout
    batch_size: 3
    params: {tasks: 2}
  - name: pass
    type: teststages.so:noop
    batch_size: 2
  - name: total
    type: teststages.so:sum
    batch_size: 5
YAML
# 200 items: sum 1..200 = 20100, sum of squares = 200*201*401/6 = 2686700
want="count=200 sum=20100 sum_sq=2686700"

cd "$TEST_TMP"
out=$(mpirun_np 4 "$WINNOW" run count.yaml --results r4.jsonl --stats s4.json \
      --trace tr4.json --progress lines 2>&1); st=$?
ok $st "4 ranks: run exits 0" || diag "$out"
got=$(summ r4.jsonl)
like "$got" "^$want " "4 ranks: every item exactly once ($got)"

out1=$("$WINNOW" run count.yaml --results r1.jsonl --progress off 2>&1); st=$?
ok $st "alone: run exits 0" || diag "$out1"
is "$(summ r1.jsonl)" "$got" "alone: the same totals as 4 ranks"
cmp -s r1.jsonl r4.jsonl; ok $? "results file byte-identical for 1 and 4 ranks"

out2=$(mpirun_np 2 "$WINNOW" run count.yaml --results r2.jsonl --progress off 2>&1); st=$?
ok $st "2 ranks: run exits 0" || diag "$out2"
cmp -s r2.jsonl r4.jsonl; ok $? "results file byte-identical for 2 and 4 ranks"

# Batch size changes batching, not the set of items.
out=$(mpirun_np 4 "$WINNOW" run count.yaml --set stages.pass.batch_size=7 \
      --set stages.total.batch_size=1 --results r4b.jsonl --progress off 2>&1); st=$?
ok $st "4 ranks, other batch sizes: exits 0" || diag "$out"
like "$(summ r4b.jsonl)" "^$want " "other batch sizes: the same items"

# Payloads above the 16 KiB that travel inside one message go as a header
# and a body: 48 KB tasks through a pass-through stage on 4 ranks.
cat >big.yaml <<'YAML'
name: big
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 6, rows: 6000}}
  - {name: pass, type: teststages.so:noop, batch_size: 1}
  - {name: total, type: teststages.so:sum, batch_size: 3}
YAML
out=$(mpirun_np 4 "$WINNOW" run big.yaml --results big.jsonl --stats big.json --progress off 2>&1); st=$?
ok $st "48 KB tasks: run exits 0" || diag "$out"
n=36000
like "$(summ big.jsonl)" "^count=$n sum=$((n * (n + 1) / 2)) sum_sq=$((n * (n + 1) * (2 * n + 1) / 6)) " \
    "48 KB tasks: every item exactly once"
python3 -c 'import json,sys; s={x["name"]:x for x in json.load(open(sys.argv[1]))["stages"]}; sys.exit(not sum(s[n]["pulled_bytes"] + s[n]["arena_bytes"] for n in ("pass", "total")) > 16384)' big.json
ok $? "48 KB tasks: payloads moved across ranks (pulled or read in node memory)"

# Node arenas (src/exec/arena.h): off, the same results come through pulls;
# too small for the outputs, the rest goes to the heap and is pulled.
out=$(WINNOW_ARENA_MB=0 mpirun_np 4 "$WINNOW" run count.yaml --results noarena.jsonl \
      --stats noarena.json --progress off 2>&1); st=$?
ok $st "arenas off: run exits 0" || diag "$out"
cmp -s noarena.jsonl r4.jsonl; ok $? "arenas off: results byte-identical"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); t=s["transfer"]; sys.exit(not (t["arena_bytes"] == 0 and t["bytes"] > 0))' noarena.json
ok $? "arenas off: every cross-rank input was pulled"
# Arenas need /dev/shm (a tmpfs): 4 ranks' 1 MiB halves fit in a quarter
# of 32 MiB free.
shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ "${shm_free:-0}" -ge 32768 ]; then
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); t=s["transfer"]; sys.exit(not t["arena_bytes"] > 0)' s4.json
    ok $? "arenas on: inputs were read in place in node memory"
    sed 's/tasks: 6, rows: 6000/tasks: 40, rows: 6000/' big.yaml >big40.yaml
    out=$(WINNOW_ARENA_MB=1 mpirun_np 4 "$WINNOW" run big40.yaml --results big40.jsonl \
          --stats big40.json --progress off 2>&1); st=$?
    ok $st "1 MiB arena halves, 1.9 MB of outputs: run exits 0" || diag "$out"
    n=240000
    like "$(summ big40.jsonl)" "^count=$n sum=$((n * (n + 1) / 2)) " "full arenas: every item exactly once"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); t=s["transfer"]; sys.exit(not (t["arena_bytes"] > 0 and t["bytes"] > 0))' big40.json
    ok $? "full arenas: some inputs read in place, the rest pulled"
else
    skip 4 "/dev/shm has ${shm_free:-no} KiB free, too little for node arenas"
fi

# Arenas larger than /dev/shm can hold shrink to fit, with a warning.
out=$(WINNOW_ARENA_MB=16384 mpirun_np 4 "$WINNOW" run count.yaml --results huge.jsonl \
      --progress off 2>&1); st=$?
ok $st "arenas too large for /dev/shm: run exits 0" || diag "$out"
like "$out" "WINNOW_ARENA_MB=16384 does not fit in /dev/shm" "the shrinking is reported"
cmp -s huge.jsonl r4.jsonl; ok $? "the same results"

# Stats: the plan as run, and no payload went to rank 0 without --results.
python3 - s4.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
st = {x["name"]: x for x in s["stages"]}
assert s["ranks"] == 4, s["ranks"]
assert st["generate"]["tasks_out"] == 50, st["generate"]
assert st["split"]["tasks_in"] == 50 and st["split"]["tasks_out"] == 100, st["split"]
assert st["split"]["batches"] == 17, st["split"]
assert st["pass"]["items_in"] == 200 and st["pass"]["items_out"] == 200, st["pass"]
assert st["total"]["tasks_out"] == 20, st["total"]
assert all(x["nactors"] == 3 for x in s["stages"][1:]), [x["nactors"] for x in s["stages"]]
PY
ok $? "stats JSON: tasks, batches, items and actors per stage"
python3 - s4.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["peak_rss_mib"]
# every rank ran batches (rank 0 at least as the planner); a winnow
# process is more than 1 MiB and, running this pipeline, far less than 4 GiB
assert len(r) == 4 and all(1 < v < 4096 for v in r), r
PY
ok $? "stats JSON: peak_rss_mib of each of the 4 ranks"
out=$(mpirun_np 4 "$WINNOW" run count.yaml 2>&1)
like "$out" "peak RSS: [0-9]+ MiB on rank [0-3] \\(the largest\\), [0-9]+ MiB over 4 ranks" \
    "the summary gives the peak RSS"

out=$(mpirun_np 4 "$WINNOW" run count.yaml --stats s4n.json --progress off 2>&1)
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(s["planner_payload_bytes"] != 0)' s4n.json
ok $? "no payload bytes reach rank 0 without --results"

python3 - tr4.json <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
ev = [e for e in t["traceEvents"] if e.get("ph") == "X"]
# 1 + 17 + 50 + 20 batches
assert len(ev) == 88, len(ev)
lanes = {e["tid"] for e in ev}
assert lanes <= {1, 2, 3} and len(lanes) >= 2, lanes
assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in ev)
PY
ok $? "trace JSON: one event per batch, lanes are actor ranks"

# Progress lines for a Slurm output file (not a TTY), and the summary.
like "$(mpirun_np 4 "$WINNOW" run count.yaml --progress lines 2>&1)" \
    "stage 4/4 'total' done: 100 tasks" "progress lines name stage and tasks"
like "$(mpirun_np 4 "$WINNOW" run count.yaml --progress off 2>/dev/null)" \
    "total +3 +100 +20" "the summary table lists each stage"

# examples/hello.yaml, a new user's first run, uses product stages only:
# from the top of the source tree it reads the sample and writes the
# documents of 50 words or more (189 of its 191) in the input's layout.
out=$(cd "$SRCDIR" && mpirun_np 4 "$WINNOW" run examples/hello.yaml --progress off \
      --set output="$TEST_TMP/hello" 2>&1); st=$?
ok $st "examples/hello.yaml runs from the source tree" || diag "$out"
n=$( (zcat hello/licenses-1.jsonl.gz; zstdcat hello/licenses-2.jsonl.zst) 2>/dev/null | wc -l)
is "$n" 189 "it wrote the 189 documents of 50 words or more"

done_testing
