/* lock.c - see lock.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/fsio.h"
#include "ckpt/lock.h"
#include "util/log.h"

struct wn_lock {
    int fd;
    char *path;
};

/* Who the lock file names. */
struct holder {
    char host[256];
    long pid;
    long long since;
    int named; /* the file names a holder */
};

static void read_holder(int fd, struct holder *h)
{
    char buf[512];
    memset(h, 0, sizeof(*h));
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    h->named = sscanf(buf, "%255s %ld %lld", h->host, &h->pid, &h->since) == 3 && h->pid > 0;
}

static void since_text(long long since, char *buf, size_t len)
{
    time_t t = (time_t)since;
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "%lld", since);
}

static void host_name(char *buf, size_t len)
{
    if (gethostname(buf, len) != 0)
        snprintf(buf, len, "unknown-host");
    buf[len - 1] = '\0';
}

/* "HOST PID SINCE", synced so that a run on another node of a shared file
 * system reads it. */
static int write_holder(int fd, const char *path, wn_error_t *err)
{
    char host[256], line[400];
    host_name(host, sizeof(host));
    int n =
        snprintf(line, sizeof(line), "%s %ld %lld\n", host, (long)getpid(), (long long)time(NULL));
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 ||
        wn_write_all(fd, line, (size_t)n) != 0 || fdatasync(fd) != 0)
        return wn_errprintf(err, "%s: cannot write the lock file: %s", path, strerror(errno));
    return 0;
}

static int same_host(const struct holder *h)
{
    char host[256];
    host_name(host, sizeof(host));
    return !strcmp(h->host, host);
}

static int alive(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Record locks unsupported here: the file's content decides.  0 to take
 * the lock, -1 (errno EBUSY) refused. */
static int decide_by_content(int fd, const char *dir, const char *path, const char *what,
                             wn_error_t *err)
{
    struct holder h;
    read_holder(fd, &h);
    if (!h.named || (same_host(&h) && h.pid == (long)getpid()))
        return 0;
    char since[64];
    since_text(h.since, since, sizeof(since));
    if (same_host(&h) && alive(h.pid)) {
        errno = EBUSY;
        return wn_errprintf(err,
                            "%s %s is in use by pid %ld on host %s (since %s; this file "
                            "system has no record locks, and its lock file %s names that "
                            "process, which is running)",
                            what, dir, h.pid, h.host, since, path);
    }
    if (!same_host(&h)) {
        errno = EBUSY;
        return wn_errprintf(err,
                            "%s %s is in use by pid %ld on host %s (since %s), as its "
                            "lock file says; this file system has no record locks, so "
                            "winnow cannot tell whether that run is still going: if it has "
                            "ended, remove %s",
                            what, dir, h.pid, h.host, since, path);
    }
    wn_warn("%s %s: taking over the lock of pid %ld on %s (since %s), which is gone", what, dir,
            h.pid, h.host, since);
    return 0;
}

struct wn_lock *wn_lock_take(const char *dir, const char *name, const char *what, wn_error_t *err)
{
    struct wn_lock *l = calloc(1, sizeof(*l));
    if (!l || asprintf(&l->path, "%s/%s", dir, name) < 0) {
        free(l);
        errno = ENOMEM;
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        wn_errprintf(err, "%s %s: cannot open its lock file %s: %s", what, dir, l->path,
                     strerror(errno));
        goto fail;
    }
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(l->fd, F_SETLK, &fl) == 0) {
        struct holder h;
        read_holder(l->fd, &h);
        if (h.named && !(same_host(&h) && h.pid == (long)getpid())) {
            char since[64];
            since_text(h.since, since, sizeof(since));
            wn_warn("%s %s: taking over the lock of pid %ld on %s (since %s), which is gone", what,
                    dir, h.pid, h.host, since);
        }
    } else if (errno == EACCES || errno == EAGAIN) {
        /* The holder writes its line right after taking the lock: give
         * it a moment. */
        struct holder h;
        read_holder(l->fd, &h);
        for (int i = 0; i < 20 && !h.named; i++) {
            usleep(50000);
            read_holder(l->fd, &h);
        }
        errno = EBUSY;
        if (h.named) {
            char since[64];
            since_text(h.since, since, sizeof(since));
            wn_errprintf(err, "%s %s is in use by pid %ld on host %s (since %s)", what, dir, h.pid,
                         h.host, since);
        } else {
            wn_errprintf(err,
                         "%s %s is in use by another run (its lock file %s does not say "
                         "which)",
                         what, dir, l->path);
        }
        goto fail;
    } else if (errno == ENOLCK || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) {
        if (decide_by_content(l->fd, dir, l->path, what, err) < 0)
            goto fail;
    } else {
        wn_errprintf(err, "%s %s: cannot lock %s: %s", what, dir, l->path, strerror(errno));
        goto fail;
    }
    if (write_holder(l->fd, l->path, err) < 0)
        goto fail;
    return l;
fail:;
    int e = errno;
    if (l->fd >= 0)
        close(l->fd); /* drops the lock, if this process took it */
    free(l->path);
    free(l);
    errno = e;
    return NULL;
}

void wn_lock_release(struct wn_lock *l)
{
    if (!l)
        return;
    /* Empty: a later run finds no holder named, so no warning.  Closing
     * releases the record lock. */
    if (ftruncate(l->fd, 0) != 0)
        wn_warn("%s: cannot empty the lock file: %s", l->path, strerror(errno));
    close(l->fd);
    free(l->path);
    free(l);
}
