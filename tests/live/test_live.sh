#!/bin/bash
# test_live.sh - modus live on the real kernel: start the sensor, run small
# real programs in several runtimes, and check the event, the call stack, the
# modality and the alert of each; then benign workloads (a package install
# whose maintainer script writes a cron file, a build, a Python test run)
# must raise no alert. Needs root; exits 77 (skipped) otherwise.
# Every file it creates is removed, also on failure.
. "$(dirname "$0")/lib.sh"
live_require
PROGS=$(cd "$(dirname "$0")/progs" && pwd)
# names unique to this run: two suites may run on one machine at once
UNIT_SH=/etc/systemd/system/modus-live-test-shell-$$.service
UNIT_PY=/etc/systemd/system/modus-live-test-python-$$.service
CRON_NODE=/etc/cron.d/modus-live-test-node-$$
CRON_DEB=/etc/cron.d/modus-live-test-deb-$$
CRON_JAVA=/etc/cron.d/modus-live-test-java-$$
PKG=modus-live-test-$$
SENSOR=
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    rm -f "$UNIT_SH" "$UNIT_PY" "$CRON_NODE" "$CRON_DEB" "$CRON_JAVA"
    dpkg -s "$PKG" >/dev/null 2>&1 && dpkg_locked --purge "$PKG"
    rm -rf "$TMP"
}
trap cleanup EXIT

# The native test programs are built before the sensor starts (gcc -O2,
# no frame pointers, as Debian builds).
gcc -O2 -o "$TMP/mprotect_rwx" "$PROGS/mprotect_rwx.c" || exit 1
gcc -O2 -o "$TMP/raw_syscall" "$PROGS/raw_syscall.c" || exit 1
have_java=0
if command -v javac >/dev/null && javac -d "$TMP" "$PROGS/W.java"; then have_java=1; fi

OUT=$TMP/live.ndjson
"$MODUS" live --all-events --module-attempts --output "$OUT" --stats-interval 0 2>"$TMP/err" &
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
grep "backend" "$TMP/err"
# after loading it keeps CAP_DAC_READ_SEARCH (2), CAP_KILL (5), CAP_SYS_PTRACE (19) only
expect_eq "the sensor dropped every capability it no longer needs" \
    "$(awk '/^CapEff/{print $2}' /proc/$SENSOR/status)" 0000000000080024
"$MODUS" live --ring-mb 3 --duration 1 2>"$TMP/ring.err"
expect_eq "--ring-mb takes powers of two only (exit 2)" "$?" 2
check "--ring-mb says what it takes" grep -q "power of two" "$TMP/ring.err"
"$MODUS" live --state-mb 0 --duration 1 2>"$TMP/state.err"
expect_eq "--state-mb takes 1 to 65536 (exit 2)" "$?" 2
# --backend lsm: either the kernel takes BPF LSM programs and the sensor says
# so, or it refuses and --backend lsm stops with the reason (exit 2)
if grep -q "no lsm: the kernel refuses" "$TMP/err"; then
    "$MODUS" live --backend lsm --duration 1 2>"$TMP/lsm.err"
    expect_eq "--backend lsm on a kernel without BPF trampolines exits 2" "$?" 2
    check "--backend lsm says why" grep -q "the lsm backend is not available: the kernel refuses BPF LSM programs" "$TMP/lsm.err"
else
    check "the sensor names its backend" grep -Eq "backend (lsm|tracepoints)" "$TMP/err"
fi

run() { # NAME CMD... : runs it in the background, waits, records its pid
    local name=$1
    shift
    "$@" &
    local pid=$!
    wait $pid
    eval "PID_$name=$pid"
}
run py /usr/bin/python3 "$PROGS/py_mprotect.py"
run pl /usr/bin/perl "$PROGS/pl_mprotect.pl"
run sh /bin/bash "$PROGS/unit.sh" "$UNIT_SH"
run pyunit /usr/bin/python3 "$PROGS/py_unit.py" "$UNIT_PY"
have_node=0
if command -v node >/dev/null; then
    have_node=1
    run node node "$PROGS/node_cron.js" "$CRON_NODE"
