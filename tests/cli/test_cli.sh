#!/usr/bin/env bash
# test_cli.sh - command-line contracts: help, exit codes, stack explain and
# --json shape (SPEC §7), stdin frames, --modalities override and its errors,
# enrich round trips.
source "$(dirname "$0")/lib.sh"
C=$SHARED/corpora

for c in scan stack; do
    check "$c --help exits 0 and shows usage" sh -c "'$MODUS' $c --help | grep -q '^usage: modus $c'"
done
check "modus --help" sh -c "'$MODUS' --help | grep -q '^usage: modus COMMAND'"
check "modus --version" sh -c "'$MODUS' --version | grep -Eq '^modus [0-9]+\.[0-9]+\.[0-9]+$'"
"$MODUS" frobnicate >/dev/null 2>"$TMP/err"
expect_eq "unknown command exits 2" "$?" 2
check "unknown command is named" grep -q "unknown command 'frobnicate'" "$TMP/err"
"$MODUS" scan --format yaml x >/dev/null 2>&1
expect_eq "bad --format exits 2" "$?" 2
"$MODUS" stack --os solaris x >/dev/null 2>&1
expect_eq "bad --os exits 2" "$?" 2

# --- modus stack: a Sysmon CallTrace, --json nested as in events --------------
ct='C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2c13e|c:\python27\DLLs\_ctypes.pyd+ed6a|C:\Windows\system32\python27.dll+8f14c|C:\Windows\System32\KERNEL32.DLL+17c24|C:\Windows\SYSTEM32\ntdll.dll+6cea1'
j=$("$MODUS" stack --json "$ct")
expect_eq "stack --json: modality.name" "$(jq -r .modality.name <<<"$j")" python
expect_eq "stack --json: modality.syscall" "$(jq -r .modality.syscall <<<"$j")" stub
expect_eq "stack --json: initiator" "$(jq -r .modality.initiator.name <<<"$j")" _ctypes.pyd
expect_eq "stack --json: summary" "$(jq -r .process.thread.Ext.call_stack_summary <<<"$j")" \
    "ntdll.dll|kernelbase.dll|_ctypes.pyd|python27.dll|kernel32.dll|ntdll.dll"
expect_eq "stack --json: final user module" \
    "$(jq -r .process.thread.Ext.call_stack_final_user_module.name <<<"$j")" _ctypes.pyd
expect_eq "stack --json: frames in Elastic form" \
    "$(jq -r '.process.thread.Ext.call_stack[2].symbol_info' <<<"$j")" 'c:\python27\DLLs\_ctypes.pyd+0xed6a'
expect_eq "stack --json: keys" "$(jq -c '.modality | keys' <<<"$j")" \
    '["anomalies","confidence","evidence","initiator","layers","name","syscall"]'
txt=$("$MODUS" stack "$ct")
check "stack text: names the modality" grep -q '^modality     python (confidence high)$' <<<"$txt"
check "stack text: marks the initiator" grep -q '_ctypes.pyd+0xed6a   <- initiator' <<<"$txt"
check "stack text: one line per frame" test "$(grep -c '^ *[0-9]  ' <<<"$txt")" -eq 6

# --- modus stack -: frames one per line, any form, Linux ----------------------
printf '%s\n' '/usr/lib/x86_64-linux-gnu/libc.so.6!mprotect+0xb' 'Unbacked+0x40' \
    '/usr/bin/python3.11!_PyEval_EvalFrameDefault+0x1a2' >"$TMP/frames"
j=$("$MODUS" stack --json - <"$TMP/frames")
expect_eq "stack -: linux frames, unbacked under python is shellcode" "$(jq -r .modality.name <<<"$j")" shellcode
expect_eq "stack -: layers outermost first" "$(jq -c .modality.layers <<<"$j")" '["python","shellcode"]'
expect_eq "stack -: Linux summary keeps case" "$(jq -r .process.thread.Ext.call_stack_summary <<<"$j")" \
    "libc.so.6|Unbacked|python3.11"

# --- stack --event ----------------------------------------------------------
out=$("$MODUS" stack --event "$C/elastic/article_event.ndjson")
check "stack --event: header with file:line" grep -q "^== .*article_event.ndjson:1$" <<<"$out"
check "stack --event: powershell" grep -q "^modality     powershell (confidence medium)$" <<<"$out"

