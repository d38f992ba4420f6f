/* runtime.h - the executor's insides, shared by its modules:
 *
 *   loop.c   the per-rank event loop, control messages, payload pulls
 *   actor*.c      an actor rank: stage setup/teardown, running batches,
 *                 the compute and checkpoint I/O threads (actor_impl.h)
 *   planner*.c    rank 0: stages one after another, batches, dispatch,
 *                 resume, stops, shuffle rounds (planner_impl.h)
 *   report.c      progress lines, summary table, --stats, --trace, --results
 *
 * Every rank runs the same loop (wn_rt_loop).  Rank 0 is also the planner;
 * alone, it is planner and actor at once, and messages to itself are
 * handled in place instead of going through MPI.
 */
#ifndef WN_RUNTIME_H
#define WN_RUNTIME_H

#include <mpi.h>
#include <signal.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "exec/arena.h"
#include "config/config.h"
#include "gpu/layout.h"
#include "stage/stage_impl.h"
#include "exec/store.h"
#include "winnow/stage.h"

/* Control messages travel on rt->comm; payload bodies on rt->data_comm,
 * so probing for control messages never meets a body. */
enum wn_tag {
    WN_TAG_STAGE = 101,   /* planner -> actor: set up for a stage        */
    WN_TAG_ACK,           /* actor -> planner: setup / stage end done    */
    WN_TAG_ASSIGN,        /* planner -> actor: process this batch        */
    WN_TAG_RESULT,        /* actor -> planner: batch done or failed      */
    WN_TAG_PULL,          /* consumer -> owner: send me payload ID       */
    WN_TAG_PAYLOAD,       /* owner -> consumer: header {id, len}; body
                             follows on data_comm                        */
    WN_TAG_STAGE_END,     /* planner -> all: teardown, drop old payloads */
    WN_TAG_SHUTDOWN,      /* planner -> all: exit with this status       */
    WN_TAG_STOP,          /* any rank -> planner: a stop was asked for
                             (SIGTERM, SIGINT, SIGUSR1)                */
    WN_TAG_LOAD,          /* planner -> actor: load a batch's outputs
                             from its checkpoint part file            */
    WN_TAG_DURABLE,       /* actor -> planner: a batch's part file is
                             written (or could not be)                */
    WN_TAG_SHUFFLE,       /* planner -> actor: a shuffle round begins,
                             its inserts are finished, or it ends     */
    WN_TAG_EXTRACT,       /* planner -> actor: extract a partition    */
    WN_TAG_SHUFFLE_STATS, /* actor -> planner: what a round moved     */
    WN_TAG_CLIQUE,        /* planner -> actor: form the RAFT stage's
                             clique (acknowledged)                    */
    WN_TAG_BUNDLE,        /* several of the above, in order (see
                             loop.c, "Outboxes")                    */
    WN_TAG_HEARTBEAT,     /* actor -> planner: alive (see loop.c,
                             "Heartbeats")                             */
};
#define WN_TAG_BODY 7         /* on data_comm */
#define WN_BODY_CHUNK ((size_t)1 << 30)
/* Payloads up to this size travel inside the PAYLOAD message itself. */
#define WN_INLINE_PAYLOAD ((size_t)16 << 10)

/* A task as the planner sees it: where it lives, not what it holds. */
struct wn_desc {
    uint64_t id;
    int32_t owner;            /* rank holding the payload; -1: an empty
                                 seed task any actor can make itself     */
    uint32_t arena;           /* where in the owner's node arena it is
                                 (arena.h), 0: not there                 */
    uint64_t len;             /* packed bytes */
    uint64_t nrows;
};

struct wn_msg_stage {
    uint32_t stage;
    int32_t actor_index;      /* this rank's index among the actors      */
    int32_t nactors;
    int32_t node_setup;       /* 1: run setup_on_node first              */
    int32_t node_nactors;     /* actors on this rank's node              */
    int32_t pad;
};

struct wn_msg_ack {
    uint32_t stage;
    int32_t status;           /* 0 ok, -1 failed (text follows)          */
};

struct wn_msg_assign {
    uint32_t stage;
    uint32_t attempt;
    uint64_t batch;
    uint32_t ntasks;
    uint32_t pad;
    /* struct wn_desc[ntasks] follows */
};

struct wn_msg_result {
    uint32_t stage;
    int32_t status;           /* 0 ok, -1 failed (error text follows descs) */
    uint64_t batch;
    uint32_t noutputs;
    uint32_t errlen;
    double t_start, t_end;    /* wall clock, seconds since run start     */
    double idle_s;            /* compute thread idle before this batch   */
    double pull_s;            /* waiting for pulled inputs               */
    uint64_t pulled_bytes;
    uint64_t arena_bytes;     /* inputs read in place in node arenas     */
    uint64_t part_sum;        /* checksum of the part file written, 0 none */
    uint64_t items_in, items_out, bytes_in, bytes_out;
    uint32_t part_pending;    /* the part file is still being written: a
                                 DURABLE message follows */
    uint32_t peak_rss_mib;    /* the sender's peak RSS so far (wn_peak_rss_mib) */
    uint32_t rejlen;          /* bytes of the rejects summary (rejects.h) */
    uint32_t pad;
    /* struct wn_desc[noutputs], then errlen bytes, then rejlen bytes */
};