fi
run spawn /usr/bin/python3 -c 'import subprocess; subprocess.run(["/bin/true"])'
run mod /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).syscall(313, -1, b"", 0)'
[ $have_java = 1 ] && run java java -cp "$TMP" W "$CRON_JAVA"
run c "$TMP/mprotect_rwx"
run raw "$TMP/raw_syscall"

# Benign: a package whose maintainer script (sh, run by dpkg) installs a cron
# file and ships a unit; a build; a Python test run.
mkdir -p "$TMP/deb/DEBIAN" "$TMP/deb/usr/lib/systemd/system"
printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: modus tests <tests@modus.invalid>\nDescription: modus live benign package test\n' "$PKG" >"$TMP/deb/DEBIAN/control"
printf '[Unit]\nDescription=modus benign test\n' >"$TMP/deb/usr/lib/systemd/system/$PKG.service"
printf '#!/bin/sh\necho "# modus benign" > %s\n' "$CRON_DEB" >"$TMP/deb/DEBIAN/postinst"
printf '#!/bin/sh\nrm -f %s\n' "$CRON_DEB" >"$TMP/deb/DEBIAN/postrm"
chmod 755 "$TMP/deb/DEBIAN/postinst" "$TMP/deb/DEBIAN/postrm"
dpkg-deb --build "$TMP/deb" "$TMP/$PKG.deb" >/dev/null
dpkg_locked -i "$TMP/$PKG.deb"
check "the benign package's maintainer script wrote its cron file" test -f "$CRON_DEB"
dpkg_locked --purge "$PKG"
mkdir -p "$TMP/build"
for i in 1 2 3 4; do printf 'int f%d(int x) { return x * %d; }\n' $i $i >"$TMP/build/f$i.c"; done
printf 'all: f1.o f2.o f3.o f4.o\n%%.o: %%.c\n\tgcc -O2 -c $< -o $@\n' >"$TMP/build/Makefile"
make -s -j2 -C "$TMP/build" >/dev/null
mkdir -p "$TMP/pyt"
printf 'import tempfile, unittest\nclass T(unittest.TestCase):\n    def test_file(self):\n        with tempfile.NamedTemporaryFile("w") as f:\n            f.write("x")\n        self.assertTrue(True)\n' >"$TMP/pyt/test_x.py"
(cd "$TMP/pyt" && /usr/bin/python3 -m unittest -q 2>/dev/null)

