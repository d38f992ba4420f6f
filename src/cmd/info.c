/* info.c - `winnow info`: every rank reports its place, rank 0 prints. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "cmd/cli.h"
#include "gpu/gpu.h"
#include "gpu/layout.h"
#include "util/log.h"

int wn_mpi_start(int *argc, char ***argv)
{
    int provided, rank;
    struct wn_layout_input in = {0};
    wn_error_t err;
    if (wn_check_pmi_env(&in, &err) < 0) {
        wn_error("%s", err.text);
        return -1;
    }
    /* SERIALIZED: one thread at a time calls MPI; the runner's helper
     * threads hand their MPI work to the main loop. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        wn_error("MPI_Init_thread failed");
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    wn_log_set_rank(rank);
    return 0;
}

void wn_mpi_stop(void)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Finalize();
}

int wn_cmd_info(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: winnow info\n"
                   "Every rank reports rank, node, local rank, CPUs and its GPU binding;\n"
                   "rank 0 prints the layout.\n");
            return WN_EXIT_OK;
        }
        wn_error("info: unknown option '%s'", argv[i]);
        return WN_EXIT_USAGE;
    }
    if (wn_mpi_start(&argc, &argv) < 0)
        return WN_EXIT_USAGE; /* a launch error */
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    struct wn_layout_input in;
    struct wn_place me;
    wn_error_t err;
    wn_layout_input_from_process(&in, rank, size);
    if (wn_place_from_env(&in, &me, &err) < 0 || wn_place_check_launch(&me, &err) < 0) {
        /* Each misstarted singleton reports for itself: there is no job
         * to gather into. */
        wn_error("%s", err.text);
        wn_mpi_stop();
        return WN_EXIT_USAGE;
    }

    struct wn_place *all = NULL;
    if (rank == 0 && !(all = calloc((size_t)size, sizeof(*all)))) {
        wn_error("out of memory gathering %d places", size);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    MPI_Gather(&me, (int)sizeof(me), MPI_BYTE, all, (int)sizeof(me), MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        wn_layout_complete(all, size);
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        int len;
        MPI_Get_library_version(lib, &len);
        char *nl = strchr(lib, '\n');
        if (nl)
            *nl = '\0';
        printf("winnow %s: %d rank%s on %d node%s, launched by %s\n", PACKAGE_VERSION, size,
               size == 1 ? "" : "s", wn_layout_nnodes(all, size),
               wn_layout_nnodes(all, size) == 1 ? "" : "s", wn_launcher_name(me.launcher));
        printf("features: %s\nmpi: %s\n", WN_FEATURES, lib);
        if (me.job_id >= 0)
            printf("slurm: job %ld step %ld, %d tasks on %d nodes\n", me.job_id, me.step_id,
                   me.step_num_tasks, me.step_num_nodes);
        int ndev = wn_gpu_device_count();
        if (ndev > 0)
            printf("cuda: %d device%s on rank 0's node\n", ndev, ndev == 1 ? "" : "s");
        else
            printf("cuda: %s\n", wn_gpu_unavailable_reason());
        for (int i = 0; i < size; i++)
            wn_place_print(stdout, &all[i]);
        for (int i = 0; i < size; i++)
            if (all[i].warning[0])
                printf("warning: %s\n", all[i].warning);
        fflush(stdout);
        free(all);
    }
    wn_mpi_stop();
    return WN_EXIT_OK;
}
