/* task.c - tasks, their metadata and perf records, lineage ids and task
 * lists (see winnow/task.h).  Batches are in task_batch.c, columns in
 * task_column.c, the wire format in task_pack.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "winnow/error.h"
#include "winnow/task.h"
#include "task/task_impl.h"

struct wn_task *wn_task_create(uint64_t id, uint32_t stage_index, struct wn_batch *batch)
{
    struct wn_task *task = calloc(1, sizeof(*task));
    if (!task)
        return NULL;
    task->id = id;
    task->stage_index = stage_index;
    task->batch = batch;
    return task;
}

void wn_task_destroy(struct wn_task *task)
{
    if (!task)
        return;
    for (uint32_t i = 0; i < task->nmeta; i++) {
        free(task->meta[i].key);
        free(task->meta[i].value);
    }
    free(task->meta);
    free(task->perf);
    wn_batch_destroy(task->batch);
    free(task);
}

struct wn_batch *wn_task_take_batch(struct wn_task *task)
{
    if (!task)
        return NULL;
    struct wn_batch *b = task->batch;
    task->batch = NULL;
    return b;
}

uint64_t wn_task_id_derive(uint64_t parent_id, uint32_t stage_index, uint64_t output_index)
{
    /* Fixed little-endian bytes, not a struct: no padding, no host order. */
    unsigned char b[20];
    wn_st64_(b, parent_id);
    wn_st32_(b + 8, stage_index);
    wn_st64_(b + 12, output_index);
    return XXH3_64bits(b, sizeof(b));
}

static struct wn_task_meta *meta_find(const struct wn_task *task, const char *key)
{
    for (uint32_t i = 0; i < task->nmeta; i++)
        if (!strcmp(task->meta[i].key, key))
            return &task->meta[i];
    return NULL;
}

int wn_task_meta_set(struct wn_task *task, const char *key, const char *value, wn_error_t *err)
{
    if (!task || !key || !value) {
        errno = EINVAL;
        return wn_errprintf(err, "metadata: no task, key or value");
    }
    size_t klen = strnlen(key, WN_META_KEY_MAX + 1);
    if (klen == 0 || klen > WN_META_KEY_MAX) {
        errno = EINVAL;
        return wn_errprintf(err,
                            "metadata key '%.20s%s' must have 1 to %d "
                            "bytes",
                            key, klen > 20 ? "..." : "", WN_META_KEY_MAX);
    }
    size_t vlen = strlen(value);
    if (vlen > UINT32_MAX) { /* the wire stores a u32 length */
        errno = EINVAL;
        return wn_errprintf(err, "metadata '%s': value longer than 4 GiB", key);
    }
    char *v = malloc(vlen + 1);
    if (!v)
        goto nomem;
    memcpy(v, value, vlen + 1);
    struct wn_task_meta *m = meta_find(task, key);
    if (m) {
        free(m->value);
        m->value = v;
        return 0;
    }
    if (task->nmeta >= WN_TASK_MAX_META) {
        free(v);
        errno = ENOSPC;
        return wn_errprintf(err, "metadata '%s': a task holds at most %d keys", key,
                            WN_TASK_MAX_META);
    }
    if (task->nmeta == task->cap_meta) {
        uint32_t cap = task->cap_meta ? task->cap_meta * 2 : 4;
        struct wn_task_meta *meta = realloc(task->meta, cap * sizeof(*meta));
        if (!meta) {
            free(v);
            goto nomem;
        }
        task->meta = meta;
        task->cap_meta = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        goto nomem;
    }
    task->meta[task->nmeta].key = k;
    task->meta[task->nmeta].value = v;
    task->nmeta++;
    return 0;
nomem:
    errno = ENOMEM;
    return wn_errprintf(err, "metadata '%s': out of memory", key);
}

const char *wn_task_meta_get(const struct wn_task *task, const char *key)
{
    const struct wn_task_meta *m = task && key ? meta_find(task, key) : NULL;
    if (!m) {
        errno = ENOENT;
        return NULL;
    }
    return m->value;
}

static int perf_reserve(struct wn_task *task, uint32_t n, wn_error_t *err)
{
    if (n <= task->cap_perf)
        return 0;
    uint32_t cap = task->cap_perf ? task->cap_perf : 4;
    while (cap < n)
        cap *= 2;
    struct wn_stage_perf *perf = realloc(task->perf, cap * sizeof(*perf));
    if (!perf) {
        errno = ENOMEM;
        return wn_errprintf(err, "perf records: out of memory");
    }
    task->perf = perf;
    task->cap_perf = cap;
    return 0;
}

