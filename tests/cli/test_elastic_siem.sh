#!/usr/bin/env bash
# test_elastic_siem.sh - Elastic's SIEM detection rules (elastic/detection-rules,
# ../shared/corpora/elastic-detection-rules) in their own TOML format:
#   1. every EQL rule compiles ("1011 rules compiled, 0 failed"); the KQL,
#      ES|QL, threshold, new-terms, machine-learning... rules are counted apart
#      as not applicable, by kind, and are not errors;
#   2. rule_id, [[rule.threat]], severity, index are read, the index patterns
#      mapped to what modus reads (data/sources.conf);
#   3. all of them run over every EVTX and Sysmon corpus file with no error,
#      and raise what these recordings hold (LSASS access, Dumpert's direct
#      syscalls, a PssCaptureSnapShot clone, spoolsv's child, service installs).
source "$(dirname "$0")/lib.sh"
R=$SHARED/corpora/elastic-detection-rules/rules
C=$SHARED/corpora
if [ ! -d "$R" ]; then
    echo "skip: no $R" >&2
    finish
    exit
fi

# --- 1. compile ---------------------------------------------------------------------------
"$MODUS" rules check "$R" >"$TMP/check.out" 2>"$TMP/check.err"
expect_eq "check exits 0" "$?" 0
expect_eq "every EQL rule compiles" "$(tail -1 "$TMP/check.out")" "1011 rules compiled, 0 failed"
expect_eq "no errors" "$(head -3 "$TMP/check.err")" ""
eql=$(grep -rl '^language = "eql"' "$R" | wc -l)
all=$(find "$R" -name '*.toml' | wc -l)
na=$(grep -o '^[0-9]* rules not applicable' "$TMP/check.out" | awk '{print $1}')
expect_eq "the others are counted apart" "$na" "$((all - eql))"
check "by kind: KQL queries" grep -q '477 type query, language kuery' "$TMP/check.out"
check "by kind: ES|QL" grep -q '209 type esql, language esql' "$TMP/check.out"
check "by kind: machine learning" grep -q '106 type machine_learning' "$TMP/check.out"
check "by kind: new terms" grep -q '221 type new_terms, language kuery' "$TMP/check.out"
check "by kind: threshold" grep -q '30 type threshold, language kuery' "$TMP/check.out"
# the six that needed sample, missing events (!) and back-ticks
for f in linux/execution_netcon_from_rwx_mem_region_binary linux/execution_shell_via_meterpreter_linux \
    linux/execution_shell_via_udp_cli_utility_linux cross-platform/defense_evasion_missing_events_after_alert \
    integrations/okta/persistence_mfa_deactivation_with_no_reactivation \
    integrations/azure/persistence_entra_id_device_registration_to_prt_chain; do
    expect_eq "compiles: $f" "$("$MODUS" rules check "$R/$f.toml" 2>&1 | tail -1)" "1 rules compiled, 0 failed"
done

# --- 2. what is read -------------------------------------------------------------------------
f=$R/windows/credential_access_lsass_handle_via_malseclogon.toml
id=$(awk -F'"' '/^rule_id = /{print $2}' "$f")
"$MODUS" rules list "$f" >"$TMP/list" 2>/dev/null
check "rule_id is the rule's id" grep -q "^$id " "$TMP/list"
check "[[rule.threat]] techniques" grep -q 'ATT&CK T1003,T1003.001' "$TMP/list"
check "severity" grep -q "^$id  *\\(low\\|medium\\|high\\|critical\\)" "$TMP/list"
check "index patterns -> what modus reads" grep -q 'reads windows$' "$TMP/list"
check "rules reading nothing modus reads are counted" \
    grep -q '^[0-9]* of the compiled rules read only indexes modus does not read' "$TMP/check.out"

# --- 3. over every EVTX and Sysmon corpus file ------------------------------------------------
"$MODUS" scan --format json --rules "$R" "$C"/evtx/*.evtx "$C"/sysmon/*.ndjson \
    >"$TMP/alerts.json" 2>"$TMP/scan.err"
expect_eq "scan exits 0" "$?" 0
check "no input errors" grep -q 'errors: 0 malformed, 0 too long, 0 unreadable files' "$TMP/scan.err"
check "1011 rules loaded" grep -q '^modus: 1011 rules loaded$' "$TMP/scan.err"
fires() { # FILE RULE-NAME: the rule fires on that file
    "$MODUS" scan -q --format json --rules "$R" "$1" 2>/dev/null | jq -r .rule.name | grep -qxF "$2"
}
check "Dumpert: Suspicious Process Access via Direct System Call" \
    fires "$C/evtx/sysmon_10_11_outlfank_dumpert_and_andrewspecial_memdump.evtx" \
    "Suspicious Process Access via Direct System Call"
check "Dumpert: LSASS Memory Dump Creation" \
    fires "$C/evtx/sysmon_10_11_outlfank_dumpert_and_andrewspecial_memdump.evtx" "LSASS Memory Dump Creation"
check "MalSecLogon: Potential LSASS Clone Creation via PssCaptureSnapShot" \
    fires "$C/evtx/tutto_malseclogon.evtx" "Potential LSASS Clone Creation via PssCaptureSnapShot"
check "spoolsv injection: Unusual Print Spooler Child Process" \
    fires "$C/evtx/evasion_codeinj_odzhan_spoolsv_sysmon_10_1.evtx" "Unusual Print Spooler Child Process"
check "mimikatz: Suspicious Lsass Process Access" \
    fires "$C/evtx/babyshark_mimikatz_powershell.evtx" "Suspicious Lsass Process Access"
check "a remote service install: Suspicious Service was Installed in the System" \
    fires "$C/evtx/LM_Remote_Service02_7045.evtx" "Suspicious Service was Installed in the System"
check "Sysmon 10 call traces: Potential Credential Access via LSASS Memory Dump" \
    fires "$C/sysmon/otrf_sysmon_eid10_calltrace.ndjson" "Potential Credential Access via LSASS Memory Dump"
n=$(wc -l <"$TMP/alerts.json")
echo "Elastic's 1,011 EQL SIEM rules over the EVTX and Sysmon corpora: $n alerts"
check "alerts carry rule.id, severity, threat" \
    test "$(jq -r 'select(.rule.id and .rule.severity and (.threat | length > 0)) | 1' "$TMP/alerts.json" | wc -l)" -eq "$n"
finish
