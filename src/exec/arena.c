/* arena.c - see arena.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "exec/arena.h"
#include "util/env.h"
#include "util/log.h"

#define ALIGN 64u
/* A ref is the offset in 64-byte units, plus one (0 means none); 32 bits
 * address 256 GiB, far more than a half is allowed. */
#define MAX_HALF ((size_t)16 << 30)

struct wn_arena {
    size_t half; /* bytes per half */
    char **base; /* [comm size]: mapped arena, NULL elsewhere */
    int me;
    int size;
    size_t used[2]; /* this rank's bump offsets */
};

/* The size of a half asked for: WINNOW_ARENA_MB, else 32 MiB; *explicit
 * says whether the user chose it. */
static size_t half_wanted(int *explicit)
{
    const char *v = wn_getenv("ARENA_MB");
    long mb = 32;
    *explicit = 0;
    if (v && *v) {
        char *end;
        long x = strtol(v, &end, 10);
        if (!*end && x >= 0) {
            mb = x;
            *explicit = 1;
        }
    }
    size_t b = (size_t)mb << 20;
    return b > MAX_HALF ? MAX_HALF : b;
}

struct wn_arena *wn_arena_open(MPI_Comm comm, size_t max_half)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int explicit;
    size_t half = half_wanted(&explicit);
    if (half == 0 || size == 1)
        return NULL; /* the same on every rank */

    MPI_Comm node;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    int nrank, nsize;
    MPI_Comm_rank(node, &nrank);
    MPI_Comm_size(node, &nsize);

    /* The node's arenas take at most a quarter of what /dev/shm has free:
     * the node's first rank shrinks the halves to fit (1 MiB at least, or
     * no arenas) and tells the others. */
    unsigned long long hb = half;
    if (nrank == 0) {
        struct statvfs sv;
        unsigned long long room =
            statvfs("/dev/shm", &sv) == 0 ? (unsigned long long)sv.f_bavail * sv.f_frsize / 4 : 0;
        unsigned long long fit = room / (2ULL * (unsigned long long)nsize);
        fit &= ~((1ULL << 20) - 1);
        if (fit < hb) {
            if (explicit)
                wn_warn("node arenas: WINNOW_ARENA_MB=%llu does not fit in /dev/shm "
                        "(%llu MiB free for %d ranks); %s",
                        hb >> 20, room * 4 >> 20, nsize,
                        fit >= (1ULL << 20) ? "using less" : "none made");
            hb = fit >= (1ULL << 20) ? fit : 0;
        }
        /* The memory budget's share: every rank maps its node-mates'
         * arenas, and what it reads there counts in its RSS. */
        if (max_half && hb > max_half) {
            hb = max_half & ~((1ULL << 20) - 1);
            if (explicit)
                wn_warn("node arenas: WINNOW_ARENA_MB=%zu is more than executor.memory_limit "
                        "allows; halves of %llu MiB",
                        half >> 20, hb >> 20);
        }
    }
    MPI_Bcast(&hb, 1, MPI_UNSIGNED_LONG_LONG, 0, node);
    half = (size_t)hb;
    int ok = half > 0;

    /* A name no other job uses: rank 0's pid and time, and this rank. */
    long tag[2] = {(long)getpid(), (long)time(NULL)};
    MPI_Bcast(tag, 2, MPI_LONG, 0, comm);
    char name[96];
    snprintf(name, sizeof(name), "/winnow.%ld.%ld.%d", tag[0], tag[1], rank);
    char *mine = NULL;
    if (ok) {
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)(2 * half)) != 0 ||
            (mine = mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
                MAP_FAILED) {
            mine = NULL;
            ok = 0;
        }
        if (fd >= 0)
            close(fd);
        if (!ok)
            shm_unlink(name);
    }
    /* Every rank of the job makes one, or none uses them. */
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);
    struct wn_arena *a = ok ? calloc(1, sizeof(*a)) : NULL;
    char **base = ok ? calloc((size_t)size, sizeof(*base)) : NULL;
    int *node_of = malloc((size_t)size * sizeof(*node_of));
    ok = ok && a && base && node_of;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);

    if (ok) {
        /* Which ranks share this node: named by their node's first rank. */
        int leader = nrank == 0 ? rank : -1;
        MPI_Allreduce(MPI_IN_PLACE, &leader, 1, MPI_INT, MPI_MAX, node);
        MPI_Allgather(&leader, 1, MPI_INT, node_of, 1, MPI_INT, comm);
        for (int r = 0; r < size && ok; r++) {
            if (node_of[r] != leader)
                continue;
            if (r == rank) {
                base[r] = mine;
                continue;
            }
            char other[96];
            snprintf(other, sizeof(other), "/winnow.%ld.%ld.%d", tag[0], tag[1], r);
            int fd = shm_open(other, O_RDONLY, 0);
            void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 2 * half, PROT_READ, MAP_SHARED, fd, 0);
            if (fd >= 0)
                close(fd);
            if (p == MAP_FAILED)
                ok = 0;
            else
                base[r] = p;
        }
    }
    /* Mapped everywhere (or given up): the names can go. */
    MPI_Barrier(comm);
    if (mine)
        shm_unlink(name);
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);
    free(node_of);
    MPI_Comm_free(&node);
    if (!ok) {
        for (int r = 0; base && r < size; r++)
            if (base[r])
                munmap(base[r], 2 * half);
        if (mine && !(base && base[rank]))
            munmap(mine, 2 * half);
        free(base);
        free(a);
        if (rank == 0 && half == 0 && max_half && max_half < (1u << 20))
            wn_info("node arenas off: executor.memory_limit leaves them under 1 MiB; "
                    "payloads on the same node go through their owners");
        else if (rank == 0)
            wn_warn("node arenas unavailable (/dev/shm full or not shared); "
                    "payloads on the same node go through their owners");
        return NULL;
    }
    a->half = half;
    a->base = base;
    a->me = rank;
    a->size = size;
    return a;
}

void wn_arena_close(struct wn_arena *a)
{
    if (!a)
        return;
    for (int r = 0; r < a->size; r++)
        if (a->base[r])
            munmap(a->base[r], 2 * a->half);
    free(a->base);
    free(a);
}

void *wn_arena_alloc(struct wn_arena *a, unsigned parity, size_t len, uint32_t *ref)
{
    if (!a)
        return NULL;
    parity &= 1;
    size_t off = a->used[parity];
    size_t n = (len + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    if (n > a->half - off)
        return NULL;
    a->used[parity] = off + n;
    size_t at = parity * a->half + off;
    *ref = (uint32_t)(at / ALIGN) + 1;
    return a->base[a->me] + at;
}

void wn_arena_reset(struct wn_arena *a, unsigned parity)
{
    if (a)
        a->used[parity & 1] = 0;
}

const void *wn_arena_ptr(const struct wn_arena *a, int owner, uint32_t ref)
{
    if (!a || ref == 0 || owner < 0 || owner >= a->size || !a->base[owner])
        return NULL;
    size_t at = (size_t)(ref - 1) * ALIGN;
    if (at >= 2 * a->half)
        return NULL;
    return a->base[owner] + at;
}

int wn_arena_owns(const struct wn_arena *a, const void *p)
{
    if (!a)
        return 0;
    const char *b = a->base[a->me], *c = p;
    return c >= b && c < b + 2 * a->half;
}
