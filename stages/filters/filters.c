/* filters.c - NeMo Curator's heuristic document filters (their
 * nemo_curator/stages/text/filters/heuristic_filter.py, with the constants
 * of stages/text/utils/constants.py and the splitters of
 * stages/text/utils/text_utils.py), one stage type each, with NeMo's
 * parameter names and defaults:
 *
 *   word_count            words                        min_words (50) <= s <= max_words (100000)
 *   mean_word_length      mean code points per word    min_mean_word_length (3) <= s
 *                                                      <= max_mean_word_length (10)
 *   symbols_to_words      symbol words / words         s <= max_symbol_to_word_ratio (0.1)
 *   non_alphanumeric      1 - [a-zA-Z0-9\n?!,.] / all  s <= max_non_alpha_numeric_to_text_ratio
 *                                                      (0.25)
 *   urls                  URL code points / all        s <= max_url_to_text_ratio (0.2)
 *   repeated_lines        distinct lines / lines       s >= max_repeated_line_fraction (0.7)
 *   repeated_paragraphs   distinct paragraphs /        s >= max_repeated_paragraphs_ratio (0.7)
 *                         paragraphs
 *   repeating_top_ngrams  code points of the top       s <= max_repeating_ngram_ratio (0.2),
 *                         n-gram's occurrences / all   n (2) words per n-gram
 *   bullets               bullet lines / lines         s <= max_bullet_lines_ratio (0.9)
 *
 * Every stage also takes text_field (the str column, default "text") and
 * score_field (default empty: none; else an f64 column of that name is
 * added holding each kept row's score).
 *
 * Definitions, on the text as Python sees it (NeMo works on str):
 *   code points  the text decoded from UTF-8; a byte that does not begin a
 *                complete, valid sequence is one code point by itself
 *                (Python's 'surrogateescape' split, as in minhash.c).
 *                Lengths and "all" above count code points.
 *   whitespace   the 29 code points Python's str.isspace() accepts (ASCII
 *                \t \n \v \f \r, U+001C-U+001F, space, U+0085, U+00A0,
 *                U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
 *                U+3000): NeMo's English splitter is str.split(), and its
 *                lines are tested and stripped with str.strip().  (NeMo
 *                switches to jieba or MeCab for lang zh/ja; these stages
 *                take no `lang` and always split on whitespace.)
 *   words        maximal runs of non-whitespace code points
 *   lines        the pieces of the text split at each "\n" that hold a
 *                code point other than whitespace, compared as they are
 *                (not stripped)
 *   paragraphs   the pieces of the text split at "\n\n" (scanning left to
 *                right, so "a\n\n\nb" is "a" and "\nb"), empty ones too
 *   symbol word  a word equal to "...", "[...]", "…", "(...)", "[…]" or
 *                "-»", or whose number of runs of '#' is more than half its
 *                length (NeMo counts matches of the regex "#+", so "##" is
 *                1 run in 2: not a symbol word).  NeMo's list also has
 *                "read more" and "read more..", which hold a space and so
 *                can never equal a word.
 *   URL          a match of http[s]?://(?:[a-zA-Z0-9$\-_@.&+!*(),]|%[0-9a-fA-F]{2})+
 *                (case-sensitive), found left to right without overlap
 *   bullet line  a line whose first non-whitespace code point is one of
 *                • ‣ ⁃ ⁌ ⁍ ∙ ○ ● ◘ ◦ ⦾ ⦿  ("* " and "- " are not bullets in
 *                NeMo's list)
 *   top n-gram   among the tuples of n consecutive words, the most
 *                frequent; of several equally frequent ones, the first to
 *                occur.  (NeMo takes max() over a set, so its choice among
 *                ties follows Python's randomised string hashing; first
 *                occurrence makes the score reproducible.)  Its words are
 *                joined with single spaces and the score counts the code
 *                points of that string's non-overlapping occurrences in
 *                the text (Python's str.replace), which may lie inside
 *                longer words, or be none when the text separates the
 *                words by other whitespace.
 *
 * Where NeMo's score would divide by zero (it raises), the score lands on
 * the dropping side: no words gives mean_word_length 0 and
 * symbols_to_words 1; no lines gives repeated_lines 0 and bullets 1.  As in
 * NeMo, an empty text scores 1 for non_alphanumeric and urls, and fewer
 * than n words scores 1 for repeating_top_ngrams.
 *
 * Each input task with a batch gives one output: the rows that pass, all
 * columns kept (wn_batch_take), in their order - also when none pass, so
 * every input has exactly one output and lineage stays one-to-one.  An
 * input without a batch gives none.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "builtin.h"

enum fkind {
    F_WORD_COUNT,
    F_MEAN_WORD_LENGTH,
    F_SYMBOLS_TO_WORDS,
    F_NON_ALPHANUMERIC,
    F_URLS,
    F_REPEATED_LINES,
    F_REPEATED_PARAGRAPHS,
    F_TOP_NGRAMS,
    F_BULLETS,
};

struct filter {
    enum fkind kind;
    double lo, hi; /* a row is kept when lo <= score <= hi */
    size_t n;      /* repeating_top_ngrams: words per n-gram */
    char *text_field;
    char *score_field; /* NULL: no score column */
};

