/* shuffle_impl.h - private glue between the shuffle's files: a round's
 * state, the protocol's sizes, tag layout and message headers, and the
 * functions one file calls in the other.  Not installed; nothing outside
 * the shuffle includes it.
 *
 *   shuffle.c       the entry points (shuffle.h): the UCP context, a
 *                   round's progress, insert, extract and stats, create
 *                   and destroy, connecting the peers; its top comment
 *                   describes the wire format and the memory accounting
 *   shuffle_xfer.c  the data movement: storing received chunks (and
 *                   spilling), sending, receiving
 */
#ifndef WN_SHUFFLE_IMPL_H
#define WN_SHUFFLE_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ucp/api/ucp.h>

#include "net/shuffle.h"

#define SHF_MAGIC 0x57534846u /* "WSHF" */
#define SHF_FIN 1u
#define SMALL_MAX (256u << 10) /* a coalesced message, at most */
#define BIG_MIN (32u << 10)    /* a chunk this large goes on its own */
#define SMALL_POSTED_PER_PEER 4
#define COALESCE_WAIT_S 200e-6 /* a partial message waits this long for more */

#define TAG_KIND_SHIFT 60
#define TAG_KIND_MASK (UINT64_C(0xf) << TAG_KIND_SHIFT)
#define TAG_SMALL (UINT64_C(1) << TAG_KIND_SHIFT)
#define TAG_BIG (UINT64_C(2) << TAG_KIND_SHIFT)
#define TAG_SRC_SHIFT 40
#define TAG_SRC_MAX (1 << 20)
#define TAG_SEQ_MASK ((UINT64_C(1) << TAG_SRC_SHIFT) - 1)

struct msg_hdr {
    uint32_t magic, round, src, flags;
    uint32_t nchunks, pad;
    uint64_t fin_count; /* SHF_FIN: data messages sent to this peer */
};

#define DESC_BIG 1u
struct chunk_desc {
    uint32_t part, flags;
    uint64_t origin, len;
    uint64_t seq; /* DESC_BIG: the BIG message's sequence number */
};

/* A chunk waiting in the sender's queue for one peer. */
struct qchunk {
    struct qchunk *next;
    uint32_t part;
    uint64_t origin;
    void *buf;
    size_t len;
    double t_queued;
};

/* A posted send: its buffer is freed once UCX is done with it. */
struct send_rec {
    struct send_rec *next;
    int peer, done;
    ucs_status_t status;
    void *req, *buf;
    size_t bytes;
    double t_posted;
};

/* A posted receive (SMALL buffers, BIG chunks). */
struct recv_rec {
    struct recv_rec *next;
    int done;
    ucs_status_t status;
    void *req, *buf;
    size_t len; /* buffer's (BIG: the chunk's) length */
    size_t got; /* received length */
    int src;
    uint32_t part;
    uint64_t origin, seq;
};

struct chunk_rec {
    uint64_t origin, len;
    void *mem; /* NULL when spilled (or empty) */
    off_t off; /* spill offset */
};

struct part_store {
    struct chunk_rec *v;
    size_t n, cap;
};

struct peer {
    int rank;
    ucp_ep_h ep;
    ucs_status_t ep_status; /* set by the error callback */
    struct qchunk *qhead, *qtail;
    size_t qsmall; /* descriptor and inline bytes queued */
    size_t inflight;
    uint64_t sent_msgs, big_seq;
    int fin_sent;
    /* receiving from this peer */
    int fin_seen;
    uint64_t expected, got;
    double last_arrival;
};

struct wn_shuffle {
    MPI_Comm comm;
    int rank, size;
    uint32_t round, nparts;
    size_t inflight_cap, memory_limit;
    double timeout_s;
    int *world;
    int *same_host;
    ucp_worker_h worker;
    struct peer *peers;
    struct send_rec *sends; /* in flight */
    struct recv_rec *small; /* posted SMALL buffers */
    int nsmall;
    struct recv_rec *big_wait, *big_wait_tail; /* described, not posted */
    struct recv_rec *big_posted;
    size_t big_posted_bytes;
    struct part_store *parts; /* owned partitions: p / size */
    size_t queued, held;
    char *spill_dir;
    int spill_fd;
    off_t spill_end;
    int finished;
    double t_finished;
    int failed;
    wn_error_t error;
    struct wn_shuffle_stats st;
};

/* shuffle_xfer.c (shuffle.c calls it; it calls nothing in shuffle.c) */
double shuffle_now_s(void);
/* Records the round's first error; later calls report the same one. */
int shuffle_fail(struct wn_shuffle *sh, wn_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int shuffle_store(struct wn_shuffle *sh, uint32_t part, uint64_t origin, void *owned,
                  const void *data, size_t len, wn_error_t *err);
int shuffle_flush_peer(struct wn_shuffle *sh, struct peer *p, int force, wn_error_t *err);
int shuffle_reap_sends(struct wn_shuffle *sh, int *did, wn_error_t *err);
int shuffle_post_small(struct wn_shuffle *sh, struct recv_rec *r, wn_error_t *err);
int shuffle_reap_recvs(struct wn_shuffle *sh, int *did, wn_error_t *err);

#endif /* WN_SHUFFLE_IMPL_H */
