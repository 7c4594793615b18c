#!/bin/bash
# test_live_file.sh - file events beyond persistence on the real kernel:
#   1. curl fetches a payload from a local HTTP server (python3 -m http.server
#      on 127.0.0.1) into /dev/shm, chmod +x, run: creation, permission change
#      and exec events, and Elastic's Linux rule on downloaded-then-run files
#      (loaded from the corpus at test time) alerts;
#   2. Python writes an executable, makes it executable and runs it: the
#      pack's rule alerts, the writer's modality is python;
#   3. a process deletes its own executable: a deletion event, and Elastic's
#      self-deletion rule alerts;
#   4. Python writes a library into /tmp and loads it (ctypes): the library
#      event, header bytes of the new file, and the pack's rule alerts;
#   5. with only the pack, the kernel reports files where the rules look and
#      not elsewhere (the derived policy), and says when a rule asks for all.
# Loopback only. Needs root; exits 77 (skipped) otherwise. With LIVE_CAPTURE
# set, the capture is kept as $LIVE_CAPTURE/file.ndjson.
. "$(dirname "$0")/lib.sh"
live_require
for t in curl python3 gcc jq; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
ELASTIC=$SHARED/corpora/elastic-rules/behavior_rules.jsonl
[ -r "$ELASTIC" ] || { echo "SKIP: no Elastic rule corpus at $ELASTIC"; exit 77; }
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
PROGS=$(cd "$(dirname "$0")/progs" && pwd)
TAG=modus-file-$$
SHM=/dev/shm/$TAG
TMPD=/tmp/$TAG
OUTSIDE=/var/lib/$TAG
SENSOR=
HTTP=
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    [ -n "$HTTP" ] && kill "$HTTP" 2>/dev/null
    rm -rf "$SHM" "$TMPD" "$OUTSIDE" "$TMP"
}
trap cleanup EXIT
mkdir -p "$SHM" "$TMPD" "$TMP/www"

# the programs, built before the sensor starts
gcc -O2 -o "$TMP/self_delete" "$PROGS/self_delete.c" || exit 1
gcc -O2 -shared -fPIC -o "$TMP/libdrop.so" "$PROGS/libdrop.c" || exit 1
cp /bin/true "$TMP/www/payload"
# Elastic's rules, converted from the corpus now: the Linux ones and the pack
"$SRC/tests/cli/rules_to_toml.sh" "$ELASTIC" "$TMP/elastic" 2>/dev/null || exit 1
LINUX_RULES=$TMP/elastic/behavior/rules/linux
[ -d "$LINUX_RULES" ] || { echo "FAIL: no Linux rules in the corpus" >&2; exit 1; }

