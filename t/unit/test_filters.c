/* test_filters.c - the heuristic filter stages (stages/filters/filters.c) through
 * their ops tables: scores equal to those of the independent Python
 * reference (t/lib/filters_ref.py) on license texts, man pages and crafted
 * edge cases; the kept rows exactly those the default thresholds imply;
 * thresholds inclusive; defaults equal to NeMo Curator's; outputs that keep
 * every column; and the errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "stage/stage_impl.h"
#include "builtin.h"
#include "tap.h"
#include "stage_test.h"
#include "winnow/task.h"

/* ------------------------------------------------------------ filters -- */

/* Each stage, the parameters that make it keep every document (so its
 * scores can all be compared), and NeMo Curator's default thresholds:
 * read from nemo_curator/stages/text/filters/heuristic_filter.py
 * (NVIDIA-NeMo/Curator), the __init__ defaults of WordCountFilter,
 * MeanWordLengthFilter, SymbolsToWordsFilter, NonAlphaNumericFilter,
 * UrlsFilter, RepeatedLinesFilter, RepeatedParagraphsFilter,
 * BulletsFilter and RepeatingTopNGramsFilter. */
struct fdef {
    const char *type;
    const char *keep_all;        /* params keeping any score */
    const char *lo_key, *hi_key; /* threshold parameters (NULL: none) */
    double lo, hi;               /* NeMo's defaults (+-inf: unbounded) */
    int ref_col;                 /* column of filters_ref.py's output */
    long long n;                 /* repeating_top_ngrams: n, else 0 */
};

static const struct fdef fdefs[] = {
    {"word_count", "min_words: 0, max_words: 1000000000", "min_words", "max_words", 50, 100000, 0,
     0},
    {"mean_word_length", "min_mean_word_length: 0, max_mean_word_length: 1e9",
     "min_mean_word_length", "max_mean_word_length", 3, 10, 1, 0},
    {"symbols_to_words", "max_symbol_to_word_ratio: 1", NULL, "max_symbol_to_word_ratio", -INFINITY,
     0.1, 2, 0},
    {"non_alphanumeric", "max_non_alpha_numeric_to_text_ratio: 1", NULL,
     "max_non_alpha_numeric_to_text_ratio", -INFINITY, 0.25, 3, 0},
    {"urls", "max_url_to_text_ratio: 1", NULL, "max_url_to_text_ratio", -INFINITY, 0.2, 4, 0},
    {"repeated_lines", "max_repeated_line_fraction: 0", "max_repeated_line_fraction", NULL, 0.7,
     INFINITY, 5, 0},
    {"repeated_paragraphs", "max_repeated_paragraphs_ratio: 0", "max_repeated_paragraphs_ratio",
     NULL, 0.7, INFINITY, 6, 0},
    {"bullets", "max_bullet_lines_ratio: 1", NULL, "max_bullet_lines_ratio", -INFINITY, 0.9, 7, 0},
    {"repeating_top_ngrams", "max_repeating_ngram_ratio: 1", NULL, "max_repeating_ngram_ratio",
     -INFINITY, 0.2, 8, 2},
    {"repeating_top_ngrams", "max_repeating_ngram_ratio: 1", NULL, "max_repeating_ngram_ratio",
     -INFINITY, 0.2, 9, 3},
    {"repeating_top_ngrams", "max_repeating_ngram_ratio: 1", NULL, "max_repeating_ngram_ratio",
     -INFINITY, 0.2, 10, 5},
};
#define NFDEFS (sizeof(fdefs) / sizeof(fdefs[0]))
#define NREF 11 /* scores per document the reference prints */

/* A command's output as a document; skipped (with a diagnostic) when the
 * command fails or prints nothing, as a man page not installed would. */
static void add_cmd(const char *label, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        BAIL_OUT("popen %s: %s", cmd, strerror(errno));
    size_t len;
    char *t = read_stream(p, &len);
    if (pclose(p) == 0 && len > 0)
        add_doc(label, t, len);
    else
        diag("skipped %s: `%s` failed", label, cmd);
    free(t);
}

