#!/bin/bash
# wn-timeout: 500
# Checkpoints: every finished batch in an HDF5 part file, a journal, and
# resume -- after kill -9 of every rank at seeded random moments, with the
# same or another rank count, the results are byte-identical to a run
# that was never interrupted.  Bad part files are recomputed, a torn
# journal tail ignored, another pipeline's checkpoint refused.
. "$(dirname "$0")/../lib/tap.sh"
summ() { python3 "$SRCDIR/t/lib/results.py" "$1"; }
cd "$TEST_TMP"

cat >p.yaml <<'YAML'
name: ckpt
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 60, rows: 4}}
  - {name: work, type: teststages.so:sleep, batch_size: 2, params: {ms_per_item: 12}}
  - {name: split, type: teststages.so:fanout, batch_size: 3, params: {tasks: 2}}
  - {name: more, type: teststages.so:sleep, batch_size: 4, params: {ms_per_item: 6}}
  - {name: total, type: teststages.so:sum, batch_size: 5}
YAML
# 240 items: sum 28920, sum of squares 240*241*481/6
want="count=240 sum=28920 sum_sq=4636840"

out=$(mpirun_np 4 "$WINNOW" run p.yaml --results ref.jsonl --progress off 2>&1); st=$?
ok $st "uninterrupted run without a checkpoint" || diag "$out"
like "$(summ ref.jsonl)" "^$want " "every item exactly once"

t0=$SECONDS
out=$(mpirun_np 4 "$WINNOW" run p.yaml --checkpoint ck --results full.jsonl --progress off 2>&1); st=$?
ok $st "with --checkpoint: exits 0" || diag "$out"
run_s=$((SECONDS - t0))
cmp -s ref.jsonl full.jsonl; ok $? "with --checkpoint: the same results"
# 1 + 30 + 20 + 30 + 24 batches
is "$(find ck/stages -name 'part-*.h5' | wc -l)" 105 "one part file per batch (105)"
ok $([ -f ck/manifest.h5 ] && [ -f ck/journal ]; echo $?) "a manifest and a journal"
is "$(ls ck/stages | tr '\n' ' ')" "00-generate 01-work 02-split 03-more 04-total " "a folder per stage"
out=$("$WINNOW" inspect ck/stages/04-total/part-00000000.h5 2>&1); st=$?
ok $st "winnow inspect reads a part file" || diag "$out"
like "$out" "stage 4 'total', batch 0, 1 tasks, 1 rows" "inspect: stage, batch, tasks"

out=$(mpirun_np 4 "$WINNOW" run p.yaml --checkpoint ck --results again.jsonl --progress off 2>&1); st=$?
ok $st "the same command on a finished checkpoint exits 0" || diag "$out"
like "$out" "every stage finished earlier" "it says so"
like "$out" "work +not run" "no stage runs again"
cmp -s ref.jsonl again.jsonl; ok $? "and gives the same results"

# kill -9 every rank at seeded random moments, then resume (4, 2 or 3
# ranks), until done.
RANDOM=20261123
span=$(( run_s > 1 ? run_s * 1000 : 2000 ))
nps=(4 2 3 4 3 2 4 4 2 3)
for trial in 0 1 2 3 4 5 6 7 8 9; do
    ms=$(( 150 + RANDOM % span ))
    dir=kill$trial
    kill_run_after "$ms" p.yaml "$dir"
    np=${nps[$trial]}
    out=$(mpirun_np "$np" "$WINNOW" run p.yaml --checkpoint "$dir" --results "r$trial.jsonl" \
          --progress off 2>&1); st=$?
    if [ $st -ne 0 ]; then diag "$out"; fi
    cmp -s ref.jsonl "r$trial.jsonl"
    ok $? "kill -9 after ${ms} ms, resumed on $np ranks: byte-identical results"
done

