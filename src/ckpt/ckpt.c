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

#include "ckpt/ckpt.h"
#include "util/fsio.h"
#include "stage/inputs.h"
#include "ckpt/journal.h"
#include "ckpt/lock.h"
#include "util/log.h"
#include "ckpt/part.h"

struct wn_ckpt {
    char *dir;
    struct wn_lock *lock;
    struct wn_journal *journal;
    struct wn_ckpt_stage *stages;
    uint32_t nstages;
    const struct wn_pipeline_config *cfg;
};

static int stage_dir(char *buf, size_t len, const char *dir, uint32_t s, const char *name)
{
    return snprintf(buf, len, "%s/stages/%02u-%s", dir, s, name) >= (int)len ? -1 : 0;
}

int wn_ckpt_part_path(char *buf, size_t len, const char *dir, uint32_t stage,
                      const char *stage_name, uint64_t batch)
{
    return snprintf(buf, len, "%s/stages/%02u-%s/part-%08llu.h5", dir, stage, stage_name,
                    (unsigned long long)batch) >= (int)len
               ? -1
               : 0;
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

/* --------------------------------------------------- what it holds -- */

/* Only what winnow makes may be in a checkpoint folder: anything else
 * means --checkpoint names a folder of something else, which must not be
 * written to (a file of its own named journal would be cut). */

/* NAME.tmp.PID */
static int is_tmp_of(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) || strncmp(name + n, ".tmp.", 5) || !name[n + 5])
        return 0;
    return strspn(name + n + 5, "0123456789") == strlen(name + n + 5);
}

/* An NFS client's name for a file removed while open (".nfsXXXX"). */
static int is_nfs_silly(const char *name)
{
    return !strncmp(name, ".nfs", 4);
}

static int is_dir(const char *dir, const char *name)
{
    char p[4400];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int skip_dots(const struct dirent *e)
{
    return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

/* Calls ok(dir, name) for each entry of dir in name order; the first one
 * it refuses is copied to bad.  -1 when dir cannot be listed. */
static int first_foreign(const char *dir, int (*ok)(const char *dir, const char *name), char *bad,
                         size_t len)
{
    struct dirent **v = NULL;
    int n = scandir(dir, &v, skip_dots, alphasort);
    if (n < 0)
        return -1;
    bad[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!bad[0] && !ok(dir, v[i]->d_name))
            snprintf(bad, len, "%s", v[i]->d_name);
        free(v[i]);
    }
    free(v);
    return 0;
}

/* stages/NN-NAME/: part-BBBBBBBB.h5 and their temporaries. */
static int part_name_ok(const char *dir, const char *name)
{
    (void)dir;
    if (is_nfs_silly(name))
        return 1;
    if (strncmp(name, "part-", 5) || strspn(name + 5, "0123456789") != 8 ||
        strncmp(name + 13, ".h5", 3))
        return 0;
    char base[32];
    snprintf(base, sizeof(base), "%.16s", name);
    return !name[16] || is_tmp_of(name, base);
}

/* stages/: NN-NAME folders. */
static int stage_name_ok(const char *dir, const char *name)
{
    size_t d = strspn(name, "0123456789");
    return (d >= 2 && name[d] == '-' && name[d + 1] && is_dir(dir, name)) || is_nfs_silly(name);
}

static int top_name_ok(const char *dir, const char *name)
{
    static const char *const mine[] = {"manifest.h5", "journal", "HALT", "lock", "inputs"};
    if (!strcmp(name, "stages"))
        return is_dir(dir, name);
    for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
        if (!strcmp(name, mine[i]))
            return !is_dir(dir, name);
    return is_tmp_of(name, "manifest.h5") || is_tmp_of(name, "HALT") || is_tmp_of(name, "inputs") ||
           is_nfs_silly(name);
}

/* The first bytes of path into buf: how many, or -1 (errno ENOENT: none). */
static ssize_t head_of(const char *path, void *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, len, f);
    fclose(f);
    return (ssize_t)n;
}

/* The first foreign entry under DIR/stages into bad ("" none). */
static int check_stages(const char *dir, char *bad, size_t len, wn_error_t *err)
{
    char sub[4400], name[512];
    snprintf(sub, sizeof(sub), "%s/stages", dir);
    bad[0] = '\0';
    if (first_foreign(sub, stage_name_ok, name, sizeof(name)) < 0)
        return wn_errprintf(err, "checkpoint %s: cannot list %s: %s", dir, sub, strerror(errno));
    if (name[0]) {
        snprintf(bad, len, "stages/%s", name);
        return 0;
    }
    struct dirent **v = NULL;
    int n = scandir(sub, &v, skip_dots, alphasort);
    for (int i = 0; i < n; i++) {
        char st[4700];
        snprintf(st, sizeof(st), "%s/%s", sub, v[i]->d_name);
        if (!bad[0] && !is_nfs_silly(v[i]->d_name) &&
            first_foreign(st, part_name_ok, name, sizeof(name)) == 0 && name[0])
            snprintf(bad, len, "stages/%s/%s", v[i]->d_name, name);
        free(v[i]);
    }
    free(v);
    return 0;
}

