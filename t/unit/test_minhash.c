/* test_minhash.c - the minhash stage (stages/dedup/minhash.c) through its ops
 * table: MurmurHash3 known answers, signatures equal to those of the
 * independent Python reference (t/lib/minhash_ref.py) on license texts,
 * the portable, AVX2, AVX-512 and AVX-512 IFMA kernels bit-identical,
 * signature agreement close to the exact Jaccard similarity, algorithm
 * one_permutation (same length, same bits on every ISA, Jaccard estimates
 * over a few hundred real text pairs), and the errors.  Also prints (as
 * diagnostics) each kernel's throughput. */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "stage/stage_impl.h"
#include "builtin.h"
#include "gpu/gpu.h"
#include "tap.h"
#include "stage_test.h"
#include "winnow/task.h"

/* Runs docs[first .. first+n) through the stage as one input task (an
 * "id" u64 and a "text" str column); returns the output batch (owned by
 * the caller) or NULL with err filled. */
static struct wn_batch *mh_run(struct test_stage *m, size_t first, size_t n, wn_error_t *err)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *id = wn_batch_add_column(b, "id", WN_TYPE_U64, 1, err);
    struct wn_column *text = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, err);
    for (size_t i = first; i < first + n; i++)
        if (wn_col_append_u64(id, i, err) < 0 ||
            wn_col_append_str(text, docs[i].text, docs[i].len, err) < 0)
            BAIL_OUT("building the input: %s", err->text);
    struct wn_task *t = wn_task_create(1, 0, b);
    struct wn_task_list out = WN_TASK_LIST_INIT;
    struct wn_batch *res = NULL;
    if (m->st->ops->process_batch(m->st, &t, 1, &out, err) == 0) {
        if (out.n == 1)
            res = wn_task_take_batch(out.tasks[0]);
        else
            wn_errprintf(err, "%zu outputs, not 1", out.n);
    }
    wn_task_list_free(&out);
    wn_task_destroy(t);
    return res;
}

/* Value j of row r of a signature column, whatever its width. */
static uint64_t sig_at(const struct wn_column *c, uint64_t r, uint32_t j)
{
    return c->type == WN_TYPE_LIST_U64 ? wn_col_u64(c)[r * c->list_len + j]
                                       : wn_col_u32(c)[r * c->list_len + j];
}

/* --------------------------------------------------------- test data -- */

static void load_docs(void)
{
    static const char *whole[] = {"BSD", "Artistic", "CC0-1.0", "LGPL-3", "Apache-2.0"};
    static const char *sliced[] = {"GPL-3",   "GPL-2",   "GFDL-1.3", "LGPL-2.1",
                                   "MPL-2.0", "MPL-1.1", "GPL-1",    "LGPL-2"};
    char label[64];
    add_licenses(whole, sizeof(whole) / sizeof(whole[0]));
    for (size_t i = 0; i < sizeof(sliced) / sizeof(sliced[0]); i++) {
        size_t len;
        char *t = read_license(sliced[i], &len);
        /* Two slices each, of odd lengths at odd offsets. */
        snprintf(label, sizeof(label), "%s[1000+1777]", sliced[i]);
        slice(label, t, len, 1000 + 37 * i, 1777);
        snprintf(label, sizeof(label), "%s[9000+555]", sliced[i]);
        slice(label, t, len, 9001 + 11 * i, 555 + i);
        free(t);
    }
    add_doc("empty", "", 0);
    add_doc("short (11 chars)", "MIT License", 11);
    add_doc("23 chars", "abcdefghijklmnopqrstuvw", 23);
    add_doc("24 chars", "abcdefghijklmnopqrstuvwx", 24);
    add_doc("25 chars", "abcdefghijklmnopqrstuvwxy", 25);
    /* 2-, 3- and 4-byte code points: 24 code points are far fewer than
     * 24 * 4 bytes, so byte n-grams would differ. */
    static const char uni[] =
        "Licence « libre » : café, naïve, façade, Ærøskøbing, Ελληνικά, Русский, "
        "中文许可证的条款和条件 — 日本語のライセンス 😀🎉🚀 emoji ∑∫√ ≤ ≥ "
        "Le logiciel est fourni « tel quel », sans garantie d'aucune sorte.";
    add_doc("non-ASCII UTF-8", uni, sizeof(uni) - 1);
    add_doc("short non-ASCII (5 code points)", "é中😀ñ€", strlen("é中😀ñ€"));
    add_doc("exactly 24 non-ASCII code points", "中文许可证的条款和条件日本語のライセンス😀🎉🚀∑",
            strlen("中文许可证的条款和条件日本語のライセンス😀🎉🚀∑"));
    /* Invalid UTF-8: a lone 0xff, a truncated 3-byte sequence, an
     * overlong '/', a surrogate, a stray continuation, a sequence cut by
     * the end of the text. */
    static const char bad[] = "abc\xff"
                              "def\xe2\x82"
                              "ghi\xc0\xaf"
                              "jkl\xed\xa0\x80"
                              "mno\x80pqr stu vwx yz0 123 \xf0\x9f\x98\x80 end\xf0\x9f\x98";
    add_doc("invalid UTF-8", bad, sizeof(bad) - 1);
    /* ASCII texts of lengths about those where the SIMD hashing of 24-byte
     * windows switches to one at a time (64 windows need 91 bytes in
     * AVX-512, 32 need 59 in AVX2), and a long text with a few non-ASCII
     * code points and an invalid byte between ASCII runs. */
    size_t len;
    char *t = read_file(LICENSES "Apache-2.0", &len);
    if (!t || len < 3000)
        BAIL_OUT("cannot read Apache-2.0");
    static const size_t lens[] = {58, 59, 90, 91, 92, 156, 157, 300};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        snprintf(label, sizeof(label), "ASCII, %zu bytes", lens[i]);
        add_doc(label, t + 200, lens[i]);
    }
    char mixed[2100];
    memcpy(mixed, t + 500, 2000);
    memcpy(mixed + 300, "\xc3\xa9", 2);     /* é */
    memcpy(mixed + 900, "\xe2\x82\xac", 3); /* € */
    mixed[1400] = (char)0xff;               /* invalid: one code point */
    add_doc("ASCII runs around non-ASCII", mixed, 2000);
    free(t);
}

