#!/usr/bin/env python3
"""t/lib/lsh_check.py RESULTS.jsonl KEY=VALUE... - checks an `lsh` stage's
output (rows of _band, _bucket_id, _curator_dedup_id) over `lsh_testdata`
documents against buckets computed here from the signature values
themselves (not from winnow's hashes): for every band, the groups of two
or more documents whose band values are equal.  Prints a summary line and
exits 1 on any difference.  KEY=VALUE: the lsh_testdata parameters (tasks,
rows, length, band_len, seed, copy_every, near_every, near_bands) and
lsh's num_bands and minhashes_per_band."""
import json
import sys
from collections import defaultdict

M = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def main():
    path = sys.argv[1]
    p = dict(tasks=8, rows=100, length=260, band_len=13, seed=42, copy_every=10,
             near_every=7, near_bands=5, num_bands=20, minhashes_per_band=13)
    for kv in sys.argv[2:]:
        k, v = kv.split("=")
        p[k] = int(v)
    ndocs = p["tasks"] * p["rows"]

    def value(i, k):   # t/plugins/lsh_testdata.c: testdata_value
        j = i
        while j > 0:
            if p["copy_every"] and j % p["copy_every"] == 0:
                j = 0 if p["copy_every"] == 1 else j - 1
            elif (p["near_every"] and j % p["near_every"] == 0
                  and k >= p["near_bands"] * p["band_len"]):
                j = 0 if p["near_every"] == 1 else j - 1
            else:
                break
        return mix64((mix64(p["seed"] ^ (j << 20)) + k) & M) & 0xFFFFFFFF

    r = p["minhashes_per_band"]
    want = set()
    for band in range(p["num_bands"]):
        groups = defaultdict(list)
        for i in range(ndocs):
            groups[tuple(value(i, band * r + k) for k in range(r))].append(i)
        want |= {(band, tuple(sorted(g))) for g in groups.values() if len(g) >= 2}

    got_groups = defaultdict(list)
    rows = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows += 1
            got_groups[(int(row["_band"]), int(row["_bucket_id"]))].append(
                int(row["_curator_dedup_id"]))
    got = {(band, tuple(sorted(g))) for (band, _), g in got_groups.items()}
    dup_rows = sum(len(g) - len(set(g)) for g in got_groups.values())
    bands = sorted({b for b, _ in got})
    print(f"rows={rows} groups={len(got)} expected={len(want)} missing={len(want - got)} "
          f"extra={len(got - want)} repeated={dup_rows} bands={len(bands)}")
    ok = got == want and dup_rows == 0 and len(got) == len(got_groups)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
