#!/usr/bin/env bash
# test_eql_conformance.sh - the EQL conformance kit in ../shared/corpora/eql-conformance
# run against `modus query`: every Elasticsearch-syntax case, every function
# case, and the sequence group of the original suite.
source "$(dirname "$0")/lib.sh"
K=$SHARED/corpora/eql-conformance
run() { # DESC ARGS... : the kit's last line must report 0 failed
    local out last
    out=$("$K/check.sh" "$MODUS" "${@:2}" 2>&1)
    last=$(tail -n 1 <<<"$out")
    echo "$1: $last"
    if [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: $1" >&2
        grep -A4 '^  #' <<<"$out" | head -40 >&2
    fi
}
run "Elasticsearch syntax, case-sensitive" --cases "$K/cases_es.jsonl" --case sensitive
run "functions" --cases "$K/expr_cases.jsonl" --events "$K/expr_event.ndjson" --case sensitive
run "original suite, sequences" --cases "$K/cases.jsonl" --case sensitive --group sequence
finish
