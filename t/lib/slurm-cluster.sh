# t/lib/slurm-cluster.sh - a private, real Slurm cluster for tests (bash).
#
#   . "$(dirname "$0")/../lib/tap.sh"
#   . "$(dirname "$0")/../lib/slurm-cluster.sh"
#   slurm_cluster_start || bail_out "could not start the test Slurm cluster"
#   srun -n 2 --mpi=pmix ./prog
#   id=$(sbatch --parsable --wrap 'hostname'); state=$(slurm_wait_job "$id" 30)
#
# slurm_cluster_start [--nodes N]
#     Starts its own munged, slurmctld and slurmd with every path in a fresh
#     directory under /var/tmp (not /tmp: slurmstepd, PMIx and OpenMPI use
#     /tmp themselves) and with random free ports, so it can run beside
#     another copy of itself or beside a real cluster; needs root and no
#     system-wide munge or Slurm setup.  Drops SLURM_*, SBATCH_*, PMIX_* ...
#     inherited from an enclosing job first.  Waits (WN_SLURM_START_TIMEOUT,
#     default 60 s) until every node is idle.  Exports SLURM_CONF (read by
#     srun, sbatch, squeue, scontrol, sinfo), SLURM_TEST_DIR (the private
#     directory), SLURM_TEST_NODE (the first node) and SLURM_TEST_NODES (all,
#     comma-separated).  Registers slurm_cluster_stop with tap_on_exit.  On
#     failure it prints the daemons' log tails with diag, stops what it
#     started and returns non-zero.
#     One node is named after the host.  --nodes N>1 starts slurmds n1..nN on
#     this host (`slurmd -N nI`),
#     each with its own port, spool, log and TmpFS ($SLURM_TEST_DIR/tmp/nI,
#     where PMIx puts spmix_appdir_<uid>_<job>.<step>, which two stepds of a
#     step would otherwise both create), and a TaskProlog that points
#     OpenMPI's shared-memory BTL at $SLURM_TEST_DIR/shm/nI (its segment
#     names hold the hostname and the local rank, the same on both nodes).
#     So `srun --mpi=pmix -N 2` runs OpenMPI ranks with default settings.
#     No mount namespace is needed; /tmp and /dev/shm stay shared, so tasks
#     on every node see the tests' $TEST_TMP, as on a shared file system.
#     Node ids come from Slurm (SLURM_NODEID, SLURMD_NODENAME): every node
#     has the same hostname.
# slurm_cluster_stop
#     Cancels the jobs, stops the daemons by their pids (never by name),
#     waits for them to go and removes the private directory unless
#     WN_KEEP_TMP=1.  Safe to call twice.
# slurm_wait_job JOBID [TIMEOUT]
#     Waits (default 60 s) until the job has ended and prints its final
#     state (COMPLETED, FAILED, CANCELLED, TIMEOUT, ...).  Returns 0 when the
#     job ended in time, 1 otherwise (then it prints the last state seen, or
#     UNKNOWN).  Finished jobs stay visible to scontrol for MinJobAge (300 s).
# slurm_job_field JOBID FIELD
#     Prints one field of `scontrol -o show job` (ExitCode, StdOut,
#     NodeList...; values with spaces come back cut at the first space).
# slurm_cluster_skip_unless_available
#     skip_all unless this machine can run the cluster (root, binaries).
#
# Every daemon is started with WN_SLURM_DAEMON=<private dir> in its
# environment; slurmstepd inherits it from slurmd, so the cleanup can find
# every process of this cluster (and only of this one) by its pid, and a
# later start can stop a cluster whose test was killed outright.
# WN_SLURM_BASE moves the private directories elsewhere than /var/tmp.
# WN_SLURM_CPUS (default 4) is the least number of CPUs a node claims.

# Lists of pids and ports are split on purpose below.
# shellcheck disable=SC2046,SC2086

slurm__dir=

slurm__log() { if command -v diag >/dev/null 2>&1; then diag "$@"; else printf '# %s\n' "$@" >&2; fi; }

