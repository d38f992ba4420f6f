/* plan.h - how many actors a stage gets, on which ranks, and how its
 * tasks are cut into batches.  Pure functions of the layout and the
 * stage's settings, so `winnow plan` prints exactly what `run` does and
 * the unit tests can drive every case from a table. */
#ifndef WN_PLAN_H
#define WN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "gpu/layout.h"
#include "winnow/error.h"

/* Streaming (executor.mode): the end (exclusive) of the segment of
 * stages that starts at stage head and runs at once.  Stage s joins the
 * segment of s - 1 unless either is a shuffle or a clique (barriers: all
 * of a stage's inputs before any of its outputs) or s sets
 * num_output_tasks (an even split needs the count of all of its inputs).
 * head + 1 when not streaming. */
struct wn_stage;
uint32_t wn_plan_segment_end(struct wn_stage *const *stages, uint32_t nstages, uint32_t head,
                             int streaming);
/* The longest segment of the pipeline (1 when not streaming). */
uint32_t wn_plan_longest_segment(struct wn_stage *const *stages, uint32_t nstages, int streaming);
/* Batches a rank of `cpus` CPUs runs at once: 1 in bulk mode; streaming,
 * as many as the least resources.cpus of any stage fits, at most
 * WN_PLAN_THREADS_MAX (a stage that waits more than it computes asks for
 * a fraction of a CPU). */
#define WN_PLAN_THREADS_MAX 16
int wn_plan_threads(int cpus, struct wn_stage *const *stages, uint32_t nstages, int streaming);

struct wn_actor_request {
    const char *stage;    /* for messages */
    double cpus, gpus;    /* per actor */
    int num_workers;      /* cap, 0 = none */
    uint64_t ntasks;      /* input tasks of the stage */
    int batch_size;       /* >= 1 */
    int num_output_tasks; /* > 0: even split into that many batches */
    int raft;             /* clique: one batch per actor */
    double reserved_cpus, reserved_gpus;
    int ignore_head_node;
    int planner_rank; /* rank 0; hosts actors only when alone */
};

/* Picks the actor ranks of a stage:
 *   nactors = max(1, min(batches, free_cpus / cpus, free_gpus / gpus,
 *                        eligible ranks, num_workers))
 * over the eligible ranks (not the planner unless it is alone, not node 0
 * with ignore_head_node, only GPU-bound ranks when gpus > 0), after the
 * reservations.  GPUs are counted per device, not per rank: ranks of a
 * node bound to the same GPU share it, and one GPU hosts one actor (or
 * floor(1 / gpus) actors for a fraction).  Ranks holding the most input bytes (bytes_on_rank, may be
 * NULL) come first, then rank order.  Fills ranks[0..*nactors) (ranks has
 * room for nplaces).  Fails, naming the short resource, when not even one
 * actor fits. */
int wn_plan_actors(const struct wn_place *places, int nplaces, const struct wn_actor_request *req,
                   const uint64_t *bytes_on_rank, int *ranks, int *nactors, wn_error_t *err);

/* Number of batches for ntasks tasks: ceil(ntasks / batch_size), or
 * num_output_tasks when > 0 (then some batches may be empty). */
uint64_t wn_plan_nbatches(uint64_t ntasks, int batch_size, int num_output_tasks);

/* First task of batch b (b in 0..nbatches; b == nbatches gives ntasks):
 * batch_size slices, or an even split into contiguous chunks whose first
 * (ntasks mod k) are one longer. */
uint64_t wn_plan_batch_start(uint64_t ntasks, int batch_size, int num_output_tasks, uint64_t b);

#endif /* WN_PLAN_H */
