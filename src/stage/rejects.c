/* rejects.c - see rejects.h; wn_stage_reject (winnow/stage.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsio.h"
#include "util/utf8.h"
#include "stage/rejects.h"
#include "stage/stage_impl.h"
#include "winnow/file.h"

/* What a stage rejected in the batch being processed. */
struct wn_rejects {
    char *buf; /* the records, JSON lines */
    size_t len, cap;
    struct wn_reject_counts counts;
};

/* ------------------------------------------------------------ counts -- */

/* Reasons counted apart per stage; the rest are counted together, so a
 * stage that puts the specifics in its reason cannot grow the counts
 * (and every summary) with its rejects. */
#define MAX_REASONS 64
#define OTHER_REASONS "other reasons"

static int counts_bump(struct wn_reject_counts *c, const char *reason, uint64_t k, wn_error_t *err)
{
    int known = 0;
    for (size_t i = 0; i < c->n && !known; i++)
        known = !strcmp(c->reason[i], reason);
    if (!known && c->n >= MAX_REASONS - 1 && strcmp(reason, OTHER_REASONS))
        reason = OTHER_REASONS;
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->reason[i], reason)) {
            c->count[i] += k;
            c->total += k;
            return 0;
        }
    char **r = realloc(c->reason, (c->n + 1) * sizeof(*r));
    if (r)
        c->reason = r;
    uint64_t *n = r ? realloc(c->count, (c->n + 1) * sizeof(*n)) : NULL;
    if (n)
        c->count = n;
    if (!r || !n || !(c->reason[c->n] = strdup(reason)))
        return wn_errprintf(err, "out of memory");
    c->count[c->n++] = k;
    c->total += k;
    return 0;
}

int wn_reject_counts_add(struct wn_reject_counts *c, const char *summary, uint64_t batch,
                         wn_error_t *err)
{
    json_error_t je;
    json_t *o = json_loads(summary, 0, &je);
    json_t *counts = json_object_get(o, "counts");
    const char *first = json_string_value(json_object_get(o, "first"));
    if (!json_is_object(counts)) {
        json_decref(o);
        errno = EBADMSG;
        return wn_errprintf(err, "a batch's reject summary is not what it should be");
    }
    const char *reason;
    json_t *v;
    int rc = 0;
    json_object_foreach(counts, reason, v)
    {
        if (json_is_integer(v) && json_integer_value(v) > 0 &&
            counts_bump(c, reason, (uint64_t)json_integer_value(v), err) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && first && (!c->first || batch < c->first_batch)) {
        char *f = strdup(first);
        if (!f)
            rc = wn_errprintf(err, "out of memory");
        else {
            free(c->first);
            c->first = f;
            c->first_batch = batch;
        }
    }
    json_decref(o);
    return rc;
}

void wn_reject_counts_free(struct wn_reject_counts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->reason[i]);
    free(c->reason);
    free(c->count);
    free(c->first);
    memset(c, 0, sizeof(*c));
}

void wn_reject_counts_text(const struct wn_reject_counts *c, char *buf, size_t len)
{
    size_t used = 0;
    int *done = calloc(c->n ? c->n : 1, sizeof(*done));
    buf[0] = '\0';
    for (size_t k = 0; done && k < c->n && used < len; k++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < c->n; i++)
            if (!done[i] &&
                (best == SIZE_MAX || c->count[i] > c->count[best] ||
                 (c->count[i] == c->count[best] && strcmp(c->reason[i], c->reason[best]) < 0)))
                best = i;
        done[best] = 1;
        int w = snprintf(buf + used, len - used, "%s%" PRIu64 " %s", k ? ", " : "", c->count[best],
                         c->reason[best]);
        used += w > 0 ? (size_t)w : 0;
    }
    free(done);
}

/* ------------------------------------------------------ on the actor -- */

/* Where st's batch keeps its rejects: the thread's batch (task mode runs
 * a stage's batches on several threads at once), else the stage. */
static struct wn_rejects **slot(struct wn_stage *st)
{
    struct wn_batch_run *b = wn_batch_run_current(st);
    return b ? &b->rejects : &st->rejects;
}

