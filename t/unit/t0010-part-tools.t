#!/bin/bash
# wn-timeout: 120
# Checkpoint part files are readable without winnow: h5dump and h5py
# (Debian's hdf5-tools and python3-h5py) show the columns (winnow's
# 512-byte header is HDF5's user block to them), and winnow inspect
# reports and verifies them.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

"$BUILDDIR/t/unit/test_part.t" --write part.h5; ok $? "test_part.t wrote a sample part file"

out=$(h5dump -A part.h5 2>&1); st=$?
ok $st "h5dump reads the file" || diag "$out"
like "$out" 'ATTRIBUTE "format"' "h5dump: the format attribute"
like "$out" '"winnow-part"' "h5dump: it names the format"
out=$(h5dump -d /task_000000/columns/len -s 0 -c 4 part.h5 2>&1); st=$?
ok $st "h5dump prints a column" || diag "$out"
like "$out" "\(0\): 0, 5, 10, 15" "h5dump: the first values of 'len' (u32, r * 5)"
out=$(h5dump -H -d /task_000000/columns/sig part.h5 2>&1)
like "$out" "DATASPACE  SIMPLE \{ \( 1000, 8 \)" "h5dump: a list<u32> column is [rows, 8]"

py=
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import h5py' 2>/dev/null; then py=$p; break; fi
done
ok $([ -n "$py" ]; echo $?) "a python3 with h5py (Debian python3-h5py) is installed"
"${py:-python3}" - part.h5 <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.userblock_size == 512, f.userblock_size
assert f.attrs["format"] == b"winnow-part", f.attrs["format"]
assert int(f.attrs["version"]) == 2
assert int(f.attrs["ntasks"]) == 4 and int(f.attrs["batch"]) == 17
t = f["task_000000"]
cols = t["columns"]
order = sorted(cols, key=lambda n: int(cols[n].attrs["index"]))
assert order == ["flag", "delta", "len", "ts", "id", "score", "text", "sig", "triple"], order
assert list(cols["len"][:4]) == [0, 5, 10, 15]
assert abs(cols["score"][8] - (8 * 0.25 - 3.0)) < 1e-12
assert cols["sig"].shape == (1000, 8) and cols["triple"].shape == (1000, 3)
off, raw = cols["text"]["offsets"][:], cols["text"]["bytes"][:]
row = lambda r: bytes(raw[off[r]:off[r + 1]])
assert row(0) == b"" and row(2) == b"cd" and row(5) == bytes([102, 103, 104, 0, 106]), row(5)
perf = t["perf"][:]
assert [p["stage"] for p in perf] == [b"read_jsonl", b"minhash"], perf
assert list(t["meta"].attrs) == ["source", "empty", "utf8", "a-last-key"], list(t["meta"].attrs)
assert f["task_000002"].attrs["has_batch"] == 0
PY
ok $? "h5py: a 512-byte user block, attributes, column order, values, strings, lists, perf, metadata order"

out=$("$WINNOW" inspect part.h5 2>&1); st=$?
ok $st "winnow inspect exits 0" || diag "$out"
like "$out" "stage 1 'minhash', batch 17, 4 tasks, 1001 rows, checksum [0-9a-f]{16} \(verified\)" \
    "inspect: the header, checksum verified"
like "$out" "text +str +1000 rows" "inspect: a string column"
printf 'garbage' >bad.h5
out=$("$WINNOW" inspect part.h5 bad.h5 2>&1); st=$?
is $st 1 "inspect: a bad file among good ones exits 1"
like "$out" "bad.h5: not a winnow part file" "inspect: the bad file is named"
# One byte changed in the HDF5 data: found by the file's checksum.
"${py:-python3}" - part.h5 flipped.h5 <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x10
open(sys.argv[2], "wb").write(bytes(b))
PY
out=$("$WINNOW" inspect flipped.h5 2>&1); st=$?
is $st 1 "inspect: a byte changed in the middle: exit 1"
like "$out" "flipped.h5: checksum mismatch" "inspect: ... a checksum mismatch, the file named"
"$WINNOW" inspect >/dev/null 2>&1; is $? 2 "inspect without files is a usage error"

done_testing
