/* remove_duplicates.c - a RAFT stage after identify_duplicates (or
 * exact_duplicates): its members share the rows (_curator_dedup_id,
 * _duplicate_group_id, _kept) of every document in a group, then each
 * copies a contiguous block of the input files into OUTPUT, leaving out
 * the lines of documents not kept, and the first member writes `groups`
 * (duplicate_groups.jsonl): one line per document in a group, in id order,
 * {"id": ID, "group": G, "kept": true|false}, ID being the document's
 * id_field value exactly as written in its line (a JSON string or number)
 * or "PATH:LINE" (PATH below input), G the group's smallest
 * _curator_dedup_id.
 * Lines read_jsonl rejected are copied too: they are no duplicate of
 * anything (and are in its rejects file).  Outputs, per file: path,
 * documents, removed.
 *
 * Like write_jsonl it reads the run's input listing and declares its
 * outputs (io/jsonl_out.h), and writes every file under a temporary name
 * renamed into place after an fsync, each line ending with '\n'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "io/jsonl_io.h"
#include "io/jsonl_out.h"

#define ID_COL "_curator_dedup_id"

struct dup {
    uint64_t id, group, kept;
};

static int cmp_dup(const void *a, const void *b)
{
    uint64_t x = ((const struct dup *)a)->id, y = ((const struct dup *)b)->id;
    return x < y ? -1 : x > y;
}

struct rd {
    struct wn_jl_out *cfg;
    struct wn_clique *clique;
};

static void rd_fini(struct wn_stage *st)
{
    struct rd *r = wn_stage_data(st);
    if (r) {
        wn_jl_out_free(r->cfg);
        free(r);
    }
}

static int rd_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct rd *r = calloc(1, sizeof(*r));
    if (!r)
        return wn_errprintf(err, "out of memory");
    int rc = wn_jl_out_init(st, params, 1, err);
    r->cfg = wn_stage_data(st);
    wn_stage_set_data(st, r);
    /* It reads the documents from the input files again, not from its
     * input tasks, which carry only the groups. */
    const char *reads[] = {ID_COL, "_duplicate_group_id", "_kept", NULL},
               *writes[] = {"path", "documents", "removed", NULL};
    if (rc == 0 && wn_stage_set_columns(st, reads, writes, 0, err) < 0)
        rc = -1;
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

/* s (n bytes) as a JSON string (wn_json_quote's rule). */
static int sb_jstr(struct sbuf *b, const char *s, size_t n)
{
    char *q = wn_json_quote(s, n);
    if (!q)
        return -1;
    int rc = sb_put(b, q, strlen(q));
    free(q);
    return rc;
}

/* The document's id for the groups file: its id_field value as written
 * in the line (a string or a number, its JSON text unchanged: ids are
 * kept exactly, however large or precise), else "PATH:LINE". */
static int sb_doc_id(struct sbuf *b, const struct wn_jl_out *c, const char *rel, uint64_t lno,
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
static int gather_dups(struct wn_clique *q, struct wn_task *const *in, size_t n, struct dup **all,
                       uint64_t *nall, wn_error_t *err)
{
    int bad = 0, any;
    uint64_t mine = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        const struct wn_batch *b = in[i]->batch;
        uint64_t rows = b ? wn_batch_nrows(b) : 0;
        const struct wn_column *cid = rows ? wn_batch_find(b, ID_COL) : NULL;
        const struct wn_column *cg = rows ? wn_batch_find(b, "_duplicate_group_id") : NULL;
        const struct wn_column *ck = rows ? wn_batch_find(b, "_kept") : NULL;
        if (rows && (!cid || cid->type != WN_TYPE_U64 || !cg || cg->type != WN_TYPE_U64 || !ck ||
                     ck->type != WN_TYPE_U8)) {
            errno = EINVAL;
            wn_errprintf(err,
                         "input %zu: expected columns " ID_COL " (u64), "
                         "_duplicate_group_id (u64) and _kept (u8), as identify_duplicates "
                         "makes them",
                         i);
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
    if (rc == 0 && max && wn_clique_allgather(q, send, recv, 3 * max, WN_TYPE_U64, err) < 0)
        rc = -1;
    if (rc == 0) {
        uint64_t at = 0; /* the padded blocks, compacted */
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
    uint64_t docs, removed, members; /* members: documents in a group */
};

/* Copies file f minus its duplicates; its documents in groups go to g. */
static int dedup_file(const struct wn_jl_out *c, const struct wn_jl_list *l, uint32_t f,
                      const struct dup *all, uint64_t nall, struct rd_counts *res, struct sbuf *g,
                      struct wn_jl_summary *s, wn_error_t *err)
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
    char *path = wn_jl_out_path(c, file->path, err);
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
        rc = wn_errprintf(err,
                          "%s: document id of line %" PRIu64 " but the file has %" PRIu64
                          " lines: not the input read_jsonl read",
                          file->path, all[a].id & WN_JL_MAX_LINE, r.line);
    }
    if (rc == 0)
        rc = wn_jl_writer_commit(&w, err);
    else if (wopen)
        wn_jl_writer_abort(&w);
    if (rc == 0)
        rc = wn_jl_summary_add(s, path, mine.docs, mine.removed, err);
    wn_jl_reader_close(&r);
    free(path);
    res->docs += mine.docs;
    res->removed += mine.removed;
    res->members += mine.members;
    return rc;
}

/* Member 0 writes the groups file: every member's part, in member order
 * (members copy contiguous blocks of files, so that is id order). */
static int write_groups(struct wn_clique *q, const struct wn_jl_out *c, const struct sbuf *g,
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
    const struct wn_jl_out *c = r->cfg;
    struct wn_clique *q = r->clique;
    struct dup *all = NULL;
    uint64_t nall = 0;
    if (gather_dups(q, in, n, &all, &nall, err) < 0)
        return -1;
    const struct wn_jl_list *lp = &c->list;
    struct sbuf g = {0};
    struct wn_jl_summary s = {0};
    struct rd_counts cnt = {0, 0, 0};
    int rc = wn_jl_summary_new(&s, 1, err);
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
        wn_stage_log(st, WN_LOG_INFO,
                     "%" PRIu64 " documents in %" PRIu64 " files, %" PRIu64 " of them in %" PRIu64
                     " duplicate groups, %" PRIu64 " removed; kept %" PRIu64 " in %s%s%s",
                     total[0], local[3], total[2], groups, total[1], total[0] - total[1], c->output,
                     *c->groups ? ", groups in " : "", c->groups);
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
    WN_PARAM_END};

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
