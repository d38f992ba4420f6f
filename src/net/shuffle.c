/* shuffle.c - one shuffle round over UCX tag messages (see shuffle.h).
 *
 * Wire format.  Two kinds of UCX tag message, told apart by the tag's top
 * four bits:
 *   - SMALL (received into buffers posted ahead, SMALL_MAX bytes each): a
 *     struct msg_hdr, nchunks struct chunk_desc, then the inline chunks'
 *     bytes in descriptor order.  Small chunks to one peer are coalesced
 *     into one such message; a chunk of BIG_MIN bytes or more travels on
 *     its own (below), only its descriptor rides in a SMALL message, so
 *     the receiver posts a receive of the exact size for it and UCX moves
 *     it zero-copy (rendezvous).  The FIN message is a SMALL one with no
 *     chunks and the number of data messages (SMALL with chunks, and BIG)
 *     its sender sent this peer.
 *   - BIG: a chunk's bytes alone; the tag carries the sender's rank and a
 *     per-peer sequence number that its descriptor names.
 * Every SMALL message carries the round; one of another round is an error.
 *
 * Memory.  Held bytes are the chunk bytes kept in memory (local and
 * received) plus BIG receives under way.  A chunk is kept while that stays
 * within memory_limit, otherwise appended to the round's spill file
 * (created with mkstemp, unlinked at once so nothing is left behind even
 * after a crash) and read back at extract.  A BIG receive is started only
 * while it fits under the limit or when no other is under way, so the
 * peak is at most memory_limit plus one message.  The SMALL receive
 * buffers are a fixed transport cost, outside that count.
 *
 * This file: the UCP context, a round's progress, insert, extract and
 * stats, create and destroy, connecting the peers.  shuffle_xfer.c moves
 * the data: storing received chunks (and spilling), sending, receiving
 * (the state they share: shuffle_impl.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ucp/api/ucp.h>

#include "net/shuffle.h"
#include "net/shuffle_impl.h"

/* The process's one UCP context, made on first use and kept. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ucp_context_h ctx;

static ucp_context_h context(wn_error_t *err)
{
    pthread_mutex_lock(&ctx_lock);
    if (!ctx) {
        ucp_config_t *cfg;
        ucs_status_t s = ucp_config_read(NULL, NULL, &cfg);
        if (s == UCS_OK) {
            ucp_params_t p = {.field_mask = UCP_PARAM_FIELD_FEATURES, .features = UCP_FEATURE_TAG};
            s = ucp_init(&p, cfg, &ctx);
            ucp_config_release(cfg);
        }
        if (s != UCS_OK) {
            ctx = NULL;
            wn_errprintf(err, "shuffle: cannot initialise UCX: %s", ucs_status_string(s));
        }
    }
    ucp_context_h c = ctx;
    pthread_mutex_unlock(&ctx_lock);
    return c;
}

static void ep_error_cb(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    (void)ep;
    struct peer *p = arg;
    if (p->ep_status == UCS_OK)
        p->ep_status = status;
}

/* ------------------------------------------------------------- round -- */

static int peer_done(const struct peer *p)
{
    return p->fin_seen && p->got == p->expected;
}

static int check_health(struct wn_shuffle *sh, wn_error_t *err)
{
    for (int i = 0; i < sh->size; i++) {
        struct peer *p = &sh->peers[i];
        if (i != sh->rank && p->ep_status != UCS_OK)
            return shuffle_fail(
                sh, err, "shuffle round %u: endpoint from rank %d to rank %d failed: %s", sh->round,
                sh->world[sh->rank], sh->world[i], ucs_status_string(p->ep_status));
    }
    return 0;
}

