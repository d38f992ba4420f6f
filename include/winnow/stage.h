/* winnow/stage.h - what a stage author implements.
 *
 * A stage is a table of functions (struct wn_stage_ops) plus the fields
 * the pipeline file gives it (name, resources, batch_size, num_workers,
 * params).  The runner owns scheduling, transport, checkpointing and
 * retries: a stage never calls MPI, UCX or HDF5 itself.
 *
 * Life of a stage on an actor rank (NeMo Curator's ProcessingStage):
 *   init            every rank that may host the stage: read parameters
 *   setup_on_node   once per node hosting the stage's actors, by one rank
 *                   there, before any setup on that node (e.g. download or
 *                   unpack a model to node-local disk)
 *   setup           once per actor (load the model, allocate buffers)
 *   process_batch   any number of times: tasks in -> tasks out
 *   teardown        once per actor at the end of the stage
 *
 * A shuffle stage (WN_STAGE_SHUFFLE; NeMo Curator's RapidsMPF shuffle)
 * runs in rounds of three phases among its actors:
 *   insert          process_batch on batches of the stage's inputs, as in
 *                   any stage; its outputs are not the stage's outputs but
 *                   rows to shuffle: each row goes to one of the round's
 *                   partitions (`partition`, or a hash of the key column
 *                   named with wn_stage_set_shuffle_key) and is sent to the
 *                   partition's owner, actor (partition mod actors)
 *   insert finished every actor, once all insert batches are done
 *   extract         per partition, on its owner, once every row sent to it
 *                   has arrived: `extract` turns the partition's rows (in a
 *                   fixed order, whatever order they arrived in) into the
 *                   stage's output tasks (default: one task holding them,
 *                   none for an empty partition)
 * The round's partition count is the stage's total_nparts, else its
 * number of input tasks; an LSH stage (WN_STAGE_LSH) rounds it down to a
 * power of two and runs wn_stage_set_rounds() rounds (band iteration,
 * wn_stage_round() says which); the outputs of all rounds are the
 * stage's outputs, and each partition of each round is a checkpoint unit.
 *
 * Return values follow winnow/error.h: 0 or -1 with the error text in err.
 * A failing process_batch is retried on another actor (executor
 * max_retries), so it must not leave the stage unusable.
 *
 * Plugins: a shared object exports `wn_plugin_init_v1` (WN_PLUGIN_ENTRY)
 * which calls wn_plugin_add_stage() for each stage type it offers, and
 * states the task ABI it was built for (WN_PLUGIN_DECLARE_ABI); the
 * pipeline file names it as `type: path/to/plugin.so` (its first stage) or
 * `type: path/to/plugin.so:TYPE`.  Build with
 *   cc -shared -fPIC $(pkg-config --cflags winnow) -o myplugin.so myplugin.c
 * The wn_* functions resolve against the winnow executable at load time;
 * it exports those declared in include/winnow/ and no others.
 */
#ifndef WINNOW_STAGE_H
#define WINNOW_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/clique.h"
#include "winnow/error.h"
#include "winnow/gpu.h"
#include "winnow/log.h"
#include "winnow/params.h"
#include "winnow/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever struct wn_stage_ops or the plugin entry point change in
 * a way an old plugin would misread. */
#define WN_STAGE_ABI 3
/* Ops tables of ABI 1 end before `partition`; they still load.  ABI 3
 * keeps ABI 2's table and adds wn_stage_set_columns (column pruning): a
 * plugin calling it needs a runner of ABI 3 or later. */
#define WN_STAGE_ABI_MIN 1

struct wn_resources {
    double cpus;          /* per actor (default 1) */
    double gpus;          /* per actor: > 0 puts the stage on GPU ranks */
    double gpu_memory_gb; /* per actor, informational for now */
};

enum wn_stage_flags {
    WN_STAGE_ACTOR = 1u << 0,   /* keeps state between batches (setup is costly)   */
    WN_STAGE_FANOUT = 1u << 1,  /* one input task becomes many output tasks         */
    WN_STAGE_RAFT = 1u << 2,    /* actors form a clique; one batch each, all at once */
    WN_STAGE_SHUFFLE = 1u << 3, /* insert / insert_finished / extract               */
    WN_STAGE_LSH = 1u << 4,     /* shuffle repeated per band range                  */
};
#define WN_STAGE_FLAGS_ALL 0x1fu

