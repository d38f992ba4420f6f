/* read_jsonl.c - the `read_jsonl` stage: a source of documents read from
 * JSON Lines files, plain, gzip or zstd (NeMo Curator's JsonlReader, made
 * deterministic: the same files give the same tasks, rows and ids).
 *
 *   files     `input` is a directory, a glob pattern or one file.  A
 *             directory is searched recursively for *.jsonl, *.jsonl.gz and
 *             *.jsonl.zst; symbolic links to files are followed, links to
 *             directories are not (so a link loop cannot trap the walk).
 *             A pattern (a `*`, `?` or `[` in input) takes every regular
 *             file it matches, whatever its name, and so does a file named
 *             directly.  The name's ending picks the decompression: .gz
 *             gzip, .zst zstd, anything else none.  The list is the
 *             run's (wn_stage_list_inputs): sorted by path, bytewise (so the
 *             locale cannot change it), a file's index its place in it,
 *             made at init (an input matching no file fails the run before
 *             any work, naming it), shared with the stages that map ids
 *             back to files, and recorded in the checkpoint.  A file is
 *             checked against the list when opened and when read to its
 *             end: one that changed during the run fails its batch.
 *   tasks     the files are grouped greedily, in list order: a file joins
 *             the current group unless that would take the group's text
 *             past `blocksize` bytes; a compressed file counts the text it
 *             holds, estimated from its header or trailer without
 *             decompressing (wn_jl_text_size), so a small .zst holding
 *             much text is not a small task, and it never splits.  A plain
 *             file larger than blocksize is cut into ranges of at least
 *             blocksize bytes ending at a '\n' (wn_jl_cut: one memchr pass
 *             at init counts the lines, so each range knows its first
 *             line's number and ids are those of a whole-file read), a
 *             group each; a line crossing a cut belongs to the range where
 *             it starts.  Not when a later write_jsonl writes the files
 *             back: it needs each file whole in one task.
 *             Each group is one output task, even one without a good line
 *             (its batch has the columns and no rows), so task positions
 *             depend on the files only; its metadata "files" is "FIRST
 *             COUNT", the indices of its files (what write_jsonl writes;
 *             a range's is its file, COUNT 1).
 *             The stage asks the runner for one seed task per group
 *             (wn_stage_set_seeds), so the groups are read by as many
 *             actors at once; seed i yields group i, and an input task
 *             without "seed" metadata yields all the groups.
 *   lines     split at '\n'; a last line without one counts too.  Lines
 *             are numbered from 1, every line counted, skipped ones too.
 *             A line of JSON whitespace only (space, tab, CR) is skipped
 *             silently: blank lines are common between records and are
 *             no error.  Lines of any length are read (the buffer grows).
 *   columns   text_field (str): the field's string value;
 *             id_field (str, only when set): that field's value, a string
 *             as it is, a number as its JSON text exactly as written (so
 *             12345678901234567890 or 1.50 stay what they were);
 *             _curator_dedup_id (u64): file index << 40 | line number;
 *             _file (u32) and _line (u64): the same two numbers;
 *             _raw (str): the line's bytes exactly as read, without its
 *             '\n' (a CR before it stays), for writers that copy kept lines
 *             byte for byte.
 *   rejects   a line that is not valid UTF-8, not JSON, not a JSON object,
 *             lacks text_field (or id_field, when set) or has a text that is
 *             not a string (an id that is not a string or a number) is not
 *             emitted: it is counted into its task's metadata "rejected" and
 *             handed to the runner (wn_stage_reject) under one reason per
 *             cause ("invalid JSON", "no field 'text'", ...), which writes it
 *             to the pipeline's rejects file, counts it, and fails the run
 *             when too many are rejected.  A line without the text field is
 *             recorded with the fields it has, so a wrong text_field shows.
 *   errors    a file that cannot be listed, opened, read or decompressed
 *             (not gzip / zstd data, truncated) fails process_batch, naming
 *             the file.
 *
 * JSON is parsed with jansson: duplicate keys keep the last value, \u0000 is
 * allowed in strings, and a line with a number jansson cannot hold (an
 * integer beyond 64 bits, a real beyond a double's range, in any field) is
 * parsed again from a copy with its numbers written as 0 (tame_numbers),
 * rather than rejected: JSON sets numbers no range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "io/jsonl_io.h"

/* One output task: files [first, end), or when ranged range rg of file
 * first (end = first + 1). */
