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
 * recomputed on resume, never used: records after a damaged one are not
 * trusted (the damage may be anywhere in them), but reading counts them
 * (the next frames that check out), so that the loss can be told.  A
 * torn tail is one short last frame, with nothing whole after it.
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
struct wn_journal *wn_journal_open(const char *path, uint64_t *kept_records, wn_error_t *err);
/* Appends one record (a JSON object).  One that cannot be written whole
 * (a full disk: the message says how much room is left) is cut off
 * again: the journal stays as it was. */
int wn_journal_append(struct wn_journal *j, const json_t *record, wn_error_t *err);
/* fsync: what was appended survives a crash. */
int wn_journal_sync(struct wn_journal *j, wn_error_t *err);
void wn_journal_close(struct wn_journal *j);

/* Where the good records of a journal end, and what follows them. */
struct wn_journal_tail {
    uint64_t good_bytes; /* the good records end here */
    uint64_t good_records;
    uint64_t size;    /* the file's size: more than good_bytes when
                         something follows (torn or damaged) */
    uint64_t ignored; /* whole records after the first bad frame
                         (damage in the middle; 0 for a torn tail) */
};

/* Calls fn for each good record in order (a JSON object, borrowed);
 * stops early when fn returns non-zero (then returns that).  After a bad
 * frame, ignored_fn (may be NULL) is called for each whole record further
 * on, which are not trusted.  *tail (may be NULL) says where the good
 * records end and what followed them.  A missing file has no records. */
int wn_journal_read(const char *path, int (*fn)(const json_t *rec, void *arg), void *arg,
                    int (*ignored_fn)(const json_t *rec, void *arg), struct wn_journal_tail *tail,
                    wn_error_t *err);

#endif /* WN_JOURNAL_H */
