/* test_minhash.c - the minhash stage (stages/minhash.c) through its ops
 * table: MurmurHash3 known answers, signatures equal to those of the
 * independent Python reference (t/lib/minhash_ref.py) on license texts,
 * the portable, AVX2 and AVX-512 kernels bit-identical, signature
 * agreement close to the exact Jaccard similarity, and the errors.  Also
 * prints (as diagnostics) each kernel's throughput. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "stage_impl.h"
#include "builtin.h"
#include "tap.h"
#include "stage_test.h"
#include "winnow/task.h"

#define LICENSES "/usr/share/common-licenses/"

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

static void slice(const char *label, const char *text, size_t len, size_t off, size_t n)
{
    if (off > len)
        off = len;
    add_doc(label, text + off, off + n > len ? len - off : n);
}

static void load_docs(void)
{
    static const char *whole[] = {"BSD", "Artistic", "CC0-1.0", "LGPL-3", "Apache-2.0"};
    static const char *sliced[] = {"GPL-3", "GPL-2", "GFDL-1.3", "LGPL-2.1", "MPL-2.0",
                                   "MPL-1.1", "GPL-1", "LGPL-2"};
    char path[256], label[64];
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        size_t len;
        snprintf(path, sizeof(path), LICENSES "%s", whole[i]);
        char *t = read_file(path, &len);
        if (!t)
            BAIL_OUT("cannot read %s", path);
        add_doc(whole[i], t, len);
        free(t);
    }
    for (size_t i = 0; i < sizeof(sliced) / sizeof(sliced[0]); i++) {
        size_t len;
        snprintf(path, sizeof(path), LICENSES "%s", sliced[i]);
        char *t = read_file(path, &len);
        if (!t)
            BAIL_OUT("cannot read %s", path);
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
    static const char bad[] = "abc\xff" "def\xe2\x82" "ghi\xc0\xaf" "jkl\xed\xa0\x80"
                              "mno\x80pqr stu vwx yz0 123 \xf0\x9f\x98\x80 end\xf0\x9f\x98";
    add_doc("invalid UTF-8", bad, sizeof(bad) - 1);
}

/* Starts the reference on every document; read its output with ref_read. */
static FILE *ref_start(int num_hashes, int wide)
{
    const char *srcdir = getenv("srcdir");
    char cmd[8192];
    int n = snprintf(cmd, sizeof(cmd), "python3 '%s/t/lib/minhash_ref.py' --num-hashes %d%s",
                     srcdir && *srcdir ? srcdir : ".", num_hashes, wide ? " --64" : "");
    for (size_t i = 0; i < ndocs; i++)
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %s/%zu", docs_dir, i);
    return popen(cmd, "r");
}

