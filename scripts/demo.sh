#!/usr/bin/env bash
# demo.sh - build modus and run its main job on the bundled sample telemetry:
# every event enriched with its modality, then the modality summary.
# demo.sh --live (root): the Linux sensor instead, on a few real programs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ "${1:-}" = --live ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "modus: the live sensor loads eBPF programs: run 'scripts/demo.sh --live' as root" >&2
        exit 2
    fi
    out=$(mktemp -d)
    trap 'rm -rf "$out" /etc/cron.d/modus-demo' EXIT
    echo "== modus live --all-events: the sensor, while a Python script makes memory executable"
    echo "   through ctypes, a Perl script does it through syscall(), a shell script writes a"
    echo "   cron file, and a C program makes a page RWX natively"
    ./build/modus live --format text --all-events --output "$out/events.ndjson" --duration 6 \
        --stats-interval 0 2>"$out/err" &
    sensor=$!
    until grep -q ready "$out/err" 2>/dev/null; do kill -0 $sensor 2>/dev/null || break; sleep 0.2; done
    cat "$out/err"
    /usr/bin/python3 tests/live/progs/py_mprotect.py
    /usr/bin/perl tests/live/progs/pl_mprotect.pl
    bash tests/live/progs/unit.sh /etc/cron.d/modus-demo
    gcc -O2 -o "$out/mprotect_rwx" tests/live/progs/mprotect_rwx.c && "$out/mprotect_rwx"
    wait $sensor || true
    tail -1 "$out/err"
    echo
    echo "== the alerts (modus live --output FILE writes them as NDJSON)"
    jq -r 'select(.event.kind == "alert") | "\(.rule.name)\n    \(.process.executable) pid \(.process.pid): modality \(.modality.name), syscall \(.modality.syscall)"' "$out/events.ndjson"
    echo
    echo "== why the Python script's mprotect is 'python': its kernel-collected stack"
    jq -c 'select(.event.kind == "event" and .event.action == "mprotect" and .modality.name == "python")' \
        "$out/events.ndjson" | head -1 >"$out/py.ndjson"
    ./build/modus stack --event "$out/py.ndjson" 2>/dev/null
    echo
    echo "== the C program's: 'native', no alert"
    jq -c 'select(.event.kind == "event" and .process.name == "mprotect_rwx" and .event.action == "mprotect")' \
        "$out/events.ndjson" | head -1 >"$out/c.ndjson"
    ./build/modus stack --event "$out/c.ndjson" 2>/dev/null
    exit 0
fi
echo "== modus scan --enrich --format text examples/sample.ndjson"
./build/modus scan --enrich --format text --summary examples/sample.ndjson 2>&1
echo
echo "== modus stack: why the first event is 'powershell'"
./build/modus stack --event examples/sample.ndjson 2>/dev/null | awk '/^== /{n++} n==1' || true
echo
echo "== modus scan: alerts from the built-in rule pack"
./build/modus scan --format text examples/sample.ndjson 2>&1
echo
echo "== Windows event XML (an Event Viewer export): a service installed through the SCM, then re-pointed by PowerShell and reg.exe"
./build/modus scan --enrich --format text examples/windows_events.xml 2>&1
./build/modus scan --format text examples/windows_events.xml 2>&1
echo
echo "JSON: ./build/modus scan --enrich --format json examples/sample.ndjson (events),"
echo "      ./build/modus scan --format json examples/sample.ndjson (alerts)"
echo "The Linux sensor (root): scripts/demo.sh --live"
