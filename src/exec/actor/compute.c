/* compute.c - an actor's compute threads: run the jobs the main thread
 * makes ready (process_batch, so that the main thread keeps serving
 * pulls and messages meanwhile), and hand them back under the actor
 * lock.  One thread, or in streaming mode as many as the rank's CPUs
 * hold (wn_plan_threads): a rank then runs batches of several stages at
 * the same time.  A thread waits for room when the I/O thread (io.c) or
 * the shuffle is behind. */
#define _GNU_SOURCE
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exec/plan.h"
#include "exec/run.h"
#include "exec/wire.h"
#include "exec/actor/actor_impl.h"

/* Under the actor lock. */
void actor_note_job_time(struct wn_actor *a, const struct job *j, double dt)
{
    double *avg = &a->compute->avg_job_s[j->stage->index];
    *avg = *avg < 0 ? dt : 0.8 * *avg + 0.2 * dt;
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

/* Under the actor lock: the first ready job thread `index` may run.
 * Batches of one stage run one at a time here, but for a task-mode stage
 * (stage_impl.h: it keeps no state, so its process_batch may run on
 * several threads at once) as many as it has actors here (the planner's
 * autoscaler sets them); those of a GPU stage or a clique run on thread
 * 0 only (CUDA binds a device per thread, and a clique's
 * collectives go through the main thread one at a time). */
static struct job *take(struct compute *c, int index)
{
    for (struct job **at = &c->ready; *at; at = &(*at)->next) {
        struct job *j = *at;
        const struct wn_stage *st = j->stage;
        /* A task-mode stage's actors here (slots), else one. */
        if (c->stage_busy[st->index] >= (wn_stage_task_mode(st) ? c->stage_slots[st->index] : 1))
            continue;
        if (index > 0 && (st->cfg->gpus > 0 || (st->ops->flags & WN_STAGE_RAFT)))
            continue;
        *at = j->next;
        if (c->ready_tail == &j->next)
            c->ready_tail = at;
        return j;
    }
    return NULL;
}

struct thread_arg {
    struct wn_actor *a;
    int index;
};

static void *compute_main(void *arg)
{
    struct wn_actor *a = ((struct thread_arg *)arg)->a;
    int index = ((struct thread_arg *)arg)->index;
    struct compute *c = a->compute;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        struct job *j = NULL;
        while (!a->stop && !(j = take(c, index)))
            pthread_cond_wait(&c->cond, &a->lock);
        if (a->stop)
            break;
        double now = wn_run_now(a->run), idle = now - c->idle_since;
        c->running++;
        c->stage_busy[j->stage->index]++;
        /* The disk behind: wait for room before making more to write;
         * the network behind: before making more to send. */
        while (a->io->queued >= WN_IO_QUEUE_MAX ||
               (j->kind == JOB_INSERT && atomic_load(&a->shuffle->backlog) > WN_SHUFFLE_BACKLOG &&
                !a->stop))
            pthread_cond_wait(&c->room, &a->lock);
        pthread_mutex_unlock(&a->lock);

        actor_run_job(a, j, idle > 0 ? idle : 0, a->io->started);

        pthread_mutex_lock(&a->lock);
        c->idle_since = wn_run_now(a->run);
        actor_note_job_time(a, j, c->idle_since - now);
        c->running--;
        c->stage_busy[j->stage->index]--;
        if (c->nthreads > 1 && c->ready)
            pthread_cond_broadcast(&c->cond); /* a job of that stage may wait */
        if (j->io)
            io_queue(a->io, j);
        push_done(a, j);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static int thread_count(const struct wn_run *run)
{
    return wn_plan_threads(run->places ? run->places[run->rank].cpus : 1, run->stages, run->nstages,
                           run->cfg->exec.mode == WN_MODE_STREAMING);
}

struct compute *compute_create(struct wn_actor *a)
{
    struct compute *c = calloc(1, sizeof(*c));
    uint32_t n = a->run->nstages ? a->run->nstages : 1;
    int nt = thread_count(a->run);
    if (!c || !(c->avg_job_s = malloc(n * sizeof(*c->avg_job_s))) ||
        !(c->stage_busy = calloc(n, sizeof(*c->stage_busy))) ||
        !(c->stage_slots = malloc(n * sizeof(*c->stage_slots))) ||
        !(c->threads = calloc((size_t)nt, sizeof(*c->threads))) ||
        !(c->args = calloc((size_t)nt, sizeof(struct thread_arg)))) {
        if (c) {
            free(c->avg_job_s);
            free(c->stage_busy);
            free(c->stage_slots);
            free(c->threads);
        }
        free(c);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        c->avg_job_s[i] = -1;
        c->stage_slots[i] = 1;
    }
    pthread_cond_init(&c->cond, NULL);
    pthread_cond_init(&c->room, NULL);
    c->ready_tail = &c->ready;
    c->nthreads = nt;
    a->compute = c;
    for (int i = 0; i < nt; i++) {
        struct thread_arg *ta = &((struct thread_arg *)c->args)[i];
        ta->a = a;
        ta->index = i;
        if (pthread_create(&c->threads[i], NULL, compute_main, ta) != 0)
            break;
        c->started++;
    }
    if (c->started == 0) {
        a->compute = NULL;
        compute_destroy(c);
        return NULL;
    }
    c->nthreads = c->started; /* fewer when the system would not make more */
    return c;
}

/* After the actor's stop was set and the threads woken. */
void compute_destroy(struct compute *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->started; i++)
        pthread_join(c->threads[i], NULL);
    pthread_cond_destroy(&c->cond);
    pthread_cond_destroy(&c->room);
    free(c->avg_job_s);
    free(c->stage_busy);
    free(c->stage_slots);
    free(c->threads);
    free(c->args);
    free(c);
}
