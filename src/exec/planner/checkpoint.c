/* checkpoint.c - rank 0 and the checkpoint: where a resumed run starts
 * (a finished stage replayed, batches done earlier loaded instead of
 * run), the journal's records (group-committed once per poll), and part
 * files still being written by actors' I/O threads, without which a
 * batch, and then its stage's end, is not journaled. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "ckpt/ckpt.h"
#include "ckpt/part.h"
#include "exec/planner/planner_impl.h"
#include "stage/rejects.h"
#include "stage/stage_impl.h"

struct checkpoint *checkpoint_create(struct wn_run *run)
{
    struct checkpoint *c = calloc(1, sizeof(*c));
    size_t n = run->nstages ? run->nstages : 1;
    if (!c)
        return NULL;
    c->ck = run->opts->ckpt;
    c->replay = -1;
    c->undurable = calloc(n, sizeof(*c->undurable));
    c->undurable_on = calloc((size_t)run->size, sizeof(*c->undurable_on));
    c->stage_nout = calloc(n, sizeof(*c->stage_nout));
    c->stage_ran = calloc(n, 1);
    if (!c->undurable || !c->undurable_on || !c->stage_nout || !c->stage_ran) {
        checkpoint_destroy(c);
        return NULL;
    }
    return c;
}

void checkpoint_destroy(struct checkpoint *c)
{
    if (!c)
        return;
    free(c->undurable);
    free(c->undurable_on);
    free(c->stage_nout);
    free(c->stage_ran);
    free(c);
}

void checkpoint_sync(struct wn_planner *p)
{
    if (!p->checkpoint->journal_dirty)
        return;
    wn_error_t err = {{0}};
    if (wn_ckpt_sync(p->checkpoint->ck, &err) < 0)
        stop_fail(p->stop, "checkpoint: %s", err.text);
    p->checkpoint->journal_dirty = 0;
}

/* ------------------------------------------------------------ resume -- */

/* A batch loaded from the checkpoint counts the rejects it had when it
 * ran (its journal record), as if it had run now. */
void checkpoint_count_rejects(struct wn_planner *p, uint32_t s, const struct wn_ckpt_batch *b)
{
    wn_error_t err = {{0}};
    if (b->rejects && wn_reject_counts_add(&p->stats[s].rejects, b->rejects, b->batch, &err) < 0)
        stop_fail(p->stop, "checkpoint: stage '%s' batch %llu: its rejects: %s",
                  p->run->stages[s]->cfg->name, (unsigned long long)b->batch, err.text);
}

/* Resume: the first stage an earlier run did not finish runs (its done
 * batches loaded), after the outputs of the stage before it are loaded.
 * Those files are checked here first (each file's checksum against the
 * journal's, without parsing it); a bad one makes its stage unfinished,
 * and the search steps back a stage. */
void checkpoint_resume(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    uint32_t r = 0;
    const struct wn_ckpt_stage *first = wn_ckpt_stage(p->checkpoint->ck, 0);
    if (first && first->begun && !first->batch_order) {
        /* Its batches hold other inputs than this run's would. */
        wn_warn("checkpoint: %s was made by an earlier winnow, which cut batches in "
                "another order: every stage runs again",
                run->opts->checkpoint);
        p->checkpoint->rerun_rest = 1;
        return;
    }
    while (r < run->nstages && wn_ckpt_stage(p->checkpoint->ck, r)->ended)
        r++;
    while (r > 0) {
        const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->checkpoint->ck, r - 1);
        const char *name = run->stages[r - 1]->cfg->name;
        int bad = 0;
        for (size_t i = 0; i < cs->ndone;) {
            char path[4096];
            wn_error_t err = {{0}};
            uint64_t b = cs->done[i].batch;
            if (wn_ckpt_part_path(path, sizeof(path), run->opts->checkpoint, r - 1, name, b) < 0 ||
                wn_part_verify(path, &cs->done[i].sum, &err) < 0) {
                wn_warn("checkpoint: stage '%s' batch %llu: %s; recomputing it", name,
                        (unsigned long long)b, err.text[0] ? err.text : "path too long");
                wn_ckpt_forget(p->checkpoint->ck, r - 1, b); /* swaps the last into i */
                bad = 1;
                continue;
            }
            i++;
        }
        if (!bad)
            break;
        r--;
    }
    if (r > 0) {
        p->checkpoint->replay = (int)(r - 1);
        p->stage = r - 1;
    }
    /* The stages before it do not run again: their rejects, as the
     * journal has them, still count in the summary and --stats. */
    for (uint32_t s = 0; s + 1 < r; s++) {
        const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->checkpoint->ck, s);
        snprintf(p->stats[s].name, sizeof(p->stats[s].name), "%s", run->stages[s]->cfg->name);
        for (size_t i = 0; i < cs->ndone; i++)
            checkpoint_count_rejects(p, s, &cs->done[i]);
    }
    if (r == run->nstages)
        wn_info("checkpoint: every stage finished earlier; loading the final outputs (nothing "
                "runs again, so files the stages wrote are not rewritten: to run from the "
                "start, remove %s)",
                run->opts->checkpoint);
    else if (r > 0 || wn_ckpt_stage(p->checkpoint->ck, 0)->ndone)
        wn_info("checkpoint: resuming at stage %u/%u '%s'", r + 1, run->nstages,
                run->stages[r]->cfg->name);
}

