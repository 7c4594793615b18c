#!/bin/bash
# test_baseline_pg.sh - a fleet profile in a real PostgreSQL: this test starts
# its own server (initdb in a temp dir, unix socket only, stopped on exit),
# runs two writers concurrently into one database (the same events from two
# hosts, so they upsert the same rows at once), merges host profiles into a
# fleet database, and checks planted deviations against it. Needs root (the
# server runs as user postgres); skipped otherwise.
. "$(dirname "$0")/lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the PostgreSQL fleet test needs root (it runs its own server as user postgres)"
    finish
    exit $?
fi
if [ ! -x "$PGBIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
    echo "SKIP: PostgreSQL 15 server not installed (scripts/deps.sh test installs postgresql)"
    finish
    exit $?
fi
C=$SHARED/corpora
PGDIR=$(mktemp -d /tmp/modus-pg.XXXXXX)
chown postgres "$PGDIR"
PORT=$((20000 + $$ % 20000))
stop_pg() {
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$PGDIR" "$TMP"
}
trap stop_pg EXIT
runuser -u postgres -- "$PGBIN/initdb" -A trust -D "$PGDIR/data" >"$TMP/initdb.log" 2>&1 ||
    { cat "$TMP/initdb.log"; exit 1; }
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" \
    -o "-k $PGDIR -p $PORT -c listen_addresses=''" -w start >/dev/null ||
    { cat "$PGDIR/log"; exit 1; }
URL="postgresql:///postgres?host=$PGDIR&port=$PORT&user=postgres"
runuser -u postgres -- "$PGBIN/../bin/psql" -h "$PGDIR" -p "$PORT" -qc "CREATE DATABASE fleet" postgres 2>/dev/null ||
    psql "$URL" -qc "CREATE DATABASE fleet"
FLEET="postgresql:///fleet?host=$PGDIR&port=$PORT&user=postgres"

# ---- two concurrent writers ----------------------------------------------------------
# host A and host B: the same events, so both writers upsert the same tuples
cat "$C/sysmon/otrf_sysmon_eid10_calltrace.ndjson" "$C/sysmon/otrf_service_events.ndjson" |
    sed 's/"Computer": "[^"]*"/"Computer": "host-a"/' >"$TMP/a.ndjson"
sed 's/"host-a"/"host-b"/' "$TMP/a.ndjson" >"$TMP/b.ndjson"
# a third stream common to both: identical rows written concurrently
head -2000 "$C/sysmon/otrf_sysmon_eid10_calltrace.ndjson" >"$TMP/common.ndjson"
n=$(grep -c . "$TMP/a.ndjson")
nc=$(grep -c . "$TMP/common.ndjson")
"$MODUS" baseline learn -q --db "$URL" "$TMP/a.ndjson" "$TMP/common.ndjson" "$TMP/common.ndjson" 2>"$TMP/wa.err" &
wa=$!
"$MODUS" baseline learn -q --db "$URL" "$TMP/b.ndjson" "$TMP/common.ndjson" 2>"$TMP/wb.err" &
wb=$!
wait $wa
expect_eq "writer A exits 0" "$?" 0
wait $wb
expect_eq "writer B exits 0" "$?" 0
cat "$TMP/wa.err" "$TMP/wb.err"
"$MODUS" baseline show --db "$URL" --json >"$TMP/show.json"
expect_eq "concurrent writers: no count lost" "$(jq .events "$TMP/show.json")" "$((2 * n + 3 * nc))"
# the common events' hosts plus host-a and host-b
nh=$(jq -r '.Computer' "$TMP/common.ndjson" | tr 'A-Z' 'a-z' | sort -u | grep -c .)
expect_eq "hosts counted distinct" "$(jq .hosts "$TMP/show.json")" "$((nh + 2))"
# the same profile learned in SQLite gives the same tuples
"$MODUS" baseline learn -q --db "$TMP/same.db" "$TMP/a.ndjson" "$TMP/b.ndjson" "$TMP/common.ndjson" "$TMP/common.ndjson" "$TMP/common.ndjson"
expect_eq "PostgreSQL and SQLite hold the same profile" \
    "$(jq -c '[.rows, .tuples, .events, .hosts, .programs]' "$TMP/show.json")" \
    "$("$MODUS" baseline show --db "$TMP/same.db" --json | jq -c '[.rows, .tuples, .events, .hosts, .programs]')"

# ---- host profiles merged into a fleet profile ----------------------------------------------
"$MODUS" baseline learn -q --db "$TMP/host-a.db" "$TMP/a.ndjson"
"$MODUS" baseline learn -q --db "$TMP/host-b.db" "$TMP/b.ndjson"
"$MODUS" baseline merge -q --db "$FLEET" "$TMP/host-a.db" "$TMP/host-b.db"
expect_eq "merge into PostgreSQL exits 0" "$?" 0
"$MODUS" baseline show --db "$FLEET" --json >"$TMP/fleet.json"
expect_eq "merged: two hosts, counts summed" "$(jq -c '[.hosts, .events, ([.top[].hosts] | max)]' "$TMP/fleet.json")" "[2,$((2 * n)),2]"

# ---- check against the merged profile -----------------------------------------------------------
awk 'NR % 40 == 0' "$TMP/a.ndjson" >"$TMP/check.ndjson"
head -1 "$TMP/a.ndjson" | jq -c '.planted = "shellcode" | .CallTrace = "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|UNKNOWN(00000000029A1F2B)"' >>"$TMP/check.ndjson"
grep -m1 '"EventID": 13' "$TMP/b.ndjson" | jq -c '.planted = "runkey" | .TargetObject = "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater"' >>"$TMP/check.ndjson"
"$MODUS" baseline check -q --db "$FLEET" "$TMP/check.ndjson" >"$TMP/alerts.ndjson"
expect_eq "check against the fleet: exactly the planted deviations" \
    "$(jq -r '.events[0].winlog.event_data.planted + " " + .baseline.reason + " " + ((.baseline.expected.modalities + .baseline.expected.behaviours) | length > 0 | tostring)' "$TMP/alerts.ndjson" | sort | tr '\n' ';')" \
    "runkey new-behaviour true;shellcode new-modality true;"
# a known tuple carries its fleet counts
known=$("$MODUS" baseline check -q --annotate --db "$FLEET" "$TMP/check.ndjson" | head -1)
expect_eq "a known tuple: fleet hosts and host count" "$(jq -r '[.baseline.new, .baseline.hosts, (.baseline.host_seen_count > 0)] | join(",")' <<<"$known")" "false,2,true"

# ---- a database that is not a profile --------------------------------------------------------------
psql "$URL" -qc "CREATE DATABASE other" >/dev/null 2>&1 ||
    runuser -u postgres -- psql -h "$PGDIR" -p "$PORT" -qc "CREATE DATABASE other" postgres
"$MODUS" baseline show --db "postgresql:///other?host=$PGDIR&port=$PORT&user=postgres" 2>"$TMP/e1"
expect_eq "an empty PostgreSQL database: exit 2" "$?" 2
check "an empty PostgreSQL database: clear error" grep -q "not a modus baseline database (no modus_baseline_meta table)" "$TMP/e1"
"$MODUS" baseline show --db "postgresql:///postgres?host=$PGDIR&port=1&user=postgres" 2>"$TMP/e2"
expect_eq "no server: exit 2" "$?" 2
check "no server: says it cannot connect" grep -q "cannot connect" "$TMP/e2"
finish
