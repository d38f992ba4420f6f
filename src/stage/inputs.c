/* inputs.c - the run's input listing (see inputs.h) and the stage API
 * over it (winnow/stage.h: wn_stage_list_inputs, wn_stage_input_file,
 * wn_stage_check_input). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/byteorder.h"
#include "util/fsio.h"
#include "stage/inputs.h"
#include "stage/stage_impl.h"
#include "winnow/file.h"

/* A listing holds at most this many files: a document id keeps 24 bits
 * for its file (stages/io/jsonl_io.h). */
#define MAX_FILES (UINT64_C(1) << 24)

struct entry {
    struct wn_input_file f; /* f.path: owned */
    char *real;             /* rank 0 only: the real path */
};

struct wn_inputs {
    struct entry *v;
    size_t n, cap;
    int listed;     /* by this process, or given (unpack) */
    int given;      /* given by rank 0: not listed here */
    char *spec;     /* what was listed */
    char *who;      /* the stage that listed it */
    char **folders; /* real paths, rank 0 only */
    size_t nfolders;
};

struct wn_inputs *wn_inputs_create(void)
{
    return calloc(1, sizeof(struct wn_inputs));
}

static void entries_free(struct entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].f.path);
        free(v[i].real);
    }
    free(v);
}

static void listing_clear(struct wn_inputs *in)
{
    entries_free(in->v, in->n);
    for (size_t i = 0; i < in->nfolders; i++)
        free(in->folders[i]);
    free(in->folders);
    free(in->spec);
    free(in->who);
    in->v = NULL;
    in->folders = NULL;
    in->spec = in->who = NULL;
    in->n = in->cap = in->nfolders = 0;
    in->listed = in->given = 0;
}

void wn_inputs_destroy(struct wn_inputs *in)
{
    if (!in)
        return;
    listing_clear(in);
    free(in);
}

size_t wn_inputs_count(const struct wn_inputs *in)
{
    return in && in->listed ? in->n : 0;
}

const struct wn_input_file *wn_inputs_file(const struct wn_inputs *in, size_t i)
{
    return in && in->listed && i < in->n ? &in->v[i].f : NULL;
}

const char *wn_inputs_realpath(const struct wn_inputs *in, size_t i)
{
    return in && in->listed && i < in->n ? in->v[i].real : NULL;
}

size_t wn_inputs_nfolders(const struct wn_inputs *in)
{
    return in ? in->nfolders : 0;
}

const char *wn_inputs_folder(const struct wn_inputs *in, size_t i)
{
    return in && i < in->nfolders ? in->folders[i] : NULL;
}

/* ---------------------------------------------------------- listing -- */

/* A growing list being made (before it replaces a listing). */
struct found {
    struct entry *v;
    size_t n, cap;
    char **folders;
    size_t nfolders, capf;
};

static void found_free(struct found *l)
{
    entries_free(l->v, l->n);
    for (size_t i = 0; i < l->nfolders; i++)
        free(l->folders[i]);
    free(l->folders);
    memset(l, 0, sizeof(*l));
}

/* Adds the real path of folder (once). */
static int add_folder(struct found *l, const char *folder, wn_error_t *err)
{
    char *real = realpath(folder, NULL);
    if (!real)
        return wn_errprintf(err, "%s: %s", folder, strerror(errno));
    for (size_t i = 0; i < l->nfolders; i++)
        if (!strcmp(l->folders[i], real)) {
            free(real);
            return 0;
        }
    if (l->nfolders == l->capf) {
        size_t cap = l->capf ? 2 * l->capf : 8;
        char **f = realloc(l->folders, cap * sizeof(*f));
        if (!f) {
            free(real);
            return wn_errprintf(err, "out of memory");
        }
        l->folders = f;
        l->capf = cap;
    }
    l->folders[l->nfolders++] = real;
    return 0;
}