/* Starts the reference on every document; read its output with ref_read. */
static FILE *ref_start(int num_hashes, int wide)
{
    char args[64];
    snprintf(args, sizeof(args), "--num-hashes %d%s", num_hashes, wide ? " --64" : "");
    return ref_popen("minhash_ref.py", args);
}

/* One signature value of the reference's output ("[v, v, ...]"). */
static int ref_u64(char **s, void *out, size_t k)
{
    *s += strspn(*s, "[, ");
    char *end;
    errno = 0;
    ((uint64_t *)out)[k] = strtoull(*s, &end, 10);
    int got = end != *s && errno == 0;
    *s = end;
    return got;
}

/* The reference's signatures, ndocs x num_hashes values; NULL on failure. */
static uint64_t *ref_read(FILE *p, int num_hashes)
{
    uint64_t *v = calloc(ndocs * (size_t)num_hashes, sizeof(*v));
    if (!v || ref_rows(p, (size_t)num_hashes, ref_u64, v) < 0) {
        if (!v && p)
            pclose(p);
        free(v);
        return NULL;
    }
    return v;
}

/* ----------------------------------------------------------- tests -- */

static void test_murmur(void)
{
    /* From t/lib/minhash_ref.py --murmur --seed S "" a hello. */
    static const struct {
        const char *s;
        uint32_t seed, x86;
        uint64_t h1, h2;
    } kat[] = {
        {"", 0, 0u, 0u, 0u},
        {"a", 0, 1009084850u, UINT64_C(9607679276477937801), UINT64_C(16624257681780017498)},
        {"hello", 0, 613153351u, UINT64_C(14688674573012802306), UINT64_C(6565844092913065241)},
        {"", 42, 142593372u, UINT64_C(17305828677633410339), UINT64_C(15060430851467758521)},
        {"a", 42, 3001393763u, UINT64_C(2892890568104748720), UINT64_C(2732500323686427413)},
        {"hello", 42, 3806057185u, UINT64_C(14175277504640544520), UINT64_C(2536855305735617658)},
    };
    for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        uint64_t h[2];
        wn_murmur3_x64_128(kat[i].s, strlen(kat[i].s), kat[i].seed, h);
        ok(wn_murmur3_x86_32(kat[i].s, strlen(kat[i].s), kat[i].seed) == kat[i].x86,
           "x86_32(\"%s\", %u)", kat[i].s, kat[i].seed);
        ok(h[0] == kat[i].h1 && h[1] == kat[i].h2, "x64_128(\"%s\", %u)", kat[i].s, kat[i].seed);
    }
    /* Published values: "" with seeds 1 and 2^32-1, and the test vectors
     * with seed 0x9747b28c that circulate with the algorithm. */
    ok(wn_murmur3_x86_32("", 0, 1) == 0x514e28b7u, "x86_32(\"\", 1) = 0x514e28b7");
    ok(wn_murmur3_x86_32("", 0, 0xffffffffu) == 0x81f16f39u,
       "x86_32(\"\", 0xffffffff) = 0x81f16f39");
    ok(wn_murmur3_x86_32("aaaa", 4, 0x9747b28cu) == 0x5a97808au, "x86_32(\"aaaa\") = 0x5a97808a");
    ok(wn_murmur3_x86_32("Hello, world!", 13, 0x9747b28cu) == 0x24884cbau,
       "x86_32(\"Hello, world!\") = 0x24884cba");
    /* SMHasher's VerificationTest: hash the keys {0}, {0,1}, ..., of
     * lengths 0..255 with seed 256 - length, then the concatenated hashes
     * with seed 0; the first 4 bytes, little-endian, are the published
     * verification value. */
    uint8_t key[256], h32[256 * 4], h128[256 * 16];
    for (int i = 0; i < 256; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 256; i++) {
        uint32_t v = wn_murmur3_x86_32(key, (size_t)i, 256u - (uint32_t)i);
        memcpy(h32 + 4 * i, &v, 4);
        uint64_t w[2];
        wn_murmur3_x64_128(key, (size_t)i, 256u - (uint32_t)i, w);
        memcpy(h128 + 16 * i, w, 16);
    }
    uint64_t w[2];
    wn_murmur3_x64_128(h128, sizeof(h128), 0, w);
    ok(wn_murmur3_x86_32(h32, sizeof(h32), 0) == 0xb0f57ee3u,
       "SMHasher verification x86_32 = 0xB0F57EE3");
    ok((uint32_t)w[0] == 0x6384ba69u, "SMHasher verification x64_128 = 0x6384BA69");
}

