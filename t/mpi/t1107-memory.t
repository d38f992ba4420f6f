#!/bin/bash
# wn-timeout: 900
# A memory budget per rank (executor.memory_limit): fuzzy dedup on a
# corpus of real text 8 times the budget, 4 ranks.  Every rank's peak RSS
# stays within the budget (and MPI's shared memory), stage outputs beyond
# it spill (and are read back), the output is byte-identical to a run
# without a limit, and no spill file is left.  A run killed with SIGKILL while it spills resumes
# on another rank count to the same bytes.  A spill file changed on disk
# (a byte flipped by WINNOW_TEST_SPILL_FLIP) fails the run, naming the
# file, and never yields an output.  A batch over the budget fails before
# its stage's work, naming the stage, its size and what to lower.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples
LIMIT=$((48 << 20))
MB=$((8 * LIMIT / 1000000 + 1))
python3 "$SRCDIR/bench/textcorpus.py" --out in --base-mb 25 --copies $(((MB + 24) / 25)) >gen.log 2>&1
ok $? "a corpus of real text: $(du -sb in | cut -f1) bytes, 8 x the ${LIMIT}-byte budget" ||
    { diag "$(cat gen.log)"; done_testing; }
insize=$(du -sb in | cut -f1)
ok $([ "$insize" -ge $((8 * LIMIT)) ]; echo $?) "... at least 8 x the budget ($insize bytes)"
mkdir spill
abs=$PWD
budget=(--set executor.memory_limit=$LIMIT --set executor.spill_dir="$abs/spill")

# rss_and_spill STATS: "max-peak-MiB spilled-bytes read-back-bytes"
rss_and_spill() {
    python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sp = s.get("spill") or {}
print(max(s["peak_rss_mib"]), sum(sp.get("bytes_spilled") or [0]), sum(sp.get("bytes_read_back") or [0]),
      ",".join(map(str, s["peak_rss_mib"])))
PY
}

out=$(mpirun_np 4 "$WINNOW" plan "$EX/fuzzy-dedup.yaml" --set input=in --set output=o "${budget[@]}" 2>&1)
like "$out" "memory per rank: 48 MiB: executor.memory_limit; [0-9]+ MiB of it for data" \
    "plan: the budget and what of it is for data"
like "$out" "blocksize: [0-9.]+ MiB \(256.00 MiB configured, lowered to fit a sixteenth" \
    "plan: read_jsonl's blocksize lowered to fit the budget"

out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=ref \
      --progress off 2>&1)
ok $? "fuzzy dedup without a limit (the reference)" || diag "$out"

out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=lim \
      "${budget[@]}" --stats lim.json --progress off 2>&1)
ok $? "fuzzy dedup with memory_limit 48 MiB, 4 ranks" || diag "$out"
read -r peak spilled back per <<<"$(rss_and_spill lim.json)"
# The bound is the budget and 4 MiB: MPI's shared-memory segments, mapped
# once ranks first talk, after the budget has measured what a rank holds
# (doc/guide.md, 1.8).  The peak was 49 MiB here.
bound=$(((LIMIT >> 20) + 4))
ok $([ "$peak" -le $bound ]; echo $?) \
    "every rank's peak RSS within the bound ($per MiB; at most $bound, the budget $((LIMIT >> 20)))"
ok $([ "$spilled" -gt "$LIMIT" ] && [ "$back" -ge "$spilled" ]; echo $?) \
    "stage outputs spilled and were read back ($spilled and $back bytes)"
like "$out" "spilled: [0-9.]+ MiB of stage outputs to spill files" "the summary says so"
diff -r ref lim >/dev/null
ok $? "the output is byte-identical to the reference"
is "$(ls -A spill)" "" "no spill file left"

# SIGKILL while spilling: every rank, once one holds a spill file open.
ck=$abs/ck
mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=kil "${budget[@]}" \
    --checkpoint "$ck" --progress off >kill1.log 2>&1 &
mp=$!
spilling=0
for _ in $(seq 600); do
    for p in $(run_pids "$ck"); do
        ls -l /proc/$p/fd 2>/dev/null | grep -q "winnow-spill-" && spilling=1
    done
    [ $spilling = 1 ] && break
    sleep 0.05
done
pkill -9 -f -- "--checkpoint $ck" 2>/dev/null
kill -9 $mp 2>/dev/null
wait $mp 2>/dev/null
ok $([ $spilling = 1 ]; echo $?) "killed with SIGKILL while a rank held a spill file"
run_gone "$ck" 10
ok $? "... every rank gone"
is "$(ls -A spill)" "" "... and no spill file left behind"
out=$(mpirun_np 3 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=kil \
      "${budget[@]}" --checkpoint "$ck" --progress off 2>&1)
ok $? "resumed on 3 ranks" || diag "$out"
diff -r ref kil >/dev/null
ok $? "... byte-identical to the reference"

# A byte flipped in a spill file: the batch fails on every retry, and so
# does the run, naming the file; no output is written.
out=$(mpirun_np 4 -x WINNOW_TEST_SPILL_FLIP=2 "$WINNOW" run "$EX/fuzzy-dedup.yaml" \
      --set input=in --set output=bad "${budget[@]}" --progress off 2>&1)
st=$?
ok $([ $st -ne 0 ]; echo $?) "a flipped spill byte fails the run (exit $st)"
like "$out" "spill file $abs/spill/winnow-spill-[0-9]+-r[0-9]+-s[0-9]+: task [0-9a-f]+ \([0-9]+ bytes at offset [0-9]+\) fails its checksum" \
    "... the error names the spill file, the task and the offset"
ok $([ ! -e bad/dedup ] || [ -z "$(ls -A bad/dedup)" ]; echo $?) "... and no output was written"
is "$(ls -A spill)" "" "... and no spill file left"

# A batch over the budget: before the stage's work.
out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=big \
      "${budget[@]}" --set stages.minhash.batch_size=64 --progress off 2>&1)
st=$?
ok $([ $st -ne 0 ]; echo $?) "minhash batches of 64 tasks under the budget: the run fails (exit $st)"
like "$out" "stage 'minhash': batch [0-9]+ holds [0-9.]+ MiB of input, more than the [0-9.]+ MiB a batch may hold .*lower stages.minhash.batch_size \(now 64\)" \
    "... naming the stage, the batch's size and the parameter to lower"
done_testing
