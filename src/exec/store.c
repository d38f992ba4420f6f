/* store.c - see store.h.  An open-addressing hash table keyed by task id
 * (ids are already hashes, so the low bits index directly). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exec/spill.h"
#include "exec/store.h"
#include "util/log.h"

/* A slot keeps the id beside the pointer: a probe compares ids without
 * touching the payload (one cache line per step, not two). */
struct slot {
    uint64_t id;
    struct wn_payload *p; /* NULL empty, TOMB deleted */
};

/* A stage's spill file: records are appended at end; the file goes when
 * no payload (or reservation) in it is left. */
struct spill_file {
    struct wn_spill *f;
    uint64_t end;  /* bytes reserved */
    uint64_t live; /* payloads in it, and writes under way */
};

struct wn_store {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t cap, used, live; /* used = live + tombstones */
    uint64_t bytes;         /* every payload's length, spilled or not */
    uint64_t heap;          /* heap payload bytes in memory */
    /* Spilling (wn_store_set_spill). */
    char *spill_dir; /* NULL: off */
    int rank;
    uint64_t budget;
    struct spill_file *files; /* by stage index */
    uint32_t nfiles;
    uint64_t spilled, read_back, on_disk;
    int warned;
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

static void spill_file_unref(struct wn_store *s, uint32_t stage)
{
    struct spill_file *sf = &s->files[stage];
    if (--sf->live == 0) {
        s->on_disk -= sf->end;
        wn_spill_close(sf->f);
        *sf = (struct spill_file){NULL, 0, 0};
    }
}

/* Frees a copy read back from a spill file (the file keeps the bytes). */
static void unload(struct wn_store *s, struct wn_payload *p)
{
    free(p->buf);
    p->buf = NULL;
    s->heap -= p->len;
}

static void payload_unref(struct wn_store *s, struct wn_payload *p)
{
    if (--p->refs == 0) {
        s->bytes -= p->len;
        if (p->buf && !p->in_arena)
            unload(s, p);
        if (p->spilled)
            spill_file_unref(s, p->stage_index);
        free(p);
    } else if (p->refs == 1 && p->spilled && p->buf && !p->dropped && s->heap > s->budget) {
        unload(s, p); /* only the table holds it again, and memory is short */
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
    for (uint32_t i = 0; i < s->nfiles; i++)
        wn_spill_close(s->files[i].f);
    pthread_mutex_destroy(&s->lock);
    free(s->files);
    free(s->spill_dir);
    free(s->slots);
    free(s);
}

void wn_store_set_spill(struct wn_store *s, const char *dir, int rank, uint64_t budget)
{
    pthread_mutex_lock(&s->lock);
    free(s->spill_dir);
    s->spill_dir = dir ? strdup(dir) : NULL;
    s->rank = rank;
    s->budget = budget;
    pthread_mutex_unlock(&s->lock);
}

void wn_store_spill_stats(struct wn_store *s, struct wn_store_spill_stats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = (struct wn_store_spill_stats){s->spilled, s->read_back, s->on_disk};
    pthread_mutex_unlock(&s->lock);
}

/* Under the lock: room for a LEN-byte record in STAGE's spill file (made
 * when needed), or -1 (spilling stays off after a warning). */
static int spill_reserve(struct wn_store *s, uint32_t stage, size_t len, uint64_t *off)
{
    if (stage >= s->nfiles) {
        uint32_t n = stage + 1;
        struct spill_file *nf = realloc(s->files, n * sizeof(*nf));
        if (!nf)
            return -1;
        memset(nf + s->nfiles, 0, (n - s->nfiles) * sizeof(*nf));
        s->files = nf;
        s->nfiles = n;
    }
    struct spill_file *sf = &s->files[stage];
    if (!sf->f) {
        wn_error_t err = {{0}};
        if (!(sf->f = wn_spill_open(s->spill_dir, s->rank, stage, &err))) {
            wn_warn("rank %d: cannot spill: %s; stage outputs stay in memory", s->rank, err.text);
            free(s->spill_dir);
            s->spill_dir = NULL;
            return -1;
        }
    }
    uint64_t rec = wn_spill_record_size(len);
    *off = sf->end;
    sf->end += rec;
    sf->live++;
    s->on_disk += rec;
    return 0;
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
    p->spilled = 0;
    p->dropped = 0;
    p->spill_off = 0;
    pthread_mutex_lock(&s->lock);
    /* Beyond the budget: to the spill file, written outside the lock (the
     * main loop serves pulls meanwhile). */
    if (!in_arena && s->spill_dir && len > 0 && s->heap + len > s->budget &&
        spill_reserve(s, stage_index, len, &p->spill_off) == 0) {
        struct wn_spill *f = s->files[stage_index].f;
        pthread_mutex_unlock(&s->lock);
        wn_error_t err = {{0}};
        int wrote = wn_spill_write(f, p->spill_off, id, buf, len, &err) == 0;
        pthread_mutex_lock(&s->lock);
        if (wrote) {
            free(buf);
            p->buf = NULL;
            p->spilled = 1;
            s->spilled += len;
        } else {
            if (!s->warned++)
                wn_warn("rank %d: %s; stage outputs stay in memory", s->rank, err.text);
            spill_file_unref(s, stage_index);
        }
    }
    if (!in_arena && !p->spilled)
        s->heap += len;
    /* Load (with tombstones) at most 1/2: short probes. */
    if ((s->used + 1) * 2 > s->cap && rehash(s) < 0) {
        if (p->spilled)
            spill_file_unref(s, stage_index);
        else if (!in_arena)
            s->heap -= len;
        pthread_mutex_unlock(&s->lock);
        free(p);
        errno = ENOMEM;
        return -1;
    }
    int found;
    size_t i = probe(s, id, &found);
    if (found) {
        s->slots[i].p->dropped = 1;
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

struct wn_payload *wn_store_get(struct wn_store *s, uint64_t id, wn_error_t *err)
{
    if (err)
        err->text[0] = '\0';
    pthread_mutex_lock(&s->lock);
    int found;
    size_t i = probe(s, id, &found);
    struct wn_payload *p = found ? s->slots[i].p : NULL;
    if (p && p->spilled && !p->buf) {
        /* Read back under the lock: the one reader that finds it out
         * reads it, the others share its copy. */
        p->buf = wn_spill_read(s->files[p->stage_index].f, p->spill_off, id, p->len, err);
        if (!p->buf) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        s->heap += p->len;
        s->read_back += p->len;
    }
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
    s->slots[i].p->dropped = 1;
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
