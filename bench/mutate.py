#!/usr/bin/env python3
"""bench/mutate.py - a labelled near-duplicate corpus made from real text.

    bench/mutate.py --out DIR [--docs N] [--seed S] [--mutate-frac F]
                    [--variants V | --variants-total T] [--jaccard LO HI]
                    [--max-chars C] [--distinct C] [--parts P]
                    [--sources LIST] [--threshold T]

The text is nobody on the team's: it is read at run time from the packages
installed on the machine (Debian's /usr/share/common-licenses/*,
/usr/share/doc/*/copyright and, gunzipped, /usr/share/man/man1/*.gz troff
sources; --sources picks among licenses, copyright and man).  Those files
already hold many exact and near copies of each other (the same license
pasted into many copyright files), which the ground truth accounts for.

  sources   the candidate files are listed, sorted by path, and shuffled
            with --seed; they are read in that order, each cut to at most
            --max-chars characters (at a line end when there is one in the
            second half; a man page from its first .SH line, skipping the
            macro preamble), and the first N distinct texts of at least 200
            characters become the source documents (ids d00000, d00001,
            ...), all written to the corpus unchanged.  --distinct C (e.g.
            0.2) also skips a text that shares C or more of its n-grams
            (estimated from a 1/16 sample) with a source taken before, for
            a corpus whose sources are not near copies of each other.
  variants  a --mutate-frac share of the sources (chosen with the seed)
            get --variants mutated copies each, or --variants-total in all
            spread evenly over them (ids dNNNNN~vK).  Variant K
            of a source aims at a target Jaccard with it; the targets are
            stratified over [LO, HI] (default 0.3 .. 1.0), so the exact
            Jaccards cover the range evenly.  A variant is the source after
            the first k edits of a seeded sequence: word deletions, word
            insertions (words drawn from the sources), adjacent word swaps,
            character typos, line drops, line duplications, and a paragraph
            of another source appended or prepended.  k is searched for so
            that the exact Jaccard is as close to the target as k allows.
  corpus    DIR/corpus/part-XXXX.jsonl, --parts files, documents dealt
            round-robin in a seeded shuffled order; each line
            {"id": "<unique string>", "text": "..."}.
  truth     DIR/truth.jsonl: EVERY pair of corpus documents (not only
            source/variant pairs) whose exact Jaccard is >= --threshold
            (default 0.5), {"a": id, "b": id, "jaccard": J}, a < b, sorted.
            Jaccard is over the sets of 24-code-point n-grams, as the
            minhash stage makes them (a text of fewer than 24 code points is
            one n-gram: itself).
  variants  DIR/variants.jsonl: for each variant its source, target, edit
            count and exact Jaccard with its source; DIR/sources.jsonl:
            each source's file.

A summary goes to stderr.  The output depends on the seed and on the files
installed (the same machine image gives the same corpus).

Python 3 standard library only.  All pairs over a few thousand documents
take seconds: see similar_pairs() (prefix filtering: exact, no sampling, no
pair >= the threshold can be missed; the comment there says why).
"""
import argparse
import collections
import glob
import gzip
import json
import math
import os
import random
import re
import sys
import time

NGRAM = 24
MIN_CHARS = 200

# Python's str hash is salted per process unless PYTHONHASHSEED is set;
# fixing it makes the n-gram hashes, hence the set iteration orders and
# the candidate counts in the summary, the same on every run.  (The truth
# itself does not depend on the order; see similar_pairs.)
if os.environ.get("PYTHONHASHSEED") != "0" and __name__ == "__main__":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)


def ngrams(text, n=NGRAM):
    """The set of n-code-point windows of text (the text itself if shorter)."""
    if len(text) < n:
        return {text}
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def jaccard_sets(a, b):
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


# ------------------------------------------------------------- sources --

def candidate_paths(kinds):
    paths = []
    if "licenses" in kinds:
        paths += sorted(p for p in glob.glob("/usr/share/common-licenses/*") if os.path.isfile(p))
    if "copyright" in kinds:
        paths += sorted(glob.glob("/usr/share/doc/*/copyright"))
    if "man" in kinds:
        paths += sorted(glob.glob("/usr/share/man/man1/*.gz"))
    return paths


def read_text(path, max_chars):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(8 * max_chars + 65536)
        else:
            with open(path, "rb") as f:
                data = f.read(8 * max_chars + 65536)
    except (OSError, EOFError):
        return None
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if path.endswith(".gz"):
        # A man page from its first section heading: the macro preamble
        # before it (pod2man's, help2man's) is the same in many pages.
        m = re.search(r"^\.S[Hh]\b", text, re.M)
        if m:
            text = text[m.start():]
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        text = text[:cut + 1] if cut >= max_chars // 2 else text[:max_chars]
    return text