/* The node a setup_on_node call prepares. */
struct wn_node {
    int node_id;      /* 0.. in the job */
    const char *name; /* host (or Slurm node) name */
    int nactors;      /* actors of this stage on the node */
};

/* The actor a setup call prepares. */
struct wn_worker {
    int rank; /* MPI rank */
    int node_id;
    int local_rank;  /* on its node */
    int gpu;         /* bound CUDA device ordinal, -1 for none */
    int actor_index; /* 0..nactors-1 in this stage */
    int nactors;
    struct wn_clique *clique; /* RAFT stages: the actors' clique (ABI 2),
                                 else NULL */
};

struct wn_stage; /* a configured stage; opaque */

struct wn_stage_ops {
    unsigned abi_version; /* WN_STAGE_ABI */
    const char *type;     /* "noop", "minhash", ... */
    unsigned flags;       /* enum wn_stage_flags */
    const char *help;     /* one line for `winnow stages` */
    /* Parameters the stage accepts: a NULL-terminated table that drives
     * validation (unknown keys are errors), defaults and help text. */
    const struct wn_param_spec *params;

    int (*init)(struct wn_stage *st, const struct wn_params *params, wn_error_t *err);
    int (*setup_on_node)(struct wn_stage *st, const struct wn_node *node, wn_error_t *err);
    int (*setup)(struct wn_stage *st, const struct wn_worker *worker, wn_error_t *err);
    /* in[0..n) are read-only (their columns may point into receive
     * buffers), except that wn_task_take_batch() may move an input's
     * batch into an output; append outputs to out.  The runner gives each output its
     * lineage id (derived from the input ids and the output's position),
     * so a stage need not set task ids: re-runs make the same ids. */
    int (*process_batch)(struct wn_stage *st, struct wn_task *const *in, size_t n,
                         struct wn_task_list *out, wn_error_t *err);
    void (*teardown)(struct wn_stage *st);
    /* Frees what init allocated: on every rank that ran init, and right
     * after an init that failed (so it must cope with a partly made
     * state, e.g. data still NULL). */
    void (*fini)(struct wn_stage *st);

    /* Shuffle stages only (ABI 2); NULL for the defaults above.  partition
     * sets part_of_row[r] < nparts for each row r of an insert output;
     * extract appends the outputs of partition part, whose rows are in
     * *rows (never NULL, maybe 0 rows): it may take *rows over (into an
     * output, setting *rows to NULL), else the runner frees it. */
    int (*partition)(struct wn_stage *st, const struct wn_task *task, uint32_t nparts,
                     uint32_t *part_of_row, wn_error_t *err);
    int (*extract)(struct wn_stage *st, uint32_t part, struct wn_batch **rows,
                   struct wn_task_list *out, wn_error_t *err);
};

/* Accessors for stage code. */
const char *wn_stage_name(const struct wn_stage *st);
uint32_t wn_stage_index(const struct wn_stage *st);
void *wn_stage_data(const struct wn_stage *st);
void wn_stage_set_data(struct wn_stage *st, void *data);
/* 0 on the first try of the current batch, 1 on the first retry, ... */
unsigned wn_stage_attempt(const struct wn_stage *st);
/* The resources each of the stage's actors asked for (the pipeline
 * file's resources:, defaults filled in).  A stage that can use a GPU
 * uses it when gpus > 0 and setup's worker has one (struct wn_worker's
 * gpu >= 0). */
struct wn_resources wn_stage_resources(const struct wn_stage *st);

/* One line to stderr at that level (winnow/log.h): "winnow[RANK]:
 * LEVEL: NAME: " (NAME the stage's) and then fmt.  For what a user
 * should see beside the stage's outputs (a summary, a fallback taken);
 * errors go in err instead, where the runner reports them. */
