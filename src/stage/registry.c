/* registry.c - stage types: the built-ins, plugins loaded with dlopen(),
 * and configured stage instances (see stage_impl.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/inputs.h"
#include "stage/rejects.h"
#include "stage/stage_impl.h"
#include "util/log.h"

struct wn_registry {
    const struct wn_stage_ops **ops;
    size_t n, cap;
    struct plugin {
        char *path;
        void *handle;
        size_t first, count; /* its stages in ops[] */
    } * plugins;
    size_t nplugins;
};

static struct wn_registry registry;
static int registry_ready;
/* The stage types compiled in, given by the program that links them
 * (stages/ sits above this layer, so the registry is told, never looks). */
static const struct wn_stage_ops *const *builtins;
static size_t nbuiltin;

void wn_registry_set_builtins(const struct wn_stage_ops *const *table)
{
    builtins = table;
}

int wn_plugin_add_stage(struct wn_registry *reg, const struct wn_stage_ops *ops, wn_error_t *err)
{
    if (!ops || !ops->type || !ops->process_batch) {
        errno = EINVAL;
        return wn_errprintf(err, "a stage needs a type name and process_batch");
    }
    if (ops->abi_version < WN_STAGE_ABI_MIN || ops->abi_version > WN_STAGE_ABI) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "stage type '%s' was built for stage ABI %u, this "
                            "winnow has ABI %u: rebuild it against these headers",
                            ops->type, ops->abi_version, WN_STAGE_ABI);
    }
    if (ops->abi_version < 2) {
        /* An older, shorter table: copied into a whole one, the fields it
         * lacks left NULL (kept for the life of the process). */
        struct wn_stage_ops *full = calloc(1, sizeof(*full));
        if (!full)
            return wn_errprintf(err, "out of memory");
        memcpy(full, ops, offsetof(struct wn_stage_ops, partition));
        ops = full;
    }
    if ((ops->flags & WN_STAGE_LSH) && !(ops->flags & WN_STAGE_SHUFFLE)) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "stage type '%s': an LSH stage is a shuffle stage "
                            "(WN_STAGE_SHUFFLE)",
                            ops->type);
    }
    if ((ops->flags & WN_STAGE_SHUFFLE) && (ops->flags & WN_STAGE_RAFT)) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "stage type '%s': a stage cannot be both a shuffle and "
                            "a RAFT stage",
                            ops->type);
    }
    if (ops->flags & ~WN_STAGE_FLAGS_ALL) {
        errno = EINVAL;
        return wn_errprintf(err, "stage type '%s': unknown flag bits 0x%x", ops->type,
                            ops->flags & ~WN_STAGE_FLAGS_ALL);
    }
    if (reg->n == reg->cap) {
        size_t ncap = reg->cap ? reg->cap * 2 : 32;
        const struct wn_stage_ops **n = realloc(reg->ops, ncap * sizeof(*n));
        if (!n)
            return wn_errprintf(err, "out of memory");
        reg->ops = n;
        reg->cap = ncap;
    }
    reg->ops[reg->n++] = ops;
    return 0;
}

struct wn_registry *wn_registry_get(void)
{
    if (!registry_ready) {
        registry_ready = 1;
        for (const struct wn_stage_ops *const *o = builtins; o && *o; o++)
            if (wn_plugin_add_stage(&registry, *o, NULL) < 0)
                abort(); /* a broken built-in is a bug of ours */
        nbuiltin = registry.n;
    }
    return &registry;
}

static const struct wn_stage_ops *find_in(struct wn_registry *reg, size_t first, size_t count,
                                          const char *type)
{
    for (size_t i = first; i < first + count && i < reg->n; i++)
        if (!strcmp(reg->ops[i]->type, type))
            return reg->ops[i];
    return NULL;
}

static int is_plugin_path(const char *type)
{
    return strchr(type, '/') || strstr(type, ".so");
}

