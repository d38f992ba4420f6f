"""t/lib/corpus_ref.py - what the document-stage tests compute in Python to
check winnow against: document ids as read_jsonl makes them, exact Jaccard
of 24-character n-gram sets, and a union-find.  Imported by the tests'
inline scripts (sys.path gets $SRCDIR/t/lib)."""
import json


def read_ids(names):
    """{(file index << 40) | line number: text} of the files, in the order
    given (read_jsonl's sorted order); malformed lines are left out."""
    ids = {}
    for i, name in enumerate(names):
        for line_no, line in enumerate(open(name, encoding='utf-8'), 1):
            try:
                ids[(i << 40) | line_no] = json.loads(line)["text"]
            except ValueError:
                pass
    return ids


def read_edges(path, id_field="_curator_dedup_id"):
    """The (x, y) edges of buckets_to_edges' --results file."""
    return [(r[id_field + "_x"], r[id_field + "_y"]) for r in map(json.loads, open(path))]


def grams(text, n=24):
    """The set of n-character n-grams (a shorter text is one n-gram)."""
    return {text[i:i + n] for i in range(max(1, len(text) - n + 1))}


class Jaccard:
    """Exact Jaccard of two documents' n-gram sets, the sets cached."""

    def __init__(self, texts):
        self.texts, self.sets = texts, {}

    def __call__(self, a, b):
        A = self.sets.setdefault(a, grams(self.texts[a]))
        B = self.sets.setdefault(b, grams(self.texts[b]))
        return len(A & B) / len(A | B)


class UnionFind:
    """Union-find whose roots are the smallest members (as winnow labels
    components)."""

    def __init__(self, items=()):
        self.parent = {k: k for k in items}

    def find(self, x):
        p = self.parent
        p.setdefault(x, x)
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, x, y):
        a, b = self.find(x), self.find(y)
        self.parent[max(a, b)] = min(a, b)


def split_identical(texts, uf):
    """How many sets of identical texts are not all in one component."""
    by_text = {}
    for k, t in texts.items():
        by_text.setdefault(t, []).append(k)
    return sum(1 for g in by_text.values() if len({uf.find(k) for k in g}) > 1), \
        sum(1 for g in by_text.values() if len(g) > 1)
