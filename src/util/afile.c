/* afile.c - the one writer of whole files by temporary name, fsync and
 * rename (see winnow/file.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsio.h"
#include "winnow/file.h"

struct wn_afile {
    char *path, *tmp;
    int fd;
    FILE *f;                  /* wn_afile_stream's, on fd */
    unsigned long long bytes; /* handed to wn_afile_write so far */
    int failed;               /* errno of a failed write: never committed */
};

/* What the file would hold had every write gone through, for a message
 * about room. */
static unsigned long long wanted(const struct wn_afile *a, size_t more)
{
    long long at = a->f ? (long long)ftello(a->f) : (long long)lseek(a->fd, 0, SEEK_CUR);
    unsigned long long n = a->bytes + more;
    return at > 0 && (unsigned long long)at > n ? (unsigned long long)at : n;
}

/* "TMP: WHAT: strerror(e)", and when the file system is full the size
 * wanted and the room left, since that is what the user acts on.  The
 * room is measured without what the temporary file holds: it is given
 * back (the file is cut here, or already removed), so the figure is what
 * the user finds. */
static int fail(struct wn_afile *a, const char *what, int e, unsigned long long size,
                wn_error_t *err)
{
    char room[160] = "";
    if (e == ENOSPC || e == EDQUOT) {
        if (a->fd >= 0)
            (void)!ftruncate(a->fd, 0); /* if it fails, the figure counts the file */
        char h[32], space[96];
        wn_free_space(a->tmp, space, sizeof(space));
        wn_human_bytes(size, h, sizeof(h));
        if (size > 0)
            snprintf(room, sizeof(room), " (%s to write; %s)", h, space);
        else
            snprintf(room, sizeof(room), " (%s)", space);
    }
    errno = e;
    return wn_errprintf(err, "%s: %s: %s%s", a->tmp, what, strerror(e), room);
}

static void afile_free(struct wn_afile *a)
{
    free(a->path);
    free(a->tmp);
    free(a);
}

struct wn_afile *wn_afile_open(const char *path, unsigned flags, mode_t mode, wn_error_t *err)
{
    struct wn_afile *a = calloc(1, sizeof(*a));
    int n = !a || !(a->path = strdup(path)) ? -1
            : flags & WN_AFILE_FIXED_TMP    ? asprintf(&a->tmp, "%s.winnow-tmp", path)
                                            : asprintf(&a->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0) {
        if (a) {
            a->tmp = NULL;
            afile_free(a);
        }
        errno = ENOMEM;
        wn_errprintf(err, "%s: out of memory", path);
        return NULL;
    }
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (a->fd < 0) {
        fail(a, "cannot create", errno, 0, err);
        int e = errno;
        afile_free(a);
        errno = e;
        return NULL;
    }
    return a;
}

int wn_afile_write(struct wn_afile *a, const void *buf, size_t len, wn_error_t *err)
{
    int rc;
    if (a->f) {
        errno = 0;
        rc = fwrite(buf, 1, len, a->f) == len ? 0 : -1;
        if (rc < 0 && !errno)
            errno = EIO;
    } else
        rc = wn_write_all(a->fd, buf, len);
    if (rc < 0) {
        a->failed = errno;
        return fail(a, "cannot write", a->failed, wanted(a, len), err);
    }
    a->bytes += len;
    return 0;
}

FILE *wn_afile_stream(struct wn_afile *a, wn_error_t *err)
{
    if (!a->f && !(a->f = fdopen(a->fd, "w"))) {
        fail(a, "cannot write", errno, 0, err);
        return NULL;
    }
    return a->f;
}

int wn_afile_fd(const struct wn_afile *a)
{
    return a->fd;
}

const char *wn_afile_tmpname(const struct wn_afile *a)
{
    return a->tmp;
}

/* fsync of the folder that holds path, so the rename itself survives a
 * crash.  File systems that cannot sync a folder say EINVAL: nothing more
 * can be done there, and it is not an error. */
static int sync_folder(const char *path, wn_error_t *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash          ? strdup(".")
                : slash == path ? strdup("/")
                                : strndup(path, (size_t)(slash - path));
    if (!dir) {
        errno = ENOMEM;
        return wn_errprintf(err, "%s: out of memory", path);
    }
    int rc = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)) {
        rc = wn_errprintf(err, "%s: cannot sync the folder after renaming %s into it: %s", dir,
                          slash ? slash + 1 : path, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int wn_afile_commit(struct wn_afile *a, wn_error_t *err)
{
    if (a->failed) {
        /* err still says which write failed. */
        int e = a->failed;
        wn_afile_abort(a);
        errno = e;
        return -1;
    }
    const char *what = NULL;
    int e = 0;
    unsigned long long size = wanted(a, 0);
    errno = 0;
    if (a->f && (fflush(a->f) != 0 || ferror(a->f)))
        what = "cannot write", e = errno ? errno : EIO;
    else if (fsync(a->fd) != 0)
        what = "cannot sync", e = errno;
    /* The stream owns the descriptor once there is one. */
    int closed = a->f ? fclose(a->f) : close(a->fd);
    a->f = NULL;
    a->fd = -1;
    if (closed != 0 && !what)
        what = "cannot close", e = errno;
    if (!what && rename(a->tmp, a->path) != 0)
        what = "cannot rename into place", e = errno;
    if (what) {
        unlink(a->tmp);
        fail(a, what, e, size, err);
        afile_free(a);
        errno = e;
        return -1;
    }
    int rc = sync_folder(a->path, err);
    afile_free(a);
    return rc;
}

void wn_afile_abort(struct wn_afile *a)
{
    if (!a)
        return;
    int saved = errno;
    if (a->f)
        fclose(a->f);
    else if (a->fd >= 0)
        close(a->fd);
    unlink(a->tmp);
    afile_free(a);
    errno = saved;
}
