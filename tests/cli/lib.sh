# lib.sh - helpers for CLI tests: ok/fail counting and the closing summary line.
# Tests source this, call `check DESC CMD...` or `expect_eq DESC GOT WANT`, end with `finish`.
set -u
: "${MODUS:?MODUS must point at the modus binary}"
: "${SHARED:=$(dirname "$0")/../../../shared}"
pass=0
fail=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
check() {
    local desc=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $desc" >&2; fi
}
expect_eq() {
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: $1: got '$2', want '$3'" >&2
    fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# dpkg ARGS..., waiting for another dpkg or apt to finish (up to 120 s)
dpkg_locked() {
    for _ in $(seq 120); do
        dpkg "$@" >"$TMP/dpkg.log" 2>&1 && return 0
        grep -q "lock" "$TMP/dpkg.log" || break
        sleep 1
    done
    cat "$TMP/dpkg.log" >&2
    return 1
}
