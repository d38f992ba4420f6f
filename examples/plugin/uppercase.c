/* uppercase.c - an example winnow stage plugin: copy it to start your own.
 *
 * Stage type `uppercase` upper-cases (ASCII only) one string column of
 * every task and leaves the other columns as they are.  Build it with
 *
 *   cc -shared -fPIC $(pkg-config --cflags winnow) -o uppercase.so uppercase.c
 *
 * and name it in a pipeline file as `type: ./uppercase.so`.  A plugin links
 * nothing: the wn_* functions it calls resolve against the winnow
 * executable when winnow loads it.  Only the installed headers are used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <winnow/error.h>
#include <winnow/params.h>
#include <winnow/stage.h>
#include <winnow/task.h>

/* ----------------------------------------------------------- parameters --
 * Declared once: winnow checks a pipeline's `params:` against this table
 * before init runs (unknown keys and mistyped values are errors there),
 * fills in the defaults, and prints it in `winnow stages`-style help. */
static const struct wn_param_spec uppercase_params[] = {
    {"column", WN_PARAM_STRING, "text", "string column to upper-case"}, WN_PARAM_END};

/* ----------------------------------------------------------------- init --
 * Runs on every rank that may host the stage.  Read the parameters once
 * and keep what process_batch needs in the stage's private data; fini
 * frees it.  Check values the table cannot (ranges, choices) here, with
 * wn_params_int_range / wn_params_double_range / wn_params_refuse: their
 * messages name the file and line (or the --set) the value came from. */
static int uppercase_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    const char *column = wn_params_str(params, "column");
    if (!column || !*column)
        return wn_params_refuse(params, "column", err, "must name a string column");
    char *copy = strdup(column); /* the stage owns what it keeps */
    if (!copy)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, copy);
    return 0;
}

static void uppercase_fini(struct wn_stage *st)
{
    free(wn_stage_data(st));
    wn_stage_set_data(st, NULL);
}

/* Upper-cases one task's batch into a new batch.  The input is read-only
 * (its columns may point into a receive buffer), so the output is built
 * column by column: the chosen column is rewritten, the others copied. */
static struct wn_batch *uppercase_batch(const struct wn_batch *in, const char *name,
                                        wn_error_t *err)
{
    const struct wn_column *src = wn_batch_find(in, name);
    if (!src) {
        errno = ENOENT;
        wn_errprintf(err, "no column '%s' (parameter 'column')", name);
        return NULL;
    }
    if (src->type != WN_TYPE_STR) {
        errno = EINVAL;
        wn_errprintf(err, "column '%s' is %s, not a string column", name, wn_type_name(src->type));
        return NULL;
    }
    /* A full copy first (wn_batch_append into an empty batch copies the
     * schema as well); copies own their memory, so they may be changed. */
    struct wn_batch *out = wn_batch_create();
    if (!out) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    if (wn_batch_append(out, in, err) < 0) {
        wn_batch_destroy(out);
        return NULL;
    }
    /* A string column is one byte buffer (data[0..nbytes)) plus offsets.
     * Upper-casing keeps every length, so the copy's bytes (which it owns,
     * unlike the input's) change in place and the offsets stay valid. */
    struct wn_column *col = wn_batch_find(out, name);
    unsigned char *bytes = col->data;
    for (uint64_t i = 0; i < col->nbytes; i++)
        if (bytes[i] >= 'a' && bytes[i] <= 'z')
            bytes[i] = (unsigned char)(bytes[i] - 'a' + 'A');
    return out;
}

/* -------------------------------------------------------- process_batch --
 * Gets the tasks of one batch (batch_size of them) and appends outputs to
 * `out`.  Create outputs with wn_task_create(0, 0, batch): the runner sets
 * their ids (from lineage, so a resumed run makes the same ones) and stage
 * index.  On failure return -1 with err filled: the runner retries the
 * batch on another actor, so leave the stage usable.  An input may have no
 * batch (a source stage's seed); this stage passes such a task through. */
static int uppercase_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                             struct wn_task_list *out, wn_error_t *err)
{
    const char *name = wn_stage_data(st);
    for (size_t i = 0; i < n; i++) {
        struct wn_batch *b = NULL;
        if (in[i]->batch && !(b = uppercase_batch(in[i]->batch, name, err)))
            return -1;
        struct wn_task *t = wn_task_create(0, 0, b);
        if (!t) {
            wn_batch_destroy(b);
            return wn_errprintf(err, "out of memory");
        }
        /* Keep this input's metadata and per-stage timings with its output
         * (the runner would otherwise copy those of the first input). */
        if (wn_task_inherit(t, in[i], err) < 0) {
            wn_task_destroy(t);
            return -1;
        }
        if (wn_task_list_push(out, t) < 0) { /* on failure t is still ours */
            wn_task_destroy(t);
            return wn_errprintf(err, "out of memory");
        }
    }
    return 0;
}

/* ------------------------------------------------------------ ops table --
 * What winnow calls.  Unused hooks (setup_on_node, setup, teardown) stay
 * NULL.  WN_STAGE_ACTOR marks a stage that keeps state between batches;
 * the table must live as long as the process, hence static. */
static const struct wn_stage_ops uppercase_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "uppercase",
    .flags = WN_STAGE_ACTOR,
    .help = "upper-cases (ASCII) a string column",
    .params = uppercase_params,
    .init = uppercase_init,
    .process_batch = uppercase_process,
    .fini = uppercase_fini,
};

/* ------------------------------------------------------------- task ABI --
 * The layout of the task structs this file was compiled against
 * (WN_TASK_ABI in winnow/task.h).  winnow reads it before it calls the
 * entry point and refuses the plugin, naming both numbers, when its own
 * layout differs: the plugin must then be rebuilt. */
WN_PLUGIN_DECLARE_ABI;

/* ----------------------------------------------------------- entry point --
 * winnow looks this symbol up after dlopen() and calls it once with its own
 * stage ABI.  Refuse an ABI this file was not built for (the structs may
 * differ), then register each stage type the plugin offers; the first one
 * is what `type: ./uppercase.so` means, others are `./uppercase.so:TYPE`. */
int wn_plugin_init_v1(struct wn_registry *reg, unsigned abi, wn_error_t *err);

int wn_plugin_init_v1(struct wn_registry *reg, unsigned abi, wn_error_t *err)
{
    if (abi != WN_STAGE_ABI) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "built for winnow stage ABI %u, but this winnow has "
                            "ABI %u: rebuild the plugin against its headers",
                            WN_STAGE_ABI, abi);
    }
    return wn_plugin_add_stage(reg, &uppercase_ops, err);
}
