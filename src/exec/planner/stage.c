/* stage.c - rank 0: a stage's start (its actors, batches, RAFT clique,
 * setup_on_node and setup), a stage an earlier run finished replayed
 * (its outputs loaded), and a stage's end (rejects judged, the journal
 * told, every rank's teardown) and the next one.  Stages run one after
 * another, bulk-synchronous, as NeMo Curator's actor-pool executor does;
 * a stage's batches are cut from its input tasks in id order, so they do
 * not depend on arrival order. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "exec/budget.h"
#include "exec/plan.h"
#include "exec/planner/planner_impl.h"
#include "stage/stage_impl.h"
#include "util/xalloc.h"

/* The stage's statistics as it starts. */
static void stats_begin(struct wn_planner *p, uint64_t tasks_in)
{
    struct wn_stage *st = p->run->stages[p->stage];
    struct wn_stage_stats *s = &p->stats[p->stage];
    snprintf(s->name, sizeof(s->name), "%s", st->cfg->name);
    snprintf(s->type, sizeof(s->type), "%s", st->ops->type);
    s->nactors = p->nactors;
    for (int i = 0; i < p->nactors && i < 64; i++)
        s->ranks[i] = p->actors[i];
    s->batches = p->dispatch->nbatches;
    s->tasks_in = tasks_in;
    s->t_begin = wn_run_now(p->run);
    s->ran = 1;
}

static void begin_replay(struct wn_planner *p);

/* Fewest partitions enough_parts makes: extracts for 32 actors. */
#define WN_MIN_PARTS 32

/* A shuffle stage's partitions when total_nparts is unset: every insert
 * batch sends each partition a chunk, so their count times the inserts'
 * is what the actors keep track of, and one per input task (the old
 * default) grows with the square of the corpus.  Under a memory_limit set
 * in the pipeline: as many as make a partition's share of the input at
 * most an eighth of a quarter of the limit, WN_MIN_PARTS at least
 * (wn_stage_nparts holds them to one per input task).  From the pipeline
 * and the inputs only, never the rank count or a measured figure: the
 * partitions decide the order of the stage's outputs, which must be the
 * same bytes on any number of ranks. */
static uint64_t enough_parts(const struct wn_planner *p)
{
    /* Resuming a stage begun on the same inputs: the partitions it began
     * with (its count depends on the actors), so that its finished
     * batches load. */
    const struct wn_ckpt_stage *cs =
        p->checkpoint->ck ? wn_ckpt_stage(p->checkpoint->ck, p->stage) : NULL;
    uint32_t rounds = p->shuffle->rounds ? p->shuffle->rounds : 1;
    if (cs && cs->begun && cs->ntasks == p->ninputs && cs->nbatches % rounds == 0 &&
        cs->nbatches > 0)
        return cs->nbatches / rounds;
    uint64_t share = wn_budget_batch((uint64_t)p->run->cfg->exec.memory_limit) / 8;
    if (!share)
        return 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < p->ninputs; i++)
        bytes += p->inputs[i].len;
    uint64_t n = bytes / share + 1;
    return n > WN_MIN_PARTS ? n : WN_MIN_PARTS;
}

/* Before a stage's first batch: under a memory budget, no batch may hold
 * more input than its share (budget.h), and a clique's members each
 * gather all of the stage's input.  Fails the run, saying what to change;
 * 0 when every batch fits. */
