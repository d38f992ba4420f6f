/* report.c - progress lines, the end-of-run table and the JSON files rank 0
 * writes (see report.h).
 *
 * The stats file is small and built with jansson.  The trace and results
 * files are streamed by hand instead: they grow with the run (a million
 * batches, a hundred million rows) and a jansson tree of them would cost
 * gigabytes; the results also need u64 values above INT64_MAX and
 * escapes for invalid UTF-8, neither of which jansson can write. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exec/report.h"
#include "winnow/file.h"

#define MIB (1024.0 * 1024.0)

/* ------------------------------------------------------------ helpers -- */

static double fin(double x)
{
    return isfinite(x) ? x : 0.0;
}

static size_t name_len(const char *s, size_t max)
{
    return s ? strnlen(s, max) : 0;
}

/* Writes s[0..n) as a JSON string.  Valid UTF-8 passes through; '"', '\\'
 * and control bytes are escaped; each byte that starts no valid UTF-8
 * sequence becomes \u00XX (that is, it is read as Latin-1). */
static void put_jstr(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    fputc('"', f);
    while (i < n) {
        unsigned c = p[i];
        size_t k = (c >= 0x20 && c != '"' && c != '\\') ? wn_utf8_len(p + i, n - i) : 0;
        if (k) {
            i += k;
            continue;
        }
        fwrite(p + run, 1, i - run, f);
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : NULL;
        if (esc)
            fputs(esc, f);
        else
            fprintf(f, "\\u%04x", c);
        run = ++i;
    }
    fwrite(p + run, 1, i - run, f);
    fputc('"', f);
}

/* A jansson string of s[0..n); invalid UTF-8 bytes become the characters
 * U+0080..U+00FF, as put_jstr writes them.  NULL only for ENOMEM. */
static json_t *jstrn(const char *s, size_t n)
{
    json_t *j = json_stringn(s ? s : "", n);
    if (j || !s)
        return j;
    unsigned char *buf = malloc(2 * n + 1), *o = buf;
    const unsigned char *p = (const unsigned char *)s;
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = wn_utf8_len(p + i, n - i);
        if (k) {
            memcpy(o, p + i, k);
            o += k, i += k;
        } else {
            *o++ = (unsigned char)(0xC0 | (p[i] >> 6));
            *o++ = (unsigned char)(0x80 | (p[i] & 0x3F));
            i++;
        }
    }
    j = json_stringn((const char *)buf, (size_t)(o - buf));
    free(buf);
    return j;
}

static json_t *jint(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* The shortest of %.15g..%.17g that reads back as the same double, so
 * 0.1 stays 0.1 and every value round-trips; ".0" keeps it a real for
 * readers that type by syntax.  NaN and infinities are not JSON: null. */
static void put_f64(FILE *f, double x)
{
    char b[40];
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x)
            break;
    }
    fputs(b, f);
    if (!strpbrk(b, ".eE"))
        fputs(".0", f);
}

/* Each file is replaced whole (winnow/file.h), so a reader (or a crash)
 * sees the old file or the whole new one.  A stream on its temporary
 * file, or NULL with err set. */
static FILE *report_open(struct wn_afile **a, const char *path, wn_error_t *err)
{
    FILE *f = NULL;
    if ((*a = wn_afile_open(path, 0, 0666, err)) && !(f = wn_afile_stream(*a, err))) {
        wn_afile_abort(*a);
        *a = NULL;
    }
    return f;
}

/* Seconds a stage took: to its end, or to the end of the run when it was
 * cut short (t_end still 0). */
static double stage_wall(const struct wn_run_report *r, const struct wn_stage_stats *s)
{
    if (!s->ran)
        return 0.0;
    double end = s->t_end > 0 ? s->t_end : r->wall_s;
    double w = fin(end - s->t_begin);
    return w > 0 ? w : 0.0;
}

static double ratio(double a, double b)
{
    return b > 0 && isfinite(a / b) ? a / b : 0.0;
}

static double busy_pct(const struct wn_stage_stats *s, double wall)
{
    if (s->actor_s > 0) /* actors changed over time: their actor-seconds */
        return ratio(100.0 * fin(s->busy_s), s->actor_s);
    return ratio(100.0 * fin(s->busy_s), (double)s->nactors * wall);
}

