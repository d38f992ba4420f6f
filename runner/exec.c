/* exec.c - wn_exec_run: sets up the runtime on every rank, runs the event
 * loop until the planner says the run is over, and tears down.  Also the
 * crash handler that names the rank and stage before the job dies. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"

extern volatile const char *wn_current_stage_name;
static int crash_rank = -1;

static void write_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

/* Async-signal-safe: formats with nothing but write(). */
static void on_crash(int sig)
{
    char num[16];
    int n = 0, r = crash_rank < 0 ? 0 : crash_rank;
    char tmp[16];
    do {
        tmp[n++] = (char)('0' + r % 10);
        r /= 10;
    } while (r && n < 15);
    for (int i = 0; i < n; i++)
        num[i] = tmp[n - 1 - i];
    num[n] = '\0';
    write_str("winnow[");
    write_str(num);
    write_str("]: error: rank ");
    write_str(num);
    write_str(" crashed (");
    write_str(strsignal(sig));
    write_str(")");
    const char *st = (const char *)wn_current_stage_name;
    if (st) {
        write_str(" in stage '");
        write_str(st);
        write_str("'");
    }
    write_str("; the job is aborted\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

volatile sig_atomic_t wn_stop_signal;

/* The first stop signal asks the planner to drain; a second one leaves
 * at once.  Either way the checkpoint is consistent: journal records are
 * single writes, part files appear by rename. */
static void on_stop(int sig)
{
    if (wn_stop_signal)
        _exit(3);
    wn_stop_signal = sig;
}

void wn_install_stop_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

static void install_crash_handler(int rank)
{
    crash_rank = rank;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

int wn_exec_run(const struct wn_pipeline_config *cfg, struct wn_stage **stages,
                uint32_t nstages, struct wn_place *places, const struct wn_run_options *opts)
{
    /* Static, not on this frame: after a stop, the compute and I/O
     * threads of batches given up on go on using it after this returns. */
    static struct wn_rt rt;
    memset(&rt, 0, sizeof(rt));
    MPI_Comm_dup(MPI_COMM_WORLD, &rt.comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &rt.data_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &rt.group_comm);
    MPI_Comm_rank(rt.comm, &rt.rank);
    MPI_Comm_size(rt.comm, &rt.size);
    rt.arena = wn_arena_open(rt.comm);
    rt.places = places;
    rt.stages = stages;
    rt.nstages = nstages;
    rt.cfg = cfg;
    rt.opts = opts;
    install_crash_handler(rt.rank);

    /* One epoch for all ranks' timestamps. */
    rt.epoch = wn_rt_wallclock();
    MPI_Bcast(&rt.epoch, 1, MPI_DOUBLE, 0, rt.comm);

    int ok = (rt.store = wn_store_create()) && wn_actor_create(&rt);
    wn_error_t err = {{0}};
    if (ok && rt.rank == 0 && !wn_planner_create(&rt, &err))
        ok = 0;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, rt.comm);
    int status = 1;
    if (all_ok)
        status = wn_rt_loop(&rt);
    else
        wn_error("cannot start the run: %s", err.text[0] ? err.text : "out of memory");

    /* Everyone is out of the loop before anything is freed: a late pull
     * must not meet a destroyed store. */
    MPI_Barrier(rt.comm);
    if (status == 3) {
        /* Stopped: a batch given up on (drain_timeout) may still be
         * running on the compute thread; it ends with the process, and
         * what it uses stays allocated until then. */
        return status;
    }
    wn_actor_destroy(rt.actor);
    wn_planner_destroy(rt.planner);
    wn_store_destroy(rt.store);
    wn_rt_free(&rt);
    wn_arena_close(rt.arena);
    MPI_Comm_free(&rt.group_comm);
    MPI_Comm_free(&rt.data_comm);
    MPI_Comm_free(&rt.comm);
    return status;
}
