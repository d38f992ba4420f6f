/* minhash_kernels.h - the arithmetic of the minhash stage, between
 * minhash.c (the stage: parameters, n-gram splitting, columns) and
 * minhash_kernels.c (MurmurHash3 is in builtin.h; the window hashers, the
 * permutation coefficients, the minimum kernels of each SIMD level and
 * one-permutation hashing).  Internal to stages/. */
#ifndef WN_MINHASH_KERNELS_H
#define WN_MINHASH_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define MERSENNE61 ((UINT64_C(1) << 61) - 1)
#define MH_LANES 8 /* permutations per AVX-512 vector */

/* The SIMD levels; each kernel below exists for one of them. */
enum mh_isa { MH_PORTABLE, MH_AVX2, MH_AVX512, MH_AVX512IFMA, MH_NISA };

extern const char *const mh_isa_names[MH_NISA]; /* as WINNOW_MINHASH_ISA names them */

/* n uint64_t, 64-byte aligned (n: a multiple of MH_LANES); free() it. */
static inline uint64_t *mh_alloc_lanes(size_t n)
{
    return aligned_alloc(64, n * sizeof(uint64_t));
}

/* ---------------------------------------------------------- n-grams -- */

/* 1 when text[0..len) is all ASCII: then code points are bytes. */
int mh_is_ascii(const unsigned char *t, size_t len);

/* MurmurHash3 x86_32 (seed) of the windows of n bytes of t[0..len), as
 * many as a vector loop takes, into out[] in an order of their own (a
 * minimum does not see it); returns how many windows from the first were
 * done, the caller hashes the rest. */
size_t mh_windows_avx2(const unsigned char *t, size_t len, size_t n, uint32_t seed, uint64_t *out);
size_t mh_windows_avx512(const unsigned char *t, size_t len, size_t n, uint32_t seed,
                         uint64_t *out);

/* ------------------------------------------------------ permutations -- */

/* Coefficients laid out for the kernels, padded with a = 1, b = 0 to a
 * multiple of MH_LANES permutations whose results are never output: a
 * split into 32-bit halves (the SIMD kernels multiply 32 x 32 -> 64
 * bits), and the pieces the 32-bit filters use (see filter in
 * minhash_kernels.c). */
struct mh_perms {
    size_t n, npad;
    uint64_t *a, *a_lo, *a_hi, *b; /* 64-byte aligned, npad each */
    uint64_t *a_lo52;              /* a mod 2^52 */
    double *alpha_d, *c_d;         /* see the 32-bit filter */
};

/* The n permutations of `seed` (splitmix64 draws, see minhash.c); -1 when
 * out of memory.  mh_perms_free frees what init allocated, even after a
 * failed init of a zeroed struct. */
int mh_perms_init(struct mh_perms *pm, size_t n, uint32_t seed);
void mh_perms_free(struct mh_perms *pm);

typedef void (*mh_kernel_fn)(const uint64_t *hashes, size_t nh, const struct mh_perms *pm, int wide,
                             int mask32, uint64_t *mins);
/* 32-bit mode: mins[0..npad) already hold an upper bound (<= 2^32 - 1 or
 * 2^61 - 1) that they lower.  The hashes (< 2^32) are scratch: a kernel
 * may set bits above bit 31 of each. */
typedef void (*mh_kernel32_fn)(uint64_t *hashes, size_t nh, const struct mh_perms *pm,
                               uint64_t *mins);

/* The kernels of each level: exact in either mode, and the 32-bit filter. */
extern const mh_kernel_fn mh_kernels[MH_NISA];
extern const mh_kernel32_fn mh_kernels32[MH_NISA];

/* ---------------------------------------------------- one permutation -- */

/* algorithm: one_permutation: the signature of hashes[0..nh) into
 * out[0..pm->n), with bins[0..pm->n) as scratch (see minhash_kernels.c). */
void mh_oph_sign(const struct mh_perms *pm, uint32_t seed, const uint64_t *hashes, size_t nh,
                 int mask32, uint64_t *bins, uint64_t *out);

#endif /* WN_MINHASH_KERNELS_H */