/* Adds path (copied), a regular file whose stat is sb. */
static int add_file(struct found *l, const char *path, const struct stat *sb, wn_error_t *err)
{
    if (l->n == MAX_FILES) {
        errno = EFBIG;
        return wn_errprintf(err, "more than %" PRIu64 " input files", MAX_FILES);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct entry *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return wn_errprintf(err, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    struct entry *e = &l->v[l->n];
    memset(e, 0, sizeof(*e));
    if (!(e->f.path = strdup(path)))
        return wn_errprintf(err, "out of memory");
    e->f.size = (uint64_t)sb->st_size;
    e->f.mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    l->n++;
    return 0;
}

static int has_suffix(const char *name, const char *const *suffixes)
{
    if (!suffixes)
        return 1;
    size_t n = strlen(name);
    for (; *suffixes; suffixes++) {
        size_t m = strlen(*suffixes);
        if (n >= m && !strcmp(name + n - m, *suffixes))
            return 1;
    }
    return 0;
}

static int list_dir(struct found *l, const char *dir, const char *const *suffixes, wn_error_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return wn_errprintf(err, "%s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *path;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = wn_errprintf(err, "out of memory");
            break;
        }
        struct stat sb;
        if (lstat(path, &sb) < 0)
            rc = wn_errprintf(err, "%s: %s", path, strerror(errno));
        else if (S_ISDIR(sb.st_mode))
            rc = list_dir(l, path, suffixes, err);
        else if (has_suffix(e->d_name, suffixes)) {
            /* A link named like an input must lead to a file: a dangling
             * one is a file that cannot be opened. */
            if (S_ISLNK(sb.st_mode) && stat(path, &sb) < 0)
                rc = wn_errprintf(err, "%s: %s", path, strerror(errno));
            else if (S_ISREG(sb.st_mode))
                rc = add_file(l, path, &sb, err);
        }
        free(path);
        errno = 0;
    }
    if (rc == 0 && errno)
        rc = wn_errprintf(err, "%s: %s", dir, strerror(errno));
    closedir(d);
    return rc;
}

static int glob_error(const char *path, int e)
{
    (void)path, (void)e;
    return 1; /* stop: an unreadable directory would silently hide files */
}

static int list_glob(struct found *l, const char *pattern, wn_error_t *err)
{
    glob_t g;
    int grc = glob(pattern, GLOB_ERR | GLOB_NOSORT, glob_error, &g);
    if (grc == GLOB_NOMATCH)
        return 0;
    if (grc != 0) {
        errno = grc == GLOB_NOSPACE ? ENOMEM : EIO;
        return wn_errprintf(err, "%s: %s", pattern,
                            grc == GLOB_NOSPACE ? "out of memory" : "cannot read a directory");
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        struct stat sb;
        if (stat(g.gl_pathv[i], &sb) < 0)
            rc = wn_errprintf(err, "%s: %s", g.gl_pathv[i], strerror(errno));
        else if (S_ISREG(sb.st_mode))
            rc = add_file(l, g.gl_pathv[i], &sb, err);
    }
    globfree(&g);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->f.path, ((const struct entry *)b)->f.path);
}

/* XXH3-64 of the file's first and last WN_INPUT_FP_SPAN bytes (the whole
 * file when it is shorter than both). */
/* buf: 2 * WN_INPUT_FP_SPAN bytes, one buffer for the whole listing. */
static int fingerprint(struct entry *e, char *buf, wn_error_t *err)
{
    int fd = open(e->f.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wn_errprintf(err, "%s: %s", e->f.path, strerror(errno));
    uint64_t size = e->f.size;
    size_t head = size < WN_INPUT_FP_SPAN ? (size_t)size : WN_INPUT_FP_SPAN;
    size_t tail = size - head < WN_INPUT_FP_SPAN ? (size_t)(size - head) : WN_INPUT_FP_SPAN;
    size_t want = head + tail, got = 0;
    int rc = 0;
    while (got < want) {
        off_t at = got < head ? (off_t)got : (off_t)(size - tail + (got - head));
        size_t n = got < head ? head - got : want - got;
        ssize_t k = pread(fd, buf + got, n, at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? wn_errprintf(err, "%s: %s", e->f.path, strerror(errno))
                       : wn_errprintf(err,
                                      "%s: shorter than its %" PRIu64 " bytes while "
                                      "listed (is it being written?)",
                                      e->f.path, size);
            break;
        }
        got += (size_t)k;
    }
    if (rc == 0)
        e->f.fingerprint = XXH3_64bits(buf, want);
    close(fd);
    return rc;
}

/* The files of spec into l, sorted, fingerprinted, with real paths and
 * the searched folders. */
static int list_spec(struct found *l, const char *spec, const char *const *suffixes,
                     wn_error_t *err)
{
    struct stat sb;
    int rc;
    if (!*spec) {
        errno = EINVAL;
        return wn_errprintf(err, "the input is empty");
    }
    if (strpbrk(spec, "*?["))
        rc = list_glob(l, spec, err);
    else if (stat(spec, &sb) < 0)
        rc = wn_errprintf(err, "%s: %s", spec, strerror(errno));
    else if (S_ISDIR(sb.st_mode)) {
        /* Without trailing slashes, so paths read dir/name, not dir//name. */
        size_t n = strlen(spec);
        while (n > 1 && spec[n - 1] == '/')
            n--;
        char *dir = strndup(spec, n);
        rc = dir ? list_dir(l, dir, suffixes, err) : wn_errprintf(err, "out of memory");
        if (rc == 0)
            rc = add_folder(l, dir, err);
        free(dir);
    } else if (!S_ISREG(sb.st_mode)) {
        errno = EINVAL;
        rc = wn_errprintf(err, "%s: not a regular file or a directory", spec);
    } else
        rc = add_file(l, spec, &sb, err);
    if (rc == 0 && l->n == 0) {
        errno = ENOENT;
        if (suffixes && *suffixes) {
            char names[256] = "";
            size_t len = 0;
            for (const char *const *s = suffixes; *s && len < sizeof(names) - 1; s++)
                len += (size_t)snprintf(names + len, sizeof(names) - len, "%s*%s",
                                        s == suffixes ? "" : ", ", *s);
            rc = wn_errprintf(err, "input '%s': no file (looked for %s)", spec, names);
        } else
            rc = wn_errprintf(err, "input '%s': no file", spec);
    }
    if (rc < 0)
        return -1;
    qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
    char *buf = malloc(2 * WN_INPUT_FP_SPAN);
    if (!buf)
        return wn_errprintf(err, "out of memory");
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        struct entry *e = &l->v[i];
        if ((rc = fingerprint(e, buf, err)) == 0 && !(e->real = realpath(e->f.path, NULL)))
            rc = wn_errprintf(err, "%s: %s", e->f.path, strerror(errno));
    }
    free(buf);
    return rc;
}

