/* config.h - a pipeline file, loaded and validated (runner-internal).
 *
 * wn_config_load reads a YAML pipeline file into a wn_pipeline_config and
 * checks everything it can without knowing the stage types: unknown keys,
 * wrong types, out-of-range numbers, duplicate keys and stage names,
 * missing required keys.  Every error reads "FILE:LINE:COL: message", so
 * a run fails before any work starts.  A stage's params are only stored
 * here; they are validated against the stage type's table when the stage
 * is created (wn_stage_create -> wn_params_validate).
 *
 * The keys, their types and defaults live in one table per section in
 * config.c, which drives parsing, --set overrides, printing and hashing.
 */
#ifndef WN_CONFIG_H
#define WN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "winnow/error.h"
#include "winnow/params.h"

/* Limits on what a pipeline file may ask for, so that a typo or a
 * hostile file is refused at once instead of growing without bound.
 *
 * WN_MAX_STAGE_BATCHES: the batches one stage may be cut into
 * (num_output_tasks) and the partitions a shuffle stage may have in all
 * its rounds together (total_nparts x rounds).  Rank 0 keeps a record of
 * every batch of the running stage from its start (48 bytes each), sends
 * each an assignment or extract message and gets a result back, and each
 * becomes a checkpoint part file; an insert batch also keeps 8 bytes per
 * partition on its actor.  2^20 of them cost rank 0 about 100 MB and
 * each insert batch 8 MiB, and already make a million checkpoint files.
 *
 * The file itself: WN_CONFIG_MAX_BYTES (a pipeline is a few KiB), YAML
 * collections nested at most WN_CONFIG_MAX_DEPTH deep (a pipeline needs
 * 4: root, stages, a stage, its params), at most WN_CONFIG_MAX_ENTRIES
 * entries in one mapping or list (the checks of duplicate keys and stage
 * names compare every pair), and at most WN_CONFIG_MAX_NODES nodes with
 * every alias counted as the nodes it repeats (a few aliases of aliases
 * would otherwise stand for billions of nodes). */
#define WN_MAX_STAGE_BATCHES (1u << 20)
#define WN_CONFIG_MAX_BYTES ((size_t)16 << 20)
#define WN_CONFIG_MAX_DEPTH 64
#define WN_CONFIG_MAX_ENTRIES 1024
#define WN_CONFIG_MAX_NODES 100000
#define WN_CONFIG_MAX_ANCHORS 256

/* executor.mode: stage after stage, or the stages of a segment at once
 * (doc/guide.md, section 1.9). */
enum wn_exec_mode { WN_MODE_BULK = 0, WN_MODE_STREAMING = 1 };

