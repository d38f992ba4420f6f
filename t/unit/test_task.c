/* test_task.c - columns, batches, tasks and the task wire format.
 *
 * The wire format is what travels between ranks, so most of the weight is
 * on pack/unpack: round trips of every column type and shape, view mode
 * really sharing memory, and a damaged buffer - flipped bytes anywhere,
 * every truncation, hostile descriptors with valid checksums - failing
 * cleanly rather than crashing (run this under ASan or valgrind). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tap.h"
#include "winnow/task.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

#define SIG_LEN 260

static void add_schema(struct wn_batch *b)
{
    static const struct { const char *name; enum wn_type type; uint32_t ll; }
    cols[] = {
        { "flag", WN_TYPE_U8, 0 },     { "delta", WN_TYPE_I32, 0 },
        { "len", WN_TYPE_U32, 0 },     { "ts", WN_TYPE_I64, 0 },
        { "id", WN_TYPE_U64, 0 },      { "score", WN_TYPE_F64, 0 },
        { "text", WN_TYPE_STR, 0 },    { "sig", WN_TYPE_LIST_U32, SIG_LEN },
        { "triple", WN_TYPE_LIST_U64, 3 },
    };
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        if (!wn_batch_add_column(b, cols[i].name, cols[i].type, cols[i].ll,
                                 NULL))
            BAIL_OUT("add_column %s: %s", cols[i].name, strerror(errno));
}

/* Row r's string: r % 23 bytes, with NUL bytes inside. */
static size_t row_text(uint64_t r, char *s)
{
    size_t n = r % 23;
    for (size_t i = 0; i < n; i++)
        s[i] = i % 5 == 2 ? '\0' : (char)('a' + (r + i) % 26);
    return n;
}

/* Appends rows [first, first + n) of the reference data, row-wise. */
static void fill(struct wn_batch *b, uint64_t first, uint64_t n)
{
    int rc = 0;
    for (uint64_t r = first; r < first + n; r++) {
        char s[32];
        uint32_t sig[SIG_LEN];
        uint64_t triple[3] = { r, r * r, ~r };
        for (int j = 0; j < SIG_LEN; j++)
            sig[j] = (uint32_t)(r * SIG_LEN + j) * 2654435761u;
        rc |= wn_col_append_u64(wn_batch_find(b, "flag"), (r * 7) & 0xff, NULL);
        rc |= wn_col_append_i64(wn_batch_find(b, "delta"),
                                (int32_t)(uint32_t)(r * 2654435761u), NULL);
        rc |= wn_col_append_u64(wn_batch_find(b, "len"), r * 3 + 1, NULL);
        rc |= wn_col_append_i64(wn_batch_find(b, "ts"),
                                -(int64_t)r * 1000003, NULL);
        rc |= wn_col_append_u64(wn_batch_find(b, "id"),
                                wn_task_id_derive(0, 0, r), NULL);
        rc |= wn_col_append_f64(wn_batch_find(b, "score"), r * 0.25 - 3.0,
                                NULL);
        rc |= wn_col_append_str(wn_batch_find(b, "text"), s, row_text(r, s),
                                NULL);
        rc |= wn_col_append_list(wn_batch_find(b, "sig"), sig, NULL);
        rc |= wn_col_append_list(wn_batch_find(b, "triple"), triple, NULL);
    }
    if (rc)
        BAIL_OUT("fill: %s", strerror(errno));
}

static struct wn_batch *make_batch(uint64_t first, uint64_t n)
{
    struct wn_batch *b = wn_batch_create();
    add_schema(b);
    fill(b, first, n);
    return b;
}

static void add_meta_perf(struct wn_task *t)
{
    struct wn_stage_perf p1 = { "read_jsonl", 0.5, 0.125, 0, 10, 0, 4096 };
    struct wn_stage_perf p2 = { "minhash", 2.25, 0.0, 10, 10, 4096, 65536 };
    if (wn_task_meta_set(t, "source", "s3://bucket/part-00007.jsonl", NULL) ||
        wn_task_meta_set(t, "empty", "", NULL) ||
        wn_task_meta_set(t, "utf8", "caf\xc3\xa9 \xe2\x9c\x93", NULL) ||
        wn_task_perf_add(t, &p1, NULL) || wn_task_perf_add(t, &p2, NULL))
        BAIL_OUT("meta/perf: %s", strerror(errno));
}

static struct wn_task *make_task(struct wn_batch *b)
{
    struct wn_task *t = wn_task_create(wn_task_id_derive(7, 1, 3), 1, b);
    if (!t)
        BAIL_OUT("task_create");
    add_meta_perf(t);
    return t;
}

static void *aligned_copy(const void *src, size_t len, size_t shift)
{
    void *p;
    if (posix_memalign(&p, 64, len + shift + 1))
        BAIL_OUT("posix_memalign");
    memcpy((char *)p + shift, src, len);
    return p;
}

static int inside(const void *p, size_t n, const void *buf, size_t len)
{
    const char *c = p, *b = buf;
    return c >= b && c + n <= b + len;
}

/* 1 when every column is a view into buf, 64-byte aligned; 0 when none
 * points into buf; -1 for a mixture. */
static int view_state(const struct wn_batch *b, const void *buf, size_t len)
{
    int in = 0, out = 0;
    for (uint32_t i = 0; i < wn_batch_ncols(b); i++) {
        const struct wn_column *c = wn_batch_col(b, i);
        int v = wn_col_is_view(c) && inside(c->data, c->nbytes, buf, len) &&
                (uintptr_t)c->data % 64 == 0 &&
                (c->type != WN_TYPE_STR ||
                 (inside(c->offsets, (c->nrows + 1) * 8, buf, len) &&
                  (uintptr_t)c->offsets % 64 == 0));
        int o = !wn_col_is_view(c) && !inside(c->data, 1, buf, len);
        in += v;
        out += o;
    }
    if (out == (int)wn_batch_ncols(b))
        return 0;
    return in == (int)wn_batch_ncols(b) ? 1 : -1;
}

