/* planner_end.c - rank 0, around the stages' runs: resuming from a
 * checkpoint (where to start, a finished stage replayed, batches done
 * earlier loaded instead of run), a stage's end and the next one, the
 * final tasks collected (--results), the finish (reports, shutdown), and
 * stop requests (a signal, `winnow halt`, the Slurm time limit).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/plan.h"
#include "exec/report.h"
#include "ckpt/ckpt.h"
#include "ckpt/part.h"
#include "exec/timelimit.h"
#include "stage/stage_impl.h"
#include "exec/planner/planner_impl.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------ resume -- */

/* A batch loaded from the checkpoint counts the rejects it had when it
 * ran (its journal record), as if it had run now. */
static void count_loaded_rejects(struct wn_planner *p, uint32_t s, const struct wn_ckpt_batch *b)
{
    wn_error_t err = {{0}};
    if (b->rejects &&
        wn_reject_counts_add(&p->stats[s].rejects, b->rejects, b->batch, &err) < 0)
        planner_fail_run(p, "checkpoint: stage '%s' batch %llu: its rejects: %s",
                         p->run->stages[s]->cfg->name, (unsigned long long)b->batch, err.text);
}

/* Resume: the first stage an earlier run did not finish runs (its done
 * batches loaded), after the outputs of the stage before it are loaded.
 * Those files are checked here first (each file's checksum against the
 * journal's, without parsing it); a bad one makes its stage unfinished,
 * and the search steps back a stage. */
void planner_resume(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    uint32_t r = 0;
    while (r < run->nstages && wn_ckpt_stage(p->ck, r)->ended)
        r++;
    while (r > 0) {
        const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->ck, r - 1);
        const char *name = run->stages[r - 1]->cfg->name;
        int bad = 0;
        for (size_t i = 0; i < cs->ndone;) {
            char path[4096];
            wn_error_t err = {{0}};
            uint64_t b = cs->done[i].batch;
            if (wn_ckpt_part_path(path, sizeof(path), run->opts->checkpoint, r - 1, name,
                                  b) < 0 ||
                wn_part_verify(path, &cs->done[i].sum, &err) < 0) {
                wn_warn("checkpoint: stage '%s' batch %llu: %s; recomputing it", name,
                        (unsigned long long)b, err.text[0] ? err.text : "path too long");
                wn_ckpt_forget(p->ck, r - 1, b);   /* swaps the last into i */
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
        p->replay = (int)(r - 1);
        p->stage = r - 1;
    }
    /* The stages before it do not run again: their rejects, as the
     * journal has them, still count in the summary and --stats. */
    for (uint32_t s = 0; s + 1 < r; s++) {
        const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->ck, s);
        snprintf(p->stats[s].name, sizeof(p->stats[s].name), "%s", run->stages[s]->cfg->name);
        for (size_t i = 0; i < cs->ndone; i++)
            count_loaded_rejects(p, s, &cs->done[i]);
    }
    if (r == run->nstages)
        wn_info("checkpoint: every stage finished earlier; loading the final outputs (nothing "
                "runs again, so files the stages wrote are not rewritten: to run from the "
                "start, remove %s)", run->opts->checkpoint);
    else if (r > 0 || wn_ckpt_stage(p->ck, 0)->ndone)
        wn_info("checkpoint: resuming at stage %u/%u '%s'", r + 1, run->nstages,
                run->stages[r]->cfg->name);
}

/* Checkpoint: batches an earlier run finished load their outputs from
 * their part files instead of running; the journal learns of the stage. */
void planner_mark_loads(struct wn_planner *p)
{
    const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->ck, p->stage);
    wn_error_t err = {{0}};
    if (cs && cs->ndone) {
        if (cs->nbatches != p->nextract) {
            wn_warn("checkpoint: stage '%s' had %llu batches, now %llu: running them all",
                    p->run->stages[p->stage]->cfg->name, (unsigned long long)cs->nbatches,
                    (unsigned long long)p->nextract);
        } else {
            for (size_t i = 0; i < cs->ndone; i++) {
                struct pbatch *pb = &p->batches[cs->done[i].batch];
                pb->load = 1;
                pb->sum = cs->done[i].sum;
                count_loaded_rejects(p, p->stage, &cs->done[i]);
            }
            wn_info("checkpoint: stage '%s': %zu of %llu batches done earlier, loading them",
                    p->run->stages[p->stage]->cfg->name, cs->ndone,
                    (unsigned long long)p->nextract);
        }
    }
    if (wn_ckpt_stage_begin(p->ck, p->stage, p->nextract, p->ninputs, &err) < 0)
        planner_fail_run(p, "checkpoint: %s", err.text);
    p->journal_dirty = 1;
}

