/* config.c - the YAML pipeline file: the key tables and loading (see
 * config.h).  What is done to a loaded file (--set overrides, printing,
 * the resume hash, ${...} expansion) is in config_edit.c.
 *
 * libyaml's document loader gives a node tree with source marks; every
 * check below reports the mark of the node it rejects (0-based in libyaml,
 * 1-based in messages).  The keys of each section, their types, ranges and
 * defaults are one table each, shared by the loader, --set, the printer
 * and the hash, so a key added to a table is parsed, overridable, printed
 * and range-checked at once.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config.h"
#include "config/config_impl.h"

/* ------------------------------------------------------- key tables -- */

#define PIPE(f) offsetof(struct wn_pipeline_config, f)
#define EXEC(f) offsetof(struct wn_executor_config, f)
#define STAGE(f) offsetof(struct wn_stage_config, f)

const struct field config_top_fields[] = {
    {"name", F_NAME, PIPE(name), 0, 0, "a name ([A-Za-z0-9_.-]+)", NULL, 0, NULL},
    {"description", F_STR, PIPE(description), 0, 0, "a string", NULL, 0, NULL},
    {"input", F_STR, PIPE(input), 0, 0, "a path", NULL, 0, NULL},
    {"output", F_STR, PIPE(output), 0, 0, "a path", NULL, 0, NULL},
    {"checkpoint", F_STR, PIPE(checkpoint), 0, 0, "a path", NULL, 0, NULL},
    {"text_field", F_STR, PIPE(text_field), 0, 0, "a field name", "text", 0, NULL},
    {"id_field", F_STR, PIPE(id_field), 0, 0, "a field name", NULL, 0, NULL},
    {"rejects", F_STR, PIPE(rejects), 0, 0, "a path", NULL, 0, NULL},
    {"max_reject_fraction", F_DOUBLE, PIPE(max_reject_fraction), 0, 0,
     "a number >= 0 (1: never fail)", "0.1", 0, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL},
};

const struct field config_exec_fields[] = {
    {"mode", F_MODE, EXEC(mode), 0, 0, "bulk or streaming", "bulk", 0, NULL},
    {"queue_depth", F_INT, EXEC(queue_depth), 0, 0,
     "an integer from 0 to 65536 (0: from the actors)", "0", 65536,
     "each queued batch holds its inputs in memory"},
    {"queue_bytes", F_DOUBLE, EXEC(queue_bytes), 0, 0,
     "a number of bytes from 0 to 2^50 (0: from memory_limit)", "0", 0x1p50,
     "1 PiB, more than any node has"},
    {"autoscale_interval", F_DOUBLE, EXEC(autoscale_interval), 0, 0,
     "a number of seconds >= 0 (0: never)", "1", 0, NULL},
    {"slots_per_actor", F_INT, EXEC(slots_per_actor), 0, 0,
     "an integer from 0 to 1025 (0: prefetch + 1)", "0", 1025,
     "a slot's batch has its inputs pulled into the actor's memory"},
    {"reserved_cpus", F_DOUBLE, EXEC(reserved_cpus), 0, 0, "a number >= 0", "0", 0, NULL},
    {"reserved_gpus", F_DOUBLE, EXEC(reserved_gpus), 0, 0, "a number >= 0", "0", 0, NULL},
    {"ignore_head_node", F_BOOL, EXEC(ignore_head_node), 0, 0, NULL, "false", 0, NULL},
    {"show_progress", F_BOOL, EXEC(show_progress), 0, 0, NULL, "true", 0, NULL},
    {"progress_interval", F_DOUBLE, EXEC(progress_interval), 0, 1, "a number > 0", "10", 0, NULL},
    {"prefetch", F_INT, EXEC(prefetch), 0, 0, "an integer from 0 to 1024", "2", 1024,
     "a queued batch's inputs are pulled into its actor's memory when it is queued"},
    {"max_retries", F_INT, EXEC(max_retries), 0, 0, "an integer from 0 to 1000", "2", 1000,
     "each retry runs the batch again; one that failed a thousand times will fail again"},
    {"ignore_failures", F_BOOL, EXEC(ignore_failures), 0, 0, NULL, "false", 0, NULL},
    {"drain_timeout", F_DOUBLE, EXEC(drain_timeout), 0, 1, "a number > 0", "60", 0, NULL},
    {"time_margin", F_DOUBLE, EXEC(time_margin), 0, 0, "a number >= 0", "300", 0, NULL},
    {"shuffle_memory_limit", F_DOUBLE, EXEC(shuffle_memory_limit), 0, 0,
     "a number of bytes from 0 to 2^50 (0: 1 GiB)", "0", 0x1p50, "1 PiB, more than any node has"},
    {"shuffle_inflight", F_DOUBLE, EXEC(shuffle_inflight), 0, 0,
     "a number of bytes from 0 to 2^50 (0: 8 MiB)", "0", 0x1p50, "1 PiB, more than any node has"},
    {"shuffle_spill_dir", F_STR, EXEC(shuffle_spill_dir), 0, 0, "a path", NULL, 0, NULL},
    {"shuffle_timeout", F_DOUBLE, EXEC(shuffle_timeout), 0, 1, "a number > 0", "300", 0, NULL},
    {"heartbeat_timeout", F_DOUBLE, EXEC(heartbeat_timeout), 0, 1, "a number > 0", "300", 0, NULL},
    {"memory_limit", F_DOUBLE, EXEC(memory_limit), 0, 0,
     "a number of bytes from 0 to 2^50 (0: from the allocation)", "0", 0x1p50,
     "1 PiB, more than any node has"},
    {"spill_dir", F_STR, EXEC(spill_dir), 0, 0, "a path", NULL, 0, NULL},
    {"checkpoint_compression", F_ZLEVEL, EXEC(checkpoint_compression), 0, 0,
     "none, deflate or deflate:LEVEL (LEVEL 1 to 9)", "deflate:1", 0, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL},
};

