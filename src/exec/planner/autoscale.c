/* autoscale.c - rank 0, streaming mode: how many actors each stage of the
 * running segment has on each rank, and their re-division while it runs
 * (Xenna's autoscaler).  A rank runs wn_plan_threads batches at once.  An
 * actor-mode stage (it keeps state between batches: setup, a GPU, a
 * clique) has one actor on each of its ranks; the task-mode stages share
 * the rest of each rank's threads, beyond one actor each.  At first
 * equally; then every autoscale_interval seconds (and as soon as each has
 * finished a batch) in proportion to the work each has left: its batches
 * still to do times its measured time per batch, so that no stage
 * starves the next.  A smaller count takes effect between batches:
 * running and queued batches finish (the actor side runs no more at once
 * than its count).
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

struct autoscale *autoscale_create(struct wn_run *run)
{
    struct autoscale *a = calloc(1, sizeof(*a));
    size_t n = run->nstages ? run->nstages : 1, size = (size_t)run->size;
    if (!a)
        return NULL;
    a->size = run->size;
    a->slots = calloc(n * size, sizeof(*a->slots));
    a->threads = calloc(size, sizeof(*a->threads));
    a->rank_out = calloc(size, sizeof(*a->rank_out));
    a->rank_cap = calloc(size, sizeof(*a->rank_cap));
    a->win_busy = calloc(n, sizeof(*a->win_busy));
    a->win_batches = calloc(n, sizeof(*a->win_batches));
    a->since = calloc(n, sizeof(*a->since));
    a->total = calloc(n, sizeof(*a->total));
    if (!a->slots || !a->threads || !a->rank_out || !a->rank_cap || !a->win_busy ||
        !a->win_batches || !a->since || !a->total) {
        autoscale_destroy(a);
        return NULL;
    }
    int streaming = run->cfg->exec.mode == WN_MODE_STREAMING;
    for (int r = 0; r < run->size; r++) {
        a->threads[r] = wn_plan_threads(run->places[r].cpus, run->stages, run->nstages, streaming);
        a->rank_cap[r] = a->threads[r] * dispatch_depth(run);
    }
    return a;
}

void autoscale_destroy(struct autoscale *a)
{
    if (!a)
        return;
    free(a->slots);
    free(a->threads);
    free(a->rank_out);
    free(a->rank_cap);
    free(a->win_busy);
    free(a->win_batches);
    free(a->since);
    free(a->total);
    free(a->events);
    free(a);
}

const int *autoscale_slots(const struct autoscale *a, uint32_t stage)
{
    return a->first < a->end && stage >= a->first && stage < a->end
               ? &a->slots[(size_t)stage * (size_t)a->size]
               : NULL;
}

/* Stage s's actor ranks (the head's or a follower's). */
static const int *actors_of(struct wn_planner *p, uint32_t s, int *n)
{
    if (s == p->stage) {
        *n = p->nactors;
        return p->actors;
    }
    const struct follower *f = stream_follower(p, s);
    *n = f ? f->nactors : 0;
    return f ? f->actors : NULL;
}

static void record(struct wn_planner *p, double now)
{
    struct autoscale *a = p->autoscale;
    for (uint32_t s = p->stage > a->first ? p->stage : a->first; s < a->end; s++) {
        int n = 0;
        const int *sl = &a->slots[(size_t)s * (size_t)a->size];
        for (int r = 0; r < a->size; r++)
            n += sl[r];
        struct wn_stage_stats *st = &p->stats[s];
        /* Actor-seconds at the old count, up to now. */
        if (a->total[s])
            st->actor_s += (double)a->total[s] * (now - a->since[s]);
        a->since[s] = now;
        a->total[s] = n;
        st->nactors = n;
        if (a->nevents == a->cap) {
            size_t nc = a->cap ? a->cap * 2 : 64;
            struct wn_autoscale_event *e = realloc(a->events, nc * sizeof(*e));
            if (!e)
                continue; /* the stats lose an entry, nothing else */
            a->events = e;
            a->cap = nc;
        }
        a->events[a->nevents++] = (struct wn_autoscale_event){now, s, n};
    }
}

/* Whether rank r hosts stage s (it is among its actor ranks). */
static int hosts(struct wn_planner *p, uint32_t s, int r)
{
    int n = 0;
    const int *act = actors_of(p, s, &n);
    for (int i = 0; i < n; i++)
        if (act[i] == r)
            return 1;
    return 0;
}

/* Divides each rank's threads between the segment's stages it hosts: one
 * actor each (an actor-mode stage keeps that one), and the threads left
 * to the task-mode ones in proportion to weight[s] (NULL: equally), by
 * largest remainder.  Every stage keeps an actor on each of its ranks, so
 * that a batch runs where its inputs are. */
static void divide(struct wn_planner *p, const double *weight)
{
    struct autoscale *a = p->autoscale;
    const struct wn_run *run = p->run;
    size_t size = (size_t)a->size;
    for (int r = 0; r < a->size; r++) {
        int hosted = 0, ntask = 0;
        double wsum = 0;
        for (uint32_t s = a->first; s < a->end; s++) {
            int on = s >= p->stage && hosts(p, s, r);
            a->slots[(size_t)s * size + (size_t)r] = on;
            hosted += on;
            if (on && wn_stage_task_mode(run->stages[s])) {
                ntask++;
                wsum += weight ? weight[s] : 1;
            }
        }
        int extra = a->threads[r] - hosted;
        if (extra <= 0 || !ntask || !(wsum > 0))
            continue;
        int given = 0;
        for (uint32_t s = a->first; s < a->end; s++) {
            int *sl = &a->slots[(size_t)s * size + (size_t)r];
            if (!*sl || !wn_stage_task_mode(run->stages[s]))
                continue;
            int n = (int)floor((weight ? weight[s] : 1) / wsum * extra);
            *sl += n;
            given += n;
        }
        while (given < extra) {
            uint32_t best = UINT32_MAX;
            double most = -1;
            for (uint32_t s = a->first; s < a->end; s++) {
                int sl = a->slots[(size_t)s * size + (size_t)r];
                if (!sl || !wn_stage_task_mode(run->stages[s]))
                    continue;
                double per = (weight ? weight[s] : 1) / sl;
                if (per > most)
                    most = per, best = s;
            }
            if (best == UINT32_MAX)
                break;
            a->slots[(size_t)best * size + (size_t)r]++;
            given++;
        }
    }
}

