/* run.c - `winnow run FILE` and `winnow plan FILE`, and `winnow stages`.
 *
 * Every rank reads the same configuration: rank 0 reads the file and
 * broadcasts its bytes, so ranks on nodes without the file (or with an
 * older copy) cannot disagree.  Every check that can fail - YAML, keys,
 * types, stage types, parameters, resources - runs before any work starts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "layout.h"
#include "log.h"
#include "part.h"
#include "plan.h"
#include "ckpt.h"
#include "runtime.h"
#include "stage_impl.h"

struct run_args {
    const char *file;
    const char **sets;
    int nsets;
    struct wn_run_options opts;
};

static void run_usage(FILE *out, const char *cmd)
{
    fprintf(out,
        "Usage: winnow %s PIPELINE.yaml [--set KEY=VALUE]...%s\n"
        "\n"
        "  --set KEY=VALUE     override a key of the pipeline file: name, input, output,\n"
        "                      checkpoint, executor.FIELD, stages.NAME.FIELD or\n"
        "                      stages.NAME.PARAM (e.g. --set stages.sleep.ms_per_item=5)\n",
        cmd, strcmp(cmd, "run") ? "" : " [OPTIONS]");
    if (!strcmp(cmd, "run"))
        fprintf(out,
            "  --stats FILE.json   per-stage statistics as JSON\n"
            "  --trace FILE.json   a Chrome trace-event timeline (one lane per rank); open\n"
            "                      it in Perfetto\n"
            "  --results FILE      the final tasks' rows as JSON lines (sent to rank 0)\n"
            "  --failed-tasks FILE where batches that failed for good are recorded\n"
            "                      (default OUTPUT/NAME.failed-tasks.jsonl, or ./)\n"
            "  --progress MODE     auto (a bar on a TTY, else a line every\n"
            "                      progress_interval s), lines, or off\n"
            "  --checkpoint DIR    keep every finished batch's outputs in DIR (HDF5 part\n"
            "                      files and a journal); the same command again resumes\n"
            "                      from them (default: the pipeline's checkpoint key)\n"
            "  --force             resume from a checkpoint made by another pipeline\n");
}

static int parse_args(int argc, char **argv, const char *cmd, struct run_args *a)
{
    memset(a, 0, sizeof(*a));
    a->opts.progress = -1;
    a->sets = calloc((size_t)argc, sizeof(*a->sets));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int is_run = !strcmp(cmd, "run");
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            run_usage(stdout, cmd);
            return 1;
        } else if (!strcmp(arg, "--set") && val) {
            a->sets[a->nsets++] = val;
            i++;
        } else if (!strncmp(arg, "--set=", 6)) {
            a->sets[a->nsets++] = arg + 6;
        } else if (is_run && !strcmp(arg, "--stats") && val) {
            a->opts.stats_path = val;
            i++;
        } else if (is_run && !strcmp(arg, "--trace") && val) {
            a->opts.trace_path = val;
            i++;
        } else if (is_run && !strcmp(arg, "--results") && val) {
            a->opts.results_path = val;
            i++;
        } else if (is_run && !strcmp(arg, "--failed-tasks") && val) {
            a->opts.failed_path = val;
            i++;
        } else if (is_run && !strcmp(arg, "--checkpoint") && val) {
            a->opts.checkpoint = val;
            i++;
        } else if (is_run && !strcmp(arg, "--force")) {
            a->opts.force = 1;
        } else if (is_run && !strcmp(arg, "--progress") && val) {
            if (!strcmp(val, "auto"))
                a->opts.progress = -1;
            else if (!strcmp(val, "lines"))
                a->opts.progress = 2;
            else if (!strcmp(val, "off"))
                a->opts.progress = 0;
            else {
                wn_error("%s: --progress takes auto, lines or off, not '%s'", cmd, val);
                return -1;
            }
            i++;
        } else if (arg[0] == '-') {
            wn_error("%s: unknown option '%s'%s", cmd, arg,
                     val ? "" : " (or it is missing its value)");
            return -1;
        } else if (!a->file) {
            a->file = arg;
        } else {
            wn_error("%s: one pipeline file at a time ('%s' and '%s')", cmd, a->file, arg);
            return -1;
        }
    }
    if (!a->file) {
        run_usage(stderr, cmd);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len, wn_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        wn_errprintf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                wn_errprintf(err, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        wn_errprintf(err, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Everything a run needs that every rank agrees on. */
