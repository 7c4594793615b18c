#!/usr/bin/env bash
# test_golden.sh - the bundled sample telemetry (examples/sample.ndjson, one
# event per modality, written by us) against the expectations a reviewer set
# in tests/golden/sample_expected.tsv: LINE, modality, syscall, anomalies.
source "$(dirname "$0")/lib.sh"
want=$SRC/tests/golden/sample_expected.tsv
"$MODUS" scan --enrich --format json "$SRC/examples/sample.ndjson" >"$TMP/out" 2>"$TMP/err"
expect_eq "sample: exit status" "$?" 0
expect_eq "sample: one output line per event" "$(wc -l <"$TMP/out")" "$(wc -l <"$want")"
jq -r '[.modality.name, .modality.syscall, (.modality.anomalies | if length == 0 then "-" else join(",") end)] | @tsv' \
    "$TMP/out" | paste <(seq 1 "$(wc -l <"$TMP/out")") - >"$TMP/got"
while IFS=$'\t' read -r line modality syscall anomalies _; do
    got=$(awk -F'\t' -v l="$line" '$1 == l {print $2 " " $3 " " $4}' "$TMP/got")
    expect_eq "sample line $line" "$got" "$modality $syscall $anomalies"
done <"$want"
expect_eq "sample: every event with a stack has evidence" \
    "$(jq -r 'select(.modality.name != "unknown" and (.modality.evidence | length) == 0)' "$TMP/out" | wc -l)" 0
modalities=$(jq -r .modality.name "$TMP/out" | sort -u | tr '\n' ' ')
expect_eq "sample: covers every modality of SPEC §4" "$modalities" \
    "autoit com dotnet java jscript kernel lua native node perl php powershell python rpc ruby shell shellcode unknown vb6 vba vbscript wmi "
finish
