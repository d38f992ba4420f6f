/* clique_check.c - the `clique_check` RAFT test stage: every member sums a
 * column of its one batch, then exercises each clique collective (on
 * device buffers of its GPU when the clique is NCCL's) and
 * writes one row of what it saw, so tests can check the collectives'
 * results against the inputs:
 *   member, size            its place in the clique
 *   count, sum              of its own rows
 *   total_count, total_sum  allreduce (sum) over the clique
 *   min_count, max_count    allreduce (min, max)
 *   root_sum                member 0's sum, by bcast
 *   counts                  every member's count, by allgather (list)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "teststages.h"

struct cliquecheck {
    char *column;
    struct wn_clique *clique;
    int gpu;
};

static int cc_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct cliquecheck *c = calloc(1, sizeof(*c));
    if (!c || !(c->column = strdup(wn_params_str(params, "column")))) {
        free(c);
        return wn_errprintf(err, "out of memory");
    }
    wn_stage_set_data(st, c);
    return 0;
}

static void cc_fini(struct wn_stage *st)
{
    struct cliquecheck *c = wn_stage_data(st);
    if (c) {
        free(c->column);
        free(c);
    }
}

static int cc_setup(struct wn_stage *st, const struct wn_worker *w, wn_error_t *err)
{
    struct cliquecheck *c = wn_stage_data(st);
    if (!w->clique) {
        errno = EINVAL;
        return wn_errprintf(err, "no clique (is the stage type a RAFT stage?)");
    }
    c->clique = w->clique;
    c->gpu = w->gpu;
    return 0;
}

/* The collective on host values v[0..n): straight on MPI cliques, through
 * device memory on NCCL ones. */
struct dev {
    struct cliquecheck *c;
    void *buf;
    size_t cap;
};

static int to_dev(struct dev *d, const uint64_t *v, size_t n, size_t room, wn_error_t *err)
{
    if (room > d->cap) {
        wn_gpu_free(d->c->gpu, d->buf);
        d->buf = NULL;
        d->cap = 0;
        if (wn_gpu_alloc(d->c->gpu, room * sizeof(uint64_t), &d->buf, err) < 0)
            return -1;
        d->cap = room;
    }
    return wn_gpu_copy(d->c->gpu, d->buf, v, n * sizeof(uint64_t), 1, err);
}

static int allreduce(struct dev *d, uint64_t *v, size_t n, enum wn_redop op, wn_error_t *err)
{
    struct wn_clique *q = d->c->clique;
    if (!wn_clique_on_gpu(q))
        return wn_clique_allreduce(q, v, v, n, WN_TYPE_U64, op, err);
    if (to_dev(d, v, n, n, err) < 0 ||
        wn_clique_allreduce(q, d->buf, d->buf, n, WN_TYPE_U64, op, err) < 0)
        return -1;
    return wn_gpu_copy(d->c->gpu, v, d->buf, n * sizeof(uint64_t), 0, err);
}

static int allgather(struct dev *d, uint64_t v, uint64_t *all, wn_error_t *err)
{
    struct wn_clique *q = d->c->clique;
    size_t size = (size_t)wn_clique_size(q);
    if (!wn_clique_on_gpu(q))
        return wn_clique_allgather(q, &v, all, 1, WN_TYPE_U64, err);
    /* send at the start of the buffer, gathered after it */
    if (to_dev(d, &v, 1, 1 + size, err) < 0 ||
        wn_clique_allgather(q, d->buf, (uint64_t *)d->buf + 1, 1, WN_TYPE_U64, err) < 0)
        return -1;
    return wn_gpu_copy(d->c->gpu, all, (uint64_t *)d->buf + 1, size * sizeof(uint64_t), 0, err);
}

static int bcast(struct dev *d, uint64_t *v, wn_error_t *err)
{
    struct wn_clique *q = d->c->clique;
    if (!wn_clique_on_gpu(q))
        return wn_clique_bcast(q, v, 1, WN_TYPE_U64, 0, err);
    if (to_dev(d, v, 1, 1, err) < 0 || wn_clique_bcast(q, d->buf, 1, WN_TYPE_U64, 0, err) < 0)
        return -1;
    return wn_gpu_copy(d->c->gpu, v, d->buf, sizeof(uint64_t), 0, err);
}

