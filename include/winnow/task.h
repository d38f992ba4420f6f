/* winnow/task.h - what flows between stages: a columnar record batch plus
 * task metadata, and the one wire format that carries it between ranks.
 *
 * A task is NeMo Curator's DocumentBatch + _metadata + _stage_perf, in C:
 *
 *   struct wn_task      id (lineage-derived), producing stage, a batch,
 *                       string metadata, one perf record per stage passed
 *   struct wn_batch     ordered, uniquely named columns with equal row counts
 *   struct wn_column    fixed-width numbers, strings (offsets + bytes) or
 *                       fixed-size lists (e.g. 260 x u32 MinHash signatures)
 *
 * Columns are Arrow-like so a kernel sees one flat array per column: SIMD
 * code reads `wn_col_u32(col)` directly, and the HDF5 checkpoint stores each
 * column as one dataset.  Every buffer a column owns is 64-byte aligned.
 *
 * Ownership: a task owns its batch, a batch owns its columns, a column owns
 * its buffers - except a *view* column (see wn_task_unpack), whose buffers
 * live in the packed buffer it was unpacked from.  View columns are
 * copy-on-write: the first change (append, reserve, resize, a *_mut
 * accessor) copies the column into memory it owns; the packed buffer itself
 * is never written.
 *
 * Return values follow winnow/error.h: int functions return 0 or -1 (errno
 * set, err filled when not NULL), pointer functions return NULL.  The few
 * predicates (wn_batch_equal, wn_task_equal, wn_col_is_view) return 1 or 0.
 *
 * Nothing here is thread-safe for concurrent writers; concurrent readers of
 * an unchanging batch are fine.
 */
#ifndef WINNOW_TASK_H
#define WINNOW_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The task ABI: bumped whenever a struct of this header changes layout
 * (wn_column, wn_batch, wn_stage_perf, wn_task_meta, wn_task,
 * wn_task_list) or an inline function here reads it differently, so that
 * a plugin built against the old layout is refused when it is loaded
 * (winnow/stage.h, WN_PLUGIN_DECLARE_ABI) instead of misreading tasks. */
#define WN_TASK_ABI 1

/* ------------------------------------------------------------------ */
/* Column types                                                        */

/* The numbers are part of the wire format and the checkpoint: never
 * renumber, only add. */
enum wn_type {
    WN_TYPE_U8 = 1,
    WN_TYPE_I32 = 2,
    WN_TYPE_U32 = 3,
    WN_TYPE_I64 = 4,
    WN_TYPE_U64 = 5,
    WN_TYPE_F64 = 6,
    WN_TYPE_STR = 7,      /* offsets u64[nrows + 1] + bytes, not NUL-terminated */
    WN_TYPE_LIST_U32 = 8, /* list_len u32 values per row, stored flat */
    WN_TYPE_LIST_U64 = 9, /* list_len u64 values per row, stored flat */
};

/* Length of the valid UTF-8 sequence at s[0] (n > 0 bytes left), 0 when
 * none starts there (Unicode table 3-7: no overlong forms, surrogates or
 * values past U+10FFFF).  The text stages count an invalid byte as one
 * code point, as Python's 'surrogateescape' decoding does; the runner's
 * JSON writers replace or escape it. */
size_t wn_utf8_len(const unsigned char *s, size_t n);

/* s (n bytes) as a JSON string in a new malloc'd, NUL-terminated buffer:
 * quoted, '"' and '\\' escaped, control bytes as \b \t \n \f \r or
 * \u00XX, each byte that starts no valid UTF-8 sequence as U+FFFD (a file
 * name need not be UTF-8, a JSON string must be).  NULL when out of
 * memory. */
char *wn_json_quote(const char *s, size_t n);

/* "u8", "str", "list<u32>", ...; "?" for a value outside the enum. */
const char *wn_type_name(enum wn_type type);

/* Bytes per element: 1, 4 or 8 (a list's element, a string's byte: 1);
 * 0 for a value outside the enum. */
size_t wn_type_width(enum wn_type type);

/* Column names become HDF5 dataset names in the checkpoint, hence the
 * rules: 1..WN_NAME_MAX bytes of printable ASCII, no '/', not "." or "..". */
#define WN_NAME_MAX 63

/* A column.  Read the fields freely; change them only through the
 * functions below, which keep the invariants:
 *   - data is never NULL (an empty column still has a small buffer, or
 *     points at the end of its packed buffer);
 *   - fixed-width and list columns: nbytes == nrows * list_len * width,
 *     values row-major (row r of a list is data[r*list_len .. +list_len));
 *   - strings: offsets has nrows + 1 entries, offsets[0] == 0, never
 *     decreasing, offsets[nrows] == nbytes; row r is
 *     data[offsets[r] .. offsets[r+1]).  Bytes may contain NUL. */
