#!/bin/bash
# wn-timeout: 300
# Signals to mpirun (OpenMPI), as a user sends them to the command they
# started: SIGUSR1 is passed on to every rank, which drain and checkpoint,
# and mpirun exits 3; one SIGTERM makes mpirun end the job (SIGTERM to the
# ranks, SIGKILL odls_base_sigkill_timeout later): the ranks checkpoint
# within that window (the journal ends with status 3) though mpirun itself
# exits 1; two SIGTERMs make mpirun exit at once without ending the ranks,
# which notice their launcher is gone and exit without writing more.
# Every one of them resumes to the results of a run never stopped.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

# 90 batches of 0.4 s on 3 actors: about 12 s.
cat >slow.yaml <<'YAML'
name: slowsig
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 90, rows: 4}}
  - {name: work, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 100}}
  - {name: total, type: teststages.so:sum, batch_size: 10}
YAML
out=$("$WINNOW" run slow.yaml --results ref.jsonl --progress off \
      --set stages.work.params.ms_per_item=0 2>&1)
ok $? "a run never stopped (reference)" || diag "$out"

# signalled NAME SIGNAL...: runs the pipeline with checkpoint $PWD/NAME.ck
# (log NAME.log, results NAME.jsonl), sends mpirun each SIGNAL (50 ms
# apart) once 5 batches of 'work' are journaled, waits for it (at most
# 120 s).  Sets st (its exit status).
signalled() {
    local name=$1 ck=$PWD/$1.ck
    shift
    # mpirun itself, not a subshell around it (mpirun_np is a function):
    # the signals are for it.
    (exec mpirun -np 4 --oversubscribe --bind-to none "$WINNOW" run slow.yaml \
        --checkpoint "$ck" --results "$name.jsonl" --progress off >"$name.log" 2>&1) &
    local mp=$!
    for _ in $(seq 600); do
        [ "$(grep -ao '"stage":1,"sum"' "$ck/journal" 2>/dev/null | wc -l)" -ge 5 ] && break
        sleep 0.05
    done
    for sig in "$@"; do
        kill -"$sig" "$mp"
        sleep 0.05
    done
    for _ in $(seq 1200); do
        kill -0 "$mp" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$mp" 2>/dev/null; then
        diag "mpirun still running 120 s after the signal: ending it"
        kill -9 "$mp" $(run_pids "$ck") 2>/dev/null
    fi
    wait "$mp"
    st=$?
}

# resumes NAME: the same command resumes and gives the reference results.
resumes() {
    local out st
    out=$(mpirun_np 4 "$WINNOW" run slow.yaml --checkpoint "$PWD/$1.ck" --results "$1.jsonl" \
          --progress off 2>&1); st=$?
    ok $st "$1: the same command resumes" || diag "$out"
    like "$out" "resuming from checkpoint" "$1: ... from the checkpoint"
    cmp -s ref.jsonl "$1.jsonl"
    ok $? "$1: results byte-identical to the run never stopped"
}

signalled usr1 USR1
is "$st" 3 "SIGUSR1 to mpirun: it exits 3" || diag "$(cat usr1.log)"
like "$(cat usr1.log)" "stopping \(User defined signal 1 on rank" "the ranks drained"
like "$("$WINNOW" status usr1.ck)" "run ended with status 3 \(stopped, resumable\)" \
    "winnow status: stopped, resumable"
run_gone "$PWD/usr1.ck" 5; ok $? "no process of the run is left"
resumes usr1

# mpirun's kill window is 1 s by default; 3 s here, so that a loaded
# machine cannot make the drain miss it.  (mpirun sends SIGCONT, SIGTERM
# that long later, SIGKILL that long after the SIGTERM.)
export OMPI_MCA_odls_base_sigkill_timeout=3
signalled term TERM
unset OMPI_MCA_odls_base_sigkill_timeout
is "$st" 1 "one SIGTERM to mpirun: mpirun exits 1 (it ended the job)" || diag "$(cat term.log)"
like "$(cat term.log)" "stopping \(Terminated from mpirun on rank [0-9]+: it kills the job 3 s later" \
    "the ranks knew mpirun's SIGKILL was 3 s away"
like "$("$WINNOW" status term.ck)" "run ended with status 3 \(stopped, resumable\)" \
    "... and checkpointed within it: winnow status says stopped, resumable"
run_gone "$PWD/term.ck" 5; ok $? "no process of the run is left"
resumes term

# snapshot CK: every file of the checkpoint and the results, with size,
# mtime and contents.
snapshot() {
    find "$1" twice.jsonl -type f -printf '%p %s %T@\n' 2>/dev/null | sort
    find "$1" -type f -exec md5sum {} + 2>/dev/null | sort
}
signalled twice TERM TERM
ok $([ "$st" -ne 0 ]; echo $?) "two SIGTERMs to mpirun: it exits at once ($st)"
run_gone "$PWD/twice.ck" 5; ok $? "within 5 s no rank of the run is left (they noticed mpirun was gone)"
before=$(snapshot twice.ck)
sleep 3
is "$(snapshot twice.ck)" "$before" "nothing in the checkpoint or the results changes afterwards"
like "$("$WINNOW" status twice.ck)" "resumable: the same command goes on from here" \
    "the checkpoint is resumable"
resumes twice

done_testing