# a web server on loopback only
PORT=$((20000 + RANDOM % 20000))
(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$PORT") >"$TMP/http.log" 2>&1 &
HTTP=$!

start() { # OUT ERR ARGS...: the sensor, until ready
    local out=$1 err=$2
    shift 2
    "$MODUS" live --output "$out" --stats-interval 0 "$@" 2>"$err" &
    SENSOR=$!
    for _ in $(seq 150); do
        grep -q "ready" "$err" 2>/dev/null && return 0
        kill -0 "$SENSOR" 2>/dev/null || break
        sleep 0.2
    done
    echo "FAIL: the sensor did not start:" >&2
    cat "$err" >&2
    exit 1
}
stop() {
    sleep 1.5 # what is in the ring is read before the sensor stops
    kill -INT "$SENSOR"
    wait "$SENSOR"
    SENSOR=
}

OUT=$TMP/file.ndjson
start "$OUT" "$TMP/err" --all-events --rules "$SRC/rules" --rules "$LINUX_RULES"
check "a rule with no condition on the file makes the policy 'all', and is named" \
    grep -q "file events: every file for every operation: Process Execution Followed by Self-Deletion (delete); .* (write,chmod,rename) (no condition on file.path" "$TMP/err"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

# 1. curl -> /dev/shm, chmod +x, run (one shell: the three share a parent)
bash -c "curl -s -o '$SHM/payload' 'http://127.0.0.1:$PORT/payload' && chmod +x '$SHM/payload' && '$SHM/payload'; exit \$?"
expect_eq "the downloaded payload ran" "$?" 0

# 2. python writes an executable, chmod, runs it
/usr/bin/python3 -c "
import os, subprocess, sys
data = open('/bin/true', 'rb').read()
with open('$SHM/dropped', 'wb') as f:
    f.write(data)
os.chmod('$SHM/dropped', 0o755)
sys.exit(subprocess.run(['$SHM/dropped']).returncode)"
expect_eq "the python-dropped executable ran" "$?" 0

# 3. a process deletes its own executable
cp "$TMP/self_delete" "$TMPD/selfdel"
"$TMPD/selfdel"
expect_eq "the self-deleting program ran" "$?" 0
check "it deleted its executable" test ! -e "$TMPD/selfdel"

# 4. python writes a library into /tmp and loads it
/usr/bin/python3 -c "
import ctypes
data = open('$TMP/libdrop.so', 'rb').read()
with open('$TMPD/libdrop.so', 'wb') as f:
    f.write(data)
print(ctypes.CDLL('$TMPD/libdrop.so').modus_libdrop_answer())" >"$TMP/lib.out"
expect_eq "the dropped library was loaded" "$(cat "$TMP/lib.out")" 42
stop
[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/file.ndjson"

fev() { # PATH ACTION [PROCESS.NAME] -> the first file event
    jq -c --arg p "$1" --arg a "$2" --arg n "${3:-}" \
        'select(.event.kind == "event" and .file.path == $p and .event.action == $a and ($n == "" or .process.name == $n))' "$OUT" | head -1
}
alert() { # RULE NAME, a path that one of its events names -> count
    jq -r --arg r "$1" --arg t "$TAG" 'select(.event.kind == "alert" and .rule.name == $r) | tostring | select(contains($t))' "$OUT" | wc -l
}

# 1
e=$(fev "$SHM/payload" creation curl)
check "curl: a creation event in /dev/shm" test -n "$e"
expect_eq "curl: event.category" "$(jq -r '.event.category[0]' <<<"$e")" file
expect_eq "curl: event.type" "$(jq -r '.event.type[0]' <<<"$e")" creation
expect_eq "curl: file.name" "$(jq -r .file.name <<<"$e")" payload
expect_eq "curl: modality (a native program)" "$(jq -r .modality.name <<<"$e")" native
check "curl: the writer's stack is there" test "$(jq '.process.thread.Ext.call_stack | length' <<<"$e")" -ge 3
e=$(fev "$SHM/payload" attributes_modified chmod)
check "chmod: a permission-change event" test -n "$e"
expect_eq "chmod: file.mode" "$(jq -r .file.mode <<<"$e")" 0755
expect_eq "chmod: file.Ext.executable" "$(jq -r .file.Ext.executable <<<"$e")" true
e=$(jq -c --arg p "$SHM/payload" 'select(.event.action == "exec" and .process.executable == $p)' "$OUT" | head -1)
check "the payload's exec event" test -n "$e"
expect_eq "the payload's exec: the caller's modality (bash ran it)" "$(jq -r .modality.name <<<"$e")" shell
check "Elastic's 'Binary Executed from Shared Memory Directory' alerts on the payload" \
    test "$(alert "Binary Executed from Shared Memory Directory")" -ge 1
# Elastic's rule on the whole sequence (curl's creation -> chmod -> run) also
# reads process.working_directory and process.entry_leader.* on the exec
# events (`not (... or field like ...)` is null when they are missing): it can
# alert once the exec events carry the process context
if [ "$(jq -r '.process.entry_leader.executable // empty' <<<"$e")" ] && [ "$(jq -r '.process.working_directory // empty' <<<"$e")" ]; then
    check "Elastic's 'Recently Downloaded File Made Executable and Run' alerts" \
        test "$(alert "Recently Downloaded File Made Executable and Run")" -ge 1
else
    echo "NOTE: 'Recently Downloaded File Made Executable and Run' not checked: the exec events have no process.working_directory / process.entry_leader"
fi

# 2
e=$(fev "$SHM/dropped" creation)
check "python: a creation event" test -n "$e"
expect_eq "python: modality" "$(jq -r .modality.name <<<"$e")" python
e=$(fev "$SHM/dropped" modification)
expect_eq "python: the first write's header bytes (an ELF)" "$(jq -r '.file.Ext.header_bytes' <<<"$e")" 7f454c46020101000000000000000000
e=$(fev "$SHM/dropped" attributes_modified)
expect_eq "python: os.chmod, modality" "$(jq -r .modality.name <<<"$e")" python
check "the pack's 'Linux executable written by a script, made executable and run' alerts" \
    test "$(alert "Linux executable written by a script, made executable and run")" -ge 1
check "... but not on curl's native download" \
    test "$(jq -r --arg p "$SHM/payload" 'select(.event.kind == "alert" and .rule.name == "Linux executable written by a script, made executable and run") | tostring | select(contains($p))' "$OUT" | wc -l)" -eq 0

# 3
e=$(fev "$TMPD/selfdel" deletion selfdel)
check "self-deletion: a deletion event by the process itself" test -n "$e"
expect_eq "self-deletion: event.type" "$(jq -r '.event.type[0]' <<<"$e")" deletion
expect_eq "self-deletion: the deleted file is the process's executable" "$(jq -r .process.executable <<<"$e")" "$TMPD/selfdel"
check "Elastic's 'Process Execution Followed by Self-Deletion' alerts" \
    test "$(alert "Process Execution Followed by Self-Deletion")" -ge 1

# 4
e=$(fev "$TMPD/libdrop.so" creation)
check "library: a creation event" test -n "$e"
expect_eq "library: file.extension" "$(jq -r .file.extension <<<"$e")" so
e=$(jq -c --arg p "$TMPD/libdrop.so" 'select(.event.action == "load" and .dll.path == $p)' "$OUT" | head -1)
check "library: a load event" test -n "$e"
expect_eq "library: event.category" "$(jq -r '.event.category[0]' <<<"$e")" library
check "library: the loader is python" grep -q "^python3" <<<"$(jq -r .process.name <<<"$e")"
check "the pack's 'Linux library written to /tmp or /dev/shm by a script, then loaded' alerts" \
    test "$(alert "Linux library written to /tmp or /dev/shm by a script, then loaded")" -ge 1
grep "stopped after" "$TMP/err"
check "no record was lost" grep -q " 0 lost in the kernel" "$TMP/err"

# 5. the derived policy: the pack alone looks in /tmp and /dev/shm, not /var/lib
OUT2=$TMP/pack.ndjson
"$MODUS" live --rules "$SRC/rules" --file-policy print >"$TMP/policy.txt"
check "the pack's policy names /dev/shm, for writes, chmods and renames" grep -qx "dir /dev/shm write,chmod,rename" "$TMP/policy.txt"
check "the pack asks for no deletions" test -z "$(grep delete "$TMP/policy.txt")"
check "the pack's policy is not 'all'" test -z "$(grep -x all "$TMP/policy.txt")"
printf 'dir /dev/shm\n' >"$TMP/policy.override"
start "$OUT2" "$TMP/err2" --all-events --rules "$SRC/rules" --file-policy "$TMP/policy.override"
mkdir -p "$OUTSIDE"
echo x >"$OUTSIDE/out.txt"
echo x >"$SHM/in.txt"
rm -f "$OUTSIDE/out.txt" "$SHM/in.txt"
stop
check "--file-policy FILE: a file inside is reported (creation)" \
    test "$(jq -c --arg p "$SHM/in.txt" 'select(.file.path == $p and .event.action == "creation")' "$OUT2" | wc -l)" -ge 1
check "--file-policy FILE: and its deletion" \
    test "$(jq -c --arg p "$SHM/in.txt" 'select(.file.path == $p and .event.action == "deletion")' "$OUT2" | wc -l)" -ge 1
expect_eq "--file-policy FILE: a file outside is not" \
    "$(jq -c --arg p "$OUTSIDE/out.txt" 'select(.file.path == $p)' "$OUT2" | wc -l)" 0
printf 'dir tmp\n' >"$TMP/policy.bad"
"$MODUS" live --file-policy "$TMP/policy.bad" --duration 1 2>"$TMP/bad.err"
expect_eq "a bad policy file: exit 2" "$?" 2
check "a bad policy file: the place and the reason" grep -q "policy.bad.*1.*dir needs an absolute path" "$TMP/bad.err"
finish
