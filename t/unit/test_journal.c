/* test_journal.c - the run journal: records round-trip in order; a torn
 * tail (a crash mid-write) or a damaged record ends the good part, which
 * reopening keeps, and new records follow it.  After a damaged record in
 * the middle, the whole records further on are counted (and shown to a
 * callback) but not used; a torn tail has none.  An append that cannot be
 * written whole leaves the journal as it was. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/journal.h"
#include "tap.h"

struct seen {
    long long batch[64];
    int n;
    long long ignored[64];
    int nignored;
};

static int collect(const json_t *rec, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        s->batch[s->n++] = json_integer_value(json_object_get(rec, "batch"));
    return 0;
}

static int collect_ignored(const json_t *rec, void *arg)
{
    struct seen *s = arg;
    if (s->nignored < 64)
        s->ignored[s->nignored++] = json_integer_value(json_object_get(rec, "batch"));
    return 0;
}

/* Changes the byte at `at`. */
static void flip(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    char c;
    if (fd < 0 || pread(fd, &c, 1, at) != 1)
        BAIL_OUT("pread");
    c ^= 1;
    if (pwrite(fd, &c, 1, at) != 1)
        BAIL_OUT("pwrite");
    close(fd);
}

/* Where record i (0-based) starts. */
static off_t record_at(const char *path, int i)
{
    FILE *f = fopen(path, "rb");
    off_t off = 0;
    unsigned char h[16];
    for (int k = 0; f && k < i; k++) {
        if (fseeko(f, off, SEEK_SET) != 0 || fread(h, 1, 16, f) != 16)
            BAIL_OUT("record %d", k);
        uint32_t len =
            (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        off += 16 + len;
    }
    if (f)
        fclose(f);
    return off;
}

static int append_batches(const char *path, int from, int to)
{
    wn_error_t err = {{0}};
    struct wn_journal *j = wn_journal_open(path, NULL, &err);
    if (!j)
        return diag("%s", err.text), -1;
    for (int b = from; b < to; b++) {
        json_t *r = json_pack("{s:s, s:i, s:i, s:s}", "ev", "batch", "stage", 1, "batch", b, "file",
                              "stages/01-x/part-00000001.h5");
        int rc = wn_journal_append(j, r, &err);
        json_decref(r);
        if (rc < 0)
            return diag("%s", err.text), -1;
    }
    int rc = wn_journal_sync(j, &err);
    wn_journal_close(j);
    return rc;
}

static off_t size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

int main(void)
{
    plan(NO_PLAN);
    char dir[] = "/tmp/winnow-journal.XXXXXX";
    if (!mkdtemp(dir))
        BAIL_OUT("mkdtemp");
    char path[256];
    snprintf(path, sizeof(path), "%s/journal", dir);
    wn_error_t err = {{0}};
    struct seen s = {{0}, 0, {0}, 0};
    struct wn_journal_tail t;
#define TORN(t) ((t).good_bytes < (t).size)

    ok(wn_journal_read(path, collect, &s, NULL, &t, &err) == 0 && s.n == 0 && !TORN(t),
       "a missing journal has no records");
    ok(append_batches(path, 0, 10) == 0, "10 records appended and synced");
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, NULL, &t, &err) == 0 && s.n == 10 && s.batch[0] == 0 &&
           s.batch[9] == 9 && !TORN(t) && (off_t)t.good_bytes == size_of(path) &&
           t.good_records == 10 && t.ignored == 0,
       "read back in order, all good");

    /* A crash mid-write: the last record is cut short. */
    off_t full = size_of(path);
    if (truncate(path, full - 5) != 0)
        BAIL_OUT("truncate");
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, collect_ignored, &t, &err) == 0 && s.n == 9 && TORN(t) &&
           t.ignored == 0 && s.nignored == 0,
       "a torn tail: 9 good records, torn, nothing whole after them");
    uint64_t kept = 0;
    struct wn_journal *j = wn_journal_open(path, &kept, &err);
    ok(j && kept == 9 && size_of(path) == (off_t)t.good_bytes,
       "reopening cuts the torn tail (%llu kept)", (unsigned long long)kept);
    wn_journal_close(j);
    ok(append_batches(path, 100, 102) == 0, "appending after the cut");
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, NULL, &t, &err) == 0 && s.n == 11 && s.batch[8] == 8 &&
           s.batch[9] == 100 && s.batch[10] == 101 && !TORN(t),
       "new records follow the last good one");

    /* Damage in the middle: record #5 (index 4) of 11.  The good part ends
     * before it; the 6 whole records after it are counted, not used. */
    flip(path, record_at(path, 4) + 16 + 10);
    s.n = s.nignored = 0;
    int rr = wn_journal_read(path, collect, &s, collect_ignored, &t, &err);
    ok(rr == 0 && s.n == 4 && t.good_records == 4 && TORN(t) && t.ignored == 6 && s.nignored == 6 &&
           s.ignored[0] == 5 && s.ignored[5] == 101,
       "damage in record #5: 4 good records, the 6 whole ones after it counted and shown "
       "apart (got %d good, %llu ignored)",
       s.n, (unsigned long long)t.ignored);
    /* A second damaged record further on: the scan steps over it. */
    flip(path, record_at(path, 7) + 3); /* its magic */
    s.n = s.nignored = 0;
    rr = wn_journal_read(path, collect, &s, collect_ignored, &t, &err);
    ok(rr == 0 && s.n == 4 && t.ignored == 5,
       "a second damaged record: the scan goes on past it (%llu ignored)",
       (unsigned long long)t.ignored);
    j = wn_journal_open(path, &kept, &err);
    ok(j && kept == 4 && size_of(path) == (off_t)t.good_bytes,
       "reopening keeps the 4 good records only");
    wn_journal_close(j);

    /* Damage inside the first record: no good records. */
    flip(path, 16 + 10);
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, NULL, &t, &err) == 0 && s.n == 0 && TORN(t) &&
           t.good_bytes == 0 && t.ignored == 3,
       "a damaged first record: no good records, 3 ignored");

    /* An append that fails part way (here the file size limit, as a full
     * disk does it: some bytes written, then an error) is cut off again:
     * the journal is as it was, and the next record follows the good ones. */
    if (truncate(path, 0) != 0 || append_batches(path, 0, 3) != 0)
        BAIL_OUT("rewrite");
    off_t before = size_of(path);
    j = wn_journal_open(path, NULL, &err);
    if (!j)
        BAIL_OUT("open: %s", err.text);
    struct rlimit old_lim, lim;
    signal(SIGXFSZ, SIG_IGN);
    if (getrlimit(RLIMIT_FSIZE, &old_lim) != 0)
        BAIL_OUT("getrlimit");
    lim = old_lim;
    lim.rlim_cur = (rlim_t)before + 20; /* the frame header and a few bytes fit */
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        BAIL_OUT("setrlimit");
    json_t *r = json_pack("{s:s, s:i, s:i}", "ev", "batch", "stage", 1, "batch", 3);
    int rc = wn_journal_append(j, r, &err);
    int e = errno;
    off_t after = size_of(path);
    if (setrlimit(RLIMIT_FSIZE, &old_lim) != 0)
        BAIL_OUT("setrlimit");
    ok(rc < 0 && e == EFBIG && strstr(err.text, path) && strstr(err.text, "cannot append"),
       "an append cut short by the file size limit fails, naming the journal (%s)", err.text);
    ok(after == before, "the journal is as it was (%lld bytes, was %lld)", (long long)after,
       (long long)before);
    rc = wn_journal_append(j, r, &err);
    json_decref(r);
    wn_journal_close(j);
    s.n = 0;
    ok(rc == 0 && wn_journal_read(path, collect, &s, NULL, &t, &err) == 0 && s.n == 4 && !TORN(t) &&
           s.batch[3] == 3,
       "the next append follows the good records");

    /* A file that is not a journal. */
    FILE *f = fopen(path, "w");
    fputs("{\"ev\": \"not framed\"}\n", f);
    fclose(f);
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, NULL, &t, &err) == 0 && s.n == 0 && TORN(t),
       "unframed text is not taken for records");
    ok(wn_journal_open("/nonexistent/dir/journal", NULL, &err) == NULL &&
           strstr(err.text, "/nonexistent/dir/journal"),
       "an unwritable path: %s", err.text);

    unlink(path);
    rmdir(dir);
    return done_testing();
}
