#!/bin/bash
# wn-timeout: 600
# executor.mode streaming: the stages between barriers run at once.  The
# shipped pipelines give the same bytes as bulk mode on 1, 2 and 4 ranks;
# a streaming run killed at any moment resumes, in either mode and on
# another rank count, to the same bytes, loading the batches it journaled;
# the queue between a fast producer and a slow consumer stays within
# queue_depth, and memory does not grow with the input; progress, stats
# and trace show the stages running at the same time.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples
command -v zstd >/dev/null || skip_all "zstd not installed (scripts/install-deps.sh installs it)"
n=$(python3 - <<'PY'
import glob, gzip, json, os, subprocess
files = sorted(glob.glob('/usr/share/doc/*/copyright'))
docs = [{"id": p.split('/')[4], "text": open(p, encoding='utf-8', errors='replace').read()}
        for p in files]
os.makedirs('in/sub')
parts = [[], [], []]
for i, d in enumerate(docs):
    parts[i % 3].append(json.dumps(d) + "\n")
parts[0].insert(2, "{not json\n")
open('in/a.jsonl', 'w').write("".join(parts[0]))
with gzip.open('in/b.jsonl.gz', 'wt') as f:
    f.write("".join(parts[1]))
subprocess.run(["zstd", "-q", "-o", "in/sub/c.jsonl.zst"], input="".join(parts[2]).encode(), check=True)
print(len(docs))
PY
)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
IDS="--set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id"

# same PIPELINE OUTFILES EXTRA: bulk on 4 ranks, then streaming on 1, 2
# and 4 ranks; OUTFILES (below each output) the same bytes each time.
same() {
    _p=$1 _files=$2
    shift 2
    out=$(mpirun_np 4 "$WINNOW" run "$EX/$_p" --set input=in --set output=ref --mode bulk \
          --progress off "$@" 2>&1)
    ok $? "$_p: bulk, 4 ranks" || diag "$out"
    for np in 1 2 4; do
        rm -rf s$np
        if [ $np = 1 ]; then
            out=$("$WINNOW" run "$EX/$_p" --set input=in --set output=s$np --mode streaming \
                  --progress off "$@" 2>&1)
        else
            out=$(mpirun_np $np "$WINNOW" run "$EX/$_p" --set input=in --set output=s$np \
                  --mode streaming --progress off "$@" 2>&1)
        fi
        st=$?
        _d=0
        for f in $_files; do cmp -s "ref/$f" "s$np/$f" || diff -r "ref/$f" "s$np/$f" >/dev/null || _d=1; done
        [ $st = 0 ] && [ $_d = 0 ]
        ok $? "$_p: streaming on $np rank(s), the same bytes as bulk" || diag "$out"
    done
    rm -rf ref
}
same filter.yaml "filtered rejects.jsonl"
same exact-dedup.yaml "dedup duplicate_groups.jsonl" $IDS
same fuzzy-dedup.yaml "dedup duplicate_groups.jsonl" $IDS
# hello.yaml reads the bundled sample corpus.
out=$(mpirun_np 4 "$WINNOW" run "$EX/hello.yaml" --set input="$EX/sample" --set output=hb \
      --mode bulk --progress off 2>&1)
ok $? "hello.yaml: bulk, 4 ranks" || diag "$out"
for np in 2 4; do
    out=$(mpirun_np $np "$WINNOW" run "$EX/hello.yaml" --set input="$EX/sample" --set output=hs$np \
          --mode streaming --progress off 2>&1)
    [ $? = 0 ] && diff -r hb hs$np >/dev/null
    ok $? "hello.yaml: streaming on $np ranks, the same bytes" || diag "$out"
done

# Batches of several tasks, cut as their inputs come (fanout 2 with
# batch_size 3, then 2, then 5): the same final tasks in the same order.
cat >count.yaml <<'YAML'
name: count
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 50, rows: 4}}
  - {name: split, type: teststages.so:fanout, batch_size: 3, params: {tasks: 2}}
  - {name: pass, type: teststages.so:noop, batch_size: 2}
  - {name: total, type: teststages.so:sum, batch_size: 5}
