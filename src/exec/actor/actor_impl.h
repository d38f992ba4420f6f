/* actor_impl.h - an actor rank's insides, shared by its files:
 *
 *   actor.c       entry points, message handlers, handing jobs to the
 *                 compute thread (or running them inline), results out
 *   actor_job.c   running one job: process_batch, a LOAD, a shuffle
 *                 insert's chunks or an extract, outputs stored
 *   actor_io.c    the compute thread and the checkpoint I/O thread
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
    uint32_t part;
    uint64_t origin;          /* (batch << 20) + output index: fixes the order */
    void *buf;
    size_t len;
};

struct job {
    struct job *next;
    struct wn_stage *stage;
    uint32_t attempt;
    uint64_t batch;
    uint32_t n;
    struct wn_desc *descs;
    void **bufs;                  /* packed inputs */
    size_t *lens;
    struct wn_payload **held;     /* local inputs: store references */
    unsigned char *remote;        /* bufs[i] was pulled: free it, verify it */
    int missing;                  /* pulls outstanding */
    double t_ready_wait;          /* when the pulls started */
    double pull_s;
    uint64_t pulled_bytes;
    uint64_t arena_bytes;         /* read in another rank's node arena */
    int load;                     /* a LOAD: read the batch's part file */
    int insert;                   /* a shuffle stage's insert batch */
    int extract;                  /* ... or the extract of partition `part` */
    uint32_t round, part;
    struct chunk *chunks;         /* insert: the rows to send */
    size_t nchunks;
    uint64_t load_sum;            /* its checksum, from the journal */
    uint64_t part_sum;            /* the part file this batch wrote */
    struct io_job *io;            /* ... or that the I/O thread writes */
    char *rejects;                /* the summary of its rejects, or NULL */
    void *result;                 /* the RESULT message, once done */
    size_t result_len;
};

/* A part file the I/O thread writes while the batch's result has gone to
 * the planner and the compute thread goes on; the planner journals the
 * batch when the DURABLE message says the file is in place. */
struct io_job {
    struct io_job *next;
    char *path;
    struct wn_part_info info;
    struct wn_task_list tasks;    /* the outputs, owned here */
    uint64_t known;               /* their checksum, from the packed buffers */
    char *rejects;                /* the batch's rejects summary, or NULL */
    void *msg;                    /* the DURABLE message, once written */
    size_t msg_len;
};

/* Part files queued per actor at most: a compute thread that outruns the
 * disk waits, so the outputs held for writing stay bounded. */
#define WN_IO_QUEUE_MAX 4

struct wn_actor {
    struct wn_run *run;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t main_cond;          /* wakes an idle main thread */
    int main_waiting;
    struct job *ready, **ready_tail;   /* for the compute thread */
    struct job *done;                  /* for the main thread */
    _Atomic int ndone;                 /* jobs on `done`: checked unlocked */
    int stop;
    double idle_since;                 /* compute thread went idle */
    int cur_stage;                     /* hosted stage, -1 none */
    int running;                       /* the compute thread has a job */
    /* Mean run time of the last jobs of stage `avg_stage`: a stage whose
     * batches take microseconds runs on the main thread (see make_ready). */
    int avg_stage;
    double avg_job_s;
    /* The I/O thread: part files of finished batches, in order. */
    pthread_t io_thread;
    int io_started;
    pthread_cond_t io_cond;            /* wakes the I/O thread */
    pthread_cond_t io_space;           /* wakes a compute thread waiting for room */
    struct io_job *io_head, **io_tail;
    int io_queued;                     /* on the queue or being written */
    struct io_job *durable;            /* written, for the main thread */
    /* The shuffle round this rank takes part in (main thread only, but
     * for extract reading a complete round on the compute thread). */
    struct wn_shuffle *sh;
    MPI_Comm sh_comm;
    uint32_t sh_stage, sh_round;
    int sh_failed;                     /* sh_error says why */
    char sh_error[1024];
    struct job *sh_waiting;            /* extracts waiting for the round */
    _Atomic size_t sh_backlog;         /* bytes inserted, not yet sent */
    /* The clique of the RAFT stage this rank hosts (made on the main
     * thread, which runs its MPI collectives for the compute thread). */
    struct wn_clique *clique;
    int clique_stage;
};

/* Bytes an actor may have inserted and not yet sent before its compute
 * thread waits with the next insert batch. */
#define WN_SHUFFLE_BACKLOG ((size_t)64 << 20)


/* actor_job.c */
void actor_job_free(struct wn_actor *a, struct job *j);
void actor_job_result(struct wn_actor *a, struct job *j, int status, const char *errtext,
                      struct wn_desc *outs, uint32_t nout, double t_start, double t_end,
                      double idle_s, const uint64_t counts[4]);
void actor_run_job(struct wn_actor *a, struct job *j, double idle_s, int async_io);

/* actor_io.c */
void actor_note_job_time(struct wn_actor *a, const struct job *j, double dt);
void actor_queue_io(struct wn_actor *a, struct job *j);
void *actor_io_main(void *arg);
void *actor_compute_main(void *arg);

#endif /* WN_ACTOR_IMPL_H */
