/* buckets_to_edges.c - the `buckets_to_edges` stage (NeMo Curator's BucketsToEdges):
 * the lsh stage's buckets become the edges of the duplicate graph.
 *
 * Insert: each input task holds whole buckets (rows of _band, _bucket_id
 * and the document id, as the lsh stage writes them); each bucket's ids,
 * sorted, give the chain of edges (d0,d1), (d1,d2), ... (a bucket of k
 * documents: k-1 edges, enough to connect it).  The edges are shuffled by
 * their first id, so every copy of an edge (the same pair meets in many
 * bands) lands in one partition.  Extract: the partition's edges sorted,
 * each kept once.  Output columns: ID_x, ID_y (ID the id_field), x < y.
 *
 * jaccard_threshold t > 0 (NeMo Curator's Ray workflow has no such check):
 * an edge is kept only when the two documents' MinHash signatures agree in
 * at least a fraction t of their positions (an estimate of their Jaccard
 * similarity), which drops the pairs LSH lets in below the threshold.  The
 * signatures come with the lsh stage's rows (its keep_signatures, "auto",
 * turns on when this is set).  Within a bucket, document j is joined to
 * the first earlier document, in id order, that it agrees with and that is
 * not yet connected to it (a spanning forest of the checked pairs: at most
 * k-1 edges for k documents); in buckets of more than 256 documents j is
 * compared only with the first 256 component roots. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

struct edges {
    char *id;
    char *sig;                                   /* signature column (jaccard_threshold) */
    double threshold;                            /* 0: no check */
    char x[WN_NAME_MAX + 1], y[WN_NAME_MAX + 1]; /* the output columns */
};

static int be_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct edges *e = calloc(1, sizeof(*e));
    const char *id = wn_params_str(params, "id_field");
    if (!e || !(e->id = strdup(id))) {
        free(e);
        return wn_errprintf(err, "out of memory");
    }
    wn_stage_set_data(st, e);
    /* 0 turns the check off */
    if (wn_params_double_range(params, "jaccard_threshold", 0, 1, 0, &e->threshold, err) < 0)
        return -1;
    if (!(e->sig = strdup(wn_params_str(params, "minhash_field"))))
        return wn_errprintf(err, "out of memory");
    if (strlen(id) + 2 > WN_NAME_MAX)
        return wn_params_refuse(params, "id_field", err,
                                "'%s' is too long for a column name "
                                "with _x / _y added",
                                id);
    snprintf(e->x, sizeof(e->x), "%s_x", id);
    snprintf(e->y, sizeof(e->y), "%s_y", id);
    const char *reads[] = {"_band", "_bucket_id", e->id, e->threshold > 0 ? e->sig : NULL, NULL},
               *writes[] = {e->x, e->y, NULL};
    if (wn_stage_set_columns(st, reads, writes, 0, err) < 0)
        return -1;
    return wn_stage_set_shuffle_key(st, e->x, err);
}

static void be_fini(struct wn_stage *st)
{
    struct edges *e = wn_stage_data(st);
    if (e) {
        free(e->id);
        free(e->sig);
        free(e);
    }
}

struct bucket_row {
    uint32_t band;
    uint32_t row; /* in the input batch */
    uint64_t bucket, doc;
};

static int cmp_bucket_row(const void *pa, const void *pb)
{
    const struct bucket_row *a = pa, *b = pb;
    if (a->band != b->band)
        return a->band < b->band ? -1 : 1;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    return a->doc < b->doc ? -1 : a->doc > b->doc;
}

/* A new batch of the two edge columns, n rows to fill. */
static struct wn_batch *edge_batch(const struct edges *e, uint64_t n, uint64_t **x, uint64_t **y,
                                   wn_error_t *err)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *cx = b ? wn_batch_add_column(b, e->x, WN_TYPE_U64, 1, err) : NULL;
    struct wn_column *cy = cx ? wn_batch_add_column(b, e->y, WN_TYPE_U64, 1, err) : NULL;
    if (!cy || wn_col_resize(cx, n, err) < 0 || wn_col_resize(cy, n, err) < 0) {
        if (!b)
            wn_errprintf(err, "out of memory");
        wn_batch_destroy(b);
        return NULL;
    }
    *x = wn_col_u64_mut(cx);
    *y = wn_col_u64_mut(cy);
    return b;
}

