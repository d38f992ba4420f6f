/* connected_components.c - the duplicate graph's connected components, a
 * RAFT stage (NeMo Curator's ConnectedComponents): the members share their
 * edges over the clique (allgather), each finds the components with a
 * union-find and writes the rows of its slice of the sorted vertices: ID,
 * _duplicate_group_id (the smallest id of the component, which is what
 * lets identify_duplicates.c do without a shuffle).
 *
 * Every member holds all edges while it works (16 bytes an edge): a
 * graph of a billion edges needs a distributed algorithm instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

struct cc {
    char *id;
    char x[WN_NAME_MAX + 1], y[WN_NAME_MAX + 1];
    struct wn_clique *clique;
    int gpu;
};

static int cc_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct cc *c = calloc(1, sizeof(*c));
    const char *id = wn_params_str(params, "id_field");
    if (!c || !(c->id = strdup(id))) {
        free(c);
        return wn_errprintf(err, "out of memory");
    }
    wn_stage_set_data(st, c);
    if (strlen(id) + 2 > WN_NAME_MAX)
        return wn_params_refuse(params, "id_field", err,
                                "'%s' is too long for a column name "
                                "with _x / _y added",
                                id);
    snprintf(c->x, sizeof(c->x), "%s_x", id);
    snprintf(c->y, sizeof(c->y), "%s_y", id);
    const char *reads[] = {c->x, c->y, NULL}, *writes[] = {c->id, "_duplicate_group_id", NULL};
    return wn_stage_set_columns(st, reads, writes, 0, err);
}

static void cc_fini(struct wn_stage *st)
{
    struct cc *c = wn_stage_data(st);
    if (c) {
        free(c->id);
        free(c);
    }
}

static int cc_setup(struct wn_stage *st, const struct wn_worker *w, wn_error_t *err)
{
    struct cc *c = wn_stage_data(st);
    if (!w->clique) {
        errno = EINVAL;
        return wn_errprintf(err, "no clique (connected_components is a RAFT stage)");
    }
    c->clique = w->clique;
    c->gpu = w->gpu;
    return 0;
}

/* allgather of n u64 per member, through device memory on NCCL cliques. */
static int gather(struct cc *c, const uint64_t *send, uint64_t *recv, size_t n, wn_error_t *err)
{
    if (!wn_clique_on_gpu(c->clique))
        return wn_clique_allgather(c->clique, send, recv, n, WN_TYPE_U64, err);
    size_t size = (size_t)wn_clique_size(c->clique), bytes = n * sizeof(uint64_t);
    void *ds = NULL, *dr = NULL;
    int rc = wn_gpu_alloc(c->gpu, bytes, &ds, err);
    if (rc == 0)
        rc = wn_gpu_alloc(c->gpu, bytes * size, &dr, err);
    if (rc == 0)
        rc = wn_gpu_copy(c->gpu, ds, send, bytes, 1, err);
    if (rc == 0)
        rc = wn_clique_allgather(c->clique, ds, dr, n, WN_TYPE_U64, err);
    if (rc == 0)
        rc = wn_gpu_copy(c->gpu, recv, dr, bytes * size, 0, err);
    wn_gpu_free(c->gpu, ds);
    wn_gpu_free(c->gpu, dr);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of v in the sorted, distinct ids[0..n). */
static size_t index_of(const uint64_t *ids, size_t n, uint64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]]; /* path halving */
        i = parent[i];
    }
    return i;
}

