/* fsio.c - see fsio.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/fsio.h"

/* off < 0: at fd's offset (write/read), else at off (pwrite/pread). */
static int write_at(int fd, const void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = off < 0 ? write(fd, (const char *)buf + done, len - done)
                            : pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) { /* not expected from a regular file; never loop on it */
            errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int wn_write_all(int fd, const void *buf, size_t len)
{
    return write_at(fd, buf, len, -1);
}

int wn_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    return write_at(fd, buf, len, off);
}

static ssize_t read_at(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = off < 0 ? read(fd, (char *)buf + got, len - got)
                            : pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t wn_read_all(int fd, void *buf, size_t len)
{
    return read_at(fd, buf, len, -1);
}

ssize_t wn_pread_all(int fd, void *buf, size_t len, off_t off)
{
    return read_at(fd, buf, len, off);
}

void *wn_read_fd(int fd, size_t *len)
{
    struct stat st;
    *len = 0;
    if (fstat(fd, &st) != 0)
        return NULL;
    size_t size = st.st_size > 0 ? (size_t)st.st_size : 0;
    char *buf = size < SIZE_MAX ? malloc(size + 1) : NULL;
    if (!buf) {
        errno = ENOMEM;
        return NULL;
    }
    ssize_t got = wn_read_all(fd, buf, size);
    if (got < 0) {
        int e = errno;
        free(buf);
        errno = e;
        return NULL;
    }
    buf[got] = '\0';
    *len = (size_t)got;
    return buf;
}

void *wn_read_file(const char *path, size_t *len, wn_error_t *err)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        wn_errprintf(err, "%s: %s", path, strerror(e));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = EBADMSG;
        wn_errprintf(err, "%s: not a regular file", path);
        return NULL;
    }
    void *buf = wn_read_fd(fd, len);
    int e = errno;
    close(fd);
    errno = e;
    if (!buf && e == ENOMEM)
        wn_errprintf(err, "%s: out of memory reading %lld bytes", path, (long long)st.st_size);
    else if (!buf)
        wn_errprintf(err, "%s: %s", path, strerror(e));
    return buf;
}

void wn_human_bytes(unsigned long long n, char *buf, size_t len)
{
    static const char *unit[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(buf, len, "%llu B", n);
        return;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, unit[u]);
}

void wn_free_space(const char *path, char *buf, size_t len)
{
    struct statvfs sv;
    int rc = statvfs(path, &sv);
    if (rc != 0) {
        /* Not there (yet): the folder it would be in. */
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof(dir), ".");
        rc = statvfs(dir, &sv);
    }
    if (rc != 0) {
        snprintf(buf, len, "free space unknown");
        return;
    }
    char h[32];
    wn_human_bytes((unsigned long long)sv.f_bavail * sv.f_frsize, h, sizeof(h));
    snprintf(buf, len, "%s free on its file system", h);
}

int wn_mkdir_p(const char *path, wn_error_t *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return wn_errprintf(err, "%s: path too long", path);
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return wn_errprintf(err, "%s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return wn_errprintf(err, "%s: %s", buf, strerror(errno));
    return 0;
}

int wn_mkdir_parent(const char *path, wn_error_t *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    int rc = dir ? wn_mkdir_p(dir, err) : wn_errprintf(err, "out of memory");
    free(dir);
    return rc;
}
