/* test_store.c - the payload store: put, get, references, drops, and the
 * hash table under churn (tombstones, rehashing), against a model. */
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "exec/spill.h"
#include "exec/store.h"
#include "tap.h"

static void *payload(uint64_t id, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(id + i);
    return b;
}

static int payload_ok(const struct wn_payload *p, uint64_t id, size_t len)
{
    if (!p || p->id != id || p->len != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char *)p->buf)[i] != (unsigned char)(id + i))
            return 0;
    return 1;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static void test_basics(void)
{
    struct wn_store *s = wn_store_create();
    ok(s != NULL, "store created");
    ok(wn_store_get(s, 42, NULL) == NULL, "an unknown id is not found");
    ok(wn_store_put(s, 42, 1, payload(42, 10), 10) == 0, "put");
    struct wn_payload *p = wn_store_get(s, 42, NULL);
    ok(payload_ok(p, 42, 10), "get returns the payload");
    wn_store_drop(s, 42);
    ok(wn_store_get(s, 42, NULL) == NULL, "a dropped id is gone for new readers");
    ok(payload_ok(p, 42, 10), "a reader's reference keeps the bytes alive");
    wn_store_release(s, p);
    uint64_t n = 9, bytes = 9;
    wn_store_usage(s, &n, &bytes);
    ok(n == 0 && bytes == 0, "usage is back to zero (%llu, %llu)", (unsigned long long)n,
       (unsigned long long)bytes);
    ok(wn_store_put(s, 7, 1, payload(7, 3), 3) == 0 && wn_store_put(s, 7, 2, payload(7, 5), 5) == 0,
       "putting an id twice replaces it");
    p = wn_store_get(s, 7, NULL);
    ok(payload_ok(p, 7, 5) && p->stage_index == 2, "the second payload wins");
    wn_store_release(s, p);
    wn_store_destroy(s);
}

/* Many ids, drops by id and by stage, in rounds: tombstones pile up and
 * the table rehashes; every answer matches a plain array model. */
static void test_churn(void)
{
    enum { N = 50000 };
    struct wn_store *s = wn_store_create();
    static unsigned char live[N];
    memset(live, 0, sizeof(live));
    int bad = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++)
            if (!live[i] && (i + round) % 3 != 0) {
                uint64_t id = mix((uint64_t)i + 1);
                if (wn_store_put(s, id, (uint32_t)(i % 2), payload(id, (size_t)(i % 7)),
                                 (size_t)(i % 7)) < 0)
                    bad++;
                live[i] = 1;
            }
        for (int i = round; i < N; i += 5)
            if (live[i]) {
                wn_store_drop(s, mix((uint64_t)i + 1));
                live[i] = 0;
            }
        if (round == 2) {
            wn_store_drop_stage(s, 1);
            for (int i = 1; i < N; i += 2)
                live[i] = 0;
        }
        uint64_t want = 0;
        for (int i = 0; i < N; i++) {
            uint64_t id = mix((uint64_t)i + 1);
            struct wn_payload *p = wn_store_get(s, id, NULL);
            if (live[i] ? !payload_ok(p, id, (size_t)(i % 7)) : p != NULL)
                bad++;
            wn_store_release(s, p);
            want += live[i];
        }
        uint64_t n = 0;
        wn_store_usage(s, &n, NULL);
        ok(bad == 0 && n == want, "round %d: %llu live ids, every lookup right (%d wrong)", round,
           (unsigned long long)n, bad);
    }
    wn_store_destroy(s);
}

static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Spilling with a 100-byte budget: what goes past it is written out,
 * read back intact, freed again once released, and the file goes (its
 * space with it) when the stage's last spilled payload is dropped. */
static void test_spill(void)
{
    char dir[] = "/tmp/winnow-test-spill.XXXXXX";
    if (!mkdtemp(dir)) {
        skip(9, "no temporary folder");
        return;
    }
    struct wn_store *s = wn_store_create();
    wn_store_set_spill(s, dir, 3, 100);
    struct wn_store_spill_stats st;
    int bad = 0;
    for (uint64_t id = 1; id <= 10; id++)
        bad += wn_store_put(s, id, 0, payload(id, 60), 60) < 0;
    bad += wn_store_put(s, 99, 1, payload(99, 5000), 5000) < 0;
    wn_store_spill_stats(s, &st);
    ok(bad == 0 && st.bytes_spilled == 9 * 60 + 5000,
       "the first payload stays, the nine after it and stage 1's spill (%llu bytes)",
       (unsigned long long)st.bytes_spilled);
    ok(st.bytes_on_disk >= st.bytes_spilled, "the records are on disk (%llu bytes)",
       (unsigned long long)st.bytes_on_disk);
    ok(files_in(dir) == 0, "the spill files are unlinked at once: nothing in the folder");
    int intact = 1;
    for (uint64_t id = 1; id <= 10; id++) {
        wn_error_t err;
        struct wn_payload *p = wn_store_get(s, id, &err);
        intact &= payload_ok(p, id, 60);
        wn_store_release(s, p);
    }
    ok(intact, "every spilled payload reads back intact");
    wn_store_spill_stats(s, &st);
    ok(st.bytes_read_back == 9 * 60, "bytes read back counted (%llu)",
       (unsigned long long)st.bytes_read_back);
    wn_store_drop_stage(s, 0);
    wn_store_spill_stats(s, &st);
    ok(st.bytes_on_disk == wn_spill_record_size(5000),
       "stage 0 dropped: its file is gone, stage 1's stays (%llu bytes on disk)",
       (unsigned long long)st.bytes_on_disk);

    /* A byte flipped on disk: refused, with the file named. */
    setenv("WINNOW_TEST_SPILL_FLIP", "1", 1);
    wn_store_set_spill(s, dir, 3, 0);
    ok(wn_store_put(s, 500, 2, payload(500, 4096), 4096) == 0, "a payload spilled, then flipped");
    unsetenv("WINNOW_TEST_SPILL_FLIP");
    wn_error_t err;
    struct wn_payload *p = wn_store_get(s, 500, &err);
    ok(p == NULL && strstr(err.text, "fails its checksum") && strstr(err.text, "winnow-spill-") &&
           strstr(err.text, "-r3-s2"),
       "a payload changed on disk is refused, naming its spill file: %s", err.text);
    p = wn_store_get(s, 12345, &err);
    ok(p == NULL && err.text[0] == '\0', "an id not held: NULL and no error text");
    wn_store_destroy(s);
    rmdir(dir);
}

int main(void)
{
    plan(NO_PLAN);
    test_basics();
    test_churn();
    test_spill();
    return done_testing();
}