/* An existing folder that holds anything winnow did not make is refused
 * before anything in it is written (errno EEXIST), naming the first
 * foreign entry.  An empty folder is a new checkpoint. */
static int check_folder(const char *dir, wn_error_t *err)
{
    char bad[1200], name[512];
    if (first_foreign(dir, top_name_ok, name, sizeof(name)) < 0)
        return wn_errprintf(err, "checkpoint %s: cannot list it: %s", dir, strerror(errno));
    snprintf(bad, sizeof(bad), "%s", name);
    if (!bad[0] && is_dir(dir, "stages") && check_stages(dir, bad, sizeof(bad), err) < 0)
        return -1;
    errno = EEXIST;
    if (bad[0])
        return wn_errprintf(err,
                            "checkpoint %s holds '%s', which winnow did not make: it is "
                            "not a winnow checkpoint, and nothing in it is touched (use a new "
                            "or empty folder for --checkpoint)",
                            dir, bad);
    /* Files winnow names alike must be winnow's. */
    unsigned char head[8];
    char path[4200];
    snprintf(path, sizeof(path), "%s/journal", dir);
    ssize_t n = head_of(path, head, 4);
    errno = EEXIST;
    if (n > 0 && memcmp(head, "WNJ1", (size_t)n) != 0)
        return wn_errprintf(err,
                            "checkpoint %s: its file 'journal' is not a winnow journal "
                            "(it does not start with a WNJ1 record): it is not a winnow "
                            "checkpoint, and nothing in it is touched (use a new or empty "
                            "folder for --checkpoint)",
                            dir);
    snprintf(path, sizeof(path), "%s/manifest.h5", dir);
    n = head_of(path, head, 8);
    errno = EEXIST;
    if (n > 0 && (n < 8 || memcmp(head, "\x89WINNOW\n", 8) != 0)) {
        if (n == 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8))
            return wn_errprintf(err,
                                "checkpoint %s was made by an older winnow (its "
                                "manifest.h5 has no winnow header; part format 1): remove the "
                                "checkpoint to start again",
                                dir);
        return wn_errprintf(err,
                            "checkpoint %s: its file 'manifest.h5' is not a winnow "
                            "manifest: it is not a winnow checkpoint, and nothing in it is "
                            "touched (use a new or empty folder for --checkpoint)",
                            dir);
    }
    errno = 0;
    return 0;
}

/* ----------------------------------------------------- earlier state -- */

struct scan {
    struct wn_ckpt *ck;
    uint64_t hash;
    int seen_run, mismatch;
    char other[17];
    /* Batches recorded after a damaged record (not trusted), as
     * (stage << 48) | batch. */
    uint64_t *lost;
    size_t nlost, cap;
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
        const char *order = json_string_value(json_object_get(rec, "order"));
        st->batch_order = order && !strcmp(order, "batch");
        const char *lay = json_string_value(json_object_get(rec, "layout"));
        st->layout = lay ? strtoull(lay, NULL, 16) : 0;
    } else if (!strcmp(ev, "batch")) {
        const char *sum = json_string_value(json_object_get(rec, "sum"));
        uint64_t b = (uint64_t)json_integer_value(json_object_get(rec, "batch"));
        if (!sum)
            return 0;
        for (size_t i = 0; i < st->ndone; i++)
            if (st->done[i].batch == b)
                return 0;
        json_t *rj = json_object_get(rec, "rejects");
        char *rejects = json_is_object(rj) ? json_dumps(rj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (json_is_object(rj) && !rejects)
            return -1;
        if (st->ndone == st->cap) {
            size_t nc = st->cap ? st->cap * 2 : 64;
            struct wn_ckpt_batch *d = realloc(st->done, nc * sizeof(*d));
            if (!d) {
                free(rejects);
                return -1;
            }
            st->done = d;
            st->cap = nc;
        }
        st->done[st->ndone++] = (struct wn_ckpt_batch){b, strtoull(sum, NULL, 16), rejects};
    } else if (!strcmp(ev, "stage_end")) {
        st->ended = 1;
    } else if (!strcmp(ev, "bad")) {
        wn_ckpt_forget(sc->ck, (uint32_t)(st - sc->ck->stages),
                       (uint64_t)json_integer_value(json_object_get(rec, "batch")));
    }
    return 0;
}

