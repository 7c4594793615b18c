#!/usr/bin/env bash
# live_net.sh - what modus live's network hooks cost (root): (1) a loopback TCP
# connect/accept/close loop (bench/net_loop.c, 4 events with stacks per
# connection) with the sensor off, on (the default pack), and on with
# --all-events (every event decoded, unwound and written), alternated ROUNDS
# times in one run; medians of µs per connection, the ratio against off in
# the same run, and the records the kernel could not hand over (lost);
# (2) the cost of the DNS filter on every sendto(): 1-byte UDP datagrams to a
# loopback port that is not 53, off vs on.
# Results go in BENCHMARKS.md.
# Usage: bench/live_net.sh [ROUNDS (default 5)] [CONNECTIONS per run (default 20000)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
conns=${2:-20000}
[ "$(id -u)" -eq 0 ] || { echo "bench/live_net.sh: needs root" >&2; exit 2; }
M=${MODUS:-build/modus}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/net_loop" bench/net_loop.c

start_sensor() {
    rm -f "$tmp/err" # else a slow fork lets the wait below see the last run's "ready"
    "$M" live --stats-interval 0 "$@" 2>"$tmp/err" &
    sensor=$!
    until grep -q ready "$tmp/err" 2>/dev/null; do kill -0 $sensor || exit 1; sleep 0.1; done
}
stop_sensor() {
    kill -INT $sensor
    wait $sensor || true
    grep "stopped after" "$tmp/err" >>"$tmp/stops.txt"
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
"$tmp/net_loop" 2000 1 >/dev/null # warm up
for r in $(seq "$rounds"); do
    echo "off $("$tmp/net_loop" "$conns" 3)" >>"$tmp/res.txt"
    echo "off $("$tmp/net_loop" udp 200000 3)" >>"$tmp/udp.txt"
    start_sensor --output "$tmp/alerts.ndjson"
    echo "on $("$tmp/net_loop" "$conns" 3)" >>"$tmp/res.txt"
    echo "on $("$tmp/net_loop" udp 200000 3)" >>"$tmp/udp.txt"
    stop_sensor
    start_sensor --all-events --output /dev/null
    echo "all $("$tmp/net_loop" "$conns" 3)" >>"$tmp/res.txt"
    stop_sensor
done
off=$(awk '$1=="off"{print $2}' "$tmp/res.txt" | median)
on=$(awk '$1=="on"{print $2}' "$tmp/res.txt" | median)
all=$(awk '$1=="all"{print $2}' "$tmp/res.txt" | median)
echo "loopback connect+accept+close, $conns connections x 3 per run, $rounds rounds (µs per connection, median):"
printf '  sensor off                 %8.2f\n' "$off"
printf '  modus live                 %8.2f  (x%.2f)\n' "$on" "$(echo "$on / $off" | bc -l)"
printf '  modus live --all-events    %8.2f  (x%.2f)\n' "$all" "$(echo "$all / $off" | bc -l)"
echo "per round: $(tr '\n' ' ' <"$tmp/res.txt")"
uoff=$(awk '$1=="off"{print $2}' "$tmp/udp.txt" | median)
uon=$(awk '$1=="on"{print $2}' "$tmp/udp.txt" | median)
echo "UDP sendto() of 1 byte to 127.0.0.1 (not DNS: filtered in the kernel), ns per call, median:"
printf '  sensor off %6.0f   modus live %6.0f  (+%.0f ns)\n' "$uoff" "$uon" "$(echo "$uon - $uoff" | bc -l)"
echo "per round: $(tr '\n' ' ' <"$tmp/udp.txt")"
echo "sensor stops:"
sed 's/^/  /' "$tmp/stops.txt"
lost=$(grep -Eo '[0-9]+ lost in the kernel' "$tmp/stops.txt" | awk '{s+=$1} END{print s+0}')
echo "records lost in the kernel, all runs: $lost"
