#!/bin/bash
# wn-timeout: 400
# The shipped pipelines end to end on real text nobody on the team wrote
# (Debian's copyright files: many exact and near copies of the same
# licenses), in plain, gzip and zstd files, one in a subdirectory, with
# a malformed line: examples/fuzzy-dedup.yaml, exact-dedup.yaml and
# filter.yaml run as users run them (--set input= --set output=).  The
# outputs are checked against the input files line by line, do not depend
# on the rank count or batch sizes, and survive kill -9 and resume.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
EX=$SRCDIR/examples
command -v zstd >/dev/null || skip_all "zstd not installed (scripts/install-deps.sh installs it)"
n=$(python3 - <<'PY'
import glob, gzip, json, os, subprocess
files = sorted(glob.glob('/usr/share/doc/*/copyright'))
docs = []
for p in files:
    docs.append({"id": p.split('/')[4], "text": open(p, encoding='utf-8', errors='replace').read()})
os.makedirs('in/sub')
parts = [[], [], [], []]
for i, d in enumerate(docs):
    parts[i % 4].append(json.dumps(d) + "\n")
parts[0].insert(3, "{not json\n")
parts[1].append(json.dumps({"id": 12345, "text": docs[0]["text"]}) + "\n")   # a numeric id
open('in/a.jsonl', 'w').write("".join(parts[0]))
with gzip.open('in/b.jsonl.gz', 'wt') as f:
    f.write("".join(parts[1]))
subprocess.run(["zstd", "-q", "-o", "in/sub/c.jsonl.zst"], input="".join(parts[2]).encode(), check=True)
open('in/sub/d.jsonl', 'w').write("".join(parts[3]))
# a file all of whose documents the filters drop (fewer than 50 words)
open('in/e.jsonl', 'w').write("".join(json.dumps({"id": "short%d" % i, "text": "%d words only" % i}) + "\n"
                                      for i in range(3)))
print(len(docs))
PY
)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
IDS="--set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id"

# check_dedup OUT: OUT/dedup holds every input file, same name and
# compression, its lines those of the input minus the documents marked
# kept: false in OUT/duplicate_groups.jsonl, byte for byte; every group has
# one kept document, its smallest id; documents with the same text share a
# group.  Prints a summary.
check_dedup() { python3 "$SRCDIR/t/lib/dedup_check.py" dedup "$1" "$2"; }

out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=f4 $IDS \
      --progress off 2>&1); st=$?
ok $st "fuzzy-dedup.yaml on $n documents in 5 files (plain, gzip, zstd), 4 ranks" || diag "$out"
like "$out" "remove_duplicates: $((n + 5)) documents in 5 files, [0-9]+ of them in [0-9]+ duplicate groups, [0-9]+ removed" "it says what it found"
r=$(check_dedup f4 fuzzy); ok $? "OUTPUT/dedup is the input minus the duplicates, line for line; groups keep their smallest id: $r"
is "$(wc -l <f4/rejects.jsonl)" 1 "the malformed line is in OUTPUT/rejects.jsonl"
like "$(cat f4/duplicate_groups.jsonl)" '"id": 12345, "group": [0-9]+, "kept": false' "a numeric id is written as it was in its line"
[ -f f4/dedup/e.jsonl ] && [ "$(wc -l <f4/dedup/e.jsonl)" = 3 ]
ok $? "a file without duplicates is copied whole"

# The same bytes on 1 and 2 ranks, with blocksize 1 (plain files cut into a
# task per line, compressed ones a task each) and other batch sizes.
out=$("$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=f1 $IDS --progress off 2>&1)
ok $? "the same alone (1 rank)" || diag "$out"
out=$(mpirun_np 2 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=f2 $IDS \
      --set stages.read_jsonl.params.blocksize=1 --set stages.minhash.batch_size=2 \
      --set stages.lsh.batch_size=1 --set stages.buckets_to_edges.batch_size=3 \
      --set stages.lsh.params.bands_per_iteration=3 --progress off 2>&1)
ok $? "on 2 ranks, a task per line or compressed file, other batch sizes and band iteration" || diag "$out"
diff -r f4/dedup f1/dedup >/dev/null && cmp -s f4/duplicate_groups.jsonl f1/duplicate_groups.jsonl
ok $? "byte-identical outputs on 4 ranks and 1"
diff -r f4/dedup f2/dedup >/dev/null && cmp -s f4/duplicate_groups.jsonl f2/duplicate_groups.jsonl
ok $? "byte-identical outputs on 4 ranks and 2 with other batches"

# With jaccard_threshold and a wider layout (25 bands of 10, set on the
# minhash stage only; lsh takes it): the same bytes on 4 ranks and 1.
T="--set stages.buckets_to_edges.jaccard_threshold=0.8 --set stages.minhash.params.num_bands=25
   --set stages.minhash.params.minhashes_per_band=10"
out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=t4 $IDS $T \
      --progress off 2>&1); st=$?
