#!/usr/bin/env bash
# test_query.sh - EQL features the conformance kit does not reach, on ECS
# events written here: ISO timestamps and maxspan, `with runs`, `until`,
# lineage by entity id with pid reuse, stage aliases, _arraysearch over
# call-stack frames, modality.* and derived fields in queries, pipes.
source "$(dirname "$0")/lib.sh"
E=$TMP/ev.ndjson
ev() { # ID CATEGORY TIME ENTITY PARENT NAME [EXTRA-JSON]
    printf '{"id":%s,"@timestamp":"2026-01-01T00:00:%sZ","event":{"category":["%s"],"type":["%s"]},"process":{"entity_id":"%s","pid":100,"parent":{"entity_id":"%s"},"name":"%s"%s}}\n' \
        "$1" "$3" "$2" "$([ "$2" = process ] && echo start || echo info)" "$4" "$5" "$6" "${7:-}"
}
{
    ev 1 process 00.000 A root cmd.exe
    ev 2 file 01.000 A root cmd.exe
    ev 3 file 02.000 A root cmd.exe
    ev 4 file 03.000 A root cmd.exe
    ev 5 process 04.000 B A powershell.exe
    ev 6 process 05.000 C B rundll32.exe
    ev 7 file 30.000 A root cmd.exe
    ev 8 process 31.000 A root notepad.exe      # entity A reused: a new process
    ev 9 process 32.000 D A whoami.exe
    ev 10 api 33.000 B A powershell.exe ',"thread":{"Ext":{"call_stack":[{"symbol_info":"c:\\\\windows\\\\system32\\\\ntdll.dll!NtProtectVirtualMemory+0x14"},{"symbol_info":"c:\\\\windows\\\\system32\\\\kernelbase.dll!VirtualProtect+0x3b"},{"symbol_info":"Unbacked+0x10","protection":"RWX","protection_provenance":"clr.dll"}]}}'
} >"$E"
q() { "$MODUS" query --ids-field id "$1" "$E" 2>"$TMP/err" | tr '\n' ' '; }

expect_eq "runs=3" "$(q 'sequence by process.entity_id [process where true] [file where true] with runs=3')" "1 2 3 4 "
expect_eq "maxspan keeps a close pair" "$(q 'sequence by process.entity_id with maxspan=2s [process where process.name == "cmd.exe"] [file where true]')" "1 2 "
expect_eq "maxspan drops a far pair" "$(q 'sequence by process.entity_id with maxspan=500ms [process where process.name == "cmd.exe"] [file where true]')" ""
expect_eq "until ends a partial match" "$(q 'sequence by process.entity_id [process where true] [file where id == 7] until [file where id == 3]')" ""
expect_eq "descendant of, by entity id (9 descends from the new A, not cmd.exe)" "$(q 'process where descendant of [process where process.name == "cmd.exe"]')" "5 6 "
# wildcard shapes with their own matchers: '?' then a literal, '?' literal '*', only wildcards
expect_eq "glob: ? then a literal" "$(q 'process where process.name : "?MD.exe"')" "1 "
expect_eq "glob: ? then a literal, like keeps case" "$(q 'process where process.name like "?MD.exe"')" ""
expect_eq "glob: ? literal *" "$(q 'process where process.name : "?otepad*"')" "8 "
expect_eq "glob: ? literal *, like keeps case" "$(q 'process where process.name like "?OTEPAD*"')" ""
expect_eq "glob: seven ?" "$(q 'process where process.name : "???????"')" "1 "
expect_eq "glob: ?*" "$(q 'process where process.name : "?*"')" "1 5 6 8 9 "
expect_eq "glob: twelve ? and *" "$(q 'process where process.name : "????????????*"')" "5 6 "
expect_eq "child of" "$(q 'process where child of [process where process.name == "powershell.exe"]')" "6 "
expect_eq "a reused entity id is a new process" "$(q 'process where descendant of [process where process.name == "notepad.exe"]')" "9 "
expect_eq "stage alias" "$(q 'sequence [process where process.name == "cmd.exe"] as first [process where process.parent.entity_id == first.process.entity_id]')" "1 5 "
# the alias reads the partial's event of the moment: 5, 6 and 8 try 1 (cmd.exe), then 8
# replaces it and 9 reads 8 (notepad.exe), not the document of 1 parsed before
expect_eq "stage alias after the partial is replaced" "$(q 'sequence [process where process.name : ("cmd.exe", "notepad.exe")] as first [process where first.process.name == "notepad.exe"]')" "8 9 "
expect_eq "_arraysearch over frames" "$(q 'api where _arraysearch(process.thread.Ext.call_stack, $f, $f.protection_provenance == "clr.dll" and $f.symbol_info : "Unbacked*")')" "10 "
expect_eq "modality.* in a query" "$(q 'api where modality.name == "powershell" and modality.layers == "dotnet" and modality.syscall == "stub"')" "10 "
expect_eq "derived call_stack_summary in a query" "$(q 'api where process.thread.Ext.call_stack_summary == "ntdll.dll|kernelbase.dll|Unbacked"')" "10 "
expect_eq "sort and head" "$(q 'process where true | sort process.name | head 2')" "1 8 "
expect_eq "tail" "$(q 'any where true | tail 2')" "9 10 "
expect_eq "unique" "$(q 'process where true | unique process.entity_id')" "1 5 6 9 "
"$MODUS" query 'process where startsWith(process.name)' "$E" >/dev/null 2>"$TMP/err"
expect_eq "compile error: exit 3" "$?" 3
check "compile error: query:LINE:COL" grep -q "^modus: query:1:15: startswith takes 2 arguments" "$TMP/err"
"$MODUS" query 'process where nosuch(process.name)' "$E" >/dev/null 2>"$TMP/err"
check "unknown function is an error" grep -q "unknown function 'nosuch'" "$TMP/err"
expect_eq "unknown fields are fine" "$(q 'process where not.a.field == null and id == 1')" "1 "
expect_eq "--format json prints whole events" "$("$MODUS" query --format json 'api where true' "$E" | jq -r .id)" 10
finish
