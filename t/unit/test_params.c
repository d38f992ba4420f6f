/* test_params.c - a parameter value a stage refuses is reported with
 * where it came from: the range getters and wn_params_refuse
 * (src/config/params.c), every refusal in the built-in stages' init, the
 * runner's placing of other init errors (src/stage/registry.c), and the
 * bound on a shuffle stage's partitions over all its rounds. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <unistd.h>

#include "config/config.h"
#include "exec/plan.h"
#include "builtin.h"
#include "stage/rejects.h"
#include "stage/stage_impl.h"
#include "tap.h"
#include "winnow/params.h"

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ---------------------------------------------------------- getters -- */

static void expect_text(int rc, int eno, const wn_error_t *err, const char *want, const char *name)
{
    if (!ok(rc < 0 && errno == eno && !strcmp(err->text, want), "%s", name))
        diag("  got (errno %d): %s\n#  want (errno %d): %s", errno, err->text, eno, want);
}

static void test_getters(void)
{
    static const struct wn_param_spec spec[] = {
        {"n", WN_PARAM_INT, "5", "a count"},
        {"x", WN_PARAM_DOUBLE, "0.5", "a share"},
        {"s", WN_PARAM_STRING, "a", "a choice"},
        WN_PARAM_END,
    };
    struct wn_params *p = wn_params_create("p.yaml:3:5");
    wn_error_t err = {{0}};
    if (!p || wn_params_set(p, "n", "0", "p.yaml:4:7", 0, &err) < 0 ||
        wn_params_set(p, "x", "1.5", "--set stages.st.x=1.5", 0, &err) < 0 ||
        wn_params_validate(p, spec, "st", &err) < 0)
        BAIL_OUT("params: %s", err.text);
    long long n = -1;
    double x = -1;

    ok(wn_params_int_range(p, "n", 0, 10, &n, &err) == 0 && n == 0, "int in range: read");
    errno = 0;
    expect_text(wn_params_int_range(p, "n", 1, 10, &n, &err), ERANGE, &err,
                "p.yaml:4:7: stage 'st': parameter 'n': must be from 1 to 10, got 0",
                "int below the range: ERANGE, the key's FILE:LINE:COL and the stage");
    expect_text(wn_params_int_range(p, "n", 1, LLONG_MAX, &n, &err), ERANGE, &err,
                "p.yaml:4:7: stage 'st': parameter 'n': must be >= 1, got 0",
                "int, no upper bound: '>= 1'");
    expect_text(wn_params_int_range(p, "n", LLONG_MIN, -1, &n, &err), ERANGE, &err,
                "p.yaml:4:7: stage 'st': parameter 'n': must be <= -1, got 0",
                "int, no lower bound: '<= -1'");
    ok(n == 0, "a refused value is not stored");

    expect_text(wn_params_double_range(p, "x", 0, 1, 0, &x, &err), ERANGE, &err,
                "--set stages.st.x=1.5: stage 'st': parameter 'x': must be from 0 to 1, got 1.5",
                "double above [0, 1]: the --set that gave it");
    expect_text(wn_params_double_range(p, "x", 0, 1, WN_RANGE_EXCL_MIN, &x, &err), ERANGE, &err,
                "--set stages.st.x=1.5: stage 'st': parameter 'x': must be > 0 and <= 1, got 1.5",
                "exclusive lower bound");
    expect_text(wn_params_double_range(p, "x", 0.1, 1.5, WN_RANGE_EXCL_MAX, &x, &err), ERANGE, &err,
                "--set stages.st.x=1.5: stage 'st': parameter 'x': must be >= 0.1 and < "
                "1.5, got 1.5",
                "exclusive upper bound, 0.1 written as 0.1");
    expect_text(wn_params_double_range(p, "x", 2, INFINITY, 0, &x, &err), ERANGE, &err,
                "--set stages.st.x=1.5: stage 'st': parameter 'x': must be >= 2, got 1.5",
                "no upper bound");
    ok(wn_params_double_range(p, "x", 1.5, 1.5, 0, &x, &err) == 0 && x == 1.5,
       "inclusive bounds include the value");

    expect_text(wn_params_refuse(p, "s", &err, "'%s' (b or c)", wn_params_str(p, "s")), EINVAL,
                &err, "p.yaml:3:5: stage 'st': parameter 's' (default): 'a' (b or c)",
                "a default is placed at the stage's entry and called the default");
    expect_text(wn_params_int_range(p, "s", 0, 1, &n, &err), EINVAL, &err,
                "p.yaml:3:5: stage 'st': parameter 's' (default): expected an integer, got 'a'",
                "a value of another type: EINVAL, same form");
    errno = 0;
    ok(wn_params_int_range(p, "none", 0, 1, &n, &err) < 0 && errno == ENOENT,
       "an absent key: ENOENT");
    wn_params_destroy(p);

    /* Made by the C API: no place, no stage yet. */
    struct wn_params *q = wn_params_create(NULL);
    if (!q || wn_params_set(q, "n", "7", NULL, 0, &err) < 0)
        BAIL_OUT("params: %s", err.text);
    expect_text(wn_params_int_range(q, "n", 0, 5, &n, &err), ERANGE, &err,
                "parameter 'n': must be from 0 to 5, got 7", "without a place or a stage");
    struct wn_params *c = wn_params_clone(q);
    ok(c && wn_params_validate(c, spec, "cl", &err) == 0 &&
           wn_params_int_range(c, "n", 0, 5, &n, &err) < 0 &&
           !strcmp(err.text, "stage 'cl': parameter 'n': must be from 0 to 5, got 7"),
       "validation names the stage for later messages");
    struct wn_params *c2 = c ? wn_params_clone(c) : NULL;
    ok(c2 && wn_params_int_range(c2, "n", 0, 5, &n, &err) < 0 && contains(err.text, "stage 'cl'"),
       "a clone keeps the stage's name");
    wn_params_destroy(c2);
    wn_params_destroy(c);
    wn_params_destroy(q);
}