/* Positions where rows a and b of the signature column agree. */
static uint32_t agreement(const struct wn_column *cs, uint32_t a, uint32_t b)
{
    uint32_t n = cs->list_len, same = 0;
    if (cs->type == WN_TYPE_LIST_U32) {
        const uint32_t *x = wn_col_u32(cs) + (size_t)a * n, *y = wn_col_u32(cs) + (size_t)b * n;
        for (uint32_t k = 0; k < n; k++)
            same += x[k] == y[k];
    } else {
        const uint64_t *x = wn_col_u64(cs) + (size_t)a * n, *y = wn_col_u64(cs) + (size_t)b * n;
        for (uint32_t k = 0; k < n; k++)
            same += x[k] == y[k];
    }
    return same;
}

static uint32_t uf_find(uint32_t *parent, uint32_t v)
{
    while (parent[v] != v) {
        parent[v] = parent[parent[v]];
        v = parent[v];
    }
    return v;
}

#define MAX_ROOTS 256

/* The checked edges of every bucket of the sorted rows r (see the top). */
static int checked_edges(const struct edges *e, const struct bucket_row *r, uint64_t rows,
                         const struct wn_column *cs, uint64_t *x, uint64_t *y, uint64_t *m,
                         wn_error_t *err)
{
    /* agree / n >= t, in integers (t n rounded up, a hair below for
     * thresholds like 0.8 * 260 = 208 that doubles miss by an ulp) */
    uint32_t need = (uint32_t)ceil(e->threshold * cs->list_len - 1e-9);
    uint32_t *parent = malloc(rows * sizeof(*parent));
    uint32_t *roots = malloc(MAX_ROOTS * sizeof(*roots));
    if (!parent || !roots) {
        free(parent);
        free(roots);
        return wn_errprintf(err, "out of memory");
    }
    for (uint64_t s = 0, end; s < rows; s = end) {
        for (end = s + 1; end < rows && r[end].band == r[s].band && r[end].bucket == r[s].bucket;
             end++)
            ;
        uint32_t k = (uint32_t)(end - s), nroots = 0;
        for (uint32_t j = 0; j < k; j++)
            parent[j] = j;
        for (uint32_t j = 0; j < k; j++) {
            const struct bucket_row *dj = &r[s + j];
            if (k <= MAX_ROOTS) {
                for (uint32_t i = 0; i < j; i++) {
                    const struct bucket_row *di = &r[s + i];
                    if (di->doc == dj->doc || uf_find(parent, i) == uf_find(parent, j) ||
                        agreement(cs, di->row, dj->row) < need)
                        continue;
                    parent[uf_find(parent, j)] = uf_find(parent, i);
                    x[*m] = di->doc;
                    y[(*m)++] = dj->doc;
                }
                continue;
            }
            int joined = 0;
            for (uint32_t q = 0; q < nroots && !joined; q++) {
                const struct bucket_row *di = &r[s + roots[q]];
                if (di->doc != dj->doc && agreement(cs, di->row, dj->row) >= need) {
                    x[*m] = di->doc;
                    y[(*m)++] = dj->doc;
                    joined = 1;
                }
            }
            if (!joined && nroots < MAX_ROOTS)
                roots[nroots++] = j;
        }
    }
    free(parent);
    free(roots);
    return 0;
}

