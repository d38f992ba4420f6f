/* config_edit.c - what is done to a loaded pipeline file (config.h):
 * --set overrides, printing it back as YAML, the resume hash, and the
 * ${input}, ${output}, ${name} expansion in stage parameters.  The key
 * tables these walk are in config.c (config_impl.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "config/config.h"
#include "config/config_impl.h"

/* ---------------------------------------------------------- overrides -- */

int wn_config_override(struct wn_pipeline_config *cfg, const char *assignment, wn_error_t *err)
{
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!eq || eq == assignment) {
        errno = EINVAL;
        return wn_errprintf(err, "--set %s: expected KEY=VALUE (e.g. stages.NAME.batch_size=8)",
                            assignment ? assignment : "");
    }
    char *key = strndup(assignment, (size_t)(eq - assignment));
    if (!key) {
        errno = ENOMEM;
        return wn_errprintf(err, "out of memory");
    }
    const char *value = eq + 1;
    char why[300], hint[80];
    char origin[WN_ERROR_TEXT];
    snprintf(origin, sizeof(origin), "--set %s", assignment);
    int rc = -1;
    const struct field *f;
    void *base = NULL;
    errno = EINVAL;

    if ((f = config_field_find(config_top_fields, key)))
        base = cfg;
    else if (!strncmp(key, "executor.", 9)) {
        if (!(f = config_field_find(config_exec_fields, key + 9))) {
            wn_errprintf(
                err, "%s: unknown executor key '%s'%s", origin, key + 9,
                config_did_you_mean(key + 9, config_exec_fields, NULL, NULL, hint, sizeof(hint)));
            goto out;
        }
        base = &cfg->exec;
    } else if (!strncmp(key, "stages.", 7)) {
        /* Longest stage name followed by '.', since names may hold dots. */
        char *rest = key + 7;
        struct wn_stage_config *sc = NULL;
        size_t best = 0;
        for (size_t i = 0; i < cfg->nstages; i++) {
            size_t l = strlen(cfg->stages[i].name);
            if (l > best && !strncmp(rest, cfg->stages[i].name, l) && rest[l] == '.') {
                sc = &cfg->stages[i];
                best = l;
            }
        }
        char *dot = strchr(rest, '.');
        if (!sc && dot) {
            const char *names[64];
            size_t n = 0;
            for (; n < cfg->nstages && n < 64; n++)
                names[n] = cfg->stages[n].name;
            *dot = '\0'; /* rest is our copy of the key */
            const char *s = wn_param_suggest(rest, names, n);
            hint[0] = '\0';
            if (s)
                snprintf(hint, sizeof(hint), " (did you mean '%s'?)", s);
            wn_errprintf(err, "%s: no stage named '%s' in pipeline '%s'%s", origin, rest, cfg->name,
                         hint);
            goto out;
        } else if (!sc) {
            wn_errprintf(err, "%s: expected stages.NAME.FIELD", origin);
            goto out;
        }
        const char *field = rest + best + 1;
        base = sc;
        if (!strcmp(field, "name")) {
            wn_errprintf(err, "%s: a stage cannot be renamed with --set", origin);
            goto out;
        } else if (!strncmp(field, "resources.", 10)) {
            if (!(f = config_field_find(config_res_fields, field + 10))) {
                wn_errprintf(err, "%s: unknown resource '%s'%s", origin, field + 10,
                             config_did_you_mean(field + 10, config_res_fields, NULL, NULL, hint,
                                                 sizeof(hint)));
                goto out;
            }
        } else if (!(f = config_field_find(config_stage_fields, field))) {
            /* Anything else is a stage parameter, checked against the stage
             * type's table when the stage is created. */
            if (!strncmp(field, "params.", 7))
                field += 7;
            if (!*field || !strcmp(field, "resources") || !strcmp(field, "params")) {
                wn_errprintf(err, "%s: expected stages.%s.FIELD or stages.%s.params.KEY", origin,
                             sc->name, sc->name);
                goto out;
            }
            rc = wn_params_set(sc->params, field, value, origin, 0, err);
            goto out;
        }
    } else {
        wn_errprintf(
            err,
            "%s: unknown key '%s'%s; expected name, description, input, "
            "output, checkpoint, text_field, id_field, rejects, "
            "max_reject_fraction, executor.FIELD or stages.NAME.FIELD",
            origin, key,
            config_did_you_mean(key, config_top_fields, "executor", "stages", hint, sizeof(hint)));
        goto out;
    }
    if (config_field_set(f, base, value, 0, why, sizeof(why)) < 0) {
        wn_errprintf(err, "%s: %s", origin, why);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0 && errno != ENOMEM)
        errno = EINVAL;
    free(key);
    return rc;
}

