/* planner.c - rank 0: runs the stages one after another (bulk-synchronous,
 * as NeMo Curator's actor-pool executor does), cuts each stage's input
 * tasks into batches, dispatches them first-free with `prefetch` batches
 * queued per actor, and collects results in any order.
 *
 * The planner holds descriptors (id, owner rank, size), never payloads:
 * an actor is preferably given batches whose inputs it (or its node)
 * already holds, and otherwise pulls them from their owners itself.
 *
 * This file: the entry points, queues, stage start and dispatch.
 * results.c takes the batches' results; planner_end.c resumes,
 * ends stages, collects and finishes, and handles stop requests;
 * shuffle_round.c runs a shuffle stage's rounds; hang.c finds
 * silent ranks (the state they share: planner_impl.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "exec/plan.h"
#include "exec/report.h"
#include "ckpt/ckpt.h"
#include "exec/timelimit.h"
#include "stage/stage_impl.h"
#include "exec/planner/planner_impl.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------ queues -- */

int planner_q_push(struct queue *q, uint64_t b)
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

/* ------------------------------------------------------------ helpers -- */

void planner_fail_run(struct wn_planner *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fail_msg, sizeof(p->fail_msg), fmt, ap);
    va_end(ap);
    p->failed = 1;
    wn_error("%s", p->fail_msg);
}

