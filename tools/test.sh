#!/usr/bin/env bash
# Sets up everything the tests need (Debian packages, the test Python), checks formatting against
# .clang-format, builds every target (kernels/cuda too when nvcc exists) and runs every test with CTest.
# Usage: tools/test.sh [--preset release|debug|asan] [extra ctest arguments, e.g. -R Config]
# A full release run (no extra arguments) ends with the fuzz cases under the asan preset.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
if [ "${1:-}" = "--preset" ]; then preset=$2; shift 2; fi
jobs=$(nproc)
# In CI a local Slurm that fails to start is a failure, not a skipped end-to-end test.
if [ "${CI:-}" = true ]; then export K1RL_E2E_REQUIRE_SLURM=1; fi

bash tools/install-deps.sh
if [ -f tools/setup-test-python.sh ]; then
  bash tools/setup-test-python.sh || echo "test.sh: warning: the test Python could not be set up; PyTorch-free tests still run, reference tests that need PyPI packages skip" >&2
fi

# Formatting first: a difference from .clang-format fails the run before the long build.
bash tools/check-format.sh

echo "test.sh: configuring and building (preset $preset, $jobs jobs)"
mkdir -p build
log=build/test-build.log
if ! { cmake --preset "$preset" && cmake --build --preset "$preset" -j "$jobs"; } >"$log" 2>&1; then
  grep -E -B2 -A8 'error|Error' "$log" | head -150
  echo "test.sh: error: the build failed; the whole log is in $log" >&2
  exit 1
fi

echo "test.sh: running the tests"
ctest --preset "$preset" -j "$jobs" --timeout 900 "$@"

# The fast fuzz cases again under AddressSanitizer and UBSan (a malformed file that reads out of
# bounds without crashing passes a release build). Only on a full run; K1RL_SKIP_ASAN=1 skips it.
if [ $# -eq 0 ] && [ "$preset" = release ] && [ "${K1RL_SKIP_ASAN:-}" != 1 ]; then
  echo "test.sh: the fuzz cases under the asan preset"
  log=build/test-build-asan.log
  if ! { cmake --preset asan && cmake --build --preset asan -j "$jobs" --target test_fuzz_inputs; } >"$log" 2>&1; then
    grep -E -B2 -A8 'error|Error' "$log" | head -150
    echo "test.sh: error: the asan build failed; the whole log is in $log" >&2
    exit 1
  fi
  ctest --preset asan -R '^Fuzz\.' -j "$jobs" --timeout 900
fi
