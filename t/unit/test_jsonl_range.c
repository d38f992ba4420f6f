/* test_jsonl_range.c - a plain JSON Lines file cut into ranges
 * (stages/io/jsonl_io.c: wn_jl_cut, wn_jl_reader_open_range) and the
 * text size estimate of compressed files (wn_jl_text_size).  Each cut is
 * checked exactly (offsets, lengths, first line numbers), and reading its
 * ranges one after another must give the lines, numbers and bytes that
 * reading the whole file gives: a line across a cut, a file without a
 * final newline, CRLF, a range of one long line, an empty file, and a
 * file of license text cut at every blocksize from 1 to past its size. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "tap.h"
#include "io/jsonl_io.h"

static char tmp[4096];

static void put(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        BAIL_OUT("writing %s: %s", path, strerror(errno));
}

static struct wn_jl_file plain(const char *path, size_t len)
{
    return (struct wn_jl_file){path, len, WN_JL_PLAIN, 0, NULL};
}

/* Every line of a reader as "NUMBER:bytes\n" appended to *s. */
static int dump(struct wn_jl_reader *r, char **s, size_t *n, wn_error_t *err)
{
    const char *line;
    size_t len;
    int rc;
    FILE *m = open_memstream(s, n);
    if (!m)
        BAIL_OUT("out of memory");
    while ((rc = wn_jl_reader_line(r, &line, &len, err)) == 1)
        fprintf(m, "%llu:%.*s\n", (unsigned long long)r->line, (int)len, line);
    fclose(m);
    return rc;
}

/* The file's ranges at blocksize bs as "OFF+LEN@LINE ..." in got, and 1
 * when reading them in turn gives what reading the whole file gives. */
static int cut_reads_same(const char *path, size_t size, uint64_t bs, char *got, size_t glen)
{
    wn_error_t err = {{0}};
    struct wn_jl_file f = plain(path, size);
    struct wn_jl_range *rg = NULL;
    size_t n = 0, o = 0;
    got[0] = 0;
    if (wn_jl_cut(&f, bs, &rg, &n, &err) < 0) {
        diag("cut: %s", err.text);
        return 0;
    }
    for (size_t k = 0; k < n; k++)
        o += (size_t)snprintf(got + o, o < glen ? glen - o : 0, "%s%llu+%llu@%llu", k ? " " : "",
                              (unsigned long long)rg[k].off, (unsigned long long)rg[k].len,
                              (unsigned long long)rg[k].line);
    struct wn_jl_reader r;
    char *whole = NULL, *parts = NULL;
    size_t wn = 0, pn = 0;
    int same = wn_jl_reader_open(&r, &f, &err) == 0 && dump(&r, &whole, &wn, &err) == 0;
    wn_jl_reader_close(&r);
    FILE *m = open_memstream(&parts, &pn);
    if (!m)
        BAIL_OUT("out of memory");
    for (size_t k = 0; same && k < n; k++) {
        char *s = NULL;
        size_t sn = 0;
        same = wn_jl_reader_open_range(&r, &f, &rg[k], &err) == 0 && dump(&r, &s, &sn, &err) == 0;
        wn_jl_reader_close(&r);
        if (s)
            fwrite(s, 1, sn, m);
        free(s);
    }
    fclose(m);
    if (same && (wn != pn || memcmp(whole, parts, wn) != 0)) {
        diag("whole file:\n%s\nranges:\n%s", whole, parts);
        same = 0;
    }
    if (err.text[0])
        diag("%s", err.text);
    free(whole);
    free(parts);
    free(rg);
    return same;
}