/* docs[0..ndocs) as one batch: an "id" u64 and a "text" str column. */
static struct wn_batch *docs_batch(void)
{
    wn_error_t err = {{0}};
    struct wn_batch *b = wn_batch_create();
    struct wn_column *id = wn_batch_add_column(b, "id", WN_TYPE_U64, 1, &err);
    struct wn_column *text = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, &err);
    if (!id || !text)
        BAIL_OUT("building the input: %s", err.text);
    for (size_t i = 0; i < ndocs; i++)
        if (wn_col_append_u64(id, i, &err) < 0 ||
            wn_col_append_str(text, docs[i].text, docs[i].len, &err) < 0)
            BAIL_OUT("building the input: %s", err.text);
    return b;
}

/* Runs inputs (batches, NULL for a task without one) through the stage
 * as one call; the outputs are appended to out.  0 or -1 (err filled). */
static int fs_run(struct test_stage *m, struct wn_batch **in, size_t n, struct wn_task_list *out,
                  wn_error_t *err)
{
    struct wn_task *t[8];
    for (size_t i = 0; i < n; i++)
        if (!(t[i] = wn_task_create(i + 1, 0, in[i])))
            BAIL_OUT("out of memory");
    int rc = m->st->ops->process_batch(m->st, t, n, out, err);
    for (size_t i = 0; i < n; i++)
        wn_task_destroy(t[i]);
    return rc;
}

/* The single output of the stage on all documents (NULL with a diagnostic
 * on failure); the caller frees it. */
static struct wn_batch *run_docs(const char *type, const char *params)
{
    struct test_stage m;
    wn_error_t err = {{0}};
    if (test_stage_make(&m, type, params, &err) < 0) {
        diag("%s {%s}: %s", type, params, err.text);
        return NULL;
    }
    struct wn_batch *in = docs_batch(), *res = NULL;
    struct wn_task_list out = WN_TASK_LIST_INIT;
    if (fs_run(&m, &in, 1, &out, &err) < 0)
        diag("%s {%s}: %s", type, params, err.text);
    else if (out.n != 1)
        diag("%s {%s}: %zu outputs", type, params, out.n);
    else
        res = wn_task_take_batch(out.tasks[0]);
    wn_task_list_free(&out);
    test_stage_free(&m);
    return res;
}

/* --------------------------------------------------------- test data -- */

