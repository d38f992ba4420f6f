/* test_config.c - the pipeline file (src/config/config.c) and stage
 * parameters (src/config/params.c): values, defaults, every kind of error with
 * its FILE:LINE:COL, --set overrides, parameter tables, the resume hash
 * and printing.  Fixtures: $srcdir/t/fixtures/config/. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tap.h"
#include "winnow/params.h"

static char fixture_path[4096];

static const char *fixture(const char *name)
{
    const char *srcdir = getenv("srcdir");
    snprintf(fixture_path, sizeof(fixture_path), "%s/t/fixtures/config/%s",
             srcdir && *srcdir ? srcdir : ".", name);
    return fixture_path;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

#define has(hay, needle, ...)                                          \
    do {                                                               \
        if (!ok(contains((hay), (needle)), __VA_ARGS__))               \
            diag("  '%s'\n#  does not contain '%s'", (hay), (needle)); \
    } while (0)

static struct wn_pipeline_config *load_fixture(const char *name)
{
    struct wn_pipeline_config *cfg = NULL;
    wn_error_t err = {{0}};
    if (wn_config_load(fixture(name), &cfg, &err) < 0)
        diag("loading %s: %s", name, err.text);
    return cfg;
}

static struct wn_pipeline_config *load_str(const char *text, wn_error_t *err)
{
    struct wn_pipeline_config *cfg = NULL;
    if (wn_config_load_string(text, "t.yaml", &cfg, err) < 0)
        return NULL;
    return cfg;
}

/* A stage parameter table like a MinHash stage's. */
static const struct wn_param_spec sample_spec[] = {
    {"char_ngrams", WN_PARAM_INT, "24", "characters per shingle"},
    {"seed", WN_PARAM_INT, "42", "permutation seed"},
    {"threshold", WN_PARAM_DOUBLE, "0.8", "Jaccard threshold"},
    {"use_gpu", WN_PARAM_BOOL, "false", "run the CUDA kernel"},
    {"text_field", WN_PARAM_STRING, "text", "column holding the text"},
    {"model", WN_PARAM_STRING, NULL, "required"},
    WN_PARAM_END,
};

