/* plugin.c - the entry point of the test plugin t/plugins/teststages.so:
 * the stage types the test suite and the benchmarks build synthetic
 * pipelines from.  They are no part of the product (`winnow stages` does
 * not list them); a pipeline names them as a user names any plugin's
 * types, e.g. `type: teststages.so:noop` with t/plugins on
 * LD_LIBRARY_PATH, or the plugin's full path before the colon. */
#include <stddef.h>

#include "teststages.h"

WN_PLUGIN_DECLARE_ABI;

int wn_plugin_init_v1(struct wn_registry *reg, unsigned abi, wn_error_t *err);

int wn_plugin_init_v1(struct wn_registry *reg, unsigned abi, wn_error_t *err)
{
    static const struct wn_stage_ops *const types[] = {
        &noop_ops,  &sleep_ops,        &fail_ops,         &fanout_ops, &sum_ops,
        &probe_ops, &clique_check_ops, &lsh_testdata_ops, &wait_ops,
    };
    (void)abi;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (wn_plugin_add_stage(reg, types[i], err) < 0)
            return -1;
    return 0;
}