/* 0 means unset for these three, so `--set stages.x.num_workers=0` lifts
 * a cap the file set. */
const struct field config_stage_fields[] = {
    {"name", F_NAME, STAGE(name), 0, 0, "a name ([A-Za-z0-9_.-]+)", NULL, 0, NULL},
    {"type", F_TYPE, STAGE(type), 0, 0, "a stage type or a plugin path", NULL, 0, NULL},
    {"batch_size", F_INT, STAGE(batch_size), 0, 0, "an integer >= 1 (0: unset)", NULL, 0, NULL},
    {"num_workers", F_INT, STAGE(num_workers), 0, 0, "an integer >= 1 (0: no cap)", NULL, 0, NULL},
    {"num_output_tasks", F_INT, STAGE(num_output_tasks), 0, 0,
     "an integer from 1 to 1048576 (0: unset)", NULL, WN_MAX_STAGE_BATCHES,
     "each batch is a record rank 0 keeps, a message and a checkpoint file"},
    {"total_nparts", F_INT, STAGE(total_nparts), 0, 0,
     "an integer from 1 to 1048576 (0: one per input task)", NULL, WN_MAX_STAGE_BATCHES,
     "each partition of each round is a batch rank 0 tracks, a message and a checkpoint "
     "file, and takes 8 bytes in every insert batch"},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL},
};

const struct field config_res_fields[] = {
    {"cpus", F_DOUBLE, STAGE(cpus), 0, 0, "a number >= 0", "1", 0, NULL},
    {"gpus", F_DOUBLE, STAGE(gpus), 0, 0, "a number >= 0", "0", 0, NULL},
    {"gpu_memory_gb", F_DOUBLE, STAGE(gpu_memory_gb), 0, 0, "a number >= 0", "0", 0, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0, NULL},
};

const struct field *config_field_find(const struct field *t, const char *key)
{
    for (; t && t->key; t++)
        if (!strcmp(t->key, key))
            return t;
    return NULL;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!name_char(*s))
            return 0;
    return 1;
}

static int is_plugin_path(const char *s)
{
    const char *colon = strrchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    return memchr(s, '/', len) || (len > 3 && !memcmp(s + len - 3, ".so", 3));
}

