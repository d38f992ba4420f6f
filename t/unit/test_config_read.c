/* test_config_read.c - what pipeline file is read at all
 * (src/config/config_read.c): a device, a directory, more than 16 MiB, a NUL
 * byte; a pipe read up to the limit; and the YAML shape limits of
 * config.h (depth, entries, anchors, nodes once aliases are expanded),
 * each refused quickly at its FILE:LINE:COL while what stays within them
 * is not. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "tap.h"
#include "winnow/params.h"

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static struct wn_pipeline_config *load_str(const char *text, wn_error_t *err)
{
    struct wn_pipeline_config *cfg = NULL;
    if (wn_config_load_string(text, "t.yaml", &cfg, err) < 0)
        return NULL;
    return cfg;
}

/* A string of n copies of unit between head and tail, malloc'd. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    if (!s)
        BAIL_OUT("out of memory");
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + n * ul, tail, tl + 1);
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Loads text, expecting an error that starts "t.yaml:" and holds msg;
 * returns the seconds it took. */
static double expect_shape_error(const char *text, const char *msg, const char *name)
{
    wn_error_t err = {{0}};
    double t0 = now_s();
    errno = 0;
    struct wn_pipeline_config *cfg = load_str(text, &err);
    double dt = now_s() - t0;
    if (!ok(!cfg && errno == EINVAL && !strncmp(err.text, "t.yaml:", 7) && contains(err.text, msg),
            "%s: refused", name))
        diag("  got: %s\n#  want: %s", err.text, msg);
    wn_config_free(cfg);
    return dt;
}

/* The limits on the YAML's shape (WN_CONFIG_MAX_*): each is refused at
 * the event past it, quickly, and what stays within them is not. */
static void test_shape(void)
{
    /* 100,000 nested '[' took 20 to 33 s in libyaml's loader. */
    char *deep = repeat("", "[", 100000, "\n");
    double dt =
        expect_shape_error(deep, "t.yaml:1:65: nested more than 64 levels deep", "100000 nested [");
    ok(dt < 10, "... in %.3f s (the loader alone took 20 s and more)", dt);
    free(deep);
    char *block = malloc(1000 * 1010);
    size_t n = 0;
    for (int i = 0; i < 1000 && block; i++)
        n += (size_t)sprintf(block + n, "%*sk%d:\n", 2 * i, "", i);
    expect_shape_error(block ? block : "", "t.yaml:65:129: nested more than 64 levels",
                       "1000 nested block mappings");
    free(block);
    /* 64 levels are within the limit: the error is about the key. */
    char *open = repeat("name: x\nstages: [{type: noop}]\nzz: ", "[", 63, "");
    char *at64 = repeat(open, "]", 63, "\n");
    expect_shape_error(at64, "t.yaml:3:1: unknown key 'zz'", "64 levels: not refused for that");
    free(open);
    free(at64);

    /* The keys need not differ: the count is checked first. */
    const char *head = "name: x\nstages: [{type: noop}]\nexecutor:\n";
    char *wide = repeat(head, "  k: 1\n", 1025, "");
    expect_shape_error(wide, "t.yaml:4:3: this mapping has more than 1024 keys",
                       "a mapping of 1025 keys");
    free(wide);
    wide = repeat(head, "  k: 1\n", 1024, "");
    expect_shape_error(wide, "t.yaml:5:3: executor: duplicate key 'k'",
                       "1024 keys: not refused for that");
    free(wide);
    char *stages = repeat("name: x\nstages:\n", "  - {type: noop}\n", 1025, "");
    expect_shape_error(stages, "t.yaml:3:3: this list has more than 1024 items", "1025 stages");
    free(stages);

    /* Billion laughs: 10 aliases of 10 aliases of ... of 10 scalars. */
    char laughs[4096];
    n = (size_t)sprintf(laughs, "name: x\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        n += (size_t)sprintf(laughs + n, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++)
            n += (size_t)sprintf(laughs + n, "%s*a%d", k ? ", " : "", i - 1);
        n += (size_t)sprintf(laughs + n, "]\n");
    }
    sprintf(laughs + n, "stages: [{type: noop}]\n");
    dt = expect_shape_error(laughs, "t.yaml:6:", "billion laughs");
    ok(dt < 10, "... in %.3f s", dt);
    expect_shape_error(laughs, "stands for more than 100000 YAML nodes once its aliases",
                       "... saying why");
    char anchors[8192];
    n = (size_t)sprintf(anchors, "name: x\n");
    for (int i = 0; i < 257; i++)
        n += (size_t)sprintf(anchors + n, "a%d: &a%d 1\n", i, i);
    expect_shape_error(anchors, "t.yaml:258:7: more than 256 anchors", "257 anchors");

    /* An alias used as meant: parameters shared by two stages. */
    wn_error_t err = {{0}};
    struct wn_pipeline_config *cfg =
        load_str("name: x\nstages:\n  - {name: a, type: sleep, params: &p {ms_per_item: 3}}\n"
                 "  - {name: b, type: sleep, params: *p}\n",
                 &err);
    ok(cfg && !strcmp(wn_params_str(cfg->stages[1].params, "ms_per_item"), "3"),
       "an alias shares parameters between stages");
    if (!cfg)
        diag("%s", err.text);
    wn_config_free(cfg);
}

