/* t/task_test.h - helpers the task unit tests (test_task.c,
 * test_task_wire.c) share (header-only, like tap.h; include after it):
 *
 *   SIG_LEN, add_schema   the reference schema: every column type, a
 *                         list<u32>[SIG_LEN] signature among them
 *   fill, make_batch      rows of the reference data, made from the row
 *                         number (row_text: its strings, NULs inside)
 *   add_meta_perf,        a task holding a batch, with metadata and perf
 *   make_task             records of every kind
 *   inside, view_state    whether a batch's columns are views into a buffer
 *   roundtrip             pack, unpack copied and as a view: six points
 */
#ifndef WN_TASK_TEST_H
#define WN_TASK_TEST_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "winnow/task.h"

#define SIG_LEN 260

static inline void add_schema(struct wn_batch *b)
{
    static const struct {
        const char *name;
        enum wn_type type;
        uint32_t ll;
    } cols[] = {
        {"flag", WN_TYPE_U8, 0},         {"delta", WN_TYPE_I32, 0},
        {"len", WN_TYPE_U32, 0},         {"ts", WN_TYPE_I64, 0},
        {"id", WN_TYPE_U64, 0},          {"score", WN_TYPE_F64, 0},
        {"text", WN_TYPE_STR, 0},        {"sig", WN_TYPE_LIST_U32, SIG_LEN},
        {"triple", WN_TYPE_LIST_U64, 3},
    };
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        if (!wn_batch_add_column(b, cols[i].name, cols[i].type, cols[i].ll, NULL))
            BAIL_OUT("add_column %s: %s", cols[i].name, strerror(errno));
}

/* Row r's string: r % 23 bytes, with NUL bytes inside. */
static inline size_t row_text(uint64_t r, char *s)
{
    size_t n = r % 23;
    for (size_t i = 0; i < n; i++)
        s[i] = i % 5 == 2 ? '\0' : (char)('a' + (r + i) % 26);
    return n;
}

/* Appends rows [first, first + n) of the reference data, row-wise. */
static inline void fill(struct wn_batch *b, uint64_t first, uint64_t n)
{
    int rc = 0;
    for (uint64_t r = first; r < first + n; r++) {
        char s[32];
        uint32_t sig[SIG_LEN];
        uint64_t triple[3] = {r, r * r, ~r};
        for (int j = 0; j < SIG_LEN; j++)
            sig[j] = (uint32_t)(r * SIG_LEN + j) * 2654435761u;
        rc |= wn_col_append_u64(wn_batch_find(b, "flag"), (r * 7) & 0xff, NULL);
        rc |= wn_col_append_i64(wn_batch_find(b, "delta"), (int32_t)(uint32_t)(r * 2654435761u),
                                NULL);
        rc |= wn_col_append_u64(wn_batch_find(b, "len"), r * 3 + 1, NULL);
        rc |= wn_col_append_i64(wn_batch_find(b, "ts"), -(int64_t)r * 1000003, NULL);
        rc |= wn_col_append_u64(wn_batch_find(b, "id"), wn_task_id_derive(0, 0, r), NULL);
        rc |= wn_col_append_f64(wn_batch_find(b, "score"), r * 0.25 - 3.0, NULL);
        rc |= wn_col_append_str(wn_batch_find(b, "text"), s, row_text(r, s), NULL);
        rc |= wn_col_append_list(wn_batch_find(b, "sig"), sig, NULL);
        rc |= wn_col_append_list(wn_batch_find(b, "triple"), triple, NULL);
    }
    if (rc)
        BAIL_OUT("fill: %s", strerror(errno));
}

static inline struct wn_batch *make_batch(uint64_t first, uint64_t n)
{
    struct wn_batch *b = wn_batch_create();
    add_schema(b);
    fill(b, first, n);
    return b;
}

static inline void add_meta_perf(struct wn_task *t)
{
    struct wn_stage_perf p1 = {"read_jsonl", 0.5, 0.125, 0, 10, 0, 4096};
    struct wn_stage_perf p2 = {"minhash", 2.25, 0.0, 10, 10, 4096, 65536};
    if (wn_task_meta_set(t, "source", "s3://bucket/part-00007.jsonl", NULL) ||
        wn_task_meta_set(t, "empty", "", NULL) ||
        wn_task_meta_set(t, "utf8", "caf\xc3\xa9 \xe2\x9c\x93", NULL) ||
        wn_task_perf_add(t, &p1, NULL) || wn_task_perf_add(t, &p2, NULL))
        BAIL_OUT("meta/perf: %s", strerror(errno));
}

static inline struct wn_task *make_task(struct wn_batch *b)
{
    struct wn_task *t = wn_task_create(wn_task_id_derive(7, 1, 3), 1, b);
    if (!t)
        BAIL_OUT("task_create");
    add_meta_perf(t);
    return t;
}

static inline int inside(const void *p, size_t n, const void *buf, size_t len)
{
    const char *c = p, *b = buf;
    return c >= b && c + n <= b + len;
}

/* 1 when every column is a view into buf, 64-byte aligned; 0 when none
 * points into buf; -1 for a mixture. */
static inline int view_state(const struct wn_batch *b, const void *buf, size_t len)
{
    int in = 0, out = 0;
    for (uint32_t i = 0; i < wn_batch_ncols(b); i++) {
        const struct wn_column *c = wn_batch_col(b, i);
        int v = wn_col_is_view(c) && inside(c->data, c->nbytes, buf, len) &&
                (uintptr_t)c->data % 64 == 0 &&
                (c->type != WN_TYPE_STR || (inside(c->offsets, (c->nrows + 1) * 8, buf, len) &&
                                            (uintptr_t)c->offsets % 64 == 0));
        int o = !wn_col_is_view(c) && !inside(c->data, 1, buf, len);
        in += v;
        out += o;
    }
    if (out == (int)wn_batch_ncols(b))
        return 0;
    return in == (int)wn_batch_ncols(b) ? 1 : -1;
}

/* Pack, then unpack copied and as a view; six points per shape. */
static inline void roundtrip(const char *what, const struct wn_task *t)
{
    wn_error_t err = {""};
    void *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    struct wn_task *c = NULL, *v = NULL;

    int rc = wn_task_pack_alloc(t, &buf, &len, &err);
    ok(rc == 0 && len == wn_task_packed_size(t) && len % 64 == 0 && (uintptr_t)buf % 64 == 0,
       "%s: packs into %zu aligned bytes", what, len);
    if (!buf)
        BAIL_OUT("pack: %s", err.text);

    ok(wn_task_unpack(buf, len, 0, &c, &err) == 0 && wn_task_equal(t, c) &&
           view_state(c->batch, buf, len) == 0,
       "%s: copy unpack is equal and owns its memory", what);
    ok(wn_task_unpack(buf, len, WN_UNPACK_VIEW, &v, &err) == 0 && wn_task_equal(t, v),
       "%s: view unpack is equal", what);
    ok(v && (wn_batch_ncols(v->batch) == 0 || view_state(v->batch, buf, len) == 1),
       "%s: view columns point into the buffer, 64-byte aligned", what);

    ok(wn_task_pack_alloc(t, &buf2, &len2, NULL) == 0 && len2 == len && memcmp(buf, buf2, len) == 0,
       "%s: packing is deterministic", what);
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

#endif /* WN_TASK_TEST_H */