void autoscale_begin(struct wn_planner *p, uint32_t end)
{
    struct autoscale *a = p->autoscale;
    a->first = p->stage;
    a->end = end;
    a->ran = 0;
    double now = wn_run_now(p->run);
    double iv = p->run->cfg->exec.autoscale_interval;
    a->next_at = iv > 0 ? now + iv : INFINITY;
    for (uint32_t s = a->first; s < a->end; s++) {
        a->win_busy[s] = 0;
        a->win_batches[s] = 0;
        a->total[s] = 0;
    }
    memset(a->rank_out, 0, (size_t)a->size * sizeof(*a->rank_out));
    divide(p, NULL);
    record(p, now);
}

void autoscale_note(struct wn_planner *p, uint32_t stage, double busy)
{
    struct autoscale *a = p->autoscale;
    if (stage < a->first || stage >= a->end)
        return;
    a->win_busy[stage] += busy;
    a->win_batches[stage]++;
}

/* Batches of stage s still to run: its count when its inputs are all
 * there, else estimated from its producer's (as many of its own per
 * producer batch as so far). */
static double remaining(struct wn_planner *p, uint32_t s, double *total)
{
    const struct follower *f = stream_follower(p, s);
    const struct dispatch *d = f ? f->d : p->dispatch;
    if (!f || f->final) {
        *total = (double)d->nbatches;
    } else {
        double prod_total = 0;
        (void)remaining(p, s - 1, &prod_total);
        double per = f->fed ? (double)d->nbatches / (double)f->fed : 1;
        *total = prod_total * per;
        if (*total < (double)d->nbatches)
            *total = (double)d->nbatches;
    }
    double left = *total - (double)d->nfinished;
    return left > 0 ? left : 0;
}

void autoscale_step(struct wn_planner *p)
{
    struct autoscale *a = p->autoscale;
    const struct wn_run *run = p->run;
    if (a->end <= a->first + 1 || p->stop->failed || p->stop->stopping)
        return;
    double now = wn_run_now(run);
    if (run->cfg->exec.autoscale_interval <= 0)
        return;
    /* The first re-division as soon as every task-mode stage has timed a
     * batch; then every interval. */
    int timed = 1;
    for (uint32_t s = a->first; s < a->end && timed; s++)
        if (wn_stage_task_mode(run->stages[s]) && a->win_batches[s] == 0 && p->stats[s].busy_s <= 0)
            timed = 0;
    if (!(now >= a->next_at || (!a->ran && timed)))
        return;
    a->ran = 1;
    a->next_at = now + run->cfg->exec.autoscale_interval;
    double *w = wn_xcalloc(run->nstages, sizeof(*w));
    double known = 0;
    int nknown = 0;
    for (uint32_t s = a->first; s < a->end; s++) {
        double t = a->win_batches[s] ? a->win_busy[s] / (double)a->win_batches[s] : -1;
        if (t < 0) {
            const struct follower *f = stream_follower(p, s);
            const struct dispatch *d = f ? f->d : p->dispatch;
            if (d->nfinished)
                t = p->stats[s].busy_s / (double)d->nfinished;
        }
        w[s] = t;
        if (t >= 0)
            known += t, nknown++;
    }
    for (uint32_t s = a->first; s < a->end; s++) {
        double total = 0, left = remaining(p, s, &total);
        double t = w[s] >= 0 ? w[s] : nknown ? known / nknown : 1;
        w[s] = t * left;
        a->win_busy[s] = 0;
        a->win_batches[s] = 0;
    }
    int *old = wn_xmalloc((size_t)(a->end - a->first) * (size_t)a->size * sizeof(*old));
    memcpy(old, &a->slots[(size_t)a->first * (size_t)a->size],
           (size_t)(a->end - a->first) * (size_t)a->size * sizeof(*old));
    divide(p, w);
    int changed = 0;
    for (uint32_t s = a->first; s < a->end; s++)
        for (int r = 0; r < a->size; r++) {
            int now_n = a->slots[(size_t)s * (size_t)a->size + (size_t)r];
            int was = old[(size_t)(s - a->first) * (size_t)a->size + (size_t)r];
            if (now_n != was && (now_n > 0 || was > 0)) {
                wn_wire_send_scale(run->loop, r, s, now_n);
                changed = 1;
            }
        }
    if (changed) {
        record(p, now);
        p->stats[a->first].autoscales++;
        wn_debug("autoscale at %.2f s", now);
    }
    free(old);
    free(w);
}

void autoscale_stage_end(struct wn_planner *p, uint32_t stage, double now)
{
    struct autoscale *a = p->autoscale;
    if (stage < a->first || stage >= a->end || !a->total[stage])
        return;
    p->stats[stage].actor_s += (double)a->total[stage] * (now - a->since[stage]);
    a->total[stage] = 0;
    if (stage + 1 >= a->end)
        a->first = a->end = 0; /* the segment is over */
}
