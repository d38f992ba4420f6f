/* task_column.c - columns (see winnow/task.h).
 *
 * Every buffer a column owns comes from posix_memalign(64) and grows by
 * doubling (allocate, copy, free: realloc would lose the alignment), so
 * appends are amortised O(1) and SIMD kernels may assume alignment.  A view
 * column (view == 1) borrows its buffers from a packed task; wn_col_own_()
 * turns it into an owning column before any change.  A new column owns
 * nothing yet (see EMPTY below). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "winnow/error.h"
#include "winnow/task.h"
#include "task/task_impl.h"

#define ALIGN 64u

static uint64_t round_up64(uint64_t n)
{
    return (n + (ALIGN - 1)) & ~(uint64_t)(ALIGN - 1);
}

/* What a new column's data and offsets point at until its first row: a
 * shared, read-only, zeroed block (so "data is never NULL" and offsets[0]
 * is 0) with capacity 0, which the first append replaces.  Empty columns
 * cost no allocation; nothing writes here (growing comes first). */
static _Alignas(64) const uint64_t empty_block[ALIGN / 8];
#define EMPTY ((void *)empty_block)

static void free_owned(void *p)
{
    if (p != EMPTY)
        free(p);
}

static void *alloc_aligned(uint64_t n)
{
    void *p;
    if (n == 0)
        n = ALIGN;
    if (n > SIZE_MAX - ALIGN || posix_memalign(&p, ALIGN, (size_t)n) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

const char *wn_type_name(enum wn_type type)
{
    switch (type) {
    case WN_TYPE_U8:
        return "u8";
    case WN_TYPE_I32:
        return "i32";
    case WN_TYPE_U32:
        return "u32";
    case WN_TYPE_I64:
        return "i64";
    case WN_TYPE_U64:
        return "u64";
    case WN_TYPE_F64:
        return "f64";
    case WN_TYPE_STR:
        return "str";
    case WN_TYPE_LIST_U32:
        return "list<u32>";
    case WN_TYPE_LIST_U64:
        return "list<u64>";
    }
    return "?";
}

size_t wn_type_width(enum wn_type type)
{
    switch (type) {
    case WN_TYPE_U8:
    case WN_TYPE_STR:
        return 1;
    case WN_TYPE_I32:
    case WN_TYPE_U32:
    case WN_TYPE_LIST_U32:
        return 4;
    case WN_TYPE_I64:
    case WN_TYPE_U64:
    case WN_TYPE_F64:
    case WN_TYPE_LIST_U64:
        return 8;
    }
    return 0;
}

const void *wn_col_type_error_(void)
{
    errno = EINVAL;
    return NULL;
}

static int is_list(enum wn_type t)
{
    return t == WN_TYPE_LIST_U32 || t == WN_TYPE_LIST_U64;
}

/* Bytes per row of a fixed-width or list column. */
uint64_t wn_col_row_bytes_(const struct wn_column *col)
{
    return (uint64_t)wn_type_width(col->type) * col->list_len;
}

static int nomem(wn_error_t *err, const struct wn_column *col, uint64_t bytes)
{
    errno = ENOMEM;
    return wn_errprintf(err, "column '%s': out of memory for %llu bytes", col->name,
                        (unsigned long long)bytes);
}

static int col_einval(wn_error_t *err, const struct wn_column *col, const char *want)
{
    errno = EINVAL;
    return wn_errprintf(err, "column '%s' is %s, not %s", col->name, wn_type_name(col->type), want);
}

/* Copy-on-write: give a view column buffers of its own (exactly sized). */
int wn_col_own_(struct wn_column *col, wn_error_t *err)
{
    if (!col->view)
        return 0;
    uint64_t cap = round_up64(col->nbytes ? col->nbytes : ALIGN);
    void *data = alloc_aligned(cap);
    if (!data)
        return nomem(err, col, cap);
    memcpy(data, col->data, col->nbytes);
    uint64_t *offs = NULL, ocap = 0;
    if (col->type == WN_TYPE_STR) {
        ocap = round_up64((col->nrows + 1) * 8) / 8;
        if (!(offs = alloc_aligned(ocap * 8))) {
            free(data);
            return nomem(err, col, ocap * 8);
        }
        memcpy(offs, col->offsets, (col->nrows + 1) * 8);
    }
    col->data = data;
    col->cap_bytes = cap;
    col->offsets = offs;
    col->cap_offsets = ocap;
    col->view = 0;
    return 0;
}

/* Room for `need` data bytes: exactly (reserve) or at least doubling
 * (appends, so that n appends cost O(n) copying in total). */
static int grow_bytes(struct wn_column *col, uint64_t need, int exact, wn_error_t *err)
{
    if (wn_col_own_(col, err) < 0)
        return -1;
    if (need <= col->cap_bytes)
        return 0;
    uint64_t cap = need;
    if (!exact && col->cap_bytes <= UINT64_MAX / 2 && cap < col->cap_bytes * 2)
        cap = col->cap_bytes * 2;
    if (cap > UINT64_MAX - ALIGN)
        return nomem(err, col, need);
    cap = round_up64(cap);
    void *data = alloc_aligned(cap);
    if (!data)
        return nomem(err, col, cap);
    memcpy(data, col->data, col->nbytes);
    free_owned(col->data);
    col->data = data;
    col->cap_bytes = cap;
    return 0;
}

/* Room for `need` string offsets (that is, need - 1 rows). */
static int grow_offsets(struct wn_column *col, uint64_t need, int exact, wn_error_t *err)
{
    if (wn_col_own_(col, err) < 0)
        return -1;
    if (need <= col->cap_offsets)
        return 0;
    uint64_t cap = need;
    if (!exact && col->cap_offsets <= UINT64_MAX / 4 && cap < col->cap_offsets * 2)
        cap = col->cap_offsets * 2;
    if (cap > (UINT64_MAX - ALIGN) / 8)
        return nomem(err, col, UINT64_MAX);
    cap = round_up64(cap * 8) / 8;
    uint64_t *offs = alloc_aligned(cap * 8);
    if (!offs)
        return nomem(err, col, cap * 8);
    memcpy(offs, col->offsets, (col->nrows + 1) * 8);
    free_owned(col->offsets);
    col->offsets = offs;
    col->cap_offsets = cap;
    return 0;
}

/* Room for nrows rows (and, for strings, nbytes bytes) in total. */
int wn_col_reserve_(struct wn_column *col, uint64_t nrows, uint64_t nbytes, int exact,
                    wn_error_t *err)
{
    if (col->type == WN_TYPE_STR) {
        if (nrows == UINT64_MAX)
            return nomem(err, col, UINT64_MAX);
        if (grow_offsets(col, nrows + 1, exact, err) < 0)
            return -1;
        return grow_bytes(col, nbytes, exact, err);
    }
    uint64_t need;
    if (__builtin_mul_overflow(nrows, wn_col_row_bytes_(col), &need))
        return nomem(err, col, UINT64_MAX);
    return grow_bytes(col, need, exact, err);
}

int wn_col_reserve(struct wn_column *col, uint64_t nrows, uint64_t nbytes, wn_error_t *err)
{
    return wn_col_reserve_(col, nrows, nbytes, 1, err);
}

/* The slot for one more fixed-width value of `width` bytes. */
static void *push_slot(struct wn_column *col, uint64_t width, wn_error_t *err)
{
    if (col->view || col->nbytes + width > col->cap_bytes) {
        if (grow_bytes(col, col->nbytes + width, 0, err) < 0)
            return NULL;
    }
    void *slot = (char *)col->data + col->nbytes;
    col->nbytes += width;
    col->nrows++;
    return slot;
}

static int erange(wn_error_t *err, const struct wn_column *col, const char *what)
{
    errno = ERANGE;
    return wn_errprintf(err, "column '%s': value %s does not fit %s", col->name, what,
                        wn_type_name(col->type));
}

int wn_col_append_u64(struct wn_column *col, uint64_t v, wn_error_t *err)
{
    uint64_t max;
    switch (col->type) {
    case WN_TYPE_U8:
        max = UINT8_MAX;
        break;
    case WN_TYPE_I32:
        max = INT32_MAX;
        break;
    case WN_TYPE_U32:
        max = UINT32_MAX;
        break;
    case WN_TYPE_I64:
        max = INT64_MAX;
        break;
    case WN_TYPE_U64:
        max = UINT64_MAX;
        break;
    default:
        return col_einval(err, col, "an integer column");
    }
    if (v > max) {
        char s[32];
        snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
        return erange(err, col, s);
    }
    uint64_t w = wn_type_width(col->type);
    void *slot = push_slot(col, w, err);
    if (!slot)
        return -1;
    switch (w) {
    case 1:
        *(uint8_t *)slot = (uint8_t)v;
        break;
    case 4:
        *(uint32_t *)slot = (uint32_t)v;
        break;
    default:
        *(uint64_t *)slot = v;
        break;
    }
    return 0;
}

int wn_col_append_i64(struct wn_column *col, int64_t v, wn_error_t *err)
{
    if (col->type == WN_TYPE_I32 && (v < INT32_MIN || v > INT32_MAX)) {
        char s[32];
        snprintf(s, sizeof(s), "%lld", (long long)v);
        return erange(err, col, s);
    }
    if (col->type == WN_TYPE_I32) {
        int32_t *slot = push_slot(col, 4, err);
        if (!slot)
            return -1;
        *slot = (int32_t)v;
        return 0;
    }
    if (col->type == WN_TYPE_I64) {
        int64_t *slot = push_slot(col, 8, err);
        if (!slot)
            return -1;
        *slot = v;
        return 0;
    }
    if (v < 0 &&
        (col->type == WN_TYPE_U8 || col->type == WN_TYPE_U32 || col->type == WN_TYPE_U64)) {
        char s[32];
        snprintf(s, sizeof(s), "%lld", (long long)v);
        return erange(err, col, s);
    }
    return wn_col_append_u64(col, (uint64_t)v, err);
}

int wn_col_append_f64(struct wn_column *col, double v, wn_error_t *err)
{
    if (col->type != WN_TYPE_F64)
        return col_einval(err, col, "f64");
    double *slot = push_slot(col, 8, err);
    if (!slot)
        return -1;
    *slot = v;
    return 0;
}

/* Appending a column's own values to itself is allowed, but growing frees
 * the old buffer: returns where p sits in an owned buffer (then re-derive p
 * after growing), or UINT64_MAX.  A view's buffer is never freed. */
static uint64_t self_offset(const void *buf, uint64_t cap, const void *p)
{
    uintptr_t b = (uintptr_t)buf, q = (uintptr_t)p;
    return p && q >= b && q - b < cap ? q - b : UINT64_MAX;
}

int wn_col_append_str(struct wn_column *col, const char *s, size_t len, wn_error_t *err)
{
    if (col->type != WN_TYPE_STR)
        return col_einval(err, col, "str");
    if (!s && len) {
        errno = EINVAL;
        return wn_errprintf(err, "column '%s': NULL string of length %zu", col->name, len);
    }
    if (col->view || col->nrows + 2 > col->cap_offsets) {
        if (grow_offsets(col, col->nrows + 2, 0, err) < 0)
            return -1;
    }
    if (col->nbytes + len > col->cap_bytes) {
        uint64_t self = self_offset(col->data, col->cap_bytes, s);
        if (grow_bytes(col, col->nbytes + len, 0, err) < 0)
            return -1;
        if (self != UINT64_MAX)
            s = (const char *)col->data + self;
    }
    if (len)
        memcpy((char *)col->data + col->nbytes, s, len);
    col->nbytes += len;
    col->offsets[++col->nrows] = col->nbytes;
    return 0;
}

int wn_col_append_list(struct wn_column *col, const void *values, wn_error_t *err)
{
    if (!is_list(col->type))
        return col_einval(err, col, "a list column");
    return wn_col_append_n(col, values, 1, err);
}

int wn_col_append_n(struct wn_column *col, const void *values, uint64_t nrows, wn_error_t *err)
{
    if (col->type == WN_TYPE_STR)
        return col_einval(err, col, "a fixed-width or list column");
    uint64_t bytes, total;
    if (__builtin_mul_overflow(nrows, wn_col_row_bytes_(col), &bytes) ||
        __builtin_add_overflow(col->nbytes, bytes, &total))
        return nomem(err, col, UINT64_MAX);
    if (bytes && !values) {
        errno = EINVAL;
        return wn_errprintf(err, "column '%s': NULL values", col->name);
    }
    uint64_t self = self_offset(col->data, col->cap_bytes, values);
    if (grow_bytes(col, total, 0, err) < 0)
        return -1;
    if (self != UINT64_MAX)
        values = (const char *)col->data + self;
    if (bytes)
        memcpy((char *)col->data + col->nbytes, values, bytes);
    col->nbytes = total;
    col->nrows += nrows;
    return 0;
}

int wn_col_append_strs(struct wn_column *col, const uint64_t *offsets, const char *bytes,
                       uint64_t nrows, wn_error_t *err)
{
    if (col->type != WN_TYPE_STR)
        return col_einval(err, col, "str");
    if (nrows == 0)
        return 0;
    if (!offsets) {
        errno = EINVAL;
        return wn_errprintf(err, "column '%s': NULL offsets", col->name);
    }
    for (uint64_t i = 0; i < nrows; i++) {
        if (offsets[i + 1] < offsets[i]) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "column '%s': offsets decrease at row "
                                "%llu",
                                col->name, (unsigned long long)i);
        }
    }
    uint64_t base = offsets[0], len = offsets[nrows] - base;
    if (len && !bytes) {
        errno = EINVAL;
        return wn_errprintf(err, "column '%s': NULL bytes", col->name);
    }
    uint64_t self_b = self_offset(col->data, col->cap_bytes, bytes);
    uint64_t self_o = self_offset(col->offsets, col->cap_offsets * 8, offsets);
    if (wn_col_reserve_(col, col->nrows + nrows, col->nbytes + len, 0, err) < 0)
        return -1;
    if (self_b != UINT64_MAX)
        bytes = (const char *)col->data + self_b;
    if (self_o != UINT64_MAX)
        offsets = (const uint64_t *)((const char *)col->offsets + self_o);
    /* From itself, the source rows lie before the ones written now. */
    if (len)
        memcpy((char *)col->data + col->nbytes, bytes + base, len);
    uint64_t *dst = col->offsets + col->nrows + 1, start = col->nbytes;
    for (uint64_t i = 0; i < nrows; i++)
        dst[i] = start + (offsets[i + 1] - base);
    col->nrows += nrows;
    col->nbytes += len;
    return 0;
}

