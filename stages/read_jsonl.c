/* read_jsonl.c - the `read_jsonl` stage: a source of documents read from
 * JSON Lines files, plain, gzip or zstd (NeMo Curator's JsonlReader, made
 * deterministic: the same files give the same tasks, rows and ids).
 *
 *   files     `input` is a directory, a glob pattern or one file.  A
 *             directory is searched recursively for *.jsonl, *.jsonl.gz and
 *             *.jsonl.zst; symbolic links to files are followed, links to
 *             directories are not (so a link loop cannot trap the walk).
 *             A pattern (a `*`, `?` or `[` in input) takes every regular
 *             file it matches, whatever its name, and so does a file named
 *             directly.  The name's ending picks the decompression: .gz
 *             gzip, .zst zstd, anything else none.  The rejects file is
 *             never taken as input.  The list is sorted by path, bytewise
 *             (so the locale cannot change it), and a file's index is its
 *             place in it.  The list is made when the seed task is
 *             processed, on the one actor that runs it, not at init (which
 *             runs on every rank, possibly before the files exist): an
 *             input matching no file fails process_batch, naming it.
 *   tasks     the files are grouped greedily, in list order: a file joins
 *             the current group unless that would take the group's size on
 *             disk (compressed, for compressed files) past `blocksize`; a
 *             larger file is a group by itself, as a file never splits.
 *             Each group is one output task, even one without a good line
 *             (its batch has the columns and no rows), so task positions
 *             depend on the files only.  Every input task (the runner gives
 *             a source one seed) yields all the groups.
 *   lines     split at '\n'; a last line without one counts too.  Lines
 *             are numbered from 1, every line counted, skipped ones too.
 *             A line of JSON whitespace only (space, tab, CR) is skipped
 *             silently: blank lines are common between records and are
 *             no error.  Lines of any length are read (the buffer grows).
 *   columns   text_field (str): the field's string value;
 *             id_field (str, only when set): that field's value, a string
 *             as it is, a number as its text (integers in decimal, others
 *             in the shortest form that reads back to the same double);
 *             _curator_dedup_id (u64): file index << 40 | line number;
 *             _file (u32) and _line (u64): the same two numbers;
 *             _raw (str): the line's bytes exactly as read, without its
 *             '\n' (a CR before it stays), for writers that copy kept lines
 *             byte for byte.
 *   rejects   a line that is not valid UTF-8, not JSON, not a JSON object,
 *             lacks text_field (or id_field, when set) or has a text that is
 *             not a string (an id that is not a string or a number) is not
 *             emitted: it is counted into its task's metadata "rejected" and
 *             appended to the `rejects` file as one JSON line
 *             {"file": PATH, "line": N, "error": REASON}.  The file is opened
 *             with O_APPEND and each record is one write(), so actors sharing
 *             it never interleave; the records are written once all the files
 *             of the call are read and only if the call succeeds, so a failed
 *             call, which the runner retries, leaves none behind to repeat.
 *             `rejects` defaults to rejects.jsonl in the working directory (a
 *             relative path is taken from there); an empty one only counts
 *             them.  The file is created only when there is something to
 *             write.
 *   errors    a file that cannot be listed, opened, read or decompressed
 *             (not gzip / zstd data, truncated) fails process_batch, naming
 *             the file.
 *
 * JSON is parsed with jansson: duplicate keys keep the last value, \u0000 is
 * allowed in strings, and a line with an integer beyond 64 bits (in any
 * field) is parsed again with integers read as doubles rather than rejected.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builtin.h"

#define RJ_LINE_BITS 40                      /* of _curator_dedup_id */
#define RJ_MAX_LINE ((UINT64_C(1) << RJ_LINE_BITS) - 1)
#define RJ_MAX_FILES (UINT64_C(1) << (64 - RJ_LINE_BITS))
#define RJ_CHUNK (1u << 20)                  /* first buffer size, bytes */

struct read_jsonl {
    char *input, *text_field, *id_field, *rejects;   /* id_field NULL: none */
    long long blocksize;
};

enum rj_comp { COMP_NONE, COMP_GZIP, COMP_ZSTD };

struct rj_file {
    char *path;
    uint64_t size;
    enum rj_comp comp;
};

struct rj_list {
    struct rj_file *files;
    size_t n, cap;
    dev_t rej_dev;                           /* the rejects file, if it exists */
    ino_t rej_ino;
    int has_rej;
};