static int check_timeouts(struct wn_shuffle *sh, wn_error_t *err)
{
    double t = shuffle_now_s();
    for (struct send_rec *s = sh->sends; s; s = s->next)
        if (!s->done && t - s->t_posted > sh->timeout_s)
            return shuffle_fail(sh, err,
                                "shuffle round %u: send from rank %d to rank %d not completed "
                                "after %g s",
                                sh->round, sh->world[sh->rank], sh->world[s->peer], sh->timeout_s);
    if (!sh->finished)
        return 0;
    for (int i = 0; i < sh->size; i++) {
        struct peer *p = &sh->peers[i];
        if (i == sh->rank || peer_done(p))
            continue;
        double since = p->last_arrival > sh->t_finished ? p->last_arrival : sh->t_finished;
        if (t - since > sh->timeout_s) {
            char want[32] = "?";
            if (p->fin_seen)
                snprintf(want, sizeof(want), "%llu", (unsigned long long)p->expected);
            return shuffle_fail(sh, err,
                                "shuffle round %u: rank %d waited %g s for rank %d (got %llu "
                                "of %s messages; finished: %s)",
                                sh->round, sh->world[sh->rank], sh->timeout_s, sh->world[i],
                                (unsigned long long)p->got, want, p->fin_seen ? "yes" : "no");
        }
    }
    return 0;
}

int wn_shuffle_progress(struct wn_shuffle *sh, wn_error_t *err)
{
    if (sh->failed)
        return wn_errprintf(err, "%s", sh->error.text);
    int did = 0;
    for (int i = 0; i < 64 && ucp_worker_progress(sh->worker); i++)
        did = 1;
    if (check_health(sh, err) != 0 || shuffle_reap_sends(sh, &did, err) != 0 ||
        shuffle_reap_recvs(sh, &did, err) != 0)
        return -1;
    double t = shuffle_now_s();
    for (int i = 0; i < sh->size; i++) {
        struct peer *p = &sh->peers[i];
        if (i == sh->rank)
            continue;
        int force = sh->finished || (p->qhead && t - p->qhead->t_queued >= COALESCE_WAIT_S);
        uint64_t before = p->sent_msgs + (uint64_t)p->fin_sent;
        if (shuffle_flush_peer(sh, p, force, err) != 0)
            return -1;
        if (p->sent_msgs + (uint64_t)p->fin_sent != before)
            did = 1;
    }
    if (check_timeouts(sh, err) != 0)
        return -1;
    return did;
}

int wn_shuffle_insert(struct wn_shuffle *sh, uint32_t part, uint64_t origin, void *buf, size_t len,
                      wn_error_t *err)
{
    if (sh->failed) {
        free(buf);
        return wn_errprintf(err, "%s", sh->error.text);
    }
    if (sh->finished) {
        free(buf);
        return wn_errprintf(err, "shuffle round %u: insert after insert_finished", sh->round);
    }
    if (part >= sh->nparts) {
        free(buf);
        return wn_errprintf(err, "shuffle round %u: partition %u out of range (%u partitions)",
                            sh->round, part, sh->nparts);
    }
    int owner = (int)(part % (uint32_t)sh->size);
    if (owner == sh->rank)
        return shuffle_store(sh, part, origin, buf, buf, len, err);
    struct qchunk *q = malloc(sizeof(*q));
    if (!q) {
        free(buf);
        return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
    }
    *q = (struct qchunk){
        .part = part, .origin = origin, .buf = buf, .len = len, .t_queued = shuffle_now_s()};
    struct peer *p = &sh->peers[owner];
    if (p->qtail)
        p->qtail->next = q;
    else
        p->qhead = q;
    p->qtail = q;
    sh->queued += len;
    if (sh->queued > sh->st.peak_queued_bytes)
        sh->st.peak_queued_bytes = sh->queued;
    /* small chunks gather until half a message (or progress finds them
     * waiting): scanning the queue at every insert would cost O(n^2).  A
     * BIG one goes at once: batching its descriptor with later ones
     * measured slower (the data starts moving later). */
    if (len < BIG_MIN) {
        p->qsmall += sizeof(struct chunk_desc) + len;
        if (p->qsmall < SMALL_MAX / 2)
            return 0;
    }
    return shuffle_flush_peer(sh, p, 0, err);
}

size_t wn_shuffle_queued_bytes(const struct wn_shuffle *sh)
{
    return sh->queued;
}

int wn_shuffle_insert_finished(struct wn_shuffle *sh, wn_error_t *err)
{
    if (sh->failed)
        return wn_errprintf(err, "%s", sh->error.text);
    if (sh->finished)
        return wn_errprintf(err, "shuffle round %u: insert_finished called twice", sh->round);
    sh->finished = 1;
    sh->t_finished = shuffle_now_s();
    for (int i = 0; i < sh->size; i++)
        if (i != sh->rank && shuffle_flush_peer(sh, &sh->peers[i], 1, err) != 0)
            return -1;
    return 0;
}

