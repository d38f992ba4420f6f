#!/bin/bash
# wn-timeout: 300
# What a careless user can do to their own data, refused or reported
# (doc/guide.md, "Your data is safe"): outputs that would write over or
# beside the input, stages that list different files, rejects that pass
# unseen, ids rewritten, file names that are not UTF-8.  The corpus is
# Debian's copyright files, as JSON Lines.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples/exact-dedup.yaml
n=$(python3 - <<'PY'
import glob, json, os
files = sorted(glob.glob('/usr/share/doc/*/copyright'))[:120]
os.makedirs('data/dedup')
for k in range(4):
    with open('data/part-%d.jsonl' % k, 'w') as o:
        for i, p in enumerate(files[k::4]):
            t = open(p, encoding='utf-8', errors='replace').read()
            o.write(json.dumps({"id": 10**20 + 1000 * k + i, "text": t}) + "\n")
        # a copy of another file's first document: an exact duplicate
        o.write(json.dumps({"id": 7 * k, "text": open(files[0], encoding='utf-8',
                                                         errors='replace').read()}) + "\n")
for k in range(2):
    open('data/dedup/old-%d.jsonl' % k, 'w').write(open('data/part-%d.jsonl' % k).read())
print(len(files))
PY
)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
sums() { find data -type f | sort | xargs md5sum; }
before=$(sums)

# 1. Outputs that touch the input: refused before any work, input untouched.
refused() { # name expect-in-message args...
    local name=$1 msg=$2; shift 2
    out=$("$WINNOW" run "$EX" --progress off "$@" 2>&1); st=$?
    is "$st" 2 "$name: exit 2" || diag "$out"
    like "$out" "$msg" "... saying why"
}
refused "output holding a glob input's folder" "output 'data' holds the input file 'data/dedup/old-0.jsonl'" \
    --set 'input=data/dedup/*.jsonl' --set output=data
refused "output that is a file input" "is the input file" \
    --set input=data/part-0.jsonl --set output=data/part-0.jsonl
refused "rejects at an input file" "rejects file 'data/part-1.jsonl' is the input file" \
    --set input=data --set output=o1 --set rejects=data/part-1.jsonl
refused "rejects beside a glob's files" "rejects file 'data/rej.jsonl' is beside the input file" \
    --set 'input=data/*.jsonl' --set output=o1 --set rejects=data/rej.jsonl
refused "checkpoint inside a directory input" "checkpoint 'data/ck' lies in the input directory" \
    --set input=data --set output=o1 --checkpoint data/ck
refused "--stats at an input file" "stats file 'data/part-2.jsonl' is the input file" \
    --set input=data --set output=o1 --stats data/part-2.jsonl
touch afile
refused "output that is a file" "output 'afile' is a file, not a folder" \
    --set input=data --set output=afile
refused "a stage reading other files than the source" \
    "input 'data/part-\[01\].jsonl' lists 2 files, but stage 'read_jsonl' read 6" \
    --set input=data --set output=o1 --set 'stages.remove_duplicates.params.input=data/part-[01].jsonl'
refused "a source reading other files than the writer" "lists 6 files, but stage 'read_jsonl' read 2" \
    --set input=data --set output=o1 --set 'stages.read_jsonl.params.input=data/part-[01].jsonl'
is "$(sums)" "$before" "every input file is as it was"
[ ! -e o1 ]; ok $? "... and nothing was written"

# A single file input with its output folder beside it is fine (the
# folder holds no input and a glob of the file's folder cannot match it).
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=data/part-3.jsonl \
      --set output=o2 --set id_field=id 2>&1)
ok $? "a file input, the output folder beside it: runs" || diag "$out"

# 2. Rejects: counted per reason, shown, in the file; too many fail the run.
mkdir -p mixed
python3 - <<'PY'
import glob, json
files = sorted(glob.glob('/usr/share/doc/*/copyright'))[:60]
with open('mixed/m.jsonl', 'w') as o:
    for i, p in enumerate(files):
        t = open(p, encoding='utf-8', errors='replace').read()
        o.write(json.dumps({"id": i, "text": t}) + "\n")
        if i % 20 == 3:
            o.write('{"id": %d, "text": "cut short\n' % i)
        if i % 30 == 4:
            o.write(json.dumps({"id": i, "body": t[:50]}) + "\n")
PY
out=$(mpirun_np 3 "$WINNOW" run "$EX" --progress off --set input=mixed --set output=m1 \
      --stats m1.json 2>&1); st=$?