struct prepared {
    struct wn_pipeline_config *cfg;
    struct wn_stage **stages;
    uint32_t nstages;
    struct wn_place *places;
};

static void prepared_free(struct prepared *p)
{
    for (uint32_t i = 0; i < p->nstages; i++)
        wn_stage_destroy(p->stages[i]);
    free(p->stages);
    free(p->places);
    wn_config_free(p->cfg);
}

/* Collective: reads and validates the pipeline on every rank and gathers
 * the layout.  Returns 0, or the exit status to leave with (all ranks the
 * same); rank 0 has printed why. */

static int prepare(const struct run_args *a, struct prepared *p)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    memset(p, 0, sizeof(*p));
    wn_error_t err = {{0}};
    int ok = 1;

    /* The launch must be one MPI job before anything else can be trusted. */
    struct wn_layout_input in;
    struct wn_place me;
    wn_layout_input_from_process(&in, rank, size);
    if (wn_place_from_env(&in, &me, &err) < 0 || wn_place_check_launch(&me, &err) < 0) {
        wn_error("%s", err.text);
        return WN_EXIT_USAGE;
    }
    p->places = calloc((size_t)size, sizeof(*p->places));
    MPI_Allgather(&me, (int)sizeof(me), MPI_BYTE, p->places, (int)sizeof(me), MPI_BYTE,
                  MPI_COMM_WORLD);
    wn_layout_complete(p->places, size);

    /* Rank 0 reads the file; everyone parses the same bytes. */
    size_t len = 0;
    char *text = NULL;
    if (rank == 0 && !(text = read_file(a->file, &len, &err))) {
        wn_error("%s", err.text);
        ok = 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok)
        return WN_EXIT_USAGE;
    unsigned long long l = len;
    MPI_Bcast(&l, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0)
        text = malloc(l + 1);
    MPI_Bcast(text, (int)l, MPI_CHAR, 0, MPI_COMM_WORLD);
    text[l] = '\0';

    if (wn_config_load_string(text, a->file, &p->cfg, &err) < 0)
        ok = 0;
    for (int i = 0; ok && i < a->nsets; i++)
        if (wn_config_override(p->cfg, a->sets[i], &err) < 0)
            ok = 0;
    free(text);
    if (ok) {
        p->nstages = (uint32_t)p->cfg->nstages;
        p->stages = calloc(p->nstages, sizeof(*p->stages));
        for (uint32_t i = 0; ok && i < p->nstages; i++)
            if (!(p->stages[i] = wn_stage_create(&p->cfg->stages[i], i, &err)))
                ok = 0;
            else
                p->stages[i]->pipeline = p->cfg;
        if (ok && wn_config_expand(p->cfg, &err) < 0)
            ok = 0;
    }
    /* Parameter values a stage checks itself (init) are checked here too,
     * on every rank, before any work. */
    for (uint32_t i = 0; ok && i < p->nstages; i++)
        if (wn_stage_init(p->stages[i], &err) < 0)
            ok = 0;
    int all = 0, ok0 = ok;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Bcast(&ok0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!all) {
        /* Every rank saw the same bytes, so rank 0 speaks for all; a rank
         * that failed where rank 0 did not (a plugin missing on its node)
         * speaks for itself. */
        if (!ok && (rank == 0 || ok0))
            wn_error("%s", err.text);
        return WN_EXIT_USAGE;
    }
    return 0;
}

/* The output directory (files of failed tasks, stage outputs named
 * ${output}/...) is made once the pipeline is known good, by every rank:
 * ranks on other nodes may see another file system. */
