/* part.c - checkpoint part files (see part.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ckpt/h5img.h"
#include "ckpt/part.h"
#include "task/task_impl.h"

#define FORMAT "winnow-part"
#define CHUNK_ELEMS ((hsize_t)1 << 16)

/* HDF5 prints its error stack by default; winnow reports its own. */
static void quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static hid_t h5_type(enum wn_type t)
{
    switch (t) {
    case WN_TYPE_U8:
        return H5T_NATIVE_UINT8;
    case WN_TYPE_I32:
        return H5T_NATIVE_INT32;
    case WN_TYPE_U32:
    case WN_TYPE_LIST_U32:
        return H5T_NATIVE_UINT32;
    case WN_TYPE_I64:
        return H5T_NATIVE_INT64;
    case WN_TYPE_U64:
    case WN_TYPE_LIST_U64:
        return H5T_NATIVE_UINT64;
    case WN_TYPE_F64:
        return H5T_NATIVE_DOUBLE;
    case WN_TYPE_STR:
        return H5T_NATIVE_UINT8;
    }
    return -1;
}

static enum wn_type type_from_name(const char *s)
{
    static const enum wn_type all[] = {WN_TYPE_U8,  WN_TYPE_I32,      WN_TYPE_U32,
                                       WN_TYPE_I64, WN_TYPE_U64,      WN_TYPE_F64,
                                       WN_TYPE_STR, WN_TYPE_LIST_U32, WN_TYPE_LIST_U64};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!strcmp(s, wn_type_name(all[i])))
            return all[i];
    return (enum wn_type)0;
}

/* ------------------------------------------------------- attributes -- */

/* Every helper closes what it opened, on every path. */
static int attr_write(hid_t obj, const char *name, hid_t type, const void *v)
{
    if (type < 0)
        return -1;
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0)
        return -1;
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, type, v) >= 0 ? 0 : -1;
    if (a >= 0 && H5Aclose(a) < 0)
        rc = -1;
    H5Sclose(sp);
    return rc;
}

static int attr_u64(hid_t obj, const char *name, uint64_t v)
{
    return attr_write(obj, name, H5T_NATIVE_UINT64, &v);
}

static int attr_str(hid_t obj, const char *name, const char *s)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    int rc =
        H5Tset_size(t, strlen(s) ? strlen(s) : 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0
            ? attr_write(obj, name, t, s)
            : -1;
    H5Tclose(t);
    return rc;
}

static int attr_get_u64(hid_t obj, const char *name, uint64_t *v)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = H5Aread(a, H5T_NATIVE_UINT64, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}

/* A string attribute (fixed length, as attr_str writes) into a malloc'd
 * NUL-terminated buffer. */
static char *attr_get_str_a(hid_t a)
{
    hid_t t = H5Aget_type(a);
    char *s = NULL;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        size_t n = H5Tget_size(t);
        if ((s = calloc(1, n + 1)) && H5Aread(a, t, s) < 0) {
            free(s);
            s = NULL;
        }
    }
    if (t >= 0)
        H5Tclose(t);
    return s;
}

static char *attr_get_str(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    char *s = attr_get_str_a(a);
    H5Aclose(a);
    return s;
}

/* --------------------------------------------------------- datasets -- */

/* A 1-D (cols == 0) or 2-D [rows, cols] dataset of buf, chunked when not
 * empty. */