/* ------------------------------------------------------ stage inits -- */

/* Loads "name: t\nstages:\n" + stages, applies set (may be NULL), creates
 * and inits every stage in order as `winnow run` does; 0 or -1 with err. */
static int make_pipeline(const char *stages, const char *set, wn_error_t *err)
{
    char text[4096];
    snprintf(text, sizeof(text), "name: t\nstages:\n%s", stages);
    struct wn_pipeline_config *cfg = NULL;
    if (wn_config_load_string(text, "t.yaml", &cfg, err) < 0)
        return -1;
    int rc = set ? wn_config_override(cfg, set, err) : 0;
    struct wn_stage *st[8] = {NULL};
    for (size_t i = 0; rc == 0 && i < cfg->nstages && i < 8; i++) {
        if (!(st[i] = wn_stage_create(&cfg->stages[i], (uint32_t)i, err))) {
            rc = -1;
            break;
        }
        st[i]->pipeline = cfg;
    }
    if (rc == 0)
        rc = wn_config_expand(cfg, err);
    for (size_t i = 0; rc == 0 && i < cfg->nstages && i < 8; i++)
        rc = wn_stage_init(st[i], err);
    for (size_t i = 0; i < 8; i++)
        wn_stage_destroy(st[i]);
    wn_config_free(cfg);
    return rc;
}

/* The test stages are a plugin (t/plugins/), named as a user names a
 * plugin's types; t/lib/tap.sh puts it on LD_LIBRARY_PATH. */
#define TS "teststages.so:"

/* Each refusal of a built-in stage's init: the pipeline (stage lines
 * from line 3), an optional --set, where the message must start, and
 * what it must say after it. */