YAML
"$WINNOW" run count.yaml --results cb.jsonl --progress off >/dev/null 2>&1
ok $? "batch sizes 3, 2, 5: bulk alone"
for np in 2 4; do
    out=$(mpirun_np $np "$WINNOW" run count.yaml --mode streaming --results cs$np.jsonl \
          --progress lines --stats cs$np.json 2>&1)
    [ $? = 0 ] && cmp -s cb.jsonl cs$np.jsonl
    ok $? "... streaming on $np ranks: --results byte-identical" || diag "$out"
done
like "$out" "info: streaming: stages 1 to 4 \('generate' to 'total'\) run at once" \
    "it says which stages run at once"

# --mode and executor.mode: checked before any work.
out=$("$WINNOW" run count.yaml --mode fast 2>&1); st=$?
is $st 2 "--mode fast is refused (exit 2)"
like "$out" "--mode takes bulk or streaming, not 'fast'" "... saying what it takes"
out=$("$WINNOW" run count.yaml --set executor.mode=stream 2>&1); st=$?
is $st 2 "executor.mode=stream is refused (exit 2)"
like "$out" "expected bulk or streaming" "... saying what it takes"

# kill -9 at moments spread over a streaming run (every batch held 40 ms),
# then resume: alternately in bulk and streaming mode, on 4, 2 or 1
# ranks.  The outputs equal an uninterrupted run's, and the resumed run
# loads batches a stage journaled before the stage before it had ended.
python3 - <<'PY'
import glob, json, os
os.makedirs('kin')
files = sorted(glob.glob('/usr/share/doc/*/copyright'))
for k in range(60):
    with open('kin/part-%02d.jsonl' % k, 'w') as f:
        for p in files[k::60]:
            f.write(json.dumps({"text": open(p, encoding='utf-8', errors='replace').read()}) + "\n")
PY
cat >k.yaml <<YAML
input: kin
output: kout
$(sed -n '/^name:/,$p' "$EX/filter.yaml" | sed 's/blocksize: 67108864/blocksize: 4096/')
YAML
out=$(mpirun_np 4 "$WINNOW" run "$PWD/k.yaml" --set output=kref --progress off 2>&1)
ok $? "filter.yaml on 60 files: an uninterrupted bulk run" || diag "$out"
# Batch records in the journal (framed JSON, no newlines).
journaled() { grep -a -o '"ev":"batch"' "$1/journal" 2>/dev/null | wc -l; }
same=0 loaded=0 moments="" total=0
modes=(bulk streaming bulk streaming bulk streaming)
ranks=(4 2 1 4 2 4)
for k in 0 1 2 3 4 5; do
    rm -rf kout ck
    WINNOW_TEST_BATCH_DELAY_MS=40 mpirun_np 4 -x WINNOW_TEST_BATCH_DELAY_MS "$WINNOW" run \
        "$PWD/k.yaml" --checkpoint "$PWD/ck" --mode streaming --progress off >/dev/null 2>&1 &
    mp=$!
    # The k-th moment: after 20 + 100 k of its 660 batches are journaled.
    want=$((20 + 100 * k))
    while kill -0 $mp 2>/dev/null && [ "$(journaled ck)" -lt $want ]; do sleep 0.02; done
    pkill -9 -f "winnow run $PWD/k.yaml --checkpoint $PWD/ck " 2>/dev/null
    kill -9 $mp 2>/dev/null
    wait $mp 2>/dev/null
    moments="$moments $(journaled ck)"
    m=${modes[$k]} np=${ranks[$k]}
    if [ "$np" = 1 ]; then
        "$WINNOW" run "$PWD/k.yaml" --checkpoint "$PWD/ck" --mode $m --progress off >resume.log 2>&1
    else
        mpirun_np $np "$WINNOW" run "$PWD/k.yaml" --checkpoint "$PWD/ck" --mode $m \
            --progress off >resume.log 2>&1
    fi
    st=$?
    [ $st = 0 ] && diff -r kref kout >/dev/null && same=$((same + 1))
    [ $st = 0 ] || diag "resume $k ($m, $np ranks) exited $st: $(tail -5 resume.log)"
    grep -q "batches done earlier, loading them" resume.log && loaded=$((loaded + 1))