int wn_shuffle_complete(const struct wn_shuffle *sh)
{
    if (!sh->finished || sh->failed || sh->big_wait || sh->big_posted)
        return 0;
    for (int i = 0; i < sh->size; i++)
        if (i != sh->rank && !peer_done(&sh->peers[i]))
            return 0;
    return 1;
}

int wn_shuffle_sends_done(const struct wn_shuffle *sh)
{
    if (!sh->finished || sh->sends)
        return 0;
    for (int i = 0; i < sh->size; i++)
        if (i != sh->rank && (sh->peers[i].qhead || !sh->peers[i].fin_sent))
            return 0;
    return 1;
}

/* ----------------------------------------------------------- extract -- */

static int by_origin(const void *a, const void *b)
{
    const struct chunk_rec *x = a, *y = b;
    return x->origin < y->origin ? -1 : x->origin > y->origin;
}

int wn_shuffle_extract(struct wn_shuffle *sh, uint32_t part, wn_shuffle_chunk_fn fn, void *arg,
                       wn_error_t *err)
{
    if (part >= sh->nparts || (int)(part % (uint32_t)sh->size) != sh->rank)
        return wn_errprintf(err, "shuffle round %u: rank %d does not own partition %u", sh->round,
                            sh->world[sh->rank], part);
    struct part_store *ps = &sh->parts[part / (uint32_t)sh->size];
    if (ps->n > 1)
        qsort(ps->v, ps->n, sizeof(*ps->v), by_origin);
    for (size_t i = 1; i < ps->n; i++)
        if (ps->v[i].origin == ps->v[i - 1].origin)
            return wn_errprintf(err,
                                "shuffle round %u: partition %u has two chunks of origin "
                                "%llu",
                                sh->round, part, (unsigned long long)ps->v[i].origin);
    char *rbuf = NULL;
    size_t rcap = 0;
    int rc = 0;
    for (size_t i = 0; i < ps->n && rc == 0; i++) {
        struct chunk_rec *c = &ps->v[i];
        const void *data = c->mem ? c->mem : "";
        if (!c->mem && c->len > 0) {
            if (c->len > rcap) {
                free(rbuf);
                rcap = c->len;
                if (!(rbuf = malloc(rcap))) {
                    rc = wn_errprintf(err, "shuffle round %u: out of memory", sh->round);
                    break;
                }
            }
            size_t done = 0;
            while (done < c->len) {
                ssize_t r = pread(sh->spill_fd, rbuf + done, c->len - done, c->off + done);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    rc = wn_errprintf(err, "shuffle round %u: reading the spill file in %s: %s",
                                      sh->round, sh->spill_dir,
                                      r < 0 ? strerror(errno) : "unexpected end of file");
                    break;
                }
                done += (size_t)r;
            }
            data = rbuf;
        }
        if (rc == 0)
            rc = fn(arg, c->origin, data, c->len, err);
    }
    free(rbuf);
    return rc;
}

void wn_shuffle_release(struct wn_shuffle *sh, uint32_t part)
{
    if (part >= sh->nparts || (int)(part % (uint32_t)sh->size) != sh->rank)
        return;
    struct part_store *ps = &sh->parts[part / (uint32_t)sh->size];
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->v[i].mem)
            sh->held -= ps->v[i].len;
        free(ps->v[i].mem);
    }
    free(ps->v);
    *ps = (struct part_store){0};
}

void wn_shuffle_stats(const struct wn_shuffle *sh, struct wn_shuffle_stats *stats)
{
    *stats = sh->st;
}

uint32_t wn_shuffle_nparts(const struct wn_shuffle *sh)
{
    return sh->nparts;
}

int wn_shuffle_owner(const struct wn_shuffle *sh, uint32_t part)
{
    return (int)(part % (uint32_t)sh->size);
}

/* ---------------------------------------------------- create/destroy -- */