/* Copies with the name NUL-padded, so packing never reads past it and two
 * equal records are equal byte for byte. */
static void perf_copy(struct wn_stage_perf *dst, const struct wn_stage_perf *src)
{
    size_t n = strnlen(src->stage, sizeof(src->stage) - 1);
    struct wn_stage_perf tmp = *src;
    memset(tmp.stage, 0, sizeof(tmp.stage));
    memcpy(tmp.stage, src->stage, n);
    *dst = tmp;
}

int wn_task_perf_add(struct wn_task *task, const struct wn_stage_perf *perf, wn_error_t *err)
{
    if (!task || !perf) {
        errno = EINVAL;
        return wn_errprintf(err, "perf: no task or record");
    }
    if (task->nperf == UINT32_MAX || perf_reserve(task, task->nperf + 1, err))
        return -1;
    perf_copy(&task->perf[task->nperf++], perf);
    return 0;
}

int wn_task_inherit(struct wn_task *child, const struct wn_task *parent, wn_error_t *err)
{
    if (!child || !parent) {
        errno = EINVAL;
        return wn_errprintf(err, "inherit: no task");
    }
    if (parent->nperf) {
        uint32_t n = child->nperf + parent->nperf;
        if (n < child->nperf || perf_reserve(child, n, err) < 0)
            return -1;
        memmove(child->perf + parent->nperf, child->perf, child->nperf * sizeof(*child->perf));
        for (uint32_t i = 0; i < parent->nperf; i++)
            perf_copy(&child->perf[i], &parent->perf[i]);
        child->nperf = n;
    }
    for (uint32_t i = 0; i < parent->nmeta; i++) {
        const struct wn_task_meta *m = &parent->meta[i];
        if (!meta_find(child, m->key) && wn_task_meta_set(child, m->key, m->value, err) < 0)
            return -1;
    }
    return 0;
}

uint64_t wn_task_nbytes(const struct wn_task *task)
{
    return task ? wn_batch_nbytes(task->batch) : 0;
}

int wn_task_equal(const struct wn_task *a, const struct wn_task *b)
{
    if (!a || !b)
        return a == b;
    if (a->id != b->id || a->stage_index != b->stage_index || a->nmeta != b->nmeta ||
        a->nperf != b->nperf)
        return 0;
    for (uint32_t i = 0; i < a->nmeta; i++)
        if (strcmp(a->meta[i].key, b->meta[i].key) || strcmp(a->meta[i].value, b->meta[i].value))
            return 0;
    for (uint32_t i = 0; i < a->nperf; i++) {
        const struct wn_stage_perf *x = &a->perf[i], *y = &b->perf[i];
        if (strcmp(x->stage, y->stage) || memcmp(&x->process_s, &y->process_s, sizeof(double)) ||
            memcmp(&x->idle_s, &y->idle_s, sizeof(double)) || x->items_in != y->items_in ||
            x->items_out != y->items_out || x->bytes_in != y->bytes_in ||
            x->bytes_out != y->bytes_out)
            return 0;
    }
    return wn_batch_equal(a->batch, b->batch);
}

void wn_task_list_init(struct wn_task_list *list)
{
    list->tasks = NULL;
    list->n = list->cap = 0;
}

int wn_task_list_push(struct wn_task_list *list, struct wn_task *task)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        struct wn_task **t = realloc(list->tasks, cap * sizeof(*t));
        if (!t) {
            errno = ENOMEM;
            return -1;
        }
        list->tasks = t;
        list->cap = cap;
    }
    list->tasks[list->n++] = task;
    return 0;
}

int wn_task_list_push_batch(struct wn_task_list *list, struct wn_batch *batch, wn_error_t *err)
{
    struct wn_task *t = wn_task_create(0, 0, batch);
    if (!t) {
        wn_batch_destroy(batch);
        return wn_errprintf(err, "out of memory");
    }
    if (wn_task_list_push(list, t) < 0) {
        wn_task_destroy(t);
        return wn_errprintf(err, "out of memory");
    }
    return 0;
}

void wn_task_list_clear(struct wn_task_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        wn_task_destroy(list->tasks[i]);
    list->n = 0;
}

void wn_task_list_free(struct wn_task_list *list)
{
    wn_task_list_clear(list);
    free(list->tasks);
    wn_task_list_init(list);
}
