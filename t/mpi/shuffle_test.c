/* shuffle_test.c - the UCX shuffle (src/net/shuffle.h) among real MPI
 * ranks (t1050-shuffle.t starts it with 4): rows reach the owners of
 * their partitions exactly once and in origin order, empty partitions and
 * rounds, a hot partition that spills, a chunk over 16 MiB, rounds back
 * to back, and a stuck peer reported by name.
 *
 * Every check is collective: each rank evaluates it, rank 0 prints one
 * TAP line for all, naming the ranks where it failed; every rank exits
 * non-zero when any check failed anywhere. */
#define _GNU_SOURCE
#include <mpi.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/shuffle.h"
#include "tap.h"

static int rank, size, local_failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((format(printf, 2, 3))) static void check(int cond, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    int bad = !cond, *all = malloc(size * sizeof(int));
    MPI_Gather(&bad, 1, MPI_INT, all, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) {
        local_failures++;
        fprintf(stderr, "# rank %d: failed: %s\n", rank, name);
    }
    if (rank == 0) {
        char who[256] = "";
        size_t n = 0;
        for (int i = 0; i < size; i++)
            if (all[i] && n < sizeof(who) - 8)
                n += (size_t)snprintf(who + n, sizeof(who) - n, " %d", i);
        if (!ok(n == 0, "%s", name))
            diag("  failed on rank(s)%s", who);
    }
    free(all);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* A chunk's bytes are a function of its origin, so the receiver can tell. */
static void *pattern(uint64_t origin, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    uint64_t x = mix(origin);
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            x = mix(x + i);
        b[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
    return b;
}

static int pattern_ok(uint64_t origin, const void *buf, size_t len)
{
    void *want = pattern(origin, len);
    int same = memcmp(want, buf, len) == 0;
    free(want);
    return same;
}

static struct wn_shuffle *make(uint32_t round, uint32_t nparts, size_t mem_limit, double timeout,
                               wn_error_t *err)
{
    struct wn_shuffle_opts o = {.memory_limit = mem_limit,
                                .timeout_s = timeout,
                                .world_rank = rank,
                                .spill_dir = getenv("TEST_TMP")};
    return wn_shuffle_create(MPI_COMM_WORLD, round, nparts, &o, err);
}

/* Inserts, holding back (progressing) above 16 MiB queued. */
static int put(struct wn_shuffle *sh, uint32_t part, uint64_t origin, void *buf, size_t len,
               wn_error_t *err)
{
    while (wn_shuffle_queued_bytes(sh) > (16u << 20))
        if (wn_shuffle_progress(sh, err) < 0) {
            free(buf);
            return -1;
        }
    return wn_shuffle_insert(sh, part, origin, buf, len, err);
}

/* insert_finished, then progress until complete (or an error, or 40 s)
 * and until this rank's sends are done, and then until every rank is
 * there (a progressing barrier): a peer may still be pulling data from
 * this rank, or waiting for the acknowledgement of a transfer this rank
 * received (rendezvous), so no rank may block in MPI before. */
static int finish_round(struct wn_shuffle *sh, int with_barrier, wn_error_t *err)
{
    if (wn_shuffle_insert_finished(sh, err) != 0)
        return -1;
    double t0 = now_s();
    MPI_Request barrier = MPI_REQUEST_NULL;
    int all = 0;
    while (!all) {
        int n = wn_shuffle_progress(sh, err);
        if (n < 0)
            return -1;
        if (barrier == MPI_REQUEST_NULL && wn_shuffle_complete(sh) && wn_shuffle_sends_done(sh)) {
            if (!with_barrier)
                break;
            MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
        }
        if (barrier != MPI_REQUEST_NULL)
            MPI_Test(&barrier, &all, MPI_STATUS_IGNORE);
        if (n == 0)
            sched_yield(); /* 4 ranks on 2 cores */
        if (now_s() - t0 > 40 && barrier == MPI_REQUEST_NULL)
            return wn_errprintf(err, "test: round not complete after 40 s");
    }
    return 0;
}

static int finish(struct wn_shuffle *sh, wn_error_t *err)
{
    return finish_round(sh, 1, err);
}

/* What extract handed over: origins in call order, byte counts. */
struct got {
    uint64_t *origins;
    size_t n, cap, bytes;
    int bad_pattern;
    uint64_t *keys; /* test 1: the rows' keys */
    size_t nkeys, kcap;
    uint32_t part, nparts;
    int bad_rows;
};

/* Records the order extract handed chunks over in. */
static void note_origin(struct got *g, uint64_t origin)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->origins = realloc(g->origins, g->cap * sizeof(uint64_t));
    }
    g->origins[g->n++] = origin;
}

