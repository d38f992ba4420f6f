/* plan.c - actor counts and batches (see plan.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

uint64_t wn_plan_nbatches(uint64_t ntasks, int batch_size, int num_output_tasks)
{
    if (num_output_tasks > 0)
        return (uint64_t)num_output_tasks;
    uint64_t bs = batch_size > 0 ? (uint64_t)batch_size : 1;
    return (ntasks + bs - 1) / bs;
}

uint64_t wn_plan_batch_start(uint64_t ntasks, int batch_size, int num_output_tasks,
                             uint64_t b)
{
    if (num_output_tasks > 0) {
        uint64_t k = (uint64_t)num_output_tasks;
        uint64_t base = ntasks / k, extra = ntasks % k;
        if (b > k)
            b = k;
        return b * base + (b < extra ? b : extra);
    }
    uint64_t bs = batch_size > 0 ? (uint64_t)batch_size : 1;
    uint64_t s = b * bs;
    return s < ntasks ? s : ntasks;
}

struct candidate {
    int rank;
    uint64_t bytes;
};

static int by_bytes_then_rank(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->rank - y->rank;
}

int wn_plan_actors(const struct wn_place *places, int nplaces,
                   const struct wn_actor_request *req, const uint64_t *bytes_on_rank,
                   int *ranks, int *nactors, wn_error_t *err)
{
    int alone = nplaces == 1;
    int gpu_stage = req->gpus > 0;
    struct candidate *cand = calloc((size_t)nplaces, sizeof(*cand));
    if (!cand)
        return wn_errprintf(err, "stage '%s': out of memory planning actors", req->stage);

    int n = 0, on_head = 0, without_gpu = 0;
    double cpus = 0, gpus = 0;
    for (int i = 0; i < nplaces; i++) {
        const struct wn_place *p = &places[i];
        if (p->rank == req->planner_rank && !alone)
            continue;
        if (req->ignore_head_node && p->node_id == 0 && !alone) {
            on_head++;
            continue;
        }
        if (gpu_stage && p->gpu < 0) {
            without_gpu++;
            continue;
        }
        cand[n].rank = p->rank;
        cand[n].bytes = bytes_on_rank ? bytes_on_rank[p->rank] : 0;
        n++;
        cpus += p->cpus;
        gpus += p->gpu >= 0 ? 1 : 0;
    }

    int rc = -1;
    errno = EINVAL;
    if (n == 0) {
        if (gpu_stage)
            wn_errprintf(err, "stage '%s' needs GPUs (%g per actor) but no actor rank has "
                         "one (%d without a GPU%s)", req->stage, req->gpus, without_gpu,
                         on_head ? ", and ignore_head_node excludes node 0" : "");
        else if (on_head)
            wn_errprintf(err, "stage '%s': ignore_head_node leaves no rank for actors: all "
                         "%d actor ranks are on node 0", req->stage, on_head);
        else
            wn_errprintf(err, "stage '%s': no rank can host an actor", req->stage);
        goto out;
    }
    double free_cpus = cpus - req->reserved_cpus;
    double free_gpus = gpus - req->reserved_gpus;
    double want_cpus = req->cpus > 0 ? req->cpus : 0;
    long by_cpu = want_cpus > 0 ? (long)floor(free_cpus / want_cpus + 1e-9) : n;
    if (by_cpu < 1) {
        wn_errprintf(err, "stage '%s' needs %g CPUs per actor but only %g CPUs are free "
                     "(%g on %d actor ranks, %g reserved)", req->stage, want_cpus,
                     free_cpus > 0 ? free_cpus : 0, cpus, n, req->reserved_cpus);
        goto out;
    }
    long limit = by_cpu < n ? by_cpu : n;
    if (gpu_stage) {
        long by_gpu = (long)floor(free_gpus / req->gpus + 1e-9);
        if (by_gpu < 1) {
            wn_errprintf(err, "stage '%s' needs %g GPUs per actor but only %g GPUs are "
                         "free (%g on actor ranks, %g reserved)", req->stage, req->gpus,
                         free_gpus > 0 ? free_gpus : 0, gpus, req->reserved_gpus);
            goto out;
        }
        if (by_gpu < limit)
            limit = by_gpu;
    }
    uint64_t nb = req->raft ? (uint64_t)limit
                            : wn_plan_nbatches(req->ntasks, req->batch_size,
                                               req->num_output_tasks);
    if ((uint64_t)limit > nb)
        limit = (long)nb;
    if (req->num_workers > 0 && limit > req->num_workers)
        limit = req->num_workers;
    if (limit < 1)
        limit = 1;

    qsort(cand, (size_t)n, sizeof(*cand), by_bytes_then_rank);
    /* Actor ranks are listed in rank order: actor_index follows rank. */
    for (long i = 0; i < limit; i++)
        ranks[i] = cand[i].rank;
    for (long i = 1; i < limit; i++)
        for (long j = i; j > 0 && ranks[j - 1] > ranks[j]; j--) {
            int t = ranks[j];
            ranks[j] = ranks[j - 1];
            ranks[j - 1] = t;
        }
    *nactors = (int)limit;
    rc = 0;
out:
    free(cand);
    return rc;
}
