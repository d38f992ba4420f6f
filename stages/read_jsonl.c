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
 *             place in it.  The list is made at init (on every rank, so
 *             an input matching no file fails the run before any work,
 *             naming it) and kept: the files must not change during the
 *             run.
 *   tasks     the files are grouped greedily, in list order: a file joins
 *             the current group unless that would take the group's size on
 *             disk (compressed, for compressed files) past `blocksize`; a
 *             larger file is a group by itself, as a file never splits.
 *             Each group is one output task, even one without a good line
 *             (its batch has the columns and no rows), so task positions
 *             depend on the files only; its metadata "files" is "FIRST
 *             COUNT", the indices of its files (what write_jsonl writes).
 *             The stage asks the runner for one seed task per group
 *             (wn_stage_set_seeds), so the groups are read by as many
 *             actors at once; seed i yields group i, and an input task
 *             without "seed" metadata yields all the groups.
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
 *             with O_APPEND and a call's records are one write(), so actors
 *             sharing it never interleave; the records are written once all
 *             the files of the call are read and only if the call succeeds, so
 *             a failed call, which the runner retries, leaves none behind to
 *             repeat; and a call whose first record is in the file already (a
 *             batch run again on resume) writes none.
 *             When the run completes, rank 0 sorts the file by file and line
 *             (fini, sort_rejects), so that it does not depend on which actor
 *             read which files first.
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
#include "jsonl_io.h"
#include "log.h"
#include "stage_impl.h"

struct read_jsonl {
    char *input, *text_field, *id_field, *rejects;   /* id_field NULL: none */
    long long blocksize;
    struct wn_jl_list list;                  /* made at init */
    int listed;
    size_t ngroups;
    size_t *group_first;                     /* ngroups + 1 file indices */
};

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

/* The whole file open on fd (its size at the call; *len the bytes read),
 * or NULL with errno set. */
static char *read_whole(int fd, size_t *len)
{
    struct stat sb;
    char *buf = fstat(fd, &sb) == 0 ? malloc((size_t)sb.st_size + 1) : NULL;
    size_t got = 0;
    while (buf && got < (size_t)sb.st_size) {
        ssize_t k = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    *len = got;
    return buf;
}

/* 1 when the file open on fd already holds the line l (n bytes, with its
 * '\n') as a whole line, 0 when not, -1 on a read error. */
static int holds_line(int fd, const char *l, size_t n)
{
    size_t got;
    char *buf = read_whole(fd, &got);
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

/* Appends the call's records with one write(), so they land all or none
 * (a kill between two writes would leave part of them).  A batch that ran
 * before but was not journaled (a run killed after it, then resumed)
 * finds its first record already there and writes nothing again: records
 * are the same bytes every run. */
static int write_rejects(const struct read_jsonl *rj, const struct rj_rejects *rej,
                         wn_error_t *err)
{
    if (!rej->len || !*rj->rejects)
        return 0;
    if (wn_jl_mkdirs_for(rj->rejects, err) < 0)
        return wn_errprefix(err, "rejects file");
    int fd = open(rj->rejects, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
    size_t first = (size_t)((char *)memchr(rej->buf, '\n', rej->len) - rej->buf) + 1;
    int rc = 0, there = holds_line(fd, rej->buf, first);
    if (there < 0)
        rc = wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
    for (size_t pos = 0; rc == 0 && !there && pos < rej->len;) {
        ssize_t w = write(fd, rej->buf + pos, rej->len - pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* A short write to a regular file means the disk is full. */
            errno = w < 0 ? errno : ENOSPC;
            rc = wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
        } else
            pos += (size_t)w;
    }
    if (close(fd) < 0 && rc == 0)
        rc = wn_errprintf(err, "rejects file %s: %s", rj->rejects, strerror(errno));
    return rc;
}

/* Line number lno of file fidx: appended to the columns, or counted and
 * recorded as a reject, or (blank) skipped. */
static int take_line(const struct read_jsonl *rj, const struct wn_jl_file *f, uint64_t fidx,
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
            wn_col_append_u64(c->dedup, (fidx << WN_JL_LINE_BITS) | lno, err) < 0 ||
            wn_col_append_u64(c->file, fidx, err) < 0 ||
            wn_col_append_u64(c->line, lno, err) < 0 ||
            wn_col_append_str(c->raw, line, n, err) < 0)
            rc = wn_errprefix(err, "%s: line %" PRIu64, f->path, lno);
    }
    json_decref(doc);
    return rc;
}

static int read_file(const struct read_jsonl *rj, const struct wn_jl_file *f, uint64_t fidx,
                     struct rj_cols *c, struct rj_rejects *rej, uint64_t *nrej,
                     wn_error_t *err)
{
    struct wn_jl_reader r;
    int rc = wn_jl_reader_open(&r, f, err);
    const char *line = NULL;
    size_t n = 0;
    while (rc == 0 && (rc = wn_jl_reader_line(&r, &line, &n, err)) == 1)
        rc = take_line(rj, f, fidx, r.line, line, n, c, rej, nrej, err);
    wn_jl_reader_close(&r);
    return rc;
}

/* --------------------------------------------------------------- stage -- */

/* Emits the task of files [first, end): their good lines, in order. */
static int emit_group(const struct read_jsonl *rj, const struct wn_jl_list *l, size_t first,
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
    char count[32], files[48];
    snprintf(count, sizeof(count), "%" PRIu64, nrej);
    snprintf(files, sizeof(files), "%zu %zu", first, end - first);
    if (wn_task_list_push_batch(out, b, err) < 0 ||
        wn_task_meta_set(out->tasks[out->n - 1], "rejected", count, err) < 0 ||
        wn_task_meta_set(out->tasks[out->n - 1], "files", files, err) < 0)
        return -1;
    return 0;
}

static int rj_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    const struct read_jsonl *rj = wn_stage_data(st);
    struct rj_rejects rej = {0};
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s++) {
        const char *seed = wn_task_meta_get(in[s], "seed");
        size_t first = 0, end = rj->ngroups;
        if (seed) {
            char *e;
            unsigned long long g = strtoull(seed, &e, 10);
            if (*e || g >= rj->ngroups) {
                errno = EINVAL;
                rc = wn_errprintf(err, "seed task %zu: seed '%s' is not one of the %zu groups",
                                  s, seed, rj->ngroups);
                break;
            }
            first = (size_t)g;
            end = first + 1;
        }
        for (size_t g = first; g < end && rc == 0; g++)
            rc = emit_group(rj, &rj->list, rj->group_first[g], rj->group_first[g + 1], &rej,
                            out, err);
    }
    if (rc == 0)
        rc = write_rejects(rj, &rej, err);
    free(rej.buf);
    return rc;
}