/* The same files, in the same order? */
static int same_files(const struct wn_inputs *in, const struct found *l)
{
    if (in->n != l->n)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(in->v[i].real ? in->v[i].real : in->v[i].f.path,
                   l->v[i].real ? l->v[i].real : l->v[i].f.path))
            return 0;
    return 1;
}

int wn_inputs_list(struct wn_inputs *in, const char *who, const char *spec,
                   const char *const *suffixes, wn_error_t *err)
{
    if (in->given)
        return 0; /* rank 0 listed and checked it */
    struct found l = {0};
    if (list_spec(&l, spec, suffixes, err) < 0) {
        found_free(&l);
        return -1;
    }
    if (in->listed) {
        int same = same_files(in, &l);
        size_t n = l.n;
        found_free(&l);
        if (same)
            return 0;
        errno = EINVAL;
        return wn_errprintf(err,
                            "input '%s' lists %zu file%s, but stage '%s' read %zu from "
                            "input '%s': a document's id holds its file's position in one "
                            "list, so every stage must read the same input (set the "
                            "pipeline's `input` and leave the stages' own unset)",
                            spec, n, n == 1 ? "" : "s", in->who, in->n, in->spec);
    }
    if (!(in->spec = strdup(spec)) || !(in->who = strdup(who))) {
        found_free(&l);
        listing_clear(in);
        return wn_errprintf(err, "out of memory");
    }
    in->v = l.v;
    in->n = l.n;
    in->cap = l.cap;
    in->folders = l.folders;
    in->nfolders = l.nfolders;
    in->listed = 1;
    return 0;
}

int wn_inputs_check(const struct wn_inputs *in, size_t i, int fd, wn_error_t *err)
{
    const struct wn_input_file *f = wn_inputs_file(in, i);
    struct stat sb;
    if (!f) {
        errno = EINVAL;
        return wn_errprintf(err, "input file %zu: not in the run's list of %zu", i,
                            wn_inputs_count(in));
    }
    if (fstat(fd, &sb) < 0)
        return wn_errprintf(err, "%s: %s", f->path, strerror(errno));
    int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if ((uint64_t)sb.st_size == f->size && mtime == f->mtime_ns)
        return 0;
    errno = ESTALE;
    char was[64], now[64];
    if ((uint64_t)sb.st_size != f->size) {
        snprintf(was, sizeof(was), "%" PRIu64 " bytes", f->size);
        snprintf(now, sizeof(now), "%lld", (long long)sb.st_size);
    } else {
        snprintf(was, sizeof(was), "modified at %lld.%09lld", (long long)(f->mtime_ns / 1000000000),
                 (long long)(f->mtime_ns % 1000000000));
        snprintf(now, sizeof(now), "at %lld.%09ld", (long long)sb.st_mtim.tv_sec,
                 sb.st_mtim.tv_nsec);
    }
    return wn_errprintf(err,
                        "%s changed since the run listed it (%s, now %s): document ids "
                        "hold line numbers, so a changed input cannot be read; restart the run "
                        "(removing its checkpoint) once the input stays as it is",
                        f->path, was, now);
}

