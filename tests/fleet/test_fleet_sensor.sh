#!/bin/bash
# test_fleet_sensor.sh - modus live --publish on the real kernel, and the
# faults of its link to the broker (root; exit 77 otherwise):
#   1. the server down for 30 s while the sensor runs: every event is spooled
#      and delivered afterwards, in order; the counts (stop line, metrics
#      file) say spooled = replayed, dropped 0;
#   2. a spool too small for the outage: the oldest are dropped, the drops
#      are counted in the stop line, the metrics and a log line, and
#      published + dropped = queued;
#   3. the sensor killed (SIGKILL) while the server is down: the next run
#      resumes its spool and delivers it.
# The events are real: a loop starting marker processes (/bin/true
# modus-fleet-mark-...), plus whatever else the machine runs.
. "$(dirname "$0")/lib.sh"
need_sensor
RULES=$SRC/tests/fleet/rules
TAG=$$

# workload SECONDS NAME: marker processes at ~50/s for that long
workload() {
    local end=$((SECONDS + $1)) i=0
    while [ $SECONDS -lt $end ]; do
        /bin/true "modus-fleet-mark-$TAG-$2-$i"
        i=$((i + 1))
        sleep 0.02
    done
    echo "$i" >"$TMP/workload-$2" # how many ran (fewer on a loaded machine)
}

# sensor NAME SPOOL-MB: modus live publishing as host fleet-NAME-TAG
sensor() {
    "$MODUS" live --publish "$URL_n1" --all-events --output "$TMP/$1.ndjson" --rules "$RULES/marker.toml" \
        --spool "$TMP/spool-$1" --spool-mb "$2" --host-name "fleet-$1-$TAG" --metrics "$TMP/$1.prom" \
        --stats-interval 5 2>"$TMP/$1.err" &
    SENSOR=$!
    CHILDREN+=($SENSOR)
    wait_for "$TMP/$1.err" ready 60 || {
        echo "FAIL: the sensor did not start" >&2
        cat "$TMP/$1.err" >&2
        finish
        exit 1
    }
}

# stream_ids NAME: message ids of host fleet-NAME-TAG's events, in stream order
stream_ids() {
    "$NATSUTIL" "$URL_n1" ids MODUS_EVENTS | awk -v s="modus.events.fleet-$1-$TAG." 'index($2, s) == 1 {print $3}'
}
# local_ids NAME: the ids of the events the sensor wrote, in order
local_ids() { # (a killed run may leave a torn last line)
    jq -R -r 'fromjson? | select(.event.kind == "event") | .event.id' "$TMP/$1.ndjson"
}
metric() { awk -v m="$2" '$1 == m {print $2}' "$TMP/$1.prom"; }

single_node n1 2
wait_js "$URL_n1" || exit 1
"$MODUS" fleet init "$URL_n1" --partitions 2 2>/dev/null

# ---- 1. the server down for 30 s ----------------------------------------------------
sensor out 256
workload 5 a
kill_node n1 KILL
workload 30 b &
W=$!
sleep 12
check "while the server is down the metrics say so" [ "$(metric out modus_publish_connected)" = 0 ]
check "... and count the spooled events" [ "$(metric out modus_publish_spooled_total)" -gt 0 ]
wait $W
restart_node n1
wait_js "$URL_n1" || exit 1
workload 5 c
sleep 2
kill -INT $SENSOR
wait $SENSOR
expect_eq "the sensor stops cleanly" $? 0
grep -E 'stopped after|at stop' "$TMP/out.err" | sed 's/^/  /'
nlocal=$(local_ids out | wc -l)
check "the sensor saw the workload" [ "$nlocal" -gt 1000 ]
expect_eq "every event delivered, in order, once" \
    "$(diff <(local_ids out) <(stream_ids out) >/dev/null && echo same)" same
