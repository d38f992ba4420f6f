#!/bin/bash
# wn-timeout: 300
# read_jsonl cuts a plain file larger than blocksize into line ranges, a
# task each, read by several actors at once; document ids (file, line)
# stay those of a whole-file read, so the fuzzy and exact dedup outputs
# are byte-identical to a run reading the file as one task.  The corpus is
# Debian's copyright files, one document each, in one plain file (with a
# blank line, a CRLF line and no final newline, so cuts meet them), plus a
# small zstd file holding much text: it is grouped by its text, not its
# size on disk.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples
command -v zstd >/dev/null || skip_all "zstd not installed (scripts/install-deps.sh installs it)"
n=$(python3 - <<'PY'
import glob, json, os, subprocess
docs = []
for p in sorted(glob.glob('/usr/share/doc/*/copyright')):
    docs.append({"id": p.split('/')[4], "text": open(p, encoding='utf-8', errors='replace').read()})
os.makedirs('in')
lines = [json.dumps(d) for d in docs]
lines.insert(5, "")                        # a blank line
lines[7] += "\r"                           # a CRLF line
open('in/big.jsonl', 'w', newline='').write("\n".join(lines))   # no final newline
z = "".join(json.dumps({"id": "z%d" % i, "text": docs[i % 40]["text"]}) + "\n" for i in range(320))
subprocess.run(["zstd", "-q", "-19", "-o", "in/z.jsonl.zst"], input=z.encode(), check=True)
print(len(docs))
PY
)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
size=$(stat -c %s in/big.jsonl)
zsize=$(stat -c %s in/z.jsonl.zst)
# tasks_per_actor=0: the tasks are cut by blocksize alone, as set here.
IDS="--set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id
     --set stages.read_jsonl.params.tasks_per_actor=0"
# tasks STATS: read_jsonl's output tasks in a --stats file.
tasks() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stages"][0]["tasks_out"])' "$1"; }
# Cuts of at least size/6 bytes: 5 or 6 ranges of big.jsonl, plus the zstd file.
bs=$((size / 6))
[ "$zsize" -lt "$bs" ] || BAIL_OUT "the zstd file ($zsize bytes) is not smaller than a cut ($bs)"

for ex in fuzzy exact; do
    out=$("$WINNOW" run "$EX/$ex-dedup.yaml" --set input=in --set output=${ex}1 $IDS \
          --set stages.read_jsonl.params.blocksize=$((4 * size)) --stats ${ex}1.json --progress off 2>&1)
    ok $? "$ex-dedup, 1 rank, blocksize 4 x the files: runs" || diag "$out"
    is "$(tasks ${ex}1.json)" 1 "... the files are one task"
    out=$(mpirun_np 4 "$WINNOW" run "$EX/$ex-dedup.yaml" --set input=in --set output=${ex}4 $IDS \
          --set stages.read_jsonl.params.blocksize=$bs --stats ${ex}4.json --progress off 2>&1)
    ok $? "$ex-dedup, 4 ranks, blocksize $bs of $size bytes: runs" || diag "$out"
    t=$(tasks ${ex}4.json)
    ok $([ "$t" -ge 6 ] && [ "$t" -le 7 ]; echo $?) "... big.jsonl is cut in 5 or 6 ranges, the zstd file is a task ($t tasks)"
    diff -r ${ex}1/dedup ${ex}4/dedup >/dev/null && cmp -s ${ex}1/duplicate_groups.jsonl ${ex}4/duplicate_groups.jsonl
    ok $? "... byte-identical outputs to the one-task run"
    r=$(python3 "$SRCDIR/t/lib/dedup_check.py" dedup ${ex}4 $ex); ok $? "... the output checks against the input: $r"
done

