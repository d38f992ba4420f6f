/* actor_impl.h - an actor rank's insides, shared by its files:
 *
 *   actor.c       entry points, message handlers, handing jobs to the
 *                 compute thread (or running them inline), results out
 *   actor_job.c   running one job: process_batch, a LOAD, a shuffle
 *                 insert's chunks or an extract, outputs stored
 *   compute.c     the compute thread (struct compute)
 *   io.c          the checkpoint I/O thread (struct io)
 *   shuffle_member.c  this rank's part in a shuffle round
 *
 * The threads share state with the main thread through the lock,
 * condition variables and atomics in struct wn_actor.
 */
#ifndef WN_ACTOR_IMPL_H
#define WN_ACTOR_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/clique.h"
#include "ckpt/part.h"
#include "exec/actor/actor.h"
#include "exec/run.h"
#include "exec/wire.h"
#include "net/shuffle.h"

/* An insert batch's rows for one partition, packed as a task: handed to
 * the shuffle by the main thread when the batch's result goes out. */
struct chunk {
    uint32_t partition;
    uint64_t origin; /* (batch << 20) + output index: fixes the order */
    void *buf;
    size_t len;
};

/* What a job does. */
enum job_kind {
    JOB_BATCH,   /* process_batch over its inputs */
    JOB_LOAD,    /* its outputs read back from its part file */
    JOB_INSERT,  /* a shuffle stage's insert batch: its rows
                    cut into chunks per partition */
    JOB_EXTRACT, /* a shuffle round's partition, extracted */
};

/* Where a job's input is. */
enum input_source {
    INPUT_HERE,   /* in this rank's store (a reference), or a
                     seed the job makes itself */
    INPUT_PULLED, /* pulled from its owner: the job's own copy,
                     verified, freed with the job */
    INPUT_ARENA,  /* read in place in the owner's node arena,
                     verified */
};

/* What a batch read and made, for its result and its tasks' perf. */
struct job_counts {
    uint64_t items_in, items_out, bytes_in, bytes_out;
};

struct job {
    struct job *next;
    struct wn_stage *stage;
    uint32_t attempt;
    uint64_t batch;
    uint32_t n;
    struct wn_desc *descs;
    void **bufs; /* packed inputs */
    size_t *lens;
    struct wn_payload **held; /* local inputs: store references */
    unsigned char *source;    /* enum input_source of bufs[i] */
    int missing;              /* pulls outstanding */
    wn_error_t input_error;   /* an input could not be had: the batch fails */
    double t_ready_wait;      /* when the pulls started */
    double pull_s;
    uint64_t pulled_bytes;
    uint64_t arena_bytes; /* read in another rank's node arena */
    enum job_kind kind;
    uint32_t round, partition; /* JOB_INSERT, JOB_EXTRACT */
    struct chunk *chunks;      /* insert: the rows to send */
    size_t nchunks;
    uint64_t load_sum; /* JOB_LOAD: the part file's checksum,
                          from the journal */
    uint64_t part_sum; /* the part file this batch wrote */
    struct io_job *io; /* ... or that the I/O thread writes */
    char *rejects;     /* the summary of its rejects, or NULL */
    void *result;      /* the RESULT message, once done */
    size_t result_len;
};

/* A part file the I/O thread writes while the batch's result has gone to
 * the planner and the compute thread goes on; the planner journals the
 * batch when the DURABLE message says the file is in place. */
struct io_job {
    struct io_job *next;
    char *path;
    struct wn_part_info info;
    struct wn_task_list tasks; /* the outputs, owned here */
    uint64_t known;            /* their checksum, from the packed buffers */
    char *rejects;             /* the batch's rejects summary, or NULL */
    void *msg;                 /* the DURABLE message, once written */
    size_t msg_len;
};

/* Part files queued per actor at most: a compute thread that outruns the
 * disk waits, so the outputs held for writing stay bounded. */
#define WN_IO_QUEUE_MAX 4

/* compute.c: the compute threads and the jobs ready for them.  Its
 * fields are under the actor's lock. */
struct compute {
    pthread_t *threads;
    int nthreads, started;
    void *args;          /* the threads' start arguments */
    pthread_cond_t cond; /* wakes the compute threads */
    pthread_cond_t room; /* wakes those waiting for room:
                            the I/O queue, the shuffle backlog */
    struct job *ready, **ready_tail;
    int running;       /* jobs being run */
    int *stage_busy;   /* per stage: its jobs running */
    int *stage_slots;  /* per stage: its actors here (task mode;
                                  set by the planner, SCALE) */
    double idle_since; /* a thread last went idle */
    /* Per stage, the mean run time of its last jobs (< 0: none yet): a
     * stage whose batches take microseconds runs on the main thread (see
     * make_ready).  Per stage, as a streaming rank runs several. */
    double *avg_job_s;
};

