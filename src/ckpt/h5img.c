/* h5img.c - see h5img.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/byteorder.h"
#include "util/fsio.h"
#include "winnow/file.h"
#include "ckpt/h5img.h"

#define MAGIC "\x89WINNOW\n"
#define HDF5_SIGNATURE "\x89HDF\r\n\x1a\n"
#define SUM_FROM 16 /* the checksum covers everything after itself */

static const char *kind_name(uint32_t kind)
{
    return kind == WN_H5IMG_PART ? "part file" : kind == WN_H5IMG_MANIFEST ? "manifest" : "file";
}

/* A name no file has: HDF5's core driver probes the name it is given on
 * disk (and refuses an image whose name exists there), and takes two
 * files of one name for the same file. */
static void image_name(char *buf, size_t len)
{
    static unsigned long n;
    snprintf(buf, len, "/dev/null/winnow-image-%ld-%lu", (long)getpid(), ++n);
}

hid_t wn_h5img_create(const char *path, size_t size_hint, wn_error_t *err)
{
    /* One allocation for most files: the core driver grows its buffer
     * in steps of this size. */
    size_t step = ((size_hint + (64u << 10)) + ((64u << 10) - 1)) & ~(size_t)((64u << 10) - 1);
    char name[96];
    image_name(name, sizeof(name));
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, step, 0) >= 0 &&
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0)
        f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0) {
        errno = ENOMEM;
        wn_errprintf(err, "%s: cannot make the HDF5 file in memory (out of memory?)", path);
    }
    return f;
}

