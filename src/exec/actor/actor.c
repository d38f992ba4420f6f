/* actor.c - a pool actor: sets up the stages it hosts, gathers each
 * assigned batch's inputs (local payloads by reference, remote ones pulled
 * from their owners), and runs process_batch on a compute thread so the
 * main thread keeps serving pulls and messages meanwhile.  Running a job
 * is in actor_job.c, the compute thread in compute.c, the I/O thread in
 * io.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/run.h"
#include "exec/wire.h"
#include "gpu/clique.h"
#include "net/shuffle.h"
#include "stage/stage_impl.h"
#include "exec/actor/actor_impl.h"
#include "util/xalloc.h"

/* A batch expected to take less than this runs inline on the main thread
 * when the compute thread is idle: handing it over would cost two thread
 * switches, more than the batch itself on an oversubscribed node. */
#define WN_INLINE_JOB_S 50e-6

/* For the crash handler: what this rank was doing. */
volatile const char *wn_current_stage_name;

struct wn_actor *wn_actor_create(struct wn_run *run, wn_error_t *err)
{
    struct wn_actor *a = calloc(1, sizeof(*a));
    if (!a) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    a->run = run;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->main_cond, &ca);
    pthread_condattr_destroy(&ca);
    a->clique_stage = -1;
    if (!(a->hosted = calloc(run->nstages ? run->nstages : 1, 1)) ||
        !(a->shuffle = shuffle_member_create())) {
        wn_errprintf(err, "out of memory");
        wn_actor_destroy(a);
        return NULL;
    }
    if (!compute_create(a)) {
        wn_errprintf(err, "cannot start the compute thread");
        wn_actor_destroy(a);
        return NULL;
    }
    if (!io_create(a, run->opts->checkpoint != NULL)) {
        wn_errprintf(err, "out of memory");
        wn_actor_destroy(a);
        return NULL;
    }
    return a;
}

void wn_actor_destroy(struct wn_actor *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    if (a->compute)
        pthread_cond_broadcast(&a->compute->cond);
    if (a->io)
        pthread_cond_signal(&a->io->cond);
    pthread_mutex_unlock(&a->lock);
    compute_destroy(a->compute);
    io_destroy(a->io);
    shuffle_member_destroy(a->shuffle);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->main_cond);
    wn_clique_destroy(a->clique);
    free(a->hosted);
    free(a);
}

/* Sends a finished job's result and frees it (main thread). */
static void fail_jobs(struct wn_actor *a, struct job *list, const char *why);

static void send_result(struct wn_actor *a, struct job *j)
{
    /* An insert batch's chunks go to the shuffle before its result goes
     * to the planner (which finishes the round's inserts only after
     * every result, so no chunk comes after insert_finished). */
    if (j->nchunks)
        fail_jobs(a, shuffle_member_hand_chunks(a->shuffle, j), a->shuffle->error);
    /* An extracted partition's received rows are no longer needed. */
    if (j->kind == JOB_EXTRACT)
        shuffle_member_release(a->shuffle, j);
    wn_wire_send_result(a->run->loop, 0, j->result, j->result_len);
    actor_job_free(a, j);
}

static void make_ready(struct wn_actor *a, struct job *j)
{
    if (j->t_ready_wait > 0)
        j->pull_s = wn_run_now(a->run) - j->t_ready_wait;
    pthread_mutex_lock(&a->lock);
    /* A stage whose batches take microseconds, with the compute thread
     * idle: run it here.  GPU stages stay on the compute thread, which
     * holds their device (CUDA binds a device per thread). */
    int io_room = !a->run->opts->checkpoint || (a->io->started && a->io->queued < WN_IO_QUEUE_MAX);
    /* RAFT stages neither: their collectives need the main thread free. */
    const struct compute *c = a->compute;
    double avg = c->avg_job_s[j->stage->index];
    if (!c->ready && !c->running && avg >= 0 && avg < WN_INLINE_JOB_S &&
        !(j->stage->cfg->gpus > 0) && io_room && !(j->stage->ops->flags & WN_STAGE_RAFT)) {
        double now = wn_run_now(a->run), idle = now - a->compute->idle_since;
        pthread_mutex_unlock(&a->lock);
        actor_run_job(a, j, idle > 0 ? idle : 0, a->io->started);
        double end = wn_run_now(a->run);
        pthread_mutex_lock(&a->lock);
        a->compute->idle_since = end;
        actor_note_job_time(a, j, end - now);
        if (j->io)
            io_queue(a->io, j);
        pthread_mutex_unlock(&a->lock);
        send_result(a, j);
        return;
    }
    j->next = NULL;
    *a->compute->ready_tail = j;
    a->compute->ready_tail = &j->next;
    if (a->compute->nthreads > 1)
        pthread_cond_broadcast(&a->compute->cond); /* not every thread may take it */
    else
        pthread_cond_signal(&a->compute->cond);
    pthread_mutex_unlock(&a->lock);
}