/* Resume: a stage every batch of which an earlier run finished.  Its
 * outputs (the next stage's inputs) are loaded from their part files on
 * the actors; no setup, no inputs. */
void planner_begin_replay(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct wn_stage *st = run->stages[p->stage];
    const struct wn_ckpt_stage *cs = wn_ckpt_stage(p->ck, p->stage);
    struct wn_actor_request req = {
        .stage = st->cfg->name, .cpus = 0, .ntasks = cs->nbatches, .batch_size = 1,
        .planner_rank = 0,
    };
    wn_error_t err = {{0}};
    free(p->actors);
    p->actors = wn_xcalloc((size_t)run->size, sizeof(*p->actors));
    if (wn_plan_actors(run->places, run->size, &req, NULL, p->actors, &p->nactors, &err) < 0) {
        planner_fail_run(p, "%s", err.text);
        p->state = P_FINISH;
        return;
    }
    p->nbatches = p->nextract = cs->nbatches;
    p->shuffle = 0;   /* a finished shuffle stage: its outputs are loaded */
    free(p->batches);
    p->batches = wn_xcalloc(p->nbatches ? p->nbatches : 1, sizeof(*p->batches));
    for (int r = 0; r <= run->size; r++)
        p->queues[r].n = p->queues[r].head = 0;
    p->retry.n = p->retry.head = 0;
    p->nfinished = p->nrunning = p->tasks_finished = 0;
    memset(p->outstanding, 0, (size_t)run->size * sizeof(*p->outstanding));
    p->noutputs = 0;
    for (uint64_t b = 0; b < p->nbatches; b++) {
        p->batches[b].actor = p->batches[b].last_failed_on = p->batches[b].primary = -1;
        /* A batch given up earlier (ignore_failures) has no outputs. */
        p->batches[b].state = B_DONE;
    }
    p->nfinished = p->nbatches;
    for (size_t i = 0; i < cs->ndone; i++) {
        struct pbatch *pb = &p->batches[cs->done[i].batch];
        pb->load = 1;
        pb->sum = cs->done[i].sum;
        pb->state = B_PENDING;
        count_loaded_rejects(p, p->stage, &cs->done[i]);
        p->nfinished--;
        planner_q_push(&p->queues[run->size], cs->done[i].batch);
    }
    planner_stage_stats_begin(p, cs->ntasks);
    wn_info("checkpoint: stage '%s' finished earlier: loading its %zu part files",
            st->cfg->name, cs->ndone);
    p->state = P_RUN;
}

/* --------------------------------------------------------- stage end -- */

/* Journals the ends of stages that have ended and whose part files are
 * all written, in stage order. */
void planner_journal_stage_ends(struct wn_planner *p)
{
    while (p->ck && !p->failed && p->ended_upto < p->run->nstages &&
           p->stage_ran[p->ended_upto] && p->undurable[p->ended_upto] == 0) {
        wn_error_t err = {{0}};
        uint32_t e = p->ended_upto++;
        if (wn_ckpt_stage_end(p->ck, e, p->stage_nout[e], &err) < 0)
            planner_fail_run(p, "checkpoint: %s", err.text);
    }
}

/* The records a stage rejected: said on stderr, and too many of them (a
 * text_field set wrong, input of another format) fail the run rather
 * than leave a quietly thinned output. */
static void check_rejects(struct wn_planner *p)
{
    const struct wn_run *run = p->run;
    const struct wn_stage_stats *s = &p->stats[p->stage];
    const struct wn_reject_counts *c = &s->rejects;
    if (!c->total || p->failed)
        return;
    char why[512];
    wn_reject_counts_text(c, why, sizeof(why));
    uint64_t read = c->total + s->items_out;
    double share = (double)c->total / (double)read, max = run->cfg->max_reject_fraction;
    if (share > max)
        planner_fail_run(p, "stage '%s' rejected %llu of the %llu records it read (%.1f%%, "
                         "more than max_reject_fraction %g): %s; the first: %s; all are in %s",
                         s->name, (unsigned long long)c->total, (unsigned long long)read,
                         100.0 * share, max, why, c->first ? c->first : "?",
                         run->opts->rejects_path);
    else
        wn_warn("stage '%s' rejected %llu of the %llu records it read (%.1f%%): %s; they are "
                "in %s", s->name, (unsigned long long)c->total, (unsigned long long)read,
                100.0 * share, why, run->opts->rejects_path);
}