static const struct {
    const char *stages, *set, *at, *says;
} refusals[] = {
    /* minhash */
    {"  - {name: mh, type: minhash, params: {char_ngrams: 0}}\n", NULL, "t.yaml:3:40",
     "stage 'mh': parameter 'char_ngrams': must be from 1 to 1048576, got 0"},
    {"  - {name: mh, type: minhash, params: {num_bands: 0}}\n", NULL, "t.yaml:3:40",
     "stage 'mh': parameter 'num_bands': must be from 1 to 65536, got 0"},
    {"  - {name: mh, type: minhash, params: {minhashes_per_band: 4097}}\n", NULL, "t.yaml:3:40",
     "parameter 'minhashes_per_band': must be from 1 to 4096, got 4097"},
    {"  - {name: mh, type: minhash, params: {num_bands: 65536, minhashes_per_band: 17}}\n", NULL,
     "t.yaml:3:40", "parameter 'num_bands': num_bands x minhashes_per_band = 65536 x 17"},
    {"  - {name: mh, type: minhash}\n", "stages.mh.seed=-1", "--set stages.mh.seed=-1",
     "stage 'mh': parameter 'seed': must be from 0 to 4294967295, got -1"},
    {"  - {name: mh, type: minhash, params: {seed: 4294967296}}\n", NULL, "t.yaml:3:40",
     "parameter 'seed': must be from 0 to 4294967295, got 4294967296"},
    {"  - {name: mh, type: minhash, params: {algorithm: two}}\n", NULL, "t.yaml:3:40",
     "parameter 'algorithm': 'two' (permutations or one_permutation)"},
    /* lsh, alone and after a minhash */
    {"  - {name: l, type: lsh, params: {num_bands: 70000}}\n", NULL, "t.yaml:3:35",
     "stage 'l': parameter 'num_bands': must be from 1 to 65536, got 70000"},
    {"  - {name: l, type: lsh, params: {minhashes_per_band: 0}}\n", NULL, "t.yaml:3:35",
     "parameter 'minhashes_per_band': must be from 1 to 4096, got 0"},
    {"  - {name: l, type: lsh, params: {bands_per_iteration: 0}}\n", NULL, "t.yaml:3:35",
     "parameter 'bands_per_iteration': must be from 1 to num_bands (20), got 0"},
    {"  - {name: l, type: lsh}\n", "stages.l.bands_per_iteration=30",
     "--set stages.l.bands_per_iteration=30",
     "parameter 'bands_per_iteration': must be from 1 to num_bands (20), got 30"},
    {"  - {name: l, type: lsh, params: {keep_signatures: maybe}}\n", NULL, "t.yaml:3:35",
     "parameter 'keep_signatures': 'maybe' (auto, true or false)"},
    {"  - {name: mh, type: minhash, params: {num_bands: 8, minhashes_per_band: 4}}\n"
     "  - {name: l, type: lsh, params: {num_bands: 20}}\n",
     NULL, "t.yaml:4:35", "parameter 'num_bands': 'num_bands' x 'minhashes_per_band': 20 x 4 = 80"},
    {"  - {name: l, type: lsh, total_nparts: 1048576}\n", NULL, "t.yaml:3:5",
     "stage 'l': total_nparts 1048576 x 4 rounds = 4194304 partitions (at most 1048576"},
    /* lsh_testdata */
    {"  - {name: d, type: " TS "lsh_testdata, params: {tasks: 0}}\n", NULL, "t.yaml:3:58",
     "parameter 'tasks': must be from 1 to 16777216, got 0"},
    {"  - {name: d, type: " TS "lsh_testdata, params: {rows: -1}}\n", NULL, "t.yaml:3:58",
     "parameter 'rows': must be from 0 to 1048576, got -1"},
    {"  - {name: d, type: " TS "lsh_testdata, params: {band_len: 5000}}\n", NULL, "t.yaml:3:58",
     "parameter 'band_len': must be from 1 to 4096, got 5000"},
    {"  - {name: d, type: " TS "lsh_testdata, params: {rows: 1048576, length: 1024}}\n", NULL,
     "t.yaml:3:58", "parameter 'rows': 1048576 x length 1024 = 1073741824 values per task"},
    {"  - {name: d, type: " TS "lsh_testdata, params: {length: 250}}\n", NULL, "t.yaml:3:58",
     "parameter 'length': 250 is not a multiple of band_len (13)"},
    {"  - {name: d, type: " TS "lsh_testdata, params: {near_bands: 21}}\n", NULL, "t.yaml:3:58",
     "parameter 'near_bands': 21 is more than the 20 bands"},
    /* shuffle, buckets_to_edges, connected_components */
    {"  - {name: s, type: shuffle, params: {key: \"\"}}\n", NULL, "t.yaml:3:39",
     "stage 's': parameter 'key': empty (name the column to partition by)"},
    {"  - {name: e, type: buckets_to_edges, params: {jaccard_threshold: 1.5}}\n", NULL,
     "t.yaml:3:48", "parameter 'jaccard_threshold': must be from 0 to 1, got 1.5"},
    {"  - {name: e, type: buckets_to_edges, params: {jaccard_threshold: -0.1}}\n", NULL,
     "t.yaml:3:48", "parameter 'jaccard_threshold': must be from 0 to 1, got -0.1"},
    {"  - {name: e, type: buckets_to_edges, params: {id_field: "
     "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12}}\n",
     NULL, "t.yaml:3:48", "parameter 'id_field': 'abcdefghij"},
    {"  - {name: c, type: connected_components, params: {id_field: "
     "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12}}\n",
     NULL, "t.yaml:3:52", "parameter 'id_field': 'abcdefghij"},
    /* the filters */
    {"  - {name: w, type: word_count, params: {min_words: -1}}\n", NULL, "t.yaml:3:42",
     "parameter 'min_words': must be >= 0, got -1"},
    {"  - {name: w, type: word_count, params: {min_words: 10, max_words: 9}}\n", NULL,
     "t.yaml:3:42", "parameter 'min_words': 10 is above 'max_words' (9)"},
    {"  - {name: m, type: mean_word_length, params: {max_mean_word_length: 2}}\n", NULL,
     "t.yaml:3:48",
     "stage 'm': parameter 'max_mean_word_length': 2 is below "
     "'min_mean_word_length' (3)"},
    {"  - {name: f, type: symbols_to_words, params: {max_symbol_to_word_ratio: 1.5}}\n", NULL,
     "t.yaml:3:48", "parameter 'max_symbol_to_word_ratio': must be from 0 to 1, got 1.5"},
    {"  - {name: f, type: non_alphanumeric, params: "
     "{max_non_alpha_numeric_to_text_ratio: -1}}\n",
     NULL, "t.yaml:3:48",
     "parameter 'max_non_alpha_numeric_to_text_ratio': must be from 0 to 1, got -1"},
    {"  - {name: f, type: urls, params: {max_url_to_text_ratio: 20}}\n", NULL, "t.yaml:3:36",
     "parameter 'max_url_to_text_ratio': must be from 0 to 1, got 20"},
    {"  - {name: f, type: repeated_lines, params: {max_repeated_line_fraction: 1.1}}\n", NULL,
     "t.yaml:3:46", "parameter 'max_repeated_line_fraction': must be from 0 to 1, got 1.1"},
    {"  - {name: f, type: repeated_paragraphs, params: {max_repeated_paragraphs_ratio: -1}}\n",
     NULL, "t.yaml:3:51", "parameter 'max_repeated_paragraphs_ratio': must be from 0 to 1"},
    {"  - {name: f, type: bullets, params: {max_bullet_lines_ratio: 1.01}}\n", NULL, "t.yaml:3:39",
     "parameter 'max_bullet_lines_ratio': must be from 0 to 1, got 1.01"},
    {"  - {name: f, type: repeating_top_ngrams, params: {n: 0}}\n", NULL, "t.yaml:3:52",
     "parameter 'n': must be >= 1, got 0"},
    {"  - {name: f, type: repeating_top_ngrams}\n", "stages.f.max_repeating_ngram_ratio=5",
     "--set stages.f.max_repeating_ngram_ratio=5",
     "parameter 'max_repeating_ngram_ratio': must be from 0 to 1, got 5"},
    /* readers and writers */
    {"  - {name: r, type: read_jsonl, params: {input: x, blocksize: 0}}\n", NULL, "t.yaml:3:52",
     "stage 'r': parameter 'blocksize': must be >= 1, got 0"},
    {"  - {name: r, type: read_jsonl, params: {input: \"\"}}\n", NULL, "t.yaml:3:42",
     "stage 'r': parameter 'input': empty"},
    {"  - {name: w, type: write_jsonl, params: {input: x, output: \"\"}}\n", NULL, "t.yaml:3:53",
     "stage 'w': parameter 'output': empty (the directory to write)"},
    {"  - {name: w, type: write_jsonl, params: {input: \"\", output: o}}\n", NULL, "t.yaml:3:43",
     "stage 'w': parameter 'input': empty (give read_jsonl's input)"},
    {"  - {name: rd, type: remove_duplicates, params: {input: x, output: \"\"}}\n", NULL,
     "t.yaml:3:60", "stage 'rd': parameter 'output': empty"},
    /* the test stages */
    {"  - {name: s, type: " TS "sleep, params: {ms_per_item: -1}}\n", NULL, "t.yaml:3:51",
     "parameter 'ms_per_item': must be >= 0, got -1"},
    {"  - {name: s, type: " TS "sleep}\n", "stages.s.ms_per_task=-0.5",
     "--set stages.s.ms_per_task=-0.5", "parameter 'ms_per_task': must be >= 0, got -0.5"},
    {"  - {name: f, type: " TS "fail, params: {failures: -1}}\n", NULL, "t.yaml:3:50",
     "parameter 'failures': must be from 0 to 1000000, got -1"},
    {"  - {name: f, type: " TS "fail, params: {every: 0}}\n", NULL, "t.yaml:3:50",
     "parameter 'every': must be >= 1, got 0"},
    {"  - {name: f, type: " TS "fail, params: {mode: boom}}\n", NULL, "t.yaml:3:50",
     "parameter 'mode': must be error, crash or exit, got 'boom'"},
    {"  - {name: g, type: " TS "fanout, params: {tasks: 0}}\n", NULL, "t.yaml:3:52",
     "parameter 'tasks': must be from 1 to 1048576, got 0"},
    {"  - {name: g, type: " TS "fanout, params: {rows: 16777217}}\n", NULL, "t.yaml:3:52",
     "parameter 'rows': must be from 0 to 16777216, got 16777217"},
    {"  - {name: g, type: " TS "fanout}\n"
     "  - {name: s, type: " TS "sum, params: {column: \"\"}}\n",
     NULL, "t.yaml:4:49", "stage 's': parameter 'column': must name a column"},
};

