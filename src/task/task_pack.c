/* task_pack.c - the task wire format (layout in winnow/task.h).
 *
 * One walker, layout(), both sizes and writes a task, so packed_size and
 * pack cannot disagree.  The reader trusts nothing: each count, length and
 * offset is checked against what is left of the buffer before it is used,
 * with overflow-safe arithmetic (compare n against len - off, never
 * off + n against len), and string offsets are checked row by row, because
 * a view column hands them to wn_col_str later without further checks. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "winnow/error.h"
#include "winnow/task.h"
#include "task/task_impl.h"

#define MAGIC "WNTK"
#define HDR_LEN 64u
#define TASK_LEN 16u
#define PERF_LEN 112u
#define DESC_LEN 96u
#define ALIGN WN_TASK_WIRE_ALIGN
#define FLAG_HAS_BATCH 1u

/* header fields */
enum {
    H_MAGIC = 0,
    H_VERSION = 4,
    H_HDR_LEN = 6,
    H_TOTAL = 8,
    H_BODY_SUM = 16,
    H_NMETA = 24,
    H_NPERF = 28,
    H_NCOLS = 32,
    H_FLAGS = 36,
    H_NROWS = 40,
    H_DATA_OFF = 48,
    H_HDR_SUM = 56,
};

/* column descriptor fields */
enum {
    D_NAME = 0,
    D_TYPE = 64,
    D_ZERO = 65,
    D_LIST_LEN = 68,
    D_DATA_OFF = 72,
    D_DATA_LEN = 80,
    D_OFFS_OFF = 88,
};

static uint64_t round_up(uint64_t n, uint64_t a)
{
    return (n + (a - 1)) & ~(a - 1);
}

/* Copies n bytes to buf + *off, zeroes the gap up to the next multiple of
 * 64 (so packing is deterministic), and advances *off past the gap. */
static void put_aligned(unsigned char *buf, uint64_t *off, const void *src, uint64_t n)
{
    uint64_t end = round_up(*off + n, ALIGN);
    if (buf) {
        if (n)
            memcpy(buf + *off, src, n);
        memset(buf + *off + n, 0, end - *off - n);
    }
    *off = end;
}

/* Lays the task out from offset HDR_LEN, writing it when buf is not NULL;
 * returns the total length and the offset of the first column buffer. */
static uint64_t layout(const struct wn_task *task, unsigned char *buf, uint64_t *data_off_out)
{
    uint64_t off = HDR_LEN;
    if (buf) {
        wn_st64_(buf + off, task->id);
        wn_st32_(buf + off + 8, task->stage_index);
        wn_st32_(buf + off + 12, 0);
    }
    off += TASK_LEN;

    for (uint32_t i = 0; i < task->nmeta; i++) {
        size_t klen = strlen(task->meta[i].key);
        size_t vlen = strlen(task->meta[i].value);
        if (buf) {
            wn_st32_(buf + off, (uint32_t)klen);
            wn_st32_(buf + off + 4, (uint32_t)vlen);
            memcpy(buf + off + 8, task->meta[i].key, klen);
            memcpy(buf + off + 8 + klen, task->meta[i].value, vlen);
        }
        off += 8 + klen + vlen;
    }
    uint64_t pad = round_up(off, 8) - off;
    if (buf)
        memset(buf + off, 0, pad);
    off += pad;

    for (uint32_t i = 0; i < task->nperf; i++) {
        const struct wn_stage_perf *pf = &task->perf[i];
        if (buf) {
            unsigned char *r = buf + off;
            size_t n = strnlen(pf->stage, sizeof(pf->stage) - 1);
            memset(r, 0, 64);
            memcpy(r, pf->stage, n);
            memcpy(r + 64, &pf->process_s, 8);
            memcpy(r + 72, &pf->idle_s, 8);
            wn_st64_(r + 80, pf->items_in);
            wn_st64_(r + 88, pf->items_out);
            wn_st64_(r + 96, pf->bytes_in);
            wn_st64_(r + 104, pf->bytes_out);
        }
        off += PERF_LEN;
    }

    const struct wn_batch *batch = task->batch;
    uint32_t ncols = wn_batch_ncols(batch);
    uint64_t desc_off = off;
    off += (uint64_t)ncols * DESC_LEN;
    uint64_t pos = round_up(off, ALIGN);
    if (buf)
        memset(buf + off, 0, pos - off);
    *data_off_out = pos;

    for (uint32_t c = 0; c < ncols; c++) {
        const struct wn_column *col = batch->cols[c];
        uint64_t offs_off = 0;
        if (col->type == WN_TYPE_STR) {
            offs_off = pos;
            put_aligned(buf, &pos, col->offsets, (col->nrows + 1) * 8);
        }
        uint64_t data_off = pos;
        put_aligned(buf, &pos, col->data, col->nbytes);
        if (buf) {
            unsigned char *d = buf + desc_off + (uint64_t)c * DESC_LEN;
            memset(d, 0, DESC_LEN);
            memcpy(d + D_NAME, col->name, strnlen(col->name, WN_NAME_MAX));
            d[D_TYPE] = (unsigned char)col->type;
            wn_st32_(d + D_LIST_LEN, col->list_len);
            wn_st64_(d + D_DATA_OFF, data_off);
            wn_st64_(d + D_DATA_LEN, col->nbytes);
            wn_st64_(d + D_OFFS_OFF, offs_off);
        }
    }
    return pos;
}