static void test_full(void)
{
    struct wn_pipeline_config *cfg = load_fixture("full.yaml");
    ok(cfg != NULL, "full.yaml loads");
    if (!cfg) {
        skip(48, "full.yaml did not load");
        return;
    }
    is(cfg->name, "full-demo_1.0", "name");
    is(cfg->description, "Every key, with a colon: here", "description (quoted)");
    is(cfg->input, "/data/in", "input");
    is(cfg->output, "/data/out", "output");
    is(cfg->checkpoint, "/scratch/ckpt", "checkpoint");
    has(cfg->path, "full.yaml", "path kept");
    ok(cfg->text && cfg->text_len == strlen(cfg->text) && !strncmp(cfg->text, "# Every key", 11),
       "the file's bytes are kept");

    const struct wn_executor_config *x = &cfg->exec;
    ok(x->reserved_cpus == 1.5, "executor.reserved_cpus");
    ok(x->reserved_gpus == 0.5, "executor.reserved_gpus");
    cmp_ok(x->ignore_head_node, ==, 1, "executor.ignore_head_node: yes");
    cmp_ok(x->show_progress, ==, 0, "executor.show_progress: off");
    ok(x->progress_interval == 2.5, "executor.progress_interval");
    cmp_ok(x->prefetch, ==, 4, "executor.prefetch");
    cmp_ok(x->max_retries, ==, 0, "executor.max_retries: 0 allowed");
    cmp_ok(x->ignore_failures, ==, 1, "executor.ignore_failures: TRUE");
    ok(x->drain_timeout == 30, "executor.drain_timeout");
    ok(x->time_margin == 0, "executor.time_margin: 0 allowed");

    cmp_ok(cfg->nstages, ==, 4, "four stages");
    const struct wn_stage_config *s = &cfg->stages[0];
    is(s->name, "read", "stage 0 name");
    is(s->type, "noop", "stage 0 type");
    cmp_ok(s->line, ==, 21, "stage 0 line");
    cmp_ok(s->col, ==, 5, "stage 0 column");
    has(wn_stage_config_where(s), "full.yaml:21:5", "stage 0 where");
    cmp_ok(s->batch_size, ==, 4, "batch_size");
    cmp_ok(s->num_workers, ==, 2, "num_workers");
    cmp_ok(s->num_output_tasks, ==, 3, "num_output_tasks");
    ok(s->cpus == 2 && s->gpus == 0 && s->gpu_memory_gb == 0, "resources (flow mapping)");
    cmp_ok(wn_params_count(s->params), ==, 2, "two params");
    is(wn_params_key(s->params, 0), "ms_per_item", "params in file order");
    is(wn_params_str(s->params, "ms_per_item"), "5", "param value text");
    is(wn_params_str(s->params, "anything"), "value", "free-form param");
    has(wn_params_origin(s->params, 0), "full.yaml:27:14",
        "param origin is its key's FILE:LINE:COL");

    s = &cfg->stages[1];
    is(s->name, "minhash", "name defaults to the type");
    cmp_ok(s->line, ==, 29, "stage 1 line");
    cmp_ok(s->batch_size, ==, 0, "batch_size unset");
    ok(s->cpus == 0.5 && s->gpus == 1 && s->gpu_memory_gb == 16, "resources (block mapping)");
    is(wn_params_str(s->params, "seed"), "-7", "negative param");
    ok(wn_params_flags(s->params, 2) & WN_PARAM_F_QUOTED, "quoted param remembered");
    ok(!(wn_params_flags(s->params, 0) & WN_PARAM_F_QUOTED), "plain param is not quoted");

    is(cfg->stages[2].name, "libclean", "plugin stage named after its file");
    is(cfg->stages[2].type, "plugins/libclean.so", "plugin type kept");
    is(cfg->stages[3].name, "strip_html", "plugin stage named after its :TYPE");
    ok(cfg->stages[3].cpus == 1 && cfg->stages[3].gpus == 0, "default resources");
    cmp_ok(wn_params_count(cfg->stages[3].params), ==, 0, "empty params: is no params");
    ok(wn_config_stage(cfg, "minhash") == &cfg->stages[1], "wn_config_stage finds by name");
    errno = 0;
    ok(wn_config_stage(cfg, "nope") == NULL && errno == ENOENT, "wn_config_stage: ENOENT");

    /* The table validates this stage's params only with a model. */
    wn_error_t err = {{0}};
    struct wn_params *p = cfg->stages[1].params;
    ok(wn_params_validate(p, sample_spec, "minhash", &err) < 0, "required param missing");
    has(err.text, "full.yaml:29:5: stage 'minhash': missing required parameter 'model'",
        "missing required param names stage and where");
    ok(wn_params_set(p, "model", "/m.bin", "test", 0, NULL) == 0, "wn_params_set");
    ok(wn_params_validate(p, sample_spec, "minhash", &err) == 0, "validates with model");
    cmp_ok(wn_params_count(p), ==, 6, "defaults filled in");
    long long n = 0;
    double d = 0;
    int b = -1;
    ok(wn_params_int(p, "char_ngrams", &n, &err) == 0 && n == 24, "int getter");
    ok(wn_params_int(p, "seed", &n, &err) == 0 && n == -7, "negative int getter");
    ok(wn_params_double(p, "threshold", &d, &err) == 0 && d == 0.8, "default double");
    ok(wn_params_bool(p, "use_gpu", &b, &err) == 0 && b == 1, "bool 'on'");
    is(wn_params_str(p, "text_field"), "text", "string");
    ok(wn_params_is_default(p, wn_params_count(p) - 1), "filled entry marked default");
    is(wn_params_origin(p, wn_params_count(p) - 1), "default", "filled entry origin");
    ok(wn_params_validate(p, sample_spec, "minhash", &err) == 0 && wn_params_count(p) == 6,
       "validate again: idempotent");
    errno = 0;
    ok(wn_params_int(p, "nope", &n, &err) < 0 && errno == ENOENT, "absent key: ENOENT");
    errno = 0;
    ok(wn_params_int(p, "text_field", &n, &err) < 0 && errno == EINVAL, "wrong getter: EINVAL");
    has(err.text, "full.yaml:", "getter error names the origin");
    errno = 0;
    ok(wn_params_str(p, "nope") == NULL && errno == ENOENT, "str of absent: NULL, ENOENT");
    wn_config_free(cfg);
}

static void test_defaults(void)
{
    struct wn_pipeline_config *cfg = load_fixture("minimal.yaml");
    ok(cfg != NULL, "minimal.yaml loads");
    if (!cfg) {
        skip(8, "minimal.yaml did not load");
        return;
    }
    ok(!cfg->description && !cfg->input && !cfg->output && !cfg->checkpoint,
       "optional strings absent");
    const struct wn_executor_config *x = &cfg->exec;
    ok(x->reserved_cpus == 0 && x->reserved_gpus == 0, "default reservations 0");
    ok(!x->ignore_head_node && x->show_progress && !x->ignore_failures, "default bools");
    ok(x->progress_interval == 10, "default progress_interval 10");
    ok(x->prefetch == 2 && x->max_retries == 2, "default prefetch 2, max_retries 2");
    ok(x->drain_timeout == 60 && x->time_margin == 300, "default drain 60, margin 300");
    cmp_ok(x->checkpoint_compression, ==, 1, "default checkpoint_compression deflate:1");
    ok(x->mode == WN_MODE_BULK && x->queue_depth == 0 && x->queue_bytes == 0 &&
           x->slots_per_actor == 0 && x->autoscale_interval == 1,
       "default mode bulk, queues and slots from the run, autoscale every 1 s");
    const struct wn_stage_config *s = &cfg->stages[0];
    ok(!strcmp(s->name, "noop") && !s->batch_size && !s->num_workers && !s->num_output_tasks,
       "stage defaults: name = type, batching unset");
    ok(s->cpus == 1 && s->gpus == 0 && s->gpu_memory_gb == 0 && wn_params_count(s->params) == 0,
       "stage defaults: 1 cpu, no gpu, no params");
    wn_config_free(cfg);
}

