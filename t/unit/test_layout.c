/* test_layout.c - replays captured rank environments through the layout
 * code and compares with golden output (t/fixtures/layout/NAME.env and
 * NAME.expected).  WN_FIXTURE_REGEN=1 rewrites the .expected files; read
 * the diff before committing them. */
#define _GNU_SOURCE
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/layout.h"
#include "tap.h"

#define MAX_VARS 128

struct fixture_env {
    char *keys[MAX_VARS], *vals[MAX_VARS];
    int n;
};

static const char *fixture_getenv(const char *name, void *arg)
{
    struct fixture_env *e = arg;
    for (int i = e->n - 1; i >= 0; i--) /* later lines win */
        if (!strcmp(e->keys[i], name))
            return e->vals[i];
    return NULL;
}

static void env_free(struct fixture_env *e)
{
    for (int i = 0; i < e->n; i++) {
        free(e->keys[i]);
        free(e->vals[i]);
    }
    e->n = 0;
}

static void env_add(struct fixture_env *e, const char *k, size_t klen, const char *v)
{
    if (e->n == MAX_VARS)
        BAIL_OUT("fixture has too many variables");
    e->keys[e->n] = strndup(k, klen);
    e->vals[e->n] = strdup(v);
    e->n++;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* Renders every [rank N] section of a fixture: its place, and what the
 * launch check says. */
static char *render_fixture(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct fixture_env common = {0}, env = {0};
    char *out = NULL;
    size_t outlen = 0;
    FILE *o = open_memstream(&out, &outlen);
    char line[1024];
    int in_section = 0, rank = -1, next_rank;

    /* Runs at each section end: the collected env gives one place. */
#define FLUSH_SECTION()                                                                    \
    do {                                                                                   \
        if (in_section) {                                                                  \
            struct wn_layout_input in = {0};                                               \
            const char *v;                                                                 \
            in.getenv = fixture_getenv;                                                    \
            in.getenv_arg = &env;                                                          \
            in.rank = rank;                                                                \
            in.size = (v = fixture_getenv("@size", &env)) ? atoi(v) : 1;                   \
            in.hostname = fixture_getenv("@hostname", &env);                               \
            in.device_count = (v = fixture_getenv("@device_count", &env)) ? atoi(v) : -1;  \
            in.affinity_cpus = (v = fixture_getenv("@affinity_cpus", &env)) ? atoi(v) : 1; \
            struct wn_place p;                                                             \
            wn_error_t err = {{0}};                                                        \
            if (wn_place_from_env(&in, &p, &err) < 0) {                                    \
                fprintf(o, "error: %s\n", err.text);                                       \
            } else {                                                                       \
                wn_place_print(o, &p);                                                     \
                if (p.warning[0])                                                          \
                    fprintf(o, "  warning: %s\n", p.warning);                              \
                if (wn_place_check_launch(&p, &err) < 0)                                   \
                    fprintf(o, "  launch: refused: %s\n", err.text);                       \
                else                                                                       \
                    fprintf(o, "  launch: ok\n");                                          \
                if (wn_check_pmi_env(&in, &err) < 0)                                       \
                    fprintf(o, "  pmi: refused: %s\n", err.text);                          \
                else                                                                       \
                    fprintf(o, "  pmi: ok\n");                                             \
            }                                                                              \
            env_free(&env);                                                                \
        }                                                                                  \
    } while (0)

    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (sscanf(line, "[rank %d]", &next_rank) == 1) {
            FLUSH_SECTION();
            rank = next_rank;
            in_section = 1;
            for (int i = 0; i < common.n; i++)
                env_add(&env, common.keys[i], strlen(common.keys[i]), common.vals[i]);
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq)
            BAIL_OUT("%s: bad line '%s'", path, line);
        env_add(in_section ? &env : &common, line, (size_t)(eq - line), eq + 1);
    }
    FLUSH_SECTION();
#undef FLUSH_SECTION
    fclose(f);
    fclose(o);
    env_free(&common);
    return out;
}

static void test_fixtures(void)
{
    const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/t/fixtures/layout/*.env", srcdir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        BAIL_OUT("no layout fixtures under %s", pattern);
    ok(g.gl_pathc >= 6, "found %zu layout fixtures", g.gl_pathc);
    int regen = getenv("WN_FIXTURE_REGEN") != NULL;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *envpath = g.gl_pathv[i];
        char expath[4096];
        size_t stem = strlen(envpath) - 4; /* without ".env" */
        if (stem + sizeof(".expected") > sizeof(expath))
            BAIL_OUT("fixture path too long: %s", envpath);
        memcpy(expath, envpath, stem);
        memcpy(expath + stem, ".expected", sizeof(".expected"));
        char *got = render_fixture(envpath);
        const char *name = strrchr(envpath, '/') + 1;
        if (regen) {
            FILE *w = fopen(expath, "w");
            fputs(got, w);
            fclose(w);
        }
        char *want = slurp(expath);
        ok(want != NULL, "%s: golden file exists", name);
        is(got, want ? want : "", "%s: layout matches golden output", name);
        free(got);
        free(want);
    }
    globfree(&g);
}

/* Node ids from host names where the environment said nothing. */
static void test_complete(void)
{
    struct wn_place p[5];
    memset(p, 0, sizeof(p));
    const char *hosts[5] = {"a", "b", "a", "c", "b"};
    for (int i = 0; i < 5; i++) {
        p[i].rank = i;
        p[i].node_id = p[i].local_rank = p[i].local_size = -1;
        snprintf(p[i].node_name, sizeof(p[i].node_name), "%s", hosts[i]);
    }
    wn_layout_complete(p, 5);
    cmp_ok(wn_layout_nnodes(p, 5), ==, 3, "three hosts make three nodes");
    ok(p[0].node_id == 0 && p[1].node_id == 1 && p[2].node_id == 0 && p[3].node_id == 2 &&
           p[4].node_id == 1,
       "nodes numbered by first appearance");
    ok(p[2].local_rank == 1 && p[2].local_size == 2, "second rank on host a is local 1 of 2");
    ok(p[3].local_rank == 0 && p[3].local_size == 1, "only rank on host c is local 0 of 1");

    /* Slurm-given ids are kept even when host names agree (two slurmd
     * "nodes" on one host). */
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 4; i++) {
        p[i].node_id = i / 2;
        p[i].local_rank = i % 2;
        p[i].local_size = 2;
        snprintf(p[i].node_name, sizeof(p[i].node_name), "samehost");
    }
    wn_layout_complete(p, 4);
    cmp_ok(wn_layout_nnodes(p, 4), ==, 2, "Slurm node ids win over a shared host name");
}

static void test_bad_input(void)
{
    struct wn_layout_input in = {0};
    struct wn_place p;
    wn_error_t err = {{0}};
    in.rank = 3;
    in.size = 2;
    ok(wn_place_from_env(&in, &p, &err) < 0, "rank >= size is refused");
    ok(strstr(err.text, "rank 3 of 2") != NULL, "error names the rank: %s", err.text);
}

int main(void)
{
    plan(NO_PLAN);
    test_fixtures();
    test_complete();
    test_bad_input();
    return done_testing();
}
