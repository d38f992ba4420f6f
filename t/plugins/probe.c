/* probe.c - the `probe` test stage: records where its lifecycle
 * calls ran, so tests can check that setup_on_node runs once per node and
 * setup once per actor.  Passes tasks through unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "teststages.h"

static const struct wn_param_spec probe_params[] = {
    {"dir", WN_PARAM_STRING, NULL, "directory that receives one line per lifecycle call"},
    WN_PARAM_END};

struct probe {
    char *dir;
    int rank;
};

/* One line appended with O_APPEND: concurrent ranks never mix lines. */
static int record(struct wn_stage *st, const char *what, const char *line, wn_error_t *err)
{
    struct probe *p = wn_stage_data(st);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.%s", p->dir, wn_stage_name(st), what);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return wn_errprintf(err, "stage '%s': %s: %s", wn_stage_name(st), path, strerror(errno));
    ssize_t n = write(fd, line, strlen(line));
    close(fd);
    return n < 0 ? wn_errprintf(err, "stage '%s': %s: write failed", wn_stage_name(st), path) : 0;
}

/* Each input becomes an output with a copy of its batch (inputs are
 * read-only: their columns may live in a receive buffer). */
static int pass_through(struct wn_task *const *in, size_t n, struct wn_task_list *out,
                        wn_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        struct wn_batch *b = NULL;
        if (in[i]->batch) {
            if (!(b = wn_batch_create()) || wn_batch_append(b, in[i]->batch, err) < 0) {
                wn_batch_destroy(b);
                return b ? -1 : wn_errprintf(err, "out of memory");
            }
        }
        struct wn_task *t = wn_task_create(0, 0, b);
        if (!t || wn_task_list_push(out, t) < 0) {
            if (t)
                wn_task_destroy(t);
            else
                wn_batch_destroy(b);
            return wn_errprintf(err, "out of memory");
        }
    }
    return 0;
}

static int probe_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct probe *p = calloc(1, sizeof(*p));
    if (!p)
        return wn_errprintf(err, "out of memory");
    p->rank = -1;
    wn_stage_set_data(st, p);
    if (!(p->dir = strdup(wn_params_str(params, "dir"))))
        return wn_errprintf(err, "out of memory");
    return 0;
}

static int probe_setup_on_node(struct wn_stage *st, const struct wn_node *node, wn_error_t *err)
{
    char line[256];
    snprintf(line, sizeof(line), "node %d %s actors %d pid %d\n", node->node_id, node->name,
             node->nactors, (int)getpid());
    return record(st, "node_setup", line, err);
}

static int probe_setup(struct wn_stage *st, const struct wn_worker *w, wn_error_t *err)
{
    struct probe *p = wn_stage_data(st);
    p->rank = w->rank;
    char line[256];
    snprintf(line, sizeof(line), "rank %d node %d actor %d/%d gpu %d\n", w->rank, w->node_id,
             w->actor_index, w->nactors, w->gpu);
    return record(st, "setup", line, err);
}

static int probe_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                         struct wn_task_list *out, wn_error_t *err)
{
    struct probe *p = wn_stage_data(st);
    char line[64];
    snprintf(line, sizeof(line), "rank %d tasks %zu\n", p->rank, n);
    if (record(st, "batches", line, err) < 0)
        return -1;
    return pass_through(in, n, out, err);
}

static void probe_teardown(struct wn_stage *st)
{
    struct probe *p = wn_stage_data(st);
    char line[64];
    snprintf(line, sizeof(line), "rank %d\n", p->rank);
    record(st, "teardown", line, NULL);
}

static void probe_fini(struct wn_stage *st)
{
    struct probe *p = wn_stage_data(st);
    if (p) {
        free(p->dir);
        free(p);
    }
}

const struct wn_stage_ops probe_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "probe",
    .flags = WN_STAGE_ACTOR,
    .help = "test stage: logs setup_on_node/setup/batches/teardown calls to files in dir",
    .params = probe_params,
    .init = probe_init,
    .setup_on_node = probe_setup_on_node,
    .setup = probe_setup,
    .process_batch = probe_process,
    .teardown = probe_teardown,
    .fini = probe_fini,
};
