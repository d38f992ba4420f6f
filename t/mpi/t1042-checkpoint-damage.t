#!/bin/bash
# wn-timeout: 300
# Damage in a checkpoint is found before anything uses it: one byte
# changed in part files -- in the HDF5 superblock, a B-tree, a local heap,
# a symbol table node, an object header, an attribute's name and value,
# the column data -- is a checksum mismatch for `winnow inspect` (exit 1)
# and for a resume, which names each file and recomputes its batch (HDF5
# never parses a damaged file: under --enable-sanitizers this test is
# where an out-of-bounds read would show).  A damaged journal record in the
# middle is reported once with the records lost after it and the batches
# recomputed.  Either way the output equals a run that was never damaged.
# Real text: Debian's copyright files.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

n=$(python3 "$SRCDIR/t/lib/copyright_jsonl.py" in 240)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
cat >lic.yaml <<'YAML'
name: lic
stages:
  - {name: read_jsonl, type: read_jsonl, params: {input: "${input}", blocksize: 1}}
  - {name: word_count, type: word_count, batch_size: 1, params: {min_words: 50, max_words: 100000}}
  - {name: write_jsonl, type: write_jsonl, batch_size: 1, params: {output: "${output}/filtered"}}
YAML
IN="--set input=$TEST_TMP/in"

out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=ref --progress off 2>&1); st=$?
ok $st "a reference run without a checkpoint" || diag "$out"
out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=out --checkpoint ck --progress off 2>&1); st=$?
ok $st "a run with a checkpoint" || diag "$out"
diff -r ref out >/dev/null; ok $? "the same output"

# One byte changed in each of these files, each at another kind of place.
# Resuming the finished checkpoint checks the last stage's files, finds
# one bad, steps back a stage, finds those bad, and so on to the source.
python3 - <<'PY' >damaged.txt
import glob
def flip(path, find, skip):
    b = bytearray(open(path, 'rb').read())
    at = b.find(find) if find else 512 + 20
    if at < 0 and find == b'Copyright':  # the text deflated (the default):
        at = len(b) * 2 // 3             # a byte among its chunks
    assert at >= 512, (path, find)
    b[at + skip] ^= 0x5a
    open(path, 'wb').write(bytes(b))
    print(path, (find or b'superblock').decode())
flip('ck/stages/02-write_jsonl/part-00000003.h5', b'winnow-part', 3)      # an attribute's value
flip('ck/stages/01-word_count/part-00000000.h5', None, 0)               # the superblock
flip('ck/stages/01-word_count/part-00000001.h5', b'TREE', 6)            # a B-tree node
flip('ck/stages/01-word_count/part-00000002.h5', b'HEAP', 12)           # a local heap
flip('ck/stages/01-word_count/part-00000003.h5', b'SNOD', 8)            # a symbol table node
flip('ck/stages/01-word_count/part-00000004.h5', b'OHDR', 6)            # an object header
flip('ck/stages/01-word_count/part-00000005.h5', b'has_batch', 2)       # an attribute's name
flip('ck/stages/00-read_jsonl/part-00000006.h5', b'Copyright', 4)       # column data: the text
PY
is "$(wc -l <damaged.txt)" 8 "one byte changed in 8 part files"
bad=0
while read -r f what; do
    out=$("$WINNOW" inspect "$f" 2>&1); st=$?
    if [ $st -ne 1 ] || ! printf '%s' "$out" | grep -q "$f: checksum mismatch"; then
        bad=$((bad + 1)); diag "$what: exit $st: $out"
    fi
done <damaged.txt
is $bad 0 "winnow inspect: each exits 1 with a checksum mismatch naming the file"

out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=out --checkpoint ck --progress off 2>&1); st=$?
ok $st "resuming over the damaged files exits 0" || diag "$out"
named=0
while read -r f what; do
    b=$(basename "$f" .h5); b=$((10#${b#part-}))
    s=$(basename "$(dirname "$f")"); s=${s#*-}
    printf '%s\n' "$out" | grep -Eq "stage '$s' batch $b: .*$f: checksum mismatch.*; recomputing it" \
        && named=$((named + 1)) || diag "not reported: $f ($what)"
done <damaged.txt
is $named 8 "each damaged file is named with its checksum mismatch and recomputed"
diff -r ref out >/dev/null; ok $? "the output (rewritten where batches ran again) equals the reference" || diag "$(diff -rq ref out)"
"$WINNOW" inspect $(awk '{print $1}' damaged.txt) >/dev/null 2>&1
ok $? "every damaged file was written again, good"

# A damaged record in the middle of the journal: what follows it is not
# trusted; the resume says how many records that drops and how many
# batches run again (counted here independently from the file).
python3 - ck/journal >expect.txt <<'PY'
import json, struct, sys
p = sys.argv[1]
data = bytearray(open(p, 'rb').read())
frames, off = [], 0
while off + 16 <= len(data):
    n = struct.unpack_from('<I', data, off + 4)[0]
    frames.append((off, json.loads(data[off + 16:off + 16 + n])))
    off += 16 + n
good = [r for _, r in frames[:15]]
done = {(r['stage'], r['batch']) for r in good if r.get('ev') == 'batch'}
lost = {(r['stage'], r['batch']) for _, r in frames[15:] if r.get('ev') == 'batch'} - done
data[frames[15][0] + 16 + 5] ^= 0x01           # inside record #16's JSON
open(p, 'wb').write(bytes(data))
print(len(frames) - 15, len(lost))
PY
read -r nlost nbatches <expect.txt
ok $([ "${nlost:-0}" -gt 10 ] && [ "${nbatches:-0}" -gt 5 ]; echo $?) \
    "record #16 of the journal damaged (${nlost} records from it on, ${nbatches} batches)"
out=$("$WINNOW" status ck 2>&1)
like "$out" "record #16 is damaged: it and the $((nlost - 1)) whole records after it are ignored" \
    "winnow status says which record and how many after it"
out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=out --checkpoint ck --progress off 2>&1); st=$?
ok $st "resuming over the damaged journal exits 0" || diag "$out"
like "$out" "checkpoint ck/journal: record #16 is damaged; the $nlost records after #15 are ignored .*recomputing $nbatches batches" \
    "the loss is reported once: the records and the batches recomputed"
is "$(printf '%s\n' "$out" | grep -c 'is damaged')" 1 "once"
diff -r ref out >/dev/null; ok $? "the output (rewritten where batches ran again) equals the reference" || diag "$(diff -rq ref out)"
out=$("$WINNOW" status ck 2>&1)
like "$out" "last event: run ended with status 0$" "the journal is whole again"

done_testing
