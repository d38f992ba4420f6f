/* config_read.c - getting a pipeline file's bytes, and a first look at
 * their YAML before it is loaded (see config.h for the limits).
 *
 * Both exist so that a file no pipeline looks like is refused at once:
 * /dev/zero or a file of gigabytes would otherwise be read to the end of
 * memory, and libyaml's document loader builds the whole tree before any
 * check of ours runs (it takes tens of seconds over 100,000 nested
 * brackets, and an alias of an alias of ... stands for billions of
 * nodes to whatever walks the tree).  The first look walks libyaml's
 * event stream, which needs no tree, and stops at the first event past a
 * limit, naming its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config/config.h"
#include "config/config_impl.h"

/* ------------------------------------------------------------ reading -- */

/* What kind of file st is, for a refusal. */
static const char *file_kind(const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        return "a directory";
    if (S_ISCHR(st->st_mode))
        return "a character device";
    if (S_ISBLK(st->st_mode))
        return "a block device";
    return "not a regular file";
}

/* FILE:LINE:COL of byte offset off of text (columns count characters,
 * as libyaml's do). */
static void where_at(const char *text, size_t off, const char *path, char *buf, size_t len)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            col++;
        }
    }
    snprintf(buf, len, "%s:%zu:%zu", path, line, col);
}