sleep 1
kill -INT "$SENSOR"
wait "$SENSOR"
rc=$?
SENSOR=
expect_eq "the sensor exits 0 on SIGINT" "$rc" 0
check "the sensor prints its counts when it stops" grep -q "stopped after .* events, .* alerts, .* lost in the kernel" "$TMP/err"
check "the stop line counts the evicted sequence and process state" grep -Eq "stopped after .*; state: [0-9]+ evicted \(peak [0-9.]+ MB of 64 MB\)" "$TMP/err"
grep "stopped after" "$TMP/err"
# KEEP_LIVE_OUT=FILE keeps what the sensor wrote, for a look after a failure
[ -n "${KEEP_LIVE_OUT:-}" ] && cp "$OUT" "$KEEP_LIVE_OUT"
# LIVE_CAPTURE=DIR: the field coverage test reads what the sensor emitted
[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/live.ndjson"

ev() { # PID ACTION [FILE.PATH] -> the first event of that pid and action (and file)
    jq -c --argjson p "$1" --arg a "$2" --arg f "${3:-}" \
        'select(.event.kind == "event" and .process.pid == $p and .event.action == $a and ($f == "" or .file.path == $f))' "$OUT" | head -1
}
alerts_of() { # PID -> rule names alerted on that pid, sorted
    jq -r --argjson p "$1" 'select(.event.kind == "alert" and .process.pid == $p) | .rule.name' "$OUT" | sort -u
}
frames() { jq -r '[.process.thread.Ext.call_stack[].symbol_info] | join(" | ")'; }

# Python, ctypes mprotect RWX
e=$(ev "$PID_py" mprotect)
expect_eq "python mprotect: modality" "$(jq -r .modality.name <<<"$e")" python
check "python mprotect: the stack reaches the interpreter loop" grep -q "_PyEval_EvalFrameDefault" <<<"$(frames <<<"$e")"
check "python mprotect: the stack shows ctypes/libffi" grep -q "libffi\|_ctypes" <<<"$(frames <<<"$e")"
expect_eq "python mprotect: protection" "$(jq -r .process.Ext.api.parameters.protection <<<"$e")" RWX
expect_eq "python mprotect: syscall through libc" "$(jq -r .modality.syscall <<<"$e")" stub
expect_eq "python mprotect: alert" "$(alerts_of "$PID_py")" "Memory made executable by a script on Linux"

# Perl, syscall(10, ...)
e=$(ev "$PID_pl" mprotect)
expect_eq "perl mprotect: modality" "$(jq -r .modality.name <<<"$e")" perl
check "perl mprotect: Perl_pp_syscall on the stack" grep -q "Perl_pp_syscall" <<<"$(frames <<<"$e")"
expect_eq "perl mprotect: alert" "$(alerts_of "$PID_pl")" "Memory made executable by a script on Linux"

# bash redirection into a unit file
e=$(ev "$PID_sh" creation)
expect_eq "shell unit: file.path" "$(jq -r .file.path <<<"$e")" "$UNIT_SH"
expect_eq "shell unit: modality" "$(jq -r .modality.name <<<"$e")" shell
check "shell unit: bash's redirection code on the stack" grep -q "do_redirections\|execute_command" <<<"$(frames <<<"$e")"
expect_eq "shell unit: alert" "$(alerts_of "$PID_sh")" "Linux persistence file written by a script or shellcode"

# Python writing a unit file
e=$(ev "$PID_pyunit" creation)
expect_eq "python unit: file.path" "$(jq -r .file.path <<<"$e")" "$UNIT_PY"
expect_eq "python unit: modality" "$(jq -r .modality.name <<<"$e")" python
expect_eq "python unit: alert" "$(alerts_of "$PID_pyunit")" "Linux persistence file written by a script or shellcode"

# node writing a cron file
if [ $have_node = 1 ]; then
    e=$(ev "$PID_node" creation)
    expect_eq "node cron: file.path" "$(jq -r .file.path <<<"$e")" "$CRON_NODE"
    expect_eq "node cron: modality" "$(jq -r .modality.name <<<"$e")" node
    check "node cron: libuv or node::fs on the stack" grep -q "uv_fs\|uv__fs\|node::fs" <<<"$(frames <<<"$e")"
    expect_eq "node cron: alert" "$(alerts_of "$PID_node")" "Linux persistence file written by a script or shellcode"
else
    echo "note: node is not installed; the node case is not run"
fi

# python's subprocess (vfork + exec): the exec carries the Python caller's stack
e=$(jq -c --argjson p "$PID_spawn" 'select(.event.action == "exec" and .process.parent.pid == $p and .process.name == "true")' "$OUT" | head -1)
expect_eq "exec from python's subprocess: modality of the caller" "$(jq -r .modality.name <<<"$e")" python
check "exec from python's subprocess: the caller's stack reaches the interpreter" grep -q "_PyEval_EvalFrameDefault\|python3" <<<"$(jq -r '[.process.parent.thread.Ext.call_stack[].symbol_info] | join(" ")' <<<"$e")"

# java writing a cron file: java, through libjvm's JIT/interpreter code
if [ $have_java = 1 ]; then
    # (the JVM also creates /tmp/hsperfdata_*: a file event of its own)
    e=$(ev "$PID_java" creation "$CRON_JAVA")
    expect_eq "java cron: file.path" "$(jq -r .file.path <<<"$e")" "$CRON_JAVA"
    expect_eq "java cron: modality" "$(jq -r .modality.name <<<"$e")" java
    check "java cron: anonymous frames carry libjvm's provenance" grep -q "libjvm" <<<"$(jq -r '[.process.thread.Ext.call_stack[].protection_provenance // empty] | join(" ")' <<<"$e")"
else
    echo "note: no javac: the java case is not run"
fi

# a module load attempt (this kernel may have no module support: the attempt counts)
e=$(ev "$PID_mod" load_module)
expect_eq "module load: api name" "$(jq -r .process.Ext.api.name <<<"$e")" finit_module
expect_eq "module load: modality" "$(jq -r .modality.name <<<"$e")" python

# a native C program: named native, no alert
e=$(ev "$PID_c" mprotect)
expect_eq "C mprotect: modality" "$(jq -r .modality.name <<<"$e")" native
check "C mprotect: its own function on the stack" grep -q "make_rwx\|mprotect_rwx" <<<"$(frames <<<"$e")"
expect_eq "C mprotect: no alert" "$(alerts_of "$PID_c")" ""

# a raw syscall from anonymous executable memory
e=$(jq -c --argjson p "$PID_raw" 'select(.event.kind == "event" and .process.pid == $p and .event.action == "mprotect" and (.process.Ext.api.parameters.protection == "RWX"))' "$OUT" | head -1)
expect_eq "raw syscall: modality" "$(jq -r .modality.name <<<"$e")" shellcode
expect_eq "raw syscall: modality.syscall" "$(jq -r .modality.syscall <<<"$e")" direct
check "raw syscall: frame 0 is Unbacked" grep -q "^Unbacked" <<<"$(frames <<<"$e")"
expect_eq "raw syscall: alert" "$(alerts_of "$PID_raw")" "Sensitive API called from shellcode"

# the benign workloads: every alert belongs to one of the programs above
want="$PID_py $PID_pl $PID_sh $PID_pyunit ${PID_node:-} $PID_raw"
# (java is not in the persistence rule's modalities: a JVM writing a cron file is
# not unusual enough on its own; it must raise no alert)
# only this script's descendants count (another test run may share the machine)
mine=$(live_descendants "$OUT" $$)
stray=$(jq -r 'select(.event.kind == "alert") | "\(.process.pid) \(.process.name) \(.rule.name)"' "$OUT" |
    while read -r pid rest; do
        case " $mine " in *" $pid "*) ;; *) continue ;; esac
        case " $want " in *" $pid "*) ;; *) echo "$pid $rest" ;; esac
    done)
