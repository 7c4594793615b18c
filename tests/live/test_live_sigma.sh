#!/bin/bash
# test_live_sigma.sh - Sigma rules written with modality.name on the live
# sensor's own events (the real kernel): examples/sigma's rules load into
# `modus live` next to nothing else, a Python script makes memory executable
# and starts a program, a C program does the same; the Sigma rules alert on
# the Python ones only. Needs root; exits 77 (skipped) otherwise.
. "$(dirname "$0")/lib.sh"
live_require
PROGS=$(cd "$(dirname "$0")/progs" && pwd)
RULES=$SRC/examples/sigma
SENSOR=
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
gcc -O2 -o "$TMP/mprotect_rwx" "$PROGS/mprotect_rwx.c" || exit 1

OUT=$TMP/live.ndjson
"$MODUS" live --rules "$RULES" --output "$OUT" --stats-interval 0 2>"$TMP/err" &
SENSOR=$!
for _ in $(seq 100); do
    grep -q "ready" "$TMP/err" 2>/dev/null && break
    kill -0 "$SENSOR" 2>/dev/null || break
    sleep 0.2
done
if ! grep -q "ready" "$TMP/err"; then
    echo "FAIL: the sensor did not start:" >&2
    cat "$TMP/err" >&2
    exit 1
fi
expect_eq "the sensor loads the Sigma rules" "$(grep -Eo '; [0-9]+ rules' "$TMP/err" | grep -Eo '[0-9]+')" \
    "$(find "$RULES" -name '*.yml' | wc -l)"
/usr/bin/python3 "$PROGS/py_mprotect.py" &
PY=$!
wait $PY
/usr/bin/python3 -c 'import subprocess; subprocess.run(["/bin/true"])' &
SPAWN=$!
wait $SPAWN
"$TMP/mprotect_rwx" &
C=$!
wait $C
/bin/sh -c /bin/true
sleep 1
kill -INT "$SENSOR"
wait "$SENSOR"
SENSOR=

[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/live_sigma.ndjson"
alerts_of() { # PID -> Sigma rule names alerted on that pid (or its child's parent)
    jq -r --argjson p "$1" 'select(.event.kind == "alert" and (.process.pid == $p or .process.parent.pid == $p)) | .rule.name' "$OUT" | sort -u
}
expect_eq "Python's mprotect: memory made executable by a script" "$(alerts_of $PY)" \
    "Memory Made Executable by a Script Runtime"
expect_eq "Python's subprocess: a program started by a script" "$(alerts_of $SPAWN)" \
    "Program Started by a Script Runtime"
expect_eq "the alert carries the modality" \
    "$(jq -r --argjson p $PY 'select(.event.kind == "alert" and .process.pid == $p) | .modality.name' "$OUT" | head -1)" python
expect_eq "the C program's mprotect: no alert" "$(alerts_of $C)" ""
expect_eq "every alert is from the Sigma rules (rule.id of examples/sigma)" \
    "$(jq -r 'select(.event.kind == "alert") | .rule.id' "$OUT" | sort -u | grep -cv -e 3f6c2a91 -e 5b9f0d36 -e 8d1e4c7b)" 0
finish