/* Waits (progressing) for UCX request req to finish, then frees it. */
static void wait_req(ucp_worker_h w, void *req)
{
    if (req == NULL || UCS_PTR_IS_ERR(req))
        return;
    while (ucp_request_check_status(req) == UCS_INPROGRESS)
        ucp_worker_progress(w);
    ucp_request_free(req);
}

/* MPI_Barrier on the round's communicator that keeps this rank's worker
 * progressing while it waits: a peer may need that (wireup, rendezvous)
 * to get there. */
static void progress_barrier(struct wn_shuffle *sh)
{
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(sh->comm, &req);
    while (!done) {
        /* idle: give the core away, ranks may outnumber cores */
        if (!sh->worker || !ucp_worker_progress(sh->worker))
            sched_yield();
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    }
}

/* Collective: exchanges worker addresses (lengths, then the bytes),
 * connects an endpoint to every peer and wires them up.  A rank whose
 * worker or an endpoint failed still goes through every collective step
 * (offering an empty address), so no rank waits forever; each returns -1
 * then. */
static int connect_peers(struct wn_shuffle *sh, wn_error_t *err)
{
    ucp_worker_attr_t wa = {.field_mask = UCP_WORKER_ATTR_FIELD_ADDRESS};
    int rc = 0, len = 0;
    if (sh->worker) {
        ucs_status_t s = ucp_worker_query(sh->worker, &wa);
        if (s == UCS_OK)
            len = (int)wa.address_length;
        else
            rc = wn_errprintf(err, "shuffle round %u: cannot get the UCX worker address: %s",
                              sh->round, ucs_status_string(s));
    } else {
        rc = -1; /* the caller said why */
    }
    int *lens = malloc(sh->size * sizeof(int)), *displs = malloc(sh->size * sizeof(int));
    if (!lens || !displs)
        abort(); /* a few bytes: nothing sensible is left to do */
    MPI_Allgather(&len, 1, MPI_INT, lens, 1, MPI_INT, sh->comm);
    int total = 0;
    for (int i = 0; i < sh->size; i++) {
        displs[i] = total;
        total += lens[i];
    }
    char *all = malloc(total ? total : 1);
    if (!all)
        abort();
    MPI_Allgatherv(len ? wa.address : NULL, len, MPI_BYTE, all, lens, displs, MPI_BYTE, sh->comm);
    for (int i = 0; i < sh->size && rc == 0; i++) {
        if (i == sh->rank)
            continue;
        if (lens[i] == 0) {
            rc = wn_errprintf(err, "shuffle round %u: rank %d has no UCX worker", sh->round,
                              sh->world[i]);
            break;
        }
        /* UCX 1.13 has no peer failure detection on its shared-memory
         * transports: asking for it moves a host's own traffic to TCP, at
         * a quarter of the speed.  Peers on this host get none (a dead one
         * is still caught by the timeouts, and by mpirun); others do. */
        ucp_ep_params_t ep = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                          UCP_EP_PARAM_FIELD_ERR_HANDLER,
            .address = (ucp_address_t *)(all + displs[i]),
            .err_mode = sh->same_host[i] ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER,
            .err_handler = {.cb = ep_error_cb, .arg = &sh->peers[i]},
        };
        ucs_status_t s = ucp_ep_create(sh->worker, &ep, &sh->peers[i].ep);
        if (s != UCS_OK) {
            sh->peers[i].ep = NULL;
            rc = wn_errprintf(err, "shuffle round %u: endpoint from rank %d to rank %d: %s",
                              sh->round, sh->world[sh->rank], sh->world[i], ucs_status_string(s));
        }
    }
    /* Wire the endpoints up now (a flush completes once they are), so the
     * round's first messages do not pay for it; then wait, progressing,
     * until every rank is done too, since a peer's wireup needs this
     * rank's progress. */
    for (int i = 0; i < sh->size && rc == 0; i++) {
        if (i == sh->rank)
            continue;
        ucp_request_param_t prm = {.op_attr_mask = 0};
        void *req = ucp_ep_flush_nbx(sh->peers[i].ep, &prm);
        if (UCS_PTR_IS_ERR(req))
            rc = wn_errprintf(err, "shuffle round %u: endpoint from rank %d to rank %d: %s",
                              sh->round, sh->world[sh->rank], sh->world[i],
                              ucs_status_string(UCS_PTR_STATUS(req)));
        else
            wait_req(sh->worker, req);
    }
    progress_barrier(sh);
    if (len)
        ucp_worker_release_address(sh->worker, wa.address);
    free(all);
    free(lens);
    free(displs);
    return rc;
}

