#!/usr/bin/env bash
# test_rule_toml_corpus.sh - the TOML rule loader on Elastic's 1,314 endpoint
# behavior rules: rules_to_toml.sh writes each line of behavior_rules.jsonl as
# an Elastic-format TOML file, and every file must load (rule_toml_dump, the
# loader's test driver) with the JSONL's exact name, id and query, the query
# found on the line after `query = '''`. Then the same round trip for made-up
# rules whose queries a literal string cannot hold.
source "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
DUMP=${RULE_TOML_DUMP:-$(dirname "$MODUS")/tests/rule_toml_dump}
JSONL=$SHARED/corpora/elastic-rules/behavior_rules.jsonl

# roundtrip NAME JSONL: convert, load every file, compare with the JSONL
roundtrip() {
    local name=$1 jsonl=$2 dir=$TMP/$1
    check "$name: rules_to_toml.sh succeeds" bash "$HERE/rules_to_toml.sh" "$jsonl" "$dir"
    local want
    want=$(wc -l <"$jsonl")
    expect_eq "$name: files written" "$(find "$dir" -name '*.toml' | wc -l)" "$want"
    (cd "$dir" && find . -name '*.toml' -printf '%P\0' | sort -z | xargs -0 "$DUMP") \
        >"$TMP/$name.dump" 2>"$TMP/$name.err"
    expect_eq "$name: loader errors" "$(head -5 "$TMP/$name.err")" ""
    expect_eq "$name: rules loaded" "$(wc -l <"$TMP/$name.dump")" "$want"
    expect_eq "$name: path, id, name, query as in the JSONL" \
        "$(jq -c '{path: .file, id, name, query}' "$TMP/$name.dump" | sort | md5sum)" \
        "$(jq -c '{path, id, name, query}' "$jsonl" | sort | md5sum)"
    # the query starts at column 1 of the line after the opening delimiter
    expect_eq "$name: query_line, query_col" \
        "$(jq -r '[.file, .query_line, .query_col] | @tsv' "$TMP/$name.dump" | sort)" \
        "$(cd "$dir" && find . -name '*.toml' -printf '%P\0' | xargs -0 awk -v q="'" \
            '$0 == "query = " q q q || $0 == "query = \"\"\"" { print FILENAME "\t" FNR + 1 "\t1" }' | sort)"
}

if [ ! -f "$JSONL" ]; then
    echo "skip: no $JSONL" >&2
elif [ ! -x "$DUMP" ]; then
    fail=$((fail + 1))
    echo "FAIL: no loader driver at $DUMP (set RULE_TOML_DUMP)" >&2
else
    roundtrip elastic "$JSONL"
    expect_eq "elastic: every query is a verbatim literal string" \
        "$(jq -r 'select(.verbatim | not) | .file' "$TMP/elastic.dump")" ""
fi

# Made-up rules for the basic-string fallback and the awkward corners
# (Q is a single quote, to keep the shell quoting readable).
jq -nc --arg Q "'" '
  {path: "a/literal.toml", id: "1", name: "quote \" and \\ backslash", os: "windows",
   version: 7, min_endpoint_version: "8.0.0",
   query: "process where process.name : \"it\($Q)s\" and x : \($Q)\($Q)\n"},
  {path: "a/triple.toml", id: "2", name: "triple", os: ["linux", "macos"], version: "1.0.0",
   min_endpoint_version: "8.0.0", query: "process where a : \"\($Q)\($Q)\($Q)\" and b : \"\\\\\\\"\"\n"},
  {path: "../escape.toml", id: "3", name: "unsafe path", os: [], version: "1",
   min_endpoint_version: "8.0.0", query: "process where a : \"\r\n\u0001\u007f\t\"\n"},
  {path: "a/noeol.toml", id: "4", name: "\u00e9\u2622 no final newline", os: ["windows"],
   version: "1", query: "\n\"\"\"x\"\"\"\"\($Q)"},
  {path: "a/ends.toml", id: "5", name: "ends in a quote", version: "1",
   min_endpoint_version: "8.0.0", query: "\($Q)\($Q)\($Q)x\""}
' >"$TMP/made_up.jsonl"
if [ -x "$DUMP" ]; then
    bash "$HERE/rules_to_toml.sh" "$TMP/made_up.jsonl" "$TMP/made_up" 2>"$TMP/made_up.log"
    expect_eq "made up: summary" "$(cat "$TMP/made_up.log")" \
        "5 rules written to $TMP/made_up (3 as basic strings)"
    check "made up: an unsafe path becomes line<N>.toml" test -f "$TMP/made_up/line3.toml"
    check "made up: nothing escapes OUTDIR" test ! -e "$TMP/escape.toml"
    rm -rf "$TMP/made_up"
    jq -c 'if .path == "../escape.toml" then .path = "line3.toml" else . end' \
        "$TMP/made_up.jsonl" >"$TMP/made_up_paths.jsonl"
    roundtrip made_up "$TMP/made_up_paths.jsonl" 2>/dev/null
    expect_eq "made up: verbatim only where nothing is escaped" \
        "$(jq -r '[.file, .verbatim] | @tsv' "$TMP/made_up.dump" | sort | tr '\t\n' ': ')" \
        "a/ends.toml:false a/literal.toml:true a/noeol.toml:true a/triple.toml:false line3.toml:false "
fi
finish