struct pull_ctx {
    struct wn_actor *actor;
    struct job *job;
    uint32_t index;
};

static void on_pulled(struct wn_loop *loop, uint64_t id, void *buf, size_t len, int remote,
                      void *arg)
{
    struct pull_ctx *c = arg;
    struct wn_actor *a = c->actor;
    (void)loop;
    (void)id;
    (void)remote;
    struct job *j = c->job;
    if (!buf && !j->input_error.text[0])
        wn_errprintf(&j->input_error,
                     "input task %016llx: rank %d could not give it (its error says why)",
                     (unsigned long long)id, j->descs[c->index].owner);
    j->bufs[c->index] = buf;
    j->lens[c->index] = len;
    j->source[c->index] = INPUT_PULLED;
    j->pulled_bytes += len;
    free(c);
    if (--j->missing == 0)
        make_ready(a, j);
}

static void ack(struct wn_actor *a, uint32_t stage, const char *errtext)
{
    wn_wire_send_ack(a->run->loop, 0, stage, errtext);
}

static void on_stage(struct wn_actor *a, const struct wn_msg_stage *m)
{
    struct wn_stage *st = a->run->stages[m->stage];
    const struct wn_place *me = &a->run->places[a->run->rank];
    wn_error_t err = {{0}};
    wn_current_stage_name = st->cfg->name;
    if (wn_stage_init(st, &err) < 0)
        goto fail;
    if (m->node_setup && st->ops->setup_on_node) {
        struct wn_node node = {me->node_id, me->node_name, m->node_nactors};
        if (st->ops->setup_on_node(st, &node, &err) < 0) {
            wn_errprefix(&err, "setup_on_node on node %d (%s)", me->node_id, me->node_name);
            goto fail;
        }
    }
    if (st->ops->setup) {
        struct wn_worker w = {a->run->rank,
                              me->node_id,
                              me->local_rank,
                              me->gpu,
                              m->actor_index,
                              m->nactors,
                              a->clique_stage == (int)m->stage ? a->clique : NULL};
        if (st->ops->setup(st, &w, &err) < 0) {
            wn_errprefix(&err, "setup");
            goto fail;
        }
    }
    a->hosted[m->stage] = 1;
    pthread_mutex_lock(&a->lock);
    a->compute->stage_slots[m->stage] = m->slots > 0 ? m->slots : 1;
    a->compute->idle_since = wn_run_now(a->run);
    pthread_mutex_unlock(&a->lock);
    wn_current_stage_name = NULL;
    ack(a, m->stage, NULL);
    return;
fail:
    wn_current_stage_name = NULL;
    ack(a, m->stage, err.text);
}