/* A part file written after its batch's RESULT went out (checkpointing
 * with an I/O thread): only now may the journal record the batch. */
struct wn_msg_durable {
    uint32_t stage;
    int32_t status;           /* 0 written, -1 not (error text follows)  */
    uint64_t batch;
    uint64_t sum;             /* the part file's checksum               */
    uint64_t noutputs;
    uint32_t errlen;
    uint32_t rejlen;          /* the batch's rejects summary, after the error */
};

enum wn_shuffle_op { WN_SHUFFLE_BEGIN = 1, WN_SHUFFLE_INSERTED, WN_SHUFFLE_END };

/* BEGIN is acknowledged (ACK) once the round's connections are up, END
 * once they are closed; INSERTED is not. */
struct wn_msg_shuffle {
    uint32_t stage;
    uint32_t op;              /* enum wn_shuffle_op */
    uint32_t round;
    uint32_t nparts;
    int32_t nactors;          /* BEGIN: the actor ranks follow (int32_t),
                                 in partition-owner order               */
    int32_t pad;
};

struct wn_msg_shuffle_stats {
    uint32_t stage;
    uint32_t round;
    uint64_t bytes_sent, bytes_spilled, peak_held_bytes;
};

struct wn_msg_clique {
    uint32_t stage;
    int32_t nactors;          /* the actor ranks follow (int32_t)       */
    int32_t gpu;              /* 1: NCCL on the bound GPUs, 0: MPI      */
    int32_t pad;
};

struct wn_msg_extract {
    uint32_t stage;
    uint32_t round;
    uint32_t part;
    uint32_t pad;
    uint64_t batch;           /* its checkpoint batch: round * nparts + part */
};

struct wn_msg_load {
    uint32_t stage;
    uint32_t pad;
    uint64_t batch;
    uint64_t sum;             /* the part file's checksum (journal)      */
};

struct wn_msg_payload {
    uint64_t id;
    uint64_t len;             /* 0 and id ~0: "not found" */
};

struct wn_msg_shutdown {
    int32_t status;
    int32_t pad;
};

struct wn_msg_stop {
    int32_t sig;              /* the signal that asked for the stop       */
    int32_t pad;
    double kill_in;           /* > 0: the launcher sent it and kills the
                                 job this many seconds later (exec.c)     */
};

enum wn_heartbeat {
    WN_HB_ALIVE,              /* nothing else went to rank 0 for a while  */
    WN_HB_BLOCKING,           /* about to enter a call that waits for
                                 other ranks (a communicator, a shuffle
                                 round's connections): silence from here
                                 on may be theirs                         */
    WN_HB_LEAVING,            /* out of the event loop, at the run's end  */
};

struct wn_msg_heartbeat {
    int32_t state;            /* enum wn_heartbeat */
    int32_t pad;
};

struct wn_run_options {
    const char *stats_path;   /* --stats FILE.json */
    const char *trace_path;   /* --trace FILE.json */
    const char *results_path; /* --results FILE.jsonl: final tasks' rows */
    const char *failed_path;  /* failed tasks (default from the config) */
    const char *rejects_path; /* records stages rejected (wn_stage_reject) */
    int progress;             /* -1 auto (TTY bar / lines), 0 off, 1 lines */
    const char *checkpoint;   /* --checkpoint DIR or the pipeline's; NULL off */
    int force;                /* --force: resume a checkpoint of another hash */
    struct wn_ckpt *ckpt;     /* rank 0: the open checkpoint (ckpt.h)  */
};

struct wn_rt;
struct wn_planner;
struct wn_actor;

/* A pull in flight: the body is being received into buf. */
typedef void (*wn_pull_cb)(struct wn_rt *rt, uint64_t id, void *buf, size_t len,
                           int remote, void *arg);

struct wn_rt {
    MPI_Comm comm, data_comm;
    /* Shuffle rounds make their communicators from this one: the event
     * loop probes comm for any tag, which would take
     * MPI_Comm_create_group's own messages. */
    MPI_Comm group_comm;
    int rank, size;
    struct wn_place *places;      /* every rank's place (all ranks have it) */
    struct wn_store *store;
    struct wn_arena *arena;       /* node-shared payload memory, or NULL */
    struct wn_stage **stages;
    uint32_t nstages;
    const struct wn_pipeline_config *cfg;
    const struct wn_run_options *opts;
    double epoch;                 /* run start, CLOCK_REALTIME of rank 0 */

    struct wn_actor *actor;       /* every rank (it may host actors)     */
    struct wn_planner *planner;   /* rank 0 only                         */