/* ------------------------------------------------------------ decoding -- */

/* Python's str.isspace(). */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

static int is_bullet(uint32_t c)
{
    switch (c) {
    case 0x2022:
    case 0x2023:
    case 0x2043:
    case 0x204c:
    case 0x204d:
    case 0x2219:
    case 0x25cb:
    case 0x25cf:
    case 0x25d8:
    case 0x25e6:
    case 0x29be:
    case 0x29bf:
        return 1;
    default:
        return 0;
    }
}

/* Code points [a, b) of a document. */
struct span {
    size_t a, b;
};

/* Scratch of one process_batch call, reused row to row. */
struct scratch {
    const char *text;
    size_t len;
    uint32_t *cp;         /* code points (an invalid byte b: U+DC00 + b) */
    size_t *off;          /* byte offset of each code point, ncp + 1 */
    unsigned char *start; /* start[i]: a code point starts at byte i (i <= len) */
    size_t ncp, cap;      /* cap: entries of cp, off - 1, start - 1 */
    struct span *sp;      /* words, lines or paragraphs */
    size_t nsp, cap_sp;
    /* Hash table of items (groups of g consecutive spans): slot[k] is an
     * item index + 1 (0 empty), count[k] its frequency. */
    size_t *slot, *count, *item_slot;
    size_t cap_tab, cap_items;
    char *needle;
    size_t cap_needle;
};

static void scratch_free(struct scratch *s)
{
    free(s->cp);
    free(s->off);
    free(s->start);
    free(s->sp);
    free(s->slot);
    free(s->count);
    free(s->item_slot);
    free(s->needle);
}

/* Grows *p to hold n elements of size sz (capacity *cap); 0 or -1. */
static int grow(void *p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t c = n > 2 * *cap ? n : 2 * *cap;
    void *q = realloc(*(void **)p, c * sz);
    if (!q)
        return -1;
    *(void **)p = q;
    *cap = c;
    return 0;
}

