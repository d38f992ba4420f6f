#!/bin/bash
# wn-timeout: 300
# Column pruning: every built-in stage declares the columns it reads and
# writes (wn_stage_set_columns), and the runner drops from each stage's
# outputs the columns no later stage reads, before storing and
# checkpointing them.  In the fuzzy pipeline minhash's outputs, and so its
# part files, hold the ids and signatures only, and read_jsonl's hold no
# raw lines; `winnow plan` says so.  A stage that declares nothing (a test
# plugin, as any ABI 1 or 2 plugin) reads every column: put after minhash,
# it makes minhash keep the text, and the results are the same bytes.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples
n=$(python3 "$SRCDIR/t/lib/copyright_jsonl.py" in 300 4)
[ "${n:-0}" -ge 100 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
insize=$(du -sb in | cut -f1)

out=$("$WINNOW" plan "$EX/fuzzy-dedup.yaml" --set input=in --set output=o 2>&1)
ok $? "winnow plan runs" || diag "$out"
kept() { awk -v s="$1" '$1 == s"." { f = 1; next } f && /columns kept:/ { sub(/.*columns kept: /, ""); print; exit }' <<<"$out"; }
is "$(kept 1)" "_curator_dedup_id, text" "plan: read_jsonl keeps the ids and the text minhash reads"
is "$(kept 2)" "_curator_dedup_id, _minhash_signature" "plan: minhash keeps ids and signatures"
is "$(kept 7)" "all (the last stage)" "plan: the last stage keeps everything"

out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=pruned \
      --checkpoint ck1 --progress off 2>&1)
ok $? "fuzzy dedup, 4 ranks, with a checkpoint" || diag "$out"
# cols DIR: the column names of every part file under DIR, sorted, unique.
cols() { for f in "$1"/part-*.h5; do "$WINNOW" inspect "$f"; done | awk '/^  [^ ]/ { print $1 }' | sort -u | tr '\n' ' '; }
is "$(cols ck1/stages/01-minhash)" "_curator_dedup_id _minhash_signature " \
    "minhash's part files hold ids and signatures only"
is "$(cols ck1/stages/00-read_jsonl)" "_curator_dedup_id text " "read_jsonl's hold no raw lines"
g=$(wc -l <pruned/duplicate_groups.jsonl)
ok $([ "$g" -gt 0 ]; echo $?) "... it finds duplicates ($g documents in groups)"

# The same pipeline with an undeclared stage after minhash.
python3 - "$EX/fuzzy-dedup.yaml" >whole.yaml <<'PY'
import sys
out = []
for line in open(sys.argv[1]):
    if line.strip() == "- name: lsh":
        out.append("  - {name: whole, type: teststages.so:noop}\n")
    out.append(line)
sys.stdout.write("".join(out))
PY
grep -q "name: whole" whole.yaml || BAIL_OUT "could not add the noop stage"
out=$(mpirun_np 4 "$WINNOW" run whole.yaml --set input=in --set output=whole --checkpoint ck2 \
      --progress off 2>&1)
ok $? "... with an undeclared stage after minhash" || diag "$out"
is "$(cols ck2/stages/01-minhash)" "_curator_dedup_id _file _line _minhash_signature _raw text " \
    "... minhash keeps every column for it"
diff -r pruned/dedup whole/dedup >/dev/null && cmp -s pruned/duplicate_groups.jsonl whole/duplicate_groups.jsonl
ok $? "... byte-identical results to the pruned run"
c1=$(du -sb ck1 | cut -f1)
c2=$(du -sb ck2 | cut -f1)
ok $([ $((c1 * 2)) -le "$insize" ]; echo $?) "the pruned checkpoint is at most half the input ($c1 of $insize bytes; unpruned $c2)"
done_testing