static void expect_fixture_error(const char *name, const char *where, const char *msg)
{
    struct wn_pipeline_config *cfg = NULL;
    wn_error_t err = {{0}};
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", where, msg);
    int rc = wn_config_load(fixture(name), &cfg, &err);
    ok(rc < 0 && !cfg, "%s is refused", name);
    has(err.text, want, "%s: %s", name, want);
}

static void test_fixture_errors(void)
{
    expect_fixture_error("empty.yaml", "empty.yaml:1:1", "the pipeline file is empty");
    expect_fixture_error("comments-only.yaml", "comments-only.yaml:1:1",
                         "the pipeline file is empty");
    expect_fixture_error("bad-unknown-stage-key.yaml", "bad-unknown-stage-key.yaml:12:5",
                         "stage 'write': unknown key 'batchsize' (did you mean 'batch_size'?)");
    expect_fixture_error("bad-syntax.yaml", "bad-syntax.yaml:5:4",
                         "YAML syntax error: did not find expected '-' indicator");
    expect_fixture_error("bad-duplicate-key.yaml", "bad-duplicate-key.yaml:7:5",
                         "stage 'read': duplicate key 'batch_size' (first at line 5)");
    expect_fixture_error("bad-duplicate-stage.yaml", "bad-duplicate-stage.yaml:5:5",
                         "stage name 'noop' is used twice (first at line 3); "
                         "give one of them a `name:`");
    expect_fixture_error("bad-type.yaml", "bad-type.yaml:4:22",
                         "executor: progress_interval: expected a number > 0, got '0'");

    struct wn_pipeline_config *cfg = NULL;
    wn_error_t err = {{0}};
    errno = 0;
    ok(wn_config_load(fixture("no-such-file.yaml"), &cfg, &err) < 0 && errno == ENOENT,
       "missing file: ENOENT");
    has(err.text, "no-such-file.yaml: No such file", "missing file: message names it");
}