static int decode(struct scratch *s, const char *text, size_t len)
{
    if (len + 1 > s->cap) {
        size_t cap = len + 1 > 2 * s->cap ? len + 1 : 2 * s->cap;
        uint32_t *cp = realloc(s->cp, cap * sizeof(*cp));
        if (cp)
            s->cp = cp;
        size_t *off = realloc(s->off, (cap + 1) * sizeof(*off));
        if (off)
            s->off = off;
        unsigned char *st = realloc(s->start, cap + 1);
        if (st)
            s->start = st;
        if (!cp || !off || !st)
            return -1;
        s->cap = cap;
    }
    const unsigned char *u = (const unsigned char *)text;
    size_t n = 0;
    memset(s->start, 0, len + 1);
    for (size_t i = 0; i < len;) {
        size_t l = wn_utf8_len(u + i, len - i);
        l = l ? l : 1; /* an invalid byte: one code point */
        uint32_t c;
        if (l == 1)
            c = u[i] < 0x80 ? u[i] : 0xdc00u + u[i];
        else if (l == 2)
            c = (uint32_t)(u[i] & 0x1f) << 6 | (u[i + 1] & 0x3f);
        else if (l == 3)
            c = (uint32_t)(u[i] & 0x0f) << 12 | (uint32_t)(u[i + 1] & 0x3f) << 6 |
                (u[i + 2] & 0x3f);
        else
            c = (uint32_t)(u[i] & 0x07) << 18 | (uint32_t)(u[i + 1] & 0x3f) << 12 |
                (uint32_t)(u[i + 2] & 0x3f) << 6 | (u[i + 3] & 0x3f);
        s->start[i] = 1;
        s->off[n] = i;
        s->cp[n++] = c;
        i += l;
    }
    s->start[len] = 1;
    s->off[n] = len;
    s->text = text;
    s->len = len;
    s->ncp = n;
    return 0;
}

static int push_span(struct scratch *s, size_t a, size_t b)
{
    if (grow(&s->sp, &s->cap_sp, s->nsp + 1, sizeof(*s->sp)) < 0)
        return -1;
    s->sp[s->nsp++] = (struct span){a, b};
    return 0;
}

static int split_words(struct scratch *s)
{
    s->nsp = 0;
    for (size_t i = 0; i < s->ncp;) {
        while (i < s->ncp && is_space(s->cp[i]))
            i++;
        size_t a = i;
        while (i < s->ncp && !is_space(s->cp[i]))
            i++;
        if (i > a && push_span(s, a, i) < 0)
            return -1;
    }
    return 0;
}

/* The lines that are not all whitespace. */
static int split_lines(struct scratch *s)
{
    s->nsp = 0;
    for (size_t a = 0; a <= s->ncp;) {
        size_t b = a;
        int blank = 1;
        for (; b < s->ncp && s->cp[b] != '\n'; b++)
            blank = blank && is_space(s->cp[b]);
        if (!blank && push_span(s, a, b) < 0)
            return -1;
        a = b + 1;
    }
    return 0;
}

static int split_paragraphs(struct scratch *s)
{
    s->nsp = 0;
    size_t a = 0;
    for (size_t i = 0; i + 1 < s->ncp;) {
        if (s->cp[i] == '\n' && s->cp[i + 1] == '\n') {
            if (push_span(s, a, i) < 0)
                return -1;
            a = i += 2;
        } else
            i++;
    }
    return push_span(s, a, s->ncp);
}

/* ---------------------------------------------------- distinct items -- */

static const char *span_bytes(const struct scratch *s, size_t i, size_t *len)
{
    *len = s->off[s->sp[i].b] - s->off[s->sp[i].a];
    return s->text + s->off[s->sp[i].a];
}

/* Item i is spans i..i+g-1; each span's bytes seed the next one's hash, so
 * where one span ends matters. */
static uint64_t item_hash(const struct scratch *s, size_t i, size_t g)
{
    uint64_t h = 0;
    for (size_t k = i; k < i + g; k++) {
        size_t len;
        const char *p = span_bytes(s, k, &len);
        h = XXH3_64bits_withSeed(p, len, h);
    }
    return h;
}

/* Byte equality is code point equality: decoding is one-to-one. */
static int item_eq(const struct scratch *s, size_t i, size_t j, size_t g)
{
    for (size_t k = 0; k < g; k++) {
        size_t la, lb;
        const char *pa = span_bytes(s, i + k, &la), *pb = span_bytes(s, j + k, &lb);
        if (la != lb || memcmp(pa, pb, la))
            return 0;
    }
    return 1;
}

