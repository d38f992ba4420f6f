/* minhash_cuda.cu - minhash_cuda.h on the CUDA runtime (compiled by nvcc):
 * the minhash stage's permutations and minima on a GPU, bit for bit those
 * of the CPU kernels (stages/dedup/minhash.c).
 *
 * One thread block per document and one thread per permutation (a block
 * of up to 512 threads walks the permutations in chunks of its size); the
 * document's n-gram hashes pass through shared memory in tiles that
 * every thread of the block reads. */
#include <errno.h>
#include <stdlib.h>

#include <cuda_runtime.h>

#include "dedup/minhash_cuda.h"

#define P61 ((1ull << 61) - 1)
#define TILE 2048 /* hashes per shared-memory tile: 16 KiB */

struct wn_minhash_gpu {
    int device;
    size_t n;
    unsigned long long *a, *b; /* n each, on the device */
    unsigned long long *hashes, *first, *mins;
    size_t hashes_cap, docs_cap; /* elements; mins holds docs_cap * n */
    cudaStream_t stream;
};

#define CUDA_TRY(call, what)                                                     \
    do {                                                                         \
        cudaError_t rc_ = (call);                                                \
        if (rc_ != cudaSuccess) {                                                \
            errno = EIO;                                                         \
            return wn_errprintf(err, "%s: %s", (what), cudaGetErrorString(rc_)); \
        }                                                                        \
    } while (0)

/* (a h + b) mod (2^61 - 1) for a, b < 2^61, as perm_scalar computes it:
 * x = a h + b < 2^125 as hi:lo, folded at bit 61 twice, then one
 * conditional subtraction. */
__device__ static inline unsigned long long perm_dev(unsigned long long a, unsigned long long b,
                                                     unsigned long long h)
{
    unsigned long long lo = a * h, hi = __umul64hi(a, h);
    lo += b;
    hi += lo < b;
    unsigned long long q = (hi << 3) | (lo >> 61); /* x >> 61, < 2^64 */
    unsigned long long r = (lo & P61) + (q & P61) + (q >> 61);
    r = (r & P61) + (r >> 61);
    return r >= P61 ? r - P61 : r;
}

__global__ static void sign_kernel(const unsigned long long *a, const unsigned long long *b,
                                   size_t n, const unsigned long long *hashes,
                                   const unsigned long long *first, unsigned long long mask,
                                   unsigned long long *mins)
{
    __shared__ unsigned long long tile[TILE];
    const size_t doc = blockIdx.x;
    const unsigned long long h0 = first[doc], h1 = first[doc + 1];
    for (size_t j0 = 0; j0 < n; j0 += blockDim.x) {
        const size_t j = j0 + threadIdx.x;
        const unsigned long long aj = j < n ? a[j] : 1, bj = j < n ? b[j] : 0;
        unsigned long long m = ~0ull;
        for (unsigned long long t0 = h0; t0 < h1; t0 += TILE) {
            const unsigned cnt = (unsigned)(h1 - t0 < TILE ? h1 - t0 : TILE);
            __syncthreads();
            for (unsigned i = threadIdx.x; i < cnt; i += blockDim.x)
                tile[i] = hashes[t0 + i];
            __syncthreads();
            for (unsigned i = 0; i < cnt; i++) {
                unsigned long long v = perm_dev(aj, bj, tile[i]) & mask;
                m = v < m ? v : m;
            }
        }
        if (j < n)
            mins[doc * n + j] = m;
    }
}

extern "C" void wn_minhash_gpu_close(struct wn_minhash_gpu *g)
{
    if (!g)
        return;
    if (cudaSetDevice(g->device) == cudaSuccess) {
        cudaFree(g->a);
        cudaFree(g->b);
        cudaFree(g->hashes);
        cudaFree(g->first);
        cudaFree(g->mins);
        if (g->stream)
            cudaStreamDestroy(g->stream);
    }
    (void)cudaGetLastError();
    free(g);
}

