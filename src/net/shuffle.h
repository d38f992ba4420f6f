/* shuffle.h - one shuffle round among a stage's actor ranks, over UCX
 * (NeMo Curator's RapidsMPF shuffle in three phases: insert, insert
 * finished, extract).
 *
 * The round has nparts partitions; partition p is owned by the rank
 * p % size of the round's communicator.  Each rank inserts chunks (opaque
 * byte buffers, in practice packed tasks) addressed to partitions; a chunk
 * goes to the partition's owner (its own partitions stay local, no UCX).
 * When a rank will insert no more, it says so once (insert_finished); it
 * tells every peer how many messages it sent it, so termination holds for
 * any arrival order.  Once every peer has finished and everything
 * addressed to this rank has arrived, the round is complete and each owned
 * partition's chunks can be read back in a fixed order (by origin, a
 * number the inserter gives each chunk), whatever order they came in.
 *
 * Transport: one UCX worker per rank and round; worker addresses are
 * exchanged with MPI_Allgather on the round's communicator and every rank
 * connects an endpoint to every peer.  Chunks are coalesced per peer into
 * messages; large ones go zero-copy (UCX rendezvous).  The bytes in flight
 * to one peer are capped (flow control); received chunks beyond
 * memory_limit bytes go to a spill file under spill_dir and are read back
 * at extract.  A peer whose endpoint fails, or that sends nothing for
 * timeout_s while the round waits on it, is an error naming both ranks.
 * (Endpoint failures are detected between hosts only: UCX 1.13's shared
 * memory transports cannot report a dead peer, and asking for it moves a
 * host's traffic to TCP; on one host the timeouts catch it.)
 *
 * Progress: a rank whose round is complete may still owe peers the
 * acknowledgements of transfers it received, and its own large sends may
 * still be read by peers, so it keeps calling wn_shuffle_progress (never
 * blocking in MPI) until wn_shuffle_destroy's progressing barrier.
 *
 * Threads: every call is made by the thread that created the round,
 * except wn_shuffle_extract, which another thread may call once
 * wn_shuffle_complete() has returned 1 (it reads state the progressing
 * thread no longer changes).  Functions return 0 (or a count) or -1 with
 * the reason in err (winnow/error.h).
 */
#ifndef WN_SHUFFLE_H
#define WN_SHUFFLE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

struct wn_shuffle;

struct wn_shuffle_opts {
    size_t inflight_per_peer; /* bytes posted to one peer and not yet
                                 completed; 0: 8 MiB */
    size_t memory_limit;      /* received bytes held in memory before
                                 spilling; 0: 1 GiB */
    const char *spill_dir;    /* NULL: $TMPDIR or /tmp */
    double timeout_s;         /* 0: 300 s */
    int world_rank;           /* this rank in MPI_COMM_WORLD, for messages */
};

struct wn_shuffle_stats {
    uint64_t chunks_sent, bytes_sent; /* to peers (not local) */
    uint64_t messages_sent;
    uint64_t chunks_received, bytes_received; /* from peers and local */
    uint64_t bytes_spilled;                   /* written to the spill file */
    uint64_t peak_held_bytes;                 /* received, held in memory */
    uint64_t peak_queued_bytes;               /* inserted, not yet sent */
};

/* Collective over comm (every rank of it calls it): makes the worker,
 * exchanges addresses, connects to every peer.  `round` is carried in
 * every message of the round (a stale message of another round is an
 * error, never data). */
struct wn_shuffle *wn_shuffle_create(MPI_Comm comm, uint32_t round, uint32_t nparts,
                                     const struct wn_shuffle_opts *opts, wn_error_t *err);

/* Queues chunk (buf, len) for partition part; the round takes buf
 * (malloc'd) and frees it once sent.  origin orders the partition's
 * chunks at extract: give each chunk of a partition a distinct origin. */
int wn_shuffle_insert(struct wn_shuffle *sh, uint32_t part, uint64_t origin, void *buf, size_t len,
                      wn_error_t *err);

/* Bytes inserted and not yet handed to UCX: an inserter above its budget
 * waits (progressing) before inserting more. */
size_t wn_shuffle_queued_bytes(const struct wn_shuffle *sh);

/* This rank inserts no more: exactly once per round. */
int wn_shuffle_insert_finished(struct wn_shuffle *sh, wn_error_t *err);

/* Moves the round on without blocking: sends, receives, spills, checks
 * timeouts.  Returns 1 when something happened, 0 when not, -1 on error. */
int wn_shuffle_progress(struct wn_shuffle *sh, wn_error_t *err);

/* 1 when every rank has finished inserting and every chunk addressed to
 * this rank has arrived. */
int wn_shuffle_complete(const struct wn_shuffle *sh);

/* 1 when everything this rank sent has been delivered (its sends are
 * complete). */
int wn_shuffle_sends_done(const struct wn_shuffle *sh);

/* Once complete: calls fn for each chunk of owned partition part, in
 * origin order (chunks spilled are read back first); fn may keep nothing
 * (buf is valid during the call).  A partition with no chunks: fn is
 * never called.  Returns 0, or fn's -1, or -1 on a read error. */
typedef int (*wn_shuffle_chunk_fn)(void *arg, uint64_t origin, const void *buf, size_t len,
                                   wn_error_t *err);
int wn_shuffle_extract(struct wn_shuffle *sh, uint32_t part, wn_shuffle_chunk_fn fn, void *arg,
                       wn_error_t *err);

/* Frees the chunks of partition part (after its extract). */
void wn_shuffle_release(struct wn_shuffle *sh, uint32_t part);

void wn_shuffle_stats(const struct wn_shuffle *sh, struct wn_shuffle_stats *stats);
uint32_t wn_shuffle_nparts(const struct wn_shuffle *sh);
/* The rank (in the round's communicator) owning partition part. */
int wn_shuffle_owner(const struct wn_shuffle *sh, uint32_t part);

/* Collective over the round's communicator: waits until every rank's
 * sends are done (progressing meanwhile), closes the endpoints, destroys
 * the worker, removes the spill file.  NULL is fine. */
void wn_shuffle_destroy(struct wn_shuffle *sh);

#endif /* WN_SHUFFLE_H */