/* A record after a damaged one: a batch it finished will run again. */
static int scan_ignored(const json_t *rec, void *arg)
{
    struct scan *sc = arg;
    const char *ev = json_string_value(json_object_get(rec, "ev"));
    json_int_t s = json_integer_value(json_object_get(rec, "stage"));
    json_int_t b = json_integer_value(json_object_get(rec, "batch"));
    if (!ev || strcmp(ev, "batch") || s < 0 || (uint64_t)s >= sc->ck->nstages || b < 0)
        return 0;
    if (sc->nlost == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 64;
        uint64_t *v = realloc(sc->lost, nc * sizeof(*v));
        if (!v)
            return 0; /* the count in the message is then low; nothing else */
        sc->lost = v;
        sc->cap = nc;
    }
    sc->lost[sc->nlost++] = ((uint64_t)s << 48) | (uint64_t)b;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* How many batches the ignored records had finished that the good ones
 * do not list: those run again. */
static uint64_t lost_batches(struct scan *sc)
{
    if (sc->nlost)
        qsort(sc->lost, sc->nlost, sizeof(*sc->lost), cmp_u64);
    uint64_t n = 0;
    for (size_t i = 0; i < sc->nlost; i++) {
        if (i && sc->lost[i] == sc->lost[i - 1])
            continue;
        const struct wn_ckpt_stage *st = &sc->ck->stages[sc->lost[i] >> 48];
        uint64_t b = sc->lost[i] & ((1ull << 48) - 1);
        int done = 0;
        for (size_t k = 0; k < st->ndone && !done; k++)
            done = st->done[k].batch == b;
        n += !done;
    }
    return n;
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

/* Collects wn_inputs_diff's lines into an error text. */
struct diff_text {
    char buf[WN_ERROR_TEXT];
    size_t len;
};

static void diff_line(const char *line, void *arg)
{
    struct diff_text *d = arg;
    if (d->len < sizeof(d->buf))
        d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "%s%s",
                                   d->len ? "; " : "", line);
}

/* A resume reads the files the checkpoint was made from, or none: ids
 * hold a file's position in the sorted list and a line's number, so
 * another file set would keep and drop the wrong documents.  --force
 * (another pipeline's checkpoint) does not reach this. */
static int check_inputs(const char *dir, const char *path, const struct wn_inputs *now,
                        wn_error_t *err)
{
    struct wn_inputs *was = wn_inputs_load(path, err);
    if (!was) {
        int missing = errno == ENOENT;
        errno = EEXIST;
        if (missing)
            return wn_errprintf(err,
                                "checkpoint %s has no record of the input files it was "
                                "made from (%s is missing), so a resume cannot be checked: "
                                "start over (remove %s, or use another --checkpoint)",
                                dir, path, dir);
        return wn_errprefix(err, "checkpoint %s: the record of its input files", dir);
    }
    struct diff_text d = {"", 0};
    size_t n = wn_inputs_diff(now, was, diff_line, &d, 6);
    wn_inputs_destroy(was);
    if (n == SIZE_MAX)
        return wn_errprintf(err, "out of memory");
    if (n == 0)
        return 0;
    errno = EEXIST;
    return wn_errprintf(err,
                        "checkpoint %s was made from other input files: resuming would "
                        "keep and drop the wrong documents (ids hold a file's place and a "
                        "line's number).  Put the input back, or start over (remove the "
                        "folder or use another --checkpoint); --force does not override "
                        "this.  %zu differ: %s",
                        dir, n, d.buf);
}

struct wn_ckpt *wn_ckpt_open(const char *dir, const struct wn_pipeline_config *cfg,
                             const struct wn_inputs *inputs, int nranks, int force, int *resumed,
                             wn_error_t *err)
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
    /* What the folder holds is checked before the lock file is made in
     * it (a folder of something else gets nothing written); everything
     * after happens under the lock. */
    if (check_folder(dir, err) < 0 || !(ck->lock = wn_lock_take(dir, "lock", "checkpoint", err)))
        goto fail;
    for (uint32_t s = 0; s < ck->nstages; s++) {
        if (stage_dir(path, sizeof(path), dir, s, cfg->stages[s].name) < 0 ||
            wn_mkdir_p(path, err) < 0)
            goto fail;
        remove_partial(path);
    }
    snprintf(path, sizeof(path), "%s/journal", dir);
    struct scan sc = {ck, wn_config_hash(cfg), 0, 0, "", NULL, 0, 0};
    struct wn_journal_tail tail;
    int rrc = wn_journal_read(path, scan_record, &sc, scan_ignored, &tail, err);
    uint64_t relost = lost_batches(&sc);
    free(sc.lost);
    if (rrc < 0)
        goto fail;
    /* Reopening cuts the journal after its good records: say what that
     * drops when it is more than a torn last record. */
    if (tail.ignored)
        wn_warn("checkpoint %s: record #%llu is damaged; the %llu records after #%llu are "
                "ignored (what follows a damaged record is not trusted), recomputing %llu "
                "batch%s",
                path, (unsigned long long)tail.good_records + 1,
                (unsigned long long)tail.ignored + 1, (unsigned long long)tail.good_records,
                (unsigned long long)relost, relost == 1 ? "" : "es");
    else if (tail.good_bytes < tail.size)
        wn_info("checkpoint %s: a torn last record (an interrupted write) is dropped", path);
    if (sc.mismatch && !force) {
        errno = EEXIST;
        wn_errprintf(err,
                     "checkpoint %s belongs to another pipeline (hash %s, this one "
                     "%016llx): use another --checkpoint directory, or --force to resume "
                     "from it anyway",
                     dir, sc.other, (unsigned long long)sc.hash);
        goto fail;
    }
    *resumed = sc.seen_run;
    /* The input listing: recorded before the first run record, so a
     * checkpoint with one has the other. */
    char ipath[4096];
    snprintf(ipath, sizeof(ipath), "%s/inputs", dir);
    if (sc.seen_run ? check_inputs(dir, ipath, inputs, err) < 0
                    : wn_inputs_save(inputs, ipath, err) < 0)
        goto fail;
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
    int rc = names && text
                 ? wn_manifest_write(path, cfg->name, text, sc.hash, names, ck->nstages, err)
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
    if (append(ck,
               json_pack("{s:s, s:s, s:s, s:i, s:o}", "ev", "run", "pipeline", cfg->name, "hash",
                         hex, "ranks", nranks, "stages", st),
               err) < 0 ||
        wn_ckpt_sync(ck, err) < 0)
        goto fail;
    return ck;
fail:;
    int e = errno;
    wn_ckpt_close(ck);
    errno = e;
    return NULL;
}

