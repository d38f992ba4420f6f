/* actor.c - a pool actor: sets up the stages it hosts, gathers each
 * assigned batch's inputs (local payloads by reference, remote ones pulled
 * from their owners), and runs process_batch on a compute thread so the
 * main thread keeps serving pulls and messages meanwhile.  Running a job
 * is in actor_job.c, the compute and I/O threads in actor_io.c. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "exec/runtime.h"
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

struct wn_actor *wn_actor_create(struct wn_rt *rt)
{
    struct wn_actor *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->main_cond, &ca);
    pthread_condattr_destroy(&ca);
    a->ready_tail = &a->ready;
    a->io_tail = &a->io_head;
    pthread_cond_init(&a->io_cond, NULL);
    pthread_cond_init(&a->io_space, NULL);
    a->cur_stage = -1;
    a->avg_stage = -1;
    a->clique_stage = -1;
    rt->actor = a;
    if (pthread_create(&a->thread, NULL, actor_compute_main, rt) != 0) {
        free(a);
        rt->actor = NULL;
        return NULL;
    }
    a->thread_started = 1;
    if (rt->opts->checkpoint && pthread_create(&a->io_thread, NULL, actor_io_main, rt) == 0)
        a->io_started = 1;
    return a;
}

void wn_actor_destroy(struct wn_actor *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_signal(&a->cond);
    pthread_cond_signal(&a->io_cond);
    pthread_mutex_unlock(&a->lock);
    if (a->thread_started)
        pthread_join(a->thread, NULL);
    if (a->io_started)
        pthread_join(a->io_thread, NULL);
    pthread_cond_destroy(&a->io_cond);
    pthread_cond_destroy(&a->io_space);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    pthread_cond_destroy(&a->main_cond);
    wn_clique_destroy(a->clique);
    free(a);
}

/* Hands an insert batch's chunks to the shuffle, before its result goes
 * to the planner (which finishes the round's inserts only after every
 * result, so no chunk comes after insert_finished). */
static void sh_fail(struct wn_rt *rt, const char *why);

static void hand_chunks(struct wn_rt *rt, struct job *j)
{
    struct wn_actor *a = rt->actor;
    for (size_t i = 0; i < j->nchunks; i++) {
        struct chunk *c = &j->chunks[i];
        wn_error_t err = {{0}};
        if (!a->sh_failed &&
            wn_shuffle_insert(a->sh, c->part, c->origin, c->buf, c->len, &err) < 0)
            sh_fail(rt, err.text);
        else if (a->sh_failed)
            free(c->buf);
        c->buf = NULL;   /* the shuffle's now (or freed) */
    }
    free(j->chunks);
    j->chunks = NULL;
    j->nchunks = 0;
}

/* Sends a finished job's result and frees it (main thread). */
static void send_result(struct wn_rt *rt, struct job *j)
{
    struct wn_actor *a = rt->actor;
    if (j->nchunks)
        hand_chunks(rt, j);
    /* An extracted partition's received rows are no longer needed. */
    if (j->extract && a->sh && a->sh_stage == j->stage->index && a->sh_round == j->round)
        wn_shuffle_release(a->sh, j->part);
    wn_rt_send(rt, 0, WN_TAG_RESULT, j->result, j->result_len);
    j->result = NULL;
    actor_job_free(rt, j);
}

