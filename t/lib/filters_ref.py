#!/usr/bin/env python3
"""filters_ref.py - a plain reference for the heuristic filter stages.

Written from the definitions of NeMo Curator's heuristic filters
(nemo_curator/stages/text/filters/heuristic_filter.py with the English
word splitter, str.split()), not from stages/filters/filters.c, so the C test
(t/unit/test_filters.c) can compare the two:

    filters_ref.py [--n N]... FILE...

prints, for each FILE (its bytes are the document's text, decoded from
UTF-8 with 'surrogateescape', so each invalid byte is one character), one
line of scores separated by spaces, in this order:

    word_count mean_word_length symbols_to_words non_alphanumeric urls
    repeated_lines repeated_paragraphs bullets repeating_top_ngrams(N)...

with one repeating_top_ngrams score per --n (default: just n = 2).

Where NeMo divides by zero (it raises), winnow's stages define the score
on the dropping side, and so does this reference: no words gives
mean_word_length 0 and symbols_to_words 1, no non-blank line gives
repeated_lines 0 and bullets 1.  Among equally frequent n-grams the first
to occur is the top one (NeMo's choice depends on set order).
"""
import re
import sys
from collections import Counter

ELLIPSES = {"...", "[...]", "\u2026", "(...)", "[\u2026]", "-\u00bb", "read more..", "read more"}
BULLETS = set("\u2022\u2023\u2043\u204c\u204d\u2219\u25cb\u25cf\u25d8\u25e6\u29be\u29bf")
ALNUM = re.compile(r"[a-zA-Z0-9\n?!,.]")
URL = re.compile(r"https?://(?:[a-zA-Z0-9$\-_@.&+!*(),]|%[0-9a-fA-F]{2})+")
HASHES = re.compile(r"#+")


def lines(text):
    return [x for x in text.split("\n") if x.strip()]


def word_count(text):
    return float(len(text.split()))


def mean_word_length(text):
    words = text.split()
    return sum(len(w) for w in words) / len(words) if words else 0.0


def symbols_to_words(text):
    words = text.split()
    if not words:
        return 1.0
    sym = sum(1 for w in words if w in ELLIPSES or len(HASHES.findall(w)) / len(w) > 0.5)
    return sym / len(words)


def non_alphanumeric(text):
    if not text:
        return 1.0
    return (len(text) - len(ALNUM.findall(text))) / len(text)


def urls(text):
    if not text:
        return 1.0
    return sum(len(u) for u in URL.findall(text)) / len(text)


def repeated_lines(text):
    ls = lines(text)
    return len(set(ls)) / len(ls) if ls else 0.0


def repeated_paragraphs(text):
    ps = text.split("\n\n")
    return len(set(ps)) / len(ps)


def bullets(text):
    ls = lines(text)
    if not ls:
        return 1.0
    return sum(1 for x in ls if x.strip()[:1] in BULLETS) / len(ls)


def repeating_top_ngrams(text, n):
    words = text.split()
    if len(words) < n:
        return 1.0
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    # Counter keeps first-occurrence order and max() returns the first
    # maximum: the earliest of the most frequent n-grams.
    top = " ".join(max(grams, key=grams.get))
    return (len(text) - len(text.replace(top, ""))) / len(text)


def main(argv):
    ns = []
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "--n":
            ns.append(int(argv[i + 1]))
            i += 2
        else:
            files.append(argv[i])
            i += 1
    ns = ns or [2]
    for path in files:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        scores = [word_count(text), mean_word_length(text), symbols_to_words(text),
                  non_alphanumeric(text), urls(text), repeated_lines(text),
                  repeated_paragraphs(text), bullets(text)]
        scores += [repeating_top_ngrams(text, n) for n in ns]
        print(" ".join(repr(float(s)) for s in scores))


if __name__ == "__main__":
    main(sys.argv[1:])