struct wn_executor_config {
    int mode;                  /* enum wn_exec_mode, default bulk          */
    int queue_depth;           /* streaming: batches queued on an edge
                                  between stages; 0: an actor's worth on
                                  either side, and one more                */
    double queue_bytes;        /* streaming: bytes queued on an edge; 0: a
                                  quarter of the data budget per consumer
                                  actor (none without a budget)            */
    int slots_per_actor;       /* batches an actor holds (running and
                                 queued); 0: prefetch + 1                  */
    double autoscale_interval; /* s, >= 0, default 1: streaming re-divides
                                  actors this often; 0: never            */
    double reserved_cpus;      /* >= 0, default 0: kept free on the job     */
    double reserved_gpus;      /* >= 0, default 0                           */
    int ignore_head_node;      /* default 0: node 0 hosts no actors when 1  */
    int show_progress;         /* default 1                                 */
    double progress_interval;  /* s, > 0, default 10                        */
    int prefetch;              /* >= 0, default 2: batches queued per actor */
    int max_retries;           /* >= 0, default 2: per failing batch        */
    int ignore_failures;       /* default 0: a batch failing every retry is
                                 dropped (and logged) instead of failing
                                 the run                                   */
    double drain_timeout;      /* s, > 0, default 60: in-flight batches may
                                 finish this long after a stop request     */
    double time_margin;        /* s, >= 0, default 300: checkpoint and stop
                                 when Slurm's remaining time drops under   */
    /* Shuffle stages (src/net/shuffle.h). */
    double shuffle_memory_limit; /* bytes of received rows an actor holds
                                    in memory before spilling; 0: 1 GiB */
    double shuffle_inflight;     /* bytes in flight to one peer; 0: 8 MiB    */
    char *shuffle_spill_dir;     /* NULL: $TMPDIR or /tmp                     */
    double shuffle_timeout;      /* s, > 0, default 300: a peer silent this
                                 long while a round waits on it fails it  */
    double heartbeat_timeout;    /* s, > 0, default 300: a rank silent this
                                 long (nothing reached rank 0) ends the
                                 run (src/exec/planner/hang.c)              */
    double memory_limit;         /* bytes a rank may use; 0: derived from the
                                    allocation (exec/budget.h) */
    char *spill_dir;             /* NULL: $SLURM_TMPDIR, $TMPDIR or /tmp  */
    int checkpoint_compression;  /* 0: part files' columns stored as they
                                    are; 1..9: HDF5 deflate at that level
                                    (default 1).  Not in the resume hash:
                                    a reader takes either */
};

struct wn_stage_config {
    char *name;               /* unique in the pipeline; default: the type
                                 (for a plugin: ":TYPE", else the file's
                                 base name without .so)                    */
    char *type;               /* built-in name or plugin path[:TYPE]       */
    char *where;              /* "FILE:LINE:COL" of the stage's entry      */
    int line, col;            /* 1-based, of the stage's entry             */
    int batch_size;           /* >= 1; 0 = unset (executor: 1, warns)      */
    int num_workers;          /* >= 1 caps the actors; 0 = no cap          */
    int num_output_tasks;     /* >= 1: even split into that many batches;
                                 0 = unset                                 */
    int total_nparts;         /* shuffle stages: partitions per round;
                                 0 = one per input task                    */
    double cpus;              /* per actor, >= 0, default 1                */
    double gpus;              /* per actor, >= 0, default 0                */
    double gpu_memory_gb;     /* per actor, >= 0, default 0                */
    struct wn_params *params; /* never NULL; validated by wn_stage_create  */
};

struct wn_pipeline_config {
    char *path;        /* the file (or the name given for errors)   */
    char *name;        /* required, [A-Za-z0-9_.-]+                 */
    char *description; /* NULL when absent (likewise below)         */
    char *input, *output, *checkpoint;
    /* What the document stages share: the JSON field holding the text
     * (default "text"), the field naming a document (NULL: none), the
     * rejects file (NULL: OUTPUT/rejects.jsonl, or ./rejects.jsonl without
     * an output), and the share of a stage's records it may reject before
     * the run fails (>= 0, default 0.1).  Stage parameters take the first
     * two as ${text_field} and ${id_field}. */
    char *text_field, *id_field, *rejects;
    double max_reject_fraction;
    char *text; /* the file's bytes, NUL-terminated          */
    size_t text_len;
    struct wn_executor_config exec;
    size_t nstages; /* >= 1 */
    struct wn_stage_config *stages;
};

/* A pipeline file's bytes, NUL-terminated, malloc'd, *len set; NULL with
 * errno and err naming the file when it cannot be read, is not a regular
 * file or a pipe (EINVAL), holds more than WN_CONFIG_MAX_BYTES (EFBIG) or
 * a NUL byte (EINVAL, with its line and column). */
char *wn_config_read_file(const char *path, size_t *len, wn_error_t *err);

/* Loads and validates a pipeline file (read by wn_config_read_file).  On
 * failure *out is untouched and err says "FILE:LINE:COL: ...". */