/* Reads every byte a batch claims to hold, so ASan/valgrind see any lie. */
static uint64_t touch(const struct wn_batch *b)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < wn_batch_ncols(b); i++) {
        const struct wn_column *c = wn_batch_col(b, i);
        for (uint64_t k = 0; k < c->nbytes; k++)
            sum += ((const unsigned char *)c->data)[k];
        for (uint64_t r = 0; c->type == WN_TYPE_STR && r < c->nrows; r++) {
            size_t n;
            const char *s = wn_col_str(c, r, &n);
            for (size_t k = 0; k < n; k++)
                sum += (unsigned char)s[k];
        }
    }
    return sum;
}

/* Rewrites both checksums, as a hostile sender would. */
static void reseal(unsigned char *p, size_t len)
{
    uint64_t body = XXH3_64bits(p + 64, len - 64), hdr;
    memcpy(p + 16, &body, 8);
    hdr = XXH3_64bits(p, 56);
    memcpy(p + 56, &hdr, 8);
}

static uint64_t ld64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Pack, then unpack copied and as a view; six points per shape. */
static void roundtrip(const char *what, const struct wn_task *t)
{
    wn_error_t err = { "" };
    void *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    struct wn_task *c = NULL, *v = NULL;

    int rc = wn_task_pack_alloc(t, &buf, &len, &err);
    ok(rc == 0 && len == wn_task_packed_size(t) && len % 64 == 0 &&
       (uintptr_t)buf % 64 == 0, "%s: packs into %zu aligned bytes", what, len);
    if (!buf)
        BAIL_OUT("pack: %s", err.text);

    ok(wn_task_unpack(buf, len, 0, &c, &err) == 0 && wn_task_equal(t, c) &&
       view_state(c->batch, buf, len) == 0,
       "%s: copy unpack is equal and owns its memory", what);
    ok(wn_task_unpack(buf, len, WN_UNPACK_VIEW, &v, &err) == 0 &&
       wn_task_equal(t, v), "%s: view unpack is equal", what);
    ok(v && (wn_batch_ncols(v->batch) == 0 ||
             view_state(v->batch, buf, len) == 1),
       "%s: view columns point into the buffer, 64-byte aligned", what);

    ok(wn_task_pack_alloc(t, &buf2, &len2, NULL) == 0 && len2 == len &&
       memcmp(buf, buf2, len) == 0, "%s: packing is deterministic", what);
    free(buf2);
    buf2 = NULL;
    ok(v && wn_task_pack_alloc(v, &buf2, &len2, NULL) == 0 && len2 == len &&
       memcmp(buf, buf2, len) == 0,
       "%s: repacking the view gives the same bytes", what);
    if (err.text[0])
        diag("%s: %s", what, err.text);
    free(buf2);
    wn_task_destroy(c);
    wn_task_destroy(v);
    free(buf);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_types_and_names(void)
{
    static const char *names[] = { "u8", "i32", "u32", "i64", "u64", "f64",
                                   "str", "list<u32>", "list<u64>" };
    static const size_t widths[] = { 1, 4, 4, 8, 8, 8, 1, 4, 8 };
    int good = 1;
    for (int t = 1; t <= 9; t++)
        good &= !strcmp(wn_type_name((enum wn_type)t), names[t - 1]) &&
                wn_type_width((enum wn_type)t) == widths[t - 1];
    ok(good && wn_type_width((enum wn_type)42) == 0 &&
       !strcmp(wn_type_name((enum wn_type)0), "?"),
       "type names and widths, unknown types recognised");

    struct wn_batch *b = wn_batch_create();
    wn_error_t err;
    char long_name[80];
    memset(long_name, 'n', sizeof(long_name));
    long_name[WN_NAME_MAX] = '\0';
    ok(wn_batch_add_column(b, long_name, WN_TYPE_U8, 0, NULL) != NULL,
       "a %d-byte name is accepted", WN_NAME_MAX);
    long_name[WN_NAME_MAX] = 'n';
    long_name[WN_NAME_MAX + 1] = '\0';
    errno = 0;
    ok(!wn_batch_add_column(b, long_name, WN_TYPE_U8, 0, &err) &&
       errno == EINVAL && strstr(err.text, "longer than"),
       "a 64-byte name is rejected: %s", err.text);
    ok(!wn_batch_add_column(b, "", WN_TYPE_U8, 0, NULL) &&
       !wn_batch_add_column(b, "a/b", WN_TYPE_U8, 0, NULL) &&
       !wn_batch_add_column(b, "..", WN_TYPE_U8, 0, NULL) &&
       !wn_batch_add_column(b, "tab\there", WN_TYPE_U8, 0, NULL),
       "empty, '/', '..' and control-character names are rejected");
    ok(wn_batch_add_column(b, "x", WN_TYPE_U64, 0, NULL) &&
       !wn_batch_add_column(b, "x", WN_TYPE_U32, 0, &err) && errno == EEXIST,
       "a duplicate name fails with EEXIST: %s", err.text);
    ok(!wn_batch_add_column(b, "l", WN_TYPE_LIST_U32, 0, NULL) &&
       errno == EINVAL &&
       !wn_batch_add_column(b, "s", WN_TYPE_U32, SIG_LEN, &err) &&
       errno == EINVAL && !wn_batch_add_column(b, "t", (enum wn_type)42, 0,
                                               NULL),
       "list length 0, a list length on a scalar, unknown type: rejected");
    ok(wn_batch_ncols(b) == 2 && wn_batch_find(b, "x") == wn_batch_col(b, 1) &&
       !wn_batch_find(b, "nope") && errno == ENOENT,
       "find by name; a missing name gives ENOENT");
    wn_batch_destroy(b);
}

static void test_appends(void)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *u8 = wn_batch_add_column(b, "u8", WN_TYPE_U8, 0, NULL);
    struct wn_column *i32 = wn_batch_add_column(b, "i32", WN_TYPE_I32, 0, NULL);
    struct wn_column *u32 = wn_batch_add_column(b, "u32", WN_TYPE_U32, 0, NULL);
    struct wn_column *u64 = wn_batch_add_column(b, "u64", WN_TYPE_U64, 0, NULL);
    struct wn_column *f64 = wn_batch_add_column(b, "f64", WN_TYPE_F64, 0, NULL);
    wn_error_t err;

    ok(wn_col_append_u64(u8, 255, NULL) == 0 &&
       wn_col_append_u64(u8, 256, &err) == -1 && errno == ERANGE &&
       strstr(err.text, "'u8'") && u8->nrows == 1,
       "u8 takes 255, refuses 256 with ERANGE: %s", err.text);
    ok(wn_col_append_i64(i32, INT32_MIN, NULL) == 0 &&
       wn_col_append_i64(i32, (int64_t)INT32_MIN - 1, NULL) == -1 &&
       errno == ERANGE && wn_col_append_i64(u32, -1, NULL) == -1 &&
       errno == ERANGE && wn_col_i32(i32)[0] == INT32_MIN,
       "i32 range and negative values into unsigned columns are checked");
    ok(wn_col_append_f64(u64, 1.0, &err) == -1 && errno == EINVAL &&
       wn_col_append_str(u64, "a", 1, NULL) == -1 &&
       wn_col_append_u64(f64, 1, NULL) == -1 &&
       wn_col_append_list(u64, "abcdefgh", NULL) == -1,
       "appends of the wrong kind fail with EINVAL: %s", err.text);
    errno = 0;
    ok(wn_col_u64(u32) == NULL && errno == EINVAL && wn_col_f64(f64) &&
       wn_col_u32_mut(u64) == NULL,
       "typed accessors refuse a mismatched column");

    int good = 1;
    for (uint64_t i = 0; i < 100000; i++)
        good &= wn_col_append_u64(u64, i * 0x9e3779b97f4a7c15ull, NULL) == 0;
    const uint64_t *v = wn_col_u64(u64);
    for (uint64_t i = 0; i < 100000; i++)
        good &= v[i] == i * 0x9e3779b97f4a7c15ull;
    ok(good && u64->nrows == 100000 && u64->nbytes == 800000 &&
       (uintptr_t)v % 64 == 0, "100000 u64 appends hold, data 64-aligned");

    ok(wn_col_reserve(f64, 5000, 0, NULL) == 0, "reserve 5000 rows");
    const double *before = wn_col_f64(f64);
    good = 1;
    for (int i = 0; i < 5000; i++)
        good &= wn_col_append_f64(f64, i / 3.0, NULL) == 0;
    ok(good && wn_col_f64(f64) == before && f64->nrows == 5000,
       "appends within the reserve never move the data");

    ok(wn_batch_validate(b, &err) == -1 && errno == EINVAL &&
       strstr(err.text, "rows"), "unequal columns fail validation: %s",
       err.text);
    wn_batch_destroy(b);
}

