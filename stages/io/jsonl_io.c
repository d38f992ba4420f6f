/* jsonl_io.c - JSON Lines input listing, reading and atomic writing for
 * the document stages (see jsonl_io.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "winnow/file.h"

#include "io/jsonl_io.h"

#define JL_CHUNK (1u << 20) /* first buffer size, bytes */

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

void wn_jl_list_free(struct wn_jl_list *l)
{
    free(l->files);
    memset(l, 0, sizeof(*l));
}

int wn_jl_list_inputs(struct wn_stage *st, const char *input, struct wn_jl_list *l, wn_error_t *err)
{
    static const char *const suffixes[] = {".jsonl", ".jsonl.gz", ".jsonl.zst", NULL};
    size_t n = 0;
    memset(l, 0, sizeof(*l));
    if (wn_stage_list_inputs(st, input, suffixes, &n, err) < 0)
        return -1;
    if ((uint64_t)n > WN_JL_MAX_FILES) {
        errno = EFBIG;
        return wn_errprintf(err,
                            "input '%s': %zu files, more than the %" PRIu64 " a document "
                            "id can number",
                            input, n, WN_JL_MAX_FILES);
    }
    if (!(l->files = calloc(n, sizeof(*l->files))))
        return wn_errprintf(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct wn_input_file *f = wn_stage_input_file(st, i);
        l->files[i].path = f->path;
        l->files[i].size = f->size;
        l->files[i].comp = wn_jl_comp_of(f->path);
        l->files[i].index = i;
        l->files[i].stage = st;
    }
    l->n = n;
    return 0;
}

/* ------------------------------------------------------- member scan -- */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* Past the string opening at s[i], or 0 when it does not close. */
static size_t string_end(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++)
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    return 0;
}

/* Past the value starting at s[i], or 0.  Containers are skipped by
 * counting brackets, not by recursion: a line nested a million deep costs
 * no stack. */
static size_t value_end(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return string_end(s, i, n);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                size_t e = string_end(s, i, n);
                if (!e)
                    return 0;
                i = e - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                depth++;
            } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return 0;
    }
    size_t j = i;
    while (j < n && !strchr(",}] \t\r\n", s[j]))
        j++;
    return j > i ? j : 0;
}

/* Whether the key written at s[a, b) (quotes included) is key. */
static int key_is(const char *s, size_t a, size_t b, const char *key, size_t klen)
{
    if (!memchr(s + a, '\\', b - a))
        return b - a - 2 == klen && !memcmp(s + a + 1, key, klen);
    json_t *k = json_loadb(s + a, b - a, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int same = json_is_string(k) && json_string_length(k) == klen &&
               !memcmp(json_string_value(k), key, klen);
    json_decref(k);
    return same;
}

int wn_jl_member(const char *s, size_t n, const char *key, const char **val, size_t *len)
{
    size_t i = skip_ws(s, 0, n), klen = strlen(key);
    int found = 0;
    if (i >= n || s[i] != '{')
        return 0;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}')
        return 0;
    for (;;) {
        if (i >= n || s[i] != '"')
            return 0;
        size_t kend = string_end(s, i, n);
        if (!kend)
            return 0;
        size_t v = skip_ws(s, kend, n);
        if (v >= n || s[v] != ':')
            return 0;
        v = skip_ws(s, v + 1, n);
        size_t vend = value_end(s, v, n);
        if (!vend)
            return 0;
        if (key_is(s, i, kend, key, klen)) {
            *val = s + v;
            *len = vend - v;
            found = 1;
        }
        i = skip_ws(s, vend, n);
        if (i < n && s[i] == '}')
            return found;
        if (i >= n || s[i] != ',')
            return 0;
        i = skip_ws(s, i + 1, n);
    }
}

/* ------------------------------------------------------------ reading -- */

