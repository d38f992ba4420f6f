/* identify_duplicates.c - per row of connected_components' output, _kept
 * = 1 for the component's smallest id (the document kept), 0 for the
 * duplicates; since components are labelled by their smallest id this
 * needs no shuffle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
static int id_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    char *id = strdup(wn_params_str(params, "id_field"));
    if (!id)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, id);
    const char *reads[] = {id, "_duplicate_group_id", NULL}, *writes[] = {"_kept", NULL};
    return wn_stage_set_columns(st, reads, writes, WN_COLUMNS_PASS, err);
}

static void id_fini(struct wn_stage *st)
{
    free(wn_stage_data(st));
}

static int id_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    const char *idf = wn_stage_data(st);
    for (size_t i = 0; i < n; i++) {
        struct wn_batch *b = wn_task_take_batch(in[i]);
        if (!b)
            continue;
        const struct wn_column *cid = wn_batch_find(b, idf);
        const struct wn_column *cg = wn_batch_find(b, "_duplicate_group_id");
        const uint64_t *id = cid ? wn_col_u64(cid) : NULL;
        const uint64_t *g = cg ? wn_col_u64(cg) : NULL;
        uint64_t rows = wn_batch_nrows(b);
        struct wn_column *ck = id && g ? wn_batch_add_column(b, "_kept", WN_TYPE_U8, 1, err) : NULL;
        if (!ck || wn_col_resize(ck, rows, err) < 0) {
            wn_batch_destroy(b);
            if (!id || !g) {
                errno = EINVAL;
                return wn_errprintf(err,
                                    "input %zu: expected u64 columns %s and "
                                    "_duplicate_group_id (connected_components' output)",
                                    i, idf);
            }
            return -1;
        }
        uint8_t *kept = wn_col_u8_mut(ck);
        for (uint64_t r = 0; r < rows; r++)
            kept[r] = id[r] == g[r];
        if (wn_task_list_push_batch(out, b, err) < 0)
            return -1;
    }
    return 0;
}

static const struct wn_param_spec id_params[] = {
    {"id_field", WN_PARAM_STRING, "_curator_dedup_id", "document id column"}, WN_PARAM_END};

const struct wn_stage_ops wn_stage_identify_duplicates_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "identify_duplicates",
    .help = "marks each component's smallest id kept (_kept 1), the rest duplicates",
    .params = id_params,
    .init = id_init,
    .process_batch = id_process,
    .fini = id_fini,
};