static void make_ready(struct wn_rt *rt, struct job *j)
{
    struct wn_actor *a = rt->actor;
    if (j->t_ready_wait > 0)
        j->pull_s = wn_rt_now(rt) - j->t_ready_wait;
    pthread_mutex_lock(&a->lock);
    /* A stage whose batches take microseconds, with the compute thread
     * idle: run it here.  GPU stages stay on the compute thread, which
     * holds their device (CUDA binds a device per thread). */
    int io_room = !rt->opts->checkpoint || (a->io_started && a->io_queued < WN_IO_QUEUE_MAX);
    /* RAFT stages neither: their collectives need the main thread free. */
    if (!a->ready && !a->running && a->avg_stage == (int)j->stage->index &&
        a->avg_job_s < WN_INLINE_JOB_S && !(j->stage->cfg->gpus > 0) && io_room &&
        !(j->stage->ops->flags & WN_STAGE_RAFT)) {
        double now = wn_rt_now(rt), idle = now - a->idle_since;
        pthread_mutex_unlock(&a->lock);
        actor_run_job(rt, j, idle > 0 ? idle : 0, a->io_started);
        double end = wn_rt_now(rt);
        pthread_mutex_lock(&a->lock);
        a->idle_since = end;
        actor_note_job_time(a, j, end - now);
        if (j->io)
            actor_queue_io(a, j);
        pthread_mutex_unlock(&a->lock);
        send_result(rt, j);
        return;
    }
    j->next = NULL;
    *a->ready_tail = j;
    a->ready_tail = &j->next;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

struct pull_ctx {
    struct job *job;
    uint32_t index;
};

static void on_pulled(struct wn_rt *rt, uint64_t id, void *buf, size_t len, int remote,
                      void *arg)
{
    struct pull_ctx *c = arg;
    struct job *j = c->job;
    j->bufs[c->index] = buf;
    j->lens[c->index] = len;
    j->remote[c->index] = 1;
    j->pulled_bytes += len;
    free(c);
    if (--j->missing == 0)
        make_ready(rt, j);
}

static void ack(struct wn_rt *rt, uint32_t stage, const char *errtext)
{
    size_t elen = errtext ? strlen(errtext) + 1 : 0;
    struct wn_msg_ack *m = wn_xcalloc(1, sizeof(*m) + elen);
    m->stage = stage;
    m->status = errtext ? -1 : 0;
    if (elen)
        memcpy(m + 1, errtext, elen);
    wn_rt_send(rt, 0, WN_TAG_ACK, m, sizeof(*m) + elen);
}

static void on_stage(struct wn_rt *rt, const struct wn_msg_stage *m)
{
    struct wn_actor *a = rt->actor;
    struct wn_stage *st = rt->stages[m->stage];
    const struct wn_place *me = &rt->places[rt->rank];
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
        struct wn_worker w = {rt->rank, me->node_id, me->local_rank, me->gpu,
                              m->actor_index, m->nactors,
                              a->clique_stage == (int)m->stage ? a->clique : NULL};
        if (st->ops->setup(st, &w, &err) < 0) {
            wn_errprefix(&err, "setup");
            goto fail;
        }
    }
    a->cur_stage = (int)m->stage;
    a->idle_since = wn_rt_now(rt);
    wn_current_stage_name = NULL;
    ack(rt, m->stage, NULL);
    return;
fail:
    wn_current_stage_name = NULL;
    ack(rt, m->stage, err.text);
}

