#!/bin/sh
# slurm-cluster.sh start|stop DIR - a one-node Slurm cluster of its own in DIR, for the tuner's Slurm
# test (tests/sh/tune_slurm.sh) and for trying `kiln tune --slurm` by hand. Needs root and Debian's
# slurm-wlm and munge. Everything lives in DIR: a munge key and socket, slurm.conf (its own ports,
# state and spool folders; SlurmUser root; process tracking by /proc, no task plugin, so that it
# runs in a container without cgroups), the daemons' logs and pid files. Clients use it with
#   SLURM_CONF=DIR/slurm.conf sbatch ...
# `start` exits 0 once the node is idle, 1 (with the logs' tails) if it does not come up within
# 30 s, 77 if slurm or munge is not installed or this is not root. `stop` ends the daemons that
# `start` recorded in DIR, and only those.
set -u
cmd=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=${2:?usage: slurm-cluster.sh start|stop DIR}
PORT=${KILN_SLURM_PORT:-$((20000 + $$ % 20000 * 2))} # two ports: a run beside another does not meet it

need() { command -v "$1" >/dev/null 2>&1 || { echo "slurm-cluster.sh: $1 is not installed (apt-get install slurm-wlm munge)"; exit 77; }; }

stop() {
  for d in slurmd slurmctld munged; do
    f="$dir/$d.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    i=0
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -f "$f"
  done
}

start() {
  for t in munged slurmctld slurmd sbatch sinfo; do need $t; done
  [ "$(id -u)" = 0 ] || { echo "slurm-cluster.sh: the daemons run as root here (SlurmUser root): not root"; exit 77; }
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 400 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" ||
    { echo "slurm-cluster.sh: munged did not start"; cat "$dir/munged.log" 2>/dev/null; exit 1; }
  host=$(hostname -s)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=kilntune
SlurmctldHost=$host
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -i || { echo "slurm-cluster.sh: slurmctld did not start"; tail -20 "$dir/slurmctld.log"; stop; exit 1; }
  slurmd || { echo "slurm-cluster.sh: slurmd did not start"; tail -20 "$dir/slurmd.log"; stop; exit 1; }
  i=0
  while [ $i -lt 300 ]; do
    state=$(sinfo -h -o %t 2>/dev/null | head -1)
    case "$state" in idle*|mix*) echo "slurm-cluster.sh: node $host is $state (SLURM_CONF=$dir/slurm.conf)"; return 0 ;; esac
    sleep 0.1; i=$((i + 1))
  done
  echo "slurm-cluster.sh: the node did not become idle (state '$state')"
  tail -20 "$dir/slurmctld.log" "$dir/slurmd.log"
  stop
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm-cluster.sh start|stop DIR"; exit 2 ;;
esac
