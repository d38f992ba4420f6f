/* shuffle_xfer.c - a shuffle round's data movement (see shuffle.c for
 * the wire format and the memory accounting): storing a chunk for an
 * owned partition, kept in memory or appended to the spill file; sending
 * a peer's queue as SMALL messages with the BIG chunks after them, and
 * the FIN; posting the SMALL and BIG receives and taking what arrives.
 * Called from the round's progress, insert and create in shuffle.c; it
 * calls nothing there (the round's failure and clock are here). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ucp/api/ucp.h>

#include "net/shuffle.h"
#include "net/shuffle_impl.h"

double shuffle_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int shuffle_fail(struct wn_shuffle *sh, wn_error_t *err, const char *fmt, ...)
{
    if (!sh->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->error.text, sizeof(sh->error.text), fmt, ap);
        va_end(ap);
        sh->failed = 1;
    }
    return wn_errprintf(err, "%s", sh->error.text);
}

static void send_cb(void *req, ucs_status_t status, void *user)
{
    (void)req;
    struct send_rec *s = user;
    s->done = 1;
    s->status = status;
}

static void recv_cb(void *req, ucs_status_t status, const ucp_tag_recv_info_t *info, void *user)
{
    (void)req;
    struct recv_rec *r = user;
    r->done = 1;
    r->status = status;
    if (status == UCS_OK)
        r->got = info->length;
}

/* ---------------------------------------------------------- storing -- */

static void note_held(struct wn_shuffle *sh)
{
    size_t h = sh->held + sh->big_posted_bytes;
    if (h > sh->st.peak_held_bytes)
        sh->st.peak_held_bytes = h;
}

static int spill_open(struct wn_shuffle *sh, wn_error_t *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/winnow-shuffle-%u-XXXXXX", sh->spill_dir, sh->round) >=
        (int)sizeof(path))
        return shuffle_fail(sh, err, "shuffle round %u: spill directory %s: path too long",
                            sh->round, sh->spill_dir);
    sh->spill_fd = mkstemp(path);
    if (sh->spill_fd < 0)
        return shuffle_fail(sh, err, "shuffle round %u: cannot create a spill file in %s: %s",
                            sh->round, sh->spill_dir, strerror(errno));
    unlink(path);
    return 0;
}

/* Adds a chunk to owned partition part: kept in memory (taking `owned`,
 * a malloc'd buffer holding exactly the chunk, when given; else copying
 * data) or appended to the spill file. */
int shuffle_store(struct wn_shuffle *sh, uint32_t part, uint64_t origin, void *owned,
                  const void *data, size_t len, wn_error_t *err)
{
    struct part_store *ps = &sh->parts[part / (uint32_t)sh->size];
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 8;
        struct chunk_rec *v = realloc(ps->v, cap * sizeof(*v));
        if (!v) {
            free(owned);
            return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
        }
        ps->v = v;
        ps->cap = cap;
    }
    struct chunk_rec *c = &ps->v[ps->n];
    c->origin = origin;
    c->len = len;
    c->mem = NULL;
    c->off = 0;
    if (len > 0 && sh->held + sh->big_posted_bytes + len <= sh->memory_limit) {
        if (owned) {
            c->mem = owned;
        } else if (!(c->mem = malloc(len))) {
            return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
        } else {
            memcpy(c->mem, data, len);
        }
        sh->held += len;
        note_held(sh);
    } else if (len > 0) {
        if (sh->spill_fd < 0 && spill_open(sh, err) != 0) {
            free(owned);
            return -1;
        }
        const char *p = data;
        size_t done = 0;
        while (done < len) {
            ssize_t w = pwrite(sh->spill_fd, p + done, len - done, sh->spill_end + done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                free(owned);
                return shuffle_fail(sh, err, "shuffle round %u: writing the spill file in %s: %s",
                                    sh->round, sh->spill_dir, w < 0 ? strerror(errno) : "no space");
            }
            done += (size_t)w;
        }
        c->off = sh->spill_end;
        sh->spill_end += len;
        sh->st.bytes_spilled += len;
        free(owned);
    } else {
        free(owned);
    }
    ps->n++;
    sh->st.chunks_received++;
    sh->st.bytes_received += len;
    return 0;
}

/* ---------------------------------------------------------- sending -- */

