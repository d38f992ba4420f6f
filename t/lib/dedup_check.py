#!/usr/bin/env python3
"""t/lib/dedup_check.py - checks the outputs of the shipped pipelines
against their input files (t/mpi/t1100), run in the test's directory with
the input under in/.

  dedup OUT fuzzy|exact
      OUT/dedup holds every input file, same name and compression, its
      lines those of the input minus the documents marked kept: false in
      OUT/duplicate_groups.jsonl, byte for byte; every group has one kept
      document, its smallest id (file index << 40 | line), which is also
      the group label; documents with the same text share a group; for
      exact, the groups are exactly the sets of identical texts.
  filtered DIR
      DIR holds every input file, its lines an ordered subsequence of the
      input's, and e.jsonl (whose documents the filters all drop) empty.

Prints a summary; exits 1 (printing what is wrong on stderr) on a mismatch.
"""
import glob
import gzip
import json
import os
import subprocess
import sys


def lines(path):
    """The file's lines (decompressed), without their '\\n'."""
    if path.endswith('.gz'):
        data = gzip.open(path, 'rb').read()
    elif path.endswith('.zst'):
        data = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=True).stdout
    else:
        data = open(path, 'rb').read()
    ls = data.split(b"\n")
    return ls[:-1] if ls[-1] == b"" else ls


def inputs():
    return sorted(p for p in glob.glob('in/**/*', recursive=True) if os.path.isfile(p))


def check_dedup(out, exact):
    docs = {}          # document id (id field, as text) -> (internal id, text)
    for fi, p in enumerate(inputs()):
        for ln, raw in enumerate(lines(p), 1):
            try:
                d = json.loads(raw)
            except ValueError:
                continue
            docs[str(d["id"])] = ((fi << 40) | ln, d["text"])
    rows = [json.loads(l) for l in open(out + '/duplicate_groups.jsonl')]
    for r in rows:
        r["id"] = str(r["id"])   # a numeric id is written as the number it was
    groups = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    bad = []
    removed = set()
    for g, members in groups.items():
        ids = sorted(docs[m["id"]][0] for m in members)
        kept = [m for m in members if m["kept"]]
        if len(members) < 2 or len(kept) != 1 or docs[kept[0]["id"]][0] != ids[0] or g != ids[0]:
            bad.append("group %s: %s" % (g, members))
        removed |= {docs[m["id"]][0] for m in members if not m["kept"]}
    by_text = {}
    for k, (_, t) in docs.items():
        by_text.setdefault(t, set()).add(k)
    group_of = {r["id"]: r["group"] for r in rows}
    for ks in by_text.values():
        if len(ks) > 1 and len({group_of.get(k) for k in ks}) != 1:
            bad.append("identical texts in different groups: %s" % sorted(ks))
    if exact:
        want = sum(1 for ks in by_text.values() if len(ks) > 1)
        if want != len(groups):
            bad.append("%d groups of identical texts, %d found" % (want, len(groups)))
    kept_lines = 0
    for fi, p in enumerate(inputs()):
        o = os.path.join(out, 'dedup', os.path.relpath(p, 'in'))
        want = [raw for ln, raw in enumerate(lines(p), 1) if (fi << 40) | ln not in removed]
        got = lines(o) if os.path.exists(o) else None
        if got != want:
            bad.append("%s: %s lines, want %d" % (o, None if got is None else len(got), len(want)))
        kept_lines += len(want)
    print("%d documents, %d groups, %d removed, %d lines kept"
          % (len(docs), len(groups), len(removed), kept_lines))
    return bad


def check_filtered(out):
    bad = []
    total = kept = 0
    for p in inputs():
        o = os.path.join(out, os.path.relpath(p, 'in'))
        if not os.path.exists(o):
            bad.append("%s: missing" % o)
            continue
        src, got = lines(p), lines(o)
        it = iter(src)
        if not all(any(l == s for s in it) for l in got):   # an ordered subsequence
            bad.append("%s: not a subsequence of %s" % (o, p))
        total += len(src)
        kept += len(got)
    if os.path.exists(os.path.join(out, 'e.jsonl')) and lines(os.path.join(out, 'e.jsonl')):
        bad.append("e.jsonl not empty")
    print("%d of %d lines kept" % (kept, total))
    return bad


def main():
    if sys.argv[1] == "dedup":
        bad = check_dedup(sys.argv[2], sys.argv[3] == "exact")
    else:
        bad = check_filtered(sys.argv[2])
    for b in bad[:10]:
        print("# " + b[:300], file=sys.stderr)
    sys.exit(1 if bad else 0)


main()