void wn_jl_reader_close(struct wn_jl_reader *r)
{
    if (r->gz)
        gzclose(r->gz); /* closes fd */
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
    r->zret = 1; /* an empty zstd file holds no frame: truncated */
    if ((r->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
        return wn_errprintf(err, "%s: %s", f->path, strerror(errno));
    /* Ids hold line numbers: a file changed since the run listed it would
     * number its lines otherwise than the batches read before. */
    if (f->stage && wn_stage_check_input(f->stage, f->index, r->fd, err) < 0)
        return -1;
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
                                zerr == Z_ERRNO       ? strerror(errno)
                                : zerr == Z_BUF_ERROR ? "truncated data"
                                                      : msg);
        return n;
    }
    if (!r->zd) {
        if (room > (1u << 30))
            room = 1u << 30;
        if (r->ranged && room > r->left)
            room = (size_t)r->left;
        ssize_t n = room ? read(r->fd, dst, room) : 0;
        if (n < 0)
            return wn_errprintf(err, "%s: %s", path, strerror(errno));
        r->left -= r->ranged ? (uint64_t)n : 0;
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
                return wn_errprintf(err,
                                    "%s: line %" PRIu64 ": out of memory (line over %zu "
                                    "bytes)",
                                    r->file->path, r->line + 1, r->len);
            r->buf = b;
            r->cap *= 2;
        }
        ssize_t got = reader_fill(r, err);
        if (got < 0)
            return -1;
        r->len += (size_t)got;
        r->eof = got == 0;
        if (r->eof && r->file->stage &&
            wn_stage_check_input(r->file->stage, r->file->index, r->fd, err) < 0)
            return -1; /* changed while it was read */
    }
}

int wn_jl_reader_open_range(struct wn_jl_reader *r, const struct wn_jl_file *f,
                            const struct wn_jl_range *rg, wn_error_t *err)
{
    if (wn_jl_reader_open(r, f, err) < 0)
        return -1;
    errno = EINVAL;
    if (f->comp != WN_JL_PLAIN || rg->line == 0)
        return wn_errprintf(err, "%s: a range of a compressed file, or of line 0", f->path);
    if (rg->off > 0 && lseek(r->fd, (off_t)rg->off, SEEK_SET) < 0)
        return wn_errprintf(err, "%s: seek to byte %" PRIu64 ": %s", f->path, rg->off,
                            strerror(errno));
    r->ranged = 1;
    r->left = rg->len;
    r->line = rg->line - 1;
    return 0;
}

/* ------------------------------------------------------------ ranges -- */

static int push_range(struct wn_jl_range **v, size_t *n, size_t *cap, uint64_t off, uint64_t len,
                      uint64_t line, wn_error_t *err)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        struct wn_jl_range *t = realloc(*v, c * sizeof(**v));
        if (!t)
            return wn_errprintf(err, "out of memory");
        *v = t;
        *cap = c;
    }
    (*v)[(*n)++] = (struct wn_jl_range){off, len, line};
    return 0;
}

int wn_jl_cut(const struct wn_jl_file *f, uint64_t blocksize, struct wn_jl_range **ranges,
              size_t *n, wn_error_t *err)
{
    struct wn_jl_range *v = NULL;
    size_t nv = 0, cap = 0;
    uint64_t start = 0, start_line = 1, lines = 0, pos = 0;
    int rc = 0;
    char *buf = malloc(JL_CHUNK);
    int fd = buf ? open(f->path, O_RDONLY | O_CLOEXEC) : -1;
    if (!buf)
        rc = wn_errprintf(err, "out of memory");
    else if (fd < 0)
        rc = wn_errprintf(err, "%s: %s", f->path, strerror(errno));
    else if (f->stage)
        rc = wn_stage_check_input(f->stage, f->index, fd, err);
    if (blocksize == 0)
        blocksize = 1;
    for (ssize_t got = 1; rc == 0 && got > 0;) {
        if ((got = read(fd, buf, JL_CHUNK)) < 0) {
            rc = wn_errprintf(err, "%s: %s", f->path, strerror(errno));
            break;
        }
        for (const char *p = buf, *end = buf + got, *nl; (nl = memchr(p, '\n', (size_t)(end - p)));
             p = nl + 1) {
            uint64_t after = pos + (uint64_t)(nl + 1 - buf);
            lines++;
            if (after - start >= blocksize) {
                if ((rc = push_range(&v, &nv, &cap, start, after - start, start_line, err)) < 0)
                    break;
                start = after;
                start_line = lines + 1;
            }
        }
        pos += (uint64_t)got;
    }
    if (rc == 0 && (start < pos || nv == 0))
        rc = push_range(&v, &nv, &cap, start, pos - start, start_line, err);
    /* The ranges hold the bytes read now: the file must be the one listed. */
    if (rc == 0 && f->stage)
        rc = wn_stage_check_input(f->stage, f->index, fd, err);
    if (fd >= 0)
        close(fd);
    free(buf);
    if (rc < 0) {
        free(v);
        return -1;
    }
    *ranges = v;
    *n = nv;
    return 0;
}

