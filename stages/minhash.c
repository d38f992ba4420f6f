/* minhash.c - the `minhash` stage: NeMo Curator's MinHash signatures of a
 * text column, deterministic, with a portable, an AVX2 and an AVX-512
 * kernel that give identical bits (picked at init; WN_MINHASH_ISA forces
 * one).
 *
 * For each document (a row of the string column text_field):
 *
 *   n-grams   the text is read as Unicode code points decoded from UTF-8;
 *             its n-grams are the L-n+1 windows of n = char_ngrams
 *             consecutive code points (each hashed as its bytes).  A text
 *             of fewer than n code points, the empty text included, is one
 *             n-gram: the whole text.  Invalid UTF-8: every byte that does
 *             not begin a complete, valid sequence (shortest form, no
 *             surrogates, at most U+10FFFF) is one code point by itself,
 *             and decoding resumes at the next byte.  (Python's
 *             bytes.decode('utf-8', 'surrogateescape') makes the same
 *             split, which is how t/lib/minhash_ref.py does it.)
 *   hash      MurmurHash3 with the seed `seed`: x86_32 in 32-bit mode, the
 *             low 64 bits (h1) of x64_128 in 64-bit mode.
 *   permute   permutation i of hash h is (a_i * h + b_i) mod (2^61 - 1),
 *             exactly, then masked to its low 32 bits in 32-bit mode.
 *   minimum   signature value i is the least permutation i over the
 *             document's n-grams.
 *
 * The coefficients come from splitmix64 seeded with `seed`: the draws x0,
 * x1, x2, ... give a_i = 1 + x(2i) mod (2^61 - 2), in [1, 2^61 - 2], and
 * b_i = x(2i+1) mod (2^61 - 1), in [0, 2^61 - 2].
 *
 * The output is the input batch plus the column minhash_field: list<u32>
 * (or list<u64> with use_64_bit_hash) of num_hashes values per row, what
 * the lsh stage reads.
 */
#include <errno.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

#define MERSENNE61 ((UINT64_C(1) << 61) - 1)
#define MH_LANES 8                 /* permutations per AVX-512 vector */
#define MH_MAX_HASHES (1u << 20)
#define MH_MAX_NGRAM (1u << 20)

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

/* ------------------------------------------------------ permutations -- */

/* Coefficients laid out for the kernels: a split into 32-bit halves (the
 * SIMD kernels multiply 32 x 32 -> 64 bits), padded with a = 1, b = 0 to a
 * multiple of MH_LANES permutations whose results are never output. */
struct mh_perms {
    size_t n, npad;
    uint64_t *a, *a_lo, *a_hi, *b;   /* 64-byte aligned, npad each */
};

typedef void (*mh_kernel_fn)(const uint64_t *hashes, size_t nh, const struct mh_perms *pm,
                             int wide, int mask32, uint64_t *mins);

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
    uint64_t r = lo + (hi & MERSENNE61) + (hi >> 61);   /* < 2^63 */
    r = (r & MERSENNE61) + (r >> 61);                   /* <= p + 3 */
    return r >= MERSENNE61 ? r - MERSENNE61 : r;
}

static void kernel_portable(const uint64_t *hashes, size_t nh, const struct mh_perms *pm,
                            int wide, int mask32, uint64_t *mins)
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

__attribute__((target("avx2")))
static void kernel_avx2(const uint64_t *hashes, size_t nh, const struct mh_perms *pm,
                        int wide, int mask32, uint64_t *mins)
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
            r = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(d),
                                                     _mm256_castsi256_pd(r),
                                                     _mm256_castsi256_pd(d)));
            r = _mm256_and_si256(r, mask);
            /* No unsigned 64-bit min in AVX2; signed compare is exact as
             * both are below 2^61. */
            m = _mm256_blendv_epi8(m, r, _mm256_cmpgt_epi64(m, r));
        }
        _mm256_store_si256((__m256i *)(mins + j), m);
    }
}

__attribute__((target("avx512f,avx512dq,avx512vl")))
static void kernel_avx512(const uint64_t *hashes, size_t nh, const struct mh_perms *pm,
                          int wide, int mask32, uint64_t *mins)
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

/* ------------------------------------------------------------- stage -- */

struct minhash {
    long long ngram;
    int wide;                        /* use_64_bit_hash */
    uint32_t seed;
    char *text_field, *minhash_field;
    struct mh_perms perms;
    mh_kernel_fn kernel;
};

static void mh_fini(struct wn_stage *st)
{
    struct minhash *m = wn_stage_data(st);
    if (m) {
        free(m->text_field);
        free(m->minhash_field);
        free(m->perms.a);
        free(m->perms.a_lo);
        free(m->perms.a_hi);
        free(m->perms.b);
        free(m);
    }
}

static uint64_t *alloc_lanes(size_t n)
{
    return aligned_alloc(64, n * sizeof(uint64_t));   /* n: a multiple of 8 */
}

