/* minhash_kernels.c - the arithmetic of the minhash stage (minhash.c, whose
 * header comment states the rules): seeded MurmurHash3, the hashes of many
 * n-gram windows of ASCII text at once, the permutation coefficients, the
 * kernels that lower each permutation's minimum over a document's n-gram
 * hashes (portable, AVX2, AVX-512, AVX-512 IFMA: identical bits) and
 * one-permutation hashing.  minhash_kernels.h is its interface. */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "dedup/minhash_kernels.h"

/* -------------------------------------------------------- MurmurHash3 -- */

static inline uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Blocks are read little-endian (winnow builds for x86-64 only). */
static inline uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k *= UINT64_C(0xc4ceb9fe1a85ec53);
    return k ^ (k >> 33);
}

uint32_t wn_murmur3_x86_32(const void *key, size_t len, uint32_t seed)
{
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    const unsigned char *p = key;
    uint32_t h = seed;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k = load32(p + 4 * i);
        k = rotl32(k * c1, 15) * c2;
        h = rotl32(h ^ k, 13) * 5 + 0xe6546b64u;
    }
    /* The 1-3 bytes left form one little-endian word, mixed the same way
     * but without the rotate-and-add of h. */
    const unsigned char *tail = p + 4 * nblocks;
    uint32_t k = 0;
    for (size_t i = len & 3; i > 0; i--)
        k = (k << 8) | tail[i - 1];
    if (len & 3)
        h ^= rotl32(k * c1, 15) * c2;
    return fmix32(h ^ (uint32_t)len);
}

void wn_murmur3_x64_128(const void *key, size_t len, uint32_t seed, uint64_t out[2])
{
    const uint64_t c1 = UINT64_C(0x87c37b91114253d5), c2 = UINT64_C(0x4cf5ad432745937f);
    const unsigned char *p = key;
    uint64_t h1 = seed, h2 = seed;
    size_t nblocks = len / 16;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t k1 = load64(p + 16 * i), k2 = load64(p + 16 * i + 8);
        h1 ^= rotl64(k1 * c1, 31) * c2;
        h1 = (rotl64(h1, 27) + h2) * 5 + 0x52dce729;
        h2 ^= rotl64(k2 * c2, 33) * c1;
        h2 = (rotl64(h2, 31) + h1) * 5 + 0x38495ab5;
    }
    /* Tail: bytes 0-7 form k1, bytes 8-14 form k2, little-endian. */
    const unsigned char *tail = p + 16 * nblocks;
    size_t rest = len & 15;
    uint64_t k1 = 0, k2 = 0;
    for (size_t i = rest; i > 8; i--)
        k2 = (k2 << 8) | tail[i - 1];
    for (size_t i = rest < 8 ? rest : 8; i > 0; i--)
        k1 = (k1 << 8) | tail[i - 1];
    if (rest > 8)
        h2 ^= rotl64(k2 * c2, 33) * c1;
    if (rest)
        h1 ^= rotl64(k1 * c1, 31) * c2;
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

/* ---------------------------------------------------------- n-grams -- */

const char *const mh_isa_names[MH_NISA] = {"portable", "avx2", "avx512", "avx512ifma"};

/* 1 when text[0..len) is all ASCII: then code points are bytes. */
int mh_is_ascii(const unsigned char *t, size_t len)
{
    uint64_t any = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        any |= load64(t + i);
    for (; i < len; i++)
        any |= t[i];
    return (any & UINT64_C(0x8080808080808080)) == 0;
}

/* MurmurHash3 x86_32 of many equal-length byte windows at once, for the
 * n-grams of ASCII text.  A vector of lanes t holds the windows starting
 * at base + s + 4t (s = 0..3), so block i of every lane is one unaligned
 * vector load at base + s + 4i: no gathers.  The hashes come out in that
 * order, which a minimum does not see.  Each returns the number of
 * windows done (from 0); the caller hashes the rest one by one. */
#define MM_C1 0xcc9e2d51u
#define MM_C2 0x1b873593u

__attribute__((target("avx2"))) static __m256i rotl_avx2(__m256i x, int r)
{
    return _mm256_or_si256(_mm256_slli_epi32(x, r), _mm256_srli_epi32(x, 32 - r));
}

