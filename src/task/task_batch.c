/* task_batch.c - batches: ordered, named columns (see winnow/task.h).
 * The columns themselves live in task_column.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "winnow/error.h"
#include "winnow/task.h"
#include "task/task_impl.h"

/* ------------------------------------------------------------------ */
/* Batches                                                             */

/* A batch and room for its first columns' pointers in one allocation;
 * more columns move the pointers to an array of their own. */
#define INLINE_COLS 8

struct batch_block {
    struct wn_batch batch;
    struct wn_column *cols[INLINE_COLS];
};

static struct wn_column **inline_cols(struct wn_batch *batch)
{
    return ((struct batch_block *)batch)->cols;
}

struct wn_batch *wn_batch_create(void)
{
    struct batch_block *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->batch.cols = b->cols;
    b->batch.cap_cols = INLINE_COLS;
    return &b->batch;
}

void wn_batch_destroy(struct wn_batch *batch)
{
    if (!batch)
        return;
    for (uint32_t i = 0; i < batch->ncols; i++)
        wn_col_free_(batch->cols[i]);
    if (batch->cols != inline_cols(batch))
        free(batch->cols);
    free(batch->backing);
    free(batch);
}

/* Why so strict: names become HDF5 dataset names in the checkpoint. */
static int name_check(const char *name, wn_error_t *err)
{
    size_t n = name ? strnlen(name, WN_NAME_MAX + 1) : 0;
    const char *why = NULL;
    if (n == 0)
        return errno = EINVAL, wn_errprintf(err, "column name is empty");
    if (n > WN_NAME_MAX)
        return errno = EINVAL, wn_errprintf(err,
                                            "column name '%.20s...' is longer than %d "
                                            "bytes",
                                            name, WN_NAME_MAX);
    for (size_t i = 0; i < n && !why; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7e || c == '/')
            why = "has a byte that is not printable ASCII, or a '/'";
    }
    if (!why && (!strcmp(name, ".") || !strcmp(name, "..")))
        why = "is reserved";
    if (why) {
        errno = EINVAL;
        return wn_errprintf(err, "column name '%s' %s", name, why);
    }
    return 0;
}

struct wn_column *wn_batch_find(const struct wn_batch *batch, const char *name)
{
    if (batch && name) {
        for (uint32_t i = 0; i < batch->ncols; i++)
            if (!strcmp(batch->cols[i]->name, name))
                return batch->cols[i];
    }
    errno = ENOENT;
    return NULL;
}

struct wn_column *wn_batch_add_column(struct wn_batch *batch, const char *name, enum wn_type type,
                                      uint32_t list_len, wn_error_t *err)
{
    if (!batch) {
        errno = EINVAL;
        wn_errprintf(err, "no batch");
        return NULL;
    }
    if (name_check(name, err) < 0)
        return NULL;
    if (wn_type_width(type) == 0) {
        errno = EINVAL;
        wn_errprintf(err, "column '%s': unknown type %d", name, (int)type);
        return NULL;
    }
    int list = type == WN_TYPE_LIST_U32 || type == WN_TYPE_LIST_U64;
    if (list ? list_len == 0 : list_len > 1) {
        errno = EINVAL;
        wn_errprintf(err, "column '%s': list length %u is not valid for %s", name, list_len,
                     wn_type_name(type));
        return NULL;
    }
    if (wn_batch_find(batch, name)) {
        errno = EEXIST;
        wn_errprintf(err, "column '%s' already exists", name);
        return NULL;
    }
    if (batch->ncols >= WN_BATCH_MAX_COLS) {
        errno = ENOSPC;
        wn_errprintf(err, "column '%s': a batch holds at most %d columns", name, WN_BATCH_MAX_COLS);
        return NULL;
    }
    if (batch->ncols == batch->cap_cols) {
        uint32_t cap = batch->cap_cols ? batch->cap_cols * 2 : INLINE_COLS;
        struct wn_column **cols;
        if (batch->cols == inline_cols(batch)) {
            if ((cols = malloc(cap * sizeof(*cols))))
                memcpy(cols, batch->cols, batch->ncols * sizeof(*cols));
        } else {
            cols = realloc(batch->cols, cap * sizeof(*cols));
        }
        if (!cols)
            goto nomem;
        batch->cols = cols;
        batch->cap_cols = cap;
    }
    struct wn_column *col = wn_col_new_(name, type, list_len);
    if (!col)
        goto nomem;
    batch->cols[batch->ncols++] = col;
    return col;
nomem:
    errno = ENOMEM;
    wn_errprintf(err, "column '%s': out of memory", name);
    return NULL;
}