# The missing prerequisite, or nothing when the cluster can start.
slurm__missing() {
    local _c
    [ "$(id -u)" = 0 ] || { echo "not root (SlurmUser=root)"; return; }
    for _c in munged mungekey munge unmunge slurmctld slurmd srun sbatch sinfo squeue scontrol scancel; do
        command -v "$_c" >/dev/null 2>&1 || { echo "no $_c"; return; }
    done
}

slurm_cluster_skip_unless_available() {
    local _why
    _why=$(slurm__missing)
    [ -z "$_why" ] || skip_all "no private Slurm cluster here: $_why"
}

# Drop what an enclosing Slurm job, step or MPI launcher left in the
# environment: nested srun/sbatch would otherwise join that job or read its
# settings (SLURM_JOB_ID, SLURM_NTASKS, SBATCH_*, PMIX_*, ...).
slurm__clean_env() {
    local _v
    for _v in $(compgen -e); do
        case $_v in
        SLURM_*|SLURMD_*|SBATCH_*|SALLOC_*|SRUN_*|SQUEUE_*|SINFO_*|SCONTROL_*|SCANCEL_*|SACCT_*|SPANK_*|PMIX_*|PMI_*|PMI|OMPI_COMM_WORLD_*)
            unset "$_v" ;;
        esac
    done
}

# Listening TCP ports, one a line.
slurm__listening() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hltn 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }'
    else
        cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
            awk '$4 == "0A" { split($2, a, ":"); print strtonum("0x" a[2]) }'
    fi
}

# slurm__free_port USED...: a random port that nobody listens on and that
# is not in USED; below the usual ephemeral range (32768-60999), so no
# outgoing connection holds it either.
slurm__free_port() {
    local _busy _p _i
    _busy=" $(slurm__listening | tr '\n' ' ') $* "
    for _i in $(seq 1 200); do
        _p=$((12000 + RANDOM % 20000))
        case $_busy in *" $_p "*) continue ;; esac
        echo "$_p"; return 0
    done
    return 1
}

# A process that is there and not a zombie (pid 1 here need not reap).
slurm__alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    case $(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) in
    Z|X|"") return 1 ;;
    esac
}

slurm__pid() { [ -s "$1" ] && head -n 1 "$1" 2>/dev/null | tr -dc 0-9; }

# slurm__our_pids [DIR]: every live process carrying the marker of this
# cluster (or of the one in DIR), and their descendants.
slurm__our_pids() {
    local _dir=${1:-$slurm__dir} _marked _p
    [ -n "$_dir" ] || return 0
    _marked=$(grep -lzx "WN_SLURM_DAEMON=$_dir" /proc/[0-9]*/environ 2>/dev/null |
        sed 's|^/proc/\([0-9]*\)/environ$|\1|')
    [ -n "$_marked" ] || return 0
    ps -e -o pid=,ppid= | awk -v seed="$_marked" '
        BEGIN { n = split(seed, s, "\n"); for (i = 1; i <= n; i++) keep[s[i]] = 1 }
        { parent[$1] = $2; pids[++m] = $1 }
        END {
            do { grew = 0
                 for (i = 1; i <= m; i++) if (!(pids[i] in keep) && (parent[pids[i]] in keep)) { keep[pids[i]] = 1; grew = 1 }
            } while (grew)
            for (p in keep) print p
        }' | while read -r _p; do slurm__alive "$_p" && echo "$_p"; done
}

# slurm__wait_gone SECONDS PID...: 0 when all are gone in time.
slurm__wait_gone() {
    local _deadline=$((SECONDS + $1)) _p _left
    shift
    while :; do
        _left=
        for _p in "$@"; do slurm__alive "$_p" && _left="$_left $_p"; done
        [ -z "$_left" ] && return 0
        [ $SECONDS -ge $_deadline ] && return 1
        sleep 0.1
    done
}

