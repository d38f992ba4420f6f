/* jsonl_io.c - JSON Lines input listing, reading and atomic writing for
 * the document stages (see jsonl_io.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "jsonl_io.h"

#define JL_CHUNK (1u << 20)                  /* first buffer size, bytes */

/* ------------------------------------------------------------ listing -- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

enum wn_jl_comp wn_jl_comp_of(const char *path)
{
    return ends_with(path, ".gz") ? WN_JL_GZIP : ends_with(path, ".zst") ? WN_JL_ZSTD : WN_JL_PLAIN;
}

static int jsonl_name(const char *name)
{
    return ends_with(name, ".jsonl") || ends_with(name, ".jsonl.gz") ||
           ends_with(name, ".jsonl.zst");
}

/* Adds path (copied) unless it is the rejects file. */
static int list_add(struct wn_jl_list *l, const char *path, const struct stat *sb, wn_error_t *err)
{
    if (l->has_rej && sb->st_dev == l->rej_dev && sb->st_ino == l->rej_ino)
        return 0;
    if (l->n == WN_JL_MAX_FILES) {
        errno = EFBIG;
        return wn_errprintf(err, "more than %" PRIu64 " input files", WN_JL_MAX_FILES);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct wn_jl_file *f = realloc(l->files, cap * sizeof(*f));
        if (!f)
            return wn_errprintf(err, "out of memory");
        l->files = f;
        l->cap = cap;
    }
    struct wn_jl_file *f = &l->files[l->n];
    if (!(f->path = strdup(path)))
        return wn_errprintf(err, "out of memory");
    f->size = (uint64_t)sb->st_size;
    f->comp = wn_jl_comp_of(path);
    l->n++;
    return 0;
}

static int list_dir(struct wn_jl_list *l, const char *dir, wn_error_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return wn_errprintf(err, "%s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *path;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = wn_errprintf(err, "out of memory");
            break;
        }
        struct stat sb;
        if (lstat(path, &sb) < 0)
            rc = wn_errprintf(err, "%s: %s", path, strerror(errno));
        else if (S_ISDIR(sb.st_mode))
            rc = list_dir(l, path, err);
        else if (jsonl_name(e->d_name)) {
            /* A link named like an input must lead to a file: a dangling
             * one is a file that cannot be opened. */
            if (S_ISLNK(sb.st_mode) && stat(path, &sb) < 0)
                rc = wn_errprintf(err, "%s: %s", path, strerror(errno));
            else if (S_ISREG(sb.st_mode))
                rc = list_add(l, path, &sb, err);
        }
        free(path);
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = wn_errprintf(err, "%s: %s", dir, strerror(errno));
    closedir(d);
    return rc;
}

static int glob_error(const char *path, int e)
{
    (void)path, (void)e;
    return 1;   /* stop: an unreadable directory would silently hide files */
}

static int list_glob(struct wn_jl_list *l, const char *pattern, wn_error_t *err)
{
    glob_t g;
    int grc = glob(pattern, GLOB_ERR | GLOB_NOSORT, glob_error, &g);
    if (grc == GLOB_NOMATCH)
        return 0;
    if (grc != 0) {
        errno = grc == GLOB_NOSPACE ? ENOMEM : EIO;
        return wn_errprintf(err, "%s: %s", pattern,
                            grc == GLOB_NOSPACE ? "out of memory" : "cannot read a directory");
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        struct stat sb;
        if (stat(g.gl_pathv[i], &sb) < 0)
            rc = wn_errprintf(err, "%s: %s", g.gl_pathv[i], strerror(errno));
        else if (S_ISREG(sb.st_mode))
            rc = list_add(l, g.gl_pathv[i], &sb, err);
    }
    globfree(&g);
    return rc;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct wn_jl_file *)a)->path, ((const struct wn_jl_file *)b)->path);
}

void wn_jl_list_free(struct wn_jl_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].path);
    free(l->files);
}

