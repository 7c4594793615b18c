#!/bin/bash
# test_fleet_basic.sh - the fleet on one NATS node (4 partitions): streams
# created idempotently; real telemetry from 50 hosts (the Sysmon and EVTX
# corpora, as ECS) published with modus fleet publish; two modus scan --from
# processes share the partitions: every alert of `modus scan` over the same
# file is stored exactly once and printed by exactly one scanner; garbage and
# oversized messages are dead-lettered with their stream sequence and the
# consumers go on; a restarted group resumes where it stopped.
. "$(dirname "$0")/lib.sh"

single_node n1 4
wait_js "$URL_n1" || exit 1

# streams: created, then unchanged
"$MODUS" fleet init "$URL_n1" --partitions 4 2>"$TMP/init1" >&2
"$MODUS" fleet init "$URL_n1" --partitions 4 2>"$TMP/init2" >&2
expect_eq "init creates 3 streams" "$(grep -c 'stream .* created' "$TMP/init1")" 3
expect_eq "init again changes nothing" "$(grep -c 'stream .* unchanged' "$TMP/init2")" 3
check "init prints the mapping" grep -q 'partition(4,1)' "$TMP/init1"
check "init sees the mapping active" grep -q 'mapping: active on this server' "$TMP/init1"
"$MODUS" fleet init "$URL_n1" --replicas 2 2>/dev/null
expect_eq "replicas must be 1 or 3" $? 2