int wn_col_resize(struct wn_column *col, uint64_t nrows, wn_error_t *err)
{
    if (wn_col_own_(col, err) < 0)
        return -1;
    if (col->type == WN_TYPE_STR) {
        if (nrows > col->nrows) {
            if (wn_col_reserve_(col, nrows, col->nbytes, 1, err) < 0)
                return -1;
            for (uint64_t r = col->nrows + 1; r <= nrows; r++)
                col->offsets[r] = col->nbytes;
        } else {
            col->nbytes = col->offsets[nrows];
        }
        col->nrows = nrows;
        return 0;
    }
    if (nrows > col->nrows) {
        if (wn_col_reserve_(col, nrows, 0, 1, err) < 0)
            return -1;
        uint64_t end = nrows * wn_col_row_bytes_(col);
        memset((char *)col->data + col->nbytes, 0, end - col->nbytes);
    }
    col->nrows = nrows;
    col->nbytes = nrows * wn_col_row_bytes_(col);
    return 0;
}

#define WN_COL_MUT_(NAME, CTYPE, T1, T2)                               \
    CTYPE *wn_col_##NAME##_mut(struct wn_column *col)                  \
    {                                                                  \
        if (col->type != (T1) && col->type != (T2)) {                  \
            errno = EINVAL;                                            \
            return NULL;                                               \
        }                                                              \
        return wn_col_own_(col, NULL) < 0 ? NULL : (CTYPE *)col->data; \
    }