void planner_end_stage(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    struct wn_stage_stats *s = &p->stats[p->stage];
    check_rejects(p);
    s->t_end = wn_run_now(run);
    wn_progress_update(&p->progress, s, p->stage, run->nstages, p->tasks_finished,
                       p->ninputs, s->t_end, 1);
    if (p->ck && !p->failed) {
        p->stage_ran[p->stage] = 1;
        p->stage_nout[p->stage] = p->noutputs;
        planner_journal_stage_ends(p);
    }
    /* Every rank: teardown if it hosted the stage, drop consumed inputs. */
    for (int r = 0; r < run->size; r++) {
        planner_expect_ack(p, r);
        wn_wire_send_stage_end(run->loop, r, p->stage);
    }
    p->state = P_END;
}

void planner_next_stage(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    /* This stage's outputs are the next one's inputs. */
    struct wn_desc *t = p->inputs;
    size_t cap = p->cap_inputs;
    p->inputs = p->outputs;
    p->ninputs = p->noutputs;
    p->cap_inputs = p->cap_outputs;
    p->outputs = t;
    p->cap_outputs = cap;
    p->noutputs = 0;
    if (p->failed) {
        p->state = P_FINISH;
        return;
    }
    if (p->halt_after >= 0 && p->stage == (uint32_t)p->halt_after && p->stage + 1 < run->nstages)
        planner_begin_stop(p, "winnow halt --after-stage", 0);
    if (++p->stage < run->nstages) {
        p->state = P_START;
        return;
    }
    p->state = run->opts->results_path ? P_COLLECT : P_FINISH;
}

/* ----------------------------------------------------------- collect -- */

struct collect_ctx {
    struct wn_planner *p;
    size_t index;
};

static void on_collected(struct wn_loop *loop, uint64_t id, void *buf, size_t len, int remote,
                         void *arg)
{
    struct collect_ctx *c = arg;
    struct wn_planner *p = c->p;
    (void)loop;
    wn_error_t err = {{0}};
    if (remote)
        p->planner_payload_bytes += len;
    if (wn_task_unpack(buf, len, WN_UNPACK_TAKE_BUF, &p->results[c->index], &err) < 0) {
        planner_fail_run(p, "final task %016llx: %s", (unsigned long long)id, err.text);
        free(buf);
    }
    free(c);
    p->nresults_pending--;
}

void planner_collect(struct wn_planner *p)
{
    /* The final tasks come to rank 0: the one fan-in of a run, and only
     * when asked for (--results). */
    qsort(p->inputs, p->ninputs, sizeof(*p->inputs), planner_cmp_desc);
    p->results = wn_xcalloc(p->ninputs ? p->ninputs : 1, sizeof(*p->results));
    p->nresults_pending = p->ninputs;
    for (size_t i = 0; i < p->ninputs; i++) {
        struct collect_ctx *c = wn_xmalloc(sizeof(*c));
        c->p = p;
        c->index = i;
        if (wn_loop_pull(p->run->loop, p->inputs[i].id, p->inputs[i].owner, on_collected, c) < 0) {
            planner_fail_run(p, "cannot collect final task %016llx from rank %d",
                             (unsigned long long)p->inputs[i].id, p->inputs[i].owner);
            free(c);
            p->nresults_pending--;
        }
    }
}

/* ------------------------------------------------------------ finish -- */