ok $st "5 bad lines among 65: the run completes" || diag "$out"
like "$out" "stage 'read_jsonl' rejected 5 of the 65 records it read \(7.7%\): 3 invalid JSON, 2 no field 'text'; they are in m1/rejects.jsonl" \
    "stderr says how many, why, and where"
like "$out" "stage 'read_jsonl': 5 records rejected: 3 invalid JSON, 2 no field 'text'" "... and the summary"
is "$(python3 -c 'import json,sys; s=json.load(open("m1.json"))["stages"][0]["rejects"]; print(s["total"], s["reasons"]["invalid JSON"], s["reasons"]["no field '"'"'text'"'"'"])')" \
    "5 3 2" "--stats: total and counts per reason"
is "$(wc -l <m1/rejects.jsonl)" 5 "the rejects file: one line per bad line"
like "$(sed -n 2p m1/rejects.jsonl)" '"file":"mixed/m.jsonl","line":[0-9]+,"reason":"no field .text.","error":"no field .text.: the line has fields .id., .body. \(text_field names the field to read\)"' \
    "... with file, line, reason, and the fields the line has"
out=$(mpirun_np 3 "$WINNOW" run "$EX" --progress off --set input=mixed --set output=m1 2>&1)
is "$(wc -l <m1/rejects.jsonl)" 5 "a second fresh run starts a new rejects file (not 10 lines)"

# The text in another field: every line rejected, the run fails, naming
# the field it looked for and the fields it found.
mkdir -p other
python3 -c '
import glob, json
for i, p in enumerate(sorted(glob.glob("/usr/share/doc/*/copyright"))[:30]):
    print(json.dumps({"id": i, "content": open(p, encoding="utf-8", errors="replace").read()}))
' >other/o.jsonl
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=other --set output=x1 2>&1); st=$?
is "$st" 1 "every line without the text field: exit 1"
like "$out" "stage 'read_jsonl' rejected 30 of the 30 records it read \(100.0%, more than max_reject_fraction 0.1\): 30 no field 'text'; the first: other/o.jsonl:1: no field 'text': the line has fields 'id', 'content'" \
    "... naming the field looked for and the fields seen"
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=other --set output=x2 \
      --set text_field=content 2>&1); st=$?
ok $st "text_field: content at the top level: every stage reads it" || diag "$out"
like "$out" "30 documents in 1 files" "... all 30 documents"
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=mixed --set output=m3 \
      --set max_reject_fraction=0.05 2>&1); st=$?
is "$st" 1 "5 of 65 rejected with max_reject_fraction 0.05: exit 1"

# 3. Ids kept exactly as written: integers past 64 bits, reals as written.
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=data --set output=g1 \
      --set id_field=id 2>&1)
ok $? "exact dedup with id_field: id" || diag "$out"
r=$(python3 - <<'PY'
import json
rows = [l for l in open('g1/duplicate_groups.jsonl')]
big = [l for l in rows if '"id": 1000000000000000' in l]
small = [l for l in rows if '"id": 7,' in l or '"id": 0,' in l]
print(len(rows), len(big), len(small))
PY
)
like "$r" "^[0-9]+ [1-9][0-9]* [1-9]" "ids past 2^64 and small ones written digit for digit: $r"

# Numbers of every form JSON allows as ids (the number cases of a JSON
# conformance suite, written here): each document twice, so each id is in
# a group; the groups file must carry each as written, digit for digit.
mkdir -p nums
python3 - <<'PY'
import glob, json
nums = ["0", "-0", "1", "-1", "0e+1", "0E-1", "1E22", "1e-400", "1e400", "-1e400",
        "123e65", "123.456e78", "-123.456E-78", "1.5", "1.50", "0.000001",
        "123456789012345678901234567890", "-9223372036854775809", "18446744073709551616",
        "1.000000000000000000000000000001", "2.2250738585072011e-308", "1E+2", "20e1"]
files = sorted(glob.glob('/usr/share/doc/*/copyright'))[200:200 + len(nums)]
with open('nums/n.jsonl', 'w') as o:
    for k, (num, p) in enumerate(zip(nums, files)):
        t = json.dumps(open(p, encoding='utf-8', errors='replace').read() + " #%d" % k)
        o.write('{"id": %s, "text": %s}\n' % (num, t))
        o.write('{"text": %s, "id": "copy of %s"}\n' % (t, num))
open('nums.txt', 'w').write("\n".join(nums) + "\n")
PY
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=nums --set output=nu1 \
      --set id_field=id 2>&1)
