#!/bin/bash
# test_fleet_baseline.sh - modus baseline learn|check --from: a profile
# learned from the stream equals the one learned from the same events in a
# file; checking against it from the stream gives the file check's alerts,
# stored in the alerts stream; and a learner acknowledges only what it wrote.
. "$(dirname "$0")/lib.sh"

single_node n1 2
wait_js "$URL_n1" || exit 1
"$MODUS" fleet init "$URL_n1" --partitions 2 2>/dev/null

# learn: the Sysmon corpus as ECS (many hosts), from the stream and from the file
# (--idle: each consumer stops once the stream is drained, however slow the
# machine; --duration only bounds it)
"$MODUS" scan --enrich --format json "$SHARED"/corpora/sysmon/*.ndjson >"$TMP/learn.ndjson" 2>/dev/null
n=$(wc -l <"$TMP/learn.ndjson")
"$MODUS" fleet publish "$URL_n1" --quiet "$TMP/learn.ndjson"
cat >"$TMP/learn.conf" <<EOF
# a learner's options (a subcommand keeps its place before them)
db = $TMP/stream.db
from = $URL_n1
idle 3
duration 300
EOF
"$MODUS" baseline learn --config "$TMP/learn.conf" 2>"$TMP/learn.err"
expect_eq "baseline learn --from exits 0" $? 0
secs=$(sed -n 's/.*stopped after \([0-9]*\) s.*/\1/p' "$TMP/learn.err")
check "idle 3 stopped it once the stream was drained, not at its 300 s bound (${secs:-?} s)" \
    test "${secs:-300}" -lt 200
check "it learned every event" grep -q "stopped after .*: $n events from" "$TMP/learn.err"
check "and says so" grep -q "baseline learn: $n events learned" "$TMP/learn.err"
expect_eq "the learner acknowledged everything" "$("$NATSUTIL" "$URL_n1" pending MODUS_EVENTS)" 0
"$MODUS" baseline learn --db "$TMP/file.db" "$TMP/learn.ndjson" 2>/dev/null
# (events without @timestamp are stamped when learned: first/last seen differ)
show() {
    "$MODUS" baseline show --db "$1" --json --top 100000 2>/dev/null |
        jq -S -c 'walk(if type == "object" then del(.first_seen, .last_seen) else . end)'
}
expect_eq "the profile from the stream = the profile from the file" \
    "$(diff <(show "$TMP/stream.db") <(show "$TMP/file.db") >/dev/null && echo same)" same
check "the profile is not empty" test "$(show "$TMP/file.db" | wc -c)" -gt 100

# check: other telemetry (the EVTX corpus) against the profile
"$MODUS" scan --enrich --format json "$SHARED"/corpora/evtx/*.evtx >"$TMP/check.ndjson" 2>/dev/null
"$MODUS" baseline check --db "$TMP/file.db" "$TMP/check.ndjson" 2>/dev/null | jq -c -S . | sort >"$TMP/want.json"
check "the file check finds deviations" test "$(wc -l <"$TMP/want.json")" -gt 5
"$MODUS" fleet publish "$URL_n1" --quiet "$TMP/check.ndjson"
"$MODUS" baseline check --db "$TMP/stream.db" --from "$URL_n1" --idle 3 --duration 300 >"$TMP/got.raw" 2>"$TMP/check.err"
expect_eq "baseline check --from exits 0" $? 0
jq -c -S . "$TMP/got.raw" | sort >"$TMP/got.json"
# the check group reads the whole stream: the learned events are known (no
# alert), the new ones deviate as in the file check
expect_eq "deviations from the stream = deviations from the file" \
    "$(diff "$TMP/want.json" "$TMP/got.json" >/dev/null && echo same)" same
expect_eq "the deviations are stored once each in the alerts stream" \
    "$("$NATSUTIL" "$URL_n1" count MODUS_ALERTS)" "$(jq -r .event.id "$TMP/want.json" | sort -u | wc -l)"
"$MODUS" baseline learn --db "$TMP/stream.db" --from "$URL_n1" --rules x 2>/dev/null
expect_eq "--from with --rules is refused" $? 2
finish