static int check_batch_memory(struct wn_planner *p, int raft, int batch_size)
{
    const struct wn_run *run = p->run;
    const struct wn_stage_config *c = run->stages[p->stage]->cfg;
    uint64_t limit = run->memory_limit, share = wn_budget_batch(limit);
    if (!limit)
        return 0;
    const double mib = 1024.0 * 1024.0;
    if (raft) {
        uint64_t total = 0;
        for (size_t i = 0; i < p->ninputs; i++)
            total += p->inputs[i].len;
        if (total <= limit / 2)
            return 0;
        stop_fail(
            p->stop,
            "stage '%s' runs as a clique whose every member holds all of its input: "
            "%.1f MiB here, more than the %.1f MiB (half of the %.0f MiB executor.memory_limit "
            "leaves for data) a rank may give it; raise executor.memory_limit by %.0f MiB "
            "or more",
            c->name, total / mib, (double)(limit / 2) / mib, limit / mib,
            (double)(total * 2 - limit) / mib + 1);
        return -1;
    }
    uint64_t worst = 0, worst_b = 0;
    for (uint64_t b = 0; b < p->dispatch->nbatches; b++) {
        const struct pbatch *pb = &p->dispatch->batches[b];
        uint64_t sum = 0;
        for (uint64_t i = pb->first; i < pb->first + pb->count && i < p->ninputs; i++)
            sum += p->inputs[i].len;
        if (sum > worst)
            worst = sum, worst_b = b;
    }
    if (worst <= share)
        return 0;
    if (c->num_output_tasks > 0)
        stop_fail(p->stop,
                  "stage '%s': batch %llu holds %.1f MiB of input, more than the %.1f MiB a "
                  "batch may hold (a quarter of the %.0f MiB executor.memory_limit leaves for "
                  "data); raise "
                  "stages.%s.num_output_tasks (now %d) or executor.memory_limit",
                  c->name, (unsigned long long)worst_b, worst / mib, share / mib, limit / mib,
                  c->name, c->num_output_tasks);
    else
        stop_fail(p->stop,
                  "stage '%s': batch %llu holds %.1f MiB of input, more than the %.1f MiB a "
                  "batch may hold (a quarter of the %.0f MiB executor.memory_limit leaves for "
                  "data); lower "
                  "stages.%s.batch_size (now %d)%s or raise executor.memory_limit",
                  c->name, (unsigned long long)worst_b, worst / mib, share / mib, limit / mib,
                  c->name, batch_size,
                  batch_size == 1 ? ", or make the stage before it write smaller tasks" : "");
    return -1;
}

void stage_begin(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct wn_stage *st = run->stages[p->stage];
    const struct wn_stage_config *c = st->cfg;
    const struct wn_executor_config *ex = &run->cfg->exec;

    if ((int)p->stage == p->checkpoint->replay) {
        begin_replay(p);
        return;
    }
    /* The inputs are in batch order (stage_next): batches do not depend
     * on arrival order. */
    uint64_t *bytes_on = wn_xcalloc((size_t)run->size, sizeof(*bytes_on));
    for (size_t i = 0; i < p->ninputs; i++)
        if (p->inputs[i].owner >= 0)
            bytes_on[p->inputs[i].owner] += p->inputs[i].len;
    int raft = (st->ops->flags & WN_STAGE_RAFT) != 0;
    int batch_size = c->batch_size > 0 ? c->batch_size : 1;
    struct wn_actor_request req = {
        .stage = c->name,
        .cpus = c->cpus,
        .gpus = c->gpus,
        .num_workers = c->num_workers,
        .ntasks = p->ninputs,
        .batch_size = batch_size,
        .num_output_tasks = c->num_output_tasks,
        .raft = raft,
        .reserved_cpus = ex->reserved_cpus,
        .reserved_gpus = ex->reserved_gpus,
        .ignore_head_node = ex->ignore_head_node,
        .planner_rank = 0,
    };
    wn_error_t err = {{0}};
    free(p->actors);
    p->actors = wn_xcalloc((size_t)run->size, sizeof(*p->actors));
    if (wn_plan_actors(run->places, run->size, &req, bytes_on, p->actors, &p->nactors, &err) < 0) {
        free(bytes_on);
        stop_fail(p->stop, "%s", err.text);
        p->state = P_FINISH;
        return;
    }
    free(bytes_on);

    /* Batches: batch_size slices, or one even chunk per clique member;
     * a shuffle stage's extracts first (see struct dispatch). */
    int k = raft ? p->nactors : c->num_output_tasks;
    p->shuffle->active = (st->ops->flags & WN_STAGE_SHUFFLE) != 0;
    p->dispatch->njournaled = 0;
    if (p->shuffle->active) {
        /* The round count and key come from the stage's init. */
        if (wn_stage_init(st, &err) < 0) {
            stop_fail(p->stop, "%s", err.text);
            p->state = P_FINISH;
            return;
        }
        p->shuffle->rounds = st->rounds;
        p->stats[p->stage].rounds = p->shuffle->rounds;
        p->shuffle->nparts = wn_stage_nparts(st, p->ninputs, enough_parts(p));
        p->dispatch->njournaled = (uint64_t)p->shuffle->rounds * p->shuffle->nparts;
        p->shuffle->round = 0;
        p->shuffle->phase = SH_NEXT;
    }
    uint64_t ninsert = wn_plan_nbatches(p->ninputs, batch_size, k);
    p->dispatch->nbatches = p->dispatch->njournaled + ninsert;
    if (!p->shuffle->active)
        p->dispatch->njournaled = p->dispatch->nbatches;
    dispatch_reset(p->dispatch, p->dispatch->nbatches);
    for (uint64_t b = 0; b < p->dispatch->nbatches; b++) {
        struct pbatch *pb = &p->dispatch->batches[b];
        if (p->shuffle->active && b < p->dispatch->njournaled)
            continue; /* an extract: no inputs */
        uint64_t ib = p->shuffle->active ? b - p->dispatch->njournaled : b;
        pb->first = wn_plan_batch_start(p->ninputs, batch_size, k, ib);
        pb->count = wn_plan_batch_start(p->ninputs, batch_size, k, ib + 1) - pb->first;
        /* Primary owner: the rank holding most of the batch's bytes. */
        pb->primary = dispatch_primary(p->inputs, pb->first, pb->count);
        if (!raft && !p->shuffle->active) /* a shuffle's inserts are queued per round */
            dispatch_queue(p->dispatch, b);
    }
    if (check_batch_memory(p, raft, batch_size) < 0) {
        p->state = P_FINISH;
        return;
    }
    if (p->checkpoint->ck)
        checkpoint_mark_loads(p);

    stats_begin(p, p->ninputs);
    if (!raft && !p->shuffle->active)
        stream_begin(p); /* streaming: the stages running with this one */
    if (c->batch_size <= 0 && !raft && p->stage > 0)
        wn_warn("stage '%s': batch_size not set, using 1", c->name);
    wn_debug("stage %u '%s': %zu tasks, %llu batches, %d actors", p->stage, c->name, p->ninputs,
             (unsigned long long)p->dispatch->nbatches, p->nactors);

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
    stage_node_setup(p);
}

