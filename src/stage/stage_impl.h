/* stage_impl.h - the runner's side of a stage (winnow/stage.h is the
 * author's side), and the registry of stage types. */
#ifndef WN_STAGE_IMPL_H
#define WN_STAGE_IMPL_H

#include "config/config.h"
#include "winnow/stage.h"

struct wn_stage {
    const struct wn_stage_ops *ops;
    const struct wn_stage_config *cfg; /* name, resources, batching, params */
    uint32_t index;                    /* position in the pipeline */
    void *data;                        /* the stage's own (set_data) */
    unsigned attempt;                  /* of the batch being processed */
    int initialized;                   /* init ran (fini is due) */
    /* Shuffle stages (set by init). */
    char *shuffle_key; /* partition by this column's hash */
    uint32_t rounds;   /* >= 1 */
    uint32_t round;    /* being run */
    uint64_t seeds;    /* a source's seed tasks (0: 1) */
    /* The pipeline it is part of (NULL in unit tests), for built-in
     * stages that adapt to another one (wn_stage_later_param,
     * wn_stage_earlier_param). */
    const struct wn_pipeline_config *pipeline;
    /* The run's input listing (inputs.h), shared by its stages; a stage
     * made outside a run (unit tests) lists into own_inputs instead. */
    struct wn_inputs *inputs, *own_inputs;
    /* What init declared it writes (wn_stage_add_output), for the guards
     * (guard.h). */
    struct wn_stage_output *outputs;
    size_t noutputs;
    /* Records the batch being processed rejected (rejects.h). */
    struct wn_rejects *rejects;
    /* What init declared it reads and writes (wn_stage_set_columns), and
     * the columns its outputs keep (wn_stages_plan_columns). */
    struct wn_columns *columns;
    /* Set by the runner before init, the same on every rank
     * (wn_stage_memory_limit, wn_stage_actor_ranks). */
    uint64_t memory_limit;
    int actor_ranks;
    char *plan_note; /* wn_stage_set_plan_note, or NULL */
    uint64_t layout; /* wn_stage_set_layout; 0 unset */
};

struct wn_stage_output {
    char *path;
    enum wn_output_kind kind;
};

/* Column pruning (wn_stage_set_columns).  After every stage's init, on
 * every rank alike: works out, back from the last stage, the columns each
 * stage's outputs must keep for the stages after it.  0 or -1 (out of
 * memory). */
int wn_stages_plan_columns(struct wn_stage *const *stages, uint32_t n, wn_error_t *err);
/* Whether stage st's outputs keep every column (nothing to prune), else
 * the columns they keep, in *names[0..*n), sorted. */
int wn_stage_keeps_all(const struct wn_stage *st, const char *const **names, size_t *n);
/* Drops from batch (NULL is fine) the columns st's outputs do not keep;
 * at least one column stays.  0 or -1. */
int wn_stage_prune(const struct wn_stage *st, struct wn_batch *batch, wn_error_t *err);
void wn_columns_free(struct wn_columns *c);

/* Shuffle stages: the partition count of a stage with ninputs input tasks
 * (total_nparts, else ninputs held to `enough` when > 0 and to
 * WN_MAX_STAGE_BATCHES / rounds; at least 1; a power of two for LSH). */
uint32_t wn_stage_nparts(const struct wn_stage *st, uint64_t ninputs, uint64_t enough);

/* The registry: built-in stage types plus those loaded from plugins.  The
 * program names its built-ins (a NULL-terminated table) before the first
 * wn_registry_get; without them only plugins are found. */
void wn_registry_set_builtins(const struct wn_stage_ops *const *table);
struct wn_registry *wn_registry_get(void);
/* Finds the ops for a pipeline `type:` value: a built-in name, or a plugin
 * path ("dir/x.so" or "dir/x.so:TYPE"), loaded on first use. */
const struct wn_stage_ops *wn_registry_find(struct wn_registry *reg, const char *type,
                                            wn_error_t *err);
/* Prints the built-in types and their parameters (`winnow stages`). */
void wn_registry_print(struct wn_registry *reg, FILE *out);

/* Creates the stage of pipeline position `index` from its configuration:
 * finds the type, validates the parameters against the type's table
 * (filling defaults) and checks the type's flags against the settings.
 * Does not call init. */
struct wn_stage *wn_stage_create(const struct wn_stage_config *cfg, uint32_t index,
                                 wn_error_t *err);
/* Runs the type's init once (again: 0 at once), then checks a shuffle
 * stage's total_nparts against its rounds (WN_MAX_STAGE_BATCHES).  An
 * error the wn_params_* functions made (it names where the value came
 * from) is passed on as it is; any other is prefixed "FILE:LINE:COL:
 * stage 'NAME' (TYPE): init: " with the stage's entry. */
int wn_stage_init(struct wn_stage *st, wn_error_t *err);
void wn_stage_destroy(struct wn_stage *st); /* runs fini when init ran */

/* The batch a thread runs (on an actor): its attempt, round and rejects.
 * A task-mode stage (wn_stage_task_mode) may run batches on several
 * threads of one process at once; each thread's keeps its own, which
 * wn_stage_attempt, wn_stage_round and the rejects (rejects.h) use while
 * it is begun.  Others read them from the stage. */
struct wn_batch_run {
    const struct wn_stage *st;
    unsigned attempt;
    uint32_t round;
    struct wn_rejects *rejects;
};
void wn_batch_run_begin(struct wn_batch_run *b, struct wn_stage *st, unsigned attempt,
                        uint32_t round);
/* Frees its rejects; the thread runs no batch. */
void wn_batch_run_end(struct wn_batch_run *b);
/* The thread's batch of st, or NULL. */
struct wn_batch_run *wn_batch_run_current(const struct wn_stage *st);
/* Task mode: the stage keeps no state between batches (no
 * WN_STAGE_ACTOR), has no setup and no GPU and is no shuffle or clique:
 * its process_batch may run on several threads at once. */
int wn_stage_task_mode(const struct wn_stage *st);

#endif /* WN_STAGE_IMPL_H */
