/* minhash_nocuda.c - minhash_cuda.h when winnow is built without CUDA: the
 * minhash stage then signs on the CPU even on a GPU rank. */
#include <errno.h>

#include "dedup/minhash_cuda.h"

int wn_minhash_gpu_open(int device, const uint64_t *a, const uint64_t *b, size_t n,
                        struct wn_minhash_gpu **out, wn_error_t *err)
{
    (void)a, (void)b, (void)n;
    *out = NULL;
    errno = ENODEV;
    return wn_errprintf(err, "GPU %d: winnow was built without CUDA", device);
}

int wn_minhash_gpu_sign(struct wn_minhash_gpu *g, const uint64_t *hashes, const uint64_t *first,
                        size_t ndocs, int wide, uint64_t *mins, wn_error_t *err)
{
    (void)g, (void)hashes, (void)first, (void)ndocs, (void)wide, (void)mins;
    errno = ENODEV;
    return wn_errprintf(err, "winnow was built without CUDA");
}

void wn_minhash_gpu_close(struct wn_minhash_gpu *g)
{
    (void)g;
}
