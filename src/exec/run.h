/* run.h - one run of a pipeline as a rank sees it: what the planner and
 * the actor share (the event loop, the stages, the configuration, where
 * every rank is).  exec.c fills it; nothing in it changes during the run.
 */
#ifndef WN_RUN_H
#define WN_RUN_H

#include <mpi.h>
#include <stdint.h>

#include "config/config.h"
#include "gpu/layout.h"
#include "stage/stage_impl.h"
#include "exec/arena.h"
#include "exec/loop.h"
#include "exec/options.h"
#include "exec/store.h"

struct wn_run {
    struct wn_loop *loop;
    int rank, size; /* the loop's */
    /* Shuffle rounds and cliques make their communicators from this
     * one: the loop probes its own for any tag, which would take
     * MPI_Comm_create_group's own messages. */
    MPI_Comm group_comm;
    struct wn_place *places; /* every rank's place (all ranks have it) */
    struct wn_store *store;  /* the payloads this rank holds */
    struct wn_arena *arena;  /* node-shared payload memory, or NULL */
    struct wn_stage **stages;
    uint32_t nstages;
    const struct wn_pipeline_config *cfg;
    const struct wn_run_options *opts;
    double epoch; /* run start, CLOCK_REALTIME of rank 0 */
    /* What executor.memory_limit, or what the allocation gives, leaves
     * for data (options.h, memory_data; budget.h); 0 when none is known. */
    uint64_t memory_limit;
};

/* Seconds since the run started.  The wall clock, not MPI_Wtime: times
 * from all ranks share rank 0's epoch so the trace lines up (on one node
 * exactly, across nodes as well as NTP). */
static inline double wn_run_now(const struct wn_run *run)
{
    return wn_clock_wall() - run->epoch;
}

#endif /* WN_RUN_H */