int planner_cmp_desc(const void *a, const void *b)
{
    const struct wn_desc *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* -------------------------------------------------------- stage start -- */

/* The stage's statistics as it starts. */
void planner_stage_stats_begin(struct wn_planner *p, uint64_t tasks_in)
{
    struct wn_stage *st = p->run->stages[p->stage];
    struct wn_stage_stats *s = &p->stats[p->stage];
    snprintf(s->name, sizeof(s->name), "%s", st->cfg->name);
    snprintf(s->type, sizeof(s->type), "%s", st->ops->type);
    s->nactors = p->nactors;
    for (int i = 0; i < p->nactors && i < 64; i++)
        s->ranks[i] = p->actors[i];
    s->batches = p->nbatches;
    s->tasks_in = tasks_in;
    s->t_begin = wn_run_now(p->run);
    s->ran = 1;
}

static void node_setup(struct wn_planner *p);

static void begin_stage(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct wn_stage *st = run->stages[p->stage];
    const struct wn_stage_config *c = st->cfg;
    const struct wn_executor_config *ex = &run->cfg->exec;

    if ((int)p->stage == p->replay) {
        planner_begin_replay(p);
        return;
    }
    /* Inputs in id order: batches do not depend on arrival order. */
    qsort(p->inputs, p->ninputs, sizeof(*p->inputs), planner_cmp_desc);

    uint64_t *bytes_on = wn_xcalloc((size_t)run->size, sizeof(*bytes_on));
    for (size_t i = 0; i < p->ninputs; i++)
        if (p->inputs[i].owner >= 0)
            bytes_on[p->inputs[i].owner] += p->inputs[i].len;
    int raft = (st->ops->flags & WN_STAGE_RAFT) != 0;
    int batch_size = c->batch_size > 0 ? c->batch_size : 1;
    struct wn_actor_request req = {
        .stage = c->name, .cpus = c->cpus, .gpus = c->gpus,
        .num_workers = c->num_workers, .ntasks = p->ninputs, .batch_size = batch_size,
        .num_output_tasks = c->num_output_tasks, .raft = raft,
        .reserved_cpus = ex->reserved_cpus, .reserved_gpus = ex->reserved_gpus,
        .ignore_head_node = ex->ignore_head_node, .planner_rank = 0,
    };
    wn_error_t err = {{0}};
    free(p->actors);
    p->actors = wn_xcalloc((size_t)run->size, sizeof(*p->actors));
    if (wn_plan_actors(run->places, run->size, &req, bytes_on, p->actors, &p->nactors,
                       &err) < 0) {
        free(bytes_on);
        planner_fail_run(p, "%s", err.text);
        p->state = P_FINISH;
        return;
    }
    free(bytes_on);

    /* Batches: batch_size slices, or one even chunk per clique member;
     * a shuffle stage's extracts first (see struct wn_planner). */
    int k = raft ? p->nactors : c->num_output_tasks;
    p->shuffle = (st->ops->flags & WN_STAGE_SHUFFLE) != 0;
    p->nextract = 0;
    if (p->shuffle) {
        /* The round count and key come from the stage's init. */
        if (wn_stage_init(st, &err) < 0) {
            planner_fail_run(p, "%s", err.text);
            p->state = P_FINISH;
            return;
        }
        p->rounds = st->rounds;
        p->stats[p->stage].rounds = p->rounds;
        p->nparts = wn_stage_nparts(st, p->ninputs);
        p->nextract = (uint64_t)p->rounds * p->nparts;
        p->round = 0;
        p->sh_phase = SH_NEXT;
    }
    uint64_t ninsert = wn_plan_nbatches(p->ninputs, batch_size, k);
    p->nbatches = p->nextract + ninsert;
    if (!p->shuffle)
        p->nextract = p->nbatches;
    free(p->batches);
    p->batches = wn_xcalloc(p->nbatches ? p->nbatches : 1, sizeof(*p->batches));
    for (int r = 0; r <= run->size; r++)
        p->queues[r].n = p->queues[r].head = 0;
    p->retry.n = p->retry.head = 0;
    for (uint64_t b = 0; b < p->nbatches; b++) {
        struct pbatch *pb = &p->batches[b];
        pb->last_failed_on = -1;
        pb->actor = -1;
        pb->primary = -1;
        if (p->shuffle && b < p->nextract)
            continue;   /* an extract: no inputs */
        uint64_t ib = p->shuffle ? b - p->nextract : b;
        pb->first = wn_plan_batch_start(p->ninputs, batch_size, k, ib);
        pb->count = wn_plan_batch_start(p->ninputs, batch_size, k, ib + 1) - pb->first;
        /* Primary owner: the rank holding most of the batch's bytes. */
        pb->primary = -1;
        uint64_t best = 0;
        for (uint64_t i = pb->first; i < pb->first + pb->count; i++) {
            const struct wn_desc *d = &p->inputs[i];
            if (d->owner < 0)
                continue;
            uint64_t sum = 0;
            for (uint64_t j = pb->first; j < pb->first + pb->count; j++)
                if (p->inputs[j].owner == d->owner)
                    sum += p->inputs[j].len + 1;
            if (sum > best) {
                best = sum;
                pb->primary = d->owner;
            }
            if (pb->count > 64)
                break;   /* large batches: the first owner is good enough */
        }
        if (!raft && !p->shuffle)   /* a shuffle's inserts are queued per round */
            planner_q_push(&p->queues[pb->primary >= 0 ? pb->primary : run->size], b);
    }
    p->nfinished = p->nrunning = p->tasks_finished = 0;
    memset(p->outstanding, 0, (size_t)run->size * sizeof(*p->outstanding));
    p->noutputs = 0;
    if (p->ck)
        planner_mark_loads(p);

    planner_stage_stats_begin(p, p->ninputs);
    if (c->batch_size <= 0 && !raft && p->stage > 0)
        wn_warn("stage '%s': batch_size not set, using 1", c->name);
    wn_debug("stage %u '%s': %zu tasks, %llu batches, %d actors", p->stage, c->name,
             p->ninputs, (unsigned long long)p->nbatches, p->nactors);

    if (raft) {
        /* The clique first: setup receives it. */
        struct wn_msg_clique m = {p->stage, p->nactors, c->gpus > 0, 0};
        p->acks_pending = 0;
        for (int i = 0; i < p->nactors; i++) {
            planner_expect_ack(p, p->actors[i]);
            wn_wire_send_clique(run->loop, p->actors[i], &m, p->actors);
        }
        p->state = P_CLIQUE;
        return;
    }
    node_setup(p);
}

/* setup_on_node by the first actor of each node, before any setup. */
static void node_setup(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    p->acks_pending = 0;
    for (int i = 0; i < p->nactors; i++) {
        int r = p->actors[i], node = run->places[r].node_id, first = 1, on_node = 0;
        for (int j = 0; j < p->nactors; j++)
            if (run->places[p->actors[j]].node_id == node) {
                on_node++;
                if (j < i)
                    first = 0;
            }
        if (!first)
            continue;
        struct wn_msg_stage m = {p->stage, i, p->nactors, 1, on_node, 0};
        planner_expect_ack(p, r);
        wn_wire_send_stage(run->loop, r, &m);
    }
    p->state = P_NODE_SETUP;
}

static void setup_rest(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    p->acks_pending = 0;
    for (int i = 0; i < p->nactors; i++) {
        int r = p->actors[i], node = run->places[r].node_id, first = 1;
        for (int j = 0; j < i; j++)
            if (run->places[p->actors[j]].node_id == node)
                first = 0;
        if (first)
            continue;
        struct wn_msg_stage m = {p->stage, i, p->nactors, 0, 0, 0};
        planner_expect_ack(p, r);
        wn_wire_send_stage(run->loop, r, &m);
    }
    p->state = P_SETUP;
}

/* ----------------------------------------------------------- dispatch -- */

void planner_assign(struct wn_planner *p, uint64_t b, int rank)
{
    struct pbatch *pb = &p->batches[b];
    if (pb->load) {
        pb->state = B_RUNNING;
        pb->actor = rank;
        p->outstanding[rank]++;
        p->nrunning++;
        wn_wire_send_load(p->run->loop, rank, p->stage, b, pb->sum);
        return;
    }
    struct wn_msg_assign m = {p->stage, pb->attempt, b, (uint32_t)pb->count, 0};
    pb->state = B_RUNNING;
    pb->actor = rank;
    p->outstanding[rank]++;
    p->nrunning++;
    wn_wire_send_assign(p->run->loop, rank, &m, p->inputs + pb->first);
}

/* The next batch for actor `rank`: a retry that failed elsewhere, then its
 * own inputs, then its node's, then seeds, then the longest queue. */
static int pick(struct wn_planner *p, int rank, uint64_t *b)
{
    struct wn_run *run = p->run;
    for (size_t i = 0; i < p->retry.n; i++) {
        uint64_t c = p->retry.v[p->retry.head + i];
        if (p->batches[c].last_failed_on != rank || p->nactors == 1) {
            /* take entry i: swap it to the head, then pop the head */
            p->retry.v[p->retry.head + i] = p->retry.v[p->retry.head];
            p->retry.v[p->retry.head] = c;
            return q_pop(&p->retry, b);
        }
    }
    if (q_pop(&p->queues[rank], b))
        return 1;
    int node = run->places[rank].node_id, best = -1;
    size_t most = 0;
    for (int r = 0; r < run->size; r++)
        if (run->places[r].node_id == node && p->queues[r].n > most) {
            most = p->queues[r].n;
            best = r;
        }
    if (best >= 0)
        return q_pop(&p->queues[best], b);
    if (q_pop(&p->queues[run->size], b))
        return 1;
    for (int r = 0; r < run->size; r++)
        if (p->queues[r].n > most) {
            most = p->queues[r].n;
            best = r;
        }
    return best >= 0 ? q_pop(&p->queues[best], b) : 0;
}

int planner_dispatch(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    int sent = 0;
    if (p->failed || p->stopping)
        return 0;
    if (run->stages[p->stage]->ops->flags & WN_STAGE_RAFT) {
        /* A clique: every member gets its one batch, all at once. */
        for (uint64_t b = 0; b < p->nbatches; b++)
            if (p->batches[b].state == B_PENDING && p->batches[b].attempt == 0) {
                planner_assign(p, b, p->actors[b % (uint64_t)p->nactors]);
                sent++;
            }
        return sent;
    }
    int depth = 1 + run->cfg->exec.prefetch;
    for (int k = 0; k < p->nactors; k++) {
        int rank = p->actors[(k + p->rotate) % p->nactors];
        uint64_t b = 0;
        while (p->outstanding[rank] < depth && pick(p, rank, &b)) {
            planner_assign(p, b, rank);
            sent++;
        }
    }
    p->rotate++;
    return sent;
}

/* -------------------------------------------------------- entry points -- */

struct wn_planner *wn_planner_create(struct wn_run *run, wn_error_t *err)
{
    struct wn_planner *p = calloc(1, sizeof(*p));
    if (!p) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    p->run = run;
    p->outstanding = calloc((size_t)run->size, sizeof(*p->outstanding));
    p->peak_rss_mib = calloc((size_t)run->size, sizeof(*p->peak_rss_mib));
    p->queues = calloc((size_t)run->size + 1, sizeof(*p->queues));
    p->stats = calloc(run->nstages ? run->nstages : 1, sizeof(*p->stats));
    p->undurable_on = calloc((size_t)run->size, sizeof(*p->undurable_on));
    p->acks_from = calloc((size_t)run->size, sizeof(*p->acks_from));
    if (!p->outstanding || !p->peak_rss_mib || !p->queues || !p->stats || !p->undurable_on ||
        !p->acks_from) {
        wn_errprintf(err, "out of memory");
        wn_planner_destroy(p);
        return NULL;
    }
    for (uint32_t i = 0; i < run->nstages; i++) {
        snprintf(p->stats[i].name, sizeof(p->stats[i].name), "%s", run->stages[i]->cfg->name);
        snprintf(p->stats[i].type, sizeof(p->stats[i].type), "%s", run->stages[i]->ops->type);
    }
    /* Empty seed tasks the first stage (a source) starts from: one, or
     * what its init asked for; a seed's index travels as its nrows. */
    uint64_t nseeds = run->nstages && run->stages[0]->seeds ? run->stages[0]->seeds : 1;
    p->inputs = wn_xcalloc(nseeds, sizeof(*p->inputs));
    for (uint64_t i = 0; p->inputs && i < nseeds; i++)
        p->inputs[i] = (struct wn_desc){wn_task_id_derive(0, UINT32_MAX, i), -1, 0, 0, i};
    p->ninputs = p->cap_inputs = p->inputs ? nseeds : 0;
    int mode = run->opts->progress;
    if (!run->cfg->exec.show_progress)
        mode = 0;
    else if (mode < 0)
        mode = isatty(STDERR_FILENO) ? 1 : 2;
    wn_progress_init(&p->progress, stderr, mode, run->cfg->exec.progress_interval);
    p->t_start = wn_run_now(run);
    p->replay = -1;
    p->halt_after = -1;
    wn_timelimit_init(&p->limit);
    p->ck = run->opts->ckpt;
    p->undurable = wn_xcalloc(run->nstages ? run->nstages : 1, sizeof(*p->undurable));
    p->stage_nout = wn_xcalloc(run->nstages ? run->nstages : 1, sizeof(*p->stage_nout));
    p->stage_ran = wn_xcalloc(run->nstages ? run->nstages : 1, 1);
    if (p->ck)
        planner_resume(p);
    p->ended_upto = p->stage;
    p->state = P_START;
    return p;
}

void wn_planner_destroy(struct wn_planner *p)
{
    if (!p)
        return;
    for (int r = 0; p->queues && r <= p->run->size; r++)
        free(p->queues[r].v);
    free(p->queues);
    free(p->retry.v);
    if (p->results) {
        for (size_t i = 0; i < p->ninputs; i++)
            wn_task_destroy(p->results[i]);
        free(p->results);
    }
    free(p->outstanding);
    free(p->peak_rss_mib);
    free(p->inputs);
    free(p->outputs);
    free(p->batches);
    free(p->actors);
    for (uint32_t i = 0; p->stats && i < p->run->nstages; i++)
        wn_reject_counts_free(&p->stats[i].rejects);
    free(p->stats);
    free(p->events);
    free(p->undurable);
    free(p->undurable_on);
    free(p->acks_from);
    free(p->stage_nout);
    free(p->stage_ran);
    free(p);
}

/* ----------------------------------------------------------- messages -- */

static void on_stop(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    struct wn_planner *p = arg;
    (void)loop;
    char why[160];
    struct wn_msg_stop m = {0, 0, 0};
    if (len >= sizeof(m))
        memcpy(&m, buf, sizeof(m));
    if (m.kill_in > 0)
        snprintf(why, sizeof(why), "%s from mpirun on rank %d: it kills the job %g s "
                 "later (odls_base_sigkill_timeout)", strsignal(m.sig), src, m.kill_in);
    else
        snprintf(why, sizeof(why), "%s on rank %d", m.sig ? strsignal(m.sig) : "a signal",
                 src);
    /* Half of mpirun's window for the batches, the rest for the
     * journal's finish and the ranks' exit. */
    planner_begin_stop(p, why, m.kill_in / 2);
}

static void on_result(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)loop;
    planner_on_result(arg, src, buf, len);
}

