/* test_read_jsonl.c - the read_jsonl stage (stages/io/read_jsonl.c) through
 * its ops table, on corpora made here from the paragraphs of the license
 * texts in /usr/share/common-licenses (encoded with jansson, compressed with
 * zlib and zstd): every good line read once with its text, ids and raw
 * bytes, file order, blocksize grouping, gzip and zstd equal to plain,
 * rejects, id_field values, a 100 MB line, the errors, and a file changed
 * after it was listed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "config/config.h"
#include "stage/rejects.h"
#include "stage/stage_impl.h"
#include "builtin.h"
#include "tap.h"
#include "stage_test.h"
#include "winnow/task.h"

#define LICENSES "/usr/share/common-licenses/"

static char tmp[4096];

/* snprintf into an array, where a cut-off name would be a wrong test. */
#define FMT(buf, ...)                                                       \
    do {                                                                    \
        if ((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) >= sizeof(buf)) \
            BAIL_OUT("%s: too long", #buf);                                 \
    } while (0)

/* ------------------------------------------------------------ corpus -- */

static char **paras; /* license paragraphs, valid UTF-8 */
static size_t nparas;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 > cap) {
            cap = 2 * cap + 4096;
            if (!(buf = realloc(buf, cap)))
                BAIL_OUT("out of memory");
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Paragraphs (split at blank lines) of some license texts. */
static void load_paras(void)
{
    static const char *names[] = {"GPL-3",    "Apache-2.0", "MPL-2.0", "LGPL-2.1",
                                  "Artistic", "GFDL-1.3",   "BSD"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256];
        size_t len;
        FMT(path, LICENSES "%s", names[i]);
        char *text = slurp(path, &len);
        if (!text)
            continue;
        for (char *p = text, *end; *p; p = end) {
            end = strstr(p, "\n\n");
            end = end ? end : p + strlen(p);
            while (p < end && (*p == '\n' || *p == ' '))
                p++;
            if (end - p > 2) {
                if (!(paras = realloc(paras, (nparas + 1) * sizeof(*paras))) ||
                    !(paras[nparas++] = strndup(p, (size_t)(end - p))))
                    BAIL_OUT("out of memory");
            }
            while (*end == '\n')
                end++;
        }
        free(text);
    }
    if (nparas < 200)
        skip_all("too few license paragraphs in " LICENSES);
}

/* A JSON line {"id": id, "text": text} (id a string, or a number when
 * numeric), compact, without '\n'; malloc'd. */
static char *json_line(const char *text, size_t len, const char *id, long long num)
{
    json_t *o = json_object();
    json_t *t = json_stringn(text, len);
    if (!o || !t || json_object_set_new(o, "text", t) < 0 ||
        json_object_set_new(o, "id", id ? json_string(id) : json_integer(num)) < 0)
        BAIL_OUT("encoding a line");
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(o);
    if (!s)
        BAIL_OUT("encoding a line");
    return s;
}

enum comp { PLAIN, GZ, ZST };

/* Writes data to path: gzip as two members, zstd as two frames (split in
 * mid-line), so the readers must cross member and frame boundaries. */
