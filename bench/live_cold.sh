#!/usr/bin/env bash
# live_cold.sh - first-event latency of a never-seen binary vs a warm one
# (root). Results go in BENCHMARKS.md.
#   The sensor writes every event (--all-events) into a FIFO; a reader stamps
#   each line as it arrives (CLOCK_REALTIME) and subtracts the event's
#   @timestamp (the record's kernel time, µs). Each round copies python3 (and
#   node, when installed) under a new random name - a new inode nothing has
#   seen - runs the copy once (cold), then the same copy again (warm); each
#   run writes a cron file. Prints the median latency of the cron-file event
#   per interpreter, cold and warm, their ratio, and how many cold events
#   were fully unwound (no Unknown frame, reaching the thread start).
# Usage: bench/live_cold.sh [ROUNDS]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
[ "$(id -u)" -eq 0 ] || { echo "bench/live_cold.sh: needs root" >&2; exit 2; }
M=${MODUS:-build/modus}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -f /etc/cron.d/modus-bench-cold-*; rm -rf "$tmp"' EXIT
mkfifo "$tmp/fifo"
# the reader: "kind path pid latency_us frames unknown last_frame" per cron-file event
python3 - "$tmp/fifo" >"$tmp/lat.tsv" <<'EOF' &
import json, sys, time, datetime
with open(sys.argv[1]) as f:
    for line in f:
        t = time.time_ns()
        try:
            e = json.loads(line)
        except ValueError:
            continue
        p = (e.get("file") or {}).get("path", "")
        if e.get("event", {}).get("kind") != "event" or not p.startswith("/etc/cron.d/modus-bench-cold-"):
            continue
        ts = datetime.datetime.strptime(e["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        ts = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
        st = e["process"]["thread"]["Ext"].get("call_stack", [])
        unk = sum(1 for fr in st if fr["symbol_info"] == "Unknown")
        last = st[-1]["symbol_info"] if st else ""
        print(p, e["process"]["pid"], "%.1f" % ((t / 1e9 - ts) * 1e6), len(st), unk,
              e.get("modality", {}).get("name"), last.rsplit("!", 1)[-1], sep="\t", flush=True)
EOF
reader=$!
"$M" live --all-events --output "$tmp/fifo" --stats-interval 0 2>"$tmp/err" &
sensor=$!
until grep -q ready "$tmp/err" 2>/dev/null; do kill -0 $sensor || exit 1; sleep 0.1; done

declare -A src
src[python]=$(readlink -f /usr/bin/python3)
command -v node >/dev/null && src[node]=$(readlink -f "$(command -v node)")
run() { # RUNTIME EXE TAG
    local f=/etc/cron.d/modus-bench-cold-$1-$3
    case $1 in
    python) "$2" -c "open('$f', 'w').write('# modus bench\n')" ;;
    node) "$2" -e "require('fs').writeFileSync('$f', '# modus bench\n')" ;;
    esac
    rm -f "$f"
}
for r in $(seq "$rounds"); do
    for m in "${!src[@]}"; do
        exe=$tmp/$(tr -dc 'a-z' </dev/urandom | head -c 10 || true)
        cp "${src[$m]}" "$exe"
        run "$m" "$exe" "cold-$r"
        sleep 0.3
        run "$m" "$exe" "warm-$r"
        sleep 0.3
        rm -f "$exe"
    done
done
sleep 1
kill -INT $sensor
wait $sensor || true
wait $reader || true
grep "stopped after" "$tmp/err" || true

median() { sort -n | awk '{a[NR]=$1} END{if (NR) print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; else print "-"}'; }
echo "machine: $(nproc) CPUs, $(uname -r), $(date -u +%F); $rounds rounds; latency = output time - kernel timestamp"
printf '%-8s %6s %12s %12s %8s %s\n' runtime events cold_us warm_us ratio "cold events fully unwound / named"
for m in "${!src[@]}"; do
    c=$(grep -c "modus-bench-cold-$m-cold-" "$tmp/lat.tsv" || true)
    cm=$(grep "modus-bench-cold-$m-cold-" "$tmp/lat.tsv" | cut -f3 | median)
    wm=$(grep "modus-bench-cold-$m-warm-" "$tmp/lat.tsv" | cut -f3 | median)
    full=$(grep "modus-bench-cold-$m-cold-" "$tmp/lat.tsv" | awk -F'\t' '$5 == 0 && $7 ~ /^_start/' | wc -l)
    named=$(grep "modus-bench-cold-$m-cold-" "$tmp/lat.tsv" | awk -F'\t' -v m="$m" '$6 == m' | wc -l)
    ratio=$(awk -v a="$cm" -v b="$wm" 'BEGIN{if (b > 0) printf "%.2f", a / b; else print "-"}')
    printf '%-8s %6s %12s %12s %8s %s / %s\n' "$m" "$c" "$cm" "$wm" "$ratio" "$full" "$named"
done
