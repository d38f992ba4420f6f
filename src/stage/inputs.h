/* inputs.h - the run's input listing: which files a pipeline reads, listed
 * once per run and fingerprinted (runner-internal; stages reach it through
 * wn_stage_list_inputs and friends in winnow/stage.h).
 *
 * Document ids hold a file's position in the listing (stages/io/jsonl_io.h),
 * so every stage that maps ids to files must see the same list in the same
 * order, on every rank, and a resumed run must see the list its checkpoint
 * was made from.  Hence:
 *   - one listing per run: the first stage that asks lists; a later stage
 *     asking for an input whose files differ is refused;
 *   - rank 0 lists (its stages' init runs first, run.c) and sends the list
 *     to the other ranks, which take it instead of listing again;
 *   - each file carries its size, modification time and a fingerprint (a
 *     hash of its first and last 64 KiB): the checkpoint manifest records
 *     them, and a reader checks an open file against them.
 */
#ifndef WN_INPUTS_H
#define WN_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "winnow/error.h"
#include "winnow/stage.h"

/* Bytes hashed at each end of a file for its fingerprint. */
#define WN_INPUT_FP_SPAN ((size_t)64 << 10)

struct wn_inputs;

struct wn_inputs *wn_inputs_create(void);
void wn_inputs_destroy(struct wn_inputs *in);

/* The listing of `spec` (a directory searched recursively for names with
 * one of the suffixes, NULL for any name; a glob pattern; or one file),
 * sorted bytewise by path, fingerprinted; at least one file.  The first
 * call lists; later ones list again and must find the same files (else
 * an error naming both stages), or, once the listing was given by rank 0
 * (wn_inputs_unpack), take it as it is.  `who` names the asking stage. */
int wn_inputs_list(struct wn_inputs *in, const char *who, const char *spec,
                   const char *const *suffixes, wn_error_t *err);

size_t wn_inputs_count(const struct wn_inputs *in); /* 0: not listed */
const struct wn_input_file *wn_inputs_file(const struct wn_inputs *in, size_t i);
/* The directories the listing searched, recursively: that of a directory
 * input (real paths).  Outputs must stay out of them (guard.c). */
size_t wn_inputs_nfolders(const struct wn_inputs *in);
const char *wn_inputs_folder(const struct wn_inputs *in, size_t i);
/* The real path of file i (symbolic links resolved), for the guards. */
const char *wn_inputs_realpath(const struct wn_inputs *in, size_t i);

/* fd, open on file i, is still the file listed: same size and mtime. */
int wn_inputs_check(const struct wn_inputs *in, size_t i, int fd, wn_error_t *err);

/* The listing as bytes (malloc'd) for the other ranks, and back. */
int wn_inputs_pack(const struct wn_inputs *in, void **buf, size_t *len, wn_error_t *err);
int wn_inputs_unpack(struct wn_inputs *in, const void *buf, size_t len, wn_error_t *err);

/* The listing to path, durably (a temporary file fsynced and renamed
 * over it; checksummed), and back: NULL with err when the file is
 * missing (errno ENOENT), damaged or unreadable. */
int wn_inputs_save(const struct wn_inputs *in, const char *path, wn_error_t *err);
struct wn_inputs *wn_inputs_load(const char *path, wn_error_t *err);

/* Compares a recorded listing (old) with this one.  Returns the number of
 * files added, removed or changed (size, mtime or fingerprint), calling
 * say() with a line for each (at most `max` lines, then one saying how
 * many more). */
size_t wn_inputs_diff(const struct wn_inputs *in, const struct wn_inputs *old,
                      void (*say)(const char *line, void *arg), void *arg, size_t max);

#endif /* WN_INPUTS_H */