int wn_batch_drop_column(struct wn_batch *batch, const char *name, wn_error_t *err)
{
    for (uint32_t i = 0; batch && name && i < batch->ncols; i++) {
        if (strcmp(batch->cols[i]->name, name))
            continue;
        wn_col_free_(batch->cols[i]);
        memmove(batch->cols + i, batch->cols + i + 1,
                (batch->ncols - i - 1) * sizeof(*batch->cols));
        batch->ncols--;
        return 0;
    }
    errno = ENOENT;
    return wn_errprintf(err, "no column '%s'", name ? name : "(null)");
}

int wn_batch_validate(const struct wn_batch *batch, wn_error_t *err)
{
    for (uint32_t i = 1; batch && i < batch->ncols; i++) {
        if (batch->cols[i]->nrows != batch->cols[0]->nrows) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "column '%s' has %llu rows but column "
                                "'%s' has %llu",
                                batch->cols[i]->name, (unsigned long long)batch->cols[i]->nrows,
                                batch->cols[0]->name, (unsigned long long)batch->cols[0]->nrows);
        }
    }
    return 0;
}

int wn_batch_reserve(struct wn_batch *batch, uint64_t nrows, wn_error_t *err)
{
    for (uint32_t i = 0; batch && i < batch->ncols; i++) {
        struct wn_column *col = batch->cols[i];
        if (wn_col_reserve_(col, nrows, col->nbytes, 1, err) < 0)
            return -1;
    }
    return 0;
}

uint64_t wn_batch_nbytes(const struct wn_batch *batch)
{
    uint64_t n = 0;
    for (uint32_t i = 0; batch && i < batch->ncols; i++) {
        const struct wn_column *col = batch->cols[i];
        n += col->nbytes;
        if (col->type == WN_TYPE_STR)
            n += (col->nrows + 1) * 8;
    }
    return n;
}

/* Gathers rows of a fixed-width column; the common row sizes get loops the
 * compiler can keep in registers. */
static void gather_fixed(void *dst, const void *src, uint64_t rb, const uint32_t *rows, size_t n)
{
    switch (rb) {
    case 1:
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = ((const uint8_t *)src)[rows[i]];
        break;
    case 4:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)dst)[i] = ((const uint32_t *)src)[rows[i]];
        break;
    case 8:
        for (size_t i = 0; i < n; i++)
            ((uint64_t *)dst)[i] = ((const uint64_t *)src)[rows[i]];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            memcpy((char *)dst + i * rb, (const char *)src + rows[i] * rb, rb);
        break;
    }
}

struct wn_batch *wn_batch_take(const struct wn_batch *batch, const uint32_t *rows, size_t n,
                               wn_error_t *err)
{
    if (!batch || (n && !rows)) {
        errno = EINVAL;
        wn_errprintf(err, "take: no batch or no rows");
        return NULL;
    }
    if (wn_batch_validate(batch, err) < 0)
        return NULL;
    uint64_t nrows = wn_batch_nrows(batch);
    for (size_t i = 0; i < n; i++) {
        if (rows[i] >= nrows) {
            errno = EINVAL;
            wn_errprintf(err,
                         "take: row %u (at position %zu) is out of range:"
                         " the batch has %llu rows",
                         rows[i], i, (unsigned long long)nrows);
            return NULL;
        }
    }
    struct wn_batch *out = wn_batch_create();
    if (!out) {
        wn_errprintf(err, "take: out of memory");
        return NULL;
    }
    for (uint32_t c = 0; c < batch->ncols; c++) {
        const struct wn_column *src = batch->cols[c];
        struct wn_column *dst = wn_batch_add_column(out, src->name, src->type, src->list_len, err);
        if (!dst)
            goto fail;
        if (src->type != WN_TYPE_STR) {
            if (wn_col_reserve_(dst, n, 0, 1, err) < 0)
                goto fail;
            gather_fixed(dst->data, src->data, wn_col_row_bytes_(src), rows, n);
            dst->nbytes = n * wn_col_row_bytes_(src);
            dst->nrows = n;
            continue;
        }
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t len = src->offsets[rows[i] + 1] - src->offsets[rows[i]];
            if (__builtin_add_overflow(total, len, &total)) {
                errno = ENOMEM;
                wn_errprintf(err, "take: column '%s' would exceed 2^64 bytes", src->name);
                goto fail;
            }
        }
        if (wn_col_reserve_(dst, n, total, 1, err) < 0)
            goto fail;
        char *bytes = dst->data;
        uint64_t pos = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t a = src->offsets[rows[i]], b = src->offsets[rows[i] + 1];
            memcpy(bytes + pos, (const char *)src->data + a, b - a);
            pos += b - a;
            dst->offsets[i + 1] = pos;
        }
        dst->nbytes = pos;
        dst->nrows = n;
    }
    return out;