struct wn_column {
    char name[WN_NAME_MAX + 1];
    enum wn_type type;
    uint32_t list_len; /* values per row: 1 scalars, N lists, 0 strings */
    uint64_t nrows;
    void *data;        /* values; for strings the concatenated bytes */
    uint64_t *offsets; /* strings only, else NULL */
    uint64_t nbytes;   /* bytes of data in use */
    /* private: capacities in bytes / entries; both 0 for a view column,
     * whose data and offsets point into a packed buffer it does not own */
    uint64_t cap_bytes;
    uint64_t cap_offsets;
    int view;
};

/* An ordered set of columns.  Built row-wise (append one value to each
 * column in turn) or column-wise (wn_col_resize, then write through the
 * *_mut pointer); between appends the columns may briefly differ in
 * length, and wn_batch_validate / wn_task_pack check they agree again. */
struct wn_batch {
    struct wn_column **cols; /* stable pointers: adding columns never moves one */
    uint32_t ncols;
    /* private */
    uint32_t cap_cols;
    void *backing; /* packed buffer owned through WN_UNPACK_TAKE_BUF,
                      freed with the batch or by make_owned */
};

/* Limits that keep a hostile buffer from costing quadratic time. */
#define WN_BATCH_MAX_COLS 1024

/* ------------------------------------------------------------------ */
/* Batches                                                             */

struct wn_batch *wn_batch_create(void);
void wn_batch_destroy(struct wn_batch *batch); /* NULL is fine */

/* Appends an empty column.  list_len is the row length for WN_TYPE_LIST_*
 * (>= 1) and must be 0 or 1 for the other types (so a forgotten LIST type
 * is an error, not a silent scalar column).  Fails on a bad or duplicate
 * name (EINVAL, EEXIST), too many columns (ENOSPC), or ENOMEM.  When the
 * batch already has rows, the new column must be filled to the same count
 * (wn_col_resize) before the batch is packed. */
struct wn_column *wn_batch_add_column(struct wn_batch *batch, const char *name, enum wn_type type,
                                      uint32_t list_len, wn_error_t *err);

/* The column of that name, or NULL with errno ENOENT. */
struct wn_column *wn_batch_find(const struct wn_batch *batch, const char *name);

/* Removes and frees a column; the remaining ones keep their order. */
int wn_batch_drop_column(struct wn_batch *batch, const char *name, wn_error_t *err);

static inline uint32_t wn_batch_ncols(const struct wn_batch *batch)
{
    return batch ? batch->ncols : 0;
}

static inline struct wn_column *wn_batch_col(const struct wn_batch *batch, uint32_t i)
{
    return batch && i < batch->ncols ? batch->cols[i] : NULL;
}

/* Rows of the first column (0 for NULL or no columns).  Only meaningful
 * once wn_batch_validate would pass. */
static inline uint64_t wn_batch_nrows(const struct wn_batch *batch)
{
    return batch && batch->ncols ? batch->cols[0]->nrows : 0;
}

/* Checks that all columns have the same row count (EINVAL otherwise, with
 * the first column that differs named in err). */
int wn_batch_validate(const struct wn_batch *batch, wn_error_t *err);

/* Reserves room for nrows rows in every column (string bytes are not
 * reserved: use wn_col_reserve for those). */
int wn_batch_reserve(struct wn_batch *batch, uint64_t nrows, wn_error_t *err);

/* Bytes of data the columns hold (values, string bytes and offsets), not
 * counting spare capacity - the "bytes" of per-stage perf records. */
uint64_t wn_batch_nbytes(const struct wn_batch *batch);

/* A new batch with the same schema holding rows[0..n) of batch, in that
 * order; rows may repeat.  Shuffle partitioning and filters build their
 * outputs with it.  (rows NULL, n 0) gives an empty batch with the same
 * schema.  An index >= nrows fails with EINVAL.  The source may hold view
 * columns; the result always owns its memory. */
struct wn_batch *wn_batch_take(const struct wn_batch *batch, const uint32_t *rows, size_t n,
                               wn_error_t *err);

/* Appends all rows of src to dst.  The schemas (names, types, list
 * lengths, order) must be equal - except that a dst without columns first
 * takes src's schema, so concatenation can start from wn_batch_create().
 * All or nothing: on failure dst is unchanged.  dst == src doubles it. */
int wn_batch_append(struct wn_batch *dst, const struct wn_batch *src, wn_error_t *err);

