/* test_plan.c - batching and the actor-count formula, table-driven. */
#include <stdio.h>
#include <string.h>

#include "exec/plan.h"
#include "tap.h"

/* A job of `nranks` ranks, `per_node` per node, each with `cpus` CPUs;
 * ranks listed in `gpu_ranks` (-1 terminated) have a GPU. */
static void make_layout(struct wn_place *pl, int nranks, int per_node, int cpus,
                        const int *gpu_ranks)
{
    memset(pl, 0, sizeof(*pl) * (size_t)nranks);
    for (int r = 0; r < nranks; r++) {
        pl[r].rank = r;
        pl[r].size = nranks;
        pl[r].node_id = r / per_node;
        pl[r].local_rank = r % per_node;
        pl[r].cpus = cpus;
        pl[r].gpu = -1;
    }
    /* Each GPU rank binds a GPU of its own: ordinals 0, 1, ... per node. */
    for (const int *g = gpu_ranks; g && *g >= 0; g++) {
        int ord = 0;
        for (const int *h = gpu_ranks; h < g; h++)
            ord += pl[*h].node_id == pl[*g].node_id;
        pl[*g].gpu = ord;
    }
}

/* Ranks sharing GPUs: every rank of a node binds local_rank mod ngpus, as
 * mpirun -np 4 on a machine with ngpus GPUs does. */
static void share_gpus(struct wn_place *pl, int nranks, int ngpus)
{
    for (int r = 0; r < nranks; r++)
        pl[r].gpu = pl[r].local_rank % ngpus;
}

static void test_shared_gpus(void)
{
    struct wn_place pl[8];
    int ranks[8], n = -1;
    wn_error_t err = {{0}};
    int rc;
    struct wn_actor_request req = {
        .stage = "s", .cpus = 1, .gpus = 1, .ntasks = 100, .batch_size = 1};
    make_layout(pl, 4, 4, 4, NULL);
    share_gpus(pl, 4, 1);
    rc = wn_plan_actors(pl, 4, &req, NULL, ranks, &n, &err);
    ok(rc == 0 && n == 1 && ranks[0] == 1, "4 ranks on one GPU, gpus 1: one actor (got %d)", n);
    req.gpus = 0.5;
    rc = wn_plan_actors(pl, 4, &req, NULL, ranks, &n, &err);
    ok(rc == 0 && n == 2 && ranks[0] == 1 && ranks[1] == 2,
       "gpus 0.5: two actors share it (got %d)", n);
    req.gpus = 0.25;
    rc = wn_plan_actors(pl, 4, &req, NULL, ranks, &n, &err);
    ok(rc == 0 && n == 3, "gpus 0.25: every actor rank (3) fits on it (got %d)", n);
    req.gpus = 1;
    make_layout(pl, 8, 4, 4, NULL);
    share_gpus(pl, 8, 2);
    rc = wn_plan_actors(pl, 8, &req, NULL, ranks, &n, &err);
    ok(rc == 0 && n == 4 && ranks[0] == 1 && ranks[1] == 2 && ranks[2] == 4 && ranks[3] == 5,
       "2 nodes x 2 GPUs, 4 ranks each: one actor per GPU (1,2,4,5; got %d)", n);
    /* The same device label on two nodes is two GPUs. */
    make_layout(pl, 4, 2, 4, NULL);
    for (int r = 0; r < 4; r++) {
        pl[r].gpu = 0;
        snprintf(pl[r].gpu_label, sizeof(pl[r].gpu_label), "%s", "3");
    }
    rc = wn_plan_actors(pl, 4, &req, NULL, ranks, &n, &err);
    ok(rc == 0 && n == 2 && ranks[0] == 1 && ranks[1] == 2,
       "device 3 of node 0 and of node 1 are two GPUs (got %d)", n);
}

struct actor_case {
    const char *name;
    int nranks, per_node, cpus;
    int gpu_ranks[8];
    struct wn_actor_request req;
    int want;               /* actors, or -1: an error */
    const char *want_ranks; /* "1,2,3" or NULL */
    const char *want_error; /* substring, for errors */
};

