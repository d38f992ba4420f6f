/* builtin.c - the table of built-in stage types (see builtin.h). */
#include <stddef.h>

#include "builtin.h"

const struct wn_stage_ops *const wn_builtin_stages[] = {
    &wn_stage_read_jsonl_ops,
    &wn_stage_minhash_ops,
    &wn_stage_shuffle_ops,
    &wn_stage_lsh_ops,
    &wn_stage_buckets_to_edges_ops,
    &wn_stage_connected_components_ops,
    &wn_stage_identify_duplicates_ops,
    &wn_stage_exact_duplicates_ops,
    &wn_stage_remove_duplicates_ops,
    &wn_stage_write_jsonl_ops,
    &wn_stage_word_count_ops,
    &wn_stage_mean_word_length_ops,
    &wn_stage_symbols_to_words_ops,
    &wn_stage_non_alphanumeric_ops,
    &wn_stage_urls_ops,
    &wn_stage_repeated_lines_ops,
    &wn_stage_repeated_paragraphs_ops,
    &wn_stage_repeating_top_ngrams_ops,
    &wn_stage_bullets_ops,
    NULL,
};
