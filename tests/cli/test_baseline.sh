#!/bin/bash
# test_baseline.sh - modus baseline on SQLite: learn on benign Sysmon and ECS
# events, check events with planted deviations (exactly those are reported,
# each with its reason and what was expected), EQL over baseline.*, a learner
# killed mid-write, foreign and damaged databases, the HTML report in headless
# Chromium, and (root) benign events of the Linux sensor.
# Corpus events are cut and changed at run time; nothing is copied into the tree.
. "$(dirname "$0")/lib.sh"
C=$SHARED/corpora
DB=$TMP/p.db

# ---- learn on benign events ----------------------------------------------
# The article's PowerShell VirtualProtect(RWX) event, made native: its
# Unbacked (CLR JIT) frame replaced by a frame of powershell.exe itself.
jq -c '.process.thread.Ext.call_stack[2] = {"symbol_info": "c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe+0x1234"} | del(.process.thread.Ext.call_stack_summary)' \
    "$C/elastic/article_event.ndjson" >"$TMP/native_vp.ndjson"
expect_eq "the benign copy of the article event is native" \
    "$("$MODUS" scan --enrich --format json "$TMP/native_vp.ndjson" 2>/dev/null | jq -r .modality.name)" native
jq -c '.event' "$C/elastic/elastic_endpoint_sample_events.ndjson" >"$TMP/elastic_samples.ndjson"
LEARN=("$C/sysmon/otrf_sysmon_eid10_calltrace.ndjson" "$C/sysmon/otrf_service_events.ndjson"
    "$TMP/elastic_samples.ndjson" "$TMP/native_vp.ndjson")
"$MODUS" baseline learn --db "$DB" "${LEARN[@]}" 2>"$TMP/learn.err"
expect_eq "learn exits 0" "$?" 0
check "learn reports its throughput" grep -Eq "learned [0-9]+ events .* events/s" "$TMP/learn.err"
nev=$(cat "${LEARN[@]}" | grep -c .)
expect_eq "the profile counts every event" "$("$MODUS" baseline show --db "$DB" --json | jq .events)" "$nev"

# ---- planted deviations -----------------------------------------------------
# p1: the original article event: a script modality making memory executable
jq -c '.planted = "p1"' "$C/elastic/article_event.ndjson" >"$TMP/planted.ndjson"
# p2: the signed program's native copy with a stack shape never seen (an extra frame)
jq -c '.planted = "p2" | .process.thread.Ext.call_stack |= (.[0:2] + [{"symbol_info": "c:\\windows\\system32\\dbghelp.dll!MiniDumpWriteDump+0x10"}] + .[2:])' \
    "$TMP/native_vp.ndjson" >>"$TMP/planted.ndjson"
# p3: a benign Sysmon ProcessAccess whose stack becomes shellcode (unbacked under kernelbase)
head -1 "$C/sysmon/otrf_sysmon_eid10_calltrace.ndjson" |
    jq -c '.planted = "p3" | .CallTrace = "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|UNKNOWN(00000000029A1F2B)"' >>"$TMP/planted.ndjson"
# p4: a benign registry write moved to a Run key: a behaviour svchost never showed
head -1 "$C/sysmon/otrf_service_events.ndjson" |
    jq -c '.planted = "p4" | .TargetObject = "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater"' >>"$TMP/planted.ndjson"
# and benign events from the learned set around them
awk 'NR % 25 == 0' "$C/sysmon/otrf_sysmon_eid10_calltrace.ndjson" "$C/sysmon/otrf_service_events.ndjson" >"$TMP/benign.ndjson"
cat "$TMP/benign.ndjson" "$TMP/planted.ndjson" "$TMP/benign.ndjson" >"$TMP/check.ndjson"

"$MODUS" baseline check --db "$DB" "$TMP/check.ndjson" >"$TMP/alerts.ndjson" 2>"$TMP/check.err"
expect_eq "check exits 0" "$?" 0
got=$(jq -r '(.events[0].planted // .events[0].winlog.event_data.planted // "benign") + " " + .baseline.reason' "$TMP/alerts.ndjson" | sort | tr '\n' ';')
expect_eq "exactly the planted deviations are reported, with their reasons" "$got" \
    "p1 new-modality;p2 new-shape;p3 new-modality;p4 new-behaviour;"