struct rj_group {
    size_t first, end;
    int ranged;
    struct wn_jl_range rg;
};

struct read_jsonl {
    char *input, *text_field, *id_field; /* id_field NULL: none */
    long long blocksize;                 /* configured */
    long long tasks_per_actor;           /* 0: blocksize not lowered for it */
    uint64_t block;                      /* used (adapt_blocksize) */
    struct wn_jl_list list;              /* made at init */
    int listed;
    size_t ngroups, cap;
    struct rj_group *groups;
};

/* ------------------------------------------------------------ parsing -- */

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The columns of one output task, in their order in the batch. */
struct rj_cols {
    struct wn_column *text, *id, *dedup, *file, *line, *raw;
};

static struct wn_batch *new_batch(const struct read_jsonl *rj, struct rj_cols *c, wn_error_t *err)
{
    struct wn_batch *b = wn_batch_create();
    if (!b) {
        wn_errprintf(err, "out of memory");
        return NULL;
    }
    memset(c, 0, sizeof(*c));
    if (!(c->text = wn_batch_add_column(b, rj->text_field, WN_TYPE_STR, 0, err)) ||
        (rj->id_field && !(c->id = wn_batch_add_column(b, rj->id_field, WN_TYPE_STR, 0, err))) ||
        !(c->dedup = wn_batch_add_column(b, "_curator_dedup_id", WN_TYPE_U64, 1, err)) ||
        !(c->file = wn_batch_add_column(b, "_file", WN_TYPE_U32, 1, err)) ||
        !(c->line = wn_batch_add_column(b, "_line", WN_TYPE_U64, 1, err)) ||
        !(c->raw = wn_batch_add_column(b, "_raw", WN_TYPE_STR, 0, err))) {
        wn_batch_destroy(b);
        return NULL;
    }
    return b;
}

static size_t digits(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* A copy of line (n bytes) with each number outside strings written as 0,
 * or NULL when a number is not one by JSON's grammar (the line is then
 * malformed whatever the copy says) or out of memory.  jansson refuses a
 * number no double holds (1e400), which JSON allows: such a line is
 * parsed from the copy, its text and an id's JSON text taken from the
 * line itself. */
static char *tame_numbers(const char *s, size_t n, size_t *len)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < n;) {
        if (s[i] == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            j = j < n ? j + 1 : n;
            memcpy(out + o, s + i, j - i);
            o += j - i;
            i = j;
        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            size_t j = i + (s[i] == '-'), k;
            if (j < n && s[j] == '0')
                j++;
            else if ((k = digits(s, j, n)) > j && s[j] != '0')
                j = k;
            else
                goto bad;
            if (j < n && s[j] == '.' && (k = digits(s, j + 1, n)) > j + 1)
                j = k;
            else if (j < n && s[j] == '.')
                goto bad;
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                j += 1 + (j + 1 < n && (s[j + 1] == '+' || s[j + 1] == '-'));
                if ((k = digits(s, j, n)) == j)
                    goto bad;
                j = k;
            }
            out[o++] = '0';
            i = j;
        } else {
            out[o++] = s[i++];
        }
    }
    if (out)
        out[o] = '\0';
    *len = o;
    return out;
bad:
    free(out);
    return NULL;
}

/* "the line has fields a, b, c" (the first few), for a reject naming a
 * field the line lacks: a text_field set wrong shows at once. */
static void fields_seen(const json_t *doc, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "the line has %s",
                                json_object_size(doc) ? "fields" : "no field");
    const char *key;
    const json_t *v;
    size_t i = 0;
    json_object_foreach((json_t *)doc, key, v)
    {
        if (k >= len)
            break;
        if (i == 8) {
            snprintf(buf + k, len - k, ", ... (%zu in all)", json_object_size(doc));
            break;
        }
        k += (size_t)snprintf(buf + k, len - k, "%s'%.60s'", i++ ? ", " : " ", key);
    }
}

/* Line number lno of file fidx: appended to the columns, or counted and
 * rejected, or (blank) skipped. */
