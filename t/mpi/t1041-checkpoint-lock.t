#!/bin/bash
# wn-timeout: 300
# One run at a time on a checkpoint and on an output folder, and nothing
# but a winnow checkpoint in a checkpoint folder (src/ckpt/lock.c, ckpt.c):
# a second run on a checkpoint or output folder in use exits 2 naming the
# holder's pid and host, and the first still completes with the same
# output as a run without a checkpoint; a killed run's lock is taken over
# with a warning; a folder holding anything else (a file of its own named
# journal, other files, a checkpoint of the old format) is refused before
# anything in it is written.  Real text: Debian's copyright files.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

n=$(python3 "$SRCDIR/t/lib/copyright_jsonl.py" in 240)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
cat >lic.yaml <<'YAML'
name: lic
stages:
  - {name: read_jsonl, type: read_jsonl, params: {input: "${input}", blocksize: 1}}
  - {name: word_count, type: word_count, batch_size: 1, params: {min_words: 50, max_words: 100000}}
  - {name: pause, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 400}}
  - {name: write_jsonl, type: write_jsonl, batch_size: 1, params: {output: "${output}/filtered"}}
YAML
IN="--set input=$TEST_TMP/in"
host=$(hostname)

out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=ref --progress off 2>&1); st=$?
ok $st "a reference run without a checkpoint" || diag "$out"
is "$(ls ref/filtered | wc -l)" 8 "it wrote the 8 files"

