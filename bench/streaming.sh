#!/bin/bash
# bench/streaming.sh [BUILDDIR] [RANKS] [CORPUS_MB] - streaming mode against
# bulk mode, each measured in the same run, best of 3:
#
#  1. a synthetic segment: a source of STREAM_TASKS (default 2000) empty
#     tasks, then three task-mode stages costing 1, 5 and 1 ms per batch
#     (teststages.so's wait, resources.cpus 0.125: they wait rather than
#     compute), on RANKS ranks (default 4).  Figures: tasks/s through the
#     segment, and in streaming mode the actors' busy fraction (their
#     batch time over their actor-seconds, --stats).
#     Goals: ratio >= 1.3 vs bulk, busy fraction >= 0.9.
#  2. examples/filter.yaml (read, 9 filters, write) on CORPUS_MB (default
#     100) of real text (bench/textcorpus.py, 2 MB files).  Figures:
#     documents/s (read_jsonl's items over the wall time) and the largest
#     rank's peak RSS.  Goals: ratio >= 1.15 vs bulk, peak RSS <= 0.5 x
#     bulk's.
#
# Ends with the lines
#   streaming segment: <tasks/s> tasks/s, ratio <R> vs bulk
#   streaming busy: <fraction> busy, ratio <R> vs bulk
#   streaming peak: <MiB> MiB, ratio <R> vs bulk
#   streaming: <docs/s> docs/s, ratio <R> vs bulk
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
ranks=${2:-4}
mb=${3:-100}
tasks=${STREAM_TASKS:-2000}
W=$build/winnow
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
plugin=$build/t/plugins/teststages.so
[ -f "$plugin" ] || make -C "$build" t/plugins/teststages.so >/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/winnow-streaming.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
run() { mpirun -np "$ranks" --oversubscribe --bind-to none "$W" run "$@"; }

cat >"$tmp/seg.yaml" <<YAML
name: segment
stages:
  - {name: gen, type: $plugin:fanout, params: {tasks: $tasks, rows: 1}}
  - {name: a, type: $plugin:wait, batch_size: 1, resources: {cpus: 0.125}, params: {ms_per_item: 0, ms_per_task: 1}}
  - {name: b, type: $plugin:wait, batch_size: 1, resources: {cpus: 0.125}, params: {ms_per_item: 0, ms_per_task: 5}}
  - {name: c, type: $plugin:wait, batch_size: 1, resources: {cpus: 0.125}, params: {ms_per_item: 0, ms_per_task: 1}}
YAML
# seg_figures STATS: tasks/s from a's start to c's end, and the busy
# fraction of the actors of a, b and c.
seg_figures() {
    python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
st = {s["name"]: s for s in d["stages"]}
wall = st["c"]["t_end"] - st["a"]["t_begin"]
busy = sum(st[n]["busy_s"] for n in "abc")
actor_s = sum((st[n].get("streaming") or {}).get("actor_s") or st[n]["nactors"] * st[n]["wall_s"]
              for n in "abc")
print("%.1f %.3f" % (st["a"]["tasks_in"] / wall, busy / actor_s))
PY
}
echo "1. a segment of 1 : 5 : 1 ms per batch, $tasks batches, $ranks ranks"
best_b=0 best_s=0 busy_b=0 busy_s=0
for i in 1 2 3; do
    for m in bulk streaming; do
        run "$tmp/seg.yaml" --mode $m --stats "$tmp/seg-$m.json" --progress off >"$tmp/run.log" 2>&1 ||
            { tail -n 20 "$tmp/run.log"; exit 1; }
        read -r rate busy <<<"$(seg_figures "$tmp/seg-$m.json")"
        echo "  run $i $m: $rate tasks/s, actors busy $busy"
        if [ $m = bulk ] && python3 -c "import sys; sys.exit(not $rate > $best_b)"; then
            best_b=$rate busy_b=$busy
        fi
        if [ $m = streaming ] && python3 -c "import sys; sys.exit(not $rate > $best_s)"; then
            best_s=$rate busy_s=$busy
        fi
    done
done

echo "2. examples/filter.yaml on $mb MB of text, $ranks ranks"
python3 "$top/bench/textcorpus.py" --out "$tmp/corpus" --base-mb "$mb" --copies 1 --file-mb 2 \
    >"$tmp/corpus.log"
# filter_figures STATS: documents/s and the largest peak RSS.
filter_figures() {
    python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
docs = [s for s in d["stages"] if s["name"] == "read_jsonl"][0]["items_out"]
print("%.0f %d" % (docs / d["wall_s"], max(d["peak_rss_mib"])))
PY
}
fb=0 fs=0 rb=0 rs=0
for i in 1 2 3; do
    for m in bulk streaming; do
        rm -rf "$tmp/out"
        run "$top/examples/filter.yaml" --set input="$tmp/corpus" --set output="$tmp/out" \
            --mode $m --stats "$tmp/f-$m.json" --progress off >"$tmp/run.log" 2>&1 ||
            { tail -n 20 "$tmp/run.log"; exit 1; }
        read -r rate rss <<<"$(filter_figures "$tmp/f-$m.json")"
        echo "  run $i $m: $rate docs/s, peak RSS $rss MiB"
        if [ $m = bulk ]; then
            [ "$rate" -gt "$fb" ] && fb=$rate
            [ "$rss" -gt "$rb" ] && rb=$rss
        else
            [ "$rate" -gt "$fs" ] && fs=$rate
            [ "$rss" -gt "$rs" ] && rs=$rss
        fi
    done
done
python3 - "$best_s" "$best_b" "$busy_s" "$busy_b" "$rs" "$rb" "$fs" "$fb" <<'PY'
import sys
ss, sb, bs, bb, rs, rb, fs, fb = map(float, sys.argv[1:])
print("streaming segment: %.0f tasks/s, ratio %.2f vs bulk" % (ss, ss / sb))
print("streaming busy: %.2f busy, ratio %.2f vs bulk" % (bs, bs / bb))
print("streaming peak: %.0f MiB, ratio %.2f vs bulk" % (rs, rs / rb))
print("streaming: %.0f docs/s, ratio %.2f vs bulk" % (fs, fs / fb))
PY
