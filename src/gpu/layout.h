/* layout.h - where a rank is: node, local rank, CPUs, GPUs, launcher.
 *
 * A rank's place is computed from its environment (Slurm, OpenMPI,
 * CUDA_VISIBLE_DEVICES) by a pure function of that environment, so the
 * same code is tested by replaying captured environments (t/fixtures/
 * layout/) and used for real by `winnow info` and the planner.
 */
#ifndef WN_LAYOUT_H
#define WN_LAYOUT_H

#include <stdio.h>

#include "winnow/error.h"

#define WN_MAX_GPUS 64
#define WN_NAME_LEN 64

enum wn_launcher {
    WN_LAUNCH_SINGLETON, /* started alone: one process does everything */
    WN_LAUNCH_MPIRUN,    /* started by mpirun/mpiexec                  */
    WN_LAUNCH_SRUN,      /* started by srun as a Slurm step            */
};

struct wn_place {
    int rank, size; /* MPI_COMM_WORLD */
    enum wn_launcher launcher;
    int node_id;                /* 0..nnodes-1; -1 until known       */
    int local_rank, local_size; /* ranks on this node; -1 unknown    */
    char node_name[WN_NAME_LEN];
    int cpus;                    /* CPUs this rank may use, >= 1      */
    char cpus_from[WN_NAME_LEN]; /* which source gave `cpus`          */

    /* Slurm step identity (-1 where unset). */
    long job_id, step_id;
    int procid, localid, nodeid, step_num_tasks, step_num_nodes;
    int gpus_on_node;

    /* GPUs this rank sees and the one it binds. */
    int ngpus;                   /* visible to this rank              */
    int gpu;                     /* bound ordinal in the visible set, -1 none */
    char gpu_label[WN_NAME_LEN]; /* the bound device as named in
                                    CUDA_VISIBLE_DEVICES, e.g. "3" */
    char gpu_bind[WN_NAME_LEN];  /* how it was chosen                  */
    char warning[256];           /* a binding a user should know of    */
};

typedef const char *(*wn_getenv_fn)(const char *name, void *arg);

struct wn_layout_input {
    wn_getenv_fn getenv; /* NULL: the process environment      */
    void *getenv_arg;
    int rank, size;       /* from MPI                           */
    const char *hostname; /* this host's name                   */
    int device_count;     /* CUDA devices the driver reports,
                             -1 when there is no driver */
    int affinity_cpus;    /* CPUs in this process's mask         */
};

/* Fills *place from the input.  Node id and local rank come from Slurm
 * (SLURM_NODEID, SLURM_LOCALID) or OpenMPI (OMPI_COMM_WORLD_LOCAL_RANK);
 * where neither says, they stay -1 and wn_layout_gather() derives them
 * from host names. */
int wn_place_from_env(const struct wn_layout_input *in, struct wn_place *place, wn_error_t *err);

/* Under srun, MPI and Slurm must agree on who is who: a PMI mismatch
 * (srun without --mpi=pmix) starts N singletons that all think they are
 * rank 0 of 1.  Returns -1 with the likely cause when they disagree. */
int wn_place_check_launch(const struct wn_place *place, wn_error_t *err);

/* The same check before MPI_Init, from the environment alone: a task of a
 * multi-task srun step with no PMI variables (PMIX_RANK, PMI_RANK, PMI_FD)
 * would start as a singleton -- or abort inside MPI_Init, as OpenMPI 4.1
 * does -- so it is refused first with the cause.  Returns -1 then. */
int wn_check_pmi_env(const struct wn_layout_input *in, wn_error_t *err);

/* Completes node ids and local ranks of a whole job's places (all ranks,
 * in rank order) where the environment did not say: ranks on the same
 * host name share a node, numbered in order of first appearance. */
void wn_layout_complete(struct wn_place *places, int n);

/* Number of distinct nodes in a completed layout. */
int wn_layout_nnodes(const struct wn_place *places, int n);

const char *wn_launcher_name(enum wn_launcher l);

/* One line per rank, as `winnow info` prints it; stable for golden tests. */
void wn_place_print(FILE *out, const struct wn_place *place);

/* The real environment of this process: host name, affinity CPU count,
 * CUDA device count (-1 without a driver). */
void wn_layout_input_from_process(struct wn_layout_input *in, int rank, int size);

#endif /* WN_LAYOUT_H */