p1=$(grep -F '"planted":"p1"' "$TMP/alerts.ndjson")
expect_eq "p1: the rule" "$(jq -r .rule.id <<<"$p1")" modus-baseline-new-modality
expect_eq "p1: what was expected instead" "$(jq -c .baseline.expected.modalities <<<"$p1")" '["native"]'
expect_eq "p1: the behaviour class" "$(jq -r .baseline.behaviour <<<"$p1")" "api:VirtualProtect:RWX"
expect_eq "p1: the alert's modality" "$(jq -r .modality.name <<<"$p1")" powershell
expect_eq "p1: SPEC 6 alert fields" "$(jq -r '[.event.kind, (.["@timestamp"] | type), (.events | length), (.process.executable | type), (.rule.name | type)] | join(",")' <<<"$p1")" \
    "alert,string,1,string,string"
expect_eq "p1: counts of a new tuple" "$(jq -r '[.baseline.seen_count, .baseline.hosts, .baseline.first_seen] | join(",")' <<<"$p1")" "0,0,"
p2=$(grep -F '"planted":"p2"' "$TMP/alerts.ndjson")
expect_eq "p2: the usual shape is named" "$(jq -r '.baseline.expected.shapes[0]' <<<"$p2")" \
    "ntdll.dll|kernelbase.dll|powershell.exe"
expect_eq "p2: the signer is part of the identity" "$(jq -r .baseline.signer <<<"$p2")" "Microsoft Windows"
p3=$(jq -c 'select(.events[0].winlog.event_data.planted == "p3")' "$TMP/alerts.ndjson")
expect_eq "p3: shellcode where the program used com" "$(jq -r '[.baseline.modality, (.baseline.expected.modalities | index("com") != null)] | join(",")' <<<"$p3")" "shellcode,true"
p4=$(jq -c 'select(.events[0].winlog.event_data.planted == "p4")' "$TMP/alerts.ndjson")
expect_eq "p4: the registry class" "$(jq -r .baseline.behaviour <<<"$p4")" \
    'registry:modify:hklm\software\microsoft\windows\currentversion\run\updater'
check "p4: the program's usual behaviours are listed" jq -e '.baseline.expected.behaviours | length > 0' <<<"$p4" >/dev/null
# host scope: the same four are new on their hosts too
n=$("$MODUS" baseline check -q --scope host --db "$DB" "$TMP/check.ndjson" | jq -r .baseline.scope | sort | uniq -c | awk '{print $1 $2}')
expect_eq "--scope host reports the same four" "$n" "4host"
# --rare: tuples seen once count too (more alerts, all with seen_count <= 1)
"$MODUS" baseline check -q --rare 1 --db "$DB" "$TMP/check.ndjson" >"$TMP/rare.ndjson"
check "--rare 1 adds rare tuples" test "$(grep -c . "$TMP/rare.ndjson")" -gt 4
expect_eq "--rare 1: every alert was seen at most once" \
    "$(jq -r 'select(.baseline.seen_count > 1)' "$TMP/rare.ndjson" | grep -c .)" 0
"$MODUS" baseline check -q --exit-status --db "$DB" "$TMP/benign.ndjson" >/dev/null
expect_eq "benign events alone: no deviation (exit 0 with --exit-status)" "$?" 0
"$MODUS" baseline check -q --exit-status --db "$DB" "$TMP/planted.ndjson" >/dev/null
expect_eq "planted events: exit 1 with --exit-status" "$?" 1

# ---- EQL over baseline.* ----------------------------------------------------
cat >"$TMP/rule.toml" <<'EOF'
[rule]
name = "Script modality newly making memory executable"
id = "test-baseline-rwx"
description = "baseline.new combined with behaviour"
version = "1"
query = '''
api where baseline.new == true and modality.name in ("powershell", "dotnet") and process.Ext.api.parameters.protection : "*X*"
'''
EOF
"$MODUS" baseline check -q --db "$DB" --rules "$TMP/rule.toml" "$TMP/check.ndjson" >"$TMP/rule_alerts.ndjson"
"$MODUS" baseline check --db "$DB" --rules "$TMP/rule.toml" "$TMP/check.ndjson" 2>"$TMP/rule_check.err" >/dev/null
check "check --rules: the summary says what the rules' state evicted" \
    grep -Eq "rule alerts; errors: 0; state: [0-9]+ evicted \(peak [0-9.]+ MB of [0-9]+ MB\)" "$TMP/rule_check.err"