static void write_file(const char *path, const char *data, size_t len, enum comp c)
{
    size_t half = len / 2;
    if (c == GZ) {
        gzFile g = gzopen(path, "wb");
        if (!g || gzwrite(g, data, (unsigned)half) != (int)half || gzclose(g) != Z_OK ||
            !(g = gzopen(path, "ab")) ||
            gzwrite(g, data + half, (unsigned)(len - half)) != (int)(len - half) ||
            gzclose(g) != Z_OK)
            BAIL_OUT("writing %s", path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        BAIL_OUT("%s: %s", path, strerror(errno));
    if (c == ZST) {
        size_t cap = ZSTD_compressBound(len) + 64;
        char *z = malloc(cap);
        size_t a = z ? ZSTD_compress(z, cap, data, half, 1) : 1, b = 0;
        if (!z || ZSTD_isError(a) ||
            ZSTD_isError(b = ZSTD_compress(z + a, cap - a, data + half, len - half, 1)))
            BAIL_OUT("zstd");
        fwrite(z, 1, a + b, f);
        free(z);
    } else
        fwrite(data, 1, len, f);
    if (fclose(f) != 0)
        BAIL_OUT("%s: write failed", path);
}

static void mkdirs(const char *fmt, const char *sub)
{
    char path[4096];
    FMT(path, fmt, tmp, sub);
    for (char *p = path + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
}

/* A file being written and the rows expected from it. */
struct exp_row {
    int file;
    uint64_t line;
    char *text, *raw, *id;
    size_t tlen, rlen;
};

static struct exp_row exp_rows[8192];
static size_t nexp;

struct fbuf {
    char *p;
    size_t len, cap;
    uint64_t line; /* lines written */
};

static void fb_add(struct fbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = 2 * (b->len + n + 1);
        if (!(b->p = realloc(b->p, b->cap)))
            BAIL_OUT("out of memory");
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Appends a line (term: "\n", "\r\n" or "" for a last line without one),
 * expected as a row of file index fidx when text is not NULL. */
static void fb_line(struct fbuf *b, const char *line, const char *term, int fidx, const char *text,
                    const char *id)
{
    fb_add(b, line, strlen(line));
    fb_add(b, term, strlen(term));
    b->line++;
    if (!text)
        return;
    if (nexp == sizeof(exp_rows) / sizeof(exp_rows[0]))
        BAIL_OUT("too many rows");
    struct exp_row *e = &exp_rows[nexp++];
    e->file = fidx;
    e->line = b->line;
    e->text = strdup(text);
    e->tlen = strlen(text);
    e->rlen = strlen(line) + (!strcmp(term, "\r\n"));
    e->raw = strndup(b->p + b->len - strlen(term) - strlen(line), e->rlen);
    e->id = id ? strdup(id) : NULL;
}

/* Makes the stage from params and runs it on one seed: 0 with the outputs
 * in out, or -1 with err filled. */
/* Where rj_read puts the rejects, as the runner does after a batch
 * (rejects.h); "" for nowhere. */
static char rej_path[4096];
static char *rej_summary; /* the last read's summary, NULL: none */

static int rj_read(const char *params, struct wn_task_list *out, wn_error_t *err)
{
    struct test_stage r;
    wn_task_list_init(out);
    if (test_stage_make(&r, "read_jsonl", params, err) < 0)
        return -1;
    struct wn_task *seed = wn_task_create(0, 0, NULL);
    free(rej_summary);
    rej_summary = NULL;
    wn_rejects_begin(r.st);
    int rc = r.st->ops->process_batch(r.st, &seed, 1, out, err);
    if (rc == 0)
        rc = wn_rejects_commit(r.st, rej_path[0] ? rej_path : NULL, &rej_summary, err);
    else
        wn_rejects_discard(r.st);
    wn_task_destroy(seed);
    test_stage_free(&r);
    return rc;
}

static const struct wn_column *col(const struct wn_task *t, const char *name)
{
    const struct wn_column *c = wn_batch_find(t->batch, name);
    if (!c)
        BAIL_OUT("no column %s", name);
    return c;
}

static int str_is(const struct wn_column *c, uint64_t r, const char *want, size_t n)
{
    size_t len;
    const char *s = wn_col_str(c, r, &len);
    return s && len == n && !memcmp(s, want, n);
}

static uint64_t total_rows(const struct wn_task_list *l)
{
    uint64_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += wn_batch_nrows(l->tasks[i]->batch);
    return n;
}

/* Lines of a file (0 when it does not exist). */
static size_t count_lines(const char *path)
{
    size_t len, n = 0;
    char *s = slurp(path, &len);
    for (size_t i = 0; s && i < len; i++)
        n += s[i] == '\n';
    free(s);
    return n;
}

/* ------------------------------------------------------------- tests -- */

static char c1[4096];   /* the main corpus */
static size_t b_rows;   /* rows of c1/b.jsonl */
static size_t top_rows; /* rows of c1/b.jsonl and c1/z.jsonl */

static void make_corpus(void)
{
    static const struct {
        const char *name;
        enum comp c;
    } files[] = {
        {"a.jsonl.gz", GZ},       {"b.jsonl", PLAIN},
        {"sub/c.jsonl.zst", ZST}, {"sub/deeper/d.jsonl", PLAIN},
        {"z.jsonl", PLAIN},
    };
    FMT(c1, "%s/c1", tmp);
    mkdirs("%s/%s", "c1/sub/deeper");
    for (int f = 0; f < 5; f++) {
        struct fbuf b = {0};
        size_t start = nexp;
        for (size_t p = (size_t)f; p < nparas; p += 5) {
            char id[64];
            FMT(id, "doc-%d-%zu", f, p);
            char *line = json_line(paras[p], strlen(paras[p]), id, 0);
            fb_line(&b, line, "\n", f, paras[p], id);
            free(line);
        }
        if (f == 4) {
            /* Blank lines are skipped; CRLF keeps its CR in _raw; spacing
             * is kept in _raw; the last line has no '\n'. */
            fb_line(&b, "", "\n", f, NULL, NULL);
            fb_line(&b, "  \t \r", "\n", f, NULL, NULL);
            fb_line(&b, "{\"text\": \"crlf\", \"id\": \"c\"}", "\r\n", f, "crlf", "c");
            fb_line(&b, "  { \"id\" : \"s\",\"text\":\"spaced \\u00e9\" }  ", "\n", f,
                    "spaced \xc3\xa9", "s");
            fb_line(&b, "{\"text\":\"last\",\"id\":\"l\"}", "", f, "last", "l");
        }
        if (f == 1)
            b_rows = nexp - start;
        if (f == 1 || f == 4)
            top_rows += nexp - start;
        char path[4096];
        FMT(path, "%s/%s", c1, files[f].name);
        write_file(path, b.p, b.len, files[f].c);
        free(b.p);
    }
    /* Not inputs by their names. */
    char path[4096];
    FMT(path, "%s/notes.txt", c1);
    write_file(path, "{\"text\":\"no\"}\n", 14, PLAIN);
    FMT(path, "%s/e.json", c1);
    write_file(path, "{\"text\":\"no\"}\n", 14, PLAIN);
}

static void test_corpus(void)
{
    wn_error_t err = {{0}};
    char params[8192], rej[4096];
    FMT(rej, "%s/c1-rejects.jsonl", tmp);
    FMT(rej_path, "%s", rej);
    FMT(params, "input: \"%s\", id_field: id", c1);
    struct wn_task_list out;
    if (!ok(rj_read(params, &out, &err) == 0, "corpus: read") || !ok(out.n == 1, "one task"))
        BAIL_OUT("%s", err.text);
    const struct wn_task *t = out.tasks[0];
    cmp_ok(wn_batch_nrows(t->batch), ==, nexp, "every good line is a row");
    const struct wn_column *text = col(t, "text"), *id = col(t, "id"),
                           *dd = col(t, "_curator_dedup_id"), *file = col(t, "_file"),
                           *line = col(t, "_line"), *raw = col(t, "_raw");
    ok(file->type == WN_TYPE_U32 && line->type == WN_TYPE_U64 && dd->type == WN_TYPE_U64,
       "_file u32, _line and _curator_dedup_id u64");
    size_t bad = 0;
    for (size_t r = 0; r < nexp && r < wn_batch_nrows(t->batch); r++) {
        const struct exp_row *e = &exp_rows[r];
        if (!str_is(text, r, e->text, e->tlen) || !str_is(raw, r, e->raw, e->rlen) ||
            !str_is(id, r, e->id, strlen(e->id)) || wn_col_u32(file)[r] != (uint32_t)e->file ||
            wn_col_u64(line)[r] != e->line ||
            wn_col_u64(dd)[r] != (((uint64_t)e->file << 40) | e->line)) {
            if (bad++ < 3)
                diag("row %zu (file %d line %llu) differs", r, e->file,
                     (unsigned long long)e->line);
        }
    }
    ok(bad == 0, "rows in file (path) order then line order: text, id, ids and _raw exact");
    is(wn_task_meta_get(t, "rejected"), "0", "metadata rejected 0");
    ok(access(rej, F_OK) < 0, "no rejects: no rejects file");

    struct wn_task_list again;
    ok(rj_read(params, &again, &err) == 0 && again.n == 1 &&
           wn_batch_equal(again.tasks[0]->batch, t->batch),
       "a second read gives the same batch");
    wn_task_list_free(&again);
    wn_task_list_free(&out);

    /* A glob takes what it matches; a file named directly is read alone. */
    FMT(params, "input: \"%s/*.jsonl\"", c1);
    ok(rj_read(params, &out, &err) == 0 && total_rows(&out) == top_rows,
       "glob dir/*.jsonl: the two top-level plain files only (%s)", err.text);
    wn_task_list_free(&out);
    FMT(params, "input: \"%s/b.jsonl\"", c1);
    ok(rj_read(params, &out, &err) == 0 && total_rows(&out) == b_rows &&
           wn_col_u32(col(out.tasks[0], "_file"))[0] == 0,
       "a single file: its rows, file index 0");
    wn_task_list_free(&out);
}

/* Files of about the given sizes (lines of at most 500 bytes of text,
 * filled until the size is reached) in dir; returns their sizes. */
static void sized_files(const char *dir, const size_t *want, size_t n, size_t *got)
{
    mkdirs("%s/%s", dir);
    size_t p = 0;
    for (size_t f = 0; f < n; f++) {
        struct fbuf b = {0};
        while (b.len < want[f]) {
            size_t len = strlen(paras[p % nparas]);
            char *line = json_line(paras[p % nparas], len < 500 ? len : 500, NULL, (long long)p);
            fb_line(&b, line, "\n", (int)f, NULL, NULL);
            free(line);
            p++;
        }
        char path[4096];
        FMT(path, "%s/%s/f%zu.jsonl", tmp, dir, f);
        write_file(path, b.p, b.len, PLAIN);
        got[f] = b.len;
        free(b.p);
    }
}

/* The files (_file values) of each task, as "0,1|2,3". */
static void task_files(const struct wn_task_list *l, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct wn_column *f = col(l->tasks[i], "_file");
        long last = -1;
        for (uint64_t r = 0; r < f->nrows; r++)
            if ((long)wn_col_u32(f)[r] != last) {
                o += (size_t)snprintf(buf + o, len - o, "%s%u",
                                      last >= 0 ? ","
                                      : i       ? "|"
                                                : "",
                                      wn_col_u32(f)[r]);
                last = (long)wn_col_u32(f)[r];
            }
    }
}

static void test_blocksize(void)
{
    wn_error_t err = {{0}};
    char params[8192], got[256];
    struct wn_task_list out;
    size_t want[4] = {5000, 5000, 9000, 4000}, sz[4];
    sized_files("g", want, 4, sz);
    ok(sz[0] + sz[1] <= 15000 && sz[0] + sz[1] + sz[2] > 15000 && sz[2] + sz[3] <= 15000,
       "sizes %zu %zu %zu %zu as planned", sz[0], sz[1], sz[2], sz[3]);
    const struct {
        long long bs;
        const char *files;
    } cases[] = {
        {15000, "0,1|2,3"},
        {1073741824, "0,1,2,3"},
        {(long long)(sz[0] + sz[1]), "0,1|2|3"},
        {(long long)(sz[0] + sz[1] - 1), "0|1|2|3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FMT(params, "input: \"%s/g\", blocksize: %lld", tmp, cases[i].bs);
        if (rj_read(params, &out, &err) < 0)
            diag("%s", err.text);
        task_files(&out, got, sizeof(got));
        is(got, cases[i].files, "blocksize %lld: tasks of files %s", cases[i].bs, cases[i].files);
        wn_task_list_free(&out);
    }
    /* Blocksize 1 cuts every plain file at each line: a task per line,
     * with the rows, ids and bytes of the one-task read. */
    struct wn_task_list one;
    FMT(params, "input: \"%s/g\", blocksize: 1073741824", tmp);
    if (rj_read(params, &one, &err) < 0 || one.n != 1)
        BAIL_OUT("one task: %s", err.text);
    FMT(params, "input: \"%s/g\", blocksize: 1", tmp);
    ok(rj_read(params, &out, &err) == 0, "blocksize 1 (%s)", err.text);
    uint64_t r = 0, nrows = wn_batch_nrows(one.tasks[0]->batch), bad = 0;
    const struct wn_column *id1 = col(one.tasks[0], "_curator_dedup_id");
    const struct wn_column *raw1 = col(one.tasks[0], "_raw");
    for (size_t t = 0; t < out.n; t++) {
        const struct wn_column *id = col(out.tasks[t], "_curator_dedup_id");
        const struct wn_column *raw = col(out.tasks[t], "_raw");
        bad += id->nrows != 1;
        for (uint64_t k = 0; k < id->nrows; k++, r++) {
            size_t len;
            const char *s = wn_col_str(raw, k, &len);
            bad +=
                r >= nrows || wn_col_u64(id)[k] != wn_col_u64(id1)[r] || !str_is(raw1, r, s, len);
        }
    }
    ok(out.n == nrows && r == nrows && bad == 0,
       "blocksize 1: %zu tasks of one row each, the %" PRIu64 " rows, ids and bytes of one task",
       out.n, nrows);
    wn_task_list_free(&out);
    wn_task_list_free(&one);
    size_t ten[3] = {10000, 10000, 10000};
    sized_files("g3", ten, 3, sz);
    FMT(params, "input: \"%s/g3\", blocksize: 15000", tmp);
    ok(rj_read(params, &out, &err) == 0, "three ~10 KB files");
    task_files(&out, got, sizeof(got));
    is(got, "0|1|2", "blocksize 15000: one task each");
    wn_task_list_free(&out);
}

static void test_compression(void)
{
    wn_error_t err = {{0}};
    struct fbuf b = {0};
    /* Over 3 MB, so lines cross read buffers, gzip members and zstd frames. */
    for (size_t p = 0; b.len < (3u << 20); p++) {
        char *line = json_line(paras[p % nparas], strlen(paras[p % nparas]), NULL, (long long)p);
        fb_line(&b, line, "\n", 0, NULL, NULL);
        free(line);
    }
    static const char *names[] = {"cp/x.jsonl", "cg/x.jsonl.gz", "cz/x.jsonl.zst"};
    struct wn_task_list out[3];
    for (int c = 0; c < 3; c++) {
        char path[4096], params[8192];
        mkdirs("%s/%s", c == 0 ? "cp" : c == 1 ? "cg" : "cz");
        FMT(path, "%s/%s", tmp, names[c]);
        write_file(path, b.p, b.len, (enum comp)c);
        FMT(params, "input: \"%s\", id_field: id", path);
        ok(rj_read(params, &out[c], &err) == 0 && out[c].n == 1, "%s read (%s)", names[c],
           err.text);
    }
    cmp_ok(wn_batch_nrows(out[0].tasks[0]->batch), ==, b.line, "plain: every line");
    ok(wn_batch_equal(out[0].tasks[0]->batch, out[1].tasks[0]->batch), "gzip equals plain");
    ok(wn_batch_equal(out[0].tasks[0]->batch, out[2].tasks[0]->batch), "zstd equals plain");
    for (int c = 0; c < 3; c++)
        wn_task_list_free(&out[c]);
    free(b.p);
}

static void test_rejects(void)
{
    wn_error_t err = {{0}};
    char params[8192], rej[4096], p1[4096];
    mkdirs("%s/%s", "r");
    FMT(p1, "%s/r/1.jsonl", tmp);
    const char *bad = "{\"text\": \"good one\"}\n"
                      "{\"text\": \"unterminated\"\n"
                      "{\"text\": \"bad \xff byte\"}\n"
                      "{\"title\": \"no text\"}\n"
                      "{\"text\": 42}\n"
                      "[\"text\", \"an array\"]\n"
                      "\n"
                      "{\"text\": \"good two\"}\n";
    write_file(p1, bad, strlen(bad), PLAIN);
    char p2[4096];
    FMT(p2, "%s/r/2.jsonl", tmp);
    const char *next = "{\"text\": \"next file\"}\n";
    write_file(p2, next, strlen(next), PLAIN);
    FMT(rej, "%s/r-rejects.jsonl", tmp);
    FMT(rej_path, "%s", rej);
    FMT(params, "input: \"%s/r\"", tmp);
    struct wn_task_list out;
    ok(rj_read(params, &out, &err) == 0 && out.n == 1, "bad lines: the run goes on (%s)", err.text);
    const struct wn_task *t = out.tasks[0];
    const struct wn_column *text = col(t, "text"), *line = col(t, "_line");
    ok(wn_batch_nrows(t->batch) == 3 && str_is(text, 0, "good one", 8) &&
           str_is(text, 1, "good two", 8) && wn_col_u64(line)[1] == 8 &&
           str_is(text, 2, "next file", 9),
       "the good lines, and the next file's");
    is(wn_task_meta_get(t, "rejected"), "5", "metadata rejected 5");
    wn_task_list_free(&out);

    static const struct {
        int line;
        const char *reason, *error;
    } want[] = {
        {2, "invalid JSON", "invalid JSON: "},
        {3, "invalid UTF-8", "invalid UTF-8: "},
        {4, "no field 'text'", "no field 'text': the line has fields 'title'"},
        {5, "field 'text' is not a string", "field 'text' is not a string: but a number"},
        {6, "not a JSON object", "not a JSON object: but an array"},
    };
    size_t len;
    char *s = slurp(rej, &len), *save = NULL;
    int i = 0, good = s != NULL;
    for (char *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save), i++) {
        json_error_t je;
        json_t *o = json_loads(l, 0, &je);
        const char *file = json_string_value(json_object_get(o, "file"));
        const char *why = json_string_value(json_object_get(o, "error"));
        const char *reason = json_string_value(json_object_get(o, "reason"));
        json_int_t n = json_integer_value(json_object_get(o, "line"));
        if (i >= 5 || !file || strcmp(file, p1) || n != want[i].line || !why || !reason ||
            strcmp(reason, want[i].reason) || strncmp(why, want[i].error, strlen(want[i].error))) {
            diag("reject %d: %s", i, l);
            good = 0;
        }
        json_decref(o);
    }
    free(s);
    ok(good && i == 5, "rejects file: one JSON line per bad line with file, line, reason, "
                       "error (with the fields a line without the text field has)");
    json_t *sum = rej_summary ? json_loads(rej_summary, 0, NULL) : NULL;
    json_t *counts = json_object_get(sum, "counts");
    const char *first = json_string_value(json_object_get(sum, "first"));
    char want_first[4200];
    FMT(want_first, "%s:2: invalid JSON: ", p1);
    ok(json_object_size(counts) == 5 &&
           json_integer_value(json_object_get(counts, "no field 'text'")) == 1 && first &&
           !strncmp(first, want_first, strlen(want_first)),
       "the batch's summary: counts per reason, the first record (%s)",
       rej_summary ? rej_summary : "none");
    json_decref(sum);

    ok(rj_read(params, &out, &err) == 0 && total_rows(&out) == 3 &&
           !strcmp(wn_task_meta_get(out.tasks[0], "rejected"), "5"),
       "read again");
    wn_task_list_free(&out);
    cmp_ok(count_lines(rej), ==, 5,
           "the same records are not appended twice (a batch run "
           "again on resume)");
    unlink(rej);
    rej_path[0] = 0;
}

static void test_ids(void)
{
    wn_error_t err = {{0}};
    char params[8192], path[4096];
    mkdirs("%s/%s", "i");
    FMT(path, "%s/i/x.jsonl", tmp);
    const char *lines = "{\"text\": \"a\", \"id\": \"doc-1\"}\n"
                        "{\"text\": \"b\", \"id\": 42}\n"
                        "{\"text\": \"c\", \"id\": -7}\n"
                        "{\"text\": \"d\", \"id\": 1.5}\n"
                        "{\"text\": \"e\", \"id\": 0.1}\n"
                        "{\"text\": \"f\", \"id\": true}\n"
                        "{\"text\": \"g\"}\n"
                        "{\"text\": \"h\", \"id\": \"x\", \"big\": 18446744073709551616}\n"
                        "{\"text\": \"nul\\u0000byte\", \"id\": \"n\"}\n"
                        "{\"id\": 12345678901234567890123, \"text\": \"i\"}\n"
                        "{\"text\": \"j\", \"id\" : 1.50e+0 , \"id2\": 1}\n"
                        "{\"text\": \"k\", \"id\": 1, \"id\": 2}\n";
    write_file(path, lines, strlen(lines), PLAIN);
    FMT(params, "input: \"%s\", id_field: id", path);
    struct wn_task_list out;
    ok(rj_read(params, &out, &err) == 0 && out.n == 1, "ids: read (%s)", err.text);
    const struct wn_column *id = col(out.tasks[0], "id"), *text = col(out.tasks[0], "text");
    static const char *want[] = {
        "doc-1", "42", "-7", "1.5", "0.1", "x", "n", "12345678901234567890123", "1.50e+0", "2"};
    int good = id->nrows == 10;
    for (uint64_t r = 0; good && r < 10; r++)
        if (!(good = str_is(id, r, want[r], strlen(want[r]))))
            diag("row %llu: want %s", (unsigned long long)r, want[r]);
    ok(good, "id_field: strings as they are, numbers exactly as written (past 64 bits, "
             "trailing zeros, exponents), the last of repeated keys");
    ok(id->nrows == 10 && str_is(text, 5, "h", 1), "a line with an integer past 64 bits is read");
    ok(id->nrows == 10 && str_is(text, 6, "nul\0byte", 8), "\\u0000 kept in the text");
    is(wn_task_meta_get(out.tasks[0], "rejected"), "2", "a boolean id and a missing id: rejected");
    wn_task_list_free(&out);
}

static void test_long_line(void)
{
    wn_error_t err = {{0}};
    const size_t want = 100u << 20;
    char *text = malloc(want + 1);
    if (!text)
        BAIL_OUT("out of memory");
    for (size_t o = 0, p = 0; o < want; p++) {
        size_t n = strlen(paras[p % nparas]);
        n = n + 1 < want - o ? n + 1 : want - o;
        memcpy(text + o, paras[p % nparas], n);
        text[o + n - 1] = n > 1 ? '\n' : text[o + n - 1]; /* paragraphs apart */
        o += n;
    }
    char *line = json_line(text, want, "big", 0);
    size_t llen = strlen(line);
    uint64_t line_hash = XXH3_64bits(line, llen), text_hash = XXH3_64bits(text, want);
    free(text);
    struct fbuf b = {0};
    fb_line(&b, line, "\n", 0, NULL, NULL);
    free(line);
    fb_line(&b, "{\"text\": \"after\", \"id\": \"s\"}", "\n", 0, NULL, NULL);
    char path[4096], params[8192];
    mkdirs("%s/%s", "big");
    FMT(path, "%s/big/x.jsonl.zst", tmp);
    write_file(path, b.p, b.len, ZST);
    free(b.p);
    FMT(params, "input: \"%s\", id_field: id", path);
    struct wn_task_list out;
    if (!ok(rj_read(params, &out, &err) == 0 && out.n == 1, "100 MB line: read (%s)", err.text))
        return;
    const struct wn_column *tc = col(out.tasks[0], "text"), *raw = col(out.tasks[0], "_raw");
    size_t tlen = 0, rlen = 0;
    const char *t0 = tc->nrows == 2 ? wn_col_str(tc, 0, &tlen) : NULL;
    const char *r0 = tc->nrows == 2 ? wn_col_str(raw, 0, &rlen) : NULL;
    ok(t0 && tlen == want && XXH3_64bits(t0, tlen) == text_hash, "its 100 MB text exact");
    ok(r0 && rlen == llen && XXH3_64bits(r0, rlen) == line_hash, "its _raw exact");
    ok(tc->nrows == 2 && str_is(tc, 1, "after", 5), "the line after it");
    wn_task_list_free(&out);
}

static void expect_fail(const char *params, const char *needle, const char *what)
{
    wn_error_t err = {{0}};
    struct wn_task_list out;
    int rc = rj_read(params, &out, &err);
    if (!ok(rc < 0 && strstr(err.text, needle), "%s", what))
        diag("rc %d, error: %s", rc, err.text);
    wn_task_list_free(&out);
}

static void test_errors(void)
{
    char params[8192], path[4096], want[4096];
    mkdirs("%s/%s", "e0");
    FMT(params, "input: \"%s/e0\"", tmp);
    FMT(want, "%s/e0", tmp);
    expect_fail(params, want, "a directory without inputs: error naming it");
    FMT(params, "input: \"%s/nothing\"", tmp);
    expect_fail(params, "nothing", "a missing input: error naming it");
    FMT(params, "input: \"%s/e0/*.jsonl\"", tmp);
    expect_fail(params, "*.jsonl", "a glob matching nothing: error naming it");

    mkdirs("%s/%s", "e1");
    FMT(path, "%s/e1/gone.jsonl", tmp);
    if (symlink("/nonexistent/gone.jsonl", path) < 0)
        BAIL_OUT("symlink: %s", strerror(errno));
    FMT(params, "input: \"%s/e1\"", tmp);
    expect_fail(params, path, "a file that cannot be opened: error naming it");

    const char *good = "{\"text\": \"a\"}\n{\"text\": \"b\"}\n";
    mkdirs("%s/%s", "e2");
    FMT(path, "%s/e2/plain.jsonl.gz", tmp);
    write_file(path, good, strlen(good), PLAIN);
    FMT(params, "input: \"%s\"", path);
    expect_fail(params, "plain.jsonl.gz: not gzip", "a .gz that is not gzip: error naming it");

    /* Truncated compressed files: the first half of each. */
    static const struct {
        const char *name;
        enum comp c;
    } tr[] = {{"cut.jsonl.gz", GZ}, {"cut.jsonl.zst", ZST}};
    for (int i = 0; i < 2; i++) {
        FMT(path, "%s/e2/%s", tmp, tr[i].name);
        struct fbuf b = {0};
        for (size_t p = 0; p < 50; p++) {
            char *line = json_line(paras[p], strlen(paras[p]), NULL, (long long)p);
            fb_line(&b, line, "\n", 0, NULL, NULL);
            free(line);
        }
        write_file(path, b.p, b.len, tr[i].c);
        free(b.p);
        struct stat sb;
        if (stat(path, &sb) < 0 || truncate(path, sb.st_size / 4) < 0)
            BAIL_OUT("truncate %s", path);
        FMT(params, "input: \"%s\"", path);
        FMT(want, "%s: %s", tr[i].name, tr[i].c == GZ ? "gzip" : "zstd");
        expect_fail(params, want, "a truncated file: error naming it");
    }

    FMT(params, "input: \"%s/c1\", blocksize: 0", tmp);
    expect_fail(params, "blocksize", "blocksize 0: error");
    FMT(params, "input: \"%s/c1\", id_field: text", tmp);
    expect_fail(params, "id_field", "id_field equal to text_field: error");
    FMT(params, "input: \"%s/c1\", text_field: _raw", tmp);
    expect_fail(params, "text_field", "text_field clashing with _raw: error");
    expect_fail("text_field: t", "input", "no input: error");
}

/* A file changed after the run listed it fails its batch, naming it:
 * document ids hold line numbers, which a changed file would shift. */
static void test_changed(void)
{
    wn_error_t err = {{0}};
    char params[8192], path[4096];
    mkdirs("%s/%s", "ch");
    FMT(path, "%s/ch/x.jsonl", tmp);
    const char *lines = "{\"text\": \"one\"}\n{\"text\": \"two\"}\n";
    for (int grow = 0; grow < 2; grow++) {
        write_file(path, lines, strlen(lines), PLAIN);
        FMT(params, "input: \"%s\"", path);
        struct test_stage r;
        if (test_stage_make(&r, "read_jsonl", params, &err) < 0)
            BAIL_OUT("%s", err.text);
        /* Inserted at the top (longer), or the same size rewritten later. */
        const char *now = grow ? "{\"text\": \"new\"}\n{\"text\": \"one\"}\n{\"text\": \"two\"}\n"
                               : "{\"text\": \"uno\"}\n{\"text\": \"two\"}\n";
        struct timespec later[2] = {{0, UTIME_OMIT}, {0, 0}};
        write_file(path, now, strlen(now), PLAIN);
        if (!grow) {
            struct stat sb;
            stat(path, &sb);
            later[1].tv_sec = sb.st_mtim.tv_sec + 5; /* coarse clocks: surely later */
            utimensat(AT_FDCWD, path, later, 0);
        }
        struct wn_task *seed = wn_task_create(0, 0, NULL);
        struct wn_task_list out;
        wn_task_list_init(&out);
        err.text[0] = 0;
        int rc = r.st->ops->process_batch(r.st, &seed, 1, &out, &err);
        ok(rc < 0 && strstr(err.text, "x.jsonl changed since the run listed it"),
           "a file %s after it was listed: the batch fails, naming it (%s)",
           grow ? "grown by a line at the top" : "rewritten at the same size", err.text);
        wn_task_destroy(seed);
        wn_task_list_free(&out);
        test_stage_free(&r);
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    plan(NO_PLAN);
    const char *base = getenv("TEST_TMP");
    FMT(tmp, "%s/test_read_jsonl.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp))
        BAIL_OUT("mkdtemp %s: %s", tmp, strerror(errno));
    load_paras();
    make_corpus();
    test_corpus();
    test_blocksize();
    test_compression();
    test_rejects();
    test_ids();
    test_long_line();
    test_errors();
    test_changed();
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < nexp; i++) {
        free(exp_rows[i].text);
        free(exp_rows[i].raw);
        free(exp_rows[i].id);
    }
    for (size_t i = 0; i < nparas; i++)
        free(paras[i]);
    free(paras);
    return done_testing();
}