static void load_docs(void)
{
    static const char *whole[] = {"BSD", "Apache-2.0", "GPL-3", "CC0-1.0", "Artistic"};
    static const char *sliced[] = {"GPL-2", "LGPL-2.1", "MPL-2.0", "GFDL-1.3"};
    char label[64];
    add_licenses(whole, sizeof(whole) / sizeof(whole[0]));
    for (size_t i = 0; i < sizeof(sliced) / sizeof(sliced[0]); i++) {
        size_t len;
        char *t = read_license(sliced[i], &len);
        /* A paragraph or so, and a bigger piece cut mid-word. */
        snprintf(label, sizeof(label), "%s[2000+700]", sliced[i]);
        slice(label, t, len, 2000 + 13 * i, 700);
        snprintf(label, sizeof(label), "%s[5001+3333]", sliced[i]);
        slice(label, t, len, 5001 + 7 * i, 3333);
        free(t);
    }
    /* Formatted man pages (their Unicode hyphens and quotes included) and
     * roff sources (full of symbols). */
    add_cmd("man ls", "MANWIDTH=80 MAN_KEEP_FORMATTING= man -P cat ls 2>/dev/null");
    add_cmd("man cp", "MANWIDTH=72 MAN_KEEP_FORMATTING= man -P cat cp 2>/dev/null");
    add_cmd("man sed", "MANWIDTH=80 MAN_KEEP_FORMATTING= man -P cat sed 2>/dev/null");
    add_cmd("grep.1 source", "zcat /usr/share/man/man1/grep.1.gz 2>/dev/null");
    add_cmd("tar.1 source", "zcat /usr/share/man/man1/tar.1.gz 2>/dev/null");

    add_str("empty", "");
    add_str("whitespace only", " \t\n\n \r\n\xc2\xa0\xe3\x80\x80 \n");
    add_str("one word", "winnow");
    add_str("only URLs",
            "https://www.gnu.org/licenses/gpl-3.0.html http://example.com/a%20b?x=1&y=(2) "
            "https://x.org/%zz%41\nhttp://");
    add_str("URLs in prose",
            "See https://www.apache.org/licenses/LICENSE-2.0 for the license text, or write "
            "to the Free Software Foundation (http://www.fsf.org/). HTTP://NOT.MATCHED.ORG "
            "and https//broken.example, httpss://x.y too.");
    add_str("bullets * - and real ones",
            "Shopping list:\n* eggs\n* milk\n- bread\n- butter\n\xe2\x80\xa2 apples\n"
            "  \xe2\x97\xa6 pears (indented)\n\xc2\xa0\xe2\x97\x8f plums after nbsp\n"
            "\xe2\x80\xa3triangle\n\xe2\x88\x99 bullet operator\n");
    add_str("all bullets",
            "\xe2\x80\xa2 one\n\xe2\x80\xa2 two\n\n\xe2\x80\xa2 three\n\t\xe2\x80\xa2 four\n"
            "\xe2\xa6\xbf five\n");
    add_str("repeated lines",
            "Click here to subscribe.\nClick here to subscribe.\nClick here to subscribe.\n"
            "Unsubscribe.\nClick here to subscribe.\n  \nClick here to subscribe. \n");
    add_str("repeated paragraphs",
            "Terms of use apply.\n\nTerms of use apply.\n\nTerms of use apply.\n\n"
            "Contact us.\n\nTerms of use apply.\n\n\nTerms of use apply.\n\n\n\n");
    add_str("newlines only", "\n\n\n\n\n");
    add_str("hashtags and ellipses",
            "#winning ## ### #a# #a#b a#b ... [...] \xe2\x80\xa6 (...) [\xe2\x80\xa6] -\xc2\xbb "
            "read more.. read more #### wow");
    add_str("repeated phrase",
            "the cat sat on the mat the cat sat on the mat the cat sat on the mat and then the "
            "cat left; bathe cathedral the\tcat");
    add_str("n-gram ties", "alpha beta gamma delta alpha beta epsilon gamma delta zeta");
    add_str("n-gram only across tabs", "red\tgreen\tred\tgreen\tred\tgreen");
    add_str("CRLF lines", "first line\r\nsecond line\r\nfirst line\r\nfirst line\n");
    static const char uni[] =
        "Licence \xc2\xab libre \xc2\xbb : caf\xc3\xa9, na\xc3\xafve, fa\xc3\xa7"
        "ade, "
        "\xc3\x86r\xc3\xb8sk\xc3\xb8"
        "bing.\n\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9"
        "\xce\xba\xce\xac \xd0\xa0\xd1\x83\xd1\x81\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9\xe3\x80\x80"
        "\xe4\xb8\xad\xe6\x96\x87\xe8\xae\xb8\xe5\x8f\xaf\xe8\xaf\x81 \xf0\x9f\x98\x80\xf0\x9f"
        "\x8e\x89 \xe2\x88\x91\xe2\x88\xab\xe2\x88\x9a \xe2\x89\xa4 \xe2\x89\xa5\n"
        "mot\xe2\x80\x83mot\xe2\x80\x83mot\xe2\x80\xa8ligne\xc2\x85suite";
    add_doc("non-ASCII UTF-8", uni, sizeof(uni) - 1);
    static const char bad[] = "abc\xff"
                              "def\xe2\x82 ghi\xc0\xaf jkl\xed\xa0\x80 mno\x80pqr "
                              "\xe2\x82 \xe2\x82\xac \xe2\x82 \xe2\x82\xac end\xf0\x9f\x98";
    add_doc("invalid UTF-8", bad, sizeof(bad) - 1);
    /* The top 2-gram "x \xe2\x82" (an invalid, truncated euro sign) is a
     * byte prefix of "x \xe2\x82\xac" but not a code point prefix of it. */
    add_str("truncated sequence n-gram", "x \xe2\x82 x \xe2\x82 x \xe2\x82\xac");
}