check "the descendants of this script were followed" [ -n "$mine" ]
expect_eq "no alert from the package install, the build or the Python test run" "$stray" ""
has() { [ -n "$(jq -c "select($1)" "$OUT" | head -1)" ]; } # (jq 1.6's -e looks at the last line only)
check "the package's maintainer script was seen" has '.event.kind == "event" and .file.path == "'"$CRON_DEB"'"'
check "process exec events carry entity ids and the parent" has '.event.action == "exec" and .process.entity_id != null and .process.parent.pid != null'
check "fork and end events are there" has '.event.action == "fork"'
check "every alert carries its event and the rule" [ -z "$(jq -c 'select(.event.kind == "alert" and (.events | length) < 1)' "$OUT")" ]

# Part 2: Elastic's Linux rules load into the sensor next to a rule of ours
# whose [[actions]] kill the process: a Python script that makes memory
# executable and then sleeps must die by SIGKILL.
if [ -f "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" ]; then
    jq -c 'select(.os | index("linux"))' "$SHARED/corpora/elastic-rules/behavior_rules.jsonl" >"$TMP/linux.jsonl"
    nlinux=$(wc -l <"$TMP/linux.jsonl")
    bash "$(dirname "$0")/../cli/rules_to_toml.sh" "$TMP/linux.jsonl" "$TMP/elastic-linux" 2>/dev/null
    cat >"$TMP/kill.toml" <<'TOML'
