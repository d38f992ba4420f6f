/* part.h - checkpoint part files: the output tasks of one batch as HDF5.
 *
 * One file per finished batch (so a run makes files in proportion to its
 * batches, not its rows), readable without winnow (h5dump, h5py):
 *
 *   /                      attributes format "winnow-part", version 1,
 *                          stage, stage_index, batch, ntasks, checksum
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
 * Column buffers go to datasets and back as they are (a copy of each
 * buffer, no conversion per row).  Datasets are chunked; deflate is
 * optional.  The checksum is XXH3-64 over the tasks' wire-format buffers
 * (task.h) in order, so a read rebuilds the tasks, packs them again and
 * knows whether anything changed.  A file is written under a temporary
 * name, synced, and renamed into place: a crash leaves a whole file or
 * none.
 */
#ifndef WN_PART_H
#define WN_PART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "winnow/error.h"
#include "winnow/task.h"

#define WN_PART_VERSION 1

struct wn_part_info {
    char stage[64];
    uint32_t stage_index;
    uint64_t batch;
    uint64_t ntasks;
    uint64_t checksum;
};

/* Writes tasks[0..n) to path (via path.tmp.PID, fsync, rename).  deflate
 * 0 stores columns uncompressed, 1..9 compresses them.  *checksum (may be
 * NULL) receives the file's checksum; a caller that has the tasks' packed
 * buffers already passes their XXH3-64 (wn_part_checksum) in *known
 * instead of NULL, and the tasks are not packed again. */
int wn_part_write(const char *path, const struct wn_part_info *info,
                  struct wn_task *const *tasks, size_t n, int deflate, const uint64_t *known,
                  uint64_t *checksum, wn_error_t *err);

/* Reads a part file: its tasks appended to out (may be NULL to only
 * verify), its header in *info (may be NULL).  A file that is not a part
 * file, is truncated or whose content does not match its checksum is an
 * error naming the file and what is wrong. */
int wn_part_read(const char *path, struct wn_task_list *out, struct wn_part_info *info,
                 wn_error_t *err);

/* `winnow inspect`: the header, then each task's id, rows and columns
 * (name, type, rows, bytes). */
int wn_part_describe(FILE *out, const char *path, wn_error_t *err);

/* The checkpoint manifest (ckpt.h): an HDF5 file whose attributes hold
 * the pipeline text as resolved, its hash, and the stage names in order
 * (stage_00, stage_01, ...).  Written like a part file (temporary name,
 * fsync, rename). */
int wn_manifest_write(const char *path, const char *pipeline, const char *text,
                      uint64_t hash, const char *const *stages, size_t nstages,
                      wn_error_t *err);

/* At the end of a stopped run, before MPI_Finalize (which closes
 * parallel HDF5): waits for the HDF5 call in progress, then keeps every
 * other thread out of the library for good.  Batches given up on at the
 * drain deadline may still be running, and their part files are written
 * by another thread. */
void wn_part_quiesce(void);

#endif /* WN_PART_H */