static void test_strings(void)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *s = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, NULL);
    size_t big_len = 5u << 20, n;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 % 251);   /* includes NUL bytes */
    ok(wn_col_append_str(s, "", 0, NULL) == 0 &&
       wn_col_append_str(s, NULL, 0, NULL) == 0 &&
       wn_col_append_str(s, "a\0b\0", 4, NULL) == 0 &&
       wn_col_append_str(s, big, big_len, NULL) == 0 &&
       wn_col_append_str(s, "x", 1, NULL) == 0 && s->nrows == 5,
       "strings: empty, NULL empty, embedded NULs, 5 MiB, one byte");
    const char *r2 = wn_col_str(s, 2, &n);
    ok(r2 && n == 4 && memcmp(r2, "a\0b\0", 4) == 0,
       "embedded NUL bytes come back with their length");
    const char *r3 = wn_col_str(s, 3, &n);
    ok(r3 && n == big_len && memcmp(r3, big, big_len) == 0,
       "the 5 MiB string comes back whole");
    ok(wn_col_str(s, 0, &n) && n == 0 && !wn_col_str(s, 5, &n) &&
       errno == EINVAL, "empty row has length 0; row 5 is out of range");
    ok(wn_task_nbytes(NULL) == 0 && wn_batch_nbytes(b) ==
       5 + big_len + 6 * 8, "nbytes counts bytes and offsets");

    /* a row of the column appended to the column: growing must not free
     * the bytes being copied */
    struct wn_batch *b2 = wn_batch_create();
    struct wn_column *s2 = wn_batch_add_column(b2, "s", WN_TYPE_STR, 0, NULL);
    int good = wn_col_append_str(s2, "a\0b\0", 4, NULL) == 0;
    for (int i = 0; i < 200; i++) {
        const char *row = wn_col_str(s2, (uint64_t)i, &n);
        good &= wn_col_append_str(s2, row, n, NULL) == 0;
    }
    const char *last = wn_col_str(s2, 200, &n);
    ok(good && n == 4 && memcmp(last, "a\0b\0", 4) == 0,
       "appending a column's own string to it survives growth");
    wn_batch_destroy(b2);

    struct wn_task *t = wn_task_create(1, 0, b);
    roundtrip("multi-MB strings", t);
    wn_task_destroy(t);
    free(big);
}

static void test_lists(void)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *sig = wn_batch_add_column(b, "sig", WN_TYPE_LIST_U32,
                                                SIG_LEN, NULL);
    uint32_t row[SIG_LEN];
    int good = 1;
    for (uint32_t r = 0; r < 10; r++) {
        for (int j = 0; j < SIG_LEN; j++)
            row[j] = r * 1000 + j;
        good &= wn_col_append_list(sig, row, NULL) == 0;
    }
    const uint32_t *v = wn_col_u32(sig);
    for (uint32_t r = 0; r < 10; r++)
        for (int j = 0; j < SIG_LEN; j++)
            good &= v[r * SIG_LEN + j] == r * 1000 + j;
    ok(good && sig->nrows == 10 && sig->list_len == SIG_LEN &&
       sig->nbytes == 10 * SIG_LEN * 4,
       "list<u32>[260]: ten rows stored flat, row-major");
    ok(wn_col_append_n(sig, v, 10, NULL) == 0 && sig->nrows == 20 &&
       wn_col_u32(sig)[15 * SIG_LEN + 7] == 5007,
       "bulk append of list rows (from the column itself)");
    wn_batch_destroy(b);
}

