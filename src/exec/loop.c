/* loop.c - the per-rank event loop: control messages, payload pulls,
 * and the bookkeeping of nonblocking sends (see loop.h).
 *
 * Only the main thread of a rank calls MPI.  It polls with a short back-off
 * when idle, so an oversubscribed rank leaves the cores to compute threads
 * instead of spinning in MPI.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/loop.h"
#include "exec/store.h"
#include "util/xalloc.h"

/* Payload bodies travel on data_comm with this tag, in chunks. */
#define WN_TAG_BODY 7
#define WN_BODY_CHUNK ((size_t)1 << 30)
/* Payloads up to this size travel inside the PAYLOAD message itself. */
#define WN_INLINE_PAYLOAD ((size_t)16 << 10)

/* PAYLOAD's header. */
struct wn_msg_payload {
    uint64_t id;
    uint64_t len; /* 0 and id ~0: "not found" */
};

struct wn_msg_heartbeat {
    int32_t state; /* enum wn_heartbeat */
    int32_t pad;
};

/* A nonblocking operation and what to do when it completes. */
struct wn_req {
    void *free_buf;             /* free() it */
    struct wn_payload *release; /* wn_store_release() it */
    /* receives of a pulled body: when the last chunk lands, call back */
    struct wn_pull *pull;
};

struct wn_pull {
    struct wn_pull *next;
    uint64_t id;
    int owner;
    wn_loop_pull_fn cb;
    void *arg;
    void *buf; /* body, once the header came */
    size_t len;
    int chunks_left;
};

struct handler {
    wn_loop_msg_fn fn;
    void *arg;
};

struct hook {
    wn_loop_poll_fn fn;
    void *arg;
};

struct wn_loop {
    /* Control messages travel on comm, payload bodies on data_comm, so
     * probing for control messages never meets a body. */
    MPI_Comm comm, data_comm;
    int rank, size;
    struct wn_store *store; /* what pulls are served from */

    struct handler handlers[WN_LOOP_MAX_TAG];
    struct hook *hooks;
    size_t nhooks;
    wn_loop_idle_fn idle;
    void *idle_arg;

    /* outstanding sends and receives */
    struct wn_req *reqs; /* what to do when mpi_reqs[i] ends */
    MPI_Request *mpi_reqs;
    int *done_ix; /* MPI_Testsome's indices             */
    size_t nreqs, cap_reqs;
    void *rbuf; /* control message receive buffer      */
    size_t rcap;
    /* pulls waiting for their header */
    struct wn_pull *pulls;
    /* control messages waiting for the end of this poll, per destination */
    struct wn_outbox *outbox; /* [size] */
    int *dirty;               /* destinations with something queued  */
    int ndirty;

    int leaving; /* leave the loop                     */
    int exit_status;

    /* Heartbeats ("Heartbeats" below): a rank other than 0 sends rank 0
     * a HEARTBEAT when it has sent it nothing for hb_every seconds; rank
     * 0 notes when it last heard from each rank (wn_clock_mono). */
    double hb_every;         /* 0: none (rank 0, or alone)          */
    double sent0;            /* when this rank last sent to rank 0  */
    unsigned hb_polls;       /* polls since the clock was read      */
    double *heard;           /* rank 0 of several: [size]           */
    unsigned char *blocking; /* ... and which said WN_HB_BLOCKING
                                last (a call waiting on others) */
};

double wn_clock_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double wn_clock_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint32_t wn_peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss <= 0)
        return 0;
    return (uint32_t)((ru.ru_maxrss + 1023) / 1024); /* Linux: KiB */
}

static int track(struct wn_loop *loop, MPI_Request req, void *free_buf, struct wn_payload *release,
                 struct wn_pull *pull)
{
    if (loop->nreqs == loop->cap_reqs) {
        size_t ncap = loop->cap_reqs ? loop->cap_reqs * 2 : 64;
        struct wn_req *n = realloc(loop->reqs, ncap * sizeof(*n));
        if (n)
            loop->reqs = n;
        MPI_Request *m = n ? realloc(loop->mpi_reqs, ncap * sizeof(*m)) : NULL;
        if (m)
            loop->mpi_reqs = m;
        int *ix = m ? realloc(loop->done_ix, ncap * sizeof(*ix)) : NULL;
        if (!ix)
            return -1;
        loop->done_ix = ix;
        loop->cap_reqs = ncap;
    }
    loop->mpi_reqs[loop->nreqs] = req;
    loop->reqs[loop->nreqs++] = (struct wn_req){free_buf, release, pull};
    return 0;
}

