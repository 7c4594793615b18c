#!/bin/bash
# test_live_cold.sh - the first event of a never-seen binary is unwound and
# named like the hundredth. Interpreters (python3, perl, node where installed,
# bash, and dash, which is stripped and known by its build-id; java, not
# copied, whose libjvm.so is new to the fresh sensor all the same) are copied
# under new random names (a new inode, nothing in the name
# that says what they are) after a fresh sensor has started; each copy runs
# once and writes a cron file, then runs a second time (warm). The first
# event of each must be named by its runtime (python, perl, node, shell),
# recognised by its code (module_origin "symbol ..."), and have the same
# frames as the warm run - no Unknown frame where the warm run resolves one.
# Needs root; exits 77 (skipped) otherwise. LIVE_CAPTURE=DIR keeps the
# capture as DIR/cold.ndjson. Every file it creates is removed.
. "$(dirname "$0")/lib.sh"
live_require
SENSOR=
CRONS=()
cleanup() {
    [ -n "$SENSOR" ] && kill "$SENSOR" 2>/dev/null
    for f in "${CRONS[@]}"; do rm -f "$f"; done
    rm -rf "$TMP"
}
trap cleanup EXIT

rname() { # a random name of letters: no hint of the runtime
    tr -dc 'a-z' </dev/urandom 2>/dev/null | head -c 10
}
# the real interpreter files (not wrappers such as pyenv shims)
declare -A REAL
for p in /usr/bin/python3 /usr/local/bin/python3; do
    [ -x "$p" ] && { REAL[python]=$(readlink -f "$p"); break; }
done
[ -x /usr/bin/perl ] && REAL[perl]=$(readlink -f /usr/bin/perl)
command -v node >/dev/null && REAL[node]=$(readlink -f "$(command -v node)")
REAL[shell]=$(readlink -f /bin/bash)
# dash is stripped: no symbols; known by the build-id of the installed one
[ -x /bin/dash ] && REAL[dash]=$(readlink -f /bin/dash)
declare -A MOD=([python]=python [perl]=perl [node]=node [shell]=shell [dash]=shell [java]=java)
# java: not copied (the JVM is a directory of files), but libjvm.so is new to
# the fresh sensor all the same; W.java is compiled before the sensor starts
if command -v javac >/dev/null && javac -d "$TMP/jv" "$(dirname "$0")/progs/W.java"; then
    REAL[java]=$(readlink -f "$(command -v java)")
fi

OUT=$TMP/cold.ndjson
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

declare -A COPY PID_COLD PID_WARM CRON
# copied after the sensor started: their maps and files were never seen
for m in "${!REAL[@]}"; do
    mkdir -p "$TMP/$m"
    COPY[$m]=$TMP/$m/$(rname)
    [ "$m" = java ] && COPY[$m]=${REAL[$m]} || cp "${REAL[$m]}" "${COPY[$m]}"
    CRON[$m]=/etc/cron.d/modus-live-cold-$m-$$
    CRONS+=("${CRON[$m]}")
done
write_cron() { # MODALITY: run the copy once, writing its cron file
    local m=$1 f=${CRON[$1]} code
    case $m in
    python) code="open('$f', 'w').write('# modus cold-start test\\n')" ;;
    perl) code="open(my \$h, '>', '$f') or die; print \$h \"# modus cold-start test\\n\"; close \$h" ;;
    node) code="require('fs').writeFileSync('$f', '# modus cold-start test\\n')" ;;
    shell | dash) code="echo '# modus cold-start test' > '$f'" ;;
    esac
    local flag=-c
    [ "$m" = perl ] || [ "$m" = node ] && flag=-e
    if [ "$m" = java ]; then
        "${COPY[$m]}" -cp "$TMP/jv" W "$f" &
    else
        "${COPY[$m]}" "$flag" "$code" & # the interpreter itself: its pid is the event's
    fi
    local pid=$!
    wait $pid
    rm -f "$f"
    echo $pid
}
for m in "${!COPY[@]}"; do PID_COLD[$m]=$(write_cron "$m"); done
sleep 0.5
for m in "${!COPY[@]}"; do PID_WARM[$m]=$(write_cron "$m"); done

