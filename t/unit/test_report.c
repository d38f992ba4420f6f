/* test_report.c - progress lines (with fake clocks), the summary table and
 * the JSON files: each file is parsed back with jansson and its values
 * compared with what went in. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/report.h"
#include "tap.h"

static char dir[4096];

static double dabs(double x)
{
    return x < 0 ? -x : x;
}

static char *path_in(const char *name)
{
    static char p[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap && !(buf = realloc(buf, cap = 2 * cap + 8192)))
            BAIL_OUT("out of memory");
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* Temporary files left in the test directory (names containing ".tmp."). */
static int leftover_tmp(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* ----------------------------------------------------------- progress -- */

static void test_progress_lines(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    struct wn_stage_stats s = {.name = "sleep", .t_begin = 2.0, .ran = 1};
    struct wn_progress p;

    wn_progress_init(&p, m, 2, 10.0);
    wn_progress_update(&p, &s, 1, 3, 10, 400, 3.0, 0);
    wn_progress_update(&p, &s, 1, 3, 50, 400, 9.9, 0);
    fflush(m);
    cmp_ok(len, ==, 0, "mode 2: nothing before the first interval");

    wn_progress_update(&p, &s, 1, 3, 180, 400, 12.0, 0);
    fflush(m);
    is(buf,
       "winnow: stage 2/3 'sleep': 180/400 tasks (45%), 18.0 tasks/s, ETA 12s, "
       "elapsed 10.0s\n",
       "mode 2: the progress line");

    size_t before = len;
    wn_progress_update(&p, &s, 1, 3, 200, 400, 15.0, 0);
    wn_progress_update(&p, &s, 1, 3, 210, 400, 21.9, 0);
    fflush(m);
    cmp_ok(len, ==, before, "mode 2: nothing within the interval");

    wn_progress_update(&p, &s, 1, 3, 300, 400, 22.5, 0);
    fflush(m);
    cmp_ok(count_char(buf, '\n'), ==, 2, "mode 2: a second line after the interval");

    before = len;
    wn_progress_update(&p, &s, 1, 3, 400, 400, 42.0, 1);
    fflush(m);
    is(buf + before, "winnow: stage 2/3 'sleep' done: 400 tasks in 40.0s (10.0 tasks/s)\n",
       "mode 2: the final line, even within the interval");

    /* Long ETA and elapsed times use minutes and hours. */
    before = len;
    s.t_begin = 0.0;
    wn_progress_init(&p, m, 2, 0.0);
    wn_progress_update(&p, &s, 0, 1, 1, 1000, 100.0, 0);
    fflush(m);
    is(buf + before,
       "winnow: stage 1/1 'sleep': 1/1000 tasks (0%), 0.0 tasks/s, "
       "ETA 27h45m, elapsed 1m40s\n",
       "mode 2: ETA in hours, elapsed in minutes");

    /* Nothing done yet: no rate, unknown ETA, no division by zero. */
    before = len;
    s.t_begin = 100.0;
    wn_progress_update(&p, &s, 0, 1, 0, 10, 105.0, 0);
    fflush(m);
    is(buf + before,
       "winnow: stage 1/1 'sleep': 0/10 tasks (0%), 0.0 tasks/s, ETA ?, "
       "elapsed 5.0s\n",
       "mode 2: done 0 gives ETA ?");

    /* A stage with no tasks, finishing at once. */
    before = len;
    s.t_begin = 107.0;
    wn_progress_update(&p, &s, 0, 1, 0, 0, 107.0, 0);
    wn_progress_update(&p, &s, 0, 1, 0, 0, 107.0, 1);
    fflush(m);
    is(buf + before,
       "winnow: stage 1/1 'sleep': 0/0 tasks (0%), 0.0 tasks/s, ETA 0s, "
       "elapsed 0.0s\n"
       "winnow: stage 1/1 'sleep' done: 0 tasks in 0.0s (0.0 tasks/s)\n",
       "mode 2: total 0");
    ok(!strstr(buf, "inf") && !strstr(buf, "nan"), "no inf or nan anywhere");

    /* Stopped before the end. */
    before = len;
    s.t_begin = 108.0;
    wn_progress_update(&p, &s, 0, 1, 5, 10, 110.0, 1);
    fflush(m);
    is(buf + before, "winnow: stage 1/1 'sleep' stopped: 5/10 tasks in 2.0s (2.5 tasks/s)\n",
       "mode 2: a final line short of the total says stopped");
    fclose(m);
    free(buf);
}

/* Streaming: the stages running at once, a line each (mode 2), or all
 * on one line (mode 1). */
static void test_progress_segment(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    struct wn_stage_stats a = {.name = "read", .t_begin = 1.0, .ran = 1};
    struct wn_stage_stats b = {.name = "words", .t_begin = 1.5, .ran = 1};
    struct wn_progress_stage v[2] = {{&a, 0, 2, 3, 10, 15}, {&b, 1, 1, 2, 4, 0}};
    struct wn_progress p;
    wn_progress_init(&p, m, 2, 10.0);
    wn_progress_segment(&p, v, 2, 3, 5.0);
    fflush(m);
    cmp_ok(len, ==, 0, "segment, mode 2: nothing before the first interval");
    wn_progress_segment(&p, v, 2, 3, 11.0);
    fflush(m);
    is(buf,
       "winnow: stage 1/3 'read': 10/15 batches done, 3 running, 2 queued, elapsed 10.0s\n"
       "winnow: stage 2/3 'words': 4/? batches done, 2 running, 1 queued, elapsed 9.5s\n",
       "segment, mode 2: a line per stage, '?' while the producer runs");
    fclose(m);
    free(buf);
    buf = NULL;
    m = open_memstream(&buf, &len);
    wn_progress_init(&p, m, 1, 10.0);
    wn_progress_segment(&p, v, 2, 3, 5.0);
    fflush(m);
    is(buf, "\r[1-2/3] read 10/15 3 run 2 q | words 4/? 2 run 1 q\033[K",
       "segment, mode 1: one line for all");
    fclose(m);
    free(buf);
}

static void test_progress_bar(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    struct wn_stage_stats s = {.name = "sleep", .t_begin = 0.0, .ran = 1};
    struct wn_progress p;

    wn_progress_init(&p, m, 1, 5.0);
    wn_progress_update(&p, &s, 1, 3, 180, 400, 100.0, 0);
    fflush(m);
    ok(buf && buf[0] == '\r' && strstr(buf, "[2/3] sleep"), "mode 1: bar drawn at once with \\r");
    ok(buf && strstr(buf, "[#########-----------]") && strstr(buf, " 45% 180/400 tasks") &&
           strstr(buf, "1.8 tasks/s") && strstr(buf, "ETA 2m02s"),
       "mode 1: bar, percentage, count, rate, ETA");
    ok(buf && !strchr(buf, '\n'), "mode 1: no newline while the stage runs");

    size_t before = len;
    wn_progress_update(&p, &s, 1, 3, 181, 400, 100.1, 0);
    fflush(m);
    cmp_ok(len, ==, before, "mode 1: not redrawn within 0.2 s");
    wn_progress_update(&p, &s, 1, 3, 190, 400, 100.35, 0);
    fflush(m);
    ok(len > before && strstr(buf + before, " 47% 190/400"), "mode 1: redrawn after 0.2 s");
    ok(p.bar_open, "mode 1: bar open");

    before = len;
    wn_progress_update(&p, &s, 1, 3, 400, 400, 100.4, 1);
    fflush(m);
    ok(strstr(buf + before, "[####################] 100% 400/400 tasks"),
       "mode 1: final draws 100%%");
    ok(len > 0 && buf[len - 1] == '\n' && !p.bar_open, "mode 1: final ends the line");
    fclose(m);
    free(buf);

    buf = NULL;
    m = open_memstream(&buf, &len);
    wn_progress_init(&p, m, 0, 0.0);
    wn_progress_update(&p, &s, 0, 1, 1, 2, 10.0, 0);
    wn_progress_update(&p, &s, 0, 1, 2, 2, 20.0, 1);
    fflush(m);
    cmp_ok(len, ==, 0, "mode 0 prints nothing");
    fclose(m);
    free(buf);
}

/* ------------------------------------------------- a report to write -- */

static struct wn_stage_stats stages[3];
static struct wn_trace_event events[4];

static struct wn_run_report make_report(void)
{
    memset(stages, 0, sizeof stages);
    struct wn_stage_stats *a = &stages[0], *b = &stages[1], *c = &stages[2];
    snprintf(a->name, sizeof a->name, "read");
    snprintf(a->type, sizeof a->type, "jsonl_reader");
    a->nactors = 2, a->ranks[0] = 1, a->ranks[1] = 2;
    a->batches = 4, a->tasks_in = 4, a->tasks_out = 8, a->items_in = 1000;
    a->items_out = 900, a->bytes_in = 123, a->bytes_out = 5000000000ull;
    a->busy_s = 15.0, a->idle_s = 0.5, a->pull_s = 0.25, a->pulled_bytes = 1u << 20;
    a->t_begin = 1.0, a->t_end = 11.0, a->ran = 1, a->retries = 2, a->failed = 1;

    snprintf(b->name, sizeof b->name, "minhash_signatures");
    snprintf(b->type, sizeof b->type, "minhash");
    b->nactors = 70; /* more than the 64 ranks kept */
    for (int i = 0; i < 64; i++)
        b->ranks[i] = i + 1;
    b->tasks_in = 8, b->tasks_out = 8, b->items_in = 900, b->items_out = 900;
    b->busy_s = 14.0, b->pull_s = 0.25, b->pulled_bytes = 1u << 20;
    b->t_begin = 11.0, b->t_end = 0.0, b->ran = 1; /* cut short at the run's end */

    snprintf(c->name, sizeof c->name, "write");
    snprintf(c->type, sizeof c->type, "jsonl\xffwriter"); /* not UTF-8 */

    events[0] = (struct wn_trace_event){1, 0, 0, 1.0, 1.5, 2, 0, 0, 0};
    events[1] = (struct wn_trace_event){2, 0, 1, 1.25, 3.000001, 2, -1, 0, 0};
    events[2] = (struct wn_trace_event){1, 1, 0, 11.0, 12.0, 8, 0, 3u << 20, 1u << 20};
    events[3] = (struct wn_trace_event){2, 7, 9, 12.0, 11.0, 1, 0, 0, 0}; /* bad stage, dur < 0 */

    static const uint32_t rss[3] = {40, 0, 1500}; /* rank 1 ran no batch */
    static const struct wn_rank_spill spill[3] = {{0, 0}, {3u << 20, 1u << 20}, {5u << 19, 0}};
    return (struct wn_run_report){
        .peak_rss_mib = rss,
        .spill = spill,
        .pipeline = "fuzzy \"dedup\"",
        .nranks = 3,
        .nnodes = 1,
        .wall_s = 21.0,
        .status = 3,
        .planner_payload_bytes = 12345,
        .stages = stages,
        .nstages = 3,
        .events = events,
        .nevents = 4,
    };
}

static void test_summary(void)
{
    struct wn_run_report r = make_report();
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    wn_report_summary(m, &r);
    fclose(m);
    diag("summary:\n%s", buf);
    ok(strstr(buf, "stage") && strstr(buf, "actors") && strstr(buf, "tasks in") &&
           strstr(buf, "tasks out") && strstr(buf, "items in") && strstr(buf, "items out") &&
           strstr(buf, "wall s") && strstr(buf, "busy %") && strstr(buf, "items/s"),
       "summary: every column header");
    ok(strstr(buf, "\nread ") && strstr(buf, "\nminhash_signatures ") && strstr(buf, "\nwrite "),
       "summary: every stage name");
    char *w = strstr(buf, "\nwrite ");
    ok(w && strstr(w, "not run"), "summary: a stage that did not run says so");
    char *rd = strstr(buf, "\nread ");
    ok(rd && strstr(rd, "  10.00  ") && strstr(rd, "75.0") && strstr(rd, "100.0\n"),
       "summary: wall s, busy %% and items/s of a stage");
    char *mh = strstr(buf, "\nminhash_signatures ");
    ok(mh && strstr(mh, "  10.00  ") && strstr(mh, "2.0  "),
       "summary: a stage cut short runs to the end of the run");
    ok(strstr(buf, "payload bytes received by rank 0: 12345 (12.1 KiB)\n"),
       "summary: payload bytes received by rank 0");
    ok(strstr(buf, "cross-rank transfers: 2.0 MiB pulled in 0.50 s (4.0 MiB/s)\n"),
       "summary: transfer rate");
    ok(strstr(buf, "stage 'read': batch retries 2, batches given up 1\n"),
       "summary: retries and failures");
    ok(strstr(buf, "peak RSS: 1500 MiB on rank 2 (the largest), 1540 MiB over 2 ranks\n"),
       "summary: peak RSS, the largest and the sum over ranks that reported one");
    ok(strstr(buf, "spilled: 5.5 MiB of stage outputs to spill files, 1.0 MiB read back (most: "
                   "3.0 MiB on rank 1)\n"),
       "summary: bytes spilled and read back, and the rank that spilled most");
    /* Every table line (header, rule, full rows) is the same width. */
    char *l1 = strchr(buf, '\n') + 1, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    char *l4 = strchr(l3, '\n') + 1;
    ok(l2 - l1 == l3 - l2 && l3 - l2 == l4 - l3, "summary: columns aligned");
    free(buf);

    stages[0].pulled_bytes = stages[1].pulled_bytes = 0;
    buf = NULL;
    m = open_memstream(&buf, &len);
    wn_report_summary(m, &r);
    fclose(m);
    ok(strstr(buf, "cross-rank transfers: none\n"), "summary: no transfers says none");
    free(buf);

    stages[1].arena_bytes = 3u << 20;
    buf = NULL;
    m = open_memstream(&buf, &len);
    wn_report_summary(m, &r);
    fclose(m);
    ok(strstr(buf, "cross-rank transfers: 3.0 MiB read in place from node memory\n"),
       "summary: bytes read in place from node arenas");
    free(buf);
    stages[0].pulled_bytes = 1u << 20;
    buf = NULL;
    m = open_memstream(&buf, &len);
    wn_report_summary(m, &r);
    fclose(m);
    ok(strstr(buf, "cross-rank transfers: 1.0 MiB pulled in 0.50 s (2.0 MiB/s), "
                   "3.0 MiB read in place from node memory\n"),
       "summary: pulled and read in place");
    free(buf);
}

/* -------------------------------------------------------------- stats -- */

static double num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static void test_stats(void)
{
    struct wn_run_report r = make_report();
    wn_error_t err = {""};
    const char *path = path_in("stats.json");
    ok(wn_report_stats_json(path, &r, &err) == 0, "stats: written (%s)", err.text);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ok(j != NULL, "stats: parses back (%s)", j ? "" : je.text);
    if (!j) {
        skip(13, "no stats JSON");
        return;
    }
    is(json_string_value(json_object_get(j, "pipeline")), "fuzzy \"dedup\"", "stats: pipeline");
    ok(json_integer_value(json_object_get(j, "ranks")) == 3 &&
           json_integer_value(json_object_get(j, "nodes")) == 1 &&
           json_integer_value(json_object_get(j, "status")) == 3 && num(j, "wall_s") == 21.0 &&
           json_integer_value(json_object_get(j, "planner_payload_bytes")) == 12345,
       "stats: run fields");
    json_t *rss = json_object_get(j, "peak_rss_mib");
    ok(json_array_size(rss) == 3 && json_integer_value(json_array_get(rss, 0)) == 40 &&
           json_integer_value(json_array_get(rss, 1)) == 0 &&
           json_integer_value(json_array_get(rss, 2)) == 1500,
       "stats: peak_rss_mib per rank");
    json_t *sp = json_object_get(j, "spill"), *sps = json_object_get(sp, "bytes_spilled"),
           *spr = json_object_get(sp, "bytes_read_back");
    ok(json_array_size(sps) == 3 && json_array_size(spr) == 3 &&
           json_integer_value(json_array_get(sps, 1)) == 3 << 20 &&
           json_integer_value(json_array_get(sps, 2)) == 5 << 19 &&
           json_integer_value(json_array_get(spr, 1)) == 1 << 20 &&
           json_integer_value(json_array_get(spr, 0)) == 0,
       "stats: spill bytes_spilled and bytes_read_back per rank");
    json_t *t = json_object_get(j, "transfer");
    ok(json_integer_value(json_object_get(t, "bytes")) == 2 << 20 && num(t, "seconds") == 0.5 &&
           num(t, "mb_per_s") == 4.0,
       "stats: transfer");
    json_t *st = json_object_get(j, "stages");
    cmp_ok(json_array_size(st), ==, 3, "stats: three stages");
    json_t *a = json_array_get(st, 0), *b = json_array_get(st, 1), *c = json_array_get(st, 2);
    ok(json_is_integer(json_object_get(a, "tasks_in")) &&
           json_integer_value(json_object_get(a, "tasks_in")) == 4 &&
           json_integer_value(json_object_get(a, "tasks_out")) == 8 &&
           json_integer_value(json_object_get(a, "items_in")) == 1000 &&
           json_integer_value(json_object_get(a, "bytes_out")) == 5000000000ll &&
           json_integer_value(json_object_get(a, "retries")) == 2 &&
           json_integer_value(json_object_get(a, "failed")) == 1 &&
           json_integer_value(json_object_get(a, "pulled_bytes")) == 1 << 20,
       "stats: counters are JSON integers with the right values");
    ok(num(a, "busy_s") == 15.0 && num(a, "idle_s") == 0.5 && num(a, "t_begin") == 1.0 &&
           num(a, "t_end") == 11.0 && num(a, "wall_s") == 10.0 &&
           dabs(num(a, "busy_pct") - 75.0) < 1e-9 && num(a, "items_per_s") == 100.0 &&
           dabs(num(a, "tasks_per_s") - 0.4) < 1e-12,
       "stats: times and derived rates");
    is(json_string_value(json_object_get(a, "type")), "jsonl_reader", "stats: stage type");
    is(json_string_value(json_object_get(c, "type")), "jsonl\xc3\xbfwriter",
       "stats: an invalid UTF-8 byte read as Latin-1");
    json_t *ra = json_object_get(a, "ranks");
    ok(json_array_size(ra) == 2 && json_integer_value(json_array_get(ra, 1)) == 2,
       "stats: actor ranks");
    cmp_ok(json_array_size(json_object_get(b, "ranks")), ==, 64, "stats: at most 64 ranks listed");
    ok(json_is_false(json_object_get(c, "ran")) && json_is_true(json_object_get(a, "ran")) &&
           num(c, "wall_s") == 0.0,
       "stats: ran flags");
    json_decref(j);
    cmp_ok(leftover_tmp(), ==, 0, "stats: no temporary file left");
}

/* -------------------------------------------------------------- trace -- */

static void test_trace(void)
{
    struct wn_run_report r = make_report();
    wn_error_t err = {""};
    const char *path = path_in("trace.json");
    ok(wn_report_trace_json(path, &r, &err) == 0, "trace: written (%s)", err.text);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ok(j != NULL, "trace: parses back (%s)", j ? "" : je.text);
    if (!j) {
        skip(6, "no trace JSON");
        return;
    }
    is(json_string_value(json_object_get(j, "displayTimeUnit")), "ms", "trace: displayTimeUnit");
    json_t *evs = json_object_get(j, "traceEvents"), *e;
    size_t i;
    int nx = 0, good = 0, threads = 0, procname = 0, counters = 0;
    json_array_foreach(evs, i, e)
    {
        const char *ph = json_string_value(json_object_get(e, "ph"));
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *args = json_object_get(e, "args");
        long long tid = json_integer_value(json_object_get(e, "tid"));
        if (ph && !strcmp(ph, "M") && name && !strcmp(name, "thread_name")) {
            char want[32];
            snprintf(want, sizeof want, "rank %lld", tid);
            threads += !strcmp(json_string_value(json_object_get(args, "name")), want) &&
                       (tid == 1 || tid == 2);
        } else if (ph && !strcmp(ph, "M") && name && !strcmp(name, "process_name")) {
            procname +=
                !strcmp(json_string_value(json_object_get(args, "name")), "winnow fuzzy \"dedup\"");
        } else if (ph && !strcmp(ph, "X")) {
            const struct wn_trace_event *ev = &events[nx];
            const char *sn = ev->stage < 3 ? stages[ev->stage].name : "stage 7";
            double ts = json_number_value(json_object_get(e, "ts"));
            double dur = json_number_value(json_object_get(e, "dur"));
            double want_dur = ev->t_end > ev->t_start ? (ev->t_end - ev->t_start) * 1e6 : 0;
            const char *status = json_string_value(json_object_get(args, "status"));
            good += name && !strcmp(name, sn) && tid == ev->rank &&
                    dabs(ts - ev->t_start * 1e6) < 1e-3 && dabs(dur - want_dur) < 1e-3 &&
                    json_integer_value(json_object_get(e, "pid")) == 1 &&
                    !strcmp(json_string_value(json_object_get(e, "cat")), "batch") &&
                    json_integer_value(json_object_get(args, "batch")) == (long long)ev->batch &&
                    json_integer_value(json_object_get(args, "tasks")) == ev->ntasks && status &&
                    !strcmp(status, ev->status ? "failed" : "ok") &&
                    json_integer_value(json_object_get(args, "rank_bytes_spilled")) ==
                        (long long)ev->bytes_spilled &&
                    json_integer_value(json_object_get(args, "rank_bytes_read_back")) ==
                        (long long)ev->bytes_read_back;
            nx++;
        } else if (ph && !strcmp(ph, "C")) {
            counters += name && !strcmp(name, "spill, rank 1 (MiB)") &&
                        json_number_value(json_object_get(args, "spilled")) == 3.0 &&
                        json_number_value(json_object_get(args, "read back")) == 1.0;
        }
    }
    cmp_ok(nx, ==, 4, "trace: one X event per batch event");
    cmp_ok(good, ==, 4, "trace: name, tid, ts, dur (us), args of each event");
    cmp_ok(threads, ==, 2, "trace: one thread_name per rank seen");
    cmp_ok(procname, ==, 1, "trace: process_name");
    cmp_ok(counters, ==, 1, "trace: a spill counter where a rank had spilled");
    json_decref(j);

    r.nevents = 0;
    ok(wn_report_trace_json(path, &r, &err) == 0 && (j = json_load_file(path, 0, &je)) &&
           json_array_size(json_object_get(j, "traceEvents")) == 1,
       "trace: no events still valid JSON");
    json_decref(j);
}

/* ------------------------------------------------------------ results -- */

static const char bad_utf8[] = "\xff\xfe bad \xc3\xa9 ok \xed\xa0\x80 \xe2\x82";
static const char bad_utf8_read[] = "\xc3\xbf\xc3\xbe bad \xc3\xa9 ok \xc3\xad\xc2\xa0\xc2\x80 "
                                    "\xc3\xa2\xc2\x82";

static struct wn_task *make_task(uint64_t id, int rows)
{
    static const uint64_t ids[] = {1, (1ull << 53) + 1, UINT64_MAX};
    static const double scores[] = {0.1, -2.5e300, 3.0};
    const char *texts[] = {"quote\" and\nnewline\\ \t", bad_utf8, "a\0b"};
    size_t lens[] = {strlen(texts[0]), sizeof bad_utf8 - 1, 3};
    struct wn_batch *b = wn_batch_create();
    struct wn_column *cid = wn_batch_add_column(b, "id", WN_TYPE_U64, 0, NULL);
    struct wn_column *cs = wn_batch_add_column(b, "score", WN_TYPE_F64, 0, NULL);
    struct wn_column *ct = wn_batch_add_column(b, "text", WN_TYPE_STR, 0, NULL);
    struct wn_column *cl = wn_batch_add_column(b, "sig", WN_TYPE_LIST_U32, 3, NULL);
    struct wn_column *cn = wn_batch_add_column(b, "delta", WN_TYPE_I32, 0, NULL);
    if (!cid || !cs || !ct || !cl || !cn)
        BAIL_OUT("add_column: %s", strerror(errno));
    for (int r = 0; r < rows; r++) {
        uint32_t sig[3] = {(uint32_t)r, 4000000000u, 7};
        if (wn_col_append_u64(cid, ids[r], NULL) || wn_col_append_f64(cs, scores[r], NULL) ||
            wn_col_append_str(ct, texts[r], lens[r], NULL) || wn_col_append_list(cl, sig, NULL) ||
            wn_col_append_i64(cn, -r, NULL))
            BAIL_OUT("append: %s", strerror(errno));
    }
    struct wn_task *t = wn_task_create(id, 2, b);
    if (!t)
        BAIL_OUT("task_create");
    return t;
}

static void test_results(void)
{
    struct wn_task *tasks[3] = {make_task(0xabcdef0123456789ull, 3), wn_task_create(5, 2, NULL),
                                make_task(255, 1)};
    wn_error_t err = {""};
    const char *path = path_in("results.jsonl"), *path2 = path_in("results2.jsonl");
    ok(wn_report_results(path, tasks, 3, &err) == 0, "results: written (%s)", err.text);
    ok(wn_report_results(path2, tasks, 3, &err) == 0, "results: written again");
    size_t n1, n2;
    char *f1 = slurp(path, &n1), *f2 = slurp(path2, &n2);
    ok(f1 && f2 && n1 == n2 && !memcmp(f1, f2, n1), "results: deterministic bytes");
    cmp_ok(f1 ? count_char(f1, '\n') : 0, ==, 4, "results: 3 + 0 + 1 rows");
    diag("results:\n%s", f1 ? f1 : "");

    char *line[4] = {NULL}, *save = NULL;
    for (int i = 0; i < 4; i++)
        line[i] = strtok_r(i ? NULL : f1, "\n", &save);
    json_error_t je;
    json_t *r0 = line[0] ? json_loads(line[0], JSON_ALLOW_NUL, &je) : NULL;
    json_t *r1 = line[1] ? json_loads(line[1], JSON_ALLOW_NUL, &je) : NULL;
    json_t *r2 =
        line[2] ? json_loads(line[2], JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je) : NULL;
    json_t *r3 = line[3] ? json_loads(line[3], JSON_ALLOW_NUL, &je) : NULL;
    ok(r0 && r1 && r2 && r3, "results: every line parses as JSON");
    if (!r0 || !r1 || !r2 || !r3) {
        skip(11, "unparsed lines");
        goto out;
    }
    is(json_string_value(json_object_get(r0, "task")), "abcdef0123456789", "results: task id hex");
    ok(json_integer_value(json_object_get(r1, "row")) == 1 &&
           !strcmp(json_string_value(json_object_get(r3, "task")), "00000000000000ff") &&
           json_integer_value(json_object_get(r3, "row")) == 0,
       "results: row numbers restart per task");
    char *p[6] = {strstr(line[0], "\"task\""), strstr(line[0], "\"row\""),
                  strstr(line[0], "\"id\""),   strstr(line[0], "\"score\""),
                  strstr(line[0], "\"text\""), strstr(line[0], "\"sig\"")};
    ok(p[0] && p[0] < p[1] && p[1] < p[2] && p[2] < p[3] && p[3] < p[4] && p[4] < p[5],
       "results: keys in batch order");
    ok(json_integer_value(json_object_get(r0, "id")) == 1 &&
           json_is_integer(json_object_get(r1, "id")) &&
           (uint64_t)json_integer_value(json_object_get(r1, "id")) == (1ull << 53) + 1,
       "results: u64 above 2^53 exact");
    ok(strstr(line[2], "\"id\":18446744073709551615,") != NULL,
       "results: u64 above INT64_MAX as an exact decimal number");
    ok(json_real_value(json_object_get(r0, "score")) == 0.1 && strstr(line[0], "\"score\":0.1,") &&
           json_real_value(json_object_get(r1, "score")) == -2.5e300 &&
           json_is_real(json_object_get(r2, "score")) &&
           json_real_value(json_object_get(r2, "score")) == 3.0,
       "results: f64 round-trips, shortest form, always a real");
    json_t *s0 = json_object_get(r0, "text");
    is(json_string_value(s0), "quote\" and\nnewline\\ \t", "results: quote, newline, backslash");
    json_t *s1 = json_object_get(r1, "text");
    ok(json_string_length(s1) == sizeof bad_utf8_read - 1 &&
           !memcmp(json_string_value(s1), bad_utf8_read, sizeof bad_utf8_read - 1) &&
           strstr(line[1], "\\u00ff\\u00fe bad \xc3\xa9 ok \\u00ed\\u00a0\\u0080 \\u00e2\\u0082"),
       "results: invalid UTF-8 bytes as \\u00XX, valid sequences kept");
    json_t *s2 = json_object_get(r2, "text");
    ok(json_string_length(s2) == 3 && !memcmp(json_string_value(s2), "a\0b", 3),
       "results: embedded NUL");
    json_t *sig = json_object_get(r2, "sig");
    ok(json_array_size(sig) == 3 && json_number_value(json_array_get(sig, 0)) == 2 &&
           json_number_value(json_array_get(sig, 1)) == 4000000000.0 &&
           json_number_value(json_array_get(sig, 2)) == 7,
       "results: list<u32> as an array");
    ok(json_number_value(json_object_get(r2, "delta")) == -2, "results: i32 negative");
out:
    json_decref(r0), json_decref(r1), json_decref(r2), json_decref(r3);
    free(f1);
    free(f2);

    errno = 0;
    int rc = wn_report_results("/nonexistent-dir/x.jsonl", tasks, 3, &err);
    ok(rc == -1 && errno == ENOENT && strstr(err.text, "/nonexistent-dir/x.jsonl"),
       "results: an unwritable path fails with a message");
    cmp_ok(leftover_tmp(), ==, 0, "results: no temporary file left");
    for (int i = 0; i < 3; i++)
        wn_task_destroy(tasks[i]);
}

/* ------------------------------------------------------------- failed -- */

static void test_failed(void)
{
    const char *path = path_in("failed.jsonl");
    uint64_t ids[2] = {0x1f, 0xfedcba9876543210ull};
    wn_error_t err = {""};
    ok(wn_report_failed(path, "minhash", 7, 3, ids, 2, "rank 4: \"bad\" input\n", &err) == 0 &&
           wn_report_failed(path, "write", 0, 1, NULL, 0, NULL, &err) == 0,
       "failed: two appends (%s)", err.text);
    char *f = slurp(path, NULL);
    int nl = f ? count_char(f, '\n') : 0;
    char *save = NULL, *l1 = f ? strtok_r(f, "\n", &save) : NULL;
    char *l2 = l1 ? strtok_r(NULL, "\n", &save) : NULL;
    json_error_t je;
    json_t *a = l1 ? json_loads(l1, 0, &je) : NULL, *b = l2 ? json_loads(l2, 0, &je) : NULL;
    ok(nl == 2 && a && b, "failed: two JSON lines");
    json_t *t = json_object_get(a, "tasks");
    ok(a && !strcmp(json_string_value(json_object_get(a, "stage")), "minhash") &&
           json_integer_value(json_object_get(a, "batch")) == 7 &&
           json_integer_value(json_object_get(a, "attempts")) == 3 && json_array_size(t) == 2 &&
           !strcmp(json_string_value(json_array_get(t, 0)), "000000000000001f") &&
           !strcmp(json_string_value(json_array_get(t, 1)), "fedcba9876543210") &&
           !strcmp(json_string_value(json_object_get(a, "error")), "rank 4: \"bad\" input\n"),
       "failed: fields and hex ids");
    ok(b && !strcmp(json_string_value(json_object_get(b, "stage")), "write") &&
           json_array_size(json_object_get(b, "tasks")) == 0 &&
           json_is_null(json_object_get(b, "error")),
       "failed: second line, no ids, no error text");
    json_decref(a);
    json_decref(b);
    free(f);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_report.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        BAIL_OUT("mkdtemp %s: %s", dir, strerror(errno));

    plan(NO_PLAN);
    test_progress_lines();
    test_progress_bar();
    test_progress_segment();
    test_summary();
    test_stats();
    test_trace();
    test_results();
    test_failed();

    const char *names[] = {"stats.json", "trace.json", "results.jsonl", "results2.jsonl",
                           "failed.jsonl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(path_in(names[i]));
    rmdir(dir);
    return done_testing();
}
