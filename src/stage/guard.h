/* guard.h - before any work: what a run writes must not touch what it
 * reads, and must be writable (runner-internal).
 *
 * The outputs are the pipeline's output folder, rejects file, checkpoint
 * folder, failed-tasks file, the --stats/--trace/--results files, the
 * shuffle spill folder and what each stage declared at init
 * (wn_stage_add_output).  None may be an input file or hold one (a run
 * writing there would replace its own input), lie in a directory input,
 * or be a file beside an input file (a later run listing that directory,
 * or the same glob, would read winnow's outputs as input).  Paths are
 * compared as real paths, symbolic links resolved, the nearest existing
 * folder standing in for a path that does not exist yet.
 */
#ifndef WN_GUARD_H
#define WN_GUARD_H

#include <stddef.h>

#include "stage/inputs.h"
#include "winnow/error.h"
#include "winnow/stage.h"

struct wn_guard_path {
    const char *path;
    const char *what; /* "output", "stage 'x' output", ... */
    enum wn_output_kind kind;
};

/* Rank 0: 0, or -1 naming the output and the input it touches. */
int wn_guard_inputs(const struct wn_inputs *in, const struct wn_guard_path *outs, size_t n,
                    wn_error_t *err);
/* Every rank (other nodes may mount other file systems): folders are made
 * (mkdir -p) and a file can be created in each (a probe file, removed);
 * a folder that is a file, a file that is a folder, or a place that
 * cannot be written is an error naming it. */
int wn_guard_writable(const struct wn_guard_path *outs, size_t n, wn_error_t *err);

#endif /* WN_GUARD_H */