/* ------------------------------------------------------------ wire -- */

/* u64 n, then per file: u64 size, i64 mtime, u64 fingerprint, u32 path
 * length, path bytes; then u32 length and the spec, u32 and the stage. */
int wn_inputs_pack(const struct wn_inputs *in, void **buf, size_t *len, wn_error_t *err)
{
    size_t n = wn_inputs_count(in), need = 8 + 8;
    for (size_t i = 0; i < n; i++)
        need += 28 + strlen(in->v[i].f.path);
    if (n)
        need += strlen(in->spec) + strlen(in->who);
    unsigned char *b = malloc(need), *p = b;
    if (!b)
        return wn_errprintf(err, "out of memory");
    wn_st64_(p, n);
    p += 8;
    for (size_t i = 0; i < n; i++) {
        const struct wn_input_file *f = &in->v[i].f;
        uint32_t l = (uint32_t)strlen(f->path);
        wn_st64_(p, f->size);
        wn_st64_(p + 8, (uint64_t)f->mtime_ns);
        wn_st64_(p + 16, f->fingerprint);
        wn_st32_(p + 24, l);
        memcpy(p + 28, f->path, l);
        p += 28 + l;
    }
    const char *strs[2] = {n ? in->spec : "", n ? in->who : ""};
    for (int k = 0; k < 2; k++) {
        uint32_t l = (uint32_t)strlen(strs[k]);
        wn_st32_(p, l);
        memcpy(p + 4, strs[k], l);
        p += 4 + l;
    }
    *buf = b;
    *len = (size_t)(p - b);
    return 0;
}

int wn_inputs_unpack(struct wn_inputs *in, const void *buf, size_t len, wn_error_t *err)
{
    const unsigned char *p = buf, *end = p + len;
    listing_clear(in);
    errno = EBADMSG;
    if (len < 8)
        return wn_errprintf(err, "input listing: %zu bytes, too short", len);
    uint64_t n = wn_ld64_(p);
    p += 8;
    if (n > MAX_FILES || n > len / 28)
        return wn_errprintf(err, "input listing: %" PRIu64 " files in %zu bytes", n, len);
    if (n && !(in->v = calloc((size_t)n, sizeof(*in->v))))
        return wn_errprintf(err, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        if (end - p < 28 || (size_t)(end - p) - 28 < wn_ld32_(p + 24)) {
            in->n = (size_t)i;
            listing_clear(in);
            return wn_errprintf(err, "input listing: cut short at file %" PRIu64, i);
        }
        struct wn_input_file *f = &in->v[i].f;
        uint32_t l = wn_ld32_(p + 24);
        f->size = wn_ld64_(p);
        f->mtime_ns = (int64_t)wn_ld64_(p + 8);
        f->fingerprint = wn_ld64_(p + 16);
        if (!(f->path = strndup((const char *)p + 28, l))) {
            in->n = (size_t)i;
            listing_clear(in);
            return wn_errprintf(err, "out of memory");
        }
        p += 28 + l;
    }
    in->n = (size_t)n;
    char *strs[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (end - p < 4 || (size_t)(end - p) - 4 < wn_ld32_(p)) {
            free(strs[0]);
            listing_clear(in);
            return wn_errprintf(err, "input listing: cut short");
        }
        uint32_t l = wn_ld32_(p);
        if (!(strs[k] = strndup((const char *)p + 4, l))) {
            free(strs[0]);
            listing_clear(in);
            return wn_errprintf(err, "out of memory");
        }
        p += 4 + l;
    }
    in->spec = strs[0];
    in->who = strs[1];
    in->listed = n > 0;
    in->given = 1;
    return 0;
}

/* ------------------------------------------------------------ file -- */

/* "WNINPUTS", u32 version 1, u32 0, the packed listing, XXH3-64 of all
 * bytes before it. */
static const char FILE_MAGIC[8] = {'W', 'N', 'I', 'N', 'P', 'U', 'T', 'S'};

int wn_inputs_save(const struct wn_inputs *in, const char *path, wn_error_t *err)
{
    void *packed = NULL;
    size_t len = 0;
    if (wn_inputs_pack(in, &packed, &len, err) < 0)
        return -1;
    unsigned char *buf = malloc(16 + len + 8);
    if (!buf) {
        free(packed);
        return wn_errprintf(err, "out of memory");
    }
    memcpy(buf, FILE_MAGIC, 8);
    wn_st32_(buf + 8, 1);
    wn_st32_(buf + 12, 0);
    memcpy(buf + 16, packed, len);
    wn_st64_(buf + 16 + len, XXH3_64bits(buf, 16 + len));
    free(packed);
    struct wn_afile *a = wn_afile_open(path, 0, 0644, err);
    int rc = a ? wn_afile_write(a, buf, 16 + len + 8, err) : -1;
    if (rc == 0)
        rc = wn_afile_commit(a, err);
    else
        wn_afile_abort(a);
    free(buf);
    return rc;
}

