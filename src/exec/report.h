/* report.h - what rank 0 tells people about a run: a progress line per
 * stage, a summary table at the end, and machine-readable files
 * (--stats FILE.json, --trace FILE.json for Perfetto, --results FILE.jsonl
 * with the final tasks' rows, and the failed-tasks file). */
#ifndef WN_REPORT_H
#define WN_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stage/rejects.h"
#include "winnow/error.h"
#include "winnow/task.h"

struct wn_stage_stats {
    char name[64], type[64];
    int nactors;
    int ranks[64]; /* the first 64 actor ranks */
    uint64_t batches;
    uint64_t tasks_in, tasks_out, items_in, items_out, bytes_in, bytes_out;
    double busy_s;            /* sum over batches of process time */
    double idle_s;            /* sum of actor idle time before batches */
    double pull_s;            /* sum of time batches waited for pulled inputs */
    uint64_t pulled_bytes;    /* payload bytes moved between ranks */
    uint64_t arena_bytes;     /* payload bytes read in place from another
                                 rank's node arena (no copy, no owner) */
    double t_begin, t_end;    /* s since run start; t_end 0 until done */
    unsigned retries, failed; /* batch retries, batches given up */
    /* Shuffle stages: over rounds and actors. */
    uint32_t rounds;
    uint64_t shuffle_bytes;   /* sent between actors */
    uint64_t spilled_bytes;   /* written to spill files */
    uint64_t peak_held_bytes; /* most received bytes one actor held in memory */
    int ran;                  /* 0 when the run stopped before it */
    /* Streaming (executor.mode): it ran at once with other stages; the
     * most batches waiting on the edge into it, and how often that queue
     * filled and held its producer back. */
    int streamed;
    uint64_t queue_peak, queue_holds;
    double actor_s;                  /* streaming: actor-seconds (actors over time;
                             busy % is busy_s over it when set) */
    unsigned autoscales;             /* re-divisions of its segment's actors (the
                             segment's first stage counts them) */
    struct wn_reject_counts rejects; /* records its batches rejected */
};

struct wn_trace_event {
    int rank;
    uint32_t stage;
    uint64_t batch;
    double t_start, t_end; /* s since run start */
    uint32_t ntasks;
    int status;               /* 0 ok, -1 failed */
    uint64_t bytes_spilled;   /* the rank's store's, so far */
    uint64_t bytes_read_back; /* ... */
};

/* Streaming's autoscaler: from t on, stage has `actors` actors. */
struct wn_autoscale_event {
    double t;
    uint32_t stage;
    int actors;
};

struct wn_rank_spill {
    uint64_t bytes_spilled, bytes_read_back;
};

struct wn_run_report {
    const char *pipeline;
    int nranks, nnodes;
    double wall_s;
    int status;                     /* the exit status */
    uint64_t planner_payload_bytes; /* payload bytes rank 0 received */
    /* Per rank (nranks), MiB, or NULL: the peak RSS each actor reported
     * with its last batch result, rank 0's own at the end (0: no batch). */
    const uint32_t *peak_rss_mib;
    /* Per rank (nranks), or NULL: what its store spilled and read back,
     * as of its last batch result (rank 0's own at the end). */
    const struct wn_rank_spill *spill;
    struct wn_stage_stats *stages;
    uint32_t nstages;
    struct wn_trace_event *events;
    size_t nevents;
    const struct wn_autoscale_event *autoscale; /* in time order */
    size_t nautoscale;
    /* The trace's lanes: one per rank, or (streaming, where a rank runs
     * batches of several stages at once) one per rank and stage. */
    int lanes_by_stage;
};

/* Progress of the current stage, counting tasks.  mode: 1 a live bar
 * (TTY: redrawn in place with rate and ETA), 2 a line every `interval`
 * seconds (a Slurm output file), 0 nothing.
 *
 *   mode 1  [2/3] sleep    [#########-----------]  45% 180/400 tasks  52.3 tasks/s  ETA 4s
 *           (drawn at once when a stage starts, then at most every 0.2 s;
 *           final draws the last state, "in 7.7s" for the ETA, and '\n')
 *   mode 2  winnow: stage 2/3 'sleep': 180/400 tasks (45%), 52.3 tasks/s, ETA 4s, elapsed 3.4s
 *           winnow: stage 2/3 'sleep' done: 400 tasks in 7.7s (52.0 tasks/s)
 *           (or "stopped: 180/400 tasks in ..." when final comes early)
 *
 * Mode 2's clock runs across stages: a line when `interval` s have passed
 * since the last line of any stage (the first after `interval` s of the
 * run), and always the final one.  Rate = done / (now - t_begin); the
 * ETA reads "?" until a task is done.  While a mode 1 bar is open
 * (bar_open), other output to `out` lands on the bar's line. */
struct wn_progress {
    int mode;
    double interval;
    double last; /* when it last printed */
    FILE *out;
    int bar_open; /* a bar line is drawn without its newline */
};

