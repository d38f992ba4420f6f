#!/bin/bash
# wn-timeout: 600
# A frozen rank (kill -STOP) on 4 ranks running examples/fuzzy-dedup.yaml
# on Debian's copyright files: with executor.heartbeat_timeout 5 the run
# ends with exit 1 within a minute, naming the rank, its host, the stage
# and what it holds; no process of the run is left; the same command
# resumes and writes what an uninterrupted run writes.  Once in minhash,
# once in lsh (a shuffle stage, whose other actors then wait in its
# collectives, and may be named in its stead: rank 2 must be among the
# silent ranks listed).  A stop (SIGUSR1) with a frozen rank ends within
# drain_timeout plus a grace, with exit 3, resumable.  And a batch that
# takes longer than heartbeat_timeout is not taken for a hang.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples

# 12 files of the copyright texts, one read task each.
n=$(python3 - <<'PY'
import glob, json, os
docs = [open(p, encoding='utf-8', errors='replace').read()
        for p in sorted(glob.glob('/usr/share/doc/*/copyright'))]
os.makedirs('in')
for k in range(12):
    with open('in/f%02d.jsonl' % k, 'w') as f:
        for i, d in enumerate(docs[k::12]):
            f.write(json.dumps({"id": "%d-%d" % (k, i), "text": d}) + "\n")
print(len(docs))
PY
)
[ "${n:-0}" -ge 100 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
# 64-bit minhash (the exact kernels, slower) and one band per shuffle
# round (20 rounds): both stages last long enough to be caught running.
FZ=("$EX/fuzzy-dedup.yaml" --set input=in --set stages.read_jsonl.params.blocksize=1
    --set stages.minhash.params.use_64_bit_hash=true
    --set stages.lsh.params.bands_per_iteration=1 --progress off)

out=$(mpirun_np 4 "$WINNOW" run "${FZ[@]}" --set output=ref 2>&1); st=$?
ok $st "uninterrupted run on $n documents (reference)" || diag "$out"

# frozen_run NAME STAGE [ARGS...]: runs the pipeline with checkpoint
# $PWD/NAME.ck (output NAME.out, log NAME.log), stops rank 2 with SIGSTOP
# once the journal says STAGE began, runs `after` (a function; may be
# empty) and waits for mpirun.  Sets st (its exit) and took (seconds from
# the SIGSTOP to its exit).
frozen_run() {
    local name=$1 stage=$2 ck=$PWD/$1.ck p=
    shift 2
    mpirun_np 4 "$WINNOW" run "${FZ[@]}" --set output="$name.out" --checkpoint "$ck" "$@" \
        >"$name.log" 2>&1 &
    local mp=$!
    for _ in $(seq 1200); do
        grep -aq "\"ev\":\"stage\",\"name\":\"$stage\"" "$ck/journal" 2>/dev/null &&
            p=$(rank_pid "$ck" 2) && break
        sleep 0.05
    done
    [ -n "$p" ] && kill -STOP "$p"
    local t0=$SECONDS
    after
    # Bounded: a hang here is the failure being tested for.
    for _ in $(seq 1800); do
        kill -0 "$mp" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$mp" 2>/dev/null; then
        diag "still running after 180 s: ending it"
        kill -9 "$mp" $(run_pids "$ck") 2>/dev/null
    fi
    wait "$mp"
    st=$?
    took=$((SECONDS - t0))
    [ -n "$p" ] || diag "stage $stage never began or rank 2 was not found"
}

# resumes NAME: the same command (without the freeze) resumes and writes
# the reference's outputs, byte for byte.
resumes() {
    local out st
    out=$(mpirun_np 4 "$WINNOW" run "${FZ[@]}" --set output="$1.out" --checkpoint "$PWD/$1.ck" \
          2>&1); st=$?
    ok $st "$1: the same command resumes" || diag "$out"
    like "$out" "resuming from checkpoint" "$1: ... from the checkpoint"
    diff -r ref "$1.out" >/dev/null
    ok $? "$1: outputs byte-identical to the uninterrupted run's"
}

after() { :; }
for stage in minhash lsh; do
    frozen_run "$stage" "$stage" --set executor.heartbeat_timeout=5
    log=$(cat "$stage.log")
    is "$st" 1 "rank 2 frozen in $stage, heartbeat_timeout 5: exit 1" || diag "$log"
    ok $([ "$took" -le 60 ]; echo $?) "... $took s after the freeze (at most 60)"
    # Frozen as it entered a shuffle round's communicator, rank 2 cannot be
    # told from the actors that wait in it with it: the error names one of
    # them and lists the others as silent too.
    if [ "$stage" = minhash ]; then
        like "$log" "rank 2 \(host [^)]+\) has sent nothing for [0-9]+ s \(heartbeat_timeout 5 s\) during stage '$stage'" \
            "the error names rank 2, its host, the stage and the silence"
    else
        like "$log" "error: rank [123] \(host [^)]+\) has sent nothing for [0-9]+ s \(heartbeat_timeout 5 s\) during stage '$stage'" \
            "the error names a silent rank, its host, the stage and the silence"
        like "$log" "error: rank 2 \(host|silent too: rank ([0-9]+ \([^)]*\), )*2 \(" \
            "... rank 2, or lists it as silent too"
    fi
    run_gone "$PWD/$stage.ck" 10; ok $? "no process of the run is left (the frozen one neither)"
    like "$("$WINNOW" status "$stage.ck")" "run ended with status 1.*
resumable: the same command goes on from here" "winnow status: the run ended with 1, resumable"
    resumes "$stage"
done
like "$(cat minhash.log)" "which waits on it for: batch(es)? [0-9]" "in minhash it names the batches rank 2 holds"
like "$(cat lsh.log)" "stage 'lsh' \(shuffle round [0-9]+ of 20\), which waits on it for: [a-z]" \
    "in lsh it names the round and what the named rank owes"

# A stop with a frozen rank: SIGUSR1 to rank 1 half a second after rank 2
# froze; drain_timeout 5 bounds it (heartbeat_timeout stays at 300).
after() { sleep 0.5; kill -USR1 "$(rank_pid "$PWD/drain.ck" 1)"; }
frozen_run drain minhash --set executor.drain_timeout=5
log=$(cat drain.log)
is "$st" 3 "rank 2 frozen, then SIGUSR1: exit 3" || diag "$log"
ok $([ "$took" -le 45 ]; echo $?) "... $took s after the freeze (drain 5 s, 10 s for the ranks to leave)"
like "$log" "rank 2 \([^)]+\) did not leave the run within 10 s of its end" "the rank that did not leave is named"
run_gone "$PWD/drain.ck" 10; ok $? "no process of the run is left"
like "$("$WINNOW" status drain.ck)" "run ended with status 3 \(stopped, resumable\)" \
    "winnow status: stopped, resumable"
after() { :; }
resumes drain

# Alive but slow: batches of 8 s with heartbeat_timeout 2.
cat >slow.yaml <<'YAML'
name: slow
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 3, rows: 2}}
  - {name: work, type: teststages.so:sleep, batch_size: 1, params: {ms_per_task: 8000, ms_per_item: 0}}
YAML
out=$(mpirun_np 4 "$WINNOW" run slow.yaml --set executor.heartbeat_timeout=2 --results slow.jsonl \
      --progress off 2>&1); st=$?
ok $st "batches of 8 s with heartbeat_timeout 2: the run completes" || diag "$out"
is "$(wc -l <slow.jsonl)" 6 "... with all 6 rows"

done_testing