static void test_cases(void)
{
    static const struct {
        const char *name, *data;
        uint64_t bs;
        const char *ranges;
    } cases[] = {
        {"a line across a cut", "aaaa\nbbbbbbbb\ncc\n", 6, "0+14@1 14+3@3"},
        {"cuts at each line", "aaaa\nbbbbbbbb\ncc\n", 1, "0+5@1 5+9@2 14+3@3"},
        {"no final newline", "ab\ncd", 2, "0+3@1 3+2@2"},
        {"no final newline, one range", "ab\ncd", 100, "0+5@1"},
        {"CRLF", "a\r\nb\r\n\r\nc", 1, "0+3@1 3+3@2 6+2@3 8+1@4"},
        {"one long line is a range", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\ny\n", 10,
         "0+41@1 41+2@2"},
        {"one long line without newline", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 10, "0+40@1"},
        {"blank lines counted", "\n\n\na\n", 2, "0+2@1 2+3@3"},
        {"a cut exactly at the end", "abc\ndef\n", 4, "0+4@1 4+4@2"},
        {"empty file", "", 1, "0+0@1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[4200], got[512];
        snprintf(path, sizeof(path), "%s/c%zu.jsonl", tmp, i);
        put(path, cases[i].data, strlen(cases[i].data));
        int same = cut_reads_same(path, strlen(cases[i].data), cases[i].bs, got, sizeof(got));
        is(got, cases[i].ranges, "%s: ranges at blocksize %llu", cases[i].name,
           (unsigned long long)cases[i].bs);
        ok(same, "%s: the ranges read as the whole file", cases[i].name);
    }
}

/* License text as a file, cut at many blocksizes. */
static void test_text(void)
{
    FILE *in = fopen("/usr/share/common-licenses/GPL-3", "rb");
    if (!in) {
        skip(1, "no /usr/share/common-licenses/GPL-3");
        return;
    }
    static char data[1 << 16];
    size_t n = fread(data, 1, sizeof(data), in);
    fclose(in);
    char path[4200], got[1 << 16];
    snprintf(path, sizeof(path), "%s/gpl.jsonl", tmp);
    put(path, data, n);
    int all = 1;
    size_t cuts = 0;
    for (uint64_t bs = 1; bs <= n + 1; bs = bs < 64 ? bs + 1 : bs * 3 / 2) {
        if (!cut_reads_same(path, n, bs, got, sizeof(got))) {
            diag("blocksize %llu", (unsigned long long)bs);
            all = 0;
        }
        cuts++;
    }
    ok(all, "GPL-3 (%zu bytes) cut at %zu blocksizes from 1: every cut reads as the whole file", n,
       cuts);
}

/* The estimates: a zstd content size, a gzip ISIZE, the ratio. */
static void test_text_size(void)
{
    static char text[1 << 20];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 7);
    char zpath[4200], gpath[4200], ppath[4200];
    snprintf(zpath, sizeof(zpath), "%s/t.jsonl.zst", tmp);
    snprintf(gpath, sizeof(gpath), "%s/t.jsonl.gz", tmp);
    snprintf(ppath, sizeof(ppath), "%s/t.jsonl", tmp);
    size_t cap = ZSTD_compressBound(sizeof(text));
    char *z = malloc(cap);
    size_t zn = z ? ZSTD_compress(z, cap, text, sizeof(text), 3) : 0;
    if (!z || ZSTD_isError(zn))
        BAIL_OUT("zstd");
    put(zpath, z, zn);
    free(z);
    gzFile g = gzopen(gpath, "wb");
    if (!g || gzwrite(g, text, sizeof(text)) != (int)sizeof(text) || gzclose(g) != Z_OK)
        BAIL_OUT("gzip");
    FILE *gf = fopen(gpath, "rb");
    fseek(gf, 0, SEEK_END);
    long gn = ftell(gf);
    fclose(gf);
    put(ppath, text, sizeof(text));
    struct wn_jl_file zf = {zpath, zn, WN_JL_ZSTD, 0, NULL};
    struct wn_jl_file gzf = {gpath, (uint64_t)gn, WN_JL_GZIP, 0, NULL};
    struct wn_jl_file pf = plain(ppath, sizeof(text));
    cmp_ok(wn_jl_text_size(&zf), ==, (uint64_t)sizeof(text),
           "zstd with a content size: the text's bytes (%zu on disk)", zn);
    cmp_ok(wn_jl_text_size(&gzf), ==, (uint64_t)sizeof(text),
           "gzip: its ISIZE trailer (%ld on disk)", gn);
    cmp_ok(wn_jl_text_size(&pf), ==, (uint64_t)sizeof(text), "plain: its size");
    /* A zstd stream without a content size: the ratio. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    char *zs = malloc(cap);
    ZSTD_outBuffer out = {zs, cap, 0};
    ZSTD_inBuffer inb = {text, sizeof(text), 0};
    if (!cc || !zs || ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)) ||
        ZSTD_compressStream2(cc, &out, &inb, ZSTD_e_end) != 0)
        BAIL_OUT("zstd stream");
    put(zpath, zs, out.pos);
    ZSTD_freeCCtx(cc);
    free(zs);
    zf.size = out.pos;
    cmp_ok(wn_jl_text_size(&zf), ==, (uint64_t)out.pos * WN_JL_RATIO,
           "zstd without a content size: %d times its size", WN_JL_RATIO);
}

/* A file that cannot be read fails the cut, naming it. */
static void test_changed(void)
{
    wn_error_t err = {{0}};
    char path[4200];
    snprintf(path, sizeof(path), "%s/gone.jsonl", tmp);
    struct wn_jl_file f = plain(path, 10);
    struct wn_jl_range *rg = NULL;
    size_t n = 0;
    ok(wn_jl_cut(&f, 4, &rg, &n, &err) < 0 && strstr(err.text, path),
       "a missing file: the cut fails, naming it (%s)", err.text);
}

int main(void)
{
    plan(NO_PLAN);
    const char *base = getenv("TEST_TMP");
    snprintf(tmp, sizeof(tmp), "%s/test_jsonl_range.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp))
        BAIL_OUT("mkdtemp %s: %s", tmp, strerror(errno));
    test_cases();
    test_text();
    test_text_size();
    test_changed();
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        diag("could not remove %s", tmp);
    return done_testing();
}