static void test_actor_counts(void)
{
    static const struct actor_case cases[] = {
        {"4 ranks, many tasks: 3 actors (rank 0 plans)",
         4,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1},
         3,
         "1,2,3",
         NULL},
        {"alone: the planner acts",
         1,
         1,
         2,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1},
         1,
         "0",
         NULL},
        {"2 tasks: only 2 actors",
         4,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 2, .batch_size = 1},
         2,
         NULL,
         NULL},
        {"batch_size 10 over 25 tasks: 3 batches, 3 actors",
         8,
         8,
         1,
         {-1},
         {.cpus = 1, .ntasks = 25, .batch_size = 10},
         3,
         NULL,
         NULL},
        {"0 tasks: still 1 actor",
         4,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 0, .batch_size = 1},
         1,
         NULL,
         NULL},
        {"num_workers caps",
         8,
         8,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1, .num_workers = 2},
         2,
         "1,2",
         NULL},
        {"2 CPUs per actor over 3x1 CPU: 1 actor",
         4,
         4,
         1,
         {-1},
         {.cpus = 2, .ntasks = 100, .batch_size = 1},
         1,
         NULL,
         NULL},
        {"4 CPUs per actor over 3x1 CPU: error names CPUs",
         4,
         4,
         1,
         {-1},
         {.cpus = 4, .ntasks = 100, .batch_size = 1},
         -1,
         NULL,
         "needs 4 CPUs per actor but only 3 CPUs are free"},
        {"reserved_cpus leaves 1 free",
         4,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1, .reserved_cpus = 2},
         1,
         NULL,
         NULL},
        {"reserved_cpus takes all",
         4,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1, .reserved_cpus = 3},
         -1,
         NULL,
         "only 0 CPUs are free"},
        {"cpus 0: bounded by ranks",
         4,
         4,
         1,
         {-1},
         {.cpus = 0, .ntasks = 100, .batch_size = 1},
         3,
         NULL,
         NULL},
        {"GPU stage on GPU ranks only",
         5,
         5,
         8,
         {1, 3, -1},
         {.cpus = 1, .gpus = 1, .ntasks = 100, .batch_size = 1},
         2,
         "1,3",
         NULL},
        {"GPU stage, no GPU rank: error",
         4,
         4,
         8,
         {-1},
         {.cpus = 1, .gpus = 1, .ntasks = 100, .batch_size = 1},
         -1,
         NULL,
         "needs GPUs (1 per actor) but no actor rank has one"},
        {"2 GPUs per actor over 3 GPU ranks: 1 actor",
         4,
         4,
         8,
         {1, 2, 3, -1},
         {.cpus = 1, .gpus = 2, .ntasks = 100, .batch_size = 1},
         1,
         NULL,
         NULL},
        {"reserved_gpus takes all GPUs",
         4,
         4,
         8,
         {1, 2, -1},
         {.cpus = 1, .gpus = 1, .ntasks = 100, .batch_size = 1, .reserved_gpus = 2},
         -1,
         NULL,
         "only 0 GPUs are free"},
        {"ignore_head_node skips node 0",
         8,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1, .ignore_head_node = 1},
         4,
         "4,5,6,7",
         NULL},
        {"ignore_head_node on one node: error",
         4,
         4,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1, .ignore_head_node = 1},
         -1,
         NULL,
         "ignore_head_node leaves no rank"},
        {"RAFT: clique as large as resources allow",
         6,
         6,
         1,
         {-1},
         {.cpus = 1, .ntasks = 2, .batch_size = 1, .raft = 1},
         5,
         NULL,
         NULL},
        {"num_output_tasks 2 bounds actors",
         6,
         6,
         1,
         {-1},
         {.cpus = 1, .ntasks = 100, .batch_size = 1, .num_output_tasks = 2},
         2,
         NULL,
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct actor_case *c = &cases[i];
        struct wn_place pl[16];
        int ranks[16], n = -1;
        wn_error_t err = {{0}};
        make_layout(pl, c->nranks, c->per_node, c->cpus, c->gpu_ranks);
        struct wn_actor_request req = c->req;
        req.stage = "s";
        int rc = wn_plan_actors(pl, c->nranks, &req, NULL, ranks, &n, &err);
        if (c->want < 0) {
            ok(rc < 0 && strstr(err.text, c->want_error) != NULL, "%s (%s)", c->name, err.text);
            continue;
        }
        char got[128] = "";
        for (int k = 0; rc == 0 && k < n; k++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%d", k ? "," : "", ranks[k]);
        ok(rc == 0 && n == c->want && (!c->want_ranks || !strcmp(got, c->want_ranks)),
           "%s: %d actors on %s", c->name, n, got);
        if (rc < 0)
            diag("error: %s", err.text);
    }
}