static int write_dataset(hid_t loc, const char *name, hid_t type, const void *buf, hsize_t rows,
                         hsize_t cols, int deflate)
{
    int rank = cols ? 2 : 1;
    hsize_t dims[2] = {rows, cols};
    if (type < 0)
        return -1;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = sp >= 0 ? H5Pcreate(H5P_DATASET_CREATE) : -1;
    int rc = dcpl >= 0 ? 0 : -1;
    /* Chunked when it spans more than one chunk or is compressed; a small
     * column is one contiguous block (less metadata to write). */
    if (rc == 0 && rows > 0 && (rows * (cols ? cols : 1) > CHUNK_ELEMS || deflate > 0)) {
        hsize_t per_row = cols ? cols : 1;
        hsize_t crow = CHUNK_ELEMS / per_row ? CHUNK_ELEMS / per_row : 1;
        hsize_t chunk[2] = {rows < crow ? rows : crow, cols};
        if (H5Pset_chunk(dcpl, rank, chunk) < 0 ||
            (deflate > 0 && H5Pset_deflate(dcpl, (unsigned)deflate) < 0))
            rc = -1;
    }
    hid_t d = rc == 0 ? H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
    if (d < 0 || (rows > 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0))
        rc = -1;
    if (d >= 0 && H5Dclose(d) < 0)
        rc = -1;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

/* Reads a whole dataset of `elems` elements into a malloc'd buffer (64
 * bytes for an empty one); checks its element count. */
static void *read_dataset(hid_t loc, const char *name, hid_t type, hsize_t elems, size_t width)
{
    if (type < 0)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t sp = H5Dget_space(d);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    void *buf = NULL;
    if (n >= 0 && (hsize_t)n == elems && (buf = malloc(elems ? (size_t)elems * width : 64)) &&
        elems && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

/* ------------------------------------------------------------ write -- */

/* The perf records' compound type, or -1 (then nothing is left open). */
static hid_t perf_type(void)
{
    hid_t name = H5Tcopy(H5T_C_S1);
    if (name < 0)
        return -1;
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(struct wn_stage_perf));
    int ok =
        t >= 0 && H5Tset_size(name, 64) >= 0 && H5Tset_strpad(name, H5T_STR_NULLTERM) >= 0 &&
        H5Tinsert(t, "stage", HOFFSET(struct wn_stage_perf, stage), name) >= 0 &&
        H5Tinsert(t, "process_s", HOFFSET(struct wn_stage_perf, process_s), H5T_NATIVE_DOUBLE) >=
            0 &&
        H5Tinsert(t, "idle_s", HOFFSET(struct wn_stage_perf, idle_s), H5T_NATIVE_DOUBLE) >= 0 &&
        H5Tinsert(t, "items_in", HOFFSET(struct wn_stage_perf, items_in), H5T_NATIVE_UINT64) >= 0 &&
        H5Tinsert(t, "items_out", HOFFSET(struct wn_stage_perf, items_out), H5T_NATIVE_UINT64) >=
            0 &&
        H5Tinsert(t, "bytes_in", HOFFSET(struct wn_stage_perf, bytes_in), H5T_NATIVE_UINT64) >= 0 &&
        H5Tinsert(t, "bytes_out", HOFFSET(struct wn_stage_perf, bytes_out), H5T_NATIVE_UINT64) >= 0;
    H5Tclose(name);
    if (!ok && t >= 0) {
        H5Tclose(t);
        t = -1;
    }
    return t;
}

static int write_column(hid_t cols, const struct wn_column *c, uint32_t index, int deflate)
{
    int rc;
    hid_t obj;
    if (c->type == WN_TYPE_STR) {
        obj = H5Gcreate2(cols, c->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (obj < 0)
            return -1;
        rc = write_dataset(obj, "offsets", H5T_NATIVE_UINT64, c->offsets, c->nrows + 1, 0, deflate);
        if (rc == 0)
            rc = write_dataset(obj, "bytes", H5T_NATIVE_UINT8, c->data, c->nbytes, 0, deflate);
    } else {
        int list = c->type == WN_TYPE_LIST_U32 || c->type == WN_TYPE_LIST_U64;
        rc = write_dataset(cols, c->name, h5_type(c->type), c->data, c->nrows,
                           list ? c->list_len : 0, deflate);
        obj = rc == 0 ? H5Dopen2(cols, c->name, H5P_DEFAULT) : -1;
        if (obj < 0)
            return -1;
    }
    if (rc == 0)
        rc = attr_str(obj, "type", wn_type_name(c->type));
    if (rc == 0)
        rc = attr_u64(obj, "index", index);
    if (c->type == WN_TYPE_STR)
        H5Gclose(obj);
    else
        H5Dclose(obj);
    return rc;
}

static int write_task(hid_t file, size_t i, const struct wn_task *t, int deflate)
{
    char gname[32];
    snprintf(gname, sizeof(gname), "task_%06zu", i);
    hid_t g = H5Gcreate2(file, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    int rc = attr_u64(g, "id", t->id);
    uint64_t si = t->stage_index, has = t->batch != NULL;
    rc = rc ? rc : attr_u64(g, "stage_index", si);
    rc = rc ? rc : attr_u64(g, "nrows", wn_batch_nrows(t->batch));
    rc = rc ? rc : attr_u64(g, "has_batch", has);

    /* Metadata in its order: attribute creation order is tracked. */
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    hid_t meta =
        rc || gcpl < 0 ||
                H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0
            ? -1
            : H5Gcreate2(g, "meta", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (gcpl >= 0)
        H5Pclose(gcpl);
    if (meta < 0)
        rc = -1;
    for (uint32_t k = 0; rc == 0 && k < t->nmeta; k++)
        rc = attr_str(meta, t->meta[k].key, t->meta[k].value);
    if (meta >= 0)
        H5Gclose(meta);

    if (rc == 0) {
        hid_t pt = perf_type();
        rc = write_dataset(g, "perf", pt, t->perf, t->nperf, 0, 0);
        if (pt >= 0)
            H5Tclose(pt);
    }
    hid_t cols = rc ? -1 : H5Gcreate2(g, "columns", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (cols < 0)
        rc = -1;
    for (uint32_t c = 0; rc == 0 && c < wn_batch_ncols(t->batch); c++)
        rc = write_column(cols, t->batch->cols[c], c, deflate);
    if (cols >= 0)
        H5Gclose(cols);
    H5Gclose(g);
    return rc;
}

/* XXH3-64 over the tasks' wire-format buffers. */
static int tasks_checksum(struct wn_task *const *tasks, size_t n, uint64_t *sum, wn_error_t *err)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return wn_errprintf(err, "out of memory");
    XXH3_64bits_reset(st);
    for (size_t i = 0; i < n; i++) {
        void *buf;
        size_t len;
        if (wn_task_pack_alloc(tasks[i], &buf, &len, err) < 0) {
            XXH3_freeState(st);
            return wn_errprefix(err, "task %zu", i);
        }
        XXH3_64bits_update(st, buf, len);
        free(buf);
    }
    *sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return 0;
}

/* What the tasks hold, plus room for HDF5's metadata: the in-memory
 * file's growth step, so that most files are one allocation. */
static size_t size_hint(struct wn_task *const *tasks, size_t n)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += wn_task_nbytes(tasks[i]) + 4096 + 1024 * (uint64_t)wn_batch_ncols(tasks[i]->batch);
    return (size_t)bytes;
}

/* The part file in memory (under the HDF5 lock); wn_part_write writes it
 * out. */
static int part_build(const char *path, const struct wn_part_info *info,
                      struct wn_task *const *tasks, size_t n, int deflate, const uint64_t *known,
                      struct wn_h5img *img, wn_error_t *err)
{
    quiet();
    uint64_t sum;
    if (known)
        sum = *known;
    else if (tasks_checksum(tasks, n, &sum, err) < 0)
        return wn_errprefix(err, "%s", path);
    hid_t f = wn_h5img_create(path, size_hint(tasks, n), err);
    if (f < 0)
        return -1;
    int rc = attr_str(f, "format", FORMAT);
    rc = rc ? rc : attr_u64(f, "version", WN_PART_VERSION);
    rc = rc ? rc : attr_str(f, "stage", info->stage[0] ? info->stage : "?");
    rc = rc ? rc : attr_u64(f, "stage_index", info->stage_index);
    rc = rc ? rc : attr_u64(f, "batch", info->batch);
    rc = rc ? rc : attr_u64(f, "ntasks", n);
    rc = rc ? rc : attr_u64(f, "checksum", sum);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = write_task(f, i, tasks[i], deflate);
    if (rc < 0) {
        H5Fclose(f); /* in memory: nothing reached the disk */
        errno = ENOMEM;
        return wn_errprintf(err,
                            "%s: building the HDF5 file in memory failed (out of "
                            "memory?)",
                            path);
    }
    return wn_h5img_take(f, path, WN_H5IMG_PART, WN_PART_VERSION, img, err);
}

static int manifest_build(const char *path, const char *pipeline, const char *text, uint64_t hash,
                          const char *const *stages, size_t nstages, struct wn_h5img *img,
                          wn_error_t *err)
{
    quiet();
    hid_t f = wn_h5img_create(path, strlen(text) + 4096, err);
    if (f < 0)
        return -1;
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)hash);
    int rc = attr_str(f, "format", "winnow-manifest");
    rc = rc ? rc : attr_u64(f, "version", WN_PART_VERSION);
    rc = rc ? rc : attr_str(f, "pipeline", pipeline);
    rc = rc ? rc : attr_str(f, "hash", hex);
    rc = rc ? rc : attr_str(f, "pipeline_text", text);
    rc = rc ? rc : attr_u64(f, "nstages", nstages);
    for (size_t i = 0; rc == 0 && i < nstages; i++) {
        char name[32];
        snprintf(name, sizeof(name), "stage_%02zu", i);
        rc = attr_str(f, name, stages[i]);
    }
    if (rc < 0) {
        H5Fclose(f);
        errno = ENOMEM;
        return wn_errprintf(err,
                            "%s: building the HDF5 file in memory failed (out of "
                            "memory?)",
                            path);
    }
    return wn_h5img_take(f, path, WN_H5IMG_MANIFEST, WN_PART_VERSION, img, err);
}

/* ------------------------------------------------------------- read -- */

struct col_ref {
    char name[WN_NAME_MAX + 1];
    uint64_t index;
};

struct col_list {
    struct col_ref *v;
    size_t n, cap;
};

static herr_t collect_col(hid_t g, const char *name, const H5L_info_t *li, void *arg)
{
    (void)li;
    struct col_list *l = arg;
    if (strlen(name) > WN_NAME_MAX)
        return -1;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0)
        return -1;
    uint64_t idx;
    int rc = attr_get_u64(o, "index", &idx);
    H5Oclose(o);
    if (rc < 0)
        return -1;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        struct col_ref *v = realloc(l->v, nc * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = nc;
    }
    snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
    l->v[l->n++].index = idx;
    return 0;
}

static int by_index(const void *a, const void *b)
{
    const struct col_ref *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int read_column(hid_t cols, const char *name, uint64_t nrows, struct wn_batch *b,
                       wn_error_t *err)
{
    hid_t o = H5Oopen(cols, name, H5P_DEFAULT);
    if (o < 0)
        return wn_errprintf(err, "column '%s' cannot be opened", name);
    char *tname = attr_get_str(o, "type");
    enum wn_type type = tname ? type_from_name(tname) : (enum wn_type)0;
    free(tname);
    int rc = -1;
    void *data = NULL, *offs = NULL;
    uint32_t list_len = 1;
    if (!type) {
        wn_errprintf(err, "column '%s' has no known type", name);
        goto out;
    }
    if (type == WN_TYPE_STR) {
        list_len = 0;
        offs = read_dataset(o, "offsets", H5T_NATIVE_UINT64, nrows + 1, 8);
        uint64_t nbytes = offs ? ((uint64_t *)offs)[nrows] : 0;
        if (offs)
            data = read_dataset(o, "bytes", H5T_NATIVE_UINT8, nbytes, 1);
        if (!offs || !data) {
            wn_errprintf(err, "column '%s': offsets or bytes missing or of the wrong size", name);
            goto out;
        }
    } else {
        hid_t sp = H5Dget_space(o);
        int rank = H5Sget_simple_extent_ndims(sp);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
        int list = type == WN_TYPE_LIST_U32 || type == WN_TYPE_LIST_U64;
        if (rank != (list ? 2 : 1) || dims[0] != nrows || (list && dims[1] == 0) ||
            (list && dims[1] > UINT32_MAX)) {
            wn_errprintf(err, "column '%s': shape does not match %llu rows of %s", name,
                         (unsigned long long)nrows, wn_type_name(type));
            goto out;
        }
        list_len = list ? (uint32_t)dims[1] : 1;
        hsize_t elems = nrows * list_len;
        data = read_dataset(cols, name, h5_type(type), elems, wn_type_width(type));
        if (!data) {
            wn_errprintf(err, "column '%s': cannot read %llu values", name,
                         (unsigned long long)elems);
            goto out;
        }
    }
    struct wn_column *c = wn_batch_add_column(b, name, type, list_len, err);
    if (!c)
        goto out;
    uint64_t nbytes =
        type == WN_TYPE_STR ? ((uint64_t *)offs)[nrows] : nrows * list_len * wn_type_width(type);
    rc = wn_col_fill_copy_(c, data, nbytes, offs, nrows, err);
out:
    free(data);
    free(offs);
    H5Oclose(o);
    return rc;
}

struct meta_ctx {
    struct wn_task *task;
    wn_error_t *err;
    int failed;
};

static herr_t read_meta(hid_t g, const char *name, const H5A_info_t *ai, void *arg)
{
    (void)ai;
    struct meta_ctx *m = arg;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    char *v = a >= 0 ? attr_get_str_a(a) : NULL;
    if (a >= 0)
        H5Aclose(a);
    int rc = v ? wn_task_meta_set(m->task, name, v, m->err) : -1;
    free(v);
    if (rc < 0) {
        m->failed = 1;
        return -1;
    }
    return 0;
}

static struct wn_task *read_task(hid_t f, size_t i, wn_error_t *err)
{
    char gname[32];
    snprintf(gname, sizeof(gname), "task_%06zu", i);
    hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
    if (g < 0) {
        wn_errprintf(err, "%s is missing", gname);
        return NULL;
    }
    uint64_t id, si, nrows, has;
    struct wn_task *t = NULL;
    hid_t meta = -1, cols = -1;
    struct col_list cl = {0};
    if (attr_get_u64(g, "id", &id) || attr_get_u64(g, "stage_index", &si) ||
        attr_get_u64(g, "nrows", &nrows) || attr_get_u64(g, "has_batch", &has) || si > UINT32_MAX) {
        wn_errprintf(err, "%s: id, stage_index, nrows or has_batch missing", gname);
        goto fail;
    }
    t = wn_task_create(id, (uint32_t)si, NULL);
    if (!t || (has && !(t->batch = wn_batch_create()))) {
        wn_errprintf(err, "out of memory");
        goto fail;
    }
    struct meta_ctx mc = {t, err, 0};
    meta = H5Gopen2(g, "meta", H5P_DEFAULT);
    hsize_t idx = 0;
    if (meta < 0 || H5Aiterate2(meta, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, read_meta, &mc) < 0) {
        if (!mc.failed)
            wn_errprintf(err, "%s: metadata cannot be read", gname);
        goto fail;
    }
    hid_t pd = H5Dopen2(g, "perf", H5P_DEFAULT);
    hssize_t np = -1;
    if (pd >= 0) {
        hid_t sp = H5Dget_space(pd);
        np = H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        H5Dclose(pd);
    }
    hid_t pt = perf_type();
    struct wn_stage_perf *perf =
        np >= 0 ? read_dataset(g, "perf", pt, (hsize_t)np, sizeof(*perf)) : NULL;
    H5Tclose(pt);
    if (!perf) {
        wn_errprintf(err, "%s: perf records cannot be read", gname);
        goto fail;
    }
    for (hssize_t k = 0; k < np; k++) {
        perf[k].stage[sizeof(perf[k].stage) - 1] = '\0';
        if (wn_task_perf_add(t, &perf[k], err) < 0) {
            free(perf);
            goto fail;
        }
    }
    free(perf);
    cols = H5Gopen2(g, "columns", H5P_DEFAULT);
    if (cols < 0 || H5Literate(cols, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_col, &cl) < 0) {
        wn_errprintf(err, "%s: columns cannot be listed", gname);
        goto fail;
    }
    if (cl.n && !has) {
        wn_errprintf(err, "%s: columns without a batch", gname);
        goto fail;
    }
    if (cl.n)
        qsort(cl.v, cl.n, sizeof(*cl.v), by_index);
    for (size_t c = 0; c < cl.n; c++) {
        if (cl.v[c].index != c) {
            wn_errprintf(err, "%s: column indexes are not 0..%zu", gname, cl.n - 1);
            goto fail;
        }
        if (read_column(cols, cl.v[c].name, nrows, t->batch, err) < 0) {
            wn_errprefix(err, "%s", gname);
            goto fail;
        }
    }
    free(cl.v);
    H5Gclose(cols);
    H5Gclose(meta);
    H5Gclose(g);
    return t;
fail:
    free(cl.v);
    if (cols >= 0)
        H5Gclose(cols);
    if (meta >= 0)
        H5Gclose(meta);
    H5Gclose(g);
    wn_task_destroy(t);
    return NULL;
}

static int read_header(hid_t f, struct wn_part_info *info, wn_error_t *err)
{
    char *fmt = attr_get_str(f, "format");
    int ok = fmt && !strcmp(fmt, FORMAT);
    free(fmt);
    if (!ok) {
        errno = EBADMSG;
        return wn_errprintf(err, "not a winnow part file (no format \"%s\")", FORMAT);
    }
    uint64_t version, si;
    if (attr_get_u64(f, "version", &version) || version != WN_PART_VERSION) {
        errno = EBADMSG;
        return wn_errprintf(err, "part format version %llu, this build reads %d",
                            (unsigned long long)version, WN_PART_VERSION);
    }
    char *stage = attr_get_str(f, "stage");
    memset(info, 0, sizeof(*info));
    snprintf(info->stage, sizeof(info->stage), "%s", stage ? stage : "");
    free(stage);
    if (attr_get_u64(f, "stage_index", &si) || attr_get_u64(f, "batch", &info->batch) ||
        attr_get_u64(f, "ntasks", &info->ntasks) || attr_get_u64(f, "checksum", &info->tasks_sum) ||
        si > UINT32_MAX) {
        errno = EBADMSG;
        return wn_errprintf(err, "header attributes missing");
    }
    info->stage_index = (uint32_t)si;
    return 0;
}

/* Parses a loaded, checked part file (under the HDF5 lock). */
static int part_parse(const char *path, struct wn_h5img *img, struct wn_task_list *out,
                      struct wn_part_info *info, wn_error_t *err)
{
    quiet();
    hid_t f = wn_h5img_open(img, err);
    if (f < 0)
        return wn_errprefix(err, "%s", path);
    struct wn_part_info hdr;
    struct wn_task_list got = WN_TASK_LIST_INIT;
    int rc = read_header(f, &hdr, err);
    for (uint64_t i = 0; rc == 0 && i < hdr.ntasks; i++) {
        struct wn_task *t = read_task(f, (size_t)i, err);
        if (!t || wn_task_list_push(&got, t) < 0) {
            if (t) {
                wn_task_destroy(t);
                wn_errprintf(err, "out of memory");
            }
            rc = -1;
        }
    }
    H5Fclose(f); /* H5F_CLOSE_STRONG: with anything a failed read left open */
    /* The tasks' checksum: a second check, of what was parsed. */
    uint64_t sum = 0;
    if (rc == 0 && tasks_checksum(got.tasks, got.n, &sum, err) < 0)
        rc = -1;
    if (rc == 0 && sum != hdr.tasks_sum) {
        errno = EBADMSG;
        wn_errprintf(err,
                     "tasks' checksum mismatch: the tasks hash to %016llx, the file "
                     "says %016llx",
                     (unsigned long long)sum, (unsigned long long)hdr.tasks_sum);
        rc = -1;
    }
    if (rc < 0) {
        wn_task_list_free(&got);
        return wn_errprefix(err, "%s", path);
    }
    hdr.sum = img->sum;
    if (info)
        *info = hdr;
    for (size_t i = 0; out && i < got.n; i++) {
        if (wn_task_list_push(out, got.tasks[i]) < 0) {
            for (size_t k = i; k < got.n; k++)
                wn_task_destroy(got.tasks[k]);
            got.n = 0;
            wn_task_list_free(&got);
            return wn_errprintf(err, "%s: out of memory", path);
        }
        got.tasks[i] = NULL;
    }
    if (out)
        got.n = 0;
    wn_task_list_free(&got);
    return 0;
}

/* HDF5 as Debian builds it is not thread-safe: one call at a time (an
 * actor's I/O thread writes while its compute thread may load).  Disk
 * reads and writes happen outside the lock. */
static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

void wn_part_quiesce(void)
{
    pthread_mutex_lock(&h5_lock);
}

int wn_part_write(const char *path, const struct wn_part_info *info, struct wn_task *const *tasks,
                  size_t n, int deflate, const uint64_t *known, uint64_t *sum, wn_error_t *err)
{
    if (deflate < 0 || deflate > 9) {
        errno = EINVAL;
        return wn_errprintf(err, "%s: deflate level %d: expected 0 (none) to 9", path, deflate);
    }
    struct wn_h5img img;
    pthread_mutex_lock(&h5_lock);
    int rc = part_build(path, info, tasks, n, deflate, known, &img, err);
    pthread_mutex_unlock(&h5_lock);
    if (rc < 0)
        return -1;
    rc = wn_h5img_write(&img, path, err);
    if (rc == 0 && sum)
        *sum = img.sum;
    wn_h5img_free(&img);
    return rc;
}

int wn_part_verify(const char *path, const uint64_t *expect, wn_error_t *err)
{
    struct wn_h5img img;
    if (wn_h5img_load(path, WN_H5IMG_PART, WN_PART_VERSION, expect, &img, err) < 0)
        return -1;
    wn_h5img_free(&img);
    return 0;
}

int wn_part_read(const char *path, const uint64_t *expect, struct wn_task_list *out,
                 struct wn_part_info *info, wn_error_t *err)
{
    struct wn_h5img img;
    if (wn_h5img_load(path, WN_H5IMG_PART, WN_PART_VERSION, expect, &img, err) < 0)
        return -1;
    pthread_mutex_lock(&h5_lock);
    int rc = part_parse(path, &img, out, info, err);
    pthread_mutex_unlock(&h5_lock);
    wn_h5img_free(&img);
    return rc;
}

int wn_manifest_write(const char *path, const char *pipeline, const char *text, uint64_t hash,
                      const char *const *stages, size_t nstages, wn_error_t *err)
{
    struct wn_h5img img;
    pthread_mutex_lock(&h5_lock);
    int rc = manifest_build(path, pipeline, text, hash, stages, nstages, &img, err);
    pthread_mutex_unlock(&h5_lock);
    if (rc < 0)
        return -1;
    rc = wn_h5img_write(&img, path, err);
    wn_h5img_free(&img);
    return rc;
}

int wn_part_describe(FILE *out, const char *path, wn_error_t *err)
{
    struct wn_task_list tasks = WN_TASK_LIST_INIT;
    struct wn_part_info info;
    if (wn_part_read(path, NULL, &tasks, &info, err) < 0)
        return -1;
    uint64_t rows = 0;
    for (size_t i = 0; i < tasks.n; i++)
        rows += wn_batch_nrows(tasks.tasks[i]->batch);
    fprintf(out,
            "%s: stage %u '%s', batch %llu, %llu tasks, %llu rows, checksum %016llx "
            "(verified)\n",
            path, info.stage_index, info.stage, (unsigned long long)info.batch,
            (unsigned long long)info.ntasks, (unsigned long long)rows,
            (unsigned long long)info.sum);
    for (size_t i = 0; i < tasks.n; i++) {
        const struct wn_task *t = tasks.tasks[i];
        fprintf(out, "task %zu: id %016llx, %llu rows, %u metadata, %u perf records\n", i,
                (unsigned long long)t->id, (unsigned long long)wn_batch_nrows(t->batch), t->nmeta,
                t->nperf);
        for (uint32_t c = 0; c < wn_batch_ncols(t->batch); c++) {
            const struct wn_column *col = t->batch->cols[c];
            fprintf(out, "  %-20s %-10s %10llu rows %12llu bytes\n", col->name,
                    wn_type_name(col->type), (unsigned long long)col->nrows,
                    (unsigned long long)col->nbytes);
        }
    }
    wn_task_list_free(&tasks);
    return 0;
}