/* The member's own count and sum of the column. */
static int local_sum(struct cliquecheck *c, struct wn_task *const *in, size_t n, uint64_t *count,
                     uint64_t *sum, wn_error_t *err)
{
    *count = *sum = 0;
    for (size_t i = 0; i < n; i++) {
        const struct wn_column *col = in[i]->batch ? wn_batch_find(in[i]->batch, c->column) : NULL;
        if (!col)
            continue;
        const uint64_t *v = wn_col_u64(col);
        if (!v) {
            errno = EINVAL;
            return wn_errprintf(err, "column '%s' is %s, expected u64", c->column,
                                wn_type_name(col->type));
        }
        uint64_t s = 0;
        for (uint64_t r = 0; r < col->nrows; r++)
            s += v[r];
        *count += col->nrows;
        *sum += s;
    }
    return 0;
}

static int cc_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    struct cliquecheck *c = wn_stage_data(st);
    struct wn_clique *q = c->clique;
    size_t size = (size_t)wn_clique_size(q);
    struct dev d = {c, NULL, 0};
    uint64_t count = 0, sum = 0, totals[2] = {0, 0}, minmax[2] = {0, 0}, root_sum = 0;
    uint64_t *counts = calloc(size, sizeof(*counts));
    int rc = counts ? local_sum(c, in, n, &count, &sum, err) : wn_errprintf(err, "out of memory");
    if (rc == 0) {
        totals[0] = count;
        totals[1] = sum;
        minmax[0] = count;
        minmax[1] = count;
        root_sum = sum;
        rc = allreduce(&d, totals, 2, WN_OP_SUM, err);
    }
    if (rc == 0)
        rc = allreduce(&d, &minmax[0], 1, WN_OP_MIN, err);
    if (rc == 0)
        rc = allreduce(&d, &minmax[1], 1, WN_OP_MAX, err);
    if (rc == 0)
        rc = allgather(&d, count, counts, err);
    if (rc == 0)
        rc = bcast(&d, &root_sum, err);
    if (rc == 0)
        rc = wn_clique_barrier(q, err);
    wn_gpu_free(c->gpu, d.buf);
    struct wn_batch *b = rc == 0 ? wn_batch_create() : NULL;
    if (rc == 0 && !b)
        rc = wn_errprintf(err, "out of memory");
    static const char *const names[] = {"member",    "size",        "count",
                                        "sum",       "total_count", "total_sum",
                                        "min_count", "max_count",   "root_sum"};
    const uint64_t values[] = {(uint64_t)wn_clique_rank(q),
                               size,
                               count,
                               sum,
                               totals[0],
                               totals[1],
                               minmax[0],
                               minmax[1],
                               root_sum};
    for (int k = 0; rc == 0 && k < 9; k++) {
        struct wn_column *col = wn_batch_add_column(b, names[k], WN_TYPE_U64, 1, err);
        rc = col ? wn_col_append_u64(col, values[k], err) : -1;
    }
    if (rc == 0) {
        struct wn_column *col =
            wn_batch_add_column(b, "counts", WN_TYPE_LIST_U64, (uint32_t)size, err);
        rc = col ? wn_col_append_list(col, counts, err) : -1;
    }
    free(counts);
    if (rc < 0) {
        wn_batch_destroy(b);
        return -1;
    }
    return wn_task_list_push_batch(out, b, err);
}

static const struct wn_param_spec cc_params[] = {
    {"column", WN_PARAM_STRING, "value", "u64 column each member sums"}, WN_PARAM_END};

const struct wn_stage_ops clique_check_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "clique_check",
    .flags = WN_STAGE_ACTOR | WN_STAGE_RAFT,
    .help = "RAFT test stage: sums a column per member and checks every clique collective",
    .params = cc_params,
    .init = cc_init,
    .setup = cc_setup,
    .process_batch = cc_process,
    .fini = cc_fini,
};
