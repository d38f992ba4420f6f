/* minhash.c - the `minhash` stage: NeMo Curator's MinHash signatures of a
 * text column, deterministic, with a portable, an AVX2, an AVX-512 and an
 * AVX-512 IFMA kernel that give identical bits (minhash_kernels.c; picked
 * at init, WINNOW_MINHASH_ISA forces one), and a CUDA kernel (minhash_cuda.cu)
 * that gives them too on a GPU rank when the stage asks for a GPU.
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
 *             split, which is how t/lib/minhash_ref.py does it.)  An
 *             ASCII text's code points are its bytes: no decoding pass.
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
 * The signature has num_bands * minhashes_per_band values (20 x 13 = 260
 * by default, NeMo Curator's), as many permutations: the lsh stage, given
 * the same two parameters, cuts it into num_bands bands.
 *
 * algorithm: one_permutation replaces those permutations by one
 * (permutation 0) and as many bins (one-permutation hashing with optimal
 * densification, Shrivastava 2017; see mh_oph_sign in minhash_kernels.c).
 *
 * The output is the input batch plus the column minhash_field: list<u32>
 * (or list<u64> with use_64_bit_hash) of num_bands * minhashes_per_band
 * values per row, what the lsh stage reads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "dedup/minhash_cuda.h"
#include "dedup/minhash_kernels.h"

#define MH_MAX_HASHES (1u << 20) /* signature values */
#define MH_MAX_BANDS 65536u
#define MH_MAX_ROWS 4096u
#define MH_MAX_NGRAM (1u << 20)

/* ------------------------------------------------------------- stage -- */

enum mh_algorithm { MH_PERMUTATIONS, MH_ONE_PERMUTATION };

struct minhash {
    long long ngram;
    int wide; /* use_64_bit_hash */
    uint32_t seed;
    enum mh_algorithm algorithm;
    char *text_field, *minhash_field;
    struct mh_perms perms;
    enum mh_isa isa;
    mh_kernel_fn kernel;        /* exact, either mode */
    mh_kernel32_fn kernel32;    /* 32-bit mode */
    struct wn_minhash_gpu *gpu; /* set up on a GPU rank, else NULL */
};

static void mh_teardown(struct wn_stage *st)
{
    struct minhash *m = wn_stage_data(st);
    if (m) {
        wn_minhash_gpu_close(m->gpu);
        m->gpu = NULL;
    }
}

static void mh_fini(struct wn_stage *st)
{
    struct minhash *m = wn_stage_data(st);
    if (m) {
        mh_teardown(st);
        free(m->text_field);
        free(m->minhash_field);
        mh_perms_free(&m->perms);
        free(m);
    }
}

/* The kernel the CPU runs best, or the one WINNOW_MINHASH_ISA names. */
static int pick_kernel(struct minhash *m, wn_error_t *err)
{
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    int has[] = {1, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"), avx512,
                 avx512 && __builtin_cpu_supports("avx512ifma")};
    static const char *const lacks[] = {"", "AVX2 (with FMA)", "AVX-512 (F, DQ and VL)",
                                        "AVX-512 IFMA (with F, DQ and VL)"};
    const char *isa = getenv("WINNOW_MINHASH_ISA");
    if (!isa)
        isa = getenv("WN_MINHASH_ISA"); /* its old name */
    if (!isa || !*isa) {
        m->isa = has[3] ? MH_AVX512IFMA : has[2] ? MH_AVX512 : has[1] ? MH_AVX2 : MH_PORTABLE;
    } else {
        size_t i = 0;
        while (i < MH_NISA && strcmp(isa, mh_isa_names[i]))
            i++;
        if (i == MH_NISA) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "WINNOW_MINHASH_ISA=%s: expected portable, avx2, avx512 or "
                                "avx512ifma",
                                isa);
        }
        if (!has[i]) {
            errno = ENOTSUP;
            return wn_errprintf(err, "WINNOW_MINHASH_ISA=%s: this CPU lacks %s", isa, lacks[i]);
        }
        m->isa = (enum mh_isa)i;
    }
    m->kernel = mh_kernels[m->isa];
    m->kernel32 = mh_kernels32[m->isa];
    return 0;
}

