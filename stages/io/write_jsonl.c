/* write_jsonl.c - documents written back out as JSON Lines, each kept line
 * byte for byte as read_jsonl read it, in files laid out like the input.
 *
 *   write_jsonl        writes the rows of each task (their _raw lines) into
 *                      OUTPUT/<the input file's path below input>: the
 *                      writer after filters.  A task's files are those of
 *                      its metadata "files" (read_jsonl's "FIRST COUNT"),
 *                      so a file all of whose documents were dropped is
 *                      still written, empty; without it, the files its rows
 *                      name.  A task must hold whole files (read_jsonl's
 *                      tasks, filtered, do), with each file's rows together.
 *                      Outputs, per file: path, documents.
 *   remove_duplicates  RAFT stage after identify_duplicates (or
 *                      exact_duplicates): its members share the rows
 *                      (_curator_dedup_id, _duplicate_group_id, _kept) of
 *                      every document in a group, then each copies a
 *                      contiguous block of the input files into OUTPUT,
 *                      leaving out the lines of documents not kept, and the
 *                      first member writes `groups` (duplicate_groups.jsonl):
 *                      one line per document in a group, in id order,
 *                      {"id": ID, "group": G, "kept": true|false}, ID being
 *                      the document's id_field value exactly as written in
 *                      its line (a JSON string or number) or "PATH:LINE"
 *                      (PATH below input), G the group's smallest
 *                      _curator_dedup_id.
 *                      Lines read_jsonl rejected are copied too: they are
 *                      no duplicate of anything (and are in its rejects
 *                      file).  Outputs, per file: path, documents, removed.
 *
 * Both read the run's input listing, which read_jsonl made (a document id
 * holds its file's index in it; the runner refuses a stage whose input
 * lists other files), and declare their outputs, which the runner keeps
 * out of the input's folders.
 * Every file is written under a temporary name and renamed into place
 * after an fsync, so an interrupted run leaves whole files only, and a
 * resumed one rewrites the same bytes.  Every line ends with '\n' (a last
 * line without one gets it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builtin.h"
#include "io/jsonl_io.h"

#define ID_COL "_curator_dedup_id"

struct writer_cfg {
    char *input, *output, *groups, *id_field;   /* groups, id_field: "" none */
    struct wn_jl_list list;                     /* the run's listing, at init */
};

static void cfg_free(struct writer_cfg *c)
{
    if (c) {
        free(c->input);
        free(c->output);
        free(c->groups);
        free(c->id_field);
        wn_jl_list_free(&c->list);
        free(c);
    }
}

static void wj_fini(struct wn_stage *st)
{
    cfg_free(wn_stage_data(st));
}

static int cfg_init(struct wn_stage *st, const struct wn_params *params, int dedup,
                    wn_error_t *err)
{
    struct writer_cfg *c = calloc(1, sizeof(*c));
    if (!c)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, c);
    if (!(c->input = strdup(wn_params_str(params, "input"))) ||
        !(c->output = strdup(wn_params_str(params, "output"))) ||
        !(c->groups = strdup(dedup ? wn_params_str(params, "groups") : "")) ||
        !(c->id_field = strdup(dedup ? wn_params_str(params, "id_field") : "")))
        return wn_errprintf(err, "out of memory");
    if (!*c->input)
        return wn_params_refuse(params, "input", err, "empty (give read_jsonl's input)");
    if (!*c->output)
        return wn_params_refuse(params, "output", err, "empty (the directory to write)");
    /* The run's listing, which read_jsonl made (a document id holds its
     * file's index in it); the runner keeps the outputs out of the input
     * (a directory input holding them would take them for input on the
     * next run, and shift every document id). */
    if (wn_jl_list_inputs(st, c->input, &c->list, err) < 0)
        return wn_errprefix(err, "parameter 'input'");
    if (wn_stage_add_output(st, c->output, WN_OUTPUT_DIR, err) < 0 ||
        (*c->groups && wn_stage_add_output(st, c->groups, WN_OUTPUT_FILE, err) < 0))
        return -1;
    return 0;
}

/* OUTPUT/<path below input>, malloc'd. */
static char *out_path(const struct writer_cfg *c, const char *path, wn_error_t *err)
{
    char *o;
    size_t n = strlen(c->output);
    while (n > 1 && c->output[n - 1] == '/')
        n--;
    if (asprintf(&o, "%.*s/%s", (int)n, c->output, wn_jl_relpath(c->input, path)) < 0) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    return o;
}

