/* bench/shuffle.c - the UCX shuffle (src/net/shuffle.h) against
 * MPI_Alltoallv on the same data, in one run (bench/shuffle.sh starts it
 * on 4 ranks).  Partition p is owned by rank p (nparts = ranks), so each
 * rank's data for rank d is one partition's worth.  Two sizes: 1 MiB per
 * pair of ranks in 64 KiB chunks, 16 MiB per pair in 4 MiB chunks.  Both
 * ways are timed from the start (first insert) to every rank holding and
 * having read its data (extract for the shuffle), the max over ranks, best
 * of REPS; chunk buffers are made before the clock starts (the shuffle
 * takes malloc'd buffers, Alltoallv a ready send buffer).
 *
 * Usage: shuffle [REPS]
 * Ends with: shuffle: <GB/s> GB/s, ratio <R> vs MPI_Alltoallv */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>

#include "net/shuffle.h"

static int rank, size;

/* Reads every cache line, so the received data is really there. */
static uint64_t touch(const void *buf, size_t len)
{
    const uint64_t *w = buf;
    uint64_t s = 0;
    for (size_t i = 0; i < len / 8; i += 8)
        s += w[i];
    return s;
}

static int touch_fn(void *arg, uint64_t origin, const void *buf, size_t len, wn_error_t *err)
{
    (void)origin;
    (void)err;
    *(uint64_t *)arg += touch(buf, len);
    return 0;
}

static double time_alltoallv(char *sendbuf, char *recvbuf, size_t per_pair, uint64_t *sum)
{
    int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int));
    for (int i = 0; i < size; i++) {
        counts[i] = (int)per_pair;
        displs[i] = (int)(i * per_pair);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    MPI_Alltoallv(sendbuf, counts, displs, MPI_BYTE, recvbuf, counts, displs, MPI_BYTE,
                  MPI_COMM_WORLD);
    *sum += touch(recvbuf, per_pair * size);
    double t = MPI_Wtime() - t0, tmax;
    MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    free(counts);
    free(displs);
    return tmax;
}

static double time_shuffle(uint32_t round, const char *sendbuf, size_t per_pair, size_t chunk,
                           uint64_t *sum, struct wn_shuffle_stats *st)
{
    wn_error_t err = {""};
    struct wn_shuffle_opts o = {.world_rank = rank};
    struct wn_shuffle *sh = wn_shuffle_create(MPI_COMM_WORLD, round, (uint32_t)size, &o, &err);
    if (!sh) {
        fprintf(stderr, "rank %d: %s\n", rank, err.text);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    size_t nchunks = (per_pair + chunk - 1) / chunk;
    void **bufs = malloc((size_t)size * nchunks * sizeof(void *));
    for (int d = 0; d < size; d++)
        for (size_t c = 0; c < nchunks; c++) {
            size_t len = c == nchunks - 1 ? per_pair - c * chunk : chunk;
            bufs[d * nchunks + c] = malloc(len);
            memcpy(bufs[d * nchunks + c], sendbuf + d * per_pair + c * chunk, len);
        }
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    int rc = 0;
    /* destinations in a rank-dependent order, so not all hit rank 0 first */
    for (size_t c = 0; c < nchunks && rc == 0; c++)
        for (int i = 0; i < size && rc == 0; i++) {
            int d = (rank + 1 + i) % size;
            size_t len = c == nchunks - 1 ? per_pair - c * chunk : chunk;
            rc = wn_shuffle_insert(sh, (uint32_t)d, (uint64_t)rank * nchunks + c,
                                   bufs[d * nchunks + c], len, &err);
        }
    if (rc == 0)
        rc = wn_shuffle_insert_finished(sh, &err);
    /* idle, give the core away: 4 ranks share 2 cores here (MPI yields too) */
    while (rc == 0 && !wn_shuffle_complete(sh)) {
        int n = wn_shuffle_progress(sh, &err);
        rc = n < 0 ? -1 : 0;
        if (n == 0)
            sched_yield();
    }
    if (rc == 0)
        rc = wn_shuffle_extract(sh, (uint32_t)rank, touch_fn, sum, &err);
    double t = MPI_Wtime() - t0, tmax;
    /* peers may still be pulling this rank's data (rendezvous): keep
     * progressing until its sends are done before blocking in MPI */
    while (rc == 0 && !wn_shuffle_sends_done(sh))
        rc = wn_shuffle_progress(sh, &err) < 0 ? -1 : 0;
    if (rc != 0) {
        fprintf(stderr, "rank %d: %s\n", rank, err.text);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    wn_shuffle_stats(sh, st);
    wn_shuffle_destroy(sh);
    free(bufs);
    return tmax;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    const struct {
        size_t per_pair, chunk;
    } sizes[] = {{1u << 20, 64u << 10}, {16u << 20, 4u << 20}};
    double tot_bytes = 0, tot_ucx = 0, tot_mpi = 0;
    uint32_t round = 1;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t per_pair = sizes[s].per_pair;
        char *sendbuf = malloc(per_pair * size), *recvbuf = malloc(per_pair * size);
        for (size_t i = 0; i < per_pair * size; i++)
            sendbuf[i] = (char)(i * 131 + rank);
        memset(recvbuf, 0, per_pair * size);
        double best_mpi = 1e30, best_ucx = 1e30;
        uint64_t sum_mpi = 0, sum_ucx = 0;
        struct wn_shuffle_stats st;
        for (int r = 0; r < reps; r++) {
            double m = time_alltoallv(sendbuf, recvbuf, per_pair, &sum_mpi);
            double u = time_shuffle(round++, sendbuf, per_pair, sizes[s].chunk, &sum_ucx, &st);
            if (m < best_mpi)
                best_mpi = m;
            if (u < best_ucx)
                best_ucx = u;
        }
        /* the same bytes arrived both ways */
        uint64_t sums[2] = {sum_mpi, sum_ucx}, all[2];
        MPI_Reduce(sums, all, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        double bytes = (double)per_pair * size * (size - 1);
        if (rank == 0) {
            if (all[0] != all[1])
                fprintf(stderr, "shuffle: data differs from MPI_Alltoallv's\n");
            printf("%5zu KiB per pair, %zu KiB chunks: MPI_Alltoallv %.3f GB/s (%.2f ms), "
                   "UCX shuffle %.3f GB/s (%.2f ms), ratio %.2f; rank 0 sent %llu chunks in "
                   "%llu messages\n",
                   per_pair >> 10, sizes[s].chunk >> 10, bytes / best_mpi / 1e9, best_mpi * 1e3,
                   bytes / best_ucx / 1e9, best_ucx * 1e3, best_mpi / best_ucx,
                   (unsigned long long)st.chunks_sent, (unsigned long long)st.messages_sent);
            fflush(stdout);
        }
        tot_bytes += bytes;
        tot_ucx += best_ucx;
        tot_mpi += best_mpi;
        free(sendbuf);
        free(recvbuf);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long rss = ru.ru_maxrss, *rsss = malloc(size * sizeof(long));
    MPI_Gather(&rss, 1, MPI_LONG, rsss, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("peak RSS per rank (MiB):");
        for (int i = 0; i < size; i++)
            printf(" %.1f", rsss[i] / 1024.0);
        printf("\n");
        double ucx = tot_bytes / tot_ucx / 1e9, mpi = tot_bytes / tot_mpi / 1e9;
        printf("shuffle: %.3f GB/s, ratio %.2f vs MPI_Alltoallv\n", ucx, ucx / mpi);
    }
    free(rsss);
    MPI_Finalize();
    return 0;
}
