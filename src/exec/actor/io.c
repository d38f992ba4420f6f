/* io.c - an actor's checkpoint I/O thread: writes the part files of
 * finished batches when checkpointing, in order, so that the compute
 * thread goes on meanwhile, and hands each DURABLE message back to the
 * main thread under the actor lock. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/part.h"
#include "exec/actor/actor_impl.h"

/* Writes a queued part file and builds its DURABLE message.  A file that
 * cannot be written fails the run (its outputs may already be another
 * batch's inputs, so the batch cannot simply run again). */
static void finish_io(struct io_job *io, int deflate)
{
    wn_error_t err = {{0}};
    uint64_t sum = 0;
    int rc = wn_part_write(io->path, &io->info, io->tasks.tasks, io->tasks.n, deflate, &io->known,
                           &sum, &err);
    size_t elen = rc < 0 ? strlen(err.text) + 1 : 0;
    size_t rlen = rc == 0 && io->rejects ? strlen(io->rejects) + 1 : 0;
    struct wn_msg_durable *m = calloc(1, sizeof(*m) + elen + rlen);
    if (m) {
        *m = (struct wn_msg_durable){io->info.stage_index, rc < 0 ? -1 : 0, io->info.batch, sum,
                                     io->tasks.n,          (uint32_t)elen,  (uint32_t)rlen};
        if (elen)
            memcpy(m + 1, err.text, elen);
        if (rlen)
            memcpy((char *)(m + 1) + elen, io->rejects, rlen);
    }
    io->msg = m;
    io->msg_len = sizeof(*m) + elen + rlen;
    wn_task_list_free(&io->tasks);
}

static void *io_main(void *arg)
{
    struct wn_actor *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->io->head && !a->stop)
            pthread_cond_wait(&a->io->cond, &a->lock);
        if (!a->io->head)
            break;
        struct io_job *io = a->io->head;
        a->io->head = io->next;
        if (!a->io->head)
            a->io->tail = &a->io->head;
        pthread_mutex_unlock(&a->lock);
        finish_io(io, a->run->cfg->exec.checkpoint_compression);
        pthread_mutex_lock(&a->lock);
        a->io->queued--;
        pthread_cond_broadcast(&a->compute->room);
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
void io_queue(struct io *t, struct job *j)
{
    struct io_job *io = j->io;
    j->io = NULL;
    io->next = NULL;
    *t->tail = io;
    t->tail = &io->next;
    t->queued++;
    pthread_cond_signal(&t->cond);
}

struct io *io_create(struct wn_actor *a, int start)
{
    struct io *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    pthread_cond_init(&t->cond, NULL);
    t->tail = &t->head;
    a->io = t;
    /* Without a thread, part files are written by the compute thread. */
    if (start && pthread_create(&t->thread, NULL, io_main, a) == 0)
        t->started = 1;
    return t;
}

/* After the actor's stop was set and the thread woken: it writes what
 * is queued first. */
void io_destroy(struct io *t)
{
    if (!t)
        return;
    if (t->started)
        pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    free(t);
}
