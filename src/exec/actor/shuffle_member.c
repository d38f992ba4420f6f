/* shuffle_member.c - this rank's part in a shuffle round (struct
 * shuffle_member): the round's communicator and UCX shuffle, the insert
 * chunks handed to it, the extracts waiting for the round to complete,
 * and the round's failure.  It calls nothing in actor.c: what becomes
 * ready or fails is returned as a list of jobs for the caller to run or
 * fail. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "exec/budget.h"
#include "exec/exec.h"
#include "exec/actor/actor_impl.h"

struct shuffle_member *shuffle_member_create(void)
{
    return calloc(1, sizeof(struct shuffle_member));
}

void shuffle_member_destroy(struct shuffle_member *m)
{
    free(m);
}

/* Bytes in flight to one peer when shuffle_inflight is unset under a
 * budget: the store's share over the round's peers, at most the
 * shuffle's own 8 MiB default and at least 256 KiB, so that a transfer
 * still moves in few messages. */
static uint64_t inflight_default(uint64_t data, int npeers)
{
    uint64_t v = wn_budget_store(data) / (uint64_t)(npeers > 0 ? npeers : 1);
    if (v > ((uint64_t)8 << 20))
        v = (uint64_t)8 << 20;
    return v < ((uint64_t)256 << 10) ? (uint64_t)256 << 10 : v;
}

int shuffle_member_begin(struct shuffle_member *m, struct wn_run *run,
                         const struct wn_msg_shuffle *msg, wn_error_t *err)
{
    const struct wn_executor_config *ex = &run->cfg->exec;
    const int32_t *ranks = (const int32_t *)(msg + 1);
    MPI_Group world, group;
    MPI_Comm_group(run->group_comm, &world);
    MPI_Group_incl(world, msg->nactors, (const int *)ranks, &group);
    /* This and the round's connections wait for every actor of the
     * round: rank 0 hears nothing from here meanwhile. */
    wn_loop_heartbeat(run->loop, WN_HB_BLOCKING);
    /* Non-collective over group_comm: only the round's actors call it. */
    int rc = MPI_Comm_create_group(run->group_comm, group, (int)(msg->round & 0x7fff), &m->comm);
    MPI_Group_free(&group);
    MPI_Group_free(&world);
    struct wn_shuffle_opts o = {
        .inflight_per_peer = ex->shuffle_inflight > 0 ? (size_t)ex->shuffle_inflight
                             : run->memory_limit
                                 ? (size_t)inflight_default(run->memory_limit, msg->nactors)
                                 : 0,
        /* Unset: the budget's share (budget.h), else the shuffle's own
         * default. */
        .memory_limit = ex->shuffle_memory_limit > 0 ? (size_t)ex->shuffle_memory_limit
                                                     : (size_t)wn_budget_store(run->memory_limit),
        .spill_dir = ex->shuffle_spill_dir ? ex->shuffle_spill_dir : wn_exec_spill_dir(run->cfg),
        .timeout_s = ex->shuffle_timeout,
        .world_rank = run->rank,
    };
    m->failed = 0;
    m->error[0] = '\0';
    m->stage = msg->stage;
    m->round = msg->round;
    if (rc != MPI_SUCCESS)
        return wn_errprintf(err, "rank %d: cannot make the communicator of shuffle round %u",
                            run->rank, msg->round);
    if (!(m->sh = wn_shuffle_create(m->comm, msg->round, msg->nparts, &o, err))) {
        MPI_Comm_free(&m->comm);
        return wn_errprefix(err, "rank %d: shuffle round %u", run->rank, msg->round);
    }
    return 0;
}

struct job *shuffle_member_fail(struct shuffle_member *m, const char *why)
{
    if (!m->failed) {
        m->failed = 1;
        snprintf(m->error, sizeof(m->error), "%s", why);
        wn_error("%s", why);
    }
    struct job *waiting = m->waiting;
    m->waiting = NULL;
    return waiting;
}