# the events: Sysmon and EVTX corpora as ECS documents (hosts in host.name)
"$MODUS" scan --enrich --format json "$SHARED"/corpora/sysmon/*.ndjson "$SHARED"/corpora/evtx/*.evtx \
    >"$TMP/events.ndjson" 2>/dev/null
nev=$(wc -l <"$TMP/events.ndjson")
check "the corpus gives events" [ "$nev" -gt 5000 ]
"$MODUS" scan --format json "$TMP/events.ndjson" 2>/dev/null | jq -c -S . | sort >"$TMP/want.json"
nwant=$(wc -l <"$TMP/want.json")
check "the file scan raises alerts" [ "$nwant" -gt 10 ]

# two scanners, one of them configured by a --config file
cat >"$TMP/scan.conf" <<EOF
# a scanner's options, as /etc/modus/scan.conf holds them
from = $URL_n1
format json
max-line = 65536   # larger messages are dead-lettered
EOF
"$MODUS" scan --config "$TMP/scan.conf" >"$TMP/a.json" 2>"$TMP/a.err" &
A=$!
CHILDREN+=($A)
"$MODUS" scan --from "$URL_n1" --format json --max-line 65536 >"$TMP/b.json" 2>"$TMP/b.err" &
B=$!
CHILDREN+=($B)
# both hold partitions before anything is published (rebalancing done)
for _ in $(seq 150); do
    [ "$(grep -c 'consuming (member' "$TMP/a.err")" -ge 1 ] && [ "$(grep -c 'consuming (member' "$TMP/b.err")" -ge 1 ] &&
        [ $(($(grep -c 'consuming (member' "$TMP/a.err") - $(grep -c 'handing over' "$TMP/a.err") + $(grep -c 'consuming (member' "$TMP/b.err") - $(grep -c 'handing over' "$TMP/b.err"))) -eq 4 ] && break
    sleep 0.2
done
check "each scanner holds partitions" [ "$(grep -c 'consuming (member' "$TMP/b.err")" -ge 1 ]

"$MODUS" fleet publish "$URL_n1" "$TMP/events.ndjson" 2>"$TMP/pub.err"
expect_eq "fleet publish exits 0" $? 0
check "fleet publish: every document acknowledged" grep -q "published $nev (0 duplicates).*backlog 0" "$TMP/pub.err"
expect_eq "the stream holds every event once" "$("$NATSUTIL" "$URL_n1" count MODUS_EVENTS)" "$nev"
# publishing the same file again: every message id is a duplicate
"$MODUS" fleet publish "$URL_n1" "$TMP/events.ndjson" 2>"$TMP/pub2.err"
check "a resend is dropped by the duplicate window" grep -q "published $nev ($nev duplicates)" "$TMP/pub2.err"
expect_eq "still every event once" "$("$NATSUTIL" "$URL_n1" count MODUS_EVENTS)" "$nev"

# garbage on the stream: binary, truncated JSON, an oversized document
head -c 3000 /dev/urandom >"$TMP/garbage.bin"
printf '{"event":{"kind":"event","category":["process"]},"host":{"name":"x"' >"$TMP/truncated.json"
python3 -c 'import json; print(json.dumps({"event":{"kind":"event"},"host":{"name":"big"},"pad":"x"*100000}))' >"$TMP/big.json"
"$NATSUTIL" "$URL_n1" pub modus.events.garbagehost "$TMP/garbage.bin"
"$NATSUTIL" "$URL_n1" pub modus.events.garbagehost "$TMP/truncated.json" Nats-Msg-Id=trunc-1
"$NATSUTIL" "$URL_n1" pub modus.events.bighost "$TMP/big.json"
expect_eq "the garbage is in the stream" "$("$NATSUTIL" "$URL_n1" count MODUS_EVENTS)" $((nev + 3))

check "the scanners drain the stream" wait_drained "$URL_n1" MODUS_EVENTS 60
kill -TERM $A $B
wait $A
expect_eq "scanner A stops cleanly on SIGTERM" $? 0
wait $B
expect_eq "scanner B stops cleanly on SIGTERM" $? 0
check "the stop line counts" grep -q 'stopped after .* events from .* alerts stored' "$TMP/a.err"

jq -c -S . "$TMP/a.json" "$TMP/b.json" | sort >"$TMP/got.json"
expect_eq "alerts from the stream = alerts from the file" "$(diff "$TMP/want.json" "$TMP/got.json" >/dev/null && echo same)" same
both=$(comm -12 <(jq -r .event.id "$TMP/a.json" | sort -u) <(jq -r .event.id "$TMP/b.json" | sort -u) | wc -l)
expect_eq "no alert printed by both scanners" "$both" 0
check "both scanners raised alerts" test -s "$TMP/a.json" -a -s "$TMP/b.json"
expect_eq "each alert stored once" "$("$NATSUTIL" "$URL_n1" count MODUS_ALERTS)" "$nwant"
expect_eq "stored alert ids = the file's alert ids" \
    "$(diff <("$NATSUTIL" "$URL_n1" ids MODUS_ALERTS | awk '{print $3}' | sort) <(jq -r .event.id "$TMP/want.json" | sort) >/dev/null && echo same)" same
check "alert ids are deterministic (32 hex)" [ -z "$(jq -r .event.id "$TMP/want.json" | grep -Ev '^[0-9a-f]{32}$')" ]

# dead letters: 3, with the original sequence, subject and reason
expect_eq "3 messages dead-lettered" "$("$NATSUTIL" "$URL_n1" count MODUS_DEAD)" 3
"$NATSUTIL" "$URL_n1" dump MODUS_DEAD >"$TMP/dead.txt"
expect_eq "dead letters carry the stream sequence" "$(grep -c 'header Modus-Stream-Seq' "$TMP/dead.txt")" 3
check "an oversized one says so" grep -q 'header Modus-Reason: oversized: 1000.. bytes (at most 65536)' "$TMP/dead.txt"
expect_eq "malformed ones say so" "$(grep -c 'header Modus-Reason: malformed' "$TMP/dead.txt")" 2
check "the subject is kept" grep -q 'header Modus-Subject: modus.events.bighost.[0-3]' "$TMP/dead.txt"
check "the scanners report them with the sequence" grep -hq "MODUS_EVENTS seq $((nev + 1)) (modus.events.garbagehost" "$TMP/a.err" "$TMP/b.err"
dead=$(cat "$TMP/a.err" "$TMP/b.err" | grep -o '[0-9]* dead-lettered' | awk '{s+=$1} END{print s}')
expect_eq "the stop lines count them" "$dead" 3

# the group resumes where it stopped: nothing is handled twice
"$MODUS" scan --from "$URL_n1" --format json --idle 3 --duration 300 >"$TMP/c.json" 2>"$TMP/c.err"
check "a restarted group starts after the last acknowledged batch" grep -q 'stopped after .*: 0 events from' "$TMP/c.err"
# another group sees everything
"$MODUS" scan --from "$URL_n1" --group audit --format json --idle 3 --duration 300 >"$TMP/d.json" 2>"$TMP/d.err"
expect_eq "another group gets every event" "$(grep -o '[0-9]* events from' "$TMP/d.err" | awk '{print $1}')" $((nev + 3))
expect_eq "and the same alerts (stored once)" "$("$NATSUTIL" "$URL_n1" count MODUS_ALERTS)" "$nwant"

# usage errors
"$MODUS" scan --from "$URL_n1" --partitions 3 --duration 1 >/dev/null 2>"$TMP/e.err"
expect_eq "--partitions must match fleet init" $? 2
check "and says why" grep -q 'modus fleet init set 4' "$TMP/e.err"
"$MODUS" scan --from kafka://x:1 2>/dev/null
expect_eq "an unknown broker is a usage error" $? 2
finish
