#!/usr/bin/env bash
# Installs the Debian packages k1rl needs to build, test and run on one machine.
# Idempotent and quiet when everything is present. Usage: tools/install-deps.sh [--no-slurm] [--no-python]
set -euo pipefail

want_slurm=1 want_python=1
for a in "$@"; do
  case "$a" in
    --no-slurm) want_slurm=0 ;;
    --no-python) want_python=0 ;;
    -h|--help) sed -n '2,3p' "$0" | sed 's/^# //'; exit 0 ;;
    *) echo "install-deps: error: unknown option '$a'; see --help" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential cmake pkg-config git
      mpich libmpich-dev libhdf5-mpich-dev hdf5-tools
      libboost-program-options-dev libgtest-dev libgmock-dev googletest
      libopenblas-dev libdnnl-dev bubblewrap util-linux procps clang-format)
((want_slurm)) && pkgs+=(slurmctld slurmd slurm-client munge)
((want_python)) && pkgs+=(python3 python3-torch python3-h5py python3-numpy python3-matplotlib)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: error: missing packages (${missing[*]}) and not root; install them or rerun as root" >&2; exit 2; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