__attribute__((target("avx2"))) size_t mh_windows_avx2(const unsigned char *t, size_t len, size_t n,
                                                       uint32_t seed, uint64_t *out)
{
    const size_t nb = n / 4, rem = n & 3;
    const __m256i c1 = _mm256_set1_epi32((int)MM_C1), c2 = _mm256_set1_epi32((int)MM_C2);
    const __m256i c3 = _mm256_set1_epi32((int)0xe6546b64u);
    const __m256i f1 = _mm256_set1_epi32((int)0x85ebca6bu),
                  f2 = _mm256_set1_epi32((int)0xc2b2ae35u);
    const __m256i tmask = _mm256_set1_epi32(rem ? (int)((1u << (8 * rem)) - 1) : 0);
    const __m256i vlen = _mm256_set1_epi32((int)n), vseed = _mm256_set1_epi32((int)seed);
    size_t base = 0, count = 0;
    /* The last load of a chunk ends at base + 3 + 4 nb + 32. */
    for (; base + 35 + 4 * nb <= len; base += 32)
        for (size_t s = 0; s < 4; s++) {
            const unsigned char *p = t + base + s;
            __m256i h = vseed;
            for (size_t i = 0; i < nb; i++) {
                __m256i k = _mm256_loadu_si256((const __m256i *)(p + 4 * i));
                k = _mm256_mullo_epi32(rotl_avx2(_mm256_mullo_epi32(k, c1), 15), c2);
                h = rotl_avx2(_mm256_xor_si256(h, k), 13);
                h = _mm256_add_epi32(_mm256_add_epi32(h, _mm256_slli_epi32(h, 2)), c3);
            }
            if (rem) {
                __m256i k =
                    _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(p + 4 * nb)), tmask);
                k = _mm256_mullo_epi32(rotl_avx2(_mm256_mullo_epi32(k, c1), 15), c2);
                h = _mm256_xor_si256(h, k);
            }
            h = _mm256_xor_si256(h, vlen);
            h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
            h = _mm256_mullo_epi32(h, f1);
            h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 13));
            h = _mm256_mullo_epi32(h, f2);
            h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
            _mm256_storeu_si256((__m256i *)(out + count),
                                _mm256_cvtepu32_epi64(_mm256_castsi256_si128(h)));
            _mm256_storeu_si256((__m256i *)(out + count + 4),
                                _mm256_cvtepu32_epi64(_mm256_extracti128_si256(h, 1)));
            count += 8;
        }
    return base;
}

__attribute__((target("avx512f"))) size_t mh_windows_avx512(const unsigned char *t, size_t len,
                                                            size_t n, uint32_t seed, uint64_t *out)
{
    const size_t nb = n / 4, rem = n & 3;
    const __m512i c1 = _mm512_set1_epi32((int)MM_C1), c2 = _mm512_set1_epi32((int)MM_C2);
    const __m512i c3 = _mm512_set1_epi32((int)0xe6546b64u);
    const __m512i f1 = _mm512_set1_epi32((int)0x85ebca6bu),
                  f2 = _mm512_set1_epi32((int)0xc2b2ae35u);
    const __m512i tmask = _mm512_set1_epi32(rem ? (int)((1u << (8 * rem)) - 1) : 0);
    const __m512i vlen = _mm512_set1_epi32((int)n), vseed = _mm512_set1_epi32((int)seed);
    size_t base = 0, count = 0;
    for (; base + 67 + 4 * nb <= len; base += 64)
        for (size_t s = 0; s < 4; s++) {
            const unsigned char *p = t + base + s;
            __m512i h = vseed;
            for (size_t i = 0; i < nb; i++) {
                __m512i k = _mm512_loadu_si512(p + 4 * i);
                k = _mm512_mullo_epi32(_mm512_rol_epi32(_mm512_mullo_epi32(k, c1), 15), c2);
                h = _mm512_rol_epi32(_mm512_xor_si512(h, k), 13);
                h = _mm512_add_epi32(_mm512_add_epi32(h, _mm512_slli_epi32(h, 2)), c3);
            }
            if (rem) {
                __m512i k = _mm512_and_si512(_mm512_loadu_si512(p + 4 * nb), tmask);
                k = _mm512_mullo_epi32(_mm512_rol_epi32(_mm512_mullo_epi32(k, c1), 15), c2);
                h = _mm512_xor_si512(h, k);
            }
            h = _mm512_xor_si512(h, vlen);
            h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
            h = _mm512_mullo_epi32(h, f1);
            h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
            h = _mm512_mullo_epi32(h, f2);
            h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
            _mm512_storeu_si512(out + count, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(h)));
            _mm512_storeu_si512(out + count + 8,
                                _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(h, 1)));
            count += 16;
        }
    return base;
}

