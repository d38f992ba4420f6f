/* write_jsonl.c - documents written back out as JSON Lines, each kept line
 * byte for byte as read_jsonl read it, in files laid out like the input:
 * the writer after filters.  The rows of each task (their _raw lines) go
 * into OUTPUT/<the input file's path below input>.  A task's files are
 * those of its metadata "files" (read_jsonl's "FIRST COUNT"), so a file
 * all of whose documents were dropped is still written, empty; without
 * it, the files its rows name.  A task must hold whole files (read_jsonl's
 * tasks, filtered, do), with each file's rows together.  Outputs, per
 * file: path, documents.
 *
 * It reads the run's input listing, which read_jsonl made (a document id
 * holds its file's index in it; the runner refuses a stage whose input
 * lists other files), and declares its outputs, which the runner keeps
 * out of the input's folders (io/jsonl_out.h).
 * Every file is written under a temporary name and renamed into place
 * after an fsync, so an interrupted run leaves whole files only, and a
 * resumed one rewrites the same bytes.  Every line ends with '\n' (a last
 * line without one gets it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "io/jsonl_io.h"
#include "io/jsonl_out.h"

static int wj_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    const char *reads[] = {"_file", "_raw", NULL}, *writes[] = {"path", "documents", NULL};
    if (wn_jl_out_init(st, params, 0, err) < 0)
        return -1;
    return wn_stage_set_columns(st, reads, writes, 0, err);
}

/* Writes rows [*row, ...) of file f (all its rows, which are together) to
 * its output file; advances *row. */
static int write_file(const struct wn_jl_out *c, const struct wn_jl_list *l, uint32_t f,
                      const struct wn_column *file, const struct wn_column *raw, uint64_t *row,
                      struct wn_jl_summary *s, wn_error_t *err)
{
    char *path = wn_jl_out_path(c, l->files[f].path, err);
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
        rc = wn_jl_summary_add(s, path, docs, 0, err);
    free(path);
    return rc;
}

static int wj_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    struct wn_jl_out *c = wn_stage_data(st);
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
            rc = wn_errprintf(err,
                              "input %zu: expected columns _file (u32) and _raw (str), "
                              "as read_jsonl makes them",
                              i);
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
            rc = wn_errprintf(err,
                              "input %zu: rows of file %llu..%llu but '%s' lists %zu "
                              "files (not read_jsonl's input?)",
                              i, first, first + count - 1, c->input, lp->n);
            break;
        }
        struct wn_jl_summary s;
        if ((rc = wn_jl_summary_new(&s, 0, err)) < 0)
            break;
        uint64_t row = 0;
        for (unsigned long long f = first; f < first + count && rc == 0; f++) {
            if (row < nrows && wn_col_u32(file)[row] < f) {
                rc = wn_errprintf(err,
                                  "input %zu row %llu: rows of file %u are not "
                                  "together",
                                  i, (unsigned long long)row, wn_col_u32(file)[row]);
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
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_write_jsonl_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "write_jsonl",
    .help = "writes the documents (their lines as read) into files laid out like the input",
    .params = wj_params,
    .init = wj_init,
    .process_batch = wj_process,
    .fini = wn_jl_out_fini,
};
