/* stream.c - rank 0, executor.mode streaming: the stages of a segment run
 * at once.  The head is the planner's current stage (stage.c runs it as
 * in bulk mode); the stages after it up to the segment's end are its
 * followers.  A follower's inputs are its producer's outputs taken in
 * batch order as the producer's batches finish (dispatch_take_outputs),
 * and its batches are cut from them as soon as batch_size of them are
 * there: the batches bulk mode makes from the same outputs, whatever the
 * order they arrived in.  Between a producer and its consumer the queue
 * is bounded (backpressure); a consumed input is freed on its owner as
 * soon as the batch that read it has succeeded.  When the head ends, its
 * first follower's inputs are complete and it becomes the head.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "exec/plan.h"
#include "exec/planner/planner_impl.h"
#include "stage/stage_impl.h"
#include "util/xalloc.h"

struct stream *stream_create(struct wn_run *run)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->by_stage = calloc(run->nstages ? run->nstages : 1, sizeof(*s->by_stage));
    if (!s->by_stage) {
        free(s);
        return NULL;
    }
    s->nstages = run->nstages;
    return s;
}

static void follower_free(struct follower *f)
{
    if (!f)
        return;
    dispatch_destroy(f->d);
    free(f->inputs);
    free(f->actors);
    free(f->done);
    free(f);
}

void stream_destroy(struct stream *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nstages; i++)
        follower_free(s->by_stage[i]);
    free(s->by_stage);
    free(s);
}

uint32_t stream_segment_end(const struct wn_run *run, uint32_t head)
{
    return wn_plan_segment_end(run->stages, run->nstages, head,
                               run->cfg->exec.mode == WN_MODE_STREAMING);
}

int stream_view(struct wn_planner *p, uint32_t stage, struct stage_view *v)
{
    if (stage == p->stage) {
        *v = (struct stage_view){stage, p->dispatch, p->inputs, p->ninputs};
        return 1;
    }
    struct follower *f = stage < p->stream->nstages ? p->stream->by_stage[stage] : NULL;
    if (!f)
        return 0;
    *v = (struct stage_view){stage, f->d, f->inputs, f->ninputs};
    return 1;
}

struct follower *stream_follower(struct wn_planner *p, uint32_t stage)
{
    return stage < p->stream->nstages ? p->stream->by_stage[stage] : NULL;
}

uint64_t stream_nrunning(const struct wn_planner *p)
{
    uint64_t n = p->dispatch->nrunning;
    for (uint32_t s = 0; s < p->stream->nstages; s++)
        if (p->stream->by_stage[s])
            n += p->stream->by_stage[s]->d->nrunning;
    return n;
}

static int cmp_done(const void *a, const void *b)
{
    const struct wn_ckpt_batch *x = a, *y = b;
    return x->batch < y->batch ? -1 : x->batch > y->batch;
}

/* Resume: the batches of this stage an earlier run journaled, to load as
 * they are cut (their inputs are the same: batches are cut in batch order
 * from outputs that are the same bytes). */
static void follower_loads(struct wn_planner *p, struct follower *f)
{
    const struct wn_ckpt_stage *cs =
        p->checkpoint->ck ? wn_ckpt_stage(p->checkpoint->ck, f->stage) : NULL;
    if (!cs || !cs->ndone)
        return;
    const struct wn_stage *st = p->run->stages[f->stage];
    if (p->checkpoint->rerun_rest) {
        wn_warn("checkpoint: stage '%s' runs whole: a stage before it did", st->cfg->name);
        return;
    }
    if (cs->begun && cs->layout != st->layout) {
        wn_warn("checkpoint: stage '%s' divides its work otherwise than when its batches "
                "were made: running them all",
                st->cfg->name);
        return;
    }
    /* Copies: a load that fails makes the journal forget its batch, which
     * moves another into its place there. */
    f->done = wn_xmalloc(cs->ndone * sizeof(*f->done));
    memcpy(f->done, cs->done, cs->ndone * sizeof(*f->done));
    f->ndone = cs->ndone;
    qsort(f->done, f->ndone, sizeof(*f->done), cmp_done);
    wn_info("checkpoint: stage '%s': %zu batches done earlier, loading them", st->cfg->name,
            cs->ndone);
}