/* ------------------------------------------------------ permutations -- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* (a * h + b) mod (2^61 - 1) for a, b < 2^61: the product is below 2^125,
 * and 2^61 = 1 (mod 2^61 - 1) lets its top bits be folded onto its low 61. */
static inline uint64_t perm_scalar(uint64_t a, uint64_t b, uint64_t h)
{
    unsigned __int128 x = (unsigned __int128)a * h + b;
    uint64_t lo = (uint64_t)x & MERSENNE61, hi = (uint64_t)(x >> 61);
    uint64_t r = lo + (hi & MERSENNE61) + (hi >> 61); /* < 2^63 */
    r = (r & MERSENNE61) + (r >> 61);                 /* <= p + 3 */
    return r >= MERSENNE61 ? r - MERSENNE61 : r;
}

static void kernel_portable(const uint64_t *hashes, size_t nh, const struct mh_perms *pm, int wide,
                            int mask32, uint64_t *mins)
{
    (void)wide;
    uint64_t mask = mask32 ? UINT32_MAX : UINT64_MAX;
    for (size_t j = 0; j < pm->n; j++) {
        uint64_t a = pm->a[j], b = pm->b[j], m = mins[j];
        for (size_t k = 0; k < nh; k++) {
            uint64_t v = perm_scalar(a, b, hashes[k]) & mask;
            m = v < m ? v : m;
        }
        mins[j] = m;
    }
}

static void kernel32_portable(uint64_t *hashes, size_t nh, const struct mh_perms *pm,
                              uint64_t *mins)
{
    kernel_portable(hashes, nh, pm, 0, 1, mins);
}

/* The SIMD kernels compute the same residue from 32-bit pieces.  With
 * a = ah 2^32 + al (ah < 2^29) and h = hh 2^32 + hl:
 *   a h = al hl + (ah hl + al hh) 2^32 + ah hh 2^64
 * and modulo p = 2^61 - 1, for X < 2^64:
 *   X        = (X & p) + (X >> 61)                   fold
 *   X 2^32   = (X >> 29) + ((X & (2^29 - 1)) << 32)  since 2^61 = 1
 *   X 2^64   = X 2^3
 * Each term is below 2^61 + 2^35, so the five terms with b sum below
 * 2^64; a fold and one conditional subtraction reduce it exactly.  In
 * 32-bit mode hh is 0 and its two terms are skipped (`wide` 0). */

__attribute__((target("avx2"))) static void kernel_avx2(const uint64_t *hashes, size_t nh,
                                                        const struct mh_perms *pm, int wide,
                                                        int mask32, uint64_t *mins)
{
    const __m256i p = _mm256_set1_epi64x((long long)MERSENNE61);
    const __m256i m29 = _mm256_set1_epi64x((1 << 29) - 1);
    const __m256i mask = _mm256_set1_epi64x(mask32 ? (long long)UINT32_MAX : -1);
    for (size_t j = 0; j < pm->npad; j += 4) {
        __m256i al = _mm256_load_si256((const __m256i *)(pm->a_lo + j));
        __m256i ah = _mm256_load_si256((const __m256i *)(pm->a_hi + j));
        __m256i b = _mm256_load_si256((const __m256i *)(pm->b + j));
        __m256i m = _mm256_load_si256((const __m256i *)(mins + j));
        for (size_t k = 0; k < nh; k++) {
            __m256i hl = _mm256_set1_epi64x((long long)(hashes[k] & UINT32_MAX));
            __m256i p0 = _mm256_mul_epu32(al, hl), p1 = _mm256_mul_epu32(ah, hl);
            __m256i t = _mm256_add_epi64(_mm256_and_si256(p0, p), _mm256_srli_epi64(p0, 61));
            t = _mm256_add_epi64(t, _mm256_srli_epi64(p1, 29));
            t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_and_si256(p1, m29), 32));
            t = _mm256_add_epi64(t, b);
            if (wide) {
                __m256i hh = _mm256_set1_epi64x((long long)(hashes[k] >> 32));
                __m256i p2 = _mm256_mul_epu32(al, hh);
                __m256i p3 = _mm256_slli_epi64(_mm256_mul_epu32(ah, hh), 3);
                t = _mm256_add_epi64(t, _mm256_srli_epi64(p2, 29));
                t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_and_si256(p2, m29), 32));
                t = _mm256_add_epi64(t, _mm256_and_si256(p3, p));
                t = _mm256_add_epi64(t, _mm256_srli_epi64(p3, 61));
            }
            __m256i r = _mm256_add_epi64(_mm256_and_si256(t, p), _mm256_srli_epi64(t, 61));
            /* r <= p + 7: take r - p unless that is negative (its sign bit
             * picks r back); all values here are below 2^62. */
            __m256i d = _mm256_sub_epi64(r, p);
            r = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(d), _mm256_castsi256_pd(r),
                                                     _mm256_castsi256_pd(d)));
            r = _mm256_and_si256(r, mask);
            /* No unsigned 64-bit min in AVX2; signed compare is exact as
             * both are below 2^61. */
            m = _mm256_blendv_epi8(m, r, _mm256_cmpgt_epi64(m, r));
        }
        _mm256_store_si256((__m256i *)(mins + j), m);
    }
}