int wn_stage_reject(struct wn_stage *st, const char *file, uint64_t line, const char *reason,
                    const char *detail, wn_error_t *err)
{
    if (!reason || !*reason || !file) {
        errno = EINVAL;
        return wn_errprintf(err, "wn_stage_reject: a file and a reason are needed");
    }
    struct wn_rejects **rs = slot(st);
    if (!*rs && !(*rs = calloc(1, sizeof(**rs))))
        return wn_errprintf(err, "out of memory");
    struct wn_rejects *r = *rs;
    char *msg = NULL, *why = wn_utf8_clean(reason); /* it becomes a JSON key */
    if (!why || (detail && asprintf(&msg, "%s: %s", why, detail) < 0)) {
        free(why);
        return wn_errprintf(err, "out of memory");
    }
    reason = why;
    char *qf = wn_json_quote(file, strlen(file));
    char *qr = wn_json_quote(reason, strlen(reason));
    char *qm = wn_json_quote(msg ? msg : reason, strlen(msg ? msg : reason));
    char *rec = NULL;
    int n = qf && qr && qm ? asprintf(&rec,
                                      "{\"file\":%s,\"line\":%" PRIu64 ",\"reason\":%s,"
                                      "\"error\":%s}\n",
                                      qf, line, qr, qm)
                           : -1;
    int rc = 0;
    if (n < 0) {
        rec = NULL;
        rc = wn_errprintf(err, "out of memory");
    } else if (r->len + (size_t)n > r->cap) {
        size_t cap = 2 * r->cap > r->len + (size_t)n ? 2 * r->cap : r->len + (size_t)n;
        char *b = realloc(r->buf, cap);
        if (!b)
            rc = wn_errprintf(err, "out of memory");
        else {
            r->buf = b;
            r->cap = cap;
        }
    }
    if (rc == 0 && (rc = counts_bump(&r->counts, reason, 1, err)) == 0) {
        memcpy(r->buf + r->len, rec, (size_t)n);
        r->len += (size_t)n;
        if (!r->counts.first) {
            char *f = NULL;
            if (asprintf(&f, "%s:%" PRIu64 ": %s", file, line, msg ? msg : reason) < 0)
                rc = wn_errprintf(err, "out of memory");
            else
                r->counts.first = f;
        }
    }
    free(rec);
    free(qf);
    free(qr);
    free(qm);
    free(msg);
    free(why);
    return rc;
}

void wn_rejects_begin(struct wn_stage *st)
{
    wn_rejects_discard(st);
}

void wn_rejects_discard(struct wn_stage *st)
{
    struct wn_rejects *r = *slot(st);
    if (!r)
        return;
    r->len = 0;
    wn_reject_counts_free(&r->counts);
}

void wn_rejects_free(struct wn_stage *st)
{
    struct wn_rejects **rs = slot(st);
    if (!*rs)
        return;
    wn_reject_counts_free(&(*rs)->counts);
    free((*rs)->buf);
    free(*rs);
    *rs = NULL;
}

/* 1 when the file open on fd already holds the line l (n bytes, with its
 * '\n') as a whole line, 0 when not, -1 on a read error. */
static int holds_line(int fd, const char *l, size_t n)
{
    size_t got;
    char *buf = wn_read_fd(fd, &got);
    if (!buf)
        return -1;
    int found = 0;
    for (const char *p = buf, *end = buf + got; !found && p < end;) {
        const char *q = memmem(p, (size_t)(end - p), l, n);
        if (!q)
            break;
        found = q == buf || q[-1] == '\n';
        p = q + 1;
    }
    free(buf);
    return found;
}

/* A streaming rank's compute threads commit at once: one at a time, so
 * that the check for a line already there and the write go together. */
static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;

static int append_locked(const char *path, const char *buf, size_t len, wn_error_t *err);

static int append(const char *path, const char *buf, size_t len, wn_error_t *err)
{
    pthread_mutex_lock(&append_lock);
    int rc = append_locked(path, buf, len, err);
    pthread_mutex_unlock(&append_lock);
    return rc;
}

static int append_locked(const char *path, const char *buf, size_t len, wn_error_t *err)
{
    if (wn_mkdir_parent(path, err) < 0)
        return wn_errprefix(err, "rejects file");
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return wn_errprintf(err, "rejects file %s: %s", path, strerror(errno));
    size_t first = (size_t)((const char *)memchr(buf, '\n', len) - buf) + 1;
    int rc = 0, there = holds_line(fd, buf, first);
    if (there < 0)
        rc = wn_errprintf(err, "rejects file %s: %s", path, strerror(errno));
    for (size_t pos = 0; rc == 0 && !there && pos < len;) {
        ssize_t w = write(fd, buf + pos, len - pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* A short write to a regular file means the disk is full. */
            errno = w < 0 ? errno : ENOSPC;
            rc = wn_errprintf(err, "rejects file %s: %s", path, strerror(errno));
        } else
            pos += (size_t)w;
    }
    if (close(fd) < 0 && rc == 0)
        rc = wn_errprintf(err, "rejects file %s: %s", path, strerror(errno));
    return rc;
}