static void dispatch(struct wn_loop *loop, int tag, int src, void *buf, size_t len);

/* ---------------------------------------------------------- Outboxes --
 * Control messages to one rank queue up during a poll and leave together
 * when it ends: one message when one was queued, else a BUNDLE of
 * entries {u32 tag, u32 len, bytes padded to 8}.  Under load an actor
 * reports several finished batches at once and the planner answers with
 * several assignments, so the message rate, not the task rate, is what
 * MPI and the scheduler see.  Order between two ranks is kept: every
 * control message goes through the outbox, and a bundle is unpacked in
 * order. */
struct wn_outbox {
    char *bundle; /* entries {u32 tag, u32 len, bytes} */
    size_t len, cap;
    int count;
};

#define WN_BUNDLE_FLUSH ((size_t)1 << 20) /* send early beyond this */

/* Appends one message made of two parts (b may be empty). */
static int bundle_append(struct wn_outbox *o, int tag, const void *a, size_t alen, const void *b,
                         size_t blen)
{
    size_t len = alen + blen;
    size_t need = o->len + 8 + ((len + 7) & ~(size_t)7);
    if (need > o->cap) {
        size_t ncap = o->cap ? o->cap : 4096;
        while (ncap < need)
            ncap *= 2;
        char *n = realloc(o->bundle, ncap);
        if (!n)
            return -1;
        o->bundle = n;
        o->cap = ncap;
    }
    char *at = o->bundle + o->len;
    uint32_t h[2] = {(uint32_t)tag, (uint32_t)len};
    memcpy(at, h, 8);
    memcpy(at + 8, a, alen);
    if (blen)
        memcpy(at + 8 + alen, b, blen);
    memset(at + 8 + len, 0, need - (o->len + 8 + len));
    o->len = need;
    o->count++;
    return 0;
}

/* Messages up to this size go with a blocking MPI_Send: they are copied
 * out eagerly (OpenMPI's shared-memory and TCP eager limits are 4 KiB and
 * 64 KiB), so the send returns at once and needs no request to track. */
#define WN_EAGER_SEND 4096

static int flush_one(struct wn_loop *loop, int dest)
{
    struct wn_outbox *o = &loop->outbox[dest];
    if (o->count == 0)
        return 0;
    /* One message leaves as itself, several as a BUNDLE. */
    int tag = WN_LOOP_TAG_BUNDLE;
    const char *msg = o->bundle;
    size_t len = o->len;
    if (o->count == 1) {
        uint32_t h[2];
        memcpy(h, o->bundle, 8);
        tag = (int)h[0];
        msg = o->bundle + 8;
        len = h[1];
    }
    int rc = 0;
    if (dest == 0 && loop->hb_every > 0)
        loop->sent0 = wn_clock_mono();
    /* Not on rank 0 of several: an eager send blocks once the receiver's
     * queue is full, and a frozen rank never empties it; rank 0 must keep
     * polling to notice that rank's silence (hang.c). */
    if (len <= WN_EAGER_SEND && !loop->heard) {
        /* Copied out by the time MPI_Send returns: the buffer serves the
         * next messages. */
        if (MPI_Send(msg, (int)len, MPI_BYTE, dest, tag, loop->comm) != MPI_SUCCESS)
            rc = -1;
    } else {
        /* The buffer goes with the send; the next messages start afresh. */
        MPI_Request req;
        if (MPI_Isend(msg, (int)len, MPI_BYTE, dest, tag, loop->comm, &req) != MPI_SUCCESS ||
            track(loop, req, o->bundle, NULL, NULL) < 0)
            rc = -1;
        o->bundle = NULL;
        o->cap = 0;
    }
    o->len = 0;
    o->count = 0;
    return rc;
}

void wn_loop_flush(struct wn_loop *loop)
{
    for (int i = 0; i < loop->ndirty; i++)
        if (flush_one(loop, loop->dirty[i]) < 0)
            wn_error("cannot send to rank %d", loop->dirty[i]);
    loop->ndirty = 0;
}

