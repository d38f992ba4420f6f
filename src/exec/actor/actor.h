/* actor.h - a rank's actor (every rank has one; the files of
 * src/exec/actor/): hosts stages, runs the batches it is given on its
 * compute thread, writes part files on its I/O thread.  It talks to the
 * planner only through the event loop: it registers handlers for the
 * messages it takes, a poll hook and the loop's idle wait. */
#ifndef WN_ACTOR_H
#define WN_ACTOR_H

#include "exec/run.h"
#include "winnow/error.h"

struct wn_actor;

struct wn_actor *wn_actor_create(struct wn_run *run, wn_error_t *err);
/* Its handlers, poll hook and idle wait on run->loop. */
int wn_actor_register(struct wn_actor *a, wn_error_t *err);
void wn_actor_destroy(struct wn_actor *a);

/* For the crash handler: the stage this rank is setting up, or NULL. */
extern volatile const char *wn_current_stage_name;

#endif /* WN_ACTOR_H */