    /* outstanding sends and receives */
    struct wn_req *reqs;          /* what to do when mpi_reqs[i] ends */
    MPI_Request *mpi_reqs;
    int *done_ix;                 /* MPI_Testsome's indices             */
    size_t nreqs, cap_reqs;
    void *rbuf;                   /* control message receive buffer      */
    size_t rcap;
    /* pulls waiting for their header */
    struct wn_pull *pulls;
    /* control messages waiting for the end of this poll, per destination */
    struct wn_outbox *outbox;     /* [size], created on first use        */
    int *dirty;                   /* destinations with something queued  */
    int ndirty;

    int shutdown;                 /* leave the loop                     */
    int stop_sent;                /* this rank told the planner to stop */
    int exit_status;

    /* Heartbeats (loop.c): an actor rank sends rank 0 a HEARTBEAT
     * when it has sent it nothing for hb_every seconds; rank 0 notes
     * when it last heard from each rank (wn_rt_clock). */
    double hb_every;              /* 0: none (rank 0, or alone)          */
    double sent0;                 /* when this rank last sent to rank 0  */
    unsigned hb_polls;            /* polls since the clock was read      */
    double *heard;                /* rank 0 of several: [size]           */
    unsigned char *blocking;      /* ... and which said WN_HB_BLOCKING
                                     last (a call waiting on others)     */
};

/* exec.c: set by SIGTERM, SIGINT and SIGUSR1 (a second one exits at
 * once with status 3); the event loop tells the planner. */
extern volatile sig_atomic_t wn_stop_signal;
/* Installed by `winnow run` before MPI starts: a signal that comes during
 * start-up stops the run as soon as it can.  Under mpirun or srun it also
 * starts watching the launcher: a rank whose launcher is gone exits at
 * once (status 3), writing nothing more. */
void wn_install_stop_handler(void);
/* > 0 when the stop signal was mpirun's SIGTERM: the seconds until
 * mpirun's SIGKILL follows (odls_base_sigkill_timeout). */
double wn_stop_kill_window(void);
/* After wn_exec_run, last thing before MPI_Finalize: when ranks did not
 * leave the run at its end (frozen, or waiting on one that is), rank 0
 * ends the job here with MPI_Abort(status) instead of waiting forever. */
void wn_exec_end(int status);

/* loop.c */
double wn_rt_wallclock(void);                        /* CLOCK_REALTIME, s */
double wn_rt_clock(void);                            /* CLOCK_MONOTONIC, s */
double wn_rt_now(const struct wn_rt *rt);            /* s since run start */
uint32_t wn_peak_rss_mib(void);      /* this process's peak RSS, MiB rounded up */
/* Queues a control message (takes ownership of buf, malloc'd); what one
 * poll queues for a rank leaves as one message when the poll ends. */
int wn_rt_send(struct wn_rt *rt, int dest, int tag, void *buf, size_t len);
/* Sends what is queued now (the loop does it at the end of each poll). */
void wn_rt_flush(struct wn_rt *rt);
/* Frees the outboxes (after the loop). */
void wn_rt_free(struct wn_rt *rt);
int wn_rt_pull(struct wn_rt *rt, uint64_t id, int owner, wn_pull_cb cb, void *arg);
/* Pulls from `owner` not yet complete. */
int wn_rt_pulls_from(const struct wn_rt *rt, int owner);
/* An actor rank tells rank 0 it is alive (enum wn_heartbeat); anything
 * but WN_HB_ALIVE leaves at once, as the caller is about to block. */
void wn_rt_heartbeat(struct wn_rt *rt, int state);
int wn_rt_loop(struct wn_rt *rt);
/* Polls once; returns 1 if anything happened. */
int wn_rt_poll(struct wn_rt *rt);

/* actor.c */
struct wn_actor *wn_actor_create(struct wn_rt *rt);
void wn_actor_destroy(struct wn_actor *a);
void wn_actor_handle(struct wn_rt *rt, int tag, int src, void *buf, size_t len);
int wn_actor_poll(struct wn_rt *rt);      /* sends finished results */
/* The main thread's idle wait: returns after `seconds` or as soon as the
 * compute thread finishes a batch, whichever comes first. */
void wn_actor_idle_wait(struct wn_rt *rt, double seconds);

/* planner.c */
struct wn_planner *wn_planner_create(struct wn_rt *rt, wn_error_t *err);
void wn_planner_destroy(struct wn_planner *p);
void wn_planner_handle(struct wn_rt *rt, int tag, int src, void *buf, size_t len);
int wn_planner_poll(struct wn_rt *rt);    /* dispatch, progress, stage changes */

/* Runs the pipeline on every rank (collective over MPI_COMM_WORLD);
 * returns the exit status (cli.h). */
int wn_exec_run(const struct wn_pipeline_config *cfg, struct wn_stage **stages,
                uint32_t nstages, struct wn_place *places,
                const struct wn_run_options *opts);

#endif /* WN_RUNTIME_H */
