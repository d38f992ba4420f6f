/* shuffle.c - the repartition stage on the runner's shuffle: rows go to
 * the partition of their key column's hash; each partition is one output
 * task.
 */
#include <stddef.h>

#include "builtin.h"

static int shuffle_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    const char *key = wn_params_str(params, "key");
    if (!*key)
        return wn_params_refuse(params, "key", err, "empty (name the column to partition by)");
    return wn_stage_set_shuffle_key(st, key, err);
}

/* Insert: the rows as they are (the runner partitions them by key). */
static int shuffle_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                           struct wn_task_list *out, wn_error_t *err)
{
    (void)st;
    for (size_t i = 0; i < n; i++) {
        struct wn_batch *b = wn_task_take_batch(in[i]);
        if (b && wn_task_list_push_batch(out, b, err) < 0)
            return -1;
    }
    return 0;
}

static const struct wn_param_spec shuffle_params[] = {
    {"key", WN_PARAM_STRING, "value", "column whose values' hash picks the partition"},
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_shuffle_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "shuffle",
    .flags = WN_STAGE_SHUFFLE,
    .help = "repartition rows by the hash of a key column (total_nparts partitions)",
    .params = shuffle_params,
    .init = shuffle_init,
    .process_batch = shuffle_process,
};