static int post_send(struct wn_shuffle *sh, struct peer *p, void *buf, size_t len, ucp_tag_t tag,
                     wn_error_t *err)
{
    struct send_rec *s = calloc(1, sizeof(*s));
    if (!s) {
        free(buf);
        return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
    }
    s->peer = p->rank;
    s->buf = buf;
    s->bytes = len;
    s->t_posted = shuffle_now_s();
    ucp_request_param_t prm = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
        .cb.send = send_cb,
        .user_data = s,
    };
    ucs_status_ptr_t r = ucp_tag_send_nbx(p->ep, buf, len, tag, &prm);
    if (UCS_PTR_IS_ERR(r)) {
        s->done = 1;
        s->status = UCS_PTR_STATUS(r);
    } else if (r == NULL) {
        s->done = 1;
    } else {
        s->req = r;
    }
    s->next = sh->sends;
    sh->sends = s;
    p->inflight += len;
    return 0;
}

/* Sends what peer p's queue holds, as far as its in-flight budget lets:
 * one SMALL message at a time carrying the inline chunks and the
 * descriptors of the BIG ones, which follow on their own.  A message that
 * is not full waits for more chunks unless `force`.  After
 * insert_finished, an empty queue is followed by the FIN message. */
int shuffle_flush_peer(struct wn_shuffle *sh, struct peer *p, int force, wn_error_t *err)
{
    while (p->qhead) {
        size_t room = sh->inflight_cap > p->inflight ? sh->inflight_cap - p->inflight : 0;
        /* near the budget, wait for room for a full message rather than
         * trickle out one small chunk per completion */
        if (p->inflight > 0 && room < SMALL_MAX && room < sh->inflight_cap / 2)
            break;
        size_t size = sizeof(struct msg_hdr), bytes = 0;
        uint32_t n = 0;
        int full = 0;
        struct qchunk *q = p->qhead;
        for (; q; q = q->next) {
            size_t need = sizeof(struct chunk_desc) + (q->len < BIG_MIN ? q->len : 0);
            size_t total = (q->len < BIG_MIN ? need : q->len + need);
            if (size + need > SMALL_MAX) {
                full = 1;
                break;
            }
            /* the first chunk goes even when it alone exceeds the budget */
            if (bytes + total > room && !(p->inflight == 0 && n == 0)) {
                full = 1;
                break;
            }
            size += need;
            bytes += total;
            n++;
        }
        if (n == 0 || (!full && !force && size - sizeof(struct msg_hdr) < SMALL_MAX / 2 &&
                       bytes == size - sizeof(struct msg_hdr)))
            break;
        char *msg = malloc(size);
        if (!msg)
            return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
        struct msg_hdr *h = (struct msg_hdr *)msg;
        *h = (struct msg_hdr){
            .magic = SHF_MAGIC, .round = sh->round, .src = (uint32_t)sh->rank, .nchunks = n};
        struct chunk_desc *d = (struct chunk_desc *)(h + 1);
        char *data = (char *)(d + n);
        struct qchunk *big = NULL, **bigtail = &big;
        for (uint32_t i = 0; i < n; i++) {
            q = p->qhead;
            p->qhead = q->next;
            d[i] = (struct chunk_desc){.part = q->part, .origin = q->origin, .len = q->len};
            sh->queued -= q->len;
            sh->st.chunks_sent++;
            sh->st.bytes_sent += q->len;
            if (q->len >= BIG_MIN) {
                d[i].flags = DESC_BIG;
                d[i].seq = p->big_seq++ & TAG_SEQ_MASK;
                q->origin = d[i].seq; /* the node now carries the BIG tag */
                q->next = NULL;
                *bigtail = q;
                bigtail = &q->next;
            } else {
                if (q->len)
                    memcpy(data, q->buf, q->len);
                data += q->len;
                free(q->buf);
                free(q);
            }
            if (d[i].len < BIG_MIN)
                p->qsmall -= sizeof(struct chunk_desc) + d[i].len;
        }
        if (!p->qhead)
            p->qtail = NULL;
        /* the descriptors first, so the receiver posts the BIG receives
         * early and UCX can match them on arrival */
        p->sent_msgs++;
        sh->st.messages_sent++;
        int rc = post_send(sh, p, msg, size, TAG_SMALL, err);
        while (big) {
            q = big;
            big = q->next;
            ucp_tag_t tag = TAG_BIG | ((ucp_tag_t)sh->rank << TAG_SRC_SHIFT) | q->origin;
            if (rc == 0) {
                p->sent_msgs++;
                sh->st.messages_sent++;
                rc = post_send(sh, p, q->buf, q->len, tag, err);
            } else {
                free(q->buf);
            }
            free(q);
        }
        if (rc != 0)
            return -1;
    }
    if (sh->finished && !p->qhead && !p->fin_sent) {
        struct msg_hdr *h = malloc(sizeof(*h));
        if (!h)
            return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
        *h = (struct msg_hdr){.magic = SHF_MAGIC,
                              .round = sh->round,
                              .src = (uint32_t)sh->rank,
                              .flags = SHF_FIN,
                              .fin_count = p->sent_msgs};
        p->fin_sent = 1;
        return post_send(sh, p, h, sizeof(*h), TAG_SMALL, err);
    }
    return 0;
}

