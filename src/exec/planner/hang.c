/* hang.c - rank 0: a rank that has gone silent.
 *
 * Every other rank sends rank 0 something at least every
 * heartbeat_timeout / 5 seconds while it runs (loop.c,
 * "Heartbeats"), busy or idle.  One silent for heartbeat_timeout is
 * frozen (stopped, a hung driver, a node that stopped scheduling it) or
 * waits in a call on one that is; the run cannot finish without it (every
 * rank acknowledges each stage's end), and MPI would wait forever.  So
 * the run ends: the journal is synced (what it lists stays valid, so the
 * same command resumes), one error names the rank, its host, the stage
 * and what the planner waits for from it, and MPI_Abort ends every rank,
 * a stopped one included (mpirun and srun kill them all).
 *
 * Any silent rank counts, not only one that holds batches: a frozen rank
 * may hold the payloads another actor's batch is pulling, and that actor
 * keeps sending heartbeats while it waits.  During a stop the drain
 * deadline bounds the wait instead (planner.c's give_up_acks, exec.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "util/exit.h"
#include "util/log.h"
#include "stage/stage_impl.h"
#include "exec/planner/planner_impl.h"

/* Appends to buf what the planner waits for from rank r. */
static void describe_wait(const struct wn_planner *p, int r, char *buf, size_t len)
{
    const struct wn_run *run = p->run;
    size_t n = 0;
#define PUT(...)                                                  \
    do {                                                          \
        if (n < len)                                              \
            n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); \
    } while (0)
    /* Its batches, by kind: batches, a shuffle's inserts, its extracts
     * (partitions of the round). */
    static const char *const one[] = {"batch", "insert batch", "partition"};
    static const char *const many[] = {"batches", "insert batches", "partitions"};
    for (int kind = 0; kind < 3 && p->dispatch->batches && p->state == P_RUN; kind++) {
        int count = 0, listed = 0;
        for (int pass = 0; pass < 2; pass++)
            for (uint64_t b = 0; b < p->dispatch->nbatches; b++) {
                const struct pbatch *pb = &p->dispatch->batches[b];
                int k = !p->shuffle->active ? 0 : b < p->dispatch->njournaled ? 2 : 1;
                if (k != kind || pb->state != B_RUNNING || pb->actor != r)
                    continue;
                if (pass == 0) {
                    count++;
                    continue;
                }
                if (listed == 8) {
                    PUT(", ...");
                    break;
                }
                uint64_t num = k == 0   ? b
                               : k == 1 ? b - p->dispatch->njournaled
                                        : b % p->shuffle->nparts;
                if (listed++)
                    PUT(", ");
                else
                    PUT("%s%s ", n ? "; " : "", count == 1 ? one[k] : many[k]);
                PUT("%llu%s", (unsigned long long)num, pb->load ? " (loading its part file)" : "");
            }
    }
    if (p->acks_from[r] > 0) {
        const char *what = p->state == P_CLIQUE            ? "forming the RAFT clique"
                           : p->state == P_NODE_SETUP      ? "setup_on_node"
                           : p->state == P_SETUP           ? "setup"
                           : p->state == P_END             ? "the stage's end (teardown)"
                           : p->shuffle->phase == SH_BEGIN ? "connecting the shuffle round"
                           : p->shuffle->phase == SH_END   ? "closing the shuffle round"
                                                           : "an acknowledgement";
        PUT("%s%s", n ? "; " : "", what);
    }
    if (p->checkpoint->undurable_on[r] > 0)
        PUT("%s%llu part file%s being written", n ? "; " : "",
            (unsigned long long)p->checkpoint->undurable_on[r],
            p->checkpoint->undurable_on[r] == 1 ? "" : "s");
    int pulls = wn_loop_pulls_from(run->loop, r);
    if (pulls > 0)
        PUT("%s%d final task%s (--results)", n ? "; " : "", pulls, pulls == 1 ? "" : "s");
    if (n == 0)
        PUT("nothing directly (other ranks may need payloads it holds)");