/* "none" 0, "deflate" 1, "deflate:N" N for one digit N from 1 to 9;
 * anything else -1.  HDF5's deflate filter takes levels 0 to 9, and 0
 * would chunk every dataset for no gain: "none" says it plainly. */
static int zlevel_parse(const char *s)
{
    if (!strcmp(s, "none"))
        return 0;
    if (!strcmp(s, "deflate"))
        return 1;
    if (!strncmp(s, "deflate:", 8) && s[8] >= '1' && s[8] <= '9' && !s[9])
        return s[8] - '0';
    return -1;
}

/* Sets field f of base from text; on failure fills why, returns -1. */
int config_field_set(const struct field *f, void *base, const char *text, unsigned flags, char *why,
                     size_t whylen)
{
    char *p = (char *)base + f->off;
    errno = EINVAL;
    switch (f->type) {
    case F_STR:
    case F_NAME:
    case F_TYPE: {
        char *v = NULL;
        if (f->type == F_STR && !wn_yaml_is_null(text, flags) && !(v = strdup(text)))
            goto nomem;
        if (f->type == F_NAME && !name_ok(text)) {
            wn_param_why(why, whylen, f->expect, text, 0);
            return -1;
        }
        if (f->type == F_TYPE &&
            (wn_yaml_is_null(text, flags) || (!is_plugin_path(text) && !name_ok(text)))) {
            snprintf(why, whylen,
                     "expected a stage type (`winnow stages` lists them) "
                     "or a plugin path (DIR/NAME.so[:TYPE]), got '%s'",
                     text);
            return -1;
        }
        if (f->type != F_STR && !(v = strdup(text)))
            goto nomem;
        free(*(char **)p);
        *(char **)p = v;
        return 0;
    }
    case F_INT:
    case F_DOUBLE: {
        long long i = 0;
        double d = 0;
        /* (double)INT_MAX: INFINITY is a float, and INT_MAX as a float
         * is 2^31 */
        double max = f->max > 0 ? f->max : f->type == F_INT ? (double)INT_MAX : (double)INFINITY;
        int bad = f->type == F_INT
                      ? wn_param_parse(WN_PARAM_INT, text, flags, &i, why, whylen) < 0 ||
                            i < (long long)f->min || i > (long long)max
                      : wn_param_parse(WN_PARAM_DOUBLE, text, flags, &d, why, whylen) < 0 ||
                            d < f->min || (f->excl && d == f->min) || d > max;
        if (bad) {
            wn_param_why(why, whylen, f->expect, text, flags);
            /* Over the bound: say what each unit costs, so the bound is
             * not taken for an arbitrary one. */
            size_t n = strlen(why);
            if (f->why_max && (i > (long long)max || d > max) && n + 4 < whylen)
                snprintf(why + n, whylen - n, " (%s)", f->why_max);
            errno = EINVAL;
            return -1;
        }
        if (f->type == F_INT)
            *(int *)p = (int)i;
        else
            *(double *)p = d;
        return 0;
    }
    case F_BOOL:
        return wn_param_parse(WN_PARAM_BOOL, text, flags, (int *)p, why, whylen);
    case F_MODE:
        if (!strcmp(text, "bulk") || !strcmp(text, "streaming")) {
            *(int *)p = !strcmp(text, "bulk") ? WN_MODE_BULK : WN_MODE_STREAMING;
            return 0;
        }
        wn_param_why(why, whylen, f->expect, text, flags);
        errno = EINVAL;
        return -1;
    case F_ZLEVEL: {
        int level = zlevel_parse(text);
        if (wn_yaml_is_null(text, flags) || level < 0) {
            wn_param_why(why, whylen, f->expect, text, flags);
            errno = EINVAL;
            return -1;
        }
        *(int *)p = level;
        return 0;
    }
    }
    return -1;
nomem:
    errno = ENOMEM;
    snprintf(why, whylen, "out of memory");
    return -1;
}

static void fields_default(const struct field *t, void *base)
{
    char why[64];
    for (; t->key; t++)
        if (t->def)
            (void)config_field_set(t, base, t->def, 0, why, sizeof(why));
}

