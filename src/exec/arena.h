/* arena.h - node-shared memory for small task payloads.
 *
 * A task's payload stays on the rank that made it (store.h); an
 * actor on another node pulls it through its owner.  On the same node the
 * owner need not be involved at all: each rank keeps the packed outputs it
 * makes in an arena of memory its node's ranks all map, and a consumer
 * there reads (and unpacks in place) what the descriptor points at, while
 * the owner keeps computing.  This is what a Ray object store does per
 * node, without the store process.
 *
 * Each rank's arena has two halves used by stage parity: the outputs of
 * stage k live in half k % 2 until the end of stage k + 1, when every
 * consumer of them has finished and the half is reset wholesale.  A half
 * is a bump allocator; a payload that does not fit goes to the heap and
 * is pulled the ordinary way.
 *
 * The segments are POSIX shared memory (/dev/shm), unlinked as soon as
 * every rank of the node has mapped them, so nothing is left behind even
 * when a job is killed.  WINNOW_ARENA_MB (default 32) sets the size of a half;
 * 0 turns arenas off.  A node's arenas take at most a quarter of the free
 * space of /dev/shm: halves shrink to fit (a warning when WINNOW_ARENA_MB asked
 * for more), and below 1 MiB none are made; payloads then go to the heap
 * as before.  Pages are only used as payloads fill them.
 */
#ifndef WN_ARENA_H
#define WN_ARENA_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

struct wn_arena;

/* Collective over comm.  NULL when arenas are off or cannot be made (then
 * nothing changes); every rank gets NULL or none does.  max_half > 0 caps
 * a half (the memory budget's share, budget.h; the node's first rank's
 * counts). */
struct wn_arena *wn_arena_open(MPI_Comm comm, size_t max_half);
void wn_arena_close(struct wn_arena *a); /* not collective */

/* 64-byte aligned room for len bytes in half `parity` of this rank's
 * arena, or NULL when it is full.  *ref names the place for other ranks
 * (never 0). */
void *wn_arena_alloc(struct wn_arena *a, unsigned parity, size_t len, uint32_t *ref);
/* Makes half `parity` empty again. */
void wn_arena_reset(struct wn_arena *a, unsigned parity);
/* Where payload `ref` of rank `owner` (of comm) is mapped here, or NULL
 * when that rank is on another node (or ref is 0). */
const void *wn_arena_ptr(const struct wn_arena *a, int owner, uint32_t ref);
/* Whether p lies in this rank's arena. */
int wn_arena_owns(const struct wn_arena *a, const void *p);

#endif /* WN_ARENA_H */
