/* test_lock.c - one run at a time in a folder (src/ckpt/lock.c): a second
 * taker (another process) is refused naming the holder's pid and host; a
 * released lock leaves an empty file; a lock whose holder died is taken
 * over with a warning; on a file system without record locks the file's
 * content decides (a live holder on this host, or any on another host,
 * keeps the folder; a dead one's is taken over).
 *
 * The file system without record locks is this program's own fcntl(),
 * which the library's call resolves to (an executable's symbols come
 * first): with no_record_locks set, F_SETLK fails with ENOLCK as on such a
 * file system, else the call goes to the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt/lock.h"
#include "tap.h"

static int no_record_locks;

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (no_record_locks && (cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK)) {
        errno = ENOLCK;
        return -1;
    }
    return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

static char dir[] = "/tmp/winnow-lock.XXXXXX";
static char path[256], host[256];

static char *slurp(const char *p)
{
    static char buf[1024];
    FILE *f = fopen(p, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static void spit(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        BAIL_OUT("write %s", p);
}

/* wn_lock_take with what it printed on stderr (warnings) in warn. */
static struct wn_lock *take(char *warn, size_t len, wn_error_t *err)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    memset(err, 0, sizeof(*err));
    struct wn_lock *l = wn_lock_take(dir, "lock", "checkpoint", err);
    int e = errno;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    snprintf(warn, len, "%s", slurp(tmp));
    unlink(tmp);
    errno = e;
    return l;
}

/* In a child process: 0 when wn_lock_take is refused with EBUSY and a
 * message containing want, 1 otherwise; the message goes to fd out. */
static int child_refused(const char *want, int out)
{
    wn_error_t err = {{0}};
    struct wn_lock *l = wn_lock_take(dir, "lock", "checkpoint", &err);
    int e = errno;
    if (write(out, err.text, strlen(err.text) + 1) < 0)
        return 1;
    return !l && e == EBUSY && strstr(err.text, want) ? 0 : 1;
}

/* Runs child_refused in a child; its message into msg. */
static int refused_in_child(const char *want, char *msg, size_t len)
{
    int p[2];
    if (pipe(p) != 0)
        BAIL_OUT("pipe");
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        _exit(child_refused(want, p[1]));
    }
    close(p[1]);
    ssize_t n = read(p[0], msg, len - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
    plan(NO_PLAN);
    if (!mkdtemp(dir))
        BAIL_OUT("mkdtemp");
    snprintf(path, sizeof(path), "%s/lock", dir);
    if (gethostname(host, sizeof(host)) != 0)
        BAIL_OUT("gethostname");
    wn_error_t err;
    char warn[1024], want[512], msg[1024];

    struct wn_lock *l = take(warn, sizeof(warn), &err);
    ok(l && !warn[0], "taken, no warning");
    snprintf(want, sizeof(want), "checkpoint %s is in use by pid %ld on host %s (since ", dir,
             (long)getpid(), host);
    ok(refused_in_child(want, msg, sizeof(msg)), "another process is refused: %s", msg);
    /* (Reading the file here closes a descriptor of it, which drops this
     * process's lock: so only now.) */
    char line[512];
    snprintf(line, sizeof(line), "%s %ld ", host, (long)getpid());
    ok(!strncmp(slurp(path), line, strlen(line)), "the lock file names this host and pid: %s",
       slurp(path));

    wn_lock_release(l);
    struct stat st;
    ok(stat(path, &st) == 0 && st.st_size == 0, "released: the lock file stays, empty");

    /* A holder killed: the kernel drops its lock, its line stays. */
    pid_t c = fork();
    if (c == 0) {
        wn_error_t e2 = {{0}};
        _exit(wn_lock_take(dir, "lock", "checkpoint", &e2) ? 0 : 1); /* no release */
    }
    int cst = 0;
    waitpid(c, &cst, 0);
    snprintf(line, sizeof(line), "%s %ld ", host, (long)c);
    ok(WIFEXITED(cst) && WEXITSTATUS(cst) == 0 && !strncmp(slurp(path), line, strlen(line)),
       "a child took the lock and died holding it");
    l = take(warn, sizeof(warn), &err);
    snprintf(want, sizeof(want), "checkpoint %s: taking over the lock of pid %ld on %s (since ",
             dir, (long)c, host);
    ok(l && strstr(warn, want) && strstr(warn, "which is gone"),
       "its lock is taken over with a warning: %s", warn);
    wn_lock_release(l);

    /* No record locks: the content decides. */
    no_record_locks = 1;
    int gate[2];
    if (pipe(gate) != 0)
        BAIL_OUT("pipe");
    pid_t live = fork();
    if (live == 0) {
        char b;
        close(gate[1]);
        (void)!read(gate[0], &b, 1); /* until the parent closes the pipe */
        _exit(0);
    }
    close(gate[0]);
    snprintf(line, sizeof(line), "%s %ld 1764000000\n", host, (long)live);
    spit(path, line);
    l = take(warn, sizeof(warn), &err);
    snprintf(want, sizeof(want), "in use by pid %ld on host %s", (long)live, host);
    ok(!l && errno == EBUSY && strstr(err.text, want) && strstr(err.text, "no record locks"),
       "no record locks, a live holder on this host: refused (%s)", err.text);
    close(gate[1]);
    waitpid(live, NULL, 0);
    l = take(warn, sizeof(warn), &err);
    snprintf(want, sizeof(want), "taking over the lock of pid %ld on %s", (long)live, host);
    ok(l && strstr(warn, want), "... once it is gone: taken over with a warning (%s)", warn);
    wn_lock_release(l);
    ok(stat(path, &st) == 0 && st.st_size == 0, "... and released, empty");

    spit(path, "node-elsewhere 4242 1764000000\n");
    l = take(warn, sizeof(warn), &err);
    ok(!l && errno == EBUSY && strstr(err.text, "in use by pid 4242 on host node-elsewhere") &&
           strstr(err.text, "remove") && strstr(err.text, path),
       "no record locks, a holder on another host: refused, the way out named (%s)", err.text);

    spit(path, "");
    l = take(warn, sizeof(warn), &err);
    ok(l && !warn[0], "no record locks, an empty lock file: taken, no warning");
    wn_lock_release(l);
    no_record_locks = 0;

    l = wn_lock_take("/nonexistent/winnow-dir", "lock", "output folder", &err);
    ok(!l && strstr(err.text, "output folder /nonexistent/winnow-dir") &&
           strstr(err.text, "/nonexistent/winnow-dir/lock"),
       "a folder that is not there: the lock file named (%s)", err.text);

    unlink(path);
    rmdir(dir);
    return done_testing();
}
