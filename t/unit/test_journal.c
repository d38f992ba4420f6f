/* test_journal.c - the run journal: records round-trip in order; a torn
 * tail (a crash mid-write) or a damaged record ends the good part, which
 * reopening keeps, and new records follow it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "tap.h"

struct seen {
    long long batch[64];
    int n;
};

static int collect(const json_t *rec, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        s->batch[s->n++] = json_integer_value(json_object_get(rec, "batch"));
    return 0;
}

static int append_batches(const char *path, int from, int to)
{
    wn_error_t err = {{0}};
    struct wn_journal *j = wn_journal_open(path, NULL, &err);
    if (!j)
        return diag("%s", err.text), -1;
    for (int b = from; b < to; b++) {
        json_t *r = json_pack("{s:s, s:i, s:i, s:s}", "ev", "batch", "stage", 1, "batch", b,
                              "file", "stages/01-x/part-00000001.h5");
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
    struct seen s = {{0}, 0};
    uint64_t good;
    int torn;

    ok(wn_journal_read(path, collect, &s, &good, &torn, &err) == 0 && s.n == 0 && !torn,
       "a missing journal has no records");
    ok(append_batches(path, 0, 10) == 0, "10 records appended and synced");
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, &good, &torn, &err) == 0 && s.n == 10 &&
       s.batch[0] == 0 && s.batch[9] == 9 && !torn && (off_t)good == size_of(path),
       "read back in order, all good");

    /* A crash mid-write: the last record is cut short. */
    off_t full = size_of(path);
    if (truncate(path, full - 5) != 0)
        BAIL_OUT("truncate");
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, &good, &torn, &err) == 0 && s.n == 9 && torn,
       "a torn tail: 9 good records, torn reported");
    uint64_t kept = 0;
    struct wn_journal *j = wn_journal_open(path, &kept, &err);
    ok(j && kept == 9 && size_of(path) == (off_t)good, "reopening cuts the torn tail (%llu kept)",
       (unsigned long long)kept);
    wn_journal_close(j);
    ok(append_batches(path, 100, 102) == 0, "appending after the cut");
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, &good, &torn, &err) == 0 && s.n == 11 &&
       s.batch[8] == 8 && s.batch[9] == 100 && s.batch[10] == 101 && !torn,
       "new records follow the last good one");

    /* Damage inside a record: the good part ends before it. */
    int fd = open(path, O_RDWR);
    char c;
    off_t at = 16 + 10;   /* inside the first record's JSON */
    if (fd < 0 || pread(fd, &c, 1, at) != 1)
        BAIL_OUT("pread");
    c ^= 1;
    if (pwrite(fd, &c, 1, at) != 1)
        BAIL_OUT("pwrite");
    close(fd);
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, &good, &torn, &err) == 0 && s.n == 0 && torn &&
       good == 0, "a damaged first record: no good records, torn");

    /* A file that is not a journal. */
    FILE *f = fopen(path, "w");
    fputs("{\"ev\": \"not framed\"}\n", f);
    fclose(f);
    s.n = 0;
    ok(wn_journal_read(path, collect, &s, &good, &torn, &err) == 0 && s.n == 0 && torn,
       "unframed text is not taken for records");
    ok(wn_journal_open("/nonexistent/dir/journal", NULL, &err) == NULL &&
       strstr(err.text, "/nonexistent/dir/journal"), "an unwritable path: %s", err.text);

    unlink(path);
    rmdir(dir);
    return done_testing();
}
