#!/bin/bash
# bench/peers/datatrove.sh [BUILDDIR] [DOCS] [RANKS] - winnow's fuzzy dedup
# against datatrove's MinHash dedup (installed from PyPI into a virtual
# environment under $TMPDIR; not part of CI) on the same labelled corpus
# (bench/mutate.py), with the same band parameters (20 x 13, 32-bit) and
# the same number of processes.  datatrove shingles word 5-grams (it has no
# character n-grams), so quality is compared as measured, not as equal
# work.  Prints both runs' time, docs/s and quality, and last:
#   peer-datatrove: <docs/s> docs/s, ratio <R> vs datatrove
# (winnow's docs/s over datatrove's).  FUZZY_LAB=DIR reuses a corpus.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
docs=${2:-2000}
ranks=${3:-4}
venv=${DATATROVE_VENV:-${TMPDIR:-/tmp}/winnow-datatrove-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    # xxhash 4 refuses str, which datatrove 0.10 hashes.
    "$venv/bin/pip" install -q datatrove "xxhash<4" regex tokenizers orjson spacy
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/winnow-peer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -n "${FUZZY_LAB:-}" ]; then
    lab=$FUZZY_LAB
else
    lab=$tmp/lab
    python3 "$top/bench/mutate.py" --out "$lab" --docs "$docs" --seed 1 --parts 16 2>/dev/null
fi
n=$(cat "$lab"/corpus/*.jsonl | wc -l)
t0=$(date +%s.%N)
mpirun -np "$ranks" --oversubscribe --bind-to none "$build/winnow" run \
    "$top/examples/fuzzy-dedup.yaml" --set input="$lab/corpus" --set output="$tmp/winnow" \
    --set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id \
    --set stages.read_jsonl.params.blocksize=4194304 --progress off >"$tmp/winnow.log" 2>&1
t1=$(date +%s.%N)
qw=$(python3 "$top/bench/quality.py" "$lab/truth.jsonl" "$tmp/winnow/duplicate_groups.jsonl" \
     --corpus "$lab/corpus" | tail -n 1)
t2=$(date +%s.%N)
"$venv/bin/python" "$top/bench/peers/datatrove_fuzzy.py" "$lab/corpus" "$tmp/dt" "$ranks" \
    >"$tmp/dt.log" 2>&1 || { tail -20 "$tmp/dt.log"; exit 1; }
t3=$(date +%s.%N)
qd=$(python3 "$top/bench/quality.py" "$lab/truth.jsonl" "$tmp/dt/duplicate_groups.jsonl" \
     --corpus "$lab/corpus" | tail -n 1)
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v qw="$qw" -v qd="$qd" -v r="$ranks" 'BEGIN {
    w = b - a; t = d - c
    printf "winnow    (%d ranks)     %6.2f s %8.0f docs/s  %s\n", r, w, n / w, qw
    printf "datatrove (%d processes) %6.2f s %8.0f docs/s  %s\n", r, t, n / t, qd
    printf "peer-datatrove: %.0f docs/s, ratio %.2f vs datatrove\n", n / w, t / w }'
