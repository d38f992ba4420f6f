/* planner_impl.h - private glue between the planner's files (rank 0):
 * its state and the functions one file calls in another.  Not installed;
 * nothing outside the planner includes it.
 *
 *   planner.c          the entry points (create, destroy, handle, poll),
 *                      queues, stage start, dispatch, results
 *   planner_end.c      resume from a checkpoint, stage end and the next
 *                      stage, collect (--results), finish, stop requests
 *                      (signal, `winnow halt`, the Slurm time limit)
 *   shuffle_round.c  a shuffle stage's rounds
 *   hang.c     what the planner waits for from each rank, and a
 *                      rank gone silent (heartbeat_timeout)
 */
#ifndef WN_PLANNER_IMPL_H
#define WN_PLANNER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"
#include "exec/planner/planner.h"
#include "exec/report.h"
#include "exec/run.h"
#include "exec/wire.h"
#include "exec/timelimit.h"

enum pstate { P_START, P_CLIQUE, P_NODE_SETUP, P_SETUP, P_RUN, P_END, P_COLLECT, P_FINISH,
              P_DONE };
enum bstate { B_PENDING, B_RUNNING, B_DONE, B_GIVEN_UP };
/* A shuffle stage's round: connect, insert, extract, close. */
enum shphase { SH_NEXT, SH_BEGIN, SH_INSERT, SH_LOAD, SH_EXTRACT, SH_END };

struct pbatch {
    uint64_t first, count;    /* slice of the stage's sorted inputs */
    int state;
    unsigned attempt;
    int actor;                /* rank running it */
    int last_failed_on;       /* rank of the last failure, -1 */
    int primary;              /* rank holding most of its input, -1 none */
    int load;                 /* done in an earlier run: load its part file */
    uint64_t sum;             /* that file's checksum */
};

struct queue {
    uint64_t *v;
    size_t head, n, cap;
};

struct wn_planner {
    struct wn_run *run;
    enum pstate state;
    uint32_t stage;
    int failed;               /* stop dispatching; the run fails */
    char fail_msg[1024];

    struct wn_desc *inputs, *outputs;
    size_t ninputs, noutputs, cap_inputs, cap_outputs;

    struct pbatch *batches;
    uint64_t nbatches, nfinished, nrunning;
    uint64_t tasks_finished;  /* inputs of finished batches (progress) */
    int *actors, nactors;
    int *outstanding;         /* per rank */
    struct queue *queues;     /* per owner rank, [size] = seeds/no owner */
    struct queue retry;
    int acks_pending;
    int *acks_from;           /* per rank: the acknowledgements awaited */
    int rotate;               /* fair start for dispatch */

    struct wn_stage_stats *stats;
    struct wn_trace_event *events;
    size_t nevents, cap_events;
    uint64_t planner_payload_bytes;
    uint32_t *peak_rss_mib;   /* per rank: the largest its results reported */
    struct wn_progress progress;

    struct wn_ckpt *ck;       /* the checkpoint, or NULL */
    int replay;               /* a finished stage whose outputs are only
                                 loaded (resume), -1 none */
    int journal_dirty;        /* records appended since the last sync */
    /* Part files still being written (their batches' results came with
     * part_pending): per stage, and in all.  A batch is journaled when its
     * DURABLE message comes; a stage's end once all of its are. */
    uint64_t *undurable, nundurable;
    uint64_t *undurable_on;   /* ... per rank writing them */
    uint64_t *stage_nout;     /* outputs of a stage that has ended */
    unsigned char *stage_ran; /* ... and whether it has */
    uint32_t ended_upto;      /* the next stage whose end to journal */

    /* A shuffle stage: batches [0, nextract) are its extracts (round *
     * nparts + partition: the checkpoint's batch numbers), [nextract,
     * nbatches) its inserts, run again each round.  Other stages:
     * nextract == nbatches. */
    int shuffle;
    uint32_t rounds, round, nparts;
    uint64_t nextract;
    enum shphase sh_phase;
    uint64_t sh_pending;      /* this phase's batches not yet done */
    int stopping;             /* drain, then stop (exit 3) */
    int halt_after;           /* stop once this stage has ended, -1 none */
    struct wn_timelimit limit;
    double next_limit_check;
    double next_halt_check;
    double stop_deadline;     /* when running batches are given up on */
    /* hang.c (wn_clock_mono times) */
    double hang_polled;       /* the last poll */
    double hang_check_at;     /* the next look at the ranks */

    struct wn_task **results; /* collected final tasks (--results) */
    size_t nresults_pending;
    double t_start;
};

/* planner.c */
int planner_q_push(struct queue *q, uint64_t b);
/* The run fails (the first reason is kept): no more batches are dispatched. */
void planner_fail_run(struct wn_planner *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int planner_cmp_desc(const void *a, const void *b);   /* by id, for qsort */
void planner_stage_stats_begin(struct wn_planner *p, uint64_t tasks_in);
void planner_assign(struct wn_planner *p, uint64_t b, int rank);
/* Sends what the actors have room for; the number of batches sent. */
int planner_dispatch(struct wn_planner *p);

/* results.c: a batch's RESULT, and the DURABLE message of a part
 * file written after it. */
void planner_on_result(struct wn_planner *p, int src, const struct wn_msg_result *r,
                       size_t len);
void planner_on_durable(struct wn_planner *p, int src, const struct wn_msg_durable *m,
                        size_t len);

/* planner_end.c */
void planner_resume(struct wn_planner *p);
void planner_mark_loads(struct wn_planner *p);
void planner_begin_replay(struct wn_planner *p);
void planner_journal_stage_ends(struct wn_planner *p);
void planner_end_stage(struct wn_planner *p);
void planner_next_stage(struct wn_planner *p);
void planner_collect(struct wn_planner *p);
void planner_finish(struct wn_planner *p);
/* drain > 0: running batches get that long instead of drain_timeout
 * (at most drain_timeout). */
void planner_begin_stop(struct wn_planner *p, const char *why, double drain);
/* A stop whose drain deadline has passed does not wait for
 * acknowledgements (one may never come from a frozen rank): the run
 * finishes without them.  1 when it did so (poll again). */
int planner_give_up_acks(struct wn_planner *p);
void planner_check_halt(struct wn_planner *p);
void planner_check_limit(struct wn_planner *p);

/* shuffle_round.c: the P_RUN step of a shuffle stage; 1 when it did
 * something (poll again), 0 when it waits on messages. */
int planner_shuffle_run(struct wn_planner *p);

/* hang.c */
/* Counts an acknowledgement awaited from rank (call before sending). */
void planner_expect_ack(struct wn_planner *p, int rank);
/* Called each poll: a rank silent for heartbeat_timeout ends the run
 * (exit 1, every rank aborted; the checkpoint keeps what was journaled). */
void planner_check_hang(struct wn_planner *p);

#endif /* WN_PLANNER_IMPL_H */
