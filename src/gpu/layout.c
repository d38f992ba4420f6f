/* layout.c - a rank's place from its environment (see layout.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "gpu/layout.h"

static const char *env_get(const struct wn_layout_input *in, const char *name)
{
    const char *v = in->getenv ? in->getenv(name, in->getenv_arg) : getenv(name);
    return (v && *v) ? v : NULL;
}

/* A non-negative integer variable, or -1 when unset or not a number. */
static long env_long(const struct wn_layout_input *in, const char *name)
{
    const char *v = env_get(in, name);
    if (!v)
        return -1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || x < 0)
        return -1;
    return x;
}

/* SLURM_GPUS_ON_NODE and friends may read "4" or "gpu:4" or "h100:4". */
static long env_count_suffix(const struct wn_layout_input *in, const char *name)
{
    const char *v = env_get(in, name);
    if (!v)
        return -1;
    const char *colon = strrchr(v, ':');
    const char *num = colon ? colon + 1 : v;
    char *end;
    long x = strtol(num, &end, 10);
    return (end == num || x < 0) ? -1 : x;
}

/* Counts the entries of CUDA_VISIBLE_DEVICES and copies entry `want`.
 * Returns -1 when the variable is unset (then the driver decides). */
static int visible_devices(const char *v, int want, char *label, size_t len)
{
    if (!v)
        return -1;
    /* "NoDevFiles" is what Slurm sets when a job has no GPUs. */
    if (strcmp(v, "NoDevFiles") == 0 || strcmp(v, "-1") == 0)
        return 0;
    int n = 0;
    const char *p = v;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0) {
            if (n == want && label) {
                size_t c = l < len - 1 ? l : len - 1;
                memcpy(label, p, c);
                label[c] = '\0';
            }
            n++;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return n;
}

/* SLURM_STEP_TASKS_PER_NODE reads like "2(x3),1": tasks on each node in
 * node order, runs compressed.  Returns the count on node `node`, or -1. */
static int tasks_on_node(const char *v, int node)
{
    if (!v || node < 0)
        return -1;
    int seen = 0;
    while (*v) {
        char *end;
        long count = strtol(v, &end, 10), reps = 1;
        if (end == v || count < 0)
            return -1;
        if (strncmp(end, "(x", 2) == 0) {
            char *e2;
            reps = strtol(end + 2, &e2, 10);
            if (e2 == end + 2 || *e2 != ')' || reps < 1)
                return -1;
            end = e2 + 1;
        }
        if (node < seen + reps)
            return (int)count;
        seen += (int)reps;
        if (*end != ',')
            return -1;
        v = end + 1;
    }
    return -1;
}