static void on_assign(struct wn_rt *rt, const struct wn_msg_assign *m, size_t len)
{
    uint32_t n = len >= sizeof(*m) ? m->ntasks : 0;
    if (len < sizeof(*m) || len < sizeof(*m) + (size_t)n * sizeof(struct wn_desc)) {
        wn_error("malformed batch assignment (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* The job and its per-task arrays in one allocation. */
    size_t cnt = n ? n : 1;
    size_t sz = sizeof(struct job) + cnt * (sizeof(struct wn_desc) + sizeof(void *) +
                                             sizeof(size_t) + sizeof(struct wn_payload *) + 1);
    struct job *j = calloc(1, sz);
    if (!j) {
        wn_error("out of memory for a batch of %u tasks", n);
        MPI_Abort(MPI_COMM_WORLD, 1);
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
    j->remote = (unsigned char *)at;
    j->stage = rt->stages[m->stage];
    j->attempt = m->attempt;
    j->batch = m->batch;
    j->n = n;
    /* A shuffle stage's batches are its inserts (extracts come apart). */
    if (j->stage->ops->flags & WN_STAGE_SHUFFLE) {
        j->insert = 1;
        j->round = rt->actor->sh_round;
    }
    memcpy(j->descs, m + 1, n * sizeof(struct wn_desc));
    for (uint32_t i = 0; i < n; i++) {
        const struct wn_desc *d = &j->descs[i];
        if (d->owner < 0)
            continue;
        if (d->owner == rt->rank) {
            j->held[i] = wn_store_get(rt->store, d->id);
            if (!j->held[i]) {
                wn_error("rank %d was given task %016llx to process but does not hold it",
                         rt->rank, (unsigned long long)d->id);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            j->bufs[i] = j->held[i]->buf;
            j->lens[i] = j->held[i]->len;
        } else if ((j->bufs[i] = (void *)wn_arena_ptr(rt->arena, d->owner, d->arena))) {
            /* In the owner's node arena: read in place, checksum verified. */
            j->lens[i] = d->len;
            j->remote[i] = 2;
            j->arena_bytes += d->len;
        } else {
            j->missing++;
        }
    }
    if (j->missing == 0) {
        make_ready(rt, j);
        return;
    }
    j->t_ready_wait = wn_rt_now(rt);
    /* Count first, then pull: a pull served from this rank completes at once. */
    int pulls = j->missing;
    for (uint32_t i = 0; i < n && pulls; i++) {
        const struct wn_desc *d = &j->descs[i];
        /* Seeds, local inputs and those read in a node arena are there. */
        if (d->owner < 0 || d->owner == rt->rank || j->remote[i] == 2)
            continue;
        pulls--;
        struct pull_ctx *c = wn_xmalloc(sizeof(*c));
        c->job = j;
        c->index = i;
        if (wn_rt_pull(rt, d->id, d->owner, on_pulled, c) < 0) {
            wn_error("cannot pull task %016llx from rank %d", (unsigned long long)d->id,
                     d->owner);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
}

static void on_load(struct wn_rt *rt, const struct wn_msg_load *m, size_t len)
{
    struct job *j = calloc(1, sizeof(*j) + 64);
    if (len < sizeof(*m) || m->stage >= rt->nstages || !j) {
        wn_error("malformed load request (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* No inputs: the descriptor arrays stay empty. */
    j->descs = (struct wn_desc *)(j + 1);
    j->bufs = NULL;
    j->stage = rt->stages[m->stage];
    j->batch = m->batch;
    j->load = 1;
    j->load_sum = m->sum;
    make_ready(rt, j);
}

/* An extract that cannot run: its result says why. */
static void fail_job(struct wn_rt *rt, struct job *j, const char *why)
{
    uint64_t counts[4] = {0, 0, 0, 0};
    double now = wn_rt_now(rt);
    actor_job_result(rt, j, -1, why, NULL, 0, now, now, 0, counts);
    send_result(rt, j);
}

/* The round failed on this rank (a peer unreachable, a transfer stuck):
 * the extracts waiting for it fail with the reason, and so do later ones;
 * the planner fails the run. */
static void sh_fail(struct wn_rt *rt, const char *why)
{
    struct wn_actor *a = rt->actor;
    if (!a->sh_failed) {
        a->sh_failed = 1;
        snprintf(a->sh_error, sizeof(a->sh_error), "%s", why);
        wn_error("%s", why);
    }
    while (a->sh_waiting) {
        struct job *j = a->sh_waiting;
        a->sh_waiting = j->next;
        fail_job(rt, j, a->sh_error);
    }
}

static void on_shuffle(struct wn_rt *rt, const struct wn_msg_shuffle *m, size_t len)
{
    struct wn_actor *a = rt->actor;
    const struct wn_executor_config *ex = &rt->cfg->exec;
    wn_error_t err = {{0}};
    if (len < sizeof(*m) || m->stage >= rt->nstages ||
        (m->op == WN_SHUFFLE_BEGIN &&
         (m->nactors < 1 || len < sizeof(*m) + (size_t)m->nactors * sizeof(int32_t)))) {
        wn_error("malformed shuffle message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (m->op == WN_SHUFFLE_BEGIN) {
        const int32_t *ranks = (const int32_t *)(m + 1);
        MPI_Group world, group;
        MPI_Comm_group(rt->group_comm, &world);
        MPI_Group_incl(world, m->nactors, (const int *)ranks, &group);
        /* This and the round's connections wait for every actor of the
         * round: rank 0 hears nothing from here meanwhile. */
        wn_rt_heartbeat(rt, WN_HB_BLOCKING);
        /* Non-collective over group_comm: only the round's actors call it. */
        int rc = MPI_Comm_create_group(rt->group_comm, group, (int)(m->round & 0x7fff),
                                       &a->sh_comm);
        MPI_Group_free(&group);
        MPI_Group_free(&world);
        struct wn_shuffle_opts o = {
            .inflight_per_peer = (size_t)ex->shuffle_inflight,
            .memory_limit = (size_t)ex->shuffle_memory_limit,
            .spill_dir = ex->shuffle_spill_dir,
            .timeout_s = ex->shuffle_timeout,
            .world_rank = rt->rank,
        };
        a->sh_failed = 0;
        a->sh_error[0] = '\0';
        a->sh_stage = m->stage;
        a->sh_round = m->round;
        if (rc != MPI_SUCCESS) {
            wn_errprintf(&err, "rank %d: cannot make the communicator of shuffle round %u",
                         rt->rank, m->round);
        } else if (!(a->sh = wn_shuffle_create(a->sh_comm, m->round, m->nparts, &o, &err))) {
            wn_errprefix(&err, "rank %d: shuffle round %u", rt->rank, m->round);
            MPI_Comm_free(&a->sh_comm);
        }
        ack(rt, m->stage, err.text[0] ? err.text : NULL);
        return;
    }
    if (m->op == WN_SHUFFLE_INSERTED) {
        if (a->sh && !a->sh_failed && wn_shuffle_insert_finished(a->sh, &err) < 0)
            sh_fail(rt, err.text);
        return;
    }
    /* WN_SHUFFLE_END: every extract of the round is done everywhere. */
    if (a->sh) {
        struct wn_shuffle_stats ss;
        wn_shuffle_stats(a->sh, &ss);
        wn_debug("shuffle round %u: sent %llu bytes in %llu messages, received %llu, "
                 "spilled %llu, peak held %llu", m->round, (unsigned long long)ss.bytes_sent,
                 (unsigned long long)ss.messages_sent, (unsigned long long)ss.bytes_received,
                 (unsigned long long)ss.bytes_spilled, (unsigned long long)ss.peak_held_bytes);
        struct wn_msg_shuffle_stats *st = wn_xmalloc(sizeof(*st));
        *st = (struct wn_msg_shuffle_stats){m->stage, m->round, ss.bytes_sent,
                                            ss.bytes_spilled, ss.peak_held_bytes};
        wn_rt_send(rt, 0, WN_TAG_SHUFFLE_STATS, st, sizeof(*st));
        wn_rt_heartbeat(rt, WN_HB_BLOCKING);   /* a barrier of the round */
        wn_shuffle_destroy(a->sh);
        a->sh = NULL;
        MPI_Comm_free(&a->sh_comm);
    }
    atomic_store(&a->sh_backlog, 0);
    ack(rt, m->stage, NULL);
}

static void on_extract(struct wn_rt *rt, const struct wn_msg_extract *m, size_t len)
{
    struct wn_actor *a = rt->actor;
    struct job *j = calloc(1, sizeof(*j) + 64);
    if (len < sizeof(*m) || m->stage >= rt->nstages || !j) {
        wn_error("malformed extract request (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    j->descs = (struct wn_desc *)(j + 1);
    j->stage = rt->stages[m->stage];
    j->batch = m->batch;
    j->extract = 1;
    j->round = m->round;
    j->part = m->part;
    if (a->sh_failed) {
        fail_job(rt, j, a->sh_error);
        return;
    }
    if (!a->sh || a->sh_stage != m->stage || a->sh_round != m->round) {
        char why[160];
        snprintf(why, sizeof(why), "rank %d has no open shuffle round %u of this stage",
                 rt->rank, m->round);
        fail_job(rt, j, why);
        return;
    }
    if (wn_shuffle_complete(a->sh)) {
        make_ready(rt, j);
        return;
    }
    j->next = a->sh_waiting;
    a->sh_waiting = j;
}

/* Moves the open round on: progress, failures, extracts that may start,
 * and the backlog the compute thread watches. */
static int shuffle_poll(struct wn_rt *rt)
{
    struct wn_actor *a = rt->actor;
    wn_error_t err = {{0}};
    if (!a->sh || a->sh_failed)
        return 0;
    int rc = wn_shuffle_progress(a->sh, &err);
    if (rc < 0) {
        sh_fail(rt, err.text);
        return 1;
    }
    if (a->sh_waiting && wn_shuffle_complete(a->sh)) {
        /* Oldest first: partitions in the order the planner sent them. */
        struct job *rev = NULL;
        while (a->sh_waiting) {
            struct job *j = a->sh_waiting;
            a->sh_waiting = j->next;
            j->next = rev;
            rev = j;
        }
        while (rev) {
            struct job *j = rev;
            rev = j->next;
            make_ready(rt, j);
        }
        rc = 1;
    }
    size_t q = wn_shuffle_queued_bytes(a->sh);
    size_t old = atomic_exchange(&a->sh_backlog, q);
    if (old > WN_SHUFFLE_BACKLOG && q <= WN_SHUFFLE_BACKLOG) {
        pthread_mutex_lock(&a->lock);
        pthread_cond_broadcast(&a->io_space);
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

static void on_clique(struct wn_rt *rt, const struct wn_msg_clique *m, size_t len)
{
    struct wn_actor *a = rt->actor;
    wn_error_t err = {{0}};
    if (len < sizeof(*m) || m->stage >= rt->nstages || m->nactors < 1 ||
        len < sizeof(*m) + (size_t)m->nactors * sizeof(int32_t)) {
        wn_error("malformed clique message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int gpu = m->gpu ? rt->places[rt->rank].gpu : -1;
    wn_clique_destroy(a->clique);
    a->clique = NULL;
    a->clique_stage = -1;
    if (m->gpu && gpu < 0) {
        wn_errprintf(&err, "rank %d has no GPU for an NCCL clique", rt->rank);
    } else {
        /* NCCL's set-up waits for every member: the same bound as a
         * shuffle's silent peer. */
        wn_rt_heartbeat(rt, WN_HB_BLOCKING);
        a->clique = wn_clique_create(rt->group_comm, (const int *)(m + 1), m->nactors, gpu,
                                     rt->cfg->exec.shuffle_timeout, wake_main, a, &err);
        if (a->clique)
            a->clique_stage = (int)m->stage;
    }
    ack(rt, m->stage, a->clique ? NULL : err.text);
}

static void on_stage_end(struct wn_rt *rt, uint32_t stage)
{
    struct wn_actor *a = rt->actor;
    struct wn_stage *st = rt->stages[stage];
    if (a->cur_stage == (int)stage) {
        if (st->ops->teardown)
            st->ops->teardown(st);
        a->cur_stage = -1;
    }
    if (a->clique_stage == (int)stage) {
        wn_clique_destroy(a->clique);
        a->clique = NULL;
        a->clique_stage = -1;
    }
    /* The stage's inputs are consumed: free them where they live. */
    if (stage > 0) {
        wn_store_drop_stage(rt->store, stage - 1);
        /* ... and their half of the arena: every reader has finished. */
        wn_arena_reset(rt->arena, stage - 1);
    }
    ack(rt, stage, NULL);
}

void wn_actor_handle(struct wn_rt *rt, int tag, int src, void *buf, size_t len)
{
    switch (tag) {
    case WN_TAG_STAGE:
        on_stage(rt, buf);
        break;
    case WN_TAG_ASSIGN:
        on_assign(rt, buf, len);
        break;
    case WN_TAG_STAGE_END:
        on_stage_end(rt, *(uint32_t *)buf);
        break;
    case WN_TAG_LOAD:
        on_load(rt, buf, len);
        break;
    case WN_TAG_SHUFFLE:
        on_shuffle(rt, buf, len);
        break;
    case WN_TAG_EXTRACT:
        on_extract(rt, buf, len);
        break;
    case WN_TAG_CLIQUE:
        on_clique(rt, buf, len);
        break;
    default:
        wn_error("unexpected message tag %d from rank %d", tag, src);
        break;
    }
}

/* Sends the DURABLE messages of written part files, oldest first. */
static void send_durable(struct wn_rt *rt, struct io_job *io)
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
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        wn_rt_send(rt, 0, WN_TAG_DURABLE, io->msg, io->msg_len);
        free(io->path);
        free(io->rejects);
        free(io);
    }
}

int wn_actor_poll(struct wn_rt *rt)
{
    struct wn_actor *a = rt->actor;
    int moved = shuffle_poll(rt) | wn_clique_progress(a->clique);
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
        send_result(rt, j);
    }
    /* Part files written, after the results: a batch's RESULT always goes
     * before its DURABLE, on the same ordered channel. */
    send_durable(rt, durable);
    return 1;
}

void wn_actor_idle_wait(struct wn_rt *rt, double seconds)
{
    struct wn_actor *a = rt->actor;
    /* An open shuffle round is driven by polling its UCX worker, and a
     * clique collective by testing it. */
    if ((a->sh || wn_clique_busy(a->clique)) && seconds > 100e-6)
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
