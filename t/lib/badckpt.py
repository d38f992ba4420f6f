"""Checkpoint corruptions for `badinput.py ckpt SRC OUT` (see there): from
one checkpoint folder SRC (a run stopped part-way), OUT/NN-NAME/ck copies
of it with one thing done to each, and OUT/cases.json saying for each what
a resume must do:

  ok       exit 0, the outputs equal an undamaged run's (damaged part
           files and journal records are found and recomputed, or belong
           to a stage the resume does not read), and the messages match
           `says` (or anything, when `says` is empty);
  refuse   exit 2, before any work, with a message matching `says`.

Never a crash, a hang, or exit 0 with other outputs.  The damage is made
here from the checkpoint's own bytes (no data copied from elsewhere), at
offsets drawn from the seeded generator, so a failing case is
reproducible from its name and the seed."""

import json
import os
import shutil


def _parts(ck):
    """Every part file of the checkpoint, sorted."""
    out = []
    for root, _, names in os.walk(os.path.join(ck, "stages")):
        out += [os.path.join(root, n) for n in names if n.endswith(".h5")]
    return sorted(out)


def _flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([(b[0] if b else 0) ^ 0x5A]))


def _truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


def _journal_records(ck):
    """(offset, length) of each framed record of the journal: a 16-byte
    frame (magic, u32 length, u64 checksum) and the JSON text."""
    data = open(os.path.join(ck, "journal"), "rb").read()
    out, pos = [], 0
    while pos + 16 <= len(data):
        n = int.from_bytes(data[pos + 4:pos + 8], "little")
        out.append((pos, 16 + n))
        pos += 16 + n
    return out


def make_ckpt(src, outdir, rng):
    parts = _parts(src)
    if len(parts) < 4:
        raise SystemExit("%s: %d part files; a checkpoint of at least 4 is needed" %
                         (src, len(parts)))
    cases = []

    def case(name, expect, says, act):
        d = os.path.join(outdir, "%02d-%s" % (len(cases), name))
        ck = os.path.join(d, "ck")
        shutil.copytree(src, ck)
        act(ck)
        cases.append({"name": name, "dir": d, "expect": expect, "says": says})

    def part(ck, k):
        return os.path.join(ck, os.path.relpath(parts[k % len(parts)], src))

    # Part files: found by their whole-file checksum before HDF5 reads them.
    for i in range(6):
        k = rng.randrange(len(parts))
        size = os.path.getsize(parts[k])
        off = rng.randrange(size)
        case("part-byte-%d-at-%d" % (k, off), "ok", "",
             lambda ck, k=k, off=off: _flip(part(ck, k), off))
    k = rng.randrange(len(parts))
    case("part-truncated-half", "ok", "",
         lambda ck: _truncate(part(ck, k), os.path.getsize(part(ck, k)) // 2))
    case("part-truncated-to-zero", "ok", "", lambda ck: _truncate(part(ck, k + 1), 0))
    case("part-removed", "ok", "", lambda ck: os.unlink(part(ck, k + 2)))
    case("part-swapped", "ok", "",
         lambda ck: shutil.copyfile(part(ck, k), part(ck, k + 1))
         if os.path.getsize(part(ck, k)) != os.path.getsize(part(ck, k + 1)) or
         open(part(ck, k), "rb").read() != open(part(ck, k + 1), "rb").read() else None)
    case("part-garbage", "ok", "",
         lambda ck: open(part(ck, k + 3), "wb").write(
             bytes(rng.randrange(256) for _ in range(os.path.getsize(parts[(k + 3) % len(parts)])))))
    case("part-is-a-folder", "ok", "",
         lambda ck: (os.unlink(part(ck, k)), os.mkdir(part(ck, k))))

    # The journal: a damaged record costs the records after it.
    recs = _journal_records(src)
    mid = recs[len(recs) // 2]
    case("journal-byte-in-a-middle-record", "ok", "is damaged; the [0-9]+ records after",
         lambda ck: _flip(os.path.join(ck, "journal"), mid[0] + 16 + rng.randrange(mid[1] - 16)))
    case("journal-frame-length", "ok", "",
         lambda ck: _flip(os.path.join(ck, "journal"), mid[0] + 5))
    case("journal-torn-last-record", "ok", "",
         lambda ck: _truncate(os.path.join(ck, "journal"), recs[-1][0] + recs[-1][1] // 2))
    case("journal-garbage-appended", "ok", "",
         lambda ck: open(os.path.join(ck, "journal"), "ab").write(b"\x00garbage\xff" * 7))
    case("journal-emptied", "ok", "", lambda ck: _truncate(os.path.join(ck, "journal"), 0))
    case("journal-removed", "ok", "", lambda ck: os.unlink(os.path.join(ck, "journal")))

    # The files beside the journal.
    case("manifest-not-winnow", "refuse", "not a winnow",
         lambda ck: open(os.path.join(ck, "manifest.h5"), "w").write("name: not hdf5\n"))
    case("inputs-byte", "refuse", "inputs: damaged",
         lambda ck: _flip(os.path.join(ck, "inputs"), 20))
    case("inputs-removed", "refuse", "no record of the input files",
         lambda ck: os.unlink(os.path.join(ck, "inputs")))
    case("lock-of-a-dead-pid", "ok", "taking over the lock",
         lambda ck: open(os.path.join(ck, "lock"), "w").write("nohost 2147483646 1\n"))
    case("lock-garbage", "ok", "",
         lambda ck: open(os.path.join(ck, "lock"), "wb").write(b"\xff\xfe lock?\n"))
    case("stray-file", "refuse", "",
         lambda ck: open(os.path.join(ck, "notes.txt"), "w").write("mine\n"))
    case("stages-is-a-file", "refuse", "",
         lambda ck: (shutil.rmtree(os.path.join(ck, "stages")),
                     open(os.path.join(ck, "stages"), "w").write("x")))

    with open(os.path.join(outdir, "cases.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
    print("%d cases" % len(cases))