static void on_shuffle_stats(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    struct wn_planner *p = arg;
    const struct wn_msg_shuffle_stats *m = buf;
    (void)loop;
    (void)src;
    if (len >= sizeof(*m) && m->stage < p->run->nstages) {
        struct wn_stage_stats *s = &p->stats[m->stage];
        s->shuffle_bytes += m->bytes_sent;
        s->spilled_bytes += m->bytes_spilled;
        if (m->peak_held_bytes > s->peak_held_bytes)
            s->peak_held_bytes = m->peak_held_bytes;
    }
}

static void on_durable(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    struct wn_planner *p = arg;
    (void)loop;
    if (p->state != P_DONE)   /* after the finish record: left out */
        planner_on_durable(p, src, buf, len);
}

static void on_ack(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    struct wn_planner *p = arg;
    const struct wn_msg_ack *a = buf;
    (void)loop;
    if (p->acks_from[src] > 0)
        p->acks_from[src]--;
    if (a->status != 0) {
        const char *why = len > sizeof(*a) ? (const char *)(a + 1) : "(no reason given)";
        planner_fail_run(p, "stage '%s' on rank %d: %s", p->run->stages[a->stage]->cfg->name,
                         src, why);
    }
    p->acks_pending--;
}

static const struct wn_loop_handler handlers[] = {
    {WN_TAG_STOP, on_stop},
    {WN_TAG_RESULT, on_result},
    {WN_TAG_SHUFFLE_STATS, on_shuffle_stats},
    {WN_TAG_DURABLE, on_durable},
    {WN_TAG_ACK, on_ack},
    WN_LOOP_HANDLER_END,
};

