/* spill.c - see spill.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "exec/spill.h"
#include "util/env.h"
#include "util/fsio.h"

#define SPILL_MAGIC 0x314c4c495053574eULL /* "NWSPILL1" little-endian */

struct record_head {
    uint64_t magic, id, len, sum;
};

struct wn_spill {
    int fd;
    char path[4096]; /* for messages: the file is unlinked */
};

struct wn_spill *wn_spill_open(const char *dir, int rank, uint32_t stage, wn_error_t *err)
{
    struct wn_spill *f = calloc(1, sizeof(*f));
    if (!f) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    int n = snprintf(f->path, sizeof(f->path), "%s/winnow-spill-%ld-r%d-s%u", dir, (long)getpid(),
                     rank, stage);
    if (n < 0 || (size_t)n >= sizeof(f->path)) {
        wn_errprintf(err, "spill_dir '%s': path too long", dir);
        free(f);
        return NULL;
    }
    f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        wn_errprintf(err, "spill file %s: %s", f->path, strerror(errno));
        free(f);
        return NULL;
    }
    /* Removed at once: the file lives as long as the descriptor, so a
     * rank killed with SIGKILL leaves nothing on the node's scratch. */
    unlink(f->path);
    return f;
}

void wn_spill_close(struct wn_spill *f)
{
    if (!f)
        return;
    close(f->fd);
    free(f);
}

uint64_t wn_spill_record_size(size_t len)
{
    return ((uint64_t)sizeof(struct record_head) + len + 63) & ~(uint64_t)63;
}

/* WINNOW_TEST_SPILL_FLIP=N: after the Nth record this process writes,
 * one byte of that record's payload is flipped on disk - how the suite
 * checks that a payload changed on disk is refused (t/mpi). */
static void test_flip(struct wn_spill *f, uint64_t off, size_t len)
{
    const char *v = wn_getenv("TEST_SPILL_FLIP");
    static unsigned long total;
    unsigned long nth = v ? strtoul(v, NULL, 10) : 0;
    if (!nth || ++total != nth || len == 0)
        return;
    unsigned char b;
    uint64_t at = off + sizeof(struct record_head) + len / 2;
    if (wn_pread_all(f->fd, &b, 1, (off_t)at) == 1) {
        b ^= 0x20;
        (void)!pwrite(f->fd, &b, 1, (off_t)at);
    }
}

int wn_spill_write(struct wn_spill *f, uint64_t off, uint64_t id, const void *buf, size_t len,
                   wn_error_t *err)
{
    struct record_head h = {SPILL_MAGIC, id, len, XXH3_64bits(buf, len)};
    errno = 0;
    if (wn_pwrite_all(f->fd, &h, sizeof(h), (off_t)off) < 0 ||
        wn_pwrite_all(f->fd, buf, len, (off_t)(off + sizeof(h))) < 0)
        return wn_errprintf(err, "spill file %s: writing %zu bytes at offset %llu: %s", f->path,
                            len, (unsigned long long)off, errno ? strerror(errno) : "short write");
    test_flip(f, off, len);
    return 0;
}

void *wn_spill_read(struct wn_spill *f, uint64_t off, uint64_t id, size_t len, wn_error_t *err)
{
    struct record_head h;
    ssize_t got = wn_pread_all(f->fd, &h, sizeof(h), (off_t)off);
    if (got != (ssize_t)sizeof(h)) {
        wn_errprintf(err, "spill file %s: reading the record at offset %llu: %s", f->path,
                     (unsigned long long)off, got < 0 ? strerror(errno) : "the file is too short");
        return NULL;
    }
    if (h.magic != SPILL_MAGIC || h.id != id || h.len != len) {
        wn_errprintf(err,
                     "spill file %s: the record at offset %llu is not task %016llx's %zu bytes "
                     "(the file was changed on disk); the payload is not used",
                     f->path, (unsigned long long)off, (unsigned long long)id, len);
        return NULL;
    }
    void *buf = NULL;
    if (posix_memalign(&buf, 64, len ? len : 64) != 0) {
        wn_errprintf(err, "out of memory reading back %zu spilled bytes", len);
        return NULL;
    }
    got = wn_pread_all(f->fd, buf, len, (off_t)(off + sizeof(h)));
    if (got != (ssize_t)len) {
        wn_errprintf(err, "spill file %s: reading %zu bytes at offset %llu: %s", f->path, len,
                     (unsigned long long)off, got < 0 ? strerror(errno) : "the file is too short");
        free(buf);
        return NULL;
    }
    if (XXH3_64bits(buf, len) != h.sum) {
        wn_errprintf(err,
                     "spill file %s: task %016llx (%zu bytes at offset %llu) fails its checksum "
                     "(the file was changed on disk); the payload is not used",
                     f->path, (unsigned long long)id, len, (unsigned long long)off);
        free(buf);
        return NULL;
    }
    return buf;
}
