/* lsh_testdata.c - a test source of documents with MinHash-like
 * signatures, some copies and near copies of others, for tests and
 * benchmarks of the lsh stage: which pairs must meet is known.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "teststages.h"

struct testdata {
    long long tasks, rows, length, seed, copy_every, near_every, near_bands, band_len;
};

static void testdata_fini(struct wn_stage *st)
{
    free(wn_stage_data(st));
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int testdata_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct testdata *d = calloc(1, sizeof(*d));
    if (!d)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, d);
    /* Each task holds rows x length 4-byte values: at most 2^28 (1 GiB),
     * and a signature no longer than minhash's (2^20 values). */
    static const struct {
        const char *key;
        long long min, max;
    } r[] = {{"tasks", 1, 1 << 24},        {"rows", 0, 1 << 20},
             {"length", 1, 1 << 20},       {"seed", LLONG_MIN, LLONG_MAX},
             {"copy_every", 0, LLONG_MAX}, {"near_every", 0, LLONG_MAX},
             {"near_bands", 0, LLONG_MAX}, {"band_len", 1, 4096}};
    long long *v[] = {&d->tasks,      &d->rows,       &d->length,     &d->seed,
                      &d->copy_every, &d->near_every, &d->near_bands, &d->band_len};
    for (int i = 0; i < 8; i++)
        if (wn_params_int_range(params, r[i].key, r[i].min, r[i].max, v[i], err) < 0)
            return -1;
    if (d->rows * d->length > (1ll << 28))
        return wn_params_refuse(params, "rows", err,
                                "%lld x length %lld = %lld values per "
                                "task (at most 2^28, 1 GiB)",
                                d->rows, d->length, d->rows * d->length);
    if (d->length % d->band_len)
        return wn_params_refuse(params, "length", err,
                                "%lld is not a multiple of band_len "
                                "(%lld)",
                                d->length, d->band_len);
    if (d->near_bands > d->length / d->band_len)
        return wn_params_refuse(params, "near_bands", err,
                                "%lld is more than the %lld bands "
                                "(length / band_len)",
                                d->near_bands, d->length / d->band_len);
    return 0;
}

/* Value k of document i's signature: random from (seed, document, k),
 * where a copy (every copy_every-th document, i > 0) takes all of document
 * i-1's values and a near copy (every near_every-th) all but those of the
 * first near_bands bands. */
static uint32_t testdata_value(const struct testdata *d, uint64_t i, long long k)
{
    uint64_t j = i;
    while (j > 0) { /* back along the chain of copies (every 1: to 0) */
        if (d->copy_every && j % (uint64_t)d->copy_every == 0)
            j = d->copy_every == 1 ? 0 : j - 1;
        else if (d->near_every && j % (uint64_t)d->near_every == 0 &&
                 k >= d->near_bands * d->band_len)
            j = d->near_every == 1 ? 0 : j - 1;
        else
            break;
    }
    return (uint32_t)mix64(mix64((uint64_t)d->seed ^ (j << 20)) + (uint64_t)k);
}

static int testdata_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                            struct wn_task_list *out, wn_error_t *err)
{
    const struct testdata *d = wn_stage_data(st);
    (void)in;
    for (size_t s = 0; s < n; s++)
        for (long long t = 0; t < d->tasks; t++) {
            struct wn_batch *b = wn_batch_create();
            struct wn_column *cid =
                b ? wn_batch_add_column(b, "_curator_dedup_id", WN_TYPE_U64, 1, err) : NULL;
            struct wn_column *cs =
                cid ? wn_batch_add_column(b, "_minhash_signature", WN_TYPE_LIST_U32,
                                          (uint32_t)d->length, err)
                    : NULL;
            if (!cs || wn_col_resize(cid, (uint64_t)d->rows, err) < 0 ||
                wn_col_resize(cs, (uint64_t)d->rows, err) < 0) {
                wn_batch_destroy(b);
                return b ? -1 : wn_errprintf(err, "out of memory");
            }
            uint64_t *ids = wn_col_u64_mut(cid);
            uint32_t *sig = wn_col_u32_mut(cs);
            for (long long r = 0; r < d->rows; r++) {
                uint64_t i = ((uint64_t)s * (uint64_t)d->tasks + (uint64_t)t) * (uint64_t)d->rows +
                             (uint64_t)r;
                ids[r] = i;
                for (long long k = 0; k < d->length; k++)
                    sig[(size_t)r * (size_t)d->length + (size_t)k] = testdata_value(d, i, k);
            }
            if (wn_task_list_push_batch(out, b, err) < 0)
                return -1;
        }
    return 0;
}

static const struct wn_param_spec testdata_params[] = {
    {"tasks", WN_PARAM_INT, "8", "output tasks"},
    {"rows", WN_PARAM_INT, "100", "documents per task"},
    {"length", WN_PARAM_INT, "260", "signature values per document"},
    {"band_len", WN_PARAM_INT, "13", "values per band (for near_bands)"},
    {"seed", WN_PARAM_INT, "42", "random seed"},
    {"copy_every", WN_PARAM_INT, "10", "document i copies i-1 when i is a multiple (0: never)"},
    {"near_every", WN_PARAM_INT, "7",
     "document i copies i-1 but for near_bands bands when i is a multiple (0: never)"},
    {"near_bands", WN_PARAM_INT, "5", "bands a near copy differs in (the first ones)"},
    WN_PARAM_END};

const struct wn_stage_ops lsh_testdata_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "lsh_testdata",
    .flags = WN_STAGE_FANOUT,
    .help = "test source: documents with random signatures, copies and near copies",
    .params = testdata_params,
    .init = testdata_init,
    .process_batch = testdata_process,
    .fini = testdata_fini,
};
