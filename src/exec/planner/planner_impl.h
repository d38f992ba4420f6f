/* planner_impl.h - the planner's insides (rank 0), shared by its files.
 * Not installed; nothing outside src/exec/planner/ includes it.
 *
 * struct wn_planner holds the run's position (stage, its inputs and
 * outputs, its actors, statistics) and one owned sub-context per
 * concern, each with create/destroy in the file named for it.  Calls go
 * one way, from the top of this list down (a file calls only those
 * below it):
 *
 *   planner.c        entry points (create, register, destroy), the
 *                    message handlers, the poll's state machine, the
 *                    run's finish (reports, shutdown)
 *   stage.c          a stage's start (actors, batches, clique, setup),
 *                    a finished stage replayed, a stage's end
 *   results.c        struct results: batches' results and the part
 *                    files written after them; the trace's events and
 *                    each rank's peak RSS
 *   shuffle_round.c  struct shuffle_round: a shuffle stage's rounds
 *   collect.c        struct collect: the final tasks (--results)
 *   hang.c           a rank gone silent (heartbeat_timeout)
 *   checkpoint.c     struct checkpoint: resume, batches loaded instead
 *                    of run, journaling, part files still being written
 *   stream.c         struct stream: streaming mode's followers, the
 *                    stages running at once after the current one
 *   autoscale.c      struct autoscale: streaming's actors per stage and
 *                    rank, re-divided as the segment runs
 *   dispatch.c       struct dispatch: batches, queues, first-free
 *                    dispatch
 *   stop.c           struct stop: the run's failure and stop requests
 *                    (a signal, `winnow halt`, the Slurm time limit)
 */
#ifndef WN_PLANNER_IMPL_H
#define WN_PLANNER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt/ckpt.h"
#include "exec/planner/planner.h"
#include "exec/report.h"
#include "exec/run.h"
#include "exec/timelimit.h"
#include "exec/wire.h"

enum pstate { P_START, P_CLIQUE, P_NODE_SETUP, P_SETUP, P_RUN, P_END, P_COLLECT, P_FINISH, P_DONE };

/* ------------------------------------------------------- dispatch.c -- */

enum bstate { B_PENDING, B_RUNNING, B_DONE, B_GIVEN_UP };

struct pbatch {
    uint64_t first, count; /* slice of the stage's sorted inputs */
    int state;             /* enum bstate */
    unsigned attempt;
    int actor;            /* rank running it */
    int last_failed_on;   /* rank of the last failure, -1 */
    int primary;          /* rank holding most of its input, -1 none */
    int load;             /* done in an earlier run: load its part file */
    uint64_t sum;         /* that file's checksum */
    struct wn_desc *outs; /* its outputs, until the next stage takes them */
    uint32_t nouts;
};

struct queue {
    uint64_t *v;
    size_t head, n, cap;
};

/* The current stage's batches.  A shuffle stage's batches [0, njournaled)
 * are its extracts (round * nparts + partition: the checkpoint's batch
 * numbers), [njournaled, nbatches) its inserts, run again each round;
 * another stage's batches are all journaled (njournaled == nbatches). */
struct dispatch {
    struct wn_run *run;
    struct pbatch *batches;
    uint64_t nbatches, njournaled, nfinished, nrunning;
    uint64_t cap_batches, nmade; /* batches allocated, and made (their
                                    outputs freed with them) */
    uint64_t tasks_finished;     /* inputs of finished batches (progress) */
    int *outstanding;            /* per rank: batches sent, not answered (each
                                stage's actor on a rank has its slots) */
    struct queue *queues;        /* per owner rank, [size] = seeds/no owner */
    struct queue retry;
    int rotate;         /* fair start for dispatch */
    uint64_t limit;     /* backpressure: no queued batch from this one on is
                         sent (retries are); UINT64_MAX none */
    uint64_t allow;     /* backpressure: batches it may send yet, in any
                         order (UINT64_MAX: no bound) */
    uint64_t outs_held; /* outputs of finished batches not yet taken */
    const int *slots;   /* per rank: the stage's actors there (streaming's
                         autoscaler), each with its slots; NULL: one */
    /* Streaming: per rank, the batches sent and not answered of all the
     * segment's stages, and how many it may hold (its threads' slots):
     * what its queued batches' inputs take stays bounded however many
     * stages it hosts.  NULL in bulk mode. */
    int *rank_out;
    const int *rank_cap;
};

