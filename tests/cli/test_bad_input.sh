# test_bad_input.sh - SPEC §2: "Bad input never crashes modus and never stops a scan: a
# malformed line or record is reported once with file, line (or record number) and byte
# offset, counted, and skipped."
#
# Every bad input is generated here, into $TMP, between good lines, so each case proves
# (1) the exit status (2 if any input error, else 0), (2) each bad line is reported once as
# `modus: FILE:LINE:COL: (byte N) message` with the right line and offset, (3) the closing
# `errors: N malformed, N too long, N unreadable files` counts, (4) every good line still
# comes out, in order, as JSON with a modality object and byte-identical to a clean scan of
# the good lines alone, (5) no crash (status < 128), and (6) bounded memory on a 100 MB line.
# Run: MODUS=build/modus SHARED=../shared bash tests/cli/test_bad_input.sh
source "$(dirname "$0")/lib.sh"

case $MODUS in /*) ;; *) MODUS=$PWD/$MODUS ;; esac
OUT=$TMP/out
ERR=$TMP/err

# ---------------------------------------------------------------- helpers

size() { wc -c <"$1" | tr -d ' '; }
in_range() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]; } # N LO HI: LO <= N < HI
matches() { [[ $1 =~ $2 ]]; }                                          # STRING REGEX
jq_ok() { jq "$@" >/dev/null 2>&1; }                              # jq -e ... quietly
no_cr() { ! LC_ALL=C grep -q $'\r' "$1"; }

# good ID [EXTRA]: one valid Elastic Defend API event with a call stack, seq=ID. Good lines
# always start with {"seq":"G..."; bad lines never do.
good() {
    printf '{"seq":"%s","event":{"category":"api","action":"VirtualProtect"},"process":{"name":"powershell.exe","pid":%d,"thread":{"Ext":{"call_stack":[{"symbol_info":"c:\\\\windows\\\\system32\\\\ntdll.dll!NtProtectVirtualMemory+0x14"},{"symbol_info":"c:\\\\windows\\\\system32\\\\kernelbase.dll+0x2c13e"},{"symbol_info":"Unbacked+0x3b5c"}]}}}%s}\n' \
        "$1" "${#1}" "${2:-}"
}

# garbage N SEED: N deterministic pseudo-random bytes (ZX81 LCG), NULs included, no '\n'.
garbage() {
    local n=$1 x=$2 i b o
    for ((i = 0; i < n; i++)); do
        x=$(((x * 75 + 74) % 65537))
        b=$((x & 255))
        [ "$b" -eq 10 ] && b=0
        printf -v o '%03o' "$b"
        printf "\\$o"
    done
}

# scan ARGS...: modus scan --enrich --format json ARGS; sets $rc, $OUT, $ERR.
scan() {
    rc=0
    "$MODUS" scan --enrich --format json "$@" >"$OUT" 2>"$ERR" || rc=$?
}

expect_status() { # DESC WANT
    expect_eq "$1: exit status" "$rc" "$2"
    check "$1: no crash (status $rc < 128)" [ "$rc" -lt 128 ]
}

# expect_summary DESC EVENTS MALFORMED TOOLONG UNREADABLE: the last stderr line.
expect_summary() {
    local last got
    last=$(tail -n 1 "$ERR")
    if [[ $last =~ ^modus:\ scanned\ ([0-9]+)\ events\ .*errors:\ ([0-9]+)\ malformed,\ ([0-9]+)\ too\ long,\ ([0-9]+)\ unreadable\ files ]]; then
        got="${BASH_REMATCH[1]} events; errors: ${BASH_REMATCH[2]} malformed, ${BASH_REMATCH[3]} too long, ${BASH_REMATCH[4]} unreadable files"
    else
        got="no summary line (last stderr line: ${last:0:200})"
    fi
    expect_eq "$1: closing summary" "$got" "$2 events; errors: $3 malformed, $4 too long, $5 unreadable files"
}

# expect_events DESC "ID..." FILE...: stdout holds exactly the good events ID..., in order,
# one JSON object per line with a modality object, byte-identical to a clean scan of those
# lines (taken from FILE..., CR stripped).
expect_events() {
    local desc=$1 ids=$2
    shift 2
    local got
    got=$(jq -r '.seq' "$OUT" 2>&1 | tr '\n' ' ')
    expect_eq "$desc: good events on stdout, in order" "${got% }" "$ids"
    check "$desc: every stdout line is one JSON object with a modality object" \
        jq_ok -e -R -n '[inputs | select(length > 0) | fromjson | (.modality | type) == "object"] | length > 0 and all' "$OUT"
    local alt
    alt=$(echo "$ids" | tr ' ' '|')
    LC_ALL=C grep -a -h -E "^\{\"seq\":\"($alt)\"" "$@" | tr -d '\r' >"$TMP/ref.ndjson"
    "$MODUS" scan --enrich --format json "$TMP/ref.ndjson" >"$TMP/ref.out" 2>/dev/null
    check "$desc: good events identical to a clean scan of the good lines" cmp -s "$OUT" "$TMP/ref.out"
}

# expect_diag DESC NAME LINE START END MSG_RE [COL]: exactly one report for NAME:LINE; its
# byte offset lies in the line [START, END) and matches its column (START + COL - 1); the
# message matches MSG_RE; with COL, the column is exactly COL.
expect_diag() {
    local desc=$1 name=$2 line=$3 start=$4 end=$5 re=$6 col=${7:-}
    local prefix="modus: $name:$line:" l n=0 rest="" c="" b="" msg=""
    while IFS= read -r l; do
        if [[ $l == "$prefix"* ]]; then
            n=$((n + 1))
            [ -z "$rest" ] && rest=${l#"$prefix"}
        fi
    done <"$ERR"
    expect_eq "$desc: reported once as $name:$line" "$n" 1
    if [[ $rest =~ ^([0-9]+):\ \(byte\ ([0-9]+)\)\ (.*)$ ]]; then
        c=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} msg=${BASH_REMATCH[3]}
    fi
    check "$desc: form FILE:LINE:COL: (byte N) message [${rest:0:120}]" [ -n "$b" ]
    check "$desc: byte offset ${b:-?} inside the line [$start, $end)" in_range "$b" "$start" "$end"
    expect_eq "$desc: byte offset agrees with the column" "$b" "$((start + ${c:-0} - 1))"
    [ -n "$col" ] && expect_eq "$desc: column" "$c" "$col"
    check "$desc: message /$re/ [${msg:0:120}]" matches "$msg" "$re"
}

# expect_toolong DESC NAME LINE START CAP: a too-long line is reported once, at its start.
expect_toolong() {
    local desc=$1 name=$2 line=$3 start=$4 cap=$5
    local prefix="modus: $name:$line:" l n=0 rest=""
    while IFS= read -r l; do
        if [[ $l == "$prefix"* ]]; then
            n=$((n + 1))
            [ -z "$rest" ] && rest=${l#"$prefix"}
        fi
    done <"$ERR"
    expect_eq "$desc: reported once as $name:$line" "$n" 1
    check "$desc: '(byte $start) line longer than the $cap-byte cap' [${rest:0:120}]" \
        matches "$rest" "^([0-9]+:)? \\(byte $start\\) line longer than the $cap-byte cap"
}

# expect_nreports DESC NAME N: N per-line reports (NAME:LINE:...) on stderr in all.
expect_nreports() {
    local m
    m=$(LC_ALL=C grep -a -F "modus: $2:" "$ERR" | LC_ALL=C grep -a -c -E "^modus: .*:[0-9]+(:[0-9]+)?: \(byte" | tr -d ' ')
    expect_eq "$1: per-line reports for $2" "$m" "$3"
}

# peak RSS in KB of the last /usr/bin/time run, from $TMP/rss. The 64 MB bound
# is for a release build: AddressSanitizer's shadow memory alone adds tens of
# MB, so under it the bound is 4x (the line still must not be buffered: 100 MB).
RSS_LIMIT=65536
if nm "$MODUS" 2>/dev/null | grep -q __asan_init; then RSS_LIMIT=$((4 * 65536)); fi
rss_ok() { # DESC
    local kb
    kb=$(tail -n 1 "$TMP/rss" 2>/dev/null)
    check "$1: max RSS ${kb:-?} KB < $RSS_LIMIT KB" in_range "$kb" 1 "$RSS_LIMIT"
}

# ---------------------------------------------------------------- malformed JSON

f=$TMP/malformed.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f"); printf '{"a": 1,, }\n' >>"$f"; e2=$(size "$f")
good G2 >>"$f"; s4=$(size "$f"); printf 'not json\n' >>"$f"; e4=$(size "$f")
good G3 >>"$f"; s6=$(size "$f"); printf '{"seq":"BAD","a":1}}\n' >>"$f"; e6=$(size "$f")
good G4 >>"$f"; s8=$(size "$f"); printf '["an","array"]\n' >>"$f"; e8=$(size "$f")
good G5 >>"$f"; s10=$(size "$f"); printf "{'single':'quotes'}\n" >>"$f"; e10=$(size "$f")
good G6 >>"$f"
scan "$f"
expect_status "malformed" 2
expect_diag "malformed: double comma" "$f" 2 "$s2" "$e2" 'invalid JSON' 9
expect_diag "malformed: not json" "$f" 4 "$s4" "$e4" 'invalid JSON'
expect_diag "malformed: trailing brace" "$f" 6 "$s6" "$e6" 'invalid JSON'
expect_diag "malformed: array, not object" "$f" 8 "$s8" "$e8" 'not a JSON object'
expect_diag "malformed: single quotes" "$f" 10 "$s10" "$e10" 'invalid JSON'
expect_nreports "malformed" "$f" 5
expect_summary "malformed" 6 5 0 0
expect_events "malformed" "G1 G2 G3 G4 G5 G6" "$f"

# ---------------------------------------------------------------- truncated last line
# Cut mid-object, no newline; a second file follows, so the cut line must not swallow its
# first line, and line numbers and offsets restart there.

f=$TMP/truncated.ndjson
f2=$TMP/after_truncated.ndjson
: >"$f"
good G1 >>"$f"; good G2 >>"$f"; s3=$(size "$f")
good BAD | head -c 150 >>"$f"; e3=$(size "$f")
{ good G3; printf '{"seq":"BAD",}\n'; good G4; } >"$f2"
t2=$(good G3 | wc -c)
scan "$f" "$f2"
expect_status "truncated" 2
expect_diag "truncated: cut last line" "$f" 3 "$s3" "$e3" 'invalid JSON'
expect_diag "truncated: next file line 2" "$f2" 2 "$t2" "$((t2 + 15))" 'invalid JSON'
expect_nreports "truncated" "$f" 1
expect_summary "truncated" 4 2 0 0
expect_events "truncated" "G1 G2 G3 G4" "$f" "$f2"

# ---------------------------------------------------------------- binary garbage

f=$TMP/binary1.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f")
{ printf '\0'; garbage 4096 7; printf '\n'; } >>"$f"; e2=$(size "$f")
good G2 >>"$f"
check "binary: the garbage holds NUL bytes" [ "$(head -n 2 "$f" | tail -n 1 | tr -cd '\0' | wc -c)" -gt 5 ]
scan "$f"
expect_status "binary" 2
expect_diag "binary: 4 KB of random bytes" "$f" 2 "$s2" "$e2" 'invalid JSON'
expect_nreports "binary" "$f" 1
expect_summary "binary" 2 1 0 0
expect_events "binary" "G1 G2" "$f"

# three garbage lines (NULs, CRs), then a malformed line whose number and offset must be right
f=$TMP/binary3.ndjson
: >"$f"
good G1 >>"$f"
declare -a gs ge
for i in 2 3 4; do
    gs[i]=$(size "$f")
    { printf '\1'; garbage 1000 "$i"; printf '\n'; } >>"$f"
    ge[i]=$(size "$f")
done
good G2 >>"$f"; s6=$(size "$f"); printf '{"seq":"BAD","x":}\n' >>"$f"; e6=$(size "$f")
good G3 >>"$f"
scan "$f"
expect_status "binary lines" 2
for i in 2 3 4; do expect_diag "binary lines: garbage line $i" "$f" "$i" "${gs[i]}" "${ge[i]}" 'invalid JSON'; done
expect_diag "binary lines: malformed line after garbage" "$f" 6 "$s6" "$e6" 'invalid JSON' 18
expect_nreports "binary lines" "$f" 4
expect_summary "binary lines" 3 4 0 0
expect_events "binary lines" "G1 G2 G3" "$f"

# ---------------------------------------------------------------- invalid UTF-8 in strings

f=$TMP/utf8.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f"); printf '{"seq":"BAD","s":"ab\xff\xfecd"}\n' >>"$f"; e2=$(size "$f")
good G2 >>"$f"; s4=$(size "$f"); printf '{"seq":"BAD","s":"overlong \xc0\xaf"}\n' >>"$f"; e4=$(size "$f")
good G3 >>"$f"; s6=$(size "$f"); printf '{"seq":"BAD","s":"surrogate \xed\xa0\x80"}\n' >>"$f"; e6=$(size "$f")
good G4 ',"s":"café 😀"' >>"$f"; s8=$(size "$f"); printf '{"seq":"BAD","s":"cut \xe2\x82"}\n' >>"$f"; e8=$(size "$f")
good G5 >>"$f"
scan "$f"
expect_status "utf8" 2
expect_diag "utf8: \\xff\\xfe" "$f" 2 "$s2" "$e2" 'UTF-8'
expect_diag "utf8: overlong" "$f" 4 "$s4" "$e4" 'UTF-8'
expect_diag "utf8: encoded surrogate" "$f" 6 "$s6" "$e6" 'UTF-8'
expect_diag "utf8: cut sequence" "$f" 8 "$s8" "$e8" 'UTF-8'
expect_nreports "utf8" "$f" 4
expect_summary "utf8" 5 4 0 0
expect_events "utf8" "G1 G2 G3 G4 G5" "$f"
expect_eq "utf8: valid multi-byte text kept intact" "$(jq -r 'select(.seq == "G4") | .s' "$OUT")" "café 😀"

# ---------------------------------------------------------------- 100 MB line
# 100,000,000 'a's in a JSON string: over the 16 MiB default cap, so reported as too long
# with its line number and skipped, the next lines still read, in bounded memory.

f=$TMP/huge.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f")
{ printf '{"seq":"BAD","s":"'; head -c 100000000 /dev/zero | tr '\0' a; printf '"}\n'; } >>"$f"
good G2 >>"$f"; s4=$(size "$f"); printf '{"seq":"BAD",\n' >>"$f"; e4=$(size "$f")
good G3 >>"$f"
check "huge: the long line is over 100 MB" [ "$((s4 - s2))" -gt 100000000 ]
if [ -x /usr/bin/time ]; then TIME=(/usr/bin/time -o "$TMP/rss" -f %M); else TIME=(); fi
check "huge: /usr/bin/time (GNU time) is installed" [ -x /usr/bin/time ]

rc=0
rm -f "$TMP/rss"
"${TIME[@]}" "$MODUS" scan --enrich --format json "$f" >"$OUT" 2>"$ERR" || rc=$?
expect_status "huge file" 2
rss_ok "huge file"
expect_toolong "huge file: 100 MB line" "$f" 2 "$s2" 16777216
expect_diag "huge file: malformed line after it" "$f" 4 "$s4" "$e4" 'invalid JSON'
expect_nreports "huge file" "$f" 2
expect_summary "huge file" 3 1 1 0
expect_events "huge file" "G1 G2 G3" "$f"

# the same through a pipe (no file size to lean on)
rc=0
rm -f "$TMP/rss"
# shellcheck disable=SC2002 # a real pipe, not a seekable file
cat "$f" | "${TIME[@]}" "$MODUS" scan --enrich --format json - >"$OUT" 2>"$ERR" || rc=$?
expect_status "huge stdin" 2
rss_ok "huge stdin"
expect_toolong "huge stdin: 100 MB line" "<stdin>" 2 "$s2" 16777216
expect_diag "huge stdin: malformed line after it" "<stdin>" 4 "$s4" "$e4" 'invalid JSON'
expect_summary "huge stdin" 3 1 1 0
expect_events "huge stdin" "G1 G2 G3" "$f"
rm -f "$f"

# ---------------------------------------------------------------- --max-line
# line_of LEN ID: a JSON line of exactly LEN bytes (terminator excluded), seq=ID.
line_of() { printf '{"seq":"%s","s":"' "$2"; head -c $(($1 - 17 - ${#2})) /dev/zero | tr '\0' a; printf '"}'; }

f=$TMP/maxline.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f")
{ line_of 4097 X1; printf '\n'; } >>"$f"
good G2 >>"$f"
{ line_of 4096 G3; printf '\n'; } >>"$f"
good G4 >>"$f"
expect_eq "max-line: line lengths" "$(sed -n 2p "$f" | tr -d '\n' | wc -c) $(sed -n 4p "$f" | tr -d '\n' | wc -c)" "4097 4096"
scan "$f"
expect_status "max-line default" 0
expect_summary "max-line default" 5 0 0 0
expect_events "max-line default" "G1 X1 G2 G3 G4" "$f"
scan --max-line 4096 "$f"
expect_status "max-line 4096" 2
expect_toolong "max-line 4096: 4097-byte line" "$f" 2 "$s2" 4096
expect_nreports "max-line 4096" "$f" 1
expect_summary "max-line 4096" 4 0 1 0
expect_events "max-line 4096" "G1 G2 G3 G4" "$f"
scan --max-line 4097 "$f"
expect_status "max-line 4097" 0
expect_events "max-line 4097" "G1 X1 G2 G3 G4" "$f"

# the cap is on the line, not its terminator: CRLF and LF lines of 4096 bytes are the same
f=$TMP/maxline_crlf.ndjson
{ good G1; line_of 4096 G2; printf '\n'; good G3; } | sed 's/$/\r/' >"$f"
scan --max-line 4096 "$f"
expect_status "max-line 4096, CRLF line of 4096 bytes" 0
expect_summary "max-line 4096, CRLF line of 4096 bytes" 3 0 0 0
expect_events "max-line 4096, CRLF line of 4096 bytes" "G1 G2 G3" "$f"

# a too-long last line with no newline, then another file
f=$TMP/maxline_eof.ndjson
f2=$TMP/after_maxline_eof.ndjson
{ good G1; good G2; } >"$f"; s3=$(size "$f")
line_of 5000 BAD >>"$f"
good G3 >"$f2"
scan --max-line 4096 "$f" "$f2"
expect_status "max-line, long last line" 2
expect_toolong "max-line, long last line" "$f" 3 "$s3" 4096
expect_summary "max-line, long last line" 3 0 1 0
expect_events "max-line, long last line" "G1 G2 G3" "$f" "$f2"

for bad in 10 abc -5 ''; do
    scan --max-line "$bad" "$f2"
    expect_status "max-line '$bad'" 2
    check "max-line '$bad': usage error names --max-line" grep -q -- '--max-line' "$ERR"
    check "max-line '$bad': nothing scanned" [ ! -s "$OUT" ]
done

# ---------------------------------------------------------------- deep nesting (100,000)

f=$TMP/deep.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f")
{ printf '{"seq":"BAD","x":'; head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; printf '}\n'; } >>"$f"; e2=$(size "$f")
good G2 >>"$f"; s4=$(size "$f")
awk 'BEGIN { printf "{\"seq\":\"BAD\",\"x\":"; for (i = 0; i < 100000; i++) printf "{\"a\":"; printf "1"
             for (i = 0; i < 100000; i++) printf "}"; printf "}\n" }' >>"$f"; e4=$(size "$f")
good G3 >>"$f"; s6=$(size "$f")
{ head -c 100000 /dev/zero | tr '\0' '['; printf '\n'; } >>"$f"; e6=$(size "$f")
good G4 >>"$f"
scan "$f"
expect_status "deep" 2
expect_diag "deep: [[[ 100,000" "$f" 2 "$s2" "$e2" 'deep'
expect_diag "deep: {\"a\": 100,000" "$f" 4 "$s4" "$e4" 'deep'
expect_diag "deep: bare unclosed [[[" "$f" 6 "$s6" "$e6" 'invalid JSON'
expect_nreports "deep" "$f" 3
expect_summary "deep" 4 3 0 0
expect_events "deep" "G1 G2 G3 G4" "$f"

# ---------------------------------------------------------------- empty, missing, directory

a=$TMP/a.ndjson b=$TMP/b.ndjson
{ good G1; good G2; } >"$a"
{ good G3; good G4; } >"$b"
f=$TMP/empty.ndjson
: >"$f"
scan "$f"
expect_status "empty" 0
check "empty: nothing on stdout" [ ! -s "$OUT" ]
expect_eq "empty: only the summary on stderr" "$(wc -l <"$ERR" | tr -d ' ')" 1
expect_summary "empty" 0 0 0 0
scan "$a" "$f" "$b"
expect_status "empty between files" 0
expect_summary "empty between files" 4 0 0 0
expect_events "empty between files" "G1 G2 G3 G4" "$a" "$b"

f=$TMP/no/such.ndjson
scan "$a" "$f" "$b"
expect_status "missing" 2
expect_eq "missing: reported once, naming the file" \
    "$(grep -c -F "modus: $f: cannot open: No such file or directory" "$ERR")" 1
expect_summary "missing" 4 0 0 1
expect_events "missing" "G1 G2 G3 G4" "$a" "$b"

f=$TMP/a_directory
mkdir "$f"
scan "$a" "$f" "$b"
expect_status "directory" 2
expect_eq "directory: reported once, naming the file" "$(grep -c -F "modus: $f: " "$ERR")" 1
check "directory: says it is a directory" grep -q -F "modus: $f: read error: Is a directory" "$ERR"
expect_summary "directory" 4 0 0 1
expect_events "directory" "G1 G2 G3 G4" "$a" "$b"

scan "$TMP/no/such.ndjson" "$f" "$TMP/empty.ndjson"
expect_status "nothing readable" 2
expect_summary "nothing readable" 0 0 0 2

# ---------------------------------------------------------------- CRLF and blank lines

f=$TMP/crlf.ndjson
{ good G1; good G2; good G3; } | sed 's/$/\r/' >"$f"
scan "$f"
expect_status "crlf" 0
expect_eq "crlf: only the summary on stderr" "$(wc -l <"$ERR" | tr -d ' ')" 1
expect_summary "crlf" 3 0 0 0
expect_events "crlf" "G1 G2 G3" "$f"
check "crlf: no CR in the output" no_cr "$OUT"

f=$TMP/crlf_bad.ndjson
{ good G1; printf '{"seq":"BAD","a":01}\n'; good G2; } | sed 's/$/\r/' >"$f"
s2=$(($(good G1 | wc -c) + 1))
scan "$f"
expect_status "crlf with a bad line" 2
expect_diag "crlf with a bad line: offsets count the CRs" "$f" 2 "$s2" "$((s2 + 22))" 'number' 18
expect_summary "crlf with a bad line" 2 1 0 0
expect_events "crlf with a bad line" "G1 G2" "$f"

f=$TMP/blank.ndjson
{ good G1; printf '\n\n   \n\t\n\r\n'; good G2; printf ' \t \r\n\n'; good G3; printf '\n\n'; } >"$f"
scan "$f"
expect_status "blank lines" 0
expect_eq "blank lines: skipped silently" "$(wc -l <"$ERR" | tr -d ' ')" 1
expect_summary "blank lines" 3 0 0 0
expect_events "blank lines" "G1 G2 G3" "$f"

f=$TMP/blank_then_bad.ndjson
{ good G1; printf '\n  \n\r\n'; } >"$f"; s5=$(size "$f")
printf '{"seq":"BAD"\n' >>"$f"; e5=$(size "$f")
good G2 >>"$f"
scan "$f"
expect_status "blank lines then a bad one" 2
expect_diag "blank lines then a bad one: blank lines are numbered" "$f" 5 "$s5" "$e5" 'invalid JSON'
expect_summary "blank lines then a bad one" 2 1 0 0
expect_events "blank lines then a bad one" "G1 G2" "$f"

# ---------------------------------------------------------------- stdin

f=$TMP/stdin.ndjson
: >"$f"
good G1 >>"$f"; s2=$(size "$f"); printf '{"seq":"BAD" "x":1}\n' >>"$f"; e2=$(size "$f")
good G2 >>"$f"; s4=$(size "$f")
good BAD | head -c 100 >>"$f"; e4=$(size "$f")
rc=0
# shellcheck disable=SC2002 # a real pipe, not a seekable file
cat "$f" | "$MODUS" scan --enrich --format json - >"$OUT" 2>"$ERR" || rc=$?
expect_status "stdin" 2
expect_diag "stdin: malformed line" "<stdin>" 2 "$s2" "$e2" 'invalid JSON' 14
expect_diag "stdin: truncated last line" "<stdin>" 4 "$s4" "$e4" 'invalid JSON'
expect_nreports "stdin" "<stdin>" 2
expect_summary "stdin" 2 2 0 0
expect_events "stdin" "G1 G2" "$f"

rc=0
# shellcheck disable=SC2002 # a real pipe, not a seekable file
cat "$b" | "$MODUS" scan --enrich --format json "$a" - "$TMP/no/such.ndjson" >"$OUT" 2>"$ERR" || rc=$?
expect_status "stdin between files" 2
expect_summary "stdin between files" 4 0 0 1
expect_events "stdin between files" "G1 G2 G3 G4" "$a" "$b"

rc=0
"$MODUS" scan --enrich --format json - </dev/null >"$OUT" 2>"$ERR" || rc=$?
expect_status "empty stdin" 0
expect_summary "empty stdin" 0 0 0 0

# ---------------------------------------------------------------- many errors in one file
# reported up to 20 per file, all counted, then one line for the rest

f=$TMP/many.ndjson
{ good G1; for i in $(seq 25); do printf '{"seq":"BAD%d",}\n' "$i"; done; good G2; } >"$f"
scan "$f"
expect_status "25 bad lines" 2
expect_nreports "25 bad lines" "$f" 20
check "25 bad lines: the first 20 are reported (lines 2..21)" \
    grep -q -F "modus: $f:21:" "$ERR"
check "25 bad lines: '5 more errors not shown'" grep -q -F "modus: $f: 5 more errors not shown" "$ERR"
expect_summary "25 bad lines" 2 25 0 0
expect_events "25 bad lines" "G1 G2" "$f"
scan -q "$f"
expect_status "25 bad lines, -q" 2
expect_nreports "25 bad lines, -q" "$f" 0
expect_summary "25 bad lines, -q" 2 25 0 0

# ---------------------------------------------------------------- real events around a bad line

real=${SHARED}/corpora/elastic/elastic_real_world_events.ndjson
check "real: $real exists" [ -s "$real" ]
if [ -s "$real" ]; then
    n=$(wc -l <"$real" | tr -d ' ')
    h=$((n / 2))
    f=$TMP/real.ndjson
    head -n "$h" "$real" >"$f"; s=$(size "$f")
    { printf '\0\1'; garbage 500 99; printf '\n'; } >>"$f"; e=$(size "$f")
    tail -n +"$((h + 1))" "$real" >>"$f"
    "$MODUS" scan --enrich --format json "$real" >"$TMP/real.ref" 2>/dev/null
    scan "$f"
    expect_status "real" 2
    expect_diag "real: garbage line" "$f" "$((h + 1))" "$s" "$e" 'invalid JSON'
    expect_summary "real" "$n" 1 0 0
    check "real: every real event still enriched, identical to a clean scan" cmp -s "$OUT" "$TMP/real.ref"
    check "real: $n events out" [ "$(wc -l <"$OUT" | tr -d ' ')" -eq "$n" ]
fi

# ---------------------------------------------------------------- modus stack

stack() {
    rc=0
    "$MODUS" stack "$@" >"$OUT" 2>"$ERR" || rc=$?
}

stack 'C:\a.dll+zz|C:\b.dll+10'
expect_status "stack, bad frame 0" 2
check "stack, bad frame 0: message names frame 0 [$(head -c 150 "$ERR")]" \
    grep -q -E '^modus: stack: .*frame 0: frame is neither PATH\+HEX nor UNKNOWN\(HEX\)' "$ERR"
check "stack, bad frame 0: message gives its byte offset, (byte 0)" \
    grep -q -E '^modus: stack: \(byte 0\) frame 0: ' "$ERR"
check "stack, bad frame 0: both frames still explained" \
    grep -q -F 'C:\b.dll+0x10' "$OUT"
stack --json 'C:\a.dll+zz|C:\b.dll+10'
expect_status "stack --json, bad frame 0" 2
check "stack --json, bad frame 0: malformed_frame anomaly, 2 frames kept" \
    jq_ok -e '(.modality.anomalies | index("malformed_frame")) != null and (.process.thread.Ext.call_stack | length) == 2' "$OUT"

stack 'C:\a.dll+10|C:\b.dll+zz'
expect_status "stack, bad frame 1" 2
check "stack, bad frame 1: '(byte 12) frame 1' [$(head -c 150 "$ERR")]" \
    grep -q -E '^modus: stack: \(byte 12\) frame 1: frame is neither PATH\+HEX nor UNKNOWN\(HEX\)' "$ERR"

stack 'C:\a.dll+10||C:\b.dll+10'
expect_status "stack, empty frame" 2
check "stack, empty frame: '(byte 12) frame 1: empty frame'" \
    grep -q -E '^modus: stack: \(byte 12\) frame 1: empty frame' "$ERR"

stack ''
expect_status "stack ''" 2
check "stack '': says there are no frames" grep -q -F 'modus: stack: no frames in the input' "$ERR"
check "stack '': nothing on stdout" [ ! -s "$OUT" ]

rc=0
printf '' | "$MODUS" stack - >"$OUT" 2>"$ERR" || rc=$?
expect_status "stack - (empty stdin)" 2
check "stack - (empty stdin): says there are no frames" grep -q 'no frames' "$ERR"

# rule files at the 4 MiB limit: one byte over is refused, a rule padded to
# exactly the limit loads (the reader sizes its buffer from the file)
mkdir -p "$TMP/big" "$TMP/edge"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$TMP/big/over.toml"
"$MODUS" scan -q -j 1 --rules "$TMP/big" /dev/null >"$OUT" 2>"$ERR" || true
check "rule file over 4 MiB: refused" grep -q 'over.toml: rule file larger than 4 MiB' "$ERR"
cat >"$TMP/edge/edge.toml" <<'EOF2'
[rule]
name = "edge"
id = "5f0c1b2a-9d8e-4c7b-a6f5-e4d3c2b1a098"
description = "A rule in a file of exactly 4 MiB."
version = "1"
query = '''
process where process.name == "edge.exe"
'''
EOF2
pad=$((4 * 1024 * 1024 - $(wc -c <"$TMP/edge/edge.toml") - 1))
{ head -c "$pad" /dev/zero | tr '\0' '#'; echo; } >>"$TMP/edge/edge.toml"
expect_eq "rule file of exactly 4 MiB: its size" "$(wc -c <"$TMP/edge/edge.toml")" $((4 * 1024 * 1024))
echo '{"event":{"category":"process","type":"start"},"process":{"name":"edge.exe"}}' |
    "$MODUS" scan -j 1 --rules "$TMP/edge" - >"$OUT" 2>"$ERR" || true
check "rule file of exactly 4 MiB: loaded and fires" grep -q '"edge"' "$OUT"

# a directory of 40 rule files (read and parsed on several threads): the
# rules in file-name order, the errors in file-name order, each counted
mkdir -p "$TMP/many"
for i in $(seq -w 1 40); do
    case $i in
    07) echo 'broken = = =' >"$TMP/many/r$i.toml" ;;
    23) printf '[rule]\nname = "r%s"\nquery = "process where"\n' "$i" >"$TMP/many/r$i.toml" ;;
    *) printf '[rule]\nname = "rule %s"\nid = "00000000-0000-4000-8000-0000000000%s"\ndescription = "d"\nversion = "1"\nquery = \x27\x27\x27\nprocess where process.name == "p%s.exe"\n\x27\x27\x27\n' "$i" "$i" "$i" >"$TMP/many/r$i.toml" ;;
    esac
done
"$MODUS" rules check "$TMP/many" >"$OUT" 2>&1 || true
expect_eq "40 rule files: the errors, in file order" \
    "$(grep -o 'many/r[0-9]*\.toml:[0-9]*:[0-9]*' "$OUT" | sed 's/.*many.//' | tr '\n' ' ')" "r07.toml:1:10 r23.toml:1:1 "
check "40 rule files: 38 compiled, 2 failed" grep -q '38 rules compiled, 2 failed' "$OUT"
"$MODUS" rules list "$TMP/many" >"$OUT" 2>/dev/null || true
expect_eq "40 rule files: listed in file order" "$(grep -o 'rule [0-9]*' "$OUT" | tr '\n' ' ')" \
    "$(for i in $(seq -w 1 40); do [ "$i" = 07 ] || [ "$i" = 23 ] || printf 'rule %s ' "$i"; done)"

finish