static int collect(void *arg, uint64_t origin, const void *buf, size_t len, wn_error_t *err)
{
    (void)err;
    struct got *g = arg;
    note_origin(g, origin);
    g->bytes += len;
    if (!pattern_ok(origin, buf, len))
        g->bad_pattern++;
    return 0;
}

static int sorted(const struct got *g)
{
    for (size_t i = 1; i < g->n; i++)
        if (g->origins[i] <= g->origins[i - 1])
            return 0;
    return 1;
}

/* ---- 1: random keys ---- */

#define ROWS 20000
#define ROWS_PER_CHUNK 256
#define NPARTS1 8u

static uint64_t key_of(int r, int i)
{
    return mix((uint64_t)r * ROWS + (uint64_t)i);
}

static int collect_rows(void *arg, uint64_t origin, const void *buf, size_t len, wn_error_t *err)
{
    (void)err;
    struct got *g = arg;
    note_origin(g, origin);
    const uint64_t *row = buf;
    for (size_t i = 0; i < len / 16; i++) {
        uint64_t k = row[2 * i], v = row[2 * i + 1];
        if (k % g->nparts != g->part || v != (k ^ 0x5555aaaa5555aaaaull))
            g->bad_rows++;
        if (g->nkeys == g->kcap) {
            g->kcap = g->kcap ? 2 * g->kcap : 1024;
            g->keys = realloc(g->keys, g->kcap * sizeof(uint64_t));
        }
        g->keys[g->nkeys++] = k;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_random_keys(void)
{
    wn_error_t err = {""};
    struct wn_shuffle *sh = make(1, NPARTS1, 0, 0, &err);
    int rc = sh ? 0 : -1;
    /* rows grouped per partition, cut into chunks of ROWS_PER_CHUNK */
    uint64_t *buf[NPARTS1];
    size_t nrows[NPARTS1] = {0};
    uint64_t nchunk[NPARTS1] = {0};
    for (uint32_t p = 0; p < NPARTS1; p++)
        buf[p] = malloc(ROWS_PER_CHUNK * 16);
    for (int i = 0; i < ROWS && rc == 0; i++) {
        uint64_t k = key_of(rank, i);
        uint32_t p = (uint32_t)(k % NPARTS1);
        buf[p][2 * nrows[p]] = k;
        buf[p][2 * nrows[p] + 1] = k ^ 0x5555aaaa5555aaaaull;
        if (++nrows[p] == ROWS_PER_CHUNK || i == ROWS - 1) {
            for (uint32_t q = 0; q < NPARTS1 && rc == 0; q++) {
                if (nrows[q] == 0 || (q != p && i != ROWS - 1))
                    continue;
                /* origin: rank-major, so extract order is rank, then chunk */
                rc = put(sh, q, ((uint64_t)rank << 32) | nchunk[q]++, buf[q], nrows[q] * 16, &err);
                buf[q] = malloc(ROWS_PER_CHUNK * 16);
                nrows[q] = 0;
            }
        }
        if (rc == 0 && i % 1024 == 0)
            rc = wn_shuffle_progress(sh, &err) < 0 ? -1 : 0;
    }
    for (uint32_t p = 0; p < NPARTS1; p++)
        free(buf[p]);
    if (rc == 0)
        rc = finish(sh, &err);
    check(rc == 0, "random keys: the round completes on every rank");
    if (rc != 0)
        diag("rank %d: %s", rank, err.text);
    int order_ok = 1, rows_ok = 1;
    struct got g = {.nparts = NPARTS1};
    for (uint32_t p = (uint32_t)rank; rc == 0 && p < NPARTS1; p += (uint32_t)size) {
        size_t from = g.n;
        g.part = p;
        rc = wn_shuffle_extract(sh, p, collect_rows, &g, &err);
        for (size_t i = from + 1; i < g.n; i++)
            if (g.origins[i] <= g.origins[i - 1])
                order_ok = 0;
        wn_shuffle_release(sh, p);
    }
    rows_ok = g.bad_rows == 0;
    check(rc == 0, "random keys: extract succeeds");
    check(rows_ok, "random keys: every row extracted at the owner of its partition, intact");
    check(order_ok, "random keys: chunks of a partition in origin order");
    struct wn_shuffle_stats st;
    if (sh)
        wn_shuffle_stats(sh, &st);
    check(sh && st.messages_sent < st.chunks_sent,
          "random keys: small chunks coalesced (%llu messages for %llu chunks)",
          sh ? (unsigned long long)st.messages_sent : 0ull,
          sh ? (unsigned long long)st.chunks_sent : 0ull);
    wn_shuffle_destroy(sh);

    /* every key exactly once: gather them on rank 0, compare with all */
    int n = (int)g.nkeys, *counts = malloc(size * sizeof(int)),
        *displs = malloc(size * sizeof(int));
    MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    uint64_t *all = NULL;
    int total = 0;
    if (rank == 0) {
        for (int i = 0; i < size; i++) {
            displs[i] = total;
            total += counts[i];
        }
        all = malloc((total ? total : 1) * sizeof(uint64_t));
    }
    MPI_Gatherv(g.keys, n, MPI_UINT64_T, all, counts, displs, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    int once = 1;
    if (rank == 0) {
        uint64_t *want = malloc((size_t)size * ROWS * sizeof(uint64_t));
        for (int r = 0; r < size; r++)
            for (int i = 0; i < ROWS; i++)
                want[(size_t)r * ROWS + i] = key_of(r, i);
        qsort(want, (size_t)size * ROWS, sizeof(uint64_t), cmp_u64);
        qsort(all, total, sizeof(uint64_t), cmp_u64);
        once = total == size * ROWS && memcmp(all, want, (size_t)total * sizeof(uint64_t)) == 0;
        free(want);
    }
    check(once, "random keys: all %d rows arrived exactly once", size * ROWS);
    free(all);
    free(counts);
    free(displs);
    free(g.origins);
    free(g.keys);
}

/* ---- 2 and 3: empty partitions, a rank inserting nothing, empty round ---- */

static void test_empty(void)
{
    const uint32_t nparts = 64;
    wn_error_t err = {""};
    struct wn_shuffle *sh = make(2, nparts, 0, 0, &err);
    int rc = sh ? 0 : -1;
    /* ranks other than 2 insert into partitions rank, rank + 5 and 17 */
    uint32_t targets[3] = {(uint32_t)rank, (uint32_t)rank + 5, 17};
    for (int i = 0; i < 3 && rc == 0 && rank != 2; i++) {
        uint64_t origin = (uint64_t)rank * 10 + i;
        rc = put(sh, targets[i], origin, pattern(origin, 100 + i), 100 + i, &err);
    }
    if (rc == 0)
        rc = finish(sh, &err);
    check(rc == 0, "empty partitions, rank 2 inserts nothing: the round completes");
    if (rc != 0)
        diag("rank %d: %s", rank, err.text);
    int right = 1, called_empty = 0;
    for (uint32_t p = (uint32_t)rank; rc == 0 && p < nparts; p += (uint32_t)size) {
        uint64_t want_n = 0;
        for (int r = 0; r < size; r++)
            if (r != 2)
                want_n += ((uint32_t)r == p) + ((uint32_t)r + 5 == p) + (p == 17);
        struct got g = {0};
        rc = wn_shuffle_extract(sh, p, collect, &g, &err);
        if (g.n != want_n || g.bad_pattern || !sorted(&g))
            right = 0;
        if (want_n == 0 && g.n)
            called_empty = 1;
        free(g.origins);
    }
    check(rc == 0 && right, "empty partitions: the right chunks at each partition, in order");
    check(!called_empty, "empty partitions: fn never called for a partition without chunks");
    wn_shuffle_destroy(sh);

    sh = make(3, 5, 0, 0, &err);
    rc = sh ? finish(sh, &err) : -1;
    check(rc == 0, "a round where nobody inserts anything completes");
    int calls = 0;
    for (uint32_t p = (uint32_t)rank; rc == 0 && p < 5; p += (uint32_t)size) {
        struct got g = {0};
        rc = wn_shuffle_extract(sh, p, collect, &g, &err);
        calls += (int)g.n;
        free(g.origins);
    }
    check(rc == 0 && calls == 0 && sh && wn_shuffle_sends_done(sh),
          "the empty round: no chunks, sends done");
    wn_shuffle_destroy(sh);
}

/* ---- 4 and 5: a hot partition over a small memory limit; a huge chunk ---- */

static void test_spill(void)
{
    const size_t limit = 1u << 20, big = 64u << 10, small = 4u << 10;
    wn_error_t err = {""};
    struct wn_shuffle *sh = make(4, 8, limit, 0, &err);
    int rc = sh ? 0 : -1;
    /* every rank: 7 MiB of 64 KiB chunks and 1 MiB of 4 KiB chunks to
     * partition 0 (rank 0), a few to the others */
    uint64_t o = (uint64_t)rank << 32;
    for (int i = 0; i < 112 && rc == 0; i++, o++)
        rc = put(sh, 0, o, pattern(o, big), big, &err);
    for (int i = 0; i < 256 && rc == 0; i++, o++)
        rc = put(sh, 0, o, pattern(o, small), small, &err);
    for (uint32_t p = 1; p < 8 && rc == 0; p++, o++)
        rc = put(sh, p, o, pattern(o, small), small, &err);
    if (rc == 0)
        rc = finish(sh, &err);
    check(rc == 0, "hot partition, 1 MiB memory limit: the round completes");
    if (rc != 0)
        diag("rank %d: %s", rank, err.text);
    size_t want_bytes = (size_t)size * (112 * big + 256 * small);
    int intact = 1;
    for (uint32_t p = (uint32_t)rank; rc == 0 && p < 8; p += (uint32_t)size) {
        struct got g = {0};
        rc = wn_shuffle_extract(sh, p, collect, &g, &err);
        size_t want = p == 0 ? want_bytes : (size_t)size * small;
        if (g.bytes != want || g.bad_pattern || !sorted(&g))
            intact = 0;
        free(g.origins);
        wn_shuffle_release(sh, p);
    }
    check(rc == 0 && intact, "hot partition: %zu MiB arrived intact, in origin order",
          want_bytes >> 20);
    struct wn_shuffle_stats st = {0};
    if (sh)
        wn_shuffle_stats(sh, &st);
    check(rank != 0 || st.bytes_spilled > 0, "hot partition: the owner spilled (%llu bytes)",
          (unsigned long long)st.bytes_spilled);
    check(st.peak_held_bytes <= limit + big,
          "peak held bytes within the limit plus one message (%llu <= %zu)",
          (unsigned long long)st.peak_held_bytes, limit + big);
    wn_shuffle_destroy(sh);

    /* one 17 MiB chunk from rank 1 to partition 2, 8 MiB limit: spilled */
    const size_t huge = 17u << 20;
    sh = make(5, 4, 8u << 20, 0, &err);
    rc = sh ? 0 : -1;
    if (rc == 0 && rank == 1)
        rc = put(sh, 2, 77, pattern(77, huge), huge, &err);
    if (rc == 0)
        rc = finish(sh, &err);
    check(rc == 0, "a 17 MiB chunk: the round completes");
    if (rc != 0)
        diag("rank %d: %s", rank, err.text);
    struct got g = {0};
    if (rc == 0 && rank == 2)
        rc = wn_shuffle_extract(sh, 2, collect, &g, &err);
    if (sh)
        wn_shuffle_stats(sh, &st);
    check(rc == 0 && (rank != 2 ||
                      (g.n == 1 && g.bytes == huge && !g.bad_pattern && st.bytes_spilled == huge)),
          "a 17 MiB chunk: arrives intact, through the spill file");
    free(g.origins);
    wn_shuffle_destroy(sh);
}

/* ---- 6 and 7: arrival order; rounds back to back ---- */

static int order_round(uint32_t round, wn_error_t *err)
{
    const int per = 24;
    struct wn_shuffle *sh = make(round, 4, 0, 0, err);
    if (!sh)
        return -1;
    int rc = 0;
    /* per partition, origins rank*100 + j, inserted in a shuffled order;
     * sizes mix coalesced and BIG chunks so the paths overtake each other */
    int idx[4 * 24];
    for (int i = 0; i < 4 * per; i++)
        idx[i] = i;
    uint64_t s = mix((uint64_t)rank + round);
    for (int i = 4 * per - 1; i > 0; i--) {
        s = mix(s);
        int j = (int)(s % (uint64_t)(i + 1)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (int i = 0; i < 4 * per && rc == 0; i++) {
        uint32_t p = (uint32_t)(idx[i] / per);
        int j = idx[i] % per;
        uint64_t origin = (uint64_t)rank * 100 + (uint64_t)j;
        size_t len = (j % 3 == 0) ? (100u << 10) + (size_t)j : 1000u + (size_t)j * 17;
        rc = put(sh, p, origin, pattern(origin, len), len, err);
        if (rc == 0 && i % 7 == 0)
            rc = wn_shuffle_progress(sh, err) < 0 ? -1 : 0;
    }
    if (rc == 0)
        rc = finish(sh, err);
    for (uint32_t p = (uint32_t)rank; rc == 0 && p < 4; p += (uint32_t)size) {
        struct got g = {0};
        rc = wn_shuffle_extract(sh, p, collect, &g, err);
        int right = g.n == (size_t)(size * per) && !g.bad_pattern;
        for (size_t i = 0; right && i < g.n; i++)
            right = g.origins[i] == (uint64_t)(i / per) * 100 + i % per;
        free(g.origins);
        if (rc == 0 && !right)
            rc = wn_errprintf(err, "partition %u: wrong chunks or order", p);
    }
    wn_shuffle_destroy(sh);
    return rc;
}

static void test_order_and_rounds(void)
{
    wn_error_t err = {""};
    int rc = order_round(6, &err);
    check(rc == 0, "chunks inserted in a rank-dependent shuffled order extract in origin order");
    if (rc != 0)
        diag("rank %d: %s", rank, err.text);
    rc = order_round(7, &err);
    int rc2 = rc == 0 ? order_round(8, &err) : -1;
    check(rc == 0 && rc2 == 0, "two rounds back to back (7, 8) on fresh workers");
    if (rc != 0 || rc2 != 0)
        diag("rank %d: %s", rank, err.text);
}

/* ---- 8: a stuck peer ---- */

static void test_stuck_peer(void)
{
    const int stuck = size - 1;
    wn_error_t err = {""};
    struct wn_shuffle *sh = make(9, 4, 0, 2.0, &err);
    int rc = sh ? 0 : -1;
    for (uint32_t p = 0; p < 4 && rc == 0; p++)
        rc = put(sh, p, (uint64_t)rank, pattern(rank, 5000), 5000, &err);
    double t0 = now_s(), waited = 0;
    int got_error = 0;
    if (rank != stuck) {
        rc = rc == 0 ? finish(sh, &err) : -1;
        waited = now_s() - t0;
        got_error = rc != 0;
        /* tell the stuck rank it may go on */
        MPI_Send(&got_error, 1, MPI_INT, stuck, 99, MPI_COMM_WORLD);
    } else {
        /* progress (never finishing) until every other rank has reported */
        int told = 0;
        while (told < size - 1 && rc == 0) {
            int flag;
            MPI_Iprobe(MPI_ANY_SOURCE, 99, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int x;
                MPI_Recv(&x, 1, MPI_INT, MPI_ANY_SOURCE, 99, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                told++;
            }
            rc = wn_shuffle_progress(sh, &err) < 0 ? -1 : 0;
            if (now_s() - t0 > 30)
                rc = wn_errprintf(&err, "test: never told");
        }
        if (rc == 0) /* the others are past the round: no barrier with them */
            rc = finish_round(sh, 0, &err);
    }
    char want[128];
    snprintf(want, sizeof(want), "shuffle round 9: rank %d waited 2 s for rank %d (got ", rank,
             stuck);
    check(rank == stuck ||
              (got_error && strstr(err.text, want) && strstr(err.text, "finished: no)")),
          "stuck peer: the others report 'rank A waited 2 s for rank %d ... finished: no'", stuck);
    if (rank == 0)
        diag("stuck peer, rank 0 says: %s", err.text);
    check(rank == stuck || (waited >= 2 && waited < 6), "stuck peer: reported after 2-6 s (%.1f s)",
          waited);
    check(rank != stuck || rc == 0, "stuck peer: the late rank itself completes its round");
    wn_shuffle_destroy(sh);
    check(1, "stuck peer: every rank got through destroy");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0)
        plan(NO_PLAN);
    double t0 = now_s();
    test_random_keys();
    test_empty();
    test_spill();
    test_order_and_rounds();
    test_stuck_peer();
    if (rank == 0)
        diag("shuffle_test: %.1f s", now_s() - t0);
    int failures;
    MPI_Allreduce(&local_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int rc = rank == 0 ? done_testing() : 0;
    MPI_Finalize();
    return failures || rc ? 1 : 0;
}
