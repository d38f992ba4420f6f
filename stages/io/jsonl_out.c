/* jsonl_out.c - see jsonl_out.h */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/jsonl_out.h"

void wn_jl_out_free(struct wn_jl_out *c)
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

void wn_jl_out_fini(struct wn_stage *st)
{
    wn_jl_out_free(wn_stage_data(st));
}

int wn_jl_out_init(struct wn_stage *st, const struct wn_params *params, int dedup, wn_error_t *err)
{
    struct wn_jl_out *c = calloc(1, sizeof(*c));
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

char *wn_jl_out_path(const struct wn_jl_out *c, const char *path, wn_error_t *err)
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

int wn_jl_summary_new(struct wn_jl_summary *s, int with_removed, wn_error_t *err)
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

int wn_jl_summary_add(struct wn_jl_summary *s, const char *path, uint64_t docs, uint64_t removed,
                      wn_error_t *err)
{
    if (wn_col_append_str(s->path, path, strlen(path), err) < 0 ||
        wn_col_append_u64(s->docs, docs, err) < 0 ||
        (s->removed && wn_col_append_u64(s->removed, removed, err) < 0))
        return -1;
    return 0;
}