# Part files damaged on disk: a value changed in one of stage 'more', one
# of 'total' cut short.  Resuming needs 'total' (the final outputs), so it
# recomputes that batch, which needs 'more' loaded, where the changed one
# is found by its checksum and recomputed too.  Never used.
f=ck/stages/03-more/part-00000007.h5
g=ck/stages/04-total/part-00000003.h5
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
# a row's text where it is stored plain; compressed (the default), a byte
# two thirds in, among the deflated chunks
i = b.find(b"item ")
b[i if i > 0 else len(b) * 2 // 3] ^= 0x20
open(p, "wb").write(bytes(b))
PY
truncate -s 1000 "$g"
"$WINNOW" inspect "$f" >/dev/null 2>&1; is $? 1 "inspect finds the changed file bad"
"$WINNOW" inspect "$g" >/dev/null 2>&1; is $? 1 "inspect finds the cut file bad"
out=$(mpirun_np 4 "$WINNOW" run p.yaml --checkpoint ck --results fixed.jsonl --progress off 2>&1); st=$?
ok $st "resume over damaged part files exits 0" || diag "$out"
like "$out" "stage 'total' batch 3: .*part-00000003.h5: checksum mismatch: 1000 bytes, its header says [0-9]+ \(truncated\?\); recomputing it" \
    "the cut file is named and recomputed"
like "$out" "stage 'more' batch 7: .*checksum mismatch.*; recomputing it" \
    "the changed file is named and recomputed"
cmp -s ref.jsonl fixed.jsonl; ok $? "the same results"
"$WINNOW" inspect "$f" "$g" >/dev/null 2>&1; ok $? "both part files were written again, good"

# Part files compressed or not: the setting is not part of the pipeline's
# identity (outputs do not depend on it), so a checkpoint written under one
# resumes under another, each part file read as it was written.  Whole
# runs under one setting, then the last two stages' files removed and
# resumed under the other: 'more' is recomputed in the new format while
# its other files and those of 'split' are read in the old.
compressed() { # DIR: "Z/N" part files with a deflate filter, of N
    local z=0 n=0 f
    for f in $(find "$1" -name 'part-*.h5'); do
        n=$((n + 1))
        h5ls -rv "$f" 2>/dev/null | grep -q 'Filter-0: *deflate' && z=$((z + 1))
    done
    echo "$z/$n"
}
for from in none deflate:6; do
    to=$([ $from = none ] && echo deflate:1 || echo none)
    d=mix-${from%:*}
    printf 'executor: {checkpoint_compression: "%s"}\n' "$from" | cat p.yaml - >from.yaml
    printf 'executor: {checkpoint_compression: "%s"}\n' "$to" | cat p.yaml - >to.yaml
    out=$(mpirun_np 4 "$WINNOW" run from.yaml --checkpoint $d --progress off 2>&1); st=$?
    ok $st "checkpoint_compression $from: exits 0" || diag "$out"
    want_z=$([ $from = none ] && echo 0/105 || echo 105/105)
    is "$(compressed $d)" "$want_z" "$from: $want_z part files compressed"
    rm -f $d/stages/03-more/part-0000000[0-4].h5 $d/stages/04-total/part-*.h5
    out=$(mpirun_np 3 "$WINNOW" run to.yaml --checkpoint $d --results $d.jsonl --progress off 2>&1)
    st=$?
    ok $st "written under $from, resumed under $to: exits 0" || diag "$out"
    cmp -s ref.jsonl $d.jsonl; ok $? "written under $from, resumed under $to: byte-identical results"
    z=$(compressed $d/stages/03-more); z=${z%/*}
    if [ $from = none ]; then want=5; else want=25; fi
    is "$z" "$want" "stage 'more': the 5 recomputed files in the new format, 25 in the old"
done

# A torn journal tail (a crash in the middle of a record).
printf 'WNJ1\377\377' >>ck/journal
out=$(mpirun_np 4 "$WINNOW" run p.yaml --checkpoint ck --results torn.jsonl --progress off 2>&1); st=$?
ok $st "a torn journal tail: exits 0" || diag "$out"
cmp -s ref.jsonl torn.jsonl; ok $? "a torn journal tail: the same results"

# Another pipeline's checkpoint is refused before any work, unless --force.
sed 's/ms_per_item: 6/ms_per_item: 7/' p.yaml >q.yaml
out=$(mpirun_np 4 "$WINNOW" run q.yaml --checkpoint ck --progress off 2>&1); st=$?
is $st 2 "another pipeline on this checkpoint: exit 2"
like "$out" "checkpoint ck belongs to another pipeline \(hash [0-9a-f]{16}, this one [0-9a-f]{16}\)" \
    "the message names both hashes"
like "$out" "--force" "and the way out"
out=$(mpirun_np 4 "$WINNOW" run q.yaml --checkpoint ck --force --results forced.jsonl --progress off 2>&1); st=$?
ok $st "--force resumes from it" || diag "$out"

# Stopping cleanly: SIGUSR1 (forwarded by mpirun to every rank) -> no new
# batches, the running ones finish, exit 3; the same command resumes.
# (mpirun itself in the background, not a shell function: $! must be it)
out=$( { mpirun -np 4 --oversubscribe --bind-to none "$WINNOW" run p.yaml --checkpoint sig \
           --progress off 2>&1 & mp=$!;
         sleep 0.8; kill -USR1 $mp; wait $mp; echo "exit=$?"; } ); st=${out##*exit=}
is "$st" 3 "SIGUSR1 mid-run: exit 3" || diag "$out"
like "$out" "stopping \(User defined signal 1 on rank [0-9]+\): no new batches" "the stop is reported"
out=$("$WINNOW" status sig 2>&1); st=$?
ok $st "winnow status reads the checkpoint" || diag "$out"
like "$out" "last event: run ended with status 3 \(stopped, resumable\)" "status: stopped, resumable"
like "$out" "1 +work +(done|partial) +[0-9]+/30 +60 " "status: the work stage's batches and tasks"
out=$(mpirun_np 3 "$WINNOW" run p.yaml --checkpoint sig --results sig.jsonl --progress off 2>&1); st=$?
ok $st "resumed after SIGUSR1 (3 ranks)" || diag "$out"
cmp -s ref.jsonl sig.jsonl; ok $? "SIGUSR1 then resume: byte-identical results"
like "$("$WINNOW" status sig)" "finished: the same command loads the final outputs" "status: finished"

# drain_timeout bounds the wait for running batches.
t0=$SECONDS
out=$( { mpirun -np 4 --oversubscribe --bind-to none "$WINNOW" run p.yaml --checkpoint drain \
           --progress off \
           --set executor.drain_timeout=0.3 --set stages.work.ms_per_item=500 2>&1 & mp=$!;
         sleep 1.5; kill -USR1 $mp; wait $mp; echo "exit=$?"; } ); st=${out##*exit=}
is "$st" 3 "long batches, drain_timeout 0.3 s: exit 3" || diag "$out"
ok $([ $((SECONDS - t0)) -lt 5 ]; echo $?) "it did not wait for the 1 s batches ($((SECONDS - t0)) s in all)"
like "$out" "drain_timeout: [0-9]+ batches still running are given up" "the given-up batches are reported"

# winnow halt: at the next batch boundary, or after a stage.
out=$( { mpirun_np 4 "$WINNOW" run p.yaml --checkpoint halt --progress off 2>&1 & mp=$!;
         sleep 0.6; "$WINNOW" halt halt --after-stage split >/dev/null; wait $mp; echo "exit=$?"; } )
st=${out##*exit=}
is "$st" 3 "winnow halt --after-stage split: exit 3" || diag "$out"
like "$("$WINNOW" status halt)" "2 +split +done .*
3 +more +not run" "it stopped right after 'split'"
ok $([ ! -e halt/HALT ]; echo $?) "the halt file was used up"
out=$(mpirun_np 4 "$WINNOW" run p.yaml --checkpoint halt --results halt.jsonl --progress off 2>&1); st=$?
ok $st "resumed after the halt" || diag "$out"
cmp -s ref.jsonl halt.jsonl; ok $? "halt then resume: byte-identical results"
out=$("$WINNOW" halt halt 2>&1); st=$?
is "$st" 1 "winnow halt on a checkpoint whose run has ended: exit 1"
like "$out" "no run is using halt: its last run ended with status 0" "... saying why"
ok $([ ! -e halt/HALT ]; echo $?) "... and leaves no HALT file to stop the next run"
"$WINNOW" status nowhere >/dev/null 2>&1; is $? 1 "status of a folder without a journal: exit 1"

# A part file that cannot be put in place (rename fails with EIO, as on a
# failing disk).  The batch's result went to the planner before its file
# was written, so the run fails, naming the rank, stage and batch; the
# journal never records that batch; the same command then recomputes it.
cc -shared -fPIC -o failrename.so "$SRCDIR/t/lib/failrename.c" -ldl
ok $? "the rename-failing shim builds"
out=$(ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}:verify_asan_link_order=0" \
      WN_TEST_FAIL_RENAME=03-more/part-00000005.h5 \
      mpirun_np 4 -x LD_PRELOAD="$PWD/failrename.so" -x WN_TEST_FAIL_RENAME -x ASAN_OPTIONS \
      "$WINNOW" run p.yaml --checkpoint eio --progress off 2>&1); st=$?
is $st 1 "a part file that cannot be written: exit 1" || diag "$out"
like "$out" "checkpoint: rank [0-9]+ could not write the part file of stage 'more' batch 5: .*part-00000005.h5.tmp.[0-9]+: cannot rename into place: Input/output error" \
    "the error names the rank, stage, batch and cause"
python3 - eio/journal <<'PY'
import json, struct, sys
data, off, recs = open(sys.argv[1], 'rb').read(), 0, []
while off + 16 <= len(data) and data[off:off + 4] == b'WNJ1':   # "WNJ1" u32 len u64 sum json
    n = struct.unpack_from('<I', data, off + 4)[0]
    recs.append(json.loads(data[off + 16:off + 16 + n]))
    off += 16 + n
bad = [r for r in recs if r.get('ev') == 'batch' and r.get('stage') == 3 and r.get('batch') == 5]
sys.exit(1 if bad or not any(r.get('ev') == 'batch' for r in recs) else 0)
PY
ok $? "the journal does not record that batch"
ok $([ ! -e eio/stages/03-more/part-00000005.h5 ]; echo $?) "and its file is not in place"
out=$(mpirun_np 4 "$WINNOW" run p.yaml --checkpoint eio --results eio.jsonl --progress off 2>&1); st=$?
ok $st "the same command without the fault resumes" || diag "$out"
cmp -s ref.jsonl eio.jsonl; ok $? "failed write then resume: byte-identical results"

done_testing
