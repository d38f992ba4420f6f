#!/bin/bash
# wn-timeout: 300
# The LSH S-curve on real text: bench/mutate.py builds a corpus of source
# documents read from the installed packages (licenses, Debian copyright
# files, man pages: nobody on the team wrote them) and mutated variants at
# a spread of exact Jaccards (0.6 to 0.95 here, where the curve rises),
# with the ground truth of every pair of documents with Jaccard >= 0.5.
# read_jsonl -> minhash -> lsh runs with the defaults (24-character
# n-grams, seed 42, 20 bands x 13 rows) on 4 ranks.  A pair is a candidate
# when the two documents share a (band, bucket).  MinHash and LSH done
# right make a pair with Jaccard J a candidate with probability
# P(J) = 1 - (1 - J^13)^20 (pairs below 0.5 have P < 0.003 and are left
# out).  Per 0.05-wide Jaccard bin, the number of candidate pairs must be
# the sum of P over the bin's pairs within sampling error: |z| <= 4, for
# bins with a binomial variance sum P(1-P) of 1 or more; and so overall.
# Pairs with J >= 0.9 must nearly all be candidates, pairs below 0.55
# nearly none.
#
# Independence: pairs that share a document (a source and its variants)
# or whose sources overlap are correlated, so the sampling variance of a
# count can be larger than sum P(1-P).  The z-scores use the larger of
# that and the cluster-robust variance (the sum, over the connected
# components of the truth's pairs, of the squared differences between
# candidates and expected in the component); mutate.py --distinct 0.2
# keeps sources that share a fifth or more of their n-grams with another
# out, so components stay about one source's family (Debian's man pages
# and copyright files hold hundreds of near copies).  Measured with
# minhash seeds 42 and 1..8, the overall z had a root mean square of 1.25
# this way (1.45 with the binomial variance alone) on the corpus this test
# makes on a machine with many man pages, and of 1.55 (3.16) on one made
# of copyright files and licenses only (156 sources, 19 variants each).
#
# Power: with 3000 variants, 12 rows per band instead of 13 would raise the
# expected overall count by about 8.5 of those standard deviations, 14 rows
# lower it by about 7.3: the test checks both shifts are 6 or more, so that
# either would fail the overall check (run with 12 rows: z 7.8, and three
# bins fail; with 14 rows: z -8.0, and three bins fail).  12 rows move the
# curve's midpoint from J = 0.771 to 0.755, 14 rows to 0.786; a shift of
# the whole curve along J by about 0.012 either way moves the count by 6 sd
# (the table prints it).  It also checks the counts fit 13 rows better
# than 12 or 14.
#
# Also: every candidate pair that is not in the truth has an exact Jaccard
# below 0.5 (recomputed here), which checks mutate.py's all-pairs search.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
seed=${WN_SCURVE_SEED:-7}
t0=$(date +%s)
out=$(python3 "$SRCDIR/bench/mutate.py" --out c --seed "$seed" --docs 1000 --distinct 0.2 \
      --mutate-frac 1 --variants-total 3000 --jaccard 0.6 0.95 --max-chars 2000 --parts 4 2>&1)