static int take_line(struct wn_stage *st, const struct read_jsonl *rj, const struct wn_jl_file *f,
                     uint64_t fidx, uint64_t lno, const char *line, size_t n, struct rj_cols *c,
                     uint64_t *nrej, wn_error_t *err)
{
    if (blank(line, n))
        return 0;
    json_error_t jerr;
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *doc = json_loadb(line, n, flags, &jerr);
    if (!doc && json_error_code(&jerr) == json_error_numeric_overflow) {
        size_t tlen = 0;
        char *tame = tame_numbers(line, n, &tlen);
        json_error_t terr;
        doc = tame ? json_loadb(tame, tlen, flags, &terr) : NULL;
        free(tame);
    }
    char reason[160], detail[JSON_ERROR_TEXT_LENGTH + 640];
    const json_t *text = NULL, *id = NULL;
    reason[0] = detail[0] = 0;
    if (!doc) {
        snprintf(reason, sizeof(reason), "%s",
                 json_error_code(&jerr) == json_error_invalid_utf8 ? "invalid UTF-8"
                                                                   : "invalid JSON");
        snprintf(detail, sizeof(detail), "%s (byte %d)", jerr.text, jerr.position);
    } else if (!json_is_object(doc)) {
        snprintf(reason, sizeof(reason), "not a JSON object");
        snprintf(detail, sizeof(detail), "but %s", json_kind(doc));
    } else if (!(text = json_object_get(doc, rj->text_field))) {
        snprintf(reason, sizeof(reason), "no field '%.100s'", rj->text_field);
        fields_seen(doc, detail, sizeof(detail));
        size_t k = strlen(detail);
        snprintf(detail + k, sizeof(detail) - k, " (text_field names the field to read)");
    } else if (!json_is_string(text)) {
        snprintf(reason, sizeof(reason), "field '%.100s' is not a string", rj->text_field);
        snprintf(detail, sizeof(detail), "but %s", json_kind(text));
    } else if (rj->id_field && !(id = json_object_get(doc, rj->id_field))) {
        snprintf(reason, sizeof(reason), "no field '%.100s'", rj->id_field);
        fields_seen(doc, detail, sizeof(detail));
    } else if (id && !json_is_string(id) && !json_is_number(id)) {
        snprintf(reason, sizeof(reason), "field '%.100s' is not a string or a number",
                 rj->id_field);
        snprintf(detail, sizeof(detail), "but %s", json_kind(id));
    }
    int rc = 0;
    if (reason[0]) {
        (*nrej)++;
        rc = wn_stage_reject(st, f->path, lno, reason, detail[0] ? detail : NULL, err);
    } else {
        const char *idv = NULL;
        size_t idlen = 0;
        if (id && json_is_string(id)) {
            idv = json_string_value(id);
            idlen = json_string_length(id);
        } else if (id && !wn_jl_member(line, n, rj->id_field, &idv, &idlen)) {
            errno = EINVAL; /* jansson found the member: the scan must too */
            rc = wn_errprintf(err, "%s: line %" PRIu64 ": field '%s' not found again", f->path, lno,
                              rj->id_field);
        }
        if (rc == 0 && (wn_col_append_str(c->text, json_string_value(text),
                                          json_string_length(text), err) < 0 ||
                        (c->id && wn_col_append_str(c->id, idv, idlen, err) < 0) ||
                        wn_col_append_u64(c->dedup, (fidx << WN_JL_LINE_BITS) | lno, err) < 0 ||
                        wn_col_append_u64(c->file, fidx, err) < 0 ||
                        wn_col_append_u64(c->line, lno, err) < 0 ||
                        wn_col_append_str(c->raw, line, n, err) < 0))
            rc = wn_errprefix(err, "%s: line %" PRIu64, f->path, lno);
    }
    json_decref(doc);
    return rc;
}

static int read_file(struct wn_stage *st, const struct read_jsonl *rj, const struct wn_jl_file *f,
                     const struct wn_jl_range *rg, uint64_t fidx, struct rj_cols *c, uint64_t *nrej,
                     wn_error_t *err)
{
    struct wn_jl_reader r;
    int rc = rg ? wn_jl_reader_open_range(&r, f, rg, err) : wn_jl_reader_open(&r, f, err);
    const char *line = NULL;
    size_t n = 0;
    while (rc == 0 && (rc = wn_jl_reader_line(&r, &line, &n, err)) == 1)
        rc = take_line(st, rj, f, fidx, r.line, line, n, c, nrej, err);
    wn_jl_reader_close(&r);
    return rc;
}

