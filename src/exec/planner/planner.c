/* planner.c - rank 0's planner: its entry points (create, register,
 * destroy), the messages it takes, and the poll's state machine that
 * walks the stages (stage.c) and the run's finish.  The planner holds
 * descriptors (id, owner rank, size), never payloads.  Its concerns live
 * in owned sub-contexts, one file each (planner_impl.h lists them and the
 * direction of calls between them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/planner/planner_impl.h"
#include "exec/report.h"
#include "ckpt/ckpt.h"
#include "stage/stage_impl.h"
#include "util/xalloc.h"

/* -------------------------------------------------------- entry points -- */

struct wn_planner *wn_planner_create(struct wn_run *run, wn_error_t *err)
{
    struct wn_planner *p = calloc(1, sizeof(*p));
    if (!p) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    p->run = run;
    p->stats = calloc(run->nstages ? run->nstages : 1, sizeof(*p->stats));
    p->acks_from = calloc((size_t)run->size, sizeof(*p->acks_from));
    p->stage_nout = calloc(run->nstages ? run->nstages : 1, sizeof(*p->stage_nout));
    p->dispatch = dispatch_create(run);
    p->stream = stream_create(run);
    p->autoscale = autoscale_create(run);
    p->stop = stop_create(run);
    p->checkpoint = checkpoint_create(run);
    p->collect = collect_create();
    p->shuffle = shuffle_round_create();
    p->results = results_create(run);
    if (!p->stats || !p->acks_from || !p->dispatch || !p->stop || !p->checkpoint || !p->collect ||
        !p->shuffle || !p->results || !p->stage_nout || !p->stream || !p->autoscale) {
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
    if (p->checkpoint->ck)
        checkpoint_resume(p);
    p->checkpoint->ended_upto = p->stage;
    p->state = P_START;
    return p;
}

void wn_planner_destroy(struct wn_planner *p)
{
    if (!p)
        return;
    dispatch_destroy(p->dispatch);
    stream_destroy(p->stream);
    autoscale_destroy(p->autoscale);
    free(p->stage_nout);
    stop_destroy(p->stop);
    checkpoint_destroy(p->checkpoint);
    collect_destroy(p->collect);
    shuffle_round_destroy(p->shuffle);
    results_destroy(p->results);
    free(p->inputs);
    free(p->actors);
    for (uint32_t i = 0; p->stats && i < p->run->nstages; i++)
        wn_reject_counts_free(&p->stats[i].rejects);
    free(p->stats);
    free(p->acks_from);
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
        snprintf(why, sizeof(why),
                 "%s from mpirun on rank %d: it kills the job %g s "
                 "later (odls_base_sigkill_timeout)",
                 strsignal(m.sig), src, m.kill_in);
    else
        snprintf(why, sizeof(why), "%s on rank %d", m.sig ? strsignal(m.sig) : "a signal", src);
    /* Half of mpirun's window for the batches, the rest for the
     * journal's finish and the ranks' exit. */
    stop_begin(p->stop, why, m.kill_in / 2, stream_nrunning(p), p->state == P_DONE);
}

static void on_result(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)loop;
    results_on_result(arg, src, buf, len);
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
    if (p->state != P_DONE) /* after the finish record: left out */
        results_on_durable(p, src, buf, len);
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
        stop_fail(p->stop, "stage '%s' on rank %d: %s", p->run->stages[a->stage]->cfg->name, src,
                  why);
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

/* ------------------------------------------------------------ the end -- */

/* A stop whose drain deadline has passed does not wait for
 * acknowledgements (one may never come from a frozen rank): the run
 * finishes without them.  1 when it did so (poll again). */
static int give_up_acks(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    if (p->stage >= run->nstages || !stop_past_deadline(p->stop))
        return 0;
    char ranks[256] = "";
    size_t n = 0;
    for (int r = 0; r < run->size; r++)
        if (p->acks_from[r] > 0 && n + 16 < sizeof(ranks))
            n += (size_t)snprintf(ranks + n, sizeof(ranks) - n, "%s%d", n ? ", " : "", r);
    wn_warn("drain_timeout: rank%s %s did not answer; stopping without %s",
            strchr(ranks, ',') ? "s" : "", ranks, strchr(ranks, ',') ? "them" : "it");
    p->acks_pending = 0;
    memset(p->acks_from, 0, (size_t)run->size * sizeof(*p->acks_from));
    p->state = P_FINISH;
    return 1;
}

static void finish(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    wn_error_t err = {{0}};
    /* A stop before the end: 3 when a checkpoint holds what was done. */
    int stopped = p->stop->stopping && !p->stop->failed && p->stage < run->nstages;
    int status = p->stop->failed ? WN_EXIT_FAILURE
                 : stopped       ? (p->checkpoint->ck ? WN_EXIT_RESUMABLE : WN_EXIT_FAILURE)
                                 : WN_EXIT_OK;
    if (p->checkpoint->ck && wn_ckpt_finish(p->checkpoint->ck, status, &err) < 0) {
        wn_error("checkpoint: %s", err.text);
        status = WN_EXIT_FAILURE;
    }
    if (!p->stop->failed && !stopped && run->opts->results_path &&
        wn_report_results(run->opts->results_path, p->collect->tasks, p->ninputs, &err) < 0) {
        wn_error("--results: %s", err.text);
        status = WN_EXIT_FAILURE;
    }
    uint32_t own = wn_peak_rss_mib();
    if (own > p->results->peak_rss_mib[run->rank])
        p->results->peak_rss_mib[run->rank] = own;
    struct wn_store_spill_stats sp;
    wn_store_spill_stats(run->store, &sp);
    p->results->spill[run->rank] = (struct wn_rank_spill){sp.bytes_spilled, sp.bytes_read_back};
    struct wn_run_report rep = {
        .peak_rss_mib = p->results->peak_rss_mib,
        .spill = p->results->spill,
        .pipeline = run->cfg->name,
        .nranks = run->size,
        .nnodes = wn_layout_nnodes(run->places, run->size),
        .wall_s = wn_run_now(run) - p->t_start,
        .status = status,
        .planner_payload_bytes = p->collect->payload_bytes,
        .stages = p->stats,
        .nstages = run->nstages,
        .events = p->results->events,
        .nevents = p->results->nevents,
        .lanes_by_stage = run->cfg->exec.mode == WN_MODE_STREAMING,
        .autoscale = p->autoscale->events,
        .nautoscale = p->autoscale->nevents,
    };
    if (run->cfg->exec.show_progress)
        wn_report_summary(stdout, &rep);
    fflush(stdout);
    if (run->opts->stats_path && wn_report_stats_json(run->opts->stats_path, &rep, &err) < 0) {
        wn_error("--stats: %s", err.text);
        status = WN_EXIT_FAILURE;
    }
    if (run->opts->trace_path && wn_report_trace_json(run->opts->trace_path, &rep, &err) < 0) {
        wn_error("--trace: %s", err.text);
        status = WN_EXIT_FAILURE;
    }
    for (int r = 1; r < run->size; r++)
        wn_wire_send_shutdown(run->loop, r, status);
    wn_wire_send_shutdown(run->loop, 0, status);
    p->state = P_DONE;
}

/* ----------------------------------------------------------- the poll -- */

/* The P_RUN step of a shuffle stage. */
static int shuffle_run(struct wn_planner *p)
{
    if (p->stop->failed || p->stop->stopping) {
        /* Extracts waiting for a round that cannot complete are not
         * waited for: the actors drop them at shutdown.  Past a stop's
         * deadline, nothing is (a frozen rank may never answer). */
        int past = stop_past_deadline(p->stop);
        int waiting =
            p->dispatch->nrunning && !(p->shuffle->phase == SH_EXTRACT && p->stop->failed) && !past;
        if (waiting)
            return 0;
        if (p->acks_pending)
            return give_up_acks(p);
        if (p->stop->failed)
            stage_end(p);
        else
            p->state = P_FINISH;
        return 1;
    }
    int rc = shuffle_round_step(p);
    if (rc == SHUFFLE_ROUNDS_DONE) {
        stage_end(p);
        return 1;
    }
    return rc;
}

/* Dispatch, progress, stage changes. */
static int poll_hook(struct wn_loop *loop, void *arg)
{
    struct wn_planner *p = arg;
    struct wn_run *run = p->run;
    struct dispatch *d = p->dispatch;
    (void)loop;
    struct wn_stage_stats *s;
    uint64_t running;
    int sent;
    planner_check_hang(p);
    if (p->state != P_DONE) {
        stop_check_halt(p->stop, p->stage, stream_nrunning(p));
        stop_check_limit(p->stop, stream_nrunning(p));
    }
    checkpoint_sync(p);
    switch (p->state) {
    case P_START:
        if (p->stop->stopping) {
            p->state = P_FINISH;
            return 1;
        }
        stage_begin(p);
        return 1;
    case P_CLIQUE:
        if (p->acks_pending)
            return give_up_acks(p);
        if (p->stop->failed) { /* a member could not join: nothing to run */
            p->state = P_FINISH;
            return 1;
        }
        stage_node_setup(p);
        return 1;
    case P_NODE_SETUP:
        if (p->acks_pending)
            return give_up_acks(p);
        stage_setup_rest(p);
        return 1;
    case P_SETUP:
        if (p->acks_pending)
            return give_up_acks(p);
        p->state = P_RUN;
        return 1;
    case P_RUN:
        s = &p->stats[p->stage];
        if (p->shuffle->active) {
            wn_progress_update(&p->progress, s, p->stage, run->nstages, p->dispatch->tasks_finished,
                               p->ninputs * p->shuffle->rounds, wn_run_now(run), 0);
            return shuffle_run(p);
        }
        running = stream_nrunning(p);
        if (p->stop->stopping && !p->stop->failed && d->nfinished < d->nbatches &&
            (running == 0 || stop_past_deadline(p->stop))) {
            if (running)
                wn_warn("drain_timeout: %llu batches still running are given up (they "
                        "run again on resume)",
                        (unsigned long long)running);
            p->state = P_FINISH;
            return 1;
        }
        if (d->nfinished == d->nbatches || (p->stop->failed && d->nrunning == 0)) {
            stage_end(p);
            return 1;
        }
        if (!stream_progress(p))
            wn_progress_update(&p->progress, s, p->stage, run->nstages, p->dispatch->tasks_finished,
                               p->ninputs, wn_run_now(run), 0);
        /* Followers first (stream.c): what drains queues goes first. */
        sent = stream_step(p);
        if (p->stop->failed || p->stop->stopping)
            return sent > 0;
        return (dispatch_send(p->dispatch, p->stage, p->inputs, p->actors, p->nactors) + sent) > 0;
    case P_END:
        /* Followers keep going while the ranks tear the stage down. */
        sent = stream_step(p);
        if (p->acks_pending)
            return sent > 0 || give_up_acks(p);
        stage_next(p);
        if (p->state == P_COLLECT)
            collect_begin(p);
        return 1;
    case P_COLLECT:
        if (p->collect->pending)
            return 0;
        p->state = P_FINISH;
        return 1;
    case P_FINISH:
        /* Part files still being written are waited for (when stopping,
         * until the drain deadline: those left are not journaled, and
         * their batches run again on resume). */
        if (p->checkpoint->nundurable && !stop_past_deadline(p->stop))
            return 0;
        finish(p);
        return 1;
    case P_DONE:
        return 0;
    }
    return 0;
}