static void test_refusals(void)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        wn_error_t err = {{0}};
        char want[512];
        snprintf(want, sizeof(want), "%s: ", refusals[i].at);
        int rc = make_pipeline(refusals[i].stages, refusals[i].set, &err);
        const char *rest = err.text + strlen(want);
        int good = rc < 0 && !strncmp(err.text, want, strlen(want)) &&
                   strlen(err.text) >= strlen(want) && !strncmp(rest, "stage '", 7) &&
                   contains(rest, refusals[i].says);
        if (!ok(good, "#%zu %s%s", i, want, refusals[i].says))
            diag("  got: %s", err.text);
    }
}

/* What is not a parameter's value is placed at the stage's entry. */
static void test_other_init_errors(void)
{
    wn_error_t err = {{0}};
    int rc = make_pipeline("  - {name: r, type: read_jsonl, params: {input: /nonexistent/x}}\n",
                           NULL, &err);
    ok(rc < 0 && !strncmp(err.text, "t.yaml:3:5: stage 'r' (read_jsonl): init: ", 42),
       "an input that lists no file: the stage's FILE:LINE:COL, its name and type");
    if (rc == 0 || strncmp(err.text, "t.yaml:3:5:", 11))
        diag("  got: %s", err.text);
    rc = make_pipeline("  - {name: w, type: write_jsonl, params: {output: o}}\n", NULL, &err);
    ok(rc < 0 && !strcmp(err.text,
                         "t.yaml:3:5: stage 'w': parameter 'input' (default) uses "
                         "${input}, which this pipeline does not set (set 'input' in the file or "
                         "with --set input=...)"),
       "a default naming an unset variable: placed at the stage's entry");
    if (rc == 0 || strncmp(err.text, "t.yaml:3:5:", 11))
        diag("  got: %s", err.text);
    setenv("WINNOW_MINHASH_ISA", "sse9", 1);
    rc = make_pipeline("  - {name: a, type: " TS "noop}\n  - {name: mh, type: minhash}\n", NULL,
                       &err);
    unsetenv("WINNOW_MINHASH_ISA");
    ok(rc < 0 &&
           !strcmp(err.text, "t.yaml:4:5: stage 'mh' (minhash): init: WINNOW_MINHASH_ISA=sse9: "
                             "expected portable, avx2, avx512 or avx512ifma"),
       "an environment variable: placed at the stage (%s)", err.text);
}

