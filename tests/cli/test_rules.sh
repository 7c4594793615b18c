#!/usr/bin/env bash
# test_rules.sh - rules: Elastic's 1,314 public behaviour rules compile
# unchanged; the default pack's own tests pass; alerts have the SPEC §6 shape;
# errors point at file:line:col with the offending text; exit codes.
source "$(dirname "$0")/lib.sh"
C=$SHARED/corpora

# --- every public Elastic endpoint rule, converted to TOML, compiles --------
bash "$SRC/tests/cli/rules_to_toml.sh" "$C/elastic-rules/behavior_rules.jsonl" "$TMP/elastic" >/dev/null
out=$("$MODUS" rules check "$TMP/elastic" 2>"$TMP/check.err")
expect_eq "rules check: Elastic corpus" "$out" "1314 rules compiled, 0 failed"
[ -s "$TMP/check.err" ] && head -5 "$TMP/check.err" >&2

# --- the default pack -------------------------------------------------------
out=$("$MODUS" rules test 2>"$TMP/test.err")
check "default pack: every rule test passes ($out)" grep -Eq '^[1-9][0-9]* passed, 0 failed$' <<<"$out"
n=$("$MODUS" rules list 2>/dev/null | grep -c '^[0-9a-f]\{8\}-')
check "default pack: at least 10 rules ($n)" test "$n" -ge 10
expect_eq "default pack: every rule has ATT&CK ids" \
    "$("$MODUS" rules list 2>/dev/null | grep -c 'ATT&CK T')" "$n"
expect_eq "default pack: every rule has a positive and a negative test" \
    "$("$MODUS" rules list 2>/dev/null | grep -Ec 'tests [2-9]')" "$n"
"$MODUS" rules check "$SRC/rules" >"$TMP/o" 2>&1
expect_eq "default pack sources compile" "$(tail -1 "$TMP/o")" "$n rules compiled, 0 failed"

# --- the article event raises the PowerShell rule ---------------------------
"$MODUS" scan "$C/elastic/article_event.ndjson" >"$TMP/a.json" 2>/dev/null
expect_eq "article: one alert" "$(wc -l <"$TMP/a.json")" 1
expect_eq "article: rule" "$(jq -r .rule.name "$TMP/a.json")" "Memory made executable by a script modality"
expect_eq "article: modality in the alert" "$(jq -r .modality.name "$TMP/a.json")" powershell
expect_eq "article: alert shape" "$(jq -c '[.event.kind, (.rule | has("id") and has("name") and has("description") and has("version")), (.threat | length > 0), (.events | length), .process.pid]' "$TMP/a.json")" \
    '["alert",true,true,1,21908]'
expect_eq "article: the triggering event is whole" \
    "$(jq -cS '.events[0]' "$TMP/a.json")" "$(jq -cS . "$C/elastic/article_event.ndjson")"
"$MODUS" scan --exit-status "$C/elastic/article_event.ndjson" >/dev/null 2>&1
expect_eq "--exit-status with alerts" "$?" 1

# --- quiet on benign telemetry: Elastic's sample documents and our sample's benign events
jq -c .event "$C/elastic/elastic_endpoint_sample_events.ndjson" >"$TMP/samples.ndjson"
"$MODUS" scan --exit-status "$TMP/samples.ndjson" >"$TMP/s.json" 2>/dev/null
expect_eq "Elastic sample documents: no alerts" "$?:$(wc -l <"$TMP/s.json")" "0:0"
"$MODUS" scan "$SRC/examples/sample.ndjson" >"$TMP/e.json" 2>/dev/null
expect_eq "sample: no alert on a native, rpc, com or wmi event" \
    "$(jq -r 'select(.modality.name | IN("native","rpc","com","wmi")) | select(.rule.name | test("syscall|tampered") | not) | .rule.name' "$TMP/e.json" | wc -l)" 0