# holder_pid FILE PID: the pid lock file FILE names, once it names one,
# while process PID (the run's) is alive; 60 s at most.
holder_pid() {
    for _i in $(seq 600); do
        _p=$(awk '{print $2}' "$1" 2>/dev/null)
        [ -n "$_p" ] && { echo "$_p"; return 0; }
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# signal_run SIG PATTERN: every process of a run (mpirun and its ranks).
signal_run() { pkill "-$1" -f "$2" 2>/dev/null; }

# Run A holds checkpoint ck and output folder out.  Once it holds them, all
# its processes are stopped (SIGSTOP: a stopped process keeps its locks),
# so that the second runs meet it there whatever the machine's load.
ckA=$TEST_TMP/ck
mpirun_np 4 "$WINNOW" run "$TEST_TMP/lic.yaml" --checkpoint "$ckA" $IN --set output=out \
    --progress off >a.log 2>&1 &
mpA=$!
pidA=$(holder_pid ck/lock $mpA)
ok $? "run A took the checkpoint's lock (pid ${pidA:-none})"
holder_pid out/.winnow-lock $mpA >/dev/null
ok $? "and the output folder's"
signal_run STOP "run $TEST_TMP/lic.yaml --checkpoint $ckA "

out=$(mpirun_np 4 "$WINNOW" run lic.yaml --checkpoint ck $IN --set output=other \
      --progress off 2>&1); st=$?
is $st 2 "a second run on the same checkpoint: exit 2"
like "$out" "checkpoint ck is in use by pid $pidA on host $host \(since [0-9-]+ [0-9:]+\)" \
    "it names the holder's pid and host, and since when"
# (Folders may be made, and the output folder's lock file, empty again:
# where the run would write is checked before the checkpoint is opened.)
left=$(find other -type f ! -name .winnow-lock 2>/dev/null; find other -name .winnow-lock -size +0 2>/dev/null)
ok $([ -z "$left" ]; echo $?) "and it did no work (wrote no file)" || diag "$left"
out=$(mpirun_np 4 "$WINNOW" run lic.yaml --checkpoint ck2 $IN --set output=out \
      --progress off 2>&1); st=$?
is $st 2 "another checkpoint, the same output folder: exit 2"
like "$out" "output folder out is in use by pid $pidA on host $host" "it names the holder"
ok $([ ! -e ck2/journal ]; echo $?) "and it did not start a checkpoint"
out=$("$WINNOW" status ck 2>&1); st=$?
ok $st "winnow status reads a checkpoint in use (no lock)" || diag "$out"

signal_run CONT "run $TEST_TMP/lic.yaml --checkpoint $ckA "
wait $mpA; st=$?
ok $st "run A, let go, completes" || diag "$(cat a.log)"
diff -r ref out >/dev/null; ok $? "run A's output equals the reference run's"
is "$(wc -c <ck/lock)" 0 "a run that ended empties its lock file"

# A run killed holding the lock: its line stays, the kernel dropped the
# lock; the next run takes it over, says so, and resumes.
rm -rf out
mpirun_np 4 "$WINNOW" run "$TEST_TMP/lic.yaml" --checkpoint "$TEST_TMP/killed" $IN \
    --set output=out --progress off >/dev/null 2>&1 &
mpK=$!
pidK=$(holder_pid killed/lock $mpK)
sleep 1
signal_run 9 "run $TEST_TMP/lic.yaml --checkpoint $TEST_TMP/killed "
kill -9 $mpK 2>/dev/null
wait $mpK 2>/dev/null
like "$(cat killed/lock)" "^$host $pidK [0-9]+$" "kill -9: the lock file still names the dead run"
out=$(mpirun_np 4 "$WINNOW" run lic.yaml --checkpoint killed $IN --set output=out \
      --progress off 2>&1); st=$?
ok $st "the same command after kill -9 exits 0" || diag "$out"
like "$out" "checkpoint killed: taking over the lock of pid $pidK on $host \(since [^)]*\), which is gone" \
    "it takes the stale lock over with a warning naming the dead run"
diff -r ref out >/dev/null; ok $? "and the output equals the reference"

# Folders that are not winnow checkpoints: refused, untouched.  (One
# process: the refusal comes before any work.)
mkdir f1 && cp /usr/share/common-licenses/GPL-3 f1/journal
sum=$(md5sum <f1/journal)
out=$("$WINNOW" run lic.yaml --checkpoint f1 $IN --set output=o1 --progress off 2>&1); st=$?
is $st 2 "a folder with a file of its own named journal: exit 2"
like "$out" "checkpoint f1: its file 'journal' is not a winnow journal" "the message says so"
is "$(md5sum <f1/journal)" "$sum" "the file is unchanged"
is "$(ls -A f1)" "journal" "and nothing was added to the folder"

mkdir f2 && cp /usr/share/common-licenses/Apache-2.0 f2/LICENSE && echo notes >f2/notes.txt
out=$("$WINNOW" run lic.yaml --checkpoint f2 $IN --set output=o2 --progress off 2>&1); st=$?
is $st 2 "a folder with other files: exit 2"
like "$out" "checkpoint f2 holds 'LICENSE', which winnow did not make" "the first foreign entry is named"
is "$(ls -A f2 | tr '\n' ' ')" "LICENSE notes.txt " "nothing was added"

out=$(mpirun_np 4 "$WINNOW" run lic.yaml --checkpoint f3 $IN --set output=o3 --progress off 2>&1); st=$?
ok $st "a new checkpoint folder is fine" || diag "$out"
cp /usr/share/common-licenses/BSD f3/stages/01-word_count/notes
out=$("$WINNOW" run lic.yaml --checkpoint f3 $IN --set output=o3 --progress off 2>&1); st=$?
is $st 2 "a stray file among the part files: exit 2"
like "$out" "checkpoint f3 holds 'stages/01-word_count/notes'" "it is named with its folder"
rm f3/stages/01-word_count/notes

mkdir f4
out=$("$WINNOW" run lic.yaml --checkpoint f4 $IN --set output=o4 --progress off 2>&1); st=$?
ok $st "an empty existing folder is fine" || diag "$out"

# A checkpoint of the old format (version 1: a bare HDF5 manifest and
# part files): refused, with what to do.
tail -c +513 f3/manifest.h5 >old.h5 && mv old.h5 f3/manifest.h5
out=$("$WINNOW" run lic.yaml --checkpoint f3 $IN --set output=o3 --progress off 2>&1); st=$?
is $st 2 "a checkpoint made by an older winnow: exit 2"
like "$out" "checkpoint f3 was made by an older winnow .*remove the checkpoint to start again" \
    "the message says what to do"

out=$("$WINNOW" run lic.yaml --checkpoint o4 $IN --set output=o4 --progress off 2>&1); st=$?
is $st 2 "the output folder as the checkpoint: exit 2"
like "$out" "the checkpoint o4 cannot be the output folder o4" "the message says why"

done_testing
