/* budget.h - how much memory a rank may use (executor.memory_limit), and
 * how the runner shares it out.
 *
 * Unset (0), the limit comes from the allocation, the first that is
 * known of: Slurm's SLURM_MEM_PER_NODE (MiB, shared by the node's ranks)
 * or SLURM_MEM_PER_CPU (MiB, times SLURM_CPUS_PER_TASK, per rank); the
 * cgroup v2 memory.max of this process's cgroup or its parents (shared
 * by the node's ranks); MemAvailable (shared likewise).  Of that a rank
 * keeps WN_BUDGET_HEADROOM for what no budget sees (libraries, MPI's
 * buffers, the allocator's slack).
 *
 * The shares of a limit L: stored outputs held in memory L/4 (the rest
 * spill, store.h); the node arenas' halves (arena.h) at most L/(8 x the
 * node's ranks) each, since a rank maps all of its node's arenas and
 * what it reads there counts in its RSS; one batch's inputs at most
 * L/4, so that it, its outputs and the stage's working copies fit in
 * what is left.
 */
#ifndef WN_BUDGET_H
#define WN_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#define WN_BUDGET_HEADROOM 0.8
/* What a rank takes once its run starts, beyond what it held before:
 * the compute and I/O threads' heaps, MPI's buffers, the stages' own
 * state.  examples/fuzzy-dedup.yaml on examples/sample, 4 ranks: an
 * actor's peak RSS 33 MiB against 23 MiB before the run. */
#define WN_BUDGET_RUN_SLACK ((unsigned long long)12 << 20)

/* What the derivation reads, gathered by wn_budget_env_read (a pure
 * function of this, so that the suite can try every case). */
struct wn_budget_env {
    const char *mem_per_node;  /* SLURM_MEM_PER_NODE, or NULL */
    const char *mem_per_cpu;   /* SLURM_MEM_PER_CPU, or NULL */
    const char *cpus_per_task; /* SLURM_CPUS_PER_TASK, or NULL (1) */
    uint64_t cgroup_max;       /* bytes; 0: no limit found */
    uint64_t mem_available;    /* bytes; 0: unknown */
    int ranks_on_node;         /* >= 1 */
};

/* Reads the environment, the cgroup files and /proc/meminfo. */
void wn_budget_env_read(struct wn_budget_env *e, int ranks_on_node);

/* The per-rank limit in bytes (0 when nothing is known), and in why a
 * line saying where it came from. */
uint64_t wn_budget_derive(const struct wn_budget_env *e, char *why, size_t whylen);

/* The shares of limit L (0: no limit, every share 0 = unbounded). */
static inline uint64_t wn_budget_store(uint64_t limit)
{
    return limit / 4;
}
static inline uint64_t wn_budget_arena_half(uint64_t limit, int ranks_on_node)
{
    return limit / 8 / (uint64_t)(ranks_on_node > 0 ? ranks_on_node : 1);
}
static inline uint64_t wn_budget_batch(uint64_t limit)
{
    return limit / 4;
}

#endif /* WN_BUDGET_H */