WN_COL_MUT_(u8, uint8_t, WN_TYPE_U8, WN_TYPE_U8)
WN_COL_MUT_(i32, int32_t, WN_TYPE_I32, WN_TYPE_I32)
WN_COL_MUT_(u32, uint32_t, WN_TYPE_U32, WN_TYPE_LIST_U32)
WN_COL_MUT_(i64, int64_t, WN_TYPE_I64, WN_TYPE_I64)
WN_COL_MUT_(u64, uint64_t, WN_TYPE_U64, WN_TYPE_LIST_U64)
WN_COL_MUT_(f64, double, WN_TYPE_F64, WN_TYPE_F64)

const char *wn_col_str(const struct wn_column *col, uint64_t row, size_t *len)
{
    if (col->type != WN_TYPE_STR || row >= col->nrows) {
        errno = EINVAL;
        return NULL;
    }
    if (len)
        *len = (size_t)(col->offsets[row + 1] - col->offsets[row]);
    return (const char *)col->data + col->offsets[row];
}

void wn_col_attach_view_(struct wn_column *col, const void *data, uint64_t nbytes,
                         const void *offsets, uint64_t nrows)
{
    if (!col->view) {
        free_owned(col->data);
        free_owned(col->offsets);
    }
    col->data = (void *)data; /* never written: col_own copies first */
    col->offsets = (uint64_t *)offsets;
    col->nbytes = nbytes;
    col->nrows = nrows;
    col->cap_bytes = 0;
    col->cap_offsets = 0;
    col->view = 1;
}