/* Inline pipelines that must fail: the error must start with t.yaml:L:C. */
static const struct {
    const char *text;
    const char *where;
    const char *msg;
} bad[] = {
    {"- a\n- b\n", "1:1", "a pipeline file is a mapping (name:, stages:, ...), got a list"},
    {"just words\n", "1:1", "a pipeline file is a mapping"},
    {"name: x\nstagse: []\n", "2:1", "unknown key 'stagse' (did you mean 'stages'?)"},
    {"name: x\nzebra: 1\nstages: [{type: noop}]\n", "2:1", "unknown key 'zebra'\n"},
    {"stages:\n  - type: noop\n", "1:1", "missing required key 'name'"},
    {"name: x\n", "1:1", "missing required key 'stages'"},
    {"name: x\nstages: []\n", "2:9", "stages: needs at least one stage"},
    {"name: x\nstages:\n", "2:8", "stages: needs at least one stage"},
    {"name: x\nstages: noop\n", "2:9", "stages: expected a list of stages, got a scalar"},
    {"name: x\nstages: {type: noop}\n", "2:9", "stages: expected a list of stages, got a mapping"},
    {"name: a b\nstages: [{type: noop}]\n", "1:7",
     "name: expected a name ([A-Za-z0-9_.-]+), got 'a b'"},
    {"name: [x]\nstages: [{type: noop}]\n", "1:7", "name: expected a name"},
    {"name: x\nname: y\nstages: [{type: noop}]\n", "2:1", "duplicate key 'name' (first at line 1)"},
    {"name: x\nstages:\n  - noop\n", "3:5", "stage #1: expected a mapping (name:, type:, ...)"},
    {"name: x\nstages:\n  - type: noop\n  - name: w\n    num_workers: 2\n", "4:5",
     "stage 'w': missing required key 'type'"},
    {"name: x\nstages:\n  - type: has space\n", "3:11", "stage #1: type: expected a stage type"},
    {"name: x\nstages:\n  - type:\n", "3:10", "expected a stage type"},
    {"name: x\nstages:\n  - name: bad/name\n    type: noop\n", "3:11", "name: expected a name"},
    {"name: x\nstages:\n  - type: noop\n    batch_size: four\n", "4:17",
     "stage 'noop': batch_size: expected an integer >= 1 (0: unset), got 'four'"},
    {"name: x\nstages:\n  - type: noop\n    batch_size: -1\n", "4:17", "got '-1'"},
    {"name: x\nstages:\n  - type: noop\n    batch_size: 4.5\n", "4:17", "got '4.5'"},
    {"name: x\nstages:\n  - type: noop\n    batch_size: \"4\"\n", "4:17",
     "got the quoted string \"4\""},
    {"name: x\nstages:\n  - type: noop\n    batch_size: [4]\n", "4:17",
     "batch_size: expected an integer >= 1 (0: unset), got a list"},
    {"name: x\nstages:\n  - type: noop\n    batch_size:\n", "4:16", "got an empty value"},
    {"name: x\nstages:\n  - type: noop\n    batch_size: 2147483648\n", "4:17",
     "batch_size: expected an integer >= 1 (0: unset), got '2147483648'"},
    {"name: x\nstages:\n  - type: noop\n    num_workers: 99999999999\n", "4:18",
     "num_workers: expected an integer >= 1 (0: no cap), got '99999999999'"},
    {"name: x\nstages:\n  - type: noop\n    resources: {cpu: 1}\n", "4:17",
     "stage 'noop': resources: unknown key 'cpu' (did you mean 'cpus'?)"},
    {"name: x\nstages:\n  - type: noop\n    resources:\n      gpus: -0.5\n", "5:13",
     "resources: gpus: expected a number >= 0, got '-0.5'"},
    {"name: x\nstages:\n  - type: noop\n    resources: 2\n", "4:16",
     "resources: expected a mapping, got a scalar"},
    {"name: x\nstages:\n  - type: noop\n    params: [a]\n", "4:13",
     "stage 'noop': params: expected a mapping, got a list"},
    {"name: x\nstages:\n  - type: noop\n    params: {a: [1]}\n", "4:17",
     "params: a: expected a single value, got a list"},
    {"name: x\nstages:\n  - type: noop\n    params:\n      a: 1\n      a: 2\n", "6:7",
     "stage 'noop': params: duplicate key 'a' (first at line 5)"},
    {"name: x\nstages:\n  - type: noop\n    batch_size: 2\n    batchsize: 4\n", "5:5",
     "unknown key 'batchsize' (did you mean 'batch_size'?)"},
    {"name: x\nexecutor:\n  show_progress: maybe\nstages: [{type: noop}]\n", "3:18",
     "executor: show_progress: expected true or false (or yes/no, on/off), got 'maybe'"},
    {"name: x\nexecutor:\n  ignore_failures: 1\nstages: [{type: noop}]\n", "3:20",
     "expected true or false"},
    {"name: x\nexecutor:\n  prefech: 1\nstages: [{type: noop}]\n", "3:3",
     "executor: unknown key 'prefech' (did you mean 'prefetch'?)"},
    {"name: x\nexecutor:\n  prefetch: -1\nstages: [{type: noop}]\n", "3:13",
     "executor: prefetch: expected an integer from 0 to 1024, got '-1'"},
    {"name: x\nexecutor:\n  drain_timeout: 0\nstages: [{type: noop}]\n", "3:18",
     "expected a number > 0, got '0'"},
    {"name: x\nexecutor:\n  time_margin: -5\nstages: [{type: noop}]\n", "3:16",
     "expected a number >= 0, got '-5'"},
    {"name: x\nexecutor:\n  reserved_cpus: .inf\nstages: [{type: noop}]\n", "3:18",
     "reserved_cpus: expected a number >= 0, got '.inf'"},
    {"name: x\nexecutor:\n  reserved_gpus: nan\nstages: [{type: noop}]\n", "3:18", "got 'nan'"},
    {"name: x\nexecutor:\n  reserved_gpus: 0x10\nstages: [{type: noop}]\n", "3:18", "got '0x10'"},
    {"name: x\nexecutor: [1]\nstages: [{type: noop}]\n", "2:11",
     "executor: expected a mapping, got a list"},
    {"name: x\nstages:\n  - type: minhash\n    bogus: 1\n", "4:5",
     "stage 'minhash': unknown key 'bogus'\n"},
    {"name: x\nstages:\n  - type: noop\n  - name: noop\n    type: minhash\n", "4:11",
     "stage name 'noop' is used twice (first at line 3)\n"},
    {"---\nname: a\nstages: [{type: noop}]\n---\nname: b\n", "5:1",
     "only one YAML document is allowed"},
    {"name: x\nstages: [\n", "3:1", "YAML syntax error"},
    {"name: x\n\tstages: []\n", "2:1", "YAML syntax error: found a tab character"},
    {"name: x\nstages: *nothing\n", "2:9", "YAML error: found undefined alias"},
    {"name: x\n? [a]\n: 1\nstages: []\n", "2:3", "keys must be plain words, got a list"},
    {"name: x\nstages: \xff\n", "2:9", "invalid"},
    /* Counts that size what rank 0 or an actor allocates have a ceiling,
     * and the message says what one unit costs. */
    {"name: x\nstages:\n  - {type: shuffle, total_nparts: 1000000000}\n", "3:35",
     "stage 'shuffle': total_nparts: expected an integer from 1 to 1048576 (0: one per input "
     "task), got '1000000000' (each partition of each round is a batch rank 0 tracks"},
    {"name: x\nstages:\n  - {type: shuffle, total_nparts: 1048577}\n", "3:35", "got '1048577'"},
    {"name: x\nstages:\n  - {type: noop, num_output_tasks: 1048577}\n", "3:36",
     "num_output_tasks: expected an integer from 1 to 1048576 (0: unset), got '1048577' "
     "(each batch is a record rank 0 keeps"},
    {"name: x\nexecutor: {prefetch: 1025}\nstages: [{type: noop}]\n", "2:22",
     "executor: prefetch: expected an integer from 0 to 1024, got '1025' (a queued batch's "
     "inputs are pulled"},
    {"name: x\nexecutor: {max_retries: 2147483647}\nstages: [{type: noop}]\n", "2:25",
     "max_retries: expected an integer from 0 to 1000, got '2147483647'"},
    {"name: x\nexecutor: {shuffle_memory_limit: 1e300}\nstages: [{type: noop}]\n", "2:34",
     "shuffle_memory_limit: expected a number of bytes from 0 to 2^50 (0: 1 GiB), got '1e300' "
     "(1 PiB"},
    {"name: x\nexecutor: {shuffle_inflight: 1e400}\nstages: [{type: noop}]\n", "2:30",
     "shuffle_inflight: expected a number of bytes from 0 to 2^50 (0: 8 MiB), got '1e400'"},
    /* The shape of the YAML, before a tree is built (config_read.c). */
    {"name: x\nstages: &s [*s]\n", "2:13", "alias '*s' stands for a node that contains it"},
    {"name: x\nstages: [{type: noop, params: &p {a: *p}}]\n", "2:38",
     "alias '*p' stands for a node that contains it"},
    {"name: \"a\\0b\"\nstages: [{type: noop}]\n", "1:7", "'name': a NUL character is not allowed"},
};