struct wn_loop *wn_loop_create(MPI_Comm comm, struct wn_store *store, double heartbeat_timeout,
                               wn_error_t *err)
{
    /* The collectives first, so that a rank short of memory still
     * takes part in them. */
    MPI_Comm c, data;
    MPI_Comm_dup(comm, &c);
    MPI_Comm_dup(comm, &data);
    struct wn_loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        MPI_Comm_free(&data);
        MPI_Comm_free(&c);
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    loop->comm = c;
    loop->data_comm = data;
    MPI_Comm_rank(loop->comm, &loop->rank);
    MPI_Comm_size(loop->comm, &loop->size);
    loop->store = store;
    loop->outbox = calloc((size_t)loop->size, sizeof(*loop->outbox));
    loop->dirty = calloc((size_t)loop->size, sizeof(*loop->dirty));
    int ok = loop->outbox && loop->dirty;
    /* Heartbeats: the other ranks send, rank 0 listens. */
    loop->sent0 = wn_clock_mono();
    if (loop->size > 1 && loop->rank != 0 && heartbeat_timeout > 0)
        loop->hb_every = heartbeat_timeout / 5;
    if (ok && loop->size > 1 && loop->rank == 0 && heartbeat_timeout > 0) {
        loop->heard = calloc((size_t)loop->size, sizeof(*loop->heard));
        loop->blocking = calloc((size_t)loop->size, 1);
        ok = loop->heard && loop->blocking;
        for (int r = 0; ok && r < loop->size; r++)
            loop->heard[r] = loop->sent0;
    }
    if (!ok) {
        wn_errprintf(err, "out of memory");
        wn_loop_destroy(loop);
        return NULL;
    }
    return loop;
}

void wn_loop_destroy(struct wn_loop *loop)
{
    if (!loop)
        return;
    for (int i = 0; loop->outbox && i < loop->size; i++)
        free(loop->outbox[i].bundle);
    free(loop->outbox);
    free(loop->dirty);
    free(loop->reqs);
    free(loop->rbuf);
    free(loop->mpi_reqs);
    free(loop->done_ix);
    free(loop->heard);
    free(loop->blocking);
    free(loop->hooks);
    MPI_Comm_free(&loop->data_comm);
    MPI_Comm_free(&loop->comm);
    free(loop);
}

int wn_loop_rank(const struct wn_loop *loop)
{
    return loop->rank;
}

int wn_loop_size(const struct wn_loop *loop)
{
    return loop->size;
}

MPI_Comm wn_loop_comm(const struct wn_loop *loop)
{
    return loop->comm;
}

int wn_loop_handlers_add(struct wn_loop *loop, const struct wn_loop_handler *tab, void *arg)
{
    /* Checked whole first: a refused table leaves nothing registered. */
    for (const struct wn_loop_handler *h = tab; h->fn; h++) {
        if (h->tag < 0 || h->tag >= WN_LOOP_MAX_TAG || h->tag == WN_LOOP_TAG_PULL ||
            h->tag == WN_LOOP_TAG_PAYLOAD || h->tag == WN_LOOP_TAG_BUNDLE ||
            h->tag == WN_LOOP_TAG_HEARTBEAT) {
            errno = EINVAL;
            return -1;
        }
        for (const struct wn_loop_handler *g = tab; g < h; g++)
            if (g->tag == h->tag) {
                errno = EEXIST;
                return -1;
            }
        if (loop->handlers[h->tag].fn) {
            errno = EEXIST;
            return -1;
        }
    }
    for (const struct wn_loop_handler *h = tab; h->fn; h++)
        loop->handlers[h->tag] = (struct handler){h->fn, arg};
    return 0;
}

int wn_loop_poll_add(struct wn_loop *loop, wn_loop_poll_fn fn, void *arg)
{
    struct hook *n = realloc(loop->hooks, (loop->nhooks + 1) * sizeof(*n));
    if (!n) {
        errno = ENOMEM;
        return -1;
    }
    loop->hooks = n;
    loop->hooks[loop->nhooks++] = (struct hook){fn, arg};
    return 0;
}

void wn_loop_idle_set(struct wn_loop *loop, wn_loop_idle_fn fn, void *arg)
{
    loop->idle = fn;
    loop->idle_arg = arg;
}