/* io.c: the I/O thread and the part files queued for it, in order.  Its
 * fields are under the actor's lock. */
struct io {
    pthread_t thread;
    int started;         /* 0: no checkpoint, or no thread */
    pthread_cond_t cond; /* wakes the I/O thread */
    struct io_job *head, **tail;
    int queued; /* on the queue or being written */
};

/* The main thread, the compute thread and the I/O thread share the lock;
 * the other two hand finished work to the main thread through done,
 * durable and ndone. */
struct wn_actor {
    struct wn_run *run;
    pthread_mutex_t lock;
    pthread_cond_t main_cond; /* wakes an idle main thread */
    int main_waiting;
    struct job *done;       /* jobs run, for the main thread */
    struct io_job *durable; /* part files written, likewise */
    _Atomic int ndone;      /* on `done` or `durable`: checked
                               unlocked */
    int stop;
    struct compute *compute;
    struct io *io;
    unsigned char *hosted;          /* per stage: set up here (streaming
                                       hosts several at once) */
    struct shuffle_member *shuffle; /* the shuffle round it takes part in */
    /* The clique of the RAFT stage this rank hosts (made on the main
     * thread, which runs its MPI collectives for the compute thread). */
    struct wn_clique *clique;
    int clique_stage;
};

/* shuffle_member.c: this rank's part in a shuffle round (main thread
 * only, but for extract reading a complete round and the backlog on the
 * compute thread). */
struct shuffle_member {
    struct wn_shuffle *sh; /* the open round, or NULL */
    MPI_Comm comm;
    uint32_t stage, round;
    int failed; /* error says why */
    char error[1024];
    struct job *waiting;    /* extracts waiting for the round,
                               newest first */
    _Atomic size_t backlog; /* bytes inserted, not yet sent */
};

struct shuffle_member *shuffle_member_create(void);
void shuffle_member_destroy(struct shuffle_member *m);
/* BEGIN: the round's communicator and connections (waits for every
 * member).  -1 with err. */
int shuffle_member_begin(struct shuffle_member *m, struct wn_run *run,
                         const struct wn_msg_shuffle *msg, wn_error_t *err);
/* The round failed here (the first reason is kept and said): the
 * extracts waiting for it, for the caller to fail with m->error. */
struct job *shuffle_member_fail(struct shuffle_member *m, const char *why);
/* INSERTED: this rank's inserts are finished; extracts to fail, if that
 * failed. */
struct job *shuffle_member_inserted(struct shuffle_member *m);
/* END: the round's statistics to rank 0, its connections closed. */
void shuffle_member_end(struct shuffle_member *m, struct wn_run *run,
                        const struct wn_msg_shuffle *msg);
/* An insert batch's chunks into the round; extracts to fail, if that
 * failed. */
struct job *shuffle_member_hand_chunks(struct shuffle_member *m, struct job *j);
/* An extract's received rows are no longer needed. */
void shuffle_member_release(struct shuffle_member *m, const struct job *j);
/* Whether extract j can run now; EXTRACT_WAITING keeps it until the
 * round is complete (shuffle_member_progress returns it then). */
enum { EXTRACT_READY, EXTRACT_WAITING, EXTRACT_FAIL };
int shuffle_member_extract(struct shuffle_member *m, struct job *j, int rank, char *why,
                           size_t len);
/* Moves the open round on: extracts now ready (oldest first) and those
 * to fail; *room when the backlog fell under WN_SHUFFLE_BACKLOG (the
 * compute thread may go on).  1 when it did something. */
int shuffle_member_progress(struct shuffle_member *m, struct job **ready, struct job **failed,
                            int *room);

/* Bytes an actor may have inserted and not yet sent before its compute
 * thread waits with the next insert batch. */
#define WN_SHUFFLE_BACKLOG ((size_t)64 << 20)

/* actor_job.c */
void actor_job_free(struct wn_actor *a, struct job *j);
void actor_job_result(struct wn_actor *a, struct job *j, int status, const char *errtext,
                      struct wn_desc *outs, uint32_t nout, double t_start, double t_end,
                      double idle_s, const struct job_counts *counts);
void actor_run_job(struct wn_actor *a, struct job *j, double idle_s, int async_io);

/* compute.c: starts the thread (a->compute is set before it runs). */
struct compute *compute_create(struct wn_actor *a);
void compute_destroy(struct compute *c);
/* Under the actor lock: a job of its stage took dt seconds. */
void actor_note_job_time(struct wn_actor *a, const struct job *j, double dt);

/* io.c: start 0 makes the queue without a thread. */
struct io *io_create(struct wn_actor *a, int start);
void io_destroy(struct io *t);
/* Under the actor lock: hands a finished job's part file to the thread. */
void io_queue(struct io *t, struct job *j);

#endif /* WN_ACTOR_IMPL_H */