static void test_locality_order(void)
{
    struct wn_place pl[5];
    make_layout(pl, 5, 5, 1, NULL);
    uint64_t bytes[5] = {0, 0, 500, 0, 900};
    int ranks[5], n;
    struct wn_actor_request req = {.stage = "s", .cpus = 1, .ntasks = 2, .batch_size = 1};
    int rc = wn_plan_actors(pl, 5, &req, bytes, ranks, &n, NULL);
    ok(rc == 0 && n == 2 && ranks[0] == 2 && ranks[1] == 4,
       "with 2 actors, the ranks holding the input are chosen (got %d,%d)", ranks[0], ranks[1]);
}

static void test_batches(void)
{
    /* batch_size slices */
    cmp_ok(wn_plan_nbatches(10, 3, 0), ==, 4, "10 tasks / 3 per batch = 4 batches");
    cmp_ok(wn_plan_batch_start(10, 3, 0, 3), ==, 9, "4th batch starts at 9");
    cmp_ok(wn_plan_batch_start(10, 3, 0, 4), ==, 10, "end is 10");
    cmp_ok(wn_plan_nbatches(0, 3, 0), ==, 0, "no tasks, no batches");
    cmp_ok(wn_plan_nbatches(5, 0, 0), ==, 5, "batch_size 0 counts as 1");
    /* even split: 10 into 4 -> 3,3,2,2 */
    uint64_t sizes[4];
    for (int b = 0; b < 4; b++)
        sizes[b] = wn_plan_batch_start(10, 1, 4, (uint64_t)b + 1) -
                   wn_plan_batch_start(10, 1, 4, (uint64_t)b);
    ok(sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 2 && sizes[3] == 2,
       "10 tasks into 4 chunks: 3,3,2,2 (first n mod k one longer)");
    /* 2 tasks into 3: 1,1,0 - every clique member gets one, maybe empty */
    ok(wn_plan_nbatches(2, 1, 3) == 3 && wn_plan_batch_start(2, 1, 3, 2) == 2 &&
           wn_plan_batch_start(2, 1, 3, 3) == 2,
       "2 tasks into 3 chunks: 1,1,0");
    /* every task in exactly one batch, in order */
    int okall = 1;
    for (uint64_t n = 0; n < 50; n++)
        for (int k = 1; k < 9; k++) {
            uint64_t prev = 0;
            for (uint64_t b = 0; b <= (uint64_t)k; b++) {
                uint64_t s = wn_plan_batch_start(n, 1, k, b);
                if (s < prev || (b == 0 && s != 0) || (b == (uint64_t)k && s != n))
                    okall = 0;
                uint64_t len = b ? s - prev : 0;
                if (b && (len > n / (uint64_t)k + 1 ||
                          len + 1 < n / (uint64_t)k + (n % (uint64_t)k != 0)))
                    okall = 0;
                prev = s;
            }
        }
    ok(okall, "even splits cover every task once with sizes differing by at most 1");
}

int main(void)
{
    plan(NO_PLAN);
    test_actor_counts();
    test_locality_order();
    test_shared_gpus();
    test_batches();
    return done_testing();
}
