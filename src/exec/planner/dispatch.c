/* dispatch.c - rank 0: the current stage's batches and their queues, and
 * first-free dispatch with `prefetch` batches queued per actor.  An actor
 * is preferably given batches whose inputs it (or its node) already
 * holds, and otherwise pulls them from their owners itself. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "exec/planner/planner_impl.h"
#include "stage/stage_impl.h"
#include "util/xalloc.h"

struct dispatch *dispatch_create(struct wn_run *run)
{
    struct dispatch *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->run = run;
    d->limit = d->allow = UINT64_MAX;
    d->outstanding = calloc((size_t)run->size, sizeof(*d->outstanding));
    d->queues = calloc((size_t)run->size + 1, sizeof(*d->queues));
    if (!d->outstanding || !d->queues) {
        dispatch_destroy(d);
        return NULL;
    }
    return d;
}

void dispatch_destroy(struct dispatch *d)
{
    if (!d)
        return;
    for (int r = 0; d->queues && r <= d->run->size; r++)
        free(d->queues[r].v);
    free(d->queues);
    free(d->retry.v);
    free(d->outstanding);
    for (uint64_t b = 0; d->batches && b < d->nmade; b++)
        free(d->batches[b].outs);
    free(d->batches);
    free(d);
}

void dispatch_reset(struct dispatch *d, uint64_t nbatches)
{
    for (uint64_t b = 0; d->batches && b < d->nmade; b++)
        free(d->batches[b].outs);
    d->nbatches = d->cap_batches = d->nmade = nbatches;
    free(d->batches);
    d->batches = wn_xcalloc(nbatches ? nbatches : 1, sizeof(*d->batches));
    for (uint64_t b = 0; b < nbatches; b++)
        d->batches[b].actor = d->batches[b].last_failed_on = d->batches[b].primary = -1;
    for (int r = 0; r <= d->run->size; r++)
        d->queues[r].n = d->queues[r].head = 0;
    d->retry.n = d->retry.head = 0;
    d->nfinished = d->nrunning = d->tasks_finished = d->outs_held = 0;
    memset(d->outstanding, 0, (size_t)d->run->size * sizeof(*d->outstanding));
    d->limit = d->allow = UINT64_MAX;
    d->slots = NULL;
    d->rank_out = NULL;
    d->rank_cap = NULL;
}

uint64_t dispatch_add(struct dispatch *d)
{
    if (d->nbatches == d->cap_batches) {
        uint64_t ncap = d->cap_batches ? d->cap_batches * 2 : 64;
        d->batches = wn_xrealloc(d->batches, ncap * sizeof(*d->batches));
        d->cap_batches = ncap;
    }
    uint64_t b = d->nbatches++;
    d->nmade = d->nbatches;
    memset(&d->batches[b], 0, sizeof(d->batches[b]));
    d->batches[b].actor = d->batches[b].last_failed_on = d->batches[b].primary = -1;
    if (d->njournaled + 1 == d->nbatches)
        d->njournaled = d->nbatches; /* not a shuffle's: every batch is */
    return b;
}

void dispatch_take_outputs(struct dispatch *d, uint64_t *next, struct wn_desc **v, size_t *n,
                           size_t *cap)
{
    for (; *next < d->nbatches; ++*next) {
        struct pbatch *pb = &d->batches[*next];
        if (pb->state != B_DONE && pb->state != B_GIVEN_UP)
            return;
        if (*n + pb->nouts > *cap) {
            size_t ncap = *cap ? *cap : 256;
            while (ncap < *n + pb->nouts)
                ncap *= 2;
            *v = wn_xrealloc(*v, ncap * sizeof(**v));
            *cap = ncap;
        }
        if (pb->nouts)
            memcpy(*v + *n, pb->outs, pb->nouts * sizeof(*pb->outs));
        *n += pb->nouts;
        d->outs_held -= pb->nouts;
        free(pb->outs);
        pb->outs = NULL;
        pb->nouts = 0;
    }
}

int dispatch_depth(const struct wn_run *run)
{
    const struct wn_executor_config *ex = &run->cfg->exec;
    return ex->slots_per_actor > 0 ? ex->slots_per_actor : 1 + ex->prefetch;
}

int dispatch_q_push(struct queue *q, uint64_t b)
{
    if (q->head + q->n == q->cap) {
        if (q->head > 0) {
            memmove(q->v, q->v + q->head, q->n * sizeof(*q->v));
            q->head = 0;
        }
        if (q->n == q->cap) {
            size_t ncap = q->cap ? q->cap * 2 : 16;
            uint64_t *nv = realloc(q->v, ncap * sizeof(*nv));
            if (!nv)
                return -1;
            q->v = nv;
            q->cap = ncap;
        }
    }
    q->v[q->head + q->n++] = b;
    return 0;
}

static int q_pop(struct queue *q, uint64_t *b)
{
    if (!q->n)
        return 0;
    *b = q->v[q->head++];
    q->n--;
    if (!q->n)
        q->head = 0;
    return 1;
}

void dispatch_queue(struct dispatch *d, uint64_t b)
{
    int primary = d->batches[b].primary;
    dispatch_q_push(&d->queues[primary >= 0 ? primary : d->run->size], b);
}