# slurm__kill SECONDS PID...: TERM, wait, then KILL what is left.
slurm__kill() {
    local _t=$1 _p
    shift
    [ $# -gt 0 ] || return 0
    for _p in "$@"; do slurm__alive "$_p" && kill -TERM "$_p" 2>/dev/null; done
    slurm__wait_gone "$_t" "$@" && return 0
    for _p in "$@"; do slurm__alive "$_p" && kill -KILL "$_p" 2>/dev/null; done
    slurm__wait_gone 5 "$@"
}

slurm__starttime() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# A test killed outright (SIGKILL after its timeout) leaves its cluster
# running.  Each cluster's directory names the process that started it in
# "owner"; when that process is gone, stop the cluster and remove it.
# (With WN_KEEP_TMP=1, slurm_cluster_stop drops "owner" so kept files stay.)
slurm__reap_orphans() {
    local _o _pid _st _p
    for _o in "${WN_SLURM_BASE:-/var/tmp}"/winnow-slurm.*/owner; do
        [ -f "$_o" ] || continue
        read -r _pid _st <"$_o" 2>/dev/null
        [ -n "$_pid" ] && [ "$(slurm__starttime "$_pid")" = "$_st" ] && continue
        _p=${_o%/owner}
        slurm__log "stopping the orphaned test cluster in $_p"
        slurm__kill 5 $(slurm__our_pids "$_p")
        rm -rf "$_p"
    done
}

slurm__log_tails() {
    local _f
    [ -n "$slurm__dir" ] || return 0
    for _f in "$slurm__dir"/log/*.log; do
        [ -f "$_f" ] || continue
        slurm__log "---- ${_f##*/} (last 25 lines) ----"
        tail -n 25 "$_f" | sed 's/^/  /' | while IFS= read -r _l; do slurm__log "$_l"; done
    done
}

