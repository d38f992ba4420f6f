/* lsh.c - NeMo Curator's LSH on the runner's shuffle: each document's
 * MinHash signature cut into bands, one row per (band, bucket, document),
 * shuffled by bucket, buckets of two or more documents kept;
 * bands_per_iteration bands per round.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "builtin.h"

struct lsh {
    long long bands, rows_per_band, per_round;
    char *sig, *id;
    int keep_sig; /* rows carry the whole signature too */
};

static void lsh_fini(struct wn_stage *st)
{
    struct lsh *l = wn_stage_data(st);
    if (l) {
        free(l->sig);
        free(l->id);
        free(l);
    }
}

/* 1 when the pipeline file or --set gave parameter key a value. */
static int param_given(const struct wn_params *params, const char *key)
{
    for (size_t k = 0; k < wn_params_count(params); k++)
        if (!strcmp(wn_params_key(params, k), key))
            return !wn_params_is_default(params, k);
    return 0;
}

/* The band layout goes with the minhash stage before this one: num_bands
 * or minhashes_per_band not given here is taken from it, and the two must
 * cut a signature of its length, or the pipeline is refused now rather
 * than failing at the first lsh batch. */
static int band_layout(struct wn_stage *st, const struct wn_params *params, struct lsh *l,
                       wn_error_t *err)
{
    const char *name = NULL;
    const char *b = wn_stage_earlier_param(st, "minhash", "num_bands", &name);
    const char *r = wn_stage_earlier_param(st, "minhash", "minhashes_per_band", NULL);
    if (!b || !r)
        return 0;
    long long mb = strtoll(b, NULL, 10), mr = strtoll(r, NULL, 10);
    if (!param_given(params, "num_bands"))
        l->bands = mb;
    if (!param_given(params, "minhashes_per_band"))
        l->rows_per_band = mr;
    if (l->bands * l->rows_per_band != mb * mr)
        return wn_params_refuse(
            params, param_given(params, "num_bands") ? "num_bands" : "minhashes_per_band", err,
            "'num_bands' x 'minhashes_per_band': %lld x %lld = %lld "
            "signature values, but stage '%s' (minhash) makes %lld x %lld "
            "= %lld: give both stages the same values, or leave them out "
            "of this one to take minhash's",
            l->bands, l->rows_per_band, l->bands * l->rows_per_band, name, mb, mr, mb * mr);
    return 0;
}

static int lsh_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct lsh *l = calloc(1, sizeof(*l));
    if (!l)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, l);
    if (wn_params_int(params, "num_bands", &l->bands, err) < 0 ||
        wn_params_int(params, "minhashes_per_band", &l->rows_per_band, err) < 0 ||
        wn_params_int(params, "bands_per_iteration", &l->per_round, err) < 0 ||
        band_layout(st, params, l, err) < 0)
        return -1;
    if (!param_given(params, "bands_per_iteration") && l->per_round > l->bands)
        l->per_round = l->bands;
    /* A round per bands_per_iteration bands, at most 65536 of them
     * (wn_stage_set_rounds). */
    if (l->bands < 1 || l->bands > 65536)
        return wn_params_refuse(params, "num_bands", err, "must be from 1 to 65536, got %lld",
                                l->bands);
    if (l->rows_per_band < 1 || l->rows_per_band > 4096)
        return wn_params_refuse(params, "minhashes_per_band", err,
                                "must be from 1 to 4096, "
                                "got %lld",
                                l->rows_per_band);
    if (l->per_round < 1 || l->per_round > l->bands)
        return wn_params_refuse(params, "bands_per_iteration", err,
                                "must be from 1 to "
                                "num_bands (%lld), got %lld",
                                l->bands, l->per_round);
    if (!(l->sig = strdup(wn_params_str(params, "minhash_field"))) ||
        !(l->id = strdup(wn_params_str(params, "id_field"))))
        return wn_errprintf(err, "out of memory");
    /* Signatures along: asked for, or "auto" and a later buckets_to_edges
     * checks candidate pairs with them. */
    const char *keep = wn_params_str(params, "keep_signatures");
    if (!strcmp(keep, "true"))
        l->keep_sig = 1;
    else if (!strcmp(keep, "auto")) {
        const char *t = wn_stage_later_param(st, "buckets_to_edges", "jaccard_threshold");
        l->keep_sig = t && strtod(t, NULL) > 0;
    } else if (strcmp(keep, "false"))
        return wn_params_refuse(params, "keep_signatures", err, "'%s' (auto, true or false)", keep);
    uint32_t rounds = (uint32_t)((l->bands + l->per_round - 1) / l->per_round);
    const char *reads[] = {l->sig, l->id, NULL},
               *writes[] = {"_band", "_bucket_id", l->id, l->keep_sig ? l->sig : NULL, NULL};
    if (wn_stage_set_rounds(st, rounds, err) < 0 ||
        wn_stage_set_shuffle_key(st, "_bucket_id", err) < 0 ||
        wn_stage_set_columns(st, reads, writes, 0, err) < 0)
        return -1;
    return 0;
}

