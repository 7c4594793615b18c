# lib.sh - the fleet tests' own NATS servers, on loopback ports only: one
# node, or a 3-node JetStream cluster; started from configs written here (the
# partition mapping and accounts as docs/fleet.md shows them), stopped on exit.
# Needs MODUS and NATSUTIL; sources tests/cli/lib.sh (check, expect_eq, finish).
. "$(dirname "$0")/../cli/lib.sh"
: "${NATSUTIL:?NATSUTIL must point at the natsutil test helper}"
command -v nats-server >/dev/null || {
    echo "FAIL: nats-server is not installed (scripts/deps.sh test)" >&2
    echo "0 passed, 1 failed"
    exit 1
}
SERVERS=() # pids
CHILDREN=() # other background processes to stop
fleet_cleanup() {
    for p in "${CHILDREN[@]}" "${SERVERS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap fleet_cleanup EXIT

# a free loopback port (nothing listens on it now)
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || {
            echo $p
            return
        }
    done
}

# mapping block for N partitions (what `modus fleet init --partitions N` prints)
mapping() {
    printf 'mappings = {\n  "modus.events.*": "modus.events.{{wildcard(1)}}.{{partition(%s,1)}}"\n}\n' "$1"
}

# start_node NAME CONF: runs nats-server -c CONF, its log in $TMP/NAME.log
start_node() {
    nats-server -c "$2" >"$TMP/$1.log" 2>&1 &
    SERVERS+=($!)
    eval "PID_$1=$!"
}

# wait_js URL [SECONDS]: until JetStream answers (a cluster: its meta leader is elected)
wait_js() {
    local n=$((${2:-30} * 10))
    for _ in $(seq $n); do
        "$NATSUTIL" "$1" ping 2>/dev/null && return 0
        sleep 0.1
    done
    echo "FAIL: no JetStream at $1" >&2
    return 1
}

# single_node NAME PARTITIONS [EXTRA]: one node; sets URL_NAME and PORT_NAME
single_node() {
    local name=$1 port
    port=$(free_port)
    mkdir -p "$TMP/$name.js"
    {
        echo "server_name: $name"
        echo "listen: 127.0.0.1:$port"
        echo "jetstream { store_dir: \"$TMP/$name.js\" }"
        mapping "$2"
        echo "${3:-}"
    } >"$TMP/$name.conf"
    start_node "$name" "$TMP/$name.conf"
    eval "PORT_$name=$port URL_$name=nats://127.0.0.1:$port"
}

# cluster PARTITIONS: nodes c1 c2 c3 in one JetStream cluster; sets CLUSTER_URL
# (all three), URL_c1.. and PORT_c1..
cluster() {
    local ports=() routes=() i
    for i in 1 2 3; do
        ports+=("$(free_port) $(free_port)")
    done
    for i in 1 2 3; do
        routes+=("\"nats-route://127.0.0.1:${ports[$((i - 1))]#* }\"")
    done
    for i in 1 2 3; do
        local cp=${ports[$((i - 1))]% *} rp=${ports[$((i - 1))]#* }
        mkdir -p "$TMP/c$i.js"
        {
            echo "server_name: c$i"
            echo "listen: 127.0.0.1:$cp"
            echo "jetstream { store_dir: \"$TMP/c$i.js\" }"
            echo "cluster { name: modus-test, listen: \"127.0.0.1:$rp\", routes: [ $(IFS=,; echo "${routes[*]}") ] }"
            mapping "$1"
        } >"$TMP/c$i.conf"
        start_node "c$i" "$TMP/c$i.conf"
        eval "PORT_c$i=$cp URL_c$i=nats://127.0.0.1:$cp"
    done
    CLUSTER_URL="nats://127.0.0.1:${ports[0]% *},nats://127.0.0.1:${ports[1]% *},nats://127.0.0.1:${ports[2]% *}"
}

# restart_node NAME: the same config and store again
restart_node() {
    start_node "$1" "$TMP/$1.conf"
}

# kill_node NAME SIGNAL
kill_node() {
    local v="PID_$1"
    kill "-$2" "${!v}" 2>/dev/null
    wait "${!v}" 2>/dev/null
}

# wait_drained URL STREAM SECONDS: until every consumer of STREAM has
# acknowledged everything
wait_drained() {
    local n=$(($3 * 5)) left
    for _ in $(seq $n); do
        left=$("$NATSUTIL" "$1" pending "$2" 2>&1)
        [ "$left" = 0 ] && return 0
        sleep 0.2
    done
    echo "  $2: still pending: $left" >&2
    return 1
}

# wait_for FILE PATTERN SECONDS
wait_for() {
    local n=$(($3 * 10))
    for _ in $(seq $n); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# FNV-1a 32 of a host token modulo N: the partition nats-server maps it to
partition_of() {
    python3 -c 'import sys
h=2166136261
for b in sys.argv[1].encode(): h=((h^b)*16777619)&0xffffffff
print(h%int(sys.argv[2]))' "$1" "$2"
}

# skip (exit 77) unless modus live can run: root and a kernel with BTF
need_sensor() {
    if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
        echo "SKIP: modus live needs root and a kernel with BTF"
        exit 77
    fi
}