int wn_config_load(const char *path, struct wn_pipeline_config **out, wn_error_t *err);
/* The same from text in memory; name_for_errors stands for the path. */
int wn_config_load_string(const char *text, const char *name_for_errors,
                          struct wn_pipeline_config **out, wn_error_t *err);
void wn_config_free(struct wn_pipeline_config *cfg);

/* Applies one `--set KEY=VALUE`.  KEY is one of
 *   name description input output checkpoint
 *   executor.FIELD                 (any executor key)
 *   stages.NAME.FIELD              batch_size num_workers num_output_tasks
 *                                  total_nparts
 *                                  type resources.cpus resources.gpus
 *                                  resources.gpu_memory_gb
 *   stages.NAME.params.KEY         a stage parameter
 *   stages.NAME.KEY                the same, for any other KEY
 * VALUE is typed and range-checked as in the file (it is read as a plain,
 * unquoted scalar); an empty VALUE unsets description, input, output and
 * checkpoint.  Stage names may contain dots: the longest stage name that
 * fits wins.  Errors read "--set KEY=VALUE: ...". */
int wn_config_override(struct wn_pipeline_config *cfg, const char *assignment, wn_error_t *err);

/* Expands ${input}, ${output}, ${name}, ${text_field} and ${id_field}
 * (the pipeline's top-level keys) in every stage parameter's value,
 * defaults included: call it after the overrides and after
 * wn_stage_create filled the defaults.  A value that names an unknown
 * variable, or one the pipeline leaves unset (but id_field, whose unset
 * value is "": no id field), is an error naming the parameter and where
 * it was set. */
int wn_config_expand(struct wn_pipeline_config *cfg, wn_error_t *err);

/* The stage named name, or NULL. */
struct wn_stage_config *wn_config_stage(struct wn_pipeline_config *cfg, const char *name);

/* "FILE:LINE:COL" of a stage's entry, for messages. */
const char *wn_stage_config_where(const struct wn_stage_config *sc);

/* The pipeline's identity for resuming: XXH64 of a canonical rendering of
 * what decides the output, after overrides -- name, input, output,
 * text_field and id_field (when not the defaults), and per
 * stage its name, type, effective batch_size (unset = 1),
 * num_output_tasks and the parameters given in the file or by --set.
 * Independent of formatting, comments and key order.  Deliberately NOT
 * covered, so they may change between a run and its resume: description,
 * checkpoint, rejects, max_reject_fraction, every executor setting,
 * resources, num_workers, and
 * parameter defaults filled in by validation (so the hash is the same
 * before and after wn_params_validate; a parameter written out with its
 * default value does count as a change). */
uint64_t wn_config_hash(const struct wn_pipeline_config *cfg);

/* Prints the resolved configuration as YAML that wn_config_load reads
 * back to the same configuration (and hash).  Parameters filled from
 * defaults are printed as comments.  Returns 0 or -1 (errno from stdio). */
int wn_config_render(const struct wn_pipeline_config *cfg, FILE *out);

/* Helpers from params.c shared with config.c (runner-internal). */
/* 1 for YAML's null spellings (empty, ~, null, Null, NULL) unless quoted. */
int wn_yaml_is_null(const char *text, unsigned flags);
/* Fills why with "expected EXPECTED, got 'TEXT'" (or "an empty value",
 * or "the quoted string \"TEXT\""). */
void wn_param_why(char *why, size_t whylen, const char *expected, const char *text, unsigned flags);
/* Writes s as a YAML scalar that the loader reads back as the same text
 * and WN_PARAM_F_QUOTED flag: plain when that is safe, else double-quoted. */
void wn_yaml_put_scalar(FILE *out, const char *s, unsigned flags);
/* Writes " {}\n" when p has no given entries, else "\n"; then one
 * "INDENTkey: value" line per entry, defaults as "INDENT# key: value"
 * comments. */
void wn_params_print_yaml(const struct wn_params *p, FILE *out, const char *indent);

#endif /* WN_CONFIG_H */