static int mh_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct minhash *m = calloc(1, sizeof(*m));
    if (!m)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, m);
    long long bands, rows, seed;
    /* The lsh stage's limits; the signature is their product.
     * MurmurHash3 takes a 32-bit seed. */
    if (wn_params_int_range(params, "char_ngrams", 1, MH_MAX_NGRAM, &m->ngram, err) < 0 ||
        wn_params_int_range(params, "num_bands", 1, MH_MAX_BANDS, &bands, err) < 0 ||
        wn_params_int_range(params, "minhashes_per_band", 1, MH_MAX_ROWS, &rows, err) < 0 ||
        wn_params_int_range(params, "seed", 0, UINT32_MAX, &seed, err) < 0 ||
        wn_params_bool(params, "use_64_bit_hash", &m->wide, err) < 0)
        return -1;
    if (bands * rows > MH_MAX_HASHES)
        return wn_params_refuse(params, "num_bands", err,
                                "num_bands x minhashes_per_band = "
                                "%lld x %lld = %lld signature values (at most %u)",
                                bands, rows, bands * rows, MH_MAX_HASHES);
    m->seed = (uint32_t)seed;
    const char *alg = wn_params_str(params, "algorithm");
    if (!strcmp(alg, "permutations"))
        m->algorithm = MH_PERMUTATIONS;
    else if (!strcmp(alg, "one_permutation"))
        m->algorithm = MH_ONE_PERMUTATION;
    else
        return wn_params_refuse(params, "algorithm", err,
                                "'%s' (permutations or "
                                "one_permutation)",
                                alg);
    if (pick_kernel(m, err) < 0)
        return -1;

    if (!(m->text_field = strdup(wn_params_str(params, "text_field"))) ||
        !(m->minhash_field = strdup(wn_params_str(params, "minhash_field"))) ||
        mh_perms_init(&m->perms, (size_t)(bands * rows), m->seed) < 0)
        return wn_errprintf(err, "out of memory");
    /* Its outputs are its inputs plus the signature; lsh after it reads
     * only ids and signatures, so the text goes no further. */
    const char *reads[] = {m->text_field, NULL}, *writes[] = {m->minhash_field, NULL};
    return wn_stage_set_columns(st, reads, writes, WN_COLUMNS_PASS, err);
}

/* On a GPU rank, when the stage's resources ask for a GPU: the
 * permutations run on the bound device (one_permutation stays on the
 * CPU: one permutation per n-gram is little work).  Without CUDA built
 * in, the CPU signs. */
static int mh_setup(struct wn_stage *st, const struct wn_worker *w, wn_error_t *err)
{
    struct minhash *m = wn_stage_data(st);
    if (w->gpu < 0 || !(wn_stage_resources(st).gpus > 0) || m->algorithm != MH_PERMUTATIONS ||
        wn_gpu_device_count() < 0)
        return 0;
    mh_teardown(st);
    if (wn_minhash_gpu_open(w->gpu, m->perms.a, m->perms.b, m->perms.n, &m->gpu, err) < 0)
        return wn_errprefix(err, "GPU %d", w->gpu);
    return 0;
}

/* Scratch of one process_batch call: n-gram hashes and running minima. */
struct mh_scratch {
    uint64_t *hashes;
    size_t cap;
    uint32_t *cp; /* code point start offsets */
    size_t cp_cap;
    uint64_t *mins; /* npad, 64-byte aligned */
    uint64_t *bins; /* one_permutation: n */
};

/* Room for `more` hashes after the first `at` (and the SIMD tail). */
static int reserve(struct mh_scratch *s, size_t at, size_t more)
{
    size_t need = at + more + 64;
    if (need <= s->cap)
        return 0;
    size_t cap = need > 2 * s->cap ? need : 2 * s->cap;
    uint64_t *h = realloc(s->hashes, cap * sizeof(*h));
    if (!h)
        return -1;
    s->hashes = h;
    s->cap = cap;
    return 0;
}

static inline uint64_t hash_one(const struct minhash *m, const char *p, size_t len)
{
    if (m->wide) {
        uint64_t h[2];
        wn_murmur3_x64_128(p, len, m->seed, h);
        return h[0];
    }
    return wn_murmur3_x86_32(p, len, m->seed);
}

