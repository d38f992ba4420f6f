#!/bin/bash
# wn-timeout: 300
# Streaming with a GPU stage inside a segment: read_jsonl (CPU), minhash
# with {gpus: 1} and a CPU stage after it run at once; the GPU stage's
# batches overlap the CPU stages' in the trace, and the final rows are
# those of bulk mode, byte for byte.  Skipped (with the reason) where no
# GPU is usable.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
skip_without_gpu cuda

mkdir -p in
python3 - <<'PY'
import glob, json
files = sorted(glob.glob('/usr/share/doc/*/copyright'))
for k in range(8):
    with open('in/part-%d.jsonl' % k, 'w') as out:
        for p in files[k::8]:
            out.write(json.dumps({"text": open(p, 'rb').read().decode('utf-8', 'replace'), "path": p}) + "\n")
PY
cat >g.yaml <<'YAML'
name: streaming-gpu
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", id_field: path, blocksize: 65536}}
  - {name: minhash, type: minhash, batch_size: 1, resources: {gpus: 1}}
  - {name: cpu, type: teststages.so:wait, batch_size: 1, resources: {cpus: 0.5}, params: {ms_per_item: 0, ms_per_task: 20}}
YAML
out=$("$WINNOW" run g.yaml --set input=in --mode bulk --results bulk.jsonl --progress off 2>&1)
ok $? "bulk: read, minhash on the GPU, a CPU stage" || diag "$out"
out=$("$WINNOW" run g.yaml --set input=in --mode streaming --results stream.jsonl \
      --trace tr.json --progress off 2>&1)
ok $? "streaming: the three at once" || diag "$out"
cmp -s bulk.jsonl stream.jsonl; ok $? "the same final rows, byte for byte"
r=$(python3 - <<'PY'
import json
ev = [e for e in json.load(open('tr.json'))["traceEvents"] if e.get("ph") == "X"]
g = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e["name"] == "minhash"]
c = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e["name"] == "cpu"]
print(any(x[0] < y[1] and y[0] < x[1] for x in g for y in c))
PY
)
is "$r" True "GPU batches and CPU batches ran at the same time"
done_testing
