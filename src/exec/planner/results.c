/* results.c - rank 0: the results of batches (dispatch.c sends them):
 * outputs recorded and journaled, rejects counted, failures retried,
 * given up (recorded in the failed-tasks file) or failing the run, and
 * part files written after their results. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/report.h"
#include "ckpt/ckpt.h"
#include "stage/stage_impl.h"
#include "exec/planner/planner_impl.h"
#include "util/xalloc.h"

struct results *results_create(struct wn_run *run)
{
    struct results *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->peak_rss_mib = calloc((size_t)run->size, sizeof(*r->peak_rss_mib));
    r->spill = calloc((size_t)run->size, sizeof(*r->spill));
    if (!r->peak_rss_mib || !r->spill) {
        free(r->peak_rss_mib);
        free(r->spill);
        free(r);
        return NULL;
    }
    return r;
}

void results_destroy(struct results *r)
{
    if (!r)
        return;
    free(r->events);
    free(r->peak_rss_mib);
    free(r->spill);
    free(r);
}

static const char *failed_path(struct wn_planner *p, char *buf, size_t len)
{
    const struct wn_run *run = p->run;
    if (run->opts->failed_path)
        return run->opts->failed_path;
    const char *dir = run->cfg->output ? run->cfg->output : ".";
    snprintf(buf, len, "%s/%s.failed-tasks.jsonl", dir, run->cfg->name);
    return buf;
}

/* ------------------------------------------------------------ results -- */

static void record_event(struct wn_planner *p, int rank, const struct wn_msg_result *r,
                         uint32_t ntasks)
{
    if (!p->run->opts->trace_path)
        return;
    if (p->results->nevents == p->results->cap_events) {
        size_t ncap = p->results->cap_events ? p->results->cap_events * 2 : 1024;
        struct wn_trace_event *n = realloc(p->results->events, ncap * sizeof(*n));
        if (!n)
            return;
        p->results->events = n;
        p->results->cap_events = ncap;
    }
    p->results->events[p->results->nevents++] =
        (struct wn_trace_event){rank,   r->stage,  r->batch,         r->t_start,        r->t_end,
                                ntasks, r->status, r->bytes_spilled, r->bytes_read_back};
}

