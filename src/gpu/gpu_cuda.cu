/* gpu_cuda.cu - gpu.h on the CUDA runtime (compiled by nvcc). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "build-config.h"
#include "gpu/gpu.h"
#include "winnow/task.h"

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
        snprintf(unavailable, sizeof(unavailable), "CUDA unusable: %s", cudaGetErrorString(rc));
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

#define CUDA_TRY(call, what)                                                             \
    do {                                                                                 \
        cudaError_t rc_ = (call);                                                        \
        if (rc_ != cudaSuccess) {                                                        \
            wn_errprintf(err, "GPU %d: %s: %s", ordinal, what, cudaGetErrorString(rc_)); \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)

extern "C" int wn_gpu_sum_u64(int ordinal, const uint64_t *values, size_t n, uint64_t *sum,
                              wn_error_t *err)
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
        CUDA_TRY(cudaMemcpy(dv, values, n * sizeof(*dv), cudaMemcpyHostToDevice), "copy to device");
    sum_u64_kernel<<<blocks, 256>>>(dv, n, dout);
    CUDA_TRY(cudaGetLastError(), "kernel launch");
    CUDA_TRY(cudaMemcpy(&host, dout, sizeof(host), cudaMemcpyDeviceToHost), "copy from device");
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

/* ---------------------------------------------------- device memory -- */

extern "C" int wn_gpu_alloc(int ordinal, size_t bytes, void **ptr, wn_error_t *err)
{
    *ptr = NULL;
    CUDA_TRY(cudaSetDevice(ordinal), "cudaSetDevice");
    CUDA_TRY(cudaMalloc(ptr, bytes ? bytes : 1), "cudaMalloc");
    return 0;
fail:
    (void)cudaGetLastError();
    errno = ENOMEM;
    return -1;
}

extern "C" void wn_gpu_free(int ordinal, void *ptr)
{
    if (ptr && cudaSetDevice(ordinal) == cudaSuccess)
        cudaFree(ptr);
}

extern "C" int wn_gpu_copy(int ordinal, void *dst, const void *src, size_t bytes, int to_device,
                           wn_error_t *err)
{
    CUDA_TRY(cudaSetDevice(ordinal), "cudaSetDevice");
    CUDA_TRY(
        cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost),
        to_device ? "copy to device" : "copy from device");
    return 0;
fail:
    (void)cudaGetLastError();
    errno = EIO;
    return -1;
}

/* -------------------------------------------------------------- NCCL -- */

#ifdef WN_HAVE_NCCL
#include <nccl.h>
#include <time.h>

static_assert(sizeof(ncclUniqueId) == WN_NCCL_ID_BYTES, "ncclUniqueId size");

/* A communicator and the stream its collectives run on. */
struct nccl_clique {
    ncclComm_t comm;
    cudaStream_t stream;
    int device;
};

