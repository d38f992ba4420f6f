/* actor.c - a pool actor: sets up the stages it hosts, gathers each
 * assigned batch's inputs (local payloads by reference, remote ones pulled
 * from their owners), and runs process_batch on a compute thread so the
 * main thread keeps serving pulls and messages meanwhile. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"
#include "ckpt.h"
#include "part.h"
#include "runtime.h"
#include "clique.h"
#include "shuffle.h"
#include "stage_impl.h"

/* An insert batch's rows for one partition, packed as a task: handed to
 * the shuffle by the main thread when the batch's result goes out. */
struct chunk {
    uint32_t part;
    uint64_t origin;          /* (batch << 20) + output index: fixes the order */
    void *buf;
    size_t len;
};

struct job {
    struct job *next;
    struct wn_stage *stage;
    uint32_t attempt;
    uint64_t batch;
    uint32_t n;
    struct wn_desc *descs;
    void **bufs;                  /* packed inputs */
    size_t *lens;
    struct wn_payload **held;     /* local inputs: store references */
    unsigned char *remote;        /* bufs[i] was pulled: free it, verify it */
    int missing;                  /* pulls outstanding */
    double t_ready_wait;          /* when the pulls started */
    double pull_s;
    uint64_t pulled_bytes;
    uint64_t arena_bytes;         /* read in another rank's node arena */
    int load;                     /* a LOAD: read the batch's part file */
    int insert;                   /* a shuffle stage's insert batch */
    int extract;                  /* ... or the extract of partition `part` */
    uint32_t round, part;
    struct chunk *chunks;         /* insert: the rows to send */
    size_t nchunks;
    uint64_t load_sum;            /* its checksum, from the journal */
    uint64_t part_sum;            /* the part file this batch wrote */
    struct io_job *io;            /* ... or that the I/O thread writes */
    void *result;                 /* the RESULT message, once done */
    size_t result_len;
};

/* A part file the I/O thread writes while the batch's result has gone to
 * the planner and the compute thread goes on; the planner journals the
 * batch when the DURABLE message says the file is in place. */
struct io_job {
    struct io_job *next;
    char *path;
    struct wn_part_info info;
    struct wn_task_list tasks;    /* the outputs, owned here */
    uint64_t known;               /* their checksum, from the packed buffers */
    void *msg;                    /* the DURABLE message, once written */
    size_t msg_len;
};

/* Part files queued per actor at most: a compute thread that outruns the
 * disk waits, so the outputs held for writing stay bounded. */
#define WN_IO_QUEUE_MAX 4

struct wn_actor {
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t main_cond;          /* wakes an idle main thread */
    int main_waiting;
    struct job *ready, **ready_tail;   /* for the compute thread */
    struct job *done;                  /* for the main thread */
    _Atomic int ndone;                 /* jobs on `done`: checked unlocked */
    int stop;
    double idle_since;                 /* compute thread went idle */
    int cur_stage;                     /* hosted stage, -1 none */
    int running;                       /* the compute thread has a job */
    /* Mean run time of the last jobs of stage `avg_stage`: a stage whose
     * batches take microseconds runs on the main thread (see make_ready). */
    int avg_stage;
    double avg_job_s;
    /* The I/O thread: part files of finished batches, in order. */
    pthread_t io_thread;
    int io_started;
    pthread_cond_t io_cond;            /* wakes the I/O thread */
    pthread_cond_t io_space;           /* wakes a compute thread waiting for room */
    struct io_job *io_head, **io_tail;
    int io_queued;                     /* on the queue or being written */
    struct io_job *durable;            /* written, for the main thread */
    /* The shuffle round this rank takes part in (main thread only, but
     * for extract reading a complete round on the compute thread). */
    struct wn_shuffle *sh;
    MPI_Comm sh_comm;
    uint32_t sh_stage, sh_round;
    int sh_failed;                     /* sh_error says why */
    char sh_error[1024];
    struct job *sh_waiting;            /* extracts waiting for the round */
    _Atomic size_t sh_backlog;         /* bytes inserted, not yet sent */
    /* The clique of the RAFT stage this rank hosts (made on the main
     * thread, which runs its MPI collectives for the compute thread). */
    struct wn_clique *clique;
    int clique_stage;
};

/* Bytes an actor may have inserted and not yet sent before its compute
 * thread waits with the next insert batch. */
#define WN_SHUFFLE_BACKLOG ((size_t)64 << 20)

/* A batch expected to take less than this runs inline on the main thread
 * when the compute thread is idle: handing it over would cost two thread
 * switches, more than the batch itself on an oversubscribed node. */
#define WN_INLINE_JOB_S 50e-6

/* For the crash handler: what this rank was doing. */
volatile const char *wn_current_stage_name;

static void job_free(struct wn_rt *rt, struct job *j)
{
    for (uint32_t i = 0; i < j->n; i++) {
        if (j->held && j->held[i])
            wn_store_release(rt->store, j->held[i]);
        else if (j->remote && j->remote[i] == 1)   /* 2: read in the node arena */
            free(j->bufs[i]);
    }
    for (size_t i = 0; i < j->nchunks; i++)
        free(j->chunks[i].buf);
    free(j->chunks);
    if (j->io) {   /* never queued */
        wn_task_list_free(&j->io->tasks);
        free(j->io->path);
        free(j->io);
    }
    free(j->result);
    free(j);   /* its arrays live in the same allocation */
}

static uint64_t batch_key(const struct wn_desc *d, uint32_t n)
{
    if (n == 1)
        return d[0].id;
    uint64_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    for (uint32_t i = 0; i < n; i++)
        ids[i] = d[i].id;
    uint64_t k = XXH3_64bits(ids, n * sizeof(*ids));
    free(ids);
    return k;
}

