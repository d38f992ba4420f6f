/* columns.c - column pruning: what each stage reads and writes
 * (wn_stage_set_columns), what each stage's outputs must keep for the
 * stages after it, and dropping the rest (stage_impl.h).
 *
 * The plan is a backward pass over the pipeline, like a compiler's
 * liveness analysis: the last stage's outputs keep everything (they are
 * the run's results); the outputs of stage k keep what stage k + 1 reads,
 * plus, when stage k + 1 passes its inputs' columns on, what its own
 * outputs keep and it does not write itself.  A stage that declared
 * nothing reads everything, so everything before it is kept whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stage/stage_impl.h"

/* A set of column names: sorted, no repeats, owned. */
struct names {
    char **v;
    size_t n;
};

struct wn_columns {
    int declared;  /* init called wn_stage_set_columns */
    int reads_all; /* reads every column (declared with reads NULL) */
    int pass;      /* WN_COLUMNS_PASS */
    struct names reads, writes;
    int keep_all; /* the outputs keep every column */
    struct names keep;
};

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int names_has(const struct names *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->v[mid], name);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Adds name (a copy) unless it is there; 0 or -1 (out of memory). */
static int names_add(struct names *s, const char *name)
{
    size_t at = 0;
    while (at < s->n && strcmp(s->v[at], name) < 0)
        at++;
    if (at < s->n && !strcmp(s->v[at], name))
        return 0;
    char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    s->v = v;
    if (!(v[s->n] = strdup(name)))
        return -1;
    char *added = v[s->n];
    memmove(v + at + 1, v + at, (s->n - at) * sizeof(*v));
    v[at] = added;
    s->n++;
    return 0;
}

void wn_columns_free(struct wn_columns *c)
{
    if (!c)
        return;
    names_free(&c->reads);
    names_free(&c->writes);
    names_free(&c->keep);
    free(c);
}

static struct wn_columns *columns_of(struct wn_stage *st)
{
    /* Until wn_stages_plan_columns runs (a stage made outside a run),
     * outputs keep everything. */
    if (!st->columns && (st->columns = calloc(1, sizeof(*st->columns))))
        st->columns->keep_all = 1;
    return st->columns;
}

int wn_stage_set_columns(struct wn_stage *st, const char *const *reads, const char *const *writes,
                         unsigned flags, wn_error_t *err)
{
    errno = EINVAL;
    if (flags & ~WN_COLUMNS_PASS)
        return wn_errprintf(err, "wn_stage_set_columns: unknown flags 0x%x", flags);
    struct wn_columns *c = columns_of(st);
    if (!c)
        goto oom;
    names_free(&c->reads);
    names_free(&c->writes);
    c->declared = 1;
    c->reads_all = reads == NULL;
    c->pass = (flags & WN_COLUMNS_PASS) != 0;
    for (size_t i = 0; reads && reads[i]; i++)
        if (!*reads[i])
            return wn_errprintf(err, "wn_stage_set_columns: an empty column name in reads");
        else if (names_add(&c->reads, reads[i]) < 0)
            goto oom;
    for (size_t i = 0; writes && writes[i]; i++)
        if (!*writes[i])
            return wn_errprintf(err, "wn_stage_set_columns: an empty column name in writes");
        else if (names_add(&c->writes, writes[i]) < 0)
            goto oom;
    return 0;
oom:
    errno = ENOMEM;
    return wn_errprintf(err, "out of memory declaring columns");
}

/* keep = what `next` reads, plus (when it passes its inputs' columns on)
 * what its own outputs keep and it does not write. */
static int plan_one(struct wn_columns *keep, const struct wn_columns *next)
{
    names_free(&keep->keep);
    keep->keep_all = !next || !next->declared || next->reads_all || (next->pass && next->keep_all);
    if (keep->keep_all)
        return 0;
    for (size_t i = 0; i < next->reads.n; i++)
        if (names_add(&keep->keep, next->reads.v[i]) < 0)
            return -1;
    for (size_t i = 0; next->pass && i < next->keep.n; i++)
        if (!names_has(&next->writes, next->keep.v[i]) &&
            names_add(&keep->keep, next->keep.v[i]) < 0)
            return -1;
    return 0;
}

int wn_stages_plan_columns(struct wn_stage *const *stages, uint32_t n, wn_error_t *err)
{
    for (uint32_t k = n; k-- > 0;) {
        struct wn_columns *c = columns_of(stages[k]);
        if (!c)
            goto oom;
        if (k == n - 1) {
            names_free(&c->keep);
            c->keep_all = 1;
        } else if (plan_one(c, stages[k + 1]->columns) < 0) {
            goto oom;
        }
    }
    return 0;
oom:
    errno = ENOMEM;
    return wn_errprintf(err, "out of memory planning columns");
}

int wn_stage_keeps_all(const struct wn_stage *st, const char *const **names, size_t *n)
{
    const struct wn_columns *c = st->columns;
    if (!c || c->keep_all)
        return 1;
    *names = (const char *const *)c->keep.v;
    *n = c->keep.n;
    return 0;
}

int wn_stage_prune(const struct wn_stage *st, struct wn_batch *batch, wn_error_t *err)
{
    const struct wn_columns *c = st->columns;
    if (!batch || !c || c->keep_all)
        return 0;
    uint32_t ncols = wn_batch_ncols(batch), kept = 0;
    for (uint32_t i = 0; i < ncols; i++)
        kept += names_has(&c->keep, wn_batch_col(batch, i)->name);
    /* Dropped from the end, so positions before i stay; the first
     * column stays when none would (the rows are still counted). */
    for (uint32_t i = ncols; i-- > 0;) {
        const char *name = wn_batch_col(batch, i)->name;
        if (names_has(&c->keep, name) || (kept == 0 && i == 0))
            continue;
        if (wn_batch_drop_column(batch, name, err) < 0)
            return -1;
    }
    return 0;
}
