/* journal.h - the run journal: rank 0's append-only record of a run.
 *
 * Each record is a JSON object (one event: run started, stage started, a
 * batch's outputs written to a part file, stage finished, run ended) in a
 * frame
 *
 *   "WNJ1"  u32 length  u64 XXH3-64(json)  json bytes
 *
 * (little-endian).  Appends go straight to the file; wn_journal_sync()
 * makes them durable (the planner calls it at batch and stage
 * boundaries).  Reading stops at the first frame that is short or whose
 * checksum does not match -- a torn tail from a crash, or damage -- and
 * reports how many bytes were good; reopening for append cuts the file
 * there, so new records follow the last good one.  What was lost is
 * recomputed on resume, never used.
 */
#ifndef WN_JOURNAL_H
#define WN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "winnow/error.h"

struct wn_journal;

/* Opens path for appending, creating it if needed; an existing file is
 * first cut after its last good record (*kept_records may be NULL). */
struct wn_journal *wn_journal_open(const char *path, uint64_t *kept_records,
                                   wn_error_t *err);
/* Appends one record (a JSON object). */
int wn_journal_append(struct wn_journal *j, const json_t *record, wn_error_t *err);
/* fsync: what was appended survives a crash. */
int wn_journal_sync(struct wn_journal *j, wn_error_t *err);
void wn_journal_close(struct wn_journal *j);

/* Calls fn for each good record in order (a JSON object, borrowed);
 * stops early when fn returns non-zero (then returns that).  *good_bytes
 * and *torn (may be NULL) say where the good records end and whether
 * anything followed them.  A missing file has no records. */
int wn_journal_read(const char *path, int (*fn)(const json_t *rec, void *arg), void *arg,
                    uint64_t *good_bytes, int *torn, wn_error_t *err);

#endif /* WN_JOURNAL_H */
