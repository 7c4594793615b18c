#!/usr/bin/env bash
# live_file.sh - what file events cost modus live (root). Results go in
# BENCHMARKS.md. A file-churn workload: a tarball of /usr/include made at
# bench time (thousands of headers), unpacked with tar, sensor off and on
# alternated ROUNDS times; medians of wall and CPU time (tar's user+sys),
# ratios against the sensor-off runs of the same round set, the records the
# kernel could not hand over (drops), and the file events written. Variants:
#   off       no sensor;
#   pack      the built-in pack (its derived file policy), unpacking into a
#             directory the policy covers (/tmp/...): one creation (and, with
#             --all-events, header) event per file, each with its stack;
#   outside   the same sensor, unpacking where the policy does not look
#             (/var/lib/...): the kernel's filter alone, against its own
#             sensor-off runs in that directory (off_out: another filesystem);
#   all       --file-policy all --all-events: every file reported.
# Usage: bench/live_file.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench/live_file.sh: needs root" >&2; exit 2; }
M=${MODUS:-build/modus}
tmp=$(mktemp -d /tmp/modus-bench-file.XXXXXX)
outside=$(mktemp -d /var/lib/modus-bench-file.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp" "$outside"' EXIT

start_sensor() {
    "$M" live --output "$tmp/out.ndjson" --stats-interval 0 "$@" 2>"$tmp/err" &
    sensor=$!
    until grep -q ready "$tmp/err" 2>/dev/null; do kill -0 $sensor || exit 1; sleep 0.1; done
}
stop_sensor() {
    sleep 1
    kill -INT $sensor
    wait $sensor || true
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) CPUs, $(uname -r), $(date -u +%F)"
tar -C /usr -cf "$tmp/inc.tar" include
nfiles=$(tar -tf "$tmp/inc.tar" | grep -vc '/$')
echo "tarball: /usr/include, $nfiles files, $(($(stat -c %s "$tmp/inc.tar") / 1048576)) MB"
unpack() { # DIR -> "wall cpu"
    rm -rf "$1/include"
    sync
    /usr/bin/time -f "%e %U %S" tar -C "$1" -xf "$tmp/inc.tar" 2>&1 | tail -1 | awk '{print $1, $2+$3}'
}
unpack "$tmp" >/dev/null # warm the page cache
for r in $(seq "$rounds"); do
    echo "off $(unpack "$tmp")" >>"$tmp/t.txt"
    echo "off_out $(unpack "$outside")" >>"$tmp/t.txt"
    start_sensor
    echo "outside $(unpack "$outside")" >>"$tmp/t.txt"
    stop_sensor
    grep "stopped after" "$tmp/err" | sed 's/^/  outside: /' >>"$tmp/sensor.txt"
    start_sensor
    echo "pack $(unpack "$tmp")" >>"$tmp/t.txt"
    stop_sensor
    grep "stopped after" "$tmp/err" | sed 's/^/  pack: /' >>"$tmp/sensor.txt"
    echo "off $(unpack "$tmp")" >>"$tmp/t.txt"
    start_sensor --file-policy all --all-events
    echo "all $(unpack "$tmp")" >>"$tmp/t.txt"
    stop_sensor
    grep "stopped after" "$tmp/err" | sed 's/^/  all: /' >>"$tmp/sensor.txt"
    echo "all_files $(grep -c '"category":\["file"\]' "$tmp/out.ndjson" || true)" >>"$tmp/n.txt"
    rm -f "$tmp/out.ndjson"
done
echo
echo "file churn: tar -xf of /usr/include ($nfiles files), $rounds rounds alternated, medians"
off_w=$(awk '$1=="off"{print $2}' "$tmp/t.txt" | median)
off_c=$(awk '$1=="off"{print $3}' "$tmp/t.txt" | median)
printf "   %-8s wall %6.2fs  CPU %6.2fs\n" off "$off_w" "$off_c"
oo_w=$(awk '$1=="off_out"{print $2}' "$tmp/t.txt" | median)
oo_c=$(awk '$1=="off_out"{print $3}' "$tmp/t.txt" | median)
printf "   %-8s wall %6.2fs  CPU %6.2fs   (sensor off, unpacking outside the policy: /var/lib)\n" off_out "$oo_w" "$oo_c"
for v in pack outside all; do
    w=$(awk -v v=$v '$1==v{print $2}' "$tmp/t.txt" | median)
    c=$(awk -v v=$v '$1==v{print $3}' "$tmp/t.txt" | median)
    bw=$off_w bc=$off_c
    [ $v = outside ] && bw=$oo_w bc=$oo_c
    printf "   %-8s wall %6.2fs (x%.2f)  CPU %6.2fs (x%.2f)\n" $v "$w" "$(awk -v a="$bw" -v b="$w" 'BEGIN{print b/a}')" \
        "$c" "$(awk -v a="$bc" -v b="$c" 'BEGIN{print b/a}')"
done
echo "   file events written with --all-events --file-policy all (median per round): $(awk '$1=="all_files"{print $2}' "$tmp/n.txt" | median)"
echo "   the sensor at stop, every round (events made, records lost in the kernel):"
cat "$tmp/sensor.txt"