done
# A damaged part file of a stage after the one that had not finished: the
# resume recomputes that batch and still loads the others.
rm -rf kout ck
WINNOW_TEST_BATCH_DELAY_MS=40 mpirun_np 4 -x WINNOW_TEST_BATCH_DELAY_MS "$WINNOW" run \
    "$PWD/k.yaml" --checkpoint "$PWD/ck" --mode streaming --progress off >/dev/null 2>&1 &
mp=$!
# (four part files written: the oldest is journaled by then)
while kill -0 $mp 2>/dev/null && [ "$(ls ck/stages/08-*/part-*.h5 2>/dev/null | wc -l)" -lt 4 ]; do
    sleep 0.02
done
pkill -9 -f "winnow run $PWD/k.yaml --checkpoint $PWD/ck " 2>/dev/null
kill -9 $mp 2>/dev/null
wait $mp 2>/dev/null
part=$(ls -tr ck/stages/08-*/part-*.h5 | head -1)
printf 'XXXX' | dd of="$part" bs=1 seek=2000 conv=notrunc 2>/dev/null
out=$(mpirun_np 2 "$WINNOW" run "$PWD/k.yaml" --checkpoint "$PWD/ck" --mode streaming \
      --progress off 2>&1)
[ $? = 0 ] && diff -r kref kout >/dev/null
ok $? "a damaged part file of a later stage: resumed, identical outputs" || diag "$out"
like "$out" "stage 'repeating_top_ngrams' batch [0-9]+ cannot be loaded .*; recomputing it" \
    "... that batch recomputed, saying so"
diag "journaled batches at the kills:$moments"
is $same 6 "killed at 6 moments of a streaming run, resumed in either mode on 4, 2, 1 ranks: identical outputs"
[ $loaded -ge 5 ]; ok $? "the resumed runs loaded the batches journaled ($loaded of 6 said so)"

# Backpressure: a fast producer (word_count) before a slow consumer (3 ms
# a batch), then a stage that keeps nothing: the queue between them never
# exceeds queue_depth, and the producer was held back.  Peak RSS does not
# grow with 8 times the input (in bulk mode it does).
python3 "$SRCDIR/bench/textcorpus.py" --out c1 --base-mb 2 --copies 1 --file-mb 1 >/dev/null &&
    python3 "$SRCDIR/bench/textcorpus.py" --out c8 --base-mb 2 --copies 8 --file-mb 1 >/dev/null
ok $? "corpora of 2 and 16 MB"
cat >bp.yaml <<'YAML'
name: bp
executor: {queue_depth: 3}
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", blocksize: 65536}}
  - {name: fast, type: word_count, batch_size: 1, params: {min_words: 1}}
  - {name: slow, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 3}}
  - {name: none, type: word_count, batch_size: 1, params: {min_words: 100000}}
YAML
st=0
for c in c1 c8; do
    for m in bulk streaming; do
        mpirun_np 3 "$WINNOW" run bp.yaml --set input=$c --mode $m --stats bp-$m-$c.json \
            --progress off >bp.log 2>&1 || { st=1; diag "$(tail -5 bp.log)"; }
    done