/* Insert, round r: one row per (band of this round, document): the band
 * number, the bucket (a 64-bit hash of the band's signature values,
 * seeded with the band number) and the document id; with keep_signatures,
 * the document's whole signature as well (num_bands times the bytes). */
static int lsh_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                       struct wn_task_list *out, wn_error_t *err)
{
    const struct lsh *l = wn_stage_data(st);
    long long first = (long long)wn_stage_round(st) * l->per_round;
    long long last = first + l->per_round < l->bands ? first + l->per_round : l->bands;
    uint32_t width = (uint32_t)(l->bands * l->rows_per_band);
    for (size_t i = 0; i < n; i++) {
        const struct wn_batch *b = in[i]->batch;
        uint64_t nrows = b ? wn_batch_nrows(b) : 0;
        if (nrows == 0)
            continue;
        const struct wn_column *sig = wn_batch_find(b, l->sig);
        const struct wn_column *id = wn_batch_find(b, l->id);
        errno = EINVAL;
        if (!sig || (sig->type != WN_TYPE_LIST_U32 && sig->type != WN_TYPE_LIST_U64) ||
            sig->list_len != width)
            return wn_errprintf(err,
                                "input %zu: column '%s' must be list<u32> or list<u64> "
                                "of num_bands * minhashes_per_band = %u values%s",
                                i, l->sig, width, sig ? "" : " (there is no such column)");
        if (!id || id->type != WN_TYPE_U64)
            return wn_errprintf(err, "input %zu: column '%s' must be u64%s", i, l->id,
                                id ? "" : " (there is no such column)");
        struct wn_batch *o = wn_batch_create();
        struct wn_column *cb = o ? wn_batch_add_column(o, "_band", WN_TYPE_U32, 1, err) : NULL;
        struct wn_column *ck =
            cb ? wn_batch_add_column(o, "_bucket_id", WN_TYPE_U64, 1, err) : NULL;
        struct wn_column *cd = ck ? wn_batch_add_column(o, l->id, WN_TYPE_U64, 1, err) : NULL;
        struct wn_column *cs =
            cd && l->keep_sig ? wn_batch_add_column(o, l->sig, sig->type, width, err) : NULL;
        uint64_t nout = nrows * (uint64_t)(last - first);
        if (!cd || (l->keep_sig && (!cs || wn_col_resize(cs, nout, err) < 0)) ||
            wn_col_resize(cb, nout, err) < 0 || wn_col_resize(ck, nout, err) < 0 ||
            wn_col_resize(cd, nout, err) < 0) {
            wn_batch_destroy(o);
            return o ? -1 : wn_errprintf(err, "out of memory");
        }
        uint32_t *band = wn_col_u32_mut(cb);
        uint64_t *bucket = wn_col_u64_mut(ck), *doc = wn_col_u64_mut(cd);
        const uint64_t *ids = wn_col_u64(id);
        size_t w = wn_type_width(sig->type), bandbytes = (size_t)l->rows_per_band * w;
        uint64_t k = 0;
        for (uint64_t r = 0; r < nrows; r++) {
            const char *row = (const char *)sig->data + (size_t)r * width * w;
            for (long long j = first; j < last; j++, k++) {
                band[k] = (uint32_t)j;
                bucket[k] =
                    XXH3_64bits_withSeed(row + (size_t)j * bandbytes, bandbytes, (uint64_t)j);
                doc[k] = ids[r];
                if (cs)
                    memcpy((char *)cs->data + (size_t)k * width * w, row, (size_t)width * w);
            }
        }
        if (wn_task_list_push_batch(out, o, err) < 0)
            return -1;
    }
    return 0;
}

