#!/usr/bin/env python3
"""bench/textcorpus.py - a JSONL corpus of real text, of any size, whose
copies share no n-grams.

The text is what Debian installs: the packages' copyright files, then the
manual pages (their roff source, decompressed), in sorted order, cut into
documents of about --doc-bytes at paragraph breaks.  That base is taken
up to --base-mb megabytes; the corpus is --copies copies of it, copy k
with every ASCII letter shifted k places (a rot-k), so two copies share no
n-gram holding a letter and the duplicates found in the corpus are those
of the base, repeated per copy: the work and the result grow with the
corpus, as a real corpus's do.  Documents go round-robin into files of
about --file-mb megabytes each (several files, so the reader has some to
spread and some to cut).

  textcorpus.py --out DIR [--base-mb 25] [--copies 1] [--file-mb 8]

Prints one line: documents, bytes and files written.
"""
import argparse
import glob
import gzip
import json
import os
import string
import sys


def sources():
    for p in sorted(glob.glob("/usr/share/doc/*/copyright")):
        try:
            with open(p, "rb") as f:
                yield f.read().decode("utf-8", "replace")
        except OSError:
            continue
    for p in sorted(glob.glob("/usr/share/man/man*/*.gz")):
        try:
            with gzip.open(p, "rb") as f:
                yield f.read().decode("utf-8", "replace")
        except (OSError, EOFError):
            continue


def documents(limit, doc_bytes):
    """Documents of about doc_bytes, cut at blank lines, up to limit bytes."""
    total = 0
    for text in sources():
        cur = []
        size = 0
        for para in text.split("\n\n"):
            cur.append(para)
            size += len(para) + 2
            if size >= doc_bytes:
                doc = "\n\n".join(cur)
                yield doc
                total += len(doc)
                if total >= limit:
                    return
                cur, size = [], 0
        if cur and size > 200:
            doc = "\n\n".join(cur)
            yield doc
            total += len(doc)
            if total >= limit:
                return


def shifter(k):
    lo, up = string.ascii_lowercase, string.ascii_uppercase
    return str.maketrans(lo + up, lo[k:] + lo[:k] + up[k:] + up[:k])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--base-mb", type=float, default=25)
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--file-mb", type=float, default=8)
    ap.add_argument("--doc-bytes", type=int, default=4096)
    a = ap.parse_args()
    if not 1 <= a.copies <= 26:
        sys.exit("textcorpus.py: --copies must be 1..26 (letter shifts)")
    base = list(documents(int(a.base_mb * 1e6), a.doc_bytes))
    if not base:
        sys.exit("textcorpus.py: no text found under /usr/share/doc or /usr/share/man")
    base_bytes = sum(len(json.dumps({"text": d})) + 1 for d in base)
    nfiles = max(1, round(base_bytes * a.copies / (a.file_mb * 1e6)))
    os.makedirs(a.out, exist_ok=True)
    files = [open(os.path.join(a.out, "part-%04d.jsonl" % i), "w") for i in range(nfiles)]
    n = written = 0
    for k in range(a.copies):
        tr = shifter(k)
        for d in base:
            line = json.dumps({"id": "c%d-%d" % (k, n % len(base)), "text": d.translate(tr)}) + "\n"
            files[n % nfiles].write(line)
            written += len(line)
            n += 1
    for f in files:
        f.close()
    print("textcorpus: %d documents, %d bytes, %d files" % (n, written, nfiles))


if __name__ == "__main__":
    main()
