#!/usr/bin/env bash
# run.sh - decode+classify throughput and memory of `modus scan --enrich`
# against wc -l, cat and jq on the same generated ECS file, in the same run.
#
#   bench/run.sh [MB] [RUNS]      default 500 MB, 5 counted runs (+1 warm-up)
#
# Programs alternate (A B C A B C ...) so machine noise hits all alike; the
# table gives medians of CPU time (user+sys, both processes of a pipe) and
# wall time, MB/s and events/s from the CPU median, the median of per-run
# CPU-per-byte ratios to `wc -l` (read + newline scan: the floor), peak RSS. jq runs on a
# 50 MB slice (it is ~100x slower) and its rate is per MB of that slice.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-500}
RUNS=${2:-5}
BUILD=${BUILD:-build}
[ -x "$BUILD/modus" ] || { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BUILD" -j"$(nproc)" >/dev/null; }
command -v jq >/dev/null || { echo "bench: jq is needed (apt-get install jq)" >&2; exit 2; }
DATA=${DATA:-bench/data}
mkdir -p "$DATA"
gen="$DATA/gen_ecs"
cc -O2 -std=c11 -o "$gen" bench/gen_ecs.c
file="$DATA/events_${MB}MB.ndjson"
[ -f "$file" ] || "$gen" "${MB}000000" 42 >"$file"
slice="$DATA/events_50MB.ndjson"
[ -f "$slice" ] || "$gen" 50000000 42 >"$slice"
bytes=$(stat -c %s "$file")
events=$(wc -l <"$file")
sbytes=$(stat -c %s "$slice")
sevents=$(wc -l <"$slice")

declare -A cmd=(
    [wc-l]="wc -l $file"
    [cat]="cat $file | cat"
    [modus-summary]="$BUILD/modus scan -q --no-rules $file"
    [modus-enrich]="$BUILD/modus scan -q --enrich --format json $file"
    [jq]="jq -c . $slice"
)
order=(wc-l cat modus-summary modus-enrich jq)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((r = 0; r <= RUNS; r++)); do
    for name in "${order[@]}"; do
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" sh -c "${cmd[$name]} >/dev/null" 2>/dev/null
        [ "$r" -eq 0 ] && continue # warm-up
        read -r wall user sys rss <"$tmp/t"
        echo "$wall $(echo "$user + $sys" | bc -l) $rss" >>"$tmp/$name"
    done
done
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
printf '| program | input | CPU s (median) | wall s (median) | MB/s (CPU) | events/s (CPU) | x wc -l (CPU/byte) | peak RSS MB |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|\n'
for name in "${order[@]}"; do
    cpu=$(cut -d' ' -f2 "$tmp/$name" | median)
    wall=$(cut -d' ' -f1 "$tmp/$name" | median)
    rss=$(cut -d' ' -f3 "$tmp/$name" | sort -n | tail -1)
    b=$bytes e=$events in="${MB} MB"
    [ "$name" = jq ] && b=$sbytes e=$sevents in="50 MB"
    mbs=$(echo "$b / 1000000 / ($cpu + 0.0001)" | bc -l)
    eps=$(echo "$e / ($cpu + 0.0001)" | bc -l)
    ratio=$(paste -d' ' <(cut -d' ' -f2 "$tmp/$name") <(cut -d' ' -f2 "$tmp/wc-l") |
        awk -v s="$(echo "$b / $bytes" | bc -l)" '{print ($1 / s) / ($2 + 0.005)}' | median)
    printf '| %s | %s | %.3f | %.3f | %.0f | %.0f | %.1f | %.1f |\n' "$name" "$in" "$cpu" "$wall" "$mbs" "$eps" "$ratio" "$(echo "$rss / 1024" | bc -l)"
done
echo
echo "file: $file, $bytes bytes, $events events; $RUNS runs; $(nproc) cores; $(uname -r)"