def pick_sources(rng, kinds, n, max_chars, distinct):
    """The first n distinct texts of the shuffled candidates.  With
    distinct < 1, a text also has to overlap every text taken before by
    less than that: the share of the smaller one's sampled n-grams (hash
    mod 16 == 0) that both have."""
    paths = candidate_paths(kinds)
    rng.shuffle(paths)
    texts, origins, seen = [], [], set()
    index = collections.defaultdict(list)   # sampled n-gram hash -> texts
    sizes = []
    for p in paths:
        if len(texts) == n:
            break
        t = read_text(p, max_chars)
        if t is None or len(t) < MIN_CHARS or t in seen:
            continue
        if distinct < 1:
            sample = {h for h in map(hash, ngrams(t)) if h % 16 == 0}
            shared = collections.Counter()
            for h in sample:
                shared.update(index.get(h, ()))
            if any(c >= distinct * max(1, min(len(sample), sizes[k]))
                   for k, c in shared.items()):
                continue
            for h in sample:
                index[h].append(len(texts))
            sizes.append(len(sample))
        seen.add(t)
        texts.append(t)
        origins.append(p)
    return texts, origins


# ----------------------------------------------------------- mutations --

WORD = re.compile(r"\s+|\S+")


class Context:
    def __init__(self, texts):
        vocab = {}
        for t in texts:
            for w in t.split():
                if 2 <= len(w) <= 20:
                    vocab.setdefault(w, None)
        self.vocab = list(vocab) or ["word"]
        paras = []
        for t in texts:
            for p in re.split(r"\n\s*\n", t):
                p = p.strip("\n")
                if 80 <= len(p):
                    paras.append(p[:240])
        self.paras = paras or ["lorem ipsum dolor sit amet " * 4]


def _word_line(lines, rng):
    """Index of a random line holding a word, or -1."""
    for _ in range(12):
        i = rng.randrange(len(lines))
        if lines[i].strip():
            return i
    return -1


def _op_word(lines, rng, ctx, kind):
    i = _word_line(lines, rng)
    if i < 0:
        return
    toks = WORD.findall(lines[i])
    words = [j for j, t in enumerate(toks) if not t.isspace()]
    j = rng.choice(words)
    if kind == "delete":
        nxt = j + 1 < len(toks) and toks[j + 1].isspace() and "\n" not in toks[j + 1]
        prv = j > 0 and toks[j - 1].isspace() and "\n" not in toks[j - 1]
        del toks[j]
        if nxt:
            del toks[j]
        elif prv:
            del toks[j - 1]
    elif kind == "insert":
        toks[j:j] = [rng.choice(ctx.vocab), " "]
    elif kind == "swap":
        k = words.index(j)
        if k + 1 < len(words):
            a, b = words[k], words[k + 1]
            toks[a], toks[b] = toks[b], toks[a]
        else:
            toks[j:j] = [rng.choice(ctx.vocab), " "]
    elif kind == "typo":
        w = toks[j]
        p = rng.randrange(len(w))
        c = rng.choice("abcdefghijklmnopqrstuvwxyz")
        r = rng.randrange(4)
        if r == 0:
            w = w[:p] + c + w[p + 1:]
        elif r == 1:
            w = w[:p] + c + w[p:]
        elif r == 2 and len(w) > 1:
            w = w[:p] + w[p + 1:]
        elif len(w) > 1:
            p = min(p, len(w) - 2)
            w = w[:p] + w[p + 1] + w[p] + w[p + 2:]
        else:
            w = w + c
        toks[j] = w
    lines[i] = "".join(toks)


def _short_line(lines, rng):
    """Index of a random line of at most 200 characters, or -1 (dropping
    or doubling a whole long paragraph would move the Jaccard too far in
    one edit)."""
    for _ in range(8):
        i = rng.randrange(len(lines))
        if len(lines[i]) <= 200:
            return i
    return -1


def _op_line(lines, rng, ctx, kind):
    if kind == "drop":
        i = _short_line(lines, rng) if len(lines) > 2 else -1
        if i >= 0:
            del lines[i]
    elif kind == "dup":
        i = _short_line(lines, rng)
        if i >= 0:
            line = lines[i] if lines[i].endswith("\n") else lines[i] + "\n"
            lines.insert(i + 1, line)
    elif kind == "append":
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append("\n" + rng.choice(ctx.paras) + "\n")
    elif kind == "prepend":
        lines.insert(0, rng.choice(ctx.paras) + "\n\n")