__attribute__((target("avx512f,avx512dq,avx512vl"))) static void
kernel_avx512(const uint64_t *hashes, size_t nh, const struct mh_perms *pm, int wide, int mask32,
              uint64_t *mins)
{
    const __m512i p = _mm512_set1_epi64((long long)MERSENNE61);
    const __m512i m29 = _mm512_set1_epi64((1 << 29) - 1);
    const __m512i mask = _mm512_set1_epi64(mask32 ? (long long)UINT32_MAX : -1);
    for (size_t j = 0; j < pm->npad; j += 8) {
        __m512i al = _mm512_load_si512(pm->a_lo + j);
        __m512i ah = _mm512_load_si512(pm->a_hi + j);
        __m512i b = _mm512_load_si512(pm->b + j);
        __m512i m = _mm512_load_si512(mins + j);
        for (size_t k = 0; k < nh; k++) {
            __m512i hl = _mm512_set1_epi64((long long)(hashes[k] & UINT32_MAX));
            __m512i p0 = _mm512_mul_epu32(al, hl), p1 = _mm512_mul_epu32(ah, hl);
            __m512i t = _mm512_add_epi64(_mm512_and_si512(p0, p), _mm512_srli_epi64(p0, 61));
            t = _mm512_add_epi64(t, _mm512_srli_epi64(p1, 29));
            t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(p1, m29), 32));
            t = _mm512_add_epi64(t, b);
            if (wide) {
                __m512i hh = _mm512_set1_epi64((long long)(hashes[k] >> 32));
                __m512i p2 = _mm512_mul_epu32(al, hh);
                __m512i p3 = _mm512_slli_epi64(_mm512_mul_epu32(ah, hh), 3);
                t = _mm512_add_epi64(t, _mm512_srli_epi64(p2, 29));
                t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(p2, m29), 32));
                t = _mm512_add_epi64(t, _mm512_and_si512(p3, p));
                t = _mm512_add_epi64(t, _mm512_srli_epi64(p3, 61));
            }
            __m512i r = _mm512_add_epi64(_mm512_and_si512(t, p), _mm512_srli_epi64(t, 61));
            /* r <= p + 7: r - p wraps above r exactly when r < p. */
            r = _mm512_min_epu64(r, _mm512_sub_epi64(r, p));
            m = _mm512_min_epu64(m, _mm512_and_si512(r, mask));
        }
        _mm512_store_si512(mins + j, m);
    }
}

/* 32-bit mode: a filter, then the exact value only where it can matter.
 *
 * The value of permutation (a, b) at h < 2^32 is v = low32(x mod p) with
 * x = a h + b.  x mod p = x - K p with K = floor(x / p), and K p = K 2^61 - K
 * has low 32 bits -K, so v = low32(al h + b + K): only low32(al h + b) and
 * K are needed, and K is nearly (a >> 29) h / 2^32.  With alpha = a >> 29
 * and f = floor(alpha h / 2^32):
 *   f <= floor(x / 2^61) <= K <= f + 3
 * (x / 2^61 < f + 1 + (a mod 2^29) h / 2^61 + b / 2^61 < f + 3, and K
 * exceeds floor(x / 2^61) by at most 1 as x < 2^94).  One double FMA
 * gives r = round(alpha h / 2^32), f or f + 1, already added to
 * low32(b) + 3 and sitting in the low bits of the result: the sum is an
 * integer in [2^52, 2^53), where a double's mantissa bits are the integer
 * (the FMA rounds once, after the exact product and sum; any rounding
 * mode gives f or f + 1).  One integer multiply adds low32(al h).  So
 *   u = low32(al h + b + 3 + r)   is   v + d (mod 2^32), d in [0, 4]
 * and v < M implies u <= M + 3 (when v + 4 wraps, u < 4 passes too).
 *
 * The kernels run two passes over chunks of MH_CHUNK n-grams, so that the
 * hot loop keeps no running minimum and makes no test.  Pass 1 keeps, per
 * permutation, the least u of each block of MH_BLOCK n-grams (bm) and of
 * the chunk (U).  Pass 2 (resolve) evaluates exactly (perm_scalar) every
 * n-gram with u <= T, T = min(min + 3, U + 4), found through the blocks
 * whose least u is <= T.  That is exact: an n-gram with v below the final
 * minimum M has u <= M + 3, and M <= U unless the n-gram with u = U
 * wrapped, in which case the scan is repeated with T = M + 3.  So the
 * exact path runs about once per permutation and chunk (in the block of
 * the least u).
 *
 * The hash is stored as h | 0x4330000000000000 (the kernels may rewrite
 * their hashes), broadcast straight from memory: as a double that is
 * 2^52 + h, and its low 52 bits are still h for the integer multiplies
 * (mul_epu32 reads 32 bits, IFMA's madd52lo 52).  The FMA then computes
 * alpha 2^20 more than wanted, which its addend takes off:
 * c = 2^52 + 2^51 + low32(b) + 3 - alpha 2^20, an integer below 2^53, so
 * exact.  Per vector of permutations and n-gram: FMA, madd52lo (or
 * mul_epu32 and an add), unsigned 32-bit min. */