static int write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int short_write = fwrite(text, 1, len, f) != len;
    return fclose(f) != 0 || short_write ? -1 : 0;
}

static void expect_read_error(const char *path, int eno, const char *msg, const char *name)
{
    struct wn_pipeline_config *cfg = NULL;
    wn_error_t err = {{0}};
    errno = 0;
    double t0 = now_s();
    int rc = wn_config_load(path, &cfg, &err);
    double dt = now_s() - t0;
    if (!ok(rc < 0 && !cfg && errno == eno && contains(err.text, msg) && dt < 10,
            "%s: refused (%.3f s)", name, dt))
        diag("  got (errno %d): %s\n#  want (errno %d): %s", errno, err.text, eno, msg);
}

/* A child process that writes text and then `extra` bytes of '#' into
 * the FIFO at path; its pid. */
static pid_t fifo_writer(const char *path, const char *text, size_t extra)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    FILE *f = fopen(path, "wb");
    if (!f)
        _exit(1);
    fputs(text, f);
    char buf[65536];
    memset(buf, '#', sizeof(buf));
    /* The reader stops at the limit and closes: a failed write ends it. */
    for (size_t done = 0; done < extra; done += sizeof(buf))
        if (fwrite(buf, 1, sizeof(buf), f) != sizeof(buf))
            break;
    fclose(f);
    _exit(0);
}

/* What the file is (wn_config_read_file): a device, a directory, more
 * than 16 MiB or a NUL byte are refused before any YAML is parsed; a
 * pipe is read up to the limit. */
static void test_reading(void)
{
    signal(SIGPIPE, SIG_IGN);
    expect_read_error("/dev/zero", EINVAL,
                      "/dev/zero: a character device; a pipeline file is "
                      "a regular file (or a pipe)",
                      "/dev/zero");
    char dir[] = "/tmp/winnow-config.XXXXXX";
    if (!mkdtemp(dir))
        BAIL_OUT("mkdtemp: %s", strerror(errno));
    expect_read_error(dir, EINVAL, ": a directory; a pipeline file is", "a directory");
    char path[4200];
    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    /* Sparse: 17 MiB that take no room. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ok(fd >= 0 && ftruncate(fd, 17 << 20) == 0 && close(fd) == 0, "a 17 MiB file");
    expect_read_error(path, EFBIG,
                      "big.yaml: 17825792 bytes; a pipeline file may have at most "
                      "16 MiB",
                      "17 MiB");
    unlink(path);
    snprintf(path, sizeof(path), "%s/nul.yaml", dir);
    static const char nul[] = "name: x\nstages: [{type: noop}]\n  \xc3\xa9\0garbage";
    ok(write_file(path, nul, sizeof(nul) - 1) == 0, "a file with a NUL byte");
    expect_read_error(path, EINVAL, "nul.yaml:3:4: a NUL byte; a pipeline file is YAML text",
                      "a NUL byte, named by line and column");
    unlink(path);

    snprintf(path, sizeof(path), "%s/fifo", dir);
    ok(mkfifo(path, 0600) == 0, "a FIFO");
    pid_t pid = fifo_writer(path, "name: piped\nstages: [{type: noop}]\n", 0);
    struct wn_pipeline_config *cfg = NULL;
    wn_error_t err = {{0}};
    ok(wn_config_load(path, &cfg, &err) == 0 && cfg && !strcmp(cfg->name, "piped"),
       "a pipeline read from a pipe");
    if (!cfg)
        diag("%s", err.text);
    wn_config_free(cfg);
    waitpid(pid, NULL, 0);
    pid = fifo_writer(path, "name: endless\n", (size_t)64 << 20);
    expect_read_error(path, EFBIG,
                      "fifo: more than 16 MiB; a pipeline file has a few KiB (does "
                      "this pipe ever end?)",
                      "a pipe that goes on past 16 MiB");
    waitpid(pid, NULL, 0);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_shape();
    test_reading();
    return done_testing();
}
