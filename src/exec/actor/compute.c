/* compute.c - an actor's two threads: the compute thread, which runs
 * the jobs the main thread makes ready, and the I/O thread, which writes
 * the part files of finished batches when checkpointing, so that the
 * compute thread goes on meanwhile.  Both hand their work back to the
 * main thread under the actor lock. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/part.h"
#include "exec/run.h"
#include "exec/wire.h"
#include "exec/actor/actor_impl.h"

/* Under the actor lock. */
void actor_note_job_time(struct wn_actor *a, const struct job *j, double dt)
{
    if (a->avg_stage != (int)j->stage->index) {
        a->avg_stage = (int)j->stage->index;
        a->avg_job_s = dt;
    } else {
        a->avg_job_s = 0.8 * a->avg_job_s + 0.2 * dt;
    }
}

/* Under the actor lock. */
static void push_done(struct wn_actor *a, struct job *j)
{
    j->next = a->done;
    a->done = j;
    atomic_fetch_add(&a->ndone, 1);
    if (a->main_waiting)
        pthread_cond_signal(&a->main_cond);
}

/* Writes a queued part file and builds its DURABLE message.  A file that
 * cannot be written fails the run (its outputs may already be another
 * batch's inputs, so the batch cannot simply run again). */
static void finish_io(struct io_job *io)
{
    wn_error_t err = {{0}};
    uint64_t sum = 0;
    int rc = wn_part_write(io->path, &io->info, io->tasks.tasks, io->tasks.n, 0, &io->known,
                           &sum, &err);
    size_t elen = rc < 0 ? strlen(err.text) + 1 : 0;
    size_t rlen = rc == 0 && io->rejects ? strlen(io->rejects) + 1 : 0;
    struct wn_msg_durable *m = calloc(1, sizeof(*m) + elen + rlen);
    if (m) {
        *m = (struct wn_msg_durable){io->info.stage_index, rc < 0 ? -1 : 0, io->info.batch,
                                     sum, io->tasks.n, (uint32_t)elen, (uint32_t)rlen};
        if (elen)
            memcpy(m + 1, err.text, elen);
        if (rlen)
            memcpy((char *)(m + 1) + elen, io->rejects, rlen);
    }
    io->msg = m;
    io->msg_len = sizeof(*m) + elen + rlen;
    wn_task_list_free(&io->tasks);
}

void *actor_io_main(void *arg)
{
    struct wn_actor *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->io_head && !a->stop)
            pthread_cond_wait(&a->io_cond, &a->lock);
        if (!a->io_head)
            break;
        struct io_job *io = a->io_head;
        a->io_head = io->next;
        if (!a->io_head)
            a->io_tail = &a->io_head;
        pthread_mutex_unlock(&a->lock);
        finish_io(io);
        pthread_mutex_lock(&a->lock);
        a->io_queued--;
        pthread_cond_signal(&a->io_space);
        io->next = a->durable;
        a->durable = io;
        atomic_fetch_add(&a->ndone, 1);
        if (a->main_waiting)
            pthread_cond_signal(&a->main_cond);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Under the actor lock: hands a finished job's part file to the I/O
 * thread. */
void actor_queue_io(struct wn_actor *a, struct job *j)
{
    struct io_job *io = j->io;
    j->io = NULL;
    io->next = NULL;
    *a->io_tail = io;
    a->io_tail = &io->next;
    a->io_queued++;
    pthread_cond_signal(&a->io_cond);
}

void *actor_compute_main(void *arg)
{
    struct wn_actor *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->ready && !a->stop)
            pthread_cond_wait(&a->cond, &a->lock);
        if (a->stop)
            break;
        struct job *j = a->ready;
        a->ready = j->next;
        if (!a->ready)
            a->ready_tail = &a->ready;
        double now = wn_run_now(a->run), idle = now - a->idle_since;
        a->running = 1;
        /* The disk behind: wait for room before making more to write;
         * the network behind: before making more to send. */
        while (a->io_queued >= WN_IO_QUEUE_MAX ||
               (j->insert && atomic_load(&a->sh_backlog) > WN_SHUFFLE_BACKLOG && !a->stop))
            pthread_cond_wait(&a->io_space, &a->lock);
        pthread_mutex_unlock(&a->lock);

        actor_run_job(a, j, idle > 0 ? idle : 0, a->io_started);

        pthread_mutex_lock(&a->lock);
        a->idle_since = wn_run_now(a->run);
        actor_note_job_time(a, j, a->idle_since - now);
        a->running = 0;
        if (j->io)
            actor_queue_io(a, j);
        push_done(a, j);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}
