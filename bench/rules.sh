#!/usr/bin/env bash
# rules.sh - rule evaluation throughput, rule-count scaling and memory.
#
#   bench/rules.sh [MB] [RUNS]     default 50 MB, 3 counted runs (+1 warm-up)
#
# Rule sets: modus's default pack; N of Elastic's public Windows endpoint
# rules (../shared/corpora/elastic-rules, converted to TOML by
# tests/cli/rules_to_toml.sh; N = 10, 100, all 773) plus the pack. Baselines in
# the same run: `modus scan --no-rules` (decode + classify), jq with one filter
# (select on event.category), and pack+773 on the tree walker
# (MODUS_PROGRAMS=off). Two files: gen_ecs's default mix and its process-heavy
# mix (MIX=process: a third process events, 20 k+ entity ids). Medians of CPU
# time (user+sys); events/s from the CPU median; peak RSS max; then the
# candidate rules per event of pack+773 (--profile). Every modus scan runs with
# -j 1 (scan defaults to one thread per CPU), so CPU time and RSS are one thread's.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-50}
RUNS=${2:-3}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
[ -x "$BUILD/modus" ] || { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BUILD" -j"$(nproc)" >/dev/null; }
DATA=${DATA:-bench/data}
mkdir -p "$DATA"
MIX=${MIX:-default}
cc -O2 -std=c11 -o "$DATA/gen_ecs" bench/gen_ecs.c
file="$DATA/events_${MB}MB.ndjson"
[ "$MIX" = default ] || file="$DATA/events_${MB}MB_$MIX.ndjson"
[ -f "$file" ] || "$DATA/gen_ecs" "${MB}000000" 42 "$MIX" >"$file"
events=$(wc -l <"$file")
bytes=$(stat -c %s "$file")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash tests/cli/rules_to_toml.sh "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" "$tmp/all" >/dev/null
win=("$tmp"/all/behavior/rules/windows/*.toml)
for n in 10 100 ${#win[@]}; do
    mkdir -p "$tmp/w$n"
    cp "${win[@]:0:$n}" "$tmp/w$n/"
done
declare -A cmd=(
    [jq-1-filter]="jq -c 'select(.event.category[0] == \"process\")' $file"
    [no-rules]="$BUILD/modus scan -j 1 -q --no-rules $file"
    [tree-walker+773]="MODUS_PROGRAMS=off $BUILD/modus scan -j 1 -q --rules rules --rules $tmp/w${#win[@]} $file"
    [pack]="$BUILD/modus scan -j 1 -q $file"
    [pack+10]="$BUILD/modus scan -j 1 -q --rules rules --rules $tmp/w10 $file"
    [pack+100]="$BUILD/modus scan -j 1 -q --rules rules --rules $tmp/w100 $file"
    [pack+${#win[@]}]="$BUILD/modus scan -j 1 -q --rules rules --rules $tmp/w${#win[@]} $file"
)
order=(jq-1-filter no-rules pack pack+10 pack+100 "pack+${#win[@]}" tree-walker+773)
[ -n "${NO_JQ:-}" ] && order=("${order[@]:1}")
for ((r = 0; r <= RUNS; r++)); do
    for name in "${order[@]}"; do
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" sh -c "${cmd[$name]} >/dev/null 2>&1"
        [ "$r" -eq 0 ] && continue
        read -r wall user sys rss <"$tmp/t"
        echo "$wall $(echo "$user + $sys" | bc -l) $rss" >>"$tmp/$name.times"
    done
done
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
base=$(cut -d' ' -f2 "$tmp/no-rules.times" | median)
printf '| program | rules | CPU s (median) | events/s (CPU) | MB/s (CPU) | x --no-rules | peak RSS MB |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for name in "${order[@]}"; do
    cpu=$(cut -d' ' -f2 "$tmp/$name.times" | median)
    rss=$(cut -d' ' -f3 "$tmp/$name.times" | sort -n | tail -1)
    case $name in jq*) nr=1 ;; no-rules) nr=0 ;; pack) nr=$(ls rules/*.toml | wc -l) ;;
        tree-walker*) nr=$(($(ls rules/*.toml | wc -l) + ${#win[@]})) ;;
        *) nr=$(($(ls rules/*.toml | wc -l) + ${name#pack+})) ;; esac
    printf '| %s | %s | %.2f | %.0f | %.1f | %.2f | %.1f |\n' "$name" "$nr" "$cpu" \
        "$(echo "$events / $cpu" | bc -l)" "$(echo "$bytes / 1000000 / $cpu" | bc -l)" \
        "$(echo "$cpu / $base" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
done
p10=$(cut -d' ' -f2 "$tmp/pack+10.times" | median)
pall=$(cut -d' ' -f2 "$tmp/pack+${#win[@]}.times" | median)
printf '\npack+10 -> pack+%s: %.2fx\n' "${#win[@]}" "$(echo "$pall / $p10" | bc -l)"
$BUILD/modus scan -j 1 -q --profile --rules rules --rules "$tmp/w${#win[@]}" "$file" 2>&1 >/dev/null |
    grep -E 'candidate rules|tree walker$'
echo
echo "file: $file ($MIX mix), $bytes bytes, $events events; $RUNS runs; $(nproc) cores; $(uname -r); $(date -u +%F)"