/* Counts the items (groups of g consecutive spans, nitems of them): the
 * number of distinct ones is returned in *ndistinct, and item_slot[i] is
 * the slot whose count is item i's frequency.  0 or -1 (out of memory). */
static int count_items(struct scratch *s, size_t nitems, size_t g, size_t *ndistinct)
{
    size_t cap = 16;
    while (cap < 2 * nitems)
        cap *= 2;
    if (cap > s->cap_tab) {
        size_t *slot = realloc(s->slot, cap * sizeof(*slot));
        if (slot)
            s->slot = slot;
        size_t *count = realloc(s->count, cap * sizeof(*count));
        if (count)
            s->count = count;
        if (!slot || !count)
            return -1;
        s->cap_tab = cap;
    }
    if (grow(&s->item_slot, &s->cap_items, nitems, sizeof(*s->item_slot)) < 0)
        return -1;
    memset(s->slot, 0, cap * sizeof(*s->slot));
    size_t nd = 0;
    for (size_t i = 0; i < nitems; i++) {
        size_t k = (size_t)item_hash(s, i, g) & (cap - 1);
        while (s->slot[k] && !item_eq(s, s->slot[k] - 1, i, g))
            k = (k + 1) & (cap - 1);
        if (!s->slot[k]) {
            s->slot[k] = i + 1;
            s->count[k] = 0;
            nd++;
        }
        s->count[k]++;
        s->item_slot[i] = k;
    }
    *ndistinct = nd;
    return 0;
}

/* -------------------------------------------------------------- scores -- */

static int is_alnum_kept(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '\n' || c == '?' || c == '!' || c == ',' || c == '.';
}

static int is_url_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("$-_@.&+!*(),", c));
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes of URL at t[i..len), 0 when none starts there.  URLs are ASCII, so
 * their bytes are their code points. */
static size_t url_at(const char *t, size_t i, size_t len)
{
    size_t j = i;
    if (len - j < 4 || memcmp(t + j, "http", 4))
        return 0;
    j += 4;
    if (j < len && t[j] == 's')
        j++;
    if (len - j < 3 || memcmp(t + j, "://", 3))
        return 0;
    j += 3;
    size_t body = j;
    for (;;) {
        if (j < len && is_url_char((unsigned char)t[j]))
            j++;
        else if (len - j >= 3 && t[j] == '%' && is_hex((unsigned char)t[j + 1]) &&
                 is_hex((unsigned char)t[j + 2]))
            j += 3;
        else
            break;
    }
    return j > body ? j - i : 0;
}

static int is_symbol_word(const struct scratch *s, const struct span *w)
{
    static const char *const marks[] = {"...", "[...]", "\u2026", "(...)", "[\u2026]", "-\u00bb"};
    size_t len = s->off[w->b] - s->off[w->a];
    const char *p = s->text + s->off[w->a];
    for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++)
        if (strlen(marks[k]) == len && !memcmp(marks[k], p, len))
            return 1;
    size_t runs = 0;
    for (size_t i = w->a; i < w->b; i++)
        runs += s->cp[i] == '#' && (i == w->a || s->cp[i - 1] != '#');
    return 2 * runs > w->b - w->a;
}

/* Code points of the top n-gram's occurrences in the text (s->sp holds
 * the words, at least n of them). */