static void test_inline_errors(void)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wn_error_t err = {{0}};
        char want[600];
        /* A trailing '\n' in msg means: the message ends there. */
        size_t ml = strlen(bad[i].msg);
        int exact_end = ml && bad[i].msg[ml - 1] == '\n';
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "t.yaml:%s: ", bad[i].where);
        snprintf(want, sizeof(want), "%.*s", (int)(ml - (size_t)exact_end), bad[i].msg);
        errno = 0;
        struct wn_pipeline_config *cfg = load_str(bad[i].text, &err);
        size_t el = strlen(err.text), wl = strlen(want);
        int good =
            !cfg && errno == EINVAL && !strncmp(err.text, prefix, strlen(prefix)) &&
            (exact_end ? el >= wl && !strcmp(err.text + el - wl, want) : contains(err.text, want));
        if (!ok(good, "bad #%zu: %s%s", i, prefix, want))
            diag("  got (errno %d): %s", errno, err.text);
        wn_config_free(cfg);
    }
}

static const char *two_stages = "name: demo\n"
                                "stages:\n"
                                "  - name: read\n"
                                "    type: noop\n"
                                "    batch_size: 2\n"
                                "  - type: minhash\n"
                                "    params: {char_ngrams: 5, model: /m}\n"
                                "  - name: a\n"
                                "    type: noop\n"
                                "  - name: a.b\n"
                                "    type: noop\n";

static void expect_set_error(struct wn_pipeline_config *cfg, const char *a, const char *msg)
{
    wn_error_t err = {{0}};
    char want[600];
    snprintf(want, sizeof(want), "--set %s: %s", a, msg);
    errno = 0;
    int rc = wn_config_override(cfg, a, &err);
    if (!ok(rc < 0 && errno == EINVAL && !strncmp(err.text, want, strlen(want)), "--set %s refused",
            a))
        diag("  got: %s\n#  want: %s", err.text, want);
}