expect_eq "a rule over baseline.* fires on p1 only" \
    "$(jq -r '.rule.id + " " + .events[0].planted + " " + (.events[0].baseline.seen_count | tostring)' "$TMP/rule_alerts.ndjson")" \
    "test-baseline-rwx p1 0"
expect_eq "--annotate: every event carries baseline.*" \
    "$("$MODUS" baseline check -q --annotate --db "$DB" "$TMP/check.ndjson" | jq -r 'select(.baseline.scope == "fleet") | 1' | grep -c .)" \
    "$(grep -c . "$TMP/check.ndjson")"

# ---- learning from another part of the corpora -------------------------------
"$MODUS" baseline check -q --db "$DB" "${LEARN[@]}" >"$TMP/self.ndjson"
expect_eq "the learned events themselves: no deviation" "$(grep -c . "$TMP/self.ndjson")" 0
"$MODUS" baseline check -q --db "$DB" "$C/sysmon/evtx_samples_sysmon_eid10_calltrace.ndjson" >"$TMP/other.ndjson"
check "attack samples from other sources deviate" test "$(grep -c . "$TMP/other.ndjson")" -gt 0
"$MODUS" baseline learn -q --db "$DB" "$C/sysmon/evtx_samples_sysmon_eid10_calltrace.ndjson"
"$MODUS" baseline check -q --db "$DB" "$C/sysmon/evtx_samples_sysmon_eid10_calltrace.ndjson" >"$TMP/other2.ndjson"
expect_eq "learning is incremental: once learned, they no longer deviate" "$(grep -c . "$TMP/other2.ndjson")" 0

# ---- behaviour classes generalise ----------------------------------------------
# two users, two temp names, two GUIDs: one tuple
for u in alice bob; do
    head -1 "$C/sysmon/otrf_service_events.ndjson" |
        jq -c --arg u "$u" '.Image = "C:\\Users\\" + $u + "\\AppData\\Local\\Temp\\" + $u + "123456\\setup.exe" | .TargetObject = "HKLM\\System\\CurrentControlSet\\Services\\svc_" + $u + "\\Parameters\\{6a910b9d-498a-5ee0-ca03-00000000040" + (if $u == "bob" then "1" else "2" end) + "}"'
done >"$TMP/fold.ndjson"
"$MODUS" baseline learn -q --db "$TMP/fold.db" "$TMP/fold.ndjson"
expect_eq "user names, temp names, service names and GUIDs fold into one tuple" \
    "$("$MODUS" baseline show --db "$TMP/fold.db" --json | jq -c '[.tuples, .top[0].seen_count, .top[0].program, .top[0].behaviour]')" \
    '[1,2,"c:\\users\\*\\appdata\\local\\temp\\*\\*.exe","registry:modify:services\\*\\parameters\\{*}"]'

