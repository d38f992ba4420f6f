#!/bin/bash
# wn-timeout: 400
# Malformed JSON Lines among good lines of real Debian text, as
# t/lib/badinput.py makes them (truncations, bad escapes and numbers,
# unbalanced brackets, trailing garbage, control characters, lone
# surrogates, invalid UTF-8, NUL bytes, huge numbers, deep nesting, blank
# lines, CRLF, no newline at the end, a BOM, values that are not an
# object with a string text; plain, gzip and zstd files, one in a
# subdirectory, one empty): every good line is kept exactly once, every
# bad one is in the rejects file with its file and line, nothing else,
# on any number of ranks, and examples/exact-dedup.yaml copies the
# corpus through unchanged (its texts are all distinct).
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
BAD=$SRCDIR/t/lib/badinput.py

out=$(python3 "$BAD" jsonl j 2>&1); st=$?
ok $st "badinput.py made the corpus: $out" || { diag "$out"; done_testing; }

# check RESULTS REJECTS: the one place the corpus's verdicts are checked.
check() {
    python3 "$BAD" check-jsonl j/manifest.json --input j/in --results "$1" --rejects "$2"
}

# Nearly half the corpus is bad lines: more than the default
# max_reject_fraction (0.1), which fails the run naming the reasons.
cat >read.yaml <<'YAML'
name: bad-jsonl
stages:
  - name: read
    type: read_jsonl
    params: {input: "${input}", blocksize: 2000000}
YAML
out=$("$WINNOW" run read.yaml --set input=j/in --set output=r0 --progress off 2>&1); st=$?
is $st 1 "the corpus with the default max_reject_fraction: exit 1"
like "$out" "stage 'read' rejected [0-9]+ of the [0-9]+ records it read \([0-9.]+%, more than max_reject_fraction 0.1\): [0-9]+ invalid JSON, .*[0-9]+ invalid UTF-8" \
    "... counting the rejects per reason"
echo "max_reject_fraction: 1" >>read.yaml
for np in 3 1; do
    if [ $np -eq 1 ]; then
        out=$("$WINNOW" run read.yaml --set input=j/in --set output=r$np --results r$np.jsonl \
              --progress off 2>&1); st=$?
    else
        out=$(mpirun_np $np "$WINNOW" run read.yaml --set input=j/in --set output=r$np \
              --results r$np.jsonl --progress off 2>&1); st=$?
    fi
    ok $st "read_jsonl over the corpus on $np rank(s): no crash, exit 0" || diag "$out"
    problems=$(check r$np.jsonl r$np/rejects.jsonl); st=$?
    ok $st "$np rank(s): good lines kept once with their bytes, bad ones rejected with file and line, nothing else" \
        || diag "$problems"
done
cmp -s r3/rejects.jsonl r1/rejects.jsonl
ok $? "the rejects file is the same on 3 ranks and on 1"

# The checker must be able to fail: one good line dropped, one kept that
# is not in the corpus and a rejects record written twice are reported.
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("r1.jsonl")][1:]
rows.append(dict(rows[0], _line=rows[0]["_line"] + 1))
open("broken.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))
rej = open("r1/rejects.jsonl").readlines()
open("broken-rejects.jsonl", "w").write("".join(rej + rej[:1]))
PY
problems=$(check broken.jsonl broken-rejects.jsonl); st=$?
is $st 1 "the checker fails a run that lost or added lines"
like "$problems" "lost: a good line" "... naming the lost line"
like "$problems" "kept, but it must not be" "... the line kept by mistake"
like "$problems" "rejected 2 times" "... and the record written twice"

# The whole exact deduplication: every text is distinct, so the output is
# the input, byte for byte (rejected and blank lines are copied too), but
# for the newline the writers end every line with.
out=$(mpirun_np 2 "$WINNOW" run "$SRCDIR/examples/exact-dedup.yaml" --set input=j/in \
      --set output=ed --set max_reject_fraction=1 --progress off 2>&1); st=$?
ok $st "examples/exact-dedup.yaml over the corpus on 2 ranks" || diag "$out"
problems=$(python3 "$BAD" check-jsonl j/manifest.json --input j/in --rejects ed/rejects.jsonl); st=$?
ok $st "its rejects file holds exactly the bad lines" || diag "$problems"
differ=$(python3 - <<'PY'
import gzip, os, subprocess
def read(path):
    if path.endswith(".gz"):
        return gzip.open(path).read()
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return open(path, "rb").read()
n = 0
for root, _, names in os.walk("j/in"):
    for name in sorted(names):
        src = os.path.join(root, name)
        dst = os.path.join("ed/dedup", os.path.relpath(src, "j/in"))
        want = read(src)
        if want and not want.endswith(b"\n"):
            want += b"\n"
        n += 1
        if not os.path.exists(dst) or read(dst) != want:
            print(dst, "is not", src)
print(n, "files")
PY
)
nfiles=$(ls -R j/in | grep -c 'jsonl')
is "$differ" "$nfiles files" "every output file is its input file, the last line ended with a newline"

done_testing
