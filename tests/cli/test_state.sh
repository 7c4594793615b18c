#!/usr/bin/env bash
# test_state.sh - sequence and process-tree state stays within its cap: 1 M
# process starts, each with a new process.entity_id (children of the previous
# ones, names that open many sequence rules), through the pack and Elastic's
# 773 Windows rules on one thread; peak RSS (the kernel's, from GNU time or
# /proc) at most 64 MB, evictions counted in the summary line and --profile;
# with a cap too small for anything, the same alerts minus nothing silent.
source "$(dirname "$0")/lib.sh"
C=$SHARED/corpora
N=${STATE_TEST_EVENTS:-1000000}
# Under AddressSanitizer RSS means shadow memory and time is 3x: fewer events,
# and no bound on RSS (the state's own peak is still checked)
asan=0
grep -q __asan_init "$MODUS" && asan=1 && N=${STATE_TEST_EVENTS:-200000}

bash "$SRC/tests/cli/rules_to_toml.sh" "$C/elastic-rules/behavior_rules.jsonl" "$TMP/elastic" >/dev/null 2>&1
mkdir -p "$TMP/win"
cp "$TMP"/elastic/behavior/rules/windows/*.toml "$TMP/win/"
expect_eq "773 Windows rules" "$(ls "$TMP/win" | wc -l)" 773

# N process starts: entity ids E1..EN, each the child of an earlier one, on 8
# hosts, 1 us apart (no maxspan lets anything expire); one in 8 named as a
# script host, a LOLBin or an Office program (what starts Elastic's
# sequences), the rest ordinary programs; every 4th event also ends the
# process started 2,000 events before
gen() {
    awk -v n="$1" 'BEGIN {
        split("cmd.exe powershell.exe rundll32.exe regsvr32.exe mshta.exe wscript.exe cscript.exe msiexec.exe certutil.exe WINWORD.EXE explorer.exe svchost.exe", names, " ")
        for (i = 1; i <= n; i++) {
            nm = i % 8 ? sprintf("app%d.exe", i % 5000) : names[(i / 8) % 12 + 1]
            pn = names[((i * 7) % 12) + 1]
            par = i > 1 ? int(i / 2) : 0
            us = 100000 + i
            printf "{\"@timestamp\":\"2026-01-01T00:%02d:%02d.%06dZ\",\"event\":{\"category\":[\"process\"],\"type\":[\"start\"],\"action\":\"start\",\"kind\":\"event\"},\"host\":{\"name\":\"host-%d\",\"os\":{\"type\":\"windows\"}},\"user\":{\"name\":\"u%d\"},\"process\":{\"entity_id\":\"E%d\",\"pid\":%d,\"name\":\"%s\",\"executable\":\"C:\\\\Windows\\\\System32\\\\%s\",\"command_line\":\"%s /c run %d\",\"args\":[\"%s\",\"/c\",\"run\"],\"parent\":{\"entity_id\":\"E%d\",\"pid\":%d,\"name\":\"%s\",\"executable\":\"C:\\\\Windows\\\\System32\\\\%s\"}}}\n", int(us / 60000000), int(us / 1000000) % 60, us % 1000000, i % 8, i % 50, i, 1000 + i % 60000, nm, nm, nm, i, nm, par, 1000 + par % 60000, pn, pn
            if (i % 4 == 0 && i > 2000) { # the end of a process started 2000 events ago
                e = i - 2000
                printf "{\"@timestamp\":\"2026-01-01T00:%02d:%02d.%06dZ\",\"event\":{\"category\":[\"process\"],\"type\":[\"end\"],\"action\":\"end\",\"kind\":\"event\"},\"host\":{\"name\":\"host-%d\"},\"process\":{\"entity_id\":\"E%d\",\"pid\":%d,\"name\":\"%s\"}}\n", int(us / 60000000), int(us / 1000000) % 60, us % 1000000, e % 8, e, 1000 + e % 60000, "x.exe"
            }
        }
    }'
}
gen 3 >"$TMP/three.ndjson"
# a rule of our own whose alerts need state: the end of a process started earlier
cat >"$TMP/win/zz_state_test.toml" <<'EOF2'
[rule]
name = "state test: a process started and ended"
id = "5f0c2a51-7d1e-4b8e-9a43-1c6e0b9d2f10"
description = "A process start followed by its end (joined on process.entity_id)."
version = "1"
query = '''
sequence by process.entity_id
  [process where event.type == "start"]
  [process where event.type == "end"]
'''
EOF2
check "generator: valid JSON" jq -e . "$TMP/three.ndjson" >/dev/null

# peak RSS in KB of "$@" (stdout to $TMP/out, stderr to $TMP/err)
peak_rss() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$TMP/rss" "$@" >"$TMP/out" 2>"$TMP/err"
        tail -1 "$TMP/rss"
    else # the kernel's high-water mark, read just before the process ends
        "$@" >"$TMP/out" 2>"$TMP/err" &
        local pid=$! hwm=0 v
        while kill -0 "$pid" 2>/dev/null; do
            v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            [ -n "$v" ] && hwm=$v
            sleep 0.2
        done
        wait "$pid"
        echo "$hwm"
    fi
}

rss=$(gen "$N" | peak_rss "$MODUS" scan -j 1 --profile --rules "$TMP/win" --rules "$SRC/rules" -)
summary=$(grep '^modus: scanned' "$TMP/err")
echo "$N entity ids: peak RSS $rss KB; $summary" >&2
check "1 M entity ids: every event scanned" grep -Eq "^modus: scanned [0-9]+ events" <<<"$summary"
[ $asan = 1 ] || check "1 M entity ids: peak RSS $rss KB <= 64 MB" test "$rss" -le 65536
ev=$(sed -n 's/.*state: \([0-9]*\) evicted.*/\1/p' <<<"$summary")
check "1 M entity ids: evictions in the summary line ($ev)" test "${ev:-0}" -gt 0
prof=$(grep 'sequence and process state (--profile)' "$TMP/err")
check "1 M entity ids: --profile shows the evictions ($prof)" \
    grep -Eq 'partial matches and [0-9]+ processes evicted' <<<"$prof"
