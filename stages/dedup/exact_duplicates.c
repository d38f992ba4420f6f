/* exact_duplicates.c - the `exact_duplicates` stage (NeMo Curator's exact duplicate
 * identification, made deterministic): documents with the same text.
 *
 * Insert: each document's text is hashed with the 128-bit XXH3; rows
 * (_hash_hi, _hash_lo, _curator_dedup_id) are shuffled by the hash, so
 * all copies of a text meet in one partition.  Extract: the partition's
 * rows sorted by (hash, id); every hash shared by two or more documents is
 * a group, labelled by its smallest id, which is kept.  Output rows, for
 * documents in a group only: _curator_dedup_id, _duplicate_group_id,
 * _kept - what identify_duplicates makes, so remove_duplicates follows
 * either.  Two different texts with the same 128-bit hash would be taken
 * for copies; at 2^-128 per pair that is left to chance, as NeMo does
 * with its MD5.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "builtin.h"

#define ID_COL "_curator_dedup_id"

struct exact {
    char *text_field;
};

static int ex_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct exact *e = calloc(1, sizeof(*e));
    if (!e || !(e->text_field = strdup(wn_params_str(params, "text_field")))) {
        free(e);
        return wn_errprintf(err, "out of memory");
    }
    wn_stage_set_data(st, e);
    const char *reads[] = {e->text_field, ID_COL, NULL},
               *writes[] = {ID_COL, "_duplicate_group_id", "_kept", NULL};
    if (wn_stage_set_columns(st, reads, writes, 0, err) < 0)
        return -1;
    return wn_stage_set_shuffle_key(st, "_hash_lo", err);
}

static void ex_fini(struct wn_stage *st)
{
    struct exact *e = wn_stage_data(st);
    if (e) {
        free(e->text_field);
        free(e);
    }
}

static int ex_insert(struct wn_stage *st, struct wn_task *const *in, size_t n,
                     struct wn_task_list *out, wn_error_t *err)
{
    const struct exact *e = wn_stage_data(st);
    for (size_t i = 0; i < n; i++) {
        const struct wn_batch *b = in[i]->batch;
        uint64_t rows = b ? wn_batch_nrows(b) : 0;
        const struct wn_column *text = rows ? wn_batch_find(b, e->text_field) : NULL;
        const struct wn_column *id = rows ? wn_batch_find(b, ID_COL) : NULL;
        if (rows && (!text || text->type != WN_TYPE_STR || !id || id->type != WN_TYPE_U64)) {
            errno = EINVAL;
            return wn_errprintf(err,
                                "input %zu: expected columns %s (str) and " ID_COL
                                " (u64), as read_jsonl makes them",
                                i, e->text_field);
        }
        struct wn_batch *o = wn_batch_create();
        struct wn_column *hi = NULL, *lo = NULL, *oid = NULL;
        if (!o || !(hi = wn_batch_add_column(o, "_hash_hi", WN_TYPE_U64, 1, err)) ||
            !(lo = wn_batch_add_column(o, "_hash_lo", WN_TYPE_U64, 1, err)) ||
            !(oid = wn_batch_add_column(o, ID_COL, WN_TYPE_U64, 1, err)) ||
            wn_col_resize(hi, rows, err) < 0 || wn_col_resize(lo, rows, err) < 0 ||
            wn_col_resize(oid, rows, err) < 0) {
            wn_batch_destroy(o);
            return o ? -1 : wn_errprintf(err, "out of memory");
        }
        uint64_t *h = wn_col_u64_mut(hi), *l = wn_col_u64_mut(lo), *d = wn_col_u64_mut(oid);
        for (uint64_t r = 0; r < rows; r++) {
            size_t len;
            const char *t = wn_col_str(text, r, &len);
            XXH128_hash_t x = XXH3_128bits(t, len);
            h[r] = x.high64;
            l[r] = x.low64;
            d[r] = wn_col_u64(id)[r];
        }
        if (wn_task_list_push_batch(out, o, err) < 0)
            return -1;
    }
    return 0;
}

struct hrow {
    uint64_t hi, lo, id;
};

static int cmp_hrow(const void *pa, const void *pb)
{
    const struct hrow *a = pa, *b = pb;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int ex_extract(struct wn_stage *st, uint32_t part, struct wn_batch **rows,
                      struct wn_task_list *out, wn_error_t *err)
{
    (void)st;
    (void)part;
    const struct wn_batch *b = *rows;
    uint64_t n = wn_batch_nrows(b);
    if (n == 0)
        return 0;
    const struct wn_column *hi = wn_batch_find(b, "_hash_hi");
    const struct wn_column *lo = wn_batch_find(b, "_hash_lo");
    const struct wn_column *id = wn_batch_find(b, ID_COL);
    if (!hi || !lo || !id) {
        errno = EINVAL;
        return wn_errprintf(err, "shuffled rows lack _hash_hi, _hash_lo or " ID_COL);
    }
    struct hrow *v = malloc(n * sizeof(*v));
    if (!v)
        return wn_errprintf(err, "out of memory");
    for (uint64_t r = 0; r < n; r++)
        v[r] = (struct hrow){wn_col_u64(hi)[r], wn_col_u64(lo)[r], wn_col_u64(id)[r]};
    qsort(v, n, sizeof(*v), cmp_hrow);
    struct wn_batch *o = wn_batch_create();
    struct wn_column *cid = NULL, *cg = NULL, *ck = NULL;
    int rc = 0;
    if (!o || !(cid = wn_batch_add_column(o, ID_COL, WN_TYPE_U64, 1, err)) ||
        !(cg = wn_batch_add_column(o, "_duplicate_group_id", WN_TYPE_U64, 1, err)) ||
        !(ck = wn_batch_add_column(o, "_kept", WN_TYPE_U8, 1, err)))
        rc = o ? -1 : wn_errprintf(err, "out of memory");
    for (uint64_t s = 0, e; rc == 0 && s < n; s = e) {
        for (e = s + 1; e < n && v[e].hi == v[s].hi && v[e].lo == v[s].lo; e++)
            ;
        if (e - s < 2)
            continue;
        for (uint64_t r = s; r < e && rc == 0; r++)
            if (wn_col_append_u64(cid, v[r].id, err) < 0 ||
                wn_col_append_u64(cg, v[s].id, err) < 0 || wn_col_append_u64(ck, r == s, err) < 0)
                rc = -1;
    }
    free(v);
    if (rc == 0 && wn_batch_nrows(o) == 0) {
        wn_batch_destroy(o);
        return 0;
    }
    if (rc < 0) {
        wn_batch_destroy(o);
        return -1;
    }
    return wn_task_list_push_batch(out, o, err);
}

static const struct wn_param_spec ex_params[] = {
    {"text_field", WN_PARAM_STRING, "${text_field}", "the text column compared"}, WN_PARAM_END};

const struct wn_stage_ops wn_stage_exact_duplicates_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "exact_duplicates",
    .flags = WN_STAGE_SHUFFLE,
    .help = "shuffle: documents with the same text (128-bit hash); smallest id kept",
    .params = ex_params,
    .init = ex_init,
    .process_batch = ex_insert,
    .fini = ex_fini,
    .extract = ex_extract,
};
