#!/bin/bash
# bench/inputs.sh [BUILDDIR] [NFILES] - what the run's input listing costs
# before any work: `winnow plan` on a read_jsonl pipeline over NFILES
# (default 20000) small JSON Lines files in 100 folders lists them, stats
# them, fingerprints each (XXH3 of its first and last 64 KiB) and resolves
# their real paths for the output guards.  The baseline is the listing any
# tool needs: `find` with each file's size and modification time, sorted.
# Best of 3 each, the page cache warm.  Ends with:
#   inputs_listing: <ms> ms for N files, ratio <R> vs find+stat+sort
set -eu
build=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
nfiles=${2:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/in" "$nfiles" <<'PY'
import glob, json, os, sys
root, n = sys.argv[1], int(sys.argv[2])
texts = []
for p in sorted(glob.glob('/usr/share/doc/*/copyright'))[:200]:
    texts.append(open(p, encoding='utf-8', errors='replace').read()[:2000])
for i in range(n):
    d = os.path.join(root, 'd%02d' % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'f%06d.jsonl' % i), 'w') as o:
        for k in range(3):
            o.write(json.dumps({"id": i * 3 + k, "text": texts[(i + k) % len(texts)]}) + "\n")
PY
cat >"$tmp/p.yaml" <<'YAML'
name: listing
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}"}}
YAML
ms() { python3 -c 'import sys,time; print(int(time.time()*1000))'; }
best_plan=1e9 best_find=1e9
for i in 1 2 3; do
    t0=$(ms)
    "$build/winnow" plan "$tmp/p.yaml" --set input="$tmp/in" >/dev/null
    t1=$(ms)
    find "$tmp/in" -type f -name '*.jsonl' -printf '%s %T@ %p\n' | LC_ALL=C sort -k3 >/dev/null
    t2=$(ms)
    echo "run $i: winnow plan $((t1 - t0)) ms, find+sort $((t2 - t1)) ms"
    best_plan=$(python3 -c "print(min($best_plan, $t1 - $t0))")
    best_find=$(python3 -c "print(min($best_find, $t2 - $t1))")
done
python3 -c "print('inputs_listing: %d ms for %d files, ratio %.2f vs find+stat+sort (%d ms)' % ($best_plan, $nfiles, $best_plan / max($best_find, 1), $best_find))"
