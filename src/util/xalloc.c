/* xalloc.c - see xalloc.h. */
#include <mpi.h>
#include <stdlib.h>

#include "util/exit.h"
#include "util/log.h"
#include "util/xalloc.h"

static void *out_of_memory(size_t n, const char *file, int line)
{
    wn_error("out of memory: %zu bytes of the run's bookkeeping at %s:%d; this rank cannot go "
             "on, so the run ends (a checkpoint, if any, resumes it)",
             n, file, line);
    int up = 0;
    MPI_Initialized(&up);
    if (up)
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    exit(WN_EXIT_FAILURE);
}

void *wn_xmalloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    return p ? p : out_of_memory(n, file, line);
}

void *wn_xcalloc_at(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : out_of_memory(n * size, file, line);
}

void *wn_xrealloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : out_of_memory(n, file, line);
}
