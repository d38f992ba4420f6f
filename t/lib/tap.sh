# t/lib/tap.sh - TAP for winnow's shell tests (sourced, POSIX sh + bash).
#
#   . "$(dirname "$0")/../lib/tap.sh"
#   plan 3                 (or no plan, then done_testing at the end)
#   ok "$cond_status" "name"     -- 0 is success, like a shell status
#   run_ok "name" cmd args...    -- runs the command, ok when it exits 0
#   is "$got" "$want" "name"
#   like "$got" "regex" "name"   -- grep -E
#   skip N "why"; skip_all "why"; diag "text"; bail_out "why"
#   done_testing                 -- prints a trailing plan, sets exit status
#
# Also sets up what every test needs: a private scratch dir ($TEST_TMP,
# removed on exit unless WN_KEEP_TMP=1), the build tree paths ($BUILDDIR,
# $SRCDIR, $WINNOW) and the environment for running OpenMPI as root.

tap_run=0
tap_failed=0
tap_planned=

plan() { tap_planned=$1; echo "1..$1"; }

diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

tap_result() { # status name
    tap_run=$((tap_run + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_run - $2"
    else
        echo "not ok $tap_run - $2"
        tap_failed=$((tap_failed + 1))
    fi
    return "$1"
}

ok() { tap_result "$1" "$2"; }

run_ok() {
    _name=$1; shift
    _out=$("$@" 2>&1); _st=$?
    tap_result $_st "$_name" || { diag "command: $*" "exit: $_st"; printf '%s\n' "$_out" | tail -n 40 | sed 's/^/#   /' >&2; }
}

is() {
    if [ "$1" = "$2" ]; then tap_result 0 "$3"
    else tap_result 1 "$3"; diag "  got: '$1'" "  expected: '$2'"; return 1; fi
}

like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then tap_result 0 "$3"
    else tap_result 1 "$3"; diag "  '$1'" "  does not match /$2/"; return 1; fi
}

skip() { _i=0; while [ $_i -lt "$1" ]; do tap_run=$((tap_run + 1)); echo "ok $tap_run # SKIP $2"; _i=$((_i + 1)); done; }

skip_all() { echo "1..0 # SKIP $1"; exit 0; }

bail_out() { echo "Bail out! $1"; exit 255; }

done_testing() {
    if [ -z "$tap_planned" ]; then echo "1..$tap_run"
    elif [ "$tap_planned" -ne "$tap_run" ]; then
        diag "planned $tap_planned tests but ran $tap_run"; tap_failed=$((tap_failed + 1))
    fi
    [ $tap_failed -eq 0 ]
    exit $?
}

# Paths: the test driver runs tests from the build directory; srcdir is
# exported by automake.
BUILDDIR=${BUILDDIR:-$(pwd)}
SRCDIR=${srcdir:-$BUILDDIR}
SRCDIR=$(cd "$SRCDIR" && pwd)
WINNOW=${WINNOW:-$BUILDDIR/winnow}
export BUILDDIR SRCDIR WINNOW
# The test stages (noop, sleep, fanout, ...) are a plugin, no part of the
# product: pipelines name them teststages.so:TYPE, which dlopen() finds on
# LD_LIBRARY_PATH (inherited by mpirun's and srun's ranks).
TESTSTAGES=$BUILDDIR/t/plugins/teststages.so
LD_LIBRARY_PATH=$BUILDDIR/t/plugins${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export TESTSTAGES LD_LIBRARY_PATH

# OpenMPI refuses root without these; tests oversubscribe 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Quiet the "no high-performance network" chatter on a laptop-sized box.
export OMPI_MCA_btl_base_warn_component_unused=0

# mpirun_np N cmd...: start N real ranks on this host.
mpirun_np() { _np=$1; shift; mpirun -np "$_np" --oversubscribe --bind-to none "$@"; }

# kill_run_after MS PIPELINE DIR: `winnow run PIPELINE --checkpoint DIR` on 4
# ranks, every rank killed with SIGKILL after MS milliseconds.
# The paths are made absolute, so that the kill finds this test's ranks only
# (not those of the same test run beside it from another directory).
kill_run_after() {
    _kp=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    _kc=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
    mpirun_np 4 "$WINNOW" run "$_kp" --checkpoint "$_kc" --progress off >/dev/null 2>&1 &
    _mp=$!
    sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
    pkill -9 -f "winnow run $_kp --checkpoint $_kc " 2>/dev/null
    kill -9 $_mp 2>/dev/null
    wait $_mp 2>/dev/null
}

# run_pids STRING: live processes (zombies left out: pid 1 here need not
# reap them) whose command line holds STRING, e.g. a checkpoint path of
# this test's, so that ranks of other tests never match.
run_pids() {
    for _rp in $(pgrep -f -- "$1"); do
        case $(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$_rp/stat" 2>/dev/null) in
        Z|X|"") ;;
        *) echo "$_rp" ;;
        esac
    done
}

# run_gone STRING SECONDS: 0 once no process run_pids finds is left,
# within SECONDS; else 1, listing those left.
run_gone() {
    for _ in $(seq $(($2 * 10))); do
        [ -z "$(run_pids "$1")" ] && return 0
        sleep 0.1
    done
    diag "left: $(ps -o pid,stat,args -p "$(run_pids "$1" | tr '\n' ',' | sed 's/,$//')")"
    return 1
}

# rank_pid STRING RANK: the pid of MPI rank RANK among them (its
# OMPI_COMM_WORLD_RANK under mpirun, SLURM_PROCID under srun).
rank_pid() {
    for _rp in $(run_pids "$1"); do
        tr '\0' '\n' <"/proc/$_rp/environ" 2>/dev/null |
            grep -Eqx "(OMPI_COMM_WORLD_RANK|SLURM_PROCID)=$2" && { echo "$_rp"; return 0; }
    done
    return 1
}

# skip_without_gpu [cuda]: skip the whole test where no GPU is usable
# (winnow info binds none), or with "cuda", where winnow was built
# without CUDA; the reason is said.
skip_without_gpu() {
    _info=$("$WINNOW" info 2>&1)
    case "$_info" in
    *"bound none"*|*"gpus 0"*) skip_all "no GPU: $(printf '%s\n' "$_info" | grep -m1 -o 'bound none.*\|gpus 0.*')" ;;
    esac
    if [ "${1:-}" = cuda ]; then
        case "$_info" in
        *cuda*) ;;
        *) skip_all "winnow was built without CUDA" ;;
        esac
    fi
}

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/winnow-test.XXXXXX")
export TEST_TMP
tap_cleanup_hooks=
tap_on_exit() { tap_cleanup_hooks="$tap_cleanup_hooks
$1"; }
tap_exit_trap() {
    _st=$?
    eval "$tap_cleanup_hooks"
    [ "${WN_KEEP_TMP:-0}" = 1 ] || rm -rf "$TEST_TMP"
    exit $_st
}
trap tap_exit_trap EXIT
trap 'exit 130' INT TERM