static void test_resize(void)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *u = wn_batch_add_column(b, "u", WN_TYPE_U32, 0, NULL);
    struct wn_column *s = wn_batch_add_column(b, "s", WN_TYPE_STR, 0, NULL);
    wn_col_append_u64(u, 9, NULL);
    ok(wn_col_resize(u, 100, NULL) == 0 && u->nrows == 100 &&
       wn_col_u32(u)[0] == 9 && wn_col_u32(u)[99] == 0,
       "resize grows with zeros, keeps existing rows");
    uint32_t *w = wn_col_u32_mut(u);
    for (int i = 0; i < 100; i++)
        w[i] = i;
    wn_col_append_str(s, "hello", 5, NULL);
    wn_col_append_str(s, "world", 5, NULL);
    size_t n;
    ok(wn_col_resize(s, 1, NULL) == 0 && s->nbytes == 5 &&
       wn_col_resize(s, 100, NULL) == 0 && wn_col_str(s, 99, &n) && n == 0 &&
       wn_batch_validate(b, NULL) == 0 && wn_batch_nrows(b) == 100,
       "strings shrink and grow with empty rows; batch valid after");
    ok(wn_batch_reserve(b, 1000, NULL) == 0 && u->cap_bytes >= 4000 &&
       s->cap_offsets >= 1001, "batch reserve covers every column");
    ok(wn_batch_drop_column(b, "u", NULL) == 0 && wn_batch_ncols(b) == 1 &&
       wn_batch_col(b, 0) == s && wn_batch_drop_column(b, "u", NULL) == -1 &&
       errno == ENOENT, "drop a column; dropping it again is ENOENT");
    wn_batch_destroy(b);
}

static void test_shapes(void)
{
    struct wn_task *t;

    t = make_task(make_batch(0, 0));
    ok(wn_batch_nrows(t->batch) == 0 && wn_batch_ncols(t->batch) == 9,
       "0-row batch with every column type");
    roundtrip("0 rows", t);
    wn_task_destroy(t);

    t = make_task(make_batch(5, 1));
    roundtrip("1 row", t);
    wn_task_destroy(t);

    t = make_task(make_batch(0, 1000));
    roundtrip("1000 rows", t);
    wn_task_destroy(t);

    t = make_task(NULL);
    roundtrip("no batch", t);
    wn_task_destroy(t);

    t = wn_task_create(0, 0, wn_batch_create());
    roundtrip("a batch without columns", t);
    wn_task_destroy(t);

    /* NULL batch and empty batch must stay different things */
    struct wn_task *a = wn_task_create(1, 0, NULL);
    struct wn_task *b = wn_task_create(1, 0, wn_batch_create()), *u = NULL;
    void *buf;
    size_t len;
    wn_task_pack_alloc(a, &buf, &len, NULL);
    ok(wn_task_unpack(buf, len, 0, &u, NULL) == 0 && u->batch == NULL &&
       !wn_task_equal(u, b), "no batch stays no batch");
    wn_task_destroy(a);
    wn_task_destroy(b);
    wn_task_destroy(u);
    free(buf);
}

static void test_pack_errors(void)
{
    struct wn_task *t = make_task(make_batch(0, 3));
    wn_error_t err;
    size_t need = wn_task_packed_size(t);
    void *buf = malloc(need);
    ok(wn_task_pack(t, buf, need - 1, &err) == -1 && errno == ENOBUFS &&
       strstr(err.text, "too small"), "pack into a short buffer: %s",
       err.text);
    ok(wn_task_pack(t, buf, need, NULL) == 0, "pack into an exact buffer");
    wn_col_append_u64(wn_batch_find(t->batch, "id"), 1, NULL);
    ok(wn_task_pack(t, buf, need + 64, &err) == -1 && errno == EINVAL &&
       strstr(err.text, "'id'"), "pack refuses unequal columns: %s",
       err.text);
    free(buf);
    wn_task_destroy(t);
}