/* Makes every view column own its data, then releases the packed buffer
 * if the batch held it (WN_UNPACK_TAKE_BUF).  After this the batch no
 * longer depends on the buffer it was unpacked from. */
int wn_batch_make_owned(struct wn_batch *batch, wn_error_t *err);

/* 1 when both have the same schema and the same values (bitwise, so NaN
 * equals the same NaN), 0 otherwise.  Two NULLs are equal; NULL and a
 * batch without columns are not. */
int wn_batch_equal(const struct wn_batch *a, const struct wn_batch *b);

/* ------------------------------------------------------------------ */
/* Columns                                                             */

/* Row-wise appends, amortised O(1).  Integer appends fit the value to any
 * integer column (u8, i32, u32, i64, u64) and fail with ERANGE when it does
 * not fit; EINVAL for a column of another kind.  The source of any append
 * may lie in the column itself (a row appended again): growing the column
 * then does not pull it away. */
int wn_col_append_u64(struct wn_column *col, uint64_t v, wn_error_t *err);
int wn_col_append_i64(struct wn_column *col, int64_t v, wn_error_t *err);
int wn_col_append_f64(struct wn_column *col, double v, wn_error_t *err);
/* len bytes from s (NUL bytes allowed; s may be NULL when len is 0). */
int wn_col_append_str(struct wn_column *col, const char *s, size_t len, wn_error_t *err);
/* One list row: list_len values of the column's element type. */
int wn_col_append_list(struct wn_column *col, const void *values, wn_error_t *err);

/* Bulk appends for column-wise building and for readers of the checkpoint.
 * append_n: nrows rows of fixed-width or list values (nrows * list_len
 * elements).  append_strs: nrows strings given as nrows + 1 offsets into
 * bytes (offsets[0] need not be 0; offsets must not decrease). */
int wn_col_append_n(struct wn_column *col, const void *values, uint64_t nrows, wn_error_t *err);
int wn_col_append_strs(struct wn_column *col, const uint64_t *offsets, const char *bytes,
                       uint64_t nrows, wn_error_t *err);

/* Room for nrows rows in total, and for strings nbytes bytes in total, so
 * that appends up to there never allocate. */
int wn_col_reserve(struct wn_column *col, uint64_t nrows, uint64_t nbytes, wn_error_t *err);

/* Sets the row count: new fixed-width/list rows are zero, new string rows
 * empty; shrinking drops rows.  Column-wise builders resize, then write
 * through wn_col_*_mut. */
int wn_col_resize(struct wn_column *col, uint64_t nrows, wn_error_t *err);

/* 1 when the column's buffers live in a packed buffer (WN_UNPACK_VIEW). */
static inline int wn_col_is_view(const struct wn_column *col)
{
    return col->view;
}

/* Typed read access to the flat values (list columns too: wn_col_u32 of a
 * list<u32> column).  NULL with errno EINVAL when the element type does not
 * match.  Never NULL otherwise, even for an empty column. */
#define WN_COL_ACCESSOR_(NAME, CTYPE, T1, T2)                                                \
    static inline const CTYPE *wn_col_##NAME(const struct wn_column *col)                    \
    {                                                                                        \
        return col->type == (T1) || col->type == (T2) ? (const CTYPE *)col->data             \
                                                      : (const CTYPE *)wn_col_type_error_(); \
    }
const void *wn_col_type_error_(void); /* sets errno, returns NULL */
WN_COL_ACCESSOR_(u8, uint8_t, WN_TYPE_U8, WN_TYPE_U8)
WN_COL_ACCESSOR_(i32, int32_t, WN_TYPE_I32, WN_TYPE_I32)
WN_COL_ACCESSOR_(u32, uint32_t, WN_TYPE_U32, WN_TYPE_LIST_U32)
WN_COL_ACCESSOR_(i64, int64_t, WN_TYPE_I64, WN_TYPE_I64)
WN_COL_ACCESSOR_(u64, uint64_t, WN_TYPE_U64, WN_TYPE_LIST_U64)
WN_COL_ACCESSOR_(f64, double, WN_TYPE_F64, WN_TYPE_F64)
#undef WN_COL_ACCESSOR_

/* Writable access: makes a view column own its data first (copy-on-write),
 * so it may fail with ENOMEM as well as EINVAL.  The pointer is valid until
 * the next change to the column's length or capacity. */
uint8_t *wn_col_u8_mut(struct wn_column *col);
int32_t *wn_col_i32_mut(struct wn_column *col);
uint32_t *wn_col_u32_mut(struct wn_column *col);
int64_t *wn_col_i64_mut(struct wn_column *col);
uint64_t *wn_col_u64_mut(struct wn_column *col);
double *wn_col_f64_mut(struct wn_column *col);