static int top_ngram_chars(struct scratch *s, size_t n, size_t *chars)
{
    size_t nitems = s->nsp - n + 1, nd, best = 0;
    if (count_items(s, nitems, n, &nd) < 0)
        return -1;
    for (size_t i = 1; i < nitems; i++)
        if (s->count[s->item_slot[i]] > s->count[s->item_slot[best]])
            best = i;
    /* The words joined with single spaces. */
    size_t nbytes = n - 1, ncp = n - 1;
    for (size_t k = best; k < best + n; k++) {
        nbytes += s->off[s->sp[k].b] - s->off[s->sp[k].a];
        ncp += s->sp[k].b - s->sp[k].a;
    }
    if (grow(&s->needle, &s->cap_needle, nbytes, 1) < 0)
        return -1;
    char *q = s->needle;
    for (size_t k = best; k < best + n; k++) {
        size_t len;
        const char *p = span_bytes(s, k, &len);
        if (k > best)
            *q++ = ' ';
        memcpy(q, p, len);
        q += len;
    }
    /* A byte match is a code point match when it starts and ends where
     * code points do (it could otherwise begin or end inside a multibyte
     * sequence, through an invalid byte of the n-gram). */
    size_t occ = 0;
    for (size_t i = 0; i + nbytes <= s->len;) {
        const char *m = memmem(s->text + i, s->len - i, s->needle, nbytes);
        if (!m)
            break;
        size_t pos = (size_t)(m - s->text);
        if (s->start[pos] && s->start[pos + nbytes]) {
            occ++;
            i = pos + nbytes;
        } else
            i = pos + 1;
    }
    *chars = occ * ncp;
    return 0;
}

static double ratio(size_t num, size_t den)
{
    return (double)num / (double)den;
}