#undef PUT
}

static void hang_abort(struct wn_planner *p, int culprit, double now)
{
    struct wn_run *run = p->run;
    double limit = run->cfg->exec.heartbeat_timeout;
    char waits[512], others[512] = "";
    describe_wait(p, culprit, waits, sizeof(waits));
    /* Ranks that have missed heartbeats too: blocked in a call with the
     * silent one, most likely. */
    size_t n = 0;
    for (int r = 1; r < run->size; r++) {
        int blocking = 0;
        double silent = now - wn_loop_heard(run->loop, r, &blocking);
        if (r == culprit || silent < 2 * limit / 5 || n + 64 >= sizeof(others))
            continue;
        n += (size_t)snprintf(others + n, sizeof(others) - n, "%s%d (%.0f s%s)",
                              n ? ", " : "; silent too: rank ", r, silent,
                              blocking ? ", in a call that waits for other ranks" : "");
    }
    const char *stage = p->stage < run->nstages ? run->stages[p->stage]->cfg->name : NULL;
    char where[160];
    if (stage && p->shuffle->active && p->state == P_RUN)
        snprintf(where, sizeof(where), "stage '%s' (shuffle round %u of %u)", stage,
                 p->shuffle->round + 1, p->shuffle->rounds);
    else if (stage)
        snprintf(where, sizeof(where), "stage '%s'", stage);
    else
        snprintf(where, sizeof(where), "collecting the final tasks");
    wn_error_t err = {{0}};
    int synced = p->checkpoint->ck && wn_ckpt_finish(p->checkpoint->ck, WN_EXIT_FAILURE, &err) == 0;
    if (p->checkpoint->ck && !synced)
        wn_error("checkpoint: %s", err.text);
    wn_error("rank %d (host %s) has sent nothing for %.0f s (heartbeat_timeout %g s) during "
             "%s, which waits on it for: %s%s; it is frozen or stopped (a signal, a hung "
             "device or file system, its node), or waits for one that is.  Ending every "
             "rank (exit 1)%s",
             culprit, run->places[culprit].node_name, now - wn_loop_heard(run->loop, culprit, NULL),
             limit, where, waits, others,
             synced ? "; the checkpoint keeps every batch finished before: run the same "
                      "command again to resume"
                    : "");
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
}

void planner_check_hang(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    if (wn_loop_heard(run->loop, 0, NULL) < 0 || p->state == P_DONE)
        return;
    double now = wn_clock_mono(), limit = run->cfg->exec.heartbeat_timeout;
    /* Rank 0 itself away (a slow fsync, the machine stalled): messages
     * that came meanwhile are still to be read, so the ranks get a
     * heartbeat interval from now before any is judged. */
    if (p->hang_polled > 0 && now - p->hang_polled > 1 && p->hang_check_at < now + limit / 5)
        p->hang_check_at = now + limit / 5;
    p->hang_polled = now;
    if (now < p->hang_check_at || (p->stop->stopping && p->stage < run->nstages))
        return;
    p->hang_check_at = now + (limit / 20 < 1 ? limit / 20 : 1);
    /* The silent rank that is not waiting in a call on others, the one
     * silent longest first; else the one silent longest.  A rank frozen
     * right after saying it enters such a call looks like the ranks that
     * wait in it with it: then one of those may be named, and the frozen
     * one is listed as silent too. */
    int culprit = -1, blocked = -1;
    for (int r = 1; r < run->size; r++) {
        int blocking = 0;
        double heard = wn_loop_heard(run->loop, r, &blocking);
        if (now - heard < limit)
            continue;
        int *best = blocking ? &blocked : &culprit;
        if (*best < 0 || heard < wn_loop_heard(run->loop, *best, NULL))
            *best = r;
    }
    if (culprit < 0)
        culprit = blocked;
    if (culprit >= 0)
        hang_abort(p, culprit, now);
}
