/* ckpt.c - the checkpoint directory, manifest and journal records (see
 * ckpt.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "journal.h"
#include "part.h"

struct wn_ckpt {
    char *dir;
    struct wn_journal *journal;
    struct wn_ckpt_stage *stages;
    uint32_t nstages;
    const struct wn_pipeline_config *cfg;
};

int wn_mkdir_p(const char *path, wn_error_t *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return wn_errprintf(err, "%s: path too long", path);
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return wn_errprintf(err, "%s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return wn_errprintf(err, "%s: %s", buf, strerror(errno));
    return 0;
}

static int stage_dir(char *buf, size_t len, const char *dir, uint32_t s, const char *name)
{
    return snprintf(buf, len, "%s/stages/%02u-%s", dir, s, name) >= (int)len ? -1 : 0;
}

int wn_ckpt_part_path(char *buf, size_t len, const char *dir, uint32_t stage,
                      const char *stage_name, uint64_t batch)
{
    return snprintf(buf, len, "%s/stages/%02u-%s/part-%08llu.h5", dir, stage, stage_name,
                    (unsigned long long)batch) >= (int)len ? -1 : 0;
}

/* A part file being written when a run was killed stays under its
 * temporary name (NAME.tmp.PID): never read, removed here. */
static void remove_partial(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".h5.tmp."))
            continue;
        char p[4096];
        if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) < (int)sizeof(p))
            unlink(p);
    }
    closedir(d);
}

/* ----------------------------------------------------- earlier state -- */

struct scan {
    struct wn_ckpt *ck;
    uint64_t hash;
    int seen_run, mismatch;
    char other[17];
};

static struct wn_ckpt_stage *stage_of(struct wn_ckpt *ck, const json_t *rec)
{
    json_int_t s = json_integer_value(json_object_get(rec, "stage"));
    return s >= 0 && (uint64_t)s < ck->nstages ? &ck->stages[s] : NULL;
}

static int scan_record(const json_t *rec, void *arg)
{
    struct scan *sc = arg;
    const char *ev = json_string_value(json_object_get(rec, "ev"));
    if (!ev)
        return 0;
    if (!strcmp(ev, "run")) {
        const char *h = json_string_value(json_object_get(rec, "hash"));
        char want[17];
        snprintf(want, sizeof(want), "%016llx", (unsigned long long)sc->hash);
        if (!sc->seen_run && (!h || strcmp(h, want))) {
            sc->mismatch = 1;
            snprintf(sc->other, sizeof(sc->other), "%s", h ? h : "?");
        }
        sc->seen_run = 1;
        return 0;
    }
    struct wn_ckpt_stage *st = stage_of(sc->ck, rec);
    if (!st)
        return 0;
    if (!strcmp(ev, "stage")) {
        uint64_t nb = (uint64_t)json_integer_value(json_object_get(rec, "batches"));
        /* A stage begun again (a resumed run) keeps what its earlier
         * attempts finished: the same inputs make the same batches. */
        st->begun = 1;
        st->nbatches = nb;
        st->ntasks = (uint64_t)json_integer_value(json_object_get(rec, "tasks"));
    } else if (!strcmp(ev, "batch")) {
        const char *sum = json_string_value(json_object_get(rec, "sum"));
        uint64_t b = (uint64_t)json_integer_value(json_object_get(rec, "batch"));
        if (!sum)
            return 0;
        for (size_t i = 0; i < st->ndone; i++)
            if (st->done[i].batch == b)
                return 0;
        if (st->ndone == st->cap) {
            size_t nc = st->cap ? st->cap * 2 : 64;
            struct wn_ckpt_batch *d = realloc(st->done, nc * sizeof(*d));
            if (!d)
                return -1;
            st->done = d;
            st->cap = nc;
        }
        st->done[st->ndone++] = (struct wn_ckpt_batch){b, strtoull(sum, NULL, 16)};
    } else if (!strcmp(ev, "stage_end")) {
        st->ended = 1;
    } else if (!strcmp(ev, "bad")) {
        wn_ckpt_forget(sc->ck, (uint32_t)(st - sc->ck->stages),
                       (uint64_t)json_integer_value(json_object_get(rec, "batch")));
    }
    return 0;
}

/* --------------------------------------------------------------- open -- */

static int append(struct wn_ckpt *ck, json_t *rec, wn_error_t *err)
{
    if (!rec)
        return wn_errprintf(err, "out of memory");
    int rc = wn_journal_append(ck->journal, rec, err);
    json_decref(rec);
    return rc;
}