/* Insert: the chains of edges of every bucket in each input. */
static int be_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    const struct edges *e = wn_stage_data(st);
    for (size_t i = 0; i < n; i++) {
        const struct wn_batch *b = in[i]->batch;
        uint64_t rows = b ? wn_batch_nrows(b) : 0;
        if (rows == 0)
            continue;
        const struct wn_column *cb = wn_batch_find(b, "_band");
        const struct wn_column *ck = wn_batch_find(b, "_bucket_id");
        const struct wn_column *cd = wn_batch_find(b, e->id);
        if (!cb || !ck || !cd || !wn_col_u32(cb) || !wn_col_u64(ck) || !wn_col_u64(cd)) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "input %zu: expected the lsh stage's columns _band "
                                "(u32), _bucket_id (u64) and %s (u64)",
                                i, e->id);
        }
        const struct wn_column *cs = e->threshold > 0 ? wn_batch_find(b, e->sig) : NULL;
        if (e->threshold > 0 &&
            (!cs || (cs->type != WN_TYPE_LIST_U32 && cs->type != WN_TYPE_LIST_U64))) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "input %zu: jaccard_threshold needs the signatures in "
                                "column '%s' (list<u32> or list<u64>): set the lsh stage's "
                                "keep_signatures",
                                i, e->sig);
        }
        if (rows > UINT32_MAX) {
            errno = EFBIG;
            return wn_errprintf(err, "input %zu: %llu rows (at most 2^32 - 1)", i,
                                (unsigned long long)rows);
        }
        struct bucket_row *r = malloc(rows * sizeof(*r));
        if (!r)
            return wn_errprintf(err, "out of memory");
        for (uint64_t k = 0; k < rows; k++)
            r[k] = (struct bucket_row){wn_col_u32(cb)[k], (uint32_t)k, wn_col_u64(ck)[k],
                                       wn_col_u64(cd)[k]};
        qsort(r, rows, sizeof(*r), cmp_bucket_row);
        uint64_t *x, *y, m = 0;
        struct wn_batch *o = edge_batch(e, rows, &x, &y, err);
        if (!o) {
            free(r);
            return -1;
        }
        if (cs) {
            if (checked_edges(e, r, rows, cs, x, y, &m, err) < 0) {
                free(r);
                wn_batch_destroy(o);
                return -1;
            }
        } else
            for (uint64_t k = 1; k < rows; k++)
                if (r[k].band == r[k - 1].band && r[k].bucket == r[k - 1].bucket &&
                    r[k].doc != r[k - 1].doc) {
                    x[m] = r[k - 1].doc;
                    y[m++] = r[k].doc;
                }
        free(r);
        if (wn_col_resize(wn_batch_find(o, e->x), m, err) < 0 ||
            wn_col_resize(wn_batch_find(o, e->y), m, err) < 0) {
            wn_batch_destroy(o);
            return -1;
        }
        if (wn_task_list_push_batch(out, o, err) < 0)
            return -1;
    }
    return 0;
}

struct edge {
    uint64_t x, y;
};

static int cmp_edge(const void *pa, const void *pb)
{
    const struct edge *a = pa, *b = pb;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    return a->y < b->y ? -1 : a->y > b->y;
}

/* Extract: the partition's edges, sorted, each once. */
static int be_extract(struct wn_stage *st, uint32_t part, struct wn_batch **rows,
                      struct wn_task_list *out, wn_error_t *err)
{
    const struct edges *e = wn_stage_data(st);
    (void)part;
    uint64_t n = wn_batch_nrows(*rows);
    if (n == 0)
        return 0;
    const uint64_t *cx = wn_col_u64(wn_batch_find(*rows, e->x));
    const uint64_t *cy = wn_col_u64(wn_batch_find(*rows, e->y));
    struct edge *v = malloc(n * sizeof(*v));
    if (!v)
        return wn_errprintf(err, "out of memory");
    for (uint64_t k = 0; k < n; k++)
        v[k] = (struct edge){cx[k], cy[k]};
    qsort(v, n, sizeof(*v), cmp_edge);
    uint64_t m = 0;
    for (uint64_t k = 0; k < n; k++)
        if (m == 0 || v[k].x != v[m - 1].x || v[k].y != v[m - 1].y)
            v[m++] = v[k];
    uint64_t *x, *y;
    struct wn_batch *o = edge_batch(e, m, &x, &y, err);
    if (o)
        for (uint64_t k = 0; k < m; k++) {
            x[k] = v[k].x;
            y[k] = v[k].y;
        }
    free(v);
    return o ? wn_task_list_push_batch(out, o, err) : -1;
}

static const struct wn_param_spec be_params[] = {
    {"id_field", WN_PARAM_STRING, "_curator_dedup_id", "u64 document id column"},
    {"jaccard_threshold", WN_PARAM_DOUBLE, "0",
     "keep an edge only if the signatures agree in this fraction of positions (0: off)"},
    {"minhash_field", WN_PARAM_STRING, "_minhash_signature",
     "signature column the lsh stage carries along (jaccard_threshold)"},
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_buckets_to_edges_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "buckets_to_edges",
    .flags = WN_STAGE_SHUFFLE,
    .help = "LSH buckets to duplicate-graph edges: chains of sorted ids, each edge once",
    .params = be_params,
    .init = be_init,
    .process_batch = be_process,
    .extract = be_extract,
    .fini = be_fini,
};
