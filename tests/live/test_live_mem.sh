#!/bin/bash
# test_live_mem.sh - modus live on the real kernel: writes into another
# process's memory through /proc/PID/mem (a C injector and a Python script),
# reads of it (the Python script, dd dumping a page),
# a process patching itself through /proc/self/mem, and a return-oriented
# mprotect (a C program that reaches libc's mprotect through a `ret` gadget,
# returning to its own code, or into no mapping)
# must each be an event with its target, stack and modality, and the pack's
# rules must alert on the script and the ROP chain; benign workloads (a
# build, a Python test run, a package install) must show no ROP-shaped
# stack. Needs root; exits 77 (skipped) otherwise. LIVE_CAPTURE=DIR keeps
# what the sensor wrote as DIR/mem.ndjson.
. "$(dirname "$0")/lib.sh"
live_require
PROGS=$(cd "$(dirname "$0")/progs" && pwd)
PKG=modus-live-mem-test-$$
SENSOR=
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    dpkg -s "$PKG" >/dev/null 2>&1 && dpkg_locked --purge "$PKG"
    rm -rf "$TMP"
}
trap cleanup EXIT

# gcc -O2, no frame pointers, as Debian builds
gcc -O2 -o "$TMP/proc_mem" "$PROGS/proc_mem.c" || exit 1
gcc -O2 -o "$TMP/rop_mprotect" "$PROGS/rop_mprotect.c" || exit 1
gcc -O2 -o "$TMP/mprotect_rwx" "$PROGS/mprotect_rwx.c" || exit 1

OUT=$TMP/mem.ndjson
"$MODUS" live --all-events --output "$OUT" --stats-interval 0 2>"$TMP/err" &
SENSOR=$!
for _ in $(seq 100); do
    grep -q "ready" "$TMP/err" 2>/dev/null && break
    kill -0 "$SENSOR" 2>/dev/null || break
    sleep 0.2
done
if ! grep -q "ready" "$TMP/err"; then
    echo "FAIL: the sensor did not start:" >&2
    cat "$TMP/err" >&2
    exit 1
fi

# the C injector: prints "child PID ADDR"
"$TMP/proc_mem" >"$TMP/pm.out" &
PID_pm=$!
wait $PID_pm
pm_rc=$?
read -r _ PID_child ADDR <"$TMP/pm.out"
# a Python script writing into a child's memory (the bytes it read: harmless)
sleep 3 &
PID_victim=$!
for _ in $(seq 50); do # until the child of the fork is sleep, not bash
    [ "$(readlink /proc/$PID_victim/exe 2>/dev/null)" = "$(readlink -f "$(command -v sleep)")" ] && break
    sleep 0.05
done
/usr/bin/python3 - "$PID_victim" <<'PY' &
import sys
pid = int(sys.argv[1])
with open("/proc/%d/maps" % pid) as m:
    start = next(int(l.split("-")[0], 16) for l in m if l.split()[1].startswith("rw"))
with open("/proc/%d/mem" % pid, "r+b", buffering=0) as f:
    f.seek(start)
    b = f.read(8)
    f.seek(start)
    f.write(b)