/* Builds the RESULT message of a finished (or failed) job. */
static void job_result(struct wn_rt *rt, struct job *j, int status, const char *errtext,
                       struct wn_desc *outs, uint32_t nout, double t_start, double t_end,
                       double idle_s, const uint64_t counts[4])
{
    size_t elen = status ? strlen(errtext) + 1 : 0;
    size_t len = sizeof(struct wn_msg_result) + nout * sizeof(struct wn_desc) + elen;
    struct wn_msg_result *r = calloc(1, len);
    r->stage = j->stage->index;
    r->status = status;
    r->batch = j->batch;
    r->noutputs = nout;
    r->errlen = (uint32_t)elen;
    r->t_start = t_start;
    r->t_end = t_end;
    r->idle_s = idle_s;
    r->pull_s = j->pull_s;
    r->pulled_bytes = j->pulled_bytes;
    r->arena_bytes = j->arena_bytes;
    r->part_sum = j->part_sum;
    r->part_pending = j->io != NULL;
    r->peak_rss_mib = wn_peak_rss_mib();
    r->items_in = counts[0];
    r->items_out = counts[1];
    r->bytes_in = counts[2];
    r->bytes_out = counts[3];
    if (nout)
        memcpy(r + 1, outs, nout * sizeof(*outs));
    if (elen)
        memcpy((char *)(r + 1) + nout * sizeof(*outs), errtext, elen);
    j->result = r;
    j->result_len = len;
}

/* Packs an output into the node arena when it has room (consumers on
 * this node read it there), else onto the heap, and stores it. */
static int store_output(struct wn_rt *rt, const struct wn_stage *st, struct wn_task *t,
                        struct wn_desc *d, XXH3_state_t *sum, wn_error_t *err)
{
    size_t len = wn_task_packed_size(t);
    uint32_t ref = 0;
    void *buf = wn_arena_alloc(rt->arena, st->index, len, &ref);
    if (buf) {
        if (wn_task_pack(t, buf, len, err) < 0)
            return -1;
        if (wn_store_put_arena(rt->store, t->id, st->index, buf, len) < 0)
            return wn_errprintf(err, "out of memory storing a task");
    } else {
        if (wn_task_pack_alloc(t, &buf, &len, err) < 0)
            return -1;
        if (wn_store_put(rt->store, t->id, st->index, buf, len) < 0) {
            free(buf);
            return wn_errprintf(err, "out of memory storing a task");
        }
    }
    *d = (struct wn_desc){t->id, rt->rank, ref, len, wn_batch_nrows(t->batch)};
    if (sum)   /* the part file's checksum, from the packed buffers */
        XXH3_64bits_update(sum, buf, len);
    return 0;
}

/* A LOAD: the outputs a batch made in an earlier run, from its part file
 * (checksum checked against the journal's), stored as if just made. */
static void run_load(struct wn_rt *rt, struct job *j, double idle_s)
{
    struct wn_stage *st = j->stage;
    struct wn_task_list tasks = WN_TASK_LIST_INIT;
    struct wn_part_info info;
    struct wn_desc *outs = NULL;
    uint64_t counts[4] = {0, 0, 0, 0};
    wn_error_t err = {{0}};
    double t_start = wn_rt_now(rt);
    char path[4096];
    int status = -1;
    if (wn_ckpt_part_path(path, sizeof(path), rt->opts->checkpoint, st->index, st->cfg->name,
                          j->batch) < 0) {
        wn_errprintf(&err, "checkpoint path too long");
        goto done;
    }
    if (wn_part_read(path, &tasks, &info, &err) < 0)
        goto done;
    if (info.checksum != j->load_sum || info.stage_index != st->index ||
        info.batch != j->batch) {
        wn_errprintf(&err, "%s: checksum %016llx (stage %u, batch %llu), the journal says "
                     "%016llx (stage %u, batch %llu)", path,
                     (unsigned long long)info.checksum, info.stage_index,
                     (unsigned long long)info.batch, (unsigned long long)j->load_sum,
                     st->index, (unsigned long long)j->batch);
        goto done;
    }
    outs = calloc(tasks.n ? tasks.n : 1, sizeof(*outs));
    size_t k = 0;
    for (; outs && k < tasks.n; k++) {
        if (store_output(rt, st, tasks.tasks[k], &outs[k], NULL, &err) < 0)
            break;
        counts[1] += outs[k].nrows;
        counts[3] += wn_task_nbytes(tasks.tasks[k]);
    }
    if (!outs || k < tasks.n) {
        if (!outs)
            wn_errprintf(&err, "out of memory");
        for (size_t i = 0; outs && i < k; i++)
            wn_store_drop(rt->store, outs[i].id);
        goto done;
    }
    status = 0;
done:
    job_result(rt, j, status, err.text, outs, status ? 0 : (uint32_t)tasks.n, t_start,
               wn_rt_now(rt), idle_s, counts);
    free(outs);
    wn_task_list_free(&tasks);
}

/* ------------------------------------------------------------ shuffle -- */

/* The default partition function: a hash of the key column's value. */
static int partition_by_key(const struct wn_stage *st, const struct wn_task *t,
                            uint32_t nparts, uint32_t *part, wn_error_t *err)
{
    if (!st->shuffle_key)
        return wn_errprintf(err, "shuffle stage type '%s' sets no key column and has no "
                            "partition function", st->ops->type);
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
        part[r] = (uint32_t)(h % nparts);
    }
    return 0;
}

/* Insert: cuts each output of the batch into one chunk per partition it
 * has rows for (a packed task), kept on the job until the main thread
 * hands them to the shuffle.  All or nothing: a batch that fails sends
 * nothing, so running it again cannot send a row twice. */
