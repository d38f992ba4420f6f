/* plan.c - actor counts and batches (see plan.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/plan.h"
#include "stage/stage_impl.h"

uint64_t wn_plan_nbatches(uint64_t ntasks, int batch_size, int num_output_tasks)
{
    if (num_output_tasks > 0)
        return (uint64_t)num_output_tasks;
    uint64_t bs = batch_size > 0 ? (uint64_t)batch_size : 1;
    return (ntasks + bs - 1) / bs;
}

uint64_t wn_plan_batch_start(uint64_t ntasks, int batch_size, int num_output_tasks, uint64_t b)
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
    int device; /* index into the stage's distinct GPUs, -1 */
};

/* Ranks of one node that bind the same GPU (mpirun -np 4 on a one-GPU
 * machine binds all four to it) share it: a GPU is identified by node and
 * device label (or ordinal), not by rank. */
static int same_gpu(const struct wn_place *a, const struct wn_place *b)
{
    if (a->node_id != b->node_id)
        return 0;
    if (a->gpu_label[0] || b->gpu_label[0])
        return !strcmp(a->gpu_label, b->gpu_label);
    return a->gpu == b->gpu;
}

static int by_bytes_then_rank(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->rank - y->rank;
}

int wn_plan_actors(const struct wn_place *places, int nplaces, const struct wn_actor_request *req,
                   const uint64_t *bytes_on_rank, int *ranks, int *nactors, wn_error_t *err)
{
    int alone = nplaces == 1;
    int gpu_stage = req->gpus > 0;
    struct candidate *cand = calloc((size_t)nplaces, sizeof(*cand));
    if (!cand)
        return wn_errprintf(err, "stage '%s': out of memory planning actors", req->stage);

    int n = 0, on_head = 0, without_gpu = 0, ndev = 0;
    double cpus = 0, gpus = 0;
    /* The place of the first rank found on each distinct GPU. */
    const struct wn_place **devs = calloc((size_t)nplaces, sizeof(*devs));
    int *dev_used = calloc((size_t)nplaces, sizeof(*dev_used));
    if (!devs || !dev_used) {
        free(cand);
        free(devs);
        free(dev_used);
        return wn_errprintf(err, "stage '%s': out of memory planning actors", req->stage);
    }
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
        cand[n].device = -1;
        if (gpu_stage) {
            int d = 0;
            while (d < ndev && !same_gpu(devs[d], p))
                d++;
            if (d == ndev)
                devs[ndev++] = p;
            cand[n].device = d;
        }
        n++;
        cpus += p->cpus;
    }
    gpus = ndev;
    /* Actors one GPU can host: 1 for gpus >= 1, floor(1 / gpus) for a
     * fraction (0.5: two actors share a device). */
    int per_dev = !gpu_stage || req->gpus >= 1 ? 1 : (int)floor(1.0 / req->gpus + 1e-9);
    int placeable = n;
    if (gpu_stage) {
        placeable = 0;
        for (int d = 0; d < ndev; d++) {
            int on = 0;
            for (int i = 0; i < n; i++)
                on += cand[i].device == d;
            placeable += on < per_dev ? on : per_dev;
        }
    }

    int rc = -1;
    errno = EINVAL;
    if (n == 0) {
        if (gpu_stage)
            wn_errprintf(err,
                         "stage '%s' needs GPUs (%g per actor) but no actor rank has "
                         "one (%d without a GPU%s)",
                         req->stage, req->gpus, without_gpu,
                         on_head ? ", and ignore_head_node excludes node 0" : "");
        else if (on_head)
            wn_errprintf(err,
                         "stage '%s': ignore_head_node leaves no rank for actors: all "
                         "%d actor ranks are on node 0",
                         req->stage, on_head);
        else
            wn_errprintf(err, "stage '%s': no rank can host an actor", req->stage);
        goto out;
    }
    double free_cpus = cpus - req->reserved_cpus;
    double free_gpus = gpus - req->reserved_gpus;
    double want_cpus = req->cpus > 0 ? req->cpus : 0;
    long by_cpu = want_cpus > 0 ? (long)floor(free_cpus / want_cpus + 1e-9) : n;
    if (by_cpu < 1) {
        wn_errprintf(err,
                     "stage '%s' needs %g CPUs per actor but only %g CPUs are free "
                     "(%g on %d actor ranks, %g reserved)",
                     req->stage, want_cpus, free_cpus > 0 ? free_cpus : 0, cpus, n,
                     req->reserved_cpus);
        goto out;
    }
    long limit = by_cpu < placeable ? by_cpu : placeable;
    if (gpu_stage) {
        long by_gpu = (long)floor(free_gpus / req->gpus + 1e-9);
        if (by_gpu < 1) {
            wn_errprintf(err,
                         "stage '%s' needs %g GPUs per actor but only %g GPUs are "
                         "free (%g on actor ranks, %g reserved)",
                         req->stage, req->gpus, free_gpus > 0 ? free_gpus : 0, gpus,
                         req->reserved_gpus);
            goto out;
        }
        if (by_gpu < limit)
            limit = by_gpu;
    }
    uint64_t nb = req->raft ? (uint64_t)limit
                            : wn_plan_nbatches(req->ntasks, req->batch_size, req->num_output_tasks);
    if ((uint64_t)limit > nb)
        limit = (long)nb;
    if (req->num_workers > 0 && limit > req->num_workers)
        limit = req->num_workers;
    if (limit < 1)
        limit = 1;

    qsort(cand, (size_t)n, sizeof(*cand), by_bytes_then_rank);
    /* Take candidates in that order, skipping ranks whose GPU is full. */
    long got = 0;
    for (int i = 0; i < n && got < limit; i++) {
        if (cand[i].device >= 0) {
            if (dev_used[cand[i].device] >= per_dev)
                continue;
            dev_used[cand[i].device]++;
        }
        ranks[got++] = cand[i].rank;
    }
    limit = got;
    /* Actor ranks are listed in rank order: actor_index follows rank. */
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
    free(devs);
    free(dev_used);
    return rc;
}

static int can_follow(struct wn_stage *const *stages, uint32_t s)
{
    const unsigned barrier = WN_STAGE_SHUFFLE | WN_STAGE_RAFT;
    return !(stages[s]->ops->flags & barrier) && !(stages[s - 1]->ops->flags & barrier) &&
           stages[s]->cfg->num_output_tasks <= 0;
}

uint32_t wn_plan_segment_end(struct wn_stage *const *stages, uint32_t nstages, uint32_t head,
                             int streaming)
{
    uint32_t e = head + 1;
    while (streaming && e < nstages && can_follow(stages, e))
        e++;
    return e;
}

uint32_t wn_plan_longest_segment(struct wn_stage *const *stages, uint32_t nstages, int streaming)
{
    uint32_t most = nstages ? 1 : 0;
    for (uint32_t h = 0; h < nstages;) {
        uint32_t e = wn_plan_segment_end(stages, nstages, h, streaming);
        if (e - h > most)
            most = e - h;
        h = e;
    }
    return most;
}

int wn_plan_threads(int cpus, struct wn_stage *const *stages, uint32_t nstages, int streaming)
{
    if (!streaming)
        return 1;
    double least = 1;
    for (uint32_t s = 0; s < nstages; s++)
        if (stages[s]->cfg->cpus > 0 && stages[s]->cfg->cpus < least)
            least = stages[s]->cfg->cpus;
    double fit = floor((cpus > 0 ? cpus : 1) / least + 1e-9);
    if (fit > WN_PLAN_THREADS_MAX)
        fit = WN_PLAN_THREADS_MAX;
    return fit > 1 ? (int)fit : 1;
}