/* A line of the rejects file and its sort key. */
struct rj_line {
    const char *at;
    size_t len;
    char *file;               /* NULL: not a reject record (sorts last) */
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

/* Sorts the rejects file by file and line, each line once, so that it
 * does not depend on which actor read which files first.  Run by rank 0's
 * fini after a run that completed, when every append is done: written to
 * a temporary file and renamed over the old one, so the file is whole at
 * every moment.  Returns 0 or -1 (errno set; ENOENT: no file); the
 * unsorted file is kept on failure. */
static int sort_rejects(const char *path)
{
    char *buf = NULL, *tmp = NULL;
    struct rj_line *v = NULL;
    size_t n = 0, cap = 0, len = 0;
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !(buf = read_whole(fd, &len)))
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
            sorted = 0;       /* a repeated line to drop */
        n++;
        pos += l + 1;
    }
    if (sorted && (len == 0 || buf[len - 1] == '\n')) {
        rc = 0;
        goto out;
    }
    qsort(v, n, sizeof(*v), cmp_rj_line);
    if (asprintf(&tmp, "%s.winnow-tmp.%ld", path, (long)getpid()) < 0) {
        tmp = NULL;
        goto out;
    }
    FILE *f = fopen(tmp, "we");
    if (!f)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i].len != v[i - 1].len || memcmp(v[i].at, v[i - 1].at, v[i].len)) {
            fwrite(v[i].at, 1, v[i].len, f);
            fputc('\n', f);
        }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        errno = e;
        goto out;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < n; i++)
        free(v[i].file);
    free(v);
    free(buf);
    free(tmp);
    return rc;
}

static void rj_fini(struct wn_stage *st)
{
    struct read_jsonl *rj = wn_stage_data(st);
    if (rj && st->run_completed && *rj->rejects && sort_rejects(rj->rejects) < 0 &&
        errno != ENOENT)
        wn_warn("read_jsonl: could not sort the rejects file %s (%s); its lines stay in "
                "the order they were written", rj->rejects, strerror(errno));
    if (rj) {
        free(rj->input);
        free(rj->text_field);
        free(rj->id_field);
        free(rj->rejects);
        free(rj->group_first);
        if (rj->listed)
            wn_jl_list_free(&rj->list);
        free(rj);
    }
}

static int rj_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct read_jsonl *rj = calloc(1, sizeof(*rj));
    if (!rj)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, rj);
    if (wn_params_int_range(params, "blocksize", 1, LLONG_MAX, &rj->blocksize, err) < 0)
        return -1;
    const char *id = wn_params_str(params, "id_field");
    if (!(rj->input = strdup(wn_params_str(params, "input"))) ||
        !(rj->text_field = strdup(wn_params_str(params, "text_field"))) ||
        !(rj->rejects = strdup(wn_params_str(params, "rejects"))) ||
        (*id && !(rj->id_field = strdup(id))))
        return wn_errprintf(err, "out of memory");
    if (!*rj->input)
        return wn_params_refuse(params, "input", err, "empty");
    /* Building the schema once now turns a bad or clashing column name
     * (text_field, id_field, the _ columns) into an error at start-up. */
    struct rj_cols c;
    struct wn_batch *b = new_batch(rj, &c, err);
    if (!b)
        return wn_errprefix(err, "parameters 'text_field', 'id_field'");
    wn_batch_destroy(b);
    /* The files, and their groups: a seed task per group. */
    if (wn_jl_list_files(rj->input, rj->rejects, &rj->list, err) < 0)
        return wn_errprefix(err, "parameter 'input'");
    rj->listed = 1;
    if (!(rj->group_first = malloc((rj->list.n + 1) * sizeof(*rj->group_first))))
        return wn_errprintf(err, "out of memory");
    uint64_t size = 0;
    rj->group_first[0] = 0;
    rj->ngroups = 0;
    for (size_t i = 0; i < rj->list.n; i++) {
        if (i > rj->group_first[rj->ngroups] && size + rj->list.files[i].size >
                                                     (uint64_t)rj->blocksize) {
            rj->group_first[++rj->ngroups] = i;
            size = 0;
        }
        size += rj->list.files[i].size;
    }
    rj->group_first[++rj->ngroups] = rj->list.n;
    return wn_stage_set_seeds(st, rj->ngroups, err);
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
