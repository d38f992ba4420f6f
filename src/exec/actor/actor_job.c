/* actor_job.c - running one job on an actor: a batch's inputs unpacked,
 * process_batch called, its outputs stored (and written to their part
 * file when checkpointing); a LOAD read back from its part file; a
 * shuffle stage's insert cut into chunks per partition, or an extract
 * read from the round.  Runs on the compute thread, or inline on the
 * main thread for a stage whose batches take microseconds. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/env.h"
#include "util/exit.h"
#include "util/log.h"
#include "ckpt/ckpt.h"
#include "ckpt/part.h"
#include "exec/run.h"
#include "exec/wire.h"
#include "net/shuffle.h"
#include "stage/stage_impl.h"
#include "exec/actor/actor_impl.h"
#include "stage/rejects.h"
#include "util/xalloc.h"

void actor_job_free(struct wn_actor *a, struct job *j)
{
    for (uint32_t i = 0; i < j->n; i++) {
        if (j->held && j->held[i])
            wn_store_release(a->run->store, j->held[i]);
        else if (j->source && j->source[i] == INPUT_PULLED) /* 2: read in the node arena */
            free(j->bufs[i]);
    }
    for (size_t i = 0; i < j->nchunks; i++)
        free(j->chunks[i].buf);
    free(j->chunks);
    if (j->io) { /* never queued */
        wn_task_list_free(&j->io->tasks);
        free(j->io->path);
        free(j->io->rejects);
        free(j->io);
    }
    free(j->result);
    free(j->rejects);
    free(j); /* its arrays live in the same allocation */
}

static uint64_t batch_key(const struct wn_desc *d, uint32_t n)
{
    if (n == 1)
        return d[0].id;
    uint64_t *ids = wn_xmalloc((n ? n : 1) * sizeof(*ids));
    for (uint32_t i = 0; i < n; i++)
        ids[i] = d[i].id;
    uint64_t k = XXH3_64bits(ids, n * sizeof(*ids));
    free(ids);
    return k;
}

/* Builds the RESULT message of a finished (or failed) job. */
void actor_job_result(struct wn_actor *a, struct job *j, int status, const char *errtext,
                      struct wn_desc *outs, uint32_t nout, double t_start, double t_end,
                      double idle_s, const struct job_counts *counts)
{
    size_t elen = status ? strlen(errtext) + 1 : 0;
    size_t rlen = !status && j->rejects ? strlen(j->rejects) + 1 : 0;
    size_t len = sizeof(struct wn_msg_result) + nout * sizeof(struct wn_desc) + elen + rlen;
    struct wn_msg_result *r = wn_xcalloc(1, len);
    r->stage = j->stage->index;
    r->status = status;
    r->batch = j->batch;
    r->noutputs = nout;
    r->errlen = (uint32_t)elen;
    r->rejlen = (uint32_t)rlen;
    r->t_start = t_start;
    r->t_end = t_end;
    r->idle_s = idle_s;
    r->pull_s = j->pull_s;
    r->pulled_bytes = j->pulled_bytes;
    r->arena_bytes = j->arena_bytes;
    r->part_sum = j->part_sum;
    r->part_pending = j->io != NULL;
    r->peak_rss_mib = wn_peak_rss_mib();
    struct wn_store_spill_stats sp;
    wn_store_spill_stats(a->run->store, &sp);
    r->bytes_spilled = sp.bytes_spilled;
    r->bytes_read_back = sp.bytes_read_back;
    r->items_in = counts->items_in;
    r->items_out = counts->items_out;
    r->bytes_in = counts->bytes_in;
    r->bytes_out = counts->bytes_out;
    if (nout)
        memcpy(r + 1, outs, nout * sizeof(*outs));
    if (elen)
        memcpy((char *)(r + 1) + nout * sizeof(*outs), errtext, elen);
    if (rlen)
        memcpy((char *)(r + 1) + nout * sizeof(*outs) + elen, j->rejects, rlen);
    j->result = r;
    j->result_len = len;
}