#define MH_CHUNK 4096
#define MH_BLOCK 16
#define MH_NBLOCKS (MH_CHUNK / MH_BLOCK)
#define MH_DOUBLE_2P52 UINT64_C(0x4330000000000000)

static inline uint64_t sat_plus(uint64_t m, uint64_t d)
{
    return m >= UINT32_MAX - d ? UINT32_MAX : m + d;
}

/* Exact minima at hashes[k] of the permutations j + l for each bit l of
 * lanes. */
static void filter_exact(const uint64_t *hashes, size_t k, const struct mh_perms *pm, size_t j,
                         unsigned lanes, uint64_t *mins)
{
    while (lanes) {
        unsigned l = (unsigned)__builtin_ctz(lanes);
        lanes &= lanes - 1;
        uint64_t v = perm_scalar(pm->a[j + l], pm->b[j + l], hashes[k] & UINT32_MAX) & UINT32_MAX;
        mins[j + l] = v < mins[j + l] ? v : mins[j + l];
    }
}

/* Lane l of a 64-bit-lane vector is bit 2l of a 32-bit-lane mask. */
static inline unsigned even_bits(unsigned mask32)
{
    unsigned r = 0;
    for (unsigned l = 0; mask32; l++, mask32 >>= 2)
        r |= (mask32 & 1u) << l;
    return r;
}

/* Pass 2 for the W permutations from j (a vector) over the chunk
 * hashes[c0..c1), with block minima bm[0..nb) and least u umin.  The ISA
 * supplies VEC (the integer vector type), LANES(u, t) (the mask, in
 * 32-bit lanes, of u <= t), U_OF(x, lo, h) (u from the FMA result) and
 * the loads. */
#define MH_RESOLVE(W, VEC, LOAD, STORE, BCAST, FMA_U, LANES)                           \
    {                                                                                  \
        uint64_t U[W] __attribute__((aligned(64))), T[W] __attribute__((aligned(64))); \
        STORE(U, umin);                                                                \
        for (size_t l = 0; l < W; l++) {                                               \
            uint64_t a = sat_plus(mins[j + l], 3), c = sat_plus(U[l] & UINT32_MAX, 4); \
            T[l] = a < c ? a : c;                                                      \
        }                                                                              \
        for (;;) {                                                                     \
            const VEC t = LOAD(T);                                                     \
            for (size_t b = 0; b < nb; b++) {                                          \
                if (!LANES(bm[b], t))                                                  \
                    continue;                                                          \
                /* The block's n-grams with u <= T, without a branch each. */          \
                size_t k0 = c0 + b * MH_BLOCK;                                         \
                size_t n = c1 - k0 < MH_BLOCK ? c1 - k0 : MH_BLOCK;                    \
                uint16_t ck[MH_BLOCK];                                                 \
                uint32_t hit = 0;                                                      \
                for (size_t i = 0; i < n; i++) {                                       \
                    VEC h = BCAST(hashes[k0 + i]);                                     \
                    ck[i] = (uint16_t)LANES(FMA_U(h), t);                              \
                    hit |= (uint32_t)(ck[i] != 0) << i;                                \
                }                                                                      \
                while (hit) {                                                          \
                    unsigned i = (unsigned)__builtin_ctz(hit);                         \
                    hit &= hit - 1;                                                    \
                    filter_exact(hashes, k0 + i, pm, j, even_bits(ck[i]), mins);       \
                }                                                                      \
            }                                                                          \
            int again = 0;                                                             \
            for (size_t l = 0; l < W; l++)                                             \
                if (sat_plus(mins[j + l], 3) > T[l]) {                                 \
                    T[l] = sat_plus(mins[j + l], 3);                                   \
                    again = 1;                                                         \
                }                                                                      \
            if (!again)                                                                \
                return;                                                                \
        }                                                                              \
    }

