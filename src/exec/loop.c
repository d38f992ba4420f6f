/* loop.c - the per-rank event loop: control messages, payload pulls,
 * and the bookkeeping of nonblocking sends (see runtime.h).
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

#include "util/log.h"
#include "exec/runtime.h"
#include "util/xalloc.h"

/* A nonblocking operation and what to do when it completes. */
struct wn_req {
    void *free_buf;               /* free() it */
    struct wn_payload *release;   /* wn_store_release() it */
    /* receives of a pulled body: when the last chunk lands, call back */
    struct wn_pull *pull;
};

struct wn_pull {
    struct wn_pull *next;
    uint64_t id;
    int owner;
    wn_pull_cb cb;
    void *arg;
    void *buf;                    /* body, once the header came */
    size_t len;
    int chunks_left;
};

double wn_rt_wallclock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double wn_rt_clock(void)
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
    return (uint32_t)((ru.ru_maxrss + 1023) / 1024);   /* Linux: KiB */
}

/* Wall clock, not MPI_Wtime: times from all ranks share rank 0's epoch so
 * the trace lines up (on one node exactly, across nodes as well as NTP). */
double wn_rt_now(const struct wn_rt *rt)
{
    return wn_rt_wallclock() - rt->epoch;
}

static int track(struct wn_rt *rt, MPI_Request req, void *free_buf,
                 struct wn_payload *release, struct wn_pull *pull)
{
    if (rt->nreqs == rt->cap_reqs) {
        size_t ncap = rt->cap_reqs ? rt->cap_reqs * 2 : 64;
        struct wn_req *n = realloc(rt->reqs, ncap * sizeof(*n));
        if (n)
            rt->reqs = n;
        MPI_Request *m = n ? realloc(rt->mpi_reqs, ncap * sizeof(*m)) : NULL;
        if (m)
            rt->mpi_reqs = m;
        int *ix = m ? realloc(rt->done_ix, ncap * sizeof(*ix)) : NULL;
        if (!ix)
            return -1;
        rt->done_ix = ix;
        rt->cap_reqs = ncap;
    }
    rt->mpi_reqs[rt->nreqs] = req;
    rt->reqs[rt->nreqs++] = (struct wn_req){free_buf, release, pull};
    return 0;
}

static void dispatch(struct wn_rt *rt, int tag, int src, void *buf, size_t len);

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
    char *bundle;                 /* entries {u32 tag, u32 len, bytes} */
    size_t len, cap;
    int count;
};

#define WN_BUNDLE_FLUSH ((size_t)1 << 20)   /* send early beyond this */

/* Appends one message made of two parts (b may be empty). */
static int bundle_append(struct wn_outbox *o, int tag, const void *a, size_t alen,
                         const void *b, size_t blen)
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

static int flush_one(struct wn_rt *rt, int dest)
{
    struct wn_outbox *o = &rt->outbox[dest];
    if (o->count == 0)
        return 0;
    /* One message leaves as itself, several as a BUNDLE. */
    int tag = WN_TAG_BUNDLE;
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
    if (dest == 0 && rt->hb_every > 0)
        rt->sent0 = wn_rt_clock();
    /* Not on rank 0 of several: an eager send blocks once the receiver's
     * queue is full, and a frozen rank never empties it; rank 0 must keep
     * polling to notice that rank's silence (planner_hang.c). */
    if (len <= WN_EAGER_SEND && !rt->heard) {
        /* Copied out by the time MPI_Send returns: the buffer serves the
         * next messages. */
        if (MPI_Send(msg, (int)len, MPI_BYTE, dest, tag, rt->comm) != MPI_SUCCESS)
            rc = -1;
    } else {
        /* The buffer goes with the send; the next messages start afresh. */
        MPI_Request req;
        if (MPI_Isend(msg, (int)len, MPI_BYTE, dest, tag, rt->comm, &req) != MPI_SUCCESS ||
            track(rt, req, o->bundle, NULL, NULL) < 0)
            rc = -1;
        o->bundle = NULL;
        o->cap = 0;
    }
    o->len = 0;
    o->count = 0;
    return rc;
}

