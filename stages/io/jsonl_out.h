/* jsonl_out.h - what the two stages that write JSON Lines files laid out
 * like the input share (write_jsonl.c, dedup/remove_duplicates.c): their
 * parameters and the run's listing, the output path of an input file, and
 * the summary rows they emit (one per file written).
 */
#ifndef WN_JSONL_OUT_H
#define WN_JSONL_OUT_H

#include <stdint.h>

#include "io/jsonl_io.h"
#include "winnow/stage.h"

struct wn_jl_out {
    char *input, *output, *groups, *id_field; /* groups, id_field: "" none */
    struct wn_jl_list list;                   /* the run's listing, at init */
};

/* From init: reads the parameters input and output (and, with dedup,
 * groups and id_field), lists the run's input (which read_jsonl made: a
 * document id holds its file's index in it) and declares the outputs.
 * The wn_jl_out is the stage's data from the start, also on failure
 * (wn_jl_out_fini frees it). */
int wn_jl_out_init(struct wn_stage *st, const struct wn_params *params, int dedup, wn_error_t *err);
void wn_jl_out_free(struct wn_jl_out *c); /* NULL is fine */
void wn_jl_out_fini(struct wn_stage *st); /* frees the stage's wn_jl_out */

/* OUTPUT/<path below input>, malloc'd; NULL with err on failure. */
char *wn_jl_out_path(const struct wn_jl_out *c, const char *path, wn_error_t *err);

/* The summary outputs: one row per file written (path, documents, and
 * with_removed: removed). */
struct wn_jl_summary {
    struct wn_batch *b;
    struct wn_column *path, *docs, *removed;
};
int wn_jl_summary_new(struct wn_jl_summary *s, int with_removed, wn_error_t *err);
int wn_jl_summary_add(struct wn_jl_summary *s, const char *path, uint64_t docs, uint64_t removed,
                      wn_error_t *err);

#endif /* WN_JSONL_OUT_H */