/* The stage's signatures of every document (bands x rows values each),
 * compared with the reference's (started with bands * rows hashes). */
static void check_against_ref(FILE *p, int bands, int rows, int wide)
{
    const int num_hashes = bands * rows;
    uint64_t *ref = ref_read(p, num_hashes);
    ok(ref != NULL, "reference ran (%d hashes, %d-bit)", num_hashes, wide ? 64 : 32);
    struct test_stage m;
    wn_error_t err = {{0}};
    char params[128];
    snprintf(params, sizeof(params), "num_bands: %d, minhashes_per_band: %d, use_64_bit_hash: %s",
             bands, rows, wide ? "true" : "false");
    struct wn_batch *b =
        test_stage_make(&m, "minhash", params, &err) == 0 ? mh_run(&m, 0, ndocs, &err) : NULL;
    if (!ok(b != NULL, "stage ran (%d hashes, %d-bit)", num_hashes, wide ? 64 : 32))
        diag("%s", err.text);
    const struct wn_column *c = b ? wn_batch_find(b, "_minhash_signature") : NULL;
    ok(c && c->type == (wide ? WN_TYPE_LIST_U64 : WN_TYPE_LIST_U32) &&
           c->list_len == (uint32_t)num_hashes && c->nrows == ndocs,
       "column _minhash_signature is list<u%d> of %d", wide ? 64 : 32, num_hashes);
    ok(b && wn_batch_ncols(b) == 3 && wn_batch_find(b, "id") && wn_batch_find(b, "text") &&
           wn_col_u64(wn_batch_find(b, "id"))[ndocs - 1] == ndocs - 1,
       "input columns kept");
    size_t bad = 0;
    for (size_t i = 0; i < ndocs; i++) {
        int same = ref && c;
        for (int j = 0; same && j < num_hashes; j++)
            same = sig_at(c, i, (uint32_t)j) == ref[i * (size_t)num_hashes + (size_t)j];
        if (!same && ++bad <= 3)
            diag("  %s differs from the reference", docs[i].label);
    }
    ok(bad == 0, "all %zu signatures equal the reference's (%d hashes, %d-bit)", ndocs, num_hashes,
       wide ? 64 : 32);
    free(ref);
    wn_batch_destroy(b);
    test_stage_free(&m);
}

