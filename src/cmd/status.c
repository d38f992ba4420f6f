/* status.c - `winnow status DIR` and `winnow halt DIR`: a checkpoint seen
 * from a login node (no MPI). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "ckpt/journal.h"
#include "util/log.h"
#include "winnow/file.h"

#define MAX_STAGES 256

struct stage_row {
    char name[64];
    long long nbatches, ntasks, done, outputs;
    int begun, ended;
};

struct state {
    struct stage_row st[MAX_STAGES];
    int nstages;
    char pipeline[128], hash[17];
    char last[160];
    int finished; /* a finish record: 1 + its status */
    int runs;
};

static int scan(const json_t *rec, void *arg)
{
    struct state *s = arg;
    const char *ev = json_string_value(json_object_get(rec, "ev"));
    if (!ev)
        return 0;
    json_int_t si = json_integer_value(json_object_get(rec, "stage"));
    struct stage_row *row = si >= 0 && si < MAX_STAGES ? &s->st[si] : NULL;
    s->finished = 0;
    if (!strcmp(ev, "run")) {
        const json_t *names = json_object_get(rec, "stages");
        snprintf(s->pipeline, sizeof(s->pipeline), "%s",
                 json_string_value(json_object_get(rec, "pipeline")) ?: "?");
        snprintf(s->hash, sizeof(s->hash), "%s",
                 json_string_value(json_object_get(rec, "hash")) ?: "?");
        s->runs++;
        for (size_t i = 0; i < json_array_size(names) && i < MAX_STAGES; i++)
            snprintf(s->st[i].name, sizeof(s->st[i].name), "%s",
                     json_string_value(json_array_get(names, i)) ?: "?");
        if ((int)json_array_size(names) > s->nstages)
            s->nstages =
                (int)json_array_size(names) < MAX_STAGES ? (int)json_array_size(names) : MAX_STAGES;
        snprintf(s->last, sizeof(s->last), "run %d started on %lld ranks", s->runs,
                 (long long)json_integer_value(json_object_get(rec, "ranks")));
    } else if (!strcmp(ev, "stage") && row) {
        row->begun = 1;
        row->nbatches = json_integer_value(json_object_get(rec, "batches"));
        row->ntasks = json_integer_value(json_object_get(rec, "tasks"));
        snprintf(s->last, sizeof(s->last), "stage '%s' started", row->name);
    } else if (!strcmp(ev, "batch") && row) {
        row->done++;
        row->outputs += json_integer_value(json_object_get(rec, "outputs"));
        snprintf(s->last, sizeof(s->last), "stage '%s' batch %lld done", row->name,
                 (long long)json_integer_value(json_object_get(rec, "batch")));
    } else if (!strcmp(ev, "bad") && row) {
        row->done--;
        row->ended = 0;
    } else if (!strcmp(ev, "stage_end") && row) {
        row->ended = 1;
        snprintf(s->last, sizeof(s->last), "stage '%s' finished", row->name);
    } else if (!strcmp(ev, "finish")) {
        int st = (int)json_integer_value(json_object_get(rec, "status"));
        s->finished = 1 + st;
        snprintf(s->last, sizeof(s->last), "run ended with status %d%s", st,
                 st == WN_EXIT_RESUMABLE ? " (stopped, resumable)" : "");
    }
    return 0;
}

/* The journal at path replayed (*tail: what followed the good records,
 * ignored), or NULL with an error printed after `what`. */
static struct state *read_state(const char *path, struct wn_journal_tail *tail, const char *what)
{
    struct state *s = calloc(1, sizeof(*s));
    wn_error_t err = {{0}};
    if (!s || wn_journal_read(path, scan, s, NULL, tail, &err) < 0) {
        wn_error("%s%s", what, s ? err.text : "out of memory");
        free(s);
        return NULL;
    }
    return s;
}

/* Counts and sizes the part files of a stage folder. */
static void part_files(const char *dir, const char *name, int s, long long *n, long long *bytes)
{
    char path[4096];
    *n = *bytes = 0;
    snprintf(path, sizeof(path), "%s/stages/%02d-%s", dir, s, name);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "part-", 5) || l < 8 || strcmp(e->d_name + l - 3, ".h5"))
            continue;
        char f[4400];
        struct stat st;
        snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
        if (stat(f, &st) == 0) {
            (*n)++;
            *bytes += st.st_size;
        }
    }
    closedir(d);
}

