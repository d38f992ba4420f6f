/* gpu.h - the little of CUDA the runner itself needs, callable from C.
 *
 * Built from gpu_cuda.cu by nvcc when configure finds CUDA, else from
 * gpu_none.c.  Without a driver or a device every call fails cleanly and
 * the rank is a CPU rank: nothing here aborts.
 */
#ifndef WN_GPU_H
#define WN_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Devices the driver reports: >= 0, or -1 when there is no usable CUDA
 * runtime/driver (built without CUDA, no driver, driver too old). */
int wn_gpu_device_count(void);

/* Name and memory of device `ordinal` (in the visible set). */
int wn_gpu_describe(int ordinal, char *name, size_t len, size_t *mem_bytes,
                    wn_error_t *err);

/* Sums n u64 values on device `ordinal` with a device-side reduction
 * kernel: the smallest proof that YAML -> stage -> kernel launch works
 * on the bound GPU.  Wraps modulo 2^64 like the CPU sum. */
int wn_gpu_sum_u64(int ordinal, const uint64_t *values, size_t n, uint64_t *sum,
                   wn_error_t *err);

/* Why CUDA is not usable here, for `winnow info` ("" when it is). */
const char *wn_gpu_unavailable_reason(void);

#ifdef __cplusplus
}
#endif

#endif /* WN_GPU_H */
