/* bench/clique.c - what the clique layer costs: allreduce of 1 to 256 MiB
 * of doubles on every rank, with plain MPI_Allreduce and with a CPU clique
 * the way a RAFT stage uses one (a compute thread calls it, the main
 * thread runs the nonblocking collective in its loop).  Best of 3 per
 * size.  Where every rank of a node has a GPU of its own, also NCCL's bus
 * bandwidth on a GPU clique.  Last line:
 *   clique: ratio <R> vs MPI_Allreduce
 * with R = (total MPI time) / (total clique time) over the sizes. */
#define _GNU_SOURCE
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/clique.h"
#include "gpu/gpu.h"

static int rank, size;

struct call {
    struct wn_clique *c;
    double *send, *recv;
    size_t n;
    volatile int done;
    int rc;
    double t;
};

static void *compute(void *arg)
{
    struct call *k = arg;
    wn_error_t err = {""};
    double t0 = MPI_Wtime();
    k->rc = wn_clique_allreduce(k->c, k->send, k->recv, k->n, WN_TYPE_F64, WN_OP_SUM, &err);
    k->t = MPI_Wtime() - t0;
    if (k->rc)
        fprintf(stderr, "rank %d: %s\n", rank, err.text);
    __atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The slowest rank's time of one clique allreduce. */
static double clique_once(struct wn_clique *c, double *send, double *recv, size_t n)
{
    struct call k = {c, send, recv, n, 0, 0, 0};
    pthread_t th;
    MPI_Barrier(MPI_COMM_WORLD);
    pthread_create(&th, NULL, compute, &k);
    while (!__atomic_load_n(&k.done, __ATOMIC_ACQUIRE))
        if (!wn_clique_progress(c))
            sched_yield();
    pthread_join(th, NULL);
    double t = k.t;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return k.rc ? -1 : t;
}

static double mpi_once(double *send, double *recv, size_t n)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    MPI_Allreduce(send, recv, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double t = MPI_Wtime() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return t;
}

/* NCCL on one GPU per rank, where a node has enough: bus bandwidth of a
 * 256 MiB allreduce (NCCL's definition: bytes * 2(n-1)/n / time). */
static void nccl_bench(MPI_Comm group, const int *ranks)
{
    MPI_Comm node;
    int local, nlocal, ngpus = wn_gpu_device_count();
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    MPI_Comm_size(node, &nlocal);
    MPI_Comm_free(&node);
    int enough = ngpus >= nlocal, all = 0;
    MPI_Allreduce(&enough, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (!all) {
        if (rank == 0)
            printf("nccl: skipped (%s)\n",
                   ngpus < 0 ? wn_gpu_unavailable_reason() : "fewer GPUs than ranks on a node");
        return;
    }
    wn_error_t err = {""};
    struct wn_clique *c = wn_clique_create(group, ranks, size, local, 60, NULL, NULL, &err);
    size_t n = ((size_t)256 << 20) / sizeof(double);
    void *d = NULL;
    if (!c || wn_gpu_alloc(local, n * sizeof(double), &d, &err) < 0) {
        fprintf(stderr, "rank %d: %s\n", rank, err.text);
        wn_clique_destroy(c);
        return;
    }
    double best = 1e30;
    for (int rep = 0; rep < 4; rep++) { /* the first one warms up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (wn_clique_allreduce(c, d, d, n, WN_TYPE_F64, WN_OP_SUM, &err) < 0)
            fprintf(stderr, "rank %d: %s\n", rank, err.text);
        double t = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (rep > 0 && t < best)
            best = t;
    }
    if (rank == 0)
        printf("nccl: 256 MiB allreduce on %d GPUs: %.3f ms, bus bandwidth %.1f GB/s\n", size,
               best * 1e3, (double)(n * sizeof(double)) * 2.0 * (size - 1) / size / best / 1e9);
    wn_gpu_free(local, d);
    wn_clique_destroy(c);
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm group;
    MPI_Comm_dup(MPI_COMM_WORLD, &group);
    int *ranks = malloc((size_t)size * sizeof(*ranks));
    for (int r = 0; r < size; r++)
        ranks[r] = r;
    wn_error_t err = {""};
    struct wn_clique *c = wn_clique_create(group, ranks, size, -1, 60, NULL, NULL, &err);
    if (!c) {
        fprintf(stderr, "rank %d: %s\n", rank, err.text);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    size_t maxn = ((size_t)256 << 20) / sizeof(double);
    double *send = malloc(maxn * sizeof(double)), *recv = malloc(maxn * sizeof(double));
    for (size_t i = 0; i < maxn; i++)
        send[i] = (double)(i % 1000) + rank;
    double total_mpi = 0, total_clique = 0;
    int bad = 0;
    for (size_t mib = 1; mib <= 256; mib *= 4) {
        size_t n = (mib << 20) / sizeof(double);
        double bm = 1e30, bc = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double tm = mpi_once(send, recv, n);
            double tc = clique_once(c, send, recv, n);
            if (tc < 0)
                bad = 1;
            bm = tm < bm ? tm : bm;
            bc = tc < bc ? tc : bc;
        }
        /* the clique's sum is the MPI one: spot-check the ends */
        double want0 = (double)size * (0 % 1000) + size * (size - 1) / 2.0;
        if (recv[0] != want0)
            bad = 1;
        total_mpi += bm;
        total_clique += bc;
        if (rank == 0)
            printf("%4zu MiB: MPI_Allreduce %8.2f ms, clique %8.2f ms, ratio %.2f\n", mib, bm * 1e3,
                   bc * 1e3, bm / bc);
    }
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    nccl_bench(group, ranks);
    if (rank == 0) {
        if (bad)
            printf("clique: wrong results\n");
        printf("clique: ratio %.2f vs MPI_Allreduce (%d ranks, 1-256 MiB)\n",
               total_mpi / total_clique, size);
    }
    wn_clique_destroy(c);
    free(send);
    free(recv);
    free(ranks);
    MPI_Comm_free(&group);
    MPI_Finalize();
    return bad;
}