void stream_begin(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct stream *sm = p->stream;
    uint32_t end = stream_segment_end(run, p->stage);
    const struct wn_executor_config *ex = &run->cfg->exec;
    for (uint32_t s = p->stage + 1; s < end; s++) {
        const struct wn_stage_config *c = run->stages[s]->cfg;
        struct follower *f = wn_xcalloc(1, sizeof(*f));
        f->stage = s;
        f->d = dispatch_create(run);
        if (!f->d) {
            free(f);
            stop_fail(p->stop, "out of memory");
            return;
        }
        dispatch_reset(f->d, 0);
        f->batch_size = c->batch_size > 0 ? (uint64_t)c->batch_size : 1;
        /* Its input count is not known yet: as many actors as may host
         * it (num_workers caps them). */
        struct wn_actor_request req = {
            .stage = c->name,
            .cpus = c->cpus,
            .gpus = c->gpus,
            .num_workers = c->num_workers,
            .ntasks = (uint64_t)run->size * 1024,
            .batch_size = 1,
            .reserved_cpus = ex->reserved_cpus,
            .reserved_gpus = ex->reserved_gpus,
            .ignore_head_node = ex->ignore_head_node,
            .planner_rank = 0,
        };
        wn_error_t err = {{0}};
        f->actors = wn_xcalloc((size_t)run->size, sizeof(*f->actors));
        if (wn_plan_actors(run->places, run->size, &req, NULL, f->actors, &f->nactors, &err) < 0) {
            follower_free(f);
            stop_fail(p->stop, "%s", err.text);
            return;
        }
        sm->by_stage[s] = f;
        follower_loads(p, f);
        struct wn_stage_stats *st = &p->stats[s];
        st->nactors = f->nactors;
        for (int i = 0; i < f->nactors && i < 64; i++)
            st->ranks[i] = f->actors[i];
        st->t_begin = wn_run_now(run);
        st->ran = 1;
        st->streamed = 1;
        if (c->batch_size <= 0)
            wn_warn("stage '%s': batch_size not set, using 1", c->name);
    }
    if (end > p->stage + 1) {
        p->stats[p->stage].streamed = 1;
        autoscale_begin(p, end);
        for (uint32_t s = p->stage; s < end; s++) {
            struct dispatch *d = s == p->stage     ? p->dispatch
                                 : sm->by_stage[s] ? sm->by_stage[s]->d
                                                   : NULL;
            if (!d)
                continue;
            d->slots = autoscale_slots(p->autoscale, s);
            d->rank_out = p->autoscale->rank_out;
            d->rank_cap = p->autoscale->rank_cap;
        }
        wn_info("streaming: stages %u to %u ('%s' to '%s') run at once", p->stage + 1, end,
                run->stages[p->stage]->cfg->name, run->stages[end - 1]->cfg->name);
    }
}

/* ------------------------------------------------------------ feeding -- */

static const struct wn_ckpt_batch *done_find(const struct follower *f, uint64_t b)
{
    size_t lo = 0, hi = f->ndone;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->done[mid].batch < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->ndone && f->done[lo].batch == b ? &f->done[lo] : NULL;
}

static void cut(struct wn_planner *p, struct follower *f, uint64_t count)
{
    uint64_t b = dispatch_add(f->d);
    struct pbatch *pb = &f->d->batches[b];
    pb->first = f->cut_inputs;
    pb->count = count;
    pb->primary = dispatch_primary(f->inputs, pb->first, pb->count);
    f->cut_inputs += count;
    const struct wn_ckpt_batch *done = f->ndone ? done_find(f, b) : NULL;
    if (done) {
        pb->load = 1;
        pb->sum = done->sum;
        checkpoint_count_rejects(p, f->stage, done);
    }
    dispatch_queue(f->d, b);
}

/* The producer's finished outputs, in batch order, into f; batches cut
 * from them.  final: the producer has ended (its last batch is done). */
