#!/usr/bin/env bash
# live.sh - what modus live costs (root). Results go in BENCHMARKS.md.
#   1. a compile workload (gcc -O2 -c of modus's own C sources, make -j2),
#      sensor off and on, alternated ROUNDS times: median wall and CPU time;
#      the sensor's own CPU, and how much of it was spent before "ready"
#      (loading the eBPF programs: bench/bpf_verified.c says per program);
#   2. per-syscall cost on hooked paths, sensor off vs on (bench/live_load.c;
#      MODES="write pmemwrite" picks the kinds);
#   3. the event rate it sustains: mprotect RWX toggles as fast as one core
#      makes them, events seen vs lost; BPF program time per run
#      (kernel.bpf_stats_enabled) and the sensor's peak RSS.
#   With PUBLISH=1, section 1 also runs the sensor with --all-events
#   --publish to a nats-server on loopback (R1, this machine): the compile
#   workload off / on / on+publish, alternated. SECTIONS="1" runs only
#   section 1 (default "1 2 3"). With BASE=PATH (another build's modus,
#   e.g. main's), section 1 also runs that sensor, alternated with this one:
#   off / base / on in every round.
# Usage: [PUBLISH=1] [BASE=PATH] [SECTIONS="1 2 3"] bench/live.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
sections=${SECTIONS:-1 2 3}
[ "$(id -u)" -eq 0 ] || { echo "bench/live.sh: needs root" >&2; exit 2; }
M=${MODUS:-build/modus}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/load" bench/live_load.c
if [ "${PUBLISH:-0}" = 1 ]; then # a local broker for the --publish variant
    nport=$((20000 + RANDOM % 30000))
    printf 'listen: 127.0.0.1:%s\njetstream { store_dir: "%s/js" }\nmappings = { "modus.events.*": "modus.events.{{wildcard(1)}}.{{partition(2,1)}}" }\n' \
        "$nport" "$tmp" >"$tmp/nats.conf"
    nats-server -c "$tmp/nats.conf" >"$tmp/nats.log" 2>&1 &
    for _ in $(seq 50); do "$M" fleet init nats://127.0.0.1:$nport --partitions 2 2>/dev/null && break; sleep 0.2; done
fi

start_sensor() {
    rm -f "$tmp/err" # else a slow fork lets the wait below see the last run's "ready"
    "${SENSOR_BIN:-$M}" live --output "$tmp/alerts.ndjson" --stats-interval 0 "$@" 2>"$tmp/err" &
    sensor=$!
    until grep -q ready "$tmp/err" 2>/dev/null; do kill -0 $sensor || exit 1; sleep 0.1; done
}
sensor_cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' /proc/$sensor/stat; } # user+sys s
stop_sensor() {
    kill -INT $sensor
    wait $sensor || true
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) CPUs, $(uname -r), $(date -u +%F)"