[rule]
name = "test: kill a Python script that makes memory executable"
id = "00000000-0000-4000-8000-00000000c0de"
description = "modus live test rule"
version = "1"
os_list = ["linux"]
query = '''
api where process.Ext.api.name == "mprotect" and modality.name == "python" and
  process.command_line : "*kill_me*"
'''
[[actions]]
action = "kill_process"
field = "process.entity_id"
state = 0
TOML
    printf 'import ctypes, mmap, time\nlibc = ctypes.CDLL(None)\nlibc.mmap.restype = ctypes.c_void_p\nlibc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\nlibc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\na = libc.mmap(None, 4096, 3, 0x22, -1, 0)\nlibc.mprotect(a, 4096, 7)\ntime.sleep(10)\n' >"$TMP/kill_me.py"
    "$MODUS" live --rules "$TMP/elastic-linux" --rules "$TMP/kill.toml" --output "$TMP/kill.ndjson" \
        --stats-interval 1 2>"$TMP/err2" &
    SENSOR=$!
    for _ in $(seq 100); do grep -q "ready" "$TMP/err2" 2>/dev/null && break; kill -0 "$SENSOR" 2>/dev/null || break; sleep 0.2; done
    check "the sensor starts with Elastic's Linux rules" grep -q "ready" "$TMP/err2"
    expect_eq "all of Elastic's $nlinux Linux rules and ours load" \
        "$(grep -Eo '; [0-9]+ rules' "$TMP/err2" | grep -Eo '[0-9]+')" "$((nlinux + 1))"
    # attacker tradecraft Elastic's Linux rules look for: a binary run from
    # /dev/shm, a fileless exec from a memfd (Python), a masqueraded exec, a
    # command run by an interactive shell
    cp /bin/ls "/dev/shm/.modus-test-$$"
    "/dev/shm/.modus-test-$$" / >/dev/null
    rm -f "/dev/shm/.modus-test-$$"
    /usr/bin/python3 -c 'import os
fd = os.memfd_create("x", 0)
os.write(fd, open("/bin/true", "rb").read())
os.execv("/proc/self/fd/%d" % fd, ["kworker"])' &
    memfd_pid=$!
    wait $memfd_pid
    bash -c 'exec -a "[kworker/0:1]" sleep 0.1'
    echo whoami | /bin/sh -i >/dev/null 2>&1
    start=$(date +%s)
    {
        /usr/bin/python3 "$TMP/kill_me.py" &
        victim=$!
        wait $victim
        vrc=$?
    } 2>/dev/null # bash's own "Killed" line
    took=$(($(date +%s) - start))
    sleep 1.5 # one --stats-interval 1 line at least
    kill -INT "$SENSOR"
    wait "$SENSOR"
    SENSOR=
    [ -n "${LIVE_CAPTURE:-}" ] && cp "$TMP/kill.ndjson" "$LIVE_CAPTURE/live_elastic_alerts.ndjson"
    expect_eq "kill_process: the script died by SIGKILL" "$vrc" 137
    check "--stats-interval 1: periodic counts while running" grep -Eq "^modus live: [0-9]+ s: [0-9]+ events" "$TMP/err2"
    check "kill_process: well before its 10 s sleep ended (took ${took}s)" [ "$took" -lt 8 ]
    check "kill_process: the sensor says whom it killed and why" grep -q "killed $victim (python3.11): rule 'test: kill" "$TMP/err2"
    nrules=$(jq -r 'select(.event.kind == "alert") | .rule.id' "$TMP/kill.ndjson" | sort -u | wc -l)
    check "Elastic's own Linux rules fire on the sensor's events ($nrules distinct rules, ours included)" [ "$nrules" -ge 5 ]
    expect_eq "the fileless exec from Python is alerted with modality python" \
        "$(jq -r --argjson p "$memfd_pid" 'select(.event.kind == "alert" and .process.pid == $p) | .modality.name' "$TMP/kill.ndjson" | sort -u | head -1)" python
    expect_eq "kill_process: the alert carries the action" \
        "$(jq -r 'select(.event.kind == "alert" and .rule.id == "00000000-0000-4000-8000-00000000c0de") | .actions[0].action' "$TMP/kill.ndjson" | head -1)" kill_process
