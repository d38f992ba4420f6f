/* ckpt.h - a run's checkpoint directory (doc/guide.md, section 4):
 *
 *   DIR/manifest.h5                     pipeline text, hash, stage table
 *   DIR/journal                         rank 0's run journal (journal.h)
 *   DIR/stages/NN-NAME/part-BBBBBBBB.h5 one file per finished batch
 *                                       (part.h), written by its actor
 *
 * A run makes one part file per batch of every stage (for a shuffle stage:
 * per partition of each round), plus two.
 *
 * Journal records (JSON objects, "ev" says which):
 *   run         pipeline, hash, ranks, stages (names)
 *   stage       stage, name, batches, tasks, order, layout (when set);
 *               streaming journals a stage's batches before its record
 *   batch       stage, batch, sum (the part file's checksum), outputs
 *   stage_end   stage, outputs
 *   bad         stage, batch (its part file failed its check: recompute)
 *   finish      status
 */
#ifndef WN_CKPT_H
#define WN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "winnow/error.h"

struct wn_ckpt;

/* What an earlier run of the same checkpoint finished, from its journal. */
struct wn_ckpt_batch {
    uint64_t batch;
    uint64_t sum;  /* the part file's checksum */
    char *rejects; /* its rejects' summary (rejects.h), or NULL */
};

struct wn_ckpt_stage {
    int begun, ended;
    uint64_t nbatches, ntasks;
    uint64_t layout;            /* the stage's wn_stage_set_layout key (0: none) */
    int batch_order;            /* its batches were cut from inputs in batch
                                   order (1), or in id order (0: a journal
                                   of an earlier winnow) */
    struct wn_ckpt_batch *done; /* finished batches, in journal order */
    size_t ndone, cap;
};

/* Rank 0: makes DIR and its stage folders, reads an existing journal
 * (torn tail cut), refuses a journal of another pipeline (hash) unless
 * force, records the run's input listing (DIR/inputs) or, resuming,
 * refuses one that differs from the recorded one (force or not), writes
 * the manifest and appends the run record.  *resumed says whether an
 * earlier run had recorded anything. */
struct wn_inputs;
struct wn_ckpt *wn_ckpt_open(const char *dir, const struct wn_pipeline_config *cfg,
                             const struct wn_inputs *inputs, int nranks, int force, int *resumed,
                             wn_error_t *err);
void wn_ckpt_close(struct wn_ckpt *ck);

/* The earlier run's state of stage s (NULL when out of range). */
const struct wn_ckpt_stage *wn_ckpt_stage(const struct wn_ckpt *ck, uint32_t s);
/* Forgets batch b of stage s (its file proved bad): it is run again. */
void wn_ckpt_forget(struct wn_ckpt *ck, uint32_t s, uint64_t b);

/* DIR/stages/NN-NAME/part-BBBBBBBB.h5 into buf; any rank may call it. */
int wn_ckpt_part_path(char *buf, size_t len, const char *dir, uint32_t stage,
                      const char *stage_name, uint64_t batch);

/* Journal records; wn_ckpt_sync makes them durable. */
int wn_ckpt_stage_begin(struct wn_ckpt *ck, uint32_t s, uint64_t nbatches, uint64_t ntasks,
                        uint64_t layout, wn_error_t *err);
/* rejects: the batch's rejects summary (rejects.h), or NULL: a resume
 * that loads the batch counts them again. */
int wn_ckpt_batch_done(struct wn_ckpt *ck, uint32_t s, uint64_t batch, uint64_t sum,
                       uint64_t noutputs, const char *rejects, wn_error_t *err);
int wn_ckpt_stage_end(struct wn_ckpt *ck, uint32_t s, uint64_t noutputs, wn_error_t *err);
int wn_ckpt_finish(struct wn_ckpt *ck, int status, wn_error_t *err);
/* Records that batch b of stage s has a bad part file (synced): a later
 * run recomputes it. */
int wn_ckpt_bad(struct wn_ckpt *ck, uint32_t s, uint64_t b, wn_error_t *err);
int wn_ckpt_sync(struct wn_ckpt *ck, wn_error_t *err);

#endif /* WN_CKPT_H */