/* --------------------------------------------------------------- stage -- */

/* Emits the task of group g: its good lines, in order. */
static int emit_group(struct wn_stage *st, const struct read_jsonl *rj, const struct rj_group *g,
                      struct wn_task_list *out, wn_error_t *err)
{
    size_t first = g->first, end = g->end;
    struct rj_cols c;
    struct wn_batch *b = new_batch(rj, &c, err);
    if (!b)
        return -1;
    uint64_t nrej = 0;
    for (size_t i = first; i < end; i++)
        if (read_file(st, rj, &rj->list.files[i], g->ranged ? &g->rg : NULL, i, &c, &nrej, err) <
            0) {
            wn_batch_destroy(b);
            return -1;
        }
    char count[32], files[48];
    snprintf(count, sizeof(count), "%" PRIu64, nrej);
    snprintf(files, sizeof(files), "%zu %zu", first, end - first);
    if (wn_task_list_push_batch(out, b, err) < 0 ||
        wn_task_meta_set(out->tasks[out->n - 1], "rejected", count, err) < 0 ||
        wn_task_meta_set(out->tasks[out->n - 1], "files", files, err) < 0)
        return -1;
    return 0;
}

static int rj_process(struct wn_stage *st, struct wn_task *const *in, size_t n,
                      struct wn_task_list *out, wn_error_t *err)
{
    const struct read_jsonl *rj = wn_stage_data(st);
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s++) {
        const char *seed = wn_task_meta_get(in[s], "seed");
        size_t first = 0, end = rj->ngroups;
        if (seed) {
            char *e;
            unsigned long long g = strtoull(seed, &e, 10);
            if (*e || g >= rj->ngroups) {
                errno = EINVAL;
                rc = wn_errprintf(err, "seed task %zu: seed '%s' is not one of the %zu groups", s,
                                  seed, rj->ngroups);
                break;
            }
            first = (size_t)g;
            end = first + 1;
        }
        for (size_t g = first; g < end && rc == 0; g++)
            rc = emit_group(st, rj, &rj->groups[g], out, err);
    }
    return rc;
}

/* ------------------------------------------------------------ groups -- */

static struct rj_group *new_group(struct read_jsonl *rj, wn_error_t *err)
{
    if (rj->ngroups == rj->cap) {
        size_t c = rj->cap ? 2 * rj->cap : 16;
        struct rj_group *t = realloc(rj->groups, c * sizeof(*t));
        if (!t) {
            wn_errprintf(err, "out of memory");
            return NULL;
        }
        rj->groups = t;
        rj->cap = c;
    }
    struct rj_group *g = &rj->groups[rj->ngroups++];
    memset(g, 0, sizeof(*g));
    return g;
}

/* The groups, in list order: files join the open group while its text
 * (wn_jl_text_size) stays within blocksize; a plain file larger than
 * blocksize is cut into ranges (wn_jl_cut), a group each, unless a later
 * write_jsonl needs whole files per task. */
static int group_files(struct wn_stage *st, struct read_jsonl *rj, wn_error_t *err)
{
    const uint64_t bs = rj->block;
    const int split = !wn_stage_later_param(st, "write_jsonl", "output");
    struct rj_group *cur = NULL;
    uint64_t size = 0;
    for (size_t i = 0; i < rj->list.n; i++) {
        const struct wn_jl_file *f = &rj->list.files[i];
        uint64_t text = wn_jl_text_size(f);
        if (split && f->comp == WN_JL_PLAIN && f->size > bs) {
            struct wn_jl_range *rg = NULL;
            size_t nrg = 0;
            if (wn_jl_cut(f, bs, &rg, &nrg, err) < 0)
                return wn_errprefix(err, "parameter 'input'");
            for (size_t k = 0; k < nrg; k++) {
                struct rj_group *g = new_group(rj, err);
                if (!g) {
                    free(rg);
                    return -1;
                }
                *g = (struct rj_group){i, i + 1, 1, rg[k]};
            }
            free(rg);
            cur = NULL;
            continue;
        }
        if (cur && size + text <= bs && size + text >= size) {
            cur->end = i + 1;
            size += text;
            continue;
        }
        if (!(cur = new_group(rj, err)))
            return -1;
        *cur = (struct rj_group){i, i + 1, 0, {0, 0, 0}};
        size = text;
    }
    return 0;
}

