#!/bin/sh
# scripts/test.sh - the README's test command: installs what is needed,
# builds, and runs the whole suite (unit, MPI, Slurm, GPU tiers) with
# `make check`.  Exits non-zero when any test fails.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
cd "$top/build"
# Tests run one at a time: the MPI and Slurm tiers oversubscribe the
# cores already, and a timing-sensitive collective should not compete.
if ! make check; then
    echo "---- logs of the tests that failed ----"
    for trs in $(find t -name '*.trs' 2>/dev/null | sort); do
        if grep -q -E '^:test-result: (FAIL|ERROR)' "$trs"; then
            echo "==== ${trs%.trs}.log: each failed point and its diagnosis"
            # A failed point's '#' lines follow it; they may be far from the end.
            awk '/^not ok/ { n = 40 } n > 0 { print; n-- }' "${trs%.trs}.log" | head -n 400
            echo "==== ${trs%.trs}.log: the end"
            tail -n 60 "${trs%.trs}.log"
        fi
    done
    exit 1
fi