done
ok $st "a fast producer before a slow consumer, 2 and 16 MB, either mode"
r=$(python3 - <<'PY'
import json
def load(m, c):
    return json.load(open("bp-%s-%s.json" % (m, c)))
s8 = load("streaming", "c8")
slow = [s for s in s8["stages"] if s["name"] == "slow"][0]["streaming"]
rss = {(m, c): max(load(m, c)["peak_rss_mib"]) for m in ("bulk", "streaming") for c in ("c1", "c8")}
print(slow["queue_peak"], slow["queue_holds"] > 0, rss["streaming", "c1"], rss["streaming", "c8"],
      rss["bulk", "c1"], rss["bulk", "c8"])
PY
)
read -r qpeak held s1 s8 b1 b8 <<<"$r"
[ "${qpeak:-9}" -le 3 ] && [ "${qpeak:-0}" -ge 1 ]; ok $? "the queue into the slow stage peaked at $qpeak batches (queue_depth 3)"
is "$held" True "the producer was held back"
[ "${s8:-999}" -le $((s1 + s1 / 8 + 4)) ]
ok $? "streaming: peak RSS ${s8} MiB with 8x the input, ${s1} MiB with 1x (bulk: $b8 and $b1 MiB)"

# Autoscaling: the middle stage of three costs 10 times the others' time
# per batch; the segment ends with most of the actors on it, as --stats
# records (each rank runs 8 of these batches at once: resources.cpus
# 0.125; every stage keeps one actor per rank).
cat >as.yaml <<'YAML'
name: as
stages:
  - {name: gen, type: teststages.so:fanout, params: {tasks: 400, rows: 1}}
  - {name: a, type: teststages.so:wait, batch_size: 1, resources: {cpus: 0.125}, params: {ms_per_item: 0, ms_per_task: 1}}
  - {name: b, type: teststages.so:wait, batch_size: 1, resources: {cpus: 0.125}, params: {ms_per_item: 0, ms_per_task: 10}}
  - {name: c, type: teststages.so:wait, batch_size: 1, resources: {cpus: 0.125}, params: {ms_per_item: 0, ms_per_task: 1}}
YAML
out=$(mpirun_np 3 "$WINNOW" run as.yaml --mode streaming --stats as.json --progress off 2>&1)
ok $? "a segment whose middle stage is 10 times slower" || diag "$out"
r=$(python3 - <<'PY'
import json
d = json.load(open('as.json'))
last = {}
for e in d.get("autoscale", []):
    last[e["stage"]] = e["actors"]
st = {s["name"]: s for s in d["stages"]}
print(last.get("a", 0), last.get("b", 0), last.get("c", 0), st["gen"]["streaming"]["autoscales"])
PY
)
read -r na nb nc runs <<<"$r"
[ "${nb:-0}" -gt $((${na:-0} + ${nc:-0})) ]
ok $? "it ends with most actors on the slow stage: $na, $nb, $nc (re-divided $runs times)"
like "$out" "stage 'b': actors over time [0-9]+ at 0.0s, [0-9]+ at" "the summary gives each stage's actors over time"

# What a user sees: the stages' progress lines side by side, their
# batches overlapping in the trace.
cat >slow.yaml <<'YAML'
name: slow
executor: {progress_interval: 0.2}
stages:
  - {name: gen, type: teststages.so:fanout, params: {tasks: 60, rows: 1}}
  - {name: a, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 10}}
  - {name: b, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 10}}
YAML
out=$(mpirun_np 3 "$WINNOW" run slow.yaml --mode streaming --progress lines --trace tr.json 2>&1)
ok $? "a segment of two sleeping stages" || diag "$out"
like "$out" "stage 2/3 'a': [0-9]+/[0-9?]+ batches done, [0-9]+ running, [0-9]+ queued" "a progress line for the first stage"
like "$out" "stage 3/3 'b': [0-9]+/[0-9?]+ batches done, [0-9]+ running, [0-9]+ queued" "... and one for the second, at the same time"
r=$(python3 - <<'PY'
import json
ev = [e for e in json.load(open('tr.json'))["traceEvents"] if e.get("ph") == "X"]
a = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e["name"] == "a"]
b = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e["name"] == "b"]
print(sum(1 for x in a for y in b if x[0] < y[1] and y[0] < x[1]) > 0 and min(y[0] for y in b) < max(x[1] for x in a))
PY
)
is "$r" True "the trace shows batches of the two stages at the same time"

done_testing