/* The smallest blocksize tasks_per_actor lowers it to: below it a task
 * costs more to plan and checkpoint than to read. */
#define RJ_MIN_BLOCK ((uint64_t)1 << 20)
/* A task's text at most this share of the memory a rank may use: its
 * lines, the parsed batch (text and raw line), its packed copy. */
#define RJ_MEMORY_SHARE 16

/* The largest power of two at most x (x >= 1). */
static uint64_t pow2_floor(uint64_t x)
{
    uint64_t p = 1;
    while (p <= x / 2)
        p *= 2;
    return p;
}

/* The blocksize tasks are cut by: the configured one, lowered so that
 * every actor gets tasks_per_actor tasks at least and a task fits the
 * memory budget; never lowered below RJ_MIN_BLOCK for the first.  Each
 * lowered value is a power of two: a run with somewhat fewer actors or
 * memory (a resume elsewhere) most often cuts the same tasks, so that a
 * checkpoint's batches load.  The same on every rank (the listing and
 * the runner's figures are).  A compressed file is read whole: one whose
 * text alone is over a quarter of the budget is refused here, before any
 * work. */
static int adapt_blocksize(struct wn_stage *st, struct read_jsonl *rj, wn_error_t *err)
{
    const double mib = 1024.0 * 1024.0;
    uint64_t total = 0, conf = (uint64_t)rj->blocksize, bs = conf;
    for (size_t i = 0; i < rj->list.n; i++)
        total += wn_jl_text_size(&rj->list.files[i]);
    int actors = wn_stage_actor_ranks(st); /* 0: not in a run */
    uint64_t per = (uint64_t)rj->tasks_per_actor, spread = bs;
    if (actors && per)
        spread = pow2_floor(total / ((uint64_t)actors * per) + 1);
    if (spread < RJ_MIN_BLOCK)
        spread = RJ_MIN_BLOCK;
    const char *why = NULL;
    char per_actor[64];
    if (spread < bs) {
        bs = spread;
        snprintf(per_actor, sizeof(per_actor), "so that each actor gets %llu tasks",
                 (unsigned long long)per);
        why = per_actor;
    }
    uint64_t mem = wn_stage_memory_limit(st);
    uint64_t fit = mem / RJ_MEMORY_SHARE > 65536 ? pow2_floor(mem / RJ_MEMORY_SHARE) : 65536;
    if (mem && fit < bs) {
        bs = fit;
        why = "to fit a sixteenth of executor.memory_limit";
    }
    for (size_t i = 0; mem && i < rj->list.n; i++) {
        const struct wn_jl_file *f = &rj->list.files[i];
        uint64_t text = wn_jl_text_size(f);
        if (f->comp != WN_JL_PLAIN && text > mem / 4)
            return wn_errprintf(err,
                                "%s is compressed, so one task reads it whole: its %.0f MiB of "
                                "text (estimated) need executor.memory_limit of %.0f MiB or "
                                "more (now %.0f MiB); raise it, or split or decompress the file",
                                f->path, text / mib, (double)text * 4 / mib + 1, mem / mib);
    }
    rj->block = bs;
    /* Batches a checkpoint holds from another blocksize do not load. */
    wn_stage_set_layout(st, bs);
    char note[256];
    if (why)
        snprintf(note, sizeof(note),
                 "blocksize: %.2f MiB (%.2f MiB configured, lowered %s; %d actor rank%s, "
                 "%.1f MiB of text)",
                 bs / mib, conf / mib, why, actors, actors == 1 ? "" : "s", total / mib);
    else
        snprintf(note, sizeof(note), "blocksize: %.2f MiB, as configured (%.1f MiB of text)",
                 bs / mib, total / mib);
    return wn_stage_set_plan_note(st, note, err);
}

