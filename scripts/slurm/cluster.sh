#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (Debian's slurmctld + slurmd + munge), without
# systemd: for the sharding test and for trying scripts/slurm/ttsd-array.sbatch before a real
# cluster. Everything SLURM writes lives under DIR; commands that should talk to this cluster
# need SLURM_CONF=DIR/slurm.conf (printed by `start` and `env`).
#
#   bash scripts/slurm/cluster.sh start [DIR]    # default DIR: /tmp/ttsd-slurm
#   bash scripts/slurm/cluster.sh env [DIR]      # prints: export SLURM_CONF=...
#   bash scripts/slurm/cluster.sh stop [DIR]
#
# The node is declared with this machine's CPUs and memory (slurmd -C); jobs are tracked as
# plain processes (proctrack/linuxproc: no cgroups needed in a container) and scheduled per
# CPU (cons_tres, CR_CPU), so an array of 1-CPU jobs runs side by side. Jobs run as the
# submitting user; the daemons run as root (root is needed to start slurmd).
set -euo pipefail
action=${1:?usage: cluster.sh start|stop|env [DIR]}
dir=$(realpath -m "${2:-/tmp/ttsd-slurm}")
conf=$dir/slurm.conf

need() { command -v "$1" >/dev/null 2>&1 || { echo "cluster.sh: $1 not found (apt-get install slurmctld slurmd slurm-client munge; scripts/setup.sh does)" >&2; exit 1; }; }

start_munge() {
  # munged refuses to run as root; Debian's package made the munge user and its key.
  if [ -S /run/munge/munge.socket.2 ] && munge -n >/dev/null 2>&1; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && return; sleep 0.1; done
  echo "cluster.sh: munged did not start" >&2; exit 1
}

write_conf() {
  local node cpus mem host
  host=$(hostname -s)
  node=$(slurmd -C | head -1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  cat >"$conf" <<CONF
ClusterName=ttsd
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ttsd Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

case "$action" in
  start)
    need slurmctld; need slurmd; need munged; need sbatch
    [ "$(id -u)" = 0 ] || { echo "cluster.sh: start needs root (slurmd and munged)" >&2; exit 1; }
    export SLURM_CONF=$conf
    if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
      echo "export SLURM_CONF=$conf"; exit 0
    fi
    start_munge
    write_conf
    slurmctld -c -i   # -c: a clean start (no jobs from an earlier cluster in DIR)
    slurmd
    for _ in $(seq 100); do
      if sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then echo "export SLURM_CONF=$conf"; exit 0; fi
      sleep 0.2
    done
    echo "cluster.sh: the node did not come up (logs in $dir/log)" >&2; sinfo >&2 || true; exit 1
    ;;
  env) echo "export SLURM_CONF=$conf" ;;
  stop)
    for d in slurmd slurmctld; do
      if [ -f "$dir/$d.pid" ]; then kill "$(cat "$dir/$d.pid")" 2>/dev/null || true; fi
    done
    for _ in $(seq 50); do
      alive=0
      for d in slurmd slurmctld; do [ -f "$dir/$d.pid" ] && kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break; sleep 0.1
    done
    ;;
  *) echo "usage: cluster.sh start|stop|env [DIR]" >&2; exit 2 ;;
esac