static int isa_supported(const char *isa)
{
    __builtin_cpu_init();
    int f = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl");
    if (!strcmp(isa, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!strcmp(isa, "avx512"))
        return f;
    if (!strcmp(isa, "avx512ifma"))
        return f && __builtin_cpu_supports("avx512ifma");
    return 1;
}

#define NISAS 4
static const char *const isas[NISAS] = {"portable", "avx2", "avx512", "avx512ifma"};

/* Signatures of docs[first .. +n) with the kernel isa; NULL, err filled,
 * on failure. */
static struct wn_batch *run_isa(const char *isa, const char *params, size_t first, size_t n,
                                wn_error_t *err)
{
    struct test_stage m;
    setenv("WINNOW_MINHASH_ISA", isa, 1);
    int rc = test_stage_make(&m, "minhash", params, err);
    unsetenv("WINNOW_MINHASH_ISA");
    if (rc < 0)
        return NULL;
    struct wn_batch *b = mh_run(&m, first, n, err);
    test_stage_free(&m);
    return b;
}

static void test_isas(void)
{
    static const char *const params[] = {
        "num_bands: 20, minhashes_per_band: 13",
        "use_64_bit_hash: true",
        "num_bands: 7, minhashes_per_band: 1",
        "num_bands: 1, minhashes_per_band: 7, use_64_bit_hash: true, seed: 4294967295",
        "num_bands: 1, minhashes_per_band: 1, char_ngrams: 3",
        "num_bands: 1, minhashes_per_band: 13, char_ngrams: 1, seed: 0",
        "num_bands: 3, minhashes_per_band: 11, char_ngrams: 5",
        "num_bands: 5, minhashes_per_band: 8, char_ngrams: 7, seed: 7",
        "algorithm: one_permutation",
        "algorithm: one_permutation, use_64_bit_hash: true",
        "algorithm: one_permutation, num_bands: 7, minhashes_per_band: 1, char_ngrams: 5, seed: 3",
        "algorithm: one_permutation, num_bands: 1, minhashes_per_band: 1",
    };
    for (size_t k = 0; k < sizeof(params) / sizeof(params[0]); k++) {
        wn_error_t err = {{0}};
        struct wn_batch *base = run_isa("portable", params[k], 0, ndocs, &err);
        if (!ok(base != NULL, "portable kernel, %s", params[k]))
            diag("%s", err.text);
        for (size_t i = 1; i < NISAS; i++) {
            if (!isa_supported(isas[i])) {
                skip(1, "this CPU lacks it");
                continue;
            }
            struct wn_batch *b = run_isa(isas[i], params[k], 0, ndocs, &err);
            ok(base && b && wn_batch_equal(base, b), "%s kernel equals portable, %s", isas[i],
               params[k]);
            wn_batch_destroy(b);
        }
        wn_batch_destroy(base);
    }
}

/* Exact Jaccard similarity of the sets of n-byte windows of two ASCII
 * texts (for ASCII, bytes are code points). */
struct win {
    const char *p;
};

static size_t win_n;

static int cmp_win(const void *x, const void *y)
{
    return memcmp(((const struct win *)x)->p, ((const struct win *)y)->p, win_n);
}

static size_t distinct_windows(const char *t, size_t len, struct win **out)
{
    size_t n = len - win_n + 1, k = 0;
    struct win *w = malloc(n * sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i].p = t + i;
    qsort(w, n, sizeof(*w), cmp_win);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || cmp_win(&w[k - 1], &w[i]) != 0)
            w[k++] = w[i];
    *out = w;
    return k;
}

static double jaccard(const char *a, size_t la, const char *b, size_t lb, size_t n)
{
    struct win *wa, *wb;
    win_n = n;
    size_t na = distinct_windows(a, la, &wa), nb = distinct_windows(b, lb, &wb);
    size_t i = 0, j = 0, both = 0;
    while (i < na && j < nb) {
        int c = cmp_win(&wa[i], &wb[j]);
        both += c == 0;
        i += c <= 0;
        j += c >= 0;
    }
    free(wa);
    free(wb);
    return (double)both / (double)(na + nb - both);
}

/* A copy of text with every `every`-th word replaced by "XYZZY". */
static char *mutate(const char *text, size_t len, int every, size_t *outlen)
{
    char *o = malloc(len + 1 + len / 2);
    size_t n = 0;
    int word = 0;
    for (size_t i = 0; i < len;) {
        if (text[i] == ' ' || text[i] == '\n') {
            o[n++] = text[i++];
            continue;
        }
        size_t j = i;
        while (j < len && text[j] != ' ' && text[j] != '\n')
            j++;
        if (++word % every == 0) {
            memcpy(o + n, "XYZZY", 5);
            n += 5;
        } else {
            memcpy(o + n, text + i, j - i);
            n += j - i;
        }
        i = j;
    }
    *outlen = n;
    return o;
}

static void test_jaccard(void)
{
    size_t len;
    char *lic = read_file(LICENSES "Apache-2.0", &len);
    if (!lic)
        BAIL_OUT("cannot read Apache-2.0");
    static const int every[] = {5, 15, 40, 150};
    size_t first = ndocs;
    double exact[4];
    for (size_t k = 0; k < 4; k++) {
        size_t ml;
        char *m = mutate(lic, len, every[k], &ml);
        exact[k] = jaccard(lic, len, m, ml, 24);
        add_doc("original", lic, len);
        add_doc("mutated", m, ml);
        free(m);
    }
    for (int wide = 0; wide <= 1; wide++) {
        struct test_stage m;
        wn_error_t err = {{0}};
        struct wn_batch *b =
            test_stage_make(&m, "minhash", wide ? "use_64_bit_hash: true" : "", &err) == 0
                ? mh_run(&m, first, 8, &err)
                : NULL;
        if (!ok(b != NULL, "stage ran on the mutated copies (%d-bit)", wide ? 64 : 32))
            diag("%s", err.text);
        const struct wn_column *c = b ? wn_batch_find(b, "_minhash_signature") : NULL;
        for (size_t k = 0; k < 4; k++) {
            int eq = 0;
            for (uint32_t j = 0; c && j < 260; j++)
                eq += sig_at(c, 2 * k, j) == sig_at(c, 2 * k + 1, j);
            double est = eq / 260.0, d = est - exact[k];
            ok(c && d < 0.1 && d > -0.1,
               "every %d-th word changed (%d-bit): estimate %.3f, exact Jaccard %.3f", every[k],
               wide ? 64 : 32, est, exact[k]);
        }
        wn_batch_destroy(b);
        test_stage_free(&m);
    }
    ndocs = first;
    for (size_t k = 0; k < 8; k++)
        free(docs[first + k].text);
    free(lic);
}