void wn_rt_flush(struct wn_rt *rt)
{
    for (int i = 0; i < rt->ndirty; i++)
        if (flush_one(rt, rt->dirty[i]) < 0)
            wn_error("cannot send to rank %d", rt->dirty[i]);
    rt->ndirty = 0;
}

void wn_rt_free(struct wn_rt *rt)
{
    for (int i = 0; rt->outbox && i < rt->size; i++)
        free(rt->outbox[i].bundle);
    free(rt->outbox);
    free(rt->dirty);
    free(rt->reqs);
    free(rt->rbuf);
    rt->rbuf = NULL;
    free(rt->mpi_reqs);
    free(rt->done_ix);
    free(rt->heard);
    free(rt->blocking);
    rt->heard = NULL;
    rt->blocking = NULL;
    rt->mpi_reqs = NULL;
    rt->done_ix = NULL;
    rt->outbox = NULL;
    rt->dirty = NULL;
    rt->reqs = NULL;
}

static int outbox_ready(struct wn_rt *rt)
{
    if (rt->outbox)
        return 0;
    rt->outbox = calloc((size_t)rt->size, sizeof(*rt->outbox));
    rt->dirty = calloc((size_t)rt->size, sizeof(*rt->dirty));
    return rt->outbox && rt->dirty ? 0 : -1;
}

/* Queues a message of two parts (copied).  To oneself (alone, rank 0 is
 * planner and actor) it is handled at once. */
static int send_parts(struct wn_rt *rt, int dest, int tag, const void *a, size_t alen,
                      const void *b, size_t blen)
{
    if (dest == rt->rank) {
        char *m = malloc(alen + blen ? alen + blen : 1);
        if (!m)
            return -1;
        memcpy(m, a, alen);
        if (blen)
            memcpy(m + alen, b, blen);
        dispatch(rt, tag, dest, m, alen + blen);
        free(m);
        return 0;
    }
    if (outbox_ready(rt) < 0)
        return -1;
    struct wn_outbox *o = &rt->outbox[dest];
    if (o->count == 0)
        rt->dirty[rt->ndirty++] = dest;
    if (bundle_append(o, tag, a, alen, b, blen) < 0)
        return -1;
    /* Still in the dirty list: flushing it again later is a no-op. */
    return o->len >= WN_BUNDLE_FLUSH ? flush_one(rt, dest) : 0;
}

/* Takes ownership of buf (malloc'd). */
int wn_rt_send(struct wn_rt *rt, int dest, int tag, void *buf, size_t len)
{
    int rc = send_parts(rt, dest, tag, buf, len, NULL, 0);
    free(buf);
    return rc;
}

/* Sends a stored payload: header on comm, body in chunks on data_comm.
 * The payload stays referenced until the last chunk has gone. */
static void send_payload(struct wn_rt *rt, int dest, uint64_t id)
{
    struct wn_payload *p = wn_store_get(rt->store, id);
    struct wn_msg_payload h = {id, p ? p->len : 0};
    if (!p) {
        /* The planner never asks for what a rank does not hold; say so
         * instead of hanging the consumer. */
        wn_error("rank %d was asked for task %016llx by rank %d but does not hold it",
                 rt->rank, (unsigned long long)id, dest);
        h.id = ~(uint64_t)0;
    }
    if (p && p->len <= WN_INLINE_PAYLOAD) {
        /* Small: header and body in one message, one receive less. */
        send_parts(rt, dest, WN_TAG_PAYLOAD, &h, sizeof(h), p->buf, p->len);
        wn_store_release(rt->store, p);
        return;
    }
    /* Headers keep their order among themselves (all go through the
     * outbox), which is the order the bodies go in on data_comm. */
    send_parts(rt, dest, WN_TAG_PAYLOAD, &h, sizeof(h), NULL, 0);
    if (!p)
        return;
    MPI_Request req;
    size_t off = 0;
    do {
        size_t n = p->len - off < WN_BODY_CHUNK ? p->len - off : WN_BODY_CHUNK;
        MPI_Isend((char *)p->buf + off, (int)n, MPI_BYTE, dest, WN_TAG_BODY, rt->data_comm,
                  &req);
        off += n;
        /* the last chunk's completion drops the reference */
        track(rt, req, NULL, off >= p->len ? p : NULL, NULL);
    } while (off < p->len);
}