/* One score of the reference's output. */
static int ref_double(char **s, void *out, size_t k)
{
    char *end;
    ((double *)out)[k] = strtod(*s, &end);
    int got = end != *s;
    *s = end;
    return got;
}

/* The reference's scores, ndocs x NREF; NULL on failure. */
static double *ref_scores(void)
{
    FILE *p = ref_popen("filters_ref.py", "--n 2 --n 3 --n 5");
    double *v = calloc(ndocs * NREF, sizeof(*v));
    if (!v || ref_rows(p, NREF, ref_double, v) < 0) {
        if (!v && p)
            pclose(p);
        free(v);
        return NULL;
    }
    return v;
}

/* ----------------------------------------------------------- tests -- */

static const char *fname(const struct fdef *f)
{
    static char buf[64];
    if (!f->n)
        return f->type;
    snprintf(buf, sizeof(buf), "%s(n=%lld)", f->type, f->n);
    return buf;
}

/* Every document's score equals the reference's. */
static void test_scores(const double *ref)
{
    for (size_t k = 0; k < NFDEFS; k++) {
        const struct fdef *f = &fdefs[k];
        char params[256];
        if (f->n)
            snprintf(params, sizeof(params), "%s, score_field: s, n: %lld", f->keep_all, f->n);
        else
            snprintf(params, sizeof(params), "%s, score_field: s", f->keep_all);
        struct wn_batch *b = run_docs(f->type, params);
        const struct wn_column *s = b ? wn_batch_find(b, "s") : NULL;
        if (!s || s->type != WN_TYPE_F64 || s->nrows != ndocs) {
            ok(0, "%s: a score for every document", fname(f));
            wn_batch_destroy(b);
            continue;
        }
        size_t bad = 0;
        for (size_t i = 0; i < ndocs; i++) {
            double got = wn_col_f64(s)[i], want = ref[i * NREF + (size_t)f->ref_col];
            if (!(fabs(got - want) <= 1e-12)) {
                if (bad++ < 5)
                    diag("%s on %s: %.17g, reference %.17g", fname(f), docs[i].label, got, want);
            }
        }
        ok(bad == 0, "%s: scores of %zu documents equal the reference's", fname(f), ndocs);
        wn_batch_destroy(b);
    }
}

static int passes(const struct fdef *f, double v)
{
    return f->lo <= v && v <= f->hi;
}

/* With NeMo's defaults, the kept rows are exactly those whose reference
 * score passes, in order, with every column and the right scores. */
static void test_kept(const double *ref)
{
    struct wn_batch *in = docs_batch();
    for (size_t k = 0; k < NFDEFS; k++) {
        const struct fdef *f = &fdefs[k];
        char params[64] = "";
        if (f->n)
            snprintf(params, sizeof(params), "n: %lld", f->n);
        struct wn_batch *b = run_docs(f->type, params);
        snprintf(params + strlen(params), sizeof(params) - strlen(params), "%sscore_field: sc",
                 f->n ? ", " : "");
        struct wn_batch *bs = run_docs(f->type, params);
        if (!b || !bs) {
            ok(0, "%s: ran with the defaults", fname(f));
            wn_batch_destroy(b);
            wn_batch_destroy(bs);
            continue;
        }
        uint32_t want[64];
        size_t nwant = 0;
        for (size_t i = 0; i < ndocs; i++)
            if (passes(f, ref[i * NREF + (size_t)f->ref_col]))
                want[nwant++] = (uint32_t)i;
        wn_error_t err = {{0}};
        struct wn_batch *exp = wn_batch_take(in, want, nwant, &err);
        ok(wn_batch_equal(b, exp),
           "%s: defaults keep the %zu of %zu documents the "
           "reference's scores pass, all columns as they were",
           fname(f), nwant, ndocs);
        /* The defaults must be selective on this corpus, or the check above
         * would prove little. */
        ok(nwant > 0 && nwant < ndocs, "%s: defaults keep some and drop some (%zu kept)", fname(f),
           nwant);
        const struct wn_column *sc = wn_batch_find(bs, "sc");
        int good =
            sc && sc->type == WN_TYPE_F64 && wn_batch_ncols(bs) == 3 && wn_batch_nrows(bs) == nwant;
        for (size_t j = 0; good && j < nwant; j++)
            good = fabs(wn_col_f64(sc)[j] - ref[want[j] * NREF + (size_t)f->ref_col]) <= 1e-12;
        /* Without it, the batch is the one made without score_field. */
        good = good && wn_batch_drop_column(bs, "sc", NULL) == 0;
        ok(good && wn_batch_equal(bs, exp), "%s: score_field adds the kept rows' scores", fname(f));
        wn_batch_destroy(exp);
        wn_batch_destroy(b);
        wn_batch_destroy(bs);
    }
    wn_batch_destroy(in);
}

