/* test_stages.c - test stages that make synthetic pipelines: a source
 * (fanout), simulated work (sleep; wait in task mode), pass-through (noop), injected failures
 * (fail) and an exactly-once check (sum).  The test suite and the
 * benchmarks build pipelines from them that need no input files.
 *
 * Pass-through outputs are copies: input batches are read-only (their
 * columns may point into receive buffers).  Each output inherits the
 * metadata and perf history of the input it came from; the runner would
 * otherwise give every output those of the batch's first input.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "teststages.h"
#include "winnow/stage.h"

/* ------------------------------------------------------------ helpers -- */

/* Appends a new output task holding batch (taken over, also on failure)
 * with the metadata and perf history of parent (may be NULL). */
static int push_output(struct wn_task_list *out, struct wn_batch *batch,
                       const struct wn_task *parent, wn_error_t *err)
{
    struct wn_task *t = wn_task_create(0, 0, batch);
    if (!t) {
        wn_batch_destroy(batch);
        return wn_errprintf(err, "out of memory");
    }
    if (parent && wn_task_inherit(t, parent, err) < 0) {
        wn_task_destroy(t);
        return -1;
    }
    if (wn_task_list_push(out, t) < 0) {
        wn_task_destroy(t);
        return wn_errprintf(err, "out of memory");
    }
    return 0;
}

/* One output per input, each with a copy of its input's batch (an input
 * without a batch gives an output without one).  wn_batch_append into an
 * empty batch copies the schema too, so columns of 0 rows survive. */
static int pass_through(struct wn_task *const *in, size_t n, struct wn_task_list *out,
                        wn_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        struct wn_batch *b = NULL;
        if (in[i]->batch) {
            if (!(b = wn_batch_create()))
                return wn_errprintf(err, "out of memory");
            if (wn_batch_append(b, in[i]->batch, err) < 0) {
                wn_batch_destroy(b);
                return wn_errprefix(err, "input %zu", i);
            }
        }
        if (push_output(out, b, in[i], err) < 0)
            return -1;
    }
    return 0;
}

/* Row `row` of an integer column as a u64 (signed values wrap); -1 for a
 * column of another type. */
static int col_get_u64(const struct wn_column *col, uint64_t row, uint64_t *v)
{
    switch (col->type) {
    case WN_TYPE_U8:
        *v = wn_col_u8(col)[row];
        return 0;
    case WN_TYPE_I32:
        *v = (uint64_t)(int64_t)wn_col_i32(col)[row];
        return 0;
    case WN_TYPE_U32:
        *v = wn_col_u32(col)[row];
        return 0;
    case WN_TYPE_I64:
        *v = (uint64_t)wn_col_i64(col)[row];
        return 0;
    case WN_TYPE_U64:
        *v = wn_col_u64(col)[row];
        return 0;
    default:
        return -1;
    }
}

/* --------------------------------------------------------------- noop -- */

/* Each input's batch moves to its output: nothing is copied. */
static int noop_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                        struct wn_task_list *out, wn_error_t *err)
{
    (void)st;
    for (size_t i = 0; i < n; i++)
        if (push_output(out, wn_task_take_batch(in[i]), in[i], err) < 0)
            return -1;
    return 0;
}

static const struct wn_param_spec noop_params[] = {WN_PARAM_END};

const struct wn_stage_ops noop_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "noop",
    .help = "passes every task through unchanged (its batch moves, no copy)",
    .params = noop_params,
    .process_batch = noop_process,
};

/* -------------------------------------------------------------- sleep -- */

struct sleep_cfg {
    double ms_per_item, ms_per_task;
};

/* Longest single sleep a batch may ask for: a typo, not a test, beyond it. */
#define SLEEP_MAX_MS (24.0 * 3600 * 1000)

static int sleep_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct sleep_cfg c;
    if (wn_params_double_range(params, "ms_per_item", 0, INFINITY, 0, &c.ms_per_item, err) < 0 ||
        wn_params_double_range(params, "ms_per_task", 0, INFINITY, 0, &c.ms_per_task, err) < 0)
        return -1;
    struct sleep_cfg *p = malloc(sizeof(*p));
    if (!p)
        return wn_errprintf(err, "out of memory");
    *p = c;
    wn_stage_set_data(st, p);
    return 0;
}

