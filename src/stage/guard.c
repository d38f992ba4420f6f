/* guard.c - see guard.h; and wn_stage_add_output (winnow/stage.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsio.h"
#include "stage/guard.h"
#include "stage/stage_impl.h"

int wn_stage_add_output(struct wn_stage *st, const char *path, enum wn_output_kind kind,
                        wn_error_t *err)
{
    if (!path || !*path || (kind != WN_OUTPUT_FILE && kind != WN_OUTPUT_DIR)) {
        errno = EINVAL;
        return wn_errprintf(err, "wn_stage_add_output: an empty path or an unknown kind");
    }
    struct wn_stage_output *o = realloc(st->outputs, (st->noutputs + 1) * sizeof(*o));
    if (!o)
        return wn_errprintf(err, "out of memory");
    st->outputs = o;
    if (!(o[st->noutputs].path = strdup(path)))
        return wn_errprintf(err, "out of memory");
    o[st->noutputs++].kind = kind;
    return 0;
}

/* The real path of path, which need not exist: its nearest existing
 * folder's real path, then the rest as written (malloc'd; NULL with errno
 * set). */
static char *resolve(const char *path)
{
    char *real = realpath(path, NULL);
    if (real)
        return real;
    if (errno != ENOENT)
        return NULL;
    size_t n = strlen(path);
    char *head = strdup(path);
    if (!head)
        return NULL;
    /* Cut components off the end until what is left exists. */
    for (;;) {
        while (n > 0 && head[n - 1] == '/')
            n--;
        while (n > 0 && head[n - 1] != '/')
            n--;
        head[n] = '\0';
        if (n == 0) {
            real = realpath(".", NULL);
            break;
        }
        if ((real = realpath(head, NULL)) || errno != ENOENT)
            break;
    }
    free(head);
    if (!real)
        return NULL;
    /* The rest, without "." components and doubled slashes. */
    size_t rl = strlen(real), tl = strlen(path + n);
    char *out = malloc(rl + tl + 2);
    if (!out) {
        free(real);
        return NULL;
    }
    memcpy(out, real, rl + 1);
    free(real);
    char *rest = strdup(path + n), *save = NULL;
    if (!rest) {
        free(out);
        return NULL;
    }
    for (char *c = strtok_r(rest, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            char *slash = strrchr(out, '/');
            if (slash && slash != out)
                *slash = '\0';
            else
                strcpy(out, "/");
            continue;
        }
        size_t ol = strlen(out);
        snprintf(out + ol, rl + tl + 2 - ol, "%s%s", out[ol - 1] == '/' ? "" : "/", c);
    }
    free(rest);
    return out;
}

/* Whether path is dir or below it. */
static int within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return 1;
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