/* Flips single bytes everywhere; every flip must be refused. */
static void test_corruption(void)
{
    struct wn_task *t = make_task(make_batch(0, 4));
    unsigned char *buf;
    size_t len;
    wn_task_pack_alloc(t, (void **)&buf, &len, NULL);
    uint64_t data_off = ld64(buf + 48);
    wn_error_t err;
    struct wn_task *u;
    int missed[3] = { 0, 0, 0 }, tried[3] = { 0, 0, 0 };
    int sum_msgs = 1, hdr_noverify = 1;
    static const unsigned char flips[] = { 0x01, 0x80, 0xff };

    for (size_t off = 0; off < len; off++) {
        int region = off < 64 ? 0 : off < data_off ? 1 : 2;
        for (size_t f = 0; f < sizeof(flips); f++) {
            buf[off] ^= flips[f];
            tried[region]++;
            u = NULL;
            if (wn_task_unpack(buf, len, WN_UNPACK_VIEW, &u, &err) == 0) {
                missed[region]++;
                wn_task_destroy(u);
            } else if (region > 0 && !strstr(err.text, "checksum mismatch")) {
                sum_msgs = 0;
            }
            if (region == 0 &&
                wn_task_unpack(buf, len, WN_UNPACK_NOVERIFY, &u, NULL) == 0) {
                hdr_noverify = 0;
                wn_task_destroy(u);
            }
            buf[off] ^= flips[f];
        }
    }
    ok(missed[0] == 0, "all %d header byte flips are detected", tried[0]);
    ok(missed[1] == 0, "all %d flips in task fields, metadata, perf and "
       "descriptors are detected", tried[1]);
    ok(missed[2] == 0, "all %d flips in column data are detected", tried[2]);
    ok(sum_msgs, "body flips are reported as 'checksum mismatch'");
    ok(hdr_noverify, "header flips are detected even with NOVERIFY");
    ok(wn_task_unpack(buf, len, 0, &u, NULL) == 0, "the restored buffer "
       "unpacks again");
    wn_task_destroy(u);

    int truncated = 1;
    for (size_t l = 0; l < len; l++) {
        u = NULL;
        if (wn_task_unpack(buf, l, 0, &u, &err) == 0 || errno != EBADMSG)
            truncated = 0;
        wn_task_destroy(u);
    }
    ok(truncated, "truncation at each of %zu lengths is detected", len);
    unsigned char *longer = aligned_copy(buf, len, 0);
    ok(wn_task_unpack(longer, len + 1, 0, &u, &err) == -1 &&
       strstr(err.text, "buffer has"), "a longer buffer is refused: %s",
       err.text);
    free(longer);

    /* With NOVERIFY nothing catches body flips except the structure
     * checks: the result must be an error or a consistent task. */
    int consistent = 1, refused = 0;
    for (size_t off = 64; off < len; off++) {
        buf[off] ^= 0x5a;
        u = NULL;
        if (wn_task_unpack(buf, len, WN_UNPACK_VIEW | WN_UNPACK_NOVERIFY, &u,
                           NULL) == 0) {
            consistent &= wn_batch_validate(u->batch, NULL) == 0;
            touch(u->batch);
            wn_task_destroy(u);
        } else {
            refused++;
        }
        buf[off] ^= 0x5a;
    }
    ok(consistent && refused > 0, "NOVERIFY: %d structural flips refused, "
       "the rest consistent", refused);
    free(buf);
    wn_task_destroy(t);
}

/* Flips in the structure with both checksums recomputed: only the bounds
 * checks stand between the reader and a crash. */
static void test_hostile(void)
{
    struct wn_task *t = make_task(make_batch(0, 6));
    unsigned char *orig, *buf;
    size_t len;
    wn_task_pack_alloc(t, (void **)&orig, &len, NULL);
    uint64_t data_off = ld64(orig + 48);
    buf = aligned_copy(orig, len, 0);
    struct wn_task *u;
    wn_error_t err;
    int refused = 0, accepted = 0, consistent = 1;
    static const unsigned char flips[] = { 0x01, 0x02, 0x10, 0x80, 0xff };

    for (size_t off = 24; off < data_off; off++) {
        if (off >= 56 && off < 64)
            continue;   /* the header checksum itself */
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(buf, orig, len);
            buf[off] ^= flips[f];
            reseal(buf, len);
            u = NULL;
            if (wn_task_unpack(buf, len, WN_UNPACK_VIEW, &u, &err) == 0) {
                accepted++;
                consistent &= wn_batch_validate(u->batch, NULL) == 0;
                touch(u->batch);
                wn_task_destroy(u);
            } else {
                refused++;
            }
        }
    }
    ok(consistent && refused > 0, "resealed structure flips: %d refused, %d "
       "accepted and consistent", refused, accepted);

    /* Specific lies, each with the message a user would need. */
    struct { const char *what, *col; uint64_t field, value; const char *msg; }
    lies[] = {
        { "string data length", "text", 80, UINT64_MAX / 2, "extends past end" },
        { "u64 data offset", "id", 72, 0, "overlaps" },
        { "list data offset", "sig", 72, (uint64_t)1 << 40, "extends past end" },
        { "string offsets offset", "text", 88, 64 * 1000000,
          "offsets extend past end" },
        { "u32 data length", "len", 80, 4, "need" },
        { "misaligned data", "flag", 72, 0, "not aligned" },
    };
    uint64_t desc_off = 0;
    /* find the descriptors: 96-byte records right before data_off */
    uint32_t ncols;
    memcpy(&ncols, orig + 32, 4);
    desc_off = data_off - 96 * ncols;
    while (desc_off % 8 || memcmp(orig + desc_off, "flag", 5))
        desc_off--;   /* data_off was rounded up to 64 */
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        memcpy(buf, orig, len);
        uint64_t d = desc_off;
        while (strcmp((char *)buf + d, lies[i].col))
            d += 96;
        uint64_t v = lies[i].value;
        if (!strcmp(lies[i].what, "misaligned data"))
            v = ld64(buf + d + 72) + 8;
        memcpy(buf + d + lies[i].field, &v, 8);
        reseal(buf, len);
        u = NULL;
        int rc = wn_task_unpack(buf, len, WN_UNPACK_VIEW, &u, &err);
        ok(rc == -1 && errno == EBADMSG && strstr(err.text, lies[i].msg) &&
           strstr(err.text, lies[i].col), "lie about the %s: %s", lies[i].what,
           err.text);
        wn_task_destroy(u);
    }

    /* decreasing string offsets */
    memcpy(buf, orig, len);
    uint64_t d = desc_off;
    while (strcmp((char *)buf + d, "text"))
        d += 96;
    uint64_t ooff = ld64(buf + d + 88), o = 0;   /* offsets 0 0 1 3 6 ... */
    memcpy(buf + ooff + 8 * 3, &o, 8);
    reseal(buf, len);
    u = NULL;
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 &&
       strstr(err.text, "decrease at row 2"), "decreasing string offsets: %s",
       err.text);
    wn_task_destroy(u);

    /* a huge row count in the header */
    memcpy(buf, orig, len);
    uint64_t rows = UINT64_MAX;
    memcpy(buf + 40, &rows, 8);
    reseal(buf, len);
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 && errno == EBADMSG,
       "a row count of 2^64-1: %s", err.text);

    /* another format version */
    memcpy(buf, orig, len);
    buf[4] = 2;
    reseal(buf, len);
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 &&
       strstr(err.text, "version 2"), "a newer format version: %s", err.text);

    memcpy(buf, orig, len);
    buf[0] = 'X';
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 &&
       strstr(err.text, "magic"), "not a task at all: %s", err.text);
    ok(wn_task_unpack(orig, len, 1 << 7, &u, NULL) == -1 && errno == EINVAL &&
       wn_task_unpack(NULL, 0, 0, &u, &err) == -1 && errno == EBADMSG,
       "unknown flags and an empty buffer are refused");
    free(buf);
    free(orig);
    wn_task_destroy(t);
}