sleep 1
kill -INT "$SENSOR"
wait "$SENSOR"
expect_eq "the sensor exits 0 on SIGINT" "$?" 0
SENSOR=
[ -n "${LIVE_CAPTURE:-}" ] && mkdir -p "$LIVE_CAPTURE" && cp "$OUT" "$LIVE_CAPTURE/cold.ndjson"

first() { # PID -> its first event with its own stack
    jq -c --argjson p "$1" 'select(.event.kind == "event" and .process.pid == $p and (.process.thread.Ext.call_stack | length) > 0)' "$OUT" | head -1
}
cron_ev() { # PID FILE -> its event writing FILE
    jq -c --argjson p "$1" --arg f "$2" 'select(.event.kind == "event" and .process.pid == $p and .file.path == $f)' "$OUT" | head -1
}
norm() { # frames without offsets: what a warm run must match
    jq -r '[.process.thread.Ext.call_stack[].symbol_info | sub("\\+0x[0-9a-f]+$"; "")] | join(" | ")'
}
unknown() { jq '[.process.thread.Ext.call_stack[] | select(.symbol_info == "Unknown")] | length'; }
for k in $(printf '%s\n' "${!COPY[@]}" | sort); do
    m=${MOD[$k]}
    name=$(basename "${COPY[$k]}")
    e=$(first "${PID_COLD[$k]}")
    check "$k: the cold run made an event" test -n "$e"
    [ -n "$e" ] || continue
    # the very first event of the never-seen binary, whatever it is
    what="$k (cold $name, first event: $(jq -r .event.action <<<"$e"))"
    expect_eq "$what: modality" "$(jq -r .modality.name <<<"$e")" "$m"
    expect_eq "$what: confidence" "$(jq -r .modality.confidence <<<"$e")" high
    expect_eq "$what: Unknown frames" "$(unknown <<<"$e")" 0
    check "$what: the runtime was recognised by its code or build" \
        grep -Eq "symbol |build-id " <<<"$(jq -r '[.process.thread.Ext.call_stack[].module_origin // empty] | join(" ")' <<<"$e")"
    check "$what: the evidence says how" grep -Eq "is $m code \(by (symbol|build-id)" <<<"$(jq -r '.modality.evidence | join(" ")' <<<"$e")"
    # the cron file: the same frames as the warm run, and the alert
    cold=$(cron_ev "${PID_COLD[$k]}" "${CRON[$k]}")
    warm=$(cron_ev "${PID_WARM[$k]}" "${CRON[$k]}")
    check "$k: the cold run's cron file was seen" test -n "$cold"
    check "$k: the warm run's cron file was seen" test -n "$warm"
    [ -n "$cold" ] && [ -n "$warm" ] || continue
    expect_eq "$k (cold): cron file: modality" "$(jq -r .modality.name <<<"$cold")" "$m"
    expect_eq "$k (cold): cron file: Unknown frames" "$(unknown <<<"$cold")" 0
    expect_eq "$k: cron file: the cold run's frames are the warm run's" "$(norm <<<"$cold")" "$(norm <<<"$warm")"
    [ "$k" = java ] && continue # the pack's rule is for scripts and shellcode
    expect_eq "$k (cold): alert" "$(jq -r --argjson p "${PID_COLD[$k]}" 'select(.event.kind == "alert" and .process.pid == $p) | .rule.name' "$OUT" | sort -u)" \
        "Linux persistence file written by a script or shellcode"
done
check "python, perl and bash were run" test -n "${COPY[python]:-}" -a -n "${COPY[perl]:-}" -a -n "${COPY[shell]:-}"
[ -z "${COPY[node]:-}" ] && echo "note: node is not installed; the node case is not run"
[ -z "${COPY[java]:-}" ] && echo "note: no javac: the java case is not run"
grep "stopped after" "$TMP/err"
finish