static void free_round(struct wn_shuffle *sh);

struct wn_shuffle *wn_shuffle_create(MPI_Comm comm, uint32_t round, uint32_t nparts,
                                     const struct wn_shuffle_opts *opts, wn_error_t *err)
{
    ucp_context_h c = context(err);
    if (!c)
        return NULL;
    struct wn_shuffle *sh = calloc(1, sizeof(*sh));
    if (!sh) {
        wn_errprintf(err, "shuffle round %u: out of memory", round);
        return NULL;
    }
    sh->comm = comm;
    sh->round = round;
    sh->nparts = nparts;
    sh->spill_fd = -1;
    MPI_Comm_rank(comm, &sh->rank);
    MPI_Comm_size(comm, &sh->size);
    sh->inflight_cap = opts && opts->inflight_per_peer ? opts->inflight_per_peer : 8u << 20;
    sh->memory_limit = opts && opts->memory_limit ? opts->memory_limit : (size_t)1 << 30;
    sh->timeout_s = opts && opts->timeout_s > 0 ? opts->timeout_s : 300;
    const char *dir = opts && opts->spill_dir ? opts->spill_dir : getenv("TMPDIR");
    sh->spill_dir = strdup(dir && *dir ? dir : "/tmp");
    uint32_t owned = nparts / (uint32_t)sh->size + 1;
    sh->world = malloc(sh->size * sizeof(int));
    sh->same_host = malloc(sh->size * sizeof(int));
    sh->peers = calloc(sh->size, sizeof(*sh->peers));
    sh->parts = calloc(owned, sizeof(*sh->parts));
    sh->nsmall = (sh->size - 1) * SMALL_POSTED_PER_PEER;
    sh->small = calloc(sh->nsmall ? sh->nsmall : 1, sizeof(*sh->small));
    if (!sh->spill_dir || !sh->world || !sh->same_host || !sh->peers || !sh->parts || !sh->small) {
        wn_errprintf(err, "shuffle round %u: out of memory", round);
        goto fail;
    }
    /* world rank and host of every member: the first for messages, the
     * second for the endpoints' error handling (connect_peers) */
    char host[MPI_MAX_PROCESSOR_NAME];
    int hlen = 0;
    MPI_Get_processor_name(host, &hlen);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < hlen; i++)
        h = (h ^ (unsigned char)host[i]) * 1099511628211ull;
    long long me[2] = {opts ? opts->world_rank : 0, (long long)h};
    long long *ids = malloc(2 * sh->size * sizeof(long long));
    if (!ids) {
        wn_errprintf(err, "shuffle round %u: out of memory", round);
        goto fail;
    }
    MPI_Allgather(me, 2, MPI_LONG_LONG, ids, 2, MPI_LONG_LONG, comm);
    for (int i = 0; i < sh->size; i++) {
        sh->world[i] = (int)ids[2 * i];
        sh->same_host[i] = ids[2 * i + 1] == (long long)h;
    }
    free(ids);
    if (sh->size > TAG_SRC_MAX) {
        wn_errprintf(err, "shuffle round %u: %d ranks, at most %d", round, sh->size, TAG_SRC_MAX);
        goto fail;
    }
    double t = shuffle_now_s();
    for (int i = 0; i < sh->size; i++)
        sh->peers[i] = (struct peer){.rank = i, .last_arrival = t};
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SINGLE};
    ucs_status_t s = ucp_worker_create(c, &wp, &sh->worker);
    if (s != UCS_OK) {
        sh->worker = NULL;
        wn_errprintf(err, "shuffle round %u: cannot create a UCX worker: %s", round,
                     ucs_status_string(s));
    }
    if (connect_peers(sh, err) != 0)
        goto fail;
    for (int i = 0; i < sh->nsmall; i++) {
        if (!(sh->small[i].buf = malloc(SMALL_MAX))) {
            wn_errprintf(err, "shuffle round %u: out of memory", round);
            goto fail;
        }
        if (shuffle_post_small(sh, &sh->small[i], err) != 0)
            goto fail;
    }
    return sh;