int wn_cmd_status(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        int help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
        fprintf(help ? stdout : stderr,
                "Usage: winnow status CHECKPOINT_DIR\n"
                "Per stage: batches done of all, tasks, part files and their bytes; the\n"
                "last event of the journal, and whether the same command would resume.\n");
        return help ? WN_EXIT_OK : WN_EXIT_USAGE;
    }
    const char *dir = argv[1];
    char path[4096];
    snprintf(path, sizeof(path), "%s/journal", dir);
    if (access(path, R_OK) != 0) {
        wn_error("%s: no journal here (%s): not a winnow checkpoint", dir, strerror(errno));
        return WN_EXIT_FAILURE;
    }
    struct wn_journal_tail tail;
    struct state *s = read_state(path, &tail, "");
    if (!s)
        return WN_EXIT_FAILURE;
    printf("checkpoint %s: pipeline '%s' (hash %s), %d run%s\n", dir, s->pipeline, s->hash, s->runs,
           s->runs == 1 ? "" : "s");
    printf("%-3s %-20s %-9s %15s %12s %10s %12s\n", "#", "stage", "state", "batches done",
           "tasks in", "part files", "bytes");
    for (int i = 0; i < s->nstages; i++) {
        const struct stage_row *r = &s->st[i];
        long long nf, nb;
        part_files(dir, r->name, i, &nf, &nb);
        char done[48];
        /* A streaming run journals batches of a stage whose producer had
         * not finished: its record, and batch count, come later. */
        if (r->begun)
            snprintf(done, sizeof(done), "%lld/%lld", r->done, r->nbatches);
        else if (r->done > 0)
            snprintf(done, sizeof(done), "%lld/?", r->done);
        else
            snprintf(done, sizeof(done), "-");
        printf("%-3d %-20s %-9s %15s %12lld %10lld %12lld\n", i, r->name,
               r->ended                  ? "done"
               : r->begun || r->done > 0 ? "partial"
                                         : "not run",
               done, r->ntasks, nf, nb);
    }
    if (tail.ignored)
        printf("last event: %s (record #%llu is damaged: it and the %llu whole records after "
               "it are ignored, and the batches they record run again)\n",
               s->last, (unsigned long long)tail.good_records + 1,
               (unsigned long long)tail.ignored);
    else
        printf("last event: %s%s\n", s->last,
               tail.good_bytes < tail.size ? " (a torn record after it is ignored)" : "");
    int complete = s->finished == 1;
    printf("%s\n", complete ? "finished: the same command loads the final outputs"
                            : "resumable: the same command goes on from here");
    free(s);
    return WN_EXIT_OK;
}

int wn_cmd_halt(int argc, char **argv)
{
    const char *dir = NULL, *after = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: winnow halt CHECKPOINT_DIR [--after-stage NAME]\n"
                   "Asks the run using this checkpoint to stop at its next batch boundary\n"
                   "(or once stage NAME has finished), checkpointed: it exits 3, and the\n"
                   "same command resumes it.  Works from any node that sees the folder.\n"
                   "Refused (exit 1) when the checkpoint's last run has ended.\n");
            return WN_EXIT_OK;
        }
        if (!strcmp(argv[i], "--after-stage") && i + 1 < argc)
            after = argv[++i];
        else if (argv[i][0] == '-' || dir) {
            wn_error("halt: unexpected '%s' (winnow halt --help)", argv[i]);
            return WN_EXIT_USAGE;
        } else
            dir = argv[i];
    }
    if (!dir) {
        wn_error("halt: name the checkpoint folder (winnow halt --help)");
        return WN_EXIT_USAGE;
    }
    /* A HALT file left where no run is going would stop the next run at
     * once: refused when the journal's last event is a run's end.  (With
     * no journal yet, a first run may be starting: the file is left.) */
    char path[4096];
    snprintf(path, sizeof(path), "%s/journal", dir);
    if (access(path, R_OK) == 0) {
        struct state *s = read_state(path, NULL, "halt: ");
        if (!s)
            return WN_EXIT_FAILURE;
        int ended = s->finished;
        if (ended)
            wn_error("halt: no run is using %s: its last %s; nothing to stop (if a run is "
                     "starting there, ask again once it has begun)",
                     dir, s->last);
        free(s);
        if (ended)
            return WN_EXIT_FAILURE;
    }
    snprintf(path, sizeof(path), "%s/HALT", dir);
    /* Whole or absent: a run that polls for the file never reads part
     * of a stage name. */
    wn_error_t err = {{0}};
    const char *line = after ? after : "";
    struct wn_afile *a = wn_afile_open(path, 0, 0666, &err);
    if (!a || wn_afile_write(a, line, strlen(line), &err) < 0 ||
        wn_afile_write(a, "\n", 1, &err) < 0) {
        wn_afile_abort(a);
        wn_error("halt: %s", err.text);
        return WN_EXIT_FAILURE;
    }
    if (wn_afile_commit(a, &err) < 0) {
        wn_error("halt: %s", err.text);
        return WN_EXIT_FAILURE;
    }
    printf("asked the run in %s to stop %s%s%s\n", dir,
           after ? "after stage '" : "at its next batch boundary", after ? after : "",
           after ? "'" : "");
    return WN_EXIT_OK;
}