/* " (did you mean 'x'?)" or "" into buf. */
const char *config_did_you_mean(const char *key, const struct field *t, const char *extra1,
                                const char *extra2, char *buf, size_t len)
{
    const char *names[32];
    size_t n = 0;
    for (; t && t->key && n < 30; t++)
        names[n++] = t->key;
    names[n++] = extra1;
    names[n++] = extra2;
    const char *s = wn_param_suggest(key, names, n);
    if (s)
        snprintf(buf, len, " (did you mean '%s'?)", s);
    else
        buf[0] = '\0';
    return buf;
}

/* ------------------------------------------------------------ loading -- */

struct loader {
    const char *path;
    yaml_document_t doc;
    struct wn_pipeline_config *cfg;
    wn_error_t *err;
};

static int lerr_at(struct loader *L, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lerr_at(struct loader *L, yaml_mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = config_verr_at(L->err, L->path, m.line, m.column, fmt, ap);
    va_end(ap);
    return rc;
}

int config_verr_at(wn_error_t *err, const char *path, size_t line, size_t column, const char *fmt,
                   va_list ap)
{
    char msg[WN_ERROR_TEXT];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    errno = EINVAL;
    return wn_errprintf(err, "%s:%zu:%zu: %s", path, line + 1, column + 1, msg);
}
#define lerr(L, node, ...) lerr_at((L), (node)->start_mark, __VA_ARGS__)

static const char *kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a scalar";
    }
}

static yaml_node_t *node(struct loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static unsigned scalar_flags(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : WN_PARAM_F_QUOTED;
}

/* Checks that mapping m has scalar keys without repeats and scalar values
 * free of NUL bytes where a scalar is found.  ctx prefixes messages. */
static int check_mapping(struct loader *L, yaml_node_t *m, const char *ctx)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return lerr(L, k, "%skeys must be plain words, got %s", ctx, kind(k));
        for (yaml_node_t *s = k; s; s = s == k ? v : NULL)
            if (s->type == YAML_SCALAR_NODE && strlen(scalar(s)) != s->data.scalar.length)
                return lerr(L, s, "%s'%s': a NUL character is not allowed", ctx, scalar(k));
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k0 = node(L, q->key);
            if (!strcmp(scalar(k0), scalar(k)))
                return lerr(L, k, "%sduplicate key '%s' (first at line %zu)", ctx, scalar(k),
                            k0->start_mark.line + 1);
        }
    }
    return 0;
}

static int load_field(struct loader *L, const struct field *f, void *base, yaml_node_t *v,
                      const char *ctx)
{
    if (v->type != YAML_SCALAR_NODE)
        return lerr(L, v, "%s%s: expected %s, got %s", ctx, f->key,
                    f->expect ? f->expect : "true or false", kind(v));
    char why[300];
    if (config_field_set(f, base, scalar(v), scalar_flags(v), why, sizeof(why)) < 0) {
        if (errno == ENOMEM)
            return wn_errprintf(L->err, "out of memory");
        return lerr(L, v, "%s%s: %s", ctx, f->key, why);
    }
    return 0;
}

/* A key outside a section's table: 0 handled, -1 failed, 1 unknown. */
typedef int special_fn(struct loader *L, yaml_node_t *k, yaml_node_t *v, void *arg,
                       const char *ctx);

/* Loads mapping m into base by table t; other keys go to special (NULL:
 * none), which also knows the names x1, x2 for did-you-mean.  A null
 * value ("executor:" with nothing under it) is an empty section. */
