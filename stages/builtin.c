/* builtin.c - the table of built-in stage types (see builtin.h). */
#include <stddef.h>

#include "builtin.h"

const struct wn_stage_ops *const wn_builtin_stages[] = {
    /* test_stages.c: synthetic sources, work, failures and checks */
    &wn_stage_noop_ops,
    &wn_stage_sleep_ops,
    &wn_stage_fail_ops,
    &wn_stage_fanout_ops,
    &wn_stage_sum_ops,
    &wn_stage_minhash_ops,
    &wn_stage_shuffle_ops,
    &wn_stage_lsh_ops,
    &wn_stage_lsh_testdata_ops,
    &wn_stage_clique_check_ops,
    &wn_stage_probe_ops,   /* probe_stage.c: where lifecycle calls ran */
    NULL,
};
