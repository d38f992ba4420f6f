#!/bin/bash
# wn-timeout: 400
# A checkpoint on a disk that fills up (a small tmpfs): the run exits 1
# with a message naming the file it could not write and the free space
# left -- never a crash -- and leaves a consistent checkpoint (a journal
# without torn records whose every batch's part file is whole); with room
# made, the same command resumes and the output equals a run that never
# ran out.  Twice here; bench/diskfull.sh repeats it 20 times.
# Needs root for mount; skipped (saying so) where mount is refused.
# Real text: Debian's copyright files.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

mkdir fs
why=$(mount -t tmpfs -o size=12m tmpfs fs 2>&1) ||
    skip_all "cannot mount a small tmpfs to fill (${why:-mount refused}): needs root"
tap_on_exit "umount '$TEST_TMP/fs' 2>/dev/null"
umount fs

n=$(python3 "$SRCDIR/t/lib/copyright_jsonl.py" in 400)
[ "${n:-0}" -ge 40 ] || skip_all "only ${n:-0} copyright files in /usr/share/doc"
cp "$SRCDIR/t/lib/filter-lic.yaml" lic.yaml
IN="--set input=$TEST_TMP/in"

out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=ref --progress off 2>&1); st=$?
ok $st "a reference run without a checkpoint" || diag "$out"

for rep in 1 2; do
    rm -rf out
    mount -t tmpfs -o size=12m tmpfs fs
    out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=out --checkpoint fs/ck \
          --progress off 2>&1); st=$?
    is $st 1 "[$rep] the checkpoint's disk fills up: exit 1" || diag "$out"
    like "$out" "fs/ck/[^ ]*: (cannot write|cannot append a record): No space left on device \([^)]*free on its file system\)" \
        "[$rep] the message names the file and the free space"
    if printf '%s\n' "$out" | grep -Eq "crashed|Segmentation|signal 11"; then
        ok 1 "[$rep] no rank crashed"; diag "$out"
    else
        ok 0 "[$rep] no rank crashed"
    fi
    # The journal: frames whole up to its end; the part file of each batch
    # it records present and whole.
    python3 - fs/ck >parts.txt <<'PY'
import json, struct, sys
d = sys.argv[1]
data, off, recs = open(d + '/journal', 'rb').read(), 0, []
while off + 16 <= len(data) and data[off:off + 4] == b'WNJ1':
    n = struct.unpack_from('<I', data, off + 4)[0]
    if off + 16 + n > len(data):
        break
    recs.append(json.loads(data[off + 16:off + 16 + n]))
    off += 16 + n
if off != len(data):
    sys.exit("journal: %d bytes after the last whole record" % (len(data) - off))
names = next(r['stages'] for r in recs if r['ev'] == 'run')
for r in recs:
    if r['ev'] == 'batch':
        print('%s/stages/%02d-%s/part-%08d.h5' % (d, r['stage'], names[r['stage']], r['batch']))
PY
    ok $? "[$rep] the journal ends with a whole record" || diag "$(cat parts.txt)"
    if [ -s parts.txt ]; then
        out=$("$WINNOW" inspect $(cat parts.txt) 2>&1 >/dev/null); st=$?
        ok $st "[$rep] the part file of each of the $(wc -l <parts.txt) batches it records is whole" \
            || diag "$out"
    else
        ok 0 "[$rep] the journal records no batch (the disk filled before the first)"
    fi
    mount -o remount,size=400m fs
    out=$(mpirun_np 4 "$WINNOW" run lic.yaml $IN --set output=out --checkpoint fs/ck \
          --progress off 2>&1); st=$?
    ok $st "[$rep] with room made, the same command resumes and exits 0" || diag "$out"
    diff -r ref out >/dev/null
    ok $? "[$rep] the output equals the reference" || diag "$(diff -rq ref out)"
    umount fs
done

done_testing