void wn_loop_leave(struct wn_loop *loop, int status)
{
    loop->exit_status = status;
    loop->leaving = 1;
}

double wn_loop_heard(const struct wn_loop *loop, int r, int *blocking)
{
    if (!loop->heard || r < 0 || r >= loop->size)
        return -1;
    if (blocking)
        *blocking = loop->blocking[r];
    return loop->heard[r];
}

/* Queues a message of two parts (copied).  To oneself (alone, rank 0 is
 * planner and actor) it is handled at once. */
static int send_parts(struct wn_loop *loop, int dest, int tag, const void *a, size_t alen,
                      const void *b, size_t blen)
{
    if (dest == loop->rank) {
        char *m = malloc(alen + blen ? alen + blen : 1);
        if (!m)
            return -1;
        memcpy(m, a, alen);
        if (blen)
            memcpy(m + alen, b, blen);
        dispatch(loop, tag, dest, m, alen + blen);
        free(m);
        return 0;
    }
    struct wn_outbox *o = &loop->outbox[dest];
    if (o->count == 0)
        loop->dirty[loop->ndirty++] = dest;
    if (bundle_append(o, tag, a, alen, b, blen) < 0)
        return -1;
    /* Still in the dirty list: flushing it again later is a no-op. */
    return o->len >= WN_BUNDLE_FLUSH ? flush_one(loop, dest) : 0;
}

