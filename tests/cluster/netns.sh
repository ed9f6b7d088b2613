# tests/cluster/netns.sh - sourced: "hosts" on one machine as network
# namespaces joined by a bridge in a namespace of their own, on a private
# subnet that exists only inside them, and an rsh agent that lets Open MPI
# start its daemons in them. Needs root and iproute2. Defines:
#   netns_up N DIR    hosts 1..N at 10.77.0.1..N; writes DIR/hosts<N> (slots=1
#                     each) and DIR/agent; sets NETNS_MCA (launch/run.sh options)
#   netns_exec I CMD  run CMD in host I (mpirun starts there)
#   netns_pid I NAME  the pid of process NAME in host I (empty if none)
#   netns_cut I / netns_mend I   take host I's link down / up
#   netns_clear I     kill whatever still runs in host I
#   netns_ps          what runs in each host
#   netns_down        kill everything left in the namespaces, delete them
# Names carry this shell's pid, so that runs side by side do not meet.
NETNS_P="trn$$"
NETNS_N=0
NETNS_NET=10.77.0.0/24

netns_up() {
    local n="$1" dir="$2" i
    ip netns add "${NETNS_P}sw" || return 1
    NETNS_N=$n
    ip -n "${NETNS_P}sw" link set lo up
    ip -n "${NETNS_P}sw" link add br0 type bridge
    ip -n "${NETNS_P}sw" link set br0 up
    for i in $(seq 1 "$n"); do
        ip netns add "${NETNS_P}h$i"
        ip link add eth0 netns "${NETNS_P}h$i" type veth peer name p$i netns "${NETNS_P}sw"
        ip -n "${NETNS_P}sw" link set "p$i" master br0 up
        ip -n "${NETNS_P}h$i" addr add "10.77.0.$i/24" dev eth0
        ip -n "${NETNS_P}h$i" link set eth0 up
        ip -n "${NETNS_P}h$i" link set lo up
    done
    # Open MPI hands the agent the host's name (its address) and the daemon's command.
    {
        echo '#!/bin/sh'
        echo 'host="$1"; shift'
        echo 'case "$host" in'
        for i in $(seq 1 "$n"); do echo "    10.77.0.$i) ns=${NETNS_P}h$i ;;"; done
        echo '    *) echo "agent: no test host $host" >&2; exit 255 ;;'
        echo 'esac'
        echo 'exec ip netns exec "$ns" sh -c "$*"'
    } >"$dir/agent"
    chmod +x "$dir/agent"
    for i in $(seq 1 "$n"); do
        : >"$dir/hosts$i"
        for j in $(seq 1 "$i"); do echo "10.77.0.$j slots=1" >>"$dir/hosts$i"; done
    done
    # every "host" would bind its rank to core 0: unbound, they share the cores
    NETNS_MCA=(--net "$NETNS_NET" --mca plm_rsh_agent "$dir/agent" --mca plm_rsh_no_tree_spawn 1
               --mca btl tcp,self --mca pml ob1 --mca hwloc_base_binding_policy none)
}

netns_exec() { local i="$1"; shift; ip netns exec "${NETNS_P}h$i" "$@"; }

netns_pid() {
    local p
    for p in $(ip netns pids "${NETNS_P}h$1" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && { echo "$p"; return; }
    done
}

netns_ps() { # what runs in each host (for a failing test's report)
    local i
    for i in $(seq 1 "$NETNS_N"); do
        echo "host $i: $(ip netns pids "${NETNS_P}h$i" 2>/dev/null | xargs -r ps -o comm= -p | tr '\n' ' ')"
    done
}

netns_cut() { ip -n "${NETNS_P}sw" link set "p$1" down; }
# Up again, and back only once host I and every other host reach each
# other: a neighbour entry that failed during the cut answers "no route to
# host" at once, and a daemon started then gives up on its first connect.
netns_mend() {
    local i="$1" j k
    ip -n "${NETNS_P}sw" link set "p$i" up
    for j in $(seq 1 "$NETNS_N"); do
        [ "$j" = "$i" ] && continue
        for k in $(seq 1 50); do
            # port 9 is closed: "refused" means the host answered
            netns_reaches "$i" "$j" && netns_reaches "$j" "$i" && break
            sleep 0.1
        done
    done
}
netns_reaches() { # netns_reaches I J: host I gets an answer from host J
    ip netns exec "${NETNS_P}h$1" bash -c "exec 3<>/dev/tcp/10.77.0.$2/9" 2>&1 | grep -q refused
}

netns_clear() { # kill what is left in host I (a failed job's rank or daemon)
    local p
    for p in $(ip netns pids "${NETNS_P}h$1" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
}

netns_down() {
    local ns p
    for ns in $(ip netns list 2>/dev/null | cut -d ' ' -f 1 | grep "^${NETNS_P}" || true); do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