void wn_stage_log(const struct wn_stage *st, enum wn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* From init: the value of parameter key of the first stage after st in
 * the pipeline whose type is `type` (as validated: defaults filled in),
 * NULL when there is none or st is not in a pipeline.  For a stage that
 * adapts to another: lsh carries signatures along only when a later
 * buckets_to_edges checks them (jaccard_threshold). */
const char *wn_stage_later_param(const struct wn_stage *st, const char *type, const char *key);
/* The same for the nearest stage before st of that type, and its name in
 * *name (name may be NULL): lsh takes its band layout from the minhash
 * stage before it. */
const char *wn_stage_earlier_param(const struct wn_stage *st, const char *type, const char *key,
                                   const char **name);

/* Shuffle stages, from init: the column whose values' hash picks a row's
 * partition (when the stage has no partition function), and the number
 * of rounds (LSH band iteration; default 1).  Both return 0 or -1. */
int wn_stage_set_shuffle_key(struct wn_stage *st, const char *column, wn_error_t *err);
int wn_stage_set_rounds(struct wn_stage *st, uint32_t rounds, wn_error_t *err);
/* The shuffle round being run (0-based), during process_batch and extract. */
uint32_t wn_stage_round(const struct wn_stage *st);

/* The first stage (a source), from init: start from n empty seed tasks
 * instead of one (1 <= n <= 2^24), so that n batches can run on several
 * actors at once; seed i carries the metadata "seed" = "i" (decimal).
 * Returns 0 or -1.  Seed 0's id is the one a single seed has. */
int wn_stage_set_seeds(struct wn_stage *st, uint64_t n, wn_error_t *err);

/* ABI 3.  From init, for a stage that sizes its tasks by the run: the
 * bytes each rank may use (executor.memory_limit, else what the Slurm
 * allocation, the cgroup or the node gives it; 0 when nothing is known),
 * and the ranks that run actors (>= 1 in a run).  The same on every
 * rank; both 0 outside a run.  read_jsonl makes smaller tasks by them. */
uint64_t wn_stage_memory_limit(const struct wn_stage *st);
int wn_stage_actor_ranks(const struct wn_stage *st);
/* ABI 3.  From init, for a stage whose division of its work into tasks
 * depends on the run (read_jsonl's adapted blocksize): a number that
 * changes whenever that division does.  A checkpoint made under another
 * one does not load the stage's finished batches (they would overlap the
 * new ones): the stage, and every stage after it, run again whole. */
void wn_stage_set_layout(struct wn_stage *st, uint64_t key);
/* ABI 3.  From init: a line `winnow plan` prints under the stage (how it
 * sized its tasks, say).  0 or -1. */
int wn_stage_set_plan_note(struct wn_stage *st, const char *text, wn_error_t *err);

/* ------------------------------------------------------------- columns -- */

/* wn_stage_set_columns flags: the stage's outputs are its inputs' batches
 * passed on (maybe with fewer rows: a filter; or with columns added:
 * minhash), not batches it makes afresh. */
#define WN_COLUMNS_PASS 1u

/* ABI 3.  From init: the columns the stage reads from its input tasks
 * (reads, NULL-terminated; NULL for every column) and those its outputs
 * hold: with WN_COLUMNS_PASS its inputs' columns plus `writes` (those it
 * adds or replaces), without it only `writes` (NULL for none).  With
 * every stage's declaration the runner knows which columns a later stage
 * reads, and drops every other column from a stage's outputs before it
 * stores them and before they go to the checkpoint (column pruning; the
 * last stage's outputs are kept whole, and an output keeps at least one
 * column, so it keeps its row count).  A stage that never calls this,
 * like every ABI 1 or 2 plugin, reads every column and passes its inputs'
 * columns on: nothing before it is pruned.  A stage must therefore name
 * every column it looks at: one it reads undeclared may be gone.
 * `winnow plan` prints the columns kept after each stage.  Returns 0 or
 * -1. */
int wn_stage_set_columns(struct wn_stage *st, const char *const *reads, const char *const *writes,
                         unsigned flags, wn_error_t *err);

/* --------------------------------------------------------- input files -- */

/* One of the pipeline's input files, as the run listed it. */
struct wn_input_file {
    const char *path;     /* the input as written, then the name found */
    uint64_t size;        /* bytes on disk */
    int64_t mtime_ns;     /* last modification, ns since the epoch */
    uint64_t fingerprint; /* XXH3-64 of its first and last 64 KiB */
};

/* From init: lists the files of `input` - a directory (searched
 * recursively for names ending in one of `suffixes`, a NULL-terminated
 * list, or NULL for any name; links to files are followed, links to
 * directories are not), a glob pattern (every regular file it matches) or
 * one file - sorted bytewise by path, and puts their number in *nfiles.
 * At least one file, else an error naming input.
 *
 * A run lists its input once: rank 0 lists, every rank gets that list,
 * and every stage asking gets the same one.  A stage whose input lists
 * other files than an earlier stage's is an error: a document's id holds
 * its file's position in the list, so the stages that map ids to files
 * must agree.  The list is recorded in the checkpoint, and a resumed run
 * whose files differ from it is refused.  Returns 0 or -1. */
int wn_stage_list_inputs(struct wn_stage *st, const char *input, const char *const *suffixes,
                         size_t *nfiles, wn_error_t *err);
/* File i of the list (i < *nfiles), NULL out of range. */
const struct wn_input_file *wn_stage_input_file(const struct wn_stage *st, size_t i);
/* fd, open on file i, is still the file the run listed (the same size
 * and modification time): 0, else -1 with err naming the file and what
 * changed.  Readers call it after opening a file and after reading it, so
 * a file changed during a run fails that batch instead of shifting ids. */
int wn_stage_check_input(const struct wn_stage *st, size_t i, int fd, wn_error_t *err);

/* ------------------------------------------------------------- outputs -- */

enum wn_output_kind { WN_OUTPUT_FILE, WN_OUTPUT_DIR };

/* From init: a path the stage writes (a file, or a folder it writes files
 * in).  Before any work the runner refuses a run whose outputs are input
 * files, hold input files or lie in an input file's folder, or cannot be
 * written (a folder that is a file, a read-only place).  Returns 0 or -1. */
int wn_stage_add_output(struct wn_stage *st, const char *path, enum wn_output_kind kind,
                        wn_error_t *err);

/* ------------------------------------------------------------- rejects -- */

/* From process_batch: record `line` of `file` (1-based; 0 for none) is
 * unusable and left out (a malformed line).  The runner counts it under
 * `reason` (a short phrase that is the same for every record rejected
 * for the same cause, e.g. "invalid JSON" or "no field 'text'": the
 * summary, stderr and --stats count rejects per reason; past 63
 * reasons, the rest count as "other reasons"), and writes it
 * to the pipeline's rejects file as one JSON line {"file", "line",
 * "reason", "error"} ("error" is reason, then ": " and detail when detail
 * is not NULL: what exactly is wrong, e.g. the fields the line has) once
 * the batch has succeeded, and once only, also when a batch runs again.
 * A stage whose rejects exceed the pipeline's max_reject_fraction of the
 * records it read (rejected plus the rows it emitted) fails the run.
 * Returns 0 or -1. */
int wn_stage_reject(struct wn_stage *st, const char *file, uint64_t line, const char *reason,
                    const char *detail, wn_error_t *err);

/* ------------------------------------------------------------- plugins -- */

struct wn_registry;

/* Registers a stage type; ops must outlive the process (a static table). */
int wn_plugin_add_stage(struct wn_registry *reg, const struct wn_stage_ops *ops, wn_error_t *err);

/* The entry point a plugin exports: called once when it is loaded with
 * the runner's ABI version; returns 0 or -1 (refusing, e.g., a newer ABI). */
typedef int (*wn_plugin_init_fn)(struct wn_registry *reg, unsigned abi, wn_error_t *err);
#define WN_PLUGIN_ENTRY "wn_plugin_init_v1"

/* The task ABI (WN_TASK_ABI, winnow/task.h) a plugin was built for: the
 * layout of the task structs it reads and writes directly.  Every plugin
 * writes WN_PLUGIN_DECLARE_ABI; at file scope in one of its sources; the
 * runner reads it before it calls the entry point and refuses a plugin
 * built for another task ABI, naming the file and both numbers.  A
 * plugin without it was built before the number existed: task ABI 1. */
#define WN_PLUGIN_TASK_ABI_SYMBOL "wn_plugin_task_abi"
#define WN_PLUGIN_DECLARE_ABI                                                        \
    extern __attribute__((visibility("default"))) const unsigned wn_plugin_task_abi; \
    const unsigned wn_plugin_task_abi = WN_TASK_ABI

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_STAGE_H */