/* ---------------------------------------------------------- text size -- */

uint64_t wn_jl_text_size(const struct wn_jl_file *f)
{
    uint64_t size = f->size, est = size * WN_JL_RATIO;
    if (f->comp == WN_JL_PLAIN)
        return size;
    if (size > UINT64_MAX / WN_JL_RATIO)
        est = UINT64_MAX;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return est; /* the reader names the error */
    unsigned char head[1u << 16];
    if (f->comp == WN_JL_GZIP && size >= 18) {
        unsigned char t[4];
        if (pread(fd, t, 4, (off_t)(size - 4)) == 4) {
            uint64_t isize =
                (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 | (uint64_t)t[3] << 24;
            while (isize < size && isize <= UINT64_MAX - (UINT64_C(1) << 32))
                isize += UINT64_C(1) << 32;
            est = isize;
        }
    } else if (f->comp == WN_JL_ZSTD) {
        ssize_t got = pread(fd, head, sizeof(head), 0);
        unsigned long long fcs =
            got > 0 ? ZSTD_getFrameContentSize(head, (size_t)got) : ZSTD_CONTENTSIZE_ERROR;
        if (fcs != ZSTD_CONTENTSIZE_ERROR && fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
            /* Several frames: the first's ratio stands for the file's. */
            size_t c = ZSTD_findFrameCompressedSize(head, (size_t)got);
            long double e = (long double)fcs;
            if (!ZSTD_isError(c) && c > 0 && c < size)
                e = e * (long double)size / (long double)c;
            est = e >= (long double)UINT64_MAX ? UINT64_MAX : (uint64_t)e;
        }
    }
    close(fd);
    return est;
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

int wn_jl_writer_open(struct wn_jl_writer *w, const char *path, wn_error_t *err)
{
    memset(w, 0, sizeof(*w));
    w->comp = wn_jl_comp_of(path);
    if (!(w->path = strdup(path)))
        return wn_errprintf(err, "out of memory");
    /* A fixed temporary name: a run killed while writing leaves one that
     * the same command's next run truncates and renames in place. */
    if (wn_mkdir_parent(path, err) < 0 ||
        !(w->file = wn_afile_open(path, WN_AFILE_FIXED_TMP, 0666, err)))
        return -1;
    if (w->comp == WN_JL_GZIP) {
        int fd2 = dup(wn_afile_fd(w->file));
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
        if (out.pos && wn_afile_write(w->file, w->zbuf, out.pos, err) < 0)
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
    return wn_afile_write(w->file, data, n, err);
}

int wn_jl_writer_commit(struct wn_jl_writer *w, wn_error_t *err)
{
    int rc = 0;
    if (w->gz) {
        int zrc = gzclose(w->gz); /* closes the dup'd descriptor */
        w->gz = NULL;
        if (zrc != Z_OK) {
            errno = EIO;
            rc = wn_errprintf(err, "%s: gzip: cannot finish the file", w->path);
        }
    } else if (w->zc)
        rc = zstd_push(w, "", 0, ZSTD_e_end, err);
    if (rc == 0) {
        rc = wn_afile_commit(w->file, err);
        w->file = NULL; /* in place, or removed: nothing for abort to do */
    }
    wn_jl_writer_abort(w);
    return rc;
}

void wn_jl_writer_abort(struct wn_jl_writer *w)
{
    if (w->gz)
        gzclose(w->gz);
    wn_afile_abort(w->file);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w->path);
    memset(w, 0, sizeof(*w));
}
