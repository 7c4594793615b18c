#!/usr/bin/env bash
# load.sh - CPU time to load and compile 787 rules (the pack and Elastic's 773
# Windows endpoint rules), against baselines from the same run.
#
#   bench/load.sh [RUNS] [MB]      default 21 runs (+1 warm-up), 50 MB file
#
# Each run, interleaved: `modus scan --no-rules` on gen_ecs's default mix (the
# decoding the rules' cost is compared with, issue 11), the load alone
# (`modus scan --rules rules --rules DIR /dev/null`), the process's start
# (`--no-rules /dev/null`) and `cat` of the rule files. BASE=/path/to/build
# adds the load with that build's modus (an A/B in the same run). CPU time is
# user+sys of the child (wait4, microseconds), medians over RUNS; every scan
# runs with -j 1.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-21}
MB=${2:-50}
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
[ -x "$BUILD/modus" ] || { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BUILD" -j"$(nproc)" >/dev/null; }
DATA=${DATA:-bench/data}
mkdir -p "$DATA"
cc -O2 -std=c11 -o "$DATA/gen_ecs" bench/gen_ecs.c
file="$DATA/events_${MB}MB.ndjson"
[ -f "$file" ] || "$DATA/gen_ecs" "${MB}000000" 42 >"$file"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash tests/cli/rules_to_toml.sh "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" "$tmp/all" >/dev/null
dir="$tmp/all/behavior/rules/windows"
nwin=$(ls "$dir"/*.toml | wc -l)
npack=$(ls rules/*.toml | wc -l)
M="$BUILD/modus"
loaded=$("$M" scan -j 1 --rules rules --rules "$dir" /dev/null 2>&1 | sed -n 's/^modus: \([0-9]*\) rules loaded.*/\1/p')
python3 - "$RUNS" "$M" "$file" "$dir" "${BASE:-}" <<'PY'
import os, subprocess, sys, statistics
runs, M, f, d, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
import glob
files = sorted(glob.glob("rules/*.toml")) + sorted(glob.glob(d + "/*.toml"))
cmds = {
    "no-rules (50 MB)": [M, "scan", "-j", "1", "-q", "--no-rules", f],
    "load": [M, "scan", "-j", "1", "-q", "--rules", "rules", "--rules", d, "/dev/null"],
    "start": [M, "scan", "-j", "1", "-q", "--no-rules", "/dev/null"],
    "cat rule files": ["cat"] + files,
}
if base:
    cmds["load, BASE"] = [base + "/modus"] + cmds["load"][1:]
t = {k: [] for k in cmds}
for r in range(runs + 1):
    for k, c in cmds.items():
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(st) not in (0, 1):
            sys.exit(f"{c} failed: {st}")
        if r: t[k].append(ru.ru_utime + ru.ru_stime)
med = {k: statistics.median(v) for k, v in t.items()}
print("| command | CPU ms (median) | min | max | x no-rules |")
print("|---|---:|---:|---:|---:|")
for k in cmds:
    print(f"| {k} | {med[k]*1000:.1f} | {min(t[k])*1000:.1f} | {max(t[k])*1000:.1f} | {med[k]/med['no-rules (50 MB)']:.2f} |")
print(f"\nload - start: {(med['load'] - med['start'])*1000:.1f} ms")
if base:
    print(f"load, BASE / load: {med['load, BASE']/med['load']:.2f}x")
PY
echo
echo "rules: $npack pack + $nwin Windows = $loaded loaded; file: $file; $RUNS runs; $(nproc) cores; $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %H:%M') UTC"
