/* h5img.h - winnow's HDF5 files (checkpoint part files and the manifest)
 * as they lie on disk: an HDF5 file built in memory (HDF5's core driver,
 * no backing store) behind a 512-byte header of winnow's own,
 *
 *   0    8  magic "\x89WINNOW\n"
 *   8    8  XXH3-64 of bytes [16, end of file): the file's checksum
 *   16   4  format version (WN_PART_VERSION of the writer)
 *   20   4  kind: 1 part file, 2 manifest
 *   24   8  the file's size in bytes, this header included
 *   32      zeros up to 512
 *   512     the HDF5 file
 *
 * (little-endian).  HDF5 looks for its superblock at 0, 512, 1024, ...
 * and treats what comes before it as a user block, so h5dump and h5py
 * read the file as it is.
 *
 * Why a header and images in memory: the whole file is read and its
 * checksum checked before HDF5 parses a byte of it (HDF5's parser trusts
 * its input: a byte changed in an object header can make it read out of
 * bounds), and HDF5 never touches the disk, so a full disk is a failed
 * write() of winnow's own, reported with the path and the free space,
 * and no HDF5 file is left open behind a failed write.  The cost is
 * memory: a file is held whole while it is written (twice: HDF5's image
 * and the copy written out) or read.
 *
 * HDF5 as Debian builds it is not thread-safe: callers serialise these
 * calls with their other HDF5 calls (part.c's lock).
 */
#ifndef WN_H5IMG_H
#define WN_H5IMG_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"

#define WN_H5IMG_HEADER 512

enum wn_h5img_kind { WN_H5IMG_PART = 1, WN_H5IMG_MANIFEST = 2 };

/* A file read whole and checked. */
struct wn_h5img {
    unsigned char *buf; /* the file: header, then the HDF5 image */
    size_t len;
    uint64_t sum; /* its checksum (checked) */
    uint32_t version, kind;
    struct { /* for HDF5's file image callbacks */
        void *buf;
        size_t len;
    } udata;
};

/* A new HDF5 file in memory, growing in steps of about size_hint bytes
 * (what it is expected to hold); path names it in messages.  Closing it
 * closes every object opened in it (H5F_CLOSE_STRONG). */
hid_t wn_h5img_create(const char *path, size_t size_hint, wn_error_t *err);

/* Takes the image of f, closes f (always, also on failure) and puts the
 * header in front of it: *img is the file to write, sum its checksum. */
int wn_h5img_take(hid_t f, const char *path, enum wn_h5img_kind kind, uint32_t version,
                  struct wn_h5img *img, wn_error_t *err);

/* Writes img to path.tmp.PID, syncs it and renames it to path: a crash
 * leaves a whole file or none.  No HDF5 call.  A failed write names the
 * path and, for a full disk, the free space left; it leaves nothing. */
int wn_h5img_write(const struct wn_h5img *img, const char *path, wn_error_t *err);

/* Reads path whole and checks its header and checksum, and that the
 * checksum is *expect when expect is not NULL (the journal's), before
 * anything parses it.  Errors name the file and what is wrong (errno
 * EBADMSG for a damaged file). */
int wn_h5img_load(const char *path, enum wn_h5img_kind kind, uint32_t version,
                  const uint64_t *expect, struct wn_h5img *img, wn_error_t *err);

/* Opens a loaded image read-only, in place (not copied): img must stay
 * until the file is closed. */
hid_t wn_h5img_open(struct wn_h5img *img, wn_error_t *err);

void wn_h5img_free(struct wn_h5img *img);

#endif /* WN_H5IMG_H */
