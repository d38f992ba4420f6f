/* test_part.c - checkpoint part files: every column type, metadata and
 * perf records round-trip through HDF5; the file's checksum (winnow's
 * header, h5img.h) is the XXH3-64 of the file after it and is checked
 * before HDF5 parses anything: a byte changed anywhere, a truncated file,
 * a file of the old format and one that is not a part file are errors
 * naming the file; no HDF5 object is left open after any of them.
 *
 *   test_part.t                run the tests
 *   test_part.t --write FILE   write the sample part file (for the h5dump
 *                              and h5py checks in t0010-part-tools.t)
 */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "ckpt/part.h"
#include "tap.h"
#include "winnow/task.h"

#define SIG_LEN 8

/* Rows [first, first + n) of every column type; row r of "text" is r % 7
 * bytes, NULs included. */
static struct wn_batch *sample_batch(uint64_t first, uint64_t n)
{
    struct wn_batch *b = wn_batch_create();
    struct wn_column *c8 = wn_batch_add_column(b, "flag", WN_TYPE_U8, 0, NULL);
    struct wn_column *ci = wn_batch_add_column(b, "delta", WN_TYPE_I32, 0, NULL);
    struct wn_column *cu = wn_batch_add_column(b, "len", WN_TYPE_U32, 0, NULL);
    struct wn_column *cl = wn_batch_add_column(b, "ts", WN_TYPE_I64, 0, NULL);
    struct wn_column *cid = wn_batch_add_column(b, "id", WN_TYPE_U64, 0, NULL);
    struct wn_column *cf = wn_batch_add_column(b, "score", WN_TYPE_F64, 0, NULL);
    struct wn_column *cs = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, NULL);
    struct wn_column *csig = wn_batch_add_column(b, "sig", WN_TYPE_LIST_U32, SIG_LEN, NULL);
    struct wn_column *ct = wn_batch_add_column(b, "triple", WN_TYPE_LIST_U64, 3, NULL);
    if (!ct)
        BAIL_OUT("columns: %s", strerror(errno));
    int rc = 0;
    for (uint64_t r = first; r < first + n; r++) {
        char s[8];
        size_t sl = r % 7;
        for (size_t i = 0; i < sl; i++)
            s[i] = i == 3 ? '\0' : (char)('a' + (r + i) % 26);
        uint32_t sig[SIG_LEN];
        for (int j = 0; j < SIG_LEN; j++)
            sig[j] = (uint32_t)(r * SIG_LEN + j) * 2654435761u;
        uint64_t triple[3] = {r, r * r, ~r};
        rc |= wn_col_append_u64(c8, r & 0xff, NULL);
        rc |= wn_col_append_i64(ci, -(int64_t)(r * 3), NULL);
        rc |= wn_col_append_u64(cu, r * 5, NULL);
        rc |= wn_col_append_i64(cl, -(int64_t)r * 1000003, NULL);
        rc |= wn_col_append_u64(cid, wn_task_id_derive(0, 0, r), NULL);
        rc |= wn_col_append_f64(cf, (double)r * 0.25 - 3.0, NULL);
        rc |= wn_col_append_str(cs, s, sl, NULL);
        rc |= wn_col_append_list(csig, sig, NULL);
        rc |= wn_col_append_list(ct, triple, NULL);
    }
    if (rc)
        BAIL_OUT("fill: %s", strerror(errno));
    return b;
}

/* Four tasks: 1000 rows with metadata and perf, 0 rows, no batch, 1 row. */
static size_t sample_tasks(struct wn_task **t)
{
    struct wn_stage_perf p1 = {"read_jsonl", 0.5, 0.125, 0, 10, 0, 4096};
    struct wn_stage_perf p2 = {"minhash", 2.25, 0.0, 10, 10, 4096, 65536};
    t[0] = wn_task_create(wn_task_id_derive(7, 1, 0), 1, sample_batch(0, 1000));
    t[1] = wn_task_create(wn_task_id_derive(7, 1, 1), 1, sample_batch(0, 0));
    t[2] = wn_task_create(wn_task_id_derive(7, 1, 2), 1, NULL);
    t[3] = wn_task_create(wn_task_id_derive(7, 1, 3), 1, sample_batch(41, 1));
    if (wn_task_meta_set(t[0], "source", "data/part-00007.jsonl", NULL) ||
        wn_task_meta_set(t[0], "empty", "", NULL) ||
        wn_task_meta_set(t[0], "utf8", "caf\xc3\xa9", NULL) ||
        wn_task_meta_set(t[0], "a-last-key", "order is kept", NULL) ||
        wn_task_perf_add(t[0], &p1, NULL) || wn_task_perf_add(t[0], &p2, NULL) ||
        wn_task_perf_add(t[3], &p2, NULL))
        BAIL_OUT("meta/perf: %s", strerror(errno));
    return 4;
}

