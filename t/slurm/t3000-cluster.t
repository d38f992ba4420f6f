#!/bin/bash
# wn-timeout: 180
# The private Slurm cluster of t/lib/slurm-cluster.sh works: the node comes up
# idle, srun starts tasks, srun --mpi=pmix starts real MPI ranks that agree
# with Slurm about who is who, sbatch jobs run to COMPLETED (or FAILED), the
# stop leaves no process or file behind, and a two-node cluster on this host
# runs one MPI job across both nodes.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/slurm-cluster.sh"

slurm_cluster_skip_unless_available
command -v mpicc >/dev/null 2>&1 || skip_all "no mpicc"

# An enclosing Slurm job must not leak into the private cluster.
export SLURM_JOB_ID=999999999 SLURM_NTASKS=7

slurm_cluster_start || bail_out "could not start the test Slurm cluster"
ok 0 "the private Slurm cluster started"
is "${SLURM_JOB_ID-unset}/${SLURM_NTASKS-unset}" "unset/unset" "inherited SLURM_* variables are gone"
like "$SLURM_TEST_DIR" "^/var/tmp/winnow-slurm\." "its state lives outside /tmp"
is "$SLURM_CONF" "$SLURM_TEST_DIR/slurm.conf" "SLURM_CONF points into it"

out=$(sinfo -h -n "$SLURM_TEST_NODE" -o '%P %T %D' 2>&1)
is "$out" "debug* idle 1" "sinfo shows the node $SLURM_TEST_NODE idle in partition debug"

out=$(timeout 60 srun -n 2 hostname 2>&1); st=$?
ok $st "srun -n 2 hostname exits 0" || diag "$out"
is "$(printf '%s\n' "$out" | grep -cx "$(hostname)")" 2 "two tasks ran"

# A tiny real MPI program: rank/size from MPI, task id from Slurm, and one
# collective so the ranks must have found each other through PMIx.
cat >"$TEST_TMP/ranks.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int rank, size, sum = 0;
    const char *procid = getenv("SLURM_PROCID");

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    const char *node = getenv("SLURMD_NODENAME");
    printf("rank %d size %d procid %s sum %d node %s\n", rank, size,
           procid ? procid : "none", sum, node ? node : "none");
    MPI_Finalize();
    return 0;
}
EOF
run_ok "mpicc builds the rank probe" mpicc -o "$TEST_TMP/ranks" "$TEST_TMP/ranks.c"

out=$(timeout 60 srun -n 2 --mpi=pmix "$TEST_TMP/ranks" 2>&1); st=$?
ok $st "srun -n 2 --mpi=pmix runs the MPI program" || diag "$out"
like "$out" "^rank 0 size 2 procid 0 sum 1 node $SLURM_TEST_NODE$" "rank 0 of 2 is Slurm task 0 and saw the allreduce"
like "$out" "^rank 1 size 2 procid 1 sum 1 node $SLURM_TEST_NODE$" "rank 1 of 2 is Slurm task 1 and saw the allreduce"
is "$(printf '%s\n' "$out" | grep -c '^rank ')" 2 "exactly two ranks reported"

# A batch job, through the queue, to the end.
id=$(sbatch --parsable -o "$TEST_TMP/job-%j.out" --wrap 'echo "batch job $SLURM_JOB_ID on $SLURMD_NODENAME"' 2>&1); st=$?
ok $st "sbatch --wrap submits a job" || diag "$id"
id=${id%%;*}
like "$id" "^[0-9]+$" "sbatch printed a job id"
state=$(slurm_wait_job "$id" 30); st=$?
ok $st "the batch job left the queue in time"
is "$state" COMPLETED "the batch job COMPLETED"
is "$(slurm_job_field "$id" ExitCode)" "0:0" "with exit code 0:0"
is "$(cat "$TEST_TMP/job-$id.out" 2>&1)" "batch job $id on $SLURM_TEST_NODE" "its output file holds what it printed"

# A failing batch job is reported as such.
id=$(sbatch --parsable -o /dev/null --wrap 'exit 3' 2>&1)
id=${id%%;*}
state=$(slurm_wait_job "$id" 30)
is "$state" FAILED "a batch job that exits 3 ends FAILED"
is "$(slurm_job_field "$id" ExitCode)" "3:0" "with exit code 3:0"

# The daemons' marker reaches slurmstepd, so the cleanup finds stepds too.
id=$(sbatch --parsable -o /dev/null --wrap 'sleep 300' 2>&1); id=${id%%;*}
for _ in $(seq 1 50); do [ "$(slurm_job_field "$id" JobState)" = RUNNING ] && break; sleep 0.2; done
stepd=$(grep -lzx "WN_SLURM_DAEMON=$SLURM_TEST_DIR" /proc/[0-9]*/environ 2>/dev/null |
    sed 's|^/proc/\([0-9]*\)/environ$|\1|' | while read -r p; do
        case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in "slurmstepd: [$id.batch]"*) echo "$p" ;; esac
    done)
like "$stepd" "^[0-9]+$" "slurmstepd of a running job carries the cluster's marker"

# Stopping (with that job still running) leaves nothing behind and can be
# repeated.
dir=$SLURM_TEST_DIR
pids="$(cat "$dir"/run/*.pid "$dir"/munge/munged.pid 2>/dev/null | tr '\n' ' ')"
is "$(echo "$pids" | wc -w)" 3 "munged, slurmctld and slurmd wrote pid files"
slurm_cluster_stop
left=
for p in $pids $stepd; do slurm__alive "$p" && left="$left $p"; done
is "$left" "" "slurm_cluster_stop stopped the daemons and the running job"
if [ "${WN_KEEP_TMP:-0}" = 1 ]; then skip 1 "WN_KEEP_TMP=1 keeps $dir"
else [ ! -e "$dir" ]; ok $? "slurm_cluster_stop removed $dir"; fi
slurm_cluster_stop; ok $? "slurm_cluster_stop again is harmless"

# Two nodes on this host (t/lib/slurm-cluster.sh says how).
if slurm_cluster_start --nodes 2; then
    ok 0 "a two-node cluster started"
    is "$(sinfo -h -N -o '%N %T' | sort -u | tr '\n' ' ')" "n1 idle n2 idle " "sinfo shows n1 and n2 idle"
    # Both "nodes" are this host: TCP between their ranks over loopback,
    # which every machine has (a CI container may have no other interface
    # OpenMPI would use; loopback is excluded unless named).
    out=$(OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo timeout 60 srun -N 2 -n 4 --ntasks-per-node=2 --mpi=pmix "$TEST_TMP/ranks" 2>&1); st=$?
    ok $st "srun -N 2 -n 4 --mpi=pmix runs the MPI program on both nodes" ||
        { diag "$out"; slurm__log_tails; }
    is "$(printf '%s\n' "$out" | grep -E '^rank [0-3] size 4 procid [0-3] sum 6 node n[12]$' |
          awk '$2 == $6 { print $10 }' | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')" \
       "n1x2 n2x2 " "four ranks, rank = Slurm task, two on each node"
    slurm_cluster_stop
else
    ok 1 "a two-node cluster started"; skip 3 "no two-node cluster"
fi

done_testing