/* The kernel the CPU runs best, or the one WN_MINHASH_ISA names. */
static int pick_kernel(struct minhash *m, wn_error_t *err)
{
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2");
    int has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                     __builtin_cpu_supports("avx512vl");
    const char *isa = getenv("WN_MINHASH_ISA");
    errno = ENOTSUP;
    if (!isa || !*isa)
        m->kernel = has_avx512 ? kernel_avx512 : has_avx2 ? kernel_avx2 : kernel_portable;
    else if (!strcmp(isa, "portable"))
        m->kernel = kernel_portable;
    else if (!strcmp(isa, "avx2")) {
        if (!has_avx2)
            return wn_errprintf(err, "WN_MINHASH_ISA=avx2: this CPU lacks AVX2");
        m->kernel = kernel_avx2;
    } else if (!strcmp(isa, "avx512")) {
        if (!has_avx512)
            return wn_errprintf(err, "WN_MINHASH_ISA=avx512: this CPU lacks AVX-512 "
                                "(F, DQ and VL)");
        m->kernel = kernel_avx512;
    } else {
        errno = EINVAL;
        return wn_errprintf(err, "WN_MINHASH_ISA=%s: expected portable, avx2 or avx512", isa);
    }
    return 0;
}

static int mh_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct minhash *m = calloc(1, sizeof(*m));
    if (!m)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, m);
    long long nhash, seed;
    if (wn_params_int(params, "char_ngrams", &m->ngram, err) < 0 ||
        wn_params_int(params, "num_hashes", &nhash, err) < 0 ||
        wn_params_int(params, "seed", &seed, err) < 0 ||
        wn_params_bool(params, "use_64_bit_hash", &m->wide, err) < 0)
        return -1;
    errno = EINVAL;
    if (m->ngram < 1 || m->ngram > MH_MAX_NGRAM)
        return wn_errprintf(err, "parameter 'char_ngrams': %lld (1 to %u)", m->ngram,
                            MH_MAX_NGRAM);
    if (nhash < 1 || nhash > MH_MAX_HASHES)
        return wn_errprintf(err, "parameter 'num_hashes': %lld (1 to %u)", nhash,
                            MH_MAX_HASHES);
    /* MurmurHash3 takes a 32-bit seed. */
    if (seed < 0 || seed > UINT32_MAX)
        return wn_errprintf(err, "parameter 'seed': %lld (0 to %u)", seed, UINT32_MAX);
    m->seed = (uint32_t)seed;
    if (pick_kernel(m, err) < 0)
        return -1;

    struct mh_perms *pm = &m->perms;
    pm->n = (size_t)nhash;
    pm->npad = (pm->n + MH_LANES - 1) / MH_LANES * MH_LANES;
    if (!(m->text_field = strdup(wn_params_str(params, "text_field"))) ||
        !(m->minhash_field = strdup(wn_params_str(params, "minhash_field"))) ||
        !(pm->a = alloc_lanes(pm->npad)) || !(pm->a_lo = alloc_lanes(pm->npad)) ||
        !(pm->a_hi = alloc_lanes(pm->npad)) || !(pm->b = alloc_lanes(pm->npad)))
        return wn_errprintf(err, "out of memory");
    uint64_t state = m->seed;
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
    }
    return 0;
}

/* Scratch of one process_batch call: n-gram hashes and running minima. */
struct mh_scratch {
    uint64_t *hashes;
    size_t cap;
    uint32_t *cp;                    /* code point start offsets, cap + 1 */
    uint64_t *mins;                  /* npad, 64-byte aligned */
};

/* Hashes of the n-grams of text[0..len) into s->hashes; returns their
 * count, 0 when out of memory. */
static size_t ngram_hashes(const struct minhash *m, struct mh_scratch *s, const char *text,
                           size_t len)
{
    if (len + 1 > s->cap) {
        size_t cap = len + 1 > 2 * s->cap ? len + 1 : 2 * s->cap;
        uint64_t *h = realloc(s->hashes, cap * sizeof(*h));
        if (h)
            s->hashes = h;
        uint32_t *cp = realloc(s->cp, (cap + 1) * sizeof(*cp));
        if (cp)
            s->cp = cp;
        if (!h || !cp)
            return 0;
        s->cap = cap;
    }
    const unsigned char *u = (const unsigned char *)text;
    size_t ncp = 0;
    for (size_t i = 0; i < len;) {
        size_t l = wn_utf8_len(u + i, len - i);
        s->cp[ncp++] = (uint32_t)i;
        i += l ? l : 1;   /* an invalid byte: one code point */
    }
    s->cp[ncp] = (uint32_t)len;
    size_t n = (size_t)m->ngram, count = ncp >= n ? ncp - n + 1 : 1;
    for (size_t g = 0; g < count; g++) {
        size_t start = s->cp[g], end = s->cp[g + n <= ncp ? g + n : ncp];
        if (m->wide) {
            uint64_t h[2];
            wn_murmur3_x64_128(text + start, end - start, m->seed, h);
            s->hashes[g] = h[0];
        } else
            s->hashes[g] = wn_murmur3_x86_32(text + start, end - start, m->seed);
    }
    return count;
}