static int poll_hook(struct wn_loop *loop, void *arg);

int wn_planner_register(struct wn_planner *p, wn_error_t *err)
{
    if (wn_loop_handlers_add(p->run->loop, handlers, p) < 0 ||
        wn_loop_poll_add(p->run->loop, poll_hook, p) < 0)
        return wn_errprintf(err, "the planner cannot register with the event loop: %s",
                            strerror(errno));
    return 0;
}

/* Dispatch, progress, stage changes. */
static int poll_hook(struct wn_loop *loop, void *arg)
{
    struct wn_planner *p = arg;
    struct wn_run *run = p->run;
    (void)loop;
    struct wn_stage_stats *s;
    planner_check_hang(p);
    planner_check_halt(p);
    planner_check_limit(p);
    if (p->journal_dirty) {
        /* Group commit: one fsync for the batches of this poll. */
        wn_error_t err = {{0}};
        if (wn_ckpt_sync(p->ck, &err) < 0)
            planner_fail_run(p, "checkpoint: %s", err.text);
        p->journal_dirty = 0;
    }
    switch (p->state) {
    case P_START:
        if (p->stopping) {
            p->state = P_FINISH;
            return 1;
        }
        begin_stage(p);
        return 1;
    case P_CLIQUE:
        if (p->acks_pending)
            return planner_give_up_acks(p);
        if (p->failed) {   /* a member could not join: nothing to run */
            p->state = P_FINISH;
            return 1;
        }
        node_setup(p);
        return 1;
    case P_NODE_SETUP:
        if (p->acks_pending)
            return planner_give_up_acks(p);
        setup_rest(p);
        return 1;
    case P_SETUP:
        if (p->acks_pending)
            return planner_give_up_acks(p);
        p->state = P_RUN;
        return 1;
    case P_RUN:
        s = &p->stats[p->stage];
        if (p->shuffle) {
            wn_progress_update(&p->progress, s, p->stage, run->nstages, p->tasks_finished,
                               p->ninputs * p->rounds, wn_run_now(run), 0);
            return planner_shuffle_run(p);
        }
        if (p->stopping && !p->failed && p->nfinished < p->nbatches &&
            (p->nrunning == 0 || wn_run_now(run) > p->stop_deadline)) {
            if (p->nrunning)
                wn_warn("drain_timeout: %llu batches still running are given up (they "
                        "run again on resume)", (unsigned long long)p->nrunning);
            p->state = P_FINISH;
            return 1;
        }
        if (p->nfinished == p->nbatches || (p->failed && p->nrunning == 0)) {
            planner_end_stage(p);
            return 1;
        }
        wn_progress_update(&p->progress, s, p->stage, run->nstages, p->tasks_finished,
                           p->ninputs, wn_run_now(run), 0);
        return planner_dispatch(p) > 0;
    case P_END:
        if (p->acks_pending)
            return planner_give_up_acks(p);
        planner_next_stage(p);
        if (p->state == P_COLLECT)
            planner_collect(p);
        return 1;
    case P_COLLECT:
        if (p->nresults_pending)
            return 0;
        p->state = P_FINISH;
        return 1;
    case P_FINISH:
        /* Part files still being written are waited for (when stopping,
         * until the drain deadline: those left are not journaled, and
         * their batches run again on resume). */
        if (p->nundurable && !(p->stopping && wn_run_now(run) > p->stop_deadline))
            return 0;
        planner_finish(p);
        return 1;
    case P_DONE:
        return 0;
    }
    return 0;
}
