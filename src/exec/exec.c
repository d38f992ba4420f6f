/* exec.c - wn_exec_run: sets up the runtime on every rank, runs the event
 * loop until the planner says the run is over, and tears down.  Also the
 * process around it: the crash handler that names the rank and stage
 * before the job dies, the stop signals, and the watch on the launcher
 * (mpirun, srun) that ends a rank whose launcher has gone. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/actor/actor.h"
#include "exec/budget.h"
#include "exec/exec.h"
#include "exec/planner/planner.h"
#include "exec/run.h"
#include "exec/wire.h"
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

/* The launcher that started this rank (its parent: mpirun or orted, or
 * srun's slurmstepd), 0 when started otherwise. */
static pid_t launcher;
/* mpirun answers SIGTERM and SIGINT by ending the job: SIGTERM to every
 * rank, SIGKILL odls_base_sigkill_timeout seconds later (OpenMPI's
 * default 1; an --mca setting reaches the ranks' environment). */
static double launcher_kill_s;
static volatile sig_atomic_t stop_by_launcher;

/* The first stop signal asks the planner to drain; a second one leaves
 * at once.  Either way the checkpoint is consistent: journal records are
 * single writes, part files appear by rename. */
static void on_stop(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (wn_stop_signal)
        _exit(WN_EXIT_RESUMABLE);
    if (sig == SIGTERM && launcher_kill_s > 0 && si && si->si_pid == launcher)
        stop_by_launcher = 1;
    wn_stop_signal = sig;
}

double wn_stop_kill_window(void)
{
    return stop_by_launcher ? launcher_kill_s : 0;
}

/* A rank outlives its launcher when mpirun exits at once (a second
 * SIGTERM or SIGINT within 5 s does that, without killing the ranks) or
 * is killed, and it would go on computing and writing to the checkpoint
 * of a run nobody waits for.  Every 0.2 s this thread asks whether the
 * parent is still the launcher; when it is not, the rank exits at once:
 * the checkpoint stays consistent (see on_stop), and nothing is printed
 * (standard error went to the launcher).  A thread of its own, because
 * the main thread may be inside a call that waits for other ranks.
 * PR_SET_PDEATHSIG is not used: it fires when the thread that forked the
 * rank ends, which need not be when the launcher does. */
static void *watch_launcher(void *arg)
{
    (void)arg;
    struct timespec every = {0, 200 * 1000 * 1000};
    for (;;) {
        nanosleep(&every, NULL);
        if (getppid() != launcher)
            _exit(WN_EXIT_RESUMABLE);
    }
    return NULL;
}

void wn_install_stop_handler(void)
{
    int mpirun = getenv("OMPI_COMM_WORLD_SIZE") != NULL;
    if (mpirun || getenv("SLURM_STEP_ID"))
        launcher = getppid();
    if (mpirun) {
        const char *v = getenv("OMPI_MCA_odls_base_sigkill_timeout");
        launcher_kill_s = v && atof(v) > 0 ? atof(v) : 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_stop;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    if (launcher > 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, watch_launcher, NULL) != 0)
            wn_warn("cannot start the thread that watches the launcher: a rank left "
                    "behind by it would not stop by itself");
        pthread_attr_destroy(&at);
    }
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

/* ------------------------------------------------------ the run's end -- */

/* How long rank 0 waits at the run's end for every rank to leave its
 * event loop: they do within milliseconds of the planner's SHUTDOWN
 * unless one is frozen, or waits in a call on one that is. */
#define WN_LEAVE_GRACE_S 10.0

static int left_behind; /* rank 0: wn_exec_end aborts the job */

/* Every rank out of the event loop before anything is freed: a late pull
 * must not meet a destroyed store.  Rank 0 waits WN_LEAVE_GRACE_S at
 * most, then names the ranks that did not leave and returns -1; the
 * others wait until everyone has left, or until the job is ended. */
