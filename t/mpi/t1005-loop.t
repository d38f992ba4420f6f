#!/bin/bash
# The event loop as a library (src/exec/loop.h), driven by t/mpi/loop_test
# with no planner or actor: handler tables accepted and refused, messages
# to oneself, poll hooks, bundled messages arriving whole and in order,
# and a tag nobody registered ending the job with the tag and the sender.
. "$(dirname "$0")/../lib/tap.sh"
plan 11
T=$BUILDDIR/t/mpi/loop_test

out=$(mpirun_np 1 "$T" api 2>&1)
is "$(printf '%s\n' "$out" | sed -n 's/^register=//p')" 0 "a handler table registers"
is "$(printf '%s\n' "$out" | sed -n 's/^again=//p')" EEXIST "a tag taken twice: EEXIST"
is "$(printf '%s\n' "$out" | sed -n 's/^own_tag=//p')" EINVAL "the loop's own tag (BUNDLE): EINVAL"
is "$(printf '%s\n' "$out" | sed -n 's/^out_of_range=//p')" EINVAL "a tag past WN_LOOP_MAX_TAG: EINVAL"
is "$(printf '%s\n' "$out" | sed -n 's/^dup_in_table=//p')" EEXIST "a table naming a tag twice: EEXIST"
is "$(printf '%s\n' "$out" | sed -n 's/^after_refused_table=//p')" 0 \
    "a refused table registered none of its tags"
is "$(printf '%s\n' "$out" | sed -n 's/^self=//p')" "0:hello+world" \
    "a two-part message to this rank is handled at once, whole"
is "$(printf '%s\n' "$out" | sed -n 's/^hooks=//p')" "121212 status=7" \
    "poll hooks run in the order added; wn_loop_leave's status is the loop's"

out=$(mpirun_np 4 "$T" order 2>&1)
is "$(printf '%s\n' "$out" | sed -n 's/^order=//p')" "ok received=600" \
    "3 ranks x 200 messages in one poll each: all arrive, each sender's in order"

# (timeout: a loop that ignored the tag would poll forever.)
out=$(timeout 60 mpirun -np 2 --oversubscribe --bind-to none "$T" unknown 2>&1); st=$?
is "$st" 1 "a tag nobody registered ends the job: MPI_Abort with exit status 1"
like "$out" "rank 1 sent a message with tag 120 \(1 bytes\), which nothing on rank 0 handles" \
    "the error names the tag and the sending rank"
done_testing
