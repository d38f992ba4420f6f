/* wire.c - the typed senders of the executor's messages (wire.h). */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/wire.h"

/* A control message that cannot be queued would leave its receiver
 * waiting forever: the job ends instead, saying so. */
static void send(struct wn_loop *loop, int dest, int tag, const void *a, size_t alen, const void *b,
                 size_t blen)
{
    if (wn_loop_send(loop, dest, tag, a, alen, b, blen) == 0)
        return;
    wn_error("rank %d cannot send a %zu-byte message (tag %d) to rank %d: out of memory",
             wn_loop_rank(loop), alen + blen, tag, dest);
    MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
}

void wn_wire_send_stage(struct wn_loop *loop, int dest, const struct wn_msg_stage *m)
{
    send(loop, dest, WN_TAG_STAGE, m, sizeof(*m), NULL, 0);
}

void wn_wire_send_ack(struct wn_loop *loop, int dest, uint32_t stage, const char *errtext)
{
    struct wn_msg_ack m = {stage, errtext ? -1 : 0};
    send(loop, dest, WN_TAG_ACK, &m, sizeof(m), errtext, errtext ? strlen(errtext) + 1 : 0);
}

void wn_wire_send_assign(struct wn_loop *loop, int dest, const struct wn_msg_assign *m,
                         const struct wn_desc *descs)
{
    send(loop, dest, WN_TAG_ASSIGN, m, sizeof(*m), descs, (size_t)m->ntasks * sizeof(*descs));
}

void wn_wire_send_result(struct wn_loop *loop, int dest, const void *msg, size_t len)
{
    send(loop, dest, WN_TAG_RESULT, msg, len, NULL, 0);
}

void wn_wire_send_durable(struct wn_loop *loop, int dest, const void *msg, size_t len)
{
    send(loop, dest, WN_TAG_DURABLE, msg, len, NULL, 0);
}

void wn_wire_send_stage_end(struct wn_loop *loop, int dest, uint32_t stage)
{
    send(loop, dest, WN_TAG_STAGE_END, &stage, sizeof(stage), NULL, 0);
}

void wn_wire_send_shutdown(struct wn_loop *loop, int dest, int status)
{
    struct wn_msg_shutdown m = {status, 0};
    send(loop, dest, WN_TAG_SHUTDOWN, &m, sizeof(m), NULL, 0);
}

void wn_wire_send_stop(struct wn_loop *loop, int dest, int sig, double kill_in)
{
    struct wn_msg_stop m = {sig, 0, kill_in};
    send(loop, dest, WN_TAG_STOP, &m, sizeof(m), NULL, 0);
}

void wn_wire_send_load(struct wn_loop *loop, int dest, uint32_t stage, uint64_t batch, uint64_t sum)
{
    struct wn_msg_load m = {stage, 0, batch, sum};
    send(loop, dest, WN_TAG_LOAD, &m, sizeof(m), NULL, 0);
}

void wn_wire_send_drop(struct wn_loop *loop, int dest, uint32_t stage, const uint64_t *ids,
                       uint32_t n)
{
    struct wn_msg_drop m = {stage, n};
    send(loop, dest, WN_TAG_DROP, &m, sizeof(m), ids, (size_t)n * sizeof(*ids));
}

void wn_wire_send_scale(struct wn_loop *loop, int dest, uint32_t stage, int slots)
{
    struct wn_msg_scale m = {stage, slots};
    send(loop, dest, WN_TAG_SCALE, &m, sizeof(m), NULL, 0);
}

/* The rank lists travel as int32_t. */
static void send_ranks(struct wn_loop *loop, int dest, int tag, const void *m, size_t mlen,
                       const int *ranks, int n)
{
    int32_t *r = n > 0 ? malloc((size_t)n * sizeof(*r)) : NULL;
    if (n > 0 && !r) {
        wn_error("rank %d cannot send a message (tag %d) to rank %d: out of memory",
                 wn_loop_rank(loop), tag, dest);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    for (int i = 0; i < n; i++)
        r[i] = ranks[i];
    send(loop, dest, tag, m, mlen, r, n > 0 ? (size_t)n * sizeof(*r) : 0);
    free(r);
}

void wn_wire_send_shuffle(struct wn_loop *loop, int dest, const struct wn_msg_shuffle *m,
                          const int *ranks)
{
    send_ranks(loop, dest, WN_TAG_SHUFFLE, m, sizeof(*m), ranks,
               m->op == WN_SHUFFLE_BEGIN ? m->nactors : 0);
}

void wn_wire_send_extract(struct wn_loop *loop, int dest, const struct wn_msg_extract *m)
{
    send(loop, dest, WN_TAG_EXTRACT, m, sizeof(*m), NULL, 0);
}

void wn_wire_send_shuffle_stats(struct wn_loop *loop, int dest,
                                const struct wn_msg_shuffle_stats *m)
{
    send(loop, dest, WN_TAG_SHUFFLE_STATS, m, sizeof(*m), NULL, 0);
}

void wn_wire_send_clique(struct wn_loop *loop, int dest, const struct wn_msg_clique *m,
                         const int *ranks)
{
    send_ranks(loop, dest, WN_TAG_CLIQUE, m, sizeof(*m), ranks, m->nactors);
}