int dispatch_primary(const struct wn_desc *inputs, uint64_t first, uint64_t count)
{
    int primary = -1;
    uint64_t best = 0;
    for (uint64_t i = first; i < first + count; i++) {
        const struct wn_desc *d = &inputs[i];
        if (d->owner < 0)
            continue;
        uint64_t sum = 0;
        for (uint64_t j = first; j < first + count; j++)
            if (inputs[j].owner == d->owner)
                sum += inputs[j].len + 1;
        if (sum > best) {
            best = sum;
            primary = d->owner;
        }
        if (count > 64)
            break; /* large batches: the first owner is good enough */
    }
    return primary;
}

int dispatch_cmp_desc(const void *a, const void *b)
{
    const struct wn_desc *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void dispatch_running(struct dispatch *d, uint64_t b, int rank)
{
    struct pbatch *pb = &d->batches[b];
    pb->state = B_RUNNING;
    pb->actor = rank;
    d->outstanding[rank]++;
    d->nrunning++;
    if (d->rank_out)
        d->rank_out[rank]++;
}

void dispatch_assign(struct dispatch *d, uint32_t stage, const struct wn_desc *inputs, uint64_t b,
                     int rank)
{
    struct pbatch *pb = &d->batches[b];
    dispatch_running(d, b, rank);
    if (pb->load) {
        wn_wire_send_load(d->run->loop, rank, stage, b, pb->sum);
        return;
    }
    struct wn_msg_assign m = {stage, pb->attempt, b, (uint32_t)pb->count, 0};
    wn_wire_send_assign(d->run->loop, rank, &m, inputs + pb->first);
}

/* A queue whose next batch backpressure lets go (queues hold batches in
 * index order). */
static int q_open(const struct dispatch *d, const struct queue *q)
{
    return q->n && q->v[q->head] < d->limit;
}

/* The next batch for actor `rank`: a retry that failed elsewhere, then its
 * own inputs, then its node's, then seeds, then the longest queue. */
/* Whether rank r runs this stage's batches (an actor with slots). */
static int serves(const struct dispatch *d, const int *actors, int nactors, int r)
{
    if (d->slots)
        return d->slots[r] > 0;
    for (int i = 0; i < nactors; i++)
        if (actors[i] == r)
            return 1;
    return 0;
}

static int pick(struct dispatch *d, const int *actors, int nactors, int rank, uint64_t *b)
{
    struct wn_run *run = d->run;
    for (size_t i = 0; i < d->retry.n; i++) {
        uint64_t c = d->retry.v[d->retry.head + i];
        if (d->batches[c].last_failed_on != rank || nactors == 1) {
            /* take entry i: swap it to the head, then pop the head */
            d->retry.v[d->retry.head + i] = d->retry.v[d->retry.head];
            d->retry.v[d->retry.head] = c;
            return q_pop(&d->retry, b);
        }
    }
    if (q_open(d, &d->queues[rank]))
        return q_pop(&d->queues[rank], b);
    int node = run->places[rank].node_id, best = -1;
    size_t most = 0;
    /* Streaming makes no node arenas: a batch taken from a rank of the
     * node is pulled like any other.  It is taken only from a rank with
     * more queued than its slots hold, or one that runs none of them. */
    int streaming = run->cfg->exec.mode == WN_MODE_STREAMING;
    for (int r = 0; r < run->size && !streaming; r++)
        if (run->places[r].node_id == node && d->queues[r].n > most && q_open(d, &d->queues[r])) {
            most = d->queues[r].n;
            best = r;
        }
    if (best >= 0)
        return q_pop(&d->queues[best], b);
    if (q_open(d, &d->queues[run->size]))
        return q_pop(&d->queues[run->size], b);
    for (int r = 0; r < run->size; r++) {
        size_t keep = streaming && serves(d, actors, nactors, r) ? (size_t)dispatch_depth(run) : 0;
        if (d->queues[r].n > keep && d->queues[r].n - keep > most && q_open(d, &d->queues[r])) {
            most = d->queues[r].n - keep;
            best = r;
        }
    }
    return best >= 0 ? q_pop(&d->queues[best], b) : 0;
}

int dispatch_send(struct dispatch *d, uint32_t stage, const struct wn_desc *inputs,
                  const int *actors, int nactors)
{
    struct wn_run *run = d->run;
    int sent = 0;
    if (run->stages[stage]->ops->flags & WN_STAGE_RAFT) {
        /* A clique: every member gets its one batch, all at once. */
        for (uint64_t b = 0; b < d->nbatches; b++)
            if (d->batches[b].state == B_PENDING && d->batches[b].attempt == 0) {
                dispatch_assign(d, stage, inputs, b, actors[b % (uint64_t)nactors]);
                sent++;
            }
        return sent;
    }
    int depth = dispatch_depth(run);
    for (int k = 0; k < nactors; k++) {
        int rank = actors[(k + d->rotate) % nactors];
        uint64_t b = 0;
        int room = depth * (d->slots ? d->slots[rank] : 1);
        while (d->outstanding[rank] < room && d->allow > 0 &&
               (!d->rank_out || d->rank_out[rank] < d->rank_cap[rank]) &&
               pick(d, actors, nactors, rank, &b)) {
            if (d->allow != UINT64_MAX)
                d->allow--;
            dispatch_assign(d, stage, inputs, b, rank);
            sent++;
        }
    }
    d->rotate++;
    return sent;
}