/* Sets up a stage's actors: node_pass 1, setup_on_node and setup by the
 * first actor of each node; 0, setup by the others. */
static void send_setup(struct wn_planner *p, uint32_t stage, const int *actors, int nactors,
                       int node_pass)
{
    struct wn_run *run = p->run;
    for (int i = 0; i < nactors; i++) {
        int r = actors[i], node = run->places[r].node_id, first = 1, on_node = 0;
        for (int j = 0; j < nactors; j++)
            if (run->places[actors[j]].node_id == node) {
                on_node++;
                if (j < i)
                    first = 0;
            }
        if (first != node_pass)
            continue;
        const int *slots = autoscale_slots(p->autoscale, stage);
        struct wn_msg_stage m = {stage,
                                 i,
                                 nactors,
                                 node_pass,
                                 node_pass ? on_node : 0,
                                 slots && slots[r] > 0 ? slots[r] : 1};
        planner_expect_ack(p, r);
        wn_wire_send_stage(run->loop, r, &m);
    }
}

/* The current stage's and its followers' (streaming) setup, in two
 * passes: setup_on_node by the first actor of each node, before any
 * setup. */
static void setup_pass(struct wn_planner *p, int node_pass)
{
    p->acks_pending = 0;
    send_setup(p, p->stage, p->actors, p->nactors, node_pass);
    for (uint32_t s = p->stage + 1; s < p->run->nstages; s++) {
        const struct follower *f = stream_follower(p, s);
        if (!f)
            break;
        send_setup(p, s, f->actors, f->nactors, node_pass);
    }
}

void stage_node_setup(struct wn_planner *p)
{
    setup_pass(p, 1);
    p->state = P_NODE_SETUP;
}

void stage_setup_rest(struct wn_planner *p)
{
    setup_pass(p, 0);
    p->state = P_SETUP;
}

/* ------------------------------------------------------------- replay -- */

/* Resume: a stage every batch of which an earlier run finished.  Its
 * outputs (the next stage's inputs) are loaded from their part files on
 * the actors; no setup, no inputs. */
