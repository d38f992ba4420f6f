/* teststages.h - the stage types of the test plugin t/plugins/teststages.so
 * (plugin.c registers them).  Built like any plugin: against the public
 * headers only, its wn_* calls resolved by the winnow executable. */
#ifndef WN_TESTSTAGES_H
#define WN_TESTSTAGES_H

#include "winnow/stage.h"

/* test_stages.c: synthetic sources, work, failures and checks */
extern const struct wn_stage_ops noop_ops;
extern const struct wn_stage_ops sleep_ops;
extern const struct wn_stage_ops wait_ops;
extern const struct wn_stage_ops fail_ops;
extern const struct wn_stage_ops fanout_ops;
extern const struct wn_stage_ops sum_ops;
/* probe.c: where the lifecycle calls ran */
extern const struct wn_stage_ops probe_ops;
/* clique_check.c: every clique collective of a RAFT stage */
extern const struct wn_stage_ops clique_check_ops;
/* lsh_testdata.c: MinHash-like signatures with known copies */
extern const struct wn_stage_ops lsh_testdata_ops;

#endif /* WN_TESTSTAGES_H */
