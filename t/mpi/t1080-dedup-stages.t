#!/bin/bash
# wn-timeout: 300
# The document stages chained on real text nobody on the team wrote
# (Debian's /usr/share/doc/*/copyright files: many exact and near copies
# of the same licenses): read_jsonl -> minhash -> lsh -> buckets_to_edges.
# Every group of identical documents ends up connected, the edges join
# documents that are really alike (exact Jaccard of 24-character n-gram
# sets), and the results do not depend on the rank count.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
mkdir -p in
n=$(python3 - <<'PY'
import glob, json
files = sorted(glob.glob('/usr/share/doc/*/copyright'))
with open('in/a.jsonl', 'w') as a, open('in/b.jsonl', 'w') as b:
    for i, p in enumerate(files):
        t = open(p, encoding='utf-8', errors='replace').read()
        (a if i % 2 else b).write(json.dumps({"text": t, "path": p}) + "\n")
    b.write("{not json\n")
print(len(files))
PY
)
[ "$n" -ge 20 ] || skip_all "only $n copyright files in /usr/share/doc"
cat >d.yaml <<'YAML'
name: dedup-stages
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", id_field: path, blocksize: 100000}}
  - {name: minhash, type: minhash, batch_size: 1}
  - {name: lsh, type: lsh, batch_size: 2}
  - {name: edges, type: buckets_to_edges, batch_size: 2}
YAML
mkdir -p out4 out2
out=$(mpirun_np 4 "$WINNOW" run d.yaml --set input=in --set output=out4 --results e4.jsonl \
      --progress off 2>&1); st=$?
ok $st "read_jsonl -> minhash -> lsh -> buckets_to_edges on $n documents, 4 ranks" || diag "$out"
is "$(wc -l <out4/rejects.jsonl)" 1 "the malformed line is in the rejects file"
like "$(cat out4/rejects.jsonl)" '"line": ?[0-9]+' "with its line"
out=$(mpirun_np 2 "$WINNOW" run d.yaml --set input=in --set output=out2 --results e2.jsonl \
      --progress off 2>&1); st=$?
ok $st "the same on 2 ranks" || diag "$out"
cmp -s e4.jsonl e2.jsonl; ok $? "byte-identical edges on 4 and 2 ranks"
r=$(python3 - e4.jsonl <<'PY'
import os, sys
sys.path.insert(0, os.environ["SRCDIR"] + "/t/lib")
from corpus_ref import Jaccard, UnionFind, read_edges, read_ids, split_identical
ids = read_ids(('in/a.jsonl', 'in/b.jsonl'))
edges = read_edges(sys.argv[1])
uf = UnionFind(ids)
for x, y in edges:
    uf.union(x, y)
split, groups = split_identical(ids, uf)
jac = Jaccard(ids)
alike = sum(1 for x, y in edges if jac(x, y) >= 0.5)
print("edges=%d alike=%d identical_groups=%d split=%d" % (len(edges), alike, groups, split))
sys.exit(0 if edges and split == 0 and alike >= 0.95 * len(edges) else 1)
PY
); st=$?
ok $st "identical documents all connected, edges join alike documents: $r"
# The rejects file comes out sorted by file and line, whichever actor read
# which file first: 8 files of 3 bad lines each, a task per file, read by
# 3 actors and by 1.
mkdir -p bad
python3 - <<'PY'
import json
for f in range(8):
    with open("bad/f%d.jsonl" % f, "w") as o:
        for i in range(40):
            o.write(["{not json", "[1, 2]", '{"text": 7}'][i % 3] + "\n" if i % 13 == 5
                    else json.dumps({"text": "document %d of file %d" % (i, f)}) + "\n")
PY
cat >r.yaml <<'YAML'
name: rejects-order
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", blocksize: 1}}
  - {name: count, type: teststages.so:noop}
YAML
out=$(mpirun_np 4 "$WINNOW" run r.yaml --set input=bad --set output=r4 \
      --progress off 2>&1); st=$?
ok $st "8 files with bad lines read by 3 actors" || diag "$out"
out=$("$WINNOW" run r.yaml --set input=bad --set output=r1 --progress off 2>&1); st=$?
ok $st "... and by 1" || diag "$out"
cmp -s r4/rejects.jsonl r1/rejects.jsonl; ok $? "the two rejects files are byte-identical"
r=$(python3 - r4/rejects.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = [(r["file"], r["line"]) for r in rows]
print(len(rows), "lines,", "sorted" if keys == sorted(set(keys)) else "NOT sorted or repeated")
sys.exit(0 if len(rows) == 24 and keys == sorted(set(keys)) else 1)
PY
); ok $? "... sorted by file and line, each once: $r"
# The lsh stage takes its band layout from the minhash stage before it
# when its own is left out; a layout for another signature length is
# refused before any work.
cat >b.yaml <<'YAML'
name: band-layout
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", id_field: path}}
  - {name: mh, type: minhash, params: {num_bands: 8, minhashes_per_band: 4}}
  - {name: lsh, type: lsh}
YAML
out=$(mpirun_np 2 "$WINNOW" run b.yaml --set input=in --set output=outb --results b.jsonl \
      --progress off 2>&1); st=$?
ok $st "lsh with no band layout of its own after an 8 x 4 minhash" || diag "$out"
is "$(python3 -c 'import json; print(sorted({json.loads(l)["_band"] for l in open("b.jsonl")}))')" \
    "[0, 1, 2, 3, 4, 5, 6, 7]" "... cuts the signatures into minhash's 8 bands"
out=$(mpirun_np 2 "$WINNOW" run b.yaml --set input=in --set output=outc --progress off \
      --set stages.lsh.params.num_bands=20 2>&1); st=$?
