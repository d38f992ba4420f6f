#!/bin/sh
# scripts/demo.sh - the README's main command: installs what is needed,
# builds, shows winnow on 4 local MPI ranks and runs the example pipeline
# (examples/hello.yaml) there.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== winnow info on 4 ranks"
mpirun -np 4 --oversubscribe "$top/build/runner/winnow" info
echo
echo "== winnow plan examples/hello.yaml"
"$top/build/runner/winnow" plan "$top/examples/hello.yaml"
echo
echo "== winnow run examples/hello.yaml on 4 ranks (1 planner + 3 pool actors)"
mpirun -np 4 --oversubscribe "$top/build/runner/winnow" run "$top/examples/hello.yaml" \
    --progress lines