static int make_chunks(struct wn_rt *rt, struct job *j, struct wn_task_list *out,
                       uint64_t *rows_out, wn_error_t *err)
{
    struct wn_stage *st = j->stage;
    struct wn_actor *a = rt->actor;
    uint32_t nparts = a->sh ? wn_shuffle_nparts(a->sh) : 0;
    if (!nparts)
        return wn_errprintf(err, "rank %d has no shuffle round open for stage '%s'",
                            rt->rank, st->cfg->name);
    if (out->n >= (1u << 20))
        return wn_errprintf(err, "an insert batch made %zu outputs (at most %u)", out->n,
                            (1u << 20) - 1);
    uint32_t *part = NULL, *order = NULL;
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
        free(part);
        free(order);
        part = malloc(n * sizeof(*part));
        order = malloc(n * sizeof(*order));
        if (!part || !order) {
            rc = wn_errprintf(err, "out of memory");
            break;
        }
        rc = st->ops->partition ? st->ops->partition(st, t, nparts, part, err)
                                : partition_by_key(st, t, nparts, part, err);
        if (rc < 0)
            break;
        /* Rows grouped by partition, in row order within each (counting sort). */
        memset(start, 0, ((size_t)nparts + 1) * sizeof(*start));
        for (uint64_t r = 0; r < n && rc == 0; r++) {
            if (part[r] >= nparts)
                rc = wn_errprintf(err, "partition function put row %llu in partition %u "
                                  "of %u", (unsigned long long)r, part[r], nparts);
            else
                start[part[r] + 1]++;
        }
        if (rc < 0)
            break;
        for (uint32_t p = 0; p < nparts; p++)
            start[p + 1] += start[p];
        for (uint64_t r = 0; r < n; r++)
            order[start[part[r]]++] = (uint32_t)r;
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
    free(part);
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

static int append_chunk(void *arg, uint64_t origin, const void *buf, size_t len,
                        wn_error_t *err)
{
    struct wn_batch *rows = arg;
    struct wn_task *t = NULL;
    if (wn_task_unpack(buf, len, WN_UNPACK_VIEW, &t, err) < 0)
        return wn_errprefix(err, "shuffle chunk %016llx", (unsigned long long)origin);
    int rc = t->batch ? wn_batch_append(rows, t->batch, err) : 0;
    wn_task_destroy(t);
    return rc;
}

/* Tests only: WN_TEST_BATCH_DELAY_MS=N sleeps N ms before every batch, so
 * that a test can kill a run inside a chosen stage however fast the stage
 * is (t/mpi/t1100).  Unset, it costs one getenv per process. */
static void test_delay(void)
{
    static int ms = -1;
    if (ms < 0) {
        const char *v = getenv("WN_TEST_BATCH_DELAY_MS");
        ms = v ? atoi(v) : 0;
        if (ms < 0)
            ms = 0;
    }
    if (ms > 0)
        usleep((useconds_t)ms * 1000);
}

/* Extract: the partition's rows, in origin order, into the stage's
 * outputs (by default one task holding them all). */
static int run_extract(struct wn_rt *rt, struct job *j, struct wn_task_list *out,
                       uint64_t *rows_in, wn_error_t *err)
{
    struct wn_stage *st = j->stage;
    struct wn_batch *rows = wn_batch_create();
    if (!rows)
        return wn_errprintf(err, "out of memory");
    if (wn_shuffle_extract(rt->actor->sh, j->part, append_chunk, rows, err) < 0) {
        wn_batch_destroy(rows);
        return wn_errprefix(err, "partition %u of round %u", j->part, j->round);
    }
    *rows_in = wn_batch_nrows(rows);
    int rc = 0;
    if (st->ops->extract) {
        rc = st->ops->extract(st, j->part, &rows, out, err);
        if (rc < 0 && !err->text[0])
            wn_errprintf(err, "extract failed without saying why");
    } else if (wn_batch_nrows(rows) > 0) {
        struct wn_task *t = wn_task_create(0, st->index, rows);
        if (!t || wn_task_list_push(out, t) < 0) {
            if (t)
                t->batch = NULL;   /* rows is still ours */
            wn_task_destroy(t);
            rc = wn_errprintf(err, "out of memory");
        } else {
            rows = NULL;
        }
    }
    wn_batch_destroy(rows);
    return rc;
}

static void run_job(struct wn_rt *rt, struct job *j, double idle_s, int async_io)
{
    if (j->load) {
        run_load(rt, j, idle_s);
        return;
    }
    struct wn_stage *st = j->stage;
    /* Small batches keep their task pointers on the stack. */
    struct wn_task *in_small[16] = {0};
    struct wn_task **in = j->n <= 16 ? in_small : calloc(j->n, sizeof(*in));
    if (!in) {
        wn_error("out of memory for a batch of %u tasks", j->n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    struct wn_task_list out = WN_TASK_LIST_INIT;
    struct wn_desc *outs = NULL;
    wn_error_t err = {{0}};
    uint64_t counts[4] = {0, 0, 0, 0};
    double t_start = wn_rt_now(rt);
    int status = -1;
    uint32_t nout = 0;
    XXH3_state_t *sum = NULL;       /* checkpoint: the part file's checksum */

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
        int flags = WN_UNPACK_VIEW | (j->remote[i] ? 0 : WN_UNPACK_NOVERIFY);
        if (wn_task_unpack(j->bufs[i], j->lens[i], flags, &in[i], &err) < 0) {
            wn_errprefix(&err, "input task %016llx from rank %d",
                         (unsigned long long)j->descs[i].id, j->descs[i].owner);
            goto done;
        }
        counts[0] += wn_batch_nrows(in[i]->batch);
        counts[2] += wn_task_nbytes(in[i]);
    }

    st->attempt = j->attempt;
    st->round = j->round;
    wn_current_stage_name = st->cfg->name;
    test_delay();
    double t0 = wn_rt_now(rt);
    uint64_t shuffled = 0;   /* rows inserted or extracted: not the stage's items */
    int rc = j->extract ? run_extract(rt, j, &out, &shuffled, &err)
                        : st->ops->process_batch(st, in, j->n, &out, &err);
    double busy = wn_rt_now(rt) - t0;
    if (rc < 0) {
        if (!err.text[0])
            wn_errprintf(&err, "process_batch failed without saying why");
        goto done;
    }
    if (j->insert) {
        /* The outputs are rows to shuffle, not the stage's outputs. */
        if (make_chunks(rt, j, &out, &shuffled, &err) < 0)
            goto done;
        status = 0;
        goto done;
    }

    outs = calloc(out.n ? out.n : 1, sizeof(*outs));
    /* An extract has no inputs: its outputs descend from (stage, batch). */
    uint64_t key = j->extract ? wn_task_id_derive(j->batch, st->index, UINT64_MAX)
                              : batch_key(j->descs, j->n);
    sum = rt->opts->checkpoint ? XXH3_createState() : NULL;
    if (sum)
        XXH3_64bits_reset(sum);
    for (size_t k = 0; k < out.n; k++) {
        struct wn_task *t = out.tasks[k];
        t->id = wn_task_id_derive(key, st->index, k);
        t->stage_index = st->index;
        /* Metadata and history come from the input at the same position
         * when there is one output per input (a filter), else from the
         * batch's first input. */
        if (j->n > 0 && t->nperf == 0 &&
            wn_task_inherit(t, in[out.n == j->n ? k : 0], &err) < 0)
            goto done;
        struct wn_stage_perf perf;
        memset(&perf, 0, sizeof(perf));
        size_t nl = strnlen(st->cfg->name, sizeof(perf.stage) - 1);
        memcpy(perf.stage, st->cfg->name, nl);   /* the rest is zeroed */
        perf.process_s = busy / (double)out.n;
        perf.idle_s = idle_s / (double)out.n;
        perf.items_in = counts[0];
        perf.items_out = wn_batch_nrows(t->batch);
        perf.bytes_in = counts[2];
        perf.bytes_out = wn_task_nbytes(t);
        if (wn_task_perf_add(t, &perf, &err) < 0)
            goto done;
        if (store_output(rt, st, t, &outs[k], sum, &err) < 0) {
            wn_errprefix(&err, "output %zu", k);
            goto done;
        }
        counts[1] += perf.items_out;
        counts[3] += perf.bytes_out;
    }
    /* Checkpointing: the batch's outputs to their part file, durable
     * before the planner hears of them. */
    if (rt->opts->checkpoint) {
        char path[4096];
        struct wn_part_info info = {{0}, st->index, j->batch, out.n, 0};
        snprintf(info.stage, sizeof(info.stage), "%s", st->cfg->name);
        if (wn_ckpt_part_path(path, sizeof(path), rt->opts->checkpoint, st->index,
                              st->cfg->name, j->batch) < 0) {
            wn_errprintf(&err, "checkpoint path too long");
            goto done;
        }
        uint64_t known = XXH3_64bits_digest(sum);
        struct io_job *io = async_io ? calloc(1, sizeof(*io)) : NULL;
        if (io && !(io->path = strdup(path))) {
            free(io);
            io = NULL;
        }
        if (io) {
            /* The I/O thread writes it; the tasks go with it, owning their
             * bytes: a batch taken over from an input holds views of the
             * input's buffer, which is released when this job ends. */
            for (size_t k = 0; k < out.n; k++)
                if (out.tasks[k]->batch && wn_batch_make_owned(out.tasks[k]->batch, &err) < 0) {
                    free(io->path);
                    free(io);
                    goto done;
                }
            io->info = info;
            io->known = known;
            io->tasks = out;
            out = (struct wn_task_list)WN_TASK_LIST_INIT;
            j->io = io;
        } else if (wn_part_write(path, &info, out.tasks, out.n, 0, &known, &j->part_sum,
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
                wn_store_drop(rt->store, outs[k].id);
    wn_current_stage_name = NULL;
    if (sum)
        XXH3_freeState(sum);
    job_result(rt, j, status, err.text, outs, status ? 0 : nout, t_start, wn_rt_now(rt),
               idle_s, counts);
    free(outs);
    wn_task_list_free(&out);
    for (uint32_t i = 0; i < j->n; i++)
        wn_task_destroy(in[i]);
    if (in != in_small)
        free(in);
}

/* Under the actor lock. */
static void note_job_time(struct wn_actor *a, const struct job *j, double dt)
{
    if (a->avg_stage != (int)j->stage->index) {
        a->avg_stage = (int)j->stage->index;
        a->avg_job_s = dt;
    } else {
        a->avg_job_s = 0.8 * a->avg_job_s + 0.2 * dt;
    }
}

/* Under the actor lock. */
static void push_done(struct wn_actor *a, struct job *j)
{
    j->next = a->done;
    a->done = j;
    atomic_fetch_add(&a->ndone, 1);
    if (a->main_waiting)
        pthread_cond_signal(&a->main_cond);
}

/* Writes a queued part file and builds its DURABLE message.  A file that
 * cannot be written fails the run (its outputs may already be another
 * batch's inputs, so the batch cannot simply run again). */
static void finish_io(struct io_job *io)
{
    wn_error_t err = {{0}};
    uint64_t sum = 0;
    int rc = wn_part_write(io->path, &io->info, io->tasks.tasks, io->tasks.n, 0, &io->known,
                           &sum, &err);
    size_t elen = rc < 0 ? strlen(err.text) + 1 : 0;
    struct wn_msg_durable *m = calloc(1, sizeof(*m) + elen);
    if (m) {
        *m = (struct wn_msg_durable){io->info.stage_index, rc < 0 ? -1 : 0, io->info.batch,
                                     sum, io->tasks.n, (uint32_t)elen, 0};
        if (elen)
            memcpy(m + 1, err.text, elen);
    }
    io->msg = m;
    io->msg_len = sizeof(*m) + elen;
    wn_task_list_free(&io->tasks);
}

static void *io_main(void *arg)
{
    struct wn_rt *rt = arg;
    struct wn_actor *a = rt->actor;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->io_head && !a->stop)
            pthread_cond_wait(&a->io_cond, &a->lock);
        if (!a->io_head)
            break;
        struct io_job *io = a->io_head;
        a->io_head = io->next;
        if (!a->io_head)
            a->io_tail = &a->io_head;
        pthread_mutex_unlock(&a->lock);
        finish_io(io);
        pthread_mutex_lock(&a->lock);
        a->io_queued--;
        pthread_cond_signal(&a->io_space);
        io->next = a->durable;
        a->durable = io;
        atomic_fetch_add(&a->ndone, 1);
        if (a->main_waiting)
            pthread_cond_signal(&a->main_cond);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Under the actor lock: hands a finished job's part file to the I/O
 * thread. */
static void queue_io(struct wn_actor *a, struct job *j)
{
    struct io_job *io = j->io;
    j->io = NULL;
    io->next = NULL;
    *a->io_tail = io;
    a->io_tail = &io->next;
    a->io_queued++;
    pthread_cond_signal(&a->io_cond);
}

static void *compute_main(void *arg)
{
    struct wn_rt *rt = arg;
    struct wn_actor *a = rt->actor;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->ready && !a->stop)
            pthread_cond_wait(&a->cond, &a->lock);
        if (a->stop)
            break;
        struct job *j = a->ready;
        a->ready = j->next;
        if (!a->ready)
            a->ready_tail = &a->ready;
        double now = wn_rt_now(rt), idle = now - a->idle_since;
        a->running = 1;
        /* The disk behind: wait for room before making more to write;
         * the network behind: before making more to send. */
        while (a->io_queued >= WN_IO_QUEUE_MAX ||
               (j->insert && atomic_load(&a->sh_backlog) > WN_SHUFFLE_BACKLOG && !a->stop))
            pthread_cond_wait(&a->io_space, &a->lock);
        pthread_mutex_unlock(&a->lock);

        run_job(rt, j, idle > 0 ? idle : 0, a->io_started);

        pthread_mutex_lock(&a->lock);
        a->idle_since = wn_rt_now(rt);
        note_job_time(a, j, a->idle_since - now);
        a->running = 0;
        if (j->io)
            queue_io(a, j);
        push_done(a, j);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

struct wn_actor *wn_actor_create(struct wn_rt *rt)
{
    struct wn_actor *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->main_cond, &ca);
    pthread_condattr_destroy(&ca);
    a->ready_tail = &a->ready;
    a->io_tail = &a->io_head;
    pthread_cond_init(&a->io_cond, NULL);
    pthread_cond_init(&a->io_space, NULL);
    a->cur_stage = -1;
    a->avg_stage = -1;
    a->clique_stage = -1;
    rt->actor = a;
    if (pthread_create(&a->thread, NULL, compute_main, rt) != 0) {
        free(a);
        rt->actor = NULL;
        return NULL;
    }
    a->thread_started = 1;
    if (rt->opts->checkpoint && pthread_create(&a->io_thread, NULL, io_main, rt) == 0)
        a->io_started = 1;
    return a;
}

void wn_actor_destroy(struct wn_actor *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_signal(&a->cond);
    pthread_cond_signal(&a->io_cond);
    pthread_mutex_unlock(&a->lock);
    if (a->thread_started)
        pthread_join(a->thread, NULL);
    if (a->io_started)
        pthread_join(a->io_thread, NULL);
    pthread_cond_destroy(&a->io_cond);
    pthread_cond_destroy(&a->io_space);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    pthread_cond_destroy(&a->main_cond);
    wn_clique_destroy(a->clique);
    free(a);
}

/* Hands an insert batch's chunks to the shuffle, before its result goes
 * to the planner (which finishes the round's inserts only after every
 * result, so no chunk comes after insert_finished). */
static void sh_fail(struct wn_rt *rt, const char *why);

static void hand_chunks(struct wn_rt *rt, struct job *j)
{
    struct wn_actor *a = rt->actor;
    for (size_t i = 0; i < j->nchunks; i++) {
        struct chunk *c = &j->chunks[i];
        wn_error_t err = {{0}};
        if (!a->sh_failed &&
            wn_shuffle_insert(a->sh, c->part, c->origin, c->buf, c->len, &err) < 0)
            sh_fail(rt, err.text);
        else if (a->sh_failed)
            free(c->buf);
        c->buf = NULL;   /* the shuffle's now (or freed) */
    }
    free(j->chunks);
    j->chunks = NULL;
    j->nchunks = 0;
}

/* Sends a finished job's result and frees it (main thread). */
static void send_result(struct wn_rt *rt, struct job *j)
{
    struct wn_actor *a = rt->actor;
    if (j->nchunks)
        hand_chunks(rt, j);
    /* An extracted partition's received rows are no longer needed. */
    if (j->extract && a->sh && a->sh_stage == j->stage->index && a->sh_round == j->round)
        wn_shuffle_release(a->sh, j->part);
    wn_rt_send(rt, 0, WN_TAG_RESULT, j->result, j->result_len);
    j->result = NULL;
    job_free(rt, j);
}

static void make_ready(struct wn_rt *rt, struct job *j)
{
    struct wn_actor *a = rt->actor;
    if (j->t_ready_wait > 0)
        j->pull_s = wn_rt_now(rt) - j->t_ready_wait;
    pthread_mutex_lock(&a->lock);
    /* A stage whose batches take microseconds, with the compute thread
     * idle: run it here.  GPU stages stay on the compute thread, which
     * holds their device (CUDA binds a device per thread). */
    int io_room = !rt->opts->checkpoint || (a->io_started && a->io_queued < WN_IO_QUEUE_MAX);
    /* RAFT stages neither: their collectives need the main thread free. */
    if (!a->ready && !a->running && a->avg_stage == (int)j->stage->index &&
        a->avg_job_s < WN_INLINE_JOB_S && !(j->stage->cfg->gpus > 0) && io_room &&
        !(j->stage->ops->flags & WN_STAGE_RAFT)) {
        double now = wn_rt_now(rt), idle = now - a->idle_since;
        pthread_mutex_unlock(&a->lock);
        run_job(rt, j, idle > 0 ? idle : 0, a->io_started);
        double end = wn_rt_now(rt);
        pthread_mutex_lock(&a->lock);
        a->idle_since = end;
        note_job_time(a, j, end - now);
        if (j->io)
            queue_io(a, j);
        pthread_mutex_unlock(&a->lock);
        send_result(rt, j);
        return;
    }
    j->next = NULL;
    *a->ready_tail = j;
    a->ready_tail = &j->next;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

struct pull_ctx {
    struct job *job;
    uint32_t index;
};

static void on_pulled(struct wn_rt *rt, uint64_t id, void *buf, size_t len, int remote,
                      void *arg)
{
    struct pull_ctx *c = arg;
    struct job *j = c->job;
    j->bufs[c->index] = buf;
    j->lens[c->index] = len;
    j->remote[c->index] = 1;
    j->pulled_bytes += len;
    free(c);
    if (--j->missing == 0)
        make_ready(rt, j);
}

static void ack(struct wn_rt *rt, uint32_t stage, const char *errtext)
{
    size_t elen = errtext ? strlen(errtext) + 1 : 0;
    struct wn_msg_ack *m = calloc(1, sizeof(*m) + elen);
    m->stage = stage;
    m->status = errtext ? -1 : 0;
    if (elen)
        memcpy(m + 1, errtext, elen);
    wn_rt_send(rt, 0, WN_TAG_ACK, m, sizeof(*m) + elen);
}

static void on_stage(struct wn_rt *rt, const struct wn_msg_stage *m)
{
    struct wn_actor *a = rt->actor;
    struct wn_stage *st = rt->stages[m->stage];
    const struct wn_place *me = &rt->places[rt->rank];
    wn_error_t err = {{0}};
    wn_current_stage_name = st->cfg->name;
    if (wn_stage_init(st, &err) < 0)
        goto fail;
    if (m->node_setup && st->ops->setup_on_node) {
        struct wn_node node = {me->node_id, me->node_name, m->node_nactors};
        if (st->ops->setup_on_node(st, &node, &err) < 0) {
            wn_errprefix(&err, "setup_on_node on node %d (%s)", me->node_id, me->node_name);
            goto fail;
        }
    }
    if (st->ops->setup) {
        struct wn_worker w = {rt->rank, me->node_id, me->local_rank, me->gpu,
                              m->actor_index, m->nactors,
                              a->clique_stage == (int)m->stage ? a->clique : NULL};
        if (st->ops->setup(st, &w, &err) < 0) {
            wn_errprefix(&err, "setup");
            goto fail;
        }
    }
    a->cur_stage = (int)m->stage;
    a->idle_since = wn_rt_now(rt);
    wn_current_stage_name = NULL;
    ack(rt, m->stage, NULL);
    return;
fail:
    wn_current_stage_name = NULL;
    ack(rt, m->stage, err.text);
}

static void on_assign(struct wn_rt *rt, const struct wn_msg_assign *m, size_t len)
{
    uint32_t n = len >= sizeof(*m) ? m->ntasks : 0;
    if (len < sizeof(*m) || len < sizeof(*m) + (size_t)n * sizeof(struct wn_desc)) {
        wn_error("malformed batch assignment (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* The job and its per-task arrays in one allocation. */
    size_t cnt = n ? n : 1;
    size_t sz = sizeof(struct job) + cnt * (sizeof(struct wn_desc) + sizeof(void *) +
                                             sizeof(size_t) + sizeof(struct wn_payload *) + 1);
    struct job *j = calloc(1, sz);
    if (!j) {
        wn_error("out of memory for a batch of %u tasks", n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    char *at = (char *)(j + 1);
    j->descs = (struct wn_desc *)at;
    at += cnt * sizeof(struct wn_desc);
    j->bufs = (void **)at;
    at += cnt * sizeof(void *);
    j->lens = (size_t *)at;
    at += cnt * sizeof(size_t);
    j->held = (struct wn_payload **)at;
    at += cnt * sizeof(struct wn_payload *);
    j->remote = (unsigned char *)at;
    j->stage = rt->stages[m->stage];
    j->attempt = m->attempt;
    j->batch = m->batch;
    j->n = n;
    /* A shuffle stage's batches are its inserts (extracts come apart). */
    if (j->stage->ops->flags & WN_STAGE_SHUFFLE) {
        j->insert = 1;
        j->round = rt->actor->sh_round;
    }
    memcpy(j->descs, m + 1, n * sizeof(struct wn_desc));
    for (uint32_t i = 0; i < n; i++) {
        const struct wn_desc *d = &j->descs[i];
        if (d->owner < 0)
            continue;
        if (d->owner == rt->rank) {
            j->held[i] = wn_store_get(rt->store, d->id);
            if (!j->held[i]) {
                wn_error("rank %d was given task %016llx to process but does not hold it",
                         rt->rank, (unsigned long long)d->id);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            j->bufs[i] = j->held[i]->buf;
            j->lens[i] = j->held[i]->len;
        } else if ((j->bufs[i] = (void *)wn_arena_ptr(rt->arena, d->owner, d->arena))) {
            /* In the owner's node arena: read in place, checksum verified. */
            j->lens[i] = d->len;
            j->remote[i] = 2;
            j->arena_bytes += d->len;
        } else {
            j->missing++;
        }
    }
    if (j->missing == 0) {
        make_ready(rt, j);
        return;
    }
    j->t_ready_wait = wn_rt_now(rt);
    /* Count first, then pull: a pull served from this rank completes at once. */
    int pulls = j->missing;
    for (uint32_t i = 0; i < n && pulls; i++) {
        const struct wn_desc *d = &j->descs[i];
        /* Seeds, local inputs and those read in a node arena are there. */
        if (d->owner < 0 || d->owner == rt->rank || j->remote[i] == 2)
            continue;
        pulls--;
        struct pull_ctx *c = malloc(sizeof(*c));
        c->job = j;
        c->index = i;
        if (wn_rt_pull(rt, d->id, d->owner, on_pulled, c) < 0) {
            wn_error("cannot pull task %016llx from rank %d", (unsigned long long)d->id,
                     d->owner);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
}

static void on_load(struct wn_rt *rt, const struct wn_msg_load *m, size_t len)
{
    struct job *j = calloc(1, sizeof(*j) + 64);
    if (len < sizeof(*m) || m->stage >= rt->nstages || !j) {
        wn_error("malformed load request (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* No inputs: the descriptor arrays stay empty. */
    j->descs = (struct wn_desc *)(j + 1);
    j->bufs = NULL;
    j->stage = rt->stages[m->stage];
    j->batch = m->batch;
    j->load = 1;
    j->load_sum = m->sum;
    make_ready(rt, j);
}

/* An extract that cannot run: its result says why. */
static void fail_job(struct wn_rt *rt, struct job *j, const char *why)
{
    uint64_t counts[4] = {0, 0, 0, 0};
    double now = wn_rt_now(rt);
    job_result(rt, j, -1, why, NULL, 0, now, now, 0, counts);
    send_result(rt, j);
}

/* The round failed on this rank (a peer unreachable, a transfer stuck):
 * the extracts waiting for it fail with the reason, and so do later ones;
 * the planner fails the run. */
static void sh_fail(struct wn_rt *rt, const char *why)
{
    struct wn_actor *a = rt->actor;
    if (!a->sh_failed) {
        a->sh_failed = 1;
        snprintf(a->sh_error, sizeof(a->sh_error), "%s", why);
        wn_error("%s", why);
    }
    while (a->sh_waiting) {
        struct job *j = a->sh_waiting;
        a->sh_waiting = j->next;
        fail_job(rt, j, a->sh_error);
    }
}

static void on_shuffle(struct wn_rt *rt, const struct wn_msg_shuffle *m, size_t len)
{
    struct wn_actor *a = rt->actor;
    const struct wn_executor_config *ex = &rt->cfg->exec;
    wn_error_t err = {{0}};
    if (len < sizeof(*m) || m->stage >= rt->nstages ||
        (m->op == WN_SHUFFLE_BEGIN &&
         (m->nactors < 1 || len < sizeof(*m) + (size_t)m->nactors * sizeof(int32_t)))) {
        wn_error("malformed shuffle message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (m->op == WN_SHUFFLE_BEGIN) {
        const int32_t *ranks = (const int32_t *)(m + 1);
        MPI_Group world, group;
        MPI_Comm_group(rt->group_comm, &world);
        MPI_Group_incl(world, m->nactors, (const int *)ranks, &group);
        /* Non-collective over group_comm: only the round's actors call it. */
        int rc = MPI_Comm_create_group(rt->group_comm, group, (int)(m->round & 0x7fff),
                                       &a->sh_comm);
        MPI_Group_free(&group);
        MPI_Group_free(&world);
        struct wn_shuffle_opts o = {
            .inflight_per_peer = (size_t)ex->shuffle_inflight,
            .memory_limit = (size_t)ex->shuffle_memory_limit,
            .spill_dir = ex->shuffle_spill_dir,
            .timeout_s = ex->shuffle_timeout,
            .world_rank = rt->rank,
        };
        a->sh_failed = 0;
        a->sh_error[0] = '\0';
        a->sh_stage = m->stage;
        a->sh_round = m->round;
        if (rc != MPI_SUCCESS) {
            wn_errprintf(&err, "rank %d: cannot make the communicator of shuffle round %u",
                         rt->rank, m->round);
        } else if (!(a->sh = wn_shuffle_create(a->sh_comm, m->round, m->nparts, &o, &err))) {
            wn_errprefix(&err, "rank %d: shuffle round %u", rt->rank, m->round);
            MPI_Comm_free(&a->sh_comm);
        }
        ack(rt, m->stage, err.text[0] ? err.text : NULL);
        return;
    }
    if (m->op == WN_SHUFFLE_INSERTED) {
        if (a->sh && !a->sh_failed && wn_shuffle_insert_finished(a->sh, &err) < 0)
            sh_fail(rt, err.text);
        return;
    }
    /* WN_SHUFFLE_END: every extract of the round is done everywhere. */
    if (a->sh) {
        struct wn_shuffle_stats ss;
        wn_shuffle_stats(a->sh, &ss);
        wn_debug("shuffle round %u: sent %llu bytes in %llu messages, received %llu, "
                 "spilled %llu, peak held %llu", m->round, (unsigned long long)ss.bytes_sent,
                 (unsigned long long)ss.messages_sent, (unsigned long long)ss.bytes_received,
                 (unsigned long long)ss.bytes_spilled, (unsigned long long)ss.peak_held_bytes);
        struct wn_msg_shuffle_stats *st = malloc(sizeof(*st));
        *st = (struct wn_msg_shuffle_stats){m->stage, m->round, ss.bytes_sent,
                                            ss.bytes_spilled, ss.peak_held_bytes};
        wn_rt_send(rt, 0, WN_TAG_SHUFFLE_STATS, st, sizeof(*st));
        wn_shuffle_destroy(a->sh);
        a->sh = NULL;
        MPI_Comm_free(&a->sh_comm);
    }
    atomic_store(&a->sh_backlog, 0);
    ack(rt, m->stage, NULL);
}

static void on_extract(struct wn_rt *rt, const struct wn_msg_extract *m, size_t len)
{
    struct wn_actor *a = rt->actor;
    struct job *j = calloc(1, sizeof(*j) + 64);
    if (len < sizeof(*m) || m->stage >= rt->nstages || !j) {
        wn_error("malformed extract request (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    j->descs = (struct wn_desc *)(j + 1);
    j->stage = rt->stages[m->stage];
    j->batch = m->batch;
    j->extract = 1;
    j->round = m->round;
    j->part = m->part;
    if (a->sh_failed) {
        fail_job(rt, j, a->sh_error);
        return;
    }
    if (!a->sh || a->sh_stage != m->stage || a->sh_round != m->round) {
        char why[160];
        snprintf(why, sizeof(why), "rank %d has no open shuffle round %u of this stage",
                 rt->rank, m->round);
        fail_job(rt, j, why);
        return;
    }
    if (wn_shuffle_complete(a->sh)) {
        make_ready(rt, j);
        return;
    }
    j->next = a->sh_waiting;
    a->sh_waiting = j;
}

/* Moves the open round on: progress, failures, extracts that may start,
 * and the backlog the compute thread watches. */
static int shuffle_poll(struct wn_rt *rt)
{
    struct wn_actor *a = rt->actor;
    wn_error_t err = {{0}};
    if (!a->sh || a->sh_failed)
        return 0;
    int rc = wn_shuffle_progress(a->sh, &err);
    if (rc < 0) {
        sh_fail(rt, err.text);
        return 1;
    }
    if (a->sh_waiting && wn_shuffle_complete(a->sh)) {
        /* Oldest first: partitions in the order the planner sent them. */
        struct job *rev = NULL;
        while (a->sh_waiting) {
            struct job *j = a->sh_waiting;
            a->sh_waiting = j->next;
            j->next = rev;
            rev = j;
        }
        while (rev) {
            struct job *j = rev;
            rev = j->next;
            make_ready(rt, j);
        }
        rc = 1;
    }
    size_t q = wn_shuffle_queued_bytes(a->sh);
    size_t old = atomic_exchange(&a->sh_backlog, q);
    if (old > WN_SHUFFLE_BACKLOG && q <= WN_SHUFFLE_BACKLOG) {
        pthread_mutex_lock(&a->lock);
        pthread_cond_broadcast(&a->io_space);
        pthread_mutex_unlock(&a->lock);
    }
    return rc;
}

/* Wakes the main thread from its idle wait: the compute thread has
 * handed it a clique collective. */
static void wake_main(void *arg)
{
    struct wn_actor *a = arg;
    pthread_mutex_lock(&a->lock);
    if (a->main_waiting)
        pthread_cond_signal(&a->main_cond);
    pthread_mutex_unlock(&a->lock);
}

static void on_clique(struct wn_rt *rt, const struct wn_msg_clique *m, size_t len)
{
    struct wn_actor *a = rt->actor;
    wn_error_t err = {{0}};
    if (len < sizeof(*m) || m->stage >= rt->nstages || m->nactors < 1 ||
        len < sizeof(*m) + (size_t)m->nactors * sizeof(int32_t)) {
        wn_error("malformed clique message (%zu bytes)", len);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int gpu = m->gpu ? rt->places[rt->rank].gpu : -1;
    wn_clique_destroy(a->clique);
    a->clique = NULL;
    a->clique_stage = -1;
    if (m->gpu && gpu < 0) {
        wn_errprintf(&err, "rank %d has no GPU for an NCCL clique", rt->rank);
    } else {
        /* NCCL's set-up waits for every member: the same bound as a
         * shuffle's silent peer. */
        a->clique = wn_clique_create(rt->group_comm, (const int *)(m + 1), m->nactors, gpu,
                                     rt->cfg->exec.shuffle_timeout, wake_main, a, &err);
        if (a->clique)
            a->clique_stage = (int)m->stage;
    }
    ack(rt, m->stage, a->clique ? NULL : err.text);
}

static void on_stage_end(struct wn_rt *rt, uint32_t stage)
{
    struct wn_actor *a = rt->actor;
    struct wn_stage *st = rt->stages[stage];
    if (a->cur_stage == (int)stage) {
        if (st->ops->teardown)
            st->ops->teardown(st);
        a->cur_stage = -1;
    }
    if (a->clique_stage == (int)stage) {
        wn_clique_destroy(a->clique);
        a->clique = NULL;
        a->clique_stage = -1;
    }
    /* The stage's inputs are consumed: free them where they live. */
    if (stage > 0) {
        wn_store_drop_stage(rt->store, stage - 1);
        /* ... and their half of the arena: every reader has finished. */
        wn_arena_reset(rt->arena, stage - 1);
    }
    ack(rt, stage, NULL);
}

void wn_actor_handle(struct wn_rt *rt, int tag, int src, void *buf, size_t len)
{
    switch (tag) {
    case WN_TAG_STAGE:
        on_stage(rt, buf);
        break;
    case WN_TAG_ASSIGN:
        on_assign(rt, buf, len);
        break;
    case WN_TAG_STAGE_END:
        on_stage_end(rt, *(uint32_t *)buf);
        break;
    case WN_TAG_LOAD:
        on_load(rt, buf, len);
        break;
    case WN_TAG_SHUFFLE:
        on_shuffle(rt, buf, len);
        break;
    case WN_TAG_EXTRACT:
        on_extract(rt, buf, len);
        break;
    case WN_TAG_CLIQUE:
        on_clique(rt, buf, len);
        break;
    default:
        wn_error("unexpected message tag %d from rank %d", tag, src);
        break;
    }
}

/* Sends the DURABLE messages of written part files, oldest first. */
static void send_durable(struct wn_rt *rt, struct io_job *io)
{
    struct io_job *rev = NULL;
    while (io) {
        struct io_job *n = io->next;
        io->next = rev;
        rev = io;
        io = n;
    }
    while (rev) {
        io = rev;
        rev = io->next;
        if (!io->msg) {
            wn_error("out of memory reporting part file %s", io->path);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        wn_rt_send(rt, 0, WN_TAG_DURABLE, io->msg, io->msg_len);
        free(io->path);
        free(io);
    }
}

int wn_actor_poll(struct wn_rt *rt)
{
    struct wn_actor *a = rt->actor;
    int moved = shuffle_poll(rt) | wn_clique_progress(a->clique);
    if (atomic_load(&a->ndone) == 0)
        return moved;
    pthread_mutex_lock(&a->lock);
    struct job *done = a->done;
    struct io_job *durable = a->durable;
    a->done = NULL;
    a->durable = NULL;
    atomic_store(&a->ndone, 0);
    pthread_mutex_unlock(&a->lock);
    if (!done && !durable)
        return moved;
    /* Oldest first: the list was built by prepending. */
    struct job *rev = NULL;
    while (done) {
        struct job *n = done->next;
        done->next = rev;
        rev = done;
        done = n;
    }
    while (rev) {
        struct job *j = rev;
        rev = j->next;
        send_result(rt, j);
    }
    /* Part files written, after the results: a batch's RESULT always goes
     * before its DURABLE, on the same ordered channel. */
    send_durable(rt, durable);
    return 1;
}

void wn_actor_idle_wait(struct wn_rt *rt, double seconds)
{
    struct wn_actor *a = rt->actor;
    /* An open shuffle round is driven by polling its UCX worker, and a
     * clique collective by testing it. */
    if ((a->sh || wn_clique_busy(a->clique)) && seconds > 100e-6)
        seconds = 100e-6;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (long)(seconds * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&a->lock);
    if (!a->done && !a->durable && !wn_clique_busy(a->clique)) {
        a->main_waiting = 1;
        pthread_cond_timedwait(&a->main_cond, &a->lock, &ts);
        a->main_waiting = 0;
    }
    pthread_mutex_unlock(&a->lock);
}