void wn_ckpt_close(struct wn_ckpt *ck)
{
    if (!ck)
        return;
    wn_journal_close(ck->journal);
    wn_lock_release(ck->lock);
    for (uint32_t s = 0; ck->stages && s < ck->nstages; s++) {
        for (size_t i = 0; i < ck->stages[s].ndone; i++)
            free(ck->stages[s].done[i].rejects);
        free(ck->stages[s].done);
    }
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
            free(st->done[i].rejects);
            st->done[i] = st->done[--st->ndone];
            break;
        }
    st->ended = 0;
}

/* ------------------------------------------------------------ records -- */

int wn_ckpt_stage_begin(struct wn_ckpt *ck, uint32_t s, uint64_t nbatches, uint64_t ntasks,
                        uint64_t layout, wn_error_t *err)
{
    /* "order": a stage's inputs are in batch order (its producer's
     * batches, each one's outputs in turn); earlier journals, without
     * it, cut batches from inputs in id order. */
    json_t *rec = json_pack("{s:s, s:i, s:s, s:I, s:I, s:s}", "ev", "stage", "stage", (int)s,
                            "name", ck->cfg->stages[s].name, "batches", (json_int_t)nbatches,
                            "tasks", (json_int_t)ntasks, "order", "batch");
    /* Only when set: journals of stages without one stay as they were. */
    if (rec && layout) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)layout);
        if (json_object_set_new(rec, "layout", json_string(hex)) < 0) {
            json_decref(rec);
            rec = NULL;
        }
    }
    return append(ck, rec, err);
}

int wn_ckpt_batch_done(struct wn_ckpt *ck, uint32_t s, uint64_t batch, uint64_t sum,
                       uint64_t noutputs, const char *rejects, wn_error_t *err)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)sum);
    json_t *rj = rejects ? json_loads(rejects, 0, NULL) : NULL;
    if (rejects && !json_is_object(rj)) {
        json_decref(rj);
        errno = EINVAL;
        return wn_errprintf(err,
                            "stage %u batch %llu: a rejects summary that is not a JSON "
                            "object",
                            s, (unsigned long long)batch);
    }
    return append(ck,
                  json_pack("{s:s, s:i, s:I, s:s, s:I, s:o*}", "ev", "batch", "stage", (int)s,
                            "batch", (json_int_t)batch, "sum", hex, "outputs", (json_int_t)noutputs,
                            "rejects", rj),
                  err);
}

int wn_ckpt_stage_end(struct wn_ckpt *ck, uint32_t s, uint64_t noutputs, wn_error_t *err)
{
    int rc = append(ck,
                    json_pack("{s:s, s:i, s:I}", "ev", "stage_end", "stage", (int)s, "outputs",
                              (json_int_t)noutputs),
                    err);
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
    int rc = append(
        ck, json_pack("{s:s, s:i, s:I}", "ev", "bad", "stage", (int)s, "batch", (json_int_t)b),
        err);
    return rc < 0 ? rc : wn_ckpt_sync(ck, err);
}

int wn_ckpt_sync(struct wn_ckpt *ck, wn_error_t *err)
{
    return wn_journal_sync(ck->journal, err);
}