/* The summary outputs: one row per file written. */
struct summary {
    struct wn_batch *b;
    struct wn_column *path, *docs, *removed;
};

static int summary_new(struct summary *s, int with_removed, wn_error_t *err)
{
    memset(s, 0, sizeof(*s));
    if (!(s->b = wn_batch_create()))
        return wn_errprintf(err, "out of memory");
    if (!(s->path = wn_batch_add_column(s->b, "path", WN_TYPE_STR, 0, err)) ||
        !(s->docs = wn_batch_add_column(s->b, "documents", WN_TYPE_U64, 1, err)) ||
        (with_removed &&
         !(s->removed = wn_batch_add_column(s->b, "removed", WN_TYPE_U64, 1, err)))) {
        wn_batch_destroy(s->b);
        s->b = NULL;
        return -1;
    }
    return 0;
}

static int summary_add(struct summary *s, const char *path, uint64_t docs, uint64_t removed,
                       wn_error_t *err)
{
    if (wn_col_append_str(s->path, path, strlen(path), err) < 0 ||
        wn_col_append_u64(s->docs, docs, err) < 0 ||
        (s->removed && wn_col_append_u64(s->removed, removed, err) < 0))
        return -1;
    return 0;
}

/* ------------------------------------------------------- write_jsonl -- */

static int wj_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    return cfg_init(st, params, 0, err);
}

/* Writes rows [*row, ...) of file f (all its rows, which are together) to
 * its output file; advances *row. */
static int write_file(const struct writer_cfg *c, const struct wn_jl_list *l, uint32_t f,
                      const struct wn_column *file, const struct wn_column *raw,
                      uint64_t *row, struct summary *s, wn_error_t *err)
{
    char *path = out_path(c, l->files[f].path, err);
    if (!path)
        return -1;
    struct wn_jl_writer w;
    int rc = wn_jl_writer_open(&w, path, err);
    uint64_t nrows = file ? file->nrows : 0, docs = 0;
    const uint32_t *fv = file ? wn_col_u32(file) : NULL;
    for (; rc == 0 && *row < nrows && fv[*row] == f; (*row)++, docs++) {
        size_t len;
        const char *line = wn_col_str(raw, *row, &len);
        if (wn_jl_writer_write(&w, line, len, err) < 0 || wn_jl_writer_write(&w, "\n", 1, err) < 0)
            rc = -1;
    }
    if (rc == 0)
        rc = wn_jl_writer_commit(&w, err);
    else
        wn_jl_writer_abort(&w);
    if (rc == 0)
        rc = summary_add(s, path, docs, 0, err);
    free(path);
    return rc;
}

static int wj_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    struct writer_cfg *c = wn_stage_data(st);
    if (n == 0)
        return 0;
    const struct wn_jl_list *lp = &c->list;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct wn_batch *b = in[i]->batch;
        const struct wn_column *file = b ? wn_batch_find(b, "_file") : NULL;
        const struct wn_column *raw = b ? wn_batch_find(b, "_raw") : NULL;
        uint64_t nrows = b ? wn_batch_nrows(b) : 0;
        errno = EINVAL;
        if (nrows && (!file || file->type != WN_TYPE_U32 || !raw || raw->type != WN_TYPE_STR)) {
            rc = wn_errprintf(err, "input %zu: expected columns _file (u32) and _raw (str), "
                              "as read_jsonl makes them", i);
            break;
        }
        /* The task's files: its metadata, else those its rows name. */
        unsigned long long first = 0, count = 0;
        const char *files = wn_task_meta_get(in[i], "files");
        if (files && sscanf(files, "%llu %llu", &first, &count) != 2) {
            rc = wn_errprintf(err, "input %zu: bad metadata files='%s'", i, files);
            break;
        }
        if (!files && nrows) {
            first = wn_col_u32(file)[0];
            count = (unsigned long long)wn_col_u32(file)[nrows - 1] - first + 1;
        }
        if (first + count > lp->n || (nrows && (wn_col_u32(file)[0] < first ||
                                             wn_col_u32(file)[nrows - 1] >= first + count))) {
            rc = wn_errprintf(err, "input %zu: rows of file %llu..%llu but '%s' lists %zu "
                              "files (not read_jsonl's input?)", i, first,
                              first + count - 1, c->input, lp->n);
            break;
        }
        struct summary s;
        if ((rc = summary_new(&s, 0, err)) < 0)
            break;
        uint64_t row = 0;
        for (unsigned long long f = first; f < first + count && rc == 0; f++) {
            if (row < nrows && wn_col_u32(file)[row] < f) {
                rc = wn_errprintf(err, "input %zu row %llu: rows of file %u are not "
                                  "together", i, (unsigned long long)row, wn_col_u32(file)[row]);
                break;
            }
            rc = write_file(c, lp, (uint32_t)f, file, raw, &row, &s, err);
        }
        if (rc == 0 && row < nrows)
            rc = wn_errprintf(err, "input %zu row %llu: rows of file %u are not together", i,
                              (unsigned long long)row, wn_col_u32(file)[row]);
        if (rc == 0)
            rc = wn_task_list_push_batch(out, s.b, err);
        else
            wn_batch_destroy(s.b);
    }
    return rc;
}

