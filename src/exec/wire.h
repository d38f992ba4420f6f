/* wire.h - the executor's protocol: the tags and messages the planner
 * and the actors exchange over the event loop (exec/loop.h), and one
 * typed sender per message, so that no call site fills a buffer by hand.
 *
 * Every message is a fixed struct, some followed by an array (said at
 * the struct).  The layout is the wire format: fields are fixed-width and
 * padded to 8 bytes, and a sender and its receiver are the same binary.
 * A sender that cannot queue its message (out of memory) ends the job:
 * the run cannot go on without it.
 */
#ifndef WN_WIRE_H
#define WN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "exec/loop.h"

/* Numbered around the loop's own tags (loop.h: 105, 106, 116, 117). */
enum wn_tag {
    WN_TAG_STAGE = 101,         /* planner -> actor: set up for a stage        */
    WN_TAG_ACK = 102,           /* actor -> planner: setup / stage end done    */
    WN_TAG_ASSIGN = 103,        /* planner -> actor: process this batch        */
    WN_TAG_RESULT = 104,        /* actor -> planner: batch done or failed      */
    WN_TAG_STAGE_END = 107,     /* planner -> all: teardown, drop old payloads */
    WN_TAG_SHUTDOWN = 108,      /* planner -> all: exit with this status       */
    WN_TAG_STOP = 109,          /* any rank -> planner: a stop was asked for
                                 (SIGTERM, SIGINT, SIGUSR1)                */
    WN_TAG_LOAD = 110,          /* planner -> actor: load a batch's outputs
                                 from its checkpoint part file            */
    WN_TAG_DURABLE = 111,       /* actor -> planner: a batch's part file is
                                 written (or could not be)                */
    WN_TAG_SHUFFLE = 112,       /* planner -> actor: a shuffle round begins,
                                 its inserts are finished, or it ends     */
    WN_TAG_EXTRACT = 113,       /* planner -> actor: extract a partition    */
    WN_TAG_SHUFFLE_STATS = 114, /* actor -> planner: what a round moved   */
    WN_TAG_CLIQUE = 115,        /* planner -> actor: form the RAFT stage's
                                 clique (acknowledged)                    */
    WN_TAG_DROP = 118,          /* planner -> actor: these payloads are
                                 consumed (streaming): free them now      */
    WN_TAG_SCALE = 119,         /* planner -> actor: a stage's actors on
                                 this rank (streaming's autoscaler)       */
};

/* A task as the planner sees it: where it lives, not what it holds. */
struct wn_desc {
    uint64_t id;
    int32_t owner;  /* rank holding the payload; -1: an empty
                       seed task any actor can make itself */
    uint32_t arena; /* where in the owner's node arena it is
                       (arena.h), 0: not there */
    uint64_t len;   /* packed bytes */
    uint64_t nrows;
};

struct wn_msg_stage {
    uint32_t stage;
    int32_t actor_index; /* this rank's index among the actors      */
    int32_t nactors;
    int32_t node_setup;   /* 1: run setup_on_node first              */
    int32_t node_nactors; /* actors on this rank's node              */
    int32_t slots;        /* its actors on this rank (task mode)    */
};

/* Streaming's autoscaler: a task-mode stage's actors on the receiving
 * rank from now on (at least 1; a batch running keeps running). */
struct wn_msg_scale {
    uint32_t stage;
    int32_t slots;
};

struct wn_msg_ack {
    uint32_t stage;
    int32_t status; /* 0 ok, -1 failed (text follows)          */
};

struct wn_msg_assign {
    uint32_t stage;
    uint32_t attempt;
    uint64_t batch;
    uint32_t ntasks;
    uint32_t pad;
    /* struct wn_desc[ntasks] follows */
};

struct wn_msg_result {
    uint32_t stage;
    int32_t status; /* 0 ok, -1 failed (error text follows descs) */
    uint64_t batch;
    uint32_t noutputs;
    uint32_t errlen;
    double t_start, t_end; /* wall clock, seconds since run start     */
    double idle_s;         /* compute thread idle before this batch   */
    double pull_s;         /* waiting for pulled inputs               */
    uint64_t pulled_bytes;
    uint64_t arena_bytes; /* inputs read in place in node arenas     */
    uint64_t part_sum;    /* checksum of the part file written, 0 none */
    uint64_t items_in, items_out, bytes_in, bytes_out;
    uint32_t part_pending; /* the part file is still being written: a
                              DURABLE message follows */
    uint32_t peak_rss_mib; /* the sender's peak RSS so far (wn_peak_rss_mib) */
    uint32_t rejlen;       /* bytes of the rejects summary (rejects.h) */
    uint32_t pad;
    uint64_t bytes_spilled;   /* the sender's store so far (store.h) */
    uint64_t bytes_read_back; /* ... */
    /* struct wn_desc[noutputs], then errlen bytes, then rejlen bytes */
};