static struct plugin *load_plugin(struct wn_registry *reg, const char *path, wn_error_t *err)
{
    for (size_t i = 0; i < reg->nplugins; i++)
        if (!strcmp(reg->plugins[i].path, path))
            return &reg->plugins[i];
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        errno = ENOENT;
        wn_errprintf(err, "cannot load stage plugin %s: %s", path, dlerror());
        return NULL;
    }
    wn_plugin_init_fn init;
    *(void **)&init = dlsym(h, WN_PLUGIN_ENTRY);
    if (!init) {
        dlclose(h);
        errno = ENOENT;
        wn_errprintf(err, "%s is not a winnow plugin: it does not export %s()", path,
                     WN_PLUGIN_ENTRY);
        return NULL;
    }
    struct plugin *np = realloc(reg->plugins, (reg->nplugins + 1) * sizeof(*np));
    if (!np) {
        dlclose(h);
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    reg->plugins = np;
    /* The task structs are read and written in place on both sides:
     * another layout is refused before any of the plugin's code runs. */
    const unsigned *task_abi = dlsym(h, WN_PLUGIN_TASK_ABI_SYMBOL);
    unsigned built_for = task_abi ? *task_abi : 1;
    if (built_for != WN_TASK_ABI) {
        dlclose(h);
        errno = EINVAL;
        wn_errprintf(err,
                     "plugin %s was built for task ABI %u, this winnow has task ABI "
                     "%u: rebuild it against these headers",
                     path, built_for, WN_TASK_ABI);
        return NULL;
    }
    size_t first = reg->n;
    wn_error_t e = {{0}};
    if (init(reg, WN_STAGE_ABI, &e) < 0 || reg->n == first) {
        reg->n = first;
        dlclose(h);
        errno = EINVAL;
        wn_errprintf(err, "plugin %s: %s", path, e.text[0] ? e.text : "registered no stage type");
        return NULL;
    }
    struct plugin *p = &reg->plugins[reg->nplugins++];
    p->path = strdup(path);
    p->handle = h; /* kept open: its ops tables live in it */
    p->first = first;
    p->count = reg->n - first;
    return p;
}

