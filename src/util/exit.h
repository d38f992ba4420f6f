/* exit.h - the exit statuses every layer may end a run with (the planner
 * decides the run's, the allocation policy and the crash handler their
 * own). */
#ifndef WN_EXIT_H
#define WN_EXIT_H

/* Exit statuses, documented in winnow(1). */
enum {
    WN_EXIT_OK = 0,
    WN_EXIT_FAILURE = 1,   /* the run failed                         */
    WN_EXIT_USAGE = 2,     /* bad command line, config or launch     */
    WN_EXIT_RESUMABLE = 3, /* stopped early, checkpointed, resumable */
};

#endif /* WN_EXIT_H */