/* The largest batch number journaled done. */
static uint64_t max_done(const struct wn_ckpt_stage *cs)
{
    uint64_t m = 0;
    for (size_t i = 0; i < cs->ndone; i++)
        if (cs->done[i].batch > m)
            m = cs->done[i].batch;
    return m;
}

/* Checkpoint: batches an earlier run finished load their outputs from
 * their part files instead of running; the journal learns of the stage. */
void checkpoint_mark_loads(struct wn_planner *p)
{
    const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->checkpoint->ck, p->stage);
    wn_error_t err = {{0}};
    const struct wn_stage *st = p->run->stages[p->stage];
    if (cs && cs->ndone) {
        if (p->checkpoint->rerun_rest) {
            wn_warn("checkpoint: stage '%s' runs whole: a stage before it did", st->cfg->name);
        } else if (cs->nbatches != p->dispatch->njournaled &&
                   (cs->nbatches || max_done(cs) >= p->dispatch->njournaled)) {
            /* (No count: a streaming run journaled batches of a stage
             * whose inputs were not all there yet.) */
            wn_warn("checkpoint: stage '%s' had %llu batches, now %llu: running them all",
                    st->cfg->name, (unsigned long long)cs->nbatches,
                    (unsigned long long)p->dispatch->njournaled);
            p->checkpoint->rerun_rest = 1;
        } else if (cs->begun && cs->layout != st->layout) {
            wn_warn("checkpoint: stage '%s' divides its work otherwise than when its batches "
                    "were made (%s): running them all",
                    st->cfg->name, st->plan_note ? st->plan_note : "its layout changed");
            p->checkpoint->rerun_rest = 1;
        } else {
            for (size_t i = 0; i < cs->ndone; i++) {
                struct pbatch *pb = &p->dispatch->batches[cs->done[i].batch];
                pb->load = 1;
                pb->sum = cs->done[i].sum;
                checkpoint_count_rejects(p, p->stage, &cs->done[i]);
            }
            wn_info("checkpoint: stage '%s': %zu of %llu batches done earlier, loading them",
                    p->run->stages[p->stage]->cfg->name, cs->ndone,
                    (unsigned long long)p->dispatch->njournaled);
        }
    }
    if (wn_ckpt_stage_begin(p->checkpoint->ck, p->stage, p->dispatch->njournaled, p->ninputs,
                            st->layout, &err) < 0)
        stop_fail(p->stop, "checkpoint: %s", err.text);
    p->checkpoint->journal_dirty = 1;
}

/* ----------------------------------------------------------- journal -- */

/* Journals the ends of stages that have ended and whose part files are
 * all written, in stage order. */
void checkpoint_journal_stage_ends(struct wn_planner *p)
{
    struct checkpoint *c = p->checkpoint;
    while (c->ck && !p->stop->failed && c->ended_upto < p->run->nstages &&
           c->stage_ran[c->ended_upto] && c->undurable[c->ended_upto] == 0) {
        wn_error_t err = {{0}};
        uint32_t e = p->checkpoint->ended_upto++;
        if (wn_ckpt_stage_end(p->checkpoint->ck, e, p->checkpoint->stage_nout[e], &err) < 0)
            stop_fail(p->stop, "checkpoint: %s", err.text);
    }
}