static int load_section(struct loader *L, yaml_node_t *m, const struct field *t, void *base,
                        const char *ctx, special_fn *special, void *arg, const char *x1,
                        const char *x2)
{
    if (m->type == YAML_SCALAR_NODE && wn_yaml_is_null(scalar(m), scalar_flags(m)))
        return 0;
    if (m->type != YAML_MAPPING_NODE)
        return lerr(L, m, "%sexpected a mapping, got %s", ctx, kind(m));
    if (check_mapping(L, m, ctx) < 0)
        return -1;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        const struct field *f = config_field_find(t, scalar(k));
        char hint[80];
        int rc = f ? load_field(L, f, base, v, ctx) : special ? special(L, k, v, arg, ctx) : 1;
        if (rc > 0)
            return lerr(L, k, "%sunknown key '%s'%s", ctx, scalar(k),
                        config_did_you_mean(scalar(k), t, x1, x2, hint, sizeof(hint)));
        if (rc < 0)
            return -1;
    }
    return 0;
}

static char *mark_string(struct loader *L, yaml_mark_t m)
{
    size_t len = strlen(L->path) + 48;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s:%zu:%zu", L->path, m.line + 1, m.column + 1);
    return s;
}

/* Every key of a stage's params: is a parameter (checked later against
 * the stage type's table); its origin is the key's FILE:LINE:COL. */
static int load_param(struct loader *L, yaml_node_t *k, yaml_node_t *v, void *arg, const char *ctx)
{
    struct wn_stage_config *sc = arg;
    if (v->type != YAML_SCALAR_NODE)
        return lerr(L, v, "%s%s: expected a single value, got %s", ctx, scalar(k), kind(v));
    char *origin = mark_string(L, k->start_mark);
    int rc = origin
                 ? wn_params_set(sc->params, scalar(k), scalar(v), origin, scalar_flags(v), L->err)
                 : wn_errprintf(L->err, "out of memory");
    free(origin);
    return rc;
}

static int stage_special(struct loader *L, yaml_node_t *k, yaml_node_t *v, void *arg,
                         const char *ctx)
{
    const char *key = scalar(k);
    char sub[200];
    snprintf(sub, sizeof(sub), "%s%s: ", ctx, key);
    if (!strcmp(key, "resources"))
        return load_section(L, v, config_res_fields, arg, sub, NULL, NULL, NULL, NULL);
    if (!strcmp(key, "params"))
        return load_section(L, v, NULL, NULL, sub, load_param, arg, NULL, NULL);
    return 1;
}

/* The name a stage gets without `name:`: its type, or for a plugin the
 * ":TYPE" it picks, else the file's base name without ".so", with
 * characters a name cannot hold replaced by '_'. */
static char *default_stage_name(const char *type)
{
    const char *s = type, *colon = strrchr(type, ':');
    size_t len = strlen(type);
    if (is_plugin_path(type)) {
        if (colon && colon[1]) {
            s = colon + 1;
            len = strlen(s);
        } else {
            len = colon ? (size_t)(colon - type) : len;
            s = type;
            for (size_t i = 0; i < len; i++)
                if (type[i] == '/')
                    s = type + i + 1;
            len -= (size_t)(s - type);
            if (len > 3 && !memcmp(s + len - 3, ".so", 3))
                len -= 3;
        }
    }
    char *name = strndup(s, len ? len : 1);
    for (char *q = name; q && *q; q++)
        if (!name_char(*q))
            *q = '_';
    if (name && !len)
        name[0] = '_';
    return name;
}