# --- --modalities: the table is data ------------------------------------------
"$MODUS" stack --json 'C:\w\ntdll.dll+1|C:\w\kernelbase.dll+2|C:\app\acme.dll+3|C:\app\app.exe+4' >"$TMP/a.json"
expect_eq "embedded table: acme.dll is native" "$(jq -r .modality.name "$TMP/a.json")" native
{
    cat "$SRC/data/modalities.conf"
    echo "modality acmescript rank=88"
    echo "sig windows runtime acmescript acme.dll"
} >"$TMP/table.conf"
"$MODUS" stack --modalities "$TMP/table.conf" --json 'C:\w\ntdll.dll+1|C:\w\kernelbase.dll+2|C:\app\acme.dll+3|C:\app\app.exe+4' >"$TMP/b.json"
expect_eq "--modalities: a new runtime signature names the modality" "$(jq -r .modality.name "$TMP/b.json")" acmescript
printf 'modality native rank=1\nsig windows runtime nosuch x.dll\n' >"$TMP/bad.conf"
"$MODUS" scan --modalities "$TMP/bad.conf" "$C/elastic/article_event.ndjson" >/dev/null 2>"$TMP/err"
expect_eq "bad table: exit 2" "$?" 2
check "bad table: file:line and the reason" grep -q "bad.conf:2: unknown modality 'nosuch'" "$TMP/err"
"$MODUS" scan --modalities "$TMP/nonexistent.conf" "$C/elastic/article_event.ndjson" >/dev/null 2>"$TMP/err"
expect_eq "missing table: exit 2" "$?" 2
# code lines: a symbol pattern the sensor cannot match is refused with its line
printf 'modality native rank=1\nmodality python rank=9\ncode linux python _PyEval_*x\n' >"$TMP/badcode.conf"
"$MODUS" stack --modalities "$TMP/badcode.conf" - </dev/null >/dev/null 2>"$TMP/err"
expect_eq "bad code line: exit 2" "$?" 2
check "bad code line: file:line and the reason" grep -q "badcode.conf:3: bad code symbol '_PyEval_\*x'" "$TMP/err"
# a frame the sensor marked by its code: the evidence and the frame list say so
printf '%s\n' '{"host":{"os":{"type":"linux"}},"process":{"thread":{"Ext":{"call_stack":[{"symbol_info":"/usr/lib/x86_64-linux-gnu/libc.so.6!__open+0x51"},{"symbol_info":"/tmp/q/zzkq!PyObject_Vectorcall+0x2c","module_runtime":"python","module_origin":"symbol _PyEval_EvalFrameDefault"}]}}}}' >"$TMP/code.ndjson"
"$MODUS" stack --event "$TMP/code.ndjson" >"$TMP/out" 2>&1
check "stack --event: a renamed python marked by its code is python" grep -q "^modality     python" "$TMP/out"
check "stack --event: the frame says how" grep -q "\[python by symbol _PyEval_EvalFrameDefault\]" "$TMP/out"

# --- enrich round trips -------------------------------------------------------
"$MODUS" scan --enrich --format json "$C"/sysmon/evtx_samples_sysmon_eid10_calltrace.ndjson >"$TMP/e1" 2>/dev/null
"$MODUS" scan --enrich --format json "$TMP/e1" >"$TMP/e2" 2>/dev/null
check "enriching twice changes nothing" cmp -s "$TMP/e1" "$TMP/e2"
# flat Sysmon JSON becomes ECS: every flat field is kept, under winlog.event_data
# (values as text) or winlog.event_id / record_id / host.name; nested members stay as they were
flat_fields='[to_entries[] | select((.value | type) as $t | $t != "object" and $t != "array" and $t != "null")
  | select(.key | IN("EventID", "Computer", "EventRecordID", "TimeCreated") | not) | {key, value: (.value | tostring)}] | from_entries'
expect_eq "enrich keeps every input field" \
    "$(jq -cS '[.winlog.event_data, .winlog.event_id, .host.name, (.winlog.record_id | tostring), .source, .dedup]' "$TMP/e1" | md5sum)" \
    "$(jq -cS "[($flat_fields), (.EventID | tostring), .Computer, .EventRecordID, .source, .dedup]" \
        "$C"/sysmon/evtx_samples_sysmon_eid10_calltrace.ndjson | md5sum)"
cat "$C/elastic/article_event.ndjson" | "$MODUS" scan --enrich --format json - >"$TMP/s" 2>/dev/null
expect_eq "stdin input" "$(jq -r .modality.name "$TMP/s")" powershell
printf '%s\n' '{"process.thread.Ext.call_stack":[{"symbol_info":"c:\\w\\ntdll.dll+0x1"},{"symbol_info":"Unbacked+0x2"}],"process.name":"x.exe"}' |
    "$MODUS" scan --enrich --format json - >"$TMP/flat" 2>/dev/null
expect_eq "flattened (dotted) keys are read" "$(jq -r .modality.name "$TMP/flat")" shellcode
out=$("$MODUS" scan --summary "$C/elastic/article_event.ndjson" 2>&1 >/dev/null)
check "--summary prints the modality distribution on stderr" grep -q "^modality summary: 1 events, 1 with a call stack" <<<"$out"
finish
