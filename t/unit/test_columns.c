/* test_columns.c - column pruning: the columns each stage's outputs keep
 * (wn_stages_plan_columns) for pipelines of declared, undeclared,
 * pass-through and fresh stages, and what wn_stage_prune drops. */
#include <stdio.h>
#include <string.h>

#include "stage/stage_impl.h"
#include "tap.h"
#include "winnow/task.h"

#define MAXS 6

static struct wn_stage stages[MAXS];
static struct wn_stage *sp[MAXS];

static void reset(void)
{
    for (int i = 0; i < MAXS; i++) {
        wn_columns_free(stages[i].columns);
        memset(&stages[i], 0, sizeof(stages[i]));
        stages[i].index = (uint32_t)i;
        sp[i] = &stages[i];
    }
}

static void declare(int i, const char *const *reads, const char *const *writes, unsigned flags)
{
    wn_error_t err = {{0}};
    if (wn_stage_set_columns(&stages[i], reads, writes, flags, &err) < 0)
        BAIL_OUT("wn_stage_set_columns: %s", err.text);
}

/* The stage's kept columns as one string, "all" or "a,b,c". */
static const char *kept(int i)
{
    static char buf[512];
    const char *const *names = NULL;
    size_t n = 0;
    if (wn_stage_keeps_all(&stages[i], &names, &n))
        return "all";
    buf[0] = '\0';
    for (size_t k = 0; k < n; k++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", k ? "," : "", names[k]);
    return buf;
}

static void plan_n(uint32_t n)
{
    wn_error_t err = {{0}};
    ok(wn_stages_plan_columns(sp, n, &err) == 0, "plan %u stages %s", n, err.text);
}

/* The fuzzy pipeline's shape: a source, a pass-through stage adding a
 * column, a fresh stage, and a last stage. */
static void test_fuzzy_shape(void)
{
    reset();
    const char *src_w[] = {"text", "id", "_raw", NULL}, *none[] = {NULL};
    const char *mh_r[] = {"text", NULL}, *mh_w[] = {"sig", NULL};
    const char *lsh_r[] = {"sig", "id", NULL}, *lsh_w[] = {"bucket", "id", NULL};
    const char *last_r[] = {"bucket", NULL}, *last_w[] = {"path", NULL};
    declare(0, none, src_w, 0);
    declare(1, mh_r, mh_w, WN_COLUMNS_PASS);
    declare(2, lsh_r, lsh_w, 0);
    declare(3, last_r, last_w, 0);
    plan_n(4);
    is(kept(0), "id,text", "the source keeps what minhash reads and lsh reads through it");
    is(kept(1), "id,sig", "minhash keeps ids and signatures, not the text");
    is(kept(2), "bucket", "lsh keeps what the last stage reads");
    is(kept(3), "all", "the last stage keeps everything");
}

/* An undeclared stage (an ABI 1 or 2 plugin) reads everything: the
 * stages before it keep all, the stages after it are pruned as usual. */
static void test_undeclared(void)
{
    reset();
    const char *r[] = {"a", NULL}, *w[] = {"b", NULL};
    declare(0, NULL, w, 0); /* reads everything, makes b */
    /* stage 1 undeclared */
    declare(2, r, w, WN_COLUMNS_PASS);
    const char *r3[] = {"b", NULL};
    declare(3, r3, NULL, 0);
    plan_n(4);
    is(kept(0), "all", "before an undeclared stage: all");
    is(kept(1), "a", "an undeclared stage's outputs are pruned for the next one");
    is(kept(2), "b", "a pass-through stage keeps what its successor reads");
    /* A pass-through stage whose own outputs keep all keeps all before. */
    reset();
    declare(0, NULL, w, 0);
    declare(1, r, w, WN_COLUMNS_PASS);
    plan_n(2);
    is(kept(0), "all", "before a pass-through last stage: all");
}

/* A pass-through stage that rewrites a column: the column it writes is
 * not needed from before it, unless it also reads it. */
static void test_rewrite(void)
{
    reset();
    const char *none[] = {NULL}, *w0[] = {"x", "y", "z", NULL};
    const char *r1[] = {"y", NULL}, *w1[] = {"x", NULL};
    const char *r2[] = {"x", "z", NULL}, *w2[] = {"out", NULL};
    declare(0, none, w0, 0);
    declare(1, r1, w1, WN_COLUMNS_PASS);
    declare(2, r2, w2, 0);
    plan_n(3);
    is(kept(1), "x,z", "stage 1 keeps what stage 2 reads");
    is(kept(0), "y,z", "stage 0: x is rewritten by stage 1, so not kept");
    const char *r1b[] = {"x", "y", NULL};
    declare(1, r1b, w1, WN_COLUMNS_PASS);
    plan_n(3);
    is(kept(0), "x,y,z", "... unless stage 1 reads it too");
}

static void test_prune(void)
{
    reset();
    const char *none[] = {NULL}, *w0[] = {"a", "b", "c", NULL};
    const char *r1[] = {"c", "a", NULL};
    declare(0, none, w0, 0);
    declare(1, r1, NULL, 0);
    plan_n(2);
    wn_error_t err = {{0}};
    struct wn_batch *b = wn_batch_create();
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        struct wn_column *c = wn_batch_add_column(b, names[i], WN_TYPE_U64, 1, &err);
        if (!c || wn_col_resize(c, 3, &err) < 0)
            BAIL_OUT("column: %s", err.text);
        for (int r = 0; r < 3; r++)
            wn_col_u64_mut(c)[r] = (uint64_t)(10 * i + r);
    }
    ok(wn_stage_prune(&stages[0], b, &err) == 0, "prune %s", err.text);
    cmp_ok(wn_batch_ncols(b), ==, 2, "two columns left");
    ok(!strcmp(wn_batch_col(b, 0)->name, "a") && !strcmp(wn_batch_col(b, 1)->name, "c"),
       "a and c, in their order");
    cmp_ok(wn_col_u64(wn_batch_col(b, 1))[2], ==, 22, "c's values are c's");
    cmp_ok(wn_batch_nrows(b), ==, 3, "rows kept");
    ok(wn_stage_prune(&stages[1], b, &err) == 0 && wn_batch_ncols(b) == 2,
       "the last stage's outputs keep all");
    wn_batch_destroy(b);

    /* Nothing read later: one column stays, so the rows still count. */
    reset();
    declare(0, none, w0, 0);
    declare(1, none, NULL, 0);
    plan_n(2);
    b = wn_batch_create();
    for (int i = 0; i < 2; i++) {
        struct wn_column *c = wn_batch_add_column(b, names[i], WN_TYPE_U64, 1, &err);
        if (!c || wn_col_resize(c, 5, &err) < 0)
            BAIL_OUT("column: %s", err.text);
    }
    ok(wn_stage_prune(&stages[0], b, &err) == 0, "prune to nothing read");
    cmp_ok(wn_batch_ncols(b), ==, 1, "one column stays");
    cmp_ok(wn_batch_nrows(b), ==, 5, "with the row count");
    ok(wn_stage_prune(&stages[0], NULL, &err) == 0, "a task without a batch");
    wn_batch_destroy(b);

    /* A stage outside a run (no plan) prunes nothing. */
    reset();
    declare(0, none, w0, 0);
    b = wn_batch_create();
    wn_batch_add_column(b, "q", WN_TYPE_U64, 1, &err);
    ok(wn_stage_prune(&stages[0], b, &err) == 0 && wn_batch_ncols(b) == 1, "unplanned: kept");
    wn_batch_destroy(b);
    ok(wn_stage_set_columns(&stages[0], none, w0, 0x10, &err) < 0 && strstr(err.text, "flags"),
       "unknown flags refused: %s", err.text);
    const char *empty[] = {"", NULL};
    ok(wn_stage_set_columns(&stages[0], empty, NULL, 0, &err) < 0 && strstr(err.text, "empty"),
       "an empty name refused: %s", err.text);
}

int main(void)
{
    plan(NO_PLAN);
    test_fuzzy_shape();
    test_undeclared();
    test_rewrite();
    test_prune();
    reset();
    return done_testing();
}