static void test_overrides(void)
{
    wn_error_t err = {{0}};
    struct wn_pipeline_config *cfg = load_str(two_stages, &err);
    ok(cfg != NULL, "override base loads");
    if (!cfg) {
        diag("%s", err.text);
        skip(40, "no base");
        return;
    }
#define SET(a) (wn_config_override(cfg, (a), &err) == 0 ? 1 : (diag("%s", err.text), 0))
    ok(SET("name=renamed") && !strcmp(cfg->name, "renamed"), "--set name");
    ok(SET("input=/in dir") && !strcmp(cfg->input, "/in dir"), "--set input");
    ok(SET("output=/o") && !strcmp(cfg->output, "/o"), "--set output");
    ok(SET("checkpoint=/c") && !strcmp(cfg->checkpoint, "/c"), "--set checkpoint");
    ok(SET("checkpoint=") && cfg->checkpoint == NULL, "--set checkpoint= unsets");
    ok(SET("description=a=b") && !strcmp(cfg->description, "a=b"), "value may hold '='");
    ok(SET("executor.prefetch=8") && cfg->exec.prefetch == 8, "--set executor.prefetch");
    ok(SET("executor.show_progress=no") && cfg->exec.show_progress == 0, "--set executor bool");
    ok(SET("executor.drain_timeout=1.5") && cfg->exec.drain_timeout == 1.5,
       "--set executor double");
    ok(SET("executor.checkpoint_compression=none") && cfg->exec.checkpoint_compression == 0,
       "--set executor.checkpoint_compression=none: level 0");
    ok(SET("executor.checkpoint_compression=deflate") && cfg->exec.checkpoint_compression == 1,
       "checkpoint_compression=deflate: level 1");
    ok(SET("executor.checkpoint_compression=deflate:9") && cfg->exec.checkpoint_compression == 9,
       "checkpoint_compression=deflate:9: level 9");
    ok(SET("executor.mode=streaming") && cfg->exec.mode == WN_MODE_STREAMING,
       "--set executor.mode=streaming");
    ok(SET("executor.queue_depth=4") && cfg->exec.queue_depth == 4, "--set executor.queue_depth");
    ok(SET("executor.slots_per_actor=3") && cfg->exec.slots_per_actor == 3,
       "--set executor.slots_per_actor");
    ok(SET("executor.autoscale_interval=0") && cfg->exec.autoscale_interval == 0,
       "--set executor.autoscale_interval=0: never");
    ok(SET("executor.mode=bulk") && cfg->exec.mode == WN_MODE_BULK, "--set executor.mode=bulk");
    struct wn_stage_config *rd = wn_config_stage(cfg, "read");
    ok(SET("stages.read.batch_size=16") && rd->batch_size == 16, "--set stage batch_size");
    ok(SET("stages.read.num_workers=3") && rd->num_workers == 3, "--set num_workers");
    ok(SET("stages.read.num_workers=0") && rd->num_workers == 0, "--set num_workers=0 lifts cap");
    ok(SET("stages.read.num_output_tasks=5") && rd->num_output_tasks == 5,
       "--set num_output_tasks");
    ok(SET("stages.read.resources.gpus=2") && rd->gpus == 2, "--set resources.gpus");
    ok(SET("stages.read.resources.cpus=0.25") && rd->cpus == 0.25, "--set resources.cpus");
    ok(SET("stages.read.resources.gpu_memory_gb=40") && rd->gpu_memory_gb == 40,
       "--set resources.gpu_memory_gb");
    ok(SET("stages.read.type=plugins/x.so") && !strcmp(rd->type, "plugins/x.so"), "--set type");
    struct wn_stage_config *mh = wn_config_stage(cfg, "minhash");
    ok(SET("stages.minhash.char_ngrams=13"), "--set a param by bare name");
    is(wn_params_str(mh->params, "char_ngrams"), "13", "param replaced");
    is(wn_params_origin(mh->params, 0), "--set stages.minhash.char_ngrams=13",
       "override origin recorded");
    ok(SET("stages.minhash.params.seed=9"), "--set stages.NAME.params.KEY");
    is(wn_params_str(mh->params, "seed"), "9", "param added");
    ok(SET("stages.a.b.batch_size=7") && wn_config_stage(cfg, "a.b")->batch_size == 7 &&
           wn_config_stage(cfg, "a")->batch_size == 0,
       "dotted stage name: longest match");
    ok(SET("stages.a.batch_size=6") && wn_config_stage(cfg, "a")->batch_size == 6,
       "prefix stage still reachable");

    expect_set_error(cfg, "name=bad name", "expected a name ([A-Za-z0-9_.-]+), got 'bad name'");
    expect_set_error(cfg, "name=", "expected a name ([A-Za-z0-9_.-]+), got an empty value");
    expect_set_error(cfg, "garbage", "expected KEY=VALUE");
    expect_set_error(cfg, "=5", "expected KEY=VALUE");
    expect_set_error(cfg, "bogus=1", "unknown key 'bogus'");
    expect_set_error(cfg, "nmae=x", "unknown key 'nmae' (did you mean 'name'?)");
    expect_set_error(cfg, "executor.prefetch=-1", "expected an integer from 0 to 1024, got '-1'");
    for (const char *const *v = (const char *const[]){"deflate:0", "deflate:10", "gzip", "", NULL};
         *v; v++) {
        char a[80], msg[160];
        snprintf(a, sizeof(a), "executor.checkpoint_compression=%s", *v);
        snprintf(msg, sizeof(msg), "%s%s%s%s",
                 "expected none, deflate or deflate:LEVEL (LEVEL 1 to 9), ",
                 **v ? "got '" : "got an empty value", *v, **v ? "'" : "");
        expect_set_error(cfg, a, msg);
    }
    expect_set_error(cfg, "executor.mode=Streaming", "expected bulk or streaming, got 'Streaming'");
    expect_set_error(cfg, "executor.queue_depth=65537",
                     "expected an integer from 0 to 65536 (0: from the actors), got '65537'");
    expect_set_error(cfg, "executor.prefech=1",
                     "unknown executor key 'prefech' (did you mean 'prefetch'?)");
    expect_set_error(cfg, "executor.show_progress=1",
                     "expected true or false (or yes/no, on/off), got '1'");
    expect_set_error(cfg, "stages.nope.batch_size=1", "no stage named 'nope' in pipeline");
    expect_set_error(cfg, "stages.raed.batch_size=1",
                     "no stage named 'raed' in pipeline 'renamed' (did you mean 'read'?)");
    expect_set_error(cfg, "stages.read=1", "expected stages.NAME.FIELD");
    expect_set_error(cfg, "stages.read.batch_size=abc",
                     "expected an integer >= 1 (0: unset), got 'abc'");
    expect_set_error(
        cfg, "stages.read.batch_size=", "expected an integer >= 1 (0: unset), got an empty value");
    expect_set_error(cfg, "stages.read.resources.gpu=1",
                     "unknown resource 'gpu' (did you mean 'gpus'?)");
    expect_set_error(cfg, "stages.read.resources.cpus=-1", "expected a number >= 0, got '-1'");
    expect_set_error(cfg, "stages.read.name=x", "a stage cannot be renamed");
    expect_set_error(cfg, "stages.read.params.=1", "expected stages.read.FIELD");
    expect_set_error(cfg, "stages.read.type=a b", "expected a stage type");

    /* A parameter set by --set is checked when the stage is created, and
     * the error still points at the --set. */
    ok(SET("stages.minhash.char_ngrams=abc"), "bad param value accepted until validation");
    ok(wn_params_validate(mh->params, sample_spec, "minhash", &err) < 0, "then refused");
    has(err.text,
        "--set stages.minhash.char_ngrams=abc: stage 'minhash': parameter "
        "'char_ngrams': expected an integer, got 'abc'",
        "error names the --set");
    ok(SET("stages.minhash.chars=5"), "unknown param accepted until validation");
    ok(SET("stages.minhash.char_ngrams=5"), "fix the value");
    ok(wn_params_validate(mh->params, sample_spec, "minhash", &err) < 0 &&
           contains(err.text,
                    "--set stages.minhash.chars=5: stage 'minhash': unknown parameter 'chars'"),
       "unknown param from --set names the --set");
#undef SET
    wn_config_free(cfg);
}

