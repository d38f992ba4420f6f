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

#include "cmd/cli.h"
#include "config/config.h"
#include "gpu/layout.h"
#include "util/log.h"
#include "ckpt/part.h"
#include "exec/plan.h"
#include "ckpt/ckpt.h"
#include "stage/guard.h"
#include "stage/inputs.h"
#include "ckpt/lock.h"
#include "stage/rejects.h"
#include "exec/budget.h"
#include "exec/exec.h"
#include "stage/stage_impl.h"

struct run_args {
    const char *file;
    const char **sets;
    int nsets;
    struct wn_run_options opts;
    char failed_buf[4096], rejects_buf[4096]; /* the default paths */
    int resumed;                              /* rank 0: from a checkpoint */
};

static void run_usage(FILE *out, const char *cmd)
{
    fprintf(out,
            "Usage: winnow %s PIPELINE.yaml [--set KEY=VALUE]...%s\n"
            "\n"
            "  --set KEY=VALUE     override a key of the pipeline file: name, input, output,\n"
            "                      checkpoint, executor.FIELD, stages.NAME.FIELD or\n"
            "                      stages.NAME.PARAM (e.g. --set stages.sleep.ms_per_item=5)\n"
            "  --mode MODE         bulk (stage after stage) or streaming (the stages\n"
            "                      between shuffles and cliques at once); executor.mode\n",
            cmd, strcmp(cmd, "run") ? "" : " [OPTIONS]");
    if (!strcmp(cmd, "run"))
        fprintf(out,
                "  --stats FILE.json   per-stage statistics as JSON\n"
                "  --trace FILE.json   a Chrome trace-event timeline (one lane per rank, per\n"
                "                      rank and stage in streaming mode); open it in Perfetto\n"
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
        } else if (!strcmp(arg, "--mode") && val) {
            /* executor.mode, after the file's and any --set before it */
            if (strcmp(val, "bulk") && strcmp(val, "streaming")) {
                wn_error("%s: --mode takes bulk or streaming, not '%s'", cmd, val);
                return -1;
            }
            a->sets[a->nsets++] =
                !strcmp(val, "bulk") ? "executor.mode=bulk" : "executor.mode=streaming";
            i++;
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

/* Everything a run needs that every rank agrees on. */
struct prepared {
    struct wn_pipeline_config *cfg;
    struct wn_stage **stages;
    uint32_t nstages;
    struct wn_place *places;
    struct wn_inputs *inputs; /* the files the stages read (inputs.h) */
};

static void prepared_free(struct prepared *p)
{
    for (uint32_t i = 0; i < p->nstages; i++)
        wn_stage_destroy(p->stages[i]);
    wn_inputs_destroy(p->inputs);
    free(p->stages);
    free(p->places);
    wn_config_free(p->cfg);
}

/* Out of memory while the ranks exchange what they must agree on: no
 * rank can go on alone, and nothing has been written yet. */
static void oom_abort(int rank, const char *what)
{
    wn_error("rank %d: out of memory for %s", rank, what);
    MPI_Abort(MPI_COMM_WORLD, WN_EXIT_USAGE);
}

/* Collective: reads and validates the pipeline on every rank and gathers
 * the layout.  Returns 0, or the exit status to leave with (all ranks the
 * same); rank 0 has printed why. */

static int prepare(struct run_args *a, struct prepared *p)
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
    if (rank == 0 && !(text = wn_config_read_file(a->file, &len, &err))) {
        wn_error("%s", err.text);
        ok = 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok)
        return WN_EXIT_USAGE;
    unsigned long long l = len;
    MPI_Bcast(&l, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0 && !(text = malloc(l + 1)))
        oom_abort(rank, "the pipeline file");
    MPI_Bcast(text, (int)l, MPI_CHAR, 0, MPI_COMM_WORLD);
    text[l] = '\0';

    if (wn_config_load_string(text, a->file, &p->cfg, &err) < 0)
        ok = 0;
    for (int i = 0; ok && i < a->nsets; i++)
        if (wn_config_override(p->cfg, a->sets[i], &err) < 0)
            ok = 0;
    free(text);
    if (ok && !(p->inputs = wn_inputs_create())) {
        wn_errprintf(&err, "out of memory");
        ok = 0;
    }
    if (ok) {
        p->nstages = (uint32_t)p->cfg->nstages;
        p->stages = calloc(p->nstages, sizeof(*p->stages));
        for (uint32_t i = 0; ok && i < p->nstages; i++)
            if (!(p->stages[i] = wn_stage_create(&p->cfg->stages[i], i, &err))) {
                ok = 0;
            } else {
                p->stages[i]->pipeline = p->cfg;
                p->stages[i]->inputs = p->inputs;
            }
        if (ok && wn_config_expand(p->cfg, &err) < 0)
            ok = 0;
    }
    /* What stages may size their work by (wn_stage_memory_limit,
     * wn_stage_actor_ranks), alike on every rank, before their init. */
    wn_exec_agree_memory(ok ? p->cfg : NULL, p->places, &a->opts);
    for (uint32_t i = 0; ok && i < p->nstages; i++) {
        p->stages[i]->memory_limit = a->opts.memory_data;
        p->stages[i]->actor_ranks = size > 1 ? size - 1 : 1;
    }
    /* Parameter values a stage checks itself (init) are checked here too,
     * on every rank, before any work.  Rank 0's stages run init first and
     * list the input (wn_stage_list_inputs); the other ranks take rank 0's
     * listing rather than list again, so every rank numbers the files
     * alike even if one sees its file system change meanwhile. */
    int ok0 = ok;
    if (rank == 0)
        for (uint32_t i = 0; ok && i < p->nstages; i++)
            if (wn_stage_init(p->stages[i], &err) < 0)
                ok = 0;
    void *listing = NULL;
    size_t listing_len = 0;
    if (rank == 0 && ok && wn_inputs_pack(p->inputs, &listing, &listing_len, &err) < 0)
        ok = 0;
    ok0 = ok;
    MPI_Bcast(&ok0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (ok0) {
        unsigned long long ll = listing_len;
        MPI_Bcast(&ll, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
        if (rank != 0 && !(listing = malloc(ll ? (size_t)ll : 1)))
            oom_abort(rank, "the input listing");
        MPI_Bcast(listing, (int)ll, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rank != 0 && ok && wn_inputs_unpack(p->inputs, listing, (size_t)ll, &err) < 0)
            ok = 0;
        for (uint32_t i = 0; rank != 0 && ok && i < p->nstages; i++)
            if (wn_stage_init(p->stages[i], &err) < 0)
                ok = 0;
    } else if (rank != 0) {
        ok = 0; /* rank 0 has said why */
    }
    free(listing);
    /* Every rank ran every init, so each plans the same pruning. */
    if (ok && wn_stages_plan_columns(p->stages, p->nstages, &err) < 0)
        ok = 0;
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
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

/* The defaults of the paths a run writes, known once the pipeline is. */
static void resolve_paths(struct run_args *a, const struct prepared *p)
{
    const struct wn_pipeline_config *c = p->cfg;
    const char *dir = c->output && *c->output ? c->output : ".";
    if (!a->opts.checkpoint)
        a->opts.checkpoint = c->checkpoint;
    if (!a->opts.failed_path)
        snprintf(a->failed_buf, sizeof(a->failed_buf), "%s/%s.failed-tasks.jsonl", dir, c->name);
    if (c->rejects && *c->rejects)
        a->opts.rejects_path = c->rejects;
    else
        snprintf(a->rejects_buf, sizeof(a->rejects_buf), "%s/rejects.jsonl", dir);
    if (!a->opts.failed_path)
        a->opts.failed_path = a->failed_buf;
    if (!a->opts.rejects_path)
        a->opts.rejects_path = a->rejects_buf;
}

/* Collective, before any work: nothing the run writes touches its input
 * (rank 0 checks: it listed the input), and every place it writes can be
 * written, on every rank (ranks on other nodes may see other file
 * systems); folders are made here.  The checkpoint folder is only
 * guarded: wn_ckpt_open makes and checks it. */
static int check_outputs(const struct run_args *a, const struct prepared *p, int rank)
{
    const struct wn_pipeline_config *c = p->cfg;
    size_t n = 0, cap = 9;
    for (uint32_t i = 0; i < p->nstages; i++)
        cap += p->stages[i]->noutputs;
    struct wn_guard_path *outs = calloc(cap, sizeof(*outs));
    char(*whats)[160] = calloc(cap, sizeof(*whats));
    wn_error_t err = {{0}};
    int ok = outs && whats;
    if (!ok)
        wn_errprintf(&err, "out of memory");
#define OUT(p_, what_, kind_) \
    (outs[n].path = (p_), outs[n].what = (what_), outs[n++].kind = (kind_))
    if (ok) {
        OUT(c->output, "output", WN_OUTPUT_DIR);
        OUT(a->opts.rejects_path, "rejects file", WN_OUTPUT_FILE);
        OUT(a->opts.failed_path, "failed-tasks file", WN_OUTPUT_FILE);
        OUT(a->opts.stats_path, "--stats file", WN_OUTPUT_FILE);
        OUT(a->opts.trace_path, "--trace file", WN_OUTPUT_FILE);
        OUT(a->opts.results_path, "--results file", WN_OUTPUT_FILE);
        OUT(c->exec.shuffle_spill_dir, "shuffle_spill_dir", WN_OUTPUT_DIR);
        OUT(c->exec.spill_dir, "spill_dir", WN_OUTPUT_DIR);
        for (uint32_t i = 0; i < p->nstages; i++)
            for (size_t k = 0; k < p->stages[i]->noutputs; k++) {
                snprintf(whats[n], sizeof(whats[n]), "stage '%s' output", p->stages[i]->cfg->name);
                OUT(p->stages[i]->outputs[k].path, whats[n], p->stages[i]->outputs[k].kind);
            }
        OUT(a->opts.checkpoint, "checkpoint", WN_OUTPUT_DIR); /* last: not probed */
    }
#undef OUT
    if (rank == 0 && ok && wn_guard_inputs(p->inputs, outs, n, &err) < 0)
        ok = 0;
    int ok0 = ok;
    MPI_Bcast(&ok0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (ok0 && ok && wn_guard_writable(outs, n - 1, &err) < 0)
        ok = 0;
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!ok && (rank == 0 || ok0))
        wn_error("%s%s", rank == 0 ? "" : "on this rank's node: ", err.text);
    free(outs);
    free(whats);
    return all ? 0 : WN_EXIT_USAGE;
}

/* Collective, once the output folder is made: rank 0 locks it
 * (OUTPUT/.winnow-lock, held until the run ends): two runs writing one
 * output folder would mix their files. */
static int lock_output(const struct prepared *p, int rank, struct wn_lock **lock)
{
    wn_error_t err = {{0}};
    const char *out = p->cfg->output;
    int ok = 1;
    if (rank == 0 && out && *out &&
        !(*lock = wn_lock_take(out, ".winnow-lock", "output folder", &err))) {
        wn_error("%s", err.text);
        ok = 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok ? 0 : WN_EXIT_USAGE;
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
        .stage = sc->name,
        .cpus = sc->cpus,
        .gpus = sc->gpus,
        .num_workers = sc->num_workers,
        .ntasks = i == 0 ? (st->seeds ? st->seeds : 1) : UINT64_MAX / 2,
        .batch_size = sc->batch_size > 0 ? sc->batch_size : 1,
        .num_output_tasks = sc->num_output_tasks,
        .raft = (st->ops->flags & WN_STAGE_RAFT) != 0,
        .reserved_cpus = c->exec.reserved_cpus,
        .reserved_gpus = c->exec.reserved_gpus,
        .ignore_head_node = c->exec.ignore_head_node,
        .planner_rank = 0,
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
            if (rank == 0) /* the stage's entry holds its resources */
                wn_error("%s: %s", wn_stage_config_where(p->stages[i]->cfg), err.text);
            rc = WN_EXIT_USAGE;
        }
    }
    free(ranks);
    return rc;
}

static void print_plan(const struct prepared *p, const struct wn_run_options *opts, FILE *out)
{
    const struct wn_pipeline_config *c = p->cfg;
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    fprintf(out, "pipeline %s: %u stages on %d rank%s (%d node%s); rank 0 plans%s\n", c->name,
            p->nstages, size, size == 1 ? "" : "s", wn_layout_nnodes(p->places, size),
            wn_layout_nnodes(p->places, size) == 1 ? "" : "s",
            size == 1 ? " and acts (alone)" : ", the other ranks are pool actors");
    wn_config_render(c, out);
    if (opts->memory_limit)
        fprintf(out,
                "memory per rank: %s; %llu MiB of it for data (%llu MiB go to the process "
                "itself); stage outputs beyond %llu MiB spill to %s\n",
                opts->memory_from, opts->memory_data >> 20, opts->memory_base >> 20,
                (unsigned long long)(wn_budget_store(opts->memory_data) >> 20),
                wn_exec_spill_dir(c));
    else
        fprintf(out, "memory per rank: unbounded (%s)\n", opts->memory_from);
    int streaming = c->exec.mode == WN_MODE_STREAMING;
    if (streaming)
        fprintf(out,
                "streaming: a rank runs %d batch%s at once (its CPUs over the least "
                "resources.cpus)\n",
                wn_plan_threads(p->places[0].cpus, p->stages, p->nstages, 1),
                wn_plan_threads(p->places[0].cpus, p->stages, p->nstages, 1) == 1 ? "" : "es");
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
        const char *const *keep = NULL;
        size_t nkeep = 0;
        if (wn_stage_keeps_all(st, &keep, &nkeep))
            fprintf(out, "\n     columns kept: all%s",
                    i + 1 == p->nstages ? " (the last stage)"
                                        : " (a later stage reads every column)");
        else if (nkeep == 0)
            fprintf(out,
                    "\n     columns kept: none read later (the first stays, for the row count)");
        else
            for (size_t k = 0; k < nkeep; k++)
                fprintf(out, "%s%s", k ? ", " : "\n     columns kept: ", keep[k]);
        if (st->plan_note)
            fprintf(out, "\n     %s", st->plan_note);
        if (streaming) {
            uint32_t head = 0;
            while (wn_plan_segment_end(p->stages, p->nstages, head, 1) <= i)
                head = wn_plan_segment_end(p->stages, p->nstages, head, 1);
            uint32_t end = wn_plan_segment_end(p->stages, p->nstages, head, 1);
            if (end > head + 1)
                fprintf(out, "\n     streaming: runs at once with stages %u to %u, in %s mode",
                        head + 1, end, wn_stage_task_mode(st) ? "task" : "actor");
            else
                fprintf(out, "\n     streaming: runs alone (%s)",
                        raft                                  ? "a clique: a barrier"
                        : (st->ops->flags & WN_STAGE_SHUFFLE) ? "a shuffle: a barrier"
                        : sc->num_output_tasks > 0            ? "num_output_tasks needs all inputs"
                                                   : "the stages around it are barriers");
        }
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
            fprintf(out, "ceil(tasks / %d) - tasks are known when stage %u has run%s\n", bs, i,
                    sc->batch_size > 0 ? "" : " (batch_size unset: 1)");
        free(ranks);
    }
}

/* Whether the output folder is the checkpoint folder or inside it. */
static int inside_output(const char *ckpt, const char *output)
{
    if (!output || !*output)
        return 0;
    char *c = realpath(ckpt, NULL), *o = realpath(output, NULL);
    size_t n = c ? strlen(c) : 0;
    int in = c && o && !strncmp(o, c, n) && (o[n] == '\0' || o[n] == '/');
    free(c);
    free(o);
    return in;
}

/* Collective: the checkpoint directory, opened (and locked) by rank 0
 * before any work.  Refusals (another run holds it, a folder of something
 * else, a journal of another pipeline) exit 2; a disk that cannot take
 * the manifest or the journal's first record exits 1. */
static int open_checkpoint(struct run_args *a, struct prepared *p, int rank)
{
    if (!a->opts.checkpoint)
        return 0;
    int status = 0, size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0 && inside_output(a->opts.checkpoint, p->cfg->output)) {
        wn_error("the checkpoint %s cannot be the output folder %s or hold it: each is locked "
                 "for one run, and a checkpoint holds only what winnow makes there (use a "
                 "folder of its own, e.g. %s/checkpoint)",
                 a->opts.checkpoint, p->cfg->output, p->cfg->output);
        status = WN_EXIT_USAGE;
    } else if (rank == 0) {
        wn_error_t err = {{0}};
        int resumed = 0;
        a->opts.ckpt = wn_ckpt_open(a->opts.checkpoint, p->cfg, p->inputs, size, a->opts.force,
                                    &resumed, &err);
        if (!a->opts.ckpt) {
            int e = errno;
            wn_error("%s", err.text);
            status = e == ENOSPC || e == EDQUOT || e == EIO ? WN_EXIT_FAILURE : WN_EXIT_USAGE;
        } else if (resumed) {
            a->resumed = 1;
            wn_info("resuming from checkpoint %s", a->opts.checkpoint);
        }
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return status;
}

/* Collective: a run that does not resume starts a new rejects file (one
 * that resumes appends to its own). */
static int start_rejects(const struct run_args *a, int rank)
{
    int ok = 1;
    if (rank == 0 && !a->resumed) {
        wn_error_t err = {{0}};
        if (wn_rejects_reset(a->opts.rejects_path, &err) < 0) {
            wn_error("%s", err.text);
            ok = 0;
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
        return WN_EXIT_USAGE; /* a launch error */
    }
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    struct prepared p;
    struct wn_lock *out_lock = NULL;
    int status = prepare(&a, &p);
    if (status == 0) {
        if (plan_only) {
            if (rank == 0)
                print_plan(&p, &a.opts, stdout);
        } else {
            resolve_paths(&a, &p);
            status = check_actors(&p, rank);
            if (status == 0)
                status = check_outputs(&a, &p, rank);
            if (status == 0)
                status = lock_output(&p, rank, &out_lock);
            if (status == 0)
                status = open_checkpoint(&a, &p, rank);
            if (status == 0)
                status = start_rejects(&a, rank);
            if (status == 0)
                status = wn_exec_run(p.cfg, p.stages, p.nstages, p.places, &a.opts);
            /* Actors append rejects in the order they finish batches; a
             * run that completed leaves them in input order. */
            if (status == 0 && rank == 0 && wn_rejects_sort(a.opts.rejects_path) < 0 &&
                errno != ENOENT)
                wn_warn("%s: could not sort: %s", a.opts.rejects_path, strerror(errno));
            wn_ckpt_close(a.opts.ckpt);
            wn_lock_release(out_lock);
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
        wn_part_quiesce(); /* ... and its part file be on the I/O thread */
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