int wn_col_fill_copy_(struct wn_column *col, const void *data, uint64_t nbytes, const void *offsets,
                      uint64_t nrows, wn_error_t *err)
{
    /* No rows and offsets {0}: the empty block already says so. */
    if (col->type == WN_TYPE_STR &&
        (nrows > 0 || col->offsets != EMPTY || ((const uint64_t *)offsets)[0] != 0)) {
        if (grow_offsets(col, nrows + 1, 1, err) < 0)
            return -1;
        memcpy(col->offsets, offsets, (nrows + 1) * 8);
    }
    if (grow_bytes(col, nbytes, 1, err) < 0)
        return -1;
    memcpy(col->data, data, nbytes);
    col->nbytes = nbytes;
    col->nrows = nrows;
    return 0;
}

void wn_col_free_(struct wn_column *col)
{
    if (!col)
        return;
    if (!col->view) {
        free_owned(col->data);
        free_owned(col->offsets);
    }
    free(col);
}

struct wn_column *wn_col_new_(const char *name, enum wn_type type, uint32_t list_len)
{
    struct wn_column *col = calloc(1, sizeof(*col));
    if (!col)
        return NULL;
    strcpy(col->name, name);
    col->type = type;
    col->list_len = type == WN_TYPE_STR ? 0 : is_list(type) ? list_len : 1;
    /* The shared empty block keeps the "data is never NULL" promise (and
     * offsets[0] == 0) without an allocation; capacity 0 makes the first
     * row allocate. */
    col->data = EMPTY;
    col->cap_bytes = 0;
    if (type == WN_TYPE_STR) {
        col->offsets = EMPTY;
        col->cap_offsets = 0;
    }
    return col;
}
