/* collect.c - rank 0: the final tasks come to it (--results), the one
 * fan-in of a run, and only when asked for. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "exec/planner/planner_impl.h"
#include "util/xalloc.h"

struct collect *collect_create(void)
{
    return calloc(1, sizeof(struct collect));
}

void collect_destroy(struct collect *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->tasks && i < c->ntasks; i++)
        wn_task_destroy(c->tasks[i]);
    free(c->tasks);
    free(c);
}

struct collect_ctx {
    struct wn_planner *p;
    size_t index;
};

static void on_collected(struct wn_loop *loop, uint64_t id, void *buf, size_t len, int remote,
                         void *arg)
{
    struct collect_ctx *c = arg;
    struct wn_planner *p = c->p;
    (void)loop;
    wn_error_t err = {{0}};
    if (remote)
        p->collect->payload_bytes += len;
    if (!buf)
        stop_fail(p->stop, "final task %016llx: its owner could not give it (its error says why)",
                  (unsigned long long)id);
    else if (wn_task_unpack(buf, len, WN_UNPACK_TAKE_BUF, &p->collect->tasks[c->index], &err) < 0) {
        stop_fail(p->stop, "final task %016llx: %s", (unsigned long long)id, err.text);
        free(buf);
    }
    free(c);
    p->collect->pending--;
}

void collect_begin(struct wn_planner *p)
{
    /* The final tasks come to rank 0: the one fan-in of a run, and only
     * when asked for (--results). */
    qsort(p->inputs, p->ninputs, sizeof(*p->inputs), dispatch_cmp_desc);
    p->collect->tasks = wn_xcalloc(p->ninputs ? p->ninputs : 1, sizeof(*p->collect->tasks));
    p->collect->ntasks = p->collect->pending = p->ninputs;
    for (size_t i = 0; i < p->ninputs; i++) {
        struct collect_ctx *c = wn_xmalloc(sizeof(*c));
        c->p = p;
        c->index = i;
        if (wn_loop_pull(p->run->loop, p->inputs[i].id, p->inputs[i].owner, on_collected, c) < 0) {
            stop_fail(p->stop, "cannot collect final task %016llx from rank %d",
                      (unsigned long long)p->inputs[i].id, p->inputs[i].owner);
            free(c);
            p->collect->pending--;
        }
    }
}
