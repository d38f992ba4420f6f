/* exec.h - the executor's entry point: runs a pipeline on every rank.
 *
 *   loop.c        the per-rank event loop (loop.h), knowing no clients
 *   wire.c        the planner's and actors' messages (wire.h)
 *   actor/        an actor rank: stage setup/teardown, running batches,
 *                 the compute and checkpoint I/O threads (actor.h)
 *   planner/      rank 0: stages one after another, batches, dispatch,
 *                 resume, stops, shuffle rounds (planner.h)
 *   report.c      progress lines, summary table, --stats, --trace, --results
 *   exec.c        a rank's run around the loop, signals, the crash handler
 *
 * Every rank runs the same loop.  Rank 0 is also the planner; alone, it
 * is planner and actor at once, and messages to itself are handled in
 * place instead of going through MPI.
 */
#ifndef WN_EXEC_H
#define WN_EXEC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "gpu/layout.h"
#include "stage/stage_impl.h"
#include "exec/options.h"

/* Set by SIGTERM, SIGINT and SIGUSR1 (a second one exits at once with
 * status 3); the event loop's stop hook tells the planner. */
extern volatile sig_atomic_t wn_stop_signal;
/* Installed by `winnow run` before MPI starts: a signal that comes during
 * start-up stops the run as soon as it can.  Under mpirun or srun it also
 * starts watching the launcher: a rank whose launcher is gone exits at
 * once (status 3), writing nothing more. */
void wn_install_stop_handler(void);
/* > 0 when the stop signal was mpirun's SIGTERM: the seconds until
 * mpirun's SIGKILL follows (odls_base_sigkill_timeout). */
double wn_stop_kill_window(void);
/* After wn_exec_run, last thing before MPI_Finalize: when ranks did not
 * leave the run at its end (frozen, or waiting on one that is), rank 0
 * ends the job here with MPI_Abort(status) instead of waiting forever. */
void wn_exec_end(int status);

/* The memory a rank may use (exec/budget.h): executor.memory_limit, else
 * what the allocation gives this rank, 0 when nothing is known; why says
 * where it came from.  `winnow plan` prints it. */
uint64_t wn_exec_memory_limit(const struct wn_pipeline_config *cfg, int ranks_on_node, char *why,
                              size_t whylen);
int wn_exec_ranks_on_node(const struct wn_place *places, int size, int rank);
/* Collective: sets opts->memory_limit to the smallest of every rank's
 * wn_exec_memory_limit (0 when none knows one), and memory_from.  A rank
 * whose configuration failed passes cfg NULL, and still takes part. */
void wn_exec_agree_memory(const struct wn_pipeline_config *cfg, const struct wn_place *places,
                          struct wn_run_options *opts);
/* Where stage outputs spill: executor.spill_dir, $SLURM_TMPDIR, $TMPDIR
 * or /tmp. */
const char *wn_exec_spill_dir(const struct wn_pipeline_config *cfg);

/* Runs the pipeline on every rank (collective over MPI_COMM_WORLD);
 * returns the exit status (util/exit.h). */
int wn_exec_run(const struct wn_pipeline_config *cfg, struct wn_stage **stages, uint32_t nstages,
                struct wn_place *places, const struct wn_run_options *opts);

#endif /* WN_EXEC_H */
