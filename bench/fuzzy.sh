#!/bin/bash
# bench/fuzzy.sh [BUILDDIR] [DOCS] [RANKS] - the fuzzy dedup pipeline end to
# end (examples/fuzzy-dedup.yaml) on a labelled corpus made at run time by
# bench/mutate.py from real text (DOCS source documents, default 2000, plus
# mutated variants of half of them, 3 each, their exact Jaccard with the
# source spread evenly over 0.3-1.0; ground truth = every pair at exact
# Jaccard >= 0.5 of 24-character n-gram sets).  For each variant of the
# pipeline (the defaults; jaccard_threshold 0.8; algorithm one_permutation)
# it prints the wall time, documents per second, the peak RSS of the
# largest rank and the sum over ranks, precision/recall/F1 of "document
# is in a duplicate group" against truth at Jaccard >= 0.8, and the F1 that
# bench/quality.py's independent-pair model expects of those LSH
# parameters on this truth (measured near the model: the parameters, not
# the pipeline, set the limit).  One more variant, 25 bands of 10 rows
# with jaccard_threshold 0.8, shows what a wider S-curve plus the check
# gives.  The corpus is cut into 16 files, read a task per 4
# MiB.  The baseline, run in the same invocation, is the same
# pipeline alone (one process doing planner and actor); the last line:
#   fuzzy: <docs/s> docs/s, ratio <R> vs 1 process
# FUZZY_LAB=DIR reuses a corpus bench/mutate.py made before (--out DIR):
# 2000 sources take about a minute to make, 6000 (48 MB) about four.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
docs=${2:-2000}
ranks=${3:-4}
W=$build/winnow
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/winnow-fuzzy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -n "${FUZZY_LAB:-}" ]; then
    ln -s "$(cd "$FUZZY_LAB" && pwd)" "$tmp/lab"
else
    python3 "$top/bench/mutate.py" --out "$tmp/lab" --docs "$docs" --seed 1 --parts 16 \
        2>"$tmp/mutate.log"
    tail -n 4 "$tmp/mutate.log"
fi
ndocs=$(cat "$tmp"/lab/corpus/*.jsonl | wc -l)
mb=$(du -sm "$tmp/lab/corpus" | cut -f1)
echo "corpus: $ndocs documents, $mb MB"
# Peak RSS of a command, in KiB (its own and its children's, as waited for).
cat >"$tmp/rss.py" <<'PY'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "a") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)
PY
# Ids from the corpus; a task per 4 MiB of input files (16 files), so that
# the stages have work to spread over the actors.
IDS="--set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id
     --set stages.read_jsonl.params.blocksize=4194304"
# run LABEL NP BANDSxROWS CHECK [--set ...]: prints one line; sets $rate
run() {
    local label=$1 np=$2 lsh=$3 check=$4
    shift 4
    rm -rf "$tmp/out" "$tmp/rss"
    local t0 t1
    t0=$(date +%s.%N)
    if [ "$np" = 1 ]; then
        python3 "$tmp/rss.py" "$tmp/rss" "$W" run "$top/examples/fuzzy-dedup.yaml" \
            --set input="$tmp/lab/corpus" --set output="$tmp/out" $IDS --progress off "$@" \
            >"$tmp/run.log" 2>&1
    else
        mpirun -np "$np" --oversubscribe --bind-to none python3 "$tmp/rss.py" "$tmp/rss" "$W" run \
            "$top/examples/fuzzy-dedup.yaml" --set input="$tmp/lab/corpus" --set output="$tmp/out" \
            $IDS --progress off "$@" >"$tmp/run.log" 2>&1
    fi || { cat "$tmp/run.log"; exit 1; }
    t1=$(date +%s.%N)
    local q m
    q=$(python3 "$top/bench/quality.py" "$tmp/lab/truth.jsonl" "$tmp/out/duplicate_groups.jsonl" \
        --corpus "$tmp/lab/corpus" --expect "$lsh" --check "$check" | tail -n 2)
    m=$(sed -n 's/^model: F1 \([0-9.]*\).*/\1/p' <<<"$q")
    q=$(tail -n 1 <<<"$q")
    read -r wall rate max sum <<<"$(awk -v t0="$t0" -v t1="$t1" -v n="$ndocs" '
        { if ($1 > max) max = $1; sum += $1 }
        END { w = t1 - t0; printf "%.2f %.0f %.0f %.0f", w, n / w, max / 1024, sum / 1024 }' "$tmp/rss")"
    printf '%-40s %6.2f s %8s docs/s  peak RSS %4s MiB/rank, %5s MiB in all  %s (model F1 %s)\n' \
        "$label" "$wall" "$rate" "$max" "$sum" "${q#quality: }" "$m"
}
T08="--set stages.buckets_to_edges.jaccard_threshold=0.8"
OPH="--set stages.minhash.params.algorithm=one_permutation"
L25="--set stages.minhash.params.num_bands=25 --set stages.minhash.params.minhashes_per_band=10"
run "1 process (baseline)" 1 20x13 0
base=$rate
run "$ranks ranks, defaults" "$ranks" 20x13 0
best=$rate
run "$ranks ranks, jaccard_threshold 0.8" "$ranks" 20x13 0.8 $T08
run "$ranks ranks, 25x10, jaccard_threshold 0.8" "$ranks" 25x10 0.8 $L25 $T08
run "$ranks ranks, one_permutation" "$ranks" 20x13 0 $OPH
run "$ranks ranks, one_permutation, 0.8" "$ranks" 20x13 0.8 $OPH $T08
awk -v r="$best" -v b="$base" -v n="$ranks" \
    'BEGIN { printf "fuzzy: %.0f docs/s, ratio %.2f vs 1 process (%d ranks)\n", r, r / b, n }'
