/* clique.c - a RAFT stage's clique: MPI collectives handed to the thread
 * that owns MPI, or NCCL on the calling thread (see clique.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/clique.h"
#include "gpu/gpu.h"

enum op_kind { OP_ALLREDUCE = 1, OP_ALLGATHER, OP_BCAST, OP_BARRIER };

/* A collective handed to the owner thread. */
struct op {
    enum op_kind kind;
    const void *send;
    void *recv;
    int count;
    MPI_Datatype dt;
    MPI_Op mop;
    int root;
    MPI_Request req;
    int started, done, rc;
};

struct wn_clique {
    MPI_Comm comm;
    int rank, size;
    int world_rank;
    pthread_t owner;
    void *nccl; /* an NCCL clique, else NULL (MPI) */
    int gpu;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* an op finished */
    struct op *op;       /* handed over, not yet finished */
    void (*wake)(void *);
    void *wake_arg;
};

int wn_clique_rank(const struct wn_clique *c)
{
    return c->rank;
}

int wn_clique_size(const struct wn_clique *c)
{
    return c->size;
}

int wn_clique_on_gpu(const struct wn_clique *c)
{
    return c->nccl != NULL;
}

static int mpi_type(enum wn_type type, MPI_Datatype *dt)
{
    switch (type) {
    case WN_TYPE_U8:
        *dt = MPI_UINT8_T;
        return 0;
    case WN_TYPE_I32:
        *dt = MPI_INT32_T;
        return 0;
    case WN_TYPE_U32:
        *dt = MPI_UINT32_T;
        return 0;
    case WN_TYPE_I64:
        *dt = MPI_INT64_T;
        return 0;
    case WN_TYPE_U64:
        *dt = MPI_UINT64_T;
        return 0;
    case WN_TYPE_F64:
        *dt = MPI_DOUBLE;
        return 0;
    default:
        return -1;
    }
}

/* Starts op as a nonblocking collective (owner thread). */
static int start(struct wn_clique *c, struct op *o)
{
    switch (o->kind) {
    case OP_ALLREDUCE:
        return MPI_Iallreduce(o->send == o->recv ? MPI_IN_PLACE : o->send, o->recv, o->count, o->dt,
                              o->mop, c->comm, &o->req);
    case OP_ALLGATHER:
        return MPI_Iallgather(o->send, o->count, o->dt, o->recv, o->count, o->dt, c->comm, &o->req);
    case OP_BCAST:
        return MPI_Ibcast(o->recv, o->count, o->dt, o->root, c->comm, &o->req);
    case OP_BARRIER:
        return MPI_Ibarrier(c->comm, &o->req);
    }
    return MPI_ERR_OTHER;
}