/* ------------------------------------------------------------ listing -- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static enum rj_comp comp_of(const char *path)
{
    return ends_with(path, ".gz") ? COMP_GZIP : ends_with(path, ".zst") ? COMP_ZSTD : COMP_NONE;
}

static int jsonl_name(const char *name)
{
    return ends_with(name, ".jsonl") || ends_with(name, ".jsonl.gz") ||
           ends_with(name, ".jsonl.zst");
}

/* Adds path (copied) unless it is the rejects file. */
static int list_add(struct rj_list *l, const char *path, const struct stat *sb, wn_error_t *err)
{
    if (l->has_rej && sb->st_dev == l->rej_dev && sb->st_ino == l->rej_ino)
        return 0;
    if (l->n == RJ_MAX_FILES) {
        errno = EFBIG;
        return wn_errprintf(err, "more than %" PRIu64 " input files", RJ_MAX_FILES);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct rj_file *f = realloc(l->files, cap * sizeof(*f));
        if (!f)
            return wn_errprintf(err, "out of memory");
        l->files = f;
        l->cap = cap;
    }
    struct rj_file *f = &l->files[l->n];
    if (!(f->path = strdup(path)))
        return wn_errprintf(err, "out of memory");
    f->size = (uint64_t)sb->st_size;
    f->comp = comp_of(path);
    l->n++;
    return 0;
}

static int list_dir(struct rj_list *l, const char *dir, wn_error_t *err)
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

static int list_glob(struct rj_list *l, const char *pattern, wn_error_t *err)
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
    return strcmp(((const struct rj_file *)a)->path, ((const struct rj_file *)b)->path);
}

static void list_free(struct rj_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].path);
    free(l->files);
}

/* The input files, sorted by path; at least one. */
static int list_files(const struct read_jsonl *rj, struct rj_list *l, wn_error_t *err)
{
    memset(l, 0, sizeof(*l));
    struct stat sb;
    if (*rj->rejects && stat(rj->rejects, &sb) == 0) {
        l->has_rej = 1;
        l->rej_dev = sb.st_dev;
        l->rej_ino = sb.st_ino;
    }
    int rc;
    if (strpbrk(rj->input, "*?["))
        rc = list_glob(l, rj->input, err);
    else if (stat(rj->input, &sb) < 0)
        rc = wn_errprintf(err, "%s: %s", rj->input, strerror(errno));
    else if (S_ISDIR(sb.st_mode)) {
        /* Without trailing slashes, so paths read dir/name, not dir//name. */
        size_t n = strlen(rj->input);
        while (n > 1 && rj->input[n - 1] == '/')
            n--;
        char *dir = strndup(rj->input, n);
        rc = dir ? list_dir(l, dir, err) : wn_errprintf(err, "out of memory");
        free(dir);
    } else
        rc = list_add(l, rj->input, &sb, err);
    if (rc == 0 && l->n == 0) {
        errno = ENOENT;
        rc = wn_errprintf(err, "input '%s': no *.jsonl, *.jsonl.gz or *.jsonl.zst file", rj->input);
    }
    if (rc < 0) {
        list_free(l);
        return -1;
    }
    qsort(l->files, l->n, sizeof(*l->files), cmp_path);
    return 0;
}

/* ------------------------------------------------------------ reading -- */

/* One open file, decompressed into buf: bytes [pos, len) are not returned
 * yet, and [pos, scan) of them are known to hold no '\n'. */
struct reader {
    const struct rj_file *file;
    int fd;                                  /* plain and zstd */
    gzFile gz;
    ZSTD_DCtx *zd;
    void *zbuf;                              /* compressed bytes read */
    size_t zbuf_cap;
    ZSTD_inBuffer zin;
    size_t zret;                             /* 0 only at the end of a frame */
    char *buf;
    size_t cap, pos, len, scan;
    int eof;
    uint64_t line;                           /* of the last line returned */
};

static void reader_close(struct reader *r)
{
    if (r->gz)
        gzclose(r->gz);   /* closes fd */
    else if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->zd);
    free(r->zbuf);
    free(r->buf);
}