static int leave_together(struct wn_run *run, int status)
{
    wn_loop_heartbeat(run->loop, WN_HB_LEAVING);
    unsigned char *left = run->rank == 0 ? calloc((size_t)run->size, 1) : NULL;
    MPI_Request req;
    MPI_Ibarrier(wn_loop_comm(run->loop), &req);
    double deadline = wn_clock_mono() + WN_LEAVE_GRACE_S;
    struct timespec nap = {0, 1000 * 1000};
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        wn_loop_drop_late(run->loop, left);
        if (run->rank == 0 && wn_clock_mono() > deadline) {
            char ranks[256] = "";
            size_t n = 0;
            int count = 0;
            for (int r = 1; r < run->size; r++)
                if (left && !left[r]) {
                    count++;
                    if (n + 32 < sizeof(ranks))
                        n += (size_t)snprintf(ranks + n, sizeof(ranks) - n, "%s%d (%s)",
                                              n ? ", " : "", r, run->places[r].node_name);
                }
            wn_error("rank%s %s did not leave the run within %g s of its end (stopped or "
                     "frozen, or waiting on a rank that is); ending every rank with exit "
                     "status %d%s",
                     count == 1 ? "" : "s", count ? ranks : "(unknown)", WN_LEAVE_GRACE_S, status,
                     status == WN_EXIT_RESUMABLE ? ": the checkpoint is complete" : "");
            free(left);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
    free(left);
    return 0;
}

void wn_exec_end(int status)
{
    if (!left_behind)
        return;
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
}

/* Every rank: a stop signal is told to the planner (itself on rank 0),
 * which drains and stops all. */
static int stop_hook(struct wn_loop *loop, void *arg)
{
    int *sent = arg;
    if (!wn_stop_signal || *sent)
        return 0;
    *sent = 1;
    wn_wire_send_stop(loop, 0, (int)wn_stop_signal, wn_stop_kill_window());
    return 1;
}

/* Every rank: the planner says the run is over. */
static void on_shutdown(struct wn_loop *loop, int src, void *buf, size_t len, void *arg)
{
    (void)src;
    (void)arg;
    struct wn_msg_shutdown m = {WN_EXIT_FAILURE, 0};
    if (len >= sizeof(m))
        memcpy(&m, buf, sizeof(m));
    wn_loop_leave(loop, m.status);
}

static const struct wn_loop_handler run_handlers[] = {
    {WN_TAG_SHUTDOWN, on_shutdown},
    WN_LOOP_HANDLER_END,
};

int wn_exec_ranks_on_node(const struct wn_place *places, int size, int rank)
{
    if (places[rank].local_size > 0)
        return places[rank].local_size;
    int n = 0;
    for (int r = 0; r < size; r++)
        n += places[r].node_id == places[rank].node_id;
    return n > 0 ? n : 1;
}

uint64_t wn_exec_memory_limit(const struct wn_pipeline_config *cfg, int ranks_on_node, char *why,
                              size_t whylen)
{
    if (cfg->exec.memory_limit > 0) {
        snprintf(why, whylen, "%llu MiB: executor.memory_limit",
                 (unsigned long long)((uint64_t)cfg->exec.memory_limit >> 20));
        return (uint64_t)cfg->exec.memory_limit;
    }
    struct wn_budget_env env;
    wn_budget_env_read(&env, ranks_on_node);
    return wn_budget_derive(&env, why, whylen);
}

const char *wn_exec_spill_dir(const struct wn_pipeline_config *cfg)
{
    const char *v;
    if (cfg->exec.spill_dir && *cfg->exec.spill_dir)
        return cfg->exec.spill_dir;
    if ((v = getenv("SLURM_TMPDIR")) && *v)
        return v;
    if ((v = getenv("TMPDIR")) && *v)
        return v;
    return "/tmp";
}

/* Collective: the budget, the smallest any rank has (so that the planner
 * sizes batches for all, and every rank's stages adapt alike). */
void wn_exec_agree_memory(const struct wn_pipeline_config *cfg, const struct wn_place *places,
                          struct wn_run_options *opts)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    uint64_t mine = cfg ? wn_exec_memory_limit(cfg, wn_exec_ranks_on_node(places, size, rank),
                                               opts->memory_from, sizeof(opts->memory_from))
                        : 0;
    unsigned long long all = mine ? mine : ~0ULL;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    opts->memory_limit = all == ~0ULL ? 0 : all;
    /* What a rank holds before any data: its resident pages now. */
    unsigned long long base = 0, pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%*s %llu", &pages) == 1)
        base = pages * (unsigned long long)sysconf(_SC_PAGESIZE);
    if (f)
        fclose(f);
    MPI_Allreduce(MPI_IN_PLACE, &base, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    /* Rounded up to 4 MiB: a rank's pages differ by a few from run to
     * run, and what is sized by the budget (read_jsonl's tasks) should
     * not, so that a resume finds the same batches. */
    base = ((base + (4ULL << 20) - 1) & ~((4ULL << 20) - 1)) + WN_BUDGET_RUN_SLACK;
    opts->memory_base = base;
    opts->memory_data = opts->memory_limit > base ? opts->memory_limit - base : 0;
    if (opts->memory_data < opts->memory_limit / 4) {
        opts->memory_data = opts->memory_limit / 4;
        if (rank == 0 && cfg)
            wn_warn("memory per rank: %s, but a rank takes %llu MiB before any data; a quarter "
                    "of the limit goes to data, and RSS will pass the limit (raise it to %llu "
                    "MiB or more to keep to it)",
                    opts->memory_from, base >> 20, (base / 3 * 4 >> 20) + 1);
    }
}

/* Every rank: the store's share of the budget and the spill folder. */
static void set_budget(struct wn_run *run)
{
    run->memory_limit = run->opts->memory_data;
    /* Under a budget set by hand, buffers of 1 MiB and more are mapped
     * and unmapped on their own: glibc's moving threshold would otherwise
     * put later ones on the heap, whose freed top it keeps.  (Not under a
     * derived one: the mappings cost page faults a roomy node needs not
     * pay.) */
    if (run->cfg->exec.memory_limit > 0)
        mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (run->memory_limit && run->store)
        wn_store_set_spill(run->store, wn_exec_spill_dir(run->cfg), run->rank,
                           wn_budget_store(run->memory_limit));
}

int wn_exec_run(const struct wn_pipeline_config *cfg, struct wn_stage **stages, uint32_t nstages,
                struct wn_place *places, const struct wn_run_options *opts)
{
    /* Static, not on this frame: after a stop, the compute and I/O
     * threads of batches given up on go on using it after this returns. */
    static struct wn_run run;
    static int stop_sent;
    memset(&run, 0, sizeof(run));
    stop_sent = 0;
    wn_error_t err = {{0}};
    run.places = places;
    run.stages = stages;
    run.nstages = nstages;
    run.cfg = cfg;
    run.opts = opts;
    run.store = wn_store_create();
    /* Collective, whatever happened above: every rank makes it. */
    run.loop = wn_loop_create(MPI_COMM_WORLD, run.store, cfg->exec.heartbeat_timeout, &err);
    MPI_Comm_dup(MPI_COMM_WORLD, &run.group_comm);
    MPI_Comm_rank(MPI_COMM_WORLD, &run.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &run.size);
    set_budget(&run);
    /* Start-up collectives only: on a communicator every rank has.  A
     * streaming run makes none (every rank reads the same mode): its
     * halves by stage parity would be reset under a stage two further
     * on, which runs at the same time (arena.h). */
    if (cfg->exec.mode != WN_MODE_STREAMING)
        run.arena =
            wn_arena_open(run.group_comm,
                          (size_t)wn_budget_arena_half(
                              run.memory_limit, wn_exec_ranks_on_node(places, run.size, run.rank)));
    install_crash_handler(run.rank);

    /* One epoch for all ranks' timestamps. */
    run.epoch = wn_clock_wall();
    MPI_Bcast(&run.epoch, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    struct wn_actor *actor = NULL;
    struct wn_planner *planner = NULL;
    int ok = run.store && run.loop && wn_loop_handlers_add(run.loop, run_handlers, NULL) == 0 &&
             wn_loop_poll_add(run.loop, stop_hook, &stop_sent) == 0;
    if (!ok && !err.text[0])
        wn_errprintf(&err, "out of memory");
    ok = ok && (actor = wn_actor_create(&run, &err)) && wn_actor_register(actor, &err) == 0;
    if (ok && run.rank == 0)
        ok = (planner = wn_planner_create(&run, &err)) && wn_planner_register(planner, &err) == 0;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    int status = WN_EXIT_FAILURE;
    if (all_ok)
        status = wn_loop_run(run.loop);
    else
        wn_error("cannot start the run: %s", err.text[0] ? err.text : "another rank failed");

    if (run.loop && leave_together(&run, status) < 0) {
        /* Rank 0 alone goes on (its checkpoint and files are complete);
         * wn_exec_end ends the rest.  Nothing is freed: they may still
         * send to it. */
        left_behind = 1;
        return status;
    }
    if (status == WN_EXIT_RESUMABLE) {
        /* Stopped: a batch given up on (drain_timeout) may still be
         * running on the compute thread; it ends with the process, and
         * what it uses stays allocated until then. */
        return status;
    }
    wn_actor_destroy(actor);
    wn_planner_destroy(planner);
    wn_arena_close(run.arena);
    wn_loop_destroy(run.loop);
    wn_store_destroy(run.store);
    MPI_Comm_free(&run.group_comm);
    return status;
}