/* Row `row` of a string column: its bytes (not NUL-terminated) and, in
 * *len when len is not NULL, its length.  NULL (EINVAL) for a row out of
 * range or a column that is not a string column. */
const char *wn_col_str(const struct wn_column *col, uint64_t row, size_t *len);

/* ------------------------------------------------------------------ */
/* Tasks                                                               */

/* One stage's cost for one task, appended by the runner as the task passes
 * through (NeMo Curator's _stage_perf). */
struct wn_stage_perf {
    char stage[64];   /* stage name, NUL-terminated */
    double process_s; /* wall time in process_batch, this task's share */
    double idle_s;    /* actor time waiting for this task */
    uint64_t items_in, items_out;
    uint64_t bytes_in, bytes_out;
};

struct wn_task_meta {
    char *key;   /* NUL-terminated, 1..WN_META_KEY_MAX bytes */
    char *value; /* NUL-terminated */
};

#define WN_META_KEY_MAX 255
#define WN_TASK_MAX_META 1024

/* Read the fields; change metadata and perf only through the functions.
 * batch may be replaced (destroy the old one) or set to NULL (an empty
 * task, e.g. a source stage's seed). */
struct wn_task {
    uint64_t id;            /* lineage id, see wn_task_id_derive */
    uint32_t stage_index;   /* index of the stage that produced it */
    struct wn_batch *batch; /* owned; may be NULL */
    struct wn_task_meta *meta;
    uint32_t nmeta;
    struct wn_stage_perf *perf;
    uint32_t nperf;
    /* private */
    uint32_t cap_meta, cap_perf;
};

/* Takes ownership of batch (may be NULL) on success only: on failure
 * (ENOMEM) the caller still owns it. */
struct wn_task *wn_task_create(uint64_t id, uint32_t stage_index, struct wn_batch *batch);
void wn_task_destroy(struct wn_task *task); /* NULL is fine */

/* Moves the batch out of a task (which keeps none) and returns it (NULL if
 * it had none).  A stage that passes rows through unchanged gives an
 * input's batch to an output this way instead of copying it.  The batch's
 * columns may still point into the input's receive buffer, which lives
 * until the runner has packed the outputs of this process_batch call: give
 * the batch to one of them (or destroy it), never keep it. */
struct wn_batch *wn_task_take_batch(struct wn_task *task);

/* The id of output number output_index that stage stage_index made from
 * the task parent_id: XXH3-64 of (parent_id, stage_index, output_index) as
 * 20 little-endian bytes.  It depends on lineage only, never on which rank
 * ran what or when, so a resumed run makes the same ids.  Source stages
 * use parent_id 0.  Changing this breaks resuming old checkpoints. */
uint64_t wn_task_id_derive(uint64_t parent_id, uint32_t stage_index, uint64_t output_index);

/* Sets key to value (replacing an existing value in place, so the order of
 * keys is the order they were first set).  Keys: 1..WN_META_KEY_MAX bytes;
 * at most WN_TASK_MAX_META keys (ENOSPC). */
int wn_task_meta_set(struct wn_task *task, const char *key, const char *value, wn_error_t *err);
/* The value, or NULL with errno ENOENT. */
const char *wn_task_meta_get(const struct wn_task *task, const char *key);

/* Appends a copy of *perf (the stage name is truncated to 63 bytes). */
int wn_task_perf_add(struct wn_task *task, const struct wn_stage_perf *perf, wn_error_t *err);

/* Copies parent's metadata (keys child lacks) and perf history in front of
 * child's own records, as an output task inherits them from its input. */
int wn_task_inherit(struct wn_task *child, const struct wn_task *parent, wn_error_t *err);

/* Payload bytes: wn_batch_nbytes of the task's batch. */
uint64_t wn_task_nbytes(const struct wn_task *task);

/* 1 when id, stage_index, metadata (in order), perf records and batches
 * are all equal, else 0. */
int wn_task_equal(const struct wn_task *a, const struct wn_task *b);

/* ------------------------------------------------------------------ */
/* Task lists (what process_batch appends its outputs to)              */

struct wn_task_list {
    struct wn_task **tasks;
    size_t n, cap;
};

#define WN_TASK_LIST_INIT \
    {                     \
        NULL, 0, 0        \
    }

void wn_task_list_init(struct wn_task_list *list);
/* Appends task; the list owns it on success only (ENOMEM otherwise). */
int wn_task_list_push(struct wn_task_list *list, struct wn_task *task);
/* Appends a new task holding batch (the runner gives it its id); batch is
 * the list's in any case (freed on failure). */
