#!/bin/sh
# scripts/demo.sh - the README's main command: installs what is needed,
# builds, and runs the fuzzy deduplication (examples/fuzzy-dedup.yaml) on
# the bundled sample corpus (examples/sample: Debian's license texts and
# package copyright files, full of exact and near copies) on 4 local MPI
# ranks, then prints what it found.  Output: ./winnow-demo/ (or $1).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-winnow-demo}
"$top/scripts/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$out"
echo "== fuzzy dedup of examples/sample on 4 ranks (1 planner + 3 pool actors)"
mpirun -np 4 --oversubscribe "$top/build/winnow" run "$top/examples/fuzzy-dedup.yaml" \
    --set input="$top/examples/sample" --set output="$out" \
    --set stages.read_jsonl.params.id_field=id --set stages.remove_duplicates.params.id_field=id \
    --progress lines
echo
echo "== what it found ($out/duplicate_groups.jsonl; deduplicated corpus in $out/dedup/)"
python3 - "$out/duplicate_groups.jsonl" <<'PY'
import json, sys
groups = {}
for row in map(json.loads, open(sys.argv[1])):
    groups.setdefault(row["group"], []).append(row)
for members in sorted(groups.values(), key=len, reverse=True):
    kept = [m["id"] for m in members if m["kept"]]
    dropped = [m["id"] for m in members if not m["kept"]]
    more = " ..." if len(dropped) > 4 else ""
    print("%3d copies: kept %s, removed %s%s" % (len(members), kept[0],
                                                ", ".join(dropped[:4]), more))
print("%d groups, %d documents removed" % (len(groups), sum(len(m) - 1 for m in groups.values())))
PY