static int nccl_type(int type, ncclDataType_t *t)
{
    switch (type) {
    case WN_TYPE_U8:
        *t = ncclUint8;
        return 0;
    case WN_TYPE_I32:
        *t = ncclInt32;
        return 0;
    case WN_TYPE_U32:
        *t = ncclUint32;
        return 0;
    case WN_TYPE_I64:
        *t = ncclInt64;
        return 0;
    case WN_TYPE_U64:
        *t = ncclUint64;
        return 0;
    case WN_TYPE_F64:
        *t = ncclFloat64;
        return 0;
    default:
        return -1;
    }
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

extern "C" int wn_nccl_unique_id(void *id, wn_error_t *err)
{
    ncclResult_t rc = ncclGetUniqueId((ncclUniqueId *)id);
    if (rc != ncclSuccess) {
        errno = EIO;
        return wn_errprintf(err, "ncclGetUniqueId: %s", ncclGetErrorString(rc));
    }
    return 0;
}

extern "C" int wn_nccl_init(const void *id, int nranks, int rank, int device, double timeout_s,
                            void **comm, wn_error_t *err)
{
    *comm = NULL;
    struct nccl_clique *c = (struct nccl_clique *)calloc(1, sizeof(*c));
    if (!c)
        return wn_errprintf(err, "out of memory");
    c->device = device;
    cudaError_t crc = cudaSetDevice(device);
    if (crc == cudaSuccess)
        crc = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (crc != cudaSuccess) {
        (void)cudaGetLastError();
        free(c);
        errno = EIO;
        return wn_errprintf(err, "GPU %d: %s", device, cudaGetErrorString(crc));
    }
    /* Nonblocking init, polled: a member that never joins becomes a
     * timeout here instead of a hang. */
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof(uid));
    ncclResult_t rc = ncclCommInitRankConfig(&c->comm, nranks, uid, rank, &config);
    double t0 = mono_s();
    while (rc == ncclInProgress || rc == ncclSuccess) {
        ncclResult_t state = ncclSuccess;
        rc = ncclCommGetAsyncError(c->comm, &state);
        if (rc != ncclSuccess)
            break;
        if (state != ncclInProgress) {
            rc = state;
            break;
        }
        if (mono_s() - t0 > timeout_s) {
            ncclCommAbort(c->comm);
            cudaStreamDestroy(c->stream);
            free(c);
            errno = ETIMEDOUT;
            return wn_errprintf(err,
                                "NCCL clique init (member %d of %d, GPU %d) gave up "
                                "after %g s: a member did not join",
                                rank, nranks, device, timeout_s);
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    if (rc != ncclSuccess) {
        if (c->comm)
            ncclCommAbort(c->comm);
        cudaStreamDestroy(c->stream);
        free(c);
        errno = EIO;
        return wn_errprintf(err, "NCCL clique init (member %d of %d, GPU %d): %s", rank, nranks,
                            device, ncclGetErrorString(rc));
    }
    *comm = c;
    return 0;
}

/* Waits for the stream (the clique's collectives are synchronous calls). */
static int nccl_done(struct nccl_clique *c, ncclResult_t rc, const char *what, wn_error_t *err)
{
    if (rc == ncclInProgress || rc == ncclSuccess) {
        cudaError_t crc = cudaStreamSynchronize(c->stream);
        if (crc != cudaSuccess) {
            (void)cudaGetLastError();
            errno = EIO;
            return wn_errprintf(err, "%s on GPU %d: %s", what, c->device, cudaGetErrorString(crc));
        }
        ncclResult_t state = ncclSuccess;
        if (ncclCommGetAsyncError(c->comm, &state) == ncclSuccess && state == ncclSuccess)
            return 0;
        rc = state;
    }
    errno = EIO;
    return wn_errprintf(err, "%s on GPU %d: %s", what, c->device, ncclGetErrorString(rc));
}

extern "C" int wn_nccl_allreduce(void *comm, const void *send, void *recv, size_t count, int type,
                                 int op, wn_error_t *err)
{
    struct nccl_clique *c = (struct nccl_clique *)comm;
    ncclDataType_t t;
    ncclRedOp_t o = op == 2 ? ncclMin : op == 3 ? ncclMax : ncclSum; /* WN_OP_* */
    if (nccl_type(type, &t) < 0) {
        errno = EINVAL;
        return wn_errprintf(err, "ncclAllReduce: type %d is not a fixed-width number", type);
    }
    cudaSetDevice(c->device);
    return nccl_done(c, ncclAllReduce(send, recv, count, t, o, c->comm, c->stream), "ncclAllReduce",
                     err);
}

extern "C" int wn_nccl_allgather(void *comm, const void *send, void *recv, size_t count, int type,
                                 wn_error_t *err)
{
    struct nccl_clique *c = (struct nccl_clique *)comm;
    ncclDataType_t t;
    if (nccl_type(type, &t) < 0) {
        errno = EINVAL;
        return wn_errprintf(err, "ncclAllGather: type %d is not a fixed-width number", type);
    }
    cudaSetDevice(c->device);
    return nccl_done(c, ncclAllGather(send, recv, count, t, c->comm, c->stream), "ncclAllGather",
                     err);
}

extern "C" int wn_nccl_bcast(void *comm, void *buf, size_t count, int type, int root,
                             wn_error_t *err)
{
    struct nccl_clique *c = (struct nccl_clique *)comm;
    ncclDataType_t t;
    if (nccl_type(type, &t) < 0) {
        errno = EINVAL;
        return wn_errprintf(err, "ncclBroadcast: type %d is not a fixed-width number", type);
    }
    cudaSetDevice(c->device);
    return nccl_done(c, ncclBroadcast(buf, buf, count, t, root, c->comm, c->stream),
                     "ncclBroadcast", err);
}

extern "C" void wn_nccl_destroy(void *comm)
{
    struct nccl_clique *c = (struct nccl_clique *)comm;
    if (!c)
        return;
    cudaSetDevice(c->device);
    ncclCommDestroy(c->comm);
    cudaStreamDestroy(c->stream);
    free(c);
}

#else /* CUDA without NCCL */

static int no_nccl(wn_error_t *err)
{
    errno = ENOSYS;
    return wn_errprintf(err, "NCCL cliques need winnow built with NCCL (configure --with-nccl)");
}

extern "C" int wn_nccl_unique_id(void *, wn_error_t *err)
{
    return no_nccl(err);
}
extern "C" int wn_nccl_init(const void *, int, int, int, double, void **comm, wn_error_t *err)
{
    *comm = NULL;
    return no_nccl(err);
}
extern "C" int wn_nccl_allreduce(void *, const void *, void *, size_t, int, int, wn_error_t *err)
{
    return no_nccl(err);
}
extern "C" int wn_nccl_allgather(void *, const void *, void *, size_t, int, wn_error_t *err)
{
    return no_nccl(err);
}
extern "C" int wn_nccl_bcast(void *, void *, size_t, int, int, wn_error_t *err)
{
    return no_nccl(err);
}
extern "C" void wn_nccl_destroy(void *)
{
}
#endif
