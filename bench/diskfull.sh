#!/bin/bash
# bench/diskfull.sh [BUILDDIR] [RUNS] - a checkpoint whose disk fills up,
# RUNS times (20 by default): each run puts its checkpoint on a fresh
# small tmpfs (64 KiB to 14 MiB, changing from run to run so that the
# disk fills at another point each time: the first part file, the
# journal, a later part file), 4 ranks, real text (Debian's copyright
# files, t/lib/copyright_jsonl.py).  A run should exit 1 with a message
# naming the file and the free space, never crash; with
# the tmpfs grown, the same command should resume to the output of a run
# without a checkpoint.  Needs root (mount).  Ends with:
#   diskfull: <C> crashes in <RUNS> runs, ratio <R> clean vs 1.00 wanted
# where a clean run exits 1 with the message, no rank crashes, and the
# resume gives the reference output.
set -u
build=$(cd "${1:-$(dirname "$0")/../build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
runs=${2:-20}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'umount "$tmp/fs" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir fs
if ! why=$(mount -t tmpfs -o size=4m tmpfs fs 2>&1); then
    echo "diskfull: cannot mount a tmpfs (${why:-refused}); run as root" >&2
    exit 2
fi
umount fs

python3 "$src/t/lib/copyright_jsonl.py" in 400 >/dev/null
cp "$src/t/lib/filter-lic.yaml" p.yaml
winnow() { # OUTPUT [ARGS...] -> the run's exit status; its messages in log
    local out=$1; shift
    mpirun -np 4 --oversubscribe --bind-to none "$build/winnow" run p.yaml \
        --set input="$tmp/in" --set output="$out" --progress off "$@" >log 2>&1
}
winnow ref || { cat log; echo "diskfull: the reference run failed" >&2; exit 1; }

sizes=(64k 256k 1m 2m 4m 6m 8m 10m 12m 14m)
crashes=0 clean=0 notfull=0
for i in $(seq 1 "$runs"); do
    size=${sizes[(i - 1) % ${#sizes[@]}]}
    rm -rf out
    mount -t tmpfs -o size=$size tmpfs fs
    winnow out --checkpoint fs/ck; st=$?
    crashed=0
    if [ $st -ge 128 ] || grep -Eq "Segmentation|signal 11|crashed|AddressSanitizer" log; then
        crashed=1 crashes=$((crashes + 1))
    fi
    named=0
    grep -Eq "fs/ck/[^ ]*: (cannot write|cannot append a record): No space left on device \([^)]*free on its file system\)" log &&
        named=1
    [ $st -eq 0 ] && notfull=$((notfull + 1))
    first=$(grep -m1 -E "error|Segmentation|signal" log | cut -c1-160)
    mount -o remount,size=400m fs
    winnow out --checkpoint fs/ck; rst=$?
    same=0
    [ $rst -eq 0 ] && diff -r ref out >/dev/null && same=1
    umount fs
    [ $st -eq 1 ] && [ $crashed -eq 0 ] && [ $named -eq 1 ] && [ $same -eq 1 ] && clean=$((clean + 1))
    echo "run $i: $size, exit $st, crashed $crashed, message names path+free $named," \
         "resume exit $rst, output equal $same${first:+ | $first}"
done
[ $notfull -gt 0 ] && echo "($notfull runs did not fill the disk)"
python3 -c "print('diskfull: %d crashes in %d runs, ratio %.2f clean vs 1.00 wanted' % ($crashes, $runs, $clean / $runs))"
