/* gpu_none.c - gpu.h when winnow was configured without CUDA. */
#include <errno.h>

#include "gpu/gpu.h"

int wn_gpu_device_count(void)
{
    return -1;
}

int wn_gpu_describe(int ordinal, char *name, size_t len, size_t *mem_bytes, wn_error_t *err)
{
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", ordinal);
}

int wn_gpu_sum_u64(int ordinal, const uint64_t *values, size_t n, uint64_t *sum, wn_error_t *err)
{
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", ordinal);
}

const char *wn_gpu_unavailable_reason(void)
{
    return "built without CUDA (configure --with-cuda)";
}

int wn_gpu_alloc(int ordinal, size_t bytes, void **ptr, wn_error_t *err)
{
    (void)bytes;
    *ptr = NULL;
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", ordinal);
}

void wn_gpu_free(int ordinal, void *ptr)
{
    (void)ordinal;
    (void)ptr;
}

int wn_gpu_copy(int ordinal, void *dst, const void *src, size_t bytes, int to_device,
                wn_error_t *err)
{
    (void)dst, (void)src, (void)bytes, (void)to_device;
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", ordinal);
}

static int no_nccl(wn_error_t *err)
{
    errno = ENOSYS;
    return wn_errprintf(err, "NCCL cliques need winnow built with CUDA and NCCL");
}

int wn_nccl_unique_id(void *id, wn_error_t *err)
{
    (void)id;
    return no_nccl(err);
}

int wn_nccl_init(const void *id, int nranks, int rank, int device, double timeout_s, void **comm,
                 wn_error_t *err)
{
    (void)id, (void)nranks, (void)rank, (void)device, (void)timeout_s;
    *comm = NULL;
    return no_nccl(err);
}

int wn_nccl_allreduce(void *comm, const void *send, void *recv, size_t count, int type, int op,
                      wn_error_t *err)
{
    (void)comm, (void)send, (void)recv, (void)count, (void)type, (void)op;
    return no_nccl(err);
}

int wn_nccl_allgather(void *comm, const void *send, void *recv, size_t count, int type,
                      wn_error_t *err)
{
    (void)comm, (void)send, (void)recv, (void)count, (void)type;
    return no_nccl(err);
}

int wn_nccl_bcast(void *comm, void *buf, size_t count, int type, int root, wn_error_t *err)
{
    (void)comm, (void)buf, (void)count, (void)type, (void)root;
    return no_nccl(err);
}

void wn_nccl_destroy(void *comm)
{
    (void)comm;
}