/* The parameter tables' defaults are NeMo's (see fdefs). */
static void test_defaults(void)
{
    static const struct wn_stage_ops *const all[] = {
        &wn_stage_word_count_ops,
        &wn_stage_mean_word_length_ops,
        &wn_stage_symbols_to_words_ops,
        &wn_stage_non_alphanumeric_ops,
        &wn_stage_urls_ops,
        &wn_stage_repeated_lines_ops,
        &wn_stage_repeated_paragraphs_ops,
        &wn_stage_bullets_ops,
        &wn_stage_repeating_top_ngrams_ops,
    };
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        const struct wn_stage_ops *ops = all[k];
        const struct fdef *f = NULL;
        for (size_t j = 0; j < NFDEFS && !f; j++)
            if (!strcmp(fdefs[j].type, ops->type))
                f = &fdefs[j];
        int good = f != NULL, seen_text = 0, seen_score = 0;
        for (const struct wn_param_spec *p = ops->params; good && p->name; p++) {
            double v = strtod(p->def ? p->def : "nan", NULL);
            if (f->lo_key && !strcmp(p->name, f->lo_key))
                good = v == f->lo;
            else if (f->hi_key && !strcmp(p->name, f->hi_key))
                good = v == f->hi;
            else if (!strcmp(p->name, "n")) /* RepeatingTopNGramsFilter(n=2) */
                good = !strcmp(ops->type, "repeating_top_ngrams") && v == 2;
            else if (!strcmp(p->name, "text_field")) /* the pipeline's: "text" unless set */
                good = seen_text = p->def && !strcmp(p->def, "${text_field}");
            else if (!strcmp(p->name, "score_field"))
                good = seen_score = p->def && !*p->def;
            else
                good = 0;
            if (!good)
                diag("%s: parameter %s default %s", ops->type, p->name, p->def);
        }
        ok(good && seen_text && seen_score, "%s: parameters and defaults are NeMo's", ops->type);
    }
}

