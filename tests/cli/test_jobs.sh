#!/usr/bin/env bash
# test_jobs.sh - `modus scan -j N`: the same alerts in the same order as one
# thread, byte for byte, with the pack and Elastic's 773 Windows rules, over
# both bench/gen_ecs mixes, every corpus file modus reads, and the EQL
# conformance events; files and stdin; errors in input order; the rule sets
# that need one thread say so.
source "$(dirname "$0")/lib.sh"
C=$SHARED/corpora

bash "$SRC/tests/cli/rules_to_toml.sh" "$C/elastic-rules/behavior_rules.jsonl" "$TMP/elastic" >/dev/null 2>&1
mkdir -p "$TMP/win"
cp "$TMP"/elastic/behavior/rules/windows/*.toml "$TMP/win/"
R=(--rules "$TMP/win" --rules "$SRC/rules")
cc -O2 -o "$TMP/gen" "$SRC/bench/gen_ecs.c"
"$TMP/gen" 6000000 7 >"$TMP/gen.ndjson"
"$TMP/gen" 6000000 9 process >"$TMP/genp.ndjson"

# An alert about an event without a time of its own is stamped with the
# clock (to the second): that stamp is the one thing runs may differ in.
unclock() { sed -E 's/^\{"@timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"/{"@timestamp":"(clock)"/'; }
# same NAME FILE...: -j 1, -j 2 and -j 4 write the same bytes
same() {
    local name=$1
    shift
    "$MODUS" scan -q -j 1 "${R[@]}" "$@" 2>"$TMP/j1.err" | unclock >"$TMP/j1"
    "$MODUS" scan -q -j 2 "${R[@]}" "$@" 2>"$TMP/j2.err" | unclock >"$TMP/j2"
    "$MODUS" scan -q -j 4 "${R[@]}" "$@" 2>"$TMP/j4.err" | unclock >"$TMP/j4"
    check "$name: -j 2 = -j 1 ($(wc -l <"$TMP/j1") alerts)" cmp -s "$TMP/j1" "$TMP/j2"
    check "$name: -j 4 = -j 1" cmp -s "$TMP/j1" "$TMP/j4"
}
same "gen_ecs default mix" "$TMP/gen.ndjson"
check "gen_ecs default mix: alerts to compare" test "$(wc -l <"$TMP/j1")" -gt 100
check "gen_ecs default mix: sequence alerts among them" \
    test "$(jq -r 'select((.events | length) > 1)' "$TMP/j1" | grep -c '^{')" -gt 0
same "gen_ecs process mix" "$TMP/genp.ndjson"
check "gen_ecs process mix: alerts to compare" test "$(wc -l <"$TMP/j1")" -gt 100
for f in "$C"/sysmon/*.ndjson "$C"/elastic/*.ndjson "$C"/evtx/*.evtx; do
    same "$(basename "$f")" "$f"
done
same "EQL conformance events" "$C/eql-conformance/events.ecs.ndjson"
same "every corpus file in one run" "$TMP/gen.ndjson" "$C"/sysmon/*.ndjson "$C"/elastic/*.ndjson \
    "$C"/evtx/*.evtx "$C/eql-conformance/events.ecs.ndjson" "$TMP/genp.ndjson"
n=$(wc -l <"$TMP/j1")
check "every corpus file: alerts to compare ($n)" test "$n" -gt 200

# stdin
cat "$TMP/gen.ndjson" "$TMP/genp.ndjson" | "$MODUS" scan -q -j 2 "${R[@]}" - >"$TMP/s2"
"$MODUS" scan -q -j 1 "${R[@]}" "$TMP/gen.ndjson" "$TMP/genp.ndjson" >"$TMP/f1"
check "stdin -j 2 = files -j 1" cmp -s "$TMP/s2" "$TMP/f1"

# the default is every CPU, and it is -j N too: same bytes as -j 1
"$MODUS" scan -q "${R[@]}" "$TMP/genp.ndjson" >"$TMP/d"
"$MODUS" scan -q -j 1 "${R[@]}" "$TMP/genp.ndjson" >"$TMP/d1"
check "default -j = -j 1" cmp -s "$TMP/d" "$TMP/d1"

# --no-rules --summary: the same modality counts
"$MODUS" scan -j 1 --no-rules --summary "$TMP/gen.ndjson" 2>&1 >/dev/null | grep -v '^modus: scanned' >"$TMP/m1"
"$MODUS" scan -j 2 --no-rules --summary "$TMP/gen.ndjson" 2>&1 >/dev/null | grep -v '^modus: scanned' >"$TMP/m2"
check "--summary: same modality distribution ($(wc -l <"$TMP/m1") lines)" cmp -s "$TMP/m1" "$TMP/m2"
check "--summary: not empty" grep -q 'modality summary: [1-9]' "$TMP/m1"

# malformed and too-long lines: reported with file:line:col and byte, in input
# order, counted, the other lines scanned
{
    head -50 "$TMP/gen.ndjson"
    echo '{"broken": '
    head -100 "$TMP/genp.ndjson" | tail -50
    printf '{"a":"%010000d"}\n' 0
    echo 'not json'
    tail -30 "$TMP/gen.ndjson"
} >"$TMP/bad.ndjson"
"$MODUS" scan -j 1 --max-line 8192 "${R[@]}" "$TMP/bad.ndjson" 2>"$TMP/b1.err" | unclock >"$TMP/b1"
"$MODUS" scan -j 2 --max-line 8192 "${R[@]}" "$TMP/bad.ndjson" 2>"$TMP/b2.err" | unclock >"$TMP/b2"
check "bad input: same alerts" cmp -s "$TMP/b1" "$TMP/b2"
grep -E '^modus: .*bad\.ndjson:[0-9]+' "$TMP/b1.err" >"$TMP/e1"
grep -E '^modus: .*bad\.ndjson:[0-9]+' "$TMP/b2.err" >"$TMP/e2"
check "bad input: errors reported ($(wc -l <"$TMP/e1"))" test "$(wc -l <"$TMP/e1")" -ge 2
check "bad input: the same error lines, in the same order" cmp -s "$TMP/e1" "$TMP/e2"
check "bad input: line 51 is the first error" grep -q 'bad\.ndjson:51:' "$TMP/e2"
expect_eq "bad input: counts" "$(grep -o 'errors: .*files' "$TMP/b2.err")" "$(grep -o 'errors: .*files' "$TMP/b1.err")"
expect_eq "bad input: exit status" "$("$MODUS" scan -q -j 2 "$TMP/bad.ndjson" >/dev/null 2>&1; echo $?)" 2

# a rule set with a pipe needs every event on one thread: said, and still right
mkdir -p "$TMP/pipe"
cat >"$TMP/pipe/head.toml" <<'EOF'
[rule]
name = "first three process starts"
id = "0b7d3c1e-3f55-4a0e-8a8e-6b1f2d9c4a77"
description = "The first three process starts of the input."
version = "1"
query = '''
process where event.type == "start" | head 3
'''
EOF
"$MODUS" scan -j 2 --rules "$TMP/pipe" "$TMP/gen.ndjson" >"$TMP/p2" 2>"$TMP/p2.err"
"$MODUS" scan -j 1 --rules "$TMP/pipe" "$TMP/gen.ndjson" >"$TMP/p1" 2>/dev/null
check "pipe: -j 2 says it scans on one thread" grep -q 'needs every event on one thread (a pipe' "$TMP/p2.err"
expect_eq "pipe: three alerts" "$(wc -l <"$TMP/p2")" 3
check "pipe: same alerts as -j 1" cmp -s "$TMP/p1" "$TMP/p2"

# options
"$MODUS" scan -j 0 "$TMP/gen.ndjson" >/dev/null 2>"$TMP/e"
check "-j 0 is refused" grep -q -- '-j needs a number from 1 to 256' "$TMP/e"
"$MODUS" scan -j x "$TMP/gen.ndjson" >/dev/null 2>"$TMP/e"
check "-j x is refused" grep -q -- '-j needs a number' "$TMP/e"
check "--help documents -j" grep -q -- '-j, --jobs N' <("$MODUS" scan --help)

# past the state cap each lane evicts from its share: the closing lines say the
# alerts may then differ from -j 1's (and do not say it without evictions)
"$MODUS" scan -j 2 --state-mb 1 "${R[@]}" "$TMP/genp.ndjson" 2>"$TMP/ev.err" >/dev/null
check "-j 2 with evictions: the note says the alerts may differ" grep -q 'note: with -j 2 each thread evicts' "$TMP/ev.err"
"$MODUS" scan -j 2 --state-mb 256 "${R[@]}" "$TMP/genp.ndjson" 2>"$TMP/ev.err" >/dev/null
check "-j 2 without evictions: no note" test -z "$(grep 'note: with -j' "$TMP/ev.err")"
"$MODUS" scan -j 1 --state-mb 1 "${R[@]}" "$TMP/genp.ndjson" 2>"$TMP/ev.err" >/dev/null
check "-j 1 with evictions: no note" test -z "$(grep 'note: with -j' "$TMP/ev.err")"

finish