static void on_assign(struct wn_actor *a, const struct wn_msg_assign *m, size_t len)
{
    uint32_t n = len >= sizeof(*m) ? m->ntasks : 0;
    if (len < sizeof(*m) || len < sizeof(*m) + (size_t)n * sizeof(struct wn_desc)) {
        wn_error("malformed batch assignment (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    /* The job and its per-task arrays in one allocation. */
    size_t cnt = n ? n : 1;
    size_t sz = sizeof(struct job) + cnt * (sizeof(struct wn_desc) + sizeof(void *) +
                                            sizeof(size_t) + sizeof(struct wn_payload *) + 1);
    struct job *j = calloc(1, sz);
    if (!j) {
        wn_error("out of memory for a batch of %u tasks", n);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    char *at = (char *)(j + 1);
    j->descs = (struct wn_desc *)at;
    at += cnt * sizeof(struct wn_desc);
    j->bufs = (void **)at;
    at += cnt * sizeof(void *);
    j->lens = (size_t *)at;
    at += cnt * sizeof(size_t);
    j->held = (struct wn_payload **)at;
    at += cnt * sizeof(struct wn_payload *);
    j->source = (unsigned char *)at;
    j->stage = a->run->stages[m->stage];
    j->attempt = m->attempt;
    j->batch = m->batch;
    j->n = n;
    /* A shuffle stage's batches are its inserts (extracts come apart). */
    if (j->stage->ops->flags & WN_STAGE_SHUFFLE) {
        j->kind = JOB_INSERT;
        j->round = a->shuffle->round;
    }
    memcpy(j->descs, m + 1, n * sizeof(struct wn_desc));
    for (uint32_t i = 0; i < n; i++) {
        const struct wn_desc *d = &j->descs[i];
        if (d->owner < 0)
            continue;
        if (d->owner == a->run->rank) {
            wn_error_t err;
            j->held[i] = wn_store_get(a->run->store, d->id, &err);
            if (!j->held[i] && err.text[0]) {
                /* A spilled input that fails its checksum: the batch fails
                 * (and is retried), never runs on it. */
                wn_error("rank %d: %s", a->run->rank, err.text);
                if (!j->input_error.text[0])
                    j->input_error = err;
                continue;
            }
            if (!j->held[i]) {
                wn_error("rank %d was given task %016llx to process but does not hold it",
                         a->run->rank, (unsigned long long)d->id);
                MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
            }
            j->bufs[i] = j->held[i]->buf;
            j->lens[i] = j->held[i]->len;
        } else if ((j->bufs[i] = (void *)wn_arena_ptr(a->run->arena, d->owner, d->arena))) {
            /* In the owner's node arena: read in place, checksum verified. */
            j->lens[i] = d->len;
            j->source[i] = INPUT_ARENA;
            j->arena_bytes += d->len;
        } else {
            j->missing++;
        }
    }
    if (j->missing == 0) {
        make_ready(a, j);
        return;
    }
    j->t_ready_wait = wn_run_now(a->run);
    /* Count first, then pull: a pull served from this rank completes at once. */
    int pulls = j->missing;
    for (uint32_t i = 0; i < n && pulls; i++) {
        const struct wn_desc *d = &j->descs[i];
        /* Seeds, local inputs and those read in a node arena are there. */
        if (d->owner < 0 || d->owner == a->run->rank || j->source[i] == INPUT_ARENA)
            continue;
        pulls--;
        struct pull_ctx *c = wn_xmalloc(sizeof(*c));
        c->actor = a;
        c->job = j;
        c->index = i;
        if (wn_loop_pull(a->run->loop, d->id, d->owner, on_pulled, c) < 0) {
            wn_error("cannot pull task %016llx from rank %d", (unsigned long long)d->id, d->owner);
            MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
        }
    }
}

static void on_load(struct wn_actor *a, const struct wn_msg_load *m, size_t len)
{
    struct job *j = calloc(1, sizeof(*j) + 64);
    if (len < sizeof(*m) || m->stage >= a->run->nstages || !j) {
        wn_error("malformed load request (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    /* No inputs: the descriptor arrays stay empty. */
    j->descs = (struct wn_desc *)(j + 1);
    j->bufs = NULL;
    j->stage = a->run->stages[m->stage];
    j->batch = m->batch;
    j->kind = JOB_LOAD;
    j->load_sum = m->sum;
    make_ready(a, j);
}

/* An extract that cannot run: its result says why. */
static void fail_job(struct wn_actor *a, struct job *j, const char *why)
{
    struct job_counts counts = {0, 0, 0, 0};
    double now = wn_run_now(a->run);
    actor_job_result(a, j, -1, why, NULL, 0, now, now, 0, &counts);
    send_result(a, j);
}

/* The round failed on this rank (a peer unreachable, a transfer stuck):
 * the extracts waiting for it fail with the reason, and so do later ones;
 * the planner fails the run. */
static void fail_jobs(struct wn_actor *a, struct job *list, const char *why)
{
    while (list) {
        struct job *j = list;
        list = j->next;
        fail_job(a, j, why);
    }
}

static void on_shuffle(struct wn_actor *a, const struct wn_msg_shuffle *m, size_t len)
{
    wn_error_t err = {{0}};
    if (len < sizeof(*m) || m->stage >= a->run->nstages ||
        (m->op == WN_SHUFFLE_BEGIN &&
         (m->nactors < 1 || len < sizeof(*m) + (size_t)m->nactors * sizeof(int32_t)))) {
        wn_error("malformed shuffle message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    if (m->op == WN_SHUFFLE_BEGIN) {
        shuffle_member_begin(a->shuffle, a->run, m, &err);
        ack(a, m->stage, err.text[0] ? err.text : NULL);
        return;
    }
    if (m->op == WN_SHUFFLE_INSERTED) {
        fail_jobs(a, shuffle_member_inserted(a->shuffle), a->shuffle->error);
        return;
    }
    /* WN_SHUFFLE_END: every extract of the round is done everywhere. */
    shuffle_member_end(a->shuffle, a->run, m);
    ack(a, m->stage, NULL);
}

static void on_extract(struct wn_actor *a, const struct wn_msg_extract *m, size_t len)
{
    struct job *j = calloc(1, sizeof(*j) + 64);
    if (len < sizeof(*m) || m->stage >= a->run->nstages || !j) {
        wn_error("malformed extract request (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    j->descs = (struct wn_desc *)(j + 1);
    j->stage = a->run->stages[m->stage];
    j->batch = m->batch;
    j->kind = JOB_EXTRACT;
    j->round = m->round;
    j->partition = m->partition;
    char why[1024];
    int state = shuffle_member_extract(a->shuffle, j, a->run->rank, why, sizeof(why));
    if (state == EXTRACT_FAIL)
        fail_job(a, j, why);
    else if (state == EXTRACT_READY)
        make_ready(a, j);
}

/* Moves the open round on: progress, failures, extracts that may start,
 * and the backlog the compute thread watches. */
static int shuffle_poll(struct wn_actor *a)
{
    struct job *ready, *failed;
    int room = 0;
    int rc = shuffle_member_progress(a->shuffle, &ready, &failed, &room);
    fail_jobs(a, failed, a->shuffle->error);
    while (ready) {
        struct job *j = ready;
        ready = j->next;
        make_ready(a, j);
    }
    if (room) {
        pthread_mutex_lock(&a->lock);
        pthread_cond_broadcast(&a->compute->room);
        pthread_mutex_unlock(&a->lock);
    }
    return rc;
}

/* Wakes the main thread from its idle wait: the compute thread has
 * handed it a clique collective. */
static void wake_main(void *arg)
{
    struct wn_actor *a = arg;
    pthread_mutex_lock(&a->lock);
    if (a->main_waiting)
        pthread_cond_signal(&a->main_cond);
    pthread_mutex_unlock(&a->lock);
}

static void on_clique(struct wn_actor *a, const struct wn_msg_clique *m, size_t len)
{
    wn_error_t err = {{0}};
    if (len < sizeof(*m) || m->stage >= a->run->nstages || m->nactors < 1 ||
        len < sizeof(*m) + (size_t)m->nactors * sizeof(int32_t)) {
        wn_error("malformed clique message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    int gpu = m->gpu ? a->run->places[a->run->rank].gpu : -1;
    wn_clique_destroy(a->clique);
    a->clique = NULL;
    a->clique_stage = -1;
    if (m->gpu && gpu < 0) {
        wn_errprintf(&err, "rank %d has no GPU for an NCCL clique", a->run->rank);
    } else {
        /* NCCL's set-up waits for every member: the same bound as a
         * shuffle's silent peer. */
        wn_loop_heartbeat(a->run->loop, WN_HB_BLOCKING);
        a->clique = wn_clique_create(a->run->group_comm, (const int *)(m + 1), m->nactors, gpu,
                                     a->run->cfg->exec.shuffle_timeout, wake_main, a, &err);
        if (a->clique)
            a->clique_stage = (int)m->stage;
    }
    ack(a, m->stage, a->clique ? NULL : err.text);
}

static void on_stage_end(struct wn_actor *a, uint32_t stage)
{
    struct wn_stage *st = a->run->stages[stage];
    if (a->hosted[stage]) {
        if (st->ops->teardown)
            st->ops->teardown(st);
        a->hosted[stage] = 0;
    }
    if (a->clique_stage == (int)stage) {
        wn_clique_destroy(a->clique);
        a->clique = NULL;
        a->clique_stage = -1;
    }
    /* The stage's inputs are consumed: free them where they live. */
    if (stage > 0) {
        wn_store_drop_stage(a->run->store, stage - 1);
        /* ... and their half of the arena: every reader has finished. */
        wn_arena_reset(a->run->arena, stage - 1);
    }
    ack(a, stage, NULL);
}

/* Streaming: inputs a batch has consumed, freed where they live. */
static void on_drop(struct wn_actor *a, const struct wn_msg_drop *m, size_t len)
{
    if (len < sizeof(*m) || len < sizeof(*m) + (size_t)m->n * sizeof(uint64_t)) {
        wn_error("malformed drop message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    const uint64_t *ids = (const void *)(m + 1);
    for (uint32_t i = 0; i < m->n; i++)
        wn_store_drop(a->run->store, ids[i]);
}

/* Streaming's autoscaler: this rank's actors of a task-mode stage. */
static void on_scale(struct wn_actor *a, const struct wn_msg_scale *m, size_t len)
{
    if (len < sizeof(*m) || m->stage >= a->run->nstages) {
        wn_error("malformed scale message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    pthread_mutex_lock(&a->lock);
    a->compute->stage_slots[m->stage] = m->slots > 0 ? m->slots : 1;
    pthread_cond_broadcast(&a->compute->cond); /* more may run now */
    pthread_mutex_unlock(&a->lock);
}

/* The loop's handlers: each message to its function above. */
#define HANDLER(name, call)                                                           \
    static void name(struct wn_loop *loop, int src, void *buf, size_t len, void *arg) \
    {                                                                                 \
        (void)loop;                                                                   \
        (void)src;                                                                    \
        (void)len;                                                                    \
        call;                                                                         \
    }
HANDLER(handle_stage, on_stage(arg, buf))
HANDLER(handle_assign, on_assign(arg, buf, len))
HANDLER(handle_stage_end, on_stage_end(arg, *(uint32_t *)buf))
HANDLER(handle_load, on_load(arg, buf, len))
HANDLER(handle_shuffle, on_shuffle(arg, buf, len))
HANDLER(handle_extract, on_extract(arg, buf, len))
HANDLER(handle_clique, on_clique(arg, buf, len))
HANDLER(handle_drop, on_drop(arg, buf, len))
HANDLER(handle_scale, on_scale(arg, buf, len))
#undef HANDLER

static const struct wn_loop_handler handlers[] = {
    {WN_TAG_STAGE, handle_stage},         {WN_TAG_ASSIGN, handle_assign},
    {WN_TAG_STAGE_END, handle_stage_end}, {WN_TAG_LOAD, handle_load},
    {WN_TAG_SHUFFLE, handle_shuffle},     {WN_TAG_EXTRACT, handle_extract},
    {WN_TAG_CLIQUE, handle_clique},       {WN_TAG_DROP, handle_drop},
    {WN_TAG_SCALE, handle_scale},         WN_LOOP_HANDLER_END,
};

/* Sends the DURABLE messages of written part files, oldest first. */
static void send_durable(struct wn_actor *a, struct io_job *io)
{
    struct io_job *rev = NULL;
    while (io) {
        struct io_job *n = io->next;
        io->next = rev;
        rev = io;
        io = n;
    }
    while (rev) {
        io = rev;
        rev = io->next;
        if (!io->msg) {
            wn_error("out of memory reporting part file %s", io->path);
            MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
        }
        wn_wire_send_durable(a->run->loop, 0, io->msg, io->msg_len);
        free(io->msg);
        free(io->path);
        free(io->rejects);
        free(io);
    }
}

/* Sends finished results. */
static int poll_hook(struct wn_loop *loop, void *arg)
{
    struct wn_actor *a = arg;
    (void)loop;
    int moved = shuffle_poll(a) | wn_clique_progress(a->clique);
    if (atomic_load(&a->ndone) == 0)
        return moved;
    pthread_mutex_lock(&a->lock);
    struct job *done = a->done;
    struct io_job *durable = a->durable;
    a->done = NULL;
    a->durable = NULL;
    atomic_store(&a->ndone, 0);
    pthread_mutex_unlock(&a->lock);
    if (!done && !durable)
        return moved;
    /* Oldest first: the list was built by prepending. */
    struct job *rev = NULL;
    while (done) {
        struct job *n = done->next;
        done->next = rev;
        rev = done;
        done = n;
    }
    while (rev) {
        struct job *j = rev;
        rev = j->next;
        send_result(a, j);
    }
    /* Part files written, after the results: a batch's RESULT always goes
     * before its DURABLE, on the same ordered channel. */
    send_durable(a, durable);
    return 1;
}

/* The main thread's idle wait: returns after `seconds` or as soon as the
 * compute thread finishes a batch, whichever comes first. */
static void idle_wait(void *arg, double seconds)
{
    struct wn_actor *a = arg;
    /* An open shuffle round is driven by polling its UCX worker, and a
     * clique collective by testing it. */
    if ((a->shuffle->sh || wn_clique_busy(a->clique)) && seconds > 100e-6)
        seconds = 100e-6;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (long)(seconds * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&a->lock);
    if (!a->done && !a->durable && !wn_clique_busy(a->clique)) {
        a->main_waiting = 1;
        pthread_cond_timedwait(&a->main_cond, &a->lock, &ts);
        a->main_waiting = 0;
    }
    pthread_mutex_unlock(&a->lock);
}

int wn_actor_register(struct wn_actor *a, wn_error_t *err)
{
    if (wn_loop_handlers_add(a->run->loop, handlers, a) < 0 ||
        wn_loop_poll_add(a->run->loop, poll_hook, a) < 0)
        return wn_errprintf(err, "the actor cannot register with the event loop: %s",
                            strerror(errno));
    wn_loop_idle_set(a->run->loop, idle_wait, a);
    return 0;
}
