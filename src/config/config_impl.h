/* config_impl.h - private glue between the pipeline file's two files: the
 * key tables and what the loader and the editing side both use.  Not
 * installed; nothing outside config*.c includes it.
 *
 *   config.c        the key tables (one per section) and the functions
 *                   on them, loading (YAML with libyaml), free, lookups
 *   config_edit.c   what is done to a loaded file: --set overrides,
 *                   printing, the resume hash, ${...} expansion
 *   config_read.c   reading the file within its limits, and a first pass
 *                   over its YAML events that refuses a shape past them
 *                   (depth, entries, anchors, nodes) before the loader
 *                   builds a tree
 */
#ifndef WN_CONFIG_IMPL_H
#define WN_CONFIG_IMPL_H

#include <stdarg.h>

#include <stddef.h>

#include "winnow/error.h"

enum ftype {
    F_STR,    /* char *; empty or YAML null unsets */
    F_NAME,   /* char *; [A-Za-z0-9_.-]+ */
    F_TYPE,   /* char *; a built-in type name or a plugin path */
    F_INT,    /* int, >= min, <= max (INT_MAX when max is 0) */
    F_DOUBLE, /* double, >= min (> min when excl), <= max (none when 0) */
    F_BOOL,   /* int 0/1 */
    F_ZLEVEL, /* int; "none" 0, "deflate[:LEVEL]" LEVEL 1..9 (bare: 1) */
    F_MODE,   /* int; "bulk" WN_MODE_BULK, "streaming" WN_MODE_STREAMING */
};

struct field {
    const char *key;
    enum ftype type;
    size_t off; /* in the struct the section fills */
    double min;
    int excl;            /* min is exclusive */
    const char *expect;  /* for messages: "an integer >= 0" */
    const char *def;     /* default as text; NULL: none (0 / unset) */
    double max;          /* 0: none beyond the type's */
    const char *why_max; /* said when max is passed: what a unit costs */
};

/* config.c: the tables, each ended by a NULL key.  top: the file's own
 * keys; exec: executor:; stage: a stage's; res: a stage's resources:. */
extern const struct field config_top_fields[];
extern const struct field config_exec_fields[];
extern const struct field config_stage_fields[];
extern const struct field config_res_fields[];

/* The entry for key in table t, or NULL. */
const struct field *config_field_find(const struct field *t, const char *key);
/* Sets field f of base from text (flags: WN_PARAM_F_*); on failure fills
 * why, returns -1 (errno ENOMEM when out of memory). */
int config_field_set(const struct field *f, void *base, const char *text, unsigned flags, char *why,
                     size_t whylen);
/* " (did you mean 'x'?)" or "" into buf, among t's keys and extra1,
 * extra2 (either may be NULL); returns buf. */
const char *config_did_you_mean(const char *key, const struct field *t, const char *extra1,
                                const char *extra2, char *buf, size_t len);

/* config_read.c: 0 when text's YAML keeps within the limits of config.h
 * (syntax errors are left to the loader); else -1 with errno EINVAL and
 * err "PATH:LINE:COL: ...". */
int config_check_shape(const char *text, size_t len, const char *path, wn_error_t *err);

/* "PATH:LINE:COL: message" into err for libyaml's 0-based line and
 * column (errno EINVAL); returns -1. */
int config_verr_at(wn_error_t *err, const char *path, size_t line, size_t column, const char *fmt,
                   va_list ap);

#endif /* WN_CONFIG_IMPL_H */