# ---- a learner killed mid-write -------------------------------------------------
# many distinct tuples (hosts x programs x keys), so that batches are written
# while it runs
python3 - "$TMP/big.ndjson" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(300000):
        f.write(json.dumps({"EventID": 13, "Computer": "host%d" % (i % 50), "EventType": "SetValue",
            "UtcTime": "2024-01-01 00:00:%02d.000" % (i % 60), "Image": "C:\\Apps\\prog%c\\run.exe" % chr(97 + i % 26),
            "TargetObject": "HKLM\\Software\\Vendor\\k%c%c\\Value" % (chr(97 + i // 26 % 26), chr(97 + i // 676 % 26))}) + "\n")
EOF
KDB=$TMP/kill.db
"$MODUS" baseline learn -q --db "$KDB" "$TMP/big.ndjson" &
pid=$!
rows=0
for _ in $(seq 300); do
    rows=$(python3 -c 'import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1], timeout=0.05).execute("select count(*) from modus_baseline_tuple").fetchone()[0])
except Exception: print(0)' "$KDB")
    [ "$rows" -gt 0 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
check "the learner was killed after a batch was written" test "$rows" -gt 0
"$MODUS" baseline show --db "$KDB" --json >"$TMP/kill.json" 2>"$TMP/kill.err"
expect_eq "show works after the kill" "$?" 0
expect_eq "the database is intact" "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0])' "$KDB")" ok
before=$(jq .events "$TMP/kill.json")
check "the killed learn had not finished (fewer events than the input)" test "$before" -lt 300000
"$MODUS" baseline learn -q --db "$KDB" "$TMP/benign.ndjson"
expect_eq "a new learn extends it" "$("$MODUS" baseline show --db "$KDB" --json | jq .events)" \
    "$((before + $(grep -c . "$TMP/benign.ndjson")))"

# ---- foreign and damaged databases -------------------------------------------------
echo "hello, not a database at all, but long enough to be read as a header by sqlite..........." >"$TMP/text.db"
"$MODUS" baseline show --db "$TMP/text.db" 2>"$TMP/e1"
expect_eq "a text file: exit 2" "$?" 2
check "a text file: clear error" grep -q "modus: baseline: $TMP/text.db: not a modus baseline database (file is not a database)" "$TMP/e1"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table users(id int)"); c.commit()' "$TMP/other.db"
"$MODUS" baseline learn --db "$TMP/other.db" "$TMP/benign.ndjson" 2>"$TMP/e2"
expect_eq "another application's SQLite database: exit 2" "$?" 2
check "another application's SQLite database: clear error" grep -q "not a modus baseline database (no modus_baseline_meta table)" "$TMP/e2"
cp "$DB" "$TMP/bad.db"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(100); f.write(b"\xa5"*8192); f.close()' "$TMP/bad.db"
for sub in show check; do
    "$MODUS" baseline $sub --db "$TMP/bad.db" $([ $sub = check ] && echo "$TMP/benign.ndjson") >/dev/null 2>"$TMP/e3"
    rc=$?
    expect_eq "a damaged profile ($sub): exit 2, no crash" "$rc" 2
    check "a damaged profile ($sub): clear error" grep -q "modus: baseline: $TMP/bad.db: not a modus baseline database (" "$TMP/e3"
done
"$MODUS" baseline check --db "$TMP/none.db" "$TMP/benign.ndjson" 2>"$TMP/e4"
expect_eq "a missing profile: exit 2" "$?" 2
check "a missing profile: says so" grep -q "no such database file" "$TMP/e4"

# ---- merge: host profiles into a fleet profile ---------------------------------------
sed 's/"Computer": "[^"]*"/"Computer": "alpha"/' "$TMP/benign.ndjson" >"$TMP/alpha.ndjson"
sed 's/"Computer": "[^"]*"/"Computer": "beta"/' "$TMP/benign.ndjson" >"$TMP/beta.ndjson"
"$MODUS" baseline learn -q --db "$TMP/alpha.db" "$TMP/alpha.ndjson"
"$MODUS" baseline learn -q --db "$TMP/beta.db" "$TMP/beta.ndjson"
"$MODUS" baseline merge -q --db "$TMP/fleet.db" "$TMP/alpha.db" "$TMP/beta.db" "$TMP/alpha.db"
expect_eq "merge: hosts counted distinct" "$("$MODUS" baseline show --db "$TMP/fleet.db" --json | jq -c '[.hosts, ([.top[].hosts] | max)]')" "[2,2]"
expect_eq "merge: counts add up" "$("$MODUS" baseline show --db "$TMP/fleet.db" --json | jq .events)" \
    "$((3 * $(grep -c . "$TMP/benign.ndjson")))"

# ---- the HTML report in headless Chromium ---------------------------------------------
"$MODUS" baseline report -q --db "$DB" --html "$TMP/report.html"
expect_eq "report exits 0" "$?" 0
check "report: no external resources" bash -c "! grep -Eiq '(src|href)=\"(https?:)?//' '$TMP/report.html'"
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "SKIP: headless Chromium tests (chromium not installed; scripts/deps.sh test installs it)"
else
    CH_OPTS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync)
    timeout 120 "$CHROME" "${CH_OPTS[@]}" --user-data-dir="$(mktemp -d -p "$TMP")" --dump-dom \
        "file://$TMP/report.html" >"$TMP/dom.html" 2>/dev/null
    "$MODUS" baseline show --db "$DB" --json >"$TMP/show.json"
    res=$(python3 - "$TMP/dom.html" "$TMP/show.json" <<'EOF'
import html.parser, json, sys
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.cells = {}; s.ids = {}; s.cur = None
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "rect" and "cell" in (a.get("class") or ""):
            s.cells[(a["data-modality"], a["data-behaviour"])] = (int(a["data-count"]), int(a["data-tuples"]), int(a["data-rare"]))
        s.cur = a.get("id")
    def handle_data(s, d):
        if s.cur in ("t-events", "t-tuples", "t-hosts"): s.ids[s.cur] = int(d)
        s.cur = None
p = P(); p.feed(open(sys.argv[1]).read())
show = json.load(open(sys.argv[2]))
want = {(c["modality"], c["behaviour"]): (c["events"], c["tuples"], c["rare_tuples"]) for c in show["cells"]}
print("cells=%d match=%s totals=%s" % (len(p.cells), p.cells == want and len(want) > 0,
      p.ids == {"t-events": show["events"], "t-tuples": show["tuples"], "t-hosts": show["hosts"]}))
EOF
)
    expect_eq "the rendered heat map matches baseline show --json" "${res#cells=* }" "match=True totals=True"
    echo "report: $res"
    mkdir -p "$SRC/out"
    timeout 120 "$CHROME" "${CH_OPTS[@]}" --user-data-dir="$(mktemp -d -p "$TMP")" \
        --screenshot="$SRC/out/baseline-report.png" --window-size=1400,1000 "file://$TMP/report.html" >/dev/null 2>&1
    check "a screenshot of the report is taken (out/baseline-report.png)" test -s "$SRC/out/baseline-report.png"
fi

# ---- benign events of the Linux sensor (root) -------------------------------------------
if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
    echo "SKIP: learning from the live sensor needs root and kernel BTF"
else
    LIVE=$TMP/live.ndjson
    "$MODUS" live --all-events --output "$LIVE" --duration 5 --stats-interval 0 2>"$TMP/live.err" &
    spid=$!
    for _ in $(seq 100); do
        grep -q "ready" "$TMP/live.err" 2>/dev/null && break
        kill -0 $spid 2>/dev/null || break
        sleep 0.1
    done
    for _ in 1 2 3; do
        ls /etc >/dev/null
        cat /etc/hostname >/dev/null
        python3 -c 'import os; os.listdir("/")'
        sh -c 'date >/dev/null'
    done
    wait $spid
    nlive=$(grep -c . "$LIVE" 2>/dev/null || echo 0)
    check "the sensor captured events ($nlive)" test "$nlive" -gt 0
    "$MODUS" baseline learn -q --db "$TMP/live.db" "$LIVE"
    "$MODUS" baseline check -q --db "$TMP/live.db" "$LIVE" >"$TMP/live_alerts.ndjson"
    expect_eq "the sensor's learned events: no deviation" "$(grep -c . "$TMP/live_alerts.ndjson")" 0
    # one captured exec, its child replaced by a binary in a directory no other
    # program on this machine runs from (other test suites exec from /tmp/tmp.*/
    # while the sensor captures, so /tmp may already be known)
    # (an exec whose parent the sensor named: without one the acting program is the
    # new image itself, and the verdict is new-program)
    jq -c 'select(.event.action == "exec" and (.process.parent.executable // "") != "")' "$LIVE" | head -1 |
        jq -c '.process.executable = "/srv/.x1234/payload" | .planted = "live"' >"$TMP/live_planted.ndjson"
    if [ -s "$TMP/live_planted.ndjson" ]; then
        "$MODUS" baseline check -q --db "$TMP/live.db" "$TMP/live_planted.ndjson" >"$TMP/live_alerts2.ndjson"
        expect_eq "a new exec from a known program deviates" \
            "$(jq -r '.baseline.reason + " " + .baseline.behaviour' "$TMP/live_alerts2.ndjson")" "new-behaviour process:exec:/srv/.x#/payload"
    else
        echo "SKIP: no exec event captured"
    fi
fi
finish
