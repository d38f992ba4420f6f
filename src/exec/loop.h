/* loop.h - the per-rank event loop: a library that moves tagged control
 * messages between ranks (queued per destination and sent as bundles),
 * payload pulls between ranks, and heartbeats to rank 0.
 *
 * It knows tags, bundles and pulls, nothing of who uses it: clients
 * register a table of handlers (tag -> function), poll hooks called once
 * per poll, and one idle hook that waits while nothing happens.  A
 * message whose tag nobody registered ends the job with an error naming
 * the tag and the rank that sent it.
 *
 * Only the thread that runs the loop may call these functions.
 */
#ifndef WN_LOOP_H
#define WN_LOOP_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

struct wn_store;
struct wn_loop;

/* The loop's own tags on the control communicator.  Clients' tags are
 * numbered around them (exec/wire.h); all are below WN_LOOP_MAX_TAG. */
enum wn_loop_tag {
    /* consumer -> owner: send me payload ID */
    WN_LOOP_TAG_PULL = 105,
    /* owner -> consumer: header {id, len}; the body follows, or comes on
     * the data communicator when large */
    WN_LOOP_TAG_PAYLOAD = 106,
    /* several messages, in order ("Outboxes" in loop.c) */
    WN_LOOP_TAG_BUNDLE = 116,
    /* -> rank 0: alive ("Heartbeats" in loop.c) */
    WN_LOOP_TAG_HEARTBEAT = 117,
};
#define WN_LOOP_MAX_TAG 256

/* What a heartbeat says. */
enum wn_heartbeat {
    /* nothing else went to rank 0 for a while */
    WN_HB_ALIVE,
    /* about to enter a call that waits for other ranks (a communicator, a
     * shuffle round's connections): silence from here on may be theirs */
    WN_HB_BLOCKING,
    /* out of the event loop, at the run's end */
    WN_HB_LEAVING,
};

/* A message handler: buf is the loop's (copy what is kept). */
typedef void (*wn_loop_msg_fn)(struct wn_loop *loop, int src, void *buf, size_t len, void *arg);
struct wn_loop_handler {
    int tag;
    wn_loop_msg_fn fn;
};
/* clang-format off */
#define WN_LOOP_HANDLER_END {0, NULL}
/* clang-format on */

/* Called once per poll; returns 1 when it did something. */
typedef int (*wn_loop_poll_fn)(struct wn_loop *loop, void *arg);
/* Waits up to `seconds`, or less when the client has work. */
typedef void (*wn_loop_idle_fn)(void *arg, double seconds);
/* A pulled payload arrived: buf is the caller's (64-byte aligned, free()
 * it); remote is 0 when it was a copy of one this rank holds.  buf is
 * NULL when the owner could not give it (a spilled payload that failed
 * its checksum; the owner's error says why). */
typedef void (*wn_loop_pull_fn)(struct wn_loop *loop, uint64_t id, void *buf, size_t len,
                                int remote, void *arg);

/* Collective over comm, which it duplicates (control messages and
 * payload bodies on one duplicate each).  store: the payloads this rank
 * serves to pulls.  heartbeat_timeout > 0 and several ranks: the others
 * send rank 0 heartbeats every heartbeat_timeout / 5 s, and rank 0 notes
 * when it last heard from each (wn_loop_heard). */
struct wn_loop *wn_loop_create(MPI_Comm comm, struct wn_store *store, double heartbeat_timeout,
                               wn_error_t *err);
/* Collective: after every rank has left its loop. */
void wn_loop_destroy(struct wn_loop *loop);
int wn_loop_rank(const struct wn_loop *loop);
int wn_loop_size(const struct wn_loop *loop);
/* The control communicator (probed for any tag: make no other traffic
 * on it). */
MPI_Comm wn_loop_comm(const struct wn_loop *loop);

/* Registers the handlers of a table ended by WN_LOOP_HANDLER_END, each
 * called with arg.  -1 (errno EINVAL: a tag out of range or the loop's
 * own; EEXIST: a tag already taken). */
int wn_loop_handlers_add(struct wn_loop *loop, const struct wn_loop_handler *tab, void *arg);
/* Adds a poll hook; hooks run in the order added, after the poll's
 * messages and completed requests.  -1 ENOMEM. */
int wn_loop_poll_add(struct wn_loop *loop, wn_loop_poll_fn fn, void *arg);
/* The wait when idle (the last one set); by default a sleep. */
void wn_loop_idle_set(struct wn_loop *loop, wn_loop_idle_fn fn, void *arg);

/* Queues a control message of two parts, copied (b may be NULL); what
 * one poll queues for a rank leaves as one message when the poll ends.
 * To this rank itself it is handled at once.  -1 ENOMEM. */
int wn_loop_send(struct wn_loop *loop, int dest, int tag, const void *a, size_t alen, const void *b,
                 size_t blen);
/* Sends what is queued now (the loop does it at the end of each poll). */
void wn_loop_flush(struct wn_loop *loop);
/* Asks `owner` for payload `id`; cb gets it (at once when owner is this
 * rank).  -1 when this rank is the owner and does not hold it, or ENOMEM. */
int wn_loop_pull(struct wn_loop *loop, uint64_t id, int owner, wn_loop_pull_fn cb, void *arg);
/* Pulls from `owner` not yet complete. */
int wn_loop_pulls_from(const struct wn_loop *loop, int owner);
/* This rank tells rank 0 it is alive (enum wn_heartbeat); anything but
 * WN_HB_ALIVE leaves at once, as the caller is about to block. */
void wn_loop_heartbeat(struct wn_loop *loop, int state);
/* Rank 0 of several: when it last heard from rank r (wn_clock_mono), and
 * in *blocking whether r's last word was WN_HB_BLOCKING; -1 elsewhere. */
double wn_loop_heard(const struct wn_loop *loop, int r, int *blocking);

/* Polls once; returns 1 if anything happened. */
int wn_loop_poll(struct wn_loop *loop);
/* Polls until wn_loop_leave; returns its status. */
int wn_loop_run(struct wn_loop *loop);
/* Ends wn_loop_run with `status` once the current message is handled. */
void wn_loop_leave(struct wn_loop *loop, int status);
/* After the loop: takes control messages still coming and drops them, so
 * that a rank whose last send waits for its receiver can leave; sets
 * left[r] for each rank whose message was a LEAVING heartbeat (left may
 * be NULL). */
void wn_loop_drop_late(struct wn_loop *loop, unsigned char *left);

/* Clocks: CLOCK_REALTIME and CLOCK_MONOTONIC in seconds. */
double wn_clock_wall(void);
double wn_clock_mono(void);
/* This process's peak RSS, MiB rounded up. */
uint32_t wn_peak_rss_mib(void);

#endif /* WN_LOOP_H */