extern "C" int wn_minhash_gpu_open(int device, const uint64_t *a, const uint64_t *b, size_t n,
                                   struct wn_minhash_gpu **out, wn_error_t *err)
{
    *out = NULL;
    struct wn_minhash_gpu *g = (struct wn_minhash_gpu *)calloc(1, sizeof(*g));
    if (!g) {
        errno = ENOMEM;
        return wn_errprintf(err, "out of memory");
    }
    g->device = device;
    g->n = n;
    cudaError_t rc = cudaSetDevice(device);
    if (rc == cudaSuccess)
        rc = cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking);
    if (rc == cudaSuccess)
        rc = cudaMalloc((void **)&g->a, n * sizeof(*g->a));
    if (rc == cudaSuccess)
        rc = cudaMalloc((void **)&g->b, n * sizeof(*g->b));
    if (rc == cudaSuccess)
        rc = cudaMemcpy(g->a, a, n * sizeof(*g->a), cudaMemcpyHostToDevice);
    if (rc == cudaSuccess)
        rc = cudaMemcpy(g->b, b, n * sizeof(*g->b), cudaMemcpyHostToDevice);
    if (rc != cudaSuccess) {
        wn_minhash_gpu_close(g);
        errno = EIO;
        return wn_errprintf(err, "minhash on GPU %d: %s", device, cudaGetErrorString(rc));
    }
    *out = g;
    return 0;
}

/* Grows a device buffer to at least `want` elements of `size` bytes. */
static cudaError_t grow(unsigned long long **buf, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return cudaSuccess;
    size_t c = want > 2 * *cap ? want : 2 * *cap;
    cudaFree(*buf);
    *buf = NULL;
    *cap = 0;
    cudaError_t rc = cudaMalloc((void **)buf, c * size);
    if (rc == cudaSuccess)
        *cap = c;
    return rc;
}

extern "C" int wn_minhash_gpu_sign(struct wn_minhash_gpu *g, const uint64_t *hashes,
                                   const uint64_t *first, size_t ndocs, int wide, uint64_t *mins,
                                   wn_error_t *err)
{
    if (ndocs == 0)
        return 0;
    size_t nh = first[ndocs], docs_cap = g->docs_cap;
    CUDA_TRY(cudaSetDevice(g->device), "cudaSetDevice");
    CUDA_TRY(grow(&g->hashes, &g->hashes_cap, nh, sizeof(*g->hashes)), "cudaMalloc (hashes)");
    CUDA_TRY(grow(&g->first, &g->docs_cap, ndocs + 1, sizeof(*g->first)), "cudaMalloc (offsets)");
    if (g->docs_cap != docs_cap || !g->mins) {
        cudaFree(g->mins);
        g->mins = NULL;
        CUDA_TRY(cudaMalloc((void **)&g->mins, g->docs_cap * g->n * sizeof(*g->mins)),
                 "cudaMalloc (signatures)");
    }
    CUDA_TRY(
        cudaMemcpyAsync(g->hashes, hashes, nh * sizeof(*hashes), cudaMemcpyHostToDevice, g->stream),
        "copying hashes");
    CUDA_TRY(cudaMemcpyAsync(g->first, first, (ndocs + 1) * sizeof(*first), cudaMemcpyHostToDevice,
                             g->stream),
             "copying offsets");
    size_t threads = (g->n + 31) / 32 * 32;
    threads = threads > 512 ? 512 : threads;
    sign_kernel<<<(unsigned)ndocs, (unsigned)threads, 0, g->stream>>>(
        g->a, g->b, g->n, g->hashes, g->first, wide ? ~0ull : 0xffffffffull, g->mins);
    CUDA_TRY(cudaGetLastError(), "minhash kernel launch");
    CUDA_TRY(cudaMemcpyAsync(mins, g->mins, ndocs * g->n * sizeof(*mins), cudaMemcpyDeviceToHost,
                             g->stream),
             "copying signatures");
    CUDA_TRY(cudaStreamSynchronize(g->stream), "minhash kernel");
    return 0;
}
