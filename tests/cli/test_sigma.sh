#!/usr/bin/env bash
# test_sigma.sh - Sigma rules through the CLI: rules written with
# modality.name (examples/sigma, ours) on EVTX and Elastic Defend data (the
# live sensor's own test is tests/live/test_live_sigma.sh); Sigma and TOML
# rules mixed in one --rules directory; `modus query` with a rule file;
# `rules test` of a Sigma rule's own tests; --sigma-mapping replaces the
# mapping table and a bad table is refused with its line; alerts carry rule.*.
source "$(dirname "$0")/lib.sh"
C=$SHARED/corpora
X=$SRC/examples/sigma

expect_eq "rules check: the examples compile" "$("$MODUS" rules check "$X" 2>&1 | tail -1)" \
    "3 rules compiled, 0 failed"
expect_eq "rules test: a Sigma rule's own tests (modus: tests:)" "$("$MODUS" rules test "$X" 2>&1 | tail -1)" \
    "2 passed, 0 failed"

# --- modality.name on EVTX (Sysmon 10 CallTrace) and Elastic Defend ------------------------
"$MODUS" scan -q --format json --rules "$X" "$C/evtx/discovery_meterpreter_ps_cmd_process_listing_sysmon_10.evtx" \
    >"$TMP/evtx.json" 2>/dev/null
n=$(jq -r 'select(.rule.name == "Process Opened by Shellcode") | .modality.name' "$TMP/evtx.json" | sort | uniq -c)
expect_eq "EVTX: meterpreter's process accesses from shellcode" "$(echo $n)" "49 shellcode"
expect_eq "EVTX: Dumpert's direct syscalls are native, not shellcode" \
    "$("$MODUS" scan -q --format json --rules "$X" "$C/evtx/sysmon_10_11_outlfank_dumpert_and_andrewspecial_memdump.evtx" 2>/dev/null | wc -l)" 0
"$MODUS" scan -q --format json --rules "$X" "$C/elastic/article_event.ndjson" >"$TMP/defend.json" 2>/dev/null
expect_eq "Elastic Defend: the article's VirtualProtect from a PowerShell script" \
    "$(jq -r '[.rule.name, .modality.name] | @tsv' "$TMP/defend.json")" \
    "$(printf 'Memory Made Executable by a Script Runtime\tpowershell')"
expect_eq "alerts carry rule.id, severity (level), threat (tags)" \
    "$(jq -c '[.rule.id, .rule.severity, .threat[0].tactic.id, .threat[0].technique[0].id]' "$TMP/defend.json")" \
    '["3f6c2a91-5d47-4b8e-9c1a-7e2d4b6f8a01","high","TA0005","T1055"]'

# --- mixed with TOML; modus query with a rule file -------------------------------------------
mkdir -p "$TMP/mixed"
cp "$X"/*.yml "$TMP/mixed/"
printf '[rule]\nname = "toml"\nid = "toml-1"\nquery = '"'''"'\napi where modality.name == "powershell"\n'"'''"'\n' \
    >"$TMP/mixed/r.toml"
expect_eq "a directory of TOML and Sigma rules" "$("$MODUS" rules check "$TMP/mixed" 2>&1 | tail -1)" \
    "4 rules compiled, 0 failed"
expect_eq "both kinds alert" \
    "$("$MODUS" scan -q --format json --rules "$TMP/mixed" "$C/elastic/article_event.ndjson" 2>/dev/null | jq -r .rule.id | sort | tr '\n' ' ')" \
    "3f6c2a91-5d47-4b8e-9c1a-7e2d4b6f8a01 toml-1 "
expect_eq "modus query RULE.yml FILE: the rule's query" \
    "$("$MODUS" query --ids-field process.pid "$X/process_access_from_shellcode.yml" "$C/evtx/discovery_meterpreter_ps_cmd_process_listing_sysmon_10.evtx" | wc -l)" 49
"$MODUS" rules list --query "$X/process_access_from_shellcode.yml" >"$TMP/list" 2>/dev/null
check "rules list --query shows the EQL a Sigma rule compiles to" \
    grep -q 'process where (event.module : "sysmon" and event.code : "10") and ((modality.name : "shellcode"' "$TMP/list"
check "rules list shows the logsource" grep -q 'logsource product=windows,category=process_access' "$TMP/list"

# --- the mapping is data ---------------------------------------------------------------------------
{ echo 'field  modality.name  event.custom_modality'; cat "$SRC/data/sigma.conf"; } >"$TMP/map.conf"
"$MODUS" rules list --query --sigma-mapping "$TMP/map.conf" "$X/process_access_from_shellcode.yml" >"$TMP/list2" 2>&1
check "--sigma-mapping replaces the table" grep -q 'event.custom_modality : "shellcode"' "$TMP/list2"
printf 'logsource product=windows\n' >"$TMP/bad.conf"
"$MODUS" rules check --sigma-mapping "$TMP/bad.conf" "$X" >/dev/null 2>"$TMP/err"
expect_eq "a bad table: usage error" "$?" 2
check "a bad table: file:line and why" grep -q 'bad.conf:1: logsource needs KEYS CATEGORY CONDITION' "$TMP/err"
"$MODUS" scan --sigma-mapping "$TMP/map.conf" --rules "$X" -q --format json "$C/elastic/article_event.ndjson" \
    >/dev/null 2>&1
expect_eq "scan takes --sigma-mapping" "$?" 0

# --- bad input: a file that is not YAML, a rule that is not Sigma --------------------------------
printf 'title: x\n\t- bad: [\n' >"$TMP/bad.yml"
printf 'just: a map\n' >"$TMP/notsigma.yml"
"$MODUS" rules check "$TMP/bad.yml" "$TMP/notsigma.yml" >"$TMP/out" 2>"$TMP/err"
expect_eq "bad YAML: exit 3" "$?" 3
expect_eq "both reported, counted" "$(tail -1 "$TMP/out")" "0 rules compiled, 2 failed"
check "the YAML error has its position" grep -q 'bad.yml:2:1: ' "$TMP/err"
check "a map without title: its position" grep -q "notsigma.yml:1:1: missing 'title'" "$TMP/err"
finish