ok $? "numeric ids of every form, 1e400 and 1e-400 too: the run completes" || diag "$out"
r=$(python3 - <<'PY'
import re
want = open('nums.txt').read().split()
got = [re.match(r'\{"id": (.*), "group"', l).group(1) for l in open('nu1/duplicate_groups.jsonl')]
missing = [w for w in want if w not in got]
print("missing:", " ".join(missing) if missing else "none", "of", len(want))
PY
)
is "$r" "missing: none of 23" "each id in duplicate_groups.jsonl exactly as written"

# 4. A file name that is not UTF-8: the groups file names it with U+FFFD.
mkdir -p nu
cp data/part-0.jsonl "nu/$(printf 'caf\xe9').jsonl"
cp data/part-1.jsonl nu/b.jsonl
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=nu --set output=n1 2>&1); st=$?
ok $st "a file name in Latin-1: the run completes" || diag "$out"
grep -q "caf$(printf '\xef\xbf\xbd').jsonl:" n1/duplicate_groups.jsonl
ok $? "... its PATH:LINE ids carry U+FFFD for the bad byte"
python3 -c 'import json,sys; [json.loads(l) for l in open("n1/duplicate_groups.jsonl")]'
ok $? "... and the groups file is valid JSON"

# 5. Input changed before a resume: refused (exit 2) naming the files,
# --force or not; put back as it was, the resume goes on.
mkdir -p rin
cp -p data/part-0.jsonl data/part-1.jsonl data/part-2.jsonl rin/
echo '{"id": 99, "body": "no text here"}' >>rin/part-2.jsonl
touch -r rin/part-2.jsonl ref2
run_ck() { mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=rin --set output=ro \
           --checkpoint ck --set id_field=id "$@" 2>&1; }
# A reference run, then one halted after its first stage (each batch
# slowed down so that the halt comes while it runs).
out=$(mpirun_np 2 "$WINNOW" run "$EX" --progress off --set input=rin --set output=ro.first \
      --set id_field=id 2>&1); ok $? "a reference run" || diag "$out"
out=$( { WINNOW_TEST_BATCH_DELAY_MS=1500 run_ck & mp=$!
         for i in $(seq 50); do sleep 0.2; "$WINNOW" halt ck --after-stage read_jsonl \
             >/dev/null 2>&1 && break; done; wait $mp; echo "exit=$?"; } )
like "$out" "exit=3" "a run with a checkpoint, halted after its first stage: exit 3" || diag "$out"
cp data/part-3.jsonl rin/
out=$(run_ck); st=$?
is "$st" 2 "a file added to the input before the resume: exit 2"
like "$out" "checkpoint ck was made from other input files: resuming would keep and drop the wrong documents.*1 differ: added: rin/part-3.jsonl" "... naming the file added"
out=$(run_ck --force); is $? 2 "... --force does not override it"
rm rin/part-3.jsonl rin/part-1.jsonl
out=$(run_ck); is $? 2 "a file removed: exit 2"
like "$out" "1 differ: removed: rin/part-1.jsonl" "... naming it"
cp -p data/part-1.jsonl rin/
cp -p rin/part-0.jsonl saved.jsonl
{ head -1 data/part-3.jsonl; cat saved.jsonl; } >rin/part-0.jsonl
out=$(run_ck); is $? 2 "a line inserted at the top of a file: exit 2"
like "$out" "changed: rin/part-0.jsonl \([0-9]+ bytes, now [0-9]+\)" "... naming the file changed"
cp -p saved.jsonl rin/part-0.jsonl
touch -d '2001-01-01' rin/part-2.jsonl
out=$(run_ck); is $? 2 "a file only touched (its time changed): exit 2"
like "$out" "changed: rin/part-2.jsonl \(modified since\)" "... saying so"
touch -r ref2 rin/part-2.jsonl
out=$(run_ck); st=$?
ok $st "the input put back as it was: the resume goes on" || diag "$out"
like "$out" "stage 'read_jsonl': 1 records rejected: 1 no field 'text'" \
    "... its summary counts the rejects of the stage the first run did (from the journal)"
is "$(wc -l <ro/rejects.jsonl)" 1 "... and the rejects file has them once"
diff -r ro ro.first >/dev/null; ok $? "... and its outputs are the first run's, byte for byte"
touch ck/stray
out=$(run_ck); is $? 2 "a file winnow did not make in the checkpoint folder: refused"

done_testing
