/* stop.c - rank 0: how a run stops early.  It fails (the first reason is
 * kept and said once), or a stop is asked for: a signal on any rank,
 * `winnow halt`, or the Slurm job's time running out.  A stop dispatches
 * no new batches; running ones may finish within drain_timeout; then the
 * checkpoint is synced and every rank exits 3.  The deadline holds
 * whatever the ranks do: a frozen one is given up on too (planner.c's
 * give_up_acks, and exec.c ends ranks that do not leave). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "exec/planner/planner_impl.h"
#include "stage/stage_impl.h"

struct stop *stop_create(struct wn_run *run)
{
    struct stop *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->run = run;
    st->halt_after = -1;
    wn_timelimit_init(&st->limit);
    return st;
}

void stop_destroy(struct stop *st)
{
    free(st);
}

void stop_fail(struct stop *st, const char *fmt, ...)
{
    if (st->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->fail_msg, sizeof(st->fail_msg), fmt, ap);
    va_end(ap);
    st->failed = 1;
    wn_error("%s", st->fail_msg);
}

void stop_begin(struct stop *st, const char *why, double drain, uint64_t nrunning, int finished)
{
    if (st->stopping || finished)
        return;
    struct wn_run *run = st->run;
    if (!(drain > 0) || drain > run->cfg->exec.drain_timeout)
        drain = run->cfg->exec.drain_timeout;
    st->stopping = 1;
    st->stop_deadline = wn_run_now(run) + drain;
    wn_warn("stopping (%s): no new batches; %llu in flight may finish within %g s%s", why,
            (unsigned long long)nrunning, drain,
            run->opts->ckpt ? ", then the checkpoint is synced (exit 3: run again to resume)"
                            : "; there is no checkpoint to resume from (--checkpoint)");
}

int stop_past_deadline(const struct stop *st)
{
    return st->stopping && wn_run_now(st->run) > st->stop_deadline;
}

/* `winnow halt DIR [--after-stage NAME]` leaves DIR/HALT: looked for
 * twice a second, acted on and removed. */
void stop_check_halt(struct stop *st, uint32_t stage, uint64_t nrunning)
{
    struct wn_run *run = st->run;
    double now = wn_run_now(run);
    if (!run->opts->ckpt || st->stopping || now < st->next_halt_check)
        return;
    st->next_halt_check = now + 0.5;
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
        stop_begin(st, "winnow halt", 0, nrunning, 0);
        return;
    }
    for (uint32_t s = 0; s < run->nstages; s++)
        if (!strcmp(run->stages[s]->cfg->name, line)) {
            st->halt_after = (int)s;
            wn_warn("winnow halt: stopping after stage '%s'", line);
            if (s < stage)
                stop_begin(st, "winnow halt (that stage has finished)", 0, nrunning, 0);
            return;
        }
    wn_warn("winnow halt: no stage '%s' in this pipeline; ignored", line);
}

/* Under Slurm: stop when the job has less than time_margin left.  Asked
 * each minute, or more often when the margin is short. */
void stop_check_limit(struct stop *st, uint64_t nrunning)
{
    struct wn_run *run = st->run;
    double now = wn_run_now(run), margin = run->cfg->exec.time_margin;
    if (st->limit.job <= 0 || st->stopping || now < st->next_limit_check || margin <= 0)
        return;
    double every = margin / 4 < 60 ? margin / 4 : 60;
    st->next_limit_check = now + (every > 1 ? every : 1);
    long left = wn_timelimit_left(&st->limit);
    if (left >= 0 && left < margin) {
        char why[96];
        snprintf(why, sizeof(why), "the Slurm job has %ld s left, time_margin %g s", left, margin);
        stop_begin(st, why, 0, nrunning, 0);
    }
}