/* A part file written after its batch's RESULT went out (checkpointing
 * with an I/O thread): only now may the journal record the batch. */
struct wn_msg_durable {
    uint32_t stage;
    int32_t status; /* 0 written, -1 not (error text follows)  */
    uint64_t batch;
    uint64_t sum; /* the part file's checksum               */
    uint64_t noutputs;
    uint32_t errlen;
    uint32_t rejlen; /* the batch's rejects summary, after the error */
};

enum wn_shuffle_op { WN_SHUFFLE_BEGIN = 1, WN_SHUFFLE_INSERTED, WN_SHUFFLE_END };

/* BEGIN is acknowledged (ACK) once the round's connections are up, END
 * once they are closed; INSERTED is not. */
struct wn_msg_shuffle {
    uint32_t stage;
    uint32_t op; /* enum wn_shuffle_op */
    uint32_t round;
    uint32_t nparts;
    int32_t nactors; /* BEGIN: the actor ranks follow (int32_t),
                        in partition-owner order */
    int32_t pad;
};

struct wn_msg_shuffle_stats {
    uint32_t stage;
    uint32_t round;
    uint64_t bytes_sent, bytes_spilled, peak_held_bytes;
};

struct wn_msg_clique {
    uint32_t stage;
    int32_t nactors; /* the actor ranks follow (int32_t)       */
    int32_t gpu;     /* 1: NCCL on the bound GPUs, 0: MPI      */
    int32_t pad;
};

struct wn_msg_extract {
    uint32_t stage;
    uint32_t round;
    uint32_t partition;
    uint32_t pad;
    uint64_t batch; /* its checkpoint batch: round * nparts + partition */
};

struct wn_msg_load {
    uint32_t stage;
    uint32_t pad;
    uint64_t batch;
    uint64_t sum; /* the part file's checksum (journal)      */
};

/* Streaming: the inputs a batch consumed, freed by their owner as soon
 * as the batch has succeeded rather than at its stage's end. */
struct wn_msg_drop {
    uint32_t stage; /* of the consuming batch                  */
    uint32_t n;     /* uint64_t ids[n] follow                   */
};

struct wn_msg_shutdown {
    int32_t status;
    int32_t pad;
};

struct wn_msg_stop {
    int32_t sig; /* the signal that asked for the stop       */
    int32_t pad;
    double kill_in; /* > 0: the launcher sent it and kills the
                       job this many seconds later (exec.c) */
};

/* The senders.  Each queues one message on the loop (wn_loop_send). */
void wn_wire_send_stage(struct wn_loop *loop, int dest, const struct wn_msg_stage *m);
/* errtext NULL: done; else failed, and why. */
void wn_wire_send_ack(struct wn_loop *loop, int dest, uint32_t stage, const char *errtext);
void wn_wire_send_assign(struct wn_loop *loop, int dest, const struct wn_msg_assign *m,
                         const struct wn_desc *descs);
/* A RESULT or DURABLE message an actor built whole (its length varies
 * with outputs, error and rejects). */
void wn_wire_send_result(struct wn_loop *loop, int dest, const void *msg, size_t len);
void wn_wire_send_durable(struct wn_loop *loop, int dest, const void *msg, size_t len);
void wn_wire_send_stage_end(struct wn_loop *loop, int dest, uint32_t stage);
void wn_wire_send_shutdown(struct wn_loop *loop, int dest, int status);
void wn_wire_send_stop(struct wn_loop *loop, int dest, int sig, double kill_in);
void wn_wire_send_load(struct wn_loop *loop, int dest, uint32_t stage, uint64_t batch,
                       uint64_t sum);
void wn_wire_send_drop(struct wn_loop *loop, int dest, uint32_t stage, const uint64_t *ids,
                       uint32_t n);
void wn_wire_send_scale(struct wn_loop *loop, int dest, uint32_t stage, int slots);
/* ranks: m->nactors of them with BEGIN, none otherwise. */
void wn_wire_send_shuffle(struct wn_loop *loop, int dest, const struct wn_msg_shuffle *m,
                          const int *ranks);
void wn_wire_send_extract(struct wn_loop *loop, int dest, const struct wn_msg_extract *m);
void wn_wire_send_shuffle_stats(struct wn_loop *loop, int dest,
                                const struct wn_msg_shuffle_stats *m);
/* ranks: m->nactors of them. */
void wn_wire_send_clique(struct wn_loop *loop, int dest, const struct wn_msg_clique *m,
                         const int *ranks);

#endif /* WN_WIRE_H */