is $st 2 "lsh's 20 x 4 bands after an 8 x 4 minhash: refused with exit 2"
like "$out" "'num_bands' x 'minhashes_per_band': 20 x 4 = 80 signature values, but stage 'mh' \\(minhash\\) makes 8 x 4 = 32" \
    "... naming both layouts (minhashes_per_band left out: minhash's 4)"
! grep -q "batch" <<<"$out"; ok $? "... before any batch ran"
out=$(mpirun_np 2 "$WINNOW" run b.yaml --set input=in --set output=outd --results d.jsonl \
      --set stages.lsh.params.num_bands=4 --set stages.lsh.params.minhashes_per_band=8 \
      --progress off 2>&1); st=$?
ok $st "lsh's 4 x 8 after minhash's 8 x 4 (the same 32 values, cut another way)" || diag "$out"
is "$(python3 -c 'import json; print(sorted({json.loads(l)["_band"] for l in open("d.jsonl")}))')" \
    "[0, 1, 2, 3]" "... gives 4 bands"
# buckets_to_edges with jaccard_threshold 0.8: the lsh stage carries the
# signatures along by itself (keep_signatures: auto), and an edge is kept
# only when the two signatures agree in 80% of their 260 positions.  A pair
# whose exact Jaccard is below 0.7 passes that with probability below
# 3e-4 (binomial, 260 draws), so no such edge may be left (LSH alone lets
# them in with probability 0.2 at 0.7); identical documents still all
# connect.
out=$(mpirun_np 4 "$WINNOW" run d.yaml --set input=in --set output=out4 --results j4.jsonl \
      --set stages.edges.jaccard_threshold=0.8 --progress off 2>&1); st=$?
ok $st "buckets_to_edges with jaccard_threshold 0.8" || diag "$out"
r=$(python3 - e4.jsonl j4.jsonl <<'PY2'
import os, sys
sys.path.insert(0, os.environ["SRCDIR"] + "/t/lib")
from corpus_ref import Jaccard, UnionFind, read_edges, read_ids, split_identical
ids = read_ids(('in/a.jsonl', 'in/b.jsonl'))
jac = Jaccard(ids)
plain, checked = read_edges(sys.argv[1]), read_edges(sys.argv[2])
low = sum(1 for x, y in checked if jac(x, y) < 0.7)
low_plain = sum(1 for x, y in plain if jac(x, y) < 0.7)
uf = UnionFind(ids)
for x, y in checked:
    uf.union(x, y)
split, _ = split_identical(ids, uf)
print("edges %d (without the check %d); below Jaccard 0.7: %d (without: %d); identical split: %d"
      % (len(checked), len(plain), low, low_plain, split))
sys.exit(0 if checked and low == 0 and split == 0 else 1)
PY2
); ok $? "no edge below Jaccard 0.7 left, identical documents connected: $r"
out=$(mpirun_np 2 "$WINNOW" run d.yaml --set input=in --set output=out2 --results j2.jsonl \
      --set stages.edges.jaccard_threshold=0.8 --set stages.lsh.batch_size=1 \
      --set stages.lsh.params.bands_per_iteration=3 --progress off 2>&1); st=$?
ok $st "the same check on 2 ranks, other batches and band rounds" || diag "$out"
# (Other band rounds make other task ids in the results file: compare
# the edges.)
edges() { python3 -c 'import json, sys
print(sorted((r["_curator_dedup_id_x"], r["_curator_dedup_id_y"]) for r in map(json.loads, open(sys.argv[1]))))' "$1"; }
is "$(edges j2.jsonl)" "$(edges j4.jsonl)" "... the same checked edges"
out=$("$WINNOW" run d.yaml --set input=in --set output=out4 --set stages.edges.jaccard_threshold=0.8 \
      --set stages.lsh.params.keep_signatures=false --progress off 2>&1); st=$?
isnt_zero=$([ $st -ne 0 ] && echo 1 || echo 0)
is "$isnt_zero" 1 "the check without signatures fails ..."
like "$out" "jaccard_threshold needs the signatures in column '_minhash_signature'" "... saying which column is missing"

# ... -> connected_components (RAFT, over the clique) -> identify_duplicates:
# the components of the edge graph, each labelled by its smallest id, that
# id kept and the rest marked duplicates; the same on 4 and 3 ranks.
sed -e 's/^name: dedup-stages/name: dedup-groups/' d.yaml >g.yaml
cat >>g.yaml <<'YAML'
  - {name: cc, type: connected_components}
  - {name: identify, type: identify_duplicates}
YAML
for np in 4 3; do
    mkdir -p gout$np
    out=$(mpirun_np $np "$WINNOW" run g.yaml --set input=in --set output=gout$np --results g$np.jsonl \
          --progress off 2>&1); st=$?
    ok $st "... -> connected_components -> identify_duplicates on $np ranks" || diag "$out"
done
r=$(python3 - e4.jsonl g4.jsonl g3.jsonl <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["SRCDIR"] + "/t/lib")
from corpus_ref import UnionFind, read_edges
uf = UnionFind()
for x, y in read_edges(sys.argv[1]):
    uf.union(x, y)
want = {(v, uf.find(v), int(v == uf.find(v))) for v in list(uf.parent)}
def rows(p):
    return sorted((r["_curator_dedup_id"], r["_duplicate_group_id"], r["_kept"])
                  for r in map(json.loads, open(p)))
g4, g3 = rows(sys.argv[2]), rows(sys.argv[3])
groups = {g for _, g, _ in g4}
print("documents=%d groups=%d kept=%d" % (len(g4), len(groups), sum(k for _, _, k in g4)))
sys.exit(0 if set(g4) == want and len(g4) == len(want) and g3 == g4 else 1)
PY
); st=$?
ok $st "components and kept ids equal a union-find of the edges, on 4 and 3 ranks: $r"

done_testing