/* Thresholds are inclusive on both sides, as NeMo's keep_document. */
static void test_bounds(void)
{
    static const struct {
        const char *type, *params;
        int kept;
    } cases[] = {
        {"word_count", "min_words: 3, max_words: 3", 1},
        {"word_count", "min_words: 4", 0},
        {"word_count", "min_words: 0, max_words: 2", 0},
        /* "one two three!" has mean length 4 */
        {"mean_word_length", "min_mean_word_length: 4, max_mean_word_length: 4", 1},
        {"mean_word_length", "min_mean_word_length: 4.01", 0},
        {"mean_word_length", "max_mean_word_length: 3.99, min_mean_word_length: 0", 0},
        /* 12 characters of 14 are letters or '!' */
        {"non_alphanumeric", "max_non_alpha_numeric_to_text_ratio: 0.14285714285714285", 1},
        {"non_alphanumeric", "max_non_alpha_numeric_to_text_ratio: 0.1428", 0},
        {"repeated_lines", "max_repeated_line_fraction: 1", 1},
        {"repeated_paragraphs", "max_repeated_paragraphs_ratio: 1", 1},
        {"bullets", "max_bullet_lines_ratio: 0", 1},
        {"symbols_to_words", "max_symbol_to_word_ratio: 0", 1},
        {"urls", "max_url_to_text_ratio: 0", 1},
        /* one n-gram, "one two three!" itself: the whole text */
        {"repeating_top_ngrams", "n: 3, max_repeating_ngram_ratio: 1", 1},
        {"repeating_top_ngrams", "n: 3, max_repeating_ngram_ratio: 0.999", 0},
        {"repeating_top_ngrams", "n: 4, max_repeating_ngram_ratio: 0.999", 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct test_stage m;
        wn_error_t err = {{0}};
        struct wn_task_list out = WN_TASK_LIST_INIT;
        int rows = -1;
        if (test_stage_make(&m, cases[k].type, cases[k].params, &err) == 0) {
            struct wn_batch *b = wn_batch_create();
            struct wn_column *t = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, &err);
            if (!t || wn_col_append_str(t, "one two three!", 14, &err) < 0)
                BAIL_OUT("%s", err.text);
            if (fs_run(&m, &b, 1, &out, &err) == 0 && out.n == 1)
                rows = (int)wn_batch_nrows(out.tasks[0]->batch);
            test_stage_free(&m);
        }
        if (rows < 0)
            diag("%s", err.text);
        ok(rows == cases[k].kept, "%s {%s}: %s", cases[k].type, cases[k].params,
           cases[k].kept ? "kept" : "dropped");
        wn_task_list_free(&out);
    }
}

/* One output per input with a batch, an empty one included; none for an
 * input without a batch. */
static void test_outputs(void)
{
    struct test_stage m;
    wn_error_t err = {{0}};
    if (test_stage_make(&m, "word_count", "min_words: 2, score_field: wc", &err) < 0)
        BAIL_OUT("%s", err.text);
    struct wn_batch *in[3];
    for (int i = 0; i < 3; i += 2) {
        in[i] = wn_batch_create();
        struct wn_column *id = wn_batch_add_column(in[i], "id", WN_TYPE_I64, 1, &err);
        struct wn_column *t = wn_batch_add_column(in[i], "text", WN_TYPE_STR, 0, &err);
        if (!id || !t || wn_col_append_i64(id, -i, &err) < 0 ||
            wn_col_append_str(t, i ? "two words" : "one", i ? 9 : 3, &err) < 0)
            BAIL_OUT("%s", err.text);
    }
    in[1] = NULL;
    struct wn_task_list out = WN_TASK_LIST_INIT;
    int rc = fs_run(&m, in, 3, &out, &err);
    ok(rc == 0 && out.n == 2, "three inputs, one without a batch: two outputs");
    if (rc == 0 && out.n == 2) {
        const struct wn_batch *a = out.tasks[0]->batch, *b = out.tasks[1]->batch;
        ok(wn_batch_nrows(a) == 0 && wn_batch_ncols(a) == 3 && wn_batch_find(a, "id") &&
               wn_batch_find(a, "wc"),
           "nothing kept: an empty batch with every column and the score column");
        ok(wn_batch_nrows(b) == 1 && wn_col_i64(wn_batch_find(b, "id"))[0] == -2 &&
               wn_col_f64(wn_batch_find(b, "wc"))[0] == 2,
           "the kept row keeps its columns and gets its score");
    } else {
        skip(2, "no outputs");
    }
    wn_task_list_free(&out);
    test_stage_free(&m);
}