/* The score of the document decoded in s; 0 or -1 (out of memory). */
static int score(const struct filter *f, struct scratch *s, double *out)
{
    size_t count = 0, nd;
    switch (f->kind) {
    case F_WORD_COUNT:
        if (split_words(s) < 0)
            return -1;
        *out = (double)s->nsp;
        return 0;
    case F_MEAN_WORD_LENGTH:
        if (split_words(s) < 0)
            return -1;
        for (size_t i = 0; i < s->nsp; i++)
            count += s->sp[i].b - s->sp[i].a;
        *out = s->nsp ? ratio(count, s->nsp) : 0.0;
        return 0;
    case F_SYMBOLS_TO_WORDS:
        if (split_words(s) < 0)
            return -1;
        for (size_t i = 0; i < s->nsp; i++)
            count += (size_t)is_symbol_word(s, &s->sp[i]);
        *out = s->nsp ? ratio(count, s->nsp) : 1.0;
        return 0;
    case F_NON_ALPHANUMERIC:
        for (size_t i = 0; i < s->ncp; i++)
            count += (size_t)is_alnum_kept(s->cp[i]);
        *out = s->ncp ? ratio(s->ncp - count, s->ncp) : 1.0;
        return 0;
    case F_URLS:
        for (size_t i = 0; i < s->len;) {
            size_t l = url_at(s->text, i, s->len);
            count += l;
            i += l ? l : 1;
        }
        *out = s->ncp ? ratio(count, s->ncp) : 1.0;
        return 0;
    case F_REPEATED_LINES:
        if (split_lines(s) < 0 || count_items(s, s->nsp, 1, &nd) < 0)
            return -1;
        *out = s->nsp ? ratio(nd, s->nsp) : 0.0;
        return 0;
    case F_REPEATED_PARAGRAPHS:
        if (split_paragraphs(s) < 0 || count_items(s, s->nsp, 1, &nd) < 0)
            return -1;
        *out = ratio(nd, s->nsp);
        return 0;
    case F_TOP_NGRAMS:
        if (split_words(s) < 0)
            return -1;
        if (s->nsp < f->n) {
            *out = 1.0;
            return 0;
        }
        if (top_ngram_chars(s, f->n, &count) < 0)
            return -1;
        *out = ratio(count, s->ncp);
        return 0;
    case F_BULLETS:
        if (split_lines(s) < 0)
            return -1;
        for (size_t i = 0; i < s->nsp; i++) {
            size_t k = s->sp[i].a;
            while (is_space(s->cp[k])) /* a kept line has a non-space */
                k++;
            count += (size_t)is_bullet(s->cp[k]);
        }
        *out = s->nsp ? ratio(count, s->nsp) : 1.0;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------- stage -- */

static void filter_fini(struct wn_stage *st)
{
    struct filter *f = wn_stage_data(st);
    if (f) {
        free(f->text_field);
        free(f->score_field);
        free(f);
    }
}

/* 1 when the pipeline (or --set) gave key a value, 0 for its default. */
static int given(const struct wn_params *params, const char *key)
{
    for (size_t i = 0; i < wn_params_count(params); i++)
        if (!strcmp(wn_params_key(params, i), key))
            return !wn_params_is_default(params, i);
    return 0;
}

/* Reads threshold key (NULL: none, the bound is def) into *v: from 0 to
 * most. */
static int threshold(const struct wn_params *params, const char *key, double def, double most,
                     double *v, wn_error_t *err)
{
    *v = def;
    if (!key)
        return 0;
    return wn_params_double_range(params, key, 0, most, 0, v, err);
}

static int read_params(struct filter *f, const struct wn_params *params, const char *lo_key,
                       const char *hi_key, wn_error_t *err)
{
    /* Every score but a count of words and a mean length is a share of
     * the text: a threshold over 1 is a percentage written as such. */
    double most = f->kind == F_WORD_COUNT || f->kind == F_MEAN_WORD_LENGTH ? INFINITY : 1;
    if (threshold(params, lo_key, -INFINITY, most, &f->lo, err) < 0 ||
        threshold(params, hi_key, INFINITY, most, &f->hi, err) < 0)
        return -1;
    /* Blame the bound the user gave (both given: the lower). */
    if (f->lo > f->hi && given(params, lo_key))
        return wn_params_refuse(params, lo_key, err, "%g is above '%s' (%g)", f->lo, hi_key, f->hi);
    if (f->lo > f->hi)
        return wn_params_refuse(params, hi_key, err, "%g is below '%s' (%g)", f->hi, lo_key, f->lo);
    const char *sf = wn_params_str(params, "score_field");
    if (!(f->text_field = strdup(wn_params_str(params, "text_field"))) ||
        (*sf && !(f->score_field = strdup(sf))))
        return wn_errprintf(err, "out of memory");
    return 0;
}

/* The common part of every filter's init: lo_key and hi_key name the
 * parameters bounding the kept scores (NULL: unbounded on that side).
 * A failing one leaves its data for fini, which the runner calls then. */
static int filter_init(struct wn_stage *st, const struct wn_params *params, enum fkind kind,
                       const char *lo_key, const char *hi_key, wn_error_t *err)
{
    struct filter *f = calloc(1, sizeof(*f));
    if (!f)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, f);
    f->kind = kind;
    if (read_params(f, params, lo_key, hi_key, err) < 0)
        return -1;
    /* A filter passes its inputs' rows on, with every column. */
    const char *reads[] = {f->text_field, NULL}, *writes[] = {f->score_field, NULL};
    return wn_stage_set_columns(st, reads, writes, WN_COLUMNS_PASS, err);
}

/* Checks input i's columns; NULL (err filled) when they are unusable. */
static const struct wn_column *text_column(const struct filter *f, const struct wn_batch *b,
                                           size_t i, wn_error_t *err)
{
    const struct wn_column *c = wn_batch_find(b, f->text_field);
    errno = EINVAL;
    if (!c)
        wn_errprintf(err, "input %zu: no text column '%s' (text_field)", i, f->text_field);
    else if (c->type != WN_TYPE_STR)
        wn_errprintf(err, "input %zu: text column '%s' is %s, not str", i, f->text_field,
                     wn_type_name(c->type));
    else if (f->score_field && wn_batch_find(b, f->score_field))
        wn_errprintf(err, "input %zu: column '%s' (score_field) exists already", i, f->score_field);
    else if (c->nrows > UINT32_MAX) {
        errno = EFBIG;
        wn_errprintf(err, "input %zu: %llu rows (at most 2^32 - 1)", i,
                     (unsigned long long)c->nrows);
    } else
        return c;
    return NULL;
}

/* The kept rows of one input as a new batch, plus the score column when
 * asked for; NULL with err filled on failure. */
static struct wn_batch *filter_batch(const struct filter *f, struct scratch *s,
                                     const struct wn_batch *b, const struct wn_column *text,
                                     uint32_t *keep, double *scores, wn_error_t *err)
{
    size_t nkeep = 0;
    for (uint64_t r = 0; r < text->nrows; r++) {
        size_t len;
        const char *t = wn_col_str(text, r, &len);
        double v;
        if (decode(s, t, len) < 0 || score(f, s, &v) < 0) {
            wn_errprintf(err, "out of memory");
            return NULL;
        }
        if (f->lo <= v && v <= f->hi) {
            keep[nkeep] = (uint32_t)r;
            scores[nkeep++] = v;
        }
    }
    struct wn_batch *o = wn_batch_take(b, keep, nkeep, err);
    if (o && f->score_field) {
        struct wn_column *c = wn_batch_add_column(o, f->score_field, WN_TYPE_F64, 1, err);
        if (!c || wn_col_append_n(c, scores, nkeep, err) < 0) {
            wn_batch_destroy(o);
            return NULL;
        }
    }
    return o;
}

/* Every input is checked before any output is made, so a bad input fails
 * the call without work done. */
static int filter_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                          struct wn_task_list *out, wn_error_t *err)
{
    const struct filter *f = wn_stage_data(st);
    uint64_t most = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in[i]->batch)
            continue;
        const struct wn_column *c = text_column(f, in[i]->batch, i, err);
        if (!c)
            return -1;
        most = c->nrows > most ? c->nrows : most;
    }
    struct scratch s = {0};
    uint32_t *keep = malloc((most ? most : 1) * sizeof(*keep));
    double *scores = malloc((most ? most : 1) * sizeof(*scores));
    int rc = keep && scores ? 0 : wn_errprintf(err, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!in[i]->batch)
            continue; /* no rows, no output */
        const struct wn_column *text = text_column(f, in[i]->batch, i, err);
        struct wn_batch *o = filter_batch(f, &s, in[i]->batch, text, keep, scores, err);
        if (!o || wn_task_list_push_batch(out, o, err) < 0)
            rc = wn_errprefix(err, "input %zu", i);
    }
    scratch_free(&s);
    free(keep);
    free(scores);
    return rc;
}