static int cc_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    struct cc *c = wn_stage_data(st);
    size_t size = (size_t)wn_clique_size(c->clique), me = (size_t)wn_clique_rank(c->clique);
    /* This member's edges, as (x, y) pairs. */
    uint64_t mine = 0;
    for (size_t i = 0; i < n; i++)
        mine += in[i]->batch ? wn_batch_nrows(in[i]->batch) : 0;
    uint64_t *counts = calloc(size, sizeof(*counts));
    uint64_t *local = malloc((mine ? mine : 1) * 2 * sizeof(*local));
    int rc = counts && local ? 0 : wn_errprintf(err, "out of memory");
    uint64_t k = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct wn_batch *b = in[i]->batch;
        if (!b || wn_batch_nrows(b) == 0)
            continue;
        const struct wn_column *cx = wn_batch_find(b, c->x), *cy = wn_batch_find(b, c->y);
        const uint64_t *x = cx ? wn_col_u64(cx) : NULL, *y = cy ? wn_col_u64(cy) : NULL;
        if (!x || !y) {
            errno = EINVAL;
            rc = wn_errprintf(err, "input %zu: expected u64 edge columns %s and %s", i, c->x, c->y);
            break;
        }
        for (uint64_t r = 0; r < wn_batch_nrows(b); r++, k++) {
            local[2 * k] = x[r];
            local[2 * k + 1] = y[r];
        }
    }
    /* Everyone's edge counts: a member that failed sends UINT64_MAX, so
     * that every member stops here together instead of the others
     * waiting in the next collective for it. */
    if (counts) {
        uint64_t say = rc == 0 ? mine : UINT64_MAX;
        if (gather(c, &say, counts, 1, err) < 0)
            rc = -1;
    }
    uint64_t most = 0, total = 0;
    for (size_t m = 0; rc == 0 && m < size; m++) {
        if (counts[m] == UINT64_MAX) {
            errno = ECANCELED;
            rc = wn_errprintf(err, "clique member %zu failed", m);
            break;
        }
        most = counts[m] > most ? counts[m] : most;
        total += counts[m];
    }
    uint64_t *pad = NULL, *all = NULL;
    if (rc == 0) {
        pad = calloc(most ? 2 * most : 1, sizeof(*pad));
        all = malloc((most ? 2 * most : 1) * size * sizeof(*all));
        rc = pad && all ? 0 : wn_errprintf(err, "out of memory");
    }
    if (rc == 0 && most) {
        memcpy(pad, local, 2 * mine * sizeof(*pad));
        rc = gather(c, pad, all, 2 * most, err);
    }
    free(local);
    free(pad);
    /* The vertices, sorted and distinct; the edges packed together. */
    uint64_t *ids = rc == 0 ? malloc((total ? 2 * total : 1) * sizeof(*ids)) : NULL;
    size_t nv = 0;
    if (rc == 0 && !ids)
        rc = wn_errprintf(err, "out of memory");
    for (size_t m = 0, e = 0; rc == 0 && m < size; m++)
        for (uint64_t j = 0; j < counts[m]; j++, e++) {
            all[2 * e] = all[(m * most + j) * 2];
            all[2 * e + 1] = all[(m * most + j) * 2 + 1];
        }
    if (rc == 0) {
        memcpy(ids, all, 2 * total * sizeof(*ids));
        qsort(ids, 2 * total, sizeof(*ids), cmp_u64);
        for (size_t i = 0; i < 2 * total; i++)
            if (nv == 0 || ids[i] != ids[nv - 1])
                ids[nv++] = ids[i];
    }
    /* Union-find; the smaller index (id) becomes the root. */
    size_t *parent = rc == 0 ? malloc((nv ? nv : 1) * sizeof(*parent)) : NULL;
    if (rc == 0 && !parent)
        rc = wn_errprintf(err, "out of memory");
    for (size_t i = 0; rc == 0 && i < nv; i++)
        parent[i] = i;
    for (uint64_t e = 0; rc == 0 && e < total; e++) {
        size_t a = find(parent, index_of(ids, nv, all[2 * e]));
        size_t b = find(parent, index_of(ids, nv, all[2 * e + 1]));
        if (a != b)
            parent[a > b ? a : b] = a < b ? a : b;
    }
    /* This member's slice of the vertices. */
    size_t first = nv * me / size, last = nv * (me + 1) / size;
    struct wn_batch *o = rc == 0 ? wn_batch_create() : NULL;
    struct wn_column *cid = o ? wn_batch_add_column(o, c->id, WN_TYPE_U64, 1, err) : NULL;
    struct wn_column *cg =
        cid ? wn_batch_add_column(o, "_duplicate_group_id", WN_TYPE_U64, 1, err) : NULL;
    if (rc == 0 && (!cg || wn_col_resize(cid, last - first, err) < 0 ||
                    wn_col_resize(cg, last - first, err) < 0))
        rc = o ? -1 : wn_errprintf(err, "out of memory");
    for (size_t v = first; rc == 0 && v < last; v++) {
        wn_col_u64_mut(cid)[v - first] = ids[v];
        wn_col_u64_mut(cg)[v - first] = ids[find(parent, v)];
    }
    free(counts);
    free(all);
    free(ids);
    free(parent);
    if (rc < 0) {
        wn_batch_destroy(o);
        return -1;
    }
    return wn_task_list_push_batch(out, o, err);
}

static const struct wn_param_spec cc_params[] = {
    {"id_field", WN_PARAM_STRING, "_curator_dedup_id", "document id (edges: ID_x, ID_y)"},
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_connected_components_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "connected_components",
    .flags = WN_STAGE_ACTOR | WN_STAGE_RAFT,
    .help = "components of the duplicate graph over the clique; label = smallest id",
    .params = cc_params,
    .init = cc_init,
    .setup = cc_setup,
    .process_batch = cc_process,
    .fini = cc_fini,
};
