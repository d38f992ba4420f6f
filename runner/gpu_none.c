/* gpu_none.c - gpu.h when winnow was configured without CUDA. */
#include <errno.h>

#include "gpu.h"

int wn_gpu_device_count(void)
{
    return -1;
}

int wn_gpu_describe(int ordinal, char *name, size_t len, size_t *mem_bytes,
                    wn_error_t *err)
{
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", ordinal);
}

int wn_gpu_sum_u64(int ordinal, const uint64_t *values, size_t n, uint64_t *sum,
                   wn_error_t *err)
{
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", ordinal);
}

const char *wn_gpu_unavailable_reason(void)
{
    return "built without CUDA (configure --with-cuda)";
}