/* Packs an output into the node arena when it has room (consumers on
 * this node read it there), else onto the heap, and stores it. */
static int store_output(struct wn_actor *a, const struct wn_stage *st, struct wn_task *t,
                        struct wn_desc *d, XXH3_state_t *sum, wn_error_t *err)
{
    size_t len = wn_task_packed_size(t);
    uint32_t ref = 0;
    void *buf = wn_arena_alloc(a->run->arena, st->index, len, &ref);
    /* The tasks' checksum, from the packed buffers: before the store
     * has them (a spilled one is freed at once). */
    if (buf) {
        if (wn_task_pack(t, buf, len, err) < 0)
            return -1;
        if (sum)
            XXH3_64bits_update(sum, buf, len);
        if (wn_store_put_arena(a->run->store, t->id, st->index, buf, len) < 0)
            return wn_errprintf(err, "out of memory storing a task");
    } else {
        if (wn_task_pack_alloc(t, &buf, &len, err) < 0)
            return -1;
        if (sum)
            XXH3_64bits_update(sum, buf, len);
        if (wn_store_put(a->run->store, t->id, st->index, buf, len) < 0) {
            free(buf);
            return wn_errprintf(err, "out of memory storing a task");
        }
    }
    *d = (struct wn_desc){t->id, a->run->rank, ref, len, wn_batch_nrows(t->batch)};
    return 0;
}

/* A LOAD: the outputs a batch made in an earlier run, from its part file
 * (its checksum checked against the journal's), stored as if just made. */
static void run_load(struct wn_actor *a, struct job *j, double idle_s)
{
    struct wn_stage *st = j->stage;
    struct wn_task_list tasks = WN_TASK_LIST_INIT;
    struct wn_part_info info;
    struct wn_desc *outs = NULL;
    struct job_counts counts = {0, 0, 0, 0};
    wn_error_t err = {{0}};
    double t_start = wn_run_now(a->run);
    char path[4096];
    int status = -1;
    if (wn_ckpt_part_path(path, sizeof(path), a->run->opts->checkpoint, st->index, st->cfg->name,
                          j->batch) < 0) {
        wn_errprintf(&err, "checkpoint path too long");
        goto done;
    }
    /* The file's checksum is checked against the journal's before HDF5
     * parses it. */
    if (wn_part_read(path, &j->load_sum, &tasks, &info, &err) < 0)
        goto done;
    if (info.stage_index != st->index || info.batch != j->batch) {
        wn_errprintf(&err, "%s: holds stage %u batch %llu, not stage %u batch %llu", path,
                     info.stage_index, (unsigned long long)info.batch, st->index,
                     (unsigned long long)j->batch);
        goto done;
    }
    outs = calloc(tasks.n ? tasks.n : 1, sizeof(*outs));
    size_t k = 0;
    for (; outs && k < tasks.n; k++) {
        if (store_output(a, st, tasks.tasks[k], &outs[k], NULL, &err) < 0)
            break;
        counts.items_out += outs[k].nrows;
        counts.bytes_out += wn_task_nbytes(tasks.tasks[k]);
    }
    if (!outs || k < tasks.n) {
        if (!outs)
            wn_errprintf(&err, "out of memory");
        for (size_t i = 0; outs && i < k; i++)
            wn_store_drop(a->run->store, outs[i].id);
        goto done;
    }
    status = 0;
done:
    actor_job_result(a, j, status, err.text, outs, status ? 0 : (uint32_t)tasks.n, t_start,
                     wn_run_now(a->run), idle_s, &counts);
    free(outs);
    wn_task_list_free(&tasks);
}

/* ------------------------------------------------------------ shuffle -- */

