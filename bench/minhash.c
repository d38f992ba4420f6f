/* bench/minhash.c - throughput of the minhash stage, one core, at the
 * defaults (char_ngrams 24, 260 hashes, seed 42, 32-bit), on real text:
 * /usr/share/common-licenses/ and /usr/share/doc/PKG/copyright read at run
 * time, concatenated and cut into 4 KiB documents.  MB/s is 10^6 bytes
 * of input text per second of this thread's CPU time.  One line per
 * kernel (WINNOW_MINHASH_ISA), one for 64-bit hashes, one for algorithm
 * one_permutation, and last
 *   minhash: <MB/s> MB/s/core, ratio <R> vs scalar
 * with the best kernel against the portable scalar one.
 *
 *   bench/minhash [--mb N] [--isa NAME] [--gpu]
 *
 * --isa times that kernel alone (for a profiler).  --gpu times the stage
 * on CUDA device 0 instead (resources gpus 1; wall time, for the CPU
 * baseline too) and ends with
 *   minhash_gpu: <MB/s> MB/s, ratio <R> vs 1 CPU core
 * it exits 77 with "skipped: ..." when no GPU is usable. */
#define _GNU_SOURCE
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "gpu/gpu.h"
#include "stage/stage_impl.h"
#include "tap.h"
#include "stage_test.h"
#include "winnow/task.h"

#define DOC_BYTES 4096

static char *corpus;
static size_t corpus_len;

static void add_file(const char *path, size_t cap)
{
    size_t len;
    char *t = corpus_len < cap ? read_file(path, &len) : NULL;
    if (!t)
        return;
    if (corpus_len + len > cap)
        len = cap - corpus_len;
    char *c = realloc(corpus, corpus_len + len + 1);
    if (!c) {
        free(t);
        return;
    }
    corpus = c;
    memcpy(corpus + corpus_len, t, len);
    corpus_len += len;
    free(t);
}

static void load_corpus(size_t cap)
{
    static const char *const pats[] = {"/usr/share/common-licenses/*",
                                       "/usr/share/doc/*/copyright"};
    /* Until the cap: the corpus is read again when it is short. */
    for (int round = 0; round < 64 && corpus_len < cap; round++) {
        size_t before = corpus_len;
        for (size_t p = 0; p < 2; p++) {
            glob_t g;
            if (glob(pats[p], 0, NULL, &g) != 0)
                continue;
            for (size_t i = 0; i < g.gl_pathc; i++)
                add_file(g.gl_pathv[i], cap);
            globfree(&g);
        }
        if (corpus_len == before)
            break;
    }
}

/* The corpus as one task of 4 KiB documents. */
static struct wn_task *corpus_task(void)
{
    wn_error_t err = {{0}};
    struct wn_batch *b = wn_batch_create();
    struct wn_column *text = b ? wn_batch_add_column(b, "text", WN_TYPE_STR, 0, &err) : NULL;
    if (!text)
        BAIL_OUT("building the input: %s", err.text);
    for (size_t off = 0; off < corpus_len; off += DOC_BYTES) {
        size_t n = corpus_len - off < DOC_BYTES ? corpus_len - off : DOC_BYTES;
        if (wn_col_append_str(text, corpus + off, n, &err) < 0)
            BAIL_OUT("building the input: %s", err.text);
    }
    return wn_task_create(1, 0, b);
}

/* CPU time of this thread: the machine may be shared, and a core's
 * throughput is what is measured.  With --gpu, wall time (CPU time would
 * not count waiting for the device). */
static clockid_t clock_id = CLOCK_THREAD_CPUTIME_ID;

static double now(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A minhash stage from YAML text of the stage's keys; gpu >= 0 runs its
 * setup on that device. */
static int make_stage(struct test_stage *t, const char *keys, int gpu, wn_error_t *err)
{
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "name: b\nstages:\n  - name: s\n    type: minhash\n%s", keys);
    t->st = NULL;
    if (wn_config_load_string(yaml, "bench.yaml", &t->cfg, err) < 0)
        return -1;
    if (!(t->st = wn_stage_create(&t->cfg->stages[0], 0, err)) || wn_stage_init(t->st, err) < 0)
        return -1;
    if (gpu >= 0 && t->st->ops->setup) {
        struct wn_worker w = {0, 0, 0, gpu, 0, 1, NULL};
        return t->st->ops->setup(t->st, &w, err);
    }
    return 0;
}

