/* t/stage_test.h - helpers the stage unit tests share (header-only, like
 * tap.h; include after it):
 *
 *   struct test_stage   a configured, initialised stage of one type,
 *                       made from a one-stage pipeline text
 *   docs[], add_doc     the test's documents (texts with a label), written
 *                       to files under a temporary folder for a reference
 *                       program to read (docs_write, docs_remove)
 *   read_stream/file    a whole stream or file into memory
 *   ref_popen, ref_rows a Python reference (t/lib/) started on every
 *                       document, and its output read as rows of numbers
 */
#ifndef WN_STAGE_TEST_H
#define WN_STAGE_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "builtin.h"
#include "stage/stage_impl.h"

/* ------------------------------------------------------------- stages -- */

/* A stage and the configuration it points into. */
struct test_stage {
    struct wn_pipeline_config *cfg;
    struct wn_stage *st;
};

static inline void test_stage_free(struct test_stage *t)
{
    wn_stage_destroy(t->st);
    wn_config_free(t->cfg);
    t->st = NULL;
    t->cfg = NULL;
}

/* A stage of that type with the given params (a YAML flow mapping's
 * contents), created and initialised; or -1 with err filled. */
static inline int test_stage_make(struct test_stage *t, const char *type, const char *params,
                                  wn_error_t *err)
{
    const char *fmt = "name: t\nstages:\n  - name: s\n    type: %s\n    params: {%s}\n";
    size_t len = strlen(fmt) + strlen(type) + strlen(params) + 1;
    char *yaml = malloc(len);
    t->cfg = NULL;
    t->st = NULL;
    if (!yaml)
        return wn_errprintf(err, "out of memory");
    snprintf(yaml, len, fmt, type, params);
    int rc = wn_config_load_string(yaml, "t.yaml", &t->cfg, err);
    free(yaml);
    if (rc < 0)
        return -1;
    wn_registry_set_builtins(wn_builtin_stages);
    if (!(t->st = wn_stage_create(&t->cfg->stages[0], 0, err))) {
        test_stage_free(t);
        return -1;
    }
    t->st->pipeline = t->cfg;
    if (wn_config_expand(t->cfg, err) < 0 || wn_stage_init(t->st, err) < 0) {
        test_stage_free(t);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- documents -- */

struct test_doc {
    char *text;
    size_t len;
    char label[64];
};

static struct test_doc docs[64];
static size_t ndocs;
static char docs_dir[] = "/tmp/winnow-docs.XXXXXX";

static inline void add_doc(const char *label, const char *text, size_t len)
{
    if (ndocs == sizeof(docs) / sizeof(docs[0]))
        BAIL_OUT("too many documents");
    struct test_doc *d = &docs[ndocs++];
    d->text = malloc(len + 1);
    if (!d->text)
        BAIL_OUT("out of memory");
    memcpy(d->text, text, len);
    d->text[len] = 0;
    d->len = len;
    snprintf(d->label, sizeof(d->label), "%s", label);
}

static inline void add_str(const char *label, const char *text)
{
    add_doc(label, text, strlen(text));
}

/* docs[i] into docs_dir/i, for a reference program. */
static inline void docs_write(void)
{
    if (!mkdtemp(docs_dir))
        BAIL_OUT("mkdtemp: %s", strerror(errno));
    for (size_t i = 0; i < ndocs; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%zu", docs_dir, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(docs[i].text, 1, docs[i].len, f) != docs[i].len || fclose(f) != 0)
            BAIL_OUT("writing %s", path);
    }
}

static inline void docs_remove(void)
{
    for (size_t i = 0; i < ndocs; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%zu", docs_dir, i);
        unlink(path);
    }
    rmdir(docs_dir);
}

/* --------------------------------------------------------------- files -- */

static inline char *read_stream(FILE *f, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 > cap) {
            cap = 2 * cap + 4096;
            char *nb = realloc(buf, cap);
            if (!nb)
                BAIL_OUT("out of memory");
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    *len = n;
    return buf;
}

static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = read_stream(f, len);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------ license texts -- */

#define LICENSES "/usr/share/common-licenses/"

/* /usr/share/common-licenses/NAME (malloc'd; bails out when missing). */
static inline char *read_license(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), LICENSES "%s", name);
    char *t = read_file(path, len);
    if (!t)
        BAIL_OUT("cannot read %s", path);
    return t;
}

/* Each of the n licenses named, whole, as a document labelled by its name. */
static inline void add_licenses(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *t = read_license(names[i], &len);
        add_doc(names[i], t, len);
        free(t);
    }
}

/* text[off .. off+n), cut to the text's end, as a document. */
static inline void slice(const char *label, const char *text, size_t len, size_t off, size_t n)
{
    if (off > len)
        off = len;
    add_doc(label, text + off, off + n > len ? len - off : n);
}

/* Starts `python3 t/lib/SCRIPT ARGS DOC...` on every document docs_write
 * wrote; NULL when it cannot start. */
static inline FILE *ref_popen(const char *script, const char *args)
{
    const char *srcdir = getenv("srcdir");
    char cmd[8192];
    int n = snprintf(cmd, sizeof(cmd), "python3 '%s/t/lib/%s' %s", srcdir && *srcdir ? srcdir : ".",
                     script, args);
    for (size_t i = 0; i < ndocs; i++)
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %s/%zu", docs_dir, i);
    return popen(cmd, "r");
}

/* Reads the reference p's output, one line of ncols numbers per document,
 * and closes it.  value(&s, out, k) parses the number at s (moving s past
 * it) into slot k = row * ncols + column of the array out, and returns 0
 * when there was none.  Returns 0 when every row was read whole and the
 * reference exited 0, -1 otherwise (said with diag). */
static inline int ref_rows(FILE *p, size_t ncols, int (*value)(char **s, void *out, size_t k),
                           void *out)
{
    if (!p)
        return -1;
    char *line = NULL;
    size_t cap = 0, row = 0;
    int good = 1;
    while (good && row < ndocs && getline(&line, &cap, p) > 0) {
        char *s = line;
        for (size_t j = 0; j < ncols && good; j++)
            good = value(&s, out, row * ncols + j);
        row++;
    }
    free(line);
    if (pclose(p) != 0 || row != ndocs || !good) {
        diag("reference: %zu of %zu documents read", row, ndocs);
        return -1;
    }
    return 0;
}

#endif /* WN_STAGE_TEST_H */