fail:
    wn_batch_destroy(out);
    return NULL;
}

int wn_batch_append(struct wn_batch *dst, const struct wn_batch *src, wn_error_t *err)
{
    if (!dst || !src) {
        errno = EINVAL;
        return wn_errprintf(err, "append: no batch");
    }
    if (wn_batch_validate(src, err) < 0 || wn_batch_validate(dst, err) < 0)
        return -1;
    uint32_t ncols_before = dst->ncols;
    if (ncols_before == 0) {
        for (uint32_t c = 0; c < src->ncols; c++) {
            const struct wn_column *s = src->cols[c];
            if (!wn_batch_add_column(dst, s->name, s->type, s->list_len, err))
                goto undo;
        }
    }
    if (dst->ncols != src->ncols) {
        errno = EINVAL;
        return wn_errprintf(err, "append: schemas differ: %u columns into %u", src->ncols,
                            dst->ncols);
    }
    for (uint32_t c = 0; c < src->ncols; c++) {
        const struct wn_column *s = src->cols[c], *d = dst->cols[c];
        if (strcmp(s->name, d->name) || s->type != d->type || s->list_len != d->list_len) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "append: schemas differ at column %u: "
                                "'%s' %s[%u] into '%s' %s[%u]",
                                c, s->name, wn_type_name(s->type), s->list_len, d->name,
                                wn_type_name(d->type), d->list_len);
        }
    }
    /* Snapshot the source sizes first: when dst == src they grow below. */
    uint64_t n = wn_batch_nrows(src);
    if (n == 0)
        return 0;
    uint64_t *src_bytes = malloc(src->ncols * sizeof(*src_bytes));
    if (!src_bytes) {
        errno = ENOMEM;
        wn_errprintf(err, "append: out of memory");
        goto undo;
    }
    for (uint32_t c = 0; c < src->ncols; c++)
        src_bytes[c] = src->cols[c]->nbytes;
    /* Reserve everything before copying anything, so a failure leaves dst
     * unchanged (all or nothing). */
    for (uint32_t c = 0; c < dst->ncols; c++) {
        struct wn_column *d = dst->cols[c];
        if (wn_col_reserve_(d, d->nrows + n, d->nbytes + src_bytes[c], 0, err)) {
            free(src_bytes);
            goto undo;
        }
    }
    for (uint32_t c = 0; c < dst->ncols; c++) {
        struct wn_column *d = dst->cols[c];
        const struct wn_column *s = src->cols[c];
        /* Cannot fail: capacity is reserved and both columns are owned or
         * s is a view we only read. */
        if (d->type == WN_TYPE_STR) {
            wn_col_append_strs(d, s->offsets, s->data, n, NULL);
        } else {
            memcpy((char *)d->data + d->nbytes, s->data, src_bytes[c]);
            d->nbytes += src_bytes[c];
            d->nrows += n;
        }
    }
    free(src_bytes);
    return 0;
undo:
    /* a dst that had no columns gets its adopted schema taken back out */
    while (ncols_before == 0 && dst->ncols > 0)
        wn_batch_drop_column(dst, dst->cols[dst->ncols - 1]->name, NULL);
    return -1;
}

int wn_batch_make_owned(struct wn_batch *batch, wn_error_t *err)
{
    for (uint32_t i = 0; batch && i < batch->ncols; i++)
        if (wn_col_own_(batch->cols[i], err) < 0)
            return -1;
    if (batch) {
        free(batch->backing);
        batch->backing = NULL;
    }
    return 0;
}

int wn_batch_equal(const struct wn_batch *a, const struct wn_batch *b)
{
    if (!a || !b)
        return a == b;
    if (a->ncols != b->ncols)
        return 0;
    for (uint32_t i = 0; i < a->ncols; i++) {
        const struct wn_column *x = a->cols[i], *y = b->cols[i];
        if (strcmp(x->name, y->name) || x->type != y->type || x->list_len != y->list_len ||
            x->nrows != y->nrows || x->nbytes != y->nbytes ||
            memcmp(x->data, y->data, x->nbytes) != 0)
            return 0;
        if (x->type == WN_TYPE_STR && memcmp(x->offsets, y->offsets, (x->nrows + 1) * 8) != 0)
            return 0;
    }
    return 1;
}