int wn_jl_list_files(const char *input, const char *exclude, struct wn_jl_list *l,
                     wn_error_t *err)
{
    memset(l, 0, sizeof(*l));
    struct stat sb;
    if (*exclude && stat(exclude, &sb) == 0) {
        l->has_rej = 1;
        l->rej_dev = sb.st_dev;
        l->rej_ino = sb.st_ino;
    }
    int rc;
    if (strpbrk(input, "*?["))
        rc = list_glob(l, input, err);
    else if (stat(input, &sb) < 0)
        rc = wn_errprintf(err, "%s: %s", input, strerror(errno));
    else if (S_ISDIR(sb.st_mode)) {
        /* Without trailing slashes, so paths read dir/name, not dir//name. */
        size_t n = strlen(input);
        while (n > 1 && input[n - 1] == '/')
            n--;
        char *dir = strndup(input, n);
        rc = dir ? list_dir(l, dir, err) : wn_errprintf(err, "out of memory");
        free(dir);
    } else
        rc = list_add(l, input, &sb, err);
    if (rc == 0 && l->n == 0) {
        errno = ENOENT;
        rc = wn_errprintf(err, "input '%s': no *.jsonl, *.jsonl.gz or *.jsonl.zst file", input);
    }
    if (rc < 0) {
        wn_jl_list_free(l);
        return -1;
    }
    qsort(l->files, l->n, sizeof(*l->files), cmp_path);
    return 0;
}

/* ------------------------------------------------------------ reading -- */

void wn_jl_reader_close(struct wn_jl_reader *r)
{
    if (r->gz)
        gzclose(r->gz);   /* closes fd */
    else if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->zd);
    free(r->zbuf);
    free(r->buf);
}