st=$?
t1=$(date +%s)
[ $st -eq 0 ] || { diag "$out"; bail_out "bench/mutate.py failed"; }
diag "$out" "mutate.py: $((t1 - t0))s"
ndocs=$(cat c/corpus/*.jsonl | wc -l)
nsrc=$(wc -l <c/sources.jsonl)
[ "$nsrc" -ge 100 ] || skip_all "only $nsrc distinct source texts in the installed packages"
ok 0 "bench/mutate.py: $ndocs documents ($nsrc sources), $(wc -l <c/truth.jsonl) pairs with Jaccard >= 0.5"

cat >s.yaml <<'YAML'
name: lsh-scurve
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", id_field: id}}
  - {name: minhash, type: minhash}
  - {name: lsh, type: lsh}
YAML
out=$(mpirun_np 4 "$WINNOW" run s.yaml --set input=c/corpus --set output=out \
      --results lsh.jsonl --progress off 2>&1); st=$?
t2=$(date +%s)
ok $st "read_jsonl -> minhash -> lsh (20 x 13, seed 42) on 4 ranks ($((t2 - t1))s)" ||
    { diag "$out"; done_testing; }

python3 - c lsh.jsonl >report.txt 2>&1 <<'PY'
import glob, json, math, os, sys
from collections import defaultdict
sys.path.insert(0, os.environ["SRCDIR"] + "/t/lib")
from corpus_ref import UnionFind

corpus, results = sys.argv[1], sys.argv[2]
B, R = 20, 13

# ids as read_jsonl makes them: (file index in sorted path order << 40) | line
name, text = {}, {}
for fi, path in enumerate(sorted(glob.glob(os.path.join(corpus, "corpus", "*.jsonl")))):
    for ln, line in enumerate(open(path, encoding="utf-8"), 1):
        d = json.loads(line)
        name[(fi << 40) | ln] = d["id"]
        text[d["id"]] = d["text"]

buckets = defaultdict(list)
bad_rows = 0
for line in open(results, encoding="utf-8"):
    r = json.loads(line)
    doc = int(r["_curator_dedup_id"])
    if doc not in name or not 0 <= int(r["_band"]) < B:
        bad_rows += 1
        continue
    buckets[(int(r["_band"]), int(r["_bucket_id"]))].append(name[doc])
cand = set()
small = 0
for docs in buckets.values():
    if len(docs) < 2:
        small += 1
    docs = sorted(set(docs))
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            cand.add((docs[i], docs[j]))

truth = {}
for line in open(os.path.join(corpus, "truth.jsonl"), encoding="utf-8"):
    r = json.loads(line)
    truth[(min(r["a"], r["b"]), max(r["a"], r["b"]))] = r["jaccard"]


def P(j, rows=R, bands=B):
    return 1 - (1 - j ** rows) ** bands


def check(name, good, detail):
    print("CHECK %d %s\t%s" % (0 if good else 1, name, detail))


check("lsh rows name corpus documents and bands 0..19", bad_rows == 0 and small == 0,
      "%d bad rows, %d buckets of one document" % (bad_rows, small))

# Candidates not in the truth must be below 0.5 (exact Jaccard here).
def grams(t, n=24):
    return {t[i:i + n] for i in range(max(1, len(t) - n + 1))}


extra = [p for p in cand if p not in truth]
high = [(p, jv) for p in extra
        for jv in [len(grams(text[p[0]]) & grams(text[p[1]])) /
                   len(grams(text[p[0]]) | grams(text[p[1]]))] if jv >= 0.5]
check("every candidate pair missing from the truth has Jaccard < 0.5", not high,
      "%d candidate pairs, %d in the truth, %d not%s" %
      (len(cand), len(cand) - len(extra), len(extra),
       " (all below 0.5)" if not high else ", %d of them >= 0.5: %s" % (len(high), high[:3])))

# Clusters: the connected components of the truth's pairs (a source, its
# variants, and sources near enough to it).  Pairs in one cluster are
# correlated (they share documents and n-grams), so besides the binomial
# variance sum P(1-P) each count gets the cluster-robust one, the sum over
# clusters of (candidates - expected)^2 in the cluster, and the z-scores
# use the larger of the two.
uf = UnionFind()
for a, b in truth:
    uf.union(a, b)

# Bins of 0.05 from 0.5; J = 1 goes in the last one.
bins = defaultdict(list)
for p, jv in truth.items():
    bins[min(9, int((jv - 0.5) / 0.05 + 1e-9))].append((jv, p in cand, uf.find(p[0])))


def count(rows, rows_per_band=R):
    """candidates, expected, binomial variance, cluster-robust variance"""
    obs = sum(c for _, c, _ in rows)
    e = v = 0.0
    res = defaultdict(float)
    for j, c, k in rows:
        pj = P(j, rows_per_band)
        e += pj
        v += pj * (1 - pj)
        res[k] += c - pj
    return obs, e, v, sum(x * x for x in res.values())


print("TABLE   J bin      pairs  cand   expected  sd(bin) sd(clu)      z   P(mid)")
zs = []
for b in range(10):
    rows = bins.get(b, [])
    lo = 0.5 + 0.05 * b
    obs, e, v, vr = count(rows)
    sd = math.sqrt(max(v, vr))
    z = (obs - e) / sd if sd > 0 else 0.0
    print("TABLE %.2f-%.2f %7d %5d %10.2f %8.2f %7.2f %7.2f   %.3f" %
          (lo, lo + 0.05, len(rows), obs, e, math.sqrt(v), math.sqrt(vr), z, P(lo + 0.025)))
    # Bins with enough pairs to test: a binomial variance of 1 or more
    # (bins where nearly every pair, or nearly none, is a candidate are
    # left to the checks below and to the overall test).
    if len(rows) >= 20 and v >= 1:
        zs.append(((lo, lo + 0.05), len(rows), obs, e, z))
allrows = [x for rows in bins.values() for x in rows]
obs, e, v, vr = count(allrows)
sd = math.sqrt(max(v, vr))
ztot = (obs - e) / sd
print("TABLE all       %7d %5d %10.2f %8.2f %7.2f %7.2f" %
      (len(allrows), obs, e, math.sqrt(v), math.sqrt(vr), ztot))
for (lo, hi), n, o, ex, z in zs:
    check("J in [%.2f, %.2f): candidate count follows 1-(1-J^13)^20" % (lo, hi), abs(z) <= 4,
          "%d of %d pairs, expected %.1f, z %.2f" % (o, n, ex, z))
check("overall candidate count follows 1-(1-J^13)^20", abs(ztot) <= 4,
      "%d of %d pairs, expected %.1f, z %.2f (%d clusters)" %
      (obs, len(allrows), e, ztot, len({k for _, _, k in allrows})))
check("enough bins with enough pairs to test (4 or more)", len(zs) >= 4, "%d bins" % len(zs))
# Nearly sure pairs: J >= 0.9 (P >= 0.997) nearly always candidates.
sure = [(j, c) for b in (8, 9) for j, c, _ in bins.get(b, [])]
miss = sum(1 for _, c in sure if not c)
miss_e = sum(1 - P(j) for j, _ in sure)
check("pairs with J >= 0.9 are candidates",
      len(sure) >= 50 and miss <= miss_e + 4 * math.sqrt(miss_e) + 1,
      "%d pairs, %d missed, %.2f expected missed" % (len(sure), miss, miss_e))
# Nearly never: J < 0.55 (P <= 0.005).
low = [(j, c) for j, c, _ in bins.get(0, [])]
low_c = sum(c for _, c in low)
low_e = sum(P(j) for j, _ in low)
check("pairs with J < 0.55 are rarely candidates", low_c <= low_e + 4 * math.sqrt(low_e) + 1,
      "%d of %d, expected %.2f" % (low_c, len(low), low_e))
# Power: had the bands 12 rows (or 14), the expected overall count would
# be (E_alt - E) / sd standard deviations away (sd as in the overall
# check); both must be 6 or more, so that the overall check (|z| <= 4)
# would fail.  And the counts seen must fit 13 rows better than 12 or 14
# (each z computed with its own expectation and variances).
zalt = {}
for r in (12, 14):
    o_, e_alt, v_alt, vr_alt = count(allrows, r)
    shift = (e_alt - e) / sd
    zalt[r] = (obs - e_alt) / math.sqrt(max(v_alt, vr_alt))
    check("%d rows per band would be told apart" % r, abs(shift) >= 6,
          "%d rows: expected %.1f candidate pairs, %+.1f sd from 13 rows" % (r, e_alt, shift))
check("the counts fit 13 rows per band better than 12 or 14",
      abs(ztot) < abs(zalt[12]) and abs(ztot) < abs(zalt[14]),
      "z %.2f for 13 rows, %.2f for 12, %.2f for 14" % (ztot, zalt[12], zalt[14]))
# The smallest shift of the whole curve along J (P(J + d) for P(J)) that
# moves the expected count by 6 sd, for the record.
def shifted(d):
    return sum(P(min(1.0, max(0.0, j + d))) for j, _, _ in allrows) - e
for sign in (1, -1):
    lo_d, hi_d = 0.0, 0.2
    for _ in range(40):
        mid = (lo_d + hi_d) / 2
        if abs(shifted(sign * mid)) >= 6 * sd:
            hi_d = mid
        else:
            lo_d = mid
    print("TABLE (a shift of the curve by %+.4f in J moves the expected count by 6 sd)" %
          (sign * hi_d))
PY
st=$?
t3=$(date +%s)
[ $st -eq 0 ] || { cat report.txt >&2; bail_out "the S-curve check failed to run"; }
diag "$(sed -n 's/^TABLE //p' report.txt)"
while IFS=$'\t' read -r head detail; do
    res=${head#CHECK }; res=${res%% *}
    ok "$res" "${head#CHECK $res }"
    diag "  $detail"
done < <(grep '^CHECK ' report.txt)
diag "times: mutate.py $((t1 - t0))s, pipeline $((t2 - t1))s, check $((t3 - t2))s"
done_testing
