/* exec.c - wn_exec_run: sets up the runtime on every rank, runs the event
 * loop until the planner says the run is over, and tears down.  Also the
 * process around it: the crash handler that names the rank and stage
 * before the job dies, the stop signals, and the watch on the launcher
 * (mpirun, srun) that ends a rank whose launcher has gone. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/exit.h"
#include "util/log.h"
#include "exec/runtime.h"

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

static int left_behind;   /* rank 0: wn_exec_end aborts the job */

/* Takes control messages that are still coming and drops them (the run
 * is over), so a rank whose last send waits for its receiver can leave;
 * notes the ranks that said they are leaving. */
static void drop_late_messages(struct wn_rt *rt, unsigned char *left)
{
    for (;;) {
        int flag = 0, count = 0;
        MPI_Message msg;
        MPI_Status st;
        MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, rt->comm, &flag, &msg, &st);
        if (!flag)
            return;
        MPI_Get_count(&st, MPI_BYTE, &count);
        char *buf = malloc(count > 0 ? (size_t)count : 1);
        if (!buf) {
            wn_error("out of memory taking a %d-byte message at the run's end", count);
            MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
        }
        MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        /* A LEAVING heartbeat is its rank's last message, alone or at
         * the end of a bundle. */
        size_t total = (size_t)count, len = total, off = 0;
        uint32_t tag = (uint32_t)st.MPI_TAG;
        const char *body = buf;
        while (st.MPI_TAG == WN_TAG_BUNDLE && off + 8 <= total) {
            uint32_t h[2];
            memcpy(h, buf + off, 8);
            tag = h[0];
            body = buf + off + 8;
            len = h[1] <= total - off - 8 ? h[1] : 0;
            off += 8 + (((size_t)h[1] + 7) & ~(size_t)7);
        }
        struct wn_msg_heartbeat hb;
        if (left && tag == WN_TAG_HEARTBEAT && len >= sizeof(hb)) {
            memcpy(&hb, body, sizeof(hb));
            if (hb.state == WN_HB_LEAVING && st.MPI_SOURCE < rt->size)
                left[st.MPI_SOURCE] = 1;
        }
        free(buf);
    }
}

/* Every rank out of the event loop before anything is freed: a late pull
 * must not meet a destroyed store.  Rank 0 waits WN_LEAVE_GRACE_S at
 * most, then names the ranks that did not leave and returns -1; the
 * others wait until everyone has left, or until the job is ended. */
static int leave_together(struct wn_rt *rt, int status)
{
    wn_rt_heartbeat(rt, WN_HB_LEAVING);
    unsigned char *left = rt->rank == 0 ? calloc((size_t)rt->size, 1) : NULL;
    MPI_Request req;
    MPI_Ibarrier(rt->comm, &req);
    double deadline = wn_rt_clock() + WN_LEAVE_GRACE_S;
    struct timespec nap = {0, 1000 * 1000};
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        drop_late_messages(rt, left);
        if (rt->rank == 0 && wn_rt_clock() > deadline) {
            char ranks[256] = "";
            size_t n = 0;
            int count = 0;
            for (int r = 1; r < rt->size; r++)
                if (left && !left[r]) {
                    count++;
                    if (n + 32 < sizeof(ranks))
                        n += (size_t)snprintf(ranks + n, sizeof(ranks) - n, "%s%d (%s)",
                                              n ? ", " : "", r, rt->places[r].node_name);
                }
            wn_error("rank%s %s did not leave the run within %g s of its end (stopped or "
                     "frozen, or waiting on a rank that is); ending every rank with exit "
                     "status %d%s", count == 1 ? "" : "s", count ? ranks : "(unknown)",
                     WN_LEAVE_GRACE_S, status,
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

    /* Heartbeats (loop.c): actors send, rank 0 listens. */
    rt.sent0 = wn_rt_clock();
    if (rt.size > 1 && rt.rank != 0)
        rt.hb_every = cfg->exec.heartbeat_timeout / 5;
    int ok = 1;
    if (rt.size > 1 && rt.rank == 0) {
        rt.heard = calloc((size_t)rt.size, sizeof(*rt.heard));
        rt.blocking = calloc((size_t)rt.size, 1);
        ok = rt.heard && rt.blocking;
        for (int r = 0; ok && r < rt.size; r++)
            rt.heard[r] = rt.sent0;
    }
    ok = ok && (rt.store = wn_store_create()) && wn_actor_create(&rt);
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

    if (leave_together(&rt, status) < 0) {
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