#define COMMON_PARAMS                                                                \
    {"text_field", WN_PARAM_STRING, "${text_field}", "str column holding the text"}, \
    {                                                                                \
        "score_field", WN_PARAM_STRING, "",                                          \
            "f64 column of the kept rows' scores to add (empty: none)"               \
    }

/* One stage type: its parameter table, init and ops. */
#define FILTER_STAGE(NAME, KIND, LO, HI, HELP, ...)                                              \
    static const struct wn_param_spec NAME##_params[] = {__VA_ARGS__, COMMON_PARAMS,             \
                                                         WN_PARAM_END};                          \
    static int NAME##_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err) \
    {                                                                                            \
        return filter_init(st, params, KIND, LO, HI, err);                                       \
    }                                                                                            \
    const struct wn_stage_ops wn_stage_##NAME##_ops = {                                          \
        .abi_version = WN_STAGE_ABI,                                                             \
        .type = #NAME,                                                                           \
        .help = HELP,                                                                            \
        .params = NAME##_params,                                                                 \
        .init = NAME##_init,                                                                     \
        .process_batch = filter_process,                                                         \
        .fini = filter_fini,                                                                     \
    };

FILTER_STAGE(word_count, F_WORD_COUNT, "min_words", "max_words",
             "keep documents of min_words to max_words words (NeMo's WordCountFilter)",
             {"min_words", WN_PARAM_INT, "50", "fewest words kept"},
             {"max_words", WN_PARAM_INT, "100000", "most words kept"})