struct lsh_key {
    uint32_t band;
    uint32_t row;
    uint64_t bucket, doc;
};

static int cmp_lsh_key(const void *x, const void *y)
{
    const struct lsh_key *a = x, *b = y;
    if (a->band != b->band)
        return a->band < b->band ? -1 : 1;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->doc != b->doc)
        return a->doc < b->doc ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Extract: the partition's rows sorted by (band, bucket, document); the
 * buckets holding two or more documents, as one output task. */
static int lsh_extract(struct wn_stage *st, uint32_t part, struct wn_batch **rows,
                       struct wn_task_list *out, wn_error_t *err)
{
    const struct lsh *l = wn_stage_data(st);
    (void)part;
    uint64_t n = wn_batch_nrows(*rows);
    if (n == 0)
        return 0;
    const struct wn_column *cb = wn_batch_find(*rows, "_band");
    const struct wn_column *ck = wn_batch_find(*rows, "_bucket_id");
    const struct wn_column *cd = wn_batch_find(*rows, l->id);
    if (!cb || !ck || !cd || n > UINT32_MAX) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "partition rows without the _band, _bucket_id and %s "
                            "columns",
                            l->id);
    }
    struct lsh_key *keys = malloc(n * sizeof(*keys));
    uint32_t *keep = malloc(n * sizeof(*keep));
    if (!keys || !keep) {
        free(keys);
        free(keep);
        return wn_errprintf(err, "out of memory");
    }
    const uint32_t *band = wn_col_u32(cb);
    const uint64_t *bucket = wn_col_u64(ck), *doc = wn_col_u64(cd);
    for (uint64_t r = 0; r < n; r++)
        keys[r] = (struct lsh_key){band[r], (uint32_t)r, bucket[r], doc[r]};
    qsort(keys, n, sizeof(*keys), cmp_lsh_key);
    size_t nkeep = 0;
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i + 1;
        while (j < n && keys[j].band == keys[i].band && keys[j].bucket == keys[i].bucket)
            j++;
        if (j - i >= 2)
            for (uint64_t k = i; k < j; k++)
                keep[nkeep++] = keys[k].row;
        i = j;
    }
    free(keys);
    int rc = 0;
    if (nkeep) {
        struct wn_batch *b = wn_batch_take(*rows, keep, nkeep, err);
        rc = b ? wn_task_list_push_batch(out, b, err) : -1;
    }
    free(keep);
    return rc;
}

static const struct wn_param_spec lsh_params[] = {
    {"num_bands", WN_PARAM_INT, "20",
     "bands each signature is cut into (left out: an earlier minhash stage's)"},
    {"minhashes_per_band", WN_PARAM_INT, "13",
     "signature values per band (left out: an earlier minhash stage's)"},
    {"bands_per_iteration", WN_PARAM_INT, "5", "bands shuffled per round"},
    {"minhash_field", WN_PARAM_STRING, "_minhash_signature",
     "list<u32> or list<u64> column of num_bands * minhashes_per_band values"},
    {"id_field", WN_PARAM_STRING, "_curator_dedup_id", "u64 document id column"},
    {"keep_signatures", WN_PARAM_STRING, "auto",
     "rows carry the whole signature (for buckets_to_edges' jaccard_threshold): true, "
     "false, or auto (when a later buckets_to_edges has jaccard_threshold set)"},
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_lsh_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "lsh",
    .flags = WN_STAGE_ACTOR | WN_STAGE_SHUFFLE | WN_STAGE_LSH,
    .help = "LSH buckets of MinHash signatures, band by band (rows: _band, _bucket_id, id)",
    .params = lsh_params,
    .init = lsh_init,
    .process_batch = lsh_process,
    .extract = lsh_extract,
    .fini = lsh_fini,
};