int wn_rejects_commit(struct wn_stage *st, const char *path, char **summary, wn_error_t *err)
{
    struct wn_rejects *r = *slot(st);
    *summary = NULL;
    if (!r || !r->len) {
        wn_rejects_discard(st);
        return 0;
    }
    if (path && *path && append(path, r->buf, r->len, err) < 0) {
        wn_rejects_discard(st);
        return -1;
    }
    json_t *counts = json_object(), *o = json_object();
    for (size_t i = 0; counts && i < r->counts.n; i++)
        if (json_object_set_new(counts, r->counts.reason[i],
                                json_integer((json_int_t)r->counts.count[i])) < 0) {
            json_decref(counts);
            counts = NULL;
        }
    /* "first" holds a file name, which need not be UTF-8. */
    char *qfirst = wn_json_quote(r->counts.first, strlen(r->counts.first));
    json_error_t je;
    json_t *first = qfirst ? json_loads(qfirst, JSON_DECODE_ANY, &je) : NULL;
    free(qfirst);
    if (o && counts && first && json_object_set_new(o, "counts", counts) == 0 &&
        json_object_set_new(o, "first", first) == 0)
        *summary = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    else {
        json_decref(counts);
        json_decref(first);
    }
    json_decref(o);
    wn_rejects_discard(st);
    return *summary ? 0 : wn_errprintf(err, "out of memory");
}

/* ------------------------------------------------------------ rank 0 -- */

int wn_rejects_reset(const char *path, wn_error_t *err)
{
    if (!path || !*path || unlink(path) == 0 || errno == ENOENT)
        return 0;
    return wn_errprintf(err, "rejects file %s: cannot remove the last run's: %s", path,
                        strerror(errno));
}

/* A line of the rejects file and its sort key. */
struct rj_line {
    const char *at;
    size_t len;
    char *file; /* NULL: not a reject record (sorts last) */
    long long line;
    size_t seq;
};

static int cmp_rj_line(const void *pa, const void *pb)
{
    const struct rj_line *a = pa, *b = pb;
    if (!a->file != !b->file)
        return a->file ? -1 : 1;
    int c = a->file ? strcmp(a->file, b->file) : 0;
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int wn_rejects_sort(const char *path)
{
    char *buf = NULL;
    struct rj_line *v = NULL;
    size_t n = 0, cap = 0, len = 0;
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !(buf = wn_read_fd(fd, &len)))
        goto out;
    int sorted = 1;
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        if (n == cap) {
            struct rj_line *w = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));
            if (!w)
                goto out;
            v = w;
        }
        struct rj_line *r = &v[n];
        *r = (struct rj_line){buf + pos, l, NULL, 0, n};
        json_t *o = json_loadb(r->at, l, 0, NULL);
        const char *f = json_string_value(json_object_get(o, "file"));
        json_t *ln = json_object_get(o, "line");
        if (f && json_is_integer(ln) && !(r->file = strdup(f))) {
            json_decref(o);
            goto out;
        }
        r->line = json_is_integer(ln) ? (long long)json_integer_value(ln) : 0;
        json_decref(o);
        if (n > 0 && sorted && cmp_rj_line(&v[n - 1], r) > 0)
            sorted = 0;
        if (n > 0 && v[n - 1].len == l && !memcmp(v[n - 1].at, r->at, l))
            sorted = 0; /* a repeated line to drop */
        n++;
        pos += l + 1;
    }
    if (sorted && (len == 0 || buf[len - 1] == '\n')) {
        rc = 0;
        goto out;
    }
    qsort(v, n, sizeof(*v), cmp_rj_line);
    /* The rejects file is the user's: a fixed temporary name leaves no
     * stray file when the run is killed while sorting. */
    struct wn_afile *a = wn_afile_open(path, WN_AFILE_FIXED_TMP, 0666, NULL);
    FILE *f = a ? wn_afile_stream(a, NULL) : NULL;
    if (!f) {
        wn_afile_abort(a);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i].len != v[i - 1].len || memcmp(v[i].at, v[i - 1].at, v[i].len)) {
            fwrite(v[i].at, 1, v[i].len, f);
            fputc('\n', f);
        }
    if (wn_afile_commit(a, NULL) < 0)
        goto out;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < n; i++)
        free(v[i].file);
    free(v);
    free(buf);
    return rc;
}
