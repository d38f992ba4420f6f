/* params.c - a stage's parameters (see winnow/params.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "winnow/params.h"

struct wn_param_entry {
    char *key;
    char *value;
    char *origin;   /* never NULL ("" when unknown) */
    unsigned flags; /* WN_PARAM_F_* */
    int is_default;
};

struct wn_params {
    char *where; /* the owning stage's file:line, or NULL */
    char *stage; /* its name, once validated; or NULL */
    struct wn_param_entry *v;
    size_t n, cap;
};

const char *wn_param_type_name(enum wn_param_type type)
{
    switch (type) {
    case WN_PARAM_INT:
        return "int";
    case WN_PARAM_DOUBLE:
        return "double";
    case WN_PARAM_BOOL:
        return "bool";
    case WN_PARAM_STRING:
        return "string";
    }
    return "?";
}

/* ------------------------------------------------------------ parsing -- */

int wn_yaml_is_null(const char *text, unsigned flags)
{
    return !(flags & WN_PARAM_F_QUOTED) && (!*text || !strcmp(text, "~") || !strcmp(text, "null") ||
                                            !strcmp(text, "Null") || !strcmp(text, "NULL"));
}

void wn_param_why(char *why, size_t whylen, const char *expected, const char *text, unsigned flags)
{
    if (flags & WN_PARAM_F_QUOTED)
        snprintf(why, whylen, "expected %s, got the quoted string \"%s\"", expected, text);
    else if (!*text)
        snprintf(why, whylen, "expected %s, got an empty value", expected);
    else
        snprintf(why, whylen, "expected %s, got '%s'", expected, text);
}