static const struct wn_part_info sample_info = {"minhash", 1, 17, 0, 0, 0};

static int write_sample(const char *path)
{
    struct wn_task *t[4];
    size_t n = sample_tasks(t);
    wn_error_t err = {{0}};
    int rc = wn_part_write(path, &sample_info, t, n, 1, NULL, NULL, &err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err.text);
    for (size_t i = 0; i < n; i++)
        wn_task_destroy(t[i]);
    return rc < 0 ? 1 : 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, len, f) != len)
        BAIL_OUT("write %s", path);
    fclose(f);
}

/* Offset of the first occurrence of needle in hay, or -1. */
static long find(const char *hay, size_t len, const void *needle, size_t nlen)
{
    for (size_t i = 0; i + nlen <= len; i++)
        if (!memcmp(hay + i, needle, nlen))
            return (long)i;
    return -1;
}

/* The header's checksum made right again after a change (as a forger, or
 * a bug, would): only the tasks' checksum and HDF5 stand in the way. */
static void fix_checksum(char *b, size_t len)
{
    uint64_t h = XXH3_64bits(b + 16, len - 16);
    memcpy(b + 8, &h, 8); /* little-endian host */
}

/* HDF5 objects (files, groups, datasets, attributes, named types) open
 * in this process. */
static long h5_open_objects(void)
{
    return (long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}

/* A copy of the good file with its byte at `at` changed, read back. */
static int read_flipped(const char *bad, const char *good_bytes, size_t len, size_t at,
                        wn_error_t *err, size_t *ntasks)
{
    char *b = malloc(len);
    if (!b)
        BAIL_OUT("out of memory");
    memcpy(b, good_bytes, len);
    b[at] ^= 0x5a;
    spit(bad, b, len);
    free(b);
    struct wn_task_list back = WN_TASK_LIST_INIT;
    int rc = wn_part_read(bad, NULL, &back, NULL, err);
    *ntasks = back.n;
    wn_task_list_free(&back);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write"))
        return write_sample(argv[2]);

    plan(NO_PLAN);
    char dir[] = "/tmp/winnow-part.XXXXXX";
    if (!mkdtemp(dir))
        BAIL_OUT("mkdtemp");
    char path[256], bad[256];
    snprintf(path, sizeof(path), "%s/part-17.h5", dir);
    snprintf(bad, sizeof(bad), "%s/bad.h5", dir);

    struct wn_task *t[4];
    size_t n = sample_tasks(t);
    wn_error_t err = {{0}};
    uint64_t sum = 0;
    int rc = wn_part_write(path, &sample_info, t, n, 0, NULL, &sum, &err);
    ok(rc == 0, "wrote a part file of %zu tasks%s%s", n, rc ? ": " : "", err.text);
    char tmpname[300];
    snprintf(tmpname, sizeof(tmpname), "%s.tmp.%ld", path, (long)getpid());
    ok(access(tmpname, F_OK) != 0, "no temporary file is left behind");

    struct wn_task_list back = WN_TASK_LIST_INIT;
    struct wn_part_info info;
    rc = wn_part_read(path, NULL, &back, &info, &err);
    ok(rc == 0, "read it back%s%s", rc ? ": " : "", err.text);
    ok(rc == 0 && info.stage_index == 1 && info.batch == 17 && info.ntasks == n &&
           info.sum == sum && !strcmp(info.stage, "minhash"),
       "the header: stage, batch, task count, the file's checksum");
    int same = rc == 0 && back.n == n;
    for (size_t i = 0; same && i < n; i++)
        same = wn_task_equal(t[i], back.tasks[i]);
    ok(same, "every task equal: all column types, 0 rows, no batch, metadata in order, perf");
    wn_task_list_free(&back);

    /* The file: winnow's header, then HDF5 at 512; the checksum covers
     * everything after itself. */
    size_t len;
    char *bytes = slurp(path, &len);
    if (!bytes)
        BAIL_OUT("cannot read %s back", path);
    uint64_t said, size;
    memcpy(&said, bytes + 8, 8);
    memcpy(&size, bytes + 24, 8);
    ok(!memcmp(bytes, "\x89WINNOW\n", 8) && !memcmp(bytes + 512, "\x89HDF\r\n\x1a\n", 8) &&
           size == len,
       "winnow's header (magic, size %llu), the HDF5 superblock at 512", (unsigned long long)size);
    ok(said == sum && XXH3_64bits(bytes + 16, len - 16) == sum,
       "the checksum wn_part_write returns is the header's: XXH3-64 of bytes 16..end");

    /* Read against the journal's checksum. */
    rc = wn_part_read(path, &sum, &back, NULL, &err);
    ok(rc == 0 && back.n == n, "read with the journal's checksum");
    wn_task_list_free(&back);
    uint64_t other = sum ^ 1;
    rc = wn_part_read(path, &other, &back, NULL, &err);
    ok(rc < 0 && back.n == 0 && strstr(err.text, path) && strstr(err.text, "journal says"),
       "another checksum than the journal's: refused (%s)", err.text);
    ok(wn_part_verify(path, &sum, &err) == 0 && wn_part_verify(path, &other, &err) < 0,
       "wn_part_verify: the same check, without parsing");

    /* Compressed, the same tasks: the same tasks' checksum, another file. */
    char zpath[300];
    snprintf(zpath, sizeof(zpath), "%s/part-z.h5", dir);
    uint64_t zsum = 0;
    rc = wn_part_write(zpath, &sample_info, t, n, 6, NULL, &zsum, &err);
    struct wn_part_info zinfo;
    ok(rc == 0 && wn_part_read(zpath, &zsum, NULL, &zinfo, &err) == 0 &&
           zinfo.tasks_sum == info.tasks_sum && zsum != sum,
       "deflate: the same tasks' checksum, another file's checksum");
    /* On compressible columns deflate pays. */
    {
        struct wn_batch *cb = wn_batch_create();
        struct wn_column *v = wn_batch_add_column(cb, "v", WN_TYPE_U64, 0, NULL);
        for (uint64_t r = 0; r < 100000; r++)
            wn_col_append_u64(v, r / 1000, NULL);
        struct wn_task *ct = wn_task_create(1, 0, cb);
        char p1[300], p2[300];
        snprintf(p1, sizeof(p1), "%s/c1.h5", dir);
        snprintf(p2, sizeof(p2), "%s/c2.h5", dir);
        struct stat s1 = {0}, s2 = {0};
        int okw = wn_part_write(p1, &sample_info, &ct, 1, 0, NULL, NULL, &err) == 0 &&
                  wn_part_write(p2, &sample_info, &ct, 1, 6, NULL, NULL, &err) == 0 &&
                  stat(p1, &s1) == 0 && stat(p2, &s2) == 0;
        ok(okw && s2.st_size * 10 < s1.st_size,
           "deflate: a compressible column shrinks (%lld -> %lld bytes)", (long long)s1.st_size,
           (long long)s2.st_size);
        wn_task_destroy(ct);
        unlink(p1);
        unlink(p2);
    }
    rc = wn_part_read(zpath, NULL, &back, NULL, &err);
    same = rc == 0 && back.n == n;
    for (size_t i = 0; same && i < n; i++)
        same = wn_task_equal(t[i], back.tasks[i]);
    ok(same, "deflate: the tasks read back equal");
    wn_task_list_free(&back);

    /* Level 1 (the pipeline default) round-trips too; a level HDF5's
     * deflate filter does not have is refused, and no file is left. */
    rc = wn_part_write(zpath, &sample_info, t, n, 1, NULL, &zsum, &err);
    rc = rc ? rc : wn_part_read(zpath, &zsum, &back, NULL, &err);
    same = rc == 0 && back.n == n;
    for (size_t i = 0; same && i < n; i++)
        same = wn_task_equal(t[i], back.tasks[i]);
    ok(same, "deflate level 1: the tasks read back equal");
    wn_task_list_free(&back);
    /* The checksum covers the compressed bytes as they are on disk: a
     * byte changed anywhere in them is refused before HDF5 inflates. */
    {
        size_t zlen = 0, nt = 0, refused = 0, tries = 0;
        char *zb = slurp(zpath, &zlen), zbad[320];
        snprintf(zbad, sizeof(zbad), "%s.bad", zpath);
        for (size_t at = 16; zb && at < zlen; at += zlen / 16, tries++) {
            wn_error_t e = {{0}};
            if (read_flipped(zbad, zb, zlen, at, &e, &nt) < 0 && nt == 0 &&
                strstr(e.text, "checksum"))
                refused++;
        }
        ok(zb && tries >= 16 && refused == tries,
           "deflate: a byte changed at %zu offsets: %zu refused by the checksum", tries, refused);
        free(zb);
        unlink(zbad);
    }
    unlink(zpath);
    for (int level = -1; level <= 10; level += 11) {
        errno = 0;
        rc = wn_part_write(zpath, &sample_info, t, n, level, NULL, NULL, &err);
        ok(rc < 0 && errno == EINVAL && strstr(err.text, zpath) &&
               strstr(err.text, "expected 0 (none) to 9") && access(zpath, F_OK) < 0,
           "deflate level %d: refused, no file (%s)", level, err.text);
    }

    /* An empty batch of outputs is a valid file. */
    char epath[300];
    snprintf(epath, sizeof(epath), "%s/part-empty.h5", dir);
    ok(wn_part_write(epath, &sample_info, NULL, 0, 0, NULL, NULL, &err) == 0 &&
           wn_part_read(epath, NULL, &back, &info, &err) == 0 && back.n == 0 && info.ntasks == 0,
       "a batch without outputs: a file of 0 tasks");

    /* One byte changed, anywhere after the magic: the superblock, object
     * headers, attributes, the column data, the header's own fields.
     * Every one is found by the file's checksum, before HDF5 parses. */
    uint64_t want = (uint64_t) - (int64_t)500 * 1000003; /* ts of row 500 */
    long at_value = find(bytes, len, &want, sizeof(want));
    long at_attr = find(bytes, len, "minhash", 7);   /* the stage attribute */
    long at_name = find(bytes, len, "has_batch", 9); /* an attribute's name */
    ok(at_value > 512 && at_attr > 512 && at_name > 512,
       "found a column value, an attribute value and an attribute name in the file");
    size_t offs[64], noffs = 0;
    size_t fixed[] = {8,
                      16,
                      20,
                      24,
                      31,
                      100,
                      511,
                      512,
                      520,
                      530,
                      560,
                      600,
                      700,
                      800,
                      1000,
                      2000,
                      (size_t)at_value,
                      (size_t)at_attr,
                      (size_t)at_name,
                      len - 1};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (fixed[i] < len)
            offs[noffs++] = fixed[i];
    for (size_t k = 1; k <= 24 && noffs < 64; k++) /* and spread over the file */
        offs[noffs++] = 512 + k * (len - 513) / 25;
    size_t caught = 0, tasks_back = 0;
    char first_miss[700] = "";
    for (size_t i = 0; i < noffs; i++) {
        size_t nt = 0;
        rc = read_flipped(bad, bytes, len, offs[i], &err, &nt);
        if (rc < 0 && strstr(err.text, "checksum") && strstr(err.text, bad))
            caught++;
        else if (!first_miss[0])
            snprintf(first_miss, sizeof(first_miss), "offset %zu: rc %d, %s", offs[i], rc,
                     rc ? err.text : "read");
        tasks_back += nt;
    }
    ok(caught == noffs && tasks_back == 0,
       "one byte changed at %zu offsets (superblock, object headers, attributes, data, "
       "header fields): %zu refused with 'checksum' in the message, no tasks returned%s%s",
       noffs, caught, first_miss[0] ? "; " : "", first_miss);
    {
        size_t nt = 0;
        rc = read_flipped(bad, bytes, len, 3, &err, &nt);
        ok(rc < 0 && strstr(err.text, "not a winnow part file"),
           "the magic changed: not a winnow part file (%s)", err.text);
    }

    /* Truncated, and grown. */
    spit(bad, bytes, len / 2);
    rc = wn_part_read(bad, NULL, &back, NULL, &err);
    ok(rc < 0 && strstr(err.text, bad) && strstr(err.text, "its header says") && back.n == 0,
       "a truncated file is an error (%s)", err.text);
    spit(bad, bytes, 300);
    rc = wn_part_read(bad, NULL, &back, NULL, &err);
    ok(rc < 0 && strstr(err.text, "truncated"), "cut inside the header (%s)", err.text);
    spit(bad, "not an hdf5 file\n", 17);
    rc = wn_part_read(bad, NULL, NULL, NULL, &err);
    ok(rc < 0 && strstr(err.text, "not a winnow part file"), "not a part file: %s", err.text);

    /* The format before the header (version 1): a bare HDF5 file is never
     * parsed, and the message says what to do. */
    spit(bad, bytes + 512, len - 512);
    rc = wn_part_read(bad, NULL, &back, NULL, &err);
    ok(rc < 0 && back.n == 0 && strstr(err.text, "older winnow") &&
           strstr(err.text, "remove the checkpoint"),
       "a part file of the old format: %s", err.text);

    /* Damage the checksum cannot see (its header recomputed, as by a
     * forger or a bug): HDF5 parses it, the reader's own checks refuse it
     * and every object it opened is closed. */
    long before = h5_open_objects();
    const char *edits[][2] = {
        {"winnow-part", "winnow-pXrt"}, {"has_batch", "has_bXtch"}, {"columns", "columnX"}};
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *b = malloc(len);
        memcpy(b, bytes, len);
        long at = find(b, len, edits[i][0], strlen(edits[i][0]));
        if (at < 0) {
            ok(0, "found '%s' in the file", edits[i][0]);
            free(b);
            continue;
        }
        memcpy(b + at, edits[i][1], strlen(edits[i][1]));
        fix_checksum(b, len);
        spit(bad, b, len);
        free(b);
        rc = wn_part_read(bad, NULL, &back, NULL, &err);
        ok(rc < 0 && back.n == 0 && h5_open_objects() == before,
           "'%s' renamed, checksum made right: refused after parsing, no HDF5 object left "
           "open (%s)",
           edits[i][0], err.text);
        wn_task_list_free(&back);
    }
    ok(before == 0, "no HDF5 object open between calls");
    /* A value changed under a right file checksum: the tasks' checksum. */
    {
        char *b = malloc(len);
        memcpy(b, bytes, len);
        b[at_value] ^= 0x40;
        fix_checksum(b, len);
        spit(bad, b, len);
        free(b);
        rc = wn_part_read(bad, NULL, &back, NULL, &err);
        ok(rc < 0 && strstr(err.text, "tasks' checksum mismatch") && back.n == 0,
           "a value changed under a right file checksum: the tasks' checksum (%s)", err.text);
    }
    free(bytes);
    rc = wn_part_read("/nonexistent/part.h5", NULL, NULL, NULL, &err);
    ok(rc < 0 && strstr(err.text, "/nonexistent/part.h5"), "a missing file: %s", err.text);
    rc = wn_part_write("/nonexistent/dir/part.h5", &sample_info, t, n, 0, NULL, NULL, &err);
    ok(rc < 0 && strstr(err.text, "/nonexistent/dir/part.h5.tmp.") && h5_open_objects() == 0,
       "a file that cannot be created: named, nothing left open (%s)", err.text);

    /* inspect's view. */
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    rc = wn_part_describe(m, path, &err);
    fclose(m);
    ok(rc == 0 && strstr(out, "stage 1 'minhash', batch 17, 4 tasks, 1001 rows") &&
           strstr(out, "(verified)") && strstr(out, "sig                  list<u32>"),
       "describe: header, tasks and columns");
    free(out);

    for (size_t i = 0; i < n; i++)
        wn_task_destroy(t[i]);
    unlink(path);
    unlink(zpath);
    unlink(epath);
    unlink(bad);
    rmdir(dir);
    return done_testing();
}
