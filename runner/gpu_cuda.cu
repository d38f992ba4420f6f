/* gpu_cuda.cu - gpu.h on the CUDA runtime (compiled by nvcc). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>

#include "gpu.h"

static char unavailable[256];

extern "C" int wn_gpu_device_count(void)
{
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc == cudaErrorNoDevice) {
        snprintf(unavailable, sizeof(unavailable), "no CUDA device");
        (void)cudaGetLastError();
        return 0;
    }
    if (rc != cudaSuccess) {
        snprintf(unavailable, sizeof(unavailable), "CUDA unusable: %s",
                 cudaGetErrorString(rc));
        (void)cudaGetLastError();
        return -1;
    }
    unavailable[0] = '\0';
    return n;
}

extern "C" const char *wn_gpu_unavailable_reason(void)
{
    if (!unavailable[0])
        (void)wn_gpu_device_count();
    return unavailable;
}

extern "C" int wn_gpu_describe(int ordinal, char *name, size_t len, size_t *mem_bytes,
                               wn_error_t *err)
{
    cudaDeviceProp prop;
    cudaError_t rc = cudaGetDeviceProperties(&prop, ordinal);
    if (rc != cudaSuccess) {
        errno = ENODEV;
        return wn_errprintf(err, "GPU %d: %s", ordinal, cudaGetErrorString(rc));
    }
    if (name && len)
        snprintf(name, len, "%s (sm_%d%d)", prop.name, prop.major, prop.minor);
    if (mem_bytes)
        *mem_bytes = prop.totalGlobalMem;
    return 0;
}

/* Grid-stride partial sums in shared memory, then one atomicAdd per
 * block: u64 addition wraps, so the result equals the CPU loop's. */
__global__ static void sum_u64_kernel(const unsigned long long *v, size_t n,
                                      unsigned long long *out)
{
    __shared__ unsigned long long part[256];
    unsigned long long acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += v[i];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        atomicAdd(out, part[0]);
}

#define CUDA_TRY(call, what)                                                   \
    do {                                                                       \
        cudaError_t rc_ = (call);                                              \
        if (rc_ != cudaSuccess) {                                              \
            wn_errprintf(err, "GPU %d: %s: %s", ordinal, what,                 \
                         cudaGetErrorString(rc_));                             \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

extern "C" int wn_gpu_sum_u64(int ordinal, const uint64_t *values, size_t n,
                              uint64_t *sum, wn_error_t *err)
{
    unsigned long long *dv = NULL, *dout = NULL, host = 0;
    int blocks = (int)((n + 255) / 256);
    if (blocks > 1024)
        blocks = 1024;
    if (blocks < 1)
        blocks = 1;
    CUDA_TRY(cudaSetDevice(ordinal), "cudaSetDevice");
    CUDA_TRY(cudaMalloc(&dv, (n ? n : 1) * sizeof(*dv)), "cudaMalloc");
    CUDA_TRY(cudaMalloc(&dout, sizeof(*dout)), "cudaMalloc");
    CUDA_TRY(cudaMemset(dout, 0, sizeof(*dout)), "cudaMemset");
    if (n)
        CUDA_TRY(cudaMemcpy(dv, values, n * sizeof(*dv), cudaMemcpyHostToDevice),
                 "copy to device");
    sum_u64_kernel<<<blocks, 256>>>(dv, n, dout);
    CUDA_TRY(cudaGetLastError(), "kernel launch");
    CUDA_TRY(cudaMemcpy(&host, dout, sizeof(host), cudaMemcpyDeviceToHost),
             "copy from device");
    cudaFree(dv);
    cudaFree(dout);
    *sum = host;
    return 0;
fail:
    (void)cudaGetLastError();
    cudaFree(dv);
    cudaFree(dout);
    errno = EIO;
    return -1;
}