struct job *shuffle_member_inserted(struct shuffle_member *m)
{
    wn_error_t err = {{0}};
    if (m->sh && !m->failed && wn_shuffle_insert_finished(m->sh, &err) < 0)
        return shuffle_member_fail(m, err.text);
    return NULL;
}

void shuffle_member_end(struct shuffle_member *m, struct wn_run *run,
                        const struct wn_msg_shuffle *msg)
{
    if (m->sh) {
        struct wn_shuffle_stats ss;
        wn_shuffle_stats(m->sh, &ss);
        wn_debug("shuffle round %u: sent %llu bytes in %llu messages, received %llu, "
                 "spilled %llu, peak held %llu",
                 msg->round, (unsigned long long)ss.bytes_sent,
                 (unsigned long long)ss.messages_sent, (unsigned long long)ss.bytes_received,
                 (unsigned long long)ss.bytes_spilled, (unsigned long long)ss.peak_held_bytes);
        struct wn_msg_shuffle_stats st = {msg->stage, msg->round, ss.bytes_sent, ss.bytes_spilled,
                                          ss.peak_held_bytes};
        wn_wire_send_shuffle_stats(run->loop, 0, &st);
        wn_loop_heartbeat(run->loop, WN_HB_BLOCKING); /* a barrier of the round */
        wn_shuffle_destroy(m->sh);
        m->sh = NULL;
        MPI_Comm_free(&m->comm);
    }
    atomic_store(&m->backlog, 0);
}

struct job *shuffle_member_hand_chunks(struct shuffle_member *m, struct job *j)
{
    struct job *failed = NULL;
    for (size_t i = 0; i < j->nchunks; i++) {
        struct chunk *c = &j->chunks[i];
        wn_error_t err = {{0}};
        if (!m->failed &&
            wn_shuffle_insert(m->sh, c->partition, c->origin, c->buf, c->len, &err) < 0)
            failed = shuffle_member_fail(m, err.text);
        else if (m->failed)
            free(c->buf);
        c->buf = NULL; /* the shuffle's now (or freed) */
    }
    free(j->chunks);
    j->chunks = NULL;
    j->nchunks = 0;
    return failed;
}

void shuffle_member_release(struct shuffle_member *m, const struct job *j)
{
    if (m->sh && m->stage == j->stage->index && m->round == j->round)
        wn_shuffle_release(m->sh, j->partition);
}

int shuffle_member_extract(struct shuffle_member *m, struct job *j, int rank, char *why, size_t len)
{
    if (m->failed) {
        snprintf(why, len, "%s", m->error);
        return EXTRACT_FAIL;
    }
    if (!m->sh || m->stage != j->stage->index || m->round != j->round) {
        snprintf(why, len, "rank %d has no open shuffle round %u of this stage", rank, j->round);
        return EXTRACT_FAIL;
    }
    if (wn_shuffle_complete(m->sh))
        return EXTRACT_READY;
    j->next = m->waiting;
    m->waiting = j;
    return EXTRACT_WAITING;
}

int shuffle_member_progress(struct shuffle_member *m, struct job **ready, struct job **failed,
                            int *room)
{
    wn_error_t err = {{0}};
    *ready = *failed = NULL;
    *room = 0;
    if (!m->sh || m->failed)
        return 0;
    int rc = wn_shuffle_progress(m->sh, &err);
    if (rc < 0) {
        *failed = shuffle_member_fail(m, err.text);
        return 1;
    }
    if (m->waiting && wn_shuffle_complete(m->sh)) {
        /* Oldest first: partitions in the order the planner sent them. */
        while (m->waiting) {
            struct job *j = m->waiting;
            m->waiting = j->next;
            j->next = *ready;
            *ready = j;
        }
        rc = 1;
    }
    size_t q = wn_shuffle_queued_bytes(m->sh);
    size_t old = atomic_exchange(&m->backlog, q);
    *room = old > WN_SHUFFLE_BACKLOG && q <= WN_SHUFFLE_BACKLOG;
    return rc;
}