fail:
    free_round(sh);
    return NULL;
}

/* Local teardown: cancels the receives, closes the endpoints (force: by
 * then every byte is delivered, or the round has failed), destroys the
 * worker and frees everything. */
static void free_round(struct wn_shuffle *sh)
{
    if (sh->worker) {
        for (int i = 0; i < sh->nsmall; i++)
            if (sh->small[i].req && !sh->small[i].done)
                ucp_request_cancel(sh->worker, sh->small[i].req);
        for (struct recv_rec *r = sh->big_posted; r; r = r->next)
            if (r->req && !r->done)
                ucp_request_cancel(sh->worker, r->req);
        for (int i = 0; i < sh->size; i++) {
            if (!sh->peers[i].ep)
                continue;
            ucp_request_param_t prm = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                       .flags = UCP_EP_CLOSE_FLAG_FORCE};
            wait_req(sh->worker, ucp_ep_close_nbx(sh->peers[i].ep, &prm));
        }
        /* the cancelled receives and the sends the close gave up on
         * complete through their callbacks; wait for them before freeing */
        for (int i = 0; i < sh->nsmall; i++)
            if (sh->small[i].req) {
                while (!sh->small[i].done)
                    ucp_worker_progress(sh->worker);
                ucp_request_free(sh->small[i].req);
            }
        for (struct recv_rec *r = sh->big_posted; r; r = r->next)
            if (r->req) {
                while (!r->done)
                    ucp_worker_progress(sh->worker);
                ucp_request_free(r->req);
            }
        for (struct send_rec *s = sh->sends; s; s = s->next)
            if (s->req) {
                while (!s->done)
                    ucp_worker_progress(sh->worker);
                ucp_request_free(s->req);
            }
        ucp_worker_destroy(sh->worker);
    }
    for (int i = 0; i < sh->nsmall; i++)
        free(sh->small[i].buf);
    free(sh->small);
    for (struct send_rec *s = sh->sends, *n; s; s = n) {
        n = s->next;
        free(s->buf);
        free(s);
    }
    struct recv_rec *lists[2] = {sh->big_posted, sh->big_wait};
    for (int k = 0; k < 2; k++)
        for (struct recv_rec *r = lists[k], *n; r; r = n) {
            n = r->next;
            free(r->buf);
            free(r);
        }
    if (sh->peers)
        for (int i = 0; i < sh->size; i++)
            for (struct qchunk *q = sh->peers[i].qhead, *n; q; q = n) {
                n = q->next;
                free(q->buf);
                free(q);
            }
    if (sh->parts)
        for (uint32_t p = (uint32_t)sh->rank; p < sh->nparts; p += (uint32_t)sh->size)
            wn_shuffle_release(sh, p);
    if (sh->spill_fd >= 0)
        close(sh->spill_fd);
    free(sh->parts);
    free(sh->peers);
    free(sh->world);
    free(sh->same_host);
    free(sh->spill_dir);
    free(sh);
}

/* Collective.  After a clean round: progress until this rank's sends are
 * done, then a barrier (nonblocking, progressing meanwhile, so a peer
 * still pulling a rendezvous send from this rank is served) so no rank
 * closes endpoints a peer still reads from.  After an error the sends
 * may never complete, so that wait stops at the first error (a send
 * timeout bounds it); the barrier is still entered, so every rank must
 * reach destroy -- except after an endpoint failure (a dead peer), where
 * it is skipped because it could never complete: the caller then has to
 * abort the job, as a run does on any shuffle error. */
void wn_shuffle_destroy(struct wn_shuffle *sh)
{
    if (!sh)
        return;
    while (!sh->failed && !wn_shuffle_sends_done(sh) && sh->finished) {
        int n = wn_shuffle_progress(sh, NULL);
        if (n < 0)
            break;
        if (n == 0)
            sched_yield();
    }
    int dead_peer = 0;
    for (int i = 0; i < sh->size; i++)
        if (i != sh->rank && sh->peers[i].ep_status != UCS_OK)
            dead_peer = 1;
    if (!dead_peer)
        progress_barrier(sh);
    free_round(sh);
}
