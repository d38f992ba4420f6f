/* store.c - see store.h.  An open-addressing hash table keyed by task id
 * (ids are already hashes, so the low bits index directly). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exec/store.h"

/* A slot keeps the id beside the pointer: a probe compares ids without
 * touching the payload (one cache line per step, not two). */
struct slot {
    uint64_t id;
    struct wn_payload *p; /* NULL empty, TOMB deleted */
};

struct wn_store {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t cap, used, live; /* used = live + tombstones */
    uint64_t bytes;
};

static struct wn_payload tomb_;
#define TOMB (&tomb_)

struct wn_store *wn_store_create(void)
{
    struct wn_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cap = 1024;
    if (!(s->slots = calloc(s->cap, sizeof(*s->slots)))) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void payload_unref(struct wn_store *s, struct wn_payload *p)
{
    if (--p->refs == 0) {
        s->bytes -= p->len;
        if (!p->in_arena)
            free(p->buf);
        free(p);
    }
}

static int live_slot(const struct slot *sl)
{
    return sl->p && sl->p != TOMB;
}

void wn_store_destroy(struct wn_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (live_slot(&s->slots[i])) {
            if (!s->slots[i].p->in_arena)
                free(s->slots[i].p->buf);
            free(s->slots[i].p);
        }
    pthread_mutex_destroy(&s->lock);
    free(s->slots);
    free(s);
}

/* Slot of id, or of the first free slot on its probe path. */
static size_t probe(const struct wn_store *s, uint64_t id, int *found)
{
    size_t mask = s->cap - 1, i = (size_t)id & mask, first_free = SIZE_MAX;
    for (;;) {
        const struct slot *sl = &s->slots[i];
        if (!sl->p) {
            *found = 0;
            return first_free != SIZE_MAX ? first_free : i;
        }
        if (sl->p == TOMB) {
            if (first_free == SIZE_MAX)
                first_free = i;
        } else if (sl->id == id) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

/* Rehash into a table sized for the live entries: twice as large when
 * they fill it, the same size when tombstones are what fills it. */
static int rehash(struct wn_store *s)
{
    size_t ncap = s->cap;
    while ((s->live + 1) * 2 > ncap)
        ncap *= 2;
    struct slot *old = s->slots, *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    size_t ocap = s->cap;
    s->slots = ns;
    s->cap = ncap;
    s->used = s->live;
    for (size_t i = 0; i < ocap; i++)
        if (live_slot(&old[i])) {
            int found;
            s->slots[probe(s, old[i].id, &found)] = old[i];
        }
    free(old);
    return 0;
}

static int put(struct wn_store *s, uint64_t id, uint32_t stage_index, void *buf, size_t len,
               int in_arena)
{
    struct wn_payload *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    p->id = id;
    p->stage_index = stage_index;
    p->buf = buf;
    p->len = len;
    p->refs = 1;
    p->in_arena = in_arena;
    pthread_mutex_lock(&s->lock);
    /* Load (with tombstones) at most 1/2: short probes. */
    if ((s->used + 1) * 2 > s->cap && rehash(s) < 0) {
        pthread_mutex_unlock(&s->lock);
        free(p);
        errno = ENOMEM;
        return -1;
    }
    int found;
    size_t i = probe(s, id, &found);
    if (found) {
        payload_unref(s, s->slots[i].p);
    } else {
        if (!s->slots[i].p)
            s->used++;
        s->live++;
    }
    s->slots[i] = (struct slot){id, p};
    s->bytes += len;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int wn_store_put(struct wn_store *s, uint64_t id, uint32_t stage_index, void *buf, size_t len)
{
    return put(s, id, stage_index, buf, len, 0);
}

int wn_store_put_arena(struct wn_store *s, uint64_t id, uint32_t stage_index, void *buf, size_t len)
{
    return put(s, id, stage_index, buf, len, 1);
}

struct wn_payload *wn_store_get(struct wn_store *s, uint64_t id)
{
    pthread_mutex_lock(&s->lock);
    int found;
    size_t i = probe(s, id, &found);
    struct wn_payload *p = found ? s->slots[i].p : NULL;
    if (p)
        p->refs++;
    pthread_mutex_unlock(&s->lock);
    return p;
}

void wn_store_release(struct wn_store *s, struct wn_payload *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&s->lock);
    payload_unref(s, p);
    pthread_mutex_unlock(&s->lock);
}

static void drop_slot(struct wn_store *s, size_t i)
{
    payload_unref(s, s->slots[i].p);
    s->slots[i].p = TOMB;
    s->live--;
}

void wn_store_drop(struct wn_store *s, uint64_t id)
{
    pthread_mutex_lock(&s->lock);
    int found;
    size_t i = probe(s, id, &found);
    if (found)
        drop_slot(s, i);
    pthread_mutex_unlock(&s->lock);
}

void wn_store_drop_stage(struct wn_store *s, uint32_t stage_index)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->cap; i++)
        if (live_slot(&s->slots[i]) && s->slots[i].p->stage_index == stage_index)
            drop_slot(s, i);
    pthread_mutex_unlock(&s->lock);
}

void wn_store_usage(struct wn_store *s, uint64_t *count, uint64_t *bytes)
{
    pthread_mutex_lock(&s->lock);
    if (count)
        *count = s->live;
    if (bytes)
        *bytes = s->bytes;
    pthread_mutex_unlock(&s->lock);
}
