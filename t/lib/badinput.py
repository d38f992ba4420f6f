#!/usr/bin/env python3
"""t/lib/badinput.py - a corpus of bad inputs, made by its own generator
(nothing is copied from elsewhere), so that every reader gets the same
treatment.

  badinput.py jsonl DIR [--seed N]
      DIR/in/: JSON Lines files (plain, .gz and, with the zstd program,
      .zst) of good lines made from real Debian text, with malformed lines
      of many kinds among them; DIR/manifest.json says for every (file,
      line) whether read_jsonl must keep it, reject it (into its rejects
      file, with its file and line) or skip it (a blank line).
  badinput.py check-jsonl MANIFEST --input PATH [--results FILE] --rejects FILE
      Checks a run of read_jsonl over DIR/in (given to winnow as PATH)
      against the manifest: every kept line exactly once in the --results
      rows with its bytes (without --results: not checked), every
      rejected one exactly once in the rejects file with its file, line
      and a reason, nothing else.  Prints what differs; exit status 1 when
      anything does.  The one place the verdicts are checked: a test
      adapts to a changed rejects file here.
  badinput.py yaml DIR
      DIR/cases/: malformed pipeline files and, with a good pipeline, bad
      --set arguments; DIR/cases.txt lists each case as NAME, FILE, the
      place its error must name (an extended regex: FILE:LINE:COL, FILE,
      or the --set), a phrase it must hold, and its extra arguments
      (separated by \\x1f), one case a line, the fields separated by
      \\x1e (a shell reads them with IFS=$'\\x1e': a tab would merge
      empty fields).  Every case must exit 2
      before any work (the pipelines name `output: out`, the test passes
      `--checkpoint ckpt`: neither may appear).
  badinput.py ckpt SRC DIR [--seed N]
      Checkpoint corruptions (t/lib/badckpt.py): DIR/NN-NAME/ck, copies of
      the checkpoint folder SRC each with one thing damaged (part files,
      journal records, the manifest, the input listing, the lock, stray
      files), and DIR/cases.json saying what a resume of each must do.

Verdicts of the jsonl mode follow read_jsonl's documented rules (the
header of stages/io/read_jsonl.c): a line must be UTF-8, one JSON value (RFC
8259) that is an object with a string "text"; blank lines (JSON
whitespace: space, tab, CR) are skipped.  Where RFC 8259 leaves the
choice to the parser, the manifest takes a side and says so: a leading
UTF-8 BOM is not whitespace (rejected), a number no double holds (1e400)
is kept as written (RFC 8259 sets no range), nesting deeper than the
parser's limit is rejected, a repeated key keeps its last value, \\u0000
is a character like any other.
"""
import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys

LICENSES = "/usr/share/common-licenses"
COPYRIGHTS = "/usr/share/doc"

# ------------------------------------------------------------ real text --