void results_on_result(struct wn_planner *p, int src, const struct wn_msg_result *r, size_t len)
{
    struct wn_run *run = p->run;
    struct stage_view v = {0, NULL, NULL, 0};
    int known = len >= sizeof(*r) && stream_view(p, r->stage, &v);
    if (p->stop->failed && !known && len >= sizeof(*r))
        return; /* a batch of a stage the failed run has left behind */
    struct dispatch *d = v.d;
    const uint32_t stage = r->stage;
    if (!known || r->batch >= d->nbatches ||
        len < sizeof(*r) + r->noutputs * sizeof(struct wn_desc) + r->errlen + r->rejlen ||
        (r->rejlen && ((const char *)(r + 1))[r->noutputs * sizeof(struct wn_desc) + r->errlen +
                                              r->rejlen - 1] != '\0')) {
        wn_error("malformed result from rank %d", src);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    struct pbatch *pb = &d->batches[r->batch];
    struct wn_stage_stats *s = &p->stats[stage];
    const struct wn_stage_config *c = run->stages[stage]->cfg;
    d->outstanding[src]--;
    d->nrunning--;
    if (d->rank_out && d->rank_out[src] > 0)
        d->rank_out[src]--;
    if (r->peak_rss_mib > p->results->peak_rss_mib[src])
        p->results->peak_rss_mib[src] = r->peak_rss_mib;
    /* Counters only grow: the later result is the larger. */
    struct wn_rank_spill *sp = &p->results->spill[src];
    if (r->bytes_spilled > sp->bytes_spilled)
        sp->bytes_spilled = r->bytes_spilled;
    if (r->bytes_read_back > sp->bytes_read_back)
        sp->bytes_read_back = r->bytes_read_back;
    record_event(p, src, r, (uint32_t)pb->count);
    s->busy_s += r->t_end - r->t_start;
    s->idle_s += r->idle_s;
    s->pull_s += r->pull_s;
    s->pulled_bytes += r->pulled_bytes;
    s->arena_bytes += r->arena_bytes;

    if (r->status == 0) {
        const struct wn_desc *outs = (const void *)(r + 1);
        if (r->rejlen) {
            const char *rej = (const char *)(outs + r->noutputs) + r->errlen;
            wn_error_t err = {{0}};
            if (wn_reject_counts_add(&s->rejects, rej, r->batch, &err) < 0)
                stop_fail(p->stop, "stage '%s' batch %llu: rejects from rank %d: %s", c->name,
                          (unsigned long long)r->batch, src, err.text);
        }
        /* Kept with the batch: the next stage takes them in batch order. */
        free(pb->outs);
        pb->outs = r->noutputs ? wn_xmalloc(r->noutputs * sizeof(*outs)) : NULL;
        if (r->noutputs)
            memcpy(pb->outs, outs, r->noutputs * sizeof(*outs));
        d->outs_held += r->noutputs - pb->nouts;
        pb->nouts = r->noutputs;
        p->stage_nout[stage] += r->noutputs;
        /* (A shuffle's inserts have no outputs and are not journaled.) */
        int journaled = p->checkpoint->ck && !pb->load && r->batch < d->njournaled;
        if (journaled && r->part_pending) {
            p->checkpoint->undurable[stage]++;
            p->checkpoint->undurable_on[src]++;
            p->checkpoint->nundurable++;
        } else if (journaled) {
            wn_error_t err = {{0}};
            const char *rej = r->rejlen ? (const char *)(outs + r->noutputs) + r->errlen : NULL;
            if (wn_ckpt_batch_done(p->checkpoint->ck, stage, r->batch, r->part_sum, r->noutputs,
                                   rej, &err) < 0)
                stop_fail(p->stop, "checkpoint: %s", err.text);
            p->checkpoint->journal_dirty = 1;
        }
        pb->state = B_DONE;
        d->nfinished++;
        d->tasks_finished += pb->count;
        s->tasks_out += r->noutputs;
        s->items_in += r->items_in;
        s->items_out += r->items_out;
        s->bytes_in += r->bytes_in;
        s->bytes_out += r->bytes_out;
        if (p->shuffle->active)
            p->shuffle->pending--;
        autoscale_note(p, stage, r->t_end - r->t_start);
        stream_consumed(p, &v, pb);
        return;
    }

    const char *why = (const char *)(r + 1) + r->noutputs * sizeof(struct wn_desc);
    if (p->shuffle->active && r->batch < d->njournaled) {
        /* An extract (or its load) runs where its partition's rows are:
         * it cannot move to another actor. */
        uint32_t round = (uint32_t)(r->batch / p->shuffle->nparts);
        uint32_t partition = (uint32_t)(r->batch % p->shuffle->nparts);
        if (pb->load) {
            wn_error_t err = {{0}};
            if (wn_ckpt_bad(p->checkpoint->ck, stage, r->batch, &err) < 0)
                wn_error("checkpoint: %s", err.text);
            stop_fail(p->stop,
                      "checkpoint: stage '%s' partition %u of round %u cannot be "
                      "loaded: %s; it is recorded as bad: run the same command again "
                      "to shuffle that round again",
                      c->name, partition, round, why);
        } else {
            stop_fail(p->stop,
                      "stage '%s': partition %u of shuffle round %u failed on rank "
                      "%d: %s",
                      c->name, partition, round, src, why);
        }
        pb->state = B_GIVEN_UP;
        d->nfinished++;
        p->shuffle->pending--;
        return;
    }
    if (pb->load) {
        wn_error_t err = {{0}};
        if ((int)stage == p->checkpoint->replay) {
            /* Its inputs are not here to recompute it from: record the
             * file as bad, so that the next run goes back a stage. */
            if (wn_ckpt_bad(p->checkpoint->ck, stage, r->batch, &err) < 0)
                wn_error("checkpoint: %s", err.text);
            stop_fail(p->stop,
                      "checkpoint: stage '%s' batch %llu cannot be loaded: %s; it is "
                      "recorded as bad: run the same command again to recompute it",
                      c->name, (unsigned long long)r->batch, why);
            pb->state = B_GIVEN_UP;
            d->nfinished++;
            return;
        }
        /* Recompute it, as if it had never run. */
        wn_warn("checkpoint: stage '%s' batch %llu cannot be loaded (%s); recomputing it", c->name,
                (unsigned long long)r->batch, why);
        wn_ckpt_forget(p->checkpoint->ck, stage, r->batch);
        pb->load = 0;
        pb->state = B_PENDING;
        dispatch_q_push(&d->retry, r->batch);
        return;
    }
    /* A RAFT batch is not retried alone: its clique runs together. */
    int max_retries =
        (run->stages[stage]->ops->flags & WN_STAGE_RAFT) ? 0 : run->cfg->exec.max_retries;
    pb->last_failed_on = src;
    if ((int)pb->attempt < max_retries && !p->stop->failed) {
        wn_warn("stage '%s' batch %llu failed on rank %d (attempt %u of %d): %s; retrying", c->name,
                (unsigned long long)r->batch, src, pb->attempt + 1, max_retries + 1, why);
        pb->attempt++;
        pb->state = B_PENDING;
        s->retries++;
        dispatch_q_push(&d->retry, r->batch);
        return;
    }
    pb->state = B_GIVEN_UP;
    d->nfinished++;
    d->tasks_finished += pb->count;
    s->failed++;
    if (p->shuffle->active)
        p->shuffle->pending--; /* an insert given up: its rows are not shuffled */
    uint64_t *ids = wn_xmalloc((pb->count ? pb->count : 1) * sizeof(*ids));
    for (uint64_t i = 0; i < pb->count; i++)
        ids[i] = v.inputs[pb->first + i].id;
    char pathbuf[4096];
    wn_error_t err = {{0}};
    const char *path = failed_path(p, pathbuf, sizeof(pathbuf));
    if (wn_report_failed(path, c->name, r->batch, pb->attempt + 1, ids, pb->count, why, &err) < 0)
        wn_error("cannot record the failed batch: %s", err.text);
    free(ids);
    if (run->cfg->exec.ignore_failures) {
        wn_warn("stage '%s' batch %llu (first task %016llx) failed %u times, last on rank "
                "%d: %s; skipped (ignore_failures), recorded in %s",
                c->name, (unsigned long long)r->batch, (unsigned long long)v.inputs[pb->first].id,
                pb->attempt + 1, src, why, path);
        return;
    }
    stop_fail(p->stop,
              "stage '%s' failed: batch %llu (first task %016llx) failed %u times, "
              "last on rank %d: %s (recorded in %s)",
              c->name, (unsigned long long)r->batch,
              pb->count ? (unsigned long long)v.inputs[pb->first].id : 0ULL, pb->attempt + 1, src,
              why, path);
}

/* A part file written after its batch's result: now the journal may
 * record the batch.  One that could not be written fails the run: its
 * outputs may already be a later stage's inputs. */
void results_on_durable(struct wn_planner *p, int src, const struct wn_msg_durable *m, size_t len)
{
    struct wn_run *run = p->run;
    if (len < sizeof(*m) || m->stage >= run->nstages || len < sizeof(*m) + m->errlen + m->rejlen ||
        !p->checkpoint->ck || p->checkpoint->undurable[m->stage] == 0 ||
        (m->rejlen && ((const char *)(m + 1))[m->errlen + m->rejlen - 1] != '\0')) {
        wn_error("malformed part-file report from rank %d", src);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    p->checkpoint->undurable[m->stage]--;
    if (p->checkpoint->undurable_on[src])
        p->checkpoint->undurable_on[src]--;
    p->checkpoint->nundurable--;
    const char *name = run->stages[m->stage]->cfg->name;
    wn_error_t err = {{0}};
    if (m->status != 0) {
        stop_fail(p->stop,
                  "checkpoint: rank %d could not write the part file of stage '%s' "
                  "batch %llu: %s",
                  src, name, (unsigned long long)m->batch,
                  m->errlen ? (const char *)(m + 1) : "(no reason given)");
        return;
    }
    const char *rej = m->rejlen ? (const char *)(m + 1) + m->errlen : NULL;
    if (wn_ckpt_batch_done(p->checkpoint->ck, m->stage, m->batch, m->sum, m->noutputs, rej, &err) <
        0)
        stop_fail(p->stop, "checkpoint: %s", err.text);
    p->checkpoint->journal_dirty = 1;
    checkpoint_journal_stage_ends(p);
}