pe=$(sed -n 's/.*MB, \([0-9]*\) partial matches and \([0-9]*\) processes evicted.*/\1 \2/p' <<<"$prof")
set -- $pe
expect_eq "1 M entity ids: --profile and the summary line agree" "$(($1 + $2))" "$ev"
check "1 M entity ids: processes were evicted too ($2)" test "$2" -gt 0
peak=$(sed -n 's/.*peak \([0-9.]*\) MB of \([0-9.]*\) MB.*/\1 \2/p' <<<"$summary")
set -- $peak
check "1 M entity ids: the state's peak ($1 MB) within its cap ($2 MB) + one event's worth" \
    awk -v p="$1" -v c="$2" 'BEGIN { exit !(p <= c + 0.5) }'

# a small cap evicts; without evictions (a cap large enough) the same input
# gives a superset of the alerts; evictions never pass silently
gen 20000 >"$TMP/small.ndjson"
"$MODUS" scan -j 1 --state-mb 256 --rules "$TMP/win" --rules "$SRC/rules" "$TMP/small.ndjson" >"$TMP/big.json" 2>"$TMP/big.err"
"$MODUS" scan -j 1 --state-mb 1 --rules "$TMP/win" --rules "$SRC/rules" "$TMP/small.ndjson" >"$TMP/tiny.json" 2>"$TMP/tiny.err"
check "cap 256 MB: nothing evicted" grep -q 'state: 0 evicted' "$TMP/big.err"
check "cap 1 MB: evictions reported" grep -Eq 'state: [1-9][0-9]* evicted' "$TMP/tiny.err"
check "some alerts to compare ($(wc -l <"$TMP/big.json"))" test "$(wc -l <"$TMP/big.json")" -gt 0
jq -c '[.rule.id, .events]' "$TMP/big.json" | sort >"$TMP/big.k"
jq -c '[.rule.id, .events]' "$TMP/tiny.json" | sort >"$TMP/tiny.k"
expect_eq "cap 1 MB: no alert that a large cap does not give" "$(comm -13 "$TMP/big.k" "$TMP/tiny.k" | wc -l)" 0
check "cap 1 MB: fewer alerts than without evictions" test "$(wc -l <"$TMP/tiny.k")" -lt "$(wc -l <"$TMP/big.k")"
"$MODUS" scan --state-mb 0 "$TMP/three.ndjson" >/dev/null 2>"$TMP/e"
check "--state-mb 0 is refused" grep -q 'state-mb needs a number' "$TMP/e"

finish