char *wn_config_read_file(const char *path, size_t *len, wn_error_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wn_errprintf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* A regular file says its size; a pipe (`winnow run <(make-pipeline)`,
     * /dev/stdin fed by a pipe) is read up to the limit.  Devices are
     * refused: /dev/zero never ends, a terminal waits for typing. */
    struct stat st;
    if (fstat(fd, &st) < 0) {
        wn_errprintf(err, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    errno = EINVAL;
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
        wn_errprintf(err, "%s: %s; a pipeline file is a regular file (or a pipe)", path,
                     file_kind(&st));
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > WN_CONFIG_MAX_BYTES) {
        wn_errprintf(err,
                     "%s: %llu bytes; a pipeline file may have at most %zu MiB (they "
                     "have a few KiB: is this the right file?)",
                     path, (unsigned long long)st.st_size, WN_CONFIG_MAX_BYTES >> 20);
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    /* Read to the end even of a regular file: its size may have been
     * wrong (files of /proc say 0) or it may be growing. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 8192, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap || !buf) {
            cap = buf ? cap * 2 : cap;
            if (cap > WN_CONFIG_MAX_BYTES + 1)
                cap = WN_CONFIG_MAX_BYTES + 1;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                close(fd);
                errno = ENOMEM;
                wn_errprintf(err, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            wn_errprintf(err, "%s: %s", path, strerror(e));
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > WN_CONFIG_MAX_BYTES) {
            wn_errprintf(err,
                         "%s: more than %zu MiB; a pipeline file has a few KiB (does "
                         "this %s ever end?)",
                         path, WN_CONFIG_MAX_BYTES >> 20, S_ISREG(st.st_mode) ? "file" : "pipe");
            free(buf);
            close(fd);
            errno = EFBIG;
            return NULL;
        }
    }
    close(fd);
    buf[n] = '\0';
    /* YAML may be UTF-16 or UTF-32, but the text is passed on as a C
     * string: say so before the NUL bytes of such a file are met. */
    if (n >= 2 && (((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe) ||
                   ((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff) ||
                   (n >= 4 && !memcmp(buf, "\0\0\xfe\xff", 4)))) {
        wn_errprintf(err,
                     "%s: UTF-16 or UTF-32 text (it starts with a byte-order mark); a "
                     "pipeline file is UTF-8",
                     path);
        free(buf);
        errno = EINVAL;
        return NULL;
    }
    /* YAML never holds a NUL byte, and the text is passed on as a C
     * string: whatever followed a NUL would be dropped unseen. */
    const char *nul = memchr(buf, '\0', n);
    if (nul) {
        char at[WN_ERROR_TEXT / 2];
        where_at(buf, (size_t)(nul - buf), path, at, sizeof(at));
        wn_errprintf(err,
                     "%s: a NUL byte; a pipeline file is YAML text (is this a binary "
                     "file?)",
                     at);
        free(buf);
        errno = EINVAL;
        return NULL;
    }
    *len = n;
    return buf;
}

/* ---------------------------------------------------------- the shape -- */

struct level {
    int mapping;    /* else a list */
    size_t entries; /* keys and values, or items */
    uint64_t first; /* the node count when it opened */
    yaml_mark_t mark;
    char *anchor; /* its &name, or NULL */
};

struct anchor {
    char *name;
    uint64_t nodes; /* UINT64_MAX while it is still open */
};

struct shape {
    const char *path;
    wn_error_t *err;
    struct level stack[WN_CONFIG_MAX_DEPTH];
    int depth;
    struct anchor *anchors;
    size_t nanchors;
    uint64_t nodes; /* so far, aliases counted as what they repeat */
};

static int shape_err(struct shape *s, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int shape_err(struct shape *s, yaml_mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = config_verr_at(s->err, s->path, m.line, m.column, fmt, ap);
    va_end(ap);
    return rc;
}

static int add_anchor(struct shape *s, const yaml_char_t *name, uint64_t nodes, yaml_mark_t m)
{
    if (s->nanchors == WN_CONFIG_MAX_ANCHORS)
        return shape_err(s, m, "more than %d anchors (&name); a pipeline file needs a few",
                         WN_CONFIG_MAX_ANCHORS);
    char *copy = strdup((const char *)name);
    if (!copy) {
        errno = ENOMEM;
        return wn_errprintf(s->err, "out of memory");
    }
    s->anchors[s->nanchors++] = (struct anchor){copy, nodes};
    return 0;
}

/* The latest anchor of that name (YAML lets a later one replace it). */
static struct anchor *find_anchor(struct shape *s, const yaml_char_t *name)
{
    for (size_t i = s->nanchors; i-- > 0;)
        if (!strcmp(s->anchors[i].name, (const char *)name))
            return &s->anchors[i];
    return NULL;
}

/* A node of `nodes` nodes (expanded) joins the collection it is in. */
static int count_node(struct shape *s, uint64_t nodes, yaml_mark_t m)
{
    s->nodes += nodes;
    if (s->nodes > WN_CONFIG_MAX_NODES)
        return shape_err(s, m,
                         "the file stands for more than %d YAML nodes once its aliases "
                         "(*name) are expanded; a pipeline has a few hundred",
                         WN_CONFIG_MAX_NODES);
    if (s->depth == 0)
        return 0;
    struct level *l = &s->stack[s->depth - 1];
    l->entries++;
    size_t n = l->mapping ? l->entries / 2 : l->entries;
    if (n > WN_CONFIG_MAX_ENTRIES)
        return shape_err(s, l->mark,
                         "this %s has more than %d %s; a pipeline's have a few "
                         "dozen",
                         l->mapping ? "mapping" : "list", WN_CONFIG_MAX_ENTRIES,
                         l->mapping ? "keys" : "items");
    return 0;
}

static int shape_event(struct shape *s, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (count_node(s, 1, ev->start_mark) < 0)
            return -1;
        return ev->data.scalar.anchor ? add_anchor(s, ev->data.scalar.anchor, 1, ev->start_mark)
                                      : 0;
    case YAML_ALIAS_EVENT: {
        /* An undefined alias is left to the loader, which names it. */
        struct anchor *a = find_anchor(s, ev->data.alias.anchor);
        if (a && a->nodes == UINT64_MAX)
            return shape_err(s, ev->start_mark,
                             "alias '*%s' stands for a node that "
                             "contains it",
                             (const char *)ev->data.alias.anchor);
        return count_node(s, a ? a->nodes : 1, ev->start_mark);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (s->depth == WN_CONFIG_MAX_DEPTH)
            return shape_err(s, ev->start_mark,
                             "nested more than %d levels deep; a pipeline "
                             "needs 4 (the file, stages, a stage, its params)",
                             WN_CONFIG_MAX_DEPTH);
        uint64_t first = s->nodes;
        if (count_node(s, 1, ev->start_mark) < 0)
            return -1;
        int mapping = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor =
            mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        struct level *l = &s->stack[s->depth++];
        *l = (struct level){mapping, 0, first, ev->start_mark, NULL};
        if (anchor) {
            if (add_anchor(s, anchor, UINT64_MAX, ev->start_mark) < 0)
                return -1;
            l->anchor = s->anchors[s->nanchors - 1].name;
        }
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        struct level *l = &s->stack[--s->depth];
        /* count_node counted the collection's own node when it opened;
         * its size is what was counted since. */
        if (l->anchor)
            for (size_t i = s->nanchors; i-- > 0;)
                if (s->anchors[i].name == l->anchor) {
                    s->anchors[i].nodes = s->nodes - l->first;
                    break;
                }
        return 0;
    }
    default:
        return 0;
    }
}

int config_check_shape(const char *text, size_t len, const char *path, wn_error_t *err)
{
    struct shape s = {.path = path, .err = err};
    if (!(s.anchors = calloc(WN_CONFIG_MAX_ANCHORS, sizeof(*s.anchors)))) {
        errno = ENOMEM;
        return wn_errprintf(err, "out of memory");
    }
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) {
        free(s.anchors);
        errno = ENOMEM;
        return wn_errprintf(err, "out of memory");
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        /* A syntax error is left to the loader, which reports it in the
         * same words with or without this pass: up to it, the shape is
         * within the limits. */
        if (!yaml_parser_parse(&yp, &ev))
            break;
        int end = ev.type == YAML_STREAM_END_EVENT;
        rc = shape_event(&s, &ev);
        yaml_event_delete(&ev);
        if (rc < 0 || end)
            break;
    }
    yaml_parser_delete(&yp);
    for (size_t i = 0; i < s.nanchors; i++)
        free(s.anchors[i].name);
    free(s.anchors);
    return rc;
}