/* Frees the completed sends; a failed one is an error. */
int shuffle_reap_sends(struct wn_shuffle *sh, int *did, wn_error_t *err)
{
    int rc = 0;
    for (struct send_rec **sp = &sh->sends; *sp;) {
        struct send_rec *s = *sp;
        if (!s->done) {
            sp = &s->next;
            continue;
        }
        *sp = s->next;
        if (s->req)
            ucp_request_free(s->req);
        if (s->status != UCS_OK && rc == 0)
            rc = shuffle_fail(sh, err, "shuffle round %u: send from rank %d to rank %d failed: %s",
                              sh->round, sh->world[sh->rank], sh->world[s->peer],
                              ucs_status_string(s->status));
        sh->peers[s->peer].inflight -= s->bytes;
        free(s->buf);
        free(s);
        *did = 1;
    }
    return rc;
}

/* -------------------------------------------------------- receiving -- */

/* UCX 1.13 leaves recv_info unset when a receive completes at once, so
 * immediate completion is denied: the length always comes through
 * recv_cb. */
static int post_recv(struct wn_shuffle *sh, struct recv_rec *r, ucp_tag_t tag, ucp_tag_t mask,
                     size_t len, wn_error_t *err)
{
    ucp_request_param_t prm = {
        .op_attr_mask =
            UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FLAG_NO_IMM_CMPL,
        .cb.recv = recv_cb,
        .user_data = r,
    };
    r->done = 0;
    ucs_status_ptr_t q = ucp_tag_recv_nbx(sh->worker, r->buf, len, tag, mask, &prm);
    if (UCS_PTR_IS_ERR(q)) {
        r->req = NULL;
        return shuffle_fail(sh, err, "shuffle round %u: rank %d cannot post a receive: %s",
                            sh->round, sh->world[sh->rank], ucs_status_string(UCS_PTR_STATUS(q)));
    }
    r->req = q;
    return 0;
}

int shuffle_post_small(struct wn_shuffle *sh, struct recv_rec *r, wn_error_t *err)
{
    return post_recv(sh, r, TAG_SMALL, TAG_KIND_MASK, SMALL_MAX, err);
}

static int bad_message(struct wn_shuffle *sh, int src, const char *what, wn_error_t *err)
{
    return shuffle_fail(sh, err, "shuffle round %u: rank %d got a bad message from rank %d: %s",
                        sh->round, sh->world[sh->rank], src >= 0 ? sh->world[src] : -1, what);
}

