# tests/cluster/slurmd.sh - sourced: a one-node Slurm cluster of this machine,
# all of it (munge key and socket, slurm.conf, state, logs) in one folder:
#   slurm_up DIR    munged, slurmctld and slurmd; SLURM_CONF exported; waits
#                   until the node is idle (returns 1 if it never is, 2 if
#                   a Slurm already runs on this machine: not ours to touch)
#   slurm_idle      the node is idle and no job step of ours is still ending
#   slurm_down      cancels every job, stops the daemons, leaves DIR
# Nothing listens outside this machine's loopback ports 16817/16818.
slurm_dir=""
slurm_live() { # slurm_live NAME...: one of these runs (zombies aside: a container's init may not reap)
    local n
    for n in "$@"; do pgrep -x -r D,R,S,T "$n" >/dev/null && return 0; done
    return 1
}
slurm_up() {
    slurm_dir="$1"
    local d="$1" mem
    slurm_live slurmd slurmctld slurmstepd && return 2
    mkdir -p "$d/munge" "$d/msock" "$d/state" "$d/spool" "$d/log"
    chmod a+x "$(dirname "$d")" "$d"   # munged runs as munge: it must reach its folders
    chown munge:munge "$d/munge" "$d/msock"
    chmod 700 "$d/munge"
    chmod 755 "$d/msock"   # clients connect to the socket: the folder must be open to them
    mungekey --create --keyfile="$d/munge/key" >/dev/null 2>&1 || return 1
    chown munge:munge "$d/munge/key"
    chmod 400 "$d/munge/key"
    runuser -u munge -- munged --socket="$d/msock/sock" --key-file="$d/munge/key" \
        --pid-file="$d/munge/pid" --log-file="$d/munge/log" --seed-file="$d/munge/seed" || return 1
    mem=$(( $(awk '/^MemTotal/ { print $2 }' /proc/meminfo) / 2048 ))
    cat >"$d/slurm.conf" <<CONF
ClusterName=trtest
SlurmctldHost=$(hostname)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/msock/sock
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobRequeue=1
ReturnToService=2
KillWait=30
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
NodeName=$(hostname) CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$d/slurm.conf"
    slurmctld -f "$SLURM_CONF" || return 1
    slurmd -f "$SLURM_CONF" || return 1
    local k
    for k in $(seq 1 100); do
        sinfo -h -o %t 2>/dev/null | grep -q '^idle' && return 0
        sleep 0.2
    done
    return 1
}
slurm_idle() {
    sinfo -h -o %t 2>/dev/null | grep -q '^idle' && ! slurm_live slurmstepd
}
slurm_down() {
    [ -n "$slurm_dir" ] || return 0
    scancel --quiet --user=root 2>/dev/null || true
    local f p k
    for k in $(seq 1 200); do   # the jobs' slurmstepd end with them (KillWait is 30 s)
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && ! slurm_live slurmstepd && break
        sleep 0.2
    done
    for f in slurmd.pid slurmctld.pid munge/pid; do
        p="$(cat "$slurm_dir/$f" 2>/dev/null)" || continue
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    sleep 1
    # whatever of ours did not stop (by its command line: only our daemons name the folder so)
    pkill -KILL -f "^(slurmctld|slurmd) -f $slurm_dir/" 2>/dev/null || true
    pkill -KILL -f "^munged --socket=$slurm_dir/" 2>/dev/null || true
    pkill -KILL -x slurmstepd 2>/dev/null || true   # ours: slurm_up refuses to start beside another Slurm
    slurm_dir=""
}