static struct wn_params *params_from(const char *yaml_params, struct wn_pipeline_config **keep)
{
    char text[1024];
    wn_error_t err = {{0}};
    snprintf(text, sizeof(text), "name: p\nstages:\n  - type: minhash\n    params:\n%s",
             yaml_params);
    *keep = load_str(text, &err);
    if (!*keep) {
        diag("%s", err.text);
        return NULL;
    }
    return (*keep)->stages[0].params;
}

static void expect_param_error(const char *yaml_params, const char *msg)
{
    struct wn_pipeline_config *cfg;
    struct wn_params *p = params_from(yaml_params, &cfg);
    wn_error_t err = {{0}};
    errno = 0;
    int rc = p ? wn_params_validate(p, sample_spec, "mh", &err) : 0;
    if (!ok(rc < 0 && errno == EINVAL && contains(err.text, msg), "params refused: %s", msg))
        diag("  got: %s", err.text);
    wn_config_free(cfg);
}

static void test_params(void)
{
    expect_param_error("      char_ngram: 5\n      model: m\n",
                       "t.yaml:5:7: stage 'mh': unknown parameter 'char_ngram' "
                       "(did you mean 'char_ngrams'?)");
    expect_param_error("      model: m\n      zzz: 5\n",
                       "t.yaml:6:7: stage 'mh': unknown parameter 'zzz' (`winnow stages`");
    expect_param_error("      model: m\n      seed: abc\n",
                       "t.yaml:6:7: stage 'mh': parameter 'seed': expected an integer, got 'abc'");
    expect_param_error("      model: m\n      seed: \"42\"\n",
                       "parameter 'seed': expected an integer, got the quoted string \"42\"");
    expect_param_error("      model: m\n      seed: 1.5\n", "expected an integer, got '1.5'");
    expect_param_error("      model: m\n      seed: 99999999999999999999\n", "is out of range");
    expect_param_error("      model: m\n      threshold: nan\n",
                       "parameter 'threshold': expected a number, got 'nan'");
    expect_param_error("      model: m\n      use_gpu: 1\n",
                       "parameter 'use_gpu': expected true or false (or yes/no, on/off), got '1'");
    expect_param_error("      seed: 1\n", "t.yaml:3:5: stage 'mh': missing required parameter "
                                          "'model' (string: required)");

    struct wn_pipeline_config *cfg;
    struct wn_params *p = params_from("      model: \"~\"\n      threshold: 1e-3\n"
                                      "      use_gpu: No\n      text_field: 42\n",
                                      &cfg);
    wn_error_t err = {{0}};
    ok(p && wn_params_validate(p, sample_spec, "mh", &err) == 0, "valid params");
    double d = 0;
    int b = -1;
    ok(p && wn_params_double(p, "threshold", &d, NULL) == 0 && d == 1e-3, "exponent double");
    ok(p && wn_params_bool(p, "use_gpu", &b, NULL) == 0 && b == 0, "bool 'No'");
    is(p ? wn_params_str(p, "text_field") : NULL, "42", "a number is a fine string");
    is(p ? wn_params_str(p, "model") : NULL, "~", "quoted ~ is a string, not null");
    struct wn_params *c = p ? wn_params_clone(p) : NULL;
    ok(c && wn_params_count(c) == wn_params_count(p) &&
           wn_params_is_default(c, 5) == wn_params_is_default(p, 5),
       "clone copies entries and marks");
    wn_params_destroy(c);
    wn_config_free(cfg);

    static const struct wn_param_spec bad_default[] = {{"n", WN_PARAM_INT, "many", "oops"},
                                                       WN_PARAM_END};
    struct wn_params *q = wn_params_create(NULL);
    ok(wn_params_validate(q, bad_default, "s", &err) < 0 &&
           contains(err.text, "parameter table: default of 'n': expected an integer"),
       "a bad default in the table is caught");
    ok(wn_params_validate(q, NULL, "s", &err) == 0, "no table, no params: fine");
    wn_params_set(q, "x", "1", "here:1:1", 0, NULL);
    ok(wn_params_validate(q, NULL, "s", &err) < 0 &&
           contains(err.text, "here:1:1: stage 's': unknown parameter 'x' (this stage type "
                              "takes no parameters)"),
       "no table: any param is unknown");
    ok(wn_params_set(q, "", "1", "o", 0, &err) < 0 && errno == EINVAL, "empty key refused");
    wn_params_destroy(q);
    is(wn_param_type_name(WN_PARAM_DOUBLE), "double", "type names");
    const char *names[] = {"cpus", "gpus", "gpu_memory_gb"};
    is(wn_param_suggest("gpu_memory", names, 3), "gpu_memory_gb", "suggest a typo");
    ok(wn_param_suggest("memory", names, 3) == NULL, "no suggestion for a stranger");
}