int wn_jl_reader_open(struct wn_jl_reader *r, const struct wn_jl_file *f, wn_error_t *err)
{
    memset(r, 0, sizeof(*r));
    r->file = f;
    r->zret = 1;   /* an empty zstd file holds no frame: truncated */
    if ((r->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
        return wn_errprintf(err, "%s: %s", f->path, strerror(errno));
    if (!(r->buf = malloc(JL_CHUNK)))
        return wn_errprintf(err, "out of memory");
    r->cap = JL_CHUNK;
    errno = EINVAL;
    if (f->comp == WN_JL_GZIP) {
        if (!(r->gz = gzdopen(r->fd, "rb")))
            return wn_errprintf(err, "out of memory");
        gzbuffer(r->gz, 1u << 17);
        /* zlib would pass data that is not gzip through unchanged; a file
         * named .gz that is not gzip is a broken file, not plain text. */
        if (gzdirect(r->gz))
            return wn_errprintf(err, "%s: not gzip data", f->path);
    } else if (f->comp == WN_JL_ZSTD) {
        r->zbuf_cap = ZSTD_DStreamInSize();
        if (!(r->zd = ZSTD_createDCtx()) || !(r->zbuf = malloc(r->zbuf_cap)))
            return wn_errprintf(err, "out of memory");
    }
    return 0;
}

/* Decompresses (or reads) into buf[len..cap): the bytes added, 0 at the
 * end of the file, -1 on error. */
static ssize_t reader_fill(struct wn_jl_reader *r, wn_error_t *err)
{
    const char *path = r->file->path;
    char *dst = r->buf + r->len;
    size_t room = r->cap - r->len;
    errno = EIO;
    if (r->gz) {
        int n = gzread(r->gz, dst, room > INT_MAX ? INT_MAX : (unsigned)room);
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        if (n < 0 || (n == 0 && zerr != Z_OK))
            return wn_errprintf(err, "%s: gzip: %s", path,
                                zerr == Z_ERRNO ? strerror(errno)
                                : zerr == Z_BUF_ERROR ? "truncated data" : msg);
        return n;
    }
    if (!r->zd) {
        ssize_t n = read(r->fd, dst, room > (1u << 30) ? (1u << 30) : room);
        if (n < 0)
            return wn_errprintf(err, "%s: %s", path, strerror(errno));
        return n;
    }
    ZSTD_outBuffer out = {dst, room, 0};
    while (out.pos == 0) {
        if (r->zin.pos == r->zin.size) {
            ssize_t n = read(r->fd, r->zbuf, r->zbuf_cap);
            if (n < 0)
                return wn_errprintf(err, "%s: %s", path, strerror(errno));
            if (n == 0) {
                if (r->zret != 0)
                    return wn_errprintf(err, "%s: zstd: truncated or empty data", path);
                return 0;
            }
            r->zin = (ZSTD_inBuffer){r->zbuf, (size_t)n, 0};
        }
        size_t rc = ZSTD_decompressStream(r->zd, &out, &r->zin);
        if (ZSTD_isError(rc))
            return wn_errprintf(err, "%s: zstd: %s", path, ZSTD_getErrorName(rc));
        r->zret = rc;
    }
    return (ssize_t)out.pos;
}

int wn_jl_reader_line(struct wn_jl_reader *r, const char **line, size_t *n, wn_error_t *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->len - r->scan);
        if (nl || (r->eof && r->pos < r->len)) {
            size_t end = nl ? (size_t)(nl - r->buf) : r->len;
            *line = r->buf + r->pos;
            *n = end - r->pos;
            r->pos = r->scan = nl ? end + 1 : end;
            if (r->line == WN_JL_MAX_LINE) {
                errno = EFBIG;
                return wn_errprintf(err, "%s: more than %" PRIu64 " lines", r->file->path,
                                    WN_JL_MAX_LINE);
            }
            r->line++;
            return 1;
        }
        r->scan = r->len;
        if (r->eof)
            return 0;
        /* Keep the partial line at the front and make room after it. */
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->scan -= r->pos;
            r->pos = 0;
        }
        if (r->len == r->cap) {
            char *b = r->cap <= SIZE_MAX / 2 ? realloc(r->buf, 2 * r->cap) : NULL;
            if (!b)
                return wn_errprintf(err, "%s: line %" PRIu64 ": out of memory (line over %zu "
                                    "bytes)", r->file->path, r->line + 1, r->len);
            r->buf = b;
            r->cap *= 2;
        }
        ssize_t got = reader_fill(r, err);
        if (got < 0)
            return -1;
        r->len += (size_t)got;
        r->eof = got == 0;
    }
}

/* ------------------------------------------------------------ layout -- */