static void sleep_ms(double ms)
{
    if (!(ms > 0))
        return;
    ms = ms > SLEEP_MAX_MS ? SLEEP_MAX_MS : ms;
    long long ns = (long long)(ms * 1e6);
    struct timespec req = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)}, rem;
    while (nanosleep(&req, &rem) < 0 && errno == EINTR)
        req = rem; /* a signal (e.g. a profiler's) cut it short: sleep the rest */
}

static int sleep_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                         struct wn_task_list *out, wn_error_t *err)
{
    const struct sleep_cfg *c = wn_stage_data(st);
    double ms = 0;
    for (size_t i = 0; i < n; i++)
        ms += c->ms_per_item * (double)wn_batch_nrows(in[i]->batch) + c->ms_per_task;
    sleep_ms(ms);
    return pass_through(in, n, out, err);
}

static void free_data(struct wn_stage *st)
{
    free(wn_stage_data(st));
    wn_stage_set_data(st, NULL);
}

static const struct wn_param_spec sleep_params[] = {
    {"ms_per_item", WN_PARAM_DOUBLE, "1", "milliseconds of simulated work per row"},
    {"ms_per_task", WN_PARAM_DOUBLE, "0", "milliseconds of simulated work per task"},
    WN_PARAM_END};

const struct wn_stage_ops sleep_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "sleep",
    .flags = WN_STAGE_ACTOR,
    .help = "simulated work: sleeps per row and per task, then passes through",
    .params = sleep_params,
    .init = sleep_init,
    .process_batch = sleep_process,
    .fini = free_data,
};

/* The same work as a task-mode stage: it keeps no state between batches,
 * so a streaming rank may run several of its batches at once. */
const struct wn_stage_ops wait_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "wait",
    .flags = 0,
    .help = "simulated work in task mode: sleeps per row and per task, then passes through",
    .params = sleep_params,
    .init = sleep_init,
    .process_batch = sleep_process,
    .fini = free_data,
};

/* --------------------------------------------------------------- fail -- */

enum fail_mode { FAIL_ERROR, FAIL_CRASH, FAIL_EXIT };
static const char *const fail_modes[] = {"error", "crash", "exit"}; /* by mode */

struct fail_cfg {
    long long failures, every;
    enum fail_mode mode;
};

static int fail_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct fail_cfg c;
    if (wn_params_int_range(params, "failures", 0, 1000000, &c.failures, err) < 0 ||
        wn_params_int_range(params, "every", 1, LLONG_MAX, &c.every, err) < 0)
        return -1;
    const char *mode = wn_params_str(params, "mode");
    for (c.mode = FAIL_ERROR; c.mode <= FAIL_EXIT; c.mode++)
        if (mode && !strcmp(mode, fail_modes[c.mode]))
            break;
    if (c.mode > FAIL_EXIT)
        return wn_params_refuse(params, "mode", err, "must be error, crash or exit, got '%s'",
                                mode ? mode : "");
    struct fail_cfg *p = malloc(sizeof(*p));
    if (!p)
        return wn_errprintf(err, "out of memory");
    *p = c;
    wn_stage_set_data(st, p);
    return 0;
}

static int fail_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                        struct wn_task_list *out, wn_error_t *err)
{
    const struct fail_cfg *c = wn_stage_data(st);
    unsigned attempt = wn_stage_attempt(st);
    /* The batch's key: its first input's first value (0 without one). */
    uint64_t value = 0;
    const struct wn_column *col = n ? wn_batch_find(in[0]->batch, "value") : NULL;
    if (col && col->nrows > 0 && col_get_u64(col, 0, &value) < 0) {
        errno = EINVAL;
        return wn_errprintf(err, "column 'value' is %s, expected an integer column",
                            wn_type_name(col->type));
    }
    if ((long long)attempt < c->failures && value % (uint64_t)c->every == 0) {
        switch (c->mode) {
        case FAIL_CRASH:
            raise(SIGSEGV);
            break;
        case FAIL_EXIT:
            _exit(7);
        case FAIL_ERROR:
            break;
        }
        errno = EIO;
        return wn_errprintf(err, "injected failure on attempt %u (fails %lld times)", attempt + 1,
                            c->failures);
    }
    return pass_through(in, n, out, err);
}

