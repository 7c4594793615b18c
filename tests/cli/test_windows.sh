#!/usr/bin/env bash
# test_windows.sh - Windows event logs: EVTX (real files from ../shared/corpora,
# damaged copies of them), event XML (evtxexport's and our own Event Viewer
# style sample), flat Sysmon JSON; the ECS mapping of each event id, the
# identity modality of stackless service events, and bad input.
source "$(dirname "$0")/lib.sh"
: "${SRC:?SRC must point at the source tree}"
C=$(cd "$SHARED/corpora" && pwd)
X=$SRC/examples/windows_events.xml
sel() { jq -c "select($1)" "$TMP/evtx.json"; }
val() { jq -r "select($1) | $2" "$TMP/evtx.json" | head -1; }

# --- every EVTX record of the corpus, as ECS ------------------------------------
"$MODUS" scan --enrich --format json "$C"/evtx/*.evtx >"$TMP/evtx.json" 2>"$TMP/err"
expect_eq "evtx: exit status" "$?" 0
expect_eq "evtx: all 168 records" "$(wc -l <"$TMP/evtx.json")" 168
check "evtx: no errors" grep -q "errors: 0 malformed, 0 too long, 0 unreadable" "$TMP/err"
expect_eq "evtx: every record has event.code, host and winlog" \
    "$(jq -r 'select(.event.code and .host.name and .winlog.channel and .winlog.record_id | not)' "$TMP/evtx.json" | wc -l)" 0
expect_eq "evtx: Event 10 count" "$(sel '.event.code == "10"' | wc -l)" 73
expect_eq "evtx: every Event 10 has a modality from its stack" \
    "$(sel '.event.code == "10" and (.modality.name == "unknown" or .modality.name == null or (.process.thread.Ext.call_stack | length) == 0)' | wc -l)" 0
expect_eq "evtx: CallTrace frames = call_stack frames" \
    "$(sel '.event.code == "10" and ((.winlog.event_data.CallTrace | split("|") | length) != (.process.thread.Ext.call_stack | length))' | wc -l)" 0
expect_eq "evtx: Dumpert's direct-syscall LSASS access" \
    "$(sel '.process.name == "Outflank-Dumpert.exe" and .Target.process.name == "lsass.exe" and .modality.syscall == "direct"' | jq -r .modality.name)" native
expect_eq "evtx: Dumpert's MiniDumpWriteDump access goes through the stub" \
    "$(sel '.process.name == "Outflank-Dumpert.exe" and .modality.syscall == "stub"' | jq -r .modality.initiator.name)" ctiuser.dll
# hand-checked against evtxexport's rendering of the same records
expect_eq "evtx 1: parent" "$(val '.winlog.record_id == 8352 and .event.code == "1"' .process.parent.name)" notepad.exe
expect_eq "evtx 1: md5" "$(val '.winlog.record_id == 8352' .process.hash.md5)" c648901695e275c8f2ad04b687a68ce2
expect_eq "evtx 1: category" "$(val '.winlog.record_id == 8352' '.event.category[0] + "/" + .event.type[0]')" process/start
expect_eq "evtx 3: destination" "$(val '.event.code == "3"' '"\(.destination.ip):\(.destination.port) \(.network.direction) \(.destination.port | type)"')" "10.0.2.18:8181 egress number"
expect_eq "evtx 7: dll" "$(val '.event.code == "7" and .dll.name == "jli.dll"' '"\(.dll.path) \(.event.category[0]) \(.dll.code_signature.signed)"')" 'C:\Users\IEUser\Desktop\info.rar\jli.dll library false'
expect_eq "evtx 8: target" "$(val '.event.code == "8"' '"\(.process.name) -> \(.Target.process.name) \(.Target.process.pid)"')" "powershell.exe -> notepad.exe 1632"
expect_eq "evtx 11: file" "$(val '.event.code == "11"' '"\(.file.name)|\(.file.directory)"')" 'MP Scheduled Scan|C:\Windows\System32\Tasks\Microsoft\Windows Defender'
expect_eq "evtx 12: key creation" "$(val '.event.code == "12"' '"\(.registry.hive) \(.event.type[0])"')" "HKU creation"
expect_eq "evtx 13: DWORD as text" "$(val '.event.code == "13" and .registry.value == "Start"' '"\(.registry.data.type) \(.registry.data.strings[0]) \(.registry.key)"')" 'REG_DWORD 2 System\CurrentControlSet\services\HxUpdateServiceInfo'
expect_eq "evtx 4688: hex pids" "$(val '.event.code == "4688" and .process.name == "MalSeclogon.exe"' '"\(.process.pid) \(.process.parent.pid) \(.user.name)"')" "8612 9344 IEUser"
expect_eq "evtx 7045: service" "$(val '.event.code == "7045"' .service.name)" spoolfool
expect_eq "evtx 13 by services.exe: rpc, low" \
    "$(val '.event.code == "13" and .process.name == "services.exe"' '"\(.modality.name) \(.modality.confidence)"')" "rpc low"
expect_eq "evtx 7045: rpc, low" "$(val '.event.code == "7045"' '"\(.modality.name) \(.modality.confidence)"')" "rpc low"
check "evtx: identity evidence says there was no stack" \
    grep -q "no call stack: a registry event" <<<"$(val '.event.code == "13"' '.modality.evidence[0]')"
expect_eq "evtx: events without a stack that are not registry or service: unknown" \
    "$(sel '.event.code == "1"' | jq -r .modality.name | sort -u)" unknown

# --- the same records as XML ---------------------------------------------------
if command -v evtxexport >/dev/null; then
    for f in "$C"/evtx/*.evtx; do evtxexport -f xml "$f" 2>/dev/null; done >"$TMP/all.xml"
    "$MODUS" scan --enrich --format json "$TMP/all.xml" >"$TMP/xml.json" 2>/dev/null
    # XML normalises CR LF in values to LF; the binary EVTX keeps CR LF
    nocr='walk(if type == "string" then gsub("\r"; "") else . end)'
    expect_eq "xml: evtxexport output gives the same documents as the EVTX files" \
        "$(jq -cS "$nocr" "$TMP/xml.json" | sort | md5sum)" "$(jq -cS "$nocr" "$TMP/evtx.json" | sort | md5sum)"
    MODUS_EVTX_LIBEVTX=1 "$MODUS" scan --enrich --format json "$C"/evtx/*.evtx >"$TMP/libevtx.json" 2>/dev/null
    expect_eq "evtx: the direct reader and libevtx give the same documents" \
        "$(jq -cS "$nocr" "$TMP/libevtx.json" | sort | md5sum)" "$(jq -cS "$nocr" "$TMP/evtx.json" | sort | md5sum)"
    "$MODUS" scan --enrich --format json - <"$TMP/all.xml" >"$TMP/xml2.json" 2>/dev/null
    check "xml: from stdin too" cmp -s "$TMP/xml.json" "$TMP/xml2.json"
else
    fail=$((fail + 1))
    echo "FAIL: evtxexport missing (scripts/deps.sh test installs libevtx-utils)" >&2
fi
"$MODUS" scan --enrich --format json "$X" >"$TMP/x.json" 2>"$TMP/err"
expect_eq "xml sample: 6 events" "$(wc -l <"$TMP/x.json")" 6
expect_eq "xml sample: who wrote ImagePath" \
    "$(jq -r 'select(.registry.value == "ImagePath") | "\(.modality.name) \(.modality.confidence) \(.service.name) \(.registry.data.strings[0])"' "$TMP/x.json")" \
    'rpc low ModusTestSvc C:\ProgramData\modus-test\svc.exe
powershell low ModusTestSvc "C:\Users\Public\upd.exe" --svc & "arg"'
expect_eq "xml sample: \\REGISTRY\\MACHINE normalised, reg.exe is native" \
    "$(jq -r 'select(.registry.value == "Start") | "\(.registry.path) \(.modality.name)"' "$TMP/x.json")" \
    'HKLM\SYSTEM\CurrentControlSet\Services\ModusTestSvc\Start native'
expect_eq "xml sample: 4697 service and subject" \
    "$(jq -r 'select(.event.code == "4697") | "\(.service.name)|\(.user.domain)\\\(.user.name)|\(.modality.name)"' "$TMP/x.json")" \
    'ModusTestSvc|WS01\analyst|rpc'
expect_eq "xml sample: UserData kept" \
    "$(jq -r 'select(.event.code == "1102") | .winlog.event_data.SubjectUserName' "$TMP/x.json")" analyst
expect_eq "xml sample: RenderingInfo does not leak into event_data" \
    "$(jq -r 'select(.event.code == "7045") | .winlog.event_data | keys | join(",")' "$TMP/x.json")" \
    "AccountName,ImagePath,ServiceName,ServiceType,StartType"
"$MODUS" scan "$X" >"$TMP/xa.json" 2>/dev/null
expect_eq "xml sample: the install joined with the later direct write (by host and service)" \
    "$(jq -r 'select(.rule.name | startswith("Installed service re-pointed")) | [.events[].event.code] | join(",")' "$TMP/xa.json")" "4697,13"
expect_eq "xml sample: default pack alerts" \
    "$(jq -r .rule.name "$TMP/xa.json" | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')" \
    "1 Installed service re-pointed outside the service control manager;1 Service registry written by a script, shellcode or a remote registry client;2 Service registry written without the service control manager;"

# --- every mapped event id, one event each (written here) ----------------------------
# ev PROVIDER ID NAME=VALUE...: one <Event> element
ev() {
    local prov=$1 id=$2 d=""
    shift 2
    for kv in "$@"; do d+="<Data Name='${kv%%=*}'>${kv#*=}</Data>"; done
    printf "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='%s'/><EventID>%s</EventID><TimeCreated SystemTime='2026-11-21T08:00:00.1234567Z'/><EventRecordID>%s</EventRecordID><Channel>c</Channel><Computer>h1</Computer></System><EventData>%s</EventData></Event>\n" "$prov" "$id" "$id" "$d"
}
S=Microsoft-Windows-Sysmon
img='Image=C:\Windows\System32\cmd.exe'
{
    ev $S 1 "$img" "CommandLine=cmd /c x" "ParentImage=C:\Windows\explorer.exe" "ParentProcessId=40"
    ev $S 2 "$img" 'TargetFilename=C:\t\a.txt'
    ev $S 3 "$img" "SourceIp=10.0.0.1" "SourcePort=5000" "DestinationIp=10.0.0.2" "DestinationPort=443" "Initiated=false" "Protocol=udp"
    ev $S 4 "State=Started"
    ev $S 5 "$img" "ProcessId=77"
    ev $S 6 'ImageLoaded=C:\Windows\System32\drivers\x.sys' "Signed=true" "Signature=Microsoft Windows"
    ev $S 7 "$img" 'ImageLoaded=C:\Windows\System32\amsi.dll' "Signed=true"
    ev $S 8 'SourceImage=C:\a\inj.exe' "TargetProcessId=12" 'TargetImage=C:\Windows\notepad.exe' "NewThreadId=9"
    ev $S 9 "$img" 'Device=\Device\HarddiskVolume1'
    ev $S 10 'SourceImage=C:\a\p.exe' "SourceProcessId=5" "SourceThreadId=6" 'TargetImage=C:\Windows\System32\lsass.exe' "CallTrace=C:\Windows\SYSTEM32\ntdll.dll+9d1e4|C:\a\p.exe+1234"
    ev $S 11 "$img" 'TargetFilename=C:\t\b.ps1'
    ev $S 12 "$img" "EventType=DeleteKey" 'TargetObject=HKU\S-1-5-21\Software\k'
    ev $S 13 "$img" "EventType=SetValue" 'TargetObject=HKCU\Software\k\v' "Details=QWORD (0x00000001-0x00000002)"
    ev $S 14 "$img" "EventType=RenameKey" 'TargetObject=HKLM\SOFTWARE\k\old' 'NewName=HKLM\SOFTWARE\k\new'
    ev $S 15 "$img" 'TargetFilename=C:\t\c.exe:Zone.Identifier' "Hash=SHA256=AB12"
    ev $S 16 "Configuration=c.xml"
    ev $S 17 "$img" 'PipeName=\modus_pipe'
    ev $S 18 "$img" 'PipeName=\modus_pipe'
    ev $S 19 "Operation=Created" "Name=f1"
    ev $S 20 "Operation=Created" "Name=c1" "Type=Command Line"
    ev $S 21 "Operation=Created" "Consumer=c1" "Filter=f1"
    ev $S 22 "$img" "QueryName=example.test" "QueryResults=::1;"
    ev $S 23 "$img" 'TargetFilename=C:\t\d.exe' "Hashes=MD5=AA,SHA256=BB"
    ev $S 24 "$img" "Hashes=SHA1=CC"
    ev $S 25 "$img" "Type=Image is replaced"
    ev $S 26 "$img" 'TargetFilename=C:\t\e.exe'
    ev Microsoft-Windows-Security-Auditing 4689 "ProcessId=0x1f4" 'ProcessName=C:\Windows\System32\cmd.exe' "SubjectUserName=u1"
    ev "Service Control Manager" 7036 "param1=Modus Test Service" "param2=running"
    ev "Service Control Manager" 7040 "param1=Modus Test Service" "param2=demand start" "param3=auto start" "param4=ModusTestSvc"
} >"$TMP/ids.xml"
"$MODUS" scan --enrich --format json "$TMP/ids.xml" >"$TMP/ids.json" 2>"$TMP/ids.err"
expect_eq "ids: every event" "$(wc -l <"$TMP/ids.json")" 29
check "ids: no errors" grep -q "errors: 0 malformed" "$TMP/ids.err"
idv() { jq -r --arg c "$1" "select(.event.code == \$c) | $2" "$TMP/ids.json"; }
expect_eq "1" "$(idv 1 '"\(.event.action) \(.process.command_line) \(.process.parent.name) \(.process.parent.pid)"')" "ProcessCreate cmd /c x explorer.exe 40"
expect_eq "2" "$(idv 2 '"\(.event.category[0])/\(.event.type[0]) \(.file.extension)"')" "file/change txt"
expect_eq "3" "$(idv 3 '"\(.network.direction) \(.network.transport) \(.source.port) \(.destination.ip)"')" "ingress udp 5000 10.0.0.2"
expect_eq "4" "$(idv 4 '.event.action')" "SysmonServiceStateChange"
expect_eq "5" "$(idv 5 '"\(.event.type[0]) \(.process.pid)"')" "end 77"
expect_eq "6" "$(idv 6 '"\(.event.category[0]) \(.file.name) \(.file.code_signature.signed) \(.file.code_signature.subject_name)"')" "driver x.sys true Microsoft Windows"
expect_eq "7" "$(idv 7 '"\(.event.category[0]) \(.dll.name) \(.dll.code_signature.signed) \(.process.name)"')" "library amsi.dll true cmd.exe"
expect_eq "8" "$(idv 8 '"\(.process.name) \(.Target.process.pid) \(.Target.process.name) \(.Target.process.thread.id)"')" "inj.exe 12 notepad.exe 9"
expect_eq "9" "$(idv 9 '"\(.event.category[0])/\(.event.type[0]) \(.file.path)"')" 'file/access \Device\HarddiskVolume1'
expect_eq "10" "$(idv 10 '"\(.process.thread.id) \(.process.thread.Ext.call_stack | length) \(.modality.name) \(.process.thread.Ext.call_stack_final_user_module.name)"')" "6 2 native p.exe"
expect_eq "11" "$(idv 11 '"\(.event.type[0]) \(.file.name) \(.file.directory)"')" 'creation b.ps1 C:\t'
expect_eq "12" "$(idv 12 '"\(.event.type[0]) \(.registry.hive) \(.registry.key) \(.registry.value)"')" 'deletion HKU S-1-5-21\Software\k null'
expect_eq "13" "$(idv 13 '"\(.registry.hive) \(.registry.value) \(.registry.data.type) \(.modality.confidence)"')" "HKCU v REG_QWORD low"
expect_eq "14" "$(idv 14 '"\(.registry.path) \(.winlog.event_data.NewName)"')" 'HKLM\SOFTWARE\k\old HKLM\SOFTWARE\k\new'
expect_eq "15" "$(idv 15 '"\(.file.name) \(.file.hash.sha256)"')" "c.exe:Zone.Identifier ab12"
expect_eq "16" "$(idv 16 '.event.category[0]')" configuration
expect_eq "17" "$(idv 17 '"\(.event.action) \(.file.name)"')" 'PipeCreated \modus_pipe'
expect_eq "18" "$(idv 18 '"\(.event.action) \(.event.type[0])"')" "PipeConnected access"
expect_eq "19" "$(idv 19 '.event.action')" WmiEventFilter
expect_eq "20" "$(idv 20 '"\(.event.action) \(.winlog.event_data.Type)"')" "WmiEventConsumer Command Line"
expect_eq "21" "$(idv 21 '.event.action')" WmiEventConsumerToFilter
expect_eq "22" "$(idv 22 '"\(.dns.question.name) \(.event.category[0])"')" "example.test network"
expect_eq "23" "$(idv 23 '"\(.event.type[0]) \(.file.hash.md5) \(.file.hash.sha256)"')" "deletion aa bb"
expect_eq "24" "$(idv 24 '.event.action')" ClipboardChange
expect_eq "25" "$(idv 25 '"\(.event.action) \(.event.type[0])"')" "ProcessTampering change"
expect_eq "26" "$(idv 26 '"\(.event.action) \(.file.name)"')" "FileDeleteDetected e.exe"
expect_eq "4689" "$(idv 4689 '"\(.event.type[0]) \(.process.pid) \(.process.name) \(.user.name)"')" "end 500 cmd.exe u1"
expect_eq "7036" "$(idv 7036 '.service.name')" "Modus Test Service"
expect_eq "7040" "$(idv 7040 '"\(.event.action) \(.service.name)"')" "service-start-type-changed Modus Test Service"
expect_eq "timestamps to milliseconds" "$(jq -r '."@timestamp"' "$TMP/ids.json" | sort -u)" "2026-11-21T08:00:00.123Z"

# --- winlogbeat / Elastic Agent documents no ingest pipeline has mapped ------------
"$MODUS" scan --enrich --format json "$SRC/tests/data/windows/winlogbeat.ndjson" >"$TMP/wb.json" 2>/dev/null
expect_eq "winlogbeat: Sysmon 10 mapped, its stack classified" \
    "$(jq -r 'select(.event.code == "10") | "\(.process.name) \(.Target.process.name) \(.modality.name) \(.process.thread.Ext.call_stack | length) \(.agent.type)"' "$TMP/wb.json")" \
    "powershell.exe lsass.exe powershell 4 winlogbeat"
expect_eq "winlogbeat: numeric event_id, registry by identity, service.name" \
    "$(jq -r 'select(.event.code == "13") | "\(.process.name) \(.modality.name) \(.modality.confidence) \(.service.name)"' "$TMP/wb.json")" \
    "python.exe python low pysvc"
expect_eq "winlogbeat: an already mapped document passes unchanged" \
    "$(jq -cS 'select(.event.code == "1") | del(.modality)' "$TMP/wb.json")" \
    "$(sed -n 3p "$SRC/tests/data/windows/winlogbeat.ndjson" | jq -cS .)"

# --- flat Sysmon JSON ------------------------------------------------------------
"$MODUS" scan --enrich --format json "$C"/sysmon/*service*.ndjson >"$TMP/flat.json" 2>"$TMP/err"
expect_eq "flat: exit status" "$?" 0
expect_eq "flat: every record" "$(wc -l <"$TMP/flat.json")" "$(cat "$C"/sysmon/*service*.ndjson | wc -l)"
expect_eq "flat: every record mapped" "$(jq -r 'select(.event.code == null)' "$TMP/flat.json" | wc -l)" 0
# who wrote service keys, by identity (hand-checked: the SCM, script hosts, utilities)
svc() {
    jq -r --arg p "$1" 'select(.event.category[0] == "registry" and (.registry.path | test("\\\\Services\\\\"; "i")) and .process.name == $p) | "\(.modality.name) \(.modality.confidence)"' \
        "$TMP/flat.json" | sort -u | tr '\n' ';'
}
expect_eq "flat: services.exe -> rpc" "$(svc services.exe)" "rpc low;"
expect_eq "flat: powershell.exe -> powershell" "$(svc powershell.exe)" "powershell low;"
expect_eq "flat: reg.exe -> native" "$(svc reg.exe)" "native low;"
expect_eq "flat: sc.exe -> native" "$(svc sc.exe)" "native low;"
expect_eq "flat: python.exe -> python" "$(svc python.exe)" "python low;"
expect_eq "flat: mshta.exe -> vbscript" "$(svc mshta.exe)" "vbscript low;"
expect_eq "flat: System -> kernel" "$(svc System)" "kernel low;"
expect_eq "flat: 7045 and 4697 -> rpc" \
    "$(jq -r 'select(.event.code == "7045" or .event.code == "4697") | .modality.name' "$TMP/flat.json" | sort -u)" rpc
expect_eq "flat: 7040 service name" \
    "$(jq -r 'select(.event.code == "7040") | (.service.name | type)' "$TMP/flat.json" | sort -u)" string

# multi-byte text where modus cuts values (hashes, time stamps): still valid UTF-8
long=$(printf 'é%.0s' $(seq 100))
printf '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\\\x.exe", "Hashes": "SHA1=%s", "UtcTime": "2026-11-20 10:15:0é.12"}\n' "$long" >"$TMP/mb.ndjson"
"$MODUS" scan --enrich --format json "$TMP/mb.ndjson" >"$TMP/mb.json" 2>"$TMP/mb.err"
expect_eq "multi-byte values cut on character boundaries" "$(jq -r '.process.hash.sha1 | length' "$TMP/mb.json")" 68
check "multi-byte values: no decode error" grep -q "errors: 0 malformed" "$TMP/mb.err"

# --- damaged EVTX ------------------------------------------------------------------
D=$C/evtx/discovery_meterpreter_ps_cmd_process_listing_sysmon_10.evtx
full=$("$MODUS" scan --enrich --format json "$D" 2>/dev/null | wc -l)
# its first 64 KiB chunk holds 51 records, the second one more
head -c $((4096 + 65536 + 1000)) "$D" >"$TMP/trunc.evtx"
"$MODUS" scan --enrich --format json "$TMP/trunc.evtx" >"$TMP/t.json" 2>"$TMP/t.err"
rc=$?
check "truncated evtx: no crash" test "$rc" -lt 128
n=$(wc -l <"$TMP/t.json")
check "truncated evtx: some records read ($n of $full)" test "$n" -gt 0 -a "$n" -lt "$full"
check "truncated evtx: output is valid JSON" jq -e . "$TMP/t.json" >/dev/null
check "truncated evtx: reported" grep -q "trunc.evtx: damaged or truncated EVTX file: $n records read" "$TMP/t.err"
head -c 20000 "$D" >"$TMP/trunc1.evtx"
"$MODUS" scan "$TMP/trunc1.evtx" >/dev/null 2>"$TMP/t1.err"
check "evtx cut inside its only chunk: the loss is reported" \
    grep -q "trunc1.evtx: damaged or truncated EVTX file: 0 records read" "$TMP/t1.err"
# overwrite 4 KiB in the middle of the second chunk (chunks are 64 KiB after a 4 KiB header)
cp "$D" "$TMP/bad.evtx"
python3 -c "
import sys; f=open(sys.argv[1],'r+b'); f.seek(4096+65536+20000); f.write(b'\xa5'*4096)" "$TMP/bad.evtx"
"$MODUS" scan --enrich --format json "$TMP/bad.evtx" >"$TMP/b.json" 2>"$TMP/b.err"
rc=$?
check "corrupted chunk: no crash" test "$rc" -lt 128
n=$(wc -l <"$TMP/b.json")
check "corrupted chunk: the other records are read ($n of $full)" test "$n" -gt $((full / 3))
check "corrupted chunk: output is valid JSON" jq -e . "$TMP/b.json" >/dev/null
# a copy of a log in use: its header counts one chunk fewer than the file holds
python3 -c '
import struct, sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into("<H", d, 42, struct.unpack_from("<H", d, 42)[0] - 1)
struct.pack_into("<I", d, 124, zlib.crc32(bytes(d[:120])))
open(sys.argv[2], "wb").write(d)' "$D" "$TMP/stale.evtx"
"$MODUS" scan --enrich --format json "$TMP/stale.evtx" >"$TMP/st.json" 2>"$TMP/st.err"
expect_eq "stale chunk count in the header: every record still read" "$(wc -l <"$TMP/st.json")" "$full"
check "stale chunk count: no error" grep -q "errors: 0 malformed" "$TMP/st.err"
printf 'ElfFile\0%s' "$(head -c 5000 /dev/zero | tr '\0' 'x')" >"$TMP/junk.evtx"
"$MODUS" scan "$TMP/junk.evtx" >/dev/null 2>"$TMP/j.err"
check "junk evtx: nonzero exit" test $? -ne 0
check "junk evtx: says it is not readable" grep -q "junk.evtx: not a readable EVTX file" "$TMP/j.err"
"$MODUS" scan - <"$D" >/dev/null 2>"$TMP/s.err"
check "evtx on stdin: asks for the path" grep -q "give the file's path" "$TMP/s.err"

# --- bad XML ---------------------------------------------------------------------------
{
    grep -m1 "powershell.exe</Data>" "$X"
    printf '%s\n' "<Event xmlns='x'><System><EventID>13</EventID></System><EventData><Data Name='a'>1</Dta></EventData></Event>"
    grep -m1 "reg.exe</Data>" "$X"
    printf '%s\n' "<Event><System><EventID>not a number</EventID></System></Event>"
    printf '%s' "<Event><System><EventID>1</EventID>"
} >"$TMP/bad.xml"
"$MODUS" scan --enrich --format json "$TMP/bad.xml" >"$TMP/bx.json" 2>"$TMP/bx.err"
expect_eq "bad xml: the good events" "$(wc -l <"$TMP/bx.json")" 2
check "bad xml: mismatched tag, with event number and byte" \
    grep -q "bad.xml: event 2 (byte [0-9]*): malformed XML: mismatched tag" "$TMP/bx.err"
check "bad xml: no numeric EventID" grep -q "event 4 (byte [0-9]*): event without a numeric <EventID>" "$TMP/bx.err"
check "bad xml: truncated last event" grep -q "event 5 (byte [0-9]*): truncated" "$TMP/bx.err"
check "bad xml: counted" grep -q "errors: 3 malformed" "$TMP/bx.err"

finish
