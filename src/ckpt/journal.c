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

#include "util/byteorder.h"
#include "util/fsio.h"
#include "ckpt/journal.h"

#define MAGIC "WNJ1"
#define FRAME 16u
#define MAX_RECORD (64u << 20)

struct wn_journal {
    int fd;
    char *path;
};

/* The record in the frame at buf[0..len), or NULL: a short frame, a bad
 * magic, length, checksum or JSON.  *flen receives the frame's length. */
static json_t *frame_record(const unsigned char *buf, size_t len, size_t *flen)
{
    if (len < FRAME || memcmp(buf, MAGIC, 4) != 0)
        return NULL;
    uint32_t n = wn_ld32_(buf + 4);
    if (n > MAX_RECORD || n > len - FRAME || XXH3_64bits(buf + FRAME, n) != wn_ld64_(buf + 8))
        return NULL;
    json_error_t je;
    json_t *rec = json_loadb((const char *)buf + FRAME, n, 0, &je);
    if (!rec || !json_is_object(rec)) {
        json_decref(rec);
        return NULL;
    }
    *flen = FRAME + n;
    return rec;
}

/* After the first bad frame: the whole records further on (the next
 * "WNJ1" whose frame checks out, and so on), each passed to fn. */
static uint64_t count_ignored(const unsigned char *buf, size_t len,
                              int (*fn)(const json_t *rec, void *arg), void *arg)
{
    uint64_t n = 0;
    size_t pos = 1;
    while (pos + FRAME <= len) {
        const unsigned char *m = memmem(buf + pos, len - pos, MAGIC, 4);
        if (!m)
            break;
        size_t at = (size_t)(m - buf), flen = 0;
        json_t *rec = frame_record(m, len - at, &flen);
        if (!rec) {
            pos = at + 1;
            continue;
        }
        n++;
        if (fn)
            fn(rec, arg);
        json_decref(rec);
        pos = at + flen;
    }
    return n;
}

int wn_journal_read(const char *path, int (*fn)(const json_t *rec, void *arg), void *arg,
                    int (*ignored_fn)(const json_t *rec, void *arg), struct wn_journal_tail *tail,
                    wn_error_t *err)
{
    struct wn_journal_tail t = {0, 0, 0, 0};
    if (tail)
        *tail = t;
    /* Read whole: a journal is a few hundred bytes per batch. */
    size_t size;
    unsigned char *buf = wn_read_file(path, &size, err);
    if (!buf)
        return errno == ENOENT ? 0 : -1; /* none yet: no records */
    t.size = (uint64_t)size;
    int rc = 0;
    size_t pos = 0, flen = 0;
    json_t *rec;
    while ((rec = frame_record(buf + pos, size - pos, &flen))) {
        pos += flen;
        t.good_records++;
        int stop = fn ? fn(rec, arg) : 0;
        json_decref(rec);
        if (stop) {
            rc = stop;
            break;
        }
    }
    t.good_bytes = pos;
    if (rc == 0 && pos < size)
        t.ignored = count_ignored(buf + pos, size - pos, ignored_fn, arg);
    free(buf);
    if (tail)
        *tail = t;
    return rc;
}

static int counter(const json_t *rec, void *arg)
{
    (void)rec;
    ++*(uint64_t *)arg;
    return 0;
}

struct wn_journal *wn_journal_open(const char *path, uint64_t *kept_records, wn_error_t *err)
{
    uint64_t n = 0;
    struct wn_journal_tail t;
    if (wn_journal_read(path, counter, &n, NULL, &t, err) < 0)
        return NULL;
    uint64_t good = t.good_bytes;
    int torn = good < t.size;
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
    /* One write: a crash tears at most this record.  A write that fails
     * (a full disk) is cut off again, so that records appended later do
     * not follow a torn one. */
    off_t start = lseek(j->fd, 0, SEEK_CUR);
    if (wn_write_all(j->fd, frame, FRAME + len) < 0) {
        int e = errno;
        free(frame);
        if (start >= 0 && ftruncate(j->fd, start) == 0)
            lseek(j->fd, start, SEEK_SET);
        char room[96] = "";
        if (e == ENOSPC || e == EDQUOT) {
            room[0] = ' ';
            room[1] = '(';
            wn_free_space(j->path, room + 2, sizeof(room) - 3);
            strcat(room, ")");
        }
        errno = e;
        return wn_errprintf(err, "%s: cannot append a record: %s%s", j->path, strerror(e), room);
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