/* The default partition function: a hash of the key column's value. */
static int partition_by_key(const struct wn_stage *st, const struct wn_task *t, uint32_t nparts,
                            uint32_t *partition_of, wn_error_t *err)
{
    if (!st->shuffle_key)
        return wn_errprintf(err,
                            "shuffle stage type '%s' sets no key column and has no "
                            "partition function",
                            st->ops->type);
    const struct wn_column *col = wn_batch_find(t->batch, st->shuffle_key);
    if (!col)
        return wn_errprintf(err, "an insert task has no key column '%s'", st->shuffle_key);
    uint64_t n = wn_batch_nrows(t->batch);
    size_t w = wn_type_width(col->type) * (col->list_len ? col->list_len : 1);
    for (uint64_t r = 0; r < n; r++) {
        uint64_t h;
        if (col->type == WN_TYPE_STR) {
            size_t len;
            const char *v = wn_col_str(col, r, &len);
            h = XXH3_64bits(v, len);
        } else {
            h = XXH3_64bits((const char *)col->data + r * w, w);
        }
        partition_of[r] = (uint32_t)(h % nparts);
    }
    return 0;
}

/* Insert: cuts each output of the batch into one chunk per partition it
 * has rows for (a packed task), kept on the job until the main thread
 * hands them to the shuffle.  All or nothing: a batch that fails sends
 * nothing, so running it again cannot send a row twice. */
static int make_chunks(struct wn_actor *a, struct job *j, struct wn_task_list *out,
                       uint64_t *rows_out, wn_error_t *err)
{
    struct wn_stage *st = j->stage;
    uint32_t nparts = a->shuffle->sh ? wn_shuffle_nparts(a->shuffle->sh) : 0;
    if (!nparts)
        return wn_errprintf(err, "rank %d has no shuffle round open for stage '%s'", a->run->rank,
                            st->cfg->name);
    if (out->n >= (1u << 20))
        return wn_errprintf(err, "an insert batch made %zu outputs (at most %u)", out->n,
                            (1u << 20) - 1);
    uint32_t *partition_of = NULL, *order = NULL;
    uint64_t *start = calloc((size_t)nparts + 1, sizeof(*start));
    int rc = start ? 0 : wn_errprintf(err, "out of memory");
    for (size_t k = 0; rc == 0 && k < out->n; k++) {
        const struct wn_task *t = out->tasks[k];
        uint64_t n = t->batch ? wn_batch_nrows(t->batch) : 0;
        if (n == 0)
            continue;
        if (n > UINT32_MAX) {
            rc = wn_errprintf(err, "an insert output of %llu rows (at most %u)",
                              (unsigned long long)n, UINT32_MAX);
            break;
        }
        free(partition_of);
        free(order);
        partition_of = malloc(n * sizeof(*partition_of));
        order = malloc(n * sizeof(*order));
        if (!partition_of || !order) {
            rc = wn_errprintf(err, "out of memory");
            break;
        }
        rc = st->ops->partition ? st->ops->partition(st, t, nparts, partition_of, err)
                                : partition_by_key(st, t, nparts, partition_of, err);
        if (rc < 0)
            break;
        /* Rows grouped by partition, in row order within each (counting sort). */
        memset(start, 0, ((size_t)nparts + 1) * sizeof(*start));
        for (uint64_t r = 0; r < n && rc == 0; r++) {
            if (partition_of[r] >= nparts)
                rc = wn_errprintf(err,
                                  "partition function put row %llu in partition %u "
                                  "of %u",
                                  (unsigned long long)r, partition_of[r], nparts);
            else
                start[partition_of[r] + 1]++;
        }
        if (rc < 0)
            break;
        for (uint32_t p = 0; p < nparts; p++)
            start[p + 1] += start[p];
        for (uint64_t r = 0; r < n; r++)
            order[start[partition_of[r]]++] = (uint32_t)r;
        /* start[p] is now the end of partition p's rows. */
        for (uint32_t p = 0, first = 0; p < nparts && rc == 0; first = (uint32_t)start[p++]) {
            uint32_t cnt = (uint32_t)start[p] - first;
            if (!cnt)
                continue;
            struct wn_batch *b = wn_batch_take(t->batch, order + first, cnt, err);
            struct wn_task *ct = b ? wn_task_create(0, st->index, b) : NULL;
            struct chunk c = {p, (j->batch << 20) + k, NULL, 0};
            if (!ct) {
                wn_batch_destroy(b);
                rc = b ? wn_errprintf(err, "out of memory") : -1;
                break;
            }
            rc = wn_task_pack_alloc(ct, &c.buf, &c.len, err);
            wn_task_destroy(ct);
            if (rc < 0)
                break;
            struct chunk *nc = realloc(j->chunks, (j->nchunks + 1) * sizeof(*nc));
            if (!nc) {
                free(c.buf);
                rc = wn_errprintf(err, "out of memory");
                break;
            }
            j->chunks = nc;
            j->chunks[j->nchunks++] = c;
        }
        *rows_out += n;
    }
    free(partition_of);
    free(order);
    free(start);
    if (rc < 0) {
        for (size_t i = 0; i < j->nchunks; i++)
            free(j->chunks[i].buf);
        free(j->chunks);
        j->chunks = NULL;
        j->nchunks = 0;
    }
    return rc;
}

