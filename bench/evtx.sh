#!/usr/bin/env bash
# evtx.sh - EVTX records per CPU second: modus with the default rule pack,
# modus with every SigmaHQ Windows rule that compiles (when
# ../shared/corpora/sigma is there), modus decoding only, modus through
# libevtx (MODUS_EVTX_LIBEVTX=1), and evtxexport -f xml (libevtx's own tool:
# parse and render, no mapping, no rules), all over the same file in the same
# run.
#
#   bench/evtx.sh [MB] [RUNS]      default 200 MB, 5 runs (+1 warm-up)
#
# The file is made by bench/mkevtx.py from the intact chunks of
# ../shared/corpora/evtx/*.evtx, repeated (chunks are self-contained), so it
# holds real Sysmon, Security and System records. Programs alternate so noise
# hits all alike; medians of CPU time (user+sys) and of peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-200}
RUNS=${2:-5}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
DATA=${DATA:-bench/data}
[ -x "$BUILD/modus" ] || { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BUILD" -j"$(nproc)" >/dev/null; }
command -v evtxexport >/dev/null || { echo "bench: evtxexport is needed (apt-get install libevtx-utils)" >&2; exit 2; }
mkdir -p "$DATA"
file="$DATA/events_${MB}MB.evtx"
[ -f "$file" ] || python3 bench/mkevtx.py "$file" "$MB" "$SHARED"/corpora/evtx/*.evtx
records=$("$BUILD/modus" scan -q --enrich --format json "$file" 2>/dev/null | wc -l)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A cmd=(
    [modus-pack]="$BUILD/modus scan -q $file >/dev/null"
    [modus-decode]="$BUILD/modus scan -q --no-rules $file >/dev/null"
    [modus-libevtx]="MODUS_EVTX_LIBEVTX=1 $BUILD/modus scan -q $file >/dev/null"
    [evtxexport]="evtxexport -f xml $file >/dev/null 2>&1"
)
order=(modus-pack modus-decode modus-libevtx evtxexport)
if [ -d "$SHARED/corpora/sigma/rules/windows" ]; then
    cmd[modus-sigmahq]="$BUILD/modus scan -q --rules $SHARED/corpora/sigma/rules/windows $file >/dev/null 2>&1"
    order=(modus-pack modus-sigmahq modus-decode modus-libevtx evtxexport)
fi
for run in $(seq 0 "$RUNS"); do
    for p in "${order[@]}"; do
        /usr/bin/time -f "%U %S %e %M" -o "$tmp/t" bash -c "${cmd[$p]}"
        [ "$run" -eq 0 ] && continue # warm-up
        awk -v p="$p" '{ printf "%s %.3f %.3f %d\n", p, $1 + $2, $3, $4 }' "$tmp/t" >>"$tmp/results"
    done
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
printf '%s: %s records, %s MB; %s runs, medians\n\n' "$file" "$records" "$(($(stat -c %s "$file") / 1000000))" "$RUNS"
printf '| program | CPU s | wall s | records/s per CPU s | peak RSS MB |\n|---|---|---|---|---|\n'
for p in "${order[@]}"; do
    cpu=$(awk -v p="$p" '$1 == p { print $2 }' "$tmp/results" | median)
    wall=$(awk -v p="$p" '$1 == p { print $3 }' "$tmp/results" | median)
    rss=$(awk -v p="$p" '$1 == p { print $4 }' "$tmp/results" | median)
    printf '| %s | %s | %s | %s | %.0f |\n' "$p" "$cpu" "$wall" \
        "$(awk -v r="$records" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? r / c : 0) }')" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
done