/* The reference's signatures, ndocs x num_hashes values; NULL on failure. */
static uint64_t *ref_read(FILE *p, int num_hashes)
{
    if (!p)
        return NULL;
    uint64_t *v = calloc(ndocs * (size_t)num_hashes, sizeof(*v));
    char *line = NULL;
    size_t cap = 0, row = 0;
    int good = v != NULL;
    while (good && getline(&line, &cap, p) > 0 && row < ndocs) {
        char *s = line;
        for (int j = 0; j < num_hashes && good; j++) {
            s += strspn(s, "[, ");
            char *end;
            errno = 0;
            v[row * (size_t)num_hashes + (size_t)j] = strtoull(s, &end, 10);
            good = end != s && errno == 0;
            s = end;
        }
        row++;
    }
    free(line);
    if (pclose(p) != 0 || row != ndocs || !good) {
        diag("reference: %zu of %zu documents read", row, ndocs);
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
        {"hello", 42, 3806057185u, UINT64_C(14175277504640544520),
         UINT64_C(2536855305735617658)},
    };
    for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
        uint64_t h[2];
        wn_murmur3_x64_128(kat[i].s, strlen(kat[i].s), kat[i].seed, h);
        ok(wn_murmur3_x86_32(kat[i].s, strlen(kat[i].s), kat[i].seed) == kat[i].x86,
           "x86_32(\"%s\", %u)", kat[i].s, kat[i].seed);
        ok(h[0] == kat[i].h1 && h[1] == kat[i].h2, "x64_128(\"%s\", %u)", kat[i].s,
           kat[i].seed);
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

/* The stage's signatures of every document, compared with the reference's. */
static void check_against_ref(FILE *p, int num_hashes, int wide)
{
    uint64_t *ref = ref_read(p, num_hashes);
    ok(ref != NULL, "reference ran (%d hashes, %d-bit)", num_hashes, wide ? 64 : 32);
    struct test_stage m;
    wn_error_t err = {{0}};
    char params[128];
    snprintf(params, sizeof(params), "num_hashes: %d, use_64_bit_hash: %s", num_hashes,
             wide ? "true" : "false");
    struct wn_batch *b = test_stage_make(&m, "minhash", params, &err) == 0 ? mh_run(&m, 0, ndocs, &err) : NULL;
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
    ok(bad == 0, "all %zu signatures equal the reference's (%d hashes, %d-bit)", ndocs,
       num_hashes, wide ? 64 : 32);
    free(ref);
    wn_batch_destroy(b);
    test_stage_free(&m);
}

static int isa_supported(const char *isa)
{
    __builtin_cpu_init();
    if (!strcmp(isa, "avx2"))
        return __builtin_cpu_supports("avx2");
    if (!strcmp(isa, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    return 1;
}

static const char *const isas[] = {"portable", "avx2", "avx512"};

/* Signatures of docs[first .. +n) with the kernel isa; NULL, err filled,
 * on failure. */
static struct wn_batch *run_isa(const char *isa, const char *params, size_t first, size_t n,
                                wn_error_t *err)
{
    struct test_stage m;
    setenv("WN_MINHASH_ISA", isa, 1);
    int rc = test_stage_make(&m, "minhash", params, err);
    unsetenv("WN_MINHASH_ISA");
    if (rc < 0)
        return NULL;
    struct wn_batch *b = mh_run(&m, first, n, err);
    test_stage_free(&m);
    return b;
}

static void test_isas(void)
{
    static const char *const params[] = {
        "num_hashes: 260", "num_hashes: 260, use_64_bit_hash: true",
        "num_hashes: 7", "num_hashes: 7, use_64_bit_hash: true, seed: 4294967295",
        "num_hashes: 1, char_ngrams: 3", "num_hashes: 13, char_ngrams: 1, seed: 0",
    };
    for (size_t k = 0; k < sizeof(params) / sizeof(params[0]); k++) {
        wn_error_t err = {{0}};
        struct wn_batch *base = run_isa("portable", params[k], 0, ndocs, &err);
        if (!ok(base != NULL, "portable kernel, %s", params[k]))
            diag("%s", err.text);
        for (size_t i = 1; i < 3; i++) {
            if (!isa_supported(isas[i])) {
                skip(1, i == 1 ? "this CPU lacks AVX2" : "this CPU lacks AVX-512");
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
        struct wn_batch *b = test_stage_make(&m, "minhash", wide ? "use_64_bit_hash: true" : "", &err) == 0
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
               "every %d-th word changed (%d-bit): estimate %.3f, exact Jaccard %.3f",
               every[k], wide ? 64 : 32, est, exact[k]);
        }
        wn_batch_destroy(b);
        test_stage_free(&m);
    }
    ndocs = first;
    for (size_t k = 0; k < 8; k++)
        free(docs[first + k].text);
    free(lic);
}

#define has_text(e, needle, ...)                                                     \
    do {                                                                             \
        if (!ok(strstr((e).text, (needle)) != NULL, __VA_ARGS__))                    \
            diag("  '%s' does not name '%s'", (e).text, (needle));                  \
    } while (0)

static void test_errors(void)
{
    struct test_stage m;
    wn_error_t err = {{0}};
    ok(test_stage_make(&m, "minhash", "num_hashes: 0", &err) < 0, "num_hashes 0 fails init");
    has_text(err, "num_hashes", "... naming the parameter");
    ok(test_stage_make(&m, "minhash", "char_ngrams: 0", &err) < 0, "char_ngrams 0 fails init");
    has_text(err, "char_ngrams", "... naming the parameter");
    setenv("WN_MINHASH_ISA", "sse9", 1);
    ok(test_stage_make(&m, "minhash", "", &err) < 0, "WN_MINHASH_ISA=sse9 fails init");
    unsetenv("WN_MINHASH_ISA");
    has_text(err, "sse9", "... naming it");
    if (!isa_supported("avx512")) {
        setenv("WN_MINHASH_ISA", "avx512", 1);
        ok(test_stage_make(&m, "minhash", "", &err) < 0, "WN_MINHASH_ISA=avx512 fails on a CPU without it");
        unsetenv("WN_MINHASH_ISA");
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
    if (test_stage_make(&m, "minhash", "num_hashes: 3", &err) < 0)
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
    static const char *files[] = {"Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GFDL-1.2",
                                  "GFDL-1.3", "GPL-1", "GPL-2", "GPL-3", "LGPL-2",
                                  "LGPL-2.1", "LGPL-3", "MPL-1.1", "MPL-2.0"};
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
        for (size_t i = 0; i < 3; i++) {
            if (!isa_supported(isas[i]))
                continue;
            /* Best of three: the runs are short and the machine shared. */
            wn_error_t err = {{0}};
            struct wn_batch *b = NULL;
            double s = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                wn_batch_destroy(b);
                double t0 = now();
                b = run_isa(isas[i], wide ? "use_64_bit_hash: true" : "", first,
                            ndocs - first, &err);
                double t = now() - t0;
                s = t < s ? t : s;
            }
            if (b)
                diag("throughput %-8s %d-bit, 260 hashes: %6.2f MB/s (%zu bytes, %.3f s)",
                     isas[i], wide ? 64 : 32, (double)total / s / 1e6, total, s);
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
    check_against_ref(ref_start(7, 0), 7, 0);
    check_against_ref(ref_start(7, 1), 7, 1);
    test_isas();
    test_jaccard();
    test_errors();
    check_against_ref(p32, 260, 0);
    check_against_ref(p64, 260, 1);
    bench();   /* last: the reference no longer competes for the cores */
    docs_remove();
    for (size_t i = 0; i < ndocs; i++)
        free(docs[i].text);
    return done_testing();
}
