#!/bin/sh
# scripts/build.sh [CONFIGURE-ARGS...] - installs the dependencies, then
# configures and builds winnow in ./build (out of tree).  Re-running it
# rebuilds what changed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || ./autogen.sh
mkdir -p build
cd build
if [ ! -f Makefile ] || [ "$#" -gt 0 ]; then
    ../configure --enable-werror "$@"
fi
make -j"$(nproc)"