/* Pass 1 for V vectors of W permutations from j, then pass 2 for each. */
#define MH_FILTER(V, W, VEC, VECD, LOFIELD, LOADI, LOADD, BCAST, ONES, FMA, LOW, MIN, RESOLVE) \
    do {                                                                                       \
        VEC lo[V], u[V], umin[V];                                                              \
        VECD ad[V], cd[V];                                                                     \
        _Pragma("GCC unroll 4") for (size_t v = 0; v < V; v++)                                 \
        {                                                                                      \
            lo[v] = LOADI(pm->LOFIELD + j + W * v);                                            \
            ad[v] = LOADD(pm->alpha_d + j + W * v);                                            \
            cd[v] = LOADD(pm->c_d + j + W * v);                                                \
        }                                                                                      \
        for (size_t c0 = 0; c0 < nh; c0 += MH_CHUNK) {                                         \
            size_t c1 = nh - c0 < MH_CHUNK ? nh : c0 + MH_CHUNK, nb = 0;                       \
            _Pragma("GCC unroll 4") for (size_t v = 0; v < V; v++) umin[v] = ONES;             \
            for (size_t k0 = c0; k0 < c1; k0 += MH_BLOCK, nb++) {                              \
                size_t k1 = c1 - k0 < MH_BLOCK ? c1 : k0 + MH_BLOCK;                           \
                _Pragma("GCC unroll 4") for (size_t v = 0; v < V; v++) u[v] = ONES;            \
                for (size_t k = k0; k < k1; k++) {                                             \
                    VEC h = BCAST(hashes[k]);                                                  \
                    _Pragma("GCC unroll 4") for (size_t v = 0; v < V; v++) u[v] =              \
                        MIN(u[v], LOW(FMA(ad[v], h, cd[v]), lo[v], h));                        \
                }                                                                              \
                _Pragma("GCC unroll 4") for (size_t v = 0; v < V; v++)                         \
                {                                                                              \
                    bm[v][nb] = u[v];                                                          \
                    umin[v] = MIN(umin[v], u[v]);                                              \
                }                                                                              \
            }                                                                                  \
            for (size_t v = 0; v < V; v++)                                                     \
                RESOLVE(hashes, c0, c1, pm, j + W * v, bm[v], nb, umin[v], mins);              \
        }                                                                                      \
    } while (0)

/* AVX2 (with FMA): 4 permutations a vector, 2 vectors at a time (npad
 * is a multiple of 8).  No unsigned compare: u <= t is min(u, t) == u. */
#define AVX2_LOADI(p) _mm256_load_si256((const __m256i *)(p))
#define AVX2_STORE(p, x) _mm256_store_si256((__m256i *)(p), (x))
#define AVX2_BCAST(x) _mm256_set1_epi64x((long long)(x))
#define AVX2_FMA(a, h, c) _mm256_castpd_si256(_mm256_fmadd_pd((a), _mm256_castsi256_pd(h), (c)))
#define AVX2_LOW(x, lo, h) _mm256_add_epi64((x), _mm256_mul_epu32((lo), (h)))
#define AVX2_LANES(u, t)                                                             \
    ((unsigned)_mm256_movemask_ps(                                                   \
         _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_min_epu32((u), (t)), (u)))) & \
     0x55u)

__attribute__((target("avx2,fma"))) static void resolve_avx2(const uint64_t *hashes, size_t c0,
                                                             size_t c1, const struct mh_perms *pm,
                                                             size_t j, const __m256i *bm, size_t nb,
                                                             __m256i umin, uint64_t *mins)
{
    const __m256i lo = AVX2_LOADI(pm->a_lo + j);
    const __m256d ad = _mm256_load_pd(pm->alpha_d + j), cd = _mm256_load_pd(pm->c_d + j);
#define AVX2_U(h) AVX2_LOW(AVX2_FMA(ad, (h), cd), lo, (h))
    MH_RESOLVE(4, __m256i, AVX2_LOADI, AVX2_STORE, AVX2_BCAST, AVX2_U, AVX2_LANES)
#undef AVX2_U
}

