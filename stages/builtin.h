/* builtin.h - the stage types compiled into winnow.
 *
 * runner/registry.c registers every entry of wn_builtin_stages at start-up,
 * in this order (which is also the order `winnow stages` lists them).  A new
 * built-in stage defines its ops table in its own file under stages/,
 * declares it here and adds it to the table in builtin.c.
 */
#ifndef WN_BUILTIN_H
#define WN_BUILTIN_H

#include "winnow/stage.h"

/* NULL-terminated. */
extern const struct wn_stage_ops *const wn_builtin_stages[];

/* Test and example stages (test_stages.c). */
extern const struct wn_stage_ops wn_stage_noop_ops;
extern const struct wn_stage_ops wn_stage_sleep_ops;
extern const struct wn_stage_ops wn_stage_fail_ops;
extern const struct wn_stage_ops wn_stage_fanout_ops;
extern const struct wn_stage_ops wn_stage_sum_ops;
/* Shuffle stages (shuffle_stages.c). */
extern const struct wn_stage_ops wn_stage_shuffle_ops;
extern const struct wn_stage_ops wn_stage_lsh_ops;
extern const struct wn_stage_ops wn_stage_lsh_testdata_ops;
/* RAFT clique test stage (clique_stage.c). */
extern const struct wn_stage_ops wn_stage_clique_check_ops;
/* Lifecycle probe for setup_on_node/setup tests (probe_stage.c). */
extern const struct wn_stage_ops wn_stage_probe_ops;

#endif /* WN_BUILTIN_H */