static const struct wn_param_spec wj_params[] = {
    {"input", WN_PARAM_STRING, "${input}", "read_jsonl's input (names and lays out the files)"},
    {"output", WN_PARAM_STRING, NULL, "directory the files are written to"},
    WN_PARAM_END
};

const struct wn_stage_ops wn_stage_write_jsonl_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "write_jsonl",
    .help = "writes the documents (their lines as read) into files laid out like the input",
    .params = wj_params,
    .init = wj_init,
    .process_batch = wj_process,
    .fini = wj_fini,
};

/* ------------------------------------------------- remove_duplicates -- */

struct dup {
    uint64_t id, group, kept;
};

static int cmp_dup(const void *a, const void *b)
{
    uint64_t x = ((const struct dup *)a)->id, y = ((const struct dup *)b)->id;
    return x < y ? -1 : x > y;
}

struct rd {
    struct writer_cfg *cfg;
    struct wn_clique *clique;
};

static void rd_fini(struct wn_stage *st)
{
    struct rd *r = wn_stage_data(st);
    if (r) {
        cfg_free(r->cfg);
        free(r);
    }
}

static int rd_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct rd *r = calloc(1, sizeof(*r));
    if (!r)
        return wn_errprintf(err, "out of memory");
    int rc = cfg_init(st, params, 1, err);
    r->cfg = wn_stage_data(st);
    wn_stage_set_data(st, r);
    return rc;
}

static int rd_setup(struct wn_stage *st, const struct wn_worker *w, wn_error_t *err)
{
    struct rd *r = wn_stage_data(st);
    if (!w->clique) {
        errno = EINVAL;
        return wn_errprintf(err, "no clique (remove_duplicates is a RAFT stage)");
    }
    r->clique = w->clique;
    return 0;
}

/* A growing byte buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static int sb_put(struct sbuf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q)
            return -1;
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* s (n bytes) as a JSON string, each byte that starts no valid UTF-8
 * sequence written as U+FFFD: a file name need not be UTF-8, a JSON
 * string must be. */
