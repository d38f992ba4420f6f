#!/usr/bin/env python3
"""copyright_jsonl.py DIR NFILES [NPARTS] - a corpus of real text nobody on
the team wrote: the first NFILES of Debian's /usr/share/doc/*/copyright
(sorted), one JSON line {"text": ...} each, dealt round-robin into
DIR/part0.jsonl ... DIR/part{NPARTS-1}.jsonl (default 8).  Prints how
many documents it wrote (fewer on a thin install: callers skip below what
they need)."""
import glob
import json
import os
import sys


def main(argv):
    out, nfiles = argv[0], int(argv[1])
    nparts = int(argv[2]) if len(argv) > 2 else 8
    files = sorted(glob.glob('/usr/share/doc/*/copyright'))[:nfiles]
    os.makedirs(out, exist_ok=True)
    for k in range(nparts):
        with open(os.path.join(out, 'part%d.jsonl' % k), 'w') as f:
            for p in files[k::nparts]:
                text = open(p, encoding='utf-8', errors='replace').read()
                f.write(json.dumps({"text": text}) + "\n")
    print(len(files))


if __name__ == "__main__":
    main(sys.argv[1:])