static const struct wn_param_spec fail_params[] = {
    {"failures", WN_PARAM_INT, "1", "fail the first N attempts of a batch"},
    {"every", WN_PARAM_INT, "1", "fail only batches whose first value is a multiple of this"},
    {"mode", WN_PARAM_STRING, "error", "error (return -1), crash (SIGSEGV) or exit (7)"},
    WN_PARAM_END};

const struct wn_stage_ops fail_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "fail",
    .help = "injected failures for retry tests, else passes through",
    .params = fail_params,
    .init = fail_init,
    .process_batch = fail_process,
    .fini = free_data,
};

/* ------------------------------------------------------------- fanout -- */

struct fanout_cfg {
    long long tasks, rows;
};

static int fanout_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct fanout_cfg c;
    /* A generated row takes about 33 bytes (value, text): 2^24 rows are
     * 550 MB in one task; every task is a descriptor rank 0 holds. */
    if (wn_params_int_range(params, "tasks", 1, 1 << 20, &c.tasks, err) < 0 ||
        wn_params_int_range(params, "rows", 0, 1 << 24, &c.rows, err) < 0)
        return -1;
    struct fanout_cfg *p = malloc(sizeof(*p));
    if (!p)
        return wn_errprintf(err, "out of memory");
    *p = c;
    wn_stage_set_data(st, p);
    return 0;
}

/* A batch of `rows` items numbered first, first+1, ...: columns value
 * (u64) and text (str, "item <value>"). */
static struct wn_batch *items_batch(uint64_t first, uint64_t rows, wn_error_t *err)
{
    struct wn_batch *b = wn_batch_create();
    if (!b) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    struct wn_column *vc = wn_batch_add_column(b, "value", WN_TYPE_U64, 1, err);
    struct wn_column *tc = vc ? wn_batch_add_column(b, "text", WN_TYPE_STR, 0, err) : NULL;
    /* "item " and at most 20 digits a row */
    if (!tc || wn_col_reserve(vc, rows, 0, err) < 0 || wn_col_reserve(tc, rows, rows * 25, err) < 0)
        goto fail;
    for (uint64_t v = first; v < first + rows; v++) {
        char text[32];
        int len = snprintf(text, sizeof(text), "item %llu", (unsigned long long)v);
        if (wn_col_append_u64(vc, v, err) < 0 || wn_col_append_str(tc, text, (size_t)len, err) < 0)
            goto fail;
    }
    return b;
fail:
    wn_batch_destroy(b);
    return NULL;
}

/* Source mode: `tasks` tasks of `rows` rows, values first, first+1, ... */
static int fanout_generate(const struct fanout_cfg *c, uint64_t first, const struct wn_task *parent,
                           struct wn_task_list *out, wn_error_t *err)
{
    uint64_t rows = (uint64_t)c->rows;
    for (uint64_t t = 0; t < (uint64_t)c->tasks; t++) {
        struct wn_batch *b = items_batch(first + t * rows, rows, err);
        if (!b || push_output(out, b, parent, err) < 0)
            return -1;
    }
    return 0;
}

/* Split mode: `tasks` contiguous parts, the first nrows % tasks one row
 * longer; empty parts are skipped. */
static int fanout_split(const struct fanout_cfg *c, const struct wn_task *parent,
                        struct wn_task_list *out, wn_error_t *err)
{
    uint64_t nrows = wn_batch_nrows(parent->batch);
    if (nrows > UINT32_MAX) {
        errno = EINVAL;
        return wn_errprintf(err, "cannot split a task of %llu rows (at most %u)",
                            (unsigned long long)nrows, UINT32_MAX);
    }
    uint64_t ntasks = (uint64_t)c->tasks;
    uint64_t base = nrows / ntasks, extra = nrows % ntasks;
    uint32_t *idx = malloc((base + (extra ? 1 : 0) + 1) * sizeof(*idx));
    if (!idx)
        return wn_errprintf(err, "out of memory");
    uint64_t start = 0;
    for (uint64_t p = 0; p < ntasks && start < nrows; p++) {
        uint64_t len = base + (p < extra ? 1 : 0);
        for (uint64_t r = 0; r < len; r++)
            idx[r] = (uint32_t)(start + r);
        start += len;
        struct wn_batch *b = wn_batch_take(parent->batch, idx, len, err);
        if (!b || push_output(out, b, parent, err) < 0) {
            free(idx);
            return -1;
        }
    }
    free(idx);
    return 0;
}