static uint64_t hash_of(const char *fixture_name, const char *set1, const char *set2)
{
    struct wn_pipeline_config *cfg = load_fixture(fixture_name);
    if (!cfg)
        return 0;
    wn_error_t err = {{0}};
    if ((set1 && wn_config_override(cfg, set1, &err) < 0) ||
        (set2 && wn_config_override(cfg, set2, &err) < 0))
        diag("%s", err.text);
    uint64_t h = wn_config_hash(cfg);
    wn_config_free(cfg);
    return h;
}

static void test_hash(void)
{
    uint64_t h = hash_of("full.yaml", NULL, NULL);
    ok(h != 0 && h == hash_of("full.yaml", NULL, NULL), "hash is stable");
    ok(h == hash_of("full-reformatted.yaml", "description=Every key, with a colon: here",
                    "checkpoint=/scratch/ckpt"),
       "same hash across formatting, comments, key order, quoting, flow style");
    ok(h == hash_of("full.yaml", "executor.show_progress=true", "executor.max_retries=9"),
       "executor settings do not count");
    ok(h == hash_of("full.yaml", "executor.checkpoint_compression=none", NULL) &&
           h == hash_of("full.yaml", "executor.checkpoint_compression=deflate:6", NULL),
       "checkpoint_compression does not count (a reader takes either)");
    ok(h == hash_of("full.yaml", "stages.read.resources.cpus=8", "stages.read.num_workers=16"),
       "resources and num_workers do not count");
    ok(h == hash_of("full.yaml", "checkpoint=/elsewhere", "description=new words"),
       "checkpoint and description do not count");
    ok(h != hash_of("full.yaml", "stages.minhash.seed=8", NULL), "a param value counts");
    ok(h != hash_of("full.yaml", "stages.minhash.new_param=1", NULL), "a new param counts");
    ok(h != hash_of("full.yaml", "stages.read.batch_size=5", NULL), "batch_size counts");
    ok(h != hash_of("full.yaml", "stages.read.num_output_tasks=4", NULL),
       "num_output_tasks counts");
    ok(h != hash_of("full.yaml", "input=/data/other", NULL), "input counts");
    ok(h != hash_of("full.yaml", "output=/data/other", NULL), "output counts");
    ok(h != hash_of("full.yaml", "name=other", NULL), "name counts");
    ok(h != hash_of("full.yaml", "stages.read.type=minhash", NULL), "a stage's type counts");
    ok(hash_of("minimal.yaml", NULL, NULL) ==
           hash_of("minimal.yaml", "stages.noop.batch_size=1", NULL),
       "unset batch_size is 1");

    /* Filling defaults does not change the hash. */
    struct wn_pipeline_config *cfg = load_fixture("full.yaml");
    wn_error_t err = {{0}};
    if (!cfg) {
        skip(8, "no full.yaml");
        return;
    }
    struct wn_params *p = cfg->stages[1].params;
    wn_params_set(p, "model", "/m", "--set", 0, NULL);
    uint64_t before = wn_config_hash(cfg);
    ok(wn_params_validate(p, sample_spec, "minhash", &err) == 0 && before == wn_config_hash(cfg),
       "validation's defaults do not change the hash");

    /* Render -> load gives back the same configuration. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    ok(mem && wn_config_render(cfg, mem) == 0, "render");
    if (mem)
        fclose(mem);
    has(buf, "name: full-demo_1.0\n", "rendered name");
    has(buf, "      # threshold: 0.8   (default)\n", "defaults rendered as comments");
    has(buf, "description: \"Every key, with a colon: here\"\n", "strings quoted when needed");
    struct wn_pipeline_config *again = NULL;
    int rc = wn_config_load_string(buf ? buf : "", "rendered", &again, &err);
    if (!ok(rc == 0, "rendered YAML loads back"))
        diag("%s\n%s", err.text, buf);
    ok(again && wn_config_hash(again) == before, "same hash after the round trip");
    ok(again && !memcmp(&again->exec, &cfg->exec, sizeof(cfg->exec)) &&
           !strcmp(again->description, cfg->description) && again->stages[1].gpu_memory_gb == 16 &&
           again->stages[0].num_output_tasks == 3 &&
           !strcmp(again->stages[3].type, "./my-filter.so:strip_html") &&
           !strcmp(again->stages[3].name, "strip_html"),
       "the round trip keeps every field");
    wn_config_free(again);
    free(buf);
    wn_config_free(cfg);
}

int main(void)
{
    plan(NO_PLAN);
    test_full();
    test_defaults();
    test_fixture_errors();
    test_inline_errors();
    test_overrides();
    test_params();
    test_hash();
    return done_testing();
}