/* ------------------------------------------------- printing, hashing -- */

/* Shortest text that strtod reads back as the same double. */
static void fmt_double(char *buf, size_t len, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void put_field(FILE *out, const char *indent, const struct field *f, const void *base)
{
    const char *p = (const char *)base + f->off;
    char num[40];
    switch (f->type) {
    case F_STR:
    case F_NAME:
    case F_TYPE:
        if (!*(char *const *)p)
            return;
        fprintf(out, "%s%s: ", indent, f->key);
        wn_yaml_put_scalar(out, *(char *const *)p, 0);
        fputc('\n', out);
        return;
    case F_INT:
        if (!f->def && !*(const int *)p)
            return; /* unset */
        fprintf(out, "%s%s: %d\n", indent, f->key, *(const int *)p);
        return;
    case F_DOUBLE:
        fmt_double(num, sizeof(num), *(const double *)p);
        fprintf(out, "%s%s: %s\n", indent, f->key, num);
        return;
    case F_BOOL:
        fprintf(out, "%s%s: %s\n", indent, f->key, *(const int *)p ? "true" : "false");
        return;
    case F_MODE:
        fprintf(out, "%s%s: %s\n", indent, f->key,
                *(const int *)p == WN_MODE_STREAMING ? "streaming" : "bulk");
        return;
    case F_ZLEVEL:
        if (*(const int *)p)
            fprintf(out, "%s%s: deflate:%d\n", indent, f->key, *(const int *)p);
        else
            fprintf(out, "%s%s: none\n", indent, f->key);
        return;
    }
}

int wn_config_render(const struct wn_pipeline_config *cfg, FILE *out)
{
    for (const struct field *f = config_top_fields; f->key; f++)
        put_field(out, "", f, cfg);
    fputs("executor:\n", out);
    for (const struct field *f = config_exec_fields; f->key; f++)
        put_field(out, "  ", f, &cfg->exec);
    fputs("stages:\n", out);
    for (size_t i = 0; i < cfg->nstages; i++) {
        const struct wn_stage_config *sc = &cfg->stages[i];
        fputs("  - ", out);
        for (const struct field *f = config_stage_fields; f->key; f++)
            put_field(out, f == config_stage_fields ? "" : "    ", f, sc);
        fputs("    resources:\n", out);
        for (const struct field *f = config_res_fields; f->key; f++)
            put_field(out, "      ", f, sc);
        fputs("    params:", out);
        wn_params_print_yaml(sc->params, out, "      ");
    }
    fflush(out);
    return ferror(out) ? -1 : 0;
}

/* Feeds "key=LEN:value;" -- length-prefixed, so no value can forge a
 * field boundary.  A NULL value is "key=-;". */
static void hput(XXH64_state_t *st, const char *key, const char *value)
{
    char head[300];
    int n = value ? snprintf(head, sizeof(head), "%s=%zu:", key, strlen(value))
                  : snprintf(head, sizeof(head), "%s=-", key);
    XXH64_update(st, head, n < (int)sizeof(head) ? (size_t)n : sizeof(head) - 1);
    if (value)
        XXH64_update(st, value, strlen(value));
    XXH64_update(st, ";", 1);
}

uint64_t wn_config_hash(const struct wn_pipeline_config *cfg)
{
    XXH64_state_t st;
    char num[32];
    XXH64_reset(&st, 0);
    hput(&st, "winnow-pipeline", "1");
    hput(&st, "name", cfg->name);
    hput(&st, "input", cfg->input);
    hput(&st, "output", cfg->output);
    /* Only when not the defaults: checkpoints made before these keys
     * existed keep their hash. */
    if (cfg->text_field && strcmp(cfg->text_field, "text"))
        hput(&st, "text_field", cfg->text_field);
    if (cfg->id_field)
        hput(&st, "id_field", cfg->id_field);
    for (size_t i = 0; i < cfg->nstages; i++) {
        const struct wn_stage_config *sc = &cfg->stages[i];
        snprintf(num, sizeof(num), "%zu", i);
        hput(&st, "stage", num);
        hput(&st, "name", sc->name);
        hput(&st, "type", sc->type);
        snprintf(num, sizeof(num), "%d", sc->batch_size > 0 ? sc->batch_size : 1);
        hput(&st, "batch_size", num);
        snprintf(num, sizeof(num), "%d", sc->num_output_tasks);
        hput(&st, "num_output_tasks", num);
        if (sc->total_nparts > 0) { /* shuffle stages: changes the outputs */
            snprintf(num, sizeof(num), "%d", sc->total_nparts);
            hput(&st, "total_nparts", num);
        }
        /* Given parameters in key order, so the file's order does not
         * count: pick the next larger key each time (a stage has few). */
        const struct wn_params *p = sc->params;
        const char *last = NULL;
        for (;;) {
            size_t next = SIZE_MAX;
            for (size_t j = 0; j < wn_params_count(p); j++) {
                const char *k = wn_params_key(p, j);
                if (!wn_params_is_default(p, j) && (!last || strcmp(k, last) > 0) &&
                    (next == SIZE_MAX || strcmp(k, wn_params_key(p, next)) < 0))
                    next = j;
            }
            if (next == SIZE_MAX)
                break;
            last = wn_params_key(p, next);
            hput(&st, last, wn_params_value(p, next));
        }
    }
    return XXH64_digest(&st);
}

/* ------------------------------------------------------------ expand -- */

/* value with ${input}, ${output}, ${name}, ${text_field} and ${id_field}
 * replaced, malloc'd; NULL with the reason in err. */
static char *expand_value(const struct wn_pipeline_config *cfg, const char *value, const char *what,
                          wn_error_t *err)
{
    enum { NVARS = 5, ID_FIELD = 4 };
    static const char *const names[NVARS] = {"input", "output", "name", "text_field", "id_field"};
    const char *values[NVARS] = {cfg->input, cfg->output, cfg->name, cfg->text_field,
                                 cfg->id_field};
    size_t cap = strlen(value) + 1, len = 0;
    char *out = malloc(cap);
    for (const char *v = value; out && *v;) {
        const char *add = v;
        size_t n = 1;
        if (v[0] == '$' && v[1] == '{') {
            const char *end = strchr(v + 2, '}');
            int k = 0;
            for (; end && k < NVARS; k++)
                if ((size_t)(end - v - 2) == strlen(names[k]) &&
                    !strncmp(v + 2, names[k], strlen(names[k])))
                    break;
            if (!end || k == NVARS) {
                errno = EINVAL;
                wn_errprintf(err,
                             "%s: unknown variable '%.*s' (there are ${input}, ${output}, "
                             "${name}, ${text_field} and ${id_field})",
                             what, end ? (int)(end - v + 1) : (int)strlen(v), v);
                free(out);
                return NULL;
            }
            if ((!values[k] || !*values[k]) && k != ID_FIELD) {
                errno = EINVAL;
                wn_errprintf(err,
                             "%s uses ${%s}, which this pipeline does not set (set "
                             "'%s' in the file or with --set %s=...)",
                             what, names[k], names[k], names[k]);
                free(out);
                return NULL;
            }
            add = values[k] ? values[k] : "";
            n = strlen(add);
            v = end + 1;
        } else {
            v++;
        }
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            char *o = realloc(out, cap);
            if (!o) {
                free(out);
                out = NULL;
                break;
            }
            out = o;
        }
        memcpy(out + len, add, n);
        len += n;
    }
    if (!out) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    out[len] = '\0';
    return out;
}