# 1. compile workload
mkdir -p "$tmp/cc"
srcs=$(ls src/*/*.c src/*.c | tr '\n' ' ')
{
    echo "all: \$(patsubst %.c,%.o,\$(notdir $srcs))"
    echo "vpath %.c $(ls -d src/*/ | tr '\n' ':')src"
    echo "%.o: %.c"
    printf '\tgcc -O2 -D_GNU_SOURCE -I%s/include -I%s/src -I%s/bpf %s -c $< -o $@\n' "$PWD" "$PWD" "$(cd "$(dirname "$M")" && pwd)" \
        "$(pkg-config --cflags libpq libhs)"
} >"$tmp/cc/Makefile"
sed -i "s|vpath %.c |vpath %.c $PWD/|; s|:src/|:$PWD/src/|g; s|:src\$|:$PWD/src|" "$tmp/cc/Makefile"
compile() { # -> "wall cpu"
    rm -f "$tmp"/cc/*.o
    /usr/bin/time -f "%e %U %S" make -s -j2 -C "$tmp/cc" 2>&1 >/dev/null | tail -1 | awk '{print $1, $2+$3}'
}
compile >/dev/null # warm the page cache
touch "$tmp/cc.txt" "$tmp/sensor_cpu.txt" # SECTIONS without 1: the medians below read them
for r in $(seq "$rounds"); do
    [[ " $sections " == *" 1 "* ]] || break
    echo "off $(compile)" >>"$tmp/cc.txt"
    if [ -n "${BASE:-}" ]; then
        SENSOR_BIN=$BASE start_sensor
        echo "base_start $(sensor_cpu)" >>"$tmp/sensor_cpu.txt"
        echo "base $(compile)" >>"$tmp/cc.txt"
        echo "base $(sensor_cpu)" >>"$tmp/sensor_cpu.txt"
        stop_sensor
        cp "$tmp/err" "$tmp/err_base"
    fi
    start_sensor
    echo "on_start $(sensor_cpu)" >>"$tmp/sensor_cpu.txt"
    echo "on $(compile)" >>"$tmp/cc.txt"
    echo "on $(sensor_cpu)" >>"$tmp/sensor_cpu.txt"
    stop_sensor
    grep "stopped after" "$tmp/err" | sed 's/^/  /' >>"$tmp/cc_sensor.txt"
    if [ "${PUBLISH:-0}" = 1 ]; then
        start_sensor --all-events --publish nats://127.0.0.1:$nport --spool "$tmp/spool"
        echo "pub $(compile)" >>"$tmp/cc.txt"
        echo "pub $(sensor_cpu)" >>"$tmp/sensor_cpu.txt"
        stop_sensor
        grep -E "stopped after|at stop" "$tmp/err" | sed 's/^/  /' >>"$tmp/cc_pub.txt"
    fi
done
off_w=$(awk '$1=="off"{print $2}' "$tmp/cc.txt" | median)
on_w=$(awk '$1=="on"{print $2}' "$tmp/cc.txt" | median)
off_c=$(awk '$1=="off"{print $3}' "$tmp/cc.txt" | median)
on_c=$(awk '$1=="on"{print $3}' "$tmp/cc.txt" | median)
if [[ " $sections " == *" 1 "* ]]; then
echo
echo "1. compile workload ($(echo $srcs | wc -w) files, make -j2), $rounds rounds alternated, medians"
echo "   wall: off ${off_w}s, on ${on_w}s, overhead $(awk -v a="$off_w" -v b="$on_w" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}')"
echo "   CPU (user+sys of the build): off ${off_c}s, on ${on_c}s, overhead $(awk -v a="$off_c" -v b="$on_c" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}')"
tail -1 "$tmp/cc_sensor.txt"
on_s=$(awk '$1=="on"{print $2}' "$tmp/sensor_cpu.txt" | median)
on_s0=$(awk '$1=="on_start"{print $2}' "$tmp/sensor_cpu.txt" | median)
echo "   the sensor's own CPU during a build: ${on_s}s ($(awk -v a="$off_c" -v b="$on_s" 'BEGIN{printf "%.1f%%", b/a*100}') of the build's CPU), of which ${on_s0}s before it was ready (loading the eBPF programs)"
if [ -n "${BASE:-}" ]; then
    base_w=$(awk '$1=="base"{print $2}' "$tmp/cc.txt" | median)
    base_c=$(awk '$1=="base"{print $3}' "$tmp/cc.txt" | median)
    base_s=$(awk '$1=="base"{print $2}' "$tmp/sensor_cpu.txt" | median)
    base_s0=$(awk '$1=="base_start"{print $2}' "$tmp/sensor_cpu.txt" | median)
    echo "   BASE ($BASE): wall ${base_w}s ($(awk -v a="$off_w" -v b="$base_w" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}') vs off), CPU ${base_c}s ($(awk -v a="$off_c" -v b="$base_c" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}') vs off), its own CPU ${base_s}s (${base_s0}s before ready)"
    grep "stopped after" "$tmp/err_base" 2>/dev/null | tail -1 | sed 's/^/  BASE: /' || true
    echo "   this build vs BASE: wall $(awk -v a="$base_w" -v b="$on_w" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}'), build CPU $(awk -v a="$base_c" -v b="$on_c" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}'), sensor CPU $(awk -v a="$base_s" -v b="$on_s" 'BEGIN{printf "%+.2fs", b-a}')"
fi
if [ "${PUBLISH:-0}" = 1 ]; then
    pub_s=$(awk '$1=="pub"{print $2}' "$tmp/sensor_cpu.txt" | median)
    echo "   ... with --all-events --publish: ${pub_s}s ($(awk -v a="$off_c" -v b="$pub_s" 'BEGIN{printf "%.1f%%", b/a*100}') of the build's CPU; publishing adds $(awk -v a="$off_c" -v b="$pub_s" -v c="$on_s" 'BEGIN{printf "%.1f%%", (b-c)/a*100}'))"
    pub_w=$(awk '$1=="pub"{print $2}' "$tmp/cc.txt" | median)
    pub_c=$(awk '$1=="pub"{print $3}' "$tmp/cc.txt" | median)
    echo "   with --all-events --publish (R1 on loopback): wall ${pub_w}s ($(awk -v a="$off_w" -v b="$pub_w" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}') vs off), CPU ${pub_c}s ($(awk -v a="$off_c" -v b="$pub_c" 'BEGIN{printf "%+.1f%%", (b/a-1)*100}') vs off)"
    tail -2 "$tmp/cc_pub.txt"
fi
fi
[[ " $sections " == *" 2 "* ]] || [[ " $sections " == *" 3 "* ]] || exit 0

if [[ " $sections " == *" 2 "* ]]; then
# 2. per-syscall cost
echo
echo "2. ns per syscall, sensor off vs on (median of 5 runs each, alternated)"
for mode in ${MODES:-getppid rw open rwx write pmemwrite}; do
    n=200000
    [ $mode = rwx ] && n=20000
    for r in 1 2 3 4 5; do
        echo "off $("$tmp/load" $mode $n)" >>"$tmp/sys_$mode.txt"
        start_sensor
        echo "on $("$tmp/load" $mode $n)" >>"$tmp/sys_$mode.txt"
        stop_sensor
        if [ -n "${BASE:-}" ]; then
            M0=$M
            M=$BASE
            start_sensor
            echo "base $("$tmp/load" $mode $n)" >>"$tmp/sys_$mode.txt"
            stop_sensor
            M=$M0
        fi
    done
    off=$(awk '$1=="off"{print $2}' "$tmp/sys_$mode.txt" | median)
    on=$(awk '$1=="on"{print $2}' "$tmp/sys_$mode.txt" | median)
    printf "   %-9s off %7.0f ns  on %7.0f ns  x%.2f" $mode "$off" "$on" "$(awk -v a="$off" -v b="$on" 'BEGIN{print b/a}')"
    if [ -n "${BASE:-}" ]; then
        base=$(awk '$1=="base"{print $2}' "$tmp/sys_$mode.txt" | median)
        printf "  BASE %7.0f ns  x%.2f  (this build - BASE: %+.0f ns)" "$base" "$(awk -v a="$off" -v b="$base" 'BEGIN{print b/a}')" "$(awk -v a="$base" -v b="$on" 'BEGIN{print b-a}')"
    fi
    echo
done

fi

if [[ " $sections " == *" 3 "* ]]; then
# 3. event rate, BPF time per event, RSS
echo
echo "3. sustained rate: live_load rwx 200000 (400,000 mprotect calls, 200,000 events)"
sysctl -qw kernel.bpf_stats_enabled=1
start_sensor --all-events
"$tmp/load" rwx 200000 >/dev/null &
load=$!
t0=$(date +%s.%N)
wait $load
t1=$(date +%s.%N)
sleep 1
rss=$(awk '/VmHWM/{print $2}' /proc/$sensor/status)
bpftool prog show -j 2>/dev/null | jq -r '.[] | select(.name | test("^tp_")) | select(.run_cnt > 0) | "\(.name) \(.run_cnt) \(.run_time_ns)"' >"$tmp/progs.txt" || true
stop_sensor
sysctl -qw kernel.bpf_stats_enabled=0
events=$(grep -c '"action":"mprotect"' "$tmp/alerts.ndjson" || true)
echo "   generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", 200000/(b-a)}') events/s offered"
grep "stopped after" "$tmp/err" | sed 's/^/   /'
echo "   mprotect events written with --all-events: $events"
echo "   peak RSS of modus live: $((rss / 1024)) MB"
echo "   BPF program time (bpf_stats), per run:"
awk '{printf "     %-22s %9d runs  %6.0f ns/run\n", $1, $2, $3/$2}' "$tmp/progs.txt"
fi
