/* options.h - what the command line tells a run (`winnow run`'s options
 * and the checkpoint it opened), as the executor reads them. */
#ifndef WN_OPTIONS_H
#define WN_OPTIONS_H

struct wn_ckpt;

struct wn_run_options {
    const char *stats_path;   /* --stats FILE.json */
    const char *trace_path;   /* --trace FILE.json */
    const char *results_path; /* --results FILE.jsonl: final tasks' rows */
    const char *failed_path;  /* failed tasks (default from the config) */
    const char *rejects_path; /* records stages rejected (wn_stage_reject) */
    int progress;             /* -1 auto (TTY bar / lines), 0 off, 1 lines */
    const char *checkpoint;   /* --checkpoint DIR or the pipeline's; NULL off */
    int force;                /* --force: resume a checkpoint of another hash */
    struct wn_ckpt *ckpt;     /* rank 0: the open checkpoint (ckpt.h)  */
    /* Bytes each rank may use (exec.h, wn_exec_memory_limit), the
     * smallest of all ranks'; 0: none known. */
    unsigned long long memory_limit;
    /* What of it is for data: less what the largest rank held before any
     * (libraries, MPI) and WN_BUDGET_RUN_SLACK, a quarter of the limit at
     * least.  The budget's shares (budget.h) are of this. */
    unsigned long long memory_data, memory_base;
    char memory_from[256]; /* rank 0's: where it came from */
};

#endif /* WN_OPTIONS_H */