static int parse_ll(const char *text, long long *out)
{
    const char *s = text;
    if (*s == '+' || *s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (const char *q = s; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return -2;
    *out = v;
    return 0;
}

static int parse_dbl(const char *text, double *out)
{
    /* strtod also reads hex floats, inf and nan; none belongs in a
     * pipeline file, so only decimal digits, sign, '.', and an exponent. */
    int digits = 0;
    for (const char *q = text; *q; q++) {
        if (isdigit((unsigned char)*q))
            digits = 1;
        else if (!strchr("+-.eE", *q))
            return -1;
    }
    if (!digits)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end || end == text)
        return -1;
    if (errno == ERANGE || !isfinite(v))
        return -2;
    *out = v;
    return 0;
}

static int parse_bool(const char *text, int *out)
{
    static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(text, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(text, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int wn_param_parse(enum wn_param_type type, const char *text, unsigned flags, void *out, char *why,
                   size_t whylen)
{
    int rc = 0;
    if (type == WN_PARAM_STRING) {
        *(const char **)out = text;
        return 0;
    }
    if (flags & WN_PARAM_F_QUOTED)
        rc = -1;
    else if (type == WN_PARAM_INT)
        rc = parse_ll(text, out);
    else if (type == WN_PARAM_DOUBLE)
        rc = parse_dbl(text, out);
    else if (type == WN_PARAM_BOOL)
        rc = parse_bool(text, out);
    else
        rc = -1;
    if (rc == 0)
        return 0;
    static const char *expected[] = {
        [WN_PARAM_INT] = "an integer",
        [WN_PARAM_DOUBLE] = "a number",
        [WN_PARAM_BOOL] = "true or false (or yes/no, on/off)",
        [WN_PARAM_STRING] = "a string",
    };
    if (rc == -2)
        snprintf(why, whylen, "'%s' is out of range", text);
    else
        wn_param_why(why, whylen, (unsigned)type <= WN_PARAM_STRING ? expected[type] : "?", text,
                     flags);
    errno = EINVAL;
    return -1;
}

/* Levenshtein distance, capped: strings longer than 63 never match. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *wn_param_suggest(const char *key, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        size_t d = edit_distance(key, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    /* A typo is one or two edits, fewer for short names ("gpu" vs "cpu"
     * would otherwise suggest each other for anything). */
    size_t len = strlen(key);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}

/* ------------------------------------------------------------- storage -- */

struct wn_params *wn_params_create(const char *where)
{
    struct wn_params *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (where && !(p->where = strdup(where))) {
        free(p);
        return NULL;
    }
    return p;
}

void wn_params_destroy(struct wn_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        free(p->v[i].value);
        free(p->v[i].origin);
    }
    free(p->v);
    free(p->where);
    free(p->stage);
    free(p);
}

static struct wn_param_entry *find(const struct wn_params *p, const char *key)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (!strcmp(p->v[i].key, key))
            return &p->v[i];
    return NULL;
}

static int set_entry(struct wn_params *p, const char *key, const char *value, const char *origin,
                     unsigned flags, int is_default)
{
    char *v = strdup(value), *o = strdup(origin ? origin : "");
    if (!v || !o)
        goto nomem;
    struct wn_param_entry *e = find(p, key);
    if (!e) {
        if (p->n == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 8;
            struct wn_param_entry *nv = realloc(p->v, cap * sizeof(*nv));
            if (!nv)
                goto nomem;
            p->v = nv;
            p->cap = cap;
        }
        e = &p->v[p->n];
        if (!(e->key = strdup(key)))
            goto nomem;
        e->value = e->origin = NULL;
        p->n++;
    }
    free(e->value);
    free(e->origin);
    e->value = v;
    e->origin = o;
    e->flags = flags;
    e->is_default = is_default;
    return 0;
nomem:
    free(v);
    free(o);
    errno = ENOMEM;
    return -1;
}

struct wn_params *wn_params_clone(const struct wn_params *p)
{
    struct wn_params *c = wn_params_create(p ? p->where : NULL);
    if (c && p && p->stage && !(c->stage = strdup(p->stage))) {
        wn_params_destroy(c);
        return NULL;
    }
    for (size_t i = 0; c && p && i < p->n; i++) {
        const struct wn_param_entry *e = &p->v[i];
        if (set_entry(c, e->key, e->value, e->origin, e->flags, e->is_default) < 0) {
            wn_params_destroy(c);
            return NULL;
        }
    }
    return c;
}

int wn_params_set(struct wn_params *p, const char *key, const char *value, const char *origin,
                  unsigned flags, wn_error_t *err)
{
    if (!p || !key || !*key || !value) {
        errno = EINVAL;
        return wn_errprintf(err, "wn_params_set: bad arguments");
    }
    if (set_entry(p, key, value, origin, flags, 0) < 0)
        return wn_errprintf(err, "out of memory");
    return 0;
}

/* "ORIGIN: " or "" */
static const char *origin_sep(const char *origin)
{
    return origin && *origin ? ": " : "";
}

/* Room for any parameter's parsed value (wn_param_parse's out). */
union param_value {
    long long i;
    double d;
    int b;
    const char *s;
};

int wn_params_validate(struct wn_params *p, const struct wn_param_spec *table,
                       const char *stage_name, wn_error_t *err)
{
    const char *stage = stage_name ? stage_name : "?";
    if (!p) {
        errno = EINVAL;
        return wn_errprintf(err, "stage '%s': no parameter list", stage);
    }
    size_t ntable = 0;
    while (table && table[ntable].name)
        ntable++;

    /* Check the table itself first: a bad default is the stage author's
     * bug and must not surface as a user's error later. */
    char why[256];
    for (size_t t = 0; t < ntable; t++) {
        union param_value v;
        if (table[t].def &&
            wn_param_parse(table[t].type, table[t].def, 0, &v, why, sizeof(why)) < 0)
            return wn_errprintf(err, "stage '%s': parameter table: default of '%s': %s", stage,
                                table[t].name, why);
    }

    for (size_t i = 0; i < p->n; i++) {
        const struct wn_param_entry *e = &p->v[i];
        const struct wn_param_spec *s = NULL;
        for (size_t t = 0; t < ntable && !s; t++)
            if (!strcmp(table[t].name, e->key))
                s = &table[t];
        if (!s) {
            errno = EINVAL;
            const char *names[64] = {NULL};
            size_t nn = ntable < 64 ? ntable : 64;
            for (size_t t = 0; t < nn; t++)
                names[t] = table[t].name;
            const char *hint = wn_param_suggest(e->key, names, nn);
            if (hint)
                return wn_errprintf(err,
                                    "%s%sstage '%s': unknown parameter '%s' "
                                    "(did you mean '%s'?)",
                                    e->origin, origin_sep(e->origin), stage, e->key, hint);
            return wn_errprintf(err, "%s%sstage '%s': unknown parameter '%s'%s", e->origin,
                                origin_sep(e->origin), stage, e->key,
                                ntable ? " (`winnow stages` lists the parameters)"
                                       : " (this stage type takes no parameters)");
        }
        union param_value v;
        if (wn_param_parse(s->type, e->value, e->flags, &v, why, sizeof(why)) < 0)
            return wn_errprintf(err, "%s%sstage '%s': parameter '%s': %s", e->origin,
                                origin_sep(e->origin), stage, e->key, why);
    }

    /* All checks before the first default is filled in: a failed
     * validation leaves p as it was. */
    for (size_t t = 0; t < ntable; t++)
        if (!table[t].def && !find(p, table[t].name)) {
            errno = EINVAL;
            return wn_errprintf(err, "%s%sstage '%s': missing required parameter '%s' (%s%s%s)",
                                p->where ? p->where : "", origin_sep(p->where), stage,
                                table[t].name, wn_param_type_name(table[t].type),
                                table[t].help ? ": " : "", table[t].help ? table[t].help : "");
        }
    for (size_t t = 0; t < ntable; t++)
        if (!find(p, table[t].name) &&
            set_entry(p, table[t].name, table[t].def, "default", 0, 1) < 0)
            return wn_errprintf(err, "out of memory");
    if (stage_name && (!p->stage || strcmp(p->stage, stage_name))) {
        char *s = strdup(stage_name);
        if (!s)
            return wn_errprintf(err, "out of memory");
        free(p->stage);
        p->stage = s;
    }
    return 0;
}

/* ------------------------------------------------------------- getters -- */

/* Every message about one parameter's value starts the same way, so the
 * user finds the line that set it: "ORIGIN: stage 'NAME': parameter
 * 'KEY': WHY".  A default has no line of its own: it is placed at the
 * stage's entry and said to be the default. */
static int refuse_v(const struct wn_params *p, const char *key, int eno, wn_error_t *err,
                    const char *fmt, va_list ap)
{
    const struct wn_param_entry *e = find(p, key);
    const char *origin = e && !e->is_default ? e->origin : p ? p->where : NULL;
    char why[WN_ERROR_TEXT], stage[160] = "";
    vsnprintf(why, sizeof(why), fmt, ap);
    if (p && p->stage)
        snprintf(stage, sizeof(stage), "stage '%s': ", p->stage);
    errno = eno;
    return wn_errprintf(err, "%s%s%sparameter '%s'%s: %s", origin ? origin : "", origin_sep(origin),
                        stage, key, e && e->is_default ? " (default)" : "", why);
}

int wn_params_refuse(const struct wn_params *p, const char *key, wn_error_t *err, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    refuse_v(p, key, EINVAL, err, fmt, ap);
    va_end(ap);
    return -1;
}

static int refuse_eno(const struct wn_params *p, const char *key, int eno, wn_error_t *err,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int refuse_eno(const struct wn_params *p, const char *key, int eno, wn_error_t *err,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    refuse_v(p, key, eno, err, fmt, ap);
    va_end(ap);
    return -1;
}

static int get_typed(const struct wn_params *p, const char *key, enum wn_param_type type, void *out,
                     wn_error_t *err)
{
    const struct wn_param_entry *e = find(p, key);
    if (!e) {
        errno = ENOENT;
        return wn_errprintf(err, "parameter '%s' is not set", key);
    }
    char why[256];
    if (wn_param_parse(type, e->value, e->flags, out, why, sizeof(why)) < 0)
        return refuse_eno(p, key, EINVAL, err, "%s", why);
    return 0;
}

int wn_params_int(const struct wn_params *p, const char *key, long long *out, wn_error_t *err)
{
    return get_typed(p, key, WN_PARAM_INT, out, err);
}

int wn_params_double(const struct wn_params *p, const char *key, double *out, wn_error_t *err)
{
    return get_typed(p, key, WN_PARAM_DOUBLE, out, err);
}

int wn_params_bool(const struct wn_params *p, const char *key, int *out, wn_error_t *err)
{
    return get_typed(p, key, WN_PARAM_BOOL, out, err);
}

int wn_params_int_range(const struct wn_params *p, const char *key, long long min, long long max,
                        long long *out, wn_error_t *err)
{
    long long v;
    if (get_typed(p, key, WN_PARAM_INT, &v, err) < 0)
        return -1;
    if (v >= min && v <= max) {
        *out = v;
        return 0;
    }
    if (max == LLONG_MAX)
        return refuse_eno(p, key, ERANGE, err, "must be >= %lld, got %lld", min, v);
    if (min == LLONG_MIN)
        return refuse_eno(p, key, ERANGE, err, "must be <= %lld, got %lld", max, v);
    return refuse_eno(p, key, ERANGE, err, "must be from %lld to %lld, got %lld", min, max, v);
}

/* The shortest text that reads back as d (0.1, not 0.10000000000000001). */
static const char *shortest(char *buf, size_t len, double d)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return buf;
}

int wn_params_double_range(const struct wn_params *p, const char *key, double min, double max,
                           unsigned flags, double *out, wn_error_t *err)
{
    double v;
    if (get_typed(p, key, WN_PARAM_DOUBLE, &v, err) < 0)
        return -1;
    int lo_x = (flags & WN_RANGE_EXCL_MIN) != 0, hi_x = (flags & WN_RANGE_EXCL_MAX) != 0;
    int lo_ok = lo_x ? v > min : v >= min, hi_ok = hi_x ? v < max : v <= max;
    if (lo_ok && hi_ok) {
        *out = v;
        return 0;
    }
    /* The bounds as a reader writes them: "from 0 to 1", "> 0",
     * "> 0 and <= 1". */
    char lo[64] = "", hi[64] = "", a[32], b[32];
    shortest(a, sizeof(a), min);
    shortest(b, sizeof(b), max);
    const char *got = wn_params_str(p, key);
    if (isfinite(min) && isfinite(max) && !lo_x && !hi_x)
        return refuse_eno(p, key, ERANGE, err, "must be from %s to %s, got %s", a, b, got);
    if (isfinite(min))
        snprintf(lo, sizeof(lo), "%s %s", lo_x ? ">" : ">=", a);
    if (isfinite(max))
        snprintf(hi, sizeof(hi), "%s %s", hi_x ? "<" : "<=", b);
    return refuse_eno(p, key, ERANGE, err, "must be %s%s%s, got %s", lo, *lo && *hi ? " and " : "",
                      hi, got);
}

const char *wn_params_str(const struct wn_params *p, const char *key)
{
    const struct wn_param_entry *e = find(p, key);
    if (!e) {
        errno = ENOENT;
        return NULL;
    }
    return e->value;
}

size_t wn_params_count(const struct wn_params *p)
{
    return p ? p->n : 0;
}

const char *wn_params_key(const struct wn_params *p, size_t i)
{
    return p && i < p->n ? p->v[i].key : NULL;
}

const char *wn_params_value(const struct wn_params *p, size_t i)
{
    return p && i < p->n ? p->v[i].value : NULL;
}

const char *wn_params_origin(const struct wn_params *p, size_t i)
{
    return p && i < p->n ? p->v[i].origin : NULL;
}

int wn_params_is_default(const struct wn_params *p, size_t i)
{
    return p && i < p->n ? p->v[i].is_default : 0;
}

unsigned wn_params_flags(const struct wn_params *p, size_t i)
{
    return p && i < p->n ? p->v[i].flags : 0;
}

/* ------------------------------------------------------------ printing -- */

/* Prints s so that the loader reads back the same text: plain when it
 * is a safe word (and not quoted before), double-quoted otherwise. */
void wn_yaml_put_scalar(FILE *out, const char *s, unsigned flags)
{
    int safe = *s && !(flags & WN_PARAM_F_QUOTED) &&
               !(s[0] == '-' && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.');
    for (const char *q = s; safe && *q; q++)
        safe = isalnum((unsigned char)*q) || strchr("_.-/+", *q);
    if (safe && wn_yaml_is_null(s, 0))
        safe = 0; /* would read back as "unset" */
    if (safe) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\')
            fprintf(out, "\\%c", *q);
        else if (*q == '\n')
            fputs("\\n", out);
        else if (*q == '\t')
            fputs("\\t", out);
        else if (*q < 0x20 || *q == 0x7f)
            fprintf(out, "\\x%02x", *q);
        else
            fputc(*q, out);
    }
    fputc('"', out);
}

void wn_params_print_yaml(const struct wn_params *p, FILE *out, const char *indent)
{
    size_t given = 0;
    for (size_t i = 0; p && i < p->n; i++)
        given += !p->v[i].is_default;
    fputs(given ? "\n" : " {}\n", out);
    for (size_t i = 0; p && i < p->n; i++) {
        const struct wn_param_entry *e = &p->v[i];
        fprintf(out, "%s%s%s: ", indent, e->is_default ? "# " : "", e->key);
        wn_yaml_put_scalar(out, e->value, e->flags);
        fputs(e->is_default ? "   (default)\n" : "\n", out);
    }
}