static int append_chunk(void *arg, uint64_t origin, const void *buf, size_t len, wn_error_t *err)
{
    struct wn_batch *rows = arg;
    struct wn_task *t = NULL;
    if (wn_task_unpack(buf, len, WN_UNPACK_VIEW, &t, err) < 0)
        return wn_errprefix(err, "shuffle chunk %016llx", (unsigned long long)origin);
    int rc = t->batch ? wn_batch_append(rows, t->batch, err) : 0;
    wn_task_destroy(t);
    return rc;
}

/* Tests only: WINNOW_TEST_BATCH_DELAY_MS=N sleeps N ms before every batch, so
 * that a test can kill a run inside a chosen stage however fast the stage
 * is (t/mpi/t1100).  Unset, it costs one getenv per process. */
static void test_delay(void)
{
    static int ms = -1;
    if (ms < 0) {
        const char *v = wn_getenv("TEST_BATCH_DELAY_MS");
        ms = v ? atoi(v) : 0;
        if (ms < 0)
            ms = 0;
    }
    if (ms > 0)
        usleep((useconds_t)ms * 1000);
}

/* Extract: the partition's rows, in origin order, into the stage's
 * outputs (by default one task holding them all). */
static int run_extract(struct wn_actor *a, struct job *j, struct wn_task_list *out,
                       uint64_t *rows_in, wn_error_t *err)
{
    struct wn_stage *st = j->stage;
    struct wn_batch *rows = wn_batch_create();
    if (!rows)
        return wn_errprintf(err, "out of memory");
    if (wn_shuffle_extract(a->shuffle->sh, j->partition, append_chunk, rows, err) < 0) {
        wn_batch_destroy(rows);
        return wn_errprefix(err, "partition %u of round %u", j->partition, j->round);
    }
    *rows_in = wn_batch_nrows(rows);
    int rc = 0;
    if (st->ops->extract) {
        rc = st->ops->extract(st, j->partition, &rows, out, err);
        if (rc < 0 && !err->text[0])
            wn_errprintf(err, "extract failed without saying why");
    } else if (wn_batch_nrows(rows) > 0) {
        struct wn_task *t = wn_task_create(0, st->index, rows);
        if (!t || wn_task_list_push(out, t) < 0) {
            if (t)
                t->batch = NULL; /* rows is still ours */
            wn_task_destroy(t);
            rc = wn_errprintf(err, "out of memory");
        } else {
            rows = NULL;
        }
    }
    wn_batch_destroy(rows);
    return rc;
}