const struct wn_stage_ops *wn_registry_find(struct wn_registry *reg, const char *type,
                                            wn_error_t *err)
{
    if (!is_plugin_path(type)) {
        /* Built-ins only: a plugin's types are reached through its path. */
        const struct wn_stage_ops *o = find_in(reg, 0, nbuiltin, type);
        if (!o) {
            errno = ENOENT;
            wn_errprintf(err,
                         "unknown stage type '%s' (built-in types: run 'winnow "
                         "stages'; a plugin is named by its path, e.g. ./myplugin.so)",
                         type);
        }
        return o;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s", type);
    const char *want = NULL;
    char *colon = strrchr(path, ':');
    if (colon && strstr(path, ".so") && colon > strstr(path, ".so")) {
        *colon = '\0';
        want = colon + 1;
    }
    struct plugin *p = load_plugin(reg, path, err);
    if (!p)
        return NULL;
    if (!want)
        return reg->ops[p->first];
    const struct wn_stage_ops *o = find_in(reg, p->first, p->count, want);
    if (!o) {
        errno = ENOENT;
        wn_errprintf(err, "plugin %s has no stage type '%s'", path, want);
    }
    return o;
}

void wn_registry_print(struct wn_registry *reg, FILE *out)
{
    static const char *flag_names[] = {"actor", "fanout", "raft", "shuffle", "lsh"};
    for (size_t i = 0; i < reg->n; i++) {
        const struct wn_stage_ops *o = reg->ops[i];
        fprintf(out, "%-20s %s", o->type, o->help ? o->help : "");
        int first = 1;
        for (unsigned b = 0; b < 5; b++)
            if (o->flags & (1u << b)) {
                fprintf(out, "%s%s", first ? " [" : ",", flag_names[b]);
                first = 0;
            }
        fputs(first ? "\n" : "]\n", out);
        for (const struct wn_param_spec *s = o->params; s && s->name; s++)
            fprintf(out, "    %-18s %-7s default %-10s %s\n", s->name, wn_param_type_name(s->type),
                    s->def ? s->def : "(required)", s->help ? s->help : "");
    }
}

/* The value of parameter key of pipeline stage i, NULL when not set. */
static const char *stage_param(const struct wn_pipeline_config *p, size_t i, const char *key)
{
    const struct wn_params *params = p->stages[i].params;
    for (size_t k = 0; k < wn_params_count(params); k++)
        if (!strcmp(wn_params_key(params, k), key))
            return wn_params_value(params, k);
    return NULL;
}

void wn_stage_set_layout(struct wn_stage *st, uint64_t key)
{
    st->layout = key;
}

/* *slot = a copy of s, the old one freed; 0 or -1 (out of memory). */
static int set_copy(char **slot, const char *s, wn_error_t *err)
{
    char *c = strdup(s);
    if (!c)
        return wn_errprintf(err, "out of memory");
    free(*slot);
    *slot = c;
    return 0;
}

int wn_stage_set_plan_note(struct wn_stage *st, const char *text, wn_error_t *err)
{
    return set_copy(&st->plan_note, text, err);
}

uint64_t wn_stage_memory_limit(const struct wn_stage *st)
{
    return st->memory_limit;
}

int wn_stage_actor_ranks(const struct wn_stage *st)
{
    return st->actor_ranks;
}

const char *wn_stage_later_param(const struct wn_stage *st, const char *type, const char *key)
{
    const struct wn_pipeline_config *p = st->pipeline;
    for (size_t i = (size_t)st->index + 1; p && i < p->nstages; i++)
        if (!strcmp(p->stages[i].type, type))
            return stage_param(p, i, key);
    return NULL;
}

const char *wn_stage_earlier_param(const struct wn_stage *st, const char *type, const char *key,
                                   const char **name)
{
    const struct wn_pipeline_config *p = st->pipeline;
    for (size_t i = p ? (size_t)st->index : 0; i-- > 0;)
        if (!strcmp(p->stages[i].type, type)) {
            if (name)
                *name = p->stages[i].name;
            return stage_param(p, i, key);
        }
    return NULL;
}

struct wn_stage *wn_stage_create(const struct wn_stage_config *cfg, uint32_t index, wn_error_t *err)
{
    struct wn_registry *reg = wn_registry_get();
    wn_error_t e = {{0}};
    const struct wn_stage_ops *ops = wn_registry_find(reg, cfg->type, &e);
    if (!ops) {
        wn_errprintf(err, "%s: stage '%s': %s", wn_stage_config_where(cfg), cfg->name, e.text);
        return NULL;
    }
    if (wn_params_validate(cfg->params, ops->params, cfg->name, &e) < 0) {
        wn_errprintf(err, "%s", e.text);
        return NULL;
    }
    if ((ops->flags & WN_STAGE_RAFT) && cfg->num_output_tasks > 0) {
        errno = EINVAL;
        wn_errprintf(err,
                     "%s: stage '%s': num_output_tasks is set by the clique size "
                     "for RAFT stage type '%s'",
                     wn_stage_config_where(cfg), cfg->name, ops->type);
        return NULL;
    }
    if (!(ops->flags & WN_STAGE_SHUFFLE) && cfg->total_nparts > 0) {
        errno = EINVAL;
        wn_errprintf(err,
                     "%s: stage '%s': total_nparts is for shuffle stages; type '%s' "
                     "is not one",
                     wn_stage_config_where(cfg), cfg->name, ops->type);
        return NULL;
    }
    if ((ops->flags & WN_STAGE_SHUFFLE) && cfg->num_output_tasks > 0) {
        errno = EINVAL;
        wn_errprintf(err,
                     "%s: stage '%s': a shuffle stage's outputs are its partitions: "
                     "set total_nparts, not num_output_tasks",
                     wn_stage_config_where(cfg), cfg->name);
        return NULL;
    }
    struct wn_stage *st = calloc(1, sizeof(*st));
    if (!st) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    st->ops = ops;
    st->cfg = cfg;
    st->index = index;
    st->rounds = 1;
    return st;
}

int wn_stage_set_shuffle_key(struct wn_stage *st, const char *column, wn_error_t *err)
{
    if (!(st->ops->flags & WN_STAGE_SHUFFLE)) {
        errno = EINVAL;
        return wn_errprintf(err, "stage '%s' is not a shuffle stage", st->cfg->name);
    }
    if (!column || !*column) {
        errno = EINVAL;
        return wn_errprintf(err, "stage '%s': the shuffle key must name a column", st->cfg->name);
    }
    return set_copy(&st->shuffle_key, column, err);
}

int wn_stage_set_rounds(struct wn_stage *st, uint32_t rounds, wn_error_t *err)
{
    if (!(st->ops->flags & WN_STAGE_SHUFFLE) || rounds < 1 || rounds > 65536) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "stage '%s': %u shuffle rounds (a shuffle stage has "
                            "1 to 65536)",
                            st->cfg->name, rounds);
    }
    st->rounds = rounds;
    return 0;
}