static int load_stage(struct loader *L, size_t idx, yaml_node_t *m)
{
    struct wn_pipeline_config *cfg = L->cfg;
    struct wn_stage_config *sc = &cfg->stages[idx];
    sc->line = (int)m->start_mark.line + 1;
    sc->col = (int)m->start_mark.column + 1;
    fields_default(config_res_fields, sc);
    if (!(sc->where = mark_string(L, m->start_mark)) || !(sc->params = wn_params_create(sc->where)))
        return wn_errprintf(L->err, "out of memory");
    char ctx[160];
    snprintf(ctx, sizeof(ctx), "stage #%zu: ", idx + 1);
    if (m->type != YAML_MAPPING_NODE)
        return lerr(L, m, "%sexpected a mapping (name:, type:, ...), got %s", ctx, kind(m));

    /* Name the stage in messages as early as possible. */
    yaml_node_t *name_node = NULL, *type_node = NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
        if (k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), "name") && !name_node)
            name_node = v;
        else if (k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), "type") && !type_node)
            type_node = v;
    }
    if (name_node && name_node->type == YAML_SCALAR_NODE && name_ok(scalar(name_node)))
        snprintf(ctx, sizeof(ctx), "stage '%s': ", scalar(name_node));
    else if (!name_node && type_node && type_node->type == YAML_SCALAR_NODE &&
             (name_ok(scalar(type_node)) || is_plugin_path(scalar(type_node)))) {
        char *dn = default_stage_name(scalar(type_node));
        if (dn)
            snprintf(ctx, sizeof(ctx), "stage '%s': ", dn);
        free(dn);
    }
    if (load_section(L, m, config_stage_fields, sc, ctx, stage_special, sc, "resources", "params") <
        0)
        return -1;
    if (!sc->type)
        return lerr(L, m, "%smissing required key 'type'", ctx);
    if (!sc->name && !(sc->name = default_stage_name(sc->type)))
        return wn_errprintf(L->err, "out of memory");
    for (size_t j = 0; j < idx; j++)
        if (!strcmp(cfg->stages[j].name, sc->name))
            return lerr(L, name_node ? name_node : m,
                        "stage name '%s' is used twice (first at line %d)%s", sc->name,
                        cfg->stages[j].line, name_node ? "" : "; give one of them a `name:`");
    return 0;
}

static int root_special(struct loader *L, yaml_node_t *k, yaml_node_t *v, void *arg,
                        const char *ctx)
{
    (void)ctx;
    if (!strcmp(scalar(k), "executor"))
        return load_section(L, v, config_exec_fields, &L->cfg->exec, "executor: ", NULL, NULL, NULL,
                            NULL);
    if (strcmp(scalar(k), "stages"))
        return 1;
    *(yaml_node_t **)arg = v; /* loaded once name and executor are known */
    return 0;
}

static int load_root(struct loader *L, yaml_node_t *root)
{
    struct wn_pipeline_config *cfg = L->cfg;
    if (root->type != YAML_MAPPING_NODE)
        return lerr(L, root, "a pipeline file is a mapping (name:, stages:, ...), got %s",
                    kind(root));
    yaml_node_t *stages = NULL;
    if (load_section(L, root, config_top_fields, cfg, "", root_special, &stages, "executor",
                     "stages") < 0)
        return -1;
    if (!cfg->name)
        return lerr(L, root, "missing required key 'name'");
    if (!stages)
        return lerr(L, root, "missing required key 'stages'");
    if (stages->type == YAML_SCALAR_NODE && wn_yaml_is_null(scalar(stages), scalar_flags(stages)))
        return lerr(L, stages, "stages: needs at least one stage");
    if (stages->type != YAML_SEQUENCE_NODE)
        return lerr(L, stages, "stages: expected a list of stages, got %s", kind(stages));
    size_t n = (size_t)(stages->data.sequence.items.top - stages->data.sequence.items.start);
    if (n == 0)
        return lerr(L, stages, "stages: needs at least one stage");
    if (!(cfg->stages = calloc(n, sizeof(*cfg->stages))))
        return wn_errprintf(L->err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        cfg->nstages = i + 1; /* so wn_config_free frees what was made */
        if (load_stage(L, i, node(L, stages->data.sequence.items.start[i])) < 0)
            return -1;
    }
    return 0;
}

static int yaml_failure(struct loader *L, yaml_parser_t *yp, const char *text)
{
    if (yp->error == YAML_MEMORY_ERROR)
        return wn_errprintf(L->err, "%s: out of memory", L->path);
    if (yp->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset; turn it into line and column. */
        yaml_mark_t m = {0, 0, 0};
        for (size_t i = 0; i < yp->problem_offset && text[i]; i++, m.column++)
            if (text[i] == '\n') {
                m.line++;
                m.column = (size_t)-1;
            }
        return lerr_at(L, m, "%s", yp->problem ? yp->problem : "cannot read");
    }
    const char *what = yp->error == YAML_COMPOSER_ERROR ? "YAML error" : "YAML syntax error";
    if (yp->context)
        return lerr_at(L, yp->problem_mark, "%s: %s (%s at line %zu)", what,
                       yp->problem ? yp->problem : "?", yp->context, yp->context_mark.line + 1);
    return lerr_at(L, yp->problem_mark, "%s: %s", what, yp->problem ? yp->problem : "?");
}

