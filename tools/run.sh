#!/usr/bin/env bash
# The main job on the built-in default: installs what is missing, builds (preset release), brings
# up a local Slurm when none is reachable, submits `slurm/rl_iter.sh` through `slurm/rl_loop.sh`,
# waits with a progress line, and ends with the held-out accuracy of the first and the last
# checkpoint, an offline report (tools/plot.py: report/report.html) and where the outputs are.
# --no-slurm runs the same apps under one MPMD mpiexec.
# Usage: tools/run.sh [--no-slurm] [--config FILE] [--run-dir DIR] [--jobs N] [--keep-slurm]
#                     [--bin DIR (built apps: skip the install and the build)] [-- --section.key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

config=inputs/configs/tiny.ini run_dir=run jobs=2 no_slurm=0 keep_slurm=0 bin="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-slurm) no_slurm=1 ;;
    --config) config=$2; shift ;;
    --run-dir) run_dir=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --keep-slurm) keep_slurm=1 ;;
    --bin) bin=$(cd "$2" && pwd); shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: error: unknown option '$1'; see tools/run.sh --help" >&2; exit 64 ;;
  esac
  shift
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: error: --jobs takes a positive number, not '$jobs'" >&2; exit 64; }
[ -f "$config" ] || { echo "run.sh: error: config $config not found; give --config FILE (see inputs/configs/)" >&2; exit 2; }
mkdir -p "$run_dir/logs"
run_dir=$(cd "$run_dir" && pwd)
t_begin=$(date +%s)
elapsed() { local s=$(( $(date +%s) - t_begin )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# 1. Packages (no PyTorch: the run does not need it) and the build.
if [ -z "$bin" ]; then
  if ((no_slurm)); then bash tools/install-deps.sh --no-python --no-slurm; else bash tools/install-deps.sh --no-python; fi
  echo "run.sh: building (preset release)"
  mkdir -p build
  apps=(k1rl-train k1rl-rollout k1rl-reward k1rl-eval k1rl-convert k1rl-inspect)
  if ! { cmake --preset release && cmake --build --preset release -j "$(nproc)" --target "${apps[@]}"; } \
      >build/run-build.log 2>&1; then
    grep -E -B2 -A8 'error|Error' build/run-build.log | head -80
    echo "run.sh: error: the build failed; the whole log is in build/run-build.log" >&2
    exit 1
  fi
  bin=$root/build/release/bin
fi
app_args=(--config "$config" --run.dir="$run_dir" "${extra[@]}")
resolved=$("$bin/k1rl-train" "${app_args[@]}" --print-config) || exit 2
# A config that starts from the imported SmolLM2 (train.init_checkpoint) fetches and converts it
# when it is missing (tools/fetch-test-models.sh --convert).
ini_get() { awk -v s="[$1]" -v k="$2" '$0 == s {f = 1; next} /^\[/ {f = 0} f && $1 == k {print $3; exit}' <<<"$resolved"; }
init=$(ini_get train init_checkpoint)
if [ -n "$init" ] && [ ! -f "$init" ] && [[ "$(basename "$init")" == smollm2-135m*.h5 ]]; then
  echo "run.sh: $init is missing: fetching SmolLM2-135M-Instruct and converting it"
  tools/fetch-test-models.sh --convert "$init" --max-seq "$(ini_get model max_seq)" --bin "$bin" >/dev/null ||
    { echo "run.sh: error: cannot fetch or convert $init; see above" >&2; exit 2; }
fi
per_job=$(awk '$0 == "[run]" {f = 1; next} /^\[/ {f = 0} f && $1 == "iterations" {print $3; exit}' <<<"$resolved")
latest_it() { local n; n=$(cat "$run_dir/ckpt/latest" 2>/dev/null) || { echo -1; return; }; n=${n#it_}; echo $((10#${n%.h5})); }
start=$(latest_it)
target=$(( (start < 0 ? 0 : start) + jobs * per_job ))
if ((start >= 0)); then
  echo "run.sh: $run_dir holds a run at it_$(printf %06d "$start"): continuing it to iteration $target"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# 2. A Slurm to submit to: the reachable one, else a local one (tools/slurm-local.sh).
started_slurm=0
if ((!no_slurm)) && ! sinfo >/dev/null 2>&1; then
  echo "run.sh: no Slurm reachable (sinfo failed): starting a local one (tools/slurm-local.sh up)"
  if out=$(tools/slurm-local.sh up 2>&1); then
    eval "$(tools/slurm-local.sh env)"
    started_slurm=1
  else
    echo "$out" | tail -n 5 | sed 's/^/  /'
    echo "run.sh: the local Slurm did not start; running without Slurm (MPMD mpiexec) instead"
    no_slurm=1
  fi
fi
cleanup() {
  if ((started_slurm && !keep_slurm)); then tools/slurm-local.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# Progress: the newest checkpoint and the last summary line of the job logs.
progress() {
  local it line acc
  it=$(latest_it)
  line=$(ls -tr "$run_dir"/logs/*.out 2>/dev/null | xargs -r cat | grep -E 'iteration [0-9]+ \| answers' | tail -n 1 || true)
  acc=$(sed -nE 's/.*reward ([-0-9.]+) accuracy ([0-9.]+).*/reward \1, train accuracy \2/p' <<<"$line")
  [ -z "$line" ] && acc="SFT warm-up or start-up"
  printf 'run.sh: %s | %s | iteration %s of %s | %s' "$(elapsed)" "$1" "$((it < 0 ? 0 : it))" "$target" "$acc"
}
show() {  # one line rewritten in place on a terminal, one line every 15 s otherwise
  if [ -t 1 ]; then printf '\r\033[K%s' "$1"; elif (( $(date +%s) - ${last_show:-0} >= 15 )); then echo "$1"; last_show=$(date +%s); fi
}

# 3. The run.
fail=0
if ((no_slurm)); then
  echo "run.sh: $jobs job(s) of $per_job iteration(s) under mpiexec (2 rollout, 1 reward, 1 train ranks); logs in $run_dir/logs"
  for ((j = 1; j <= jobs; j++)); do
    log=$run_dir/logs/mpiexec-$j.out
    mpiexec -n 2 "$bin/k1rl-rollout" "${app_args[@]}" : -n 1 "$bin/k1rl-reward" "${app_args[@]}" \
      : -n 1 "$bin/k1rl-train" "${app_args[@]}" >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do show "$(progress "job $j/$jobs")"; sleep 1; done
    wait "$pid" || { fail=$?; break; }
  done
else
  mkdir -p "$run_dir/logs"
  ids=$(slurm/rl_loop.sh "$jobs" --chdir="$root" --output="$run_dir/logs/job-%j.out" \
          --export="ALL,K1RL_ROOT=$root,K1RL_BIN=$bin" -- "${app_args[@]}") || exit 2
  read -ra ids <<<"$ids"
  echo "run.sh: submitted $jobs job(s) of $per_job iteration(s) to Slurm: ${ids[*]}; logs in $run_dir/logs"
  for id in "${ids[@]}"; do
    while squeue -h -j "$id" 2>/dev/null | grep -q .; do
      state=$(squeue -h -j "$id" -o %T 2>/dev/null | head -n 1)
      show "$(progress "job $id ${state,,}")"
      sleep 1
    done
    state=$(scontrol show job "$id" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | head -n 1 | cut -d= -f2)
    if [ -n "$state" ] && [ "$state" != COMPLETED ]; then fail=1; failed=$id; break; fi
  done
fi
[ -t 1 ] && echo
if ((fail)); then
  echo "run.sh: error: the run failed ($(elapsed)); the end of its log:" >&2
  tail -n 25 "$(ls -t "$run_dir"/logs/*.out | head -n 1)" | sed 's/^/  | /' >&2
  [ -n "${failed:-}" ] && echo "run.sh: Slurm job $failed ended ${state:-?}; later jobs of the chain are cancelled" >&2
  echo "run.sh: published checkpoints are intact; run tools/run.sh again to resume from ckpt/latest" >&2
  exit 1
fi

# 4. Held-out accuracy of the first and the last checkpoint, and where everything is.
end=$(latest_it)
echo "run.sh: done in $(elapsed): iterations $((start < 0 ? 0 : start))..$end; evaluating (k1rl-eval)"
table=()
for it in 0 "$end"; do
  ck=$run_dir/ckpt/it_$(printf %06d "$it").h5
  out=$("$bin/k1rl-eval" "${app_args[@]}" --checkpoint "$ck" 2>"$run_dir/logs/eval-$it.log") \
    || { cat "$run_dir/logs/eval-$it.log" >&2; exit 1; }
  ((${#table[@]})) || table+=("$(head -n 1 <<<"$out")")
  table+=("$(tail -n +2 <<<"$out" | sed "s|$run_dir/||")")
  ((it == end)) && break
done
echo
echo "held-out accuracy ($(awk '$0 == "[tasks]" {f = 1; next} /^\[/ {f = 0} f && $1 == "heldout_file" {print $3}' <<<"$resolved")):"
printf '%s\n' "${table[@]}"

# 5. The offline report: PNGs and one self-contained report.html (tools/plot.py, h5py + matplotlib).
py=/usr/bin/python3; [ -x "$py" ] || py=python3
report=""
if "$py" tools/plot.py "$run_dir" --inspect "$bin/k1rl-inspect" >"$run_dir/logs/report.log" 2>&1; then
  report=$run_dir/report/report.html
else
  echo "run.sh: warning: no report: $(tail -n 1 "$run_dir/logs/report.log"); rerun tools/plot.py $run_dir" >&2
fi
echo
echo "outputs in $run_dir:"
echo "  config.ini             the resolved config of the run"
echo "  ckpt/                  $(ls "$run_dir/ckpt" | grep -c '^it_') checkpoints (checkpoint/1), latest -> $(cat "$run_dir/ckpt/latest")"
echo "  buffer/                $(ls "$run_dir/buffer" | grep -c '^it_') replay shards (buffer/1)"
echo "  metrics.h5             tables /train /rollout /reward /iteration (docs/metrics.md; h5dump or h5py)"
echo "  eval.h5                the rows of the table above"
if [ -n "$report" ]; then echo "  report/                report.html (plots, config, eval, sample answers) and its PNGs"; fi
echo "  logs/                  job logs"
if ((started_slurm && keep_slurm)); then echo "the local Slurm keeps running: tools/slurm-local.sh down stops it"; fi
if [ -n "$report" ]; then echo "report: $report"; fi