static void begin_replay(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct wn_stage *st = run->stages[p->stage];
    const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->checkpoint->ck, p->stage);
    struct wn_actor_request req = {
        .stage = st->cfg->name,
        .cpus = 0,
        .ntasks = cs->nbatches,
        .batch_size = 1,
        .planner_rank = 0,
    };
    wn_error_t err = {{0}};
    free(p->actors);
    p->actors = wn_xcalloc((size_t)run->size, sizeof(*p->actors));
    if (wn_plan_actors(run->places, run->size, &req, NULL, p->actors, &p->nactors, &err) < 0) {
        stop_fail(p->stop, "%s", err.text);
        p->state = P_FINISH;
        return;
    }
    p->dispatch->nbatches = p->dispatch->njournaled = cs->nbatches;
    p->shuffle->active = 0; /* a finished shuffle stage: its outputs are loaded */
    dispatch_reset(p->dispatch, p->dispatch->nbatches);
    for (uint64_t b = 0; b < p->dispatch->nbatches; b++) {
        /* A batch given up earlier (ignore_failures) has no outputs. */
        p->dispatch->batches[b].state = B_DONE;
    }
    p->dispatch->nfinished = p->dispatch->nbatches;
    for (size_t i = 0; i < cs->ndone; i++) {
        struct pbatch *pb = &p->dispatch->batches[cs->done[i].batch];
        pb->load = 1;
        pb->sum = cs->done[i].sum;
        pb->state = B_PENDING;
        checkpoint_count_rejects(p, p->stage, &cs->done[i]);
        p->dispatch->nfinished--;
        dispatch_q_push(&p->dispatch->queues[run->size], cs->done[i].batch);
    }
    stats_begin(p, cs->ntasks);
    wn_info("checkpoint: stage '%s' finished earlier: loading its %zu part files", st->cfg->name,
            cs->ndone);
    p->state = P_RUN;
}

/* The records a stage rejected: said on stderr, and too many of them (a
 * text_field set wrong, input of another format) fail the run rather
 * than leave a quietly thinned output. */
static void check_rejects(struct wn_planner *p)
{
    const struct wn_run *run = p->run;
    const struct wn_stage_stats *s = &p->stats[p->stage];
    const struct wn_reject_counts *c = &s->rejects;
    if (!c->total || p->stop->failed)
        return;
    char why[512];
    wn_reject_counts_text(c, why, sizeof(why));
    uint64_t read = c->total + s->items_out;
    double share = (double)c->total / (double)read, max = run->cfg->max_reject_fraction;
    if (share > max)
        stop_fail(p->stop,
                  "stage '%s' rejected %llu of the %llu records it read (%.1f%%, "
                  "more than max_reject_fraction %g): %s; the first: %s; all are in %s",
                  s->name, (unsigned long long)c->total, (unsigned long long)read, 100.0 * share,
                  max, why, c->first ? c->first : "?", run->opts->rejects_path);
    else
        wn_warn("stage '%s' rejected %llu of the %llu records it read (%.1f%%): %s; they are "
                "in %s",
                s->name, (unsigned long long)c->total, (unsigned long long)read, 100.0 * share, why,
                run->opts->rejects_path);
}

void stage_end(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct wn_stage_stats *s = &p->stats[p->stage];
    check_rejects(p);
    s->t_end = wn_run_now(run);
    autoscale_stage_end(p, p->stage, s->t_end);
    wn_progress_update(&p->progress, s, p->stage, run->nstages, p->dispatch->tasks_finished,
                       p->ninputs, s->t_end, 1);
    if (p->checkpoint->ck && !p->stop->failed) {
        p->checkpoint->stage_ran[p->stage] = 1;
        p->checkpoint->stage_nout[p->stage] = p->stage_nout[p->stage];
        checkpoint_journal_stage_ends(p);
    }
    /* Streaming: the follower has all of its inputs now. */
    stream_producer_ended(p, p->stage);
    /* Every rank: teardown if it hosted the stage, drop consumed inputs. */
    for (int r = 0; r < run->size; r++) {
        planner_expect_ack(p, r);
        wn_wire_send_stage_end(run->loop, r, p->stage);
    }
    p->state = P_END;
}

void stage_next(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    /* This stage's outputs are the next one's inputs, in batch order; a
     * follower (streaming) took them already, and runs. */
    int promoted = p->stage + 1 < run->nstages && stream_follower(p, p->stage + 1);
    if (!promoted) {
        uint64_t from = 0;
        struct wn_desc *next = NULL;
        size_t n = 0, cap = 0;
        dispatch_take_outputs(p->dispatch, &from, &next, &n, &cap);
        free(p->inputs);
        p->inputs = next;
        p->ninputs = n;
        p->cap_inputs = cap;
    }
    if (p->stop->failed) {
        p->state = P_FINISH;
        return;
    }
    int halt = p->stop->halt_after;
    if (halt >= 0 && p->stage == (uint32_t)halt && p->stage + 1 < run->nstages)
        stop_begin(p->stop, "winnow halt --after-stage", 0, stream_nrunning(p), 0);
    if (++p->stage < run->nstages) {
        p->state = stream_promote(p) ? P_RUN : P_START;
        return;
    }
    p->state = run->opts->results_path ? P_COLLECT : P_FINISH;
}