/* Moving a view batch from an input to an output, as a pass-through
 * stage does: the output packs like the input, and destroying the input
 * afterwards frees nothing the output uses. */
static void test_take_batch(void)
{
    struct wn_task *t = make_task(make_batch(0, 20));
    void *buf, *buf2;
    size_t len, len2;
    wn_task_pack_alloc(t, &buf, &len, NULL);
    struct wn_task *in = NULL;
    ok(wn_task_unpack(buf, len, WN_UNPACK_VIEW, &in, NULL) == 0, "unpacked a view");
    struct wn_batch *b = wn_task_take_batch(in);
    ok(b != NULL && in->batch == NULL, "take_batch moves the batch out");
    ok(wn_task_take_batch(in) == NULL && wn_task_take_batch(NULL) == NULL,
       "taking again (or from NULL) gives NULL");
    struct wn_task *o = wn_task_create(t->id, t->stage_index, b);
    ok(o && wn_task_inherit(o, in, NULL) == 0, "an output takes the batch and the lineage");
    wn_task_destroy(in);
    int rc = o ? wn_task_pack_alloc(o, &buf2, &len2, NULL) : -1;
    ok(rc == 0 && len2 == len && memcmp(buf2, buf, len) == 0,
       "after the input is gone, the output packs to the input's bytes (%zu)",
       rc == 0 ? len2 : 0);
    wn_task_destroy(o);
    wn_task_destroy(t);
    free(buf);
    free(buf2);
}

