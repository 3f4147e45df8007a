#!/usr/bin/env bash
# The main job on the built-in default: installs what is missing, builds, and runs the k1rl
# pipeline on the tiny config. Prints what it ran and where the outputs are.
# Usage: tools/run.sh [--no-slurm] [--config FILE] [--run-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

config=inputs/configs/tiny.ini run_dir=run no_slurm=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-slurm) no_slurm=1 ;;
    --config) config=$2; shift ;;
    --run-dir) run_dir=$2; shift ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# //'; exit 0 ;;
    *) echo "run.sh: error: unknown option '$1'; see tools/run.sh --help" >&2; exit 64 ;;
  esac
  shift
done

bash tools/install-deps.sh
echo "run.sh: building (preset release)"
mkdir -p build
if ! { cmake --preset release -DK1RL_TESTS=OFF && cmake --build --preset release -j "$(nproc)"; } \
    >build/run-build.log 2>&1; then
  grep -E -B2 -A8 'error|Error' build/run-build.log | head -80
  echo "run.sh: error: the build failed; the whole log is in build/run-build.log" >&2
  exit 1
fi
bin=build/release/bin
echo "run.sh: built: $(ls $bin 2>/dev/null | grep "^k1rl-" | tr '\n' ' ')"
echo "run.sh: the RL loop (k1rl-rollout, k1rl-reward, k1rl-train) is not built yet; nothing more to run."