int wn_task_list_push_batch(struct wn_task_list *list, struct wn_batch *batch, wn_error_t *err);
/* Destroys the tasks, keeps the array for reuse (n becomes 0).  To move
 * the tasks elsewhere instead, copy the pointers and set n to 0. */
void wn_task_list_clear(struct wn_task_list *list);
/* Destroys the tasks and frees the array (back to WN_TASK_LIST_INIT). */
void wn_task_list_free(struct wn_task_list *list);

/* ------------------------------------------------------------------ */
/* Wire format                                                         */

/* A task packs into one contiguous buffer, little-endian (winnow runs on
 * x86-64 only; the build refuses a big-endian target):
 *
 *   header, 64 bytes
 *     0  char[4] magic "WNTK"       4  u16 version (1)   6  u16 header length (64)
 *     8  u64 total length (the whole buffer, a multiple of 64)
 *    16  u64 body checksum: XXH3-64 of bytes [64, total)
 *    24  u32 nmeta   28 u32 nperf   32 u32 ncols   36 u32 flags (bit 0: has batch)
 *    40  u64 nrows   48 u64 data offset (first column buffer, 64-aligned)
 *    56  u64 header checksum: XXH3-64 of bytes [0, 56)
 *   body
 *    64  u64 task id, u32 stage index, u32 zero
 *    80  nmeta x { u32 key length, u32 value length, key, value } (no NULs),
 *        then zeros to a multiple of 8
 *        nperf x 112 bytes { char stage[64] NUL-padded, f64 process_s,
 *                            f64 idle_s, u64 items_in, items_out,
 *                            bytes_in, bytes_out }
 *        ncols x 96 bytes { char name[64] NUL-padded, u8 type, u8[3] zero,
 *                           u32 list_len, u64 data offset, u64 data length,
 *                           u64 offsets offset (strings, else 0) }
 *        zeros to the data offset
 *   column buffers, in column order, each at a 64-byte-aligned offset from
 *   the start of the buffer, zero padding between: a string column's
 *   offsets (u64[nrows + 1]) and then its bytes; other columns their values.
 *
 * Packing is deterministic: equal tasks give identical bytes.  The header
 * checksum is always verified; the body checksum unless WN_UNPACK_NOVERIFY.
 * Every count, length and offset is bounds-checked either way, so a
 * corrupt or hostile buffer fails with a message instead of crashing. */

#define WN_TASK_WIRE_VERSION 1
#define WN_TASK_WIRE_ALIGN 64

/* Bytes wn_task_pack writes: always a multiple of 64 (0 for NULL). */
size_t wn_task_packed_size(const struct wn_task *task);

/* Packs into buf[0 .. wn_task_packed_size), len >= that.  The caller owns
 * buf, so a sender can reuse one buffer; give it 64-byte alignment
 * (posix_memalign) so a receiver's view columns are SIMD-aligned.  Fails
 * when the batch's columns disagree on nrows (EINVAL) or len is too
 * small (ENOBUFS). */
int wn_task_pack(const struct wn_task *task, void *buf, size_t len, wn_error_t *err);

/* Allocates a 64-byte-aligned buffer (free() it) and packs into it. */
int wn_task_pack_alloc(const struct wn_task *task, void **buf, size_t *len, wn_error_t *err);

enum wn_unpack_flags {
    /* Column buffers point into buf instead of being copied: buf must stay
     * valid and unchanged while the task (or its batch) lives.  Needs buf
     * 64-byte aligned; otherwise the columns are silently copied (check with
     * wn_col_is_view).  Metadata and perf records are always copied. */
    WN_UNPACK_VIEW = 1u << 0,
    /* Skip the body checksum (trusted local buffers).  Structure is still
     * checked, so a bad buffer fails or yields a valid task, never a crash. */
    WN_UNPACK_NOVERIFY = 1u << 1,
    /* On success buf belongs to the task (it must come from malloc or
     * posix_memalign): its batch frees it when destroyed or made owned
     * (wn_batch_make_owned), and unpack frees it at once when no column
     * points into it.  So the buffer follows the batch even when a stage
     * moves the batch to another task.  On failure the caller keeps buf. */
    WN_UNPACK_TAKE_BUF = 1u << 2,
};

/* Reads a packed task.  len must be the exact packed length (the total in
 * the header).  Fails with EBADMSG (corrupt or truncated buffer; err says
 * what and where), EINVAL (unknown flags) or ENOMEM. */
int wn_task_unpack(const void *buf, size_t len, int flags, struct wn_task **out, wn_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_TASK_H */