__attribute__((target("avx2,fma"))) static void
kernel32_avx2(uint64_t *hashes, size_t nh, const struct mh_perms *pm, uint64_t *mins)
{
    __m256i bm[2][MH_NBLOCKS]; /* 16 KiB */
    for (size_t k = 0; k < nh; k++)
        hashes[k] |= MH_DOUBLE_2P52; /* a broadcast from memory, no ALU */
    for (size_t j = 0; j < pm->npad; j += 8)
        MH_FILTER(2, 4, __m256i, __m256d, a_lo, AVX2_LOADI, _mm256_load_pd, AVX2_BCAST,
                  _mm256_set1_epi32(-1), AVX2_FMA, AVX2_LOW, _mm256_min_epu32, resolve_avx2);
}

/* AVX-512: 8 permutations a vector, 4 vectors at a time, then one at a
 * time; madd52lo with IFMA, else mul_epu32 and an add. */
#define AVX512_STORE(p, x) _mm512_store_si512((p), (x))
#define AVX512_BCAST(x) _mm512_set1_epi64((long long)(x))
#define AVX512_FMA(a, h, c) _mm512_castpd_si512(_mm512_fmadd_pd((a), _mm512_castsi512_pd(h), (c)))
#define AVX512_LOW_MUL(x, lo, h) _mm512_add_epi64((x), _mm512_mul_epu32((lo), (h)))
#define AVX512_LOW_IFMA(x, lo, h) _mm512_madd52lo_epu64((x), (lo), (h))
#define AVX512_LANES(u, t) ((unsigned)_mm512_mask_cmple_epu32_mask(0x5555, (u), (t)))