/* Hashes of the len - n + 1 windows of n bytes of t[0..len) (len >= n):
 * the SIMD kernels take what they can in 32-bit mode. */
static size_t byte_windows(const struct minhash *m, const unsigned char *t, size_t len, size_t n,
                           uint64_t *out)
{
    size_t count = len - n + 1, g = 0;
    if (!m->wide && m->isa >= MH_AVX512)
        g = mh_windows_avx512(t, len, n, m->seed, out);
    else if (!m->wide && m->isa == MH_AVX2)
        g = mh_windows_avx2(t, len, n, m->seed, out);
    for (size_t i = g; i < count; i++)
        out[i] = hash_one(m, (const char *)t + i, n);
    return count;
}

/* Hashes of the n-grams of text[0..len) into s->hashes from `at` on;
 * returns their count, 0 when out of memory.  Runs of n-grams of n bytes
 * (single-byte code points: ASCII, or invalid bytes) are byte windows. */
static size_t ngram_hashes(const struct minhash *m, struct mh_scratch *s, const char *text,
                           size_t len, size_t at)
{
    if (reserve(s, at, len + 1) < 0)
        return 0;
    const unsigned char *u = (const unsigned char *)text;
    uint64_t *out = s->hashes + at;
    size_t n = (size_t)m->ngram;
    if (mh_is_ascii(u, len)) {
        if (len >= n)
            return byte_windows(m, u, len, n, out);
        out[0] = hash_one(m, text, len);
        return 1;
    }
    if (len + 1 > s->cp_cap) {
        uint32_t *cp = realloc(s->cp, (len + 1) * sizeof(*cp));
        if (!cp)
            return 0;
        s->cp = cp;
        s->cp_cap = len + 1;
    }
    uint32_t *cp = s->cp;
    size_t ncp = 0;
    for (size_t i = 0; i < len;) {
        size_t l = wn_utf8_len(u + i, len - i);
        cp[ncp++] = (uint32_t)i;
        i += l ? l : 1; /* an invalid byte: one code point */
    }
    cp[ncp] = (uint32_t)len;
    if (ncp < n) {
        out[0] = hash_one(m, text, len);
        return 1;
    }
    size_t count = ncp - n + 1;
    for (size_t g = 0; g < count;) {
        if (cp[g + n] - cp[g] == n) {
            /* Windows g..e-1 are n bytes each, so they start at
             * consecutive bytes. */
            size_t e = g + 1;
            while (e < count && cp[e + n] - cp[e] == n)
                e++;
            g += byte_windows(m, u + cp[g], e - g - 1 + n, n, out + g);
        } else {
            out[g] = hash_one(m, text + cp[g], cp[g + n] - cp[g]);
            g++;
        }
    }
    return count;
}

/* Signature of one document's hashes into s->mins[0..n). */
static void sign_one(const struct minhash *m, struct mh_scratch *s, uint64_t *h, size_t nh)
{
    const struct mh_perms *pm = &m->perms;
    if (m->algorithm == MH_ONE_PERMUTATION) {
        mh_oph_sign(pm, m->seed, h, nh, !m->wide, s->bins, s->mins);
        return;
    }
    /* Above every residue, so the first n-gram always replaces it. */
    for (size_t j = 0; j < pm->npad; j++)
        s->mins[j] = MERSENNE61;
    if (m->wide)
        m->kernel(h, nh, pm, 1, 0, s->mins);
    else
        m->kernel32(h, nh, pm, s->mins);
}

static void put_row(const struct minhash *m, uint64_t r, const uint64_t *v, uint32_t *out32,
                    uint64_t *out64)
{
    size_t n = m->perms.n;
    for (size_t j = 0; j < n; j++) {
        if (out64)
            out64[r * n + j] = v[j];
        else
            out32[r * n + j] = (uint32_t)v[j];
    }
}

/* Fills col (list of n values per row, rows resized already) from text:
 * row by row on the CPU, or the whole batch's hashes at once on the GPU. */
