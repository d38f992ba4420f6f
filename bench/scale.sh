#!/bin/bash
# bench/scale.sh [BUILDDIR] [RANKS] [SIZES_MB] - memory as the corpus grows.
# Fuzzy dedup (examples/fuzzy-dedup.yaml at its defaults) with a memory
# budget of executor.memory_limit = 128 MiB per rank (SCALE_LIMIT=bytes
# changes it), on 4 ranks, on corpora of real text of about 25, 100 and
# 400 MB (SIZES_MB, space-separated, each a multiple of the first) made at
# run time by bench/textcorpus.py: the base of SIZES_MB's first size, then
# copies of it with their letters shifted so that copies share no n-grams.
# For each size it prints the wall time, documents/s, every rank's peak RSS
# (--stats), the bytes spilled and read back, and the checkpoint's size on
# disk.  The baseline, run in the same invocation, is the smallest corpus;
# the last two lines:
#   scale: <docs/s> docs/s at the largest, ratio <R> vs the smallest
#   scale: <MiB> MiB peak at the largest, ratio <R> vs the smallest
# (the peak is the largest rank's).  Goals: docs/s ratio >= 0.8; the peak
# ratio <= 1.2 once the budget is filled (the smallest corpus may not fill
# it: see doc/guide.md, 1.8).
# SCALE_DIR=DIR keeps the corpora there between invocations (they take
# about 30 s to make for 400 MB).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
ranks=${2:-4}
sizes=${3:-25 100 400}
limit=${SCALE_LIMIT:-134217728}
W=$build/winnow
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/winnow-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
corpora=${SCALE_DIR:-$tmp/corpora}
base=${sizes%% *}
echo "fuzzy dedup, $ranks ranks, memory_limit $((limit / 1048576)) MiB per rank"
printf '%-8s %8s %8s %9s  %-28s %10s %10s %10s\n' corpus docs wall docs/s \
    "peak RSS MiB per rank" spilled "read back" checkpoint
first_rate="" first_peak="" rate="" peak=""
for mb in $sizes; do
    copies=$((mb / base))
    dir=$corpora/$mb
    if [ ! -f "$dir/.done" ]; then
        rm -rf "$dir"
        python3 "$top/bench/textcorpus.py" --out "$dir" --base-mb "$base" --copies "$copies" \
            >"$tmp/corpus.log"
        touch "$dir/.done"
    fi
    docs=$(cat "$dir"/*.jsonl | wc -l)
    rm -rf "$tmp/out" "$tmp/ck" "$tmp/stats.json"
    t0=$(date +%s.%N)
    mpirun -np "$ranks" --oversubscribe --bind-to none "$W" run "$top/examples/fuzzy-dedup.yaml" \
        --set input="$dir" --set output="$tmp/out" --set executor.memory_limit="$limit" \
        --checkpoint "$tmp/ck" --stats "$tmp/stats.json" --progress off >"$tmp/run.log" 2>&1 ||
        { tail -n 30 "$tmp/run.log"; exit 1; }
    t1=$(date +%s.%N)
    ck=$(du -sb "$tmp/ck" | cut -f1)
    read -r wall rate rss peak spilled readback <<<"$(python3 - "$tmp/stats.json" "$t0" "$t1" "$docs" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
rss = s.get("peak_rss_mib") or [0]
sp = s.get("spill") or {}
print("%.2f %.0f %s %d %d %d" % (wall, int(sys.argv[4]) / wall, ",".join(map(str, rss)), max(rss),
      sum(sp.get("bytes_spilled") or [0]), sum(sp.get("bytes_read_back") or [0])))
PY
)"
    printf '%-8s %8s %7ss %9s  %-28s %10s %10s %10s\n' "$mb MB" "$docs" "$wall" "$rate" "$rss" \
        "$spilled" "$readback" "$ck"
    [ -n "$first_rate" ] || { first_rate=$rate; first_peak=$peak; }
done
awk -v r="$rate" -v r0="$first_rate" -v p="$peak" -v p0="$first_peak" 'BEGIN {
    printf "scale: %s docs/s at the largest, ratio %.2f vs the smallest\n", r, r / r0
    printf "scale: %s MiB peak at the largest, ratio %.2f vs the smallest\n", p, p / p0 }'
