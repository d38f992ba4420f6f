#!/usr/bin/env python3
"""Rebuilds the bundled sample corpus from a Debian system's license texts.

The documents are real text nobody on the winnow team wrote: the license
texts in /usr/share/common-licenses and every fourth /usr/share/doc/*/copyright
file (by path) of at most 16 KiB, whose many exact and near copies of the
same licenses are natural duplicates.  Each line is {"id": NAME, "source": PATH, "text": TEXT};
two files, 24 copyright files in gzip and the rest in zstd.

    python3 examples/sample/make-sample.py examples/sample
"""
import glob
import gzip
import json
import os
import subprocess
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "."
docs = []
for p in sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.isfile(p) and not os.path.islink(p):
        docs.append(("license/" + os.path.basename(p), p))
for p in sorted(glob.glob("/usr/share/doc/*/copyright"))[::4]:
    if os.path.getsize(p) > 16384:
        continue   # the long lists of one package's authors: no duplicates
    docs.append(("copyright/" + p.split("/")[4], p))
lines = []
for name, p in docs:
    with open(p, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines.append(json.dumps({"id": name, "source": p, "text": text}, ensure_ascii=False) + "\n")
# gzip's 32 KiB window finds no copies across documents: a short first file.
nlic = sum(1 for name, _ in docs if name.startswith("license/"))
gz, rest = lines[nlic:nlic + 24], lines[:nlic] + lines[nlic + 24:]
with gzip.GzipFile(os.path.join(out, "licenses-1.jsonl.gz"), "wb", mtime=0) as f:
    f.write("".join(gz).encode())
raw = "".join(rest).encode()
zst = subprocess.run(["zstd", "-q", "-19", "-c"], input=raw, stdout=subprocess.PIPE, check=True)
with open(os.path.join(out, "licenses-2.jsonl.zst"), "wb") as f:
    f.write(zst.stdout)
print("%d documents" % len(lines), file=sys.stderr)