int wn_rt_pull(struct wn_rt *rt, uint64_t id, int owner, wn_pull_cb cb, void *arg)
{
    if (owner == rt->rank) {
        struct wn_payload *p = wn_store_get(rt->store, id);
        if (!p)
            return -1;
        void *copy = NULL;
        if (posix_memalign(&copy, 64, p->len ? p->len : 64) != 0) {
            wn_store_release(rt->store, p);
            return -1;
        }
        memcpy(copy, p->buf, p->len);
        size_t len = p->len;
        wn_store_release(rt->store, p);
        cb(rt, id, copy, len, 0, arg);
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
    struct wn_pull **tail = &rt->pulls;
    while (*tail)
        tail = &(*tail)->next;
    *tail = pl;
    return send_parts(rt, owner, WN_TAG_PULL, &id, sizeof(id), NULL, 0);
}

int wn_rt_pulls_from(const struct wn_rt *rt, int owner)
{
    int n = 0;
    for (const struct wn_pull *pl = rt->pulls; pl; pl = pl->next)
        n += pl->owner == owner;
    for (size_t i = 0; i < rt->nreqs; i++)
        n += rt->reqs[i].pull && rt->reqs[i].pull->owner == owner;
    return n;
}

/* A payload header arrived: post the body receives (in arrival order, so
 * they match the owner's chunks in order). */
static void on_payload_header(struct wn_rt *rt, int src, const struct wn_msg_payload *h,
                              size_t msglen)
{
    struct wn_pull **pp = &rt->pulls, *pl = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->owner == src && ((*pp)->id == h->id || h->id == ~(uint64_t)0)) {
            pl = *pp;
            *pp = pl->next;
            break;
        }
    if (!pl) {
        wn_error("rank %d sent payload %016llx that nobody asked for", src,
                 (unsigned long long)h->id);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (h->id == ~(uint64_t)0) {
        wn_error("rank %d no longer holds task %016llx that rank %d needs", src,
                 (unsigned long long)pl->id, rt->rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    pl->len = h->len;
    if (posix_memalign(&pl->buf, 64, pl->len ? pl->len : 64) != 0) {
        wn_error("out of memory receiving %llu bytes from rank %d",
                 (unsigned long long)pl->len, src);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (msglen > sizeof(*h)) {
        /* The body came with the header (a small payload). */
        if (msglen - sizeof(*h) != h->len) {
            wn_error("rank %d sent payload %016llx with %zu body bytes, %llu announced",
                     src, (unsigned long long)h->id, msglen - sizeof(*h),
                     (unsigned long long)h->len);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        memcpy(pl->buf, h + 1, pl->len);
        pl->cb(rt, pl->id, pl->buf, pl->len, 1, pl->arg);
        free(pl);
        return;
    }
    size_t off = 0;
    pl->chunks_left = 0;
    do {
        size_t n = pl->len - off < WN_BODY_CHUNK ? pl->len - off : WN_BODY_CHUNK;
        MPI_Request req;
        MPI_Irecv((char *)pl->buf + off, (int)n, MPI_BYTE, src, WN_TAG_BODY, rt->data_comm,
                  &req);
        pl->chunks_left++;
        track(rt, req, NULL, NULL, pl);
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
 * which one has been silent for heartbeat_timeout (planner_hang.c).
 * Before a call that waits for other ranks (a communicator made, a
 * shuffle round's connections), an actor says so, so that rank 0 can
 * tell the ranks that wait from the one they wait for. */
void wn_rt_heartbeat(struct wn_rt *rt, int state)
{
    if (rt->rank == 0 || rt->size < 2)
        return;
    struct wn_msg_heartbeat h = {state, 0};
    if (send_parts(rt, 0, WN_TAG_HEARTBEAT, &h, sizeof(h), NULL, 0) < 0)
        wn_error("rank %d cannot send a heartbeat: out of memory", rt->rank);
    if (state != WN_HB_ALIVE)
        wn_rt_flush(rt);
    rt->sent0 = wn_rt_clock();
}

static void dispatch(struct wn_rt *rt, int tag, int src, void *buf, size_t len)
{
    switch (tag) {
    case WN_TAG_HEARTBEAT:
        if (rt->blocking && len >= sizeof(struct wn_msg_heartbeat))
            rt->blocking[src] =
                ((const struct wn_msg_heartbeat *)buf)->state == WN_HB_BLOCKING;
        break;
    case WN_TAG_PULL:
        send_payload(rt, src, *(uint64_t *)buf);
        break;
    case WN_TAG_PAYLOAD:
        on_payload_header(rt, src, buf, len);
        break;
    case WN_TAG_STOP:
    case WN_TAG_ACK:
    case WN_TAG_RESULT:
    case WN_TAG_DURABLE:
    case WN_TAG_SHUFFLE_STATS:
        if (rt->planner)
            wn_planner_handle(rt, tag, src, buf, len);
        break;
    case WN_TAG_SHUTDOWN:
        rt->exit_status = ((struct wn_msg_shutdown *)buf)->status;
        rt->shutdown = 1;
        break;
    case WN_TAG_BUNDLE:
        for (size_t off = 0; off + 8 <= len;) {
            uint32_t h[2];
            memcpy(h, (char *)buf + off, 8);
            if (h[0] == WN_TAG_BUNDLE || off + 8 + h[1] > len) {
                wn_error("rank %d sent a malformed bundle (entry at byte %zu)", src, off);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            dispatch(rt, (int)h[0], src, (char *)buf + off + 8, h[1]);
            off += 8 + (((size_t)h[1] + 7) & ~(size_t)7);
        }
        break;
    default:
        wn_actor_handle(rt, tag, src, buf, len);
        break;
    }
}

/* Completes finished sends and receives; returns how many finished.  One
 * MPI_Testsome over all of them: one progress call (and, oversubscribed,
 * one yield) per poll rather than one per request. */
static int complete_requests(struct wn_rt *rt)
{
    int outcount = 0;
    if (MPI_Testsome((int)rt->nreqs, rt->mpi_reqs, &outcount, rt->done_ix,
                     MPI_STATUSES_IGNORE) != MPI_SUCCESS || outcount == MPI_UNDEFINED ||
        outcount == 0)
        return 0;
    /* Run the completions in index order, then compact the arrays.  A
     * callback may post new requests (appended past the old end). */
    size_t n0 = rt->nreqs;
    struct wn_req *done = wn_xmalloc((size_t)outcount * sizeof(*done));
    for (int k = 0; k < outcount; k++) {
        done[k] = rt->reqs[rt->done_ix[k]];
        rt->mpi_reqs[rt->done_ix[k]] = MPI_REQUEST_NULL;
    }
    size_t w = 0;
    for (size_t i = 0; i < n0; i++)
        if (rt->mpi_reqs[i] != MPI_REQUEST_NULL) {
            rt->mpi_reqs[w] = rt->mpi_reqs[i];
            rt->reqs[w++] = rt->reqs[i];
        }
    rt->nreqs = w;
    for (int k = 0; k < outcount; k++) {
        struct wn_req r = done[k];
        free(r.free_buf);
        if (r.release)
            wn_store_release(rt->store, r.release);
        if (r.pull && --r.pull->chunks_left == 0) {
            r.pull->cb(rt, r.pull->id, r.pull->buf, r.pull->len, 1, r.pull->arg);
            free(r.pull);
        }
    }
    free(done);
    return outcount;
}

int wn_rt_poll(struct wn_rt *rt)
{
    int progressed = 0;
    if (wn_stop_signal && !rt->stop_sent) {
        /* Tell the planner (itself on rank 0); it drains and stops all. */
        struct wn_msg_stop m = {(int32_t)wn_stop_signal, 0, wn_stop_kill_window()};
        rt->stop_sent = 1;
        send_parts(rt, 0, WN_TAG_STOP, &m, sizeof(m), NULL, 0);
        progressed = 1;
    }
    /* The clock every 64 polls: a busy rank polls far more often than it
     * needs to look. */
    if (rt->hb_every > 0 && (++rt->hb_polls & 63) == 0 &&
        wn_rt_clock() - rt->sent0 >= rt->hb_every)
        wn_rt_heartbeat(rt, WN_HB_ALIVE);
    for (int k = 0; k < 64; k++) {
        int flag = 0;
        MPI_Status st;
        MPI_Message msg;
        /* A matched probe: the receive takes this very message, without
         * matching it a second time. */
        MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, rt->comm, &flag, &msg, &st);
        if (!flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        /* One receive buffer, grown as needed: handlers copy what they
         * keep. */
        if ((size_t)count > rt->rcap || !rt->rbuf) {
            size_t ncap = rt->rcap ? rt->rcap : 4096;
            while (ncap < (size_t)count)
                ncap *= 2;
            void *n = realloc(rt->rbuf, ncap);
            if (!n) {
                wn_error("out of memory receiving %d bytes from rank %d", count,
                         st.MPI_SOURCE);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            rt->rbuf = n;
            rt->rcap = ncap;
        }
        MPI_Mrecv(rt->rbuf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        if (rt->heard) {
            rt->heard[st.MPI_SOURCE] = wn_rt_clock();
            rt->blocking[st.MPI_SOURCE] = 0;
        }
        dispatch(rt, st.MPI_TAG, st.MPI_SOURCE, rt->rbuf, (size_t)count);
        progressed = 1;
        if (rt->shutdown) {
            wn_rt_flush(rt);
            return 1;
        }
    }
    if (rt->nreqs && complete_requests(rt))
        progressed = 1;
    if (wn_actor_poll(rt))
        progressed = 1;
    if (rt->planner && wn_planner_poll(rt))
        progressed = 1;
    wn_rt_flush(rt);
    return progressed;
}

int wn_rt_loop(struct wn_rt *rt)
{
    double idle_since = -1;
    while (!rt->shutdown) {
        if (wn_rt_poll(rt)) {
            idle_since = -1;
            continue;
        }
        /* Back off by time idle: poll for 2 ms (a message is usually a
         * few microseconds away while batches are in flight; MPI yields
         * the core meanwhile on an oversubscribed node), then wait 50 us,
         * growing to 1 ms after 50 ms idle, so a rank with nothing to do
         * leaves the cores to compute threads.  A finished batch ends the
         * wait at once. */
        double now = wn_rt_wallclock();
        if (idle_since < 0)
            idle_since = now;
        double idle = now - idle_since;
        if (idle < 2e-3)
            continue;
        wn_actor_idle_wait(rt, idle < 10e-3 ? 50e-6 : idle < 50e-3 ? 200e-6 : 1e-3);
    }
    /* Let the last sends (shutdown messages, results) leave. */
    wn_rt_flush(rt);
    while (rt->nreqs)
        complete_requests(rt);
    return rt->exit_status;
}