# --- Sysmon: LSASS read by scripts and in-memory tools ------------------------
"$MODUS" scan "$C"/sysmon/*eid10*.ndjson >"$TMP/l.json" 2>/dev/null
expect_eq "Sysmon: LSASS alerts come only from script or shellcode modalities" \
    "$(jq -r 'select(.rule.name | startswith("LSASS")) | .modality.name' "$TMP/l.json" | sort -u | tr '\n' ' ')" \
    "dotnet powershell python shellcode "
check "Sysmon: Outflank Dumpert's direct syscalls alert" \
    grep -q 'Outflank-Dumpert' <(jq -r 'select(.rule.name | startswith("Sensitive operation through")) | .events[0].winlog.event_data.SourceImage' "$TMP/l.json")

# --- the prefilter never changes what fires ----------------------------------
# every Windows rule of the corpus plus the pack, over generated events and the
# Sysmon corpus, with the prefilter and with every rule evaluated on every event
mkdir -p "$TMP/win"
cp "$TMP"/elastic/behavior/rules/windows/*.toml "$TMP/win/"
cc -O2 -o "$TMP/gen" "$SRC/bench/gen_ecs.c"
"$TMP/gen" 4000000 7 >"$TMP/gen.ndjson"
"$TMP/gen" 3000000 9 process >"$TMP/genp.ndjson" # the process-heavy mix
cat "$TMP/gen.ndjson" "$TMP/genp.ndjson" "$C"/sysmon/*.ndjson "$C"/elastic/*.ndjson "$C"/eql-conformance/events.ecs.ndjson \
    "$SRC/examples/sample.ndjson" >"$TMP/mix.ndjson"
"$MODUS" scan -q --rules "$TMP/win" --rules "$SRC/rules" "$TMP/mix.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/pf-on"
MODUS_PREFILTER=off "$MODUS" scan -q --rules "$TMP/win" --rules "$SRC/rules" "$TMP/mix.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/pf-off"
check "prefilter: some alerts to compare ($(wc -l <"$TMP/pf-on"))" test "$(wc -l <"$TMP/pf-on")" -gt 100
check "prefilter: the same alerts with and without it" cmp -s "$TMP/pf-on" "$TMP/pf-off"
# the compiled programs against the tree walker behind the same prefilter
MODUS_PROGRAMS=off "$MODUS" scan -q --rules "$TMP/win" --rules "$SRC/rules" "$TMP/mix.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/prog-off"
check "programs: the same alerts as the tree walker" cmp -s "$TMP/pf-on" "$TMP/prog-off"
# automata with (almost) no dense rows: every deep state through its edges and fail links
MODUS_AC_DENSE_KB=1 "$MODUS" scan -q --rules "$TMP/win" --rules "$SRC/rules" "$TMP/mix.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/ac-sparse"
check "automata: the same alerts with sparse deep states" cmp -s "$TMP/pf-on" "$TMP/ac-sparse"
MODUS_AC_DENSE_KB=1000000 "$MODUS" scan -q --rules "$TMP/win" --rules "$SRC/rules" "$TMP/mix.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/ac-dense"
check "automata: the same alerts with every state dense" cmp -s "$TMP/pf-on" "$TMP/ac-dense"
# a broken program (leaf negation ignored) must be caught by the same comparison
MODUS_PROGRAMS_FAULT=neg "$MODUS" scan -q --rules "$TMP/win" --rules "$SRC/rules" "$TMP/mix.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/prog-bad"
check "programs: the comparison fails on a broken program" sh -c "! cmp -s '$TMP/pf-on' '$TMP/prog-bad'"
# every operator that becomes a leaf, on strings, arrays, mixed arrays,
# numbers, null and missing fields, under and / or / not
mkdir -p "$TMP/ops"
i=0
for q in 'a == "x"' 'a != "x"' 'a : ("x*", "abc")' 'a like "X*"' 'a like~ "x*"' 'a regex "x.*"' \
    'a regex~ "X+"' 'a in ("x", "abc")' 'a in~ ("X")' 'a not in ("x")' 'startsWith(a, "x")' \
    'endsWith~(a, "C")' 'stringContains(a, "b")' 'wildcard(a, "?b*")' 'a == null' 'a != null' \
    'not (a : "x*" or b.c == "y")' '(a : "*" and not b.c in ("y", "z")) or b.c == null' \
    'a == b.c' 'length(a) > 1' 'a == 5'; do
    i=$((i + 1))
    printf '[rule]\nname = "op%s"\nid = "op%s"\nquery = """\nprocess where %s\n"""\n' "$i" "$i" "$q" >"$TMP/ops/$i.toml"
done
for v in '"x"' '"X"' '"abc"' '["x","y"]' '[]' '["x",5]' '5' 'true' 'null' '{}'; do
    printf '{"event":{"category":"process"},"a":%s,"b":{"c":"y"}}\n{"event":{"category":"process"},"a":%s}\n' "$v" "$v"
done >"$TMP/ops.ndjson"
printf '{"event":{"category":"process"}}\n{"event":{"category":"process"},"b":{"c":["z"]}}\n' >>"$TMP/ops.ndjson"
"$MODUS" scan -q --rules "$TMP/ops" "$TMP/ops.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/ops-on"
MODUS_PREFILTER=off "$MODUS" scan -q --rules "$TMP/ops" "$TMP/ops.ndjson" 2>/dev/null | jq -c '[.rule.id, .events]' | sort >"$TMP/ops-off"
check "programs: operators on every field type ($(wc -l <"$TMP/ops-on") alerts)" test "$(wc -l <"$TMP/ops-on")" -gt 50
check "programs: operators on every field type, as the tree walker" cmp -s "$TMP/ops-on" "$TMP/ops-off"
MODUS_PREFILTER=explain "$MODUS" scan -q --rules "$TMP/ops/17.toml" /dev/null 2>"$TMP/ops-x" >/dev/null
check "programs: explain shows a program of leaves" grep -q '^rule 0 stage 0 program: 4 instructions, 2 leaves, 0 residual$' "$TMP/ops-x"
# every Windows rule yields a condition (at most one has a later stage without one)
"$MODUS" scan --rules "$TMP/win" /dev/null 2>"$TMP/pf-err" >/dev/null
check "prefilter: at most one Windows rule partly defeats it ($(grep -c 'defeats the prefilter' "$TMP/pf-err"))" \
    test "$(grep -c 'defeats the prefilter' "$TMP/pf-err")" -le 1
# conditions of two clauses (both must hold), and `or` distributed over them
mkdir -p "$TMP/two"
cat >"$TMP/two/a.toml" <<'EOF'
[rule]
name = "two"
id = "t1"
query = '''
file where user.id : "S-1-5-21*" and file.path : "*\\Startup\\*"
'''
EOF
cat >"$TMP/two/b.toml" <<'EOF'
[rule]
name = "or2"
id = "t2"
query = '''
process where (process.name == "a.exe" and user.id == "u1") or
  (process.name == "b.exe" and user.id == "u2")
'''
EOF
cat >"$TMP/two/c.toml" <<'EOF'
[rule]
name = "seq2"
id = "t3"
query = '''
sequence by process.entity_id
 [process where process.name == "a.exe"]
 [file where user.id : "S-1-5-21*" and file.path : "*\\Startup\\*"]
'''
EOF
ev() { printf '{"@timestamp":"2024-01-01T00:00:0%sZ","event":{"category":["%s"]},"user":{"id":"%s"},"process":{"name":"%s","entity_id":"p"},"file":{"path":"%s"}}\n' "$@"; }
{
    ev 1 file S-1-5-21-1 x.exe 'C:\\Users\\u\\Startup\\x.lnk'
    ev 2 file S-1-5-18 x.exe 'C:\\Users\\u\\Startup\\x.lnk'
    ev 3 file S-1-5-21-1 x.exe 'C:\\Users\\u\\x.lnk'
    ev 4 process u2 a.exe ''
    ev 5 process u1 a.exe ''
    ev 6 process u1 b.exe ''
    ev 7 process u2 b.exe ''
    ev 8 file S-1-5-21-2 a.exe 'C:\\Users\\u\\Startup\\y.lnk'
    # flattened keys, alone and next to a nested object of the same name: the
    # prefilter's groups of fields by first component see them
    printf '{"@timestamp":"2024-01-01T00:00:09Z","event.category":"process","process.name":"b.exe","user":{"id":"u2"}}\n'
    printf '{"@timestamp":"2024-01-01T00:00:10Z","event":{"category":"process"},"process":{"pid":1},"process.name":"b.exe","user":{"id":"u2"}}\n'
} >"$TMP/two.ndjson"
MODUS_PREFILTER=explain "$MODUS" scan -q --rules "$TMP/two" "$TMP/two.ndjson" 2>"$TMP/two-x" | jq -c '[.rule.name, [.events[]."@timestamp"[17:19]]]' | sort >"$TMP/two-on"
MODUS_PREFILTER=off "$MODUS" scan -q --rules "$TMP/two" "$TMP/two.ndjson" 2>/dev/null | jq -c '[.rule.name, [.events[]."@timestamp"[17:19]]]' | sort >"$TMP/two-off"
check "prefilter: a condition of two clauses" grep -q '^rule 0 p=[0-9.]*: user.id^s-1-5-21 & file.path~\\startup\\$' "$TMP/two-x"
expect_eq "prefilter: two clauses, or over them, a sequence's later stage" "$(tr '\n' ' ' <"$TMP/two-on")" \
    '["or2",["05"]] ["or2",["07"]] ["or2",["09"]] ["or2",["10"]] ["seq2",["05","08"]] ["two",["01"]] ["two",["08"]] '
check "prefilter: the same alerts without it" cmp -s "$TMP/two-on" "$TMP/two-off"
printf '[rule]\nname = "neg"\nid = "n1"\nquery = """\nany where not process.name : "a.exe"\n"""\n' >"$TMP/neg.toml"
"$MODUS" scan --rules "$TMP/neg.toml" /dev/null 2>"$TMP/pf-err" >/dev/null
check "prefilter: a rule without condition is reported" \
    grep -q "rule 'neg' defeats the prefilter: no condition on any field" "$TMP/pf-err"

# --- --profile ------------------------------------------------------------------
"$MODUS" scan --profile --rules "$SRC/rules" "$C/elastic/article_event.ndjson" >/dev/null 2>"$TMP/prof"
check "--profile: a cost table" grep -q "rule cost (--profile)" "$TMP/prof"
check "--profile: candidate rules per event" grep -Eq '^modus: candidate rules per event \(--profile\): mean [0-9.]+, p95 [0-9]+ of [0-9]+ loaded$' "$TMP/prof"
check "--profile: the rule that fired, with its alert" grep -Eq '^ +1 +[0-9.]+ +[0-9]+ +1  Memory made executable by a script modality$' "$TMP/prof"

# --- errors -------------------------------------------------------------------
printf '[rule]\nname = "bad"\nid = "x"\nquery = """\nprocess where\n  process.name == "a" and\n  startsWith(process.name)\n"""\n' >"$TMP/bad.toml"
"$MODUS" rules check "$TMP/bad.toml" >"$TMP/o" 2>"$TMP/err"
expect_eq "bad rule: exit 3" "$?" 3
expect_eq "bad rule: summary line" "$(cat "$TMP/o")" "0 rules compiled, 1 failed"
check "bad rule: file:line:col and message" grep -q "bad.toml:7:3: startswith takes 2 arguments, not 1" "$TMP/err"
check "bad rule: the offending text" grep -q '^ *startsWith(process.name)$' "$TMP/err"
printf '[rule]\nname = 3\n' >"$TMP/bad2.toml"
"$MODUS" rules check "$TMP/bad2.toml" 2>"$TMP/err" >/dev/null
check "bad TOML: reported with a line" grep -q "bad2.toml:2:" "$TMP/err"
"$MODUS" scan --rules "$TMP/bad.toml" --rules "$SRC/rules" "$C/elastic/article_event.ndjson" >"$TMP/o" 2>"$TMP/err"
expect_eq "a failed rule is skipped, the others run" "$?:$(wc -l <"$TMP/o")" "0:1"
check "the skipped rule is reported" grep -q "rule skipped" "$TMP/err"
"$MODUS" scan --strict --rules "$TMP/bad.toml" "$C/elastic/article_event.ndjson" >/dev/null 2>&1
expect_eq "--strict: exit 3" "$?" 3
finish
