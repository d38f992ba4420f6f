/* journal.c - see journal.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "journal.h"
#include "task_impl.h"   /* wn_ld32_, wn_st32_, ... */

#define MAGIC "WNJ1"
#define FRAME 16u
#define MAX_RECORD (64u << 20)

struct wn_journal {
    int fd;
    char *path;
};

static int read_all(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return (int)got == 0 && r == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

int wn_journal_read(const char *path, int (*fn)(const json_t *rec, void *arg), void *arg,
                    uint64_t *good_bytes, int *torn, wn_error_t *err)
{
    if (good_bytes)
        *good_bytes = 0;
    if (torn)
        *torn = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return wn_errprintf(err, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    uint64_t size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    uint64_t good = 0;
    int rc = 0;
    char *buf = NULL;
    for (;;) {
        unsigned char h[FRAME];
        int r = read_all(fd, h, FRAME);
        if (r == 0)
            break;                       /* a clean end */
        if (r < 0 || memcmp(h, MAGIC, 4) != 0)
            break;                       /* torn or damaged from here */
        uint32_t len = wn_ld32_(h + 4);
        uint64_t sum = wn_ld64_(h + 8);
        if (len > MAX_RECORD)
            break;
        char *nb = realloc(buf, (size_t)len + 1);
        if (!nb) {
            rc = wn_errprintf(err, "%s: out of memory", path);
            break;
        }
        buf = nb;
        if (read_all(fd, buf, len) != 1 || XXH3_64bits(buf, len) != sum)
            break;
        buf[len] = '\0';
        json_error_t je;
        json_t *rec = json_loadb(buf, len, 0, &je);
        if (!rec || !json_is_object(rec)) {
            json_decref(rec);
            break;
        }
        good += FRAME + len;
        int stop = fn ? fn(rec, arg) : 0;
        json_decref(rec);
        if (stop) {
            rc = stop;
            break;
        }
    }
    free(buf);
    close(fd);
    if (good_bytes)
        *good_bytes = good;
    if (torn && rc == 0)
        *torn = good < size;
    return rc;
}

static int counter(const json_t *rec, void *arg)
{
    (void)rec;
    ++*(uint64_t *)arg;
    return 0;
}

struct wn_journal *wn_journal_open(const char *path, uint64_t *kept_records,
                                   wn_error_t *err)
{
    uint64_t good = 0, n = 0;
    int torn = 0;
    if (wn_journal_read(path, counter, &n, &good, &torn, err) < 0)
        return NULL;
    struct wn_journal *j = calloc(1, sizeof(*j));
    if (!j || !(j->path = strdup(path))) {
        free(j);
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    j->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0 || (torn && ftruncate(j->fd, (off_t)good) != 0) ||
        lseek(j->fd, (off_t)good, SEEK_SET) < 0) {
        wn_errprintf(err, "%s: %s", path, strerror(errno));
        if (j->fd >= 0)
            close(j->fd);
        free(j->path);
        free(j);
        return NULL;
    }
    if (kept_records)
        *kept_records = n;
    return j;
}

int wn_journal_append(struct wn_journal *j, const json_t *record, wn_error_t *err)
{
    char *text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return wn_errprintf(err, "%s: cannot encode a record", j->path);
    size_t len = strlen(text);
    unsigned char *frame = malloc(FRAME + len);
    if (!frame) {
        free(text);
        return wn_errprintf(err, "%s: out of memory", j->path);
    }
    memcpy(frame, MAGIC, 4);
    wn_st32_(frame + 4, (uint32_t)len);
    wn_st64_(frame + 8, XXH3_64bits(text, len));
    memcpy(frame + FRAME, text, len);
    free(text);
    /* One write: a crash tears at most this record. */
    size_t done = 0;
    while (done < FRAME + len) {
        ssize_t w = write(j->fd, frame + done, FRAME + len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            free(frame);
            errno = e;
            return wn_errprintf(err, "%s: %s", j->path, strerror(e));
        }
        done += (size_t)w;
    }
    free(frame);
    return 0;
}

int wn_journal_sync(struct wn_journal *j, wn_error_t *err)
{
    if (fdatasync(j->fd) != 0)
        return wn_errprintf(err, "%s: fsync: %s", j->path, strerror(errno));
    return 0;
}

void wn_journal_close(struct wn_journal *j)
{
    if (!j)
        return;
    close(j->fd);
    free(j->path);
    free(j);
}
