#!/usr/bin/env python3
"""bench/quality.py - precision, recall and F1 of a deduplication run.

    bench/quality.py TRUTH.jsonl DUPLICATE_GROUPS.jsonl [--corpus DIR]
                     [--threshold 0.8] [--id-field id]
                     [--expect BANDSxROWS [--check T]]

TRUTH.jsonl is bench/mutate.py's ground truth: lines {"a": id, "b": id,
"jaccard": J}, every pair of corpus documents with exact Jaccard (of their
24-character n-gram sets) >= 0.5.  DUPLICATE_GROUPS.jsonl is a run's
duplicate groups: one line per document in a group of two or more,
{"id": <the id_field value>, "group": <label>, "kept": true|false}.

Per document, the question scored is "is it in a duplicate group?":
  truly a duplicate  some other document has Jaccard >= --threshold with it
                     (default 0.8; below 0.5 the truth has no pairs);
  predicted          it has a line in DUPLICATE_GROUPS.jsonl (kept or not).
The documents counted are those of the corpus (--corpus DIR: the *.jsonl
files of DIR/corpus, or of DIR when it has no corpus/ folder, read for
their --id-field), or else every id named in either file.  Prints the
counts and one line:

    quality: F1 <f>, precision <p>, recall <r> at jaccard >= <t>

--expect BANDSxROWS (e.g. 20x13) also prints what MinHash LSH with those
bands and rows should score on this truth, with --check T as
buckets_to_edges' jaccard_threshold (signatures of BANDS*ROWS positions):
a pair at Jaccard J is a candidate with probability 1-(1-J^ROWS)^BANDS,
and passes the check when a Binomial(BANDS*ROWS, J) count of agreeing
positions reaches T*BANDS*ROWS; a document is predicted with probability
1 - prod(1 - q) over the pairs it is in, as if its pairs were independent
(they are not quite: the variants of one source share its text), and the
expected counts give the line

    model: F1 <f>, precision <p>, recall <r> (BANDSxROWS, check T)

A run whose scores sit far below the model's has lost pairs the
parameters should have found; scores at the model's mean that the
parameters, not the pipeline, set the limit.  Pairs under Jaccard 0.5 are
not in the truth and count as never found (at 20x13 such a pair is a
candidate with probability under 0.003).

Precision with no document predicted, and recall with no true duplicate,
are 1 (nothing was wrong / nothing was missed).  Exit status 0, or 2 on
bad input.  Python 3 standard library only.
"""
import argparse
import collections
import glob
import gzip
import json
import math
import os
import sys


def key(v):
    """Ids compare as strings; a number id as its JSON text."""
    return v if isinstance(v, str) else json.dumps(v)


def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as e:
                    raise SystemExit("quality.py: %s:%d: %s" % (path, n, e))


def corpus_ids(d, field):
    sub = os.path.join(d, "corpus")
    root = sub if os.path.isdir(sub) else d
    files = sorted(glob.glob(os.path.join(root, "*.jsonl")) +
                   glob.glob(os.path.join(root, "*.jsonl.gz")))
    if not files:
        raise SystemExit("quality.py: no *.jsonl files in %s" % root)
    ids = set()
    for p in files:
        for row in read_jsonl(p):
            if isinstance(row, dict) and field in row:
                ids.add(key(row[field]))
    return ids


def binom_tail(n, p, k):
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))


def model(partners, threshold, bands, rows, check):
    """Expected precision, recall and F1 (see --expect in the docstring)."""
    cache = {}
    need = math.ceil(check * bands * rows - 1e-9)

    def q(j):
        if j not in cache:
            v = 1 - (1 - j ** rows) ** bands
            if check > 0:
                v *= binom_tail(bands * rows, j, need)
            cache[j] = v
        return cache[j]

    tp = fp = fn = 0.0
    for js in partners.values():
        miss = 1.0
        for j in js:
            miss *= 1 - q(round(j, 4))
        if max(js) >= threshold:
            tp += 1 - miss
            fn += miss
        else:
            fp += 1 - miss
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("truth")
    ap.add_argument("groups")
    ap.add_argument("--corpus", metavar="DIR", help="the corpus: the set of all documents")
    ap.add_argument("--threshold", type=float, default=0.8,
                    help="Jaccard that makes two documents duplicates (default 0.8)")
    ap.add_argument("--id-field", default="id", help="the corpus's id field (default id)")
    ap.add_argument("--expect", metavar="BANDSxROWS",
                    help="also print the independent-pair model's scores for these LSH "
                    "parameters (e.g. 20x13)")
    ap.add_argument("--check", type=float, default=0.0, metavar="T",
                    help="with --expect: buckets_to_edges' jaccard_threshold (default 0: off)")
    a = ap.parse_args()
    bands = rows = 0
    if a.expect:
        try:
            bands, rows = (int(v) for v in a.expect.lower().split("x"))
        except ValueError:
            bands = 0
        if bands < 1 or rows < 1:
            print("quality.py: --expect %r: want BANDSxROWS, e.g. 20x13" % a.expect,
                  file=sys.stderr)
            return 2
    if a.threshold < 0.5:
        print("quality.py: warning: the truth only lists pairs with Jaccard >= 0.5",
              file=sys.stderr)

    true_dup, truth_ids = set(), set()
    partners = collections.defaultdict(list)
    for r in read_jsonl(a.truth):
        x, y = key(r["a"]), key(r["b"])
        truth_ids.update((x, y))
        if x != y:
            partners[x].append(r["jaccard"])
            partners[y].append(r["jaccard"])
        if x != y and r["jaccard"] >= a.threshold:
            true_dup.update((x, y))

    predicted, groups, kept = set(), {}, {}
    for r in read_jsonl(a.groups):
        i = key(r["id"])
        predicted.add(i)
        g = key(r.get("group"))
        groups[g] = groups.get(g, 0) + 1
        kept[g] = kept.get(g, 0) + bool(r.get("kept"))

    if a.corpus:
        docs = corpus_ids(a.corpus, a.id_field)
        unknown = (predicted | truth_ids) - docs
        if unknown:
            print("quality.py: %d ids not in the corpus, e.g. %s"
                  % (len(unknown), sorted(unknown)[:3]), file=sys.stderr)
            return 2
    else:
        docs = truth_ids | predicted

    tp = len(true_dup & predicted)
    fp = len(predicted - true_dup)
    fn = len(true_dup - predicted)
    tn = len(docs) - tp - fp - fn
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    odd = sum(1 for g in groups if groups[g] < 2 or kept[g] != 1)
    print("documents %d%s, truly duplicates %d, predicted %d (in %d groups%s)"
          % (len(docs), "" if a.corpus else " (named in the two files)", len(true_dup),
             len(predicted), len(groups),
             "" if not odd else ", %d of them not 2+ documents with one kept" % odd))
    print("true positives %d, false positives %d, false negatives %d, true negatives %d"
          % (tp, fp, fn, tn))
    if bands:
        print("model: F1 %.4f, precision %.4f, recall %.4f (%dx%d, check %g)"
              % (model(partners, a.threshold, bands, rows, a.check) + (bands, rows, a.check)))
    print("quality: F1 %.4f, precision %.4f, recall %.4f at jaccard >= %g" % (f1, p, r, a.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