OPS = [  # (weight, function, kind)
    (24, _op_word, "delete"), (20, _op_word, "insert"), (14, _op_word, "swap"),
    (20, _op_word, "typo"), (8, _op_line, "drop"), (8, _op_line, "dup"),
    (3, _op_line, "append"), (3, _op_line, "prepend"),
]
OP_CUM = []
_c = 0
for _w, _f, _k in OPS:
    _c += _w
    OP_CUM.append(_c)


def edited(src, k, seed, ctx):
    """src after the first k edits of the sequence that seed draws."""
    rng = random.Random(seed)
    lines = src.splitlines(keepends=True) or [src]
    for _ in range(k):
        x = rng.randrange(OP_CUM[-1])
        for c, (_w, f, kind) in zip(OP_CUM, OPS):
            if x < c:
                f(lines, rng, ctx, kind)
                break
    return "".join(lines)


def make_variant(src, src_set, target, seed, ctx):
    """(text, edits, jaccard): the number of edits k whose exact Jaccard with
    src is closest to target, found by bracketing and bisection (the Jaccard
    falls, not strictly, as k grows)."""
    cache = {}

    def at(k):
        if k not in cache:
            t = edited(src, k, seed, ctx)
            cache[k] = (t, jaccard_sets(src_set, ngrams(t)))
        return cache[k][1]

    # Each edit takes ~24 n-grams out and puts ~23 in, so
    # J(k) ~ (L - 24k) / (L + 23k); start from that guess.
    L = len(src_set)
    lo, hi = 0, max(1, int(L * (1 - target) / (24 + 23 * target)))
    at(0)
    while at(hi) > target and hi < 100000:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if at(mid) > target:
            lo = mid
        else:
            hi = mid
    k = min(cache, key=lambda k: (abs(cache[k][1] - target), k))
    return cache[k][0], k, cache[k][1]


# --------------------------------------------------------------- truth --