slurm__write_conf() { # conf ctld_port "slurmd_port..." (one per node)
    local _conf=$1 _cport=$2 _dports=$3 _d=$slurm__dir _mem _cpus _i _p
    # The memory the node claims must not exceed what slurmd finds, or the
    # node is drained as "Low RealMemory".
    _mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
    [ "${_mem:-0}" -gt 0 ] || _mem=1
    # Tests start more ranks than a small machine has cores (4 on 2, as
    # mpirun --oversubscribe does): each node claims at least
    # WN_SLURM_CPUS (default 4) CPUs, and config_overrides makes slurmd
    # trust the configuration rather than drain the node for having fewer.
    _cpus=$(nproc)
    [ "$_cpus" -ge "${WN_SLURM_CPUS:-4}" ] || _cpus=${WN_SLURM_CPUS:-4}
    # PMIx makes $TmpFS/spmix_appdir_<uid>_<job>.<step> on every node of a
    # step, so nodes on one host need a TmpFS each: slurmstepd expands %n
    # in TmpFS to its node's name (Slurm 22.05's slurm_get_tmp_fs()).
    _tmpfs=$_d/tmp
    [ "$SLURM_TEST_NODES" = "$slurm__host" ] || _tmpfs=$_d/tmp/%n
    cat >"$_conf" <<EOF
# Private test cluster written by t/lib/slurm-cluster.sh; nothing here is
# shared with the system's Slurm or munge.
ClusterName=$slurm__cluster
SlurmctldHost=$slurm__host(127.0.0.1)
SlurmctldPort=$_cport
SlurmdPort=${_dports%% *}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$_d/munge/munge.socket,cred_expire=10
StateSaveLocation=$_d/ctld
SlurmdSpoolDir=$_d/spool/%n
SlurmctldPidFile=$_d/run/slurmctld.pid
SlurmdPidFile=$_d/run/slurmd.%n.pid
SlurmctldLogFile=$_d/log/slurmctld.log
SlurmdLogFile=$_d/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=$_tmpfs
PlugStackConfig=$_d/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=pmix
SlurmdParameters=config_overrides
# Finished jobs stay visible to scontrol (no slurmdbd, so no sacct).
MinJobAge=300
# PMIx puts spmix_appdir_<uid>_<job>.<step> in TmpFS (private here); distinct
# job ids also keep other job-named files of concurrent clusters apart.
FirstJobId=$slurm__first_job
InactiveLimit=0
KillWait=5
SlurmdTimeout=120
SlurmctldTimeout=120
MailProg=/bin/true
# Start batch jobs at once instead of up to 3 s later.
SchedulerParameters=batch_sched_delay=0
EOF
    if [ "$SLURM_TEST_NODES" = "$slurm__host" ]; then
        echo "NodeName=$slurm__host NodeAddr=127.0.0.1 CPUs=$_cpus RealMemory=$_mem State=UNKNOWN" >>"$_conf"
    else
        # Several slurmds on this host: each its own name (slurmd -N) and port.
        _i=0
        for _p in $_dports; do
            _i=$((_i + 1))
            echo "NodeName=n$_i NodeHostname=$slurm__host NodeAddr=127.0.0.1 Port=$_p CPUs=$_cpus RealMemory=$_mem State=UNKNOWN" >>"$_conf"
        done
        # OpenMPI's shared-memory BTL names its segments
        # <dir>/vader_segment.<hostname>.<job>.<local rank>: ranks with the
        # same local rank on two nodes of one host would share one and
        # crash.  Each task gets its node's own directory (a TaskProlog's
        # "export" lines reach the task's environment) unless it chose one;
        # one set here for a batch script (on its node) is replaced, since
        # srun in that script passes it on to the tasks of every node.
        echo "TaskProlog=$_d/task-prolog" >>"$_conf"
        cat >"$_d/task-prolog" <<PROLOG
#!/bin/sh
# Written by t/lib/slurm-cluster.sh: a node's own directory for its tasks.
case \${OMPI_MCA_btl_vader_backing_directory:-$_d/shm/} in
$_d/shm/*) echo "export OMPI_MCA_btl_vader_backing_directory=$_d/shm/\$SLURMD_NODENAME" ;;
esac
PROLOG
        chmod 0755 "$_d/task-prolog" || return 1
    fi
    echo "PartitionName=debug Nodes=$SLURM_TEST_NODES Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4" >>"$_conf"
    : >"$_d/plugstack.conf"
}

slurm__start_munge() {
    local _m=$slurm__dir/munge _user=munge _i
    mkdir -p "$_m" || return 1
    mungekey -c -k "$_m/munge.key" >/dev/null 2>&1 ||
        { slurm__log "mungekey -c -k $_m/munge.key failed"; return 1; }
    id munge >/dev/null 2>&1 || _user=root
    chown "$_user:" "$_m" "$_m/munge.key" && chmod 0755 "$_m" && chmod 0400 "$_m/munge.key" || return 1
    # munged refuses world-writable parents without the sticky bit; /var/tmp
    # has it.  --force: the socket path is new, a stale one is ours.
    if [ "$_user" = root ]; then
        env WN_SLURM_DAEMON="$slurm__dir" munged --force \
            --socket="$_m/munge.socket" --pid-file="$_m/munged.pid" \
            --log-file="$slurm__dir/log/munged.log" --seed-file="$_m/munged.seed" \
            --key-file="$_m/munge.key" --num-threads=2
    else
        touch "$slurm__dir/log/munged.log" && chown "$_user:" "$slurm__dir/log/munged.log"
        runuser -u "$_user" -- env WN_SLURM_DAEMON="$slurm__dir" munged --force \
            --socket="$_m/munge.socket" --pid-file="$_m/munged.pid" \
            --log-file="$slurm__dir/log/munged.log" --seed-file="$_m/munged.seed" \
            --key-file="$_m/munge.key" --num-threads=2
    fi || { slurm__log "munged did not start"; return 1; }
    for _i in $(seq 1 100); do
        munge -n -S "$_m/munge.socket" 2>/dev/null | unmunge -S "$_m/munge.socket" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    slurm__log "munged does not answer on $_m/munge.socket"
    return 1
}

# One attempt; returns 3 when a port was taken under our feet (try again).
slurm__start_once() {
    local _n=$1 _d _cport _dports _t0 _deadline _state _name _p _i
    _d=$(mktemp -d "${WN_SLURM_BASE:-/var/tmp}/winnow-slurm.XXXXXX") || return 1
    slurm__dir=$_d
    chmod 0755 "$_d" || return 1
    echo "$$ $(slurm__starttime $$)" >"$_d/owner"
    mkdir -p "$_d/ctld" "$_d/spool" "$_d/run" "$_d/log" "$_d/tmp" || return 1
    SLURM_TEST_DIR=$_d
    SLURM_CONF=$_d/slurm.conf
    export SLURM_TEST_DIR SLURM_CONF

    slurm__start_munge || return 1

    _cport=$(slurm__free_port) || return 1
    _dports=
    for _i in $(seq 1 "$_n"); do
        _p=$(slurm__free_port "$_cport" $_dports) || return 1
        _dports="${_dports:+$_dports }$_p"
    done
    slurm__write_conf "$SLURM_CONF" "$_cport" "$_dports" || return 1
    for _name in ${SLURM_TEST_NODES//,/ }; do
        mkdir -p "$_d/spool/$_name" || return 1
        [ "$_n" -eq 1 ] || mkdir -p "$_d/tmp/$_name" "$_d/shm/$_name" || return 1
    done

    env WN_SLURM_DAEMON="$_d" slurmctld -f "$SLURM_CONF" ||
        { slurm__log "slurmctld -f $SLURM_CONF failed"; return 1; }
    if [ "$_n" -eq 1 ]; then
        env WN_SLURM_DAEMON="$_d" slurmd -f "$SLURM_CONF" ||
            { slurm__log "slurmd -f $SLURM_CONF failed"; return 1; }
    else
        # One slurmd per node name.  TmpFS=.../%n keeps their stepds' PMIx
        # directories apart without a mount namespace (so without
        # CAP_SYS_ADMIN), and /tmp stays shared: tasks on every node see
        # the tests' $TEST_TMP, as a shared file system would.
        for _name in ${SLURM_TEST_NODES//,/ }; do
            env WN_SLURM_DAEMON="$_d" slurmd -f "$SLURM_CONF" -N "$_name" ||
                { slurm__log "slurmd -N $_name failed"; return 1; }
        done
    fi

    _t0=$SECONDS
    _deadline=$((SECONDS + ${WN_SLURM_START_TIMEOUT:-60}))
    while :; do
        _state=$(sinfo -h -N -o '%N %T' 2>/dev/null | sort -u)
        [ "$(printf '%s\n' "$_state" | grep -c ' idle$')" -eq "$_n" ] && return 0
        # A daemon that died will not come back: stop waiting.
        for _name in slurmctld $(for _i in ${SLURM_TEST_NODES//,/ }; do echo "slurmd.$_i"; done); do
            _p=$(slurm__pid "$_d/run/$_name.pid")
            if [ -z "$_p" ]; then
                [ $((SECONDS - _t0)) -lt 10 ] && continue
                slurm__log "$_name wrote no pid file"
                return 1
            fi
            slurm__alive "$_p" && continue
            grep -qsi 'address already in use' "$_d"/log/slurm*.log && return 3
            slurm__log "$_name died while starting (node state: ${_state:-none})"
            return 1
        done
        if [ $SECONDS -ge $_deadline ]; then
            slurm__log "the node is not idle after ${WN_SLURM_START_TIMEOUT:-60}s: ${_state:-no answer from sinfo}"
            return 1
        fi
        sleep 0.2
    done
}

slurm_cluster_start() {
    local _n=1 _try _st _why
    while [ $# -gt 0 ]; do
        case $1 in
        --nodes) _n=$2; shift 2 ;;
        --nodes=*) _n=${1#--nodes=}; shift ;;
        *) slurm__log "slurm_cluster_start: unknown argument '$1'"; return 2 ;;
        esac
    done
    case $_n in
    [1-9]|[1-9][0-9]) ;;
    *) slurm__log "slurm_cluster_start: --nodes wants a number, not '$_n'"; return 2 ;;
    esac
    [ -z "$slurm__dir" ] || { slurm__log "slurm_cluster_start: a cluster is already running ($slurm__dir)"; return 1; }
    _why=$(slurm__missing)
    [ -z "$_why" ] || { slurm__log "cannot start a Slurm cluster: $_why"; return 1; }

    slurm__clean_env
    slurm__reap_orphans
    slurm__host=$(hostname -s 2>/dev/null || hostname)
    if [ "$_n" -eq 1 ]; then SLURM_TEST_NODES=$slurm__host
    else SLURM_TEST_NODES=$(seq -s, -f 'n%g' 1 "$_n"); fi
    SLURM_TEST_NODE=${SLURM_TEST_NODES%%,*}
    export SLURM_TEST_NODE SLURM_TEST_NODES

    if command -v tap_on_exit >/dev/null 2>&1; then
        [ -n "${slurm__hooked:-}" ] || { tap_on_exit slurm_cluster_stop; slurm__hooked=1; }
    else
        trap slurm_cluster_stop EXIT
    fi

    for _try in 1 2 3; do
        # Lower case: Slurm folds cluster names.
        slurm__cluster=wn$$x$RANDOM
        slurm__first_job=$((1000 + (RANDOM * 32768 + RANDOM) % 600000 * 100))
        slurm__start_once "$_n"; _st=$?
        [ $_st -eq 0 ] && return 0
        if [ $_st -ne 3 ] || [ $_try -eq 3 ]; then
            slurm__log_tails
            slurm_cluster_stop
            return 1
        fi
        slurm__log "a port was taken while starting; trying again with new ports"
        slurm_cluster_stop
    done
}

slurm_cluster_stop() {
    local _d=$slurm__dir _ids _p _i _daemons _munged
    [ -n "$_d" ] || return 0
    if [ -f "$_d/slurm.conf" ]; then
        # Jobs first, while slurmctld is there to end them cleanly.
        _p=$(slurm__pid "$_d/run/slurmctld.pid")
        if slurm__alive "$_p"; then
            _ids=$(SLURM_CONF=$_d/slurm.conf timeout 10 squeue -h -o %i 2>/dev/null)
            if [ -n "$_ids" ]; then
                SLURM_CONF=$_d/slurm.conf timeout 10 scancel $_ids 2>/dev/null
                for _i in $(seq 1 50); do
                    [ -z "$(SLURM_CONF=$_d/slurm.conf timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
                    sleep 0.2
                done
            fi
        fi
    fi
    _daemons=
    for _p in "$_d"/run/slurmd.*.pid "$_d/run/slurmctld.pid"; do
        _p=$(slurm__pid "$_p") && [ -n "$_p" ] && _daemons="$_daemons $_p"
    done
    _munged=$(slurm__pid "$_d/munge/munged.pid")
    slurm__kill 15 $_daemons
    # Whatever is left: stepds, their tasks, a daemon without a pid file.
    slurm__kill 5 $(slurm__our_pids | grep -vx "${_munged:-none}")
    slurm__kill 5 $_munged $(slurm__our_pids)
    _p=$(slurm__our_pids)
    [ -z "$_p" ] || slurm__log "slurm_cluster_stop: processes left behind:" $_p
    if [ "${WN_KEEP_TMP:-0}" = 1 ]; then
        rm -f "$_d/owner"
        slurm__log "kept the Slurm test cluster's files in $_d"
    else
        rm -rf "$_d"
    fi
    slurm__dir=
    [ "$SLURM_CONF" != "$_d/slurm.conf" ] || unset SLURM_CONF
    [ "$SLURM_TEST_DIR" != "$_d" ] || unset SLURM_TEST_DIR
    return 0
}

slurm_job_field() { # JOBID FIELD
    scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

slurm_wait_job() { # JOBID [TIMEOUT]
    local _id=$1 _deadline=$((SECONDS + ${2:-60})) _state=UNKNOWN _s
    while :; do
        _s=$(slurm_job_field "$_id" JobState)
        [ -n "$_s" ] && _state=$_s
        case $_s in
        # Not ended yet (COMPLETING: the node is still cleaning up).
        PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|STOPPED|REQUEUED|REQUEUE_FED|REQUEUE_HOLD|RESIZING|SIGNALING|STAGE_OUT|RESV_DEL_HOLD|"") ;;
        *) echo "$_state"; return 0 ;;
        esac
        if [ $SECONDS -ge $_deadline ]; then echo "$_state"; return 1; fi
        sleep 0.2
    done
}