static int make_output(const struct prepared *p, int rank)
{
    wn_error_t err = {{0}};
    int ok = 1, all = 0;
    if (p->cfg->output && *p->cfg->output && wn_mkdir_p(p->cfg->output, &err) < 0)
        ok = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!ok)
        wn_error("rank %d: %s", rank, err.text);
    return all ? 0 : WN_EXIT_USAGE;
}

/* Stage i's request for actors, as the planner will make it.  Tasks
 * before a stage are known only for the first (its seeds); for the others
 * the formula's resource bound is what can be said beforehand. */
static struct wn_actor_request stage_request(const struct prepared *p, uint32_t i)
{
    const struct wn_pipeline_config *c = p->cfg;
    const struct wn_stage *st = p->stages[i];
    const struct wn_stage_config *sc = st->cfg;
    struct wn_actor_request req = {
        .stage = sc->name, .cpus = sc->cpus, .gpus = sc->gpus,
        .num_workers = sc->num_workers,
        .ntasks = i == 0 ? (st->seeds ? st->seeds : 1) : UINT64_MAX / 2,
        .batch_size = sc->batch_size > 0 ? sc->batch_size : 1,
        .num_output_tasks = sc->num_output_tasks,
        .raft = (st->ops->flags & WN_STAGE_RAFT) != 0,
        .reserved_cpus = c->exec.reserved_cpus,
        .reserved_gpus = c->exec.reserved_gpus,
        .ignore_head_node = c->exec.ignore_head_node, .planner_rank = 0,
    };
    return req;
}

/* Before any work: every stage can get an actor on these ranks (its
 * cpus/gpus, reserved_*, ignore_head_node).  The places are the same on
 * every rank, so every rank decides alike; rank 0 says why. */
static int check_actors(const struct prepared *p, int rank)
{
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int *ranks = calloc((size_t)size, sizeof(*ranks));
    int rc = 0;
    for (uint32_t i = 0; ranks && rc == 0 && i < p->nstages; i++) {
        struct wn_actor_request req = stage_request(p, i);
        wn_error_t err = {{0}};
        int n = 0;
        if (wn_plan_actors(p->places, size, &req, NULL, ranks, &n, &err) < 0) {
            if (rank == 0)
                wn_error("%s", err.text);
            rc = WN_EXIT_USAGE;
        }
    }
    free(ranks);
    return rc;
}

static void print_plan(const struct prepared *p, FILE *out)
{
    const struct wn_pipeline_config *c = p->cfg;
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    fprintf(out, "pipeline %s: %u stages on %d rank%s (%d node%s); rank 0 plans%s\n",
            c->name, p->nstages, size, size == 1 ? "" : "s",
            wn_layout_nnodes(p->places, size), wn_layout_nnodes(p->places, size) == 1 ? "" : "s",
            size == 1 ? " and acts (alone)" : ", the other ranks are pool actors");
    wn_config_render(c, out);
    fprintf(out, "plan:\n");
    for (uint32_t i = 0; i < p->nstages; i++) {
        const struct wn_stage *st = p->stages[i];
        const struct wn_stage_config *sc = st->cfg;
        int raft = (st->ops->flags & WN_STAGE_RAFT) != 0;
        int bs = sc->batch_size > 0 ? sc->batch_size : 1;
        struct wn_actor_request req = stage_request(p, i);
        uint64_t ntasks = req.ntasks;
        int *ranks = calloc((size_t)size, sizeof(*ranks)), n = 0;
        wn_error_t err = {{0}};
        fprintf(out, "  %u. %s (%s)", i + 1, sc->name, st->ops->type);
        if (wn_plan_actors(p->places, size, &req, NULL, ranks, &n, &err) < 0) {
            fprintf(out, ": cannot run: %s\n", err.text);
            free(ranks);
            continue;
        }
        fprintf(out, "\n     actors: %d%s on rank%s", n,
                i == 0 ? "" : " at most (fewer if it gets fewer batches)", n == 1 ? "" : "s");
        for (int k = 0; k < n; k++)
            fprintf(out, "%s%d", k ? "," : " ", ranks[k]);
        fprintf(out, "\n     batches: ");
        if (raft)
            fprintf(out, "one per clique member (%d)\n", n);
        else if (sc->num_output_tasks > 0)
            fprintf(out, "%d (num_output_tasks, an even split)\n", sc->num_output_tasks);
        else if (i == 0)
            fprintf(out, "%llu (the source's %llu seed task%s, %d per batch)\n",
                    (unsigned long long)((ntasks + (uint64_t)bs - 1) / (uint64_t)bs),
                    (unsigned long long)ntasks, ntasks == 1 ? "" : "s", bs);
        else
            fprintf(out, "ceil(tasks / %d) - tasks are known when stage %u has run%s\n", bs,
                    i, sc->batch_size > 0 ? "" : " (batch_size unset: 1)");
        free(ranks);
    }
}