int wn_stage_set_seeds(struct wn_stage *st, uint64_t n, wn_error_t *err)
{
    if (n < 1 || n > (UINT64_C(1) << 24)) {
        errno = EINVAL;
        return wn_errprintf(err, "stage '%s': %llu seed tasks (1 to 2^24)", st->cfg->name,
                            (unsigned long long)n);
    }
    st->seeds = n;
    return 0;
}

uint32_t wn_stage_round(const struct wn_stage *st)
{
    const struct wn_batch_run *b = wn_batch_run_current(st);
    return b ? b->round : st->round;
}

uint32_t wn_stage_nparts(const struct wn_stage *st, uint64_t ninputs, uint64_t enough)
{
    uint64_t n = st->cfg->total_nparts > 0 ? (uint64_t)st->cfg->total_nparts : ninputs;
    if (st->cfg->total_nparts <= 0 && enough > 0 && n > enough)
        n = enough;
    /* One per input task is a default, not a request: it is held to what
     * all rounds together may have (a total_nparts given was checked at
     * init, wn_stage_init). */
    uint64_t most = WN_MAX_STAGE_BATCHES / (st->rounds ? st->rounds : 1);
    if (n > most)
        n = most;
    if (n < 1)
        n = 1;
    if (st->ops->flags & WN_STAGE_LSH)
        while (n & (n - 1))
            n &= n - 1; /* down to a power of two */
    return (uint32_t)n;
}

/* 1 when text starts "ORIGIN: stage 'NAME': " with the origin of one of
 * the stage's parameters or the stage's own place: a message of the
 * wn_params_* functions, which already says where the value came from. */
static int names_its_place(const struct wn_stage *st, const char *text)
{
    const struct wn_params *p = st->cfg->params;
    char tail[200];
    snprintf(tail, sizeof(tail), ": stage '%s': ", st->cfg->name);
    for (size_t i = 0; i <= wn_params_count(p); i++) {
        const char *o =
            i < wn_params_count(p) ? wn_params_origin(p, i) : wn_stage_config_where(st->cfg);
        size_t n = o ? strlen(o) : 0;
        if (n && !strncmp(text, o, n) && !strncmp(text + n, tail, strlen(tail)))
            return 1;
    }
    return 0;
}

/* A total_nparts given for a shuffle stage, checked once init has set
 * the rounds: all rounds' partitions are what rank 0 will track. */
static int check_nparts(const struct wn_stage *st, wn_error_t *err)
{
    uint64_t n = (uint64_t)st->cfg->total_nparts;
    if (!(st->ops->flags & WN_STAGE_SHUFFLE) || n == 0)
        return 0;
    if (st->ops->flags & WN_STAGE_LSH)
        while (n & (n - 1))
            n &= n - 1;
    if (n * st->rounds <= WN_MAX_STAGE_BATCHES)
        return 0;
    errno = EINVAL;
    return wn_errprintf(err,
                        "%s: stage '%s': total_nparts %llu x %u rounds = %llu partitions "
                        "(at most %u in all rounds: each is a batch that rank 0 tracks and "
                        "a checkpoint file); lower total_nparts, or leave it out to get one "
                        "per input task",
                        wn_stage_config_where(st->cfg), st->cfg->name, (unsigned long long)n,
                        st->rounds, (unsigned long long)(n * st->rounds), WN_MAX_STAGE_BATCHES);
}