#define MH_AVX512_KERNELS(SUFFIX, TARGET, LOFIELD, LOW)                                       \
    __attribute__((target(TARGET))) static void resolve_##SUFFIX(                             \
        const uint64_t *hashes, size_t c0, size_t c1, const struct mh_perms *pm, size_t j,    \
        const __m512i *bm, size_t nb, __m512i umin, uint64_t *mins)                           \
    {                                                                                         \
        const __m512i lo = _mm512_load_si512(pm->LOFIELD + j);                                \
        const __m512d ad = _mm512_load_pd(pm->alpha_d + j), cd = _mm512_load_pd(pm->c_d + j); \
        MH_RESOLVE(8, __m512i, _mm512_load_si512, AVX512_STORE, AVX512_BCAST, SUFFIX##_U,     \
                   AVX512_LANES)                                                              \
    }                                                                                         \
    __attribute__((target(TARGET))) static void kernel32_##SUFFIX(                            \
        uint64_t *hashes, size_t nh, const struct mh_perms *pm, uint64_t *mins)               \
    {                                                                                         \
        __m512i bm[4][MH_NBLOCKS]; /* 64 KiB */                                               \
        size_t j = 0;                                                                         \
        for (size_t k = 0; k < nh; k++)                                                       \
            hashes[k] |= MH_DOUBLE_2P52;                                                      \
        for (; j + 32 <= pm->npad; j += 32)                                                   \
            MH_FILTER(4, 8, __m512i, __m512d, LOFIELD, _mm512_load_si512, _mm512_load_pd,     \
                      AVX512_BCAST, _mm512_set1_epi32(-1), AVX512_FMA, LOW, _mm512_min_epu32, \
                      resolve_##SUFFIX);                                                      \
        for (; j < pm->npad; j += 8)                                                          \
            MH_FILTER(1, 8, __m512i, __m512d, LOFIELD, _mm512_load_si512, _mm512_load_pd,     \
                      AVX512_BCAST, _mm512_set1_epi32(-1), AVX512_FMA, LOW, _mm512_min_epu32, \
                      resolve_##SUFFIX);                                                      \
    }

#define avx512_U(h) AVX512_LOW_MUL(AVX512_FMA(ad, (h), cd), lo, (h))
#define avx512ifma_U(h) AVX512_LOW_IFMA(AVX512_FMA(ad, (h), cd), lo, (h))
MH_AVX512_KERNELS(avx512, "avx512f,avx512dq,avx512vl", a_lo, AVX512_LOW_MUL)
MH_AVX512_KERNELS(avx512ifma, "avx512f,avx512dq,avx512vl,avx512ifma", a_lo52, AVX512_LOW_IFMA)
#undef avx512_U
#undef avx512ifma_U

const mh_kernel_fn mh_kernels[MH_NISA] = {kernel_portable, kernel_avx2, kernel_avx512,
                                          kernel_avx512};
const mh_kernel32_fn mh_kernels32[MH_NISA] = {kernel32_portable, kernel32_avx2, kernel32_avx512,
                                              kernel32_avx512ifma};

/* a_i and b_i from splitmix64 draws, as minhash.c's header comment says,
 * and the pieces of each that the kernels above read. */
int mh_perms_init(struct mh_perms *pm, size_t n, uint32_t seed)
{
    pm->n = n;
    pm->npad = (pm->n + MH_LANES - 1) / MH_LANES * MH_LANES;
    if (!(pm->a = mh_alloc_lanes(pm->npad)) || !(pm->a_lo = mh_alloc_lanes(pm->npad)) ||
        !(pm->a_hi = mh_alloc_lanes(pm->npad)) || !(pm->b = mh_alloc_lanes(pm->npad)) ||
        !(pm->a_lo52 = mh_alloc_lanes(pm->npad)) ||
        !(pm->alpha_d = aligned_alloc(64, pm->npad * sizeof(double))) ||
        !(pm->c_d = aligned_alloc(64, pm->npad * sizeof(double))))
        return -1;
    uint64_t state = seed;
    for (size_t i = 0; i < pm->npad; i++) {
        if (i < pm->n) {
            pm->a[i] = 1 + splitmix64(&state) % (MERSENNE61 - 1);
            pm->b[i] = splitmix64(&state) % MERSENNE61;
        } else {
            pm->a[i] = 1;
            pm->b[i] = 0;
        }
        pm->a_lo[i] = pm->a[i] & UINT32_MAX;
        pm->a_hi[i] = pm->a[i] >> 32;
        pm->a_lo52[i] = pm->a[i] & ((UINT64_C(1) << 52) - 1);
        /* All exact: alpha < 2^32, and c an integer in (2^51, 2^53). */
        uint64_t alpha = pm->a[i] >> 29;
        pm->alpha_d[i] = (double)alpha / 4294967296.0;
        pm->c_d[i] = (double)((UINT64_C(3) << 51) + (pm->b[i] & UINT32_MAX) + 3 - (alpha << 20));
    }
    return 0;
}

void mh_perms_free(struct mh_perms *pm)
{
    void *arrays[] = {pm->a, pm->a_lo, pm->a_hi, pm->b, pm->a_lo52, pm->alpha_d, pm->c_d};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        free(arrays[i]);
}

/* ---------------------------------------------------- one permutation -- */

/* algorithm: one_permutation.  Permutation 0 maps each n-gram hash to
 * v < 2^61 - 1; v falls in bin floor(v K / 2^61) of K = pm->n bins
 * (num_bands * minhashes_per_band), and signature value i is the least v
 * in bin i (low 32 bits in 32-bit mode).  An empty bin i borrows the value
 * of bin j for the first j of the probe sequence g(i, 1), g(i, 2), ...
 * whose bin is not empty (optimal densification: every empty bin picks its
 * donor independently, so P[value i of A == value i of B] is still the
 * Jaccard similarity), with g(i, t) = splitmix64 of (seed, i, t) mod K.
 * After 64 K probes without a donor (when only a few bins hold a value)
 * the next non-empty bin after i in circular order is the donor.
 * Deterministic, and the same on every ISA: only the n-gram hashing
 * differs between them. */
void mh_oph_sign(const struct mh_perms *pm, uint32_t seed, const uint64_t *hashes, size_t nh,
                 int mask32, uint64_t *bins, uint64_t *out)
{
    const size_t K = pm->n;
    const uint64_t a = pm->a[0], b = pm->b[0], empty = UINT64_MAX;
    for (size_t i = 0; i < K; i++)
        bins[i] = empty;
    for (size_t k = 0; k < nh; k++) {
        uint64_t v = perm_scalar(a, b, hashes[k]);
        size_t i = (size_t)(((unsigned __int128)v * K) >> 61);
        bins[i] = v < bins[i] ? v : bins[i];
    }
    for (size_t i = 0; i < K; i++) {
        uint64_t v = bins[i];
        for (uint64_t t = 1; v == empty && t <= 64 * (uint64_t)K; t++) {
            uint64_t st = ((uint64_t)seed << 32) ^ ((uint64_t)i * UINT64_C(0x9e3779b97f4a7c15)) ^
                          (t << 40) ^ t;
            v = bins[splitmix64(&st) % K];
        }
        for (size_t d = 1; v == empty && d < K; d++)
            v = bins[(i + d) % K];
        out[i] = mask32 ? v & UINT32_MAX : v;
    }
}
