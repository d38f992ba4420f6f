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
#include "winnow/gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* wn_gpu_device_count, wn_gpu_alloc, wn_gpu_free and wn_gpu_copy are
 * public (winnow/gpu.h): stages use them too. */

/* Name and memory of device `ordinal` (in the visible set). */
int wn_gpu_describe(int ordinal, char *name, size_t len, size_t *mem_bytes, wn_error_t *err);

/* Sums n u64 values on device `ordinal` with a device-side reduction
 * kernel: the smallest proof that YAML -> stage -> kernel launch works
 * on the bound GPU.  Wraps modulo 2^64 like the CPU sum. */
int wn_gpu_sum_u64(int ordinal, const uint64_t *values, size_t n, uint64_t *sum, wn_error_t *err);

/* Why CUDA is not usable here, for `winnow info` ("" when it is). */
const char *wn_gpu_unavailable_reason(void);

/* NCCL cliques (src/gpu/clique.c).  Without CUDA or NCCL every call fails
 * cleanly.  The unique id is WN_NCCL_ID_BYTES opaque bytes: the clique's
 * rank 0 makes it and every member passes it to wn_nccl_init, which binds
 * `device` and gives up (aborting the half-made communicator) after
 * timeout_s.  type is a fixed-width WN_TYPE_*, op a WN_OP_* (clique.h);
 * every collective runs on the calling thread and returns when done. */
#define WN_NCCL_ID_BYTES 128
int wn_nccl_unique_id(void *id, wn_error_t *err);
int wn_nccl_init(const void *id, int nranks, int rank, int device, double timeout_s, void **comm,
                 wn_error_t *err);
int wn_nccl_allreduce(void *comm, const void *send, void *recv, size_t count, int type, int op,
                      wn_error_t *err);
int wn_nccl_allgather(void *comm, const void *send, void *recv, size_t count, int type,
                      wn_error_t *err);
int wn_nccl_bcast(void *comm, void *buf, size_t count, int type, int root, wn_error_t *err);
void wn_nccl_destroy(void *comm);

#ifdef __cplusplus
}
#endif

#endif /* WN_GPU_H */