int wn_loop_send(struct wn_loop *loop, int dest, int tag, const void *a, size_t alen, const void *b,
                 size_t blen)
{
    if (send_parts(loop, dest, tag, a, alen, b, blen) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* Sends a stored payload: header on comm, body in chunks on data_comm.
 * The payload stays referenced until the last chunk has gone. */
static void send_payload(struct wn_loop *loop, int dest, uint64_t id)
{
    wn_error_t err;
    struct wn_payload *p = wn_store_get(loop->store, id, &err);
    struct wn_msg_payload h = {id, p ? p->len : 0};
    if (!p) {
        /* The planner never asks for what a rank does not hold, but a
         * spilled payload may fail its checksum; say so instead of
         * hanging the consumer, whose batch fails. */
        if (err.text[0])
            wn_error("rank %d cannot send task %016llx to rank %d: %s", loop->rank,
                     (unsigned long long)id, dest, err.text);
        else
            wn_error("rank %d was asked for task %016llx by rank %d but does not hold it",
                     loop->rank, (unsigned long long)id, dest);
        h.id = ~(uint64_t)0;
    }
    if (p && p->len <= WN_INLINE_PAYLOAD) {
        /* Small: header and body in one message, one receive less. */
        send_parts(loop, dest, WN_LOOP_TAG_PAYLOAD, &h, sizeof(h), p->buf, p->len);
        wn_store_release(loop->store, p);
        return;
    }
    /* Headers keep their order among themselves (all go through the
     * outbox), which is the order the bodies go in on data_comm. */
    send_parts(loop, dest, WN_LOOP_TAG_PAYLOAD, &h, sizeof(h), NULL, 0);
    if (!p)
        return;
    MPI_Request req;
    size_t off = 0;
    do {
        size_t n = p->len - off < WN_BODY_CHUNK ? p->len - off : WN_BODY_CHUNK;
        MPI_Isend((char *)p->buf + off, (int)n, MPI_BYTE, dest, WN_TAG_BODY, loop->data_comm, &req);
        off += n;
        /* the last chunk's completion drops the reference */
        track(loop, req, NULL, off >= p->len ? p : NULL, NULL);
    } while (off < p->len);
}

int wn_loop_pull(struct wn_loop *loop, uint64_t id, int owner, wn_loop_pull_fn cb, void *arg)
{
    if (owner == loop->rank) {
        wn_error_t err;
        struct wn_payload *p = wn_store_get(loop->store, id, &err);
        if (!p && err.text[0]) {
            wn_error("rank %d: %s", loop->rank, err.text);
            cb(loop, id, NULL, 0, 0, arg); /* the reader's batch fails */
            return 0;
        }
        if (!p)
            return -1;
        void *copy = NULL;
        if (posix_memalign(&copy, 64, p->len ? p->len : 64) != 0) {
            wn_store_release(loop->store, p);
            return -1;
        }
        memcpy(copy, p->buf, p->len);
        size_t len = p->len;
        wn_store_release(loop->store, p);
        cb(loop, id, copy, len, 0, arg);
        return 0;
    }
    struct wn_pull *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return -1;
    pl->id = id;
    pl->owner = owner;
    pl->cb = cb;
    pl->arg = arg;
    /* FIFO per owner: headers from one owner arrive in request order. */
    struct wn_pull **tail = &loop->pulls;
    while (*tail)
        tail = &(*tail)->next;
    *tail = pl;
    return send_parts(loop, owner, WN_LOOP_TAG_PULL, &id, sizeof(id), NULL, 0);
}

int wn_loop_pulls_from(const struct wn_loop *loop, int owner)
{
    int n = 0;
    for (const struct wn_pull *pl = loop->pulls; pl; pl = pl->next)
        n += pl->owner == owner;
    for (size_t i = 0; i < loop->nreqs; i++)
        n += loop->reqs[i].pull && loop->reqs[i].pull->owner == owner;
    return n;
}

/* A payload header arrived: post the body receives (in arrival order, so
 * they match the owner's chunks in order). */
static void on_payload_header(struct wn_loop *loop, int src, const struct wn_msg_payload *h,
                              size_t msglen)
{
    struct wn_pull **pp = &loop->pulls, *pl = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->owner == src && ((*pp)->id == h->id || h->id == ~(uint64_t)0)) {
            pl = *pp;
            *pp = pl->next;
            break;
        }
    if (!pl) {
        wn_error("rank %d sent payload %016llx that nobody asked for", src,
                 (unsigned long long)h->id);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    if (h->id == ~(uint64_t)0) {
        /* The owner said why on its stderr; the reader's batch fails. */
        pl->cb(loop, pl->id, NULL, 0, 1, pl->arg);
        free(pl);
        return;
    }
    pl->len = h->len;
    if (posix_memalign(&pl->buf, 64, pl->len ? pl->len : 64) != 0) {
        wn_error("out of memory receiving %llu bytes from rank %d", (unsigned long long)pl->len,
                 src);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    if (msglen > sizeof(*h)) {
        /* The body came with the header (a small payload). */
        if (msglen - sizeof(*h) != h->len) {
            wn_error("rank %d sent payload %016llx with %zu body bytes, %llu announced", src,
                     (unsigned long long)h->id, msglen - sizeof(*h), (unsigned long long)h->len);
            MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
        }
        memcpy(pl->buf, h + 1, pl->len);
        pl->cb(loop, pl->id, pl->buf, pl->len, 1, pl->arg);
        free(pl);
        return;
    }
    size_t off = 0;
    pl->chunks_left = 0;
    do {
        size_t n = pl->len - off < WN_BODY_CHUNK ? pl->len - off : WN_BODY_CHUNK;
        MPI_Request req;
        MPI_Irecv((char *)pl->buf + off, (int)n, MPI_BYTE, src, WN_TAG_BODY, loop->data_comm, &req);
        pl->chunks_left++;
        track(loop, req, NULL, NULL, pl);
        off += n;
    } while (off < pl->len);
}

/* ---------------------------------------------------------- Heartbeats --
 * Rank 0 cannot tell a rank that computes a long batch from one that is
 * frozen (SIGSTOP, a hung driver, a node that stopped scheduling it):
 * both send nothing.  So every actor rank's main thread, which keeps
 * polling while the compute thread runs a batch, sends rank 0 a small
 * HEARTBEAT whenever it has sent it nothing else for heartbeat_timeout / 5
 * seconds (any message counts, so a busy actor sends few), and rank 0
 * notes when it last heard from each rank; the planner ends a run in
 * which one has been silent for heartbeat_timeout (hang.c).
 * Before a call that waits for other ranks (a communicator made, a
 * shuffle round's connections), an actor says so, so that rank 0 can
 * tell the ranks that wait from the one they wait for. */
void wn_loop_heartbeat(struct wn_loop *loop, int state)
{
    if (loop->rank == 0 || loop->size < 2)
        return;
    struct wn_msg_heartbeat h = {state, 0};
    if (send_parts(loop, 0, WN_LOOP_TAG_HEARTBEAT, &h, sizeof(h), NULL, 0) < 0)
        wn_error("rank %d cannot send a heartbeat: out of memory", loop->rank);
    if (state != WN_HB_ALIVE)
        wn_loop_flush(loop);
    loop->sent0 = wn_clock_mono();
}

static void dispatch(struct wn_loop *loop, int tag, int src, void *buf, size_t len)
{
    switch (tag) {
    case WN_LOOP_TAG_HEARTBEAT:
        if (loop->blocking && len >= sizeof(struct wn_msg_heartbeat))
            loop->blocking[src] = ((const struct wn_msg_heartbeat *)buf)->state == WN_HB_BLOCKING;
        break;
    case WN_LOOP_TAG_PULL:
        send_payload(loop, src, *(uint64_t *)buf);
        break;
    case WN_LOOP_TAG_PAYLOAD:
        on_payload_header(loop, src, buf, len);
        break;
    case WN_LOOP_TAG_BUNDLE:
        for (size_t off = 0; off + 8 <= len;) {
            uint32_t h[2];
            memcpy(h, (char *)buf + off, 8);
            if (h[0] == WN_LOOP_TAG_BUNDLE || off + 8 + h[1] > len) {
                wn_error("rank %d sent a malformed bundle (entry at byte %zu)", src, off);
                MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
            }
            dispatch(loop, (int)h[0], src, (char *)buf + off + 8, h[1]);
            off += 8 + (((size_t)h[1] + 7) & ~(size_t)7);
        }
        break;
    default:
        if (tag < 0 || tag >= WN_LOOP_MAX_TAG || !loop->handlers[tag].fn) {
            /* The ranks disagree on the protocol: going on would leave
             * the sender waiting for an answer that never comes. */
            wn_error("rank %d sent a message with tag %d (%zu bytes), which nothing on "
                     "rank %d handles",
                     src, tag, len, loop->rank);
            MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
        }
        loop->handlers[tag].fn(loop, src, buf, len, loop->handlers[tag].arg);
        break;
    }
}

/* Completes finished sends and receives; returns how many finished.  One
 * MPI_Testsome over all of them: one progress call (and, oversubscribed,
 * one yield) per poll rather than one per request. */
static int complete_requests(struct wn_loop *loop)
{
    int outcount = 0;
    if (MPI_Testsome((int)loop->nreqs, loop->mpi_reqs, &outcount, loop->done_ix,
                     MPI_STATUSES_IGNORE) != MPI_SUCCESS ||
        outcount == MPI_UNDEFINED || outcount == 0)
        return 0;
    /* Run the completions in index order, then compact the arrays.  A
     * callback may post new requests (appended past the old end). */
    size_t n0 = loop->nreqs;
    struct wn_req *done = wn_xmalloc((size_t)outcount * sizeof(*done));
    for (int k = 0; k < outcount; k++) {
        done[k] = loop->reqs[loop->done_ix[k]];
        loop->mpi_reqs[loop->done_ix[k]] = MPI_REQUEST_NULL;
    }
    size_t w = 0;
    for (size_t i = 0; i < n0; i++)
        if (loop->mpi_reqs[i] != MPI_REQUEST_NULL) {
            loop->mpi_reqs[w] = loop->mpi_reqs[i];
            loop->reqs[w++] = loop->reqs[i];
        }
    loop->nreqs = w;
    for (int k = 0; k < outcount; k++) {
        struct wn_req r = done[k];
        free(r.free_buf);
        if (r.release)
            wn_store_release(loop->store, r.release);
        if (r.pull && --r.pull->chunks_left == 0) {
            r.pull->cb(loop, r.pull->id, r.pull->buf, r.pull->len, 1, r.pull->arg);
            free(r.pull);
        }
    }
    free(done);
    return outcount;
}

int wn_loop_poll(struct wn_loop *loop)
{
    int progressed = 0;
    /* The clock every 64 polls: a busy rank polls far more often than it
     * needs to look. */
    if (loop->hb_every > 0 && (++loop->hb_polls & 63) == 0 &&
        wn_clock_mono() - loop->sent0 >= loop->hb_every)
        wn_loop_heartbeat(loop, WN_HB_ALIVE);
    for (int k = 0; k < 64; k++) {
        int flag = 0;
        MPI_Status st;
        MPI_Message msg;
        /* A matched probe: the receive takes this very message, without
         * matching it a second time. */
        MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, loop->comm, &flag, &msg, &st);
        if (!flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        /* One receive buffer, grown as needed: handlers copy what they
         * keep. */
        if ((size_t)count > loop->rcap || !loop->rbuf) {
            size_t ncap = loop->rcap ? loop->rcap : 4096;
            while (ncap < (size_t)count)
                ncap *= 2;
            void *n = realloc(loop->rbuf, ncap);
            if (!n) {
                wn_error("out of memory receiving %d bytes from rank %d", count, st.MPI_SOURCE);
                MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
            }
            loop->rbuf = n;
            loop->rcap = ncap;
        }
        MPI_Mrecv(loop->rbuf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        if (loop->heard) {
            loop->heard[st.MPI_SOURCE] = wn_clock_mono();
            loop->blocking[st.MPI_SOURCE] = 0;
        }
        dispatch(loop, st.MPI_TAG, st.MPI_SOURCE, loop->rbuf, (size_t)count);
        progressed = 1;
        if (loop->leaving) {
            wn_loop_flush(loop);
            return 1;
        }
    }
    if (loop->nreqs && complete_requests(loop))
        progressed = 1;
    for (size_t i = 0; i < loop->nhooks; i++)
        if (loop->hooks[i].fn(loop, loop->hooks[i].arg))
            progressed = 1;
    wn_loop_flush(loop);
    return progressed;
}

int wn_loop_run(struct wn_loop *loop)
{
    double idle_since = -1;
    while (!loop->leaving) {
        if (wn_loop_poll(loop)) {
            idle_since = -1;
            continue;
        }
        /* Back off by time idle: poll for 2 ms (a message is usually a
         * few microseconds away while batches are in flight; MPI yields
         * the core meanwhile on an oversubscribed node), then wait 50 us,
         * growing to 1 ms after 50 ms idle, so a rank with nothing to do
         * leaves the cores to compute threads.  The idle hook may end
         * the wait early (the actor: when a batch finishes). */
        double now = wn_clock_wall();
        if (idle_since < 0)
            idle_since = now;
        double idle = now - idle_since;
        if (idle < 2e-3)
            continue;
        double wait = idle < 10e-3 ? 50e-6 : idle < 50e-3 ? 200e-6 : 1e-3;
        if (loop->idle) {
            loop->idle(loop->idle_arg, wait);
        } else {
            struct timespec nap = {0, (long)(wait * 1e9)};
            nanosleep(&nap, NULL);
        }
    }
    /* Let the last sends (shutdown messages, results) leave. */
    wn_loop_flush(loop);
    while (loop->nreqs)
        complete_requests(loop);
    return loop->exit_status;
}

void wn_loop_drop_late(struct wn_loop *loop, unsigned char *left)
{
    for (;;) {
        int flag = 0, count = 0;
        MPI_Message msg;
        MPI_Status st;
        MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, loop->comm, &flag, &msg, &st);
        if (!flag)
            return;
        MPI_Get_count(&st, MPI_BYTE, &count);
        char *buf = malloc(count > 0 ? (size_t)count : 1);
        if (!buf) {
            wn_error("out of memory taking a %d-byte message at the run's end", count);
            MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
        }
        MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        /* A LEAVING heartbeat is its rank's last message, alone or at
         * the end of a bundle. */
        size_t total = (size_t)count, len = total, off = 0;
        uint32_t tag = (uint32_t)st.MPI_TAG;
        const char *body = buf;
        while (st.MPI_TAG == WN_LOOP_TAG_BUNDLE && off + 8 <= total) {
            uint32_t h[2];
            memcpy(h, buf + off, 8);
            tag = h[0];
            body = buf + off + 8;
            len = h[1] <= total - off - 8 ? h[1] : 0;
            off += 8 + (((size_t)h[1] + 7) & ~(size_t)7);
        }
        struct wn_msg_heartbeat hb;
        if (left && tag == WN_LOOP_TAG_HEARTBEAT && len >= sizeof(hb)) {
            memcpy(&hb, body, sizeof(hb));
            if (hb.state == WN_HB_LEAVING && st.MPI_SOURCE < loop->size)
                left[st.MPI_SOURCE] = 1;
        }
        free(buf);
    }
}
