/* store.h - the payloads a rank holds: packed tasks by id.
 *
 * A task's payload stays on the rank that produced it (doc/design-notes.md,
 * "Executor internals"); the planner only moves descriptors.  The store is shared by a rank's
 * main loop (serving pulls, freeing) and its compute thread (adding
 * outputs), hence the lock.  Entries are reference counted so a buffer
 * being sent to a peer outlives a concurrent free.
 */
#ifndef WN_STORE_H
#define WN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

struct wn_store;

struct wn_payload {
    uint64_t id;
    uint32_t stage_index; /* the stage that produced it */
    void *buf;            /* packed task (64-byte aligned, malloc'd) */
    size_t len;
    /* private */
    int refs;
    int in_arena;       /* buf lies in the node arena: not freed */
    int spilled;        /* its bytes are in the stage's spill file ... */
    int dropped;        /* out of the table: the last release frees it */
    uint64_t spill_off; /* ... at this offset; buf is NULL until read */
};

struct wn_store *wn_store_create(void);
void wn_store_destroy(struct wn_store *s);

/* Spilling (off until this is called): a heap payload put while the
 * heap payloads held in memory would pass BUDGET bytes goes to a spill
 * file in DIR (spill.h), one per stage, instead.  wn_store_get reads it
 * back and checks it; the copy is freed when the last reader releases
 * it, and the file goes when the stage's last spilled payload is
 * dropped.  A spill file that cannot be written is warned about once and
 * the payloads stay in memory. */
void wn_store_set_spill(struct wn_store *s, const char *dir, int rank, uint64_t budget);

struct wn_store_spill_stats {
    uint64_t bytes_spilled;   /* payload bytes written to spill files */
    uint64_t bytes_read_back; /* ... and read back from them */
    uint64_t bytes_on_disk;   /* the spill files' size now */
};
void wn_store_spill_stats(struct wn_store *s, struct wn_store_spill_stats *st);

/* Adds a payload; the store owns buf from now on.  An id already present
 * is replaced (a retried batch makes the same ids). */
int wn_store_put(struct wn_store *s, uint64_t id, uint32_t stage_index, void *buf, size_t len);
/* The same for a buffer in the node arena (arena.h), which the store does
 * not free. */
int wn_store_put_arena(struct wn_store *s, uint64_t id, uint32_t stage_index, void *buf,
                       size_t len);

/* A referenced payload (release it with wn_store_release), or NULL: not
 * held (err empty), or a spilled payload that cannot be read back or
 * fails its checksum (err says which file and why; it is never used). */
struct wn_payload *wn_store_get(struct wn_store *s, uint64_t id, wn_error_t *err);
void wn_store_release(struct wn_store *s, struct wn_payload *p);

/* Drops one payload / all payloads a stage produced. */
void wn_store_drop(struct wn_store *s, uint64_t id);
void wn_store_drop_stage(struct wn_store *s, uint32_t stage_index);

/* Payload count and bytes held (for stats and memory checks). */
void wn_store_usage(struct wn_store *s, uint64_t *count, uint64_t *bytes);

#endif /* WN_STORE_H */
