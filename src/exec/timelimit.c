/* timelimit.c - how long the Slurm job has left (see timelimit.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "util/log.h"
#include "exec/timelimit.h"

#ifdef WN_HAVE_SLURM
#include <slurm/slurm.h>
#endif

#ifndef WN_HAVE_SLURM
/* Without libslurm: the job's EndTime from scontrol, once. */
static time_t end_from_scontrol(long job)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "scontrol show job -o %ld 2>/dev/null", job);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char line[8192];
    time_t end = 0;
    if (fgets(line, sizeof(line), p)) {
        const char *e = strstr(line, " EndTime=");
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        if (e && strptime(e + 9, "%Y-%m-%dT%H:%M:%S", &tm)) {
            tm.tm_isdst = -1;
            end = mktime(&tm);
        }
    }
    pclose(p);
    return end;
}
#endif

void wn_timelimit_init(struct wn_timelimit *t)
{
    memset(t, 0, sizeof(*t));
    const char *id = getenv("SLURM_JOB_ID");
    t->job = id && *id ? strtol(id, NULL, 10) : 0;
    if (t->job <= 0)
        return;
#ifdef WN_HAVE_SLURM
    t->use_api = 1;
#else
    t->end = end_from_scontrol(t->job);
#endif
}

long wn_timelimit_left(struct wn_timelimit *t)
{
    if (t->job <= 0)
        return -1;
#ifdef WN_HAVE_SLURM
    if (t->use_api) {
        static int inited;
        if (!inited) {
            slurm_init(NULL);
            inited = 1;
        }
        long left = slurm_get_rem_time((uint32_t)t->job);
        return left >= 0 ? left : -1;
    }
#endif
    if (!t->end)
        return -1;
    long left = (long)(t->end - time(NULL));
    return left > 0 ? left : 0;
}
