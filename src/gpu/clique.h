/* clique.h - the runner's side of winnow/clique.h.
 *
 * A clique is made by every member at once (wn_clique_create is
 * collective over the members) on the thread that owns MPI, the actor's
 * main thread.  Stage code calls the collectives on the compute thread:
 * on MPI they are handed to the owner thread, which starts them as
 * nonblocking collectives and tests them in its event loop
 * (wn_clique_progress), so the loop goes on serving pulls and messages
 * meanwhile and MPI stays MPI_THREAD_SERIALIZED.  On NCCL the calling
 * thread runs them itself (NCCL needs no MPI).
 */
#ifndef WN_CLIQUE_H
#define WN_CLIQUE_H

#include <mpi.h>

#include "winnow/clique.h"

/* ranks[0..n) in group_comm, this rank among them; gpu >= 0: an NCCL
 * clique on that device (every member must pass one), -1: MPI.  The NCCL
 * set-up gives up after timeout_s.  wake(arg) is called when another
 * thread hands the owner a collective (to end its idle wait). */
struct wn_clique *wn_clique_create(MPI_Comm group_comm, const int *ranks, int n, int gpu,
                                   double timeout_s, void (*wake)(void *), void *wake_arg,
                                   wn_error_t *err);
/* Owner thread: starts and tests handed-over collectives; 1 when one
 * ended, 0 when none did. */
int wn_clique_progress(struct wn_clique *c);
/* 1 while a collective is handed over and not finished. */
int wn_clique_busy(struct wn_clique *c);
void wn_clique_destroy(struct wn_clique *c); /* NULL is fine */

#endif /* WN_CLIQUE_H */