static int load_text(char *text, size_t len, const char *path, struct wn_pipeline_config **out,
                     wn_error_t *err)
{
    struct loader L = {.path = path, .err = err};
    struct wn_pipeline_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg || !(cfg->path = strdup(path))) {
        free(cfg);
        free(text);
        errno = ENOMEM;
        return wn_errprintf(err, "out of memory");
    }
    cfg->text = text;
    cfg->text_len = len;
    fields_default(config_top_fields, cfg);
    fields_default(config_exec_fields, &cfg->exec);
    L.cfg = cfg;

    yaml_parser_t yp;
    int rc = -1, have_doc = 0;
    if (!yaml_parser_initialize(&yp)) {
        wn_errprintf(err, "out of memory");
        goto out;
    }
    if (config_check_shape(text, len, path, err) < 0)
        goto out_parser;
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &L.doc)) {
        yaml_failure(&L, &yp, text);
        goto out_parser;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&L.doc);
    if (!root) {
        lerr_at(&L, (yaml_mark_t){0, 0, 0},
                "the pipeline file is empty (expected name:, stages:, ...)");
        goto out_parser;
    }
    /* Read to the end, so a syntax error anywhere is reported. */
    yaml_document_t second;
    if (!yaml_parser_load(&yp, &second)) {
        yaml_failure(&L, &yp, text);
        goto out_parser;
    }
    yaml_node_t *root2 = yaml_document_get_root_node(&second);
    if (root2)
        lerr(&L, root2, "only one YAML document is allowed in a pipeline file");
    yaml_document_delete(&second);
    if (!root2 && load_root(&L, root) == 0)
        rc = 0;
out_parser:
    if (have_doc)
        yaml_document_delete(&L.doc);
    yaml_parser_delete(&yp);
out:
    if (rc < 0) {
        int saved = errno;
        wn_config_free(cfg);
        errno = saved ? saved : EINVAL;
        return -1;
    }
    *out = cfg;
    return 0;
}

int wn_config_load_string(const char *text, const char *name_for_errors,
                          struct wn_pipeline_config **out, wn_error_t *err)
{
    if (!text || !out) {
        errno = EINVAL;
        return wn_errprintf(err, "wn_config_load_string: bad arguments");
    }
    char *copy = strdup(text);
    if (!copy) {
        errno = ENOMEM;
        return wn_errprintf(err, "out of memory");
    }
    return load_text(copy, strlen(copy), name_for_errors ? name_for_errors : "<string>", out, err);
}

int wn_config_load(const char *path, struct wn_pipeline_config **out, wn_error_t *err)
{
    size_t len = 0;
    char *text = wn_config_read_file(path, &len, err);
    return text ? load_text(text, len, path, out, err) : -1;
}

void wn_config_free(struct wn_pipeline_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nstages; i++) {
        struct wn_stage_config *sc = &cfg->stages[i];
        free(sc->name);
        free(sc->type);
        free(sc->where);
        wn_params_destroy(sc->params);
    }
    free(cfg->stages);
    free(cfg->path);
    free(cfg->name);
    free(cfg->description);
    free(cfg->input);
    free(cfg->output);
    free(cfg->checkpoint);
    free(cfg->text_field);
    free(cfg->id_field);
    free(cfg->rejects);
    free(cfg->exec.shuffle_spill_dir);
    free(cfg->exec.spill_dir);
    free(cfg->text);
    free(cfg);
}

struct wn_stage_config *wn_config_stage(struct wn_pipeline_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && i < cfg->nstages; i++)
        if (!strcmp(cfg->stages[i].name, name))
            return &cfg->stages[i];
    errno = ENOENT;
    return NULL;
}

const char *wn_stage_config_where(const struct wn_stage_config *sc)
{
    return sc && sc->where ? sc->where : "?";
}
