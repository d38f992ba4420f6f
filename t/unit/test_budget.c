/* test_budget.c - the memory limit a rank derives from its allocation
 * (exec/budget.h): each source in its order of precedence, the division
 * among a node's ranks, the headroom, and what is not a number. */
#include <stdint.h>
#include <string.h>

#include "exec/budget.h"
#include "tap.h"

#define MIB ((uint64_t)1 << 20)

static uint64_t derive(const char *node, const char *cpu, const char *cpt, uint64_t cg,
                       uint64_t avail, int ranks, char *why)
{
    struct wn_budget_env e = {node, cpu, cpt, cg, avail, ranks};
    return wn_budget_derive(&e, why, 256);
}

int main(void)
{
    plan(NO_PLAN);
    char why[256];
    uint64_t l;

    l = derive("4096", NULL, NULL, 64 * 1024 * MIB, 1000 * MIB, 4, why);
    ok(l == (uint64_t)(1024 * MIB * 0.8) && strstr(why, "SLURM_MEM_PER_NODE (4096 MiB)") &&
           strstr(why, "over the node's 4 ranks") && strstr(why, "80%"),
       "SLURM_MEM_PER_NODE first, over the node's ranks, 80%%: %s", why);
    l = derive("8G", NULL, NULL, 0, 0, 2, why);
    ok(l == (uint64_t)(4096 * MIB * 0.8), "SLURM_MEM_PER_NODE with a G suffix: %llu MiB",
       (unsigned long long)(l / MIB));
    l = derive(NULL, "2000", "4", 64 * 1024 * MIB, 0, 16, why);
    ok(l == (uint64_t)(8000 * MIB * 0.8) && strstr(why, "SLURM_MEM_PER_CPU") &&
           !strstr(why, "over the node"),
       "SLURM_MEM_PER_CPU x SLURM_CPUS_PER_TASK is already per rank: %s", why);
    l = derive(NULL, "2000", NULL, 0, 0, 16, why);
    ok(l == (uint64_t)(2000 * MIB * 0.8), "SLURM_CPUS_PER_TASK unset counts 1");
    l = derive(NULL, NULL, NULL, 3 * 1024 * MIB, 100 * 1024 * MIB, 3, why);
    ok(l == (uint64_t)(1024 * MIB * 0.8) && strstr(why, "memory.max"),
       "then the cgroup's memory.max, over the node's ranks: %s", why);
    l = derive(NULL, NULL, NULL, 0, 10 * 1024 * MIB, 1, why);
    ok(l == (uint64_t)(10 * 1024 * MIB * 0.8) && strstr(why, "MemAvailable") &&
           !strstr(why, "over the node"),
       "then MemAvailable: %s", why);
    l = derive("lots", "", NULL, 0, 0, 4, why);
    ok(l == 0 && strstr(why, "no memory limit known"), "nothing usable: 0, and why says so: %s",
       why);
    l = derive("0", NULL, NULL, 0, 512 * MIB, 0, why);
    ok(l == (uint64_t)(512 * MIB * 0.8),
       "SLURM_MEM_PER_NODE=0 (all of the node) falls through; 0 ranks counts 1");
    ok(wn_budget_store(64 * MIB) == 16 * MIB && wn_budget_batch(64 * MIB) == 16 * MIB &&
           wn_budget_arena_half(64 * MIB, 4) == 2 * MIB && wn_budget_arena_half(0, 4) == 0,
       "the shares of a 64 MiB limit: 16 MiB stored, 16 MiB a batch, 2 MiB arena halves on "
       "a 4-rank node");
    return done_testing();
}
