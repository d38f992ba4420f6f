/* winnow/gpu.h - the GPU an actor is bound to, for stage code.
 *
 * An actor on a GPU rank gets its device's ordinal in setup (struct
 * wn_worker's gpu, -1 for none).  These calls let stage code use that
 * device without linking CUDA itself: a RAFT stage hands an NCCL clique
 * device buffers (winnow/clique.h), a stage with its own kernels checks
 * that a CUDA runtime is there before it opens them.
 *
 * Without CUDA built in, without a driver or without the device, every
 * call fails cleanly (-1 with err filled) and nothing aborts: the stage
 * can fall back to the CPU.  Return values follow winnow/error.h.
 */
#ifndef WINNOW_GPU_H
#define WINNOW_GPU_H

#include <stddef.h>

#include "winnow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Devices the driver reports: >= 0, or -1 when there is no usable CUDA
 * runtime/driver (built without CUDA, no driver, driver too old). */
int wn_gpu_device_count(void);

/* bytes of device memory on device `ordinal` (in the visible set), in
 * *ptr; free it with wn_gpu_free (NULL is fine). */
int wn_gpu_alloc(int ordinal, size_t bytes, void **ptr, wn_error_t *err);
void wn_gpu_free(int ordinal, void *ptr);
/* to_device 1: host src -> device dst; 0: device src -> host dst.
 * Returns when the copy is done. */
int wn_gpu_copy(int ordinal, void *dst, const void *src, size_t bytes, int to_device,
                wn_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_GPU_H */