spooled=$(metric out modus_publish_spooled_total)
check "events were spooled during the outage ($spooled)" [ "$spooled" -gt 500 ]
expect_eq "every spooled event replayed" "$(metric out modus_publish_replayed_total)" "$spooled"
expect_eq "none dropped" "$(metric out modus_publish_dropped_total)" 0
expect_eq "nothing left in the spool" "$(metric out modus_publish_backlog)" 0
check "the stop line has the counts" grep -Eq "publish at stop: published [0-9]+ .*spooled $spooled, replayed $spooled, dropped 0" "$TMP/out.err"
check "the periodic stats have them too" grep -q "publish: published .* NOT connected" "$TMP/out.err"
check "the outage is logged" grep -q "nats: disconnected" "$TMP/out.err"
# the sensor's alerts are in the alerts stream, with the ids a file scan gives
jq -c 'select(.event.kind == "event")' "$TMP/out.ndjson" >"$TMP/out.events"
"$MODUS" scan --rules "$RULES/marker.toml" --format json "$TMP/out.events" 2>/dev/null | jq -r .event.id | sort >"$TMP/want.ids"
check "the workload raised alerts" [ "$(wc -l <"$TMP/want.ids")" -gt 200 ]
"$NATSUTIL" "$URL_n1" ids MODUS_ALERTS | awk -v s="modus.alerts.fleet-out-$TAG" '$2 == s {print $3}' | sort >"$TMP/got.ids"
expect_eq "alerts stored once each, ids as a file scan gives them" "$(diff "$TMP/want.ids" "$TMP/got.ids" >/dev/null && echo same)" same
check "spool files are 0600" [ -z "$(find "$TMP/spool-out" -type f ! -perm 600)" ]
check "the spool directory is 0700" [ "$(stat -c %a "$TMP/spool-out")" = 700 ]

# ---- 2. a spool too small for the outage ----------------------------------------------
kill_node n1 KILL
sensor small 1
workload 12 d
restart_node n1
wait_js "$URL_n1" || exit 1
sleep 3
kill -INT $SENSOR
wait $SENSOR
grep 'at stop' "$TMP/small.err" | sed 's/^/  /'
dropped=$(metric small modus_publish_dropped_total)
check "a 1 MiB spool drops during a 12 s outage ($dropped)" [ "$dropped" -gt 0 ]
check "the drop is logged" grep -q "spool full: dropped the oldest" "$TMP/small.err"
check "the stop line counts the drops" grep -q "dropped $dropped," "$TMP/small.err"
queued=$(metric small modus_publish_queued_total)
published=$(metric small modus_publish_published_total)
expect_eq "published + dropped = queued" $((published + dropped)) "$queued"
nstream=$(stream_ids small | wc -l)
nalerts=$("$NATSUTIL" "$URL_n1" ids MODUS_ALERTS | awk -v s="modus.alerts.fleet-small-$TAG" '$2 == s' | wc -l)
expect_eq "the streams hold what was published (events and alerts)" $((nstream + nalerts)) \
    $((published - $(metric small modus_publish_duplicates_total)))
# what survived arrived in the order it was written: the oldest dropped, the
# newest there. Not exactly the last N written: a record in flight when the
# full spool dropped its segment (an "orphan", fleet_pub.c) may still be
# stored, and counts as published.
stream_ids small >"$TMP/small.got"
local_ids small >"$TMP/small.all"
expect_eq "the oldest were dropped, the newest arrived, in the order written" "$(python3 -c '
import sys
local = [l.strip() for l in open(sys.argv[1])]
got = [l.strip() for l in open(sys.argv[2])]
pos = {x: i for i, x in enumerate(local)}
idx = [pos.get(x, -1) for x in got]
ok = got and -1 not in idx and all(a < b for a, b in zip(idx, idx[1:])) and idx[0] > 0 and idx[-1] == len(local) - 1
print("same" if ok else "positions %s ... %s of %d" % (idx[:5], idx[-5:], len(local)))
' "$TMP/small.all" "$TMP/small.got")" same

# ---- 3. killed while the server is down: the next run resumes the spool ----------------
kill_node n1 KILL
sensor crash 256
workload 5 e
sleep 1
kill -KILL $SENSOR
wait $SENSOR 2>/dev/null
restart_node n1
wait_js "$URL_n1" || exit 1
mv "$TMP/crash.err" "$TMP/crash1.err"
sensor crash 256
sleep 5
kill -INT $SENSOR
wait $SENSOR
check "the restart resumes the spool" grep -Eq "documents from a previous run to send" "$TMP/crash.err"
marks() { jq -R -r 'fromjson? | select(.event.kind == "event" and .event.action == "exec") | select(.process.args[1] // "" | startswith("modus-fleet-mark-'$TAG'-e-")) | .event.id' "$@"; }
nmarks=$(marks "$TMP/crash.ndjson" | wc -l) # the first run's output (appended to)
ran=$(cat "$TMP/workload-e")
check "the killed run saw its workload ($nmarks of $ran execs)" [ "$nmarks" -gt $((ran / 2)) ]
missing=$(comm -23 <(marks "$TMP/crash.ndjson" | sort) <(stream_ids crash | sort) | wc -l)
expect_eq "every event of the killed run was delivered by the next" "$missing" 0
expect_eq "none twice" "$(stream_ids crash | sort | uniq -d | wc -l)" 0
finish