struct dispatch *dispatch_create(struct wn_run *run);
void dispatch_destroy(struct dispatch *d);
/* A new stage's nbatches batches, all pending, queues empty. */
void dispatch_reset(struct dispatch *d, uint64_t nbatches);
/* One more pending batch (a streaming stage's, cut as its inputs come):
 * its index. */
uint64_t dispatch_add(struct dispatch *d);
/* Moves the outputs of finished batches, from batch *next on and in
 * batch order, to the end of (*v, *n, *cap), up to the first batch not
 * finished; *next is then that batch.  Batch order, not arrival order, is
 * what makes the next stage's batches (doc/guide.md, section 1.9). */
void dispatch_take_outputs(struct dispatch *d, uint64_t *next, struct wn_desc **v, size_t *n,
                           size_t *cap);
/* Batches sent per actor at most: slots_per_actor, else prefetch + 1. */
int dispatch_depth(const struct wn_run *run);
int dispatch_q_push(struct queue *q, uint64_t b);
/* Queues batch b with the rank holding most of its input (or as a seed). */
void dispatch_queue(struct dispatch *d, uint64_t b);
/* Sends batch b (its inputs, or a LOAD of its part file) to rank. */
void dispatch_assign(struct dispatch *d, uint32_t stage, const struct wn_desc *inputs, uint64_t b,
                     int rank);
/* Batch b runs on rank (sent by the caller). */
void dispatch_running(struct dispatch *d, uint64_t b, int rank);
/* Sends what the actors have room for; the number of batches sent. */
int dispatch_send(struct dispatch *d, uint32_t stage, const struct wn_desc *inputs,
                  const int *actors, int nactors);
int dispatch_cmp_desc(const void *a, const void *b); /* by id, for qsort */
/* The rank holding most of the bytes of inputs [first, first + count),
 * -1 when none has any. */
int dispatch_primary(const struct wn_desc *inputs, uint64_t first, uint64_t count);

/* ----------------------------------------------------------- stop.c -- */

struct stop {
    struct wn_run *run;
    int failed; /* stop dispatching; the run fails */
    char fail_msg[1024];
    int stopping;   /* drain, then stop (exit 3) */
    int halt_after; /* stop once this stage has ended, -1 none */
    struct wn_timelimit limit;
    double next_limit_check;
    double next_halt_check;
    double stop_deadline; /* when running batches are given up on */
};

