#!/bin/bash
# wn-timeout: 400
# A checkpoint damaged every way t/lib/badckpt.py knows (part files with a
# flipped byte, cut short, emptied, removed, swapped, garbage, a folder;
# journal records damaged, torn, emptied; the manifest, the input listing,
# the lock, a stray file, stages/ a file), each resumed on 2 ranks: exit 0
# with the outputs of an undamaged run, or exit 2 with the reason, before
# any work.  Never a crash, a hang, or other outputs.  Real text: Debian's
# copyright files.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
n=$(python3 "$SRCDIR/t/lib/copyright_jsonl.py" in 160)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
cat >lic.yaml <<'YAML'
name: lic
stages:
  - {name: read_jsonl, type: read_jsonl, params: {input: "${input}", blocksize: 1}}
  - {name: word_count, type: word_count, batch_size: 1, params: {min_words: 50, max_words: 100000}}
  - {name: pause, type: teststages.so:sleep, batch_size: 1, params: {ms_per_item: 0, ms_per_task: 10}}
  - {name: write_jsonl, type: write_jsonl, batch_size: 1, params: {output: "${output}/filtered"}}
YAML
out=$(mpirun_np 2 "$WINNOW" run lic.yaml --set input=in --set output=ref --progress off 2>&1)
ok $? "a reference run" || diag "$out"
# A checkpoint of a run halted after its second stage.
out=$( { WINNOW_TEST_BATCH_DELAY_MS=300 mpirun_np 2 "$WINNOW" run "$TEST_TMP/lic.yaml" \
         --set input="$TEST_TMP/in" --set output=o --checkpoint ck --progress off >/dev/null 2>&1 & mp=$!
         for i in $(seq 100); do sleep 0.1; "$WINNOW" halt ck --after-stage word_count \
             >/dev/null 2>&1 && break; done; wait $mp; echo "exit=$?"; } )
like "$out" "exit=3" "a run halted after its second stage: exit 3, a checkpoint"
out=$(python3 "$SRCDIR/t/lib/badinput.py" ckpt ck cases 2>&1); st=$?
ok $st "badinput.py ckpt made the damaged copies: $out" || { diag "$out"; done_testing; }

while IFS=$'\x1e' read -r name dir expect says; do
    rm -rf "$dir/o"
    out=$(cd "$dir" && timeout 120 mpirun -np 2 --oversubscribe --bind-to none "$WINNOW" run "$TEST_TMP/lic.yaml" \
          --set input="$TEST_TMP/in" --set output=o --checkpoint ck --progress off 2>&1 </dev/null)
    st=$?
    case $expect in
    ok)
        if [ $st -eq 0 ] && diff -r "$TEST_TMP/ref/filtered" "$dir/o/filtered" >/dev/null &&
           printf '%s' "$out" | grep -Eq -- "$says"; then
            ok 0 "$name: resumed, exit 0, the outputs of an undamaged run"
        else
            ok 1 "$name: resumed, exit 0, the outputs of an undamaged run (exit $st)"
            diag "$out"
        fi ;;
    refuse)
        if [ $st -eq 2 ] && printf '%s' "$out" | grep -Eq -- "$says" &&
           [ -z "$(find "$dir/o" -type f ! -name .winnow-lock 2>/dev/null)" ]; then
            ok 0 "$name: refused with exit 2, no output file written"
        else
            ok 1 "$name: refused with exit 2, no output file written (exit $st)"
            diag "$out"
        fi ;;
    esac
done < <(python3 -c '
import json, sys
for c in json.load(open("cases/cases.json"))["cases"]:
    print("\x1e".join([c["name"], c["dir"], c["expect"], c["says"]]))
')

done_testing