void actor_run_job(struct wn_actor *a, struct job *j, double idle_s, int async_io)
{
    if (j->kind == JOB_LOAD) {
        run_load(a, j, idle_s);
        return;
    }
    struct wn_stage *st = j->stage;
    /* Small batches keep their task pointers on the stack. */
    struct wn_task *in_small[16] = {0};
    struct wn_task **in = j->n <= 16 ? in_small : calloc(j->n, sizeof(*in));
    if (!in) {
        wn_error("out of memory for a batch of %u tasks", j->n);
        MPI_Abort(MPI_COMM_WORLD, WN_EXIT_FAILURE);
    }
    struct wn_task_list out = WN_TASK_LIST_INIT;
    struct wn_desc *outs = NULL;
    wn_error_t err = {{0}};
    struct job_counts counts = {0, 0, 0, 0};
    double t_start = wn_run_now(a->run);
    int status = -1;
    uint32_t nout = 0;
    XXH3_state_t *sum = NULL; /* checkpoint: the tasks' checksum */
    struct wn_batch_run run;  /* this thread's batch: attempt, round, rejects */
    wn_batch_run_begin(&run, st, j->attempt, j->round);

    if (j->input_error.text[0]) {
        err = j->input_error;
        goto done;
    }
    for (uint32_t i = 0; i < j->n; i++) {
        if (j->descs[i].owner < 0) {
            /* A seed: the empty task a source stage starts from, its
             * index (in nrows) as metadata "seed". */
            char seed[24];
            snprintf(seed, sizeof(seed), "%llu", (unsigned long long)j->descs[i].nrows);
            in[i] = wn_task_create(j->descs[i].id, UINT32_MAX, NULL);
            if (!in[i] || wn_task_meta_set(in[i], "seed", seed, &err) < 0) {
                if (in[i])
                    wn_errprefix(&err, "seed task");
                else
                    wn_errprintf(&err, "out of memory");
                goto done;
            }
            continue;
        }
        int flags = WN_UNPACK_VIEW | (j->source[i] != INPUT_HERE ? 0 : WN_UNPACK_NOVERIFY);
        if (wn_task_unpack(j->bufs[i], j->lens[i], flags, &in[i], &err) < 0) {
            wn_errprefix(&err, "input task %016llx from rank %d",
                         (unsigned long long)j->descs[i].id, j->descs[i].owner);
            goto done;
        }
        counts.items_in += wn_batch_nrows(in[i]->batch);
        counts.bytes_in += wn_task_nbytes(in[i]);
    }

    wn_current_stage_name = st->cfg->name;
    test_delay();
    double t0 = wn_run_now(a->run);
    uint64_t shuffled = 0; /* rows inserted or extracted: not the stage's items */
    wn_rejects_begin(st);
    int rc = j->kind == JOB_EXTRACT ? run_extract(a, j, &out, &shuffled, &err)
                                    : st->ops->process_batch(st, in, j->n, &out, &err);
    double busy = wn_run_now(a->run) - t0;
    if (rc < 0) {
        wn_rejects_discard(st); /* the batch runs again, and finds them again */
        if (!err.text[0])
            wn_errprintf(&err, "process_batch failed without saying why");
        goto done;
    }
    /* Its records go to the rejects file once it has succeeded (a record
     * already there from an earlier attempt is not written twice). */
    free(j->rejects);
    j->rejects = NULL;
    if (wn_rejects_commit(st, a->run->opts->rejects_path, &j->rejects, &err) < 0)
        goto done;
    if (j->kind == JOB_INSERT) {
        /* The outputs are rows to shuffle, not the stage's outputs. */
        if (make_chunks(a, j, &out, &shuffled, &err) < 0)
            goto done;
        status = 0;
        goto done;
    }

    outs = wn_xcalloc(out.n ? out.n : 1, sizeof(*outs));
    /* A batch without inputs (an extract; a RAFT member given no task):
     * its outputs descend from (stage, batch), since a key made of no ids
     * would be the same for every such batch and give two tasks one id. */
    uint64_t key = j->kind == JOB_EXTRACT || j->n == 0
                       ? wn_task_id_derive(j->batch, st->index, UINT64_MAX)
                       : batch_key(j->descs, j->n);
    sum = a->run->opts->checkpoint ? XXH3_createState() : NULL;
    if (sum)
        XXH3_64bits_reset(sum);
    for (size_t k = 0; k < out.n; k++) {
        struct wn_task *t = out.tasks[k];
        t->id = wn_task_id_derive(key, st->index, k);
        t->stage_index = st->index;
        /* Metadata and history come from the input at the same position
         * when there is one output per input (a filter), else from the
         * batch's first input. */
        if (j->n > 0 && t->nperf == 0 && wn_task_inherit(t, in[out.n == j->n ? k : 0], &err) < 0)
            goto done;
        /* Columns no later stage reads are not stored, sent or
         * checkpointed (stage_impl.h, column pruning). */
        if (wn_stage_prune(st, t->batch, &err) < 0)
            goto done;
        struct wn_stage_perf perf;
        memset(&perf, 0, sizeof(perf));
        size_t nl = strnlen(st->cfg->name, sizeof(perf.stage) - 1);
        memcpy(perf.stage, st->cfg->name, nl); /* the rest is zeroed */
        perf.process_s = busy / (double)out.n;
        perf.idle_s = idle_s / (double)out.n;
        perf.items_in = counts.items_in;
        perf.items_out = wn_batch_nrows(t->batch);
        perf.bytes_in = counts.bytes_in;
        perf.bytes_out = wn_task_nbytes(t);
        if (wn_task_perf_add(t, &perf, &err) < 0)
            goto done;
        if (store_output(a, st, t, &outs[k], sum, &err) < 0) {
            wn_errprefix(&err, "output %zu", k);
            goto done;
        }
        counts.items_out += perf.items_out;
        counts.bytes_out += perf.bytes_out;
    }
    /* Checkpointing: the batch's outputs to their part file, durable
     * before the planner hears of them. */
    if (a->run->opts->checkpoint) {
        char path[4096];
        struct wn_part_info info = {{0}, st->index, j->batch, out.n, 0, 0};
        snprintf(info.stage, sizeof(info.stage), "%s", st->cfg->name);
        if (wn_ckpt_part_path(path, sizeof(path), a->run->opts->checkpoint, st->index,
                              st->cfg->name, j->batch) < 0) {
            wn_errprintf(&err, "checkpoint path too long");
            goto done;
        }
        uint64_t known = XXH3_64bits_digest(sum);
        struct io_job *io = async_io ? calloc(1, sizeof(*io)) : NULL;
        if (io &&
            (!(io->path = strdup(path)) || (j->rejects && !(io->rejects = strdup(j->rejects))))) {
            free(io->path);
            free(io);
            io = NULL; /* written here instead */
        }
        if (io) {
            /* The I/O thread writes it; the tasks go with it, owning their
             * bytes: a batch taken over from an input holds views of the
             * input's buffer, which is released when this job ends. */
            for (size_t k = 0; k < out.n; k++)
                if (out.tasks[k]->batch && wn_batch_make_owned(out.tasks[k]->batch, &err) < 0) {
                    free(io->path);
                    free(io->rejects);
                    free(io);
                    goto done;
                }
            io->info = info;
            io->known = known;
            io->tasks = out;
            out = (struct wn_task_list)WN_TASK_LIST_INIT;
            j->io = io;
        } else if (wn_part_write(path, &info, out.tasks, out.n,
                                 a->run->cfg->exec.checkpoint_compression, &known, &j->part_sum,
                                 &err) < 0) {
            goto done;
        }
    }
    nout = (uint32_t)(j->io ? j->io->tasks.n : out.n);
    status = 0;
done:
    if (status != 0)
        for (uint32_t k = 0; outs && k < out.n; k++)
            if (outs[k].len)
                wn_store_drop(a->run->store, outs[k].id);
    wn_current_stage_name = NULL;
    if (sum)
        XXH3_freeState(sum);
    actor_job_result(a, j, status, err.text, outs, status ? 0 : nout, t_start, wn_run_now(a->run),
                     idle_s, &counts);
    free(outs);
    wn_task_list_free(&out);
    for (uint32_t i = 0; i < j->n; i++)
        wn_task_destroy(in[i]);
    if (in != in_small)
        free(in);
    wn_batch_run_end(&run);
}