int wn_h5img_take(hid_t f, const char *path, enum wn_h5img_kind kind, uint32_t version,
                  struct wn_h5img *img, wn_error_t *err)
{
    memset(img, 0, sizeof(*img));
    ssize_t n = H5Fflush(f, H5F_SCOPE_LOCAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
    unsigned char *buf = n > 0 ? calloc(1, WN_H5IMG_HEADER + (size_t)n) : NULL;
    int ok = buf && H5Fget_file_image(f, buf + WN_H5IMG_HEADER, (size_t)n) == n;
    if (H5Fclose(f) < 0)
        ok = 0;
    if (!ok) {
        free(buf);
        errno = ENOMEM;
        return wn_errprintf(err, "%s: cannot take the HDF5 file's image (out of memory?)", path);
    }
    size_t len = WN_H5IMG_HEADER + (size_t)n;
    memcpy(buf, MAGIC, 8);
    wn_st32_(buf + 16, version);
    wn_st32_(buf + 20, (uint32_t)kind);
    wn_st64_(buf + 24, len);
    img->sum = XXH3_64bits(buf + SUM_FROM, len - SUM_FROM);
    wn_st64_(buf + 8, img->sum);
    img->buf = buf;
    img->len = len;
    img->version = version;
    img->kind = (uint32_t)kind;
    return 0;
}

int wn_h5img_write(const struct wn_h5img *img, const char *path, wn_error_t *err)
{
    struct wn_afile *a = wn_afile_open(path, 0, 0644, err);
    if (!a)
        return -1;
    if (wn_afile_write(a, img->buf, img->len, err) < 0) {
        wn_afile_abort(a);
        return -1;
    }
    return wn_afile_commit(a, err);
}

/* ------------------------------------------------------------- read -- */

/* The header of a file of len bytes (buf holds them all). */
static int check_header(const char *path, const unsigned char *buf, size_t len,
                        enum wn_h5img_kind kind, uint32_t version, wn_error_t *err)
{
    errno = EBADMSG;
    if (len >= 8 && !memcmp(buf, HDF5_SIGNATURE, 8))
        return wn_errprintf(err,
                            "%s: an HDF5 file without winnow's header: made by an older "
                            "winnow (part format 1), or not by winnow; if it is in a "
                            "checkpoint, remove the checkpoint to start again",
                            path);
    if (memcmp(buf, MAGIC, len < 8 ? len : 8) != 0)
        return wn_errprintf(err, "%s: not a winnow %s (no winnow header)", path, kind_name(kind));
    if (len < WN_H5IMG_HEADER)
        return wn_errprintf(err, "%s: truncated: %zu bytes, less than its header", path, len);
    errno = 0;
    return 0;
}

int wn_h5img_load(const char *path, enum wn_h5img_kind kind, uint32_t version,
                  const uint64_t *expect, struct wn_h5img *img, wn_error_t *err)
{
    memset(img, 0, sizeof(*img));
    size_t len; /* fewer bytes than the header says, for a file cut meanwhile */
    unsigned char *buf = wn_read_file(path, &len, err);
    if (!buf)
        return -1;
    if (check_header(path, buf, len, kind, version, err) < 0) {
        free(buf);
        return -1;
    }
    uint64_t h = XXH3_64bits(buf + SUM_FROM, len - SUM_FROM), said = wn_ld64_(buf + 8);
    if (h != said) {
        uint64_t want = wn_ld64_(buf + 24);
        free(buf);
        errno = EBADMSG;
        if (want != len)
            return wn_errprintf(err,
                                "%s: checksum mismatch: %zu bytes, its header says "
                                "%llu (truncated?)",
                                path, len, (unsigned long long)want);
        return wn_errprintf(err,
                            "%s: checksum mismatch: the file hashes to %016llx, its "
                            "header says %016llx (damaged)",
                            path, (unsigned long long)h, (unsigned long long)said);
    }
    /* Covered by the checksum, so checked once it is known good. */
    uint32_t v = wn_ld32_(buf + 16), k = wn_ld32_(buf + 20);
    if (k != (uint32_t)kind || v != version) {
        free(buf);
        errno = EBADMSG;
        if (k != (uint32_t)kind)
            return wn_errprintf(err, "%s: a winnow %s, not a %s", path, kind_name(k),
                                kind_name(kind));
        return wn_errprintf(err, "%s: format version %u, this build reads %u%s", path, v, version,
                            v < version ? ": made by an older winnow; if it is in a "
                                          "checkpoint, remove the checkpoint to start again"
                                        : "");
    }
    if (expect && *expect != h) {
        free(buf);
        errno = EBADMSG;
        return wn_errprintf(err,
                            "%s: checksum %016llx, the journal says %016llx: not the "
                            "file the journal recorded",
                            path, (unsigned long long)h, (unsigned long long)*expect);
    }
    img->buf = buf;
    img->len = len;
    img->sum = h;
    img->version = version;
    img->kind = (uint32_t)kind;
    return 0;
}

/* ----------------------------------------------------- open in place -- */

/* HDF5's file image callbacks, so that the core driver works on the
 * loaded buffer instead of copies of it (as H5LTopen_file_image does with
 * H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE): every
 * "allocation" is the buffer itself, nothing is freed, and the image is
 * never resized (it is opened read-only). */
static void *img_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    struct wn_h5img *img = udata;
    return size <= img->udata.len ? img->udata.buf : NULL;
}

static void *img_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                        void *udata)
{
    (void)size;
    (void)op;
    (void)udata;
    return dest == src ? dest : NULL;
}

static void *img_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr;
    (void)size;
    (void)op;
    (void)udata;
    return NULL;
}

static herr_t img_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr;
    (void)op;
    (void)udata;
    return 0;
}

static void *udata_copy(void *udata)
{
    return udata;
}

static herr_t udata_free(void *udata)
{
    (void)udata;
    return 0;
}

hid_t wn_h5img_open(struct wn_h5img *img, wn_error_t *err)
{
    img->udata.buf = img->buf + WN_H5IMG_HEADER;
    img->udata.len = img->len - WN_H5IMG_HEADER;
    H5FD_file_image_callbacks_t cb = {img_malloc, img_memcpy, img_realloc, img_free,
                                      udata_copy, udata_free, img};
    char name[96];
    image_name(name, sizeof(name));
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 64u << 10, 0) >= 0 &&
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
        H5Pset_file_image_callbacks(fapl, &cb) >= 0 &&
        H5Pset_file_image(fapl, img->udata.buf, img->udata.len) >= 0)
        f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (f < 0) {
        errno = EBADMSG;
        wn_errprintf(err, "HDF5 cannot open the file's image");
    }
    return f;
}

void wn_h5img_free(struct wn_h5img *img)
{
    free(img->buf);
    memset(img, 0, sizeof(*img));
}
