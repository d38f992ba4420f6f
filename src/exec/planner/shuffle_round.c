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

struct shuffle_round *shuffle_round_create(void)
{
    return calloc(1, sizeof(struct shuffle_round));
}

void shuffle_round_destroy(struct shuffle_round *s)
{
    free(s);
}

/* Tells every actor of the stage about the round (BEGIN carries the actor
 * ranks: partition p belongs to actor p mod nactors). */
static void shuffle_tell(struct wn_planner *p, uint32_t op)
{
    struct wn_msg_shuffle m = {p->stage, op, p->shuffle->round, p->shuffle->nparts, p->nactors, 0};
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
    p->shuffle->pending = p->shuffle->nparts;
    for (uint32_t partition = 0; partition < p->shuffle->nparts; partition++) {
        uint64_t b = (uint64_t)p->shuffle->round * p->shuffle->nparts + partition;
        int rank = p->actors[partition % (uint32_t)p->nactors];
        struct pbatch *pb = &p->dispatch->batches[b];
        if (pb->load) {
            dispatch_assign(p->dispatch, p->stage, p->inputs, b, rank);
            continue;
        }
        struct wn_msg_extract m = {p->stage, p->shuffle->round, partition, 0, b};
        dispatch_running(p->dispatch, b, rank);
        wn_wire_send_extract(p->run->loop, rank, &m);
    }
}

/* A shuffle stage, round after round: BEGIN (connections up) -> inserts
 * dispatched first-free -> INSERTED -> extracts on the owners -> END
 * (connections closed).  A round an earlier run finished is only loaded;
 * one it finished in part is shuffled again, its finished partitions
 * loaded instead of extracted.  (A failed or stopping run's rounds are
 * planner.c's.) */
int shuffle_round_step(struct wn_planner *p)
{
    struct wn_run *run = p->run;
    switch (p->shuffle->phase) {
    case SH_NEXT: {
        if (p->shuffle->round == p->shuffle->rounds)
            return SHUFFLE_ROUNDS_DONE;
        uint64_t first = (uint64_t)p->shuffle->round * p->shuffle->nparts, to_run = 0;
        for (uint32_t partition = 0; partition < p->shuffle->nparts; partition++)
            to_run += !p->dispatch->batches[first + partition].load;
        if (to_run == 0) {
            /* Finished earlier: only loaded, anywhere. */
            for (uint32_t partition = 0; partition < p->shuffle->nparts; partition++)
                dispatch_q_push(&p->dispatch->queues[run->size], first + partition);
            p->shuffle->pending = p->shuffle->nparts;
            p->shuffle->phase = SH_LOAD;
            return 1;
        }
        wn_debug("stage '%s': shuffle round %u of %u, %u partitions on %d actors",
                 run->stages[p->stage]->cfg->name, p->shuffle->round + 1, p->shuffle->rounds,
                 p->shuffle->nparts, p->nactors);
        shuffle_tell(p, WN_SHUFFLE_BEGIN);
        p->shuffle->phase = SH_BEGIN;
        return 1;
    }
    case SH_BEGIN:
        if (p->acks_pending)
            return 0;
        p->shuffle->pending = p->dispatch->nbatches - p->dispatch->njournaled;
        for (uint64_t b = p->dispatch->njournaled; b < p->dispatch->nbatches; b++) {
            struct pbatch *pb = &p->dispatch->batches[b];
            pb->state = B_PENDING;
            pb->attempt = 0;
            pb->last_failed_on = -1;
            dispatch_queue(p->dispatch, b);
        }
        p->shuffle->phase = SH_INSERT;
        return 1;
    case SH_INSERT:
    case SH_LOAD:
        if (p->shuffle->pending)
            return dispatch_send(p->dispatch, p->stage, p->inputs, p->actors, p->nactors) > 0;
        if (p->shuffle->phase == SH_LOAD) {
            p->shuffle->round++;
            p->shuffle->phase = SH_NEXT;
            return 1;
        }
        shuffle_tell(p, WN_SHUFFLE_INSERTED);
        shuffle_extract(p);
        p->shuffle->phase = SH_EXTRACT;
        return 1;
    case SH_EXTRACT:
        if (p->shuffle->pending)
            return 0;
        shuffle_tell(p, WN_SHUFFLE_END);
        p->shuffle->phase = SH_END;
        return 1;
    case SH_END:
        if (p->acks_pending)
            return 0;
        p->shuffle->round++;
        p->shuffle->phase = SH_NEXT;
        return 1;
    }
    return 0;
}
