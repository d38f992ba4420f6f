#!/bin/bash
# wn-timeout: 180
# The UCX shuffle among 4 real ranks: the TAP stream is shuffle_test's own
# (rank 0 prints one line per check made on every rank): rows reach their
# partition's owner exactly once and in origin order, empty partitions and
# rounds, a hot partition spilling under a 1 MiB memory limit, a 17 MiB
# chunk, shuffled insertion order, rounds back to back, a stuck peer
# named in the error after timeout_s.
. "$(dirname "$0")/../lib/tap.sh"
mpirun_np 4 "$BUILDDIR/t/mpi/shuffle_test"