struct wn_inputs *wn_inputs_load(const char *path, wn_error_t *err)
{
    size_t len;
    unsigned char *buf = wn_read_file(path, &len, err);
    if (!buf)
        return NULL;
    struct wn_inputs *in = NULL;
    errno = EBADMSG;
    if (len < 24)
        wn_errprintf(err, "%s: %zu bytes, too short for a winnow input listing", path, len);
    else if (memcmp(buf, FILE_MAGIC, 8) || wn_ld32_(buf + 8) != 1)
        wn_errprintf(err, "%s: not a winnow input listing (version 1)", path);
    else if (XXH3_64bits(buf, len - 8) != wn_ld64_(buf + len - 8))
        wn_errprintf(err, "%s: damaged (its checksum does not match)", path);
    else if ((in = wn_inputs_create()) && wn_inputs_unpack(in, buf + 16, len - 24, err) < 0) {
        wn_inputs_destroy(in);
        in = NULL;
        wn_errprefix(err, "%s", path);
    } else if (!in) {
        wn_errprintf(err, "out of memory");
    }
    free(buf);
    return in;
}

/* ------------------------------------------------------------ diff -- */

size_t wn_inputs_diff(const struct wn_inputs *in, const struct wn_inputs *was,
                      void (*say)(const char *line, void *arg), void *arg, size_t max)
{
    size_t n = wn_inputs_count(was);
    struct wn_input_file *old = calloc(n ? n : 1, sizeof(*old));
    if (!old)
        return SIZE_MAX;
    for (size_t k = 0; k < n; k++)
        old[k] = was->v[k].f;
    size_t i = 0, j = 0, diffs = 0, m = wn_inputs_count(in);
    char line[PATH_MAX + 160];
    while (i < n || j < m) {
        int c = i == n ? 1 : j == m ? -1 : strcmp(old[i].path, in->v[j].f.path);
        line[0] = '\0';
        if (c < 0)
            snprintf(line, sizeof(line), "removed: %s", old[i++].path);
        else if (c > 0)
            snprintf(line, sizeof(line), "added: %s", in->v[j++].f.path);
        else {
            const struct wn_input_file *a = &old[i++], *b = &in->v[j++].f;
            if (a->size != b->size)
                snprintf(line, sizeof(line), "changed: %s (%" PRIu64 " bytes, now %" PRIu64 ")",
                         b->path, a->size, b->size);
            else if (a->fingerprint != b->fingerprint)
                snprintf(line, sizeof(line), "changed: %s (same size, other content)", b->path);
            else if (a->mtime_ns != b->mtime_ns)
                snprintf(line, sizeof(line), "changed: %s (modified since)", b->path);
        }
        if (!line[0])
            continue;
        if (diffs < max && say)
            say(line, arg);
        diffs++;
    }
    if (diffs > max && say) {
        snprintf(line, sizeof(line), "... and %zu more", diffs - max);
        say(line, arg);
    }
    free(old);
    return diffs;
}

/* --------------------------------------------------------- stage API -- */

/* The listing a stage uses: the run's, else (a stage made outside a run,
 * as in the unit tests) its own. */
static struct wn_inputs *stage_inputs(struct wn_stage *st)
{
    if (!st->inputs && !st->own_inputs)
        st->own_inputs = wn_inputs_create();
    return st->inputs ? st->inputs : st->own_inputs;
}

int wn_stage_list_inputs(struct wn_stage *st, const char *input, const char *const *suffixes,
                         size_t *nfiles, wn_error_t *err)
{
    struct wn_inputs *in = stage_inputs(st);
    if (!in)
        return wn_errprintf(err, "out of memory");
    if (wn_inputs_list(in, st->cfg->name, input, suffixes, err) < 0)
        return -1;
    *nfiles = wn_inputs_count(in);
    return 0;
}

const struct wn_input_file *wn_stage_input_file(const struct wn_stage *st, size_t i)
{
    return wn_inputs_file(st->inputs ? st->inputs : st->own_inputs, i);
}

int wn_stage_check_input(const struct wn_stage *st, size_t i, int fd, wn_error_t *err)
{
    return wn_inputs_check(st->inputs ? st->inputs : st->own_inputs, i, fd, err);
}