static void feed(struct wn_planner *p, struct follower *f, int final)
{
    struct stage_view prod;
    if (f->final || !stream_view(p, f->stage - 1, &prod))
        return;
    size_t before = f->ninputs;
    dispatch_take_outputs(prod.d, &f->fed, &f->inputs, &f->ninputs, &f->cap_inputs);
    for (size_t i = before; i < f->ninputs; i++)
        f->bytes_fed += f->inputs[i].len;
    while (f->ninputs - f->cut_inputs >= f->batch_size)
        cut(p, f, f->batch_size);
    if (!final)
        return;
    if (f->ninputs > f->cut_inputs)
        cut(p, f, f->ninputs - f->cut_inputs);
    f->final = 1;
    struct wn_stage_stats *s = &p->stats[f->stage];
    s->batches = f->d->nbatches;
    s->tasks_in = f->ninputs;
    if (p->checkpoint->ck) {
        /* Its batch count is known only now; batches it journaled before
         * need no record of it (ckpt.h). */
        wn_error_t err = {{0}};
        const struct wn_stage *st = p->run->stages[f->stage];
        if (wn_ckpt_stage_begin(p->checkpoint->ck, f->stage, f->d->nbatches, f->ninputs, st->layout,
                                &err) < 0)
            stop_fail(p->stop, "checkpoint: %s", err.text);
        p->checkpoint->journal_dirty = 1;
    }
}

void stream_producer_ended(struct wn_planner *p, uint32_t stage)
{
    struct follower *f = stream_follower(p, stage + 1);
    if (f)
        feed(p, f, 1);
}

/* ------------------------------------------------------- backpressure -- */

/* Stage s's actors (the segment's: on every rank, as the autoscaler
 * divided them). */
static uint64_t stage_actors(struct wn_planner *p, uint32_t s)
{
    const int *slots = autoscale_slots(p->autoscale, s);
    uint64_t n = 0;
    for (int r = 0; slots && r < p->run->size; r++)
        n += slots[r] > 0 ? (uint64_t)slots[r] : 0;
    return n ? n : 1;
}

/* The producer's first batch from `from` on that has not run. */
static uint64_t first_pending(const struct dispatch *d, uint64_t from)
{
    while (from < d->nbatches && d->batches[from].state != B_PENDING)
        from++;
    return from;
}

/* The queue on the edge into consumer f, in f's batches: its inputs not
 * yet sent in a batch (cut or not, and the producer's outputs finished
 * out of order), and the producer's batches running.  The producer may
 * start batches only while the queue is under queue_depth and its bytes
 * under queue_bytes; when nothing at all moves on the edge, its next
 * batch goes anyway, so the segment cannot stall. */
static void backpressure(struct wn_planner *p, struct follower *f)
{
    const struct wn_executor_config *ex = &p->run->cfg->exec;
    struct stage_view prod;
    if (!stream_view(p, f->stage - 1, &prod))
        return;
    struct dispatch *pd = prod.d, *cd = f->d;
    uint64_t pending = cd->nbatches - cd->nfinished - cd->nrunning;
    uint64_t waiting = f->ninputs - f->cut_inputs + pending * f->batch_size + pd->outs_held;
    uint64_t queue = (waiting + f->batch_size - 1) / f->batch_size + pd->nrunning;
    double per_input = f->ninputs ? (double)f->bytes_fed / (double)f->ninputs : 0;
    double bytes = (double)waiting * per_input;
    /* Default: a batch for each actor on either side of the edge, and one
     * more (the queue counts the producer's running batches: a smaller
     * one holds the producer under its actors). */
    uint64_t cap = ex->queue_depth > 0
                       ? (uint64_t)ex->queue_depth
                       : stage_actors(p, f->stage) + stage_actors(p, f->stage - 1) + 1;
    double cap_bytes = ex->queue_bytes > 0 ? ex->queue_bytes
                       : p->run->memory_limit
                           ? (double)p->run->memory_limit * (f->nactors > 0 ? f->nactors : 1) / 4
                           : INFINITY;
    struct wn_stage_stats *s = &p->stats[f->stage];
    if (queue > s->queue_peak)
        s->queue_peak = queue;
    /* Room on the edge: that many more of the producer's batches, any of
     * them (an actor takes those whose inputs it holds), but for the last
     * place, which only the producer's first batch not yet run may take:
     * outputs finished out of order wait for it, and it must never find
     * the queue full.  When nothing at all moves on the edge (a byte cap
     * reached), that batch goes anyway. */
    int held = 0;
    pd->limit = UINT64_MAX;
    if (queue + 1 < cap && bytes < cap_bytes)
        pd->allow = cap - 1 - queue;
    else if ((queue < cap && bytes < cap_bytes) ||
             (pending == 0 && cd->nrunning == 0 && pd->nrunning == 0))
        pd->allow = 1, pd->limit = first_pending(pd, f->fed) + 1;
    else
        pd->allow = 0, held = 1;
    if (held && !f->held)
        s->queue_holds++;
    f->held = held;
}