def paragraphs():
    """Distinct paragraphs of the Debian licenses, then non-ASCII lines of
    the packages' copyright files (names with accents and the like), in a
    fixed order."""
    seen, out = set(), []
    for name in sorted(os.listdir(LICENSES)):
        path = os.path.join(LICENSES, name)
        if not os.path.isfile(path):
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        for para in text.split("\n\n"):
            para = " ".join(para.split())
            if len(para) > 40 and para not in seen:
                seen.add(para)
                out.append(para)
    for pkg in sorted(os.listdir(COPYRIGHTS))[:400]:
        path = os.path.join(COPYRIGHTS, pkg, "copyright")
        try:
            text = open(path, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            line = " ".join(line.split())
            if any(ord(c) > 127 for c in line) and len(line) > 10 and line not in seen:
                seen.add(line)
                out.append(line)
    if len(out) < 200:
        sys.exit("badinput.py: too little text under %s and %s" % (LICENSES, COPYRIGHTS))
    return out


class Texts:
    """Hands out the paragraphs one at a time, each at most once, so that
    every document of the corpus is distinct (an exact deduplication
    keeps them all)."""

    def __init__(self, rng):
        self.paras = paragraphs()
        rng.shuffle(self.paras)
        self.next = 0

    def take(self):
        if self.next == len(self.paras):
            sys.exit("badinput.py: out of distinct paragraphs")
        self.next += 1
        return self.paras[self.next - 1]


def good_line(texts, rng):
    """A well-formed document in one of several shapes JSON allows."""
    text = texts.take()
    shape = rng.randrange(6)
    if shape == 0:
        doc = {"text": text}
    elif shape == 1:
        doc = {"id": rng.randrange(10 ** 9), "text": text, "lang": "en"}
    elif shape == 2:
        doc = {"meta": {"source": "debian", "tags": ["license", None, True, 1.5e-3]},
               "text": text}
    elif shape == 3:
        return json.dumps({"text": text}, ensure_ascii=True).encode()   # non-ASCII as \u escapes
    elif shape == 4:
        return (' { "text" : %s , "n" : -0.0 } ' % json.dumps(text, ensure_ascii=False)).encode()
    else:
        doc = {"text": text, "score": rng.random(), "ok": False, "none": None}
    return json.dumps(doc, ensure_ascii=False).encode()


# ------------------------------------------------------- the bad lines --


def with_text(fmt):
    """A maker of a line: fmt with {t} replaced by a distinct real text as
    a JSON string body (no quotes)."""
    def make(texts, rng):
        body = json.dumps(texts.take(), ensure_ascii=False)[1:-1]
        if isinstance(fmt, str):
            return fmt.replace("{t}", body).encode()
        return fmt.replace(b"{t}", body.encode())
    return make


def fixed(line):
    return lambda texts, rng: line


def truncated(k):
    """A good line cut to its k-th cut point: every proper prefix of an
    object without spaces around it is invalid (it lacks the closing
    brace) and not blank, cuts inside a multibyte character included."""
    def make(texts, rng):
        line = good_line(texts, rng).strip()
        cuts = [1, 2, len(line) // 3, len(line) // 2, len(line) - 1]
        return line[:cuts[k]]
    return make


def truncated_multibyte(k):
    def make(texts, rng):
        line = with_text('{"text": "{t} caf\u00e9 \u20ac \U0001F600"}')(texts, rng)
        return line[:len(line) - 2 - k]
    return make


def bad_lines():
    """(maker, verdict, case) of every kind of malformed line, and of good
    lines that look odd but are not.  A maker takes (texts, rng) and
    returns the line's bytes; each use takes texts of its own, so a case
    used in several files still repeats no document."""
    out = []

    def add(make, verdict, case):
        out.append((make, verdict, case))

    for n in range(6):
        for k in range(5):
            add(truncated(k), "reject", "good line %d truncated at cut %d of 5" % (n, k + 1))
    for k in range(6):
        add(truncated_multibyte(k), "reject", "truncated %d bytes before the end, in or after "
            "multibyte characters" % (k + 2))

    # Escapes.
    for esc in ["\\x41", "\\u12", "\\u12G4", "\\q", "\\'", "\\U0001F600", "\\ ", "\\\t"]:
        add(with_text('{"text": "{t} ' + esc + ' end"}'), "reject", "bad escape " + repr(esc))
    add(with_text('{"text": "{t} \\'), "reject", "a backslash at the end of the line")
    for esc in ["\\ud800", "\\udc00", "\\ud800\\u0041", "\\udfff\\ud800"]:
        add(with_text('{"text": "{t} ' + esc + '"}'), "reject", "lone surrogate " + esc)
    add(with_text('{"text": "{t} \\ud83d\\ude00 \\u00e9 \\/ \\b\\f\\n\\r\\t"}'), "keep",
        "every escape, a surrogate pair")
    add(with_text('{"text": "{t} \\u0000 after a NUL"}'), "keep", "\\u0000 in the text")

    # Numbers (in a field beside the text).
    for num in ["01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity",
                "1_000", "1,5", "--1", "1.2.3", "0.e1"]:
        add(with_text('{"text": "{t}", "n": ' + num + '}'), "reject", "bad number " + num)
    add(with_text('{"text": "{t}", "n": 1e400}'), "keep", "a number no double holds")
    add(with_text('{"text": "{t}", "n": -1e400, "m": 1e-400}'), "keep",
        "numbers no double holds")
    add(with_text('{"text": "{t}", "n": 123456789012345678901234567890123}'), "keep",
        "an integer beyond 64 bits")
    add(with_text('{"text": "{t}", "n": -0, "m": 1E5, "k": 2.5e-3, '
                  '"l": 1.7976931348623157e308}'), "keep", "numbers at the edges of the grammar")

    # Brackets and structure.
    for fmt in ['{"text": "{t}"', '{"text": "{t}"}}', '{{"text": "{t}"}',
                '{"text": "{t}", "x": [1, 2}', '{"text": "{t}", "x": [1, 2]]}',
                '{"text": "{t}", "x": {"a": 1}', '{"text": "{t}",}', '{"text": "{t}", "x": [1, 2,]}',
                '{"text" "{t}"}', '{"text": "{t}" "x": 1}', "{'text': '{t}'}", '{text: "{t}"}',
                '{"text": "{t}" /* c */}', '{"text": "{t}"} // c', '{"text": "{t}"} x',
                '{"text": "{t}"}{"text": "b"}', '{"text": "{t}"},', '{"text": "{t}"}]',
                '[{"text": "{t}"}', '{"text": "{t}", "x": tru}', '{"text": "{t}", "x": nul}',
                '{"text": "{t}", "x": True}', '{"text": "{t}" : 1}', '{"text": "{t}"} "{t}"']:
        add(with_text(fmt), "reject", "structure: " + fmt.replace("{t}", "T"))

    # Raw control characters and bytes JSON or UTF-8 do not allow.
    for ch in [b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1f", b"\t", b"\r", b"\x00"]:
        add(with_text(b'{"text": "{t} ' + ch + b' end"}'), "reject",
            "raw control byte %r in a string" % ch)
    add(with_text(b'{"text": "{t}"}\x00'), "reject", "a NUL byte after the object")
    add(with_text(b'\x00{"text": "{t}"}'), "reject", "a NUL byte before the object")
    add(with_text(b'{"text": "{t}"}\x0c'), "reject", "a form feed after the object")
    for seq in [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80", b"\x80", b"\xbf", b"\xe2\x82", b"\xf0\x9f\x98", b"\xff",
                b"\xfe", b"\xf8\x88\x80\x80\x80"]:
        add(with_text(b'{"text": "{t} ' + seq + b' end"}'), "reject",
            "invalid UTF-8 %r in the text" % seq)
    add(with_text(b'{"text": "{t}", "meta": "\xe9t\xe9"}'), "reject",
        "Latin-1 bytes in another field")
    add(with_text('{"text": "{t} \x7f \u2028 \uffff"}'), "keep",
        "DEL, U+2028 and U+FFFF raw (all allowed)")

    # Values that are not an object with a string text.
    for val in ["[]", '["text"]', '"text"', "1", "-2.5", "true", "false", "null"]:
        add(fixed(val.encode()), "reject", "not an object: " + val)
    add(with_text('["{t}"]'), "reject", "not an object: a list of the text")
    add(with_text('"{t}"'), "reject", "not an object: the text as a string")
    for fmt in ['{}', '{"txt": "{t}"}', '{"Text": "{t}"}', '{"text ": "{t}"}',
                '{"meta": {"text": "{t}"}}']:
        add(with_text(fmt), "reject", "no text field: " + fmt.replace("{t}", "T"))
    for val in ["5", "null", "true", "[]", "{}", '["a"]', '{"text": "a"}', "1e400"]:
        add(with_text('{"text": ' + val + ', "was": "{t}"}'), "reject", "text is " + val)
    add(with_text('{"text": 1, "text": "{t}"}'), "keep", "a repeated key keeps its last value")

    # Nesting.
    add(with_text('{"text": "{t}", "x": ' + "[" * 100000 + "]" * 100000 + "}"), "reject",
        "nested 100000 deep")
    add(with_text('{"text": "{t}", "x": ' + "[" * 100000), "reject", "100000 unclosed brackets")
    add(with_text('{"text": "{t}", "x": ' + '{"a": ' * 60 + "1" + "}" * 60 + "}"), "keep",
        "nested 60 deep")

    # Whitespace and odd lengths.
    add(with_text(' \t {"text": "{t}"} \t '), "keep", "spaces and tabs around the object")
    add(with_text('{"text": "{t} ' + "long " * 40000 + '"}'), "keep", "a 200 KB line")
    for blank in [b"", b" ", b"\t", b"  \t  ", b"\r"]:
        add(fixed(blank), "skip", "blank line %r" % blank)
    add(fixed(b"\x0b"), "reject", "a vertical tab alone (not JSON whitespace)")
    return out


def interleave(cases, texts, rng):
    """Each case made, between good lines: [(bytes, verdict, case)]."""
    lines = [(good_line(texts, rng), "keep", "good")]
    for make, verdict, case in cases:
        lines.append((make(texts, rng), verdict, case))
        lines.append((good_line(texts, rng), "keep", "good"))
    return lines


def write_lines(path, lines, eol=b"\n", last_eol=True, compress=None):
    data = b"".join(l + eol for l, _, _ in lines)
    if lines and not last_eol:
        data = data[:-len(eol)]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if compress == "gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    elif compress == "zst":
        subprocess.run(["zstd", "-q", "-f", "-o", path], input=data, check=True)
    else:
        with open(path, "wb") as f:
            f.write(data)


def make_jsonl(outdir, rng):
    texts = Texts(rng)
    inp = os.path.join(outdir, "in")
    shutil.rmtree(inp, ignore_errors=True)
    os.makedirs(inp)
    files = {}   # relative path -> [(bytes, verdict, case)]

    cases = bad_lines()
    files["a-plain.jsonl"] = interleave(cases, texts, rng)
    write_lines(os.path.join(inp, "a-plain.jsonl"), files["a-plain.jsonl"])

    # CRLF: the CR stays in the line (JSON whitespace), so good lines are
    # kept; a CR alone is a blank line.
    sample = [c for c in cases if c[1] != "skip"][::7]
    crlf = interleave(sample, texts, rng) + [(b"", "skip", "blank line (CR alone)")]
    files["b-crlf.jsonl"] = [(l + b"\r", v, c + ", CRLF") for l, v, c in crlf]
    write_lines(os.path.join(inp, "b-crlf.jsonl"), files["b-crlf.jsonl"])

    # A BOM before the first line; the last line without a newline.
    bom = interleave(cases[5::11], texts, rng)
    bom[0] = (b"\xef\xbb\xbf" + bom[0][0], "reject", "a UTF-8 BOM before the first object")
    files["c-bom.jsonl"] = bom
    write_lines(os.path.join(inp, "c-bom.jsonl"), bom, last_eol=False)

    # The last line bad and without a newline.
    last = interleave(cases[3::13], texts, rng)
    last.append((good_line(texts, rng).rstrip()[:-3], "reject", "truncated last line, no newline"))
    files["d-lastbad.jsonl"] = last
    write_lines(os.path.join(inp, "d-lastbad.jsonl"), last, last_eol=False)

    # The same treatment inside compressed files.
    files["e-gzip.jsonl.gz"] = interleave(cases[1::5], texts, rng)
    write_lines(os.path.join(inp, "e-gzip.jsonl.gz"), files["e-gzip.jsonl.gz"], compress="gz")
    if shutil.which("zstd"):
        files["f-zstd.jsonl.zst"] = interleave(cases[2::5], texts, rng)
        write_lines(os.path.join(inp, "f-zstd.jsonl.zst"), files["f-zstd.jsonl.zst"],
                    compress="zst")

    files["g-empty.jsonl"] = []
    write_lines(os.path.join(inp, "g-empty.jsonl"), [])
    blanks = [(b, "skip", "blank line %r" % b) for b in [b"", b" ", b"\t\t", b"\r", b""]]
    files["h-blank.jsonl"] = blanks
    write_lines(os.path.join(inp, "h-blank.jsonl"), blanks)
    files["sub/i-nested.jsonl"] = interleave(cases[4::9], texts, rng)
    write_lines(os.path.join(inp, "sub", "i-nested.jsonl"), files["sub/i-nested.jsonl"])

    # read_jsonl's order: paths sorted bytewise; the index is the place.
    names = sorted(files, key=lambda s: s.encode())
    manifest = {"files": names, "lines": []}
    for name in names:
        for no, (line, verdict, case) in enumerate(files[name], 1):
            manifest["lines"].append({
                "file": name, "line": no, "verdict": verdict, "case": case,
                "raw": line.decode("utf-8") if verdict == "keep" else None})
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=0)
    counts = {}
    for l in manifest["lines"]:
        counts[l["verdict"]] = counts.get(l["verdict"], 0) + 1
    print("%d files, %d lines: %s" % (len(names), len(manifest["lines"]),
                                       ", ".join("%d %s" % (n, v) for v, n in sorted(counts.items()))))


def check_jsonl(manifest_path, inp, results, rejects):
    """The one place that decides whether a run treated the corpus right;
    returns the list of problems (empty: all good)."""
    m = json.load(open(manifest_path))
    names = m["files"]
    want_keep = {(l["file"], l["line"]): l for l in m["lines"] if l["verdict"] == "keep"}
    want_rej = {(l["file"], l["line"]): l for l in m["lines"] if l["verdict"] == "reject"}
    problems = []
    seen = {}
    for row in map(json.loads, open(results)) if results else []:
        key = (names[row["_file"]], row["_line"]) if row["_file"] < len(names) else \
            ("file #%d" % row["_file"], row["_line"])
        seen[key] = seen.get(key, 0) + 1
        w = want_keep.get(key)
        if w is None:
            why = want_rej.get(key, {}).get("case", "not a line of the corpus")
            problems.append("%s:%d kept, but it must not be (%s)" % (key[0], key[1], why))
        elif row["_raw"] != w["raw"]:
            problems.append("%s:%d kept with other bytes (%s)" % (key[0], key[1], w["case"]))
    for key, n in seen.items():
        if n > 1:
            problems.append("%s:%d kept %d times" % (key[0], key[1], n))
    for key, w in want_keep.items() if results else []:
        if key not in seen:
            problems.append("%s:%d lost: a good line (%s)" % (key[0], key[1], w["case"]))

    prefix = os.path.normpath(inp)
    got = {}
    for rec in map(json.loads, open(rejects)) if os.path.exists(rejects) else []:
        path = os.path.normpath(rec.get("file", ""))
        rel = os.path.relpath(path, prefix) if path.startswith(prefix + os.sep) else path
        key = (rel, rec.get("line"))
        got[key] = got.get(key, 0) + 1
        w = want_rej.get(key)
        if w is None:
            why = want_keep.get(key, {}).get("case", "not a rejected line of the corpus")
            problems.append("%s:%s rejected, but it must not be (%s): %s" %
                            (key[0], key[1], why, rec.get("error")))
        elif not rec.get("error") or not rec.get("reason"):
            problems.append("%s:%d rejected without a reason" % key)
    for key, n in got.items():
        if n > 1:
            problems.append("%s:%s rejected %d times" % (key[0], key[1], n))
    for key, w in want_rej.items():
        if key not in got:
            problems.append("%s:%d not in the rejects file (%s)" % (key[0], key[1], w["case"]))
    return problems


# ------------------------------------------------------ pipeline files --

# What `winnow stages` accepts is checked at init: one refused value per
# built-in stage parameter that has a range or a choice, and per test stage
# parameter (the test plugin's, found on LD_LIBRARY_PATH: t/lib/tap.sh).
TS = "teststages.so:"
BAD_PARAMS = [
    ("minhash", "char_ngrams", "0"), ("minhash", "char_ngrams", "1048577"),
    ("minhash", "num_bands", "0"), ("minhash", "num_bands", "65537"),
    ("minhash", "minhashes_per_band", "0"), ("minhash", "minhashes_per_band", "4097"),
    ("minhash", "seed", "-1"), ("minhash", "seed", "4294967296"),
    ("minhash", "seed", "99999999999999999999"), ("minhash", "algorithm", "three"),
    ("minhash", "use_64_bit_hash", "2"), ("minhash", "char_ngrams", "1e400"),
    ("lsh", "num_bands", "0"), ("lsh", "minhashes_per_band", "5000"),
    ("lsh", "bands_per_iteration", "0"), ("lsh", "bands_per_iteration", "21"),
    ("lsh", "keep_signatures", "sometimes"),
    ("buckets_to_edges", "jaccard_threshold", "1.01"), ("buckets_to_edges", "jaccard_threshold", "-1"),
    ("buckets_to_edges", "jaccard_threshold", "nan"), ("buckets_to_edges", "id_field", "x" * 70),
    ("connected_components", "id_field", "y" * 70),
    ("shuffle", "key", '""'),
    ("word_count", "min_words", "-1"), ("word_count", "max_words", "-1"),
    ("mean_word_length", "min_mean_word_length", "-3"),
    ("mean_word_length", "max_mean_word_length", "1"),
    ("symbols_to_words", "max_symbol_to_word_ratio", "1.5"),
    ("non_alphanumeric", "max_non_alpha_numeric_to_text_ratio", "25"),
    ("urls", "max_url_to_text_ratio", "-0.2"), ("repeated_lines", "max_repeated_line_fraction", "70"),
    ("repeated_paragraphs", "max_repeated_paragraphs_ratio", "1.7"),
    ("repeating_top_ngrams", "n", "0"), ("repeating_top_ngrams", "max_repeating_ngram_ratio", "2"),
    ("bullets", "max_bullet_lines_ratio", "90"),
    ("read_jsonl", "blocksize", "0"), ("read_jsonl", "blocksize", "-1"), ("read_jsonl", "input", '""'),
    ("write_jsonl", "output", '""'), ("remove_duplicates", "output", '""'),
    (TS + "sleep", "ms_per_item", "-1"), (TS + "sleep", "ms_per_task", "-0.5"),
    (TS + "fail", "failures", "-1"), (TS + "fail", "every", "0"),
    (TS + "fail", "mode", "explode"), (TS + "fanout", "tasks", "0"),
    (TS + "fanout", "tasks", "1048577"), (TS + "fanout", "rows", "16777217"),
    (TS + "sum", "column", '""'), (TS + "lsh_testdata", "tasks", "0"),
    (TS + "lsh_testdata", "band_len", "0"), (TS + "lsh_testdata", "length", "250"),
    (TS + "lsh_testdata", "near_bands", "99"), (TS + "lsh_testdata", "rows", "2000000"),
]

# Executor and stage keys out of range (the key tables of src/config/config.c).
BAD_EXECUTOR = [
    ("reserved_cpus", "-1"), ("reserved_gpus", "-0.5"), ("ignore_head_node", "2"),
    ("show_progress", "maybe"), ("progress_interval", "0"), ("progress_interval", "-1"),
    ("prefetch", "-1"), ("prefetch", "1025"), ("prefetch", "2147483648"),
    ("max_retries", "-1"), ("max_retries", "1001"), ("ignore_failures", "sometimes"),
    ("drain_timeout", "0"), ("time_margin", "-300"), ("shuffle_memory_limit", "-1"),
    ("shuffle_memory_limit", "1e300"), ("shuffle_inflight", "2e15"), ("shuffle_inflight", "1e400"),
    ("shuffle_timeout", "0"), ("reserved_cpus", ".inf"), ("progress_interval", "nan"),
    ("prefetch", "99999999999999999999999"), ("shuffle_spill_dir", "[a, b]"),
    ("checkpoint_compression", "gzip"), ("checkpoint_compression", "deflate:0"),
    ("checkpoint_compression", "deflate:10"), ("checkpoint_compression", "DEFLATE"),
    ("checkpoint_compression", "~"), ("checkpoint_compression", "[deflate]"),
    ("memory_limit", "-1"), ("memory_limit", "1e300"), ("memory_limit", "64Mi"),
    ("spill_dir", "[a, b]"),
]
BAD_STAGE = [
    ("batch_size", "-1"), ("batch_size", "2.5"), ("batch_size", "2147483648"), ("batch_size", "four"),
    ("num_workers", "-1"), ("num_workers", "99999999999"), ("num_output_tasks", "-1"),
    ("num_output_tasks", "1048577"), ("total_nparts", "1000000000"), ("total_nparts", "-1"),
    ("batch_size", "1e400"), ("batch_size", '"4"'),
]
BAD_RESOURCES = [("cpus", "-1"), ("gpus", "-1"), ("gpu_memory_gb", "-16"), ("cpus", "1e400"),
                 ("cpus", "lots")]

GOOD = """name: bad
output: out
executor: {progress_interval: 2}
stages:
  - name: gen
    type: teststages.so:fanout
    params: {tasks: 2, rows: 3}
  - name: work
    type: teststages.so:sleep
    batch_size: 2
    params: {ms_per_item: 0}
"""

BAD_SETS = [
    ("garbage", r"--set garbage: ", "expected KEY=VALUE"),
    ("=5", r"--set =5: ", "expected KEY=VALUE"),
    ("bogus=1", r"--set bogus=1: ", "unknown key 'bogus'"),
    ("nmae=x", r"--set nmae=x: ", "did you mean 'name'"),
    ("name=", r"--set name=: ", "expected a name"),
    ("name=a b", r"--set name=a b: ", "expected a name"),
    ("executor.prefech=1", r"--set executor.prefech=1: ", "did you mean 'prefetch'"),
    ("executor.prefetch=-1", r"--set executor.prefetch=-1: ", "expected an integer from 0 to 1024"),
    ("executor.prefetch=99999999999999999999", r"--set executor.prefetch=9+: ", "expected an integer"),
    ("executor.max_retries=1e9", r"--set executor.max_retries=1e9: ", "got '1e9'"),
    ("executor.show_progress=1", r"--set executor.show_progress=1: ", "expected true or false"),
    ("executor.shuffle_memory_limit=1e300", r"--set executor.shuffle_memory_limit=1e300: ",
     "2^50"),
    ("stages.nope.batch_size=1", r"--set stages.nope.batch_size=1: ", "no stage named 'nope'"),
    ("stages.wrk.batch_size=1", r"--set stages.wrk.batch_size=1: ", "did you mean 'work'"),
    ("stages.work=1", r"--set stages.work=1: ", "expected stages.NAME.FIELD"),
    ("stages.work.batch_size=abc", r"--set stages.work.batch_size=abc: ", "expected an integer"),
    ("stages.work.batch_size=", r"--set stages.work.batch_size=: ", "got an empty value"),
    ("stages.work.name=other", r"--set stages.work.name=other: ", "cannot be renamed"),
    ("stages.work.resources.gpu=1", r"--set stages.work.resources.gpu=1: ", "did you mean 'gpus'"),
    ("stages.work.resources.cpus=-2", r"--set stages.work.resources.cpus=-2: ", "expected a number"),
    ("stages.work.num_output_tasks=2000000", r"--set stages.work.num_output_tasks=2000000: ",
     "from 1 to 1048576"),
    ("stages.work.params.=1", r"--set stages.work.params.=1: ", "expected stages.work.FIELD"),
    ("stages.work.type=has space", r"--set stages.work.type=has space: ", "expected a stage type"),
    ("stages.work.ms_per_item=-1", r"--set stages.work.ms_per_item=-1: ",
     "stage 'work': parameter 'ms_per_item': must be >= 0"),
    ("stages.work.params.ms_per_item=lots", r"--set stages.work.params.ms_per_item=lots: ",
     "expected a number"),
    ("stages.work.ms_per_itme=1", r"--set stages.work.ms_per_itme=1: ", "did you mean 'ms_per_item'"),
    ("stages.gen.tasks=0", r"--set stages.gen.tasks=0: ", "parameter 'tasks': must be from 1"),
    ("stages.gen.rows=99999999999999999999", r"--set stages.gen.rows=9+: ", "out of range"),
    ("stages.gen.total_nparts=4", r"FILE:5:5: ", "total_nparts is for shuffle stages"),
    ("stages.work.type=nosuch", r"FILE:8:5: ", "unknown stage type 'nosuch'"),
    ("stages.work.type=./none.so", r"FILE:8:5: ", "cannot load stage plugin"),
    ("stages.work.resources.cpus=100000", r"FILE:8:5: ", "needs 100000 CPUs per actor"),
    ("executor.reserved_cpus=1e300", r"FILE:5:5: ", "1e+300 reserved"),
    ("stages.gen.tasks=${outptu}", r"--set stages.gen.tasks=\$\{outptu\}: ",
     "parameter 'tasks': expected an integer"),
]


def make_yaml(outdir, rng):
    cases_dir = os.path.join(outdir, "cases")
    shutil.rmtree(cases_dir, ignore_errors=True)
    os.makedirs(cases_dir)
    rows = []

    def case(name, text, at, says, args=()):
        """text: bytes or str (None: the file is made by the caller)."""
        name = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
        fname = "cases/%03d-%s.yaml" % (len(rows), name)
        path = os.path.join(outdir, fname)
        if text is not None:
            with open(path, "wb") as f:
                f.write(text.encode() if isinstance(text, str) else text)
        at = at.replace("FILE", fname.replace(".", r"\."))
        rows.append((name, fname, at, says, "\x1f".join(args)))
        return path

    L = r":[0-9]+:[0-9]+: "
    # Syntax.
    for name, text, says in [
        ("unclosed-flow-list", "name: x\nstages: [\n", "YAML syntax error"),
        ("unclosed-flow-map", "name: x\nstages: [{type: teststages.so:noop\n", "YAML syntax error"),
        ("unclosed-quote", 'name: "x\nstages: [{type: teststages.so:noop}]\n', "YAML syntax error"),
        ("bad-indent", "name: x\nstages:\n  - type: teststages.so:noop\n   name: y\n", "YAML syntax error"),
        ("colon-in-plain", "name: x: y\nstages: [{type: teststages.so:noop}]\n", "YAML syntax error"),
        ("stray-bracket", "name: x\nstages: [{type: teststages.so:noop}]]\n", "YAML syntax error"),
        ("list-and-map", "name: x\n- a\nstages: []\n", "YAML syntax error"),
        ("tab-indent", "name: x\nstages:\n\t- type: teststages.so:noop\n", "tab"),
        ("tab-in-block", "name: x\nstages:\n  - type: teststages.so:noop\n\tbatch_size: 2\n", "tab"),
        ("bad-directive", "%YAML 9.9\n---\nname: x\n", "YAML"),
        ("two-documents", "name: a\nstages: [{type: teststages.so:noop}]\n---\nname: b\n", "only one YAML document"),
        ("undefined-alias", "name: x\nstages: *nothing\n", "undefined alias"),
        ("block-scalar-bad", "name: x\ndescription: |\nbad\nstages: [{type: teststages.so:noop}]\n", "YAML"),
    ]:
        case(name, text, "FILE" + L, says)

    # Wrong types, unknown and duplicate keys, missing keys.
    for name, text, says in [
        ("root-list", "- name: x\n", "a pipeline file is a mapping"),
        ("root-scalar", "just words\n", "a pipeline file is a mapping"),
        ("root-null", "~\n", "a pipeline file is a mapping"),
        ("name-list", "name: [x]\nstages: [{type: teststages.so:noop}]\n", "name: expected a name"),
        ("name-spaces", "name: a b\nstages: [{type: teststages.so:noop}]\n", "name: expected a name"),
        ("name-missing", "stages: [{type: teststages.so:noop}]\n", "missing required key 'name'"),
        ("stages-missing", "name: x\n", "missing required key 'stages'"),
        ("stages-empty", "name: x\nstages: []\n", "needs at least one stage"),
        ("stages-scalar", "name: x\nstages: 5\n", "expected a list of stages"),
        ("stages-map", "name: x\nstages: {type: teststages.so:noop}\n", "expected a list of stages"),
        ("stage-scalar", "name: x\nstages: [noop]\n", "expected a mapping"),
        ("stage-no-type", "name: x\nstages: [{name: a}]\n", "missing required key 'type'"),
        ("stage-type-list", "name: x\nstages: [{type: [a]}]\n", "type: expected"),
        ("executor-list", "name: x\nexecutor: [1]\nstages: [{type: teststages.so:noop}]\n", "expected a mapping"),
        ("params-list", "name: x\nstages: [{type: teststages.so:sleep, params: [1]}]\n", "expected a mapping"),
        ("param-list-value", "name: x\nstages: [{type: teststages.so:sleep, params: {ms_per_item: [1]}}]\n",
         "expected a single value"),
        ("resources-scalar", "name: x\nstages: [{type: teststages.so:noop, resources: 2}]\n", "expected a mapping"),
        ("key-list", "name: x\n? [a]\n: 1\nstages: [{type: teststages.so:noop}]\n", "keys must be plain words"),
        ("unknown-top", "name: x\nstagse: []\n", "did you mean 'stages'"),
        ("unknown-executor", "name: x\nexecutor: {prefech: 2}\nstages: [{type: teststages.so:noop}]\n",
         "did you mean 'prefetch'"),
        ("unknown-stage-key", "name: x\nstages: [{type: teststages.so:noop, batchsize: 2}]\n",
         "did you mean 'batch_size'"),
        ("unknown-resource", "name: x\nstages: [{type: teststages.so:noop, resources: {cpu: 1}}]\n",
         "did you mean 'cpus'"),
        ("unknown-param", "name: x\nstages: [{type: teststages.so:sleep, params: {ms_per_itme: 1}}]\n",
         "did you mean 'ms_per_item'"),
        ("param-for-none", "name: x\nstages: [{type: teststages.so:noop, params: {x: 1}}]\n",
         "takes no parameters"),
        ("unknown-type", "name: x\nstages: [{type: nosuch}]\n", "unknown stage type 'nosuch'"),
        ("missing-plugin", "name: x\nstages: [{type: ./missing.so}]\n", "cannot load stage plugin"),
        ("required-param", "name: x\nstages: [{type: read_jsonl}]\n",
         "missing required parameter 'input'"),
        ("dup-top", "name: x\nname: y\nstages: [{type: teststages.so:noop}]\n", "duplicate key 'name'"),
        ("dup-executor", "name: x\nexecutor:\n  prefetch: 1\n  prefetch: 2\nstages: [{type: teststages.so:noop}]\n",
         "duplicate key 'prefetch'"),
        ("dup-stage-key", "name: x\nstages:\n  - type: teststages.so:noop\n    type: teststages.so:sleep\n", "duplicate key 'type'"),
        ("dup-param", "name: x\nstages:\n  - type: teststages.so:sleep\n    params:\n      ms_per_item: 1\n"
         "      ms_per_item: 2\n", "duplicate key 'ms_per_item'"),
        ("dup-stage-name", "name: x\nstages:\n  - {name: a, type: teststages.so:noop}\n  - {name: a, type: teststages.so:sleep}\n",
         "stage name 'a' is used twice"),
        ("dup-stage-type", "name: x\nstages:\n  - {type: teststages.so:noop}\n  - {type: teststages.so:noop}\n",
         "stage name 'noop' is used twice"),
        ("nul-escape", 'name: "a\\0b"\nstages: [{type: teststages.so:noop}]\n', "a NUL character is not allowed"),
        ("unknown-variable", "name: x\nstages: [{type: teststages.so:probe, params: {dir: \"${outptu}\"}}]\n",
         "unknown variable"),
        ("unset-variable", "name: x\nstages: [{type: teststages.so:probe, params: {dir: \"${input}\"}}]\n",
         "which this pipeline does not set"),
        ("nparts-not-shuffle", "name: x\nstages: [{type: teststages.so:noop, total_nparts: 4}]\n",
         "total_nparts is for shuffle stages"),
        ("output-tasks-shuffle", "name: x\nstages: [{type: shuffle, num_output_tasks: 4}]\n",
         "set total_nparts, not num_output_tasks"),
        ("output-tasks-raft", "name: x\nstages: [{type: connected_components, num_output_tasks: 2}]\n",
         "num_output_tasks is set by the clique size"),
        ("nparts-rounds", "name: x\nstages: [{type: lsh, total_nparts: 1048576}]\n",
         "total_nparts 1048576 x 4 rounds"),
        ("band-layout", "name: x\nstages:\n  - {type: minhash, params: {num_bands: 8, "
         "minhashes_per_band: 4}}\n  - {type: lsh, params: {num_bands: 20}}\n",
         "'num_bands' x 'minhashes_per_band': 20 x 4"),
        ("cpus-too-many", "name: x\nstages: [{type: teststages.so:noop, resources: {cpus: 100000}}]\n",
         "needs 100000 CPUs per actor"),
    ]:
        case(name, "output: out\n" + text if text.startswith("name") else text, "FILE" + L, says)

    # Every executor, stage and resources key out of range or mistyped.
    for key, val in BAD_EXECUTOR:
        case("executor-%s-%s" % (key, val[:12].replace("/", "_")),
             "name: x\noutput: out\nexecutor:\n  %s: %s\nstages: [{type: teststages.so:noop}]\n" % (key, val),
             "FILE:4:[0-9]+: ", "executor: %s: expected" % key)
    for key, val in BAD_STAGE:
        case("stage-%s-%s" % (key, val[:12]),
             "name: x\noutput: out\nstages:\n  - type: shuffle\n    %s: %s\n" % (key, val),
             "FILE:5:[0-9]+: ", "stage 'shuffle': %s: expected" % key)
    for key, val in BAD_RESOURCES:
        case("resources-%s-%s" % (key, val[:12]),
             "name: x\noutput: out\nstages:\n  - type: teststages.so:noop\n    resources:\n      %s: %s\n" % (key, val),
             "FILE:6:[0-9]+: ", "resources: %s: expected" % key)
    # Every refused stage parameter value, in the file (its key's line).
    needs = {"read_jsonl": {"input": "in"}, "write_jsonl": {"input": "in", "output": "o"},
             "remove_duplicates": {"input": "in", "output": "o"}}
    for typ, key, val in BAD_PARAMS:
        other = "".join("      %s: %s\n" % kv for kv in needs.get(typ, {}).items() if kv[0] != key)
        text = ("name: x\noutput: out\nstages:\n  - name: s\n    type: %s\n    params:\n"
                "      %s: %s\n%s" % (typ, key, val, other))
        case("param-%s-%s-%s" % (typ.split(":")[-1], key, val[:10].replace('"', "q")), text,
             "FILE:7:7: ",
             "stage 's': parameter '%s'" % key)

    # Huge, deep, wide, aliases.
    case("deep-flow", "name: x\noutput: out\nstages: [{type: teststages.so:noop}]\nx: " + "[" * 100000 + "\n",
         "FILE:4:[0-9]+: ", "nested more than 64 levels deep")
    case("deep-block", "name: x\noutput: out\n" + "".join("  " * i + "k%d:\n" % i for i in range(2000)),
         "FILE:67:[0-9]+: ", "nested more than 64 levels deep")
    case("deep-params", "name: x\noutput: out\nstages: [{type: teststages.so:noop, params: " + "{a: " * 200 + "1" +
         "}" * 200 + "}]\n", "FILE:3:[0-9]+: ", "nested more than 64 levels deep")
    case("wide-map", "name: x\noutput: out\nexecutor:\n" + "".join("  k%d: 1\n" % i for i in range(5000)) +
         "stages: [{type: teststages.so:noop}]\n", "FILE:4:3: ", "has more than 1024 keys")
    case("wide-stages", "name: x\noutput: out\nstages:\n" +
         "".join("  - {type: teststages.so:noop, name: s%d}\n" % i for i in range(3000)), "FILE:4:3: ",
         "has more than 1024 items")
    laughs = "name: x\noutput: out\na0: &a0 [" + ", ".join(["lol"] * 10) + "]\n"
    for i in range(1, 12):
        laughs += "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10))
    case("billion-laughs", laughs + "stages: [{type: teststages.so:noop}]\n", "FILE" + L, "once its aliases")
    shared = "name: x\noutput: out\nstages:\n  - {name: s0, type: teststages.so:sleep, params: &p {ms_per_item: 0"
    shared += "".join(", k%d: %d" % (i, i) for i in range(900)) + "}}\n"
    shared += "".join("  - {name: s%d, type: teststages.so:sleep, params: *p}\n" % i for i in range(1, 200))
    case("alias-params-many", shared, "FILE" + L, "once its aliases")
    case("alias-recursive", "name: x\noutput: out\nstages: &s [*s]\n", "FILE:3:13: ",
         "stands for a node that contains it")
    case("anchors-many", "name: x\noutput: out\n" + "".join("a%d: &a%d 1\n" % (i, i) for i in range(400)) +
         "stages: [{type: teststages.so:noop}]\n", "FILE" + L, "more than 256 anchors")
    case("huge-int", "name: x\noutput: out\nstages: [{type: teststages.so:noop, batch_size: " + "9" * 5000 + "}]\n",
         "FILE:3:[0-9]+: ", "batch_size: expected")
    case("huge-param", "name: x\noutput: out\nstages: [{type: teststages.so:sleep, params: {ms_per_item: 1" +
         "0" * 400 + "}}]\n", "FILE:3:[0-9]+: ", "parameter 'ms_per_item'")

    # Encodings and bytes.
    case("latin1", b"name: caf\xe9\nstages: [{type: teststages.so:noop}]\n", "FILE" + L, "UTF-8")
    case("overlong", b"name: x\ndescription: \xc0\x80\nstages: [{type: teststages.so:noop}]\n", "FILE" + L,
         "UTF-8")
    case("surrogate-utf8", b"name: x\ndescription: \xed\xa0\x80\nstages: [{type: teststages.so:noop}]\n",
         "FILE" + L, "invalid Unicode character")
    case("truncated-utf8", b"name: x\nstages: [{type: teststages.so:noop}]\ndescription: \xe2\x82", "FILE" + L,
         "UTF-8")
    case("nul-byte", b"name: x\nstages: [{type: teststages.so:noop}]\n\x00trailing", "FILE:3:1: ", "a NUL byte")
    rnd = bytes(rng.randrange(256) for _ in range(4096))
    case("random-bytes", rnd, "FILE" + r"(:[0-9]+:[0-9]+)?: ", "")
    case("random-bytes-no-nul", bytes(b or 1 for b in rnd), "FILE" + L, "")
    case("elf-header", b"\x7fELF\x02\x01\x01\x00" + bytes(56), "FILE:1:[0-9]+: ", "a NUL byte")
    case("gzip", gzip.compress(GOOD.encode()), "FILE" + L, "")
    case("utf16", ("\ufeff" + GOOD).encode("utf-16-le"), "FILE: ", "UTF-16 or UTF-32 text")

    # Empty and near-empty.
    for name, text, says in [("empty", "", "the pipeline file is empty"),
                             ("comments-only", "# nothing\n# here\n", "the pipeline file is empty"),
                             ("whitespace-only", "\n   \n\n", "the pipeline file is empty"),

                             ("bom-only", "\ufeff", "the pipeline file is empty")]:
        case(name, text, "FILE:1:1: ", says)

    case("document-marker", "---\n", "FILE:2:1: ", "a pipeline file is a mapping")

    # Files that are not pipeline files at all.
    big = case("sparse-17mib", None, "FILE: ", "a pipeline file may have at most 16 MiB")
    with open(big, "wb") as f:
        f.truncate(17 << 20)
    os.symlink("/dev/zero", case("dev-zero", None, "FILE: ", "a character device"))
    os.symlink("/dev/null", case("dev-null", None, "FILE: ", "a character device"))
    os.mkdir(case("directory", None, "FILE: ", "a directory"))
    case("missing", None, "FILE: ", "No such file or directory")

    # Bad --set arguments, on a good pipeline.
    good = os.path.join(outdir, "cases", "good.yaml")
    with open(good, "w") as f:
        f.write(GOOD)
    for arg, at, says in BAD_SETS:
        n = len(rows)
        rows.append(("set-%02d" % n, "cases/good.yaml",
                     at.replace("FILE", r"cases/good\.yaml"), says, "\x1f".join(["--set", arg])))
    rows.append(("set-missing-value", "cases/good.yaml", r"run: unknown option '--set'",
                 "missing its value", "--set"))

    with open(os.path.join(outdir, "cases.txt"), "w") as f:
        for r in rows:
            assert all("\x1e" not in x and "\n" not in x for x in r), r
            f.write("\x1e".join(r) + "\n")
    print("%d cases" % len(rows))


# --------------------------------------------------------- checkpoints --


def make_ckpt(src, outdir, rng):
    """Checkpoint corruptions: t/lib/badckpt.py (its own concern, and this
    file's size)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import badckpt
    os.makedirs(outdir, exist_ok=True)
    badckpt.make_ckpt(src, outdir, rng)


# ----------------------------------------------------------------- main --


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    for mode in ("jsonl", "yaml", "ckpt"):
        p = sub.add_parser(mode)
        if mode == "ckpt":
            p.add_argument("src", help="a checkpoint folder to damage copies of")
        p.add_argument("dir")
        p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("check-jsonl")
    p.add_argument("manifest")
    p.add_argument("--input", required=True)
    p.add_argument("--results", help="omitted: the rejects only")
    p.add_argument("--rejects", required=True)
    a = ap.parse_args(argv)
    if a.mode == "check-jsonl":
        problems = check_jsonl(a.manifest, a.input, a.results, a.rejects)
        for p in problems[:40]:
            print(p)
        if len(problems) > 40:
            print("... and %d more" % (len(problems) - 40))
        return 1 if problems else 0
    rng = random.Random(a.seed)
    if a.mode == "ckpt":
        make_ckpt(a.src, a.dir, rng)
    else:
        {"jsonl": make_jsonl, "yaml": make_yaml}[a.mode](a.dir, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
