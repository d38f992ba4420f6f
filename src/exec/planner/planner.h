/* planner.h - rank 0's planner (the files of src/exec/planner/): runs the
 * stages one after another, dispatches batches, takes results, resumes,
 * stops.  It talks to the actors only through the event loop: it
 * registers handlers for the messages it takes and a poll hook. */
#ifndef WN_PLANNER_H
#define WN_PLANNER_H

#include "exec/run.h"
#include "winnow/error.h"

struct wn_planner;

struct wn_planner *wn_planner_create(struct wn_run *run, wn_error_t *err);
/* Its handlers and poll hook on run->loop. */
int wn_planner_register(struct wn_planner *p, wn_error_t *err);
void wn_planner_destroy(struct wn_planner *p);

#endif /* WN_PLANNER_H */
