# sbatch/winnow-job.sh - what every winnow batch script does, sourced by
# them.  sbatch runs a copy of a script from its spool directory, so they
# find this file through the job's Command (the path submitted), which
# scontrol shows; WINNOW_JOB_DIR overrides that.
#
# winnow_job PIPELINE.yaml [winnow run options...]
#   runs `srun --mpi=pmix winnow run PIPELINE --checkpoint DIR ...`:
#   - DIR is $WINNOW_CHECKPOINT, else ./winnow-checkpoints/NAME under the
#     job's working directory, NAME the pipeline's name (its `name:`, or a
#     --set name=...).  Never the job id: a requeued job keeps its id but a
#     resubmitted one gets a new one, and both must find the same
#     checkpoint.  winnow resumes from it by itself: the same command goes
#     on where the last run stopped.  A finished run's checkpoint makes the
#     next run load the last stage's outputs and stop; output files that
#     were deleted since are not written again (remove the checkpoint, or
#     give a new WINNOW_CHECKPOINT, to run the pipeline afresh).
#   - srun runs in the background and the script waits for it, so that
#     the batch shell can take USR1 (sent by --signal=B:USR1@MARGIN, MARGIN
#     seconds before the time limit) while the step runs; the trap passes
#     it on to srun, which forwards it to every rank: winnow drains the
#     running batches, checkpoints and exits 3.  (winnow also stops by
#     itself executor.time_margin seconds before the limit; the signal is
#     the backstop for when slurmctld cannot be asked.)
#   - srun --kill-on-bad-exit=1: a task that dies (a crash, kill -9, its
#     node) ends the whole step, so no rank waits forever on a dead peer.
#   - exit 3 (stopped, checkpoint complete) -> `scontrol requeue` of this
#     job: it goes back to the queue with the same id (--requeue allows
#     it), SLURM_RESTART_COUNT goes up by one, and when it starts again
#     this same script resumes from the checkpoint.  --open-mode=append
#     keeps the output of every attempt in one file.
#   - exit 2 (a bad pipeline, option or launch: refused before any work)
#     is the job's; running it again would fail the same way.
#   - any other failure (1: a failed run or a hang winnow detected; a
#     signal or other status: a rank that crashed or was killed) with a
#     journal in the checkpoint -> requeued the same way while the job has
#     been restarted fewer than WINNOW_MAX_RESTARTS times (default 2, all
#     restarts counted, for any reason): a crash or a frozen node costs
#     the batches in flight, not the run.  Beyond that, or without a
#     journal, the status is the job's.
# Environment: WINNOW (the winnow binary; default: `winnow` on PATH, else
# the build next to this script), WINNOW_CHECKPOINT, WINNOW_SRUN_ARGS
# (extra srun options, e.g. a --distribution), WINNOW_NO_REQUEUE=1 (never
# requeue: exit 3, or the failure's status), WINNOW_MAX_RESTARTS.