int wn_guard_inputs(const struct wn_inputs *in, const struct wn_guard_path *outs, size_t n,
                    wn_error_t *err)
{
    size_t nfiles = wn_inputs_count(in), nfolders = wn_inputs_nfolders(in);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        if (!outs[k].path || !*outs[k].path)
            continue;
        char *r = resolve(outs[k].path);
        if (!r && (errno == ENOTDIR || errno == ENOENT))
            continue; /* a file where a folder must be: wn_guard_writable says so */
        if (!r) {
            rc = wn_errprintf(err, "%s '%s': %s", outs[k].what, outs[k].path, strerror(errno));
            break;
        }
        /* A file's folder: the only place a glob or a named file's
         * neighbours are listed from. */
        const char *slash = strrchr(r, '/');
        size_t rdir = slash == r ? 1 : (size_t)(slash - r), beside = SIZE_MAX;
        errno = EEXIST;
        for (size_t i = 0; i < nfiles && rc == 0; i++) {
            const char *f = wn_inputs_realpath(in, i);
            if (!f)
                continue;
            if (!strcmp(r, f))
                rc = wn_errprintf(err,
                                  "%s '%s' is the input file '%s': winnow never writes "
                                  "over its input",
                                  outs[k].what, outs[k].path, wn_inputs_file(in, i)->path);
            else if (within(f, r))
                rc = wn_errprintf(err,
                                  "%s '%s' holds the input file '%s': winnow never "
                                  "writes over its input; write outputs elsewhere",
                                  outs[k].what, outs[k].path, wn_inputs_file(in, i)->path);
            else if (outs[k].kind == WN_OUTPUT_FILE && beside == SIZE_MAX && !strncmp(f, r, rdir) &&
                     f[rdir] == '/' && !strchr(f + rdir + 1, '/'))
                beside = i;
        }
        if (rc == 0 && beside != SIZE_MAX)
            rc = wn_errprintf(err,
                              "%s '%s' is beside the input file '%s': a later run "
                              "listing that folder would take it for input; write "
                              "outputs elsewhere",
                              outs[k].what, outs[k].path, wn_inputs_file(in, beside)->path);
        for (size_t i = 0; i < nfolders && rc == 0; i++) {
            const char *d = wn_inputs_folder(in, i);
            if (within(r, d))
                rc = wn_errprintf(err,
                                  "%s '%s' lies in the input directory '%s': a later "
                                  "run listing it would take winnow's outputs for input; "
                                  "write outputs (output, rejects, checkpoint) outside it",
                                  outs[k].what, outs[k].path, d);
        }
        free(r);
    }
    return rc;
}

/* Creates and removes a file in dir: the only sure test that it can be
 * written (as root, access() says yes to a read-only mount's folders). */
static int probe(const char *dir, const char *what, const char *path, wn_error_t *err)
{
    char tmpl[PATH_MAX];
    if (snprintf(tmpl, sizeof(tmpl), "%s/.winnow-probe-XXXXXX", dir) >= (int)sizeof(tmpl)) {
        errno = ENAMETOOLONG;
        return wn_errprintf(err, "%s '%s': path too long", what, path);
    }
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return wn_errprintf(err, "%s '%s': cannot write in '%s': %s", what, path, dir,
                            strerror(errno));
    close(fd);
    unlink(tmpl);
    return 0;
}

int wn_guard_writable(const struct wn_guard_path *outs, size_t n, wn_error_t *err)
{
    for (size_t k = 0; k < n; k++) {
        const char *p = outs[k].path, *what = outs[k].what;
        struct stat sb;
        if (!p || !*p)
            continue;
        int exists = stat(p, &sb) == 0;
        if (!exists && errno != ENOENT)
            return wn_errprintf(err, "%s '%s': %s", what, p, strerror(errno));
        errno = exists && S_ISDIR(sb.st_mode) ? EISDIR : ENOTDIR;
        if (outs[k].kind == WN_OUTPUT_DIR) {
            if (exists && !S_ISDIR(sb.st_mode))
                return wn_errprintf(err, "%s '%s' is a file, not a folder", what, p);
            if (!exists && wn_mkdir_p(p, err) < 0)
                return wn_errprefix(err, "%s '%s'", what, p);
            if (probe(p, what, p, err) < 0)
                return -1;
            continue;
        }
        if (exists && S_ISDIR(sb.st_mode))
            return wn_errprintf(err, "%s '%s' is a folder, not a file", what, p);
        if (exists && !S_ISREG(sb.st_mode))
            continue; /* /dev/stdout and the like: writable or not, not ours to test */
        const char *slash = strrchr(p, '/');
        char *dir = !slash       ? strdup(".")
                    : slash == p ? strdup("/")
                                 : strndup(p, (size_t)(slash - p));
        if (!dir)
            return wn_errprintf(err, "out of memory");
        int rc = stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)
                     ? (errno = ENOTDIR, wn_errprintf(err,
                                                      "%s '%s': '%s' is a file, not a "
                                                      "folder",
                                                      what, p, dir))
                 : wn_mkdir_p(dir, err) < 0 ? wn_errprefix(err, "%s '%s'", what, p)
                                            : probe(dir, what, p, err);
        free(dir);
        if (rc < 0)
            return -1;
    }
    return 0;
}
