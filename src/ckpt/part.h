/* part.h - checkpoint part files: the output tasks of one batch as HDF5.
 *
 * One file per finished batch (so a run makes files in proportion to its
 * batches, not its rows), readable without winnow (h5dump, h5py):
 *
 *   /                      attributes format "winnow-part", version 2,
 *                          stage, stage_index, batch, ntasks, checksum
 *                          (the tasks')
 *   /task_000000/          attributes id, stage_index, nrows, has_batch
 *       meta/              one string attribute per metadata key (in order)
 *       perf               compound dataset: stage, process_s, idle_s,
 *                          items_in, items_out, bytes_in, bytes_out
 *       columns/NAME       a dataset per column, attributes type, index:
 *                          numbers 1-D [nrows], lists 2-D [nrows, len],
 *                          strings a group with offsets u64 [nrows + 1]
 *                          and bytes u8 [nbytes]
 *   /task_000001/ ...
 *
 * The HDF5 file is made in memory and stored behind winnow's 512-byte
 * header (h5img.h), which holds the file's checksum: XXH3-64 of the whole
 * file after it.  That checksum is what the journal records for the
 * batch, and a reader checks it before HDF5 parses anything.  Under it,
 * the tasks' checksum (XXH3-64 over their wire-format buffers (task.h) in
 * order) is checked again once the tasks are rebuilt.  Column buffers go
 * to datasets and back as they are (a copy of each buffer, no conversion
 * per row).  Datasets are chunked; deflate is optional.  A file is
 * written under a temporary name, synced, and renamed into place: a crash
 * leaves a whole file or none.
 *
 * Version 1 (winnow before the header) is refused, never parsed.
 */
#ifndef WN_PART_H
#define WN_PART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "winnow/error.h"
#include "winnow/task.h"

#define WN_PART_VERSION 2

struct wn_part_info {
    char stage[64];
    uint32_t stage_index;
    uint64_t batch;
    uint64_t ntasks;
    uint64_t tasks_sum; /* XXH3-64 of the tasks' packed buffers */
    uint64_t sum;       /* the file's checksum (read only) */
};

/* Writes tasks[0..n) to path (via path.tmp.PID, fsync, rename).  deflate
 * 0 stores columns uncompressed, 1..9 compresses them (HDF5's deflate
 * filter, chunked), any other level is refused (EINVAL).  The file's
 * checksum covers the compressed bytes, as they are on disk.  *sum (may be
 * NULL) receives the file's checksum.  A caller that has the tasks'
 * packed buffers already passes their XXH3-64 in *known instead of NULL,
 * and the tasks are not packed again.  A full disk is an error naming the
 * file and the free space left. */
int wn_part_write(const char *path, const struct wn_part_info *info, struct wn_task *const *tasks,
                  size_t n, int deflate, const uint64_t *known, uint64_t *sum, wn_error_t *err);

/* Reads a part file: its tasks appended to out (may be NULL to only
 * verify), its header in *info (may be NULL).  The file's checksum is
 * checked first, and against *expect (the journal's) when expect is not
 * NULL; only then does HDF5 parse it.  A file that is not a part file, is
 * truncated, or whose checksum does not match is an error naming the file
 * and what is wrong (errno EBADMSG). */
int wn_part_read(const char *path, const uint64_t *expect, struct wn_task_list *out,
                 struct wn_part_info *info, wn_error_t *err);

/* Only the checksum check of wn_part_read (no HDF5): the file is whole
 * and, when expect is not NULL, the one the journal recorded. */
int wn_part_verify(const char *path, const uint64_t *expect, wn_error_t *err);

/* `winnow inspect`: the header, then each task's id, rows and columns
 * (name, type, rows, bytes). */
int wn_part_describe(FILE *out, const char *path, wn_error_t *err);

/* The checkpoint manifest (ckpt.h): an HDF5 file whose attributes hold
 * the pipeline text as resolved, its hash, and the stage names in order
 * (stage_00, stage_01, ...).  Written like a part file (header with its
 * checksum, temporary name, fsync, rename). */
int wn_manifest_write(const char *path, const char *pipeline, const char *text, uint64_t hash,
                      const char *const *stages, size_t nstages, wn_error_t *err);

/* At the end of a stopped run, before MPI_Finalize (which closes
 * parallel HDF5): waits for the HDF5 call in progress, then keeps every
 * other thread out of the library for good.  Batches given up on at the
 * drain deadline may still be running, and their part files are written
 * by another thread. */
void wn_part_quiesce(void);

#endif /* WN_PART_H */
