#!/usr/bin/env bash
# evtx.sh - EVTX records per CPU second: modus (default rule pack, and decode
# only) against evtxexport -f xml (libevtx's own tool: parse + render XML,
# no mapping, no rules), over the same files in the same run.
#
#   bench/evtx.sh [COPIES] [RUNS]     default 100 copies of each EVTX file of
#                                     ../shared/corpora/evtx, 5 runs (+1 warm-up)
#
# The corpus files are small (168 records in 10 files), so each is listed
# COPIES times (symbolic links). evtxexport takes one file per process, so it
# runs once per file; modus runs both ways: one process over every file, and
# one process per file like evtxexport. Programs alternate so noise hits all
# alike; medians of CPU time (user+sys).
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-100}
RUNS=${2:-5}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
[ -x "$BUILD/modus" ] || { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BUILD" -j"$(nproc)" >/dev/null; }
command -v evtxexport >/dev/null || { echo "bench: evtxexport is needed (apt-get install libevtx-utils)" >&2; exit 2; }
src=$(cd "$SHARED/corpora/evtx" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$COPIES"); do
    for f in "$src"/*.evtx; do ln -s "$f" "$tmp/$i-$(basename "$f")"; done
done
files=("$tmp"/*.evtx)
records=$("$BUILD/modus" scan -q --no-rules --summary "${files[@]}" 2>&1 >/dev/null | grep -Eo 'scanned [0-9]+' | grep -Eo '[0-9]+' || true)
[ -n "$records" ] || records=$("$BUILD/modus" scan -q --enrich --format json "${files[@]}" 2>/dev/null | wc -l)
printf '%s\n' "${files[@]}" >"$tmp/list"

declare -A cmd=(
    [modus-pack]="$BUILD/modus scan -q ${files[*]} >/dev/null"
    [modus-decode]="$BUILD/modus scan -q --no-rules ${files[*]} >/dev/null"
    [modus-per-file]="while read -r f; do $BUILD/modus scan -q \"\$f\" >/dev/null; done <$tmp/list"
    [evtxexport-per-file]="while read -r f; do evtxexport -f xml \"\$f\" >/dev/null 2>&1; done <$tmp/list"
)
order=(modus-pack modus-decode modus-per-file evtxexport-per-file)
for run in $(seq 0 "$RUNS"); do
    for p in "${order[@]}"; do
        /usr/bin/time -f "%U %S %e" -o "$tmp/t" bash -c "${cmd[$p]}"
        [ "$run" -eq 0 ] && continue # warm-up
        awk -v p="$p" '{ printf "%s %.3f %.3f\n", p, $1 + $2, $3 }' "$tmp/t" >>"$tmp/results"
    done
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf '%s records (%s files) per run, %s runs, medians\n\n' "$records" "${#files[@]}" "$RUNS"
printf '| program | CPU s | wall s | records/s per CPU s |\n|---|---|---|---|\n'
for p in "${order[@]}"; do
    cpu=$(awk -v p="$p" '$1 == p { print $2 }' "$tmp/results" | median)
    wall=$(awk -v p="$p" '$1 == p { print $3 }' "$tmp/results" | median)
    printf '| %s | %s | %s | %s |\n' "$p" "$cpu" "$wall" "$(awk -v r="$records" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')"
done
