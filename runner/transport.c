/* transport.c - the per-rank event loop: control messages, payload pulls,
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
#include <time.h>

#include "log.h"
#include "runtime.h"

/* A nonblocking operation and what to do when it completes. */
struct wn_req {
    MPI_Request req;
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
        if (!n)
            return -1;
        rt->reqs = n;
        rt->cap_reqs = ncap;
    }
    rt->reqs[rt->nreqs++] = (struct wn_req){req, free_buf, release, pull};
    return 0;
}

static void dispatch(struct wn_rt *rt, int tag, int src, void *buf, size_t len);

/* Takes ownership of buf (malloc'd).  A message to oneself is handled at
 * once: alone, rank 0 is planner and actor. */
int wn_rt_send(struct wn_rt *rt, int dest, int tag, void *buf, size_t len)
{
    if (dest == rt->rank) {
        dispatch(rt, tag, dest, buf, len);
        free(buf);
        return 0;
    }
    MPI_Request req;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, tag, rt->comm, &req) != MPI_SUCCESS) {
        free(buf);
        return -1;
    }
    return track(rt, req, buf, NULL, NULL);
}

/* Sends a stored payload: header on comm, body in chunks on data_comm.
 * The payload stays referenced until the last chunk has gone. */
static void send_payload(struct wn_rt *rt, int dest, uint64_t id)
{
    struct wn_payload *p = wn_store_get(rt->store, id);
    struct wn_msg_payload *h = malloc(sizeof(*h));
    h->id = id;
    h->len = p ? p->len : 0;
    if (!p) {
        /* The planner never asks for what a rank does not hold; say so
         * instead of hanging the consumer. */
        wn_error("rank %d was asked for task %016llx by rank %d but does not hold it",
                 rt->rank, (unsigned long long)id, dest);
        h->id = ~(uint64_t)0;
    }
    MPI_Request req;
    if (p && p->len <= WN_INLINE_PAYLOAD) {
        /* Small: header and body in one message, one receive less. */
        struct wn_msg_payload *hb = realloc(h, sizeof(*h) + p->len);
        if (hb) {
            memcpy(hb + 1, p->buf, p->len);
            wn_store_release(rt->store, p);
            MPI_Isend(hb, (int)(sizeof(*hb) + hb->len), MPI_BYTE, dest, WN_TAG_PAYLOAD,
                      rt->comm, &req);
            track(rt, req, hb, NULL, NULL);
            return;
        }
    }
    MPI_Isend(h, (int)sizeof(*h), MPI_BYTE, dest, WN_TAG_PAYLOAD, rt->comm, &req);
    track(rt, req, h, NULL, NULL);
    if (!p)
        return;
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
    uint64_t *msg = malloc(sizeof(*msg));
    *msg = id;
    return wn_rt_send(rt, owner, WN_TAG_PULL, msg, sizeof(*msg));
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

static void dispatch(struct wn_rt *rt, int tag, int src, void *buf, size_t len)
{
    switch (tag) {
    case WN_TAG_PULL:
        send_payload(rt, src, *(uint64_t *)buf);
        break;
    case WN_TAG_PAYLOAD:
        on_payload_header(rt, src, buf, len);
        break;
    case WN_TAG_ACK:
    case WN_TAG_RESULT:
        if (rt->planner)
            wn_planner_handle(rt, tag, src, buf, len);
        break;
    case WN_TAG_SHUTDOWN:
        rt->exit_status = ((struct wn_msg_shutdown *)buf)->status;
        rt->shutdown = 1;
        break;
    default:
        wn_actor_handle(rt, tag, src, buf, len);
        break;
    }
}

/* Completes finished sends and receives; returns how many finished. */
static int complete_requests(struct wn_rt *rt)
{
    int done = 0;
    for (size_t i = 0; i < rt->nreqs;) {
        int flag = 0;
        MPI_Test(&rt->reqs[i].req, &flag, MPI_STATUS_IGNORE);
        if (!flag) {
            i++;
            continue;
        }
        struct wn_req r = rt->reqs[i];
        rt->reqs[i] = rt->reqs[--rt->nreqs];
        done++;
        free(r.free_buf);
        if (r.release)
            wn_store_release(rt->store, r.release);
        if (r.pull && --r.pull->chunks_left == 0) {
            r.pull->cb(rt, r.pull->id, r.pull->buf, r.pull->len, 1, r.pull->arg);
            free(r.pull);
        }
    }
    return done;
}

int wn_rt_poll(struct wn_rt *rt)
{
    int progressed = 0;
    for (int k = 0; k < 64; k++) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, rt->comm, &flag, &st);
        if (!flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        void *buf = malloc(count > 0 ? (size_t)count : 1);
        MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, rt->comm,
                 MPI_STATUS_IGNORE);
        dispatch(rt, st.MPI_TAG, st.MPI_SOURCE, buf, (size_t)count);
        free(buf);
        progressed = 1;
        if (rt->shutdown)
            return 1;
    }
    if (rt->nreqs && complete_requests(rt))
        progressed = 1;
    if (wn_actor_poll(rt))
        progressed = 1;
    if (rt->planner && wn_planner_poll(rt))
        progressed = 1;
    return progressed;
}

int wn_rt_loop(struct wn_rt *rt)
{
    unsigned idle = 0;
    while (!rt->shutdown) {
        if (wn_rt_poll(rt)) {
            idle = 0;
            continue;
        }
        /* Back off: spin briefly (latency), then sleep up to 1 ms (leave
         * the core to compute threads on an oversubscribed node). */
        if (++idle < 200)
            continue;
        long ns = idle < 400 ? 20000 : idle < 1000 ? 200000 : 1000000;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
    }
    /* Let the last sends (shutdown messages, results) leave. */
    while (rt->nreqs)
        complete_requests(rt);
    return rt->exit_status;
}