/* Collective: the checkpoint directory, opened by rank 0 before any work
 * (a journal of another pipeline stops the run here). */
static int open_checkpoint(struct run_args *a, struct prepared *p, int rank)
{
    if (!a->opts.checkpoint)
        a->opts.checkpoint = p->cfg->checkpoint;
    if (!a->opts.checkpoint)
        return 0;
    int ok = 1, size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) {
        wn_error_t err = {{0}};
        int resumed = 0;
        a->opts.ckpt = wn_ckpt_open(a->opts.checkpoint, p->cfg, size, a->opts.force,
                                    &resumed, &err);
        if (!a->opts.ckpt) {
            wn_error("%s", err.text);
            ok = 0;
        } else if (resumed) {
            wn_info("resuming from checkpoint %s", a->opts.checkpoint);
        }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok ? 0 : WN_EXIT_USAGE;
}

static int run_or_plan(int argc, char **argv, int plan_only)
{
    const char *cmd = plan_only ? "plan" : "run";
    struct run_args a;
    int r = parse_args(argc, argv, cmd, &a);
    if (r != 0) {
        free(a.sets);
        return r > 0 ? WN_EXIT_OK : WN_EXIT_USAGE;
    }
    if (!plan_only)
        wn_install_stop_handler();
    if (wn_mpi_start(&argc, &argv) < 0) {
        free(a.sets);
        return WN_EXIT_USAGE;   /* a launch error */
    }
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    struct prepared p;
    int status = prepare(&a, &p);
    if (status == 0) {
        if (plan_only) {
            if (rank == 0)
                print_plan(&p, stdout);
        } else {
            status = check_actors(&p, rank);
            if (status == 0)
                status = make_output(&p, rank);
            if (status == 0)
                status = open_checkpoint(&a, &p, rank);
            if (status == 0)
                status = wn_exec_run(p.cfg, p.stages, p.nstages, p.places, &a.opts);
            for (uint32_t i = 0; status == 0 && rank == 0 && i < p.nstages; i++)
                p.stages[i]->run_completed = 1;
            wn_ckpt_close(a.opts.ckpt);
        }
    }
    /* Stopped: a batch given up on at the drain deadline may still run
     * on its compute thread, using its stage; the process ends soon. */
    if (status != WN_EXIT_RESUMABLE)
        prepared_free(&p);
    free(a.sets);
    if (!plan_only)
        wn_exec_end(status);
    if (status == WN_EXIT_RESUMABLE)
        wn_part_quiesce();   /* ... and its part file be on the I/O thread */
    wn_mpi_stop();
    return status;
}

int wn_cmd_run(int argc, char **argv)
{
    return run_or_plan(argc, argv, 0);
}

int wn_cmd_plan(int argc, char **argv)
{
    return run_or_plan(argc, argv, 1);
}

int wn_cmd_stages(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "-h") && strcmp(argv[1], "--help")) {
            wn_error("stages: unknown option '%s'", argv[1]);
            return WN_EXIT_USAGE;
        }
        printf("Usage: winnow stages\nLists the built-in stage types and their parameters.\n");
        return WN_EXIT_OK;
    }
    wn_registry_print(wn_registry_get(), stdout);
    return WN_EXIT_OK;
}
