/* timelimit.h - the time a Slurm job has left, so that a run can
 * checkpoint and stop before the limit (executor time_margin).  With
 * libslurm, slurm_get_rem_time() is asked each time (slurmctld knows of
 * extensions); without it, the job's EndTime is read from scontrol once. */
#ifndef WN_TIMELIMIT_H
#define WN_TIMELIMIT_H

#include <time.h>

struct wn_timelimit {
    long job; /* SLURM_JOB_ID, 0 outside Slurm */
    int use_api;
    time_t end; /* from scontrol, 0 unknown */
};

void wn_timelimit_init(struct wn_timelimit *t);
/* Seconds left, or -1 when unknown (not a Slurm job, no limit). */
long wn_timelimit_left(struct wn_timelimit *t);

#endif /* WN_TIMELIMIT_H */