void planner_finish(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    wn_error_t err = {{0}};
    /* A stop before the end: 3 when a checkpoint holds what was done. */
    int stopped = p->stopping && !p->failed && p->stage < run->nstages;
    int status = p->failed ? WN_EXIT_FAILURE
                 : stopped ? (p->ck ? WN_EXIT_RESUMABLE : WN_EXIT_FAILURE) : WN_EXIT_OK;
    if (p->ck && wn_ckpt_finish(p->ck, status, &err) < 0) {
        wn_error("checkpoint: %s", err.text);
        status = 1;
    }
    if (!p->failed && !stopped && run->opts->results_path &&
        wn_report_results(run->opts->results_path, p->results, p->ninputs, &err) < 0) {
        wn_error("--results: %s", err.text);
        status = 1;
    }
    uint32_t own = wn_peak_rss_mib();
    if (own > p->peak_rss_mib[run->rank])
        p->peak_rss_mib[run->rank] = own;
    struct wn_run_report rep = {
        .peak_rss_mib = p->peak_rss_mib,
        .pipeline = run->cfg->name, .nranks = run->size,
        .nnodes = wn_layout_nnodes(run->places, run->size),
        .wall_s = wn_run_now(run) - p->t_start, .status = status,
        .planner_payload_bytes = p->planner_payload_bytes,
        .stages = p->stats, .nstages = run->nstages,
        .events = p->events, .nevents = p->nevents,
    };
    if (run->cfg->exec.show_progress)
        wn_report_summary(stdout, &rep);
    fflush(stdout);
    if (run->opts->stats_path && wn_report_stats_json(run->opts->stats_path, &rep, &err) < 0) {
        wn_error("--stats: %s", err.text);
        status = 1;
    }
    if (run->opts->trace_path && wn_report_trace_json(run->opts->trace_path, &rep, &err) < 0) {
        wn_error("--trace: %s", err.text);
        status = 1;
    }
    for (int r = 1; r < run->size; r++)
        wn_wire_send_shutdown(run->loop, r, status);
    wn_wire_send_shutdown(run->loop, 0, status);
    p->state = P_DONE;
}

/* -------------------------------------------------------------- stop -- */

/* A stop (signal, halt file, time limit): no new batches; running ones
 * may finish within drain_timeout; then the checkpoint is synced and every
 * rank exits 3.  The deadline holds whatever the ranks do: a frozen one
 * is given up on too (planner_give_up_acks, and exec.c ends ranks that
 * do not leave). */
void planner_begin_stop(struct wn_planner *p, const char *why, double drain)
{
    if (p->stopping || p->state == P_DONE)
        return;
    struct wn_run *run = p->run;
    if (!(drain > 0) || drain > run->cfg->exec.drain_timeout)
        drain = run->cfg->exec.drain_timeout;
    p->stopping = 1;
    p->stop_deadline = wn_run_now(run) + drain;
    wn_warn("stopping (%s): no new batches; %llu in flight may finish within %g s%s", why,
            (unsigned long long)p->nrunning, drain,
            p->ck ? ", then the checkpoint is synced (exit 3: run again to resume)"
                  : "; there is no checkpoint to resume from (--checkpoint)");
}

int planner_give_up_acks(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    if (!p->stopping || p->stage >= run->nstages || wn_run_now(run) <= p->stop_deadline)
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

/* `winnow halt DIR [--after-stage NAME]` leaves DIR/HALT: looked for
 * twice a second, acted on and removed. */
void planner_check_halt(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    double now = wn_run_now(run);
    if (!p->ck || p->stopping || now < p->next_halt_check)
        return;
    p->next_halt_check = now + 0.5;
    char path[4096], line[256] = "";
    snprintf(path, sizeof(path), "%s/HALT", run->opts->checkpoint);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    unlink(path);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) {
        planner_begin_stop(p, "winnow halt", 0);
        return;
    }
    for (uint32_t s = 0; s < run->nstages; s++)
        if (!strcmp(run->stages[s]->cfg->name, line)) {
            p->halt_after = (int)s;
            wn_warn("winnow halt: stopping after stage '%s'", line);
            if (s < p->stage)
                planner_begin_stop(p, "winnow halt (that stage has finished)", 0);
            return;
        }
    wn_warn("winnow halt: no stage '%s' in this pipeline; ignored", line);
}

/* Under Slurm: stop when the job has less than time_margin left.  Asked
 * each minute, or more often when the margin is short. */
void planner_check_limit(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    double now = wn_run_now(run), margin = run->cfg->exec.time_margin;
    if (p->limit.job <= 0 || p->stopping || now < p->next_limit_check || margin <= 0)
        return;
    double every = margin / 4 < 60 ? margin / 4 : 60;
    p->next_limit_check = now + (every > 1 ? every : 1);
    long left = wn_timelimit_left(&p->limit);
    if (left >= 0 && left < margin) {
        char why[96];
        snprintf(why, sizeof(why), "the Slurm job has %ld s left, time_margin %g s", left,
                 margin);
        planner_begin_stop(p, why, 0);
    }
}