def similar_pairs(texts, t, stats):
    """All pairs (i, j), i < j, with exact Jaccard(ngrams(texts[i]),
    ngrams(texts[j])) >= t, as {(i, j): J}.

    Each document's n-gram set is a set of 64-bit hashes of its n-grams (a
    collision among a few million n-grams has odds below 1e-6, and could
    only move one Jaccard value by one element).  Prefix filtering
    (AllPairs, with PPJoin's positional filter) finds the candidate pairs;
    every candidate's Jaccard is then computed exactly from the two sets.

    Why no pair with J >= t is missed.  Fix a global total order on the
    elements (here rarest first, by document frequency, ties by hash value)
    and sort every set by it.  Documents are taken in order of increasing
    size, so when A comes, every B before it has |B| <= |A|.  Let
    o = |A & B|.  J >= t means o >= t |A | B|, hence
      (1) o >= t |A| (as |A | B| >= |A|), so o >= ceil(t |A|), and
      (2) o >= t (|A| + |B|) / (1 + t) >= 2t/(1+t) |B| (as |A| >= |B|).
    Let e be the first common element in the global order.  The o - 1
    other common elements come after e in both sets, so e's place (from 1)
    is at most |A| - o + 1 <= |A| - ceil(t |A|) + 1 in A, by (1), and at
    most |B| - o + 1 <= |B| - ceil(2t/(1+t) |B|) + 1 in B, by (2).  A
    probes the inverted index with its first |A| - ceil(t |A|) + 1
    elements, and every B was indexed under its first
    |B| - ceil(2t/(1+t) |B|) + 1 after it probed: e is in both, so B is
    met.  The filters drop only pairs that cannot reach t:
      * elements held by one document only are not indexed (e is held by
        two);
      * length: |B| < t |A| gives J <= |B| / |A| < t;
      * position: at the first element met, e (at place i in A and j in B,
        from 0), at most 1 + min(|A| - i - 1, |B| - j - 1) elements are
        common, and J >= t needs o >= t (|A| + |B|) / (1 + t), by (2).
    Nothing is sampled, so the result does not depend on the order's tie
    breaks or on the hash values (the candidate count does)."""
    # Identical texts are joined once: the first of each is the
    # representative, the others get its pairs and Jaccard 1 with it.
    first = {}
    rep = [first.setdefault(x, i) for i, x in enumerate(texts)]
    uniq = sorted(first.values())
    def hashes(x):
        if len(x) < NGRAM:
            return {hash(x)}
        return {hash(x[i:i + NGRAM]) for i in range(len(x) - NGRAM + 1)}

    # Two passes over the texts (hashing twice costs less than holding
    # every set twice): the document frequencies, then each document as
    # the sorted list of its elements' keys in the global order:
    # (df << 64) + hash + 2^63, rarest first, ties by hash value; a key
    # below 2 << 64 is an n-gram of one document only.  The key ints are
    # shared between documents, which keeps the lists small.
    df = collections.Counter()
    for u in uniq:
        df.update(hashes(texts[u]))
    stats["distinct_ngrams"] = len(df)
    keyof = {h: (c << 64) + h + (1 << 63) for h, c in df.items()}
    del df
    one = 2 << 64
    lists = [sorted(map(keyof.__getitem__, hashes(texts[u]))) for u in uniq]
    del keyof
    n = len(uniq)
    size = [len(x) for x in lists]
    stats["ngrams"] = sum(size)
    # Only a prefix of |B| - ceil(2t/(1+t) |B|) + 1 needs indexing: B is
    # no larger than the A that probes it, so a pair with J >= t shares
    # o >= t (|A| + |B|) / (1 + t) >= 2t/(1+t) |B| elements, and the first
    # shared one lies within B's first |B| - o + 1.
    t2 = 2 * t / (1 + t)

    index = collections.defaultdict(dict)  # key -> {document: position}
    uout = {}
    candidates = 0
    for a in sorted(range(n), key=lambda i: (size[i], i)):
        la = size[a]
        sa = None
        minlen = t * la - 1e-9
        prefix = lists[a][:la - math.ceil(t * la - 1e-9) + 1]
        seen = set()
        for i, r in enumerate(prefix):
            post = index.get(r)
            if not post:
                continue
            new = post.keys() - seen
            if not new:
                continue
            seen |= new
            for b in new:
                lb = size[b]
                # Length filter; then the positional filter: r is the
                # first element A and B share, so they share at most
                # 1 + min(la - i - 1, lb - j - 1), and J >= t needs
                # |A & B| >= t (la + lb) / (1 + t).
                if lb < minlen or \
                        1 + min(la - i - 1, lb - post[b] - 1) < t * (la + lb) / (1 + t) - 1e-9:
                    continue
                candidates += 1
                if sa is None:
                    sa = frozenset(lists[a])
                inter = len(sa.intersection(lists[b]))
                jv = inter / (la + lb - inter)
                if jv >= t:
                    uout[(a, b) if a < b else (b, a)] = jv
        for j, r in enumerate(prefix[:la - math.ceil(t2 * la - 1e-9) + 1]):
            if r >= one:
                index[r][a] = j
    # Back to corpus positions, identical copies included.
    members = collections.defaultdict(list)
    for i, r in enumerate(rep):
        members[r].append(i)
    out = {}
    for g in members.values():
        for x in range(len(g)):
            for y in range(x + 1, len(g)):
                out[(g[x], g[y])] = 1.0
    for (a, b), jv in uout.items():
        for x in members[uniq[a]]:
            for y in members[uniq[b]]:
                out[(x, y) if x < y else (y, x)] = jv
    stats["candidates"] = candidates
    return out


