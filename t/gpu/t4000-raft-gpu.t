#!/bin/bash
# wn-timeout: 300
# The GPU tier end to end: a RAFT stage of a plugin (the test stages'
# clique_check) asking for a GPU gets an NCCL clique on the bound device
# and runs every clique collective on device buffers it allocates through
# winnow/gpu.h; its results equal the CPU clique's.  (The device-side
# reduction kernel has its own test, t/gpu/test_gpu.c.)  Skipped (with
# the reason) where no GPU is usable.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
skip_without_gpu

cat >g.yaml <<'YAML'
name: raftgpu
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 6, rows: 100000}}
  - {name: raft, type: teststages.so:clique_check, resources: {gpus: 1}}
YAML
out=$("$WINNOW" run g.yaml --results gpu.jsonl --stats gpu.json --progress off 2>&1); st=$?
ok $st "a RAFT stage with gpus: 1 runs (NCCL clique on the bound GPU)" || diag "$out"
out=$("$WINNOW" run g.yaml --set stages.raft.resources.gpus=0 --results cpu.jsonl --progress off 2>&1); st=$?
ok $st "the same stage on the CPU clique" || diag "$out"
python3 - gpu.jsonl cpu.jsonl <<'PY'
import json, sys
strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "task"} for l in open(p)]
g, c = strip(sys.argv[1]), strip(sys.argv[2])
n = 600000
ok = g == c and g and all(r["total_sum"] == n * (n + 1) // 2 for r in g)
print("# gpu rows:", g, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
ok $? "device-side sums and NCCL collectives equal the CPU clique's (sum of 1..600000)"

# Several ranks on a node with as many GPUs: one clique member per GPU.
ngpu=$(printf '%s\n' "$info" | grep -o 'gpus [0-9]*' | head -1 | cut -d' ' -f2)
if [ "${ngpu:-1}" -ge 2 ]; then
    out=$(mpirun_np $((ngpu + 1)) "$WINNOW" run g.yaml --results multi.jsonl --progress off 2>&1); st=$?
    ok $st "$ngpu GPU members in one NCCL clique" || diag "$out"
    is "$(wc -l <multi.jsonl)" "$ngpu" "one row per member"
else
    skip 2 "one GPU: an NCCL clique of several members needs several GPUs"
fi
done_testing
