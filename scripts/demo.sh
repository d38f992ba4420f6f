#!/bin/sh
# scripts/demo.sh - the README's main command: installs what is needed,
# builds, and shows winnow on 4 local MPI ranks.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== winnow info on 4 ranks"
mpirun -np 4 --oversubscribe "$top/build/runner/winnow" info