static void transfer_totals(const struct wn_run_report *r, uint64_t *bytes, double *secs,
                            uint64_t *arena)
{
    *bytes = *arena = 0;
    *secs = 0;
    for (uint32_t i = 0; i < r->nstages; i++) {
        *bytes += r->stages[i].pulled_bytes;
        *secs += fin(r->stages[i].pull_s);
        *arena += r->stages[i].arena_bytes;
    }
}

/* ----------------------------------------------------------- progress -- */

void wn_progress_init(struct wn_progress *p, FILE *out, int mode, double interval)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->mode = out ? mode : 0;
    p->interval = interval;
    p->last = 0.0; /* the run's start: the first line comes after one interval */
}

/* An ETA (elapsed 0): "4s", "2m05s", "1h02m", "?" when unknown.  An
 * elapsed time (elapsed 1): "3.4s" under a minute, then "2m05s", "1h02m03s". */
static void fmt_dur(char *b, size_t n, double x, int elapsed)
{
    if (!isfinite(x) || x < 0 || x > 1e9) {
        snprintf(b, n, elapsed ? "0.0s" : "?");
        return;
    }
    long s = (long)(x + 0.5);
    if (elapsed && x < 59.95)
        snprintf(b, n, "%.1fs", x);
    else if (s < 60)
        snprintf(b, n, "%lds", s);
    else if (s < 3600)
        snprintf(b, n, "%ldm%02lds", s / 60, s % 60);
    else if (elapsed)
        snprintf(b, n, "%ldh%02ldm%02lds", s / 3600, s % 3600 / 60, s % 60);
    else
        snprintf(b, n, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

void wn_progress_update(struct wn_progress *p, const struct wn_stage_stats *s, uint32_t index,
                        uint32_t nstages, uint64_t done, uint64_t total, double now, int final)
{
    if (!p || !p->out || (p->mode != 1 && p->mode != 2))
        return;
    /* A bar is drawn at once when a stage starts, then at most every 0.2 s. */
    if (!final && (p->mode == 2 || p->bar_open) &&
        now - p->last < (p->mode == 1 ? 0.2 : p->interval))
        return;
    p->last = now;

    double elapsed = fin(now - s->t_begin);
    elapsed = elapsed > 0 ? elapsed : 0.0;
    double rate = ratio((double)done, elapsed);
    unsigned pct =
        total ? (unsigned)(done >= total ? 100 : done * 100.0 / total) : (final ? 100 : 0);
    char eta[32], el[32];
    fmt_dur(eta, sizeof eta, done >= total ? 0 : done ? (double)(total - done) / rate : NAN, 0);
    fmt_dur(el, sizeof el, elapsed, 1);
    int nlen = (int)name_len(s->name, sizeof s->name);
    unsigned ui = index + 1;

    if (p->mode == 1) {
        char bar[21] = "--------------------";
        memset(bar, '#', pct / 5);
        /* \033[K clears what a longer previous line left behind. */
        fprintf(p->out,
                "\r[%u/%u] %-8.*s [%s] %3u%% %" PRIu64 "/%" PRIu64
                " tasks  %.1f tasks/s  %s%s\033[K",
                ui, nstages, nlen, s->name, bar, pct, done, total, rate, final ? "in " : "ETA ",
                final ? el : eta);
        if (final)
            fputc('\n', p->out);
        p->bar_open = !final;
    } else if (!final) {
        fprintf(p->out,
                "winnow: stage %u/%u '%.*s': %" PRIu64 "/%" PRIu64
                " tasks (%u%%), %.1f tasks/s, ETA %s, elapsed %s\n",
                ui, nstages, nlen, s->name, done, total, pct, rate, eta, el);
    } else if (done >= total) {
        fprintf(p->out, "winnow: stage %u/%u '%.*s' done: %" PRIu64 " tasks in %s (%.1f tasks/s)\n",
                ui, nstages, nlen, s->name, done, el, rate);
    } else {
        fprintf(p->out,
                "winnow: stage %u/%u '%.*s' stopped: %" PRIu64 "/%" PRIu64
                " tasks in %s (%.1f tasks/s)\n",
                ui, nstages, nlen, s->name, done, total, el, rate);
    }
    fflush(p->out);
}

void wn_progress_segment(struct wn_progress *p, const struct wn_progress_stage *v, size_t n,
                         uint32_t nstages, double now)
{
    if (!p || !p->out || (p->mode != 1 && p->mode != 2) || !n)
        return;
    if ((p->mode == 2 || p->bar_open) && now - p->last < (p->mode == 1 ? 0.2 : p->interval))
        return;
    p->last = now;
    char line[512];
    size_t at = 0;
    if (p->mode == 1)
        at = (size_t)snprintf(line, sizeof line, "\r[%u-%u/%u]", v[0].index + 1, v[n - 1].index + 1,
                              nstages);
    for (size_t i = 0; i < n; i++) {
        const struct wn_progress_stage *e = &v[i];
        int nlen = (int)name_len(e->s->name, sizeof e->s->name);
        char total[24] = "?", el[32];
        if (e->total)
            snprintf(total, sizeof total, "%" PRIu64, e->total);
        if (p->mode == 2) {
            fmt_dur(el, sizeof el, fin(now - e->s->t_begin), 1);
            fprintf(p->out,
                    "winnow: stage %u/%u '%.*s': %" PRIu64 "/%s batches done, %" PRIu64
                    " running, %" PRIu64 " queued, elapsed %s\n",
                    e->index + 1, nstages, nlen, e->s->name, e->done, total, e->running, e->queued,
                    el);
        } else if (at < sizeof line && (i == 0 || e->done || e->running || e->queued)) {
            /* A bar: the stages that have begun, in the terminal's width. */
            at += (size_t)snprintf(
                line + at, sizeof line - at, "%s %.*s %" PRIu64 "/%s %" PRIu64 " run %" PRIu64 " q",
                i ? " |" : "", nlen, e->s->name, e->done, total, e->running, e->queued);
        }
    }
    if (p->mode == 1) {
        struct winsize ws;
        size_t width =
            ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 120;
        if (at > width && width + 1 < sizeof line) /* the '\r' takes no column */
            memcpy(line + width - 3, "...", 4);
        fprintf(p->out, "%s\033[K", line);
        p->bar_open = 1;
    }
    fflush(p->out);
}

/* ------------------------------------------------------------ summary -- */

#define NCOLS 9
#define CELL 72

static void human_bytes(char *b, size_t n, double v)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (v >= 1024.0 && u < 5)
        v /= 1024.0, u++;
    if (u == 0)
        snprintf(b, n, "%.0f B", v);
    else
        snprintf(b, n, "%.1f %s", v, unit[u]);
}

/* Streaming: "stage 'b': actors over time 3 at 0.0s, 7 at 0.3s, ..." when
 * the autoscaler changed its count (at most 12 entries, then the last). */
static void actors_over_time(FILE *out, const struct wn_run_report *r, uint32_t stage,
                             const char *name)
{
    size_t n = 0, shown = 0;
    for (size_t k = 0; k < r->nautoscale; k++)
        n += r->autoscale[k].stage == stage;
    if (n < 2)
        return;
    fprintf(out, "stage '%s': actors over time", name);
    int last = -1;
    for (size_t k = 0, seen = 0; k < r->nautoscale; k++) {
        const struct wn_autoscale_event *e = &r->autoscale[k];
        if (e->stage != stage)
            continue;
        seen++;
        if (e->actors == last && seen < n)
            continue;
        last = e->actors;
        if (shown < 12 || seen == n)
            fprintf(out, "%s %d at %.1fs", shown ? "," : "", e->actors, fin(e->t));
        else if (shown == 12)
            fprintf(out, ", ...");
        shown++;
    }
    fputc('\n', out);
}

void wn_report_summary(FILE *out, const struct wn_run_report *r)
{
    static const char *head[NCOLS] = {"stage",     "actors", "tasks in", "tasks out", "items in",
                                      "items out", "wall s", "busy %",   "items/s"};
    size_t w[NCOLS];
    char(*cell)[NCOLS][CELL] = calloc(r->nstages ? r->nstages : 1, sizeof *cell);
    if (!out)
        goto done;
    fprintf(out, "winnow: pipeline '%s': ranks %d, nodes %d, wall %.2f s, exit status %d\n",
            r->pipeline ? r->pipeline : "?", r->nranks, r->nnodes, fin(r->wall_s), r->status);
    if (!cell) {
        fprintf(out, "winnow: (no memory for the stage table)\n");
        goto done;
    }
    for (int c = 0; c < NCOLS; c++)
        w[c] = strlen(head[c]);
    for (uint32_t i = 0; i < r->nstages; i++) {
        const struct wn_stage_stats *s = &r->stages[i];
        double wall = stage_wall(r, s);
        snprintf(cell[i][0], CELL, "%.*s", (int)name_len(s->name, sizeof s->name), s->name);
        if (s->ran) {
            snprintf(cell[i][1], CELL, "%d", s->nactors);
            snprintf(cell[i][2], CELL, "%" PRIu64, s->tasks_in);
            snprintf(cell[i][3], CELL, "%" PRIu64, s->tasks_out);
            snprintf(cell[i][4], CELL, "%" PRIu64, s->items_in);
            snprintf(cell[i][5], CELL, "%" PRIu64, s->items_out);
            snprintf(cell[i][6], CELL, "%.2f", wall);
            snprintf(cell[i][7], CELL, "%.1f", busy_pct(s, wall));
            snprintf(cell[i][8], CELL, "%.1f", ratio((double)s->items_in, wall));
        }
        for (int c = 0; c < NCOLS; c++)
            if (strlen(cell[i][c]) > w[c])
                w[c] = strlen(cell[i][c]);
    }
    for (int c = 0; c < NCOLS; c++)
        fprintf(out, c ? "  %*s" : "%-*s", (int)w[c], head[c]);
    fputc('\n', out);
    for (int c = 0; c < NCOLS; c++) {
        fputs(c ? "  " : "", out);
        for (size_t k = 0; k < w[c]; k++)
            fputc('-', out);
    }
    fputc('\n', out);
    for (uint32_t i = 0; i < r->nstages; i++) {
        if (!r->stages[i].ran) {
            fprintf(out, "%-*s  not run\n", (int)w[0], cell[i][0]);
            continue;
        }
        for (int c = 0; c < NCOLS; c++)
            fprintf(out, c ? "  %*s" : "%-*s", (int)w[c], cell[i][c]);
        fputc('\n', out);
    }
    for (uint32_t i = 0; i < r->nstages; i++) {
        const struct wn_stage_stats *s = &r->stages[i];
        if (s->retries || s->failed)
            fprintf(out, "stage '%s': batch retries %u, batches given up %u\n", cell[i][0],
                    s->retries, s->failed);
        if (s->rejects.total) {
            char why[512];
            wn_reject_counts_text(&s->rejects, why, sizeof(why));
            fprintf(out, "stage '%s': %" PRIu64 " records rejected: %s\n", cell[i][0],
                    s->rejects.total, why);
        }
        actors_over_time(out, r, i, cell[i][0]);
    }

    char hb[32];
    human_bytes(hb, sizeof hb, (double)r->planner_payload_bytes);
    fprintf(out, "payload bytes received by rank 0: %" PRIu64 " (%s)\n", r->planner_payload_bytes,
            hb);
    uint64_t tb, ab;
    double ts;
    transfer_totals(r, &tb, &ts, &ab);
    if (!tb && !ab)
        fprintf(out, "cross-rank transfers: none\n");
    else {
        fprintf(out, "cross-rank transfers: ");
        if (tb && ts > 0)
            fprintf(out, "%.1f MiB pulled in %.2f s (%.1f MiB/s)", tb / MIB, ts, tb / MIB / ts);
        else if (tb)
            fprintf(out, "%.1f MiB pulled", tb / MIB);
        if (ab)
            fprintf(out, "%s%.1f MiB read in place from node memory", tb ? ", " : "", ab / MIB);
        fprintf(out, "\n");
    }
    int big = -1, n = 0;
    uint64_t sum = 0;
    for (int i = 0; r->peak_rss_mib && i < r->nranks; i++)
        if (r->peak_rss_mib[i]) {
            sum += r->peak_rss_mib[i];
            n++;
            if (big < 0 || r->peak_rss_mib[i] > r->peak_rss_mib[big])
                big = i;
        }
    if (big >= 0)
        fprintf(out,
                "peak RSS: %" PRIu32 " MiB on rank %d (the largest), %" PRIu64
                " MiB over %d rank%s\n",
                r->peak_rss_mib[big], big, sum, n, n == 1 ? "" : "s");
    uint64_t spilled = 0, back = 0, bigs = 0;
    int bigr = -1;
    for (int i = 0; r->spill && i < r->nranks; i++) {
        spilled += r->spill[i].bytes_spilled;
        back += r->spill[i].bytes_read_back;
        if (r->spill[i].bytes_spilled > bigs)
            bigs = r->spill[i].bytes_spilled, bigr = i;
    }
    if (spilled)
        fprintf(out,
                "spilled: %.1f MiB of stage outputs to spill files, %.1f MiB read back "
                "(most: %.1f MiB on rank %d)\n",
                spilled / MIB, back / MIB, bigs / MIB, bigr);
done:
    free(cell);
    if (out)
        fflush(out);
}

/* -------------------------------------------------------------- stats -- */

static json_t *stage_json(const struct wn_run_report *r, const struct wn_stage_stats *s)
{
    double wall = stage_wall(r, s);
    json_t *ranks = json_array();
    int nr = s->nactors < 64 ? s->nactors : 64;
    for (int i = 0; ranks && i < nr; i++)
        if (json_array_append_new(ranks, json_integer(s->ranks[i])) != 0) {
            json_decref(ranks);
            ranks = NULL;
        }
    json_t *o = json_pack(
        "{s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:f, s:f, s:f, s:o, s:o, s:f, s:f, s:I, s:I, s:b,"
        " s:f, s:f, s:f, s:f}",
        "name", jstrn(s->name, name_len(s->name, sizeof s->name)), "type",
        jstrn(s->type, name_len(s->type, sizeof s->type)), "nactors", s->nactors, "ranks", ranks,
        "batches", jint(s->batches), "tasks_in", jint(s->tasks_in), "tasks_out", jint(s->tasks_out),
        "items_in", jint(s->items_in), "items_out", jint(s->items_out), "bytes_in",
        jint(s->bytes_in), "bytes_out", jint(s->bytes_out), "busy_s", fin(s->busy_s), "idle_s",
        fin(s->idle_s), "pull_s", fin(s->pull_s), "pulled_bytes", jint(s->pulled_bytes),
        "arena_bytes", jint(s->arena_bytes), "t_begin", fin(s->t_begin), "t_end", fin(s->t_end),
        "retries", (json_int_t)s->retries, "failed", (json_int_t)s->failed, "ran", s->ran != 0,
        "wall_s", wall, "busy_pct", busy_pct(s, wall), "items_per_s",
        ratio((double)s->items_in, wall), "tasks_per_s", ratio((double)s->tasks_in, wall));
    if (o && s->rejects.total) {
        /* {"total": N, "reasons": {REASON: N, ...}, "first": "FILE:LINE: ..."} */
        json_t *why = json_object();
        for (size_t k = 0; why && k < s->rejects.n; k++)
            if (json_object_set_new(why, s->rejects.reason[k], jint(s->rejects.count[k])) != 0) {
                json_decref(why);
                why = NULL;
            }
        json_t *rj = why ? json_pack("{s:o, s:o, s:s?}", "total", jint(s->rejects.total), "reasons",
                                     why, "first", s->rejects.first)
                         : NULL;
        if (!rj || json_object_set_new(o, "rejects", rj) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    if (o && s->streamed) {
        json_t *st = json_pack("{s:o, s:o, s:f, s:i}", "queue_peak", jint(s->queue_peak),
                               "queue_holds", jint(s->queue_holds), "actor_s", fin(s->actor_s),
                               "autoscales", (int)s->autoscales);
        if (!st || json_object_set_new(o, "streaming", st) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    if (o && s->rounds) { /* a shuffle stage */
        json_t *sh = json_pack("{s:I, s:o, s:o, s:o}", "rounds", (json_int_t)s->rounds, "bytes",
                               jint(s->shuffle_bytes), "spilled_bytes", jint(s->spilled_bytes),
                               "peak_held_bytes", jint(s->peak_held_bytes));
        if (!sh || json_object_set_new(o, "shuffle", sh) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

int wn_report_stats_json(const char *path, const struct wn_run_report *r, wn_error_t *err)
{
    uint64_t tb;
    double ts;
    uint64_t ab;
    transfer_totals(r, &tb, &ts, &ab);
    json_t *stages = json_array();
    for (uint32_t i = 0; stages && i < r->nstages; i++)
        if (json_array_append_new(stages, stage_json(r, &r->stages[i])) != 0) {
            json_decref(stages);
            stages = NULL;
        }
    const char *pl = r->pipeline ? r->pipeline : "";
    json_t *root =
        json_pack("{s:o, s:i, s:i, s:f, s:i, s:o, s:{s:o, s:f, s:f, s:o}, s:o}", "pipeline",
                  jstrn(pl, strlen(pl)), "ranks", r->nranks, "nodes", r->nnodes, "wall_s",
                  fin(r->wall_s), "status", r->status, "planner_payload_bytes",
                  jint(r->planner_payload_bytes), "transfer", "bytes", jint(tb), "seconds", ts,
                  "mb_per_s", ratio(tb / MIB, ts), "arena_bytes", jint(ab), "stages", stages);
    /* Streaming: each stage's actors over time. */
    json_t *as = r->nautoscale ? json_array() : NULL;
    for (size_t k = 0; as && k < r->nautoscale; k++) {
        const struct wn_autoscale_event *e = &r->autoscale[k];
        const char *nm = e->stage < r->nstages ? r->stages[e->stage].name : "?";
        json_t *ev =
            json_pack("{s:f, s:o, s:i}", "t", fin(e->t), "stage",
                      jstrn(nm, name_len(nm, sizeof r->stages[0].name)), "actors", e->actors);
        if (!ev || json_array_append_new(as, ev) != 0) {
            json_decref(as);
            as = NULL;
        }
    }
    if (root && r->nautoscale && (!as || json_object_set_new(root, "autoscale", as))) {
        json_decref(root);
        root = NULL;
    }
    json_t *rss = r->peak_rss_mib ? json_array() : NULL;
    for (int i = 0; rss && i < r->nranks; i++)
        if (json_array_append_new(rss, json_integer(r->peak_rss_mib[i])) != 0) {
            json_decref(rss);
            rss = NULL;
        }
    if (root && r->peak_rss_mib && (!rss || json_object_set_new(root, "peak_rss_mib", rss))) {
        json_decref(root);
        root = NULL;
    }
    json_t *spill = r->spill ? json_pack("{s:[], s:[]}", "bytes_spilled", "bytes_read_back") : NULL;
    for (int i = 0; spill && i < r->nranks; i++)
        if (json_array_append_new(json_object_get(spill, "bytes_spilled"),
                                  jint(r->spill[i].bytes_spilled)) != 0 ||
            json_array_append_new(json_object_get(spill, "bytes_read_back"),
                                  jint(r->spill[i].bytes_read_back)) != 0) {
            json_decref(spill);
            spill = NULL;
        }
    if (root && r->spill && (!spill || json_object_set_new(root, "spill", spill))) {
        json_decref(root);
        root = NULL;
    }
    if (!root) {
        errno = ENOMEM;
        return wn_errprintf(err, "%s: cannot build the stats JSON (out of memory)", path);
    }
    struct wn_afile *a;
    FILE *f = report_open(&a, path, err);
    if (!f) {
        json_decref(root);
        return -1;
    }
    int ok = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) == 0;
    json_decref(root);
    if (!ok) {
        errno = ferror(f) && errno ? errno : EIO;
        wn_errprintf(err, "%s: cannot write the stats JSON: %s", path, strerror(errno));
        wn_afile_abort(a);
        return -1;
    }
    fputc('\n', f);
    return wn_afile_commit(a, err);
}

/* -------------------------------------------------------------- trace -- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* A lane (trace "tid"): the rank, or rank and stage (lanes_by_stage). */
#define LANE_STAGES 1024
static int lane_of(const struct wn_run_report *r, const struct wn_trace_event *ev)
{
    return r->lanes_by_stage ? ev->rank * LANE_STAGES + (int)(ev->stage % LANE_STAGES) : ev->rank;
}

int wn_report_trace_json(const char *path, const struct wn_run_report *r, wn_error_t *err)
{
    int *ranks = malloc((r->nevents ? r->nevents : 1) * sizeof *ranks);
    char *pname = NULL;
    if (!ranks || asprintf(&pname, "winnow %s", r->pipeline ? r->pipeline : "") < 0) {
        free(ranks);
        errno = ENOMEM;
        return wn_errprintf(err, "%s: out of memory", path);
    }
    size_t nranks = 0;
    for (size_t i = 0; i < r->nevents; i++)
        ranks[i] = lane_of(r, &r->events[i]);
    qsort(ranks, r->nevents, sizeof *ranks, cmp_int);
    for (size_t i = 0; i < r->nevents; i++)
        if (!nranks || ranks[nranks - 1] != ranks[i])
            ranks[nranks++] = ranks[i];

    struct wn_afile *a;
    FILE *f = report_open(&a, path, err);
    if (!f) {
        free(ranks);
        free(pname);
        return -1;
    }
    fputs("{\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,"
          "\"args\":{\"name\":",
          f);
    put_jstr(f, pname, strlen(pname));
    fputs("}}", f);
    /* A name per lane, and lanes in rank order rather than first-seen. */
    for (size_t i = 0; i < nranks; i++) {
        int lane = ranks[i], rank = r->lanes_by_stage ? lane / LANE_STAGES : lane;
        uint32_t st = (uint32_t)(lane % LANE_STAGES);
        fprintf(f,
                ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,"
                "\"args\":{\"name\":\"rank %d",
                lane, rank);
        if (r->lanes_by_stage && st < r->nstages) {
            fputs(": ", f);
            fwrite(r->stages[st].name, 1, name_len(r->stages[st].name, sizeof r->stages[0].name),
                   f);
        }
        fprintf(f,
                "\"}},\n"
                "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":%d,"
                "\"args\":{\"sort_index\":%d}}",
                lane, lane);
    }
    for (size_t i = 0; i < r->nevents; i++) {
        const struct wn_trace_event *ev = &r->events[i];
        fputs(",\n{\"name\":", f);
        if (ev->stage < r->nstages) {
            const char *nm = r->stages[ev->stage].name;
            put_jstr(f, nm, name_len(nm, sizeof r->stages[0].name));
        } else
            fprintf(f, "\"stage %" PRIu32 "\"", ev->stage);
        /* microseconds, to the nanosecond */
        double dur = fin(ev->t_end - ev->t_start);
        fprintf(f, ",\"cat\":\"batch\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f",
                fin(ev->t_start) * 1e6, (dur > 0 ? dur : 0) * 1e6);
        fprintf(f,
                ",\"pid\":1,\"tid\":%d,\"args\":{\"batch\":%" PRIu64 ",\"tasks\":%" PRIu32
                ",\"status\":\"%s\",\"rank_bytes_spilled\":%" PRIu64
                ",\"rank_bytes_read_back\":%" PRIu64 "}}",
                lane_of(r, ev), ev->batch, ev->ntasks, ev->status == 0 ? "ok" : "failed",
                ev->bytes_spilled, ev->bytes_read_back);
        /* A counter track per rank, where it spilled: Perfetto draws it. */
        if (ev->bytes_spilled || ev->bytes_read_back)
            fprintf(f,
                    ",\n{\"name\":\"spill, rank %d (MiB)\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":1,"
                    "\"args\":{\"spilled\":%.3f,\"read back\":%.3f}}",
                    ev->rank, fin(ev->t_end) * 1e6, ev->bytes_spilled / MIB,
                    ev->bytes_read_back / MIB);
    }
    fputs("\n],\"displayTimeUnit\":\"ms\"}\n", f);
    free(ranks);
    free(pname);
    return wn_afile_commit(a, err);
}

/* ------------------------------------------------------------ results -- */

static int put_row(FILE *f, const struct wn_task *t, uint64_t row)
{
    const struct wn_batch *b = t->batch;
    fprintf(f, "{\"task\":\"%016" PRIx64 "\",\"row\":%" PRIu64, t->id, row);
    for (uint32_t c = 0; c < b->ncols; c++) {
        const struct wn_column *col = b->cols[c];
        uint64_t k = row * col->list_len, len = col->list_len;
        fputc(',', f);
        put_jstr(f, col->name, name_len(col->name, sizeof col->name));
        fputc(':', f);
        switch (col->type) {
        case WN_TYPE_U8:
            fprintf(f, "%u", (unsigned)wn_col_u8(col)[row]);
            break;
        case WN_TYPE_I32:
            fprintf(f, "%" PRId32, wn_col_i32(col)[row]);
            break;
        case WN_TYPE_U32:
            fprintf(f, "%" PRIu32, wn_col_u32(col)[row]);
            break;
        case WN_TYPE_I64:
            fprintf(f, "%" PRId64, wn_col_i64(col)[row]);
            break;
        case WN_TYPE_U64:
            fprintf(f, "%" PRIu64, wn_col_u64(col)[row]);
            break;
        case WN_TYPE_F64:
            put_f64(f, wn_col_f64(col)[row]);
            break;
        case WN_TYPE_STR: {
            size_t n = (size_t)(col->offsets[row + 1] - col->offsets[row]);
            put_jstr(f, (const char *)col->data + col->offsets[row], n);
            break;
        }
        case WN_TYPE_LIST_U32:
        case WN_TYPE_LIST_U64:
            fputc('[', f);
            for (uint64_t j = 0; j < len; j++) {
                if (col->type == WN_TYPE_LIST_U32)
                    fprintf(f, j ? ",%" PRIu32 : "%" PRIu32, wn_col_u32(col)[k + j]);
                else
                    fprintf(f, j ? ",%" PRIu64 : "%" PRIu64, wn_col_u64(col)[k + j]);
            }
            fputc(']', f);
            break;
        default:
            return -1;
        }
    }
    fputs("}\n", f);
    return 0;
}

int wn_report_results(const char *path, struct wn_task *const *tasks, size_t n, wn_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct wn_batch *b = tasks[i]->batch;
        if (b && wn_batch_validate(b, err) < 0)
            return wn_errprefix(err, "%s: task %016" PRIx64, path, tasks[i]->id);
    }
    struct wn_afile *a;
    FILE *f = report_open(&a, path, err);
    if (!f)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct wn_task *t = tasks[i];
        uint64_t nrows = wn_batch_nrows(t->batch);
        for (uint64_t row = 0; row < nrows; row++)
            if (put_row(f, t, row) < 0) {
                errno = EINVAL;
                wn_errprintf(err, "%s: task %016" PRIx64 ": a column of unknown type", path, t->id);
                wn_afile_abort(a);
                return -1;
            }
    }
    return wn_afile_commit(a, err);
}

/* ------------------------------------------------------------- failed -- */

int wn_report_failed(const char *path, const char *stage, uint64_t batch, unsigned attempts,
                     const uint64_t *ids, size_t nids, const char *error, wn_error_t *err)
{
    char *line = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&line, &len);
    if (!m) {
        errno = ENOMEM;
        return wn_errprintf(err, "%s: out of memory", path);
    }
    fputs("{\"stage\":", m);
    put_jstr(m, stage ? stage : "", stage ? strlen(stage) : 0);
    fprintf(m, ",\"batch\":%" PRIu64 ",\"attempts\":%u,\"tasks\":[", batch, attempts);
    for (size_t i = 0; i < nids; i++)
        fprintf(m, i ? ",\"%016" PRIx64 "\"" : "\"%016" PRIx64 "\"", ids[i]);
    fputs("],\"error\":", m);
    if (error)
        put_jstr(m, error, strlen(error));
    else
        fputs("null", m);
    fputs("}\n", m);
    if (fclose(m) != 0 || !line) {
        free(line);
        errno = ENOMEM;
        return wn_errprintf(err, "%s: out of memory", path);
    }
    /* One write() of the whole line: O_APPEND keeps lines whole even if
     * another process appends too. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        wn_errprintf(err, "%s: %s", path, strerror(errno));
        free(line);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            wn_errprintf(err, "%s: %s", path, strerror(errno));
            close(fd);
            free(line);
            return -1;
        }
        off += (size_t)w;
    }
    free(line);
    if (close(fd) != 0)
        return wn_errprintf(err, "%s: %s", path, strerror(errno));
    return 0;
}
