/* bench/mpi_roundtrip.c - the baseline for bench/dispatch.sh: rank 0 keeps
 * `depth` 64-byte messages in flight to each other rank, each answered with
 * 64 bytes, first-free like the planner's dispatch (a task descriptor out,
 * a result back).  Prints round trips per second.
 *
 *   mpirun -np 4 bench/mpi_roundtrip [ROUND_TRIPS] [DEPTH]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long total = argc > 1 ? atol(argv[1]) : 20000;
    int depth = argc > 2 ? atoi(argv[2]) : 3;
    char buf[64];
    memset(buf, 0, sizeof(buf));
    if (size < 2) {
        fprintf(stderr, "mpi_roundtrip: needs at least 2 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (rank == 0) {
        long sent = 0, done = 0;
        for (int r = 1; r < size; r++)
            for (int d = 0; d < depth && sent < total; d++, sent++)
                MPI_Send(buf, 64, MPI_BYTE, r, 1, MPI_COMM_WORLD);
        while (done < total) {
            MPI_Status st;
            MPI_Recv(buf, 64, MPI_BYTE, MPI_ANY_SOURCE, 2, MPI_COMM_WORLD, &st);
            done++;
            if (sent < total) {
                MPI_Send(buf, 64, MPI_BYTE, st.MPI_SOURCE, 1, MPI_COMM_WORLD);
                sent++;
            }
        }
        for (int r = 1; r < size; r++)
            MPI_Send(buf, 0, MPI_BYTE, r, 3, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0;
        printf("%.1f round trips/s (%ld in %.3f s, %d ranks, depth %d)\n", total / dt, total, dt,
               size, depth);
    } else {
        for (;;) {
            MPI_Status st;
            MPI_Recv(buf, 64, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            if (st.MPI_TAG == 3)
                break;
            MPI_Send(buf, 64, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
        }
    }
    MPI_Finalize();
    return 0;
}