int wn_config_expand(struct wn_pipeline_config *cfg, wn_error_t *err)
{
    for (size_t s = 0; s < cfg->nstages; s++) {
        struct wn_params *p = cfg->stages[s].params;
        for (size_t i = 0; i < wn_params_count(p); i++) {
            const char *value = wn_params_value(p, i);
            if (!strstr(value, "${"))
                continue;
            char what[512];
            const char *origin = wn_params_origin(p, i);
            /* A default has no line of its own: the stage's entry stands
             * for it, as in wn_params_refuse. */
            int def = wn_params_is_default(p, i);
            const char *at = def ? wn_stage_config_where(&cfg->stages[s]) : origin;
            snprintf(what, sizeof(what), "%s%sstage '%s': parameter '%s'%s", at && *at ? at : "",
                     at && *at ? ": " : "", cfg->stages[s].name, wn_params_key(p, i),
                     def ? " (default)" : "");
            char *v = expand_value(cfg, value, what, err);
            if (!v)
                return -1;
            char *key = strdup(wn_params_key(p, i));
            char *orig = origin ? strdup(origin) : NULL;
            int rc = key ? wn_params_set(p, key, v, orig, wn_params_flags(p, i), err)
                         : wn_errprintf(err, "out of memory");
            free(key);
            free(orig);
            free(v);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}
