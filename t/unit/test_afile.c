/* test_afile.c - the atomic-file writer (winnow/file.h): a commit
 * replaces the target whole and leaves no temporary file; until then, and
 * after an abort, a failure or a kill, the target is as it was; each
 * failing step is reported naming the file, with the free space when the
 * file system is full (a small tmpfs, where this test may mount one). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "winnow/file.h"
#include "tap.h"

static char dir[] = "/tmp/winnow-afile.XXXXXX";

static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
    return b;
}

/* The file's whole content ("" when missing: see exists()). */
static const char *content(const char *path)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        BAIL_OUT("cannot write %s", path);
}

/* Entries of folder d whose names hold "tmp" (the writer's temporary
 * files: NAME.tmp.PID, NAME.winnow-tmp). */
static int temporaries(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        n += strstr(e->d_name, "tmp") != NULL;
    if (dp)
        closedir(dp);
    return n;
}

static void test_commit(void)
{
    const char *path = in_dir("out.txt");
    wn_error_t err = {{0}};
    put(path, "old\n");
    struct wn_afile *a = wn_afile_open(path, 0, 0666, &err);
    ok(a != NULL, "open (%s)", err.text);
    if (!a)
        BAIL_OUT("cannot go on");
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    is(wn_afile_tmpname(a), tmp, "the temporary file is PATH.tmp.PID");
    ok(wn_afile_write(a, "new ", 4, &err) == 0 && wn_afile_write(a, "text\n", 5, &err) == 0,
       "two writes");
    is(content(path), "old\n", "before the commit the target is the old file");
    is(content(tmp), "new text\n", "... and the new text is in the temporary file");
    ok(wn_afile_commit(a, &err) == 0, "commit (%s)", err.text);
    is(content(path), "new text\n", "after it the target is the new file");
    cmp_ok(temporaries(dir), ==, 0, "no temporary file is left");

    /* A new file, written through the stream, mode as asked (umask 022). */
    const char *fresh = in_dir("fresh.txt");
    a = wn_afile_open(fresh, 0, 0640, &err);
    FILE *f = a ? wn_afile_stream(a, &err) : NULL;
    ok(f && fprintf(f, "%s %d\n", "line", 42) > 0 && wn_afile_commit(a, &err) == 0,
       "a new file through the stream (%s)", err.text);
    struct stat st;
    is(content(fresh), "line 42\n", "... holds what was printed");
    unsigned mode = stat(fresh, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0;
    ok(mode == 0640, "... with mode 0640 (%o)", mode);

    /* Through the descriptor, as zlib is given it. */
    a = wn_afile_open(path, WN_AFILE_FIXED_TMP, 0666, &err);
    ok(a && !strcmp(wn_afile_tmpname(a), in_dir("out.txt.winnow-tmp")),
       "WN_AFILE_FIXED_TMP: the temporary file is PATH.winnow-tmp");
    ok(a && write(wn_afile_fd(a), "by fd\n", 6) == 6 && wn_afile_commit(a, &err) == 0 &&
           !strcmp(content(path), "by fd\n") && temporaries(dir) == 0,
       "written through the descriptor, committed, nothing left (%s)", err.text);
}

static void test_abort(void)
{
    const char *path = in_dir("out.txt");
    wn_error_t err = {{0}};
    put(path, "old\n");
    struct wn_afile *a = wn_afile_open(path, 0, 0666, &err);
    ok(a && wn_afile_write(a, "half", 4, &err) == 0, "a write");
    errno = EPERM;
    wn_afile_abort(a);
    cmp_ok(errno, ==, EPERM, "abort keeps errno");
    is(content(path), "old\n", "abort: the target is the old file");
    cmp_ok(temporaries(dir), ==, 0, "abort: no temporary file is left");

    const char *none = in_dir("never.txt");
    a = wn_afile_open(none, WN_AFILE_FIXED_TMP, 0666, &err);
    FILE *f = a ? wn_afile_stream(a, &err) : NULL;
    ok(f && fputs("x", f) >= 0, "a new file through the stream");
    wn_afile_abort(a);
    ok(!exists(none) && temporaries(dir) == 0, "abort of a new file: no target, no temporary");
    wn_afile_abort(NULL);
    ok(1, "abort of NULL (a failed open) does nothing");
}

static void test_failures(void)
{
    wn_error_t err = {{0}};
    const char *missing = in_dir("no/such/folder/x.txt");
    errno = 0;
    struct wn_afile *a = wn_afile_open(missing, 0, 0666, &err);
    ok(!a && errno == ENOENT && strstr(err.text, missing) && strstr(err.text, ".tmp.") &&
           strstr(err.text, ": cannot create: No such file or directory"),
       "a missing folder: ENOENT, the file named (%s)", err.text);
    err.text[0] = '\0';
    ok(wn_mkdir_parent(missing, &err) == 0 && (a = wn_afile_open(missing, 0, 0666, &err)) &&
           wn_afile_commit(a, &err) == 0 && exists(missing),
       "wn_mkdir_parent makes the folders, then it works (%s)", err.text);
    put(in_dir("plain"), "a file\n");
    ok(wn_mkdir_parent(in_dir("plain/sub/x.txt"), &err) < 0 &&
           strstr(err.text, in_dir("plain/sub")),
       "wn_mkdir_parent under a file: refused, naming "
       "the folder (%s)",
       err.text);
    ok(wn_mkdir_parent("bare.txt", &err) == 0, "wn_mkdir_parent of a bare name: nothing to do");

    /* A rename that fails: the target is a folder that is not empty. */
    const char *target = in_dir("adir");
    if (mkdir(target, 0755) != 0)
        BAIL_OUT("mkdir %s", target);
    put(in_dir("adir/inside"), "kept\n");
    a = wn_afile_open(target, 0, 0666, &err);
    ok(a && wn_afile_write(a, "x", 1, &err) == 0, "writing over a folder starts");
    errno = 0;
    int rc = a ? wn_afile_commit(a, &err) : 0;
    char want[600];
    snprintf(want, sizeof(want), "%s.tmp.%ld: cannot rename into place: ", target, (long)getpid());
    ok(rc < 0 && errno == EISDIR && strstr(err.text, want),
       "a failing rename: the file named, the step and the cause (%s)", err.text);
    ok(!strcmp(content(in_dir("adir/inside")), "kept\n") && temporaries(dir) == 0,
       "... the target is as it was, no temporary file is left");

    /* A write cut short by the file size limit (RLIMIT_FSIZE). */
    const char *path = in_dir("big.txt");
    put(path, "old\n");
    struct rlimit old_lim, lim;
    signal(SIGXFSZ, SIG_IGN);
    if (getrlimit(RLIMIT_FSIZE, &old_lim) != 0)
        BAIL_OUT("getrlimit");
    a = wn_afile_open(path, 0, 0666, &err);
    lim = old_lim;
    lim.rlim_cur = 1000;
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        BAIL_OUT("setrlimit");
    char block[4096];
    memset(block, 'z', sizeof(block));
    errno = 0;
    rc = a ? wn_afile_write(a, block, sizeof(block), &err) : 0;
    int e = errno;
    if (setrlimit(RLIMIT_FSIZE, &old_lim) != 0)
        BAIL_OUT("setrlimit");
    ok(rc < 0 && e == EFBIG && strstr(err.text, path) && strstr(err.text, "cannot write"),
       "a failing write: EFBIG, the file named (%s)", err.text);
    char said[sizeof(err.text)];
    memcpy(said, err.text, sizeof(said));
    errno = 0;
    rc = a ? wn_afile_commit(a, &err) : 0;
    ok(rc < 0 && errno == EFBIG && !strcmp(err.text, said),
       "... a commit after it refuses, keeping the write's message and errno");
    ok(!strcmp(content(path), "old\n") && temporaries(dir) == 0,
       "... the target is as it was, no temporary file is left");
}

/* A full file system: a 64 KiB tmpfs (root only; skipped elsewhere). */
static void test_full_disk(void)
{
    const char *fs = in_dir("fs");
    if (mkdir(fs, 0755) != 0)
        BAIL_OUT("mkdir %s", fs);
    if (mount("tmpfs", fs, "tmpfs", 0, "size=64k") != 0) {
        skip(5, "cannot mount a small tmpfs (needs root)");
        rmdir(fs);
        return;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s/full.txt", fs);
    put(path, "old\n");
    wn_error_t err = {{0}};
    struct wn_afile *a = wn_afile_open(path, 0, 0666, &err);
    static char block[256 << 10];
    memset(block, 'y', sizeof(block));
    errno = 0;
    int rc = a ? wn_afile_write(a, block, sizeof(block), &err) : 0;
    int e = errno;
    ok(rc < 0 && e == ENOSPC, "a write past the file system's room: ENOSPC (%s)", err.text);
    ok(strstr(err.text, path) && strstr(err.text, ".tmp.") &&
           strstr(err.text, ": cannot write: No space left on device (256.0 KiB to write; ") &&
           strstr(err.text, "free on its file system)"),
       "... the file, the size to write and the free space named");
    wn_afile_abort(a);
    ok(!strcmp(content(path), "old\n"), "... the target is as it was");
    ok(temporaries(fs) == 0, "... no temporary file is left (the room is given back)");
    ok(!strstr(err.text, "(256.0 KiB to write; 0 B free"),
       "... the free space named is what is left once the temporary file is given back");
    if (umount(fs) != 0)
        diag("umount %s: %s", fs, strerror(errno));
    rmdir(fs);
}

/* A writer killed before its commit (SIGKILL: nothing of it runs). */
static void test_killed(void)
{
    const char *path = in_dir("killed.txt");
    put(path, "old\n");
    for (int fixed = 0; fixed <= 1; fixed++) {
        int ready[2];
        if (pipe(ready) != 0)
            BAIL_OUT("pipe");
        pid_t pid = fork();
        if (pid < 0)
            BAIL_OUT("fork");
        if (pid == 0) {
            struct wn_afile *a = wn_afile_open(path, fixed ? WN_AFILE_FIXED_TMP : 0, 0666, NULL);
            if (a && wn_afile_write(a, "half of the new", 15, NULL) == 0)
                (void)!write(ready[1], "y", 1);
            pause();
            _exit(1);
        }
        close(ready[1]);
        char c = 0;
        ok(read(ready[0], &c, 1) == 1, "%s: the writer has written part of the file",
           fixed ? "fixed name" : "PID name");
        close(ready[0]);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "... killed");
        is(content(path), "old\n", "... the target is the old file");
        char tmp[600];
        if (fixed)
            snprintf(tmp, sizeof(tmp), "%s.winnow-tmp", path);
        else
            snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)pid);
        is(content(tmp), "half of the new", "... its part is in its temporary file");
        if (!fixed) {
            unlink(tmp); /* for the folder's owner, as the checkpoint does */
            continue;
        }
        /* The next writer of the same target reuses the fixed name. */
        wn_error_t err = {{0}};
        struct wn_afile *a = wn_afile_open(path, WN_AFILE_FIXED_TMP, 0666, &err);
        ok(a && wn_afile_write(a, "new\n", 4, &err) == 0 && wn_afile_commit(a, &err) == 0 &&
               !strcmp(content(path), "new\n") && temporaries(dir) == 0,
           "... the next writer truncates it and leaves no stray file (%s)", err.text);
    }
}

static void clean(const char *d)
{
    DIR *dp = opendir(d);
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
        if (unlink(p) != 0)
            clean(p);
    }
    if (dp)
        closedir(dp);
    rmdir(d);
}

int main(void)
{
    plan(NO_PLAN);
    umask(022);
    if (!mkdtemp(dir))
        BAIL_OUT("mkdtemp");
    test_commit();
    test_abort();
    test_failures();
    test_full_disk();
    test_killed();
    clean(dir);
    return done_testing();
}
