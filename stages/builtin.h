/* builtin.h - the stage types compiled into winnow.
 *
 * The winnow program hands wn_builtin_stages to the registry at start-up
 * (src/stage/registry.c registers each entry),
 * in this order (which is also the order `winnow stages` lists them).  A new
 * built-in stage defines its ops table in a file under stages/ named after
 * its type, declares it here and adds it to the table in builtin.c.  Stages
 * only the tests use are no part of the product: they are a plugin
 * (t/plugins/).
 */
#ifndef WN_BUILTIN_H
#define WN_BUILTIN_H

#include "winnow/stage.h"

/* NULL-terminated. */
extern const struct wn_stage_ops *const wn_builtin_stages[];

/* Shuffle stages. */
extern const struct wn_stage_ops wn_stage_shuffle_ops; /* shuffle.c */
extern const struct wn_stage_ops wn_stage_lsh_ops;     /* dedup/lsh.c */

/* Document stages, each in stages/<folder>/<its type>.c. */
extern const struct wn_stage_ops wn_stage_read_jsonl_ops;
extern const struct wn_stage_ops wn_stage_minhash_ops;
extern const struct wn_stage_ops wn_stage_buckets_to_edges_ops;
extern const struct wn_stage_ops wn_stage_connected_components_ops;
extern const struct wn_stage_ops wn_stage_identify_duplicates_ops;
extern const struct wn_stage_ops wn_stage_exact_duplicates_ops;
extern const struct wn_stage_ops wn_stage_remove_duplicates_ops;
extern const struct wn_stage_ops wn_stage_write_jsonl_ops;
/* Heuristic filters (filters.c), NeMo Curator's parameter names. */
extern const struct wn_stage_ops wn_stage_word_count_ops;
extern const struct wn_stage_ops wn_stage_mean_word_length_ops;
extern const struct wn_stage_ops wn_stage_symbols_to_words_ops;
extern const struct wn_stage_ops wn_stage_non_alphanumeric_ops;
extern const struct wn_stage_ops wn_stage_urls_ops;
extern const struct wn_stage_ops wn_stage_repeated_lines_ops;
extern const struct wn_stage_ops wn_stage_repeated_paragraphs_ops;
extern const struct wn_stage_ops wn_stage_repeating_top_ngrams_ops;
extern const struct wn_stage_ops wn_stage_bullets_ops;
/* minhash.c's seeded MurmurHash3 (x86_32; x64_128 with out[0] = h1,
 * out[1] = h2), for other stages and the known-answer tests. */
uint32_t wn_murmur3_x86_32(const void *key, size_t len, uint32_t seed);
void wn_murmur3_x64_128(const void *key, size_t len, uint32_t seed, uint64_t out[2]);

#endif /* WN_BUILTIN_H */
