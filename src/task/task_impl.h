/* task_impl.h - the runner's private task helpers: what task_batch.c
 * (columns, batches) and task_pack.c (the wire format) share.  Not
 * installed; stages never see it. */
#ifndef WINNOW_TASK_IMPL_H
#define WINNOW_TASK_IMPL_H

#include <stdint.h>
#include <string.h>

#include "util/byteorder.h" /* the wire format's loads and stores */
#include "winnow/task.h"

/* A new empty column (name and type already checked by the caller), with
 * small aligned first buffers; NULL with ENOMEM. */
struct wn_column *wn_col_new_(const char *name, enum wn_type type, uint32_t list_len);
void wn_col_free_(struct wn_column *col);

/* Copy-on-write: a view column gets exactly sized buffers of its own. */
int wn_col_own_(struct wn_column *col, wn_error_t *err);

/* Room for nrows rows and (strings) nbytes bytes in total: exactly, or
 * at least doubling when !exact so repeated appends stay amortised O(1). */
int wn_col_reserve_(struct wn_column *col, uint64_t nrows, uint64_t nbytes, int exact,
                    wn_error_t *err);

/* Bytes per row of a fixed-width or list column. */
uint64_t wn_col_row_bytes_(const struct wn_column *col);

/* Replaces the (fresh, empty) column's own buffers by pointers into a
 * packed buffer.  The caller has bounds-checked everything, including
 * that offsets are valid and 8-byte aligned. */
void wn_col_attach_view_(struct wn_column *col, const void *data, uint64_t nbytes,
                         const void *offsets, uint64_t nrows);

/* Fills the (fresh, empty) column with copies, from possibly unaligned
 * source memory. */
int wn_col_fill_copy_(struct wn_column *col, const void *data, uint64_t nbytes, const void *offsets,
                      uint64_t nrows, wn_error_t *err);

#endif /* WINNOW_TASK_IMPL_H */