static int fanout_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                          struct wn_task_list *out, wn_error_t *err)
{
    const struct fanout_cfg *c = wn_stage_data(st);
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (in[i]->batch && wn_batch_find(in[i]->batch, "value"))
            rc = fanout_split(c, in[i], out, err);
        else /* input i's values start after those of inputs 0..i-1 */
            rc = fanout_generate(c, (uint64_t)i * (uint64_t)c->tasks * (uint64_t)c->rows + 1, in[i],
                                 out, err);
        if (rc < 0)
            return wn_errprefix(err, "input %zu", i);
    }
    return 0;
}

static const struct wn_param_spec fanout_params[] = {
    {"tasks", WN_PARAM_INT, "4", "output tasks per input task (>= 1)"},
    {"rows", WN_PARAM_INT, "1", "rows per generated task (source mode, >= 0)"},
    WN_PARAM_END};

const struct wn_stage_ops fanout_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "fanout",
    .flags = WN_STAGE_FANOUT,
    .help = "source of numbered items (value, text), or splits tasks with a value column",
    .params = fanout_params,
    .init = fanout_init,
    .process_batch = fanout_process,
    .fini = free_data,
};

/* ---------------------------------------------------------------- sum -- */

/* splitmix64's finaliser.  The XOR of mixed values is an order-independent
 * checksum of the set of values that lost and duplicated items are very
 * unlikely to balance out (as they can in count, sum and sum_sq). */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int sum_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    const char *column = wn_params_str(params, "column");
    if (!column || !*column)
        return wn_params_refuse(params, "column", err, "must name a column");
    char *p = strdup(column);
    if (!p)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, p);
    return 0;
}

static int sum_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                       struct wn_task_list *out, wn_error_t *err)
{
    const char *name = wn_stage_data(st);
    uint64_t count = 0, sum = 0, sum_sq = 0, x = 0;
    for (size_t i = 0; i < n; i++) {
        const struct wn_column *col = wn_batch_find(in[i]->batch, name);
        if (!col)
            continue;
        uint64_t v;
        for (uint64_t r = 0; r < col->nrows; r++) {
            if (col_get_u64(col, r, &v) < 0) {
                errno = EINVAL;
                return wn_errprintf(err, "column '%s' is %s, expected an integer column", name,
                                    wn_type_name(col->type));
            }
            count++;
            sum += v;
            sum_sq += v * v;
            x ^= mix64(v);
        }
    }
    struct wn_batch *b = wn_batch_create();
    if (!b)
        return wn_errprintf(err, "out of memory");
    static const char *const names[] = {"count", "sum", "sum_sq", "xor"};
    const uint64_t values[] = {count, sum, sum_sq, x};
    for (int c = 0; c < 4; c++) {
        struct wn_column *col = wn_batch_add_column(b, names[c], WN_TYPE_U64, 1, err);
        if (!col || wn_col_append_u64(col, values[c], err) < 0) {
            wn_batch_destroy(b);
            return -1;
        }
    }
    /* One output for the whole batch: the runner gives it in[0]'s history. */
    return push_output(out, b, NULL, err);
}

static const struct wn_param_spec sum_params[] = {
    {"column", WN_PARAM_STRING, "value", "integer column to total"}, WN_PARAM_END};

const struct wn_stage_ops sum_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "sum",
    .help = "one row per batch: count, sum, sum_sq and xor-of-hashes of a column",
    .params = sum_params,
    .init = sum_init,
    .process_batch = sum_process,
    .fini = free_data,
};