# ---------------------------------------------------------------- main --

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--docs", type=int, default=500, help="source documents (default 500)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mutate-frac", type=float, default=0.5,
                    help="share of the sources that get variants (default 0.5)")
    ap.add_argument("--variants", type=int, default=3,
                    help="variants per mutated source (default 3)")
    ap.add_argument("--variants-total", type=int, metavar="T",
                    help="T variants in all, spread evenly over the mutated sources "
                    "(instead of --variants each)")
    ap.add_argument("--jaccard", type=float, nargs=2, default=[0.3, 1.0], metavar=("LO", "HI"),
                    help="range of target Jaccards of variant vs source (default 0.3 1.0)")
    ap.add_argument("--max-chars", type=int, default=4000,
                    help="sources are cut to at most this many characters (default 4000)")
    ap.add_argument("--parts", type=int, default=4, help="corpus files (default 4)")
    ap.add_argument("--sources", default="licenses,copyright,man",
                    help="comma list of licenses, copyright, man (default all)")
    ap.add_argument("--distinct", type=float, default=1.0, metavar="C",
                    help="skip a source sharing C or more of its (sampled) n-grams with "
                    "one taken before, e.g. 0.2 (default 1: only exact copies skipped)")
    ap.add_argument("--threshold", type=float, default=0.5,
                    help="truth keeps pairs with Jaccard >= this (default 0.5)")
    a = ap.parse_args()
    if a.docs < 1 or a.parts < 1 or a.variants < 0 or not 0 <= a.mutate_frac <= 1 \
            or not 0 <= a.jaccard[0] <= a.jaccard[1] <= 1 or a.max_chars < MIN_CHARS \
            or not 0 < a.distinct <= 1 or (a.variants_total or 0) < 0:
        ap.error("bad numbers")
    kinds = set(a.sources.split(","))
    if not kinds <= {"licenses", "copyright", "man"}:
        ap.error("--sources: licenses, copyright, man")
    t0 = time.time()
    rng = random.Random(a.seed)
    texts, origins = pick_sources(rng, kinds, a.docs, a.max_chars, a.distinct)
    if len(texts) < a.docs:
        print("mutate.py: only %d source documents found (of %d asked)" % (len(texts), a.docs),
              file=sys.stderr)
    if not texts:
        return 1
    ids = ["d%05d" % i for i in range(len(texts))]
    ctx = Context(texts)
    nmut = round(a.mutate_frac * len(texts))
    chosen = sorted(rng.sample(range(len(texts)), nmut))
    # Stratified targets: the nmut * V targets split [LO, HI] into equal
    # strata, one target drawn in each, dealt to the variants in a shuffled
    # order.
    if a.variants_total is not None and nmut:
        per = [a.variants_total // nmut + (n < a.variants_total % nmut) for n in range(nmut)]
    else:
        per = [a.variants] * nmut
    total = sum(per)
    lo, hi = a.jaccard
    targets = [lo + (hi - lo) * (s + rng.random()) / total for s in range(total)]
    rng.shuffle(targets)
    docs = list(zip(ids, texts))
    meta = []
    t1 = time.time()
    next_target = 0
    for n, i in enumerate(chosen):
        src_set = ngrams(texts[i])
        for v in range(per[n]):
            target = targets[next_target]
            next_target += 1
            seed = (a.seed * 1000003 + i) * 1009 + v
            text, k, j = make_variant(texts[i], src_set, target, seed, ctx)
            vid = "%s~v%d" % (ids[i], v)
            docs.append((vid, text))
            meta.append({"id": vid, "source": ids[i], "target": round(target, 4),
                         "edits": k, "jaccard": j})
    t2 = time.time()

    os.makedirs(os.path.join(a.out, "corpus"), exist_ok=True)
    for old in glob.glob(os.path.join(a.out, "corpus", "part-*.jsonl")):
        os.remove(old)   # from an earlier run with more --parts
    order = list(range(len(docs)))
    rng.shuffle(order)
    parts = [open(os.path.join(a.out, "corpus", "part-%04d.jsonl" % p), "w", encoding="utf-8")
             for p in range(a.parts)]
    for n, d in enumerate(order):
        parts[n % a.parts].write(json.dumps({"id": docs[d][0], "text": docs[d][1]}) + "\n")
    for f in parts:
        f.close()
    with open(os.path.join(a.out, "variants.jsonl"), "w", encoding="utf-8") as f:
        for m in meta:
            f.write(json.dumps(m) + "\n")
    with open(os.path.join(a.out, "sources.jsonl"), "w", encoding="utf-8") as f:
        for i, p in zip(ids, origins):
            f.write(json.dumps({"id": i, "path": p}) + "\n")

    stats = {}
    pairs = similar_pairs([d[1] for d in docs], a.threshold, stats)
    rows = sorted((min(docs[i][0], docs[j][0]), max(docs[i][0], docs[j][0]), jv)
                  for (i, j), jv in pairs.items())
    with open(os.path.join(a.out, "truth.jsonl"), "w", encoding="utf-8") as f:
        for x, y, jv in rows:
            f.write(json.dumps({"a": x, "b": y, "jaccard": jv}) + "\n")
    t3 = time.time()

    def hist(values):
        h = [0] * 10
        for v in values:
            h[min(9, int(v * 10))] += 1
        return " ".join("%.1f:%d" % (b / 10, c) for b, c in enumerate(h) if c)

    err = sys.stderr
    print("mutate.py: %d documents (%d sources, %d variants of %d of them) in %d files under %s"
          % (len(docs), len(texts), len(meta), nmut, a.parts, a.out), file=err)
    print("  variant vs source Jaccard: %s" % hist(m["jaccard"] for m in meta), file=err)
    print("  truth: %d pairs with Jaccard >= %g (%d source-variant); by Jaccard: %s"
          % (len(rows), a.threshold,
             sum(1 for m in meta if m["jaccard"] >= a.threshold), hist(r[2] for r in rows)),
          file=err)
    print("  %d n-grams (%d distinct), %d candidate pairs verified" %
          (stats["ngrams"], stats["distinct_ngrams"], stats["candidates"]), file=err)
    print("  time: sources %.1fs, variants %.1fs, truth %.1fs" % (t1 - t0, t2 - t1, t3 - t2),
          file=err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
