# lib.sh - helpers shared by the real-kernel tests (tests/live/*.sh), on top
# of tests/cli/lib.sh: the root/BTF guard and starting/stopping the sensor.
. "$(dirname "$0")/../cli/lib.sh"

# Exit 77 (skipped) unless root on a kernel with BTF.
live_require() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the real-kernel tests need root (they load eBPF programs)"
        exit 77
    fi
    if [ ! -r /sys/kernel/btf/vmlinux ]; then
        echo "SKIP: this kernel has no BTF (/sys/kernel/btf/vmlinux)"
        exit 77
    fi
}

# sensor_start ERRFILE ARGS...: runs `modus live ARGS...` in the background,
# sets SENSOR to its pid and waits until it says "ready" (up to 20 s).
# Returns 1, with its messages on stderr, when it did not start.
SENSOR=
sensor_start() {
    local err=$1
    shift
    rm -f "$err" # a reused file's old "ready" must not count
    "$MODUS" live "$@" 2>"$err" &
    SENSOR=$!
    for _ in $(seq 100); do
        grep -q "ready" "$err" 2>/dev/null && return 0
        kill -0 "$SENSOR" 2>/dev/null || break
        sleep 0.2
    done
    echo "FAIL: the sensor did not start:" >&2
    cat "$err" >&2
    return 1
}

# sensor_stop: SIGINT, wait; returns the sensor's exit status.
sensor_stop() {
    [ -n "$SENSOR" ] || return 0
    kill -INT "$SENSOR"
    wait "$SENSOR"
    local rc=$?
    SENSOR=
    return $rc
}

# live_descendants FILE PID: the pids descended from PID (not PID itself),
# from the fork and exec events in FILE, space-separated
live_descendants() {
    jq -r 'select(.event.kind == "event" and (.event.action == "fork" or .event.action == "exec")) | "\(.process.pid) \(.process.parent.pid)"' "$1" |
        python3 -c 'import sys
kids = {}
for l in sys.stdin:
    c, p = l.split()
    kids.setdefault(p, set()).add(c)
seen, todo = set(), [sys.argv[1]]
while todo:
    for c in kids.get(todo.pop(), ()):
        if c not in seen:
            seen.add(c)
            todo.append(c)
print(" ".join(sorted(seen)))' "$2"
}