struct wn_ckpt *wn_ckpt_open(const char *dir, const struct wn_pipeline_config *cfg,
                             int nranks, int force, int *resumed, wn_error_t *err)
{
    struct wn_ckpt *ck = calloc(1, sizeof(*ck));
    if (!ck || !(ck->dir = strdup(dir)) ||
        !(ck->stages = calloc(cfg->nstages ? cfg->nstages : 1, sizeof(*ck->stages)))) {
        wn_ckpt_close(ck);
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    ck->nstages = (uint32_t)cfg->nstages;
    ck->cfg = cfg;
    char path[4096];
    if (wn_mkdir_p(dir, err) < 0)
        goto fail;
    for (uint32_t s = 0; s < ck->nstages; s++) {
        if (stage_dir(path, sizeof(path), dir, s, cfg->stages[s].name) < 0 ||
            wn_mkdir_p(path, err) < 0)
            goto fail;
        remove_partial(path);
    }
    snprintf(path, sizeof(path), "%s/journal", dir);
    struct scan sc = {ck, wn_config_hash(cfg), 0, 0, ""};
    if (wn_journal_read(path, scan_record, &sc, NULL, NULL, err) < 0)
        goto fail;
    if (sc.mismatch && !force) {
        errno = EEXIST;
        wn_errprintf(err, "checkpoint %s belongs to another pipeline (hash %s, this one "
                     "%016llx): use another --checkpoint directory, or --force to resume "
                     "from it anyway", dir, sc.other, (unsigned long long)sc.hash);
        goto fail;
    }
    *resumed = sc.seen_run;
    uint64_t kept = 0;
    if (!(ck->journal = wn_journal_open(path, &kept, err)))
        goto fail;

    /* The manifest: what this checkpoint is for. */
    char *text = NULL;
    size_t tlen = 0;
    FILE *m = open_memstream(&text, &tlen);
    if (m) {
        wn_config_render(cfg, m);
        fclose(m);
    }
    const char **names = calloc(ck->nstages ? ck->nstages : 1, sizeof(*names));
    for (uint32_t s = 0; names && s < ck->nstages; s++)
        names[s] = cfg->stages[s].name;
    snprintf(path, sizeof(path), "%s/manifest.h5", dir);
    int rc = names && text ? wn_manifest_write(path, cfg->name, text, sc.hash, names,
                                               ck->nstages, err)
                           : wn_errprintf(err, "out of memory");
    free(names);
    free(text);
    if (rc < 0)
        goto fail;

    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)sc.hash);
    json_t *st = json_array();
    for (uint32_t s = 0; st && s < ck->nstages; s++)
        json_array_append_new(st, json_string(cfg->stages[s].name));
    if (append(ck, json_pack("{s:s, s:s, s:s, s:i, s:o}", "ev", "run", "pipeline", cfg->name,
                             "hash", hex, "ranks", nranks, "stages", st), err) < 0 ||
        wn_ckpt_sync(ck, err) < 0)
        goto fail;
    return ck;
fail:
    wn_ckpt_close(ck);
    return NULL;
}

void wn_ckpt_close(struct wn_ckpt *ck)
{
    if (!ck)
        return;
    wn_journal_close(ck->journal);
    for (uint32_t s = 0; ck->stages && s < ck->nstages; s++)
        free(ck->stages[s].done);
    free(ck->stages);
    free(ck->dir);
    free(ck);
}

const struct wn_ckpt_stage *wn_ckpt_stage(const struct wn_ckpt *ck, uint32_t s)
{
    return ck && s < ck->nstages ? &ck->stages[s] : NULL;
}

void wn_ckpt_forget(struct wn_ckpt *ck, uint32_t s, uint64_t b)
{
    if (!ck || s >= ck->nstages)
        return;
    struct wn_ckpt_stage *st = &ck->stages[s];
    for (size_t i = 0; i < st->ndone; i++)
        if (st->done[i].batch == b) {
            st->done[i] = st->done[--st->ndone];
            break;
        }
    st->ended = 0;
}

/* ------------------------------------------------------------ records -- */

int wn_ckpt_stage_begin(struct wn_ckpt *ck, uint32_t s, uint64_t nbatches, uint64_t ntasks,
                        wn_error_t *err)
{
    return append(ck, json_pack("{s:s, s:i, s:s, s:I, s:I}", "ev", "stage", "stage", (int)s,
                                "name", ck->cfg->stages[s].name, "batches",
                                (json_int_t)nbatches, "tasks", (json_int_t)ntasks), err);
}

int wn_ckpt_batch_done(struct wn_ckpt *ck, uint32_t s, uint64_t batch, uint64_t sum,
                       uint64_t noutputs, wn_error_t *err)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)sum);
    return append(ck, json_pack("{s:s, s:i, s:I, s:s, s:I}", "ev", "batch", "stage", (int)s,
                                "batch", (json_int_t)batch, "sum", hex, "outputs",
                                (json_int_t)noutputs), err);
}

int wn_ckpt_stage_end(struct wn_ckpt *ck, uint32_t s, uint64_t noutputs, wn_error_t *err)
{
    int rc = append(ck, json_pack("{s:s, s:i, s:I}", "ev", "stage_end", "stage", (int)s,
                                  "outputs", (json_int_t)noutputs), err);
    return rc < 0 ? rc : wn_ckpt_sync(ck, err);
}

int wn_ckpt_finish(struct wn_ckpt *ck, int status, wn_error_t *err)
{
    int rc = append(ck, json_pack("{s:s, s:i}", "ev", "finish", "status", status), err);
    return rc < 0 ? rc : wn_ckpt_sync(ck, err);
}

int wn_ckpt_bad(struct wn_ckpt *ck, uint32_t s, uint64_t b, wn_error_t *err)
{
    wn_ckpt_forget(ck, s, b);
    int rc = append(ck, json_pack("{s:s, s:i, s:I}", "ev", "bad", "stage", (int)s, "batch",
                                  (json_int_t)b), err);
    return rc < 0 ? rc : wn_ckpt_sync(ck, err);
}

int wn_ckpt_sync(struct wn_ckpt *ck, wn_error_t *err)
{
    return wn_journal_sync(ck->journal, err);
}