else
    echo "note: no corpora ($SHARED): Elastic's Linux rules and kill_process are not tested"
fi

# Part 3: --baseline DB --learn: what is seen while learning is normal, a
# script making memory executable afterwards is a deviation
"$MODUS" live --baseline "$TMP/live.db" --learn 2 --duration 6 --output "$TMP/bl.ndjson" \
    --stats-interval 0 2>"$TMP/err3" &
SENSOR=$!
for _ in $(seq 100); do grep -q "ready" "$TMP/err3" 2>/dev/null && break; kill -0 "$SENSOR" 2>/dev/null || break; sleep 0.2; done
/bin/ls / >/dev/null
sleep 2.5
/usr/bin/python3 "$PROGS/py_mprotect.py" &
bl_pid=$!
wait $bl_pid
wait "$SENSOR"
SENSOR=
check "--learn: the sensor switches from learning to checking" grep -q "learned [0-9]* events; checking from now on" "$TMP/err3"
expect_eq "--baseline: the Python mprotect after learning is a deviation" \
    "$(jq -r --argjson p "$bl_pid" 'select(.baseline and .process.pid == $p and .baseline.behaviour == "api:mprotect:RWX") | .modality.name' "$TMP/bl.ndjson" | head -1)" python
check "--baseline: the profile was written" test -s "$TMP/live.db"

# Part 4: a poll stops consuming after its time budget (so the stats and the
# publisher's state go on under a burst) and leaves the rest in the ring:
# with a 1 ms budget the budget runs out all the time, and every exec of a
# burst is still there, in order; the periodic stats line came every second
MODUS_POLL_BUDGET_MS=1 "$MODUS" live --all-events --output "$TMP/burst.ndjson" --stats-interval 1 \
    2>"$TMP/err4" &
SENSOR=$!
for _ in $(seq 100); do grep -q "ready" "$TMP/err4" 2>/dev/null && break; kill -0 "$SENSOR" 2>/dev/null || break; sleep 0.2; done
for i in $(seq 1500); do /bin/true "modus-burst-$$-$i"; done
sleep 2
kill -INT "$SENSOR"
wait "$SENSOR"
SENSOR=
got=$(jq -r --arg m "modus-burst-$$-" 'select(.event.action == "exec") | .process.args[1] // empty | select(startswith($m)) | ltrimstr($m)' "$TMP/burst.ndjson")
if grep "stopped after" "$TMP/err4" | grep -q " 0 lost in the kernel"; then # (the stop line's count)
    expect_eq "budget 1 ms: every exec of a 1500-exec burst was read, in order" \
        "$(tr '\n' ' ' <<<"$got")" "$(seq 1500 | tr '\n' ' ')"
else # the kernel's ring overflowed: what was read is still in order
    echo "note: the kernel dropped records during the burst ($(grep "stopped after" "$TMP/err4" | grep -o '[0-9]* lost in the kernel'))"
    check "budget 1 ms: the execs read are in order" test "$(sort -n <<<"$got")" = "$got"
fi
check "budget 1 ms: periodic stats during the burst" test "$(grep -c ' s: .* events' "$TMP/err4")" -ge 2

finish