static void test_views(void)
{
    struct wn_task *t = make_task(make_batch(0, 50));
    void *buf;
    size_t len;
    wn_task_pack_alloc(t, &buf, &len, NULL);
    unsigned char *saved = aligned_copy(buf, len, 0);
    struct wn_task *v = NULL;
    wn_error_t err;

    /* copy-on-write: the packed buffer is never written */
    wn_task_unpack(buf, len, WN_UNPACK_VIEW, &v, NULL);
    struct wn_column *id = wn_batch_find(v->batch, "id");
    struct wn_column *text = wn_batch_find(v->batch, "text");
    ok(wn_col_append_u64(id, 42, NULL) == 0 &&
       wn_col_append_str(text, "new", 3, NULL) == 0 &&
       !wn_col_is_view(id) && !inside(id->data, 1, buf, len) &&
       wn_col_u64(id)[50] == 42 && wn_col_u64(id)[0] == wn_task_id_derive(0, 0, 0),
       "appending to a view column copies it first");
    ok(wn_col_is_view(wn_batch_find(v->batch, "sig")),
       "untouched columns stay views");
    uint32_t *sig = wn_col_u32_mut(wn_batch_find(v->batch, "sig"));
    sig[0] ^= 1;
    ok(!inside(sig, 4, buf, len) && memcmp(buf, saved, len) == 0,
       "a *_mut pointer on a view is a private copy; the buffer is unchanged");
    ok(wn_batch_make_owned(v->batch, NULL) == 0 &&
       view_state(v->batch, buf, len) == 0, "make_owned detaches every column");
    wn_task_destroy(v);

    /* unaligned buffers: views are refused quietly, the data copied */
    unsigned char *odd = aligned_copy(buf, len, 8);
    ok(wn_task_unpack(odd + 8, len, WN_UNPACK_VIEW, &v, &err) == 0 &&
       wn_task_equal(t, v) && view_state(v->batch, odd, len + 8) == 0,
       "an unaligned buffer unpacks as a copy");
    wn_task_destroy(v);
    free(odd);

    /* take from a view, append a view */
    wn_task_unpack(buf, len, WN_UNPACK_VIEW, &v, NULL);
    uint32_t rows[] = { 49, 0, 7 };
    struct wn_batch *sel = wn_batch_take(v->batch, rows, 3, NULL);
    struct wn_batch *ref = make_batch(49, 1);
    fill(ref, 0, 1);
    fill(ref, 7, 1);
    ok(sel && wn_batch_equal(sel, ref) && view_state(sel, buf, len) == 0,
       "take from a view batch copies the rows");
    ok(wn_batch_append(sel, v->batch, NULL) == 0 && wn_batch_nrows(sel) == 53,
       "append a view batch");
    wn_batch_destroy(sel);
    wn_batch_destroy(ref);

    /* the batch carries the buffer (TAKE_BUF) even when moved */
    struct wn_task *w = NULL;
    void *own = aligned_copy(buf, len, 0);
    ok(wn_task_unpack(own, len, WN_UNPACK_VIEW | WN_UNPACK_TAKE_BUF, &w,
                      NULL) == 0 && w->batch->backing == own,
       "TAKE_BUF: the batch owns the buffer");
    struct wn_task *moved = wn_task_create(2, 2, w->batch);
    w->batch = NULL;
    wn_task_destroy(w);
    ok(wn_batch_equal(moved->batch, t->batch),
       "a moved view batch outlives its first task");
    wn_task_destroy(moved);   /* frees own; valgrind checks */

    own = aligned_copy(buf, len, 0);
    ok(wn_task_unpack(own, len, WN_UNPACK_TAKE_BUF, &w, NULL) == 0 &&
       w->batch->backing == NULL && wn_task_equal(w, t),
       "TAKE_BUF without VIEW frees the buffer at once");
    wn_task_destroy(w);
    own = aligned_copy(buf, len, 0);
    ((unsigned char *)own)[len - 1] ^= 1;
    ok(wn_task_unpack(own, len, WN_UNPACK_TAKE_BUF | WN_UNPACK_VIEW, &w,
                      NULL) == -1 && w == NULL,
       "TAKE_BUF on failure leaves the buffer to the caller");
    free(own);

    wn_task_destroy(v);
    free(saved);
    free(buf);
    wn_task_destroy(t);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_ids(void)
{
    uint64_t a = wn_task_id_derive(123, 4, 5);
    unsigned char b[20];
    uint64_t p = 123, o = 5;
    uint32_t s = 4;
    memcpy(b, &p, 8);
    memcpy(b + 8, &s, 4);
    memcpy(b + 12, &o, 8);
    ok(a == wn_task_id_derive(123, 4, 5) && a == XXH3_64bits(b, 20),
       "id derivation is XXH3-64 of the 20 documented bytes, repeatable");
    ok(wn_task_id_derive(0, 0, 0) == UINT64_C(0x16773ceb7fe497b1),
       "id derivation matches the recorded value (checkpoints depend on it)");

    enum { NP = 16, NS = 8, NO = 64, N = NP * NS * NO };
    uint64_t *ids = malloc(N * sizeof(*ids));
    size_t k = 0;
    for (uint64_t pp = 0; pp < NP; pp++)
        for (uint32_t ss = 0; ss < NS; ss++)
            for (uint64_t oo = 0; oo < NO; oo++)
                ids[k++] = wn_task_id_derive(pp * 0x100000001ull, ss, oo);
    qsort(ids, N, sizeof(*ids), cmp_u64);
    int distinct = 1;
    for (size_t i = 1; i < N; i++)
        distinct &= ids[i] != ids[i - 1];
    ok(distinct, "%d ids over (parent, stage, output) are all distinct", N);
    ok(wn_task_id_derive(1, 2, 3) != wn_task_id_derive(3, 2, 1) &&
       wn_task_id_derive(1, 0, 0) != wn_task_id_derive(0, 1, 0) &&
       wn_task_id_derive(0, 1, 0) != wn_task_id_derive(0, 0, 1),
       "swapping the inputs changes the id");
    free(ids);
}

static void test_take_append(void)
{
    struct wn_batch *b = make_batch(0, 10);
    wn_error_t err;
    uint32_t rows[] = { 3, 0, 3, 9 };
    struct wn_batch *sel = wn_batch_take(b, rows, 4, &err);
    struct wn_batch *ref = wn_batch_create();
    add_schema(ref);
    fill(ref, 3, 1);
    fill(ref, 0, 1);
    fill(ref, 3, 1);
    fill(ref, 9, 1);
    ok(sel && wn_batch_equal(sel, ref), "take picks rows in order, repeats "
       "allowed, every column type");
    wn_batch_destroy(sel);
    wn_batch_destroy(ref);

    uint32_t all[10];
    for (uint32_t i = 0; i < 10; i++)
        all[i] = i;
    sel = wn_batch_take(b, all, 10, NULL);
    ok(sel && wn_batch_equal(sel, b), "take of all rows is a copy");
    wn_batch_destroy(sel);

    sel = wn_batch_take(b, NULL, 0, NULL);
    ok(sel && wn_batch_ncols(sel) == 9 && wn_batch_nrows(sel) == 0 &&
       wn_batch_find(sel, "sig")->list_len == SIG_LEN,
       "take of no rows keeps the schema");
    wn_batch_destroy(sel);

    uint32_t bad_rows[] = { 1, 10 };
    ok(!wn_batch_take(b, bad_rows, 2, &err) && errno == EINVAL &&
       strstr(err.text, "out of range"), "a row out of range: %s", err.text);

    /* append */
    struct wn_batch *x = make_batch(0, 5), *y = make_batch(5, 7);
    struct wn_batch *whole = make_batch(0, 12);
    ok(wn_batch_append(x, y, NULL) == 0 && wn_batch_equal(x, whole),
       "append: rows 0-4 + rows 5-11 equal rows 0-11");
    struct wn_batch *empty = wn_batch_create();
    ok(wn_batch_append(empty, whole, NULL) == 0 &&
       wn_batch_equal(empty, whole), "append into a batch without columns "
       "adopts the schema");
    struct wn_batch *twice = make_batch(0, 12);
    fill(twice, 0, 12);
    ok(wn_batch_append(whole, whole, NULL) == 0 &&
       wn_batch_equal(whole, twice), "appending a batch to itself doubles it");

    struct wn_batch *other = wn_batch_create();
    wn_batch_add_column(other, "flag", WN_TYPE_U8, 0, NULL);
    wn_col_append_u64(wn_batch_col(other, 0), 1, NULL);
    uint64_t before = wn_batch_nrows(x);
    ok(wn_batch_append(x, other, &err) == -1 && errno == EINVAL &&
       wn_batch_nrows(x) == before && wn_batch_validate(x, NULL) == 0,
       "append of another schema fails, dst unchanged: %s", err.text);
    struct wn_batch *swapped = wn_batch_create();
    wn_batch_add_column(swapped, "flag", WN_TYPE_U32, 0, NULL);
    ok(wn_batch_append(other, swapped, &err) == -1 &&
       strstr(err.text, "'flag'"), "same name, other type: %s", err.text);

    struct wn_batch *acc = wn_batch_create();
    int good = 1;
    for (uint64_t r = 0; r < 300; r++) {
        struct wn_batch *one = make_batch(r, 1);
        good &= wn_batch_append(acc, one, NULL) == 0;
        wn_batch_destroy(one);
    }
    struct wn_batch *ref300 = make_batch(0, 300);
    ok(good && wn_batch_equal(acc, ref300),
       "300 one-row appends equal a 300-row batch");

    struct wn_batch *nan1 = wn_batch_create(), *nan2 = wn_batch_create();
    wn_col_append_f64(wn_batch_add_column(nan1, "f", WN_TYPE_F64, 0, NULL),
                      0.0, NULL);
    wn_col_append_f64(wn_batch_add_column(nan2, "f", WN_TYPE_F64, 0, NULL),
                      -0.0, NULL);
    fill(acc, 0, 1);
    ok(!wn_batch_equal(nan1, nan2) && !wn_batch_equal(acc, ref300) &&
       !wn_batch_equal(NULL, empty) && wn_batch_equal(NULL, NULL),
       "equal is bitwise and sees extra rows; NULL differs from empty");
    wn_batch_destroy(nan1);
    wn_batch_destroy(nan2);
    wn_batch_destroy(acc);
    wn_batch_destroy(ref300);
    wn_batch_destroy(other);
    wn_batch_destroy(swapped);
    wn_batch_destroy(twice);
    wn_batch_destroy(empty);
    wn_batch_destroy(whole);
    wn_batch_destroy(x);
    wn_batch_destroy(y);
    wn_batch_destroy(b);
}

static void test_meta_perf(void)
{
    struct wn_task *t = wn_task_create(9, 3, NULL), *u = NULL;
    wn_error_t err;
    add_meta_perf(t);
    ok(wn_task_meta_set(t, "source", "replaced", NULL) == 0 &&
       t->nmeta == 3 && !strcmp(t->meta[0].key, "source") &&
       !strcmp(wn_task_meta_get(t, "source"), "replaced"),
       "set replaces a value in place");
    is(wn_task_meta_get(t, "empty"), "", "an empty value is a value");
    ok(!wn_task_meta_get(t, "missing") && errno == ENOENT,
       "a missing key gives NULL, ENOENT");
    char key[300];
    memset(key, 'k', sizeof(key));
    key[299] = '\0';
    ok(wn_task_meta_set(t, key, "v", &err) == -1 && errno == EINVAL &&
       wn_task_meta_set(t, "", "v", NULL) == -1,
       "keys longer than %d bytes, or empty, are refused", WN_META_KEY_MAX);

    struct wn_stage_perf p;
    memset(&p, 0, sizeof(p));
    memset(p.stage, 'z', sizeof(p.stage));   /* not terminated */
    p.items_in = 77;
    ok(wn_task_perf_add(t, &p, NULL) == 0 && t->nperf == 3 &&
       strlen(t->perf[2].stage) == 63, "an unterminated stage name is cut "
       "to 63 bytes");

    void *buf;
    size_t len;
    wn_task_pack_alloc(t, &buf, &len, NULL);
    ok(wn_task_unpack(buf, len, 0, &u, NULL) == 0 && wn_task_equal(t, u) &&
       u->id == 9 && u->stage_index == 3 &&
       !strcmp(u->meta[2].value, "caf\xc3\xa9 \xe2\x9c\x93") &&
       u->perf[1].process_s == 2.25 && u->perf[1].bytes_out == 65536,
       "id, stage, metadata in order and perf records round trip");
    ok(u->batch == NULL && wn_task_nbytes(u) == 0, "empty task, 0 bytes");

    struct wn_task *child = wn_task_create(10, 4, NULL);
    struct wn_stage_perf own = { "lsh", 1, 0, 1, 1, 1, 1 };
    wn_task_meta_set(child, "source", "mine", NULL);
    wn_task_perf_add(child, &own, NULL);
    ok(wn_task_inherit(child, t, NULL) == 0 && child->nperf == 4 &&
       !strcmp(child->perf[0].stage, "read_jsonl") &&
       !strcmp(child->perf[3].stage, "lsh") &&
       !strcmp(wn_task_meta_get(child, "source"), "mine") &&
       wn_task_meta_get(child, "utf8"),
       "inherit: parent's perf first, metadata without overriding");
    wn_task_destroy(child);
    wn_task_destroy(u);
    free(buf);
    wn_task_destroy(t);
}

static void test_task_list(void)
{
    struct wn_task_list list = WN_TASK_LIST_INIT;
    int good = 1;
    for (int i = 0; i < 20; i++)
        good &= wn_task_list_push(&list, make_task(make_batch(i, 2))) == 0;
    ok(good && list.n == 20 && list.tasks[19]->batch &&
       wn_batch_nrows(list.tasks[19]->batch) == 2, "push 20 tasks");
    wn_task_list_clear(&list);
    ok(list.n == 0 && list.cap >= 20, "clear destroys tasks, keeps the array");
    wn_task_list_push(&list, wn_task_create(1, 0, NULL));
    wn_task_list_free(&list);
    ok(list.n == 0 && list.cap == 0 && list.tasks == NULL,
       "free returns the list to its initial state");
    wn_error_t err = {""};
    struct wn_batch *pb = make_batch(3, 5);
    ok(wn_task_list_push_batch(&list, pb, &err) == 0 && list.n == 1 &&
       list.tasks[0]->batch == pb, "push_batch: a task holding the batch itself");
    wn_task_list_free(&list);

    struct wn_task *t = make_task(make_batch(0, 4));
    uint64_t want = 0;
    for (uint32_t i = 0; i < wn_batch_ncols(t->batch); i++) {
        const struct wn_column *c = wn_batch_col(t->batch, i);
        want += c->nbytes + (c->type == WN_TYPE_STR ? (c->nrows + 1) * 8 : 0);
    }
    ok(wn_task_nbytes(t) == want && want == 4 * (1 + 4 + 4 + 8 + 8 + 8 +
                                                 SIG_LEN * 4 + 24) +
                                            (0 + 1 + 2 + 3) + 5 * 8,
       "task nbytes is the payload: %llu", (unsigned long long)want);
    wn_task_destroy(t);
}

int main(void)
{
    plan(NO_PLAN);
    test_types_and_names();
    test_appends();
    test_strings();
    test_lists();
    test_resize();
    test_shapes();
    test_pack_errors();
    test_meta_perf();
    test_ids();
    test_take_append();
    test_views();
    test_take_batch();
    test_corruption();
    test_hostile();
    test_task_list();
    return done_testing();
}