ok $st "jaccard_threshold 0.8 with 25 x 10 bands, 4 ranks" || diag "$out"
r=$(check_dedup t4 fuzzy); ok $? "... the dedup output checks: $r"
out=$("$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=t1 $IDS $T \
      --set stages.read_jsonl.params.blocksize=1 --progress off 2>&1)
ok $? "... 1 rank, a task per line or compressed file" || diag "$out"
diff -r t4/dedup t1/dedup >/dev/null && cmp -s t4/duplicate_groups.jsonl t1/duplicate_groups.jsonl
ok $? "... byte-identical outputs"

# Without id_field, documents are named PATH:LINE below the input.
out=$(mpirun_np 3 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=in --set output=fp \
      --progress off 2>&1)
ok $? "without id_field" || diag "$out"
like "$(cat fp/duplicate_groups.jsonl)" '"id": "sub/c.jsonl.zst:[0-9]+"' "documents named PATH:LINE below the input"
diff -r f4/dedup fp/dedup >/dev/null; ok $? "the same deduplicated corpus"

# Exact dedup: the groups of identical texts, nothing else.
out=$(mpirun_np 3 "$WINNOW" run "$EX/exact-dedup.yaml" --set input=in --set output=x3 \
      --set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id \
      --set stages.read_jsonl.params.blocksize=1 --progress off 2>&1); st=$?
ok $st "exact-dedup.yaml on 3 ranks" || diag "$out"
r=$(check_dedup x3 exact); ok $? "exact groups are the sets of identical texts: $r"
# More clique members than tasks: remove_duplicates' members given no task
# still write files, and each output task has an id of its own (a key made
# of no input ids gave them one id, and --results an order that varied).
out=$(mpirun_np 4 "$WINNOW" run "$EX/exact-dedup.yaml" --set input=in --set output=x4 \
      --results x4.results --progress off 2>&1); st=$?
ok $st "exact-dedup.yaml on 4 ranks with --results" || diag "$out"
is "$(python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
keys={(r["task"], r["row"]) for r in rows}
print(len(rows) >= 2, len(keys) == len(rows))' x4.results)" "True True" \
    "every final row has its own (task, row)" || diag "$(cat x4.results)"

# Filters, then write_jsonl: every input file written, kept lines as read.
out=$(mpirun_np 4 "$WINNOW" run "$EX/filter.yaml" --set input=in --set output=fl \
      --set stages.read_jsonl.params.blocksize=1 --progress off 2>&1); st=$?
ok $st "filter.yaml on 4 ranks" || diag "$out"
r=$(python3 "$SRCDIR/t/lib/dedup_check.py" filtered fl/filtered); ok $? "every file written (one of them empty), kept lines in order and as read: $r"

# No duplicates at all: every stage still runs, nothing removed.
mkdir -p one && cp in/e.jsonl one/
out=$(mpirun_np 4 "$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=one --set output=o1 \
      --progress off 2>&1); st=$?
ok $st "a corpus without duplicates" || diag "$out"
cmp -s one/e.jsonl o1/dedup/e.jsonl && [ ! -s o1/duplicate_groups.jsonl ]
ok $? "... is copied whole, with an empty groups file"

# Output inside the input directory: refused before any work.
out=$("$WINNOW" run "$EX/fuzzy-dedup.yaml" --set input=one --set output=one/out --progress off 2>&1); st=$?
is $st 2 "an output inside the input directory is refused (exit 2)"
like "$out" "output 'one/out' lies in the input directory '.*/one'" "... saying so"
[ ! -e one/out ]; ok $? "... before anything is written"

# kill -9 of every rank in each stage in turn (as soon as the checkpoint
# shows the stages before it finished; every batch is held 300 ms so the
# kill lands inside the stage), then the same command resumes: the outputs
# equal an uninterrupted run's.
cat >k.yaml <<YAML
input: in
output: kout
$(sed -n '/^name:/,$p' "$EX/fuzzy-dedup.yaml")
YAML
out=$(mpirun_np 4 "$WINNOW" run k.yaml --set output=kref --progress off 2>&1)
ok $? "an uninterrupted run" || diag "$out"
finished() { "$WINNOW" status "$1" 2>/dev/null | awk '$3 == "done"' | wc -l; }
same=0 moments=""
for k in 0 1 2 3 4 5 6; do
    rm -rf kout ck
    # absolute paths: the kill must find this test's ranks only
    WINNOW_TEST_BATCH_DELAY_MS=300 mpirun_np 4 -x WINNOW_TEST_BATCH_DELAY_MS "$WINNOW" run "$PWD/k.yaml" \
        --checkpoint "$PWD/ck" --progress off >/dev/null 2>&1 &
    mp=$!
    while kill -0 $mp 2>/dev/null && [ "$(finished ck)" -lt $k ]; do sleep 0.05; done
    pkill -9 -f "winnow run $PWD/k.yaml --checkpoint $PWD/ck " 2>/dev/null
    kill -9 $mp 2>/dev/null
    wait $mp 2>/dev/null
    moments="$moments $(finished ck)"
    mpirun_np 4 "$WINNOW" run "$PWD/k.yaml" --checkpoint "$PWD/ck" --progress off >resume.log 2>&1 \
        && diff -r kref kout >/dev/null && same=$((same + 1))
done
is "$moments" " 0 1 2 3 4 5 6" "killed with 0, 1, ... 6 of the 7 stages finished"
is $same 7 "each resumed: identical outputs"

done_testing