/* Fills col (list of n values per row, rows resized already) from text. */
static int sign_rows(const struct minhash *m, struct mh_scratch *s,
                     const struct wn_column *text, struct wn_column *col, wn_error_t *err)
{
    const struct mh_perms *pm = &m->perms;
    uint32_t *out32 = m->wide ? NULL : wn_col_u32_mut(col);
    uint64_t *out64 = m->wide ? wn_col_u64_mut(col) : NULL;
    if (!out32 && !out64)
        return wn_errprintf(err, "out of memory");
    for (uint64_t r = 0; r < text->nrows; r++) {
        size_t len;
        const char *t = wn_col_str(text, r, &len);
        /* Offsets into a row are kept in 32 bits. */
        if (len >= UINT32_MAX) {
            errno = EFBIG;
            return wn_errprintf(err, "row %llu: text of %zu bytes (at most 4 GiB)",
                                (unsigned long long)r, len);
        }
        size_t nh = ngram_hashes(m, s, t, len);
        if (!nh)
            return wn_errprintf(err, "out of memory");
        /* Above every residue, so the first n-gram always replaces it. */
        for (size_t j = 0; j < pm->npad; j++)
            s->mins[j] = MERSENNE61;
        m->kernel(s->hashes, nh, pm, m->wide, !m->wide, s->mins);
        for (size_t j = 0; j < pm->n; j++) {
            if (out64)
                out64[r * pm->n + j] = s->mins[j];
            else
                out32[r * pm->n + j] = (uint32_t)s->mins[j];
        }
    }
    return 0;
}

/* Checks input i's text column; NULL (err filled) when it is unusable. */
static const struct wn_column *text_column(const struct minhash *m, const struct wn_batch *b,
                                           size_t i, wn_error_t *err)
{
    const struct wn_column *c = wn_batch_find(b, m->text_field);
    errno = EINVAL;
    if (!c)
        wn_errprintf(err, "input %zu: no text column '%s' (text_field)", i, m->text_field);
    else if (c->type != WN_TYPE_STR)
        wn_errprintf(err, "input %zu: text column '%s' is %s, not str", i, m->text_field,
                     wn_type_name(c->type));
    else if (wn_batch_find(b, m->minhash_field))
        wn_errprintf(err, "input %zu: column '%s' (minhash_field) exists already", i,
                     m->minhash_field);
    else
        return c;
    return NULL;
}

/* One output per input: the input's batch (taken over) plus the
 * signature column, with the input's metadata and perf history.  Every
 * input is checked before any batch is taken, so a bad input leaves them
 * all as they were for the retry. */
static int mh_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    const struct minhash *m = wn_stage_data(st);
    for (size_t i = 0; i < n; i++)
        if (in[i]->batch && !text_column(m, in[i]->batch, i, err))
            return -1;
    struct mh_scratch s = {0};
    if (!(s.mins = alloc_lanes(m->perms.npad)))
        return wn_errprintf(err, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!in[i]->batch)
            continue;   /* no rows, no output */
        const struct wn_column *text = text_column(m, in[i]->batch, i, err);
        struct wn_task *t = wn_task_create(0, 0, NULL);
        if (!t) {
            rc = wn_errprintf(err, "out of memory");
            break;
        }
        t->batch = wn_task_take_batch(in[i]);
        struct wn_column *sig =
            wn_batch_add_column(t->batch, m->minhash_field,
                                m->wide ? WN_TYPE_LIST_U64 : WN_TYPE_LIST_U32,
                                (uint32_t)m->perms.n, err);
        if (!sig || wn_col_resize(sig, text->nrows, err) < 0 ||
            sign_rows(m, &s, text, sig, err) < 0 || wn_task_inherit(t, in[i], err) < 0)
            rc = wn_errprefix(err, "input %zu", i);
        else if (wn_task_list_push(out, t) < 0)
            rc = wn_errprintf(err, "out of memory");
        if (rc < 0)
            wn_task_destroy(t);
    }
    free(s.hashes);
    free(s.cp);
    free(s.mins);
    return rc;
}

static const struct wn_param_spec minhash_params[] = {
    {"char_ngrams", WN_PARAM_INT, "24", "characters (code points) per n-gram"},
    {"num_hashes", WN_PARAM_INT, "260",
     "signature values per document (num_bands * minhashes_per_band of lsh)"},
    {"seed", WN_PARAM_INT, "42", "MurmurHash3 seed and permutation seed (0 to 2^32-1)"},
    {"use_64_bit_hash", WN_PARAM_BOOL, "false",
     "MurmurHash3 x64_128 and list<u64> signatures instead of x86_32 and list<u32>"},
    {"text_field", WN_PARAM_STRING, "text", "str column holding the text"},
    {"minhash_field", WN_PARAM_STRING, "_minhash_signature", "signature column to add"},
    WN_PARAM_END
};

const struct wn_stage_ops wn_stage_minhash_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "minhash",
    .flags = WN_STAGE_ACTOR,
    .help = "MinHash signatures of a text column's character n-grams (NeMo Curator's)",
    .params = minhash_params,
    .init = mh_init,
    .process_batch = mh_process,
    .fini = mh_fini,
};
