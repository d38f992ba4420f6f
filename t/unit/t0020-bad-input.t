#!/bin/bash
# wn-timeout: 600
# Bad pipeline files and bad --set arguments, as t/lib/badinput.py makes
# them (syntax, types, unknown and duplicate keys, every executor, stage
# and resources key out of range, every refused stage parameter, huge
# numbers, deep nesting, aliases, encodings, binary, empty, a device, a
# directory, 17 MiB): each must exit 2, naming the file and line (or the
# --set) and what is wrong, before any work (no output folder, no
# checkpoint), without a crash or a hang.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

python3 "$SRCDIR/t/lib/badinput.py" yaml . >gen.out 2>&1; st=$?
ok $st "badinput.py made the cases: $(cat gen.out)" || { diag "$(cat gen.out)"; done_testing; }
ncases=$(wc -l <cases.txt)
ok $([ "$ncases" -ge 150 ]; echo $?) "at least 150 cases ($ncases)"

# Each case in a folder of its own (cases/ linked in, so messages name
# cases/...), four at a time: most of a case is the process starting.
run_case() { # N FILE ARGS...
    _d=w$1; _f=$2; shift 2
    mkdir -p "$_d" && ln -sfn ../cases "$_d/cases" && cd "$_d" || return
    _t0=$(date +%s%N)
    # A hang is a failure too: 60 s is far beyond any case.
    timeout 60 "$WINNOW" run "$_f" --checkpoint ckpt --progress off "$@" >case.out 2>&1 </dev/null
    _st=$?
    # A singleton MPI_Init that OpenMPI itself fails (its helper daemon
    # not starting on a loaded machine) is not the case's answer: once
    # more, and the first answer kept in retried.out for the diagnosis.
    if [ $_st = 1 ] && grep -Eq 'MPI_Init|orte_init|ompi_rte_init|ORTE_ERROR_LOG' case.out; then
        mv case.out retried.out
        timeout 60 "$WINNOW" run "$_f" --checkpoint ckpt --progress off "$@" >case.out 2>&1 </dev/null
        _st=$?
    fi
    echo "$_st $(( ($(date +%s%N) - _t0) / 1000000 ))" >status
}
i=0
while IFS=$'\x1e' read -r name file at says args; do
    set --
    if [ -n "$args" ]; then
        IFS=$'\x1f' read -r -a extra <<<"$args"
        set -- "${extra[@]}"
    fi
    run_case $i "$file" "$@" &
    i=$((i + 1))
    [ $((i % 4)) -eq 0 ] && wait
done <cases.txt
wait

slowest=0 slowest_name= i=0
while IFS=$'\x1e' read -r name file at says args; do
    read -r st ms <w$i/status || { st=none; ms=0; }
    [ "$ms" -gt "$slowest" ] && slowest=$ms slowest_name=$name
    msg=$(grep -m1 "error: " w$i/case.out)
    why=
    [ "$st" = 2 ] || why="exit $st, not 2"
    [ -z "$why" ] && ! grep -Eq -- "error: $at" <<<"$msg" && why="the error does not start at /$at/"
    [ -z "$why" ] && [ -n "$says" ] && ! grep -Fq -- "$says" <<<"$msg" && why="the error does not say '$says'"
    [ -z "$why" ] && [ -e w$i/out ] && why="the output folder was created"
    [ -z "$why" ] && [ -e w$i/ckpt ] && why="the checkpoint was created"
    if [ -z "$why" ]; then
        ok 0 "$name"
    else
        ok 1 "$name: $why"
        diag "winnow run $file $(tr '\037' ' ' <<<"$args") (${ms} ms):" "$(head -c 2000 w$i/case.out)"
        [ -e w$i/retried.out ] && diag "... after a first try that MPI failed:" "$(head -c 2000 w$i/retried.out)"
    fi
    [ -e w$i/retried.out ] && diag "$name: MPI_Init failed once, the second try answered"
    i=$((i + 1))
done <cases.txt
diag "slowest case: $slowest_name, $slowest ms"
ok $([ $slowest -lt 10000 ]; echo $?) "every case refused within 10 s (slowest $slowest ms)"

# The same limits through a pipe: a pipeline may come from one, an
# endless one is cut at 16 MiB.
out=$(printf 'name: piped\nstages: [{type: teststages.so:noop}]\n' | "$WINNOW" plan /dev/stdin 2>&1); st=$?
ok $st "a pipeline read from a pipe" || diag "$out"
out=$(yes '# a comment that never ends' | timeout 60 "$WINNOW" run /dev/stdin 2>&1); st=$?
is $st 2 "an endless pipe: exit 2"
like "$out" "/dev/stdin: more than 16 MiB; a pipeline file has a few KiB" "... cut at 16 MiB"

done_testing
