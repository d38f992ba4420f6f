/* rejects.h - records a stage leaves out (wn_stage_reject in
 * winnow/stage.h): from the batch that found them to the pipeline's
 * rejects file, and their counts per reason to rank 0 (runner-internal).
 *
 *   on the actor   wn_rejects_begin before process_batch; the stage calls
 *                  wn_stage_reject; after a batch that succeeded,
 *                  wn_rejects_commit appends the batch's records to the
 *                  file with one write (O_APPEND, so actors sharing the
 *                  file never interleave) and sums them up for the batch's
 *                  RESULT; after one that failed, wn_rejects_discard
 *                  (the batch runs again, and its records come again).
 *   the summary    a JSON object {"counts": {REASON: N, ...}, "first":
 *                  "FILE:LINE: ERROR"} per batch: in the RESULT message,
 *                  in the batch's journal record, and added up per stage
 *                  on rank 0 (struct wn_reject_counts).
 *   the file       one JSON line per record: {"file", "line", "reason",
 *                  "error"}.  A fresh run starts a new file
 *                  (wn_rejects_reset); a run that completed sorts it by
 *                  file and line, each line once (wn_rejects_sort), so it
 *                  does not depend on which actor read what first.  A
 *                  batch that ran before but was not journaled (a run
 *                  killed, then resumed) finds its first record in the file
 *                  and appends nothing again: records are the same bytes
 *                  every run.
 */
#ifndef WN_REJECTS_H
#define WN_REJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

struct wn_stage;

void wn_rejects_begin(struct wn_stage *st);
/* Appends the batch's records to path and puts their summary (malloc'd,
 * NUL-terminated) in *summary, or NULL when there were none. */
int wn_rejects_commit(struct wn_stage *st, const char *path, char **summary, wn_error_t *err);
void wn_rejects_discard(struct wn_stage *st);
void wn_rejects_free(struct wn_stage *st);

/* Rank 0, before any work of a run that does not resume: no old file. */
int wn_rejects_reset(const char *path, wn_error_t *err);
/* Rank 0, after a run that completed.  0, or -1 with errno (ENOENT: no
 * file; the file is left as it was on failure). */
int wn_rejects_sort(const char *path);

/* Rank 0: a stage's rejects, added up from the batches' summaries. */
struct wn_reject_counts {
    uint64_t total;
    size_t n; /* reasons */
    char **reason;
    uint64_t *count;
    char *first; /* of the batch with the smallest number */
    uint64_t first_batch;
};

/* Adds a batch's summary (a JSON text as wn_rejects_commit makes it). */
int wn_reject_counts_add(struct wn_reject_counts *c, const char *summary, uint64_t batch,
                         wn_error_t *err);
void wn_reject_counts_free(struct wn_reject_counts *c);
/* "2 invalid JSON, 1 no field 'text'" into buf (the largest first). */
void wn_reject_counts_text(const struct wn_reject_counts *c, char *buf, size_t len);

#endif /* WN_REJECTS_H */