static void set_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int wn_place_from_env(const struct wn_layout_input *in, struct wn_place *p, wn_error_t *err)
{
    if (!in || !p || in->size < 1 || in->rank < 0 || in->rank >= in->size) {
        errno = EINVAL;
        return wn_errprintf(err, "layout: rank %d of %d is not a valid place", in ? in->rank : -1,
                            in ? in->size : -1);
    }
    memset(p, 0, sizeof(*p));
    p->rank = in->rank;
    p->size = in->size;
    p->node_id = p->local_rank = p->local_size = -1;
    p->gpu = -1;

    p->job_id = env_long(in, "SLURM_JOB_ID");
    p->step_id = env_long(in, "SLURM_STEP_ID");
    p->procid = (int)env_long(in, "SLURM_PROCID");
    p->localid = (int)env_long(in, "SLURM_LOCALID");
    p->nodeid = (int)env_long(in, "SLURM_NODEID");
    p->step_num_tasks = (int)env_long(in, "SLURM_STEP_NUM_TASKS");
    p->step_num_nodes = (int)env_long(in, "SLURM_STEP_NUM_NODES");
    p->gpus_on_node = (int)env_count_suffix(in, "SLURM_GPUS_ON_NODE");

    /* mpirun marks its ranks; srun sets the step's task count.  mpirun
     * inside an allocation also inherits SLURM_* of the batch step (or of
     * the orted step), which say nothing about MPI ranks. */
    if (env_get(in, "OMPI_COMM_WORLD_SIZE"))
        p->launcher = WN_LAUNCH_MPIRUN;
    else if (p->step_num_tasks > 0 && p->procid >= 0)
        p->launcher = WN_LAUNCH_SRUN;
    else
        p->launcher = in->size > 1 ? WN_LAUNCH_MPIRUN : WN_LAUNCH_SINGLETON;

    /* Node identity: Slurm assigned the ranks to nodes, so it is the
     * authority (two slurmd "nodes" may share one host name). */
    const char *nodename = env_get(in, "SLURMD_NODENAME");
    if (p->launcher == WN_LAUNCH_SRUN) {
        p->node_id = p->nodeid;
        p->local_rank = p->localid;
        p->local_size = tasks_on_node(env_get(in, "SLURM_STEP_TASKS_PER_NODE"), p->nodeid);
    } else if (p->launcher == WN_LAUNCH_MPIRUN) {
        p->local_rank = (int)env_long(in, "OMPI_COMM_WORLD_LOCAL_RANK");
        p->local_size = (int)env_long(in, "OMPI_COMM_WORLD_LOCAL_SIZE");
        nodename = NULL;
    } else {
        p->node_id = 0;
        p->local_rank = 0;
        p->local_size = 1;
        nodename = NULL;
    }
    set_str(p->node_name, sizeof(p->node_name),
            nodename ? nodename : (in->hostname ? in->hostname : "localhost"));

    /* CPUs: what Slurm granted the task, else the affinity mask shared by
     * the ranks on this node (at least one: oversubscribed ranks still
     * each run an actor). */
    long cpt = env_long(in, "SLURM_CPUS_PER_TASK");
    if (p->launcher == WN_LAUNCH_SRUN && cpt > 0) {
        p->cpus = (int)cpt;
        set_str(p->cpus_from, sizeof(p->cpus_from), "SLURM_CPUS_PER_TASK");
    } else {
        int aff = in->affinity_cpus > 0 ? in->affinity_cpus : 1;
        if (p->local_size > 1) {
            p->cpus = aff / p->local_size;
            set_str(p->cpus_from, sizeof(p->cpus_from), "affinity/local ranks");
        } else {
            p->cpus = aff;
            set_str(p->cpus_from, sizeof(p->cpus_from), "affinity");
        }
        if (p->cpus < 1) {
            p->cpus = 1;
            set_str(p->cpus_from, sizeof(p->cpus_from), "oversubscribed");
        }
    }

    /* GPUs.  CUDA_VISIBLE_DEVICES, when set, names what this rank sees;
     * the driver must also report devices, or none are usable. */
    const char *cvd = env_get(in, "CUDA_VISIBLE_DEVICES");
    int nvis = visible_devices(cvd, -1, NULL, 0);
    if (in->device_count <= 0) {
        p->ngpus = 0;
        set_str(p->gpu_bind, sizeof(p->gpu_bind),
                in->device_count < 0 ? "no CUDA driver" : "no CUDA device");
        return 0;
    }
    p->ngpus = nvis >= 0 ? nvis : in->device_count;
    if (nvis > in->device_count)
        p->ngpus = in->device_count;
    if (p->ngpus == 0) {
        set_str(p->gpu_bind, sizeof(p->gpu_bind), "CUDA_VISIBLE_DEVICES hides all");
        return 0;
    }
    int lr = p->local_rank >= 0 ? p->local_rank : 0;
    if (p->ngpus == 1) {
        p->gpu = 0;
        set_str(p->gpu_bind, sizeof(p->gpu_bind), "the one visible");
        /* --gpus-per-task: each task sees only its own GPU, so NCCL cannot
         * use peer-to-peer paths between the ranks of a node. */
        if (p->launcher == WN_LAUNCH_SRUN &&
            (env_get(in, "SLURM_GPUS_PER_TASK") || p->local_size > 1))
            snprintf(p->warning, sizeof(p->warning),
                     "rank %d sees only its own GPU (--gpus-per-task?): NCCL peers on "
                     "node %d cannot see each other's GPUs; use --gpus-per-node with "
                     "--gpu-bind=none",
                     p->rank, p->node_id);
    } else {
        p->gpu = lr % p->ngpus;
        snprintf(p->gpu_bind, sizeof(p->gpu_bind), "local rank %d mod %d", lr, p->ngpus);
    }
    if (cvd)
        visible_devices(cvd, p->gpu, p->gpu_label, sizeof(p->gpu_label));
    else
        snprintf(p->gpu_label, sizeof(p->gpu_label), "%d", p->gpu);
    return 0;
}

int wn_place_check_launch(const struct wn_place *p, wn_error_t *err)
{
    if (p->launcher != WN_LAUNCH_SRUN)
        return 0;
    if (p->step_num_tasks != p->size || p->procid != p->rank) {
        errno = EPROTO;
        return wn_errprintf(
            err,
            "MPI and Slurm disagree: MPI says rank %d of %d, Slurm says task %d of %d "
            "(job %ld step %ld). This is a PMI mismatch: srun started %d separate "
            "singletons instead of one MPI job. Launch with 'srun --mpi=pmix' "
            "(OpenMPI here has no PMI-2), or set MpiDefault=pmix in slurm.conf.",
            p->rank, p->size, p->procid, p->step_num_tasks, p->job_id, p->step_id,
            p->step_num_tasks);
    }
    return 0;
}

