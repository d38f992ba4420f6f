/* winnow/file.h - writing a whole file so that whoever reads it (another
 * process, a resumed run, the user after a crash) finds the old file or
 * the whole new one, never a part.
 *
 * The runner writes every file it replaces this way (checkpoint files,
 * reports, the input listing), and so do the built-in writer stages; a
 * plugin that writes output files should too:
 *
 *     if (wn_mkdir_parent(path, err) < 0)
 *         return -1;
 *     struct wn_afile *a = wn_afile_open(path, WN_AFILE_FIXED_TMP, 0666, err);
 *     if (!a)
 *         return -1;
 *     if (wn_afile_write(a, buf, len, err) < 0) {
 *         wn_afile_abort(a);
 *         return -1;
 *     }
 *     return wn_afile_commit(a, err);
 *
 * wn_afile_open creates a temporary file beside the target.  What is
 * written goes there, through wn_afile_write, the stdio stream of
 * wn_afile_stream, or the descriptor of wn_afile_fd (one of the three per
 * file).  wn_afile_commit flushes it, fsyncs it, renames it over the
 * target and fsyncs the folder, so the new file survives a crash once
 * commit returns.  wn_afile_abort removes it and leaves the target as it
 * was.  Commit and abort both end the handle, whatever they return.  A
 * process killed before commit leaves the target untouched.
 *
 * Errors (winnow/error.h) name the temporary file and what failed:
 * "PATH.tmp.123: cannot write: No space left on device (4.0 MiB to write;
 * 1.2 MiB free on its file system)"; the other steps say "cannot create",
 * "cannot sync", "cannot close" and "cannot rename into place".
 */
#ifndef WINNOW_FILE_H
#define WINNOW_FILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "winnow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wn_afile;

/* The temporary file's name.  By default PATH.tmp.PID: two processes
 * that write the same target never share a temporary file, and one a
 * killed writer left is for the folder's owner to remove (the checkpoint
 * removes its own when it is opened).  With WN_AFILE_FIXED_TMP it is
 * PATH.winnow-tmp: a killed writer's temporary file is truncated and
 * renamed by the next writer of the same target (the same command run
 * again) rather than left as a stray file in the user's folder; for files
 * that one process at a time writes. */
#define WN_AFILE_FIXED_TMP 0x1u

/* Starts writing path: creates its temporary file (mode as for open(2),
 * before the umask).  The folder must exist (wn_mkdir_parent).  NULL on
 * failure. */
struct wn_afile *wn_afile_open(const char *path, unsigned flags, mode_t mode, wn_error_t *err);

/* Appends len bytes (short writes and EINTR retried).  After a failed
 * write the file is never put in place: commit then only aborts, returns
 * -1 and leaves err as the write set it. */
int wn_afile_write(struct wn_afile *a, const void *buf, size_t len, wn_error_t *err);

/* A stdio stream on the temporary file, for formatted output; commit
 * flushes it and reports a failed write of it.  NULL on failure. */
FILE *wn_afile_stream(struct wn_afile *a, wn_error_t *err);

/* The temporary file's descriptor, for a library that writes to one
 * itself (zlib's gzdopen on a dup of it, say); finish such writes before
 * commit. */
int wn_afile_fd(const struct wn_afile *a);

/* The temporary file's name, for messages. */
const char *wn_afile_tmpname(const struct wn_afile *a);

/* Puts the file in place (flush, fsync, rename over the target, fsync
 * the folder) and ends the handle.  On failure the temporary file is
 * removed and the target is as it was, except when only the folder's
 * fsync failed: the new file is in place then, but a crash may undo that. */
int wn_afile_commit(struct wn_afile *a, wn_error_t *err);

/* Removes the temporary file and ends the handle; the target is as it
 * was.  NULL is allowed.  errno is preserved. */
void wn_afile_abort(struct wn_afile *a);

/* Makes the folder of the file path and any folders above it that are
 * missing (mode 0755 before the umask), as `mkdir -p $(dirname path)`:
 * nothing for a bare name.  -1 naming the folder that could not be made. */
int wn_mkdir_parent(const char *path, wn_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* WINNOW_FILE_H */
