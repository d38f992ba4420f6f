/* shuffle_round.c - rank 0: a shuffle stage's rounds.  Each round
 * connects the stage's actors, dispatches the inserts first-free, has each
 * partition extracted on the actor that owns it, and closes the
 * connections; the rows move between the actors, never through here.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "util/log.h"
#include "stage/stage_impl.h"
#include "exec/planner/planner_impl.h"
#include "util/xalloc.h"

/* Tells every actor of the stage about the round (BEGIN carries the actor
 * ranks: partition p belongs to actor p mod nactors). */
static void shuffle_tell(struct wn_planner *p, uint32_t op)
{
    struct wn_msg_shuffle m = {p->stage, op, p->round, p->nparts, p->nactors, 0};
    for (int i = 0; i < p->nactors; i++) {
        if (op != WN_SHUFFLE_INSERTED)
            planner_expect_ack(p, p->actors[i]);
        wn_wire_send_shuffle(p->run->loop, p->actors[i], &m, p->actors);
    }
}

/* Round `round`'s extracts: each to its partition's owner (a load of one
 * an earlier run finished goes there too). */
static void shuffle_extract(struct wn_planner *p)
{
    /* First: a result may come back at once (rank 0 sending to itself). */
    p->sh_pending = p->nparts;
    for (uint32_t part = 0; part < p->nparts; part++) {
        uint64_t b = (uint64_t)p->round * p->nparts + part;
        int rank = p->actors[part % (uint32_t)p->nactors];
        struct pbatch *pb = &p->batches[b];
        if (pb->load) {
            planner_assign(p, b, rank);
            continue;
        }
        struct wn_msg_extract m = {p->stage, p->round, part, 0, b};
        pb->state = B_RUNNING;
        pb->actor = rank;
        p->outstanding[rank]++;
        p->nrunning++;
        wn_wire_send_extract(p->run->loop, rank, &m);
    }
}

/* A shuffle stage, round after round: BEGIN (connections up) -> inserts
 * dispatched first-free -> INSERTED -> extracts on the owners -> END
 * (connections closed).  A round an earlier run finished is only loaded;
 * one it finished in part is shuffled again, its finished partitions
 * loaded instead of extracted. */
int planner_shuffle_run(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    if (p->failed || p->stopping) {
        /* Extracts waiting for a round that cannot complete are not
         * waited for: the actors drop them at shutdown.  Past a stop's
         * deadline, nothing is (a frozen rank may never answer). */
        int past = p->stopping && wn_run_now(run) > p->stop_deadline;
        int waiting = p->nrunning && !(p->sh_phase == SH_EXTRACT && p->failed) && !past;
        if (waiting)
            return 0;
        if (p->acks_pending)
            return planner_give_up_acks(p);
        if (p->failed)
            planner_end_stage(p);
        else
            p->state = P_FINISH;
        return 1;
    }
    switch (p->sh_phase) {
    case SH_NEXT: {
        if (p->round == p->rounds) {
            planner_end_stage(p);
            return 1;
        }
        uint64_t first = (uint64_t)p->round * p->nparts, to_run = 0;
        for (uint32_t part = 0; part < p->nparts; part++)
            to_run += !p->batches[first + part].load;
        if (to_run == 0) {
            /* Finished earlier: only loaded, anywhere. */
            for (uint32_t part = 0; part < p->nparts; part++)
                planner_q_push(&p->queues[run->size], first + part);
            p->sh_pending = p->nparts;
            p->sh_phase = SH_LOAD;
            return 1;
        }
        wn_debug("stage '%s': shuffle round %u of %u, %u partitions on %d actors",
                 run->stages[p->stage]->cfg->name, p->round + 1, p->rounds, p->nparts,
                 p->nactors);
        shuffle_tell(p, WN_SHUFFLE_BEGIN);
        p->sh_phase = SH_BEGIN;
        return 1;
    }
    case SH_BEGIN:
        if (p->acks_pending)
            return 0;
        p->sh_pending = p->nbatches - p->nextract;
        for (uint64_t b = p->nextract; b < p->nbatches; b++) {
            struct pbatch *pb = &p->batches[b];
            pb->state = B_PENDING;
            pb->attempt = 0;
            pb->last_failed_on = -1;
            planner_q_push(&p->queues[pb->primary >= 0 ? pb->primary : run->size], b);
        }
        p->sh_phase = SH_INSERT;
        return 1;
    case SH_INSERT:
    case SH_LOAD:
        if (p->sh_pending)
            return planner_dispatch(p) > 0;
        if (p->sh_phase == SH_LOAD) {
            p->round++;
            p->sh_phase = SH_NEXT;
            return 1;
        }
        shuffle_tell(p, WN_SHUFFLE_INSERTED);
        shuffle_extract(p);
        p->sh_phase = SH_EXTRACT;
        return 1;
    case SH_EXTRACT:
        if (p->sh_pending)
            return 0;
        shuffle_tell(p, WN_SHUFFLE_END);
        p->sh_phase = SH_END;
        return 1;
    case SH_END:
        if (p->acks_pending)
            return 0;
        p->round++;
        p->sh_phase = SH_NEXT;
        return 1;
    }
    return 0;
}
