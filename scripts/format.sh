#!/bin/sh
# scripts/format.sh [--check] - formats the tree's C sources with
# clang-format 14 and the style in .clang-format.  --check changes nothing
# and exits 1 naming each file that differs (the suite runs it:
# t/unit/t0040-format.t).  Works in a git clone and in a release tarball.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cf=$(command -v clang-format-14 || true)
if [ -z "$cf" ]; then
    echo "format.sh: clang-format-14 not found (scripts/install-deps.sh installs it)" >&2
    exit 2
fi
check=0
[ "${1:-}" = --check ] && check=1
cd "$top"
bad=0
for f in $(find src stages include t bench examples \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) \
           -type f | LC_ALL=C sort); do
    if [ $check = 1 ]; then
        if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
            echo "$f: not formatted (scripts/format.sh formats it)"
            bad=1
        fi
    else
        "$cf" --style=file -i "$f"
    fi
done
exit $bad