int wn_clique_progress(struct wn_clique *c)
{
    if (!c || c->nccl)
        return 0;
    pthread_mutex_lock(&c->lock);
    struct op *o = c->op;
    int ended = 0;
    if (o && !o->done) {
        if (!o->started) {
            o->started = 1;
            o->rc = start(c, o);
            if (o->rc != MPI_SUCCESS)
                o->done = 1;
        }
        if (!o->done) {
            int flag = 0;
            o->rc = MPI_Test(&o->req, &flag, MPI_STATUS_IGNORE);
            o->done = flag || o->rc != MPI_SUCCESS;
        }
        if (o->done) {
            ended = 1;
            pthread_cond_broadcast(&c->cond);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return ended;
}

int wn_clique_busy(struct wn_clique *c)
{
    if (!c || c->nccl)
        return 0;
    pthread_mutex_lock(&c->lock);
    int busy = c->op && !c->op->done;
    pthread_mutex_unlock(&c->lock);
    return busy;
}

/* Runs o: blocking on the owner thread, else handed over and waited for. */
static int run(struct wn_clique *c, struct op *o, const char *what, wn_error_t *err)
{
    if (o->count < 0) {
        errno = EOVERFLOW;
        return wn_errprintf(err, "clique %s on rank %d: more than %d values", what, c->world_rank,
                            0x7fffffff);
    }
    if (pthread_equal(pthread_self(), c->owner)) {
        o->rc = start(c, o);
        if (o->rc == MPI_SUCCESS)
            o->rc = MPI_Wait(&o->req, MPI_STATUS_IGNORE);
    } else {
        pthread_mutex_lock(&c->lock);
        c->op = o;
        pthread_mutex_unlock(&c->lock);
        if (c->wake)
            c->wake(c->wake_arg);
        pthread_mutex_lock(&c->lock);
        while (!o->done)
            pthread_cond_wait(&c->cond, &c->lock);
        c->op = NULL;
        pthread_mutex_unlock(&c->lock);
    }
    if (o->rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(o->rc, text, &len);
        errno = EIO;
        return wn_errprintf(err, "clique %s on rank %d (member %d of %d): %s", what, c->world_rank,
                            c->rank, c->size, text);
    }
    return 0;
}

static int bad_type(const struct wn_clique *c, const char *what, enum wn_type type, wn_error_t *err)
{
    errno = EINVAL;
    return wn_errprintf(err, "clique %s on rank %d: type %s is not a fixed-width number", what,
                        c->world_rank, wn_type_name(type));
}

int wn_clique_allreduce(struct wn_clique *c, const void *send, void *recv, size_t count,
                        enum wn_type type, enum wn_redop op, wn_error_t *err)
{
    if (c->nccl)
        return wn_nccl_allreduce(c->nccl, send, recv, count, (int)type, (int)op, err);
    struct op o = {OP_ALLREDUCE,
                   send,
                   recv,
                   (int)count,
                   MPI_DATATYPE_NULL,
                   op == WN_OP_MIN   ? MPI_MIN
                   : op == WN_OP_MAX ? MPI_MAX
                                     : MPI_SUM,
                   0,
                   MPI_REQUEST_NULL,
                   0,
                   0,
                   0};
    if (mpi_type(type, &o.dt) < 0)
        return bad_type(c, "allreduce", type, err);
    if (count > 0x7fffffff)
        o.count = -1;
    return run(c, &o, "allreduce", err);
}

int wn_clique_allgather(struct wn_clique *c, const void *send, void *recv, size_t count,
                        enum wn_type type, wn_error_t *err)
{
    if (c->nccl)
        return wn_nccl_allgather(c->nccl, send, recv, count, (int)type, err);
    struct op o = {OP_ALLGATHER,     send, recv, (int)count, MPI_DATATYPE_NULL, MPI_OP_NULL, 0,
                   MPI_REQUEST_NULL, 0,    0,    0};
    if (mpi_type(type, &o.dt) < 0)
        return bad_type(c, "allgather", type, err);
    if (count > 0x7fffffff)
        o.count = -1;
    return run(c, &o, "allgather", err);
}

int wn_clique_bcast(struct wn_clique *c, void *buf, size_t count, enum wn_type type, int root,
                    wn_error_t *err)
{
    if (root < 0 || root >= c->size) {
        errno = EINVAL;
        return wn_errprintf(err, "clique bcast on rank %d: root %d of %d members", c->world_rank,
                            root, c->size);
    }
    if (c->nccl)
        return wn_nccl_bcast(c->nccl, buf, count, (int)type, root, err);
    struct op o = {OP_BCAST,         NULL, buf, (int)count, MPI_DATATYPE_NULL, MPI_OP_NULL, root,
                   MPI_REQUEST_NULL, 0,    0,   0};
    if (mpi_type(type, &o.dt) < 0)
        return bad_type(c, "bcast", type, err);
    if (count > 0x7fffffff)
        o.count = -1;
    return run(c, &o, "bcast", err);
}

int wn_clique_barrier(struct wn_clique *c, wn_error_t *err)
{
    if (c->nccl) {
        /* NCCL has no barrier: a one-value allreduce on the device. */
        void *d = NULL;
        if (wn_gpu_alloc(c->gpu, sizeof(uint64_t), &d, err) < 0)
            return -1;
        uint64_t zero = 0;
        int rc = wn_gpu_copy(c->gpu, d, &zero, sizeof(zero), 1, err);
        if (rc == 0)
            rc = wn_nccl_allreduce(c->nccl, d, d, 1, WN_TYPE_U64, WN_OP_SUM, err);
        wn_gpu_free(c->gpu, d);
        return rc;
    }
    struct op o = {OP_BARRIER,       NULL, NULL, 0, MPI_DATATYPE_NULL, MPI_OP_NULL, 0,
                   MPI_REQUEST_NULL, 0,    0,    0};
    return run(c, &o, "barrier", err);
}

struct wn_clique *wn_clique_create(MPI_Comm group_comm, const int *ranks, int n, int gpu,
                                   double timeout_s, void (*wake)(void *), void *wake_arg,
                                   wn_error_t *err)
{
    struct wn_clique *c = calloc(1, sizeof(*c));
    if (!c) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    MPI_Comm_rank(group_comm, &c->world_rank);
    c->owner = pthread_self();
    c->gpu = gpu;
    c->wake = wake;
    c->wake_arg = wake_arg;
    c->comm = MPI_COMM_NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    MPI_Group world, group;
    MPI_Comm_group(group_comm, &world);
    MPI_Group_incl(world, n, ranks, &group);
    /* Non-collective over group_comm: only the members call it. */
    int rc = MPI_Comm_create_group(group_comm, group, 0x7000, &c->comm);
    MPI_Group_free(&group);
    MPI_Group_free(&world);
    if (rc != MPI_SUCCESS || c->comm == MPI_COMM_NULL) {
        wn_errprintf(err, "rank %d: cannot make the clique's communicator", c->world_rank);
        wn_clique_destroy(c);
        return NULL;
    }
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    if (gpu < 0)
        return c;
    /* NCCL: member 0 makes the id, MPI carries it to the others. */
    char id[WN_NCCL_ID_BYTES];
    int ok = c->rank != 0 || wn_nccl_unique_id(id, err) == 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, c->comm);
    if (!ok) {
        if (c->rank != 0)
            wn_errprintf(err, "rank %d: the clique's member 0 could not make an NCCL id",
                         c->world_rank);
        wn_clique_destroy(c);
        return NULL;
    }
    MPI_Bcast(id, WN_NCCL_ID_BYTES, MPI_BYTE, 0, c->comm);
    if (wn_nccl_init(id, c->size, c->rank, gpu, timeout_s, &c->nccl, err) < 0) {
        wn_errprefix(err, "rank %d", c->world_rank);
        wn_clique_destroy(c);
        return NULL;
    }
    return c;
}

void wn_clique_destroy(struct wn_clique *c)
{
    if (!c)
        return;
    wn_nccl_destroy(c->nccl);
    if (c->comm != MPI_COMM_NULL)
        MPI_Comm_free(&c->comm);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