# The zstd file holds the first 40 documents 8 times: its text, not its size on
# disk, decides.  A blocksize above its size but below its text makes it a
# task of its own, away from big.jsonl's last range.
ztext=$(zstd -dc in/z.jsonl.zst | wc -c)
out=$("$WINNOW" run "$EX/exact-dedup.yaml" --set input=in --set output=z1 $IDS \
      --set stages.read_jsonl.params.blocksize=$((size + zsize)) --stats z1.json --progress off 2>&1)
ok $? "blocksize $((size + zsize)): the plain file's size plus the zstd file's on disk ($zsize; $ztext of text)" || diag "$out"
is "$(tasks z1.json)" 2 "... two tasks: the zstd file counts its text"

# write_jsonl needs whole files: filter.yaml keeps big.jsonl one task.
out=$(mpirun_np 3 "$WINNOW" run "$EX/filter.yaml" --set input=in --set output=fl \
      --set stages.read_jsonl.params.blocksize=$bs --set stages.read_jsonl.params.tasks_per_actor=0 \
      --stats fl.json --progress off 2>&1)
ok $? "filter.yaml with the same blocksize" || diag "$out"
is "$(tasks fl.json)" 2 "... files stay whole before write_jsonl (2 tasks)"

# By default read_jsonl lowers blocksize (to a power of two) so that each
# of the 3 actors gets 4 tasks: the corpus is read on all of them.
out=$(mpirun_np 4 "$WINNOW" plan "$EX/fuzzy-dedup.yaml" --set input=in --set output=o 2>&1)
like "$out" "blocksize: 1.00 MiB \(256.00 MiB configured, lowered so that each actor gets 4 tasks; 3 actor ranks" \
    "plan: the default blocksize is lowered for 3 actors, and says why"

# A checkpoint's batches of another division of the input are not loaded:
# killed after read_jsonl journaled batches cut by one blocksize, resumed
# (--force: the pipeline changed) with another that makes as many tasks,
# read_jsonl and the stages after it run whole, to the same bytes.
b1=$((size / 4)) b2=$((size / 4 + size / 40))
ck=$PWD/lck
WINNOW_TEST_BATCH_DELAY_MS=1500 mpirun_np 4 -x WINNOW_TEST_BATCH_DELAY_MS "$WINNOW" run \
    "$EX/exact-dedup.yaml" --set input=in --set output=lay $IDS \
    --set stages.read_jsonl.params.blocksize=$b1 --checkpoint "$ck" --progress off >lay1.log 2>&1 &
mp=$!
for _ in $(seq 300); do
    grep -aq '"ev":"batch"' "$ck/journal" 2>/dev/null && break
    sleep 0.05
done
pkill -9 -f -- "--checkpoint $ck" 2>/dev/null
kill -9 $mp 2>/dev/null
wait $mp 2>/dev/null
n1=$(grep -ao '"batches":[0-9]*,"ev":"stage","layout":"[0-9a-f]*","name":"read_jsonl"' "$ck/journal" | head -1 | sed 's/"batches":\([0-9]*\).*/\1/')
nb=$(grep -ac '"ev":"batch","outputs":[0-9]*,"stage":0' "$ck/journal")
ok $([ "${nb:-0}" -ge 1 ]; echo $?) "killed after read_jsonl journaled $nb of its ${n1:-?} batches (blocksize $b1)"
out=$(mpirun_np 4 "$WINNOW" run "$EX/exact-dedup.yaml" --set input=in --set output=lay $IDS \
      --set stages.read_jsonl.params.blocksize=$b2 --checkpoint "$ck" --force --stats lay.json \
      --progress off 2>&1)
ok $? "resumed with blocksize $b2" || diag "$out"
is "$(tasks lay.json)" "$n1" "... which cuts as many tasks"
like "$out" "stage 'read_jsonl' divides its work otherwise than when its batches were made" \
    "... read_jsonl's batches from the other blocksize are not loaded"
diff -r exact1/dedup lay/dedup >/dev/null && cmp -s exact1/duplicate_groups.jsonl lay/duplicate_groups.jsonl
ok $? "... byte-identical outputs to the one-task run"

done_testing
