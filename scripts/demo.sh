#!/usr/bin/env bash
# demo.sh - build modus and run its main job on the bundled sample telemetry:
# every event enriched with its modality, then the modality summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
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