/* One SMALL message: a FIN, or inline chunks and BIG descriptors. */
static int take_small(struct wn_shuffle *sh, const char *msg, size_t len, wn_error_t *err)
{
    struct msg_hdr h;
    if (len < sizeof(h))
        return bad_message(sh, -1, "too short", err);
    memcpy(&h, msg, sizeof(h));
    if (h.magic != SHF_MAGIC || (int)h.src < 0 || (int)h.src >= sh->size || (int)h.src == sh->rank)
        return bad_message(sh, -1, "no shuffle header", err);
    if (h.round != sh->round)
        return shuffle_fail(sh, err,
                            "shuffle round %u: rank %d got a message of round %u from rank %d",
                            sh->round, sh->world[sh->rank], h.round, sh->world[h.src]);
    struct peer *p = &sh->peers[h.src];
    p->last_arrival = shuffle_now_s();
    if (h.flags & SHF_FIN) {
        if (p->fin_seen)
            return bad_message(sh, (int)h.src, "a second FIN", err);
        p->fin_seen = 1;
        p->expected = h.fin_count;
        return 0;
    }
    p->got++;
    size_t off = sizeof(h) + (size_t)h.nchunks * sizeof(struct chunk_desc);
    if (h.nchunks == 0 || off > len)
        return bad_message(sh, (int)h.src, "bad chunk count", err);
    const struct chunk_desc *d = (const struct chunk_desc *)(msg + sizeof(h));
    for (uint32_t i = 0; i < h.nchunks; i++) {
        struct chunk_desc c;
        memcpy(&c, &d[i], sizeof(c));
        if (c.part >= sh->nparts || (int)(c.part % (uint32_t)sh->size) != sh->rank)
            return bad_message(sh, (int)h.src, "a partition this rank does not own", err);
        if (c.flags & DESC_BIG) {
            struct recv_rec *r = calloc(1, sizeof(*r));
            if (!r)
                return shuffle_fail(sh, err, "shuffle round %u: out of memory", sh->round);
            r->src = (int)h.src;
            r->part = c.part;
            r->origin = c.origin;
            r->seq = c.seq;
            r->len = c.len;
            if (sh->big_wait_tail)
                sh->big_wait_tail->next = r;
            else
                sh->big_wait = r;
            sh->big_wait_tail = r;
            continue;
        }
        if (c.len > len - off)
            return bad_message(sh, (int)h.src, "truncated", err);
        if (shuffle_store(sh, c.part, c.origin, NULL, msg + off, c.len, err) != 0)
            return -1;
        off += c.len;
    }
    return 0;
}

/* Posts the BIG receives described so far, as memory allows (see the
 * top of shuffle.c). */
static int post_bigs(struct wn_shuffle *sh, wn_error_t *err)
{
    while (sh->big_wait) {
        struct recv_rec *r = sh->big_wait;
        if (sh->big_posted && sh->held + sh->big_posted_bytes + r->len > sh->memory_limit)
            break;
        if (!(r->buf = malloc(r->len)))
            return shuffle_fail(sh, err, "shuffle round %u: out of memory (%zu bytes)", sh->round,
                                r->len);
        sh->big_wait = r->next;
        if (!sh->big_wait)
            sh->big_wait_tail = NULL;
        r->next = sh->big_posted;
        sh->big_posted = r;
        sh->big_posted_bytes += r->len;
        note_held(sh);
        ucp_tag_t tag = TAG_BIG | ((ucp_tag_t)r->src << TAG_SRC_SHIFT) | r->seq;
        if (post_recv(sh, r, tag, ~(ucp_tag_t)0, r->len, err) != 0)
            return -1;
    }
    return 0;
}

int shuffle_reap_recvs(struct wn_shuffle *sh, int *did, wn_error_t *err)
{
    for (int i = 0; i < sh->nsmall; i++) {
        struct recv_rec *r = &sh->small[i];
        if (!r->done)
            continue;
        *did = 1;
        if (r->req)
            ucp_request_free(r->req);
        r->req = NULL;
        if (r->status != UCS_OK)
            return shuffle_fail(sh, err, "shuffle round %u: rank %d: a receive failed: %s",
                                sh->round, sh->world[sh->rank], ucs_status_string(r->status));
        if (take_small(sh, r->buf, r->got, err) != 0 || shuffle_post_small(sh, r, err) != 0)
            return -1;
    }
    for (struct recv_rec **rp = &sh->big_posted; *rp;) {
        struct recv_rec *r = *rp;
        if (!r->done) {
            rp = &r->next;
            continue;
        }
        *did = 1;
        *rp = r->next;
        if (r->req)
            ucp_request_free(r->req);
        sh->big_posted_bytes -= r->len;
        struct peer *p = &sh->peers[r->src];
        p->got++;
        p->last_arrival = shuffle_now_s();
        int rc = 0;
        if (r->status == UCS_OK && r->got != r->len)
            r->status = UCS_ERR_MESSAGE_TRUNCATED;
        if (r->status != UCS_OK)
            rc = shuffle_fail(
                sh, err, "shuffle round %u: rank %d: receiving from rank %d failed: %s", sh->round,
                sh->world[sh->rank], sh->world[r->src], ucs_status_string(r->status));
        else
            rc = shuffle_store(sh, r->part, r->origin, r->buf, r->buf, r->len, err);
        if (rc != 0 && r->status != UCS_OK)
            free(r->buf);
        free(r);
        if (rc != 0)
            return -1;
    }
    return post_bigs(sh, err);
}
