/* winnow/clique.h - the collectives a RAFT stage's actors share (NeMo
 * Curator's RAFT actors: one communicator over the stage's actors).
 *
 * A RAFT stage (WN_STAGE_RAFT) gets its clique in setup (struct
 * wn_worker's clique) and may call these from process_batch, where every
 * member runs exactly one batch, all at once.  On GPU ranks the clique is
 * an NCCL communicator and the buffers are device pointers on the bound
 * GPU (wn_clique_on_gpu says 1); on CPU ranks the same calls run on MPI
 * with host buffers.  Stage code does not otherwise change between the two.
 *
 * Every member must make the same calls in the same order, as with any
 * collective.  Return values follow winnow/error.h: 0, or -1 with the
 * reason (naming the rank) in err.
 */
#ifndef WINNOW_CLIQUE_H
#define WINNOW_CLIQUE_H

#include <stddef.h>

#include "winnow/error.h"
#include "winnow/task.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wn_clique;

enum wn_redop { WN_OP_SUM = 1, WN_OP_MIN, WN_OP_MAX };

int wn_clique_rank(const struct wn_clique *c);
int wn_clique_size(const struct wn_clique *c);
/* 1: an NCCL clique, buffers are device pointers; 0: MPI, host buffers. */
int wn_clique_on_gpu(const struct wn_clique *c);

/* count values of type (a fixed-width WN_TYPE_*: u8, i32, u32, i64, u64,
 * f64) in send, reduced over the members into every member's recv (send
 * may equal recv). */
int wn_clique_allreduce(struct wn_clique *c, const void *send, void *recv, size_t count,
                        enum wn_type type, enum wn_redop op, wn_error_t *err);
/* count values from each member, concatenated in member order into recv
 * (size * count values). */
int wn_clique_allgather(struct wn_clique *c, const void *send, void *recv, size_t count,
                        enum wn_type type, wn_error_t *err);
/* root's count values in buf, to every member's buf. */
int wn_clique_bcast(struct wn_clique *c, void *buf, size_t count, enum wn_type type, int root,
                    wn_error_t *err);
int wn_clique_barrier(struct wn_clique *c, wn_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_CLIQUE_H */
