/* minhash_cuda.h - the minhash stage's permutation-and-minimum step on a
 * GPU (minhash_cuda.cu; minhash_nocuda.c when winnow is built without
 * CUDA, where every call fails cleanly with ENODEV).
 *
 * The host hashes the n-grams (stages/dedup/minhash.c); the device computes, for
 * every document and permutation i, min over the document's n-gram hashes
 * h of ((a_i h + b_i) mod (2^61 - 1)), masked to 32 bits unless `wide`:
 * the same bits as the CPU kernels. */
#ifndef WN_MINHASH_CUDA_H
#define WN_MINHASH_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wn_minhash_gpu;

/* Binds CUDA device `device` and copies the n permutations' coefficients
 * (a_i in [1, 2^61 - 2], b_i in [0, 2^61 - 2]) there. */
int wn_minhash_gpu_open(int device, const uint64_t *a, const uint64_t *b, size_t n,
                        struct wn_minhash_gpu **out, wn_error_t *err);

/* Signatures of ndocs documents: document d's n-gram hashes are
 * hashes[first[d] .. first[d+1]) (at least one each); its n values go to
 * mins[d * n ..]. */
int wn_minhash_gpu_sign(struct wn_minhash_gpu *g, const uint64_t *hashes, const uint64_t *first,
                        size_t ndocs, int wide, uint64_t *mins, wn_error_t *err);

/* NULL is ignored. */
void wn_minhash_gpu_close(struct wn_minhash_gpu *g);

#ifdef __cplusplus
}
#endif

#endif /* WN_MINHASH_CUDA_H */
