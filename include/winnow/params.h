/* winnow/params.h - a stage's parameters: declared once, read with getters.
 *
 * A stage type declares what it accepts in one NULL-terminated table; the
 * table drives validation (unknown keys and badly typed values are errors
 * naming the stage, the key and where the value came from), defaults and
 * the help text of `winnow stages`:
 *
 *   static const struct wn_param_spec minhash_params[] = {
 *       {"char_ngrams", WN_PARAM_INT,  "24", "characters per shingle"},
 *       {"seed",        WN_PARAM_INT,  "42", "permutation seed"},
 *       {"text_field",  WN_PARAM_STRING, "text", "column holding the text"},
 *       {"model",       WN_PARAM_STRING, NULL, "path (required)"},
 *       WN_PARAM_END
 *   };
 *
 * The runner validates a stage's parameters against its table before the
 * stage's init runs, filling in every default, so in init a getter finds
 * every declared key:
 *
 *   long long n;
 *   if (wn_params_int(params, "char_ngrams", &n, err) < 0) return -1;
 *
 * Values are kept as the text the pipeline file (or `--set`) gave; the
 * getters convert.  Integers are decimal ("-3", "+7"), doubles are what
 * strtod reads except inf/nan, booleans are true/false, yes/no, on/off
 * (any case).  Return values follow winnow/error.h.
 *
 * A value the table accepts may still be one the stage cannot use (out
 * of range, not one of its choices).  Refuse it in init with the range
 * getters or wn_params_refuse, never with a bare wn_errprintf: their
 * messages say where the value came from, so the user finds the line:
 *
 *   pipeline.yaml:14:7: stage 'minhash': parameter 'num_bands': must be
 *       from 1 to 65536, got 0
 *   --set stages.minhash.seed=-1: stage 'minhash': parameter 'seed': ...
 *
 *   if (wn_params_int_range(params, "num_bands", 1, 65536, &bands, err) < 0)
 *       return -1;
 */
#ifndef WINNOW_PARAMS_H
#define WINNOW_PARAMS_H

#include <stddef.h>

#include "winnow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum wn_param_type {
    WN_PARAM_INT,    /* long long */
    WN_PARAM_DOUBLE, /* finite double */
    WN_PARAM_BOOL,   /* int 0/1 */
    WN_PARAM_STRING, /* any text */
};

struct wn_param_spec {
    const char *name; /* NULL ends the table */
    enum wn_param_type type;
    const char *def;  /* default as the file would write it; NULL = required */
    const char *help; /* one line for `winnow stages` */
};
#define WN_PARAM_END                   \
    {                                  \
        NULL, WN_PARAM_INT, NULL, NULL \
    }

/* "int", "double", "bool", "string". */
const char *wn_param_type_name(enum wn_param_type type);

/* An ordered list of (key, value text, origin).  Opaque. */
struct wn_params;

/* `where` ("pipeline.yaml:12:5", may be NULL) is where the owner (the
 * stage) is declared; it prefixes "missing required parameter" errors. */
struct wn_params *wn_params_create(const char *where);
struct wn_params *wn_params_clone(const struct wn_params *p);
void wn_params_destroy(struct wn_params *p);

/* flags for wn_params_set */
#define WN_PARAM_F_QUOTED \
    0x1u /* a quoted YAML scalar: a string, never a
            number or a boolean */

/* Sets key to value, replacing an earlier value.  origin says where the
 * value came from ("pipeline.yaml:14:7", "--set stages.x.k=v") and
 * prefixes every later error about it. */
int wn_params_set(struct wn_params *p, const char *key, const char *value, const char *origin,
                  unsigned flags, wn_error_t *err);

/* Checks p against table (NULL = the stage takes no parameters):
 *   - a key not in the table is an error (with a did-you-mean);
 *   - a value that does not parse as its declared type is an error;
 *   - a declared key without a value gets its default, or is an error
 *     when it has none (required).
 * Errors read "ORIGIN: stage 'NAME': ...".  Safe to call again.  p
 * remembers stage_name for the getters' messages. */
int wn_params_validate(struct wn_params *p, const struct wn_param_spec *table,
                       const char *stage_name, wn_error_t *err);

/* Getters: -1 with errno ENOENT when the key is absent, EINVAL when its
 * value is not of the asked type (the message names the origin). */
int wn_params_int(const struct wn_params *p, const char *key, long long *out, wn_error_t *err);
int wn_params_double(const struct wn_params *p, const char *key, double *out, wn_error_t *err);
int wn_params_bool(const struct wn_params *p, const char *key, int *out, wn_error_t *err);
/* Range-checked getters: as wn_params_int / wn_params_double, and -1
 * with errno ERANGE when the value lies outside [min, max]; the message
 * reads "ORIGIN: stage 'NAME': parameter 'KEY': must be ..., got V".
 * LLONG_MIN / LLONG_MAX (-INFINITY / INFINITY) leave a side open; flags
 * make a bound exclusive. */
int wn_params_int_range(const struct wn_params *p, const char *key, long long min, long long max,
                        long long *out, wn_error_t *err);
#define WN_RANGE_EXCL_MIN 0x1u /* min itself is refused */
#define WN_RANGE_EXCL_MAX 0x2u /* max itself is refused */
int wn_params_double_range(const struct wn_params *p, const char *key, double min, double max,
                           unsigned flags, double *out, wn_error_t *err);

/* Refuses key's value for any other reason (not one of the choices, too
 * long, at odds with another parameter): formats "ORIGIN: stage 'NAME':
 * parameter 'KEY': " and then fmt into err, and returns -1 with errno
 * EINVAL.  A value filled in from the table's default is placed at the
 * stage's entry and called "(default)". */
int wn_params_refuse(const struct wn_params *p, const char *key, wn_error_t *err, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* The value text, or NULL (errno ENOENT) when absent.  Valid until the
 * key is set again or p is destroyed. */
const char *wn_params_str(const struct wn_params *p, const char *key);

/* Iteration in insertion order (file order, then overrides, then the
 * defaults validation filled in). */
size_t wn_params_count(const struct wn_params *p);
const char *wn_params_key(const struct wn_params *p, size_t i);
const char *wn_params_value(const struct wn_params *p, size_t i);
const char *wn_params_origin(const struct wn_params *p, size_t i);
/* 1 when entry i was filled from the table's default, not given. */
int wn_params_is_default(const struct wn_params *p, size_t i);
/* WN_PARAM_F_* of entry i. */
unsigned wn_params_flags(const struct wn_params *p, size_t i);

/* Parses text as type into out (long long *, double *, int *, or
 * const char ** for strings).  On failure fills why (a phrase such as
 * "expected an integer, got 'abc'") and returns -1 with errno EINVAL. */
int wn_param_parse(enum wn_param_type type, const char *text, unsigned flags, void *out, char *why,
                   size_t whylen);

/* The name in names[0..n) (NULL entries skipped) closest to key by edit
 * distance, if close enough to be a likely typo; else NULL. */
const char *wn_param_suggest(const char *key, const char *const *names, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_PARAMS_H */