int wn_stage_init(struct wn_stage *st, wn_error_t *err)
{
    if (st->initialized)
        return 0;
    wn_error_t e = {{0}};
    if ((st->ops->init && st->ops->init(st, st->cfg->params, &e) < 0) || check_nparts(st, &e) < 0) {
        /* What a failed init made is freed now (fini copes with a
         * partly made state). */
        int saved = errno;
        if (st->ops->fini)
            st->ops->fini(st);
        st->data = NULL;
        errno = saved;
        /* A refused parameter names its own line; anything else is placed
         * at the stage's entry. */
        if (names_its_place(st, e.text))
            return wn_errprintf(err, "%s", e.text);
        wn_errprintf(err, "%s", e.text);
        return wn_errprefix(err, "%s: stage '%s' (%s): init", wn_stage_config_where(st->cfg),
                            st->cfg->name, st->ops->type);
    }
    st->initialized = 1;
    return 0;
}

void wn_stage_destroy(struct wn_stage *st)
{
    if (!st)
        return;
    if (st->initialized && st->ops->fini)
        st->ops->fini(st);
    free(st->shuffle_key);
    for (size_t i = 0; i < st->noutputs; i++)
        free(st->outputs[i].path);
    free(st->outputs);
    wn_inputs_destroy(st->own_inputs);
    wn_rejects_free(st);
    wn_columns_free(st->columns);
    free(st->plan_note);
    free(st);
}

const char *wn_stage_name(const struct wn_stage *st)
{
    return st->cfg->name;
}

uint32_t wn_stage_index(const struct wn_stage *st)
{
    return st->index;
}

void *wn_stage_data(const struct wn_stage *st)
{
    return st->data;
}

void wn_stage_set_data(struct wn_stage *st, void *data)
{
    st->data = data;
}

unsigned wn_stage_attempt(const struct wn_stage *st)
{
    const struct wn_batch_run *b = wn_batch_run_current(st);
    return b ? b->attempt : st->attempt;
}

/* The batch this thread runs (stage_impl.h). */
static _Thread_local struct wn_batch_run *current_run;

void wn_batch_run_begin(struct wn_batch_run *b, struct wn_stage *st, unsigned attempt,
                        uint32_t round)
{
    *b = (struct wn_batch_run){st, attempt, round, NULL};
    st->attempt = attempt; /* for stages that read them outside a batch */
    st->round = round;
    current_run = b;
}

void wn_batch_run_end(struct wn_batch_run *b)
{
    if (current_run != b)
        return;
    wn_rejects_free((struct wn_stage *)b->st); /* the batch's: it is current */
    current_run = NULL;
}

struct wn_batch_run *wn_batch_run_current(const struct wn_stage *st)
{
    return current_run && current_run->st == st ? current_run : NULL;
}

int wn_stage_task_mode(const struct wn_stage *st)
{
    const unsigned stateful = WN_STAGE_ACTOR | WN_STAGE_RAFT | WN_STAGE_SHUFFLE;
    return !(st->ops->flags & stateful) && !st->ops->setup && !st->ops->setup_on_node &&
           !(st->cfg->gpus > 0);
}

struct wn_resources wn_stage_resources(const struct wn_stage *st)
{
    struct wn_resources r = {0, 0, 0};
    if (st->cfg) {
        r.cpus = st->cfg->cpus;
        r.gpus = st->cfg->gpus;
        r.gpu_memory_gb = st->cfg->gpu_memory_gb;
    }
    return r;
}

void wn_stage_log(const struct wn_stage *st, enum wn_log_level level, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    wn_log(level, "%s: %s", wn_stage_name(st), text);
}