int wn_check_pmi_env(const struct wn_layout_input *in, wn_error_t *err)
{
    long ntasks = env_long(in, "SLURM_STEP_NUM_TASKS");
    long procid = env_long(in, "SLURM_PROCID");
    if (ntasks < 2 || procid < 0 || env_get(in, "OMPI_COMM_WORLD_SIZE"))
        return 0;
    /* srun --mpi=pmix sets PMIX_RANK, --mpi=pmi2 PMI_RANK / PMI_FD. */
    if (env_get(in, "PMIX_RANK") || env_get(in, "PMI_RANK") || env_get(in, "PMI_FD"))
        return 0;
    errno = EPROTO;
    return wn_errprintf(
        err,
        "srun started this process as task %ld of %ld (job %ld step %ld) without a "
        "PMI that MPI can use (no PMIX_RANK in the environment): MPI would say rank 0 "
        "of 1, Slurm says task %ld of %ld. This is a PMI mismatch: srun would start "
        "%ld separate singletons instead of one MPI job. Launch with 'srun --mpi=pmix' "
        "(OpenMPI here has no PMI-2), or set MpiDefault=pmix in slurm.conf.",
        procid, ntasks, env_long(in, "SLURM_JOB_ID"), env_long(in, "SLURM_STEP_ID"), procid, ntasks,
        ntasks);
}

void wn_layout_complete(struct wn_place *places, int n)
{
    /* Node ids by host name in order of first appearance, where unknown. */
    int next_node = 0;
    for (int i = 0; i < n; i++)
        if (places[i].node_id >= next_node)
            next_node = places[i].node_id + 1;
    for (int i = 0; i < n; i++) {
        if (places[i].node_id >= 0)
            continue;
        int id = -1;
        for (int j = 0; j < i; j++)
            if (strcmp(places[j].node_name, places[i].node_name) == 0 && places[j].node_id >= 0) {
                id = places[j].node_id;
                break;
            }
        places[i].node_id = id >= 0 ? id : next_node++;
    }
    /* Local ranks and sizes in rank order within each node. */
    for (int i = 0; i < n; i++) {
        int before = 0, total = 0;
        for (int j = 0; j < n; j++)
            if (places[j].node_id == places[i].node_id) {
                total++;
                if (j < i)
                    before++;
            }
        if (places[i].local_rank < 0)
            places[i].local_rank = before;
        if (places[i].local_size < 0)
            places[i].local_size = total;
    }
}

int wn_layout_nnodes(const struct wn_place *places, int n)
{
    int max = -1;
    for (int i = 0; i < n; i++)
        if (places[i].node_id > max)
            max = places[i].node_id;
    return max + 1;
}

const char *wn_launcher_name(enum wn_launcher l)
{
    switch (l) {
    case WN_LAUNCH_SINGLETON:
        return "singleton";
    case WN_LAUNCH_MPIRUN:
        return "mpirun";
    case WN_LAUNCH_SRUN:
        return "srun";
    }
    return "?";
}

void wn_place_print(FILE *out, const struct wn_place *p)
{
    fprintf(out, "rank %d/%d node %d (%s) local %d/%d cpus %d (%s) launcher %s", p->rank, p->size,
            p->node_id, p->node_name, p->local_rank, p->local_size, p->cpus, p->cpus_from,
            wn_launcher_name(p->launcher));
    if (p->launcher == WN_LAUNCH_SRUN)
        fprintf(out, " slurm job %ld step %ld procid %d localid %d nodeid %d", p->job_id,
                p->step_id, p->procid, p->localid, p->nodeid);
    if (p->gpu >= 0)
        fprintf(out, " gpus %d bound %d (CUDA device %s; %s)", p->ngpus, p->gpu, p->gpu_label,
                p->gpu_bind);
    else
        fprintf(out, " gpus %d bound none (%s)", p->ngpus, p->gpu_bind);
    fputc('\n', out);
}

void wn_layout_input_from_process(struct wn_layout_input *in, int rank, int size)
{
    static char host[HOST_NAME_MAX + 1];
    memset(in, 0, sizeof(*in));
    in->rank = rank;
    in->size = size;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    in->hostname = host;
    cpu_set_t set;
    CPU_ZERO(&set);
    in->affinity_cpus = sched_getaffinity(0, sizeof(set), &set) == 0
                            ? CPU_COUNT(&set)
                            : (int)sysconf(_SC_NPROCESSORS_ONLN);
    in->device_count = wn_gpu_device_count();
}