/* Errors: at init, a bad parameter named; at process, a bad column named. */
static void test_errors(void)
{
    static const struct {
        const char *type, *params, *named;
    } init_bad[] = {
        {"word_count", "min_words: -1", "min_words"},
        {"word_count", "max_words: -5, min_words: 0", "max_words"},
        {"word_count", "min_words: 10, max_words: 9", "min_words"},
        {"mean_word_length", "min_mean_word_length: 11", "min_mean_word_length"},
        {"mean_word_length", "max_mean_word_length: -0.5", "max_mean_word_length"},
        {"symbols_to_words", "max_symbol_to_word_ratio: -0.1", "max_symbol_to_word_ratio"},
        {"non_alphanumeric", "max_non_alpha_numeric_to_text_ratio: -1",
         "max_non_alpha_numeric_to_text_ratio"},
        {"urls", "max_url_to_text_ratio: -0.2", "max_url_to_text_ratio"},
        {"repeated_lines", "max_repeated_line_fraction: -0.7", "max_repeated_line_fraction"},
        {"repeated_paragraphs", "max_repeated_paragraphs_ratio: -1",
         "max_repeated_paragraphs_ratio"},
        {"bullets", "max_bullet_lines_ratio: -0.9", "max_bullet_lines_ratio"},
        {"repeating_top_ngrams", "n: 0", "'n'"},
        {"repeating_top_ngrams", "max_repeating_ngram_ratio: -1", "max_repeating_ngram_ratio"},
        {"word_count", "min_word: 3", "min_word"},
        {"urls", "max_url_to_text_ratio: lots", "max_url_to_text_ratio"},
    };
    for (size_t k = 0; k < sizeof(init_bad) / sizeof(init_bad[0]); k++) {
        struct test_stage m;
        wn_error_t err = {{0}};
        int rc = test_stage_make(&m, init_bad[k].type, init_bad[k].params, &err);
        ok(rc < 0 && strstr(err.text, init_bad[k].named), "%s {%s}: refused, naming %s",
           init_bad[k].type, init_bad[k].params, init_bad[k].named);
        if (rc < 0)
            diag("  %s", err.text);
        else
            test_stage_free(&m);
    }

    static const struct {
        const char *params, *named;
        enum wn_type body; /* the "body" column's type */
    } run_bad[] = {
        {"text_field: body", "'body'", WN_TYPE_U64},
        {"text_field: missing", "'missing'", WN_TYPE_STR},
        {"text_field: body, score_field: id", "'id'", WN_TYPE_STR},
    };
    for (size_t k = 0; k < sizeof(run_bad) / sizeof(run_bad[0]); k++) {
        struct test_stage m;
        wn_error_t err = {{0}};
        if (test_stage_make(&m, "bullets", run_bad[k].params, &err) < 0)
            BAIL_OUT("%s", err.text);
        struct wn_batch *b = wn_batch_create();
        struct wn_column *id = wn_batch_add_column(b, "id", WN_TYPE_U64, 1, &err);
        struct wn_column *body = wn_batch_add_column(b, "body", run_bad[k].body, 0, &err);
        if (!id || !body || wn_col_append_u64(id, 1, &err) < 0 ||
            (body->type == WN_TYPE_STR ? wn_col_append_str(body, "x", 1, &err)
                                       : wn_col_append_u64(body, 7, &err)) < 0)
            BAIL_OUT("%s", err.text);
        struct wn_task_list out = WN_TASK_LIST_INIT;
        int rc = fs_run(&m, &b, 1, &out, &err);
        ok(rc < 0 && out.n == 0 && strstr(err.text, run_bad[k].named),
           "bullets {%s}: fails naming %s", run_bad[k].params, run_bad[k].named);
        if (rc < 0)
            diag("  %s", err.text);
        wn_task_list_free(&out);
        test_stage_free(&m);
    }
}

int main(void)
{
    load_docs();
    diag("%zu documents", ndocs);
    plan((int)(NFDEFS * 4 + 1 + 9 + 16 + 3 + 15 + 3));
    docs_write();
    double *ref = ref_scores();
    ok(ref != NULL, "reference ran on %zu documents", ndocs);
    if (!ref) {
        docs_remove();
        BAIL_OUT("no reference scores");
    }
    test_scores(ref);
    test_kept(ref);
    test_defaults();
    test_bounds();
    test_outputs();
    test_errors();
    free(ref);
    docs_remove();
    for (size_t i = 0; i < ndocs; i++)
        free(docs[i].text);
    return done_testing();
}