FILTER_STAGE(mean_word_length, F_MEAN_WORD_LENGTH, "min_mean_word_length", "max_mean_word_length",
             "keep documents whose mean word length is in range (NeMo's MeanWordLengthFilter)",
             {"min_mean_word_length", WN_PARAM_DOUBLE, "3", "least mean word length kept"},
             {"max_mean_word_length", WN_PARAM_DOUBLE, "10", "greatest mean word length kept"})

FILTER_STAGE(symbols_to_words, F_SYMBOLS_TO_WORDS, NULL, "max_symbol_to_word_ratio",
             "drop documents with many '#' or ellipsis words (NeMo's SymbolsToWordsFilter)",
             {"max_symbol_to_word_ratio", WN_PARAM_DOUBLE, "0.1",
              "greatest share of symbol words kept"})

FILTER_STAGE(non_alphanumeric, F_NON_ALPHANUMERIC, NULL, "max_non_alpha_numeric_to_text_ratio",
             "drop documents with many non-alphanumeric characters (NeMo's "
             "NonAlphaNumericFilter)",
             {"max_non_alpha_numeric_to_text_ratio", WN_PARAM_DOUBLE, "0.25",
              "greatest share of other characters kept"})

FILTER_STAGE(urls, F_URLS, NULL, "max_url_to_text_ratio",
             "drop documents made largely of URLs (NeMo's UrlsFilter)",
             {"max_url_to_text_ratio", WN_PARAM_DOUBLE, "0.2",
              "greatest share of URL characters kept"})

FILTER_STAGE(repeated_lines, F_REPEATED_LINES, "max_repeated_line_fraction", NULL,
             "drop documents with many repeated lines (NeMo's RepeatedLinesFilter)",
             {"max_repeated_line_fraction", WN_PARAM_DOUBLE, "0.7",
              "least share of distinct lines kept"})

FILTER_STAGE(repeated_paragraphs, F_REPEATED_PARAGRAPHS, "max_repeated_paragraphs_ratio", NULL,
             "drop documents with many repeated paragraphs (NeMo's RepeatedParagraphsFilter)",
             {"max_repeated_paragraphs_ratio", WN_PARAM_DOUBLE, "0.7",
              "least share of distinct paragraphs kept"})

FILTER_STAGE(bullets, F_BULLETS, NULL, "max_bullet_lines_ratio",
             "drop documents made largely of bullet lines (NeMo's BulletsFilter)",
             {"max_bullet_lines_ratio", WN_PARAM_DOUBLE, "0.9",
              "greatest share of bullet lines kept"})

/* repeating_top_ngrams also reads n. */
static const struct wn_param_spec repeating_top_ngrams_params[] = {
    {"n", WN_PARAM_INT, "2", "words per n-gram (>= 1)"},
    {"max_repeating_ngram_ratio", WN_PARAM_DOUBLE, "0.2",
     "greatest share of characters in the top n-gram's occurrences kept"},
    COMMON_PARAMS,
    WN_PARAM_END};

static int repeating_top_ngrams_init(struct wn_stage *st, const struct wn_params *params,
                                     wn_error_t *err)
{
    long long n;
    if (wn_params_int_range(params, "n", 1, LLONG_MAX, &n, err) < 0)
        return -1;
    if (filter_init(st, params, F_TOP_NGRAMS, NULL, "max_repeating_ngram_ratio", err) < 0)
        return -1;
    ((struct filter *)wn_stage_data(st))->n = (size_t)n;
    return 0;
}

const struct wn_stage_ops wn_stage_repeating_top_ngrams_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "repeating_top_ngrams",
    .help = "drop documents where the top n-gram covers much of the text (NeMo's "
            "RepeatingTopNGramsFilter)",
    .params = repeating_top_ngrams_params,
    .init = repeating_top_ngrams_init,
    .process_batch = filter_process,
    .fini = filter_fini,
};
