/* compute.c - an actor's compute thread: runs the jobs the main thread
 * makes ready (process_batch, so that the main thread keeps serving
 * pulls and messages meanwhile), and hands them back under the actor
 * lock.  It waits for room when the I/O thread (io.c) or the shuffle is
 * behind. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exec/run.h"
#include "exec/wire.h"
#include "exec/actor/actor_impl.h"

/* Under the actor lock. */
void actor_note_job_time(struct wn_actor *a, const struct job *j, double dt)
{
    if (a->compute->avg_stage != (int)j->stage->index) {
        a->compute->avg_stage = (int)j->stage->index;
        a->compute->avg_job_s = dt;
    } else {
        a->compute->avg_job_s = 0.8 * a->compute->avg_job_s + 0.2 * dt;
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

static void *compute_main(void *arg)
{
    struct wn_actor *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->compute->ready && !a->stop)
            pthread_cond_wait(&a->compute->cond, &a->lock);
        if (a->stop)
            break;
        struct job *j = a->compute->ready;
        a->compute->ready = j->next;
        if (!a->compute->ready)
            a->compute->ready_tail = &a->compute->ready;
        double now = wn_run_now(a->run), idle = now - a->compute->idle_since;
        a->compute->running = 1;
        /* The disk behind: wait for room before making more to write;
         * the network behind: before making more to send. */
        while (a->io->queued >= WN_IO_QUEUE_MAX ||
               (j->kind == JOB_INSERT && atomic_load(&a->shuffle->backlog) > WN_SHUFFLE_BACKLOG &&
                !a->stop))
            pthread_cond_wait(&a->compute->room, &a->lock);
        pthread_mutex_unlock(&a->lock);

        actor_run_job(a, j, idle > 0 ? idle : 0, a->io->started);

        pthread_mutex_lock(&a->lock);
        a->compute->idle_since = wn_run_now(a->run);
        actor_note_job_time(a, j, a->compute->idle_since - now);
        a->compute->running = 0;
        if (j->io)
            io_queue(a->io, j);
        push_done(a, j);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

struct compute *compute_create(struct wn_actor *a)
{
    struct compute *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_cond_init(&c->cond, NULL);
    pthread_cond_init(&c->room, NULL);
    c->ready_tail = &c->ready;
    c->avg_stage = -1;
    a->compute = c;
    if (pthread_create(&c->thread, NULL, compute_main, a) != 0) {
        a->compute = NULL;
        pthread_cond_destroy(&c->cond);
        pthread_cond_destroy(&c->room);
        free(c);
        return NULL;
    }
    c->started = 1;
    return c;
}

/* After the actor's stop was set and the thread woken. */
void compute_destroy(struct compute *c)
{
    if (!c)
        return;
    if (c->started)
        pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cond);
    pthread_cond_destroy(&c->room);
    free(c);
}