/* ---------------------------------------------------- one permutation -- */

/* texts[0..n) through the stage as one task; the output batch or NULL. */
static struct wn_batch *run_texts(struct test_stage *m, char *const *texts, const size_t *lens,
                                  size_t n, wn_error_t *err)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *text = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, err);
    for (size_t i = 0; i < n; i++)
        if (wn_col_append_str(text, texts[i], lens[i], err) < 0)
            BAIL_OUT("building the input: %s", err->text);
    struct wn_task *t = wn_task_create(1, 0, b);
    struct wn_task_list out = WN_TASK_LIST_INIT;
    struct wn_batch *res = NULL;
    if (m->st->ops->process_batch(m->st, &t, 1, &out, err) == 0 && out.n == 1)
        res = wn_task_take_batch(out.tasks[0]);
    wn_task_list_free(&out);
    wn_task_destroy(t);
    return res;
}

static int all_ascii(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t[i] >= 0x80)
            return 0;
    return 1;
}

#define MAX_PAIRS 320

/* Pairs of real texts (ASCII license texts): a 2000-byte window and the
 * window shifted by d bytes, or a copy with every k-th word replaced;
 * their exact Jaccard similarities of 24-character n-gram sets. */
static size_t make_pairs(char **texts, size_t *lens, double *exact)
{
    static const char *files[] = {"Apache-2.0", "GPL-2",    "GPL-3",  "LGPL-2.1", "MPL-2.0",
                                  "Artistic",   "GFDL-1.3", "LGPL-3", "MPL-1.1"};
    static const size_t shift[] = {0, 10, 30, 60, 100, 160, 250, 400, 600, 900, 1300, 1900};
    static const int every[] = {2, 3, 5, 8, 13, 30, 80};
    const size_t L = 2000;
    size_t np = 0;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[256];
        size_t len;
        snprintf(path, sizeof(path), LICENSES "%s", files[f]);
        char *t = read_file(path, &len);
        if (!t)
            continue;
        for (size_t o = 1000; o + 2 * L + 2000 <= len && np + 19 <= MAX_PAIRS; o += 4 * L) {
            if (!all_ascii(t + o, 2 * L + 1000))
                continue;
            for (size_t i = 0; i < sizeof(shift) / sizeof(shift[0]); i++, np++) {
                texts[2 * np] = strndup(t + o, L);
                texts[2 * np + 1] = strndup(t + o + shift[i], L);
                lens[2 * np] = lens[2 * np + 1] = L;
            }
            for (size_t i = 0; i < sizeof(every) / sizeof(every[0]); i++, np++) {
                texts[2 * np] = strndup(t + o, L);
                lens[2 * np] = L;
                texts[2 * np + 1] = mutate(t + o, L, every[i], &lens[2 * np + 1]);
            }
        }
        free(t);
    }
    for (size_t p = 0; p < np; p++)
        exact[p] = jaccard(texts[2 * p], lens[2 * p], texts[2 * p + 1], lens[2 * p + 1], 24);
    return np;
}

/* Mean and largest |estimate - exact|, and the mean signed error, of the
 * signatures in b (rows 2p and 2p+1 are pair p). */
static void estimate_errors(const struct wn_batch *b, const double *exact, size_t np, double *mean,
                            double *max, double *bias)
{
    const struct wn_column *c = wn_batch_find(b, "_minhash_signature");
    *mean = *max = *bias = 0;
    for (size_t p = 0; p < np; p++) {
        uint32_t eq = 0;
        for (uint32_t j = 0; j < c->list_len; j++)
            eq += sig_at(c, 2 * p, j) == sig_at(c, 2 * p + 1, j);
        double d = (double)eq / c->list_len - exact[p];
        *mean += fabs(d) / (double)np;
        *bias += d / (double)np;
        *max = fabs(d) > *max ? fabs(d) : *max;
    }
}

