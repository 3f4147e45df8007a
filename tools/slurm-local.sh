#!/usr/bin/env bash
# A real Slurm cluster on this one machine (munge + slurmctld + several slurmd), no systemd:
#   tools/slurm-local.sh up|down|status|env      (docs/slurm.md explains the choices)
# Settings (environment): K1RL_SLURM_DIR (state, default /tmp/k1rl-slurm-$UID), K1RL_SLURM_NODES (3),
# K1RL_SLURM_CPUS (CPUs declared per node, 4), K1RL_SLURM_PORT (slurmctld port; slurmd use the next ones).
set -euo pipefail

dir=${K1RL_SLURM_DIR:-/tmp/k1rl-slurm-$(id -u)}
nodes=${K1RL_SLURM_NODES:-3}
cpus=${K1RL_SLURM_CPUS:-4}
port=${K1RL_SLURM_PORT:-16817}
conf=$dir/slurm.conf
me=slurm-local

die() { echo "$me: error: $*" >&2; exit "${rc:-1}"; }
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; }

# pid of a running daemon from its pid file (munged.pid, slurmctld.pid, slurmd-nI.pid), or nothing;
# a pid reused by another program does not count.
alive() {
  local p name; p=$(cat "$1" 2>/dev/null) || return 1
  name=$(basename "$1" .pid); name=${name%%-*}
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$name" ] && echo "$p"
}
node_names() { local i; for ((i = 1; i <= nodes; i++)); do echo "n$i"; done; }
wait_for() {  # wait_for <seconds> <command...>: poll every 0.2 s
  local t=$(( $1 * 5 )); shift
  while ((t-- > 0)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
log_tail() { tail -n 5 "$1" 2>/dev/null | sed "s|^|  $(basename "$1"): |" >&2 || true; }

write_conf() {
  local host; host=$(hostname -s)
  cat > "$conf.tmp" <<CONF
# Written by tools/slurm-local.sh: a local test cluster, $nodes slurmd on one host.
ClusterName=k1rl-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
CONF
  local i
  for ((i = 1; i <= nodes; i++)); do
    echo "NodeName=n$i NodeHostname=n$i NodeAddr=127.0.0.1 Port=$((port + i)) CPUs=$cpus State=UNKNOWN" >> "$conf.tmp"
  done
  echo "PartitionName=local Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >> "$conf.tmp"
  mv "$conf.tmp" "$conf"
}

start_munge() {
  [ -n "$(alive "$dir/run/munged.pid")" ] && return 0
  if [ ! -s "$dir/munge/munge.key" ]; then
    ( umask 077; head -c 1024 /dev/urandom > "$dir/munge/munge.key" )
  fi
  munged --force --socket="$dir/run/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" 2>>"$dir/log/munged.log" \
    || { log_tail "$dir/log/munged.log"; die "munged did not start"; }
  wait_for 10 munge -S "$dir/run/munge.socket" -n \
    || { log_tail "$dir/log/munged.log"; die "munged does not answer on $dir/run/munge.socket"; }
}

start_ctld() {
  [ -n "$(alive "$dir/run/slurmctld.pid")" ] && return 0
  slurmctld -f "$conf" 2>>"$dir/log/slurmctld.log" \
    || { log_tail "$dir/log/slurmctld.log"; die "slurmctld did not start"; }
  wait_for 20 scontrol ping \
    || { log_tail "$dir/log/slurmctld.log"; die "slurmctld does not answer on port $port"; }
}

start_slurmd() {
  local n=$1
  [ -n "$(alive "$dir/run/slurmd-$n.pid")" ] && return 0
  mkdir -p "$dir/spool/$n"
  slurmd -f "$conf" -N "$n" 2>>"$dir/log/slurmd-$n.log" \
    || { log_tail "$dir/log/slurmd-$n.log"; die "slurmd for node $n did not start"; }
}

# Nodes started by this call have registered since $since (slurmctld restores the last known
# state, which may say idle before a slurmd is back); then every node answers and takes jobs.
started=() since=""
registered() {
  local out n
  out=$(scontrol show node -o 2>/dev/null) || return 1
  for n in "${started[@]}"; do
    grep -E "^NodeName=$n " <<<"$out" | grep -oE 'SlurmdStartTime=[^ ]+' |
      awk -F= -v s="$since" '$2 >= s {ok=1} END {exit !ok}' || return 1
  done
}
all_ready() {
  local out
  out=$(scontrol show node -o 2>/dev/null) || return 1
  [ "$(grep -c '^NodeName=' <<<"$out")" -eq "$nodes" ] || return 1
  ! grep -qE 'State=[A-Z+_]*(DOWN|DRAIN|FAIL|NOT_RESPONDING|UNKNOWN)' <<<"$out"
}

cmd_up() {
  local c
  for c in munged munge slurmctld slurmd sinfo scontrol; do
    command -v "$c" >/dev/null || rc=3 die "'$c' not found; install Slurm with tools/install-deps.sh"
  done
  [ "$(id -u)" -eq 0 ] || rc=3 die "slurmd must run as root (it starts jobs as their user); rerun as root"
  mkdir -p "$dir"/{munge,run,log,ctld,spool}
  chmod 700 "$dir/munge"
  export SLURM_CONF=$conf
  if [ -z "$(alive "$dir/run/slurmctld.pid")" ] || [ ! -s "$conf" ]; then write_conf; fi
  start_munge
  start_ctld
  local n
  since=$(date -d "@$(($(date +%s) - 1))" +%Y-%m-%dT%H:%M:%S)
  for n in $(node_names); do
    [ -n "$(alive "$dir/run/slurmd-$n.pid")" ] && continue
    start_slurmd "$n"
    started+=("$n")
  done
  local ok=0 stuck
  if wait_for 30 registered; then
    # Nodes left drained or down by an earlier run come back.
    stuck=$(sinfo -h -N -t drain,down,fail -o '%N' 2>/dev/null | sort -u | paste -sd, -)
    [ -z "$stuck" ] || scontrol update nodename="$stuck" state=resume >/dev/null 2>&1 || true
    wait_for 10 all_ready && ok=1
  fi
  if ((ok == 0)); then
    sinfo -N >&2 || true
    for n in $(node_names); do log_tail "$dir/log/slurmd-$n.log"; done
    die "nodes did not become ready within 40 s (logs in $dir/log)"
  fi
}

# Our slurmstepd processes: they keep our log folder open.
our_stepds() {
  local p
  for p in $(pgrep -x slurmstepd 2>/dev/null || true); do
    ls -l "/proc/$p/fd" 2>/dev/null | grep -q "$dir/" && echo "$p"
  done
}
tree_of() { local c; for c in $(pgrep -P "$1" 2>/dev/null || true); do tree_of "$c"; done; echo "$1"; }

# TERM every daemon at once, wait up to 10 s, then KILL what is left.
stop_all() {
  local f p pids=()
  for f in "$@"; do
    p=$(alive "$f") && { pids+=("$p"); kill "$p" 2>/dev/null || true; }
  done
  none_left() { local q; for q in "${pids[@]}"; do kill -0 "$q" 2>/dev/null && return 1; done; return 0; }
  ((${#pids[@]} == 0)) || wait_for 10 none_left || kill -9 "${pids[@]}" 2>/dev/null || true
  rm -f "$@"
}

cmd_down() {
  [ -d "$dir" ] || return 0
  export SLURM_CONF=$conf
  if [ -n "$(alive "$dir/run/slurmctld.pid")" ]; then
    # Jobs end before their slurmd does, so that no task outlives the cluster.
    scancel --quiet --user="$(id -un)" 2>/dev/null || true
    wait_for 15 bash -c '[ -z "$(squeue -h -o %i 2>/dev/null)" ]' || true
  fi
  stop_all "$dir"/run/slurmd-*.pid
  local p
  for p in $(our_stepds); do kill -9 $(tree_of "$p") 2>/dev/null || true; done
  stop_all "$dir/run/slurmctld.pid" "$dir/run/munged.pid"
}

cmd_status() {
  local n any=0
  export SLURM_CONF=$conf
  printf '%-10s %s\n' "munged" "$( [ -n "$(alive "$dir/run/munged.pid")" ] && echo running || echo stopped)"
  [ -n "$(alive "$dir/run/slurmctld.pid")" ] && any=1
  printf '%-10s %s\n' "slurmctld" "$( ((any)) && echo running || echo stopped)"
  for n in $(node_names); do
    printf '%-10s %s\n' "slurmd $n" "$( [ -n "$(alive "$dir/run/slurmd-$n.pid")" ] && echo running || echo stopped)"
  done
  echo "SLURM_CONF=$conf"
  if ((any)); then sinfo -N -o '%N %P %T %c' 2>/dev/null || true; return 0; fi
  return 1
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  -h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