PY
PID_py=$!
wait $PID_py
py_rc=$?
# dd dumping a page of the victim, as a shell one-liner would (T1003.007)
start=$(awk '$2 ~ /^rw/ {split($1, a, "-"); print a[1]; exit}' /proc/$PID_victim/maps)
dd if=/proc/$PID_victim/mem of="$TMP/dump" bs=4096 skip=$((16#$start / 4096)) count=1 status=none &
PID_dd=$!
wait $PID_dd
dd_rc=$?
kill $PID_victim 2>/dev/null
wait $PID_victim 2>/dev/null
"$TMP/rop_mprotect" >/dev/null &
PID_rop=$!
wait $PID_rop
rop_rc=$?
"$TMP/rop_mprotect" --nomap >/dev/null &
PID_ropnm=$!
wait $PID_ropnm
ropnm_rc=$?
"$TMP/mprotect_rwx" &
PID_c=$!
wait $PID_c

# benign: a build, a Python test run, a package whose maintainer scripts run
mkdir -p "$TMP/build"
for i in 1 2 3 4; do printf 'int f%d(int x) { return x * %d; }\n' $i $i >"$TMP/build/f$i.c"; done
printf 'all: f1.o f2.o f3.o f4.o\n%%.o: %%.c\n\tgcc -O2 -c $< -o $@\n' >"$TMP/build/Makefile"
make -s -j2 -C "$TMP/build" >/dev/null
mkdir -p "$TMP/pyt"
printf 'import tempfile, unittest\nclass T(unittest.TestCase):\n    def test_file(self):\n        with tempfile.NamedTemporaryFile("w") as f:\n            f.write("x")\n        self.assertTrue(True)\n' >"$TMP/pyt/test_x.py"
(cd "$TMP/pyt" && /usr/bin/python3 -m unittest -q 2>/dev/null)
mkdir -p "$TMP/deb/DEBIAN" "$TMP/deb/usr/share/$PKG"
printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: modus tests <tests@modus.invalid>\nDescription: modus live benign package test\n' "$PKG" >"$TMP/deb/DEBIAN/control"
printf 'x\n' >"$TMP/deb/usr/share/$PKG/data"
printf '#!/bin/sh\nls /usr/share/%s >/dev/null\n' "$PKG" >"$TMP/deb/DEBIAN/postinst"
chmod 755 "$TMP/deb/DEBIAN/postinst"
dpkg-deb --build "$TMP/deb" "$TMP/$PKG.deb" >/dev/null
dpkg_locked -i "$TMP/$PKG.deb"
dpkg_locked --purge "$PKG"

sleep 1
kill -INT "$SENSOR"
wait "$SENSOR"
rc=$?
SENSOR=
expect_eq "the sensor exits 0 on SIGINT" "$rc" 0
[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/mem.ndjson"

expect_eq "the C injector ran and its child saw the injected bytes" "$pm_rc" 0
expect_eq "the Python writer ran" "$py_rc" 0
expect_eq "the ROP program made its page RWX and ran it" "$rop_rc" 0

evs() { # JQ-FILTER -> matching events, one per line
    jq -c "select(.event.kind == \"event\" and ($1))" "$OUT"
}
alerts_of() { # PID -> rule names alerted on that pid, sorted
    jq -r --argjson p "$1" 'select(.event.kind == "alert" and .process.pid == $p) | .rule.name' "$OUT" | sort -u
}
frames() { jq -r '[.process.thread.Ext.call_stack[].symbol_info] | join(" | ")'; }

# /proc/PID/mem from C: pwrite64, then lseek + write, into the child
w=$(evs ".process.pid == $PID_pm and .event.action == \"proc_mem_write\" and .Target.process.pid == $PID_child")
e=$(head -1 <<<"$w")
expect_eq "proc_mem: two writes into the child (pwrite64, write)" "$(jq -r .process.Ext.api.parameters.syscall <<<"$w" | tr '\n' ' ')" "pwrite64 write "
expect_eq "proc_mem: category api" "$(jq -r '.event.category | join(",")' <<<"$e")" api
expect_eq "proc_mem: api name" "$(jq -r .process.Ext.api.name <<<"$e")" proc_mem_write
expect_eq "proc_mem: the address written is the child's buffer" "$(jq -r .process.Ext.api.parameters.address <<<"$e")" "$ADDR"
expect_eq "proc_mem: the write's size" "$(jq -r .process.Ext.api.parameters.size <<<"$e")" 8
expect_eq "proc_mem: the second write is at the file position (lseek)" \
    "$(jq -r .process.Ext.api.parameters.address <<<"$(sed -n 2p <<<"$w")")" "$(printf '0x%x' $((ADDR + 8)))"
expect_eq "proc_mem: behaviour cross_process" "$(jq -r '.process.Ext.api.behaviors | join(",")' <<<"$e")" cross_process
child_entity=$(evs ".event.action == \"fork\" and .process.pid == $PID_child" | head -1 | jq -r .process.entity_id)
check "proc_mem: the child's fork event has an entity id" [ -n "$child_entity" ] && [ "$child_entity" != null ]
expect_eq "proc_mem: Target.process.entity_id is the child's" "$(jq -r .Target.process.entity_id <<<"$e")" "$child_entity"
expect_eq "proc_mem: Target.process.executable" "$(jq -r .Target.process.executable <<<"$e")" "$TMP/proc_mem"
check "proc_mem: the writer's own function on the stack" grep -q "inject" <<<"$(frames <<<"$e")"
check "proc_mem: frame 0 is libc's pwrite" grep -q "^/.*libc.so.6!.*pwrite" <<<"$(frames <<<"$e")"
expect_eq "proc_mem: modality native" "$(jq -r .modality.name <<<"$e")" native
r=$(evs ".process.pid == $PID_pm and .event.action == \"proc_mem_read\"")
expect_eq "proc_mem: one read event for the two reads of the child (the first per open)" "$(grep -c . <<<"$r")" 1
expect_eq "proc_mem: the read's target and syscall" "$(jq -r '"\(.Target.process.pid) \(.process.Ext.api.parameters.syscall)"' <<<"$r")" "$PID_child pread64"
# /proc/self/mem: the write is reported (not cross-process), the read is not
s=$(evs ".process.pid == $PID_pm and .event.action == \"proc_mem_write\" and .Target.process.pid == $PID_pm" | head -1)
expect_eq "proc_mem: /proc/self/mem write is behaviour self_modify" "$(jq -r '.process.Ext.api.behaviors | join(",")' <<<"$s")" self_modify
check "proc_mem: patch_self on its stack" grep -q "patch_self" <<<"$(frames <<<"$s")"
expect_eq "proc_mem: the native injector raises no pack alert (debuggers do this)" "$(alerts_of "$PID_pm")" ""

# /proc/PID/mem from Python: modality python, the pack alerts
e=$(evs ".process.pid == $PID_py and .event.action == \"proc_mem_write\"" | head -1)
expect_eq "python proc_mem: target" "$(jq -r .Target.process.pid <<<"$e")" "$PID_victim"
expect_eq "python proc_mem: Target.process.name" "$(jq -r .Target.process.name <<<"$e")" sleep
expect_eq "python proc_mem: modality" "$(jq -r .modality.name <<<"$e")" python
check "python proc_mem: the interpreter loop on the stack" grep -q "_PyEval_EvalFrameDefault" <<<"$(frames <<<"$e")"
check "python proc_mem: the script's read of the victim is an event" [ -n "$(evs ".process.pid == $PID_py and .event.action == \"proc_mem_read\" and .Target.process.pid == $PID_victim")" ]
expect_eq "python proc_mem: alerts (the write, the read)" "$(alerts_of "$PID_py" | tr '\n' '|')" \
    "Another process's memory read through /proc/PID/mem by a script or a file utility|Another process's memory written by a script on Linux|"

# dd if=/proc/PID/mem: a dump by a file utility
expect_eq "dd dumped a page of the victim" "$dd_rc $(stat -c %s "$TMP/dump" 2>/dev/null)" "0 4096"
e=$(evs ".process.pid == $PID_dd and .event.action == \"proc_mem_read\"" | head -1)
expect_eq "dd proc_mem_read: target" "$(jq -r .Target.process.pid <<<"$e")" "$PID_victim"
expect_eq "dd proc_mem_read: the page's address" "$(jq -r .process.Ext.api.parameters.address <<<"$e")" "0x$start"
expect_eq "dd proc_mem_read: size" "$(jq -r .process.Ext.api.parameters.size <<<"$e")" 4096
expect_eq "dd proc_mem_read: alert" "$(alerts_of "$PID_dd")" "Another process's memory read through /proc/PID/mem by a script or a file utility"

# ROP mprotect: shellcode, the anomaly, the behaviour, the alert
e=$(evs ".process.pid == $PID_rop and .event.action == \"mprotect\" and .process.Ext.api.parameters.protection == \"RWX\"" | head -1)
check "rop: an mprotect event" [ -n "$e" ]
check "rop: frame 0 is libc's mprotect" grep -q "^/.*libc.so.6!.*mprotect+" <<<"$(frames <<<"$e")"
check "rop: frame 1 is the continuation in the program" grep -q "^[^|]*| $TMP/rop_mprotect!rop_mprotect" <<<"$(frames <<<"$e")"
expect_eq "rop: modality" "$(jq -r .modality.name <<<"$e")" shellcode
expect_eq "rop: modality.syscall" "$(jq -r .modality.syscall <<<"$e")" indirect
expect_eq "rop: confidence" "$(jq -r .modality.confidence <<<"$e")" medium
check "rop: anomaly stub_entered_by_return" grep -qx stub_entered_by_return <<<"$(jq -r '.modality.anomalies[]' <<<"$e")"
check "rop: the evidence says why" grep -q "follows no call instruction" <<<"$(jq -r '.modality.evidence[]' <<<"$e")"
check "rop: behaviour write_then_execute" grep -qx write_then_execute <<<"$(jq -r '.process.Ext.api.behaviors[]' <<<"$e")"
expect_eq "rop: alert" "$(alerts_of "$PID_rop")" "Sensitive API called from shellcode"
# the chain's continuation in no mapping: the live process's maps confirm it
expect_eq "rop into no mapping: the program came back from SIGSEGV" "$ropnm_rc" 0
e=$(evs ".process.pid == $PID_ropnm and .event.action == \"mprotect\" and .process.Ext.api.parameters.protection == \"RWX\"" | head -1)
expect_eq "rop into no mapping: frame 1" "$(jq -c '.process.thread.Ext.call_stack[1] | [.symbol_info, .mapping]' <<<"$e")" '["Unknown","none"]'
expect_eq "rop into no mapping: modality" "$(jq -r .modality.name <<<"$e")" shellcode
check "rop into no mapping: anomaly stub_entered_by_return" grep -qx stub_entered_by_return <<<"$(jq -r '.modality.anomalies[]' <<<"$e")"
check "rop into no mapping: the evidence says why" grep -q "returns into no mapping" <<<"$(jq -r '.modality.evidence[]' <<<"$e")"
expect_eq "rop into no mapping: alert" "$(alerts_of "$PID_ropnm")" "Sensitive API called from shellcode"
# the same mprotect called normally: native, no anomaly
e=$(evs ".process.pid == $PID_c and .event.action == \"mprotect\"" | head -1)
expect_eq "C mprotect called normally: modality" "$(jq -r .modality.name <<<"$e")" native
expect_eq "C mprotect called normally: no stub_entered_by_return" "$(jq -r '.modality.anomalies | index("stub_entered_by_return")' <<<"$e")" null

# benign workloads: nothing of this script's but the ROP program has a ROP-shaped stack
mine=$(live_descendants "$OUT" $$)
check "the descendants of this script were followed" [ -n "$mine" ]
# every event whose modality came from a stack (its own, or the exec caller's)
nstack=0
nall=0
rop_like=""
other=""
while read -r pid name anom; do
    nall=$((nall + 1))
    case "$anom" in *stub_entered_by_return*) ;; *) anom= ;; esac
    case " $mine " in
    *" $pid "*)
        nstack=$((nstack + 1))
        [ -n "$anom" ] && [ "$pid" != "$PID_rop" ] && [ "$pid" != "$PID_ropnm" ] && rop_like="$rop_like $pid/$name"
        ;;
    *) [ -n "$anom" ] && [ "$name" != rop_mprotect ] && other="$other $pid/$name" ;;
    esac
done < <(jq -r 'select(.event.kind == "event" and ((.process.thread.Ext.call_stack // []) + (.process.parent.thread.Ext.call_stack // []) | length) > 0) | "\(.process.pid) \(.process.name) \(.modality.anomalies // [] | join(",") | if . == "" then "-" else . end)"' "$OUT")
echo "note: $nstack events with a stack from this script's processes, $nall from the whole machine"
check "benign workloads produced events with stacks" [ "$nstack" -gt 20 ]
expect_eq "no ROP-shaped stack outside the ROP program (build, Python tests, package)" "$rop_like" ""
expect_eq "no ROP-shaped stack from any other process on the machine while the sensor ran" "$other" ""
stray=$(jq -r 'select(.event.kind == "alert") | "\(.process.pid) \(.process.name) \(.rule.name)"' "$OUT" |
    while read -r pid rest; do
        case " $mine " in *" $pid "*) ;; *) continue ;; esac
        case " $PID_py $PID_rop $PID_ropnm $PID_dd " in *" $pid "*) ;; *) echo "$pid $rest" ;; esac
    done)
expect_eq "no alert from the injector in C, the build, the Python test run or the package" "$stray" ""

finish