static int sign_rows(const struct minhash *m, struct mh_scratch *s, const struct wn_column *text,
                     struct wn_column *col, wn_error_t *err)
{
    uint32_t *out32 = m->wide ? NULL : wn_col_u32_mut(col);
    uint64_t *out64 = m->wide ? wn_col_u64_mut(col) : NULL;
    uint64_t *first = NULL, *dmins = NULL;
    if (!out32 && !out64)
        return wn_errprintf(err, "out of memory");
    if (m->gpu &&
        (!(first = malloc((text->nrows + 1) * sizeof(*first))) ||
         !(dmins = malloc((text->nrows ? text->nrows : 1) * m->perms.n * sizeof(*dmins))))) {
        free(first);
        return wn_errprintf(err, "out of memory");
    }
    size_t at = 0;
    int rc = 0;
    for (uint64_t r = 0; r < text->nrows && rc == 0; r++) {
        size_t len;
        const char *t = wn_col_str(text, r, &len);
        /* Offsets into a row are kept in 32 bits. */
        if (len >= UINT32_MAX) {
            errno = EFBIG;
            rc = wn_errprintf(err, "row %llu: text of %zu bytes (at most 4 GiB)",
                              (unsigned long long)r, len);
            break;
        }
        size_t nh = ngram_hashes(m, s, t, len, at);
        if (!nh) {
            rc = wn_errprintf(err, "out of memory");
        } else if (m->gpu) {
            first[r] = at;
            at += nh;
        } else {
            sign_one(m, s, s->hashes, nh);
            put_row(m, r, s->mins, out32, out64);
        }
    }
    if (m->gpu && rc == 0) {
        first[text->nrows] = at;
        rc = wn_minhash_gpu_sign(m->gpu, s->hashes, first, text->nrows, m->wide, dmins, err);
        for (uint64_t r = 0; r < text->nrows && rc == 0; r++)
            put_row(m, r, dmins + r * m->perms.n, out32, out64);
    }
    free(first);
    free(dmins);
    return rc;
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
    if (!(s.mins = mh_alloc_lanes(m->perms.npad)) ||
        !(s.bins = malloc(m->perms.n * sizeof(*s.bins)))) {
        free(s.mins);
        return wn_errprintf(err, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!in[i]->batch)
            continue; /* no rows, no output */
        const struct wn_column *text = text_column(m, in[i]->batch, i, err);
        struct wn_task *t = wn_task_create(0, 0, NULL);
        if (!t) {
            rc = wn_errprintf(err, "out of memory");
            break;
        }
        t->batch = wn_task_take_batch(in[i]);
        struct wn_column *sig = wn_batch_add_column(t->batch, m->minhash_field,
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
    free(s.bins);
    return rc;
}

static const struct wn_param_spec minhash_params[] = {
    {"char_ngrams", WN_PARAM_INT, "24", "characters (code points) per n-gram"},
    {"num_bands", WN_PARAM_INT, "20",
     "bands of the signature (the lsh stage's); num_bands * minhashes_per_band values per "
     "document"},
    {"minhashes_per_band", WN_PARAM_INT, "13", "signature values per band (the lsh stage's)"},
    {"seed", WN_PARAM_INT, "42", "MurmurHash3 seed and permutation seed (0 to 2^32-1)"},
    {"use_64_bit_hash", WN_PARAM_BOOL, "false",
     "MurmurHash3 x64_128 and list<u64> signatures instead of x86_32 and list<u32>"},
    {"algorithm", WN_PARAM_STRING, "permutations",
     "permutations (num_bands * minhashes_per_band of them, NeMo Curator's) or "
     "one_permutation (one permutation and as many bins, optimal densification; faster)"},
    {"text_field", WN_PARAM_STRING, "${text_field}", "str column holding the text"},
    {"minhash_field", WN_PARAM_STRING, "_minhash_signature", "signature column to add"},
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_minhash_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "minhash",
    .flags = WN_STAGE_ACTOR,
    .help = "MinHash signatures of a text column's character n-grams (NeMo Curator's)",
    .params = minhash_params,
    .init = mh_init,
    .setup = mh_setup,
    .process_batch = mh_process,
    .teardown = mh_teardown,
    .fini = mh_fini,
};