/* Best MB/s of a few passes over the corpus; 0 when the stage fails. */
static double time_stage(const char *isa, const char *keys, int gpu, double min_s)
{
    struct test_stage m;
    wn_error_t err = {{0}};
    if (isa)
        setenv("WINNOW_MINHASH_ISA", isa, 1);
    int rc = make_stage(&m, keys, gpu, &err);
    unsetenv("WINNOW_MINHASH_ISA");
    if (rc < 0) {
        fprintf(stderr, "minhash (%s): %s\n", isa ? isa : "default", err.text);
        test_stage_free(&m);
        return 0;
    }
    double best = 1e30, spent = 0;
    for (int rep = 0; rep < 20 && (rep < 2 || spent < min_s); rep++) {
        struct wn_task *t = corpus_task();
        struct wn_task_list out = WN_TASK_LIST_INIT;
        double t0 = now();
        rc = m.st->ops->process_batch(m.st, &t, 1, &out, &err);
        double s = now() - t0;
        wn_task_list_free(&out);
        wn_task_destroy(t);
        if (rc < 0) {
            fprintf(stderr, "minhash (%s): %s\n", isa ? isa : "default", err.text);
            test_stage_free(&m);
            return 0;
        }
        best = s < best ? s : best;
        spent += s;
    }
    if (m.st->ops->teardown)
        m.st->ops->teardown(m.st);
    test_stage_free(&m);
    return (double)corpus_len / best / 1e6;
}

static int isa_ok(const char *isa)
{
    __builtin_cpu_init();
    int f = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl");
    if (!strcmp(isa, "avx2"))
        return __builtin_cpu_supports("avx2");
    if (!strcmp(isa, "avx512"))
        return f;
    if (!strcmp(isa, "avx512ifma"))
        return f && __builtin_cpu_supports("avx512ifma");
    return 1;
}

int main(int argc, char **argv)
{
    double mb = 2;
    int gpu = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--gpu"))
            gpu = 1;
        else {
            fprintf(stderr, "usage: %s [--mb N] [--isa NAME] [--gpu]\n", argv[0]);
            return 2;
        }
    }
    if (gpu && wn_gpu_device_count() <= 0) {
        printf("minhash_gpu: skipped: no GPU (%s)\n",
               wn_gpu_device_count() < 0 ? wn_gpu_unavailable_reason() : "no device");
        return 77;
    }
    load_corpus((size_t)(mb * 1e6));
    if (corpus_len < 100000) {
        fprintf(stderr, "minhash: only %zu bytes of text found\n", corpus_len);
        return 1;
    }
    size_t ascii = 0;
    for (size_t i = 0; i < corpus_len; i++)
        ascii += (unsigned char)corpus[i] < 0x80;
    printf("corpus: %.2f MB in %zu documents of %d bytes (%.2f%% ASCII bytes)\n",
           (double)corpus_len / 1e6, (corpus_len + DOC_BYTES - 1) / DOC_BYTES, DOC_BYTES,
           100.0 * (double)ascii / (double)corpus_len);
    if (gpu) {
        clock_id = CLOCK_MONOTONIC;
        double cpu = time_stage(NULL, "", -1, 1.0);
        double dev = time_stage(NULL, "    resources: {gpus: 1}\n", 0, 1.0);
        printf("minhash cpu (best kernel, 1 core): %8.2f MB/s\n", cpu);
        if (dev <= 0)
            return 1;
        printf("minhash_gpu: %.2f MB/s, ratio %.2f vs 1 CPU core\n", dev, cpu > 0 ? dev / cpu : 0);
        free(corpus);
        return 0;
    }
    if (only) {
        double r = time_stage(only, "", -1, 2.0);
        printf("minhash %-10s: %8.2f MB/s/core (permutations, 32-bit)\n", only, r);
        return r > 0 ? 0 : 1;
    }
    static const char *const isas[] = {"portable", "avx2", "avx512", "avx512ifma"};
    double scalar = 0, best = 0;
    for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
        if (!isa_ok(isas[i])) {
            printf("minhash %-10s: not supported by this CPU\n", isas[i]);
            continue;
        }
        double r = time_stage(isas[i], "", -1, i == 0 ? 0.5 : 1.0);
        if (r <= 0)
            return 1;
        printf("minhash %-10s: %8.2f MB/s/core (permutations, 32-bit)\n", isas[i], r);
        if (i == 0)
            scalar = r;
        best = r > best ? r : best;
    }
    double w = time_stage(NULL, "    params: {use_64_bit_hash: true}\n", -1, 1.0);
    printf("minhash best ISA  : %8.2f MB/s/core (permutations, 64-bit)\n", w);
    double o = time_stage(NULL, "    params: {algorithm: one_permutation}\n", -1, 1.0);
    if (o > 0)
        printf("minhash one_permutation: %.2f MB/s/core (best ISA, 32-bit), ratio %.2f vs "
               "permutations\n",
               o, best > 0 ? o / best : 0);
    printf("minhash: %.2f MB/s/core, ratio %.2f vs scalar\n", best, scalar > 0 ? best / scalar : 0);
    free(corpus);
    return 0;
}
