#!/usr/bin/env bash
# jobs.sh - `modus scan -j N`: wall time of -j 2 (and more) against -j 1.
#
#   bench/jobs.sh [MB] [RUNS] [JOBS...]   default 50 MB, 5 counted runs (+1 warm-up), -j 2
#
# Rule sets: the built-in pack; the pack and Elastic's 773 Windows endpoint
# rules (../shared/corpora/elastic-rules, converted by tests/cli/rules_to_toml.sh).
# Files: gen_ecs's default mix and its process-heavy mix (seed 42). Runs
# alternate -j 1 and -j N so that load from elsewhere falls on both. Prints
# medians of wall and CPU time (user+sys), the wall-time ratio -j 1 / -j N,
# peak RSS, and checks that the alerts are byte-identical. The load average
# before and after is printed: on a shared machine, read the ratio with it,
# or set NICE=-19 (root) so that the runs get the CPUs they ask for.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-50}
RUNS=${2:-5}
shift $(($# > 2 ? 2 : $#))
JOBS=("${@:-2}")
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
[ -x "$BUILD/modus" ] || { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BUILD" -j"$(nproc)" >/dev/null; }
DATA=${DATA:-bench/data}
mkdir -p "$DATA"
cc -O2 -std=c11 -o "$DATA/gen_ecs" bench/gen_ecs.c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash tests/cli/rules_to_toml.sh "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" "$tmp/all" >/dev/null 2>&1
mkdir -p "$tmp/win"
cp "$tmp"/all/behavior/rules/windows/*.toml "$tmp/win/"
echo "nice: ${NICE:-0}; machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
printf '| file | rules | -j | wall s (median) | CPU s (median) | wall -j 1 / -j N | peak RSS MB | alerts identical |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for mix in default process; do
    file="$DATA/events_${MB}MB.ndjson"
    [ "$mix" = default ] || file="$DATA/events_${MB}MB_$mix.ndjson"
    [ -f "$file" ] || "$DATA/gen_ecs" "${MB}000000" 42 "$mix" >"$file"
    for set in pack pack+773; do
        rules=()
        [ "$set" = pack+773 ] && rules=(--rules rules --rules "$tmp/win")
        for ((r = 0; r <= RUNS; r++)); do
            for j in 1 "${JOBS[@]}"; do
                ${NICE:+nice -n "$NICE"} /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$BUILD/modus" scan -q -j "$j" "${rules[@]}" "$file" >"$tmp/out.$j" 2>/dev/null
                [ "$r" -eq 0 ] && continue
                read -r wall user sys rss <"$tmp/t"
                echo "$wall $(echo "$user + $sys" | bc -l) $rss" >>"$tmp/$mix.$set.$j"
            done
        done
        w1=$(cut -d' ' -f1 "$tmp/$mix.$set.1" | median)
        for j in 1 "${JOBS[@]}"; do
            w=$(cut -d' ' -f1 "$tmp/$mix.$set.$j" | median)
            c=$(cut -d' ' -f2 "$tmp/$mix.$set.$j" | median)
            m=$(cut -d' ' -f3 "$tmp/$mix.$set.$j" | sort -n | tail -1)
            same=yes
            cmp -s "$tmp/out.1" "$tmp/out.$j" || same=NO
            printf '| %s | %s | %s | %.2f | %.2f | %.2fx | %.1f | %s (%s) |\n' "$mix" "$set" "$j" "$w" "$c" \
                "$(echo "$w1 / $w" | bc -l)" "$(echo "$m / 1024" | bc -l)" "$same" "$(wc -l <"$tmp/out.$j")"
        done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