static void test_one_permutation(void)
{
    wn_error_t err = {{0}};
    struct test_stage m;
    /* Signature length and type as with permutations, lsh's shape: the
     * defaults, num_bands 20 x minhashes_per_band 13. */
    if (test_stage_make(&m, "minhash", "algorithm: one_permutation", &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_batch *b = mh_run(&m, 0, ndocs, &err);
    const struct wn_column *c = b ? wn_batch_find(b, "_minhash_signature") : NULL;
    ok(c && c->type == WN_TYPE_LIST_U32 && c->list_len == 260 && c->nrows == ndocs,
       "one_permutation: list<u32> of 260 values (20 bands x 13, the defaults) per row");
    /* A text of one n-gram fills one bin: densification copies it into
     * every other bin. */
    size_t shortdoc = 0;
    while (shortdoc < ndocs && strcmp(docs[shortdoc].label, "short (11 chars)"))
        shortdoc++;
    int same = c && shortdoc < ndocs;
    for (uint32_t j = 1; same && j < 260; j++)
        same = sig_at(c, shortdoc, j) == sig_at(c, shortdoc, 0);
    ok(same, "one n-gram: every bin holds its value (densified)");
    /* Differs from the permutations' signature, and is deterministic. */
    struct test_stage m2;
    if (test_stage_make(&m2, "minhash", "algorithm: one_permutation", &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_batch *b2 = mh_run(&m2, 0, ndocs, &err);
    ok(b && b2 && wn_batch_equal(b, b2), "one_permutation is deterministic (a second stage)");
    wn_batch_destroy(b2);
    test_stage_free(&m2);
    if (test_stage_make(&m2, "minhash", "", &err) < 0)
        BAIL_OUT("%s", err.text);
    b2 = mh_run(&m2, 0, ndocs, &err);
    ok(b && b2 && !wn_batch_equal(b, b2), "... and not the permutations' signature");
    wn_batch_destroy(b2);
    test_stage_free(&m2);
    wn_batch_destroy(b);
    test_stage_free(&m);

    /* Jaccard estimates over a few hundred pairs of real text. */
    static char *texts[2 * MAX_PAIRS];
    static size_t lens[2 * MAX_PAIRS];
    static double exact[MAX_PAIRS];
    size_t np = make_pairs(texts, lens, exact);
    ok(np >= 200, "%zu text pairs from the license texts", np);
    static const char *const params[] = {"algorithm: one_permutation",
                                         "algorithm: one_permutation, use_64_bit_hash: true",
                                         "algorithm: permutations"};
    for (size_t k = 0; k < 3; k++) {
        if (test_stage_make(&m, "minhash", params[k], &err) < 0)
            BAIL_OUT("%s", err.text);
        b = run_texts(&m, texts, lens, 2 * np, &err);
        double mean = 1, max = 1, bias = 1;
        if (b)
            estimate_errors(b, exact, np, &mean, &max, &bias);
        else
            diag("%s", err.text);
        /* 260 values: a standard error of at most 0.031 per pair. */
        ok(b && mean < 0.03 && max < 0.16 && fabs(bias) < 0.015,
           "%s: |estimate - exact Jaccard| mean %.4f, max %.4f, bias %+.4f over %zu pairs",
           params[k], mean, max, bias, np);
        wn_batch_destroy(b);
        test_stage_free(&m);
    }
    for (size_t i = 0; i < 2 * np; i++)
        free(texts[i]);
}

/* Every kernel on a few hundred KB of real text (Debian's copyright
 * files, cut into documents of 4 KiB and of odd sizes): the same bits. */
static void test_corpus_isas(void)
{
    glob_t g;
    size_t total = 0, cap = 600000;
    char *all = malloc(cap);
    if (!all)
        BAIL_OUT("out of memory");
    if (glob("/usr/share/doc/*/copyright", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && total < cap; i++) {
            size_t len;
            char *t = read_file(g.gl_pathv[i], &len);
            if (!t)
                continue;
            len = len < cap - total ? len : cap - total;
            memcpy(all + total, t, len);
            total += len;
            free(t);
        }
        globfree(&g);
    }
    if (total < 100000) {
        skip(2 * (NISAS - 1), "little text in /usr/share/doc/*/copyright");
        free(all);
        return;
    }
    static char *texts[1024];
    static size_t lens[1024];
    size_t n = 0;
    for (size_t off = 0; off < total && n < 1024; n++) {
        size_t want = n % 3 ? 4096 : 1 + (n * 7919) % 9000; /* odd sizes too */
        lens[n] = total - off < want ? total - off : want;
        texts[n] = all + off;
        off += lens[n];
    }
    for (int wide = 0; wide <= 1; wide++) {
        const char *params = wide ? "use_64_bit_hash: true" : "";
        wn_error_t err = {{0}};
        struct test_stage m;
        struct wn_batch *base = NULL;
        setenv("WINNOW_MINHASH_ISA", "portable", 1);
        if (test_stage_make(&m, "minhash", params, &err) == 0) {
            base = run_texts(&m, texts, lens, n, &err);
            test_stage_free(&m);
        }
        for (size_t i = 1; i < NISAS; i++) {
            if (!isa_supported(isas[i])) {
                skip(1, "this CPU lacks it");
                continue;
            }
            struct wn_batch *b = NULL;
            setenv("WINNOW_MINHASH_ISA", isas[i], 1);
            if (test_stage_make(&m, "minhash", params, &err) == 0) {
                b = run_texts(&m, texts, lens, n, &err);
                test_stage_free(&m);
            }
            ok(base && b && wn_batch_equal(base, b),
               "%s equals portable on %zu documents of real text (%.1f MB, %d-bit)", isas[i], n,
               (double)total / 1e6, wide ? 64 : 32);
            wn_batch_destroy(b);
        }
        unsetenv("WINNOW_MINHASH_ISA");
        wn_batch_destroy(base);
    }
    free(all);
}

/* Setup on a GPU rank: with the stage asking for a GPU and one present,
 * the device computes the signatures, bit for bit the CPU's; else the CPU
 * does (setup without a GPU request, or gpu -1, changes nothing). */
static void test_setup(void)
{
    wn_error_t err = {{0}};
    struct test_stage m, g;
    if (test_stage_make(&m, "minhash", "", &err) < 0 ||
        test_stage_make(&g, "minhash", "", &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_batch *cpu = mh_run(&m, 0, ndocs, &err);
    struct wn_worker w = {0, 0, 0, 0, 0, 1, NULL};
    ok(g.st->ops->setup(g.st, &w, &err) == 0, "setup with gpu 0 but no GPU requested");
    struct wn_batch *b = mh_run(&g, 0, ndocs, &err);
    ok(cpu && b && wn_batch_equal(cpu, b), "... signs on the CPU, same bits");
    wn_batch_destroy(b);
    g.st->ops->teardown(g.st);
    int ndev = wn_gpu_device_count();
    ((struct wn_stage_config *)g.st->cfg)->gpus = 1;
    if (ndev <= 0) {
        w.gpu = -1;
        ok(g.st->ops->setup(g.st, &w, &err) == 0, "setup with gpus 1 on a rank without a GPU");
        b = mh_run(&g, 0, ndocs, &err);
        ok(cpu && b && wn_batch_equal(cpu, b), "... signs on the CPU, same bits");
        wn_batch_destroy(b);
    } else {
        int rc = g.st->ops->setup(g.st, &w, &err);
        if (!ok(rc == 0, "setup with gpus 1 on GPU 0"))
            diag("%s", err.text);
        b = mh_run(&g, 0, ndocs, &err);
        if (!ok(cpu && b && wn_batch_equal(cpu, b), "GPU signatures equal the CPU's"))
            diag("%s", b ? "" : err.text);
        wn_batch_destroy(b);
    }
    g.st->ops->teardown(g.st);
    wn_batch_destroy(cpu);
    test_stage_free(&m);
    test_stage_free(&g);
}

#define has_text(e, needle, ...)                                   \
    do {                                                           \
        if (!ok(strstr((e).text, (needle)) != NULL, __VA_ARGS__))  \
            diag("  '%s' does not name '%s'", (e).text, (needle)); \
    } while (0)

static void test_errors(void)
{
    struct test_stage m;
    wn_error_t err = {{0}};
    ok(test_stage_make(&m, "minhash", "num_bands: 0", &err) < 0, "num_bands 0 fails init");
    has_text(err, "'num_bands'", "... naming the parameter");
    ok(test_stage_make(&m, "minhash", "minhashes_per_band: 0", &err) < 0,
       "minhashes_per_band 0 fails init");
    has_text(err, "'minhashes_per_band'", "... naming the parameter");
    ok(test_stage_make(&m, "minhash", "minhashes_per_band: 4097", &err) < 0,
       "minhashes_per_band 4097 fails init (lsh's limit)");
    has_text(err, "'minhashes_per_band'", "... naming the parameter");
    ok(test_stage_make(&m, "minhash", "num_bands: 65536, minhashes_per_band: 17", &err) < 0,
       "num_bands x minhashes_per_band above 2^20 values fails init");
    has_text(err, "65536 x 17", "... naming both parameters' values");
    ok(test_stage_make(&m, "minhash", "num_hashes: 260", &err) < 0,
       "num_hashes (replaced by num_bands x minhashes_per_band) fails init");
    has_text(err, "num_hashes", "... naming it");
    ok(test_stage_make(&m, "minhash", "char_ngrams: 0", &err) < 0, "char_ngrams 0 fails init");
    has_text(err, "char_ngrams", "... naming the parameter");
    ok(test_stage_make(&m, "minhash", "algorithm: two_permutations", &err) < 0,
       "algorithm two_permutations fails init");
    has_text(err, "algorithm", "... naming the parameter");
    setenv("WINNOW_MINHASH_ISA", "sse9", 1);
    ok(test_stage_make(&m, "minhash", "", &err) < 0, "WINNOW_MINHASH_ISA=sse9 fails init");
    unsetenv("WINNOW_MINHASH_ISA");
    has_text(err, "sse9", "... naming it");
    if (!isa_supported("avx512")) {
        setenv("WINNOW_MINHASH_ISA", "avx512", 1);
        ok(test_stage_make(&m, "minhash", "", &err) < 0,
           "WINNOW_MINHASH_ISA=avx512 fails on a CPU without it");
        unsetenv("WINNOW_MINHASH_ISA");
        has_text(err, "avx512", "... naming it");
    } else
        skip(2, "this CPU has AVX-512: an unsupported ISA cannot be forced");

    /* A text column under another name, then one of the wrong type. */
    if (test_stage_make(&m, "minhash", "text_field: body", &err) < 0)
        BAIL_OUT("%s", err.text);
    ok(mh_run(&m, 0, 1, &err) == NULL, "missing text column fails process_batch");
    has_text(err, "'body'", "... naming the column");
    test_stage_free(&m);

    if (test_stage_make(&m, "minhash", "text_field: id", &err) < 0)
        BAIL_OUT("%s", err.text);
    ok(mh_run(&m, 0, 1, &err) == NULL, "non-string text column fails process_batch");
    has_text(err, "'id'", "... naming the column");
    test_stage_free(&m);

    /* A failed batch leaves the stage usable, and an input task keeps its
     * metadata in the output. */
    if (test_stage_make(&m, "minhash", "num_bands: 3, minhashes_per_band: 1", &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_batch *b = wn_batch_create();
    struct wn_column *c = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, &err);
    wn_col_append_str(c, "x", 1, &err);
    struct wn_task *t = wn_task_create(7, 0, b);
    wn_task_meta_set(t, "source", "unit", &err);
    struct wn_task_list out = WN_TASK_LIST_INIT;
    ok(m.st->ops->process_batch(m.st, &t, 1, &out, &err) == 0 && out.n == 1 &&
           out.tasks[0]->batch && wn_batch_nrows(out.tasks[0]->batch) == 1,
       "one row in, one row out");
    const char *v = out.n ? wn_task_meta_get(out.tasks[0], "source") : NULL;
    ok(v && !strcmp(v, "unit"), "the output inherits the input's metadata");
    wn_task_list_free(&out);
    wn_task_destroy(t);
    test_stage_free(&m);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Throughput of each kernel on all the license files concatenated, one
 * core; reported, not asserted (machines differ). */
static void bench(void)
{
    static const char *files[] = {"Apache-2.0", "Artistic", "BSD",     "CC0-1.0", "GFDL-1.2",
                                  "GFDL-1.3",   "GPL-1",    "GPL-2",   "GPL-3",   "LGPL-2",
                                  "LGPL-2.1",   "LGPL-3",   "MPL-1.1", "MPL-2.0"};
    size_t first = ndocs, total = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[256];
        size_t len;
        snprintf(path, sizeof(path), LICENSES "%s", files[i]);
        char *t = read_file(path, &len);
        if (!t)
            continue;
        add_doc(files[i], t, len);
        total += len;
        free(t);
    }
    for (int wide = 0; wide <= 1; wide++)
        for (size_t i = 0; i < NISAS; i++) {
            if (!isa_supported(isas[i]))
                continue;
            /* Best of three: the runs are short and the machine shared. */
            wn_error_t err = {{0}};
            struct wn_batch *b = NULL;
            double s = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                wn_batch_destroy(b);
                double t0 = now();
                b = run_isa(isas[i], wide ? "use_64_bit_hash: true" : "", first, ndocs - first,
                            &err);
                double t = now() - t0;
                s = t < s ? t : s;
            }
            if (b)
                diag("throughput %-8s %d-bit, 260 hashes: %6.2f MB/s (%zu bytes, %.3f s)", isas[i],
                     wide ? 64 : 32, (double)total / s / 1e6, total, s);
            else
                diag("throughput %s: %s", isas[i], err.text);
            wn_batch_destroy(b);
        }
    for (size_t i = first; i < ndocs; i++)
        free(docs[i].text);
    ndocs = first;
}

int main(void)
{
    plan(NO_PLAN);
    test_murmur();
    load_docs();
    docs_write();
    /* The reference is slow: the 260-hash runs go in parallel while the
     * quick ones are checked. */
    FILE *p32 = ref_start(260, 0), *p64 = ref_start(260, 1);
    check_against_ref(ref_start(7, 0), 7, 1, 0);
    check_against_ref(ref_start(7, 1), 1, 7, 1);
    test_isas();
    test_jaccard();
    test_one_permutation();
    test_corpus_isas();
    test_setup();
    test_errors();
    check_against_ref(p32, 20, 13, 0);
    check_against_ref(p64, 20, 13, 1);
    bench(); /* last: the reference no longer competes for the cores */
    docs_remove();
    for (size_t i = 0; i < ndocs; i++)
        free(docs[i].text);
    return done_testing();
}