size_t wn_task_packed_size(const struct wn_task *task)
{
    uint64_t data_off;
    return task ? (size_t)layout(task, NULL, &data_off) : 0;
}

/* Writes a validated task of `total` packed bytes into buf. */
static void pack_into(const struct wn_task *task, unsigned char *p, uint64_t total)
{
    uint64_t data_off;
    layout(task, p, &data_off);
    uint16_t version = WN_TASK_WIRE_VERSION, hdr_len = HDR_LEN;
    memcpy(p + H_MAGIC, MAGIC, 4);
    memcpy(p + H_VERSION, &version, 2);
    memcpy(p + H_HDR_LEN, &hdr_len, 2);
    wn_st64_(p + H_TOTAL, total);
    wn_st32_(p + H_NMETA, task->nmeta);
    wn_st32_(p + H_NPERF, task->nperf);
    wn_st32_(p + H_NCOLS, wn_batch_ncols(task->batch));
    wn_st32_(p + H_FLAGS, task->batch ? FLAG_HAS_BATCH : 0);
    wn_st64_(p + H_NROWS, wn_batch_nrows(task->batch));
    wn_st64_(p + H_DATA_OFF, data_off);
    wn_st64_(p + H_BODY_SUM, XXH3_64bits(p + HDR_LEN, total - HDR_LEN));
    wn_st64_(p + H_HDR_SUM, XXH3_64bits(p, H_HDR_SUM));
}

int wn_task_pack(const struct wn_task *task, void *buf, size_t len, wn_error_t *err)
{
    if (!task || !buf) {
        errno = EINVAL;
        return wn_errprintf(err, "pack: no task or no buffer");
    }
    if (wn_batch_validate(task->batch, err) < 0)
        return wn_errprefix(err, "pack: task %016llx", (unsigned long long)task->id);
    uint64_t data_off, total = layout(task, NULL, &data_off);
    if (len < total) {
        errno = ENOBUFS;
        return wn_errprintf(err,
                            "pack: a buffer of %zu bytes is too small "
                            "for task %016llx (%llu bytes)",
                            len, (unsigned long long)task->id, (unsigned long long)total);
    }
    pack_into(task, buf, total);
    return 0;
}

int wn_task_pack_alloc(const struct wn_task *task, void **buf, size_t *len, wn_error_t *err)
{
    if (!task || !buf || !len) {
        errno = EINVAL;
        return wn_errprintf(err, "pack: no task or no place for the buffer");
    }
    if (wn_batch_validate(task->batch, err) < 0)
        return wn_errprefix(err, "pack: task %016llx", (unsigned long long)task->id);
    uint64_t data_off, total = layout(task, NULL, &data_off);
    void *p;
    if (total > SIZE_MAX || posix_memalign(&p, ALIGN, (size_t)total) != 0) {
        errno = ENOMEM;
        return wn_errprintf(err, "pack: out of memory for %llu bytes", (unsigned long long)total);
    }
    pack_into(task, p, total);
    *buf = p;
    *len = (size_t)total;
    return 0;
}

