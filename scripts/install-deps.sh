#!/bin/sh
# scripts/install-deps.sh - installs every Debian 12 package winnow's build,
# tests and examples need.  Idempotent: packages already present are left
# alone, and `apt-get update` runs once per call only when something is
# missing.  Run as root (or through sudo).
set -eu

PACKAGES="
build-essential autoconf automake pkg-config
openmpi-bin libopenmpi-dev
libhdf5-openmpi-dev hdf5-tools python3-h5py
libucx-dev ucx-utils
slurm-wlm slurmd slurmctld slurm-client munge libslurm-dev libpmix-dev
libjansson-dev libyaml-dev zlib1g-dev libzstd-dev libxxhash-dev
procps iproute2 util-linux coreutils zstd
clang-format-14
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
