#!/usr/bin/env bash
# test_eql_sample.sh - conformance of the Elasticsearch EQL syntax Elastic's
# SIEM rules use beyond the conformance kit, each against what
# Elasticsearch's EQL reference says (eql-syntax.md: Samples, Missing events,
# Escape a field name, Optional by fields), on events written here:
#   sample by ... [..] [..]   unordered, one event per filter sharing the join
#                             keys, one sample per key, null keys only when
#                             the by field is optional (?field)
#   ![...]                    a missing event: none in its window of the
#                             sequence (before, between, after the others)
#   `...`                     back-tick field names, whole or in part
source "$(dirname "$0")/lib.sh"
E=$TMP/ev.ndjson
ev() { # ID TIME(s) CATEGORY HOST TAG [EXTRA-JSON]
    printf '{"id":%s,"@timestamp":"2026-01-01T00:00:%02dZ","event":{"category":["%s"]},"host":{"name":"%s"},"tag":"%s"%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "${6:-}"
}
{
    ev 1 0 process h1 start
    ev 2 1 file h2 write
    ev 3 2 file h1 write
    ev 4 3 process h2 start
    ev 5 4 process h1 start
    ev 6 5 file h1 write
    ev 7 6 network h3 beacon
    ev 8 7 process h3 start ',"user":"u1"'
    ev 9 8 file h3 write ',"owner":"u1"'
    ev 10 20 alert h1 blocked
    ev 11 30 process h4 start
    ev 12 31 file h4 write ',"x":null'
    ev 13 40 process h5 start ',"odd-name":"v","a":{"b c":{"d":1}},"sequence":7,"q`t":"y"'
} >"$E"
q() { "$MODUS" query --ids-field id "$1" "$E" 2>"$TMP/err" | tr '\n' ' '; }
# err QUERY: exit status and the error's position and message (without the token)
err() { "$MODUS" query "$1" "$E" >/dev/null 2>"$TMP/err"; echo "$? $(head -1 "$TMP/err" | sed 's/, at .*//')"; }

# --- Samples -------------------------------------------------------------------------------
expect_eq "sample: unordered, events listed in filter order" \
    "$(q 'sample by host.name [file where tag == "write"] [process where tag == "start"]')" "3 1 2 4 9 8 12 11 "
expect_eq "sample: one per join key (h1's second pair 5, 6 makes none)" \
    "$(q 'sample by host.name [process where true] [file where true]')" "1 3 4 2 8 9 11 12 "
expect_eq "sample: per-filter join keys in different fields" \
    "$(q 'sample [process where true] by user [file where true] by owner')" "8 9 "
expect_eq "sample: three filters" \
    "$(q 'sample by host.name [network where true] [process where true] [file where true]')" "7 8 9 "
expect_eq "sample: an event fills one filter, not two" \
    "$(q 'sample by host.name [any where tag == "beacon"] [any where host.name == "h3"]')" "7 8 "
expect_eq "sample: a null join key joins nothing" \
    "$(q 'sample by x [process where true] [file where true]')" ""
expect_eq "sample: an optional join key (?x) may be null" \
    "$(q 'sample by ?x [process where host.name == "h4"] [alert where true]')" "11 10 "
expect_eq "sample: no key, any two events" "$(q 'sample [alert where true] [network where true]')" "10 7 "
expect_eq "sample | head 1" "$(q 'sample by host.name [file where true] [process where true] | head 1')" "3 1 "
expect_eq "sample: with maxspan is refused" \
    "$(err 'sample by host.name with maxspan=1s [file where true] [process where true]' )" \
    "3 modus: query:1:21: maxspan applies to sequences"
expect_eq "sample: with runs is refused" \
    "$(err 'sample by host.name [file where true] with runs=2 [process where true]' )" \
    "3 modus: query:1:51: with runs does not apply to samples"
expect_eq "sample: until is refused" \
    "$(err 'sample [file where true] [process where true] until [alert where true]' )" \
    "3 modus: query:1:47: until does not apply to samples"
expect_eq "sample: one filter is refused" "$(err 'sample by host.name [file where true]' )" \
    "3 modus: query:1:38: a sample needs at least two stages"
expect_eq "a field named sample is still a field" "$(q 'process where sample == null and id == 1')" "1 "

# --- Missing events ---------------------------------------------------------------------------
expect_eq "missing, trailing: no file within 3s after each start (h1's at 0 and 4, h3's and h4's have one)" \
    "$(q 'sequence by host.name with maxspan=3s [process where true] ![file where true]')" "4 13 "
expect_eq "missing, trailing: a file after the window does not count" \
    "$(q 'sequence by host.name with maxspan=1s [process where id == 1] ![file where true]')" "1 "
expect_eq "missing, between: start then start with no file between (h1: 1, 3(file), 5)" \
    "$(q 'sequence by host.name with maxspan=10s [process where true] ![file where true] [process where true]')" ""
expect_eq "missing, between: with nothing between" \
    "$(q 'sequence by host.name with maxspan=10s [process where true] ![alert where true] [process where true]')" "1 5 "
expect_eq "missing, leading: no file in the 3s before a start" \
    "$(q 'sequence by host.name with maxspan=3s ![file where true] [process where true]')" "1 8 11 13 "
expect_eq "missing, leading, a longer window catches h1's file at 2 before 5" \
    "$(q 'sequence by host.name with maxspan=3s ![file where true] [process where id == 5]')" ""
expect_eq "missing: the missing stage's own join key" \
    "$(q 'sequence with maxspan=3s [process where true] by host.name ![file where true] by owner')" "1 4 5 8 11 13 "
expect_eq "missing: needs maxspan" \
    "$(err 'sequence by host.name [process where true] ![file where true]' )" \
    "3 modus: query:1:62: a sequence with missing events (![...]) needs with maxspan"
expect_eq "missing: needs a stage that is not missing" \
    "$(err 'sequence with maxspan=1s ![process where true] ![file where true]' )" \
    "3 modus: query:1:66: a sequence needs at least one stage that is not a missing event"
expect_eq "missing: only in sequences" "$(err 'join [process where true] ![file where true]' )" \
    "3 modus: query:1:27: missing events (![...]) apply to sequences"
expect_eq "! is not an operator in expressions" "$(err 'process where !(id == 1)' )" \
    "3 modus: query:1:15: unexpected '!' (use 'not' or '!='; '![...]' is a missing event in a sequence)"

# --- Back-tick field names ------------------------------------------------------------------------
expect_eq "\`odd-name\`" "$(q 'process where `odd-name` == "v"')" "13 "
expect_eq "a quoted part of a path: a.\`b c\`.d" "$(q 'process where a.`b c`.d == 1')" "13 "
expect_eq "a keyword quoted is a field: \`sequence\`" "$(q 'process where `sequence` > 5')" "13 "
expect_eq "\`\` is one back-tick" "$(q 'process where `q``t` == "y"')" "13 "
expect_eq "a quoted whole dotted name" "$(q 'process where `host.name` == "h5"')" "13 "
expect_eq "a quoted name then a plain part" "$(q 'process where `host`.name == "h5"')" "13 "
expect_eq "an unterminated back-tick" "$(err 'process where `host.name == "h5"' )" \
    "3 modus: query:1:15: unterminated \`identifier\`"
finish
