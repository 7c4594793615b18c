#!/usr/bin/env bash
# rules_to_toml.sh - one TOML rule file in Elastic's format per line of a JSONL
# rule dump (fields path, name, id, os, version, min_endpoint_version, query),
# e.g. ../shared/corpora/elastic-rules/behavior_rules.jsonl.
# Usage: tests/cli/rules_to_toml.sh JSONL OUTDIR
#
# Each file lands at OUTDIR/<path> (OUTDIR/line<N>.toml when the path is
# absolute, has an empty, "." or ".." part or a control character, or does not
# end in .toml) and reads back to the same name, id and query:
#   [rule] description (the name), id, name, os_list, version,
#          query as a multi-line literal string '''...''' -- or, when the query
#          holds ''' or a control character a literal string cannot carry, as
#          a multi-line basic string """...""" with escapes
#   [internal] min_endpoint_version
# Prints "N rules written to OUTDIR (M as basic strings)" on stderr.
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 JSONL OUTDIR" >&2
    exit 2
fi
in=$1
out=$2
mkdir -p "$out"

# One jq pass writes NUL-separated (relative path, TOML text, string form)
# triples; the TOML text never holds a NUL (control characters are escaped).
stream=$(mktemp)
trap 'rm -f "$stream"' EXIT
jq -nj '
  # a TOML basic string on one line: JSON escapes are TOML escapes (jq emits
  # no "\/" and escapes every control character)
  def tstr: tostring | tojson;
  # a multi-line literal string cannot hold three quotes or control
  # characters other than tab and newline (a bare CR is one of them)
  def literal_ok: (contains("'"'''"'") | not) and
    (explode | all(. == 9 or . == 10 or (. >= 32 and . != 127)));
  def mlbasic_body:
    [explode[] |
      if . == 92 then "\\\\"
      elif . == 34 then "\\\""
      elif . == 9 or . == 10 then [.] | implode
      elif . < 32 or . == 127 then [.] | implode | tojson | .[1:-1]
      else [.] | implode end] | join("");
  def need($k; $n): if (.[$k] | type) == "string" then .[$k]
    else error("line \($n): \($k) is not a string") end;
  foreach inputs as $r (0; . + 1;
    . as $n | $r |
    need("name"; $n) as $name | need("id"; $n) as $id | need("query"; $n) as $q |
    (if (.path | type) == "string" and (.path | endswith(".toml"))
        and (.path | explode | all(. >= 32 and . != 127))
        and (.path | split("/") | any(. == ".." or . == "." or . == "") | not)
     then .path else "line\($n).toml" end) as $path |
    ($q | literal_ok) as $lit |
    [ "[rule]",
      "description = \($name | tstr)",
      "id = \($id | tstr)",
      "name = \($name | tstr)",
      (if .os == null then empty
       else "os_list = [\([.os] | flatten | map(tstr) | join(", "))]" end),
      (if .version == null then empty
       elif (.version | type) == "number" then "version = \(.version)"
       else "version = \(.version | tstr)" end),
      "",
      (if $lit then "query = '"'''"'\n\($q)'"'''"'"
       else "query = \"\"\"\n\($q | mlbasic_body)\"\"\"" end),
      "",
      (if .min_endpoint_version == null then empty
       else "[internal]\nmin_endpoint_version = \(.min_endpoint_version | tstr)" end)
    ] | join("\n") + "\n" |
    $path, "\u0000", ., "\u0000", (if $lit then "literal" else "basic" end), "\u0000")
' "$in" >"$stream"

n=0
basic=0
declare -A seen=()
while IFS= read -r -d '' path && IFS= read -r -d '' text && IFS= read -r -d '' form; do
    n=$((n + 1))
    [ "$form" = basic ] && basic=$((basic + 1))
    if [ -n "${seen[$path]:-}" ]; then # never overwrite: a second copy gets a suffix
        path="${path%.toml}.line$n.toml"
    fi
    seen[$path]=1
    dir=${path%/*}
    [ "$dir" != "$path" ] && [ -z "${seen[dir:$dir]:-}" ] && mkdir -p "$out/$dir" && seen[dir:$dir]=1
    printf '%s' "$text" >"$out/$path"
done <"$stream"
echo "$n rules written to $out ($basic as basic strings)" >&2