/* ------------------------------------------------------------ the step -- */

int stream_step(struct wn_planner *p)
{
    struct stream *sm = p->stream;
    int sent = 0;
    uint32_t last = p->stage;
    for (uint32_t s = p->stage + 1; s < sm->nstages && sm->by_stage[s]; s++) {
        feed(p, sm->by_stage[s], 0);
        last = s;
    }
    if (last == p->stage)
        return 0;
    for (uint32_t s = p->stage + 1; s <= last; s++)
        backpressure(p, sm->by_stage[s]);
    autoscale_step(p);
    if (p->stop->failed || p->stop->stopping)
        return 0;
    /* The last stages first: what drains the queues goes before what
     * fills them. */
    for (uint32_t s = last; s > p->stage; s--) {
        struct follower *f = sm->by_stage[s];
        sent += dispatch_send(f->d, s, f->inputs, f->actors, f->nactors);
    }
    return sent;
}

int stream_progress(struct wn_planner *p)
{
    struct stream *sm = p->stream;
    uint32_t s = p->stage + 1;
    if (s >= sm->nstages || !sm->by_stage[s])
        return 0;
    struct wn_progress_stage v[64];
    size_t n = 0;
    for (s = p->stage; s < sm->nstages && n < 64; s++) {
        struct follower *f = s == p->stage ? NULL : sm->by_stage[s];
        const struct dispatch *d = f ? f->d : p->dispatch;
        if (s > p->stage && !f)
            break;
        v[n++] = (struct wn_progress_stage){&p->stats[s],
                                            s,
                                            d->nbatches - d->nfinished - d->nrunning,
                                            d->nrunning,
                                            d->nfinished,
                                            !f || f->final ? d->nbatches : 0};
    }
    wn_progress_segment(&p->progress, v, n, p->run->nstages, wn_run_now(p->run));
    return 1;
}

/* ------------------------------------------------------- consumption -- */

void stream_consumed(struct wn_planner *p, const struct stage_view *v, const struct pbatch *pb)
{
    const struct wn_run *run = p->run;
    /* A shuffle's inserts and a clique's members read the stage's inputs
     * more than once; a source's are seeds. */
    if (run->cfg->exec.mode != WN_MODE_STREAMING || v->stage == 0 ||
        (run->stages[v->stage]->ops->flags & (WN_STAGE_SHUFFLE | WN_STAGE_RAFT)))
        return;
    /* One message per owner, ids in input order. */
    uint64_t *ids = wn_xmalloc((pb->count ? pb->count : 1) * sizeof(*ids));
    for (uint64_t i = 0; i < pb->count; i++) {
        int owner = v->inputs[pb->first + i].owner;
        if (owner < 0)
            continue;
        int seen = 0;
        for (uint64_t j = 0; j < i && !seen; j++)
            seen = v->inputs[pb->first + j].owner == owner;
        if (seen)
            continue;
        uint32_t n = 0;
        for (uint64_t j = i; j < pb->count; j++)
            if (v->inputs[pb->first + j].owner == owner)
                ids[n++] = v->inputs[pb->first + j].id;
        wn_wire_send_drop(run->loop, owner, v->stage, ids, n);
    }
    free(ids);
}

/* ---------------------------------------------------------- promotion -- */

int stream_promote(struct wn_planner *p)
{
    struct follower *f = stream_follower(p, p->stage);
    if (!f)
        return 0;
    p->stream->by_stage[p->stage] = NULL;
    dispatch_destroy(p->dispatch);
    p->dispatch = f->d;
    p->dispatch->limit = p->dispatch->allow = UINT64_MAX;
    free(p->inputs);
    p->inputs = f->inputs;
    p->ninputs = f->ninputs;
    p->cap_inputs = f->cap_inputs;
    free(p->actors);
    p->actors = f->actors;
    p->nactors = f->nactors;
    f->d = NULL;
    f->inputs = NULL;
    f->actors = NULL;
    follower_free(f);
    return 1;
}