static int reader_open(struct reader *r, const struct rj_file *f, wn_error_t *err)
{
    memset(r, 0, sizeof(*r));
    r->file = f;
    r->zret = 1;   /* an empty zstd file holds no frame: truncated */
    if ((r->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
        return wn_errprintf(err, "%s: %s", f->path, strerror(errno));
    if (!(r->buf = malloc(RJ_CHUNK)))
        return wn_errprintf(err, "out of memory");
    r->cap = RJ_CHUNK;
    errno = EINVAL;
    if (f->comp == COMP_GZIP) {
        if (!(r->gz = gzdopen(r->fd, "rb")))
            return wn_errprintf(err, "out of memory");
        gzbuffer(r->gz, 1u << 17);
        /* zlib would pass data that is not gzip through unchanged; a file
         * named .gz that is not gzip is a broken file, not plain text. */
        if (gzdirect(r->gz))
            return wn_errprintf(err, "%s: not gzip data", f->path);
    } else if (f->comp == COMP_ZSTD) {
        r->zbuf_cap = ZSTD_DStreamInSize();
        if (!(r->zd = ZSTD_createDCtx()) || !(r->zbuf = malloc(r->zbuf_cap)))
            return wn_errprintf(err, "out of memory");
    }
    return 0;
}

/* Decompresses (or reads) into buf[len..cap): the bytes added, 0 at the
 * end of the file, -1 on error. */
static ssize_t reader_fill(struct reader *r, wn_error_t *err)
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

/* The next line (without its '\n', valid until the next call) in *line and
 * *n: 1, or 0 at the end of the file, or -1 on error. */
static int reader_line(struct reader *r, const char **line, size_t *n, wn_error_t *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->len - r->scan);
        if (nl || (r->eof && r->pos < r->len)) {
            size_t end = nl ? (size_t)(nl - r->buf) : r->len;
            *line = r->buf + r->pos;
            *n = end - r->pos;
            r->pos = r->scan = nl ? end + 1 : end;
            if (r->line == RJ_MAX_LINE) {
                errno = EFBIG;
                return wn_errprintf(err, "%s: more than %" PRIu64 " lines", r->file->path,
                                    RJ_MAX_LINE);
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

/* ------------------------------------------------------------ parsing -- */

/* A copy of s with each byte that starts no valid UTF-8 sequence replaced
 * by U+FFFD: paths need not be UTF-8, a JSON string must be.  NULL when
 * out of memory. */
static char *utf8_clean(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = wn_utf8_len(u + i, n - i);
        if (k) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = 0;
    return out;
}

/* A JSON number as text: an integer in decimal, a double in the shortest
 * %g form that reads back as the same value. */
static void number_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The columns of one output task, in their order in the batch. */
struct rj_cols {
    struct wn_column *text, *id, *dedup, *file, *line, *raw;
};

static struct wn_batch *new_batch(const struct read_jsonl *rj, struct rj_cols *c, wn_error_t *err)
{
    struct wn_batch *b = wn_batch_create();
    if (!b) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    memset(c, 0, sizeof(*c));
    if (!(c->text = wn_batch_add_column(b, rj->text_field, WN_TYPE_STR, 0, err)) ||
        (rj->id_field && !(c->id = wn_batch_add_column(b, rj->id_field, WN_TYPE_STR, 0, err))) ||
        !(c->dedup = wn_batch_add_column(b, "_curator_dedup_id", WN_TYPE_U64, 1, err)) ||
        !(c->file = wn_batch_add_column(b, "_file", WN_TYPE_U32, 1, err)) ||
        !(c->line = wn_batch_add_column(b, "_line", WN_TYPE_U64, 1, err)) ||
        !(c->raw = wn_batch_add_column(b, "_raw", WN_TYPE_STR, 0, err))) {
        wn_batch_destroy(b);
        return NULL;
    }
    return b;
}

/* Reject records waiting to be written, each one JSON line. */
struct rj_rejects {
    char *buf;
    size_t len, cap;
};

static int reject(struct rj_rejects *rej, const char *path, uint64_t line, const char *why,
                  wn_error_t *err)
{
    char *p = utf8_clean(path), *w = utf8_clean(why);
    json_t *o = p && w ? json_pack("{s:s, s:I, s:s}", "file", p, "line", (json_int_t)line,
                                   "error", w)
                       : NULL;
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    size_t n = s ? strlen(s) : 0;
    int rc = 0;
    if (!s)
        rc = wn_errprintf(err, "out of memory");
    else if (rej->len + n + 1 > rej->cap) {
        size_t cap = 2 * rej->cap > rej->len + n + 1 ? 2 * rej->cap : rej->len + n + 1;
        char *b = realloc(rej->buf, cap);
        if (!b)
            rc = wn_errprintf(err, "out of memory");
        else {
            rej->buf = b;
            rej->cap = cap;
        }
    }
    if (rc == 0) {
        memcpy(rej->buf + rej->len, s, n);
        rej->buf[rej->len + n] = '\n';
        rej->len += n + 1;
    }
    free(s);
    json_decref(o);
    free(p);
    free(w);
    return rc;
}

/* Appends every record to the rejects file, one write() each. */
static int write_rejects(const struct read_jsonl *rj, const struct rj_rejects *rej,
                         wn_error_t *err)
{
    if (!rej->len || !*rj->rejects)
        return 0;
    int fd = open(rj->rejects, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
    int rc = 0;
    for (size_t pos = 0; pos < rej->len && rc == 0;) {
        size_t n = (size_t)((char *)memchr(rej->buf + pos, '\n', rej->len - pos) -
                            (rej->buf + pos)) + 1;
        ssize_t w = write(fd, rej->buf + pos, n);
        if (w != (ssize_t)n) {
            /* A short write to a regular file means the disk is full. */
            errno = w < 0 ? errno : ENOSPC;
            rc = wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
        }
        pos += n;
    }
    if (close(fd) < 0 && rc == 0)
        rc = wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
    return rc;
}

/* Line number lno of file fidx: appended to the columns, or counted and
 * recorded as a reject, or (blank) skipped. */
static int take_line(const struct read_jsonl *rj, const struct rj_file *f, uint64_t fidx,
                     uint64_t lno, const char *line, size_t n, struct rj_cols *c,
                     struct rj_rejects *rej, uint64_t *nrej, wn_error_t *err)
{
    if (blank(line, n))
        return 0;
    json_error_t jerr;
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *doc = json_loadb(line, n, flags, &jerr);
    if (!doc && json_error_code(&jerr) == json_error_numeric_overflow)
        doc = json_loadb(line, n, flags | JSON_DECODE_INT_AS_REAL, &jerr);
    char why[JSON_ERROR_TEXT_LENGTH + 128];
    const json_t *text = NULL, *id = NULL;
    if (!doc)
        snprintf(why, sizeof(why), "%s: %s (byte %d)",
                 json_error_code(&jerr) == json_error_invalid_utf8 ? "invalid UTF-8"
                                                                   : "invalid JSON",
                 jerr.text, jerr.position);
    else if (!json_is_object(doc))
        snprintf(why, sizeof(why), "not a JSON object but %s", json_kind(doc));
    else if (!(text = json_object_get(doc, rj->text_field)))
        snprintf(why, sizeof(why), "no field '%s'", rj->text_field);
    else if (!json_is_string(text))
        snprintf(why, sizeof(why), "field '%s' is %s, not a string", rj->text_field,
                 json_kind(text));
    else if (rj->id_field && !(id = json_object_get(doc, rj->id_field)))
        snprintf(why, sizeof(why), "no field '%s'", rj->id_field);
    else if (id && !json_is_string(id) && !json_is_number(id))
        snprintf(why, sizeof(why), "field '%s' is %s, not a string or a number",
                 rj->id_field, json_kind(id));
    else
        why[0] = 0;
    int rc = 0;
    if (why[0]) {
        (*nrej)++;
        rc = reject(rej, f->path, lno, why, err);
    } else {
        char num[64];
        const char *idv = num;
        size_t idlen = 0;
        if (id && json_is_string(id)) {
            idv = json_string_value(id);
            idlen = json_string_length(id);
        } else if (id) {
            number_text(id, num, sizeof(num));
            idlen = strlen(num);
        }
        if (wn_col_append_str(c->text, json_string_value(text), json_string_length(text),
                              err) < 0 ||
            (c->id && wn_col_append_str(c->id, idv, idlen, err) < 0) ||
            wn_col_append_u64(c->dedup, (fidx << RJ_LINE_BITS) | lno, err) < 0 ||
            wn_col_append_u64(c->file, fidx, err) < 0 ||
            wn_col_append_u64(c->line, lno, err) < 0 ||
            wn_col_append_str(c->raw, line, n, err) < 0)
            rc = wn_errprefix(err, "%s: line %" PRIu64, f->path, lno);
    }
    json_decref(doc);
    return rc;
}

static int read_file(const struct read_jsonl *rj, const struct rj_file *f, uint64_t fidx,
                     struct rj_cols *c, struct rj_rejects *rej, uint64_t *nrej,
                     wn_error_t *err)
{
    struct reader r;
    int rc = reader_open(&r, f, err);
    const char *line = NULL;
    size_t n = 0;
    while (rc == 0 && (rc = reader_line(&r, &line, &n, err)) == 1)
        rc = take_line(rj, f, fidx, r.line, line, n, c, rej, nrej, err);
    reader_close(&r);
    return rc;
}

/* --------------------------------------------------------------- stage -- */

/* Emits the task of files [first, end): their good lines, in order. */
static int emit_group(const struct read_jsonl *rj, const struct rj_list *l, size_t first,
                      size_t end, struct rj_rejects *rej, struct wn_task_list *out,
                      wn_error_t *err)
{
    struct rj_cols c;
    struct wn_batch *b = new_batch(rj, &c, err);
    if (!b)
        return -1;
    uint64_t nrej = 0;
    for (size_t i = first; i < end; i++)
        if (read_file(rj, &l->files[i], i, &c, rej, &nrej, err) < 0) {
            wn_batch_destroy(b);
            return -1;
        }
    char count[32];
    snprintf(count, sizeof(count), "%" PRIu64, nrej);
    if (wn_task_list_push_batch(out, b, err) < 0 ||
        wn_task_meta_set(out->tasks[out->n - 1], "rejected", count, err) < 0)
        return -1;
    return 0;
}

static int rj_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    const struct read_jsonl *rj = wn_stage_data(st);
    (void)in;
    struct rj_list l;
    if (n == 0)
        return 0;   /* no seed, nothing to read */
    if (list_files(rj, &l, err) < 0)
        return -1;
    struct rj_rejects rej = {0};
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s++) {
        size_t first = 0;
        uint64_t size = 0;
        for (size_t i = 0; i < l.n && rc == 0; i++) {
            if (i > first && size + l.files[i].size > (uint64_t)rj->blocksize) {
                rc = emit_group(rj, &l, first, i, &rej, out, err);
                first = i;
                size = 0;
            }
            size += l.files[i].size;
        }
        if (rc == 0)
            rc = emit_group(rj, &l, first, l.n, &rej, out, err);
    }
    if (rc == 0)
        rc = write_rejects(rj, &rej, err);
    free(rej.buf);
    list_free(&l);
    return rc;
}

static void rj_fini(struct wn_stage *st)
{
    struct read_jsonl *rj = wn_stage_data(st);
    if (rj) {
        free(rj->input);
        free(rj->text_field);
        free(rj->id_field);
        free(rj->rejects);
        free(rj);
    }
}

static int rj_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct read_jsonl *rj = calloc(1, sizeof(*rj));
    if (!rj)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, rj);
    if (wn_params_int(params, "blocksize", &rj->blocksize, err) < 0)
        return -1;
    const char *id = wn_params_str(params, "id_field");
    if (!(rj->input = strdup(wn_params_str(params, "input"))) ||
        !(rj->text_field = strdup(wn_params_str(params, "text_field"))) ||
        !(rj->rejects = strdup(wn_params_str(params, "rejects"))) ||
        (*id && !(rj->id_field = strdup(id))))
        return wn_errprintf(err, "out of memory");
    errno = EINVAL;
    if (!*rj->input)
        return wn_errprintf(err, "parameter 'input': empty");
    if (rj->blocksize < 1)
        return wn_errprintf(err, "parameter 'blocksize': %lld (at least 1 byte)",
                            rj->blocksize);
    /* Building the schema once now turns a bad or clashing column name
     * (text_field, id_field, the _ columns) into an error at start-up. */
    struct rj_cols c;
    struct wn_batch *b = new_batch(rj, &c, err);
    if (!b)
        return wn_errprefix(err, "parameters 'text_field', 'id_field'");
    wn_batch_destroy(b);
    return 0;
}

static const struct wn_param_spec read_jsonl_params[] = {
    {"input", WN_PARAM_STRING, NULL,
     "directory (searched recursively for *.jsonl, *.jsonl.gz, *.jsonl.zst), glob pattern "
     "or file"},
    {"blocksize", WN_PARAM_INT, "1073741824",
     "bytes of input files (on disk) per output task; a file never splits"},
    {"text_field", WN_PARAM_STRING, "text", "string field read into the str column of its name"},
    {"id_field", WN_PARAM_STRING, "",
     "field copied into a str column of its name (numbers as text); empty: none"},
    {"rejects", WN_PARAM_STRING, "rejects.jsonl",
     "file malformed lines are appended to as JSON lines (relative: to the working "
     "directory); empty: only count them"},
    WN_PARAM_END
};

const struct wn_stage_ops wn_stage_read_jsonl_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "read_jsonl",
    .flags = WN_STAGE_FANOUT,
    .help = "source: documents from JSON Lines files (plain, .gz, .zst), grouped by blocksize",
    .params = read_jsonl_params,
    .init = rj_init,
    .process_batch = rj_process,
    .fini = rj_fini,
};