static int sb_jstr(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    int rc = sb_put(b, "\"", 1);
    for (size_t i = 0; i < n && rc == 0;) {
        char esc[8];
        unsigned c = u[i];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rc = sb_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            static const char short_esc[] = "btn\0fr";
            if (c >= 8 && c <= 13 && c != 11)
                k = (size_t)snprintf(esc, sizeof(esc), "\\%c", short_esc[c - 8]);
            else
                k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
            rc = sb_put(b, esc, k);
            i++;
        } else if ((k = wn_utf8_len(u + i, n - i)) > 0) {
            rc = sb_put(b, s + i, k);
            i += k;
        } else {
            rc = sb_put(b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    return rc < 0 ? -1 : sb_put(b, "\"", 1);
}

/* The document's id for the groups file: its id_field value as written
 * in the line (a string or a number, its JSON text unchanged: ids are
 * kept exactly, however large or precise), else "PATH:LINE". */
static int sb_doc_id(struct sbuf *b, const struct writer_cfg *c, const char *rel, uint64_t lno,
                     const char *line, size_t n)
{
    const char *v;
    size_t len;
    if (*c->id_field && wn_jl_member(line, n, c->id_field, &v, &len) &&
        (v[0] == '"' || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
        return sb_put(b, v, len);
    /* No such field (a line read_jsonl rejected): PATH:LINE. */
    char *s;
    int k = asprintf(&s, "%s:%" PRIu64, rel, lno);
    if (k < 0)
        return -1;
    int rc = sb_jstr(b, s, (size_t)k);
    free(s);
    return rc;
}

/* Whether any member has flag set (every member calls it). */
static int any_member(struct wn_clique *q, int flag, int *any, wn_error_t *err)
{
    int32_t mine = flag != 0, all = 0;
    if (wn_clique_allreduce(q, &mine, &all, 1, WN_TYPE_I32, WN_OP_MAX, err) < 0)
        return -1;
    *any = all != 0;
    return 0;
}

/* The rows of every member's inputs, sorted by id, into *all (*nall).  A
 * member that fails still takes part in each collective, so the others
 * fail with it instead of waiting. */
static int gather_dups(struct wn_clique *q, struct wn_task *const *in, size_t n,
                       struct dup **all, uint64_t *nall, wn_error_t *err)
{
    int bad = 0, any;
    uint64_t mine = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        const struct wn_batch *b = in[i]->batch;
        uint64_t rows = b ? wn_batch_nrows(b) : 0;
        const struct wn_column *cid = rows ? wn_batch_find(b, ID_COL) : NULL;
        const struct wn_column *cg = rows ? wn_batch_find(b, "_duplicate_group_id") : NULL;
        const struct wn_column *ck = rows ? wn_batch_find(b, "_kept") : NULL;
        if (rows && (!cid || cid->type != WN_TYPE_U64 || !cg || cg->type != WN_TYPE_U64 ||
                     !ck || ck->type != WN_TYPE_U8)) {
            errno = EINVAL;
            wn_errprintf(err, "input %zu: expected columns " ID_COL " (u64), "
                         "_duplicate_group_id (u64) and _kept (u8), as identify_duplicates "
                         "makes them", i);
            bad = 1;
        }
        mine += rows;
    }
    if (any_member(q, bad, &any, err) < 0)
        return -1;
    if (any) {
        if (!bad) {
            errno = EIO;
            wn_errprintf(err, "another member of the clique has bad input");
        }
        return -1;
    }
    int size = wn_clique_size(q);
    uint64_t *counts = calloc((size_t)size, sizeof(*counts)), max = 0, total = 0;
    bad = !counts;
    if (any_member(q, bad, &any, err) < 0 || any) {
        free(counts);
        return any ? wn_errprintf(err, "out of memory (on some member)") : -1;
    }
    if (wn_clique_allgather(q, &mine, counts, 1, WN_TYPE_U64, err) < 0) {
        free(counts);
        return -1;
    }
    for (int m = 0; m < size; m++) {
        max = counts[m] > max ? counts[m] : max;
        total += counts[m];
    }
    struct dup *send = calloc(max ? max : 1, sizeof(*send));
    struct dup *recv = calloc(max ? (size_t)size * max : 1, sizeof(*recv));
    int rc = 0;
    if (any_member(q, !send || !recv, &any, err) < 0 || any)
        rc = any ? wn_errprintf(err, "out of memory (on some member)") : -1;
    uint64_t k = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct wn_batch *b = in[i]->batch;
        uint64_t rows = b ? wn_batch_nrows(b) : 0;
        if (!rows)
            continue;
        const uint64_t *id = wn_col_u64(wn_batch_find(b, ID_COL));
        const uint64_t *g = wn_col_u64(wn_batch_find(b, "_duplicate_group_id"));
        const uint8_t *kept = wn_col_u8(wn_batch_find(b, "_kept"));
        for (uint64_t r = 0; r < rows; r++, k++)
            send[k] = (struct dup){id[r], g[r], kept[r]};
    }
    if (rc == 0 && max &&
        wn_clique_allgather(q, send, recv, 3 * max, WN_TYPE_U64, err) < 0)
        rc = -1;
    if (rc == 0) {
        uint64_t at = 0;   /* the padded blocks, compacted */
        for (int m = 0; m < size; m++) {
            memmove(recv + at, recv + (uint64_t)m * max, counts[m] * sizeof(*recv));
            at += counts[m];
        }
        qsort(recv, total, sizeof(*recv), cmp_dup);
        *all = recv;
        *nall = total;
        recv = NULL;
    }
    free(send);
    free(recv);
    free(counts);
    return rc;
}

struct rd_counts {
    uint64_t docs, removed, members;   /* members: documents in a group */
};

/* Copies file f minus its duplicates; its documents in groups go to g. */
static int dedup_file(const struct writer_cfg *c, const struct wn_jl_list *l, uint32_t f,
                      const struct dup *all, uint64_t nall, struct rd_counts *res,
                      struct sbuf *g, struct summary *s, wn_error_t *err)
{
    const struct wn_jl_file *file = &l->files[f];
    const char *rel = wn_jl_relpath(c->input, file->path);
    /* This file's rows: ids from f << 40 on. */
    uint64_t lo = (uint64_t)f << WN_JL_LINE_BITS, a = 0, b = nall;
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        if (all[mid].id < lo)
            a = mid + 1;
        else
            b = mid;
    }
    char *path = out_path(c, file->path, err);
    if (!path)
        return -1;
    struct wn_jl_reader r;
    struct wn_jl_writer w;
    struct rd_counts mine = {0, 0, 0};
    int rc = wn_jl_reader_open(&r, file, err), wopen = 0;
    if (rc == 0 && (rc = wn_jl_writer_open(&w, path, err)) == 0)
        wopen = 1;
    const char *line;
    size_t n;
    int got = 0;
    while (rc == 0 && (got = wn_jl_reader_line(&r, &line, &n, err)) == 1) {
        uint64_t id = lo | r.line;
        const struct dup *d = a < nall && all[a].id == id ? &all[a++] : NULL;
        mine.docs++;
        if (d) {
            char tail[96];
            int k = snprintf(tail, sizeof(tail), ", \"group\": %" PRIu64 ", \"kept\": %s}\n",
                             d->group, d->kept ? "true" : "false");
            mine.members++;
            if (sb_put(g, "{\"id\": ", 7) < 0 || sb_doc_id(g, c, rel, r.line, line, n) < 0 ||
                sb_put(g, tail, (size_t)k) < 0) {
                rc = wn_errprintf(err, "out of memory");
                break;
            }
            if (!d->kept) {
                mine.removed++;
                continue;
            }
        }
        if (wn_jl_writer_write(&w, line, n, err) < 0 || wn_jl_writer_write(&w, "\n", 1, err) < 0)
            rc = -1;
    }
    if (rc == 0 && got < 0)
        rc = -1;
    if (rc == 0 && a < nall && all[a].id >> WN_JL_LINE_BITS == f) {
        errno = EINVAL;
        rc = wn_errprintf(err, "%s: document id of line %" PRIu64 " but the file has %" PRIu64
                          " lines: not the input read_jsonl read",
                          file->path, all[a].id & WN_JL_MAX_LINE, r.line);
    }
    if (rc == 0)
        rc = wn_jl_writer_commit(&w, err);
    else if (wopen)
        wn_jl_writer_abort(&w);
    if (rc == 0)
        rc = summary_add(s, path, mine.docs, mine.removed, err);
    wn_jl_reader_close(&r);
    free(path);
    res->docs += mine.docs;
    res->removed += mine.removed;
    res->members += mine.members;
    return rc;
}

/* Member 0 writes the groups file: every member's part, in member order
 * (members copy contiguous blocks of files, so that is id order). */
static int write_groups(struct wn_clique *q, const struct writer_cfg *c, const struct sbuf *g,
                        int failed, wn_error_t *err)
{
    int any;
    if (any_member(q, failed, &any, err) < 0)
        return -1;
    if (any)
        return failed ? -1 : wn_errprintf(err, "another member of the clique failed");
    if (!*c->groups)
        return 0;
    int size = wn_clique_size(q), me = wn_clique_rank(q);
    uint64_t len = g->len, *lens = calloc((size_t)size, sizeof(*lens)), max = 0;
    if (any_member(q, !lens, &any, err) < 0 || any) {
        free(lens);
        return any ? wn_errprintf(err, "out of memory (on some member)") : -1;
    }
    int rc = wn_clique_allgather(q, &len, lens, 1, WN_TYPE_U64, err);
    for (int m = 0; m < size; m++)
        max = lens[m] > max ? lens[m] : max;
    char *send = calloc(max ? max : 1, 1), *recv = calloc(max ? (size_t)size * max : 1, 1);
    if (rc == 0 && (any_member(q, !send || !recv, &any, err) < 0 || any))
        rc = any ? wn_errprintf(err, "out of memory (on some member)") : -1;
    if (rc == 0 && max) {
        if (g->len)
            memcpy(send, g->p, g->len);
        rc = wn_clique_allgather(q, send, recv, max, WN_TYPE_U8, err);
    }
    int wrc = 0;
    if (rc == 0 && me == 0) {
        struct wn_jl_writer w;
        wrc = wn_jl_writer_open(&w, c->groups, err);
        for (int m = 0; m < size && wrc == 0; m++)
            wrc = wn_jl_writer_write(&w, recv + (uint64_t)m * max, lens[m], err);
        if (wrc == 0)
            wrc = wn_jl_writer_commit(&w, err);
        else
            wn_jl_writer_abort(&w);
    }
    free(send);
    free(recv);
    free(lens);
    return rc < 0 || wrc < 0 ? -1 : 0;
}

static int rd_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    struct rd *r = wn_stage_data(st);
    const struct writer_cfg *c = r->cfg;
    struct wn_clique *q = r->clique;
    struct dup *all = NULL;
    uint64_t nall = 0;
    if (gather_dups(q, in, n, &all, &nall, err) < 0)
        return -1;
    const struct wn_jl_list *lp = &c->list;
    struct sbuf g = {0};
    struct summary s = {0};
    struct rd_counts cnt = {0, 0, 0};
    int rc = summary_new(&s, 1, err);
    if (rc == 0) {
        /* A contiguous block of the files per member. */
        uint64_t size = (uint64_t)wn_clique_size(q), me = (uint64_t)wn_clique_rank(q);
        uint64_t first = lp->n * me / size, end = lp->n * (me + 1) / size;
        for (uint64_t f = first; f < end && rc == 0; f++)
            rc = dedup_file(c, lp, (uint32_t)f, all, nall, &cnt, &g, &s, err);
    }
    if (write_groups(q, c, &g, rc < 0, err) < 0)
        rc = -1;
    uint64_t local[4] = {cnt.docs, cnt.removed, cnt.members, lp->n}, total[4];
    if (rc == 0 && wn_clique_allreduce(q, local, total, 3, WN_TYPE_U64, WN_OP_SUM, err) < 0)
        rc = -1;
    if (rc == 0 && wn_clique_rank(q) == 0) {
        uint64_t groups = 0;
        for (uint64_t i = 0; i < nall; i++)
            groups += all[i].kept != 0;
        wn_stage_log(st, WN_LOG_INFO, "%" PRIu64 " documents in %" PRIu64 " files, %" PRIu64
                     " of them in %" PRIu64 " duplicate groups, %" PRIu64 " removed; kept %"
                     PRIu64 " in %s%s%s", total[0], local[3], total[2], groups, total[1],
                     total[0] - total[1], c->output, *c->groups ? ", groups in " : "",
                     c->groups);
    }
    if (rc == 0)
        rc = wn_task_list_push_batch(out, s.b, err);
    else
        wn_batch_destroy(s.b);
    free(g.p);
    free(all);
    return rc;
}

static const struct wn_param_spec rd_params[] = {
    {"input", WN_PARAM_STRING, "${input}", "read_jsonl's input: the files to copy"},
    {"output", WN_PARAM_STRING, NULL, "directory the deduplicated files are written to"},
    {"groups", WN_PARAM_STRING, "",
     "file of the duplicate groups, one JSON line per document in one; empty: none"},
    {"id_field", WN_PARAM_STRING, "${id_field}",
     "field giving a document's id in the groups file (default: the pipeline's); empty: "
     "PATH:LINE"},
    WN_PARAM_END
};

const struct wn_stage_ops wn_stage_remove_duplicates_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "remove_duplicates",
    .flags = WN_STAGE_ACTOR | WN_STAGE_RAFT,
    .help = "RAFT: copies the input files without the duplicates; writes the groups file",
    .params = rd_params,
    .init = rd_init,
    .setup = rd_setup,
    .process_batch = rd_process,
    .fini = rd_fini,
};
