#!/bin/bash
# test_rule_paths_private.sh - issue 15: a rule path that does not exist or
# holds no rule is an error (exit 3, the path named) in every command that
# takes rules; the files modus creates that hold events (the baseline
# database, baseline report) are owner-only (0600) under umask 022. The
# sensor's --output and the fleet spool are checked on the real kernel in
# tests/live/test_live_context.sh.
. "$(dirname "$0")/lib.sh"
C=$SHARED/corpora
EV=$C/elastic/article_event.ndjson
mkdir -p "$TMP/empty" "$TMP/onlytext"
echo "not a rule" >"$TMP/onlytext/README.md"
: >"$TMP/empty.toml"
RULE=$SRC/rules/linux_persistence_by_script.toml

rc_of() { "$@" >"$TMP/out" 2>"$TMP/err"; echo $?; }
for path in "$TMP/no/such/dir" "$TMP/empty" "$TMP/onlytext" "$TMP/empty.toml"; do
    expect_eq "scan --rules $path: exit 3" "$(rc_of "$MODUS" scan --rules "$path" "$EV")" 3
    check "scan --rules $path: the path is named" grep -qF "$path" "$TMP/err"
    check "scan --rules $path: nothing was scanned" [ ! -s "$TMP/out" ]
    expect_eq "scan --exit-status --rules $path: exit 3, not 0" \
        "$(rc_of "$MODUS" scan --exit-status --rules "$RULE" --rules "$path" "$EV")" 3
    expect_eq "rules check $path: exit 3" "$(rc_of "$MODUS" rules check "$path")" 3
    check "rules check $path: the path is named" grep -qF "$path" "$TMP/err"
    expect_eq "rules list $path: exit 3" "$(rc_of "$MODUS" rules list "$path")" 3
    expect_eq "rules score $path: exit 3" "$(rc_of "$MODUS" rules score "$path")" 3
done
expect_eq "query with a rule file that does not exist: exit 3" \
    "$(rc_of "$MODUS" query "$TMP/no/such.toml" "$EV")" 3
check "query: the path is named" grep -qF "$TMP/no/such.toml" "$TMP/err"
"$MODUS" baseline learn --db "$TMP/p.db" "$EV" 2>/dev/null
for path in "$TMP/no/such/dir" "$TMP/empty"; do
    expect_eq "baseline check --rules $path: exit 3" \
        "$(rc_of "$MODUS" baseline check --db "$TMP/p.db" --rules "$path" "$EV")" 3
    check "baseline check --rules $path: the path is named" grep -qF "$path" "$TMP/err"
done
if [ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
    expect_eq "live --rules /no/such: exit 3 before loading anything" \
        "$(rc_of "$MODUS" live --rules "$TMP/no/such/dir" --duration 1)" 3
    check "live: the path is named" grep -qF "$TMP/no/such/dir" "$TMP/err"
fi
# a path that holds rules still works, next to the pack's own
expect_eq "scan --rules with a real rule: exit 0" "$(rc_of "$MODUS" scan --rules "$RULE" "$EV")" 0
expect_eq "rules check of the pack: exit 0" "$(rc_of "$MODUS" rules check "$SRC/rules")" 0

# ---- owner-only files, under the usual umask ------------------------------------
umask 022
mode() { stat -c %a "$1"; }
"$MODUS" baseline learn --db "$TMP/new.db" "$EV" 2>/dev/null
expect_eq "a new baseline database is 0600 under umask 022" "$(mode "$TMP/new.db")" 600
for f in "$TMP"/new.db-*; do
    [ -e "$f" ] && expect_eq "the database's side file $f is 0600" "$(mode "$f")" 600
done
touch "$TMP/mine.db" && chmod 644 "$TMP/mine.db"
"$MODUS" baseline learn --db "$TMP/mine.db" "$EV" 2>/dev/null
expect_eq "an existing database keeps the mode its owner gave it" "$(mode "$TMP/mine.db")" 644
"$MODUS" baseline report --db "$TMP/new.db" --html "$TMP/r.html" 2>/dev/null
expect_eq "the baseline report (command lines, paths) is 0600" "$(mode "$TMP/r.html")" 600
finish
