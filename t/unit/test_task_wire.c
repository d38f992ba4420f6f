/* test_task_wire.c - the task wire format.
 *
 * The wire format is what travels between ranks, so it is tested hard:
 * round trips of every column type and shape, view mode really sharing
 * memory, and a damaged buffer - flipped bytes anywhere, every truncation,
 * hostile descriptors with valid checksums - failing cleanly rather than
 * crashing (run this under ASan or valgrind). The in-memory API is tested
 * in test_task.c. */
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
/* Helpers                                                             */

static void *aligned_copy(const void *src, size_t len, size_t shift)
{
    void *p;
    if (posix_memalign(&p, 64, len + shift + 1))
        BAIL_OUT("posix_memalign");
    memcpy((char *)p + shift, src, len);
    return p;
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

/* ------------------------------------------------------------------ */
/* Tests                                                               */

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
    ok(wn_task_unpack(buf, len, 0, &u, NULL) == 0 && u->batch == NULL && !wn_task_equal(u, b),
       "no batch stays no batch");
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
           strstr(err.text, "too small"),
       "pack into a short buffer: %s", err.text);
    ok(wn_task_pack(t, buf, need, NULL) == 0, "pack into an exact buffer");
    wn_col_append_u64(wn_batch_find(t->batch, "id"), 1, NULL);
    ok(wn_task_pack(t, buf, need + 64, &err) == -1 && errno == EINVAL && strstr(err.text, "'id'"),
       "pack refuses unequal columns: %s", err.text);
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
    int missed[3] = {0, 0, 0}, tried[3] = {0, 0, 0};
    int sum_msgs = 1, hdr_noverify = 1;
    static const unsigned char flips[] = {0x01, 0x80, 0xff};

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
            if (region == 0 && wn_task_unpack(buf, len, WN_UNPACK_NOVERIFY, &u, NULL) == 0) {
                hdr_noverify = 0;
                wn_task_destroy(u);
            }
            buf[off] ^= flips[f];
        }
    }
    ok(missed[0] == 0, "all %d header byte flips are detected", tried[0]);
    ok(missed[1] == 0,
       "all %d flips in task fields, metadata, perf and "
       "descriptors are detected",
       tried[1]);
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
    ok(wn_task_unpack(longer, len + 1, 0, &u, &err) == -1 && strstr(err.text, "buffer has"),
       "a longer buffer is refused: %s", err.text);
    free(longer);

    /* With NOVERIFY nothing catches body flips except the structure
     * checks: the result must be an error or a consistent task. */
    int consistent = 1, refused = 0;
    for (size_t off = 64; off < len; off++) {
        buf[off] ^= 0x5a;
        u = NULL;
        if (wn_task_unpack(buf, len, WN_UNPACK_VIEW | WN_UNPACK_NOVERIFY, &u, NULL) == 0) {
            consistent &= wn_batch_validate(u->batch, NULL) == 0;
            touch(u->batch);
            wn_task_destroy(u);
        } else {
            refused++;
        }
        buf[off] ^= 0x5a;
    }
    ok(consistent && refused > 0,
       "NOVERIFY: %d structural flips refused, "
       "the rest consistent",
       refused);
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
    static const unsigned char flips[] = {0x01, 0x02, 0x10, 0x80, 0xff};

    for (size_t off = 24; off < data_off; off++) {
        if (off >= 56 && off < 64)
            continue; /* the header checksum itself */
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
    ok(consistent && refused > 0,
       "resealed structure flips: %d refused, %d "
       "accepted and consistent",
       refused, accepted);

    /* Specific lies, each with the message a user would need. */
    struct {
        const char *what, *col;
        uint64_t field, value;
        const char *msg;
    } lies[] = {
        {"string data length", "text", 80, UINT64_MAX / 2, "extends past end"},
        {"u64 data offset", "id", 72, 0, "overlaps"},
        {"list data offset", "sig", 72, (uint64_t)1 << 40, "extends past end"},
        {"string offsets offset", "text", 88, 64 * 1000000, "offsets extend past end"},
        {"u32 data length", "len", 80, 4, "need"},
        {"misaligned data", "flag", 72, 0, "not aligned"},
    };
    uint64_t desc_off = 0;
    /* find the descriptors: 96-byte records right before data_off */
    uint32_t ncols;
    memcpy(&ncols, orig + 32, 4);
    desc_off = data_off - 96 * ncols;
    while (desc_off % 8 || memcmp(orig + desc_off, "flag", 5))
        desc_off--; /* data_off was rounded up to 64 */
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
               strstr(err.text, lies[i].col),
           "lie about the %s: %s", lies[i].what, err.text);
        wn_task_destroy(u);
    }

    /* decreasing string offsets */
    memcpy(buf, orig, len);
    uint64_t d = desc_off;
    while (strcmp((char *)buf + d, "text"))
        d += 96;
    uint64_t ooff = ld64(buf + d + 88), o = 0; /* offsets 0 0 1 3 6 ... */
    memcpy(buf + ooff + 8 * 3, &o, 8);
    reseal(buf, len);
    u = NULL;
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 && strstr(err.text, "decrease at row 2"),
       "decreasing string offsets: %s", err.text);
    wn_task_destroy(u);

    /* a huge row count in the header */
    memcpy(buf, orig, len);
    uint64_t rows = UINT64_MAX;
    memcpy(buf + 40, &rows, 8);
    reseal(buf, len);
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 && errno == EBADMSG, "a row count of 2^64-1: %s",
       err.text);

    /* another format version */
    memcpy(buf, orig, len);
    buf[4] = 2;
    reseal(buf, len);
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 && strstr(err.text, "version 2"),
       "a newer format version: %s", err.text);

    memcpy(buf, orig, len);
    buf[0] = 'X';
    ok(wn_task_unpack(buf, len, 0, &u, &err) == -1 && strstr(err.text, "magic"),
       "not a task at all: %s", err.text);
    ok(wn_task_unpack(orig, len, 1 << 7, &u, NULL) == -1 && errno == EINVAL &&
           wn_task_unpack(NULL, 0, 0, &u, &err) == -1 && errno == EBADMSG,
       "unknown flags and an empty buffer are refused");
    free(buf);
    free(orig);
    wn_task_destroy(t);
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
    ok(wn_col_append_u64(id, 42, NULL) == 0 && wn_col_append_str(text, "new", 3, NULL) == 0 &&
           !wn_col_is_view(id) && !inside(id->data, 1, buf, len) && wn_col_u64(id)[50] == 42 &&
           wn_col_u64(id)[0] == wn_task_id_derive(0, 0, 0),
       "appending to a view column copies it first");
    ok(wn_col_is_view(wn_batch_find(v->batch, "sig")), "untouched columns stay views");
    uint32_t *sig = wn_col_u32_mut(wn_batch_find(v->batch, "sig"));
    sig[0] ^= 1;
    ok(!inside(sig, 4, buf, len) && memcmp(buf, saved, len) == 0,
       "a *_mut pointer on a view is a private copy; the buffer is unchanged");
    ok(wn_batch_make_owned(v->batch, NULL) == 0 && view_state(v->batch, buf, len) == 0,
       "make_owned detaches every column");
    wn_task_destroy(v);

    /* unaligned buffers: views are refused quietly, the data copied */
    unsigned char *odd = aligned_copy(buf, len, 8);
    ok(wn_task_unpack(odd + 8, len, WN_UNPACK_VIEW, &v, &err) == 0 && wn_task_equal(t, v) &&
           view_state(v->batch, odd, len + 8) == 0,
       "an unaligned buffer unpacks as a copy");
    wn_task_destroy(v);
    free(odd);

    /* take from a view, append a view */
    wn_task_unpack(buf, len, WN_UNPACK_VIEW, &v, NULL);
    uint32_t rows[] = {49, 0, 7};
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
    ok(wn_task_unpack(own, len, WN_UNPACK_VIEW | WN_UNPACK_TAKE_BUF, &w, NULL) == 0 &&
           w->batch->backing == own,
       "TAKE_BUF: the batch owns the buffer");
    struct wn_task *moved = wn_task_create(2, 2, w->batch);
    w->batch = NULL;
    wn_task_destroy(w);
    ok(wn_batch_equal(moved->batch, t->batch), "a moved view batch outlives its first task");
    wn_task_destroy(moved); /* frees own; valgrind checks */

    own = aligned_copy(buf, len, 0);
    ok(wn_task_unpack(own, len, WN_UNPACK_TAKE_BUF, &w, NULL) == 0 && w->batch->backing == NULL &&
           wn_task_equal(w, t),
       "TAKE_BUF without VIEW frees the buffer at once");
    wn_task_destroy(w);
    own = aligned_copy(buf, len, 0);
    ((unsigned char *)own)[len - 1] ^= 1;
    ok(wn_task_unpack(own, len, WN_UNPACK_TAKE_BUF | WN_UNPACK_VIEW, &w, NULL) == -1 && w == NULL,
       "TAKE_BUF on failure leaves the buffer to the caller");
    free(own);

    wn_task_destroy(v);
    free(saved);
    free(buf);
    wn_task_destroy(t);
}

int main(void)
{
    plan(NO_PLAN);
    test_shapes();
    test_pack_errors();
    test_views();
    test_corruption();
    test_hostile();
    return done_testing();
}