static void rj_fini(struct wn_stage *st)
{
    struct read_jsonl *rj = wn_stage_data(st);
    if (rj) {
        free(rj->input);
        free(rj->text_field);
        free(rj->id_field);
        free(rj->groups);
        if (rj->listed)
            wn_jl_list_free(&rj->list);
        free(rj);
    }
}

static int rj_init(struct wn_stage *st, const struct wn_params *params, wn_error_t *err)
{
    struct read_jsonl *rj = calloc(1, sizeof(*rj));
    if (!rj)
        return wn_errprintf(err, "out of memory");
    wn_stage_set_data(st, rj);
    if (wn_params_int_range(params, "blocksize", 1, LLONG_MAX, &rj->blocksize, err) < 0 ||
        wn_params_int_range(params, "tasks_per_actor", 0, 1 << 20, &rj->tasks_per_actor, err) < 0)
        return -1;
    const char *id = wn_params_str(params, "id_field");
    if (!(rj->input = strdup(wn_params_str(params, "input"))) ||
        !(rj->text_field = strdup(wn_params_str(params, "text_field"))) ||
        (*id && !(rj->id_field = strdup(id))))
        return wn_errprintf(err, "out of memory");
    if (!*rj->input)
        return wn_params_refuse(params, "input", err, "empty");
    /* Building the schema once now turns a bad or clashing column name
     * (text_field, id_field, the _ columns) into an error at start-up. */
    struct rj_cols c;
    struct wn_batch *b = new_batch(rj, &c, err);
    if (!b)
        return wn_errprefix(err, "parameters 'text_field', 'id_field'");
    wn_batch_destroy(b);
    /* The files, and their groups: a seed task per group. */
    if (wn_jl_list_inputs(st, rj->input, &rj->list, err) < 0)
        return wn_errprefix(err, "parameter 'input'");
    rj->listed = 1;
    if (adapt_blocksize(st, rj, err) < 0 || group_files(st, rj, err) < 0)
        return -1;
    /* Ranges make tasks of lines, not files: a tiny blocksize on a large
     * file could ask for more seed tasks than the runner takes. */
    if (rj->ngroups > (UINT64_C(1) << 24))
        return wn_params_refuse(params, "blocksize", err,
                                "%lld makes %zu tasks of the input, more than 2^24 (16777216): "
                                "raise it",
                                rj->blocksize, rj->ngroups);
    /* A source: its inputs are seed tasks, with no columns. */
    const char *reads[] = {NULL}, *writes[] = {rj->text_field,
                                               rj->id_field ? rj->id_field : "_raw",
                                               "_curator_dedup_id",
                                               "_file",
                                               "_line",
                                               "_raw",
                                               NULL};
    if (wn_stage_set_columns(st, reads, writes, 0, err) < 0)
        return -1;
    return wn_stage_set_seeds(st, rj->ngroups, err);
}

static const struct wn_param_spec read_jsonl_params[] = {
    {"input", WN_PARAM_STRING, NULL,
     "directory (searched recursively for *.jsonl, *.jsonl.gz, *.jsonl.zst), glob pattern "
     "or file"},
    {"blocksize", WN_PARAM_INT, "1073741824",
     "bytes of text per output task: small files are grouped, larger plain files cut at line "
     "ends (unless a write_jsonl follows), compressed ones counted by their text; lowered "
     "by tasks_per_actor and executor.memory_limit"},
    {"tasks_per_actor", WN_PARAM_INT, "4",
     "blocksize is lowered (to a power of two, not under 1 MiB) so that every actor gets at "
     "least this many tasks; 0: not lowered for it"},
    {"text_field", WN_PARAM_STRING, "${text_field}",
     "string field read into the str column of its name (default: the pipeline's)"},
    {"id_field", WN_PARAM_STRING, "${id_field}",
     "field copied into a str column of its name (numbers as written); empty: none"},
    WN_PARAM_END};

const struct wn_stage_ops wn_stage_read_jsonl_ops = {
    .abi_version = WN_STAGE_ABI,
    .type = "read_jsonl",
    .flags = WN_STAGE_FANOUT,
    .help = "source: documents from JSON Lines files (plain, .gz, .zst), grouped by blocksize",
    .params = read_jsonl_params,
    .init = rj_init,
    .process_batch = rj_process,
    .fini = rj_fini,
};