/* Every structural failure: EBADMSG and a message naming what is wrong. */
__attribute__((format(printf, 2, 3))) static int bad(wn_error_t *err, const char *fmt, ...)
{
    char text[WN_ERROR_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    errno = EBADMSG;
    return wn_errprintf(err, "task buffer: %s", text);
}

/* Reads metadata entries and perf records from *off on. */
static int read_meta_perf(const unsigned char *p, uint64_t len, uint64_t *off, uint32_t nmeta,
                          uint32_t nperf, struct wn_task *task, wn_error_t *err)
{
    char key[WN_META_KEY_MAX + 1];
    for (uint32_t i = 0; i < nmeta; i++) {
        if (len - *off < 8)
            return bad(err, "metadata entry %u extends past end", i);
        uint64_t klen = wn_ld32_(p + *off), vlen = wn_ld32_(p + *off + 4);
        *off += 8;
        if (klen + vlen > len - *off)
            return bad(err, "metadata entry %u extends past end", i);
        const unsigned char *k = p + *off, *v = k + klen;
        *off += klen + vlen;
        if (klen == 0 || klen > WN_META_KEY_MAX)
            return bad(err, "metadata entry %u: key length %llu", i, (unsigned long long)klen);
        if (memchr(k, 0, klen) || memchr(v, 0, vlen))
            return bad(err, "metadata entry %u contains a NUL byte", i);
        memcpy(key, k, klen);
        key[klen] = '\0';
        if (wn_task_meta_get(task, key))
            return bad(err, "duplicate metadata key '%s'", key);
        char *value = malloc(vlen + 1);
        if (!value) {
            errno = ENOMEM;
            return wn_errprintf(err, "task buffer: out of memory");
        }
        memcpy(value, v, vlen);
        value[vlen] = '\0';
        int rc = wn_task_meta_set(task, key, value, err);
        free(value);
        if (rc < 0)
            return -1;
    }
    uint64_t aligned = round_up(*off, 8);
    if (aligned > len)
        return bad(err, "metadata extends past end");
    *off = aligned;

    if (nperf > (len - *off) / PERF_LEN)
        return bad(err, "%u perf records extend past end", nperf);
    for (uint32_t i = 0; i < nperf; i++, *off += PERF_LEN) {
        const unsigned char *r = p + *off;
        struct wn_stage_perf pf;
        if (!memchr(r, 0, 64))
            return bad(err, "perf record %u: stage name is not terminated", i);
        memcpy(pf.stage, r, 64);
        memcpy(&pf.process_s, r + 64, 8);
        memcpy(&pf.idle_s, r + 72, 8);
        pf.items_in = wn_ld64_(r + 80);
        pf.items_out = wn_ld64_(r + 88);
        pf.bytes_in = wn_ld64_(r + 96);
        pf.bytes_out = wn_ld64_(r + 104);
        if (wn_task_perf_add(task, &pf, err) < 0)
            return -1;
    }
    return 0;
}

/* Checks one column descriptor and its buffers; *pos is where the previous
 * buffer ended (buffers must come in order, without overlap). */
static int read_column(const unsigned char *p, uint64_t len, const unsigned char *d, uint32_t c,
                       uint64_t nrows, int view, uint64_t *pos, struct wn_batch *batch,
                       wn_error_t *err)
{
    if (!memchr(d + D_NAME, 0, WN_NAME_MAX + 1))
        return bad(err, "column %u: name is not terminated", c);
    const char *name = (const char *)d + D_NAME;
    enum wn_type type = (enum wn_type)d[D_TYPE];
    uint32_t list_len = wn_ld32_(d + D_LIST_LEN);
    uint64_t doff = wn_ld64_(d + D_DATA_OFF), dlen = wn_ld64_(d + D_DATA_LEN);
    uint64_t ooff = wn_ld64_(d + D_OFFS_OFF);
    if (d[D_ZERO] || d[D_ZERO + 1] || d[D_ZERO + 2])
        return bad(err, "column '%s': reserved bytes are not zero", name);

    wn_error_t e;
    struct wn_column *col = wn_batch_add_column(batch, name, type, list_len, &e);
    if (!col)
        return errno == ENOMEM ? wn_errprintf(err, "%s", e.text)
                               : bad(err, "column %u: %s", c, e.text);
    if (col->list_len != list_len) /* add_column also accepts 0 for 1 */
        return bad(err, "column '%s': list length %u for %s", name, list_len, wn_type_name(type));

    const unsigned char *offs = NULL;
    if (type == WN_TYPE_STR) {
        if (ooff % ALIGN)
            return bad(err, "column '%s': offsets at %llu are not aligned", name,
                       (unsigned long long)ooff);
        if (ooff < *pos)
            return bad(err,
                       "column '%s': offsets at %llu overlap what ends "
                       "at %llu",
                       name, (unsigned long long)ooff, (unsigned long long)*pos);
        if (ooff > len || nrows >= (len - ooff) / 8)
            return bad(err,
                       "column '%s' offsets extend past end (%llu rows "
                       "at %llu, buffer %llu bytes)",
                       name, (unsigned long long)nrows, (unsigned long long)ooff,
                       (unsigned long long)len);
        offs = p + ooff;
        *pos = ooff + (nrows + 1) * 8;
    } else {
        uint64_t want;
        if (ooff != 0)
            return bad(err, "column '%s': a %s column has string offsets", name,
                       wn_type_name(type));
        if (__builtin_mul_overflow(nrows, wn_col_row_bytes_(col), &want) || want != dlen)
            return bad(err,
                       "column '%s': %llu data bytes, but %llu rows of "
                       "%s[%u] need %llu",
                       name, (unsigned long long)dlen, (unsigned long long)nrows,
                       wn_type_name(type), list_len, (unsigned long long)want);
    }
    if (doff % ALIGN)
        return bad(err, "column '%s': data at %llu is not aligned", name, (unsigned long long)doff);
    if (doff < *pos)
        return bad(err, "column '%s': data at %llu overlaps what ends at %llu", name,
                   (unsigned long long)doff, (unsigned long long)*pos);
    if (doff > len || dlen > len - doff)
        return bad(err, "column '%s' extends past end (%llu + %llu > %llu)", name,
                   (unsigned long long)doff, (unsigned long long)dlen, (unsigned long long)len);
    *pos = doff + dlen;

    if (offs) {
        uint64_t prev = wn_ld64_(offs);
        if (prev != 0)
            return bad(err, "column '%s': string offsets start at %llu, not 0", name,
                       (unsigned long long)prev);
        for (uint64_t r = 1; r <= nrows; r++) {
            uint64_t o = wn_ld64_(offs + r * 8);
            if (o < prev)
                return bad(err,
                           "column '%s': string offsets decrease at row "
                           "%llu",
                           name, (unsigned long long)(r - 1));
            prev = o;
        }
        if (prev != dlen)
            return bad(err,
                       "column '%s': strings end at %llu but the column "
                       "has %llu bytes",
                       name, (unsigned long long)prev, (unsigned long long)dlen);
    }
    if (view) {
        wn_col_attach_view_(col, p + doff, dlen, offs, nrows);
        return 0;
    }
    return wn_col_fill_copy_(col, p + doff, dlen, offs, nrows, err);
}

int wn_task_unpack(const void *buf, size_t len, int flags, struct wn_task **out, wn_error_t *err)
{
    const int known = WN_UNPACK_VIEW | WN_UNPACK_NOVERIFY | WN_UNPACK_TAKE_BUF;
    if (!out || (!buf && len) || (flags & ~known)) {
        errno = EINVAL;
        return wn_errprintf(err, "unpack: no buffer, no output or bad flags");
    }
    *out = NULL;
    const unsigned char *p = buf;
    if (len < HDR_LEN)
        return bad(err, "truncated: %zu bytes is shorter than the header", len);
    if (memcmp(p + H_MAGIC, MAGIC, 4) != 0)
        return bad(err, "bad magic: not a winnow task");
    if (wn_ld64_(p + H_HDR_SUM) != XXH3_64bits(p, H_HDR_SUM))
        return bad(err, "header checksum mismatch");
    uint16_t version, hdr_len;
    memcpy(&version, p + H_VERSION, 2);
    memcpy(&hdr_len, p + H_HDR_LEN, 2);
    if (version != WN_TASK_WIRE_VERSION)
        return bad(err, "format version %u, this build reads version %d", version,
                   WN_TASK_WIRE_VERSION);
    if (hdr_len != HDR_LEN)
        return bad(err, "header length %u, expected %u", hdr_len, HDR_LEN);
    uint64_t total = wn_ld64_(p + H_TOTAL);
    if (total != len)
        return bad(err,
                   "the header says %llu bytes but the buffer has %zu "
                   "(truncated?)",
                   (unsigned long long)total, len);
    if (total % ALIGN)
        return bad(err, "length %llu is not a multiple of %d", (unsigned long long)total, ALIGN);
    uint32_t nmeta = wn_ld32_(p + H_NMETA), nperf = wn_ld32_(p + H_NPERF);
    uint32_t ncols = wn_ld32_(p + H_NCOLS), hflags = wn_ld32_(p + H_FLAGS);
    uint64_t nrows = wn_ld64_(p + H_NROWS);
    uint64_t data_off = wn_ld64_(p + H_DATA_OFF);
    if (hflags & ~FLAG_HAS_BATCH)
        return bad(err, "unknown flags 0x%x", hflags);
    if (nmeta > WN_TASK_MAX_META || ncols > WN_BATCH_MAX_COLS)
        return bad(err, "%u metadata keys, %u columns: too many", nmeta, ncols);
    if ((!(hflags & FLAG_HAS_BATCH) && ncols) || (!ncols && nrows))
        return bad(err, "%llu rows in %u columns%s", (unsigned long long)nrows, ncols,
                   hflags & FLAG_HAS_BATCH ? "" : " without a batch");
    if (!(flags & WN_UNPACK_NOVERIFY)) {
        uint64_t want = wn_ld64_(p + H_BODY_SUM);
        uint64_t got = XXH3_64bits(p + HDR_LEN, total - HDR_LEN);
        if (got != want)
            return bad(err,
                       "checksum mismatch: the body hashes to %016llx, "
                       "the header says %016llx",
                       (unsigned long long)got, (unsigned long long)want);
    }

    uint64_t off = HDR_LEN;
    if (len - off < TASK_LEN)
        return bad(err, "task fields extend past end");
    if (wn_ld32_(p + off + 12) != 0)
        return bad(err, "reserved task field is not zero");
    struct wn_task *task = wn_task_create(wn_ld64_(p + off), wn_ld32_(p + off + 8), NULL);
    if (!task) {
        errno = ENOMEM;
        return wn_errprintf(err, "unpack: out of memory");
    }
    off += TASK_LEN;
    if (read_meta_perf(p, len, &off, nmeta, nperf, task, err) < 0)
        goto fail;

    if (ncols > (len - off) / DESC_LEN) {
        bad(err, "%u column descriptors extend past end", ncols);
        goto fail;
    }
    uint64_t desc_off = off;
    off += (uint64_t)ncols * DESC_LEN;
    if (data_off != round_up(off, ALIGN)) {
        bad(err, "data offset %llu does not follow the descriptors (%llu)",
            (unsigned long long)data_off, (unsigned long long)round_up(off, ALIGN));
        goto fail;
    }
    /* Views need the buffer's own alignment to carry over to the columns;
     * elsewhere copy (the slow path the header promises). */
    int view = (flags & WN_UNPACK_VIEW) && ((uintptr_t)p % ALIGN) == 0;
    if (hflags & FLAG_HAS_BATCH) {
        if (!(task->batch = wn_batch_create())) {
            errno = ENOMEM;
            wn_errprintf(err, "unpack: out of memory");
            goto fail;
        }
    }
    uint64_t pos = data_off;
    for (uint32_t c = 0; c < ncols; c++) {
        if (read_column(p, len, p + desc_off + (uint64_t)c * DESC_LEN, c, nrows, view, &pos,
                        task->batch, err) < 0)
            goto fail;
    }
    if (round_up(pos, ALIGN) != total) {
        bad(err, "the columns end at %llu but the buffer has %llu bytes", (unsigned long long)pos,
            (unsigned long long)total);
        goto fail;
    }
    if (flags & WN_UNPACK_TAKE_BUF) {
        if (view && ncols > 0)
            task->batch->backing = (void *)buf;
        else
            free((void *)buf);
    }
    *out = task;
    return 0;
fail:;
    int saved = errno;
    wn_task_destroy(task); /* view columns do not free; buf stays the caller's */
    errno = saved;
    return -1;
}