struct stop *stop_create(struct wn_run *run);
void stop_destroy(struct stop *st);
/* The run fails (the first reason is kept): no more batches are dispatched. */
void stop_fail(struct stop *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A stop: no new batches, the nrunning running may finish within drain
 * (> 0, at most drain_timeout; else drain_timeout).  Nothing once the
 * run has finished. */
void stop_begin(struct stop *st, const char *why, double drain, uint64_t nrunning, int finished);
/* `winnow halt`'s file, at the current stage. */
void stop_check_halt(struct stop *st, uint32_t stage, uint64_t nrunning);
/* The Slurm job's time left against time_margin. */
void stop_check_limit(struct stop *st, uint64_t nrunning);
/* A stop whose drain deadline has passed. */
int stop_past_deadline(const struct stop *st);

/* ----------------------------------------------------- checkpoint.c -- */

struct checkpoint {
    struct wn_ckpt *ck; /* the checkpoint, or NULL */
    int replay;         /* a finished stage whose outputs are only
                           loaded (resume), -1 none */
    int journal_dirty;  /* records appended since the last sync */
    /* Part files still being written (their batches' results came with
     * part_pending): per stage, and in all.  A batch is journaled when its
     * DURABLE message comes; a stage's end once all of its are. */
    uint64_t *undurable, nundurable;
    uint64_t *undurable_on;   /* ... per rank writing them */
    uint64_t *stage_nout;     /* outputs of a stage that has ended */
    unsigned char *stage_ran; /* ... and whether it has */
    uint32_t ended_upto;      /* the next stage whose end to journal */
    /* A stage ran whole because its batches were not the earlier run's
     * (their count or layout changed): its outputs are new, so no later
     * stage loads batches made from the old ones. */
    int rerun_rest;
};

struct checkpoint *checkpoint_create(struct wn_run *run);
void checkpoint_destroy(struct checkpoint *c);
struct wn_planner;
/* Where an earlier run left off: sets the planner's first stage. */
void checkpoint_resume(struct wn_planner *p);
/* Batches an earlier run finished load instead of running. */
void checkpoint_mark_loads(struct wn_planner *p);
/* A loaded batch's rejects, as its journal record has them. */
void checkpoint_count_rejects(struct wn_planner *p, uint32_t s, const struct wn_ckpt_batch *b);
/* Journals the ends of stages whose part files are all written. */
void checkpoint_journal_stage_ends(struct wn_planner *p);
/* Group commit: one fsync for the records of this poll. */
void checkpoint_sync(struct wn_planner *p);

/* ----------------------------------------------------- hang.c, acks -- */

/* Counts an acknowledgement awaited from rank (call before sending). */
static inline void planner_expect_ack(struct wn_planner *p, int rank);
/* Called each poll: a rank silent for heartbeat_timeout ends the run
 * (exit 1, every rank aborted; the checkpoint keeps what was journaled). */
void planner_check_hang(struct wn_planner *p);

/* -------------------------------------------------------- collect.c -- */

struct collect {
    struct wn_task **tasks; /* collected final tasks (--results) */
    size_t ntasks, pending;
    uint64_t payload_bytes; /* pulled to rank 0 */
};

struct collect *collect_create(void);
void collect_destroy(struct collect *c);
/* Pulls the final tasks (the planner's inputs after the last stage). */
void collect_begin(struct wn_planner *p);

/* -------------------------------------------------- shuffle_round.c -- */

/* A shuffle stage's round: connect, insert, extract, close. */
enum shphase { SH_NEXT, SH_BEGIN, SH_INSERT, SH_LOAD, SH_EXTRACT, SH_END };

struct shuffle_round {
    int active; /* the current stage is a shuffle stage */
    uint32_t rounds, round, nparts;
    enum shphase phase;
    uint64_t pending; /* this phase's batches not yet done */
};

struct shuffle_round *shuffle_round_create(void);
void shuffle_round_destroy(struct shuffle_round *s);
/* The P_RUN step of a shuffle stage that is neither failed nor stopping:
 * 1 when it did something (poll again), 0 when it waits on messages,
 * SHUFFLE_ROUNDS_DONE when the last round has ended. */
#define SHUFFLE_ROUNDS_DONE 2
int shuffle_round_step(struct wn_planner *p);

/* -------------------------------------------------------- results.c -- */

struct results {
    struct wn_trace_event *events;
    size_t nevents, cap_events;
    uint32_t *peak_rss_mib;      /* per rank: the largest its results reported */
    struct wn_rank_spill *spill; /* per rank: its store's, as of its last result */
};

struct results *results_create(struct wn_run *run);
void results_destroy(struct results *r);
/* A batch's RESULT, and the DURABLE message of a part file written after
 * it. */
void results_on_result(struct wn_planner *p, int src, const struct wn_msg_result *r, size_t len);
void results_on_durable(struct wn_planner *p, int src, const struct wn_msg_durable *m, size_t len);

/* --------------------------------------------------------- stream.c -- */

/* A stage whose batches may be running: the current one or a follower. */
struct stage_view {
    uint32_t stage;
    struct dispatch *d;
    const struct wn_desc *inputs;
    size_t ninputs;
};

/* A stage running after the current one in its segment (streaming). */
struct follower {
    uint32_t stage;
    struct dispatch *d;
    struct wn_desc *inputs; /* its producer's outputs in batch order */
    size_t ninputs, cap_inputs;
    int *actors, nactors;
    uint64_t batch_size;
    uint64_t fed;        /* the producer's batches whose outputs it has */
    uint64_t cut_inputs; /* inputs in its batches so far */
    uint64_t bytes_fed;
    int final;                  /* its producer has ended: its inputs are all there */
    int held;                   /* its queue holds the producer back */
    struct wn_ckpt_batch *done; /* resume: journaled, by batch (copies;
                                   the rejects are the journal's) */
    size_t ndone;
};

struct stream {
    struct follower **by_stage; /* NULL: not a follower */
    uint32_t nstages;
};

struct stream *stream_create(struct wn_run *run);
void stream_destroy(struct stream *s);
/* The end (exclusive) of the segment starting at stage head: head + 1 in
 * bulk mode. */
uint32_t stream_segment_end(const struct wn_run *run, uint32_t head);
/* 1 and *v when stage's batches may be running (the current stage, or a
 * follower), else 0. */
int stream_view(struct wn_planner *p, uint32_t stage, struct stage_view *v);
struct follower *stream_follower(struct wn_planner *p, uint32_t stage);
/* Batches running in every stage. */
uint64_t stream_nrunning(const struct wn_planner *p);
/* The current stage begins a segment: its followers, their actors. */
void stream_begin(struct wn_planner *p);
/* Followers fed and cut, backpressure set, batches sent (the number). */
int stream_step(struct wn_planner *p);
/* Progress lines of a segment running at once; 0 when only the current
 * stage runs. */
int stream_progress(struct wn_planner *p);
/* The current stage has ended: its follower's inputs are complete. */
void stream_producer_ended(struct wn_planner *p, uint32_t stage);
/* A batch succeeded: its inputs are freed where they live (streaming). */
void stream_consumed(struct wn_planner *p, const struct stage_view *v, const struct pbatch *pb);
/* The new current stage was a follower: it takes the head's place (1),
 * already set up and running; 0 when it was not. */
int stream_promote(struct wn_planner *p);

/* ------------------------------------------------------ autoscale.c -- */

struct autoscale {
    int size;
    uint32_t first, end; /* the segment it divides, [first, end); none
                            when first == end */
    int *slots;          /* [stage * size + rank]: actors there, 0 none */
    int *threads;        /* per rank: batches it runs at once */
    int *rank_out;       /* per rank: the segment's batches sent to it */
    int *rank_cap;       /* ... at most: its threads' slots */
    double next_at;      /* the next re-division (run time) */
    int ran;             /* a re-division has run in this segment */
    double *win_busy;    /* per stage: batch time since the last one */
    uint64_t *win_batches;
    double *since; /* per stage: when its actor count last changed */
    int *total;    /* ... and that count */
    struct wn_autoscale_event *events;
    size_t nevents, cap;
};

struct autoscale *autoscale_create(struct wn_run *run);
void autoscale_destroy(struct autoscale *a);
/* A segment of stages [p->stage, end) begins: its actors divided. */
void autoscale_begin(struct wn_planner *p, uint32_t end);
/* Per rank, stage's actors in the segment; NULL outside one. */
const int *autoscale_slots(const struct autoscale *a, uint32_t stage);
/* A batch of stage took busy seconds. */
void autoscale_note(struct wn_planner *p, uint32_t stage, double busy);
/* Each poll: re-divides when due, telling the ranks what changed. */
void autoscale_step(struct wn_planner *p);
/* Stage has ended at now: its actor-seconds are closed. */
void autoscale_stage_end(struct wn_planner *p, uint32_t stage, double now);

/* ---------------------------------------------------------- stage.c -- */

void stage_begin(struct wn_planner *p);
void stage_node_setup(struct wn_planner *p);
void stage_setup_rest(struct wn_planner *p);
void stage_end(struct wn_planner *p);
void stage_next(struct wn_planner *p);

/* -------------------------------------------------------- planner.c -- */

struct wn_planner {
    struct wn_run *run;
    enum pstate state;
    uint32_t stage;

    struct wn_desc *inputs; /* the current stage's, in batch order */
    size_t ninputs, cap_inputs;
    int *actors, nactors;
    int acks_pending;
    int *acks_from; /* per rank: the acknowledgements awaited */

    struct wn_stage_stats *stats;
    struct wn_progress progress;
    double t_start;
    /* hang.c (wn_clock_mono times) */
    double hang_polled;   /* the last poll */
    double hang_check_at; /* the next look at the ranks */

    struct dispatch *dispatch;
    uint64_t *stage_nout; /* per stage: outputs of its finished batches */
    struct stream *stream;
    struct autoscale *autoscale;
    struct stop *stop;
    struct checkpoint *checkpoint;
    struct collect *collect;
    struct shuffle_round *shuffle;
    struct results *results;
};

static inline void planner_expect_ack(struct wn_planner *p, int rank)
{
    p->acks_pending++;
    p->acks_from[rank]++;
}

#endif /* WN_PLANNER_IMPL_H */
