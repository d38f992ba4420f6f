/* test_task.c - columns, batches and tasks in memory: type names, column
 * names, appends and their range checks, strings and lists, resize, ids,
 * take and append, moving a batch between tasks, metadata and perf
 * records, task lists. The wire format they travel in between ranks is
 * tested in test_task_wire.c; the helpers both use are in t/task_test.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tap.h"
#include "task_test.h"
#include "winnow/task.h"

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_types_and_names(void)
{
    static const char *names[] = {"u8",  "i32", "u32",       "i64",      "u64",
                                  "f64", "str", "list<u32>", "list<u64>"};
    static const size_t widths[] = {1, 4, 4, 8, 8, 8, 1, 4, 8};
    int good = 1;
    for (int t = 1; t <= 9; t++)
        good &= !strcmp(wn_type_name((enum wn_type)t), names[t - 1]) &&
                wn_type_width((enum wn_type)t) == widths[t - 1];
    ok(good && wn_type_width((enum wn_type)42) == 0 && !strcmp(wn_type_name((enum wn_type)0), "?"),
       "type names and widths, unknown types recognised");

    struct wn_batch *b = wn_batch_create();
    wn_error_t err;
    char long_name[80];
    memset(long_name, 'n', sizeof(long_name));
    long_name[WN_NAME_MAX] = '\0';
    ok(wn_batch_add_column(b, long_name, WN_TYPE_U8, 0, NULL) != NULL, "a %d-byte name is accepted",
       WN_NAME_MAX);
    long_name[WN_NAME_MAX] = 'n';
    long_name[WN_NAME_MAX + 1] = '\0';
    errno = 0;
    ok(!wn_batch_add_column(b, long_name, WN_TYPE_U8, 0, &err) && errno == EINVAL &&
           strstr(err.text, "longer than"),
       "a 64-byte name is rejected: %s", err.text);
    ok(!wn_batch_add_column(b, "", WN_TYPE_U8, 0, NULL) &&
           !wn_batch_add_column(b, "a/b", WN_TYPE_U8, 0, NULL) &&
           !wn_batch_add_column(b, "..", WN_TYPE_U8, 0, NULL) &&
           !wn_batch_add_column(b, "tab\there", WN_TYPE_U8, 0, NULL),
       "empty, '/', '..' and control-character names are rejected");
    ok(wn_batch_add_column(b, "x", WN_TYPE_U64, 0, NULL) &&
           !wn_batch_add_column(b, "x", WN_TYPE_U32, 0, &err) && errno == EEXIST,
       "a duplicate name fails with EEXIST: %s", err.text);
    ok(!wn_batch_add_column(b, "l", WN_TYPE_LIST_U32, 0, NULL) && errno == EINVAL &&
           !wn_batch_add_column(b, "s", WN_TYPE_U32, SIG_LEN, &err) && errno == EINVAL &&
           !wn_batch_add_column(b, "t", (enum wn_type)42, 0, NULL),
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

    ok(wn_col_append_u64(u8, 255, NULL) == 0 && wn_col_append_u64(u8, 256, &err) == -1 &&
           errno == ERANGE && strstr(err.text, "'u8'") && u8->nrows == 1,
       "u8 takes 255, refuses 256 with ERANGE: %s", err.text);
    ok(wn_col_append_i64(i32, INT32_MIN, NULL) == 0 &&
           wn_col_append_i64(i32, (int64_t)INT32_MIN - 1, NULL) == -1 && errno == ERANGE &&
           wn_col_append_i64(u32, -1, NULL) == -1 && errno == ERANGE &&
           wn_col_i32(i32)[0] == INT32_MIN,
       "i32 range and negative values into unsigned columns are checked");
    ok(wn_col_append_f64(u64, 1.0, &err) == -1 && errno == EINVAL &&
           wn_col_append_str(u64, "a", 1, NULL) == -1 && wn_col_append_u64(f64, 1, NULL) == -1 &&
           wn_col_append_list(u64, "abcdefgh", NULL) == -1,
       "appends of the wrong kind fail with EINVAL: %s", err.text);
    errno = 0;
    ok(wn_col_u64(u32) == NULL && errno == EINVAL && wn_col_f64(f64) && wn_col_u32_mut(u64) == NULL,
       "typed accessors refuse a mismatched column");

    int good = 1;
    for (uint64_t i = 0; i < 100000; i++)
        good &= wn_col_append_u64(u64, i * 0x9e3779b97f4a7c15ull, NULL) == 0;
    const uint64_t *v = wn_col_u64(u64);
    for (uint64_t i = 0; i < 100000; i++)
        good &= v[i] == i * 0x9e3779b97f4a7c15ull;
    ok(good && u64->nrows == 100000 && u64->nbytes == 800000 && (uintptr_t)v % 64 == 0,
       "100000 u64 appends hold, data 64-aligned");

    ok(wn_col_reserve(f64, 5000, 0, NULL) == 0, "reserve 5000 rows");
    const double *before = wn_col_f64(f64);
    good = 1;
    for (int i = 0; i < 5000; i++)
        good &= wn_col_append_f64(f64, i / 3.0, NULL) == 0;
    ok(good && wn_col_f64(f64) == before && f64->nrows == 5000,
       "appends within the reserve never move the data");

    ok(wn_batch_validate(b, &err) == -1 && errno == EINVAL && strstr(err.text, "rows"),
       "unequal columns fail validation: %s", err.text);
    wn_batch_destroy(b);
}

static void test_strings(void)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *s = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, NULL);
    size_t big_len = 5u << 20, n;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 % 251); /* includes NUL bytes */
    ok(wn_col_append_str(s, "", 0, NULL) == 0 && wn_col_append_str(s, NULL, 0, NULL) == 0 &&
           wn_col_append_str(s, "a\0b\0", 4, NULL) == 0 &&
           wn_col_append_str(s, big, big_len, NULL) == 0 &&
           wn_col_append_str(s, "x", 1, NULL) == 0 && s->nrows == 5,
       "strings: empty, NULL empty, embedded NULs, 5 MiB, one byte");
    const char *r2 = wn_col_str(s, 2, &n);
    ok(r2 && n == 4 && memcmp(r2, "a\0b\0", 4) == 0,
       "embedded NUL bytes come back with their length");
    const char *r3 = wn_col_str(s, 3, &n);
    ok(r3 && n == big_len && memcmp(r3, big, big_len) == 0, "the 5 MiB string comes back whole");
    ok(wn_col_str(s, 0, &n) && n == 0 && !wn_col_str(s, 5, &n) && errno == EINVAL,
       "empty row has length 0; row 5 is out of range");
    ok(wn_task_nbytes(NULL) == 0 && wn_batch_nbytes(b) == 5 + big_len + 6 * 8,
       "nbytes counts bytes and offsets");

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
    struct wn_column *sig = wn_batch_add_column(b, "sig", WN_TYPE_LIST_U32, SIG_LEN, NULL);
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
    ok(good && sig->nrows == 10 && sig->list_len == SIG_LEN && sig->nbytes == 10 * SIG_LEN * 4,
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
    ok(wn_col_resize(u, 100, NULL) == 0 && u->nrows == 100 && wn_col_u32(u)[0] == 9 &&
           wn_col_u32(u)[99] == 0,
       "resize grows with zeros, keeps existing rows");
    uint32_t *w = wn_col_u32_mut(u);
    for (int i = 0; i < 100; i++)
        w[i] = i;
    wn_col_append_str(s, "hello", 5, NULL);
    wn_col_append_str(s, "world", 5, NULL);
    size_t n;
    ok(wn_col_resize(s, 1, NULL) == 0 && s->nbytes == 5 && wn_col_resize(s, 100, NULL) == 0 &&
           wn_col_str(s, 99, &n) && n == 0 && wn_batch_validate(b, NULL) == 0 &&
           wn_batch_nrows(b) == 100,
       "strings shrink and grow with empty rows; batch valid after");
    ok(wn_batch_reserve(b, 1000, NULL) == 0 && u->cap_bytes >= 4000 && s->cap_offsets >= 1001,
       "batch reserve covers every column");
    ok(wn_batch_drop_column(b, "u", NULL) == 0 && wn_batch_ncols(b) == 1 &&
           wn_batch_col(b, 0) == s && wn_batch_drop_column(b, "u", NULL) == -1 && errno == ENOENT,
       "drop a column; dropping it again is ENOENT");
    wn_batch_destroy(b);
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
       "after the input is gone, the output packs to the input's bytes (%zu)", rc == 0 ? len2 : 0);
    wn_task_destroy(o);
    wn_task_destroy(t);
    free(buf);
    free(buf2);
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
    uint32_t rows[] = {3, 0, 3, 9};
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

    uint32_t bad_rows[] = {1, 10};
    ok(!wn_batch_take(b, bad_rows, 2, &err) && errno == EINVAL && strstr(err.text, "out of range"),
       "a row out of range: %s", err.text);

    /* append */
    struct wn_batch *x = make_batch(0, 5), *y = make_batch(5, 7);
    struct wn_batch *whole = make_batch(0, 12);
    ok(wn_batch_append(x, y, NULL) == 0 && wn_batch_equal(x, whole),
       "append: rows 0-4 + rows 5-11 equal rows 0-11");
    struct wn_batch *empty = wn_batch_create();
    ok(wn_batch_append(empty, whole, NULL) == 0 && wn_batch_equal(empty, whole),
       "append into a batch without columns "
       "adopts the schema");
    struct wn_batch *twice = make_batch(0, 12);
    fill(twice, 0, 12);
    ok(wn_batch_append(whole, whole, NULL) == 0 && wn_batch_equal(whole, twice),
       "appending a batch to itself doubles it");

    struct wn_batch *other = wn_batch_create();
    wn_batch_add_column(other, "flag", WN_TYPE_U8, 0, NULL);
    wn_col_append_u64(wn_batch_col(other, 0), 1, NULL);
    uint64_t before = wn_batch_nrows(x);
    ok(wn_batch_append(x, other, &err) == -1 && errno == EINVAL && wn_batch_nrows(x) == before &&
           wn_batch_validate(x, NULL) == 0,
       "append of another schema fails, dst unchanged: %s", err.text);
    struct wn_batch *swapped = wn_batch_create();
    wn_batch_add_column(swapped, "flag", WN_TYPE_U32, 0, NULL);
    ok(wn_batch_append(other, swapped, &err) == -1 && strstr(err.text, "'flag'"),
       "same name, other type: %s", err.text);

    struct wn_batch *acc = wn_batch_create();
    int good = 1;
    for (uint64_t r = 0; r < 300; r++) {
        struct wn_batch *one = make_batch(r, 1);
        good &= wn_batch_append(acc, one, NULL) == 0;
        wn_batch_destroy(one);
    }
    struct wn_batch *ref300 = make_batch(0, 300);
    ok(good && wn_batch_equal(acc, ref300), "300 one-row appends equal a 300-row batch");

    struct wn_batch *nan1 = wn_batch_create(), *nan2 = wn_batch_create();
    wn_col_append_f64(wn_batch_add_column(nan1, "f", WN_TYPE_F64, 0, NULL), 0.0, NULL);
    wn_col_append_f64(wn_batch_add_column(nan2, "f", WN_TYPE_F64, 0, NULL), -0.0, NULL);
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
    ok(wn_task_meta_set(t, "source", "replaced", NULL) == 0 && t->nmeta == 3 &&
           !strcmp(t->meta[0].key, "source") && !strcmp(wn_task_meta_get(t, "source"), "replaced"),
       "set replaces a value in place");
    is(wn_task_meta_get(t, "empty"), "", "an empty value is a value");
    ok(!wn_task_meta_get(t, "missing") && errno == ENOENT, "a missing key gives NULL, ENOENT");
    char key[300];
    memset(key, 'k', sizeof(key));
    key[299] = '\0';
    ok(wn_task_meta_set(t, key, "v", &err) == -1 && errno == EINVAL &&
           wn_task_meta_set(t, "", "v", NULL) == -1,
       "keys longer than %d bytes, or empty, are refused", WN_META_KEY_MAX);

    struct wn_stage_perf p;
    memset(&p, 0, sizeof(p));
    memset(p.stage, 'z', sizeof(p.stage)); /* not terminated */
    p.items_in = 77;
    ok(wn_task_perf_add(t, &p, NULL) == 0 && t->nperf == 3 && strlen(t->perf[2].stage) == 63,
       "an unterminated stage name is cut "
       "to 63 bytes");

    void *buf;
    size_t len;
    wn_task_pack_alloc(t, &buf, &len, NULL);
    ok(wn_task_unpack(buf, len, 0, &u, NULL) == 0 && wn_task_equal(t, u) && u->id == 9 &&
           u->stage_index == 3 && !strcmp(u->meta[2].value, "caf\xc3\xa9 \xe2\x9c\x93") &&
           u->perf[1].process_s == 2.25 && u->perf[1].bytes_out == 65536,
       "id, stage, metadata in order and perf records round trip");
    ok(u->batch == NULL && wn_task_nbytes(u) == 0, "empty task, 0 bytes");

    struct wn_task *child = wn_task_create(10, 4, NULL);
    struct wn_stage_perf own = {"lsh", 1, 0, 1, 1, 1, 1};
    wn_task_meta_set(child, "source", "mine", NULL);
    wn_task_perf_add(child, &own, NULL);
    ok(wn_task_inherit(child, t, NULL) == 0 && child->nperf == 4 &&
           !strcmp(child->perf[0].stage, "read_jsonl") && !strcmp(child->perf[3].stage, "lsh") &&
           !strcmp(wn_task_meta_get(child, "source"), "mine") && wn_task_meta_get(child, "utf8"),
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
    ok(good && list.n == 20 && list.tasks[19]->batch && wn_batch_nrows(list.tasks[19]->batch) == 2,
       "push 20 tasks");
    wn_task_list_clear(&list);
    ok(list.n == 0 && list.cap >= 20, "clear destroys tasks, keeps the array");
    wn_task_list_push(&list, wn_task_create(1, 0, NULL));
    wn_task_list_free(&list);
    ok(list.n == 0 && list.cap == 0 && list.tasks == NULL,
       "free returns the list to its initial state");
    wn_error_t err = {""};
    struct wn_batch *pb = make_batch(3, 5);
    ok(wn_task_list_push_batch(&list, pb, &err) == 0 && list.n == 1 && list.tasks[0]->batch == pb,
       "push_batch: a task holding the batch itself");
    wn_task_list_free(&list);

    struct wn_task *t = make_task(make_batch(0, 4));
    uint64_t want = 0;
    for (uint32_t i = 0; i < wn_batch_ncols(t->batch); i++) {
        const struct wn_column *c = wn_batch_col(t->batch, i);
        want += c->nbytes + (c->type == WN_TYPE_STR ? (c->nrows + 1) * 8 : 0);
    }
    ok(wn_task_nbytes(t) == want &&
           want == 4 * (1 + 4 + 4 + 8 + 8 + 8 + SIG_LEN * 4 + 24) + (0 + 1 + 2 + 3) + 5 * 8,
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
    test_meta_perf();
    test_ids();
    test_take_append();
    test_take_batch();
    test_task_list();
    return done_testing();
}
