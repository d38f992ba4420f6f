#!/usr/bin/env python3
"""t/lib/results.py - summarise a `winnow run --results FILE` of `sum` stage
rows: prints "count=N sum=S sum_sq=Q xor=X" (u64 arithmetic), so shell
tests can check that every item arrived exactly once."""
import json
import sys

MASK = (1 << 64) - 1


def as_int(v):
    if isinstance(v, str) and v.startswith("u64:"):
        return int(v[4:])
    return int(v)


def main(path):
    count = total = sq = xor = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            count += as_int(row["count"])
            total = (total + as_int(row["sum"])) & MASK
            sq = (sq + as_int(row["sum_sq"])) & MASK
            xor ^= as_int(row["xor"])
    print(f"count={count} sum={total} sum_sq={sq} xor={xor}")


if __name__ == "__main__":
    main(sys.argv[1])