const char *wn_jl_relpath(const char *input, const char *path)
{
    size_t n = strlen(input);
    const char *wild = strpbrk(input, "*?[");
    struct stat sb;
    if (wild) {
        /* The directory part before the first wildcard. */
        n = (size_t)(wild - input);
        while (n > 0 && input[n - 1] != '/')
            n--;
    } else if (stat(input, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        while (n > 1 && input[n - 1] == '/')
            n--;
        if (!strncmp(path, input, n) && path[n] == '/')
            return path + n + 1;
        n = 0;
    } else
        n = 0;
    if (n > 0 && !strncmp(path, input, n))
        return path + n;
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ------------------------------------------------------------ writing -- */

int wn_jl_mkdirs_for(const char *path, wn_error_t *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    int rc = dir ? wn_mkdir_p(dir, err) : wn_errprintf(err, "out of memory");
    free(dir);
    return rc;
}

int wn_jl_writer_open(struct wn_jl_writer *w, const char *path, wn_error_t *err)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    w->comp = wn_jl_comp_of(path);
    /* A fixed temporary name: a run killed while writing leaves one that
     * the same command's next run truncates and renames in place. */
    if (!(w->path = strdup(path)) || asprintf(&w->tmp, "%s.winnow-tmp", path) < 0) {
        w->tmp = NULL;
        return wn_errprintf(err, "out of memory");
    }
    if (wn_jl_mkdirs_for(path, err) < 0)
        return -1;
    if ((w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
        int e = errno;
        free(w->tmp);
        w->tmp = NULL;
        errno = e;
        return wn_errprintf(err, "%s: %s", path, strerror(errno));
    }
    if (w->comp == WN_JL_GZIP) {
        int fd2 = dup(w->fd);
        if (fd2 < 0 || !(w->gz = gzdopen(fd2, "wb6"))) {
            if (fd2 >= 0)
                close(fd2);
            return wn_errprintf(err, "%s: cannot start gzip", path);
        }
        gzbuffer(w->gz, 1u << 17);
    } else if (w->comp == WN_JL_ZSTD) {
        w->zcap = ZSTD_CStreamOutSize();
        if (!(w->zc = ZSTD_createCCtx()) || !(w->zbuf = malloc(w->zcap)))
            return wn_errprintf(err, "out of memory");
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, 3);
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
    }
    return 0;
}

static int write_all(struct wn_jl_writer *w, const void *data, size_t n, wn_error_t *err)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = write(w->fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return wn_errprintf(err, "%s: %s", w->path, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int zstd_push(struct wn_jl_writer *w, const void *data, size_t n, ZSTD_EndDirective end,
                     wn_error_t *err)
{
    ZSTD_inBuffer in = {data, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zbuf, w->zcap, 0};
        size_t left = ZSTD_compressStream2(w->zc, &out, &in, end);
        if (ZSTD_isError(left)) {
            errno = EIO;
            return wn_errprintf(err, "%s: zstd: %s", w->path, ZSTD_getErrorName(left));
        }
        if (out.pos && write_all(w, w->zbuf, out.pos, err) < 0)
            return -1;
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

int wn_jl_writer_write(struct wn_jl_writer *w, const void *data, size_t n, wn_error_t *err)
{
    w->bytes += n;
    if (w->comp == WN_JL_GZIP) {
        const char *p = data;
        while (n > 0) {
            unsigned k = n > (1u << 30) ? (1u << 30) : (unsigned)n;
            if (gzwrite(w->gz, p, k) != (int)k) {
                int zerr;
                errno = EIO;
                return wn_errprintf(err, "%s: gzip: %s", w->path, gzerror(w->gz, &zerr));
            }
            p += k;
            n -= k;
        }
        return 0;
    }
    if (w->comp == WN_JL_ZSTD)
        return zstd_push(w, data, n, ZSTD_e_continue, err);
    return write_all(w, data, n, err);
}

int wn_jl_writer_commit(struct wn_jl_writer *w, wn_error_t *err)
{
    int rc = 0;
    if (w->gz) {
        int zrc = gzclose(w->gz);   /* closes the dup'd descriptor */
        w->gz = NULL;
        if (zrc != Z_OK) {
            errno = EIO;
            rc = wn_errprintf(err, "%s: gzip: cannot finish the file", w->path);
        }
    } else if (w->zc)
        rc = zstd_push(w, "", 0, ZSTD_e_end, err);
    if (rc == 0 && fsync(w->fd) < 0)
        rc = wn_errprintf(err, "%s: fsync: %s", w->path, strerror(errno));
    if (close(w->fd) < 0 && rc == 0)
        rc = wn_errprintf(err, "%s: %s", w->path, strerror(errno));
    w->fd = -1;
    if (rc == 0 && rename(w->tmp, w->path) < 0)
        rc = wn_errprintf(err, "%s: %s", w->path, strerror(errno));
    if (rc == 0) {
        free(w->tmp);
        w->tmp = NULL;   /* in place: nothing for abort to remove */
    }
    wn_jl_writer_abort(w);
    return rc;
}

void wn_jl_writer_abort(struct wn_jl_writer *w)
{
    if (w->gz)
        gzclose(w->gz);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w->tmp);
    free(w->path);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}