/* out NULL means mode 0. */
void wn_progress_init(struct wn_progress *p, FILE *out, int mode, double interval);
/* Prints when due (or always when final); now and s->t_begin in s since
 * the run started, s->name the stage's name.  index is the stage's
 * 0-based index in the pipeline (printed 1-based: "2/3" for index 1). */
void wn_progress_update(struct wn_progress *p, const struct wn_stage_stats *s, uint32_t index,
                        uint32_t nstages, uint64_t done, uint64_t total, double now, int final);

/* Streaming: the stages of a segment running at once, one line each
 * (mode 2), or one line for those that have begun, cut to the terminal's
 * width (mode 1), when due as above:
 *
 *   winnow: stage 3/11 'word_count': 12/40 batches done, 4 running, 2 queued, elapsed 3.4s
 *   [2-4/11] read 10/10 0 run 0 q | word_count 12/? 4 run 2 q | write 3/? 1 run 0 q
 *
 * total 0 prints "?": the stage's producer is still running. */
struct wn_progress_stage {
    const struct wn_stage_stats *s;
    uint32_t index;
    uint64_t queued, running, done, total;
};
void wn_progress_segment(struct wn_progress *p, const struct wn_progress_stage *v, size_t n,
                         uint32_t nstages, double now);

/* The end-of-run table: per stage tasks and items in/out, wall time,
 * actor busy % (busy_s / (nactors * wall)), items/s (items_in / wall);
 * stages with ran == 0 read "not run".  A stage's wall time is t_end -
 * t_begin, or wall_s - t_begin when it was cut short (t_end 0).  Then
 * retries and failures where there were any, payload bytes rank 0
 * received, and the cross-rank transfer rate (sums of pulled_bytes and
 * pull_s) with the bytes read in place from node arenas; "none" without
 * either. */
void wn_report_summary(FILE *out, const struct wn_run_report *r);

/* The same data as JSON (an object: pipeline, ranks, nodes, wall_s,
 * status, planner_payload_bytes, transfer {bytes, seconds, mb_per_s
 * (MiB/s)}, stages [...]).  Each stage: every wn_stage_stats field (ranks
 * only the first min(nactors, 64), ran a boolean) plus wall_s, busy_pct,
 * items_per_s, tasks_per_s.  Counters are JSON integers, times reals.
 *
 * The stats, trace and results files are replaced atomically: written to
 * PATH.tmp.PID in the same directory, fsync'd, then renamed to PATH. */
int wn_report_stats_json(const char *path, const struct wn_run_report *r, wn_error_t *err);

/* Chrome trace-event JSON: one lane (tid) per rank, one complete event
 * ("ph": "X") per batch, named after its stage (or "stage N" for an index
 * past nstages), ts and dur in microseconds, args {batch, tasks, status
 * "ok"|"failed"}; Perfetto and chrome://tracing open it.  Streamed, so
 * memory does not grow with the number of events. */
int wn_report_trace_json(const char *path, const struct wn_run_report *r, wn_error_t *err);

/* One JSON object per row of the final tasks, tasks in the given order:
 * {"task": "<16 hex id>", "row": N, "<column>": value, ...}, columns in
 * batch order; a task without a batch adds no rows.  The same tasks give
 * the same bytes.
 *   - integers are written as exact decimal JSON integers, u64 above
 *     INT64_MAX too (18446744073709551615).  Python, jq >= 1.7, Go and
 *     serde read them exactly; readers that keep numbers as doubles
 *     (JavaScript) lose digits above 2^53, and jansson rejects values
 *     above INT64_MAX unless told JSON_DECODE_INT_AS_REAL.
 *   - f64: the shortest of %.15g..%.17g that reads back to the same
 *     double, always with a '.' or exponent ("3.0"); NaN and inf as null.
 *   - strings: valid UTF-8 passes through, '"' '\\' and control bytes
 *     are escaped (NUL as \u0000), and each byte that starts no valid
 *     UTF-8 sequence is written as \u00XX - i.e. read back as the
 *     Latin-1 character U+00XX.  That is lossy in one way: an escaped
 *     byte 0xE9 reads the same as a real "é"; read the checkpoint when
 *     the exact bytes matter.
 *   - lists as arrays of integers.
 * A column named "task" or "row" repeats that key (readers keep the
 * column's value). */
int wn_report_results(const char *path, struct wn_task *const *tasks, size_t n, wn_error_t *err);

/* Appends one failed batch to the failed-tasks file (JSONL, created on
 * first use): {"stage", "batch", "attempts", "tasks": ["<16 hex id>"...],
 * "error"} (error null when NULL), with one O_APPEND write. */
int wn_report_failed(const char *path, const char *stage, uint64_t batch, unsigned attempts,
                     const uint64_t *ids, size_t nids, const char *error, wn_error_t *err);

#endif /* WN_REPORT_H */
