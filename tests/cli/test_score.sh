#!/usr/bin/env bash
# test_score.sh - Summiting the Pyramid scores (modus rules score): the seed
# article's two rules, each combination rule, each column, the default pack
# and Elastic's 1,314 rules, --json, --min gating, robustness in alerts.
source "$(dirname "$0")/lib.sh"
C=$SHARED/corpora
mk() { # FILE NAME QUERY
    printf '[rule]\nname = "%s"\nid = "%s"\nquery = '"'''"'\n%s\n'"'''"'\n' "$2" "$2" "$3" >"$TMP/r/$1.toml"
}
score() { # FILE -> "5K"
    "$MODUS" rules score --json "$TMP/r/$1.toml" 2>/dev/null | jq -r .robustness.score
}
mkdir -p "$TMP/r"

# --- the seed article -----------------------------------------------------------
mk modality "PowerShell-script modality via kernel telemetry" \
    'api where process.Ext.api.name == "VirtualProtect" and process.thread.Ext.call_stack_final_user_module.name == "Unbacked" and process.thread.Ext.call_stack_final_user_module.protection_provenance : ("clr.dll", "coreclr.dll", "mscorwks.dll")'
mk scriptblock "ScriptBlock text" 'any where powershell.file.script_block_text : ("*VirtualProtect*", "*kernel32*")'
mk production "the same modality, pinned to powershell.exe" \
    'api where process.name in~ ("powershell.exe", "pwsh.exe") and process.Ext.api.name == "VirtualProtect" and process.thread.Ext.call_stack_final_user_module.name == "Unbacked" and process.thread.Ext.call_stack_final_user_module.protection_provenance : ("clr.dll", "coreclr.dll")'
expect_eq "article: kernel API event + CLR-provenance Unbacked module" "$(score modality)" 5K
expect_eq "article: ScriptBlock text" "$(score scriptblock)" 2A
expect_eq "AND with process.name is capped at level 1" "$(score production)" 1K
check "the cap is explained" grep -q "process.name (1K).*capped by it: .* alone would score 5K" \
    <("$MODUS" rules score "$TMP/r/production.toml")

# --- combination rules -------------------------------------------------------------
mk and 'AND takes the minimum' 'process where process.code_signature.trusted == true and process.name == "x.exe"'
mk or 'OR takes the maximum' 'process where process.code_signature.trusted == true or process.name == "x.exe"'
mk not 'NOT keeps the score' 'process where not process.code_signature.trusted == true'
mk filter 'a filter: A and not (C and D) = min(A, max(C, D))' \
    'registry where registry.path : "HKLM\\SYSTEM\\*ControlSet*\\Services\\*\\ImagePath" and not (process.name == "x.exe" and process.code_signature.trusted == true)'
mk filteror 'a filter of ORs: the minimum of its items' \
    'registry where registry.path : "HKLM\\SYSTEM\\*ControlSet*\\Services\\*\\ImagePath" and not (process.name == "x.exe" or process.code_signature.trusted == true)'
mk seq 'a sequence is the AND of its stages' \
    'sequence by process.entity_id [process where process.code_signature.trusted == true] [api where modality.name == "powershell"]'
mk selectors 'selectors do not count' 'api where event.action == "VirtualProtect" and modality.name == "powershell"'
expect_eq "AND = min" "$(score and)" 1K
expect_eq "OR = max" "$(score or)" 3K
expect_eq "NOT keeps" "$(score not)" 3K
expect_eq "filter (C and D) = max(C, D)" "$(score filter)" 3K
expect_eq "filter (C or D) = min(C, D)" "$(score filteror)" 1K
expect_eq "sequence = AND of stages" "$(score seq)" 3K
expect_eq "event.action selects, does not score" "$(score selectors)" 5K

# --- columns ---------------------------------------------------------------------------
mk colk 'process events are kernel' 'process where process.code_signature.trusted == true'
mk colu 'dns events are user-mode' 'dns where process.code_signature.trusted == true'
mk cola 'ScriptBlock text is application' 'any where powershell.file.script_block_text : "*x*"'
mk colmin 'columns combine like levels' 'sequence [dns where process.code_signature.trusted == true] [process where process.code_signature.trusted == true]'
expect_eq "column K" "$(score colk)" 3K
expect_eq "column U" "$(score colu)" 3U
expect_eq "column A" "$(score cola)" 2A
expect_eq "(3U AND 3K) = 3U" "$(score colmin)" 3U

# --- the table is data ------------------------------------------------------------------
{ echo "field  process.name  4  -  a test override"; cat "$SRC/data/observables.conf"; } >"$TMP/obs.conf"
expect_eq "--observables overrides the embedded table" \
    "$("$MODUS" rules score --json --observables "$TMP/obs.conf" "$TMP/r/production.toml" | jq -r .robustness.score)" 4K
printf 'field  process.name  9  -  bad\n' >"$TMP/bad.conf"
"$MODUS" rules score --observables "$TMP/bad.conf" "$TMP/r/and.toml" >/dev/null 2>"$TMP/err"
expect_eq "a bad table: usage error" "$?" 2
check "a bad table: file:line" grep -q "bad.conf:1: a field needs a level" "$TMP/err"

# --- whole rule sets -------------------------------------------------------------------
"$MODUS" rules score --json >"$TMP/pack.json" 2>"$TMP/err"
expect_eq "default pack: every rule scored" "$(jq -r .robustness.score "$TMP/pack.json" | grep -Ec '^[1-5][AUK]$')" \
    "$("$MODUS" rules list 2>/dev/null | grep -c '^[0-9a-f]\{8\}-')"
expect_eq "--json shape" "$(jq -c '[(.rule | keys), (.robustness | keys)]' "$TMP/pack.json" | sort -u)" \
    '[["id","name"],["column","level","reason","score"]]'
bash "$SRC/tests/cli/rules_to_toml.sh" "$C/elastic-rules/behavior_rules.jsonl" "$TMP/elastic" >/dev/null
"$MODUS" rules score --json "$TMP/elastic" >"$TMP/elastic.json" 2>"$TMP/err"
expect_eq "Elastic corpus: all 1,314 rules scored" "$(jq -r .robustness.score "$TMP/elastic.json" | grep -Ec '^[1-5][AUK]$')" 1314

# --- gating and alerts --------------------------------------------------------------------
"$MODUS" rules score --min 2A "$TMP/r/modality.toml" "$TMP/r/scriptblock.toml" >/dev/null 2>&1
expect_eq "--min 2A passes 5K and 2A" "$?" 0
"$MODUS" rules score --min 3K "$TMP/r/modality.toml" "$TMP/r/scriptblock.toml" >/dev/null 2>"$TMP/err"
expect_eq "--min 3K fails on 2A" "$?" 1
check "--min says how many" grep -q "1 rules score below" "$TMP/err"
"$MODUS" rules score --min 9Z "$TMP/r/modality.toml" >/dev/null 2>&1
expect_eq "--min with a bad score: usage error" "$?" 2
expect_eq "alerts carry rule.robustness" \
    "$("$MODUS" scan "$C/elastic/article_event.ndjson" 2>/dev/null | jq -r .rule.robustness)" 4K
finish
