#!/usr/bin/env python3
"""minhash_ref.py - a slow, plain reference for the `minhash` stage.

Written from the algorithm descriptions, not from stages/dedup/minhash.c, so the
C test (t/unit/test_minhash.c) can compare the two:

    minhash_ref.py [--num-hashes N] [--char-ngrams N] [--seed S] [--64] FILE...

prints, for each FILE (its bytes are the document's text), one JSON line:
the list of N signature values.

    minhash_ref.py --murmur [--seed S] STRING...

prints one JSON line per STRING: {"x86_32": h, "x64_128": [h1, h2]}.

The definition (see the comment at the top of stages/dedup/minhash.c):
  * the text is decoded from UTF-8; a byte that does not begin a valid
    sequence is one code point by itself - exactly what Python's
    'surrogateescape' error handler does (each such byte becomes one lone
    surrogate U+DC80..U+DCFF, encoded back to the same byte);
  * the n-grams are the windows of n consecutive code points, or the whole
    text when it has fewer than n; each is hashed as its bytes with
    MurmurHash3 (x86_32, or the first 64-bit half of x64_128);
  * permutation i maps h to (a_i h + b_i) mod (2^61 - 1), masked to 32 bits
    in 32-bit mode; a_i, b_i come from splitmix64 seeded with the seed,
    drawn a_0, b_0, a_1, b_1, ...: a = 1 + x mod (2^61 - 2),
    b = x mod (2^61 - 1);
  * signature value i is the least permutation i over the n-grams.
"""
import json
import sys

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
PRIME = (1 << 61) - 1


def rotl(x, r, bits):
    mask = (1 << bits) - 1
    return ((x << r) | (x >> (bits - r))) & mask


def murmur3_x86_32(data, seed):
    """MurmurHash3_x86_32 (Austin Appleby, public domain)."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & M32
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (rotl((k * c1) & M32, 15, 32) * c2) & M32
        h ^= k
        h = (rotl(h, 13, 32) * 5 + 0xE6546B64) & M32
    tail = data[whole:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= (rotl((k * c1) & M32, 15, 32) * c2) & M32
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def fmix64(k):
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M64
    return k ^ (k >> 33)


def murmur3_x64_128(data, seed):
    """MurmurHash3_x64_128: returns (h1, h2), the output's two halves."""
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F
    h1 = h2 = seed & M32
    whole = len(data) - len(data) % 16
    for i in range(0, whole, 16):
        k1 = int.from_bytes(data[i:i + 8], "little")
        k2 = int.from_bytes(data[i + 8:i + 16], "little")
        h1 ^= (rotl((k1 * c1) & M64, 31, 64) * c2) & M64
        h1 = ((rotl(h1, 27, 64) + h2) * 5 + 0x52DCE729) & M64
        h2 ^= (rotl((k2 * c2) & M64, 33, 64) * c1) & M64
        h2 = ((rotl(h2, 31, 64) + h1) * 5 + 0x38495AB5) & M64
    tail = data[whole:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (rotl((k2 * c2) & M64, 33, 64) * c1) & M64
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (rotl((k1 * c1) & M64, 31, 64) * c2) & M64
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    h1, h2 = fmix64(h1), fmix64(h2)
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    return h1, h2


def splitmix64(seed):
    state = seed & M64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def coefficients(num_hashes, seed):
    draws = splitmix64(seed)
    coeffs = []
    for _ in range(num_hashes):
        a = 1 + next(draws) % (PRIME - 1)
        b = next(draws) % PRIME
        coeffs.append((a, b))
    return coeffs


def ngrams(data, n):
    """The n-grams of a text given as bytes, each as bytes."""
    chars = data.decode("utf-8", "surrogateescape")
    if len(chars) < n:
        windows = [chars]
    else:
        windows = [chars[i:i + n] for i in range(len(chars) - n + 1)]
    return [w.encode("utf-8", "surrogateescape") for w in windows]


def signature(data, num_hashes=260, char_ngrams=24, seed=42, wide=False):
    if wide:
        hashes = {murmur3_x64_128(g, seed)[0] for g in ngrams(data, char_ngrams)}
        mask = M64
    else:
        hashes = {murmur3_x86_32(g, seed) for g in ngrams(data, char_ngrams)}
        mask = M32
    # A set: equal n-grams give equal values, and min ignores repeats.
    return [min(((a * h + b) % PRIME) & mask for h in hashes)
            for a, b in coefficients(num_hashes, seed)]


def main(argv):
    opts = {"num_hashes": 260, "char_ngrams": 24, "seed": 42, "wide": False}
    murmur = False
    args = []
    it = iter(argv)
    for arg in it:
        if arg == "--64":
            opts["wide"] = True
        elif arg == "--murmur":
            murmur = True
        elif arg in ("--num-hashes", "--char-ngrams", "--seed"):
            opts[arg[2:].replace("-", "_")] = int(next(it))
        else:
            args.append(arg)
    for arg in args:
        if murmur:
            data = arg.encode("utf-8", "surrogateescape")
            print(json.dumps({"x86_32": murmur3_x86_32(data, opts["seed"]),
                              "x64_128": list(murmur3_x64_128(data, opts["seed"]))}))
        else:
            with open(arg, "rb") as f:
                print(json.dumps(signature(f.read(), **opts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