winnow_job() {
    local pipeline=$1
    shift
    if [ -z "$pipeline" ] || [ ! -r "$pipeline" ]; then
        echo "winnow-job: cannot read the pipeline file '$pipeline'" >&2
        echo "usage: sbatch $0 PIPELINE.yaml [--set KEY=VALUE ...]" >&2
        exit 2
    fi
    local name="" a prev=""
    for a in "$@"; do
        case $prev:$a in --set:name=*) name=${a#name=} ;; esac
        case $a in --set=name=*) name=${a#--set=name=} ;; esac
        prev=$a
    done
    [ -n "$name" ] || name=$(sed -n 's/^name:[[:space:]]*["'\'']\{0,1\}\([^"'\''#[:space:]]*\).*/\1/p' \
                             "$pipeline" | head -n 1)
    [ -n "$name" ] || name=$(basename "$pipeline" .yaml)
    local ck=${WINNOW_CHECKPOINT:-$PWD/winnow-checkpoints/$name}
    local winnow=${WINNOW:-}
    if [ -z "$winnow" ]; then
        winnow=$(command -v winnow || true)
        [ -n "$winnow" ] || winnow=$WINNOW_JOB_DIR/../build/winnow
    fi
    echo "winnow-job: job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on" \
         "${SLURM_JOB_NUM_NODES:-?} node(s), ${SLURM_NTASKS:-?} tasks: $pipeline," \
         "checkpoint $ck"
    local started
    started=$(date +%s)
    # shellcheck disable=SC2086  # WINNOW_SRUN_ARGS is a list of options
    srun --mpi=pmix --kill-on-bad-exit=1 ${WINNOW_SRUN_ARGS:-} "$winnow" run "$pipeline" \
        --checkpoint "$ck" \
        --progress lines "$@" &
    local srun_pid=$!
    trap 'echo "winnow-job: USR1 (time limit near): passing it on to the job step";
          kill -USR1 "$srun_pid" 2>/dev/null' USR1
    local st
    while :; do
        wait "$srun_pid"
        st=$?
        # A trapped signal ends `wait` early (status > 128): wait again.
        if [ "$st" -gt 128 ] && kill -0 "$srun_pid" 2>/dev/null; then
            continue
        fi
        break
    done
    trap - USR1
    # srun --kill-on-bad-exit ends the step when the first rank exits 3,
    # and may then report the others' SIGKILL: the journal says how the
    # run ended, if this attempt wrote its end.
    if [ "$st" != 0 ] && [ "$st" != 2 ] && [ "$st" != 3 ] &&
       [ "$(stat -c %Y "$ck/journal" 2>/dev/null || echo 0)" -ge "$started" ] &&
       "$winnow" status "$ck" 2>/dev/null | grep -q "^last event: run ended with status 3 "; then
        echo "winnow-job: srun exited $st, but the run stopped with a complete checkpoint"
        st=3
    fi
    local requeue=0
    [ "${WINNOW_NO_REQUEUE:-0}" != 1 ] && [ -n "${SLURM_JOB_ID:-}" ] && requeue=1
    case $st in
    0)
        echo "winnow-job: finished"
        exit 0 ;;
    3)
        if [ $requeue = 1 ] && scontrol requeue "$SLURM_JOB_ID"; then
            echo "winnow-job: stopped with a complete checkpoint (exit 3); job" \
                 "$SLURM_JOB_ID requeued, it resumes from $ck"
            exit 0
        fi
        echo "winnow-job: stopped with a complete checkpoint (exit 3); submit the same" \
             "command again to resume from $ck"
        exit 3 ;;
    2)
        echo "winnow-job: winnow exited 2 (the pipeline, an option or the launch was" \
             "refused before any work): not requeued"
        exit 2 ;;
    esac
    local why="winnow exited $st"
    [ "$st" -gt 128 ] && why="$why (a rank ended by signal $((st - 128)), or srun by one)"
    [ "$st" = 1 ] && why="$why (the run failed, or winnow ended a hung run)"
    local restarts=${SLURM_RESTART_COUNT:-0} max=${WINNOW_MAX_RESTARTS:-2}
    if [ ! -s "$ck/journal" ]; then
        echo "winnow-job: $why; no checkpoint journal in $ck to resume from: not requeued"
    elif [ $requeue = 0 ]; then
        echo "winnow-job: $why; not requeued (WINNOW_NO_REQUEUE or not a Slurm job):" \
             "the same command resumes from $ck"
    elif [ "$restarts" -ge "$max" ]; then
        echo "winnow-job: $why; the job was restarted $restarts times," \
             "WINNOW_MAX_RESTARTS=$max: not requeued (the same command resumes from $ck)"
    elif scontrol requeue "$SLURM_JOB_ID"; then
        echo "winnow-job: $why; job $SLURM_JOB_ID requeued (restart $((restarts + 1))" \
             "of at most $max), it resumes from $ck"
        exit 0
    else
        echo "winnow-job: $why; scontrol requeue failed: the same command resumes from $ck"
    fi
    exit "$st"
}