/* The partitions of a shuffle stage: a total_nparts given is checked
 * against its rounds at init; one per input task is held to the bound. */
static void test_nparts(void)
{
    wn_error_t err = {{0}};
    ok(make_pipeline("  - {name: s, type: shuffle, total_nparts: 1048576}\n", NULL, &err) == 0,
       "shuffle: 2^20 partitions in its one round");
    ok(make_pipeline("  - {name: l, type: lsh, total_nparts: 262144}\n", NULL, &err) == 0,
       "lsh: 2^18 partitions x 4 rounds");
    ok(make_pipeline("  - {name: l, type: lsh, total_nparts: 524287}\n", NULL, &err) == 0,
       "lsh: 524287 partitions are 2^18 (a power of two) x 4 rounds");
    ok(make_pipeline("  - {name: l, type: lsh, total_nparts: 524288}\n", NULL, &err) < 0 &&
           contains(err.text, "total_nparts 524288 x 4 rounds = 2097152 partitions"),
       "lsh: 2^19 x 4 rounds refused");
    ok(make_pipeline("  - {name: l, type: lsh, total_nparts: 8}\n",
                     "stages.l.bands_per_iteration=1", &err) == 0,
       "lsh: 8 x 20 rounds");

    struct wn_pipeline_config *cfg = NULL;
    if (wn_config_load_string("name: t\nstages:\n  - {name: s, type: shuffle}\n"
                              "  - {name: l, type: lsh, params: {bands_per_iteration: 1}}\n",
                              "t.yaml", &cfg, &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_stage *s = wn_stage_create(&cfg->stages[0], 0, &err);
    struct wn_stage *l = wn_stage_create(&cfg->stages[1], 1, &err);
    if (!s || !l || wn_stage_init(s, &err) < 0 || wn_stage_init(l, &err) < 0)
        BAIL_OUT("%s", err.text);
    cmp_ok(wn_stage_nparts(s, 5, 0), ==, 5, "one partition per input task");
    cmp_ok(wn_stage_nparts(s, (uint64_t)1 << 30, 0), ==, WN_MAX_STAGE_BATCHES,
           "2^30 input tasks: 2^20 partitions");
    cmp_ok(wn_stage_nparts(l, (uint64_t)1 << 30, 0), ==, 32768,
           "lsh, 20 rounds: 2^20 / 20 down to a power of two");
    cmp_ok(wn_stage_nparts(l, 0, 0), ==, 1, "no input: one partition");
    cmp_ok(wn_stage_nparts(s, 5000, 300), ==, 300, "held to what the budget finds enough");
    cmp_ok(wn_stage_nparts(l, 5000, 300), ==, 256, "... lsh: then down to a power of two");
    cmp_ok(wn_stage_nparts(s, 100, 300), ==, 100, "... never more than one per input task");
    wn_stage_destroy(s);
    wn_stage_destroy(l);
    wn_config_free(cfg);
}

/* ----------------------------------------------- streaming segments -- */

/* Which stages run at once in streaming mode, which are in task mode,
 * and how many batches a rank runs at once. */
static void test_segments(void)
{
    wn_error_t err = {{0}};
    struct wn_pipeline_config *cfg = NULL;
    if (wn_config_load_string("name: t\nstages:\n"
                              "  - {name: r, type: read_jsonl, params: {input: /tmp}}\n"
                              "  - {name: w, type: word_count, batch_size: 2}\n"
                              "  - {name: m, type: minhash, resources: {cpus: 0.25}}\n"
                              "  - {name: l, type: lsh}\n"
                              "  - {name: b, type: buckets_to_edges}\n"
                              "  - {name: i, type: identify_duplicates}\n"
                              "  - {name: u, type: urls}\n"
                              "  - {name: n, type: bullets, num_output_tasks: 3}\n",
                              "t.yaml", &cfg, &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_stage *st[8] = {NULL};
    for (uint32_t k = 0; k < cfg->nstages; k++)
        if (!(st[k] = wn_stage_create(&cfg->stages[k], k, &err)))
            BAIL_OUT("%s", err.text);
    uint32_t n = (uint32_t)cfg->nstages;
    cmp_ok(wn_plan_segment_end(st, n, 0, 1), ==, 3, "read, word_count, minhash: one segment");
    cmp_ok(wn_plan_segment_end(st, n, 3, 1), ==, 4, "a shuffle alone");
    cmp_ok(wn_plan_segment_end(st, n, 4, 1), ==, 5, "... and the next");
    cmp_ok(wn_plan_segment_end(st, n, 5, 1), ==, 7, "after a barrier: identify, urls");
    cmp_ok(wn_plan_segment_end(st, n, 7, 1), ==, 8, "num_output_tasks starts its own");
    cmp_ok(wn_plan_segment_end(st, n, 0, 0), ==, 1, "bulk: every stage alone");
    cmp_ok(wn_plan_longest_segment(st, n, 1), ==, 3, "the longest segment");
    cmp_ok(wn_plan_longest_segment(st, n, 0), ==, 1, "... in bulk mode: 1");
    ok(wn_stage_task_mode(st[0]) && wn_stage_task_mode(st[1]) && wn_stage_task_mode(st[6]),
       "read_jsonl and the filters run in task mode");
    ok(!wn_stage_task_mode(st[2]) && !wn_stage_task_mode(st[3]),
       "minhash (an actor) and a shuffle do not");
    cmp_ok(wn_plan_threads(2, st, n, 1), ==, 8, "2 CPUs over cpus 0.25: 8 batches at once");
    cmp_ok(wn_plan_threads(64, st, n, 1), ==, WN_PLAN_THREADS_MAX, "... at most 16");
    cmp_ok(wn_plan_threads(8, st, n, 0), ==, 1, "bulk mode: one");
    cfg->stages[2].cpus = 1;
    cmp_ok(wn_plan_threads(3, st, n, 1), ==, 3, "cpus 1 everywhere: a batch per CPU");
    for (uint32_t k = 0; k < n; k++)
        wn_stage_destroy(st[k]);
    wn_config_free(cfg);
}

/* Each thread's batch keeps its own attempt, round and rejects: a
 * task-mode stage runs batches on several threads at once. */
struct batch_arg {
    struct wn_stage *st;
    unsigned attempt;
    unsigned seen;
    uint32_t round;
    int rejects_ok;
};

static void *run_batch(void *p)
{
    struct batch_arg *a = p;
    struct wn_batch_run b;
    wn_error_t err = {{0}};
    wn_batch_run_begin(&b, a->st, a->attempt, a->attempt + 10);
    wn_rejects_begin(a->st);
    for (unsigned k = 0; k < a->attempt; k++)
        wn_stage_reject(a->st, "f.jsonl", k + 1, "bad", NULL, &err);
    usleep(20000); /* both threads inside a batch at once */
    a->seen = wn_stage_attempt(a->st);
    a->round = wn_stage_round(a->st);
    char *summary = NULL;
    a->rejects_ok = wn_rejects_commit(a->st, NULL, &summary, &err) == 0 && summary &&
                    strstr(summary, a->attempt == 1 ? "\"bad\":1" : "\"bad\":2");
    free(summary);
    wn_batch_run_end(&b);
    return NULL;
}

static void test_batch_runs(void)
{
    wn_error_t err = {{0}};
    struct wn_pipeline_config *cfg = NULL;
    if (wn_config_load_string("name: t\nstages:\n  - {name: u, type: urls}\n", "t.yaml", &cfg,
                              &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_stage *st = wn_stage_create(&cfg->stages[0], 0, &err);
    if (!st)
        BAIL_OUT("%s", err.text);
    struct batch_arg a = {st, 1, 0, 0, 0}, b = {st, 2, 0, 0, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_batch, &a);
    pthread_create(&tb, NULL, run_batch, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ok(a.seen == 1 && b.seen == 2, "two threads' batches: attempts 1 and 2 (%u, %u)", a.seen,
       b.seen);
    ok(a.round == 11 && b.round == 12, "... their own rounds");
    ok(a.rejects_ok && b.rejects_ok, "... their own rejects (1 and 2)");
    wn_stage_destroy(st);
    wn_config_free(cfg);
}

int main(void)
{
    wn_registry_set_builtins(wn_builtin_stages);
    plan(NO_PLAN);
    test_getters();
    test_refusals();
    test_other_init_errors();
    test_nparts();
    test_segments();
    test_batch_runs();
    return done_testing();
}
