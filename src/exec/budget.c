/* budget.c - see budget.h. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/budget.h"

/* A whole number of MiB as Slurm writes it ("4096", or "4096M"/"4G" in
 * some versions); 0 when it is not one. */
static uint64_t slurm_mib(const char *v)
{
    if (!v || !*v)
        return 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v)
        return 0;
    if (!strcmp(end, "") || !strcmp(end, "M"))
        return x;
    if (!strcmp(end, "G"))
        return x * 1024;
    if (!strcmp(end, "T"))
        return x * 1024 * 1024;
    return 0;
}

uint64_t wn_budget_derive(const struct wn_budget_env *e, char *why, size_t whylen)
{
    int ranks = e->ranks_on_node > 0 ? e->ranks_on_node : 1;
    uint64_t total = 0, mib;
    const char *from = NULL;
    int shared = 1; /* divided among the node's ranks */
    if ((mib = slurm_mib(e->mem_per_node)) > 0) {
        total = mib << 20;
        from = "SLURM_MEM_PER_NODE";
    } else if ((mib = slurm_mib(e->mem_per_cpu)) > 0) {
        long cpus = e->cpus_per_task ? strtol(e->cpus_per_task, NULL, 10) : 1;
        total = (mib << 20) * (uint64_t)(cpus > 0 ? cpus : 1);
        from = "SLURM_MEM_PER_CPU x SLURM_CPUS_PER_TASK";
        shared = 0;
    } else if (e->cgroup_max > 0) {
        total = e->cgroup_max;
        from = "the cgroup's memory.max";
    } else if (e->mem_available > 0) {
        total = e->mem_available;
        from = "MemAvailable";
    }
    if (!from) {
        if (why && whylen)
            snprintf(why, whylen,
                     "no memory limit known (no Slurm allocation, cgroup limit "
                     "or /proc/meminfo)");
        return 0;
    }
    uint64_t per = shared ? total / (uint64_t)ranks : total;
    uint64_t limit = (uint64_t)((double)per * WN_BUDGET_HEADROOM);
    char over[64] = "";
    if (shared && ranks > 1)
        snprintf(over, sizeof(over), " over the node's %d ranks", ranks);
    if (why && whylen)
        snprintf(why, whylen, "%llu MiB: %s (%llu MiB)%s, %d%% of it",
                 (unsigned long long)(limit >> 20), from, (unsigned long long)(total >> 20), over,
                 (int)(WN_BUDGET_HEADROOM * 100 + 0.5));
    return limit;
}

/* The smallest memory.max on the way from this process's cgroup (v2) up
 * to the root: a job's limit is often on a parent of the step's. */
static uint64_t cgroup_max(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return 0;
    char line[4096], path[4096 + 64] = "";
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line + 3);
            break;
        }
    fclose(f);
    uint64_t best = 0;
    while (path[0]) {
        char file[sizeof(path) + 16];
        snprintf(file, sizeof(file), "%s/memory.max", path);
        FILE *m = fopen(file, "r");
        if (m) {
            char v[64] = "";
            if (fgets(v, sizeof(v), m) && strncmp(v, "max", 3)) {
                unsigned long long x = strtoull(v, NULL, 10);
                if (x > 0 && (best == 0 || x < best))
                    best = x;
            }
            fclose(m);
        }
        char *slash = strrchr(path, '/');
        if (!slash || !strcmp(path, "/sys/fs/cgroup"))
            break;
        *slash = '\0';
    }
    return best;
}

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return (uint64_t)kib << 10;
}

void wn_budget_env_read(struct wn_budget_env *e, int ranks_on_node)
{
    e->mem_per_node = getenv("SLURM_MEM_PER_NODE");
    e->mem_per_cpu = getenv("SLURM_MEM_PER_CPU");
    e->cpus_per_task = getenv("SLURM_CPUS_PER_TASK");
    e->cgroup_max = cgroup_max();
    e->mem_available = mem_available();
    e->ranks_on_node = ranks_on_node;
}
