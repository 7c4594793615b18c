/* test_sigma.c - Sigma rules compiled to EQL, table-driven: every value
 * modifier SigmaHQ uses and the condition grammar, each case checked against
 * what the Sigma specification says (sigma-rules-specification.md v2.0.0,
 * sigma-appendix-modifiers.md v2.1.0; the section is named in each case).
 * A case is a detection section, an event (winlog.event_data under a Windows
 * logsource, where unmapped Sigma fields are read) and whether the rule must
 * match it. The rule goes through the real path: a .yml file loaded into a
 * rule set, its EQL compiled, run over the decoded event. Then errors with
 * their file positions, the field mapping, correlations and metadata. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "modus/modus.h"

static char last_err[512];

static void on_err(void *ctx, const modus_diag *d, const char *text, size_t len)
{
    (void)ctx, (void)text, (void)len;
    snprintf(last_err, sizeof last_err, "%llu:%llu: %s", (unsigned long long)d->line,
             (unsigned long long)d->column, d->message);
}

/* a rule set from YAML text (through a .yml file, as users load them) */
static modus_ruleset *load(const char *yaml, size_t *loaded, size_t *failed)
{
    char path[] = "/tmp/modus_sigma_XXXXXX.yml";
    int fd = mkstemps(path, 4);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(yaml, f);
    fclose(f);
    modus_ruleset *rs;
    modus_ruleset_create(&rs);
    *loaded = *failed = 0;
    last_err[0] = 0;
    modus_ruleset_add_path(rs, path, on_err, NULL, loaded, failed);
    unlink(path);
    return rs;
}

static void count(void *ctx, const char *const *ev, const size_t *len, uint32_t n)
{
    (void)ev, (void)len, (void)n;
    (*(int *)ctx)++;
}

/* run rule `i` of rs over NDJSON events; the number of matches */
static int run(modus_ruleset *rs, size_t i, const char *ndjson)
{
    modus_rule_info ri;
    modus_ruleset_rule(rs, i, &ri);
    modus_query *q;
    modus_diag d;
    if (modus_query_compile(ri.query, strlen(ri.query), &q, &d) != MODUS_OK) return -1;
    const modus_query *qs[1] = {q};
    modus_engine_opts eo = {.queries = qs, .nqueries = 1};
    modus_engine *e;
    modus_scanner *sc;
    modus_query_run *r;
    int hits = 0;
    modus_engine_create(&eo, &e, &d);
    modus_scanner_create(e, &sc);
    modus_query_run_create(q, count, &hits, &r);
    for (const char *p = ndjson; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *buf = malloc(n + MODUS_PADDING);
        memcpy(buf, p, n);
        memset(buf + n, ' ', MODUS_PADDING);
        const modus_event *ev;
        if (n && modus_scanner_decode(sc, buf, n, &ev, &d) == MODUS_OK)
            modus_query_run_event(r, ev);
        free(buf);
        p += n + (nl != NULL);
    }
    modus_query_run_finish(r);
    modus_query_run_destroy(r);
    modus_scanner_destroy(sc);
    modus_engine_destroy(e);
    modus_query_destroy(q);
    return hits;
}

/* ---- the table: detection, event data, must it match -------------------------------- */

typedef struct tcase {
    const char *name; /* the specification's section and what it says */
    const char *det;  /* the detection section's lines (indented 4) */
    const char *data; /* winlog.event_data members; EventID (Sigma) is event.code (ECS) */
    int want;         /* 1 match, 0 no match */
} tcase;

static const tcase cases[] = {
    /* Detection > Lists: strings are linked with OR (keywords) */
    {"lists: keywords are OR (1st)",
     "    keywords:\n        - 'EVILSERVICE'\n        - 'svchost.exe -n evil'\n"
     "    condition: keywords",
     "\"Message\": \"service EVILSERVICE started\"", 1},
    {"lists: keywords are OR (2nd), found anywhere in a value, any case",
     "    keywords:\n        - 'EVILSERVICE'\n        - 'svchost.exe -n evil'\n"
     "    condition: keywords",
     "\"param1\": \"x\", \"param2\": \"C:\\\\SVCHOST.exe -n Evil -k\"", 1},
    {"lists: keywords, neither",
     "    keywords:\n        - 'EVILSERVICE'\n        - 'svchost.exe -n evil'\n"
     "    condition: keywords",
     "\"Message\": \"svchost.exe -k netsvcs\"", 0},
    /* Keywords search: '|all' makes the list an AND */
    {"keywords |all: both present",
     "    keywords_cmdlet:\n        '|all':\n            - 'OabVirtualDirectory'\n"
     "            - ' -ExternalUrl '\n    condition: keywords_cmdlet",
     "\"Data\": \"Set-OabVirtualDirectory -ExternalUrl http://x\"", 1},
    {"keywords |all: in different values of the event",
     "    keywords_cmdlet:\n        '|all':\n            - 'OabVirtualDirectory'\n"
     "            - ' -ExternalUrl '\n    condition: keywords_cmdlet",
     "\"p1\": \"Set-OabVirtualDirectory\", \"p2\": \"x -ExternalUrl y\"", 1},
    {"keywords |all: one missing",
     "    keywords_cmdlet:\n        '|all':\n            - 'OabVirtualDirectory'\n"
     "            - ' -ExternalUrl '\n    condition: keywords_cmdlet",
     "\"Data\": \"Set-OabVirtualDirectory -InternalUrl http://x\"", 0},
    /* Lists: a list of maps is OR */
    {"list of maps: 1st map",
     "    selection:\n        - Image|endswith: '\\example.exe'\n"
     "        - Description|contains: 'Test executable'\n    condition: selection",
     "\"Image\": \"C:\\\\tmp\\\\example.exe\"", 1},
    {"list of maps: 2nd map",
     "    selection:\n        - Image|endswith: '\\example.exe'\n"
     "        - Description|contains: 'Test executable'\n    condition: selection",
     "\"Image\": \"C:\\\\x.exe\", \"Description\": \"a test EXECUTABLE\"", 1},
    {"list of maps: neither",
     "    selection:\n        - Image|endswith: '\\example.exe'\n"
     "        - Description|contains: 'Test executable'\n    condition: selection",
     "\"Image\": \"C:\\\\example.exe.bak\"", 0},
    /* Maps: items are AND; a value list is OR; numbers match their text */
    {"maps: AND, value list OR (1102)",
     "    selection:\n        EventLog: Security\n        EventID:\n            - 517\n"
     "            - 1102\n    condition: selection",
     "\"EventLog\": \"Security\", \"EventID\": \"1102\"", 1},
    {"maps: AND, a number as a JSON number too",
     "    selection:\n        EventLog: Security\n        EventID:\n            - 517\n"
     "            - 1102\n    condition: selection",
     "\"EventLog\": \"security\", \"EventID\": 517", 1},
    {"maps: AND, one item fails",
     "    selection:\n        EventLog: Security\n        EventID:\n            - 517\n"
     "            - 1102\n    condition: selection",
     "\"EventLog\": \"System\", \"EventID\": \"1102\"", 0},
    {"maps: quoted hex values are strings",
     "    selection:\n        EventID: 4769\n        TicketOptions: '0x40810000'\n"
     "        TicketEncryption: '0x17'\n    condition: selection",
     "\"EventID\": \"4769\", \"TicketOptions\": \"0x40810000\", \"TicketEncryption\": \"0x17\"", 1},
    /* General: values are case-insensitive */
    {"general: case-insensitive",
     "    selection:\n        Image: 'C:\\Windows\\System32\\whoami.exe'\n"
     "    condition: selection",
     "\"Image\": \"c:\\\\windows\\\\system32\\\\WHOAMI.EXE\"", 1},
    {"general: whole value without wildcards",
     "    selection:\n        Image: 'whoami.exe'\n    condition: selection",
     "\"Image\": \"c:\\\\windows\\\\system32\\\\whoami.exe\"", 0},
    {"numbers: a JSON number in the event",
     "    selection:\n        Count: 5\n    condition: selection", "\"Count\": 5", 1},
    {"numbers: the number's text", "    selection:\n        Count: 5\n    condition: selection",
     "\"Count\": \"5\"", 1},
    {"numbers: another number", "    selection:\n        Count: 5\n    condition: selection",
     "\"Count\": 50", 0},
    {"booleans: a JSON boolean or its text",
     "    selection:\n        Signed: false\n    condition: selection", "\"Signed\": \"false\"", 1},
    /* String wildcard: ? one character, * any run */
    {"wildcard ?", "    selection:\n        Image: 'prog?.exe'\n    condition: selection",
     "\"Image\": \"progA.exe\"", 1},
    {"wildcard ? is one character",
     "    selection:\n        Image: 'prog?.exe'\n    condition: selection",
     "\"Image\": \"progAB.exe\"", 0},
    {"wildcard *", "    selection:\n        Image: 'antivirus_V*.exe'\n    condition: selection",
     "\"Image\": \"antivirus_V21.2.1.exe\"", 1},
    /* Escaping */
    {"escaping: a plain backslash",
     "    selection:\n        Path: 'C:\\Temp\\x'\n    condition: selection",
     "\"Path\": \"C:\\\\Temp\\\\x\"", 1},
    {"escaping: a double backslash is one",
     "    selection:\n        Path: 'C:\\\\Temp'\n    condition: selection",
     "\"Path\": \"C:\\\\Temp\"", 1},
    {"escaping: \\* is a plain asterisk",
     "    selection:\n        Path: 'a\\*b'\n    condition: selection", "\"Path\": \"a*b\"", 1},
    {"escaping: \\* is not a wildcard",
     "    selection:\n        Path: 'a\\*b'\n    condition: selection", "\"Path\": \"axxb\"", 0},
    {"escaping: \\? is a plain question mark",
     "    selection:\n        Path: 'a\\?'\n    condition: selection", "\"Path\": \"A?\"", 1},
    {"escaping: \\\\* is a backslash then a wildcard",
     "    selection:\n        Path: 'C:\\\\*'\n    condition: selection",
     "\"Path\": \"C:\\\\anything\"", 1},
    {"escaping: \\\\\\* is a backslash then a plain asterisk",
     "    selection:\n        Path: 'C:\\\\\\*'\n    condition: selection", "\"Path\": \"C:\\\\*\"",
     1},
    {"escaping: \\\\\\* is not a wildcard",
     "    selection:\n        Path: 'C:\\\\\\*'\n    condition: selection", "\"Path\": \"C:\\\\x\"",
     0},
    {"escaping: four backslashes are two",
     "    selection:\n        Path: '\\\\\\\\srv'\n    condition: selection",
     "\"Path\": \"\\\\\\\\srv\"", 1},
    /* Special field values: '' empty, null absent */
    {"empty value", "    selection:\n        Comment: ''\n    condition: selection",
     "\"Comment\": \"\"", 1},
    {"empty value is not any value",
     "    selection:\n        Comment: ''\n    condition: selection", "\"Comment\": \"x\"", 0},
    {"null: the filter example, field absent",
     "    selection:\n        EventID: 4738\n    filter:\n        PasswordLastSet: null\n"
     "    condition: selection and not filter",
     "\"EventID\": \"4738\", \"PasswordLastSet\": \"2024-01-01\"", 1},
    {"null: the filter example, field null",
     "    selection:\n        EventID: 4738\n    filter:\n        PasswordLastSet: null\n"
     "    condition: selection and not filter",
     "\"EventID\": \"4738\"", 0},
    /* Field existence */
    {"exists: true",
     "    selection:\n        EventID: 4738\n        PasswordLastSet|exists: true\n"
     "    condition: selection",
     "\"EventID\": \"4738\", \"PasswordLastSet\": \"-\"", 1},
    {"exists: true, absent",
     "    selection:\n        EventID: 4738\n        PasswordLastSet|exists: true\n"
     "    condition: selection",
     "\"EventID\": \"4738\"", 0},
    {"exists: false",
     "    selection:\n        PasswordLastSet|exists: false\n    condition: selection",
     "\"EventID\": \"4738\"", 1},
    /* Modifiers: contains, startswith, endswith, all */
    {"contains",
     "    selection:\n        CommandLine|contains: 'mimikatz'\n    condition: selection",
     "\"CommandLine\": \"x.exe MimiKatz.exe y\"", 1},
    {"startswith",
     "    selection:\n        CommandLine|startswith: 'adm'\n    condition: selection",
     "\"CommandLine\": \"ADMIN x\"", 1},
    {"startswith, not inside",
     "    selection:\n        CommandLine|startswith: 'adm'\n    condition: selection",
     "\"CommandLine\": \"x admin\"", 0},
    {"endswith", "    selection:\n        Image|endswith: '\\cmd.exe'\n    condition: selection",
     "\"Image\": \"C:\\\\Windows\\\\System32\\\\cmd.exe\"", 1},
    {"endswith, a different name",
     "    selection:\n        Image|endswith: '\\cmd.exe'\n    condition: selection",
     "\"Image\": \"C:\\\\Windows\\\\System32\\\\xcmd.exe\"", 0},
    {"contains|all: every value",
     "    selection:\n        CommandLine|contains|all:\n            - ' -enc '\n            - "
     "'bypass'\n"
     "    condition: selection",
     "\"CommandLine\": \"powershell -ep Bypass -enc AAA\"", 1},
    {"contains|all: one missing",
     "    selection:\n        CommandLine|contains|all:\n            - ' -enc '\n            - "
     "'bypass'\n"
     "    condition: selection",
     "\"CommandLine\": \"powershell -enc AAA\"", 0},
    {"contains: a list is OR",
     "    selection:\n        CommandLine|contains:\n            - ' -enc '\n            - "
     "'bypass'\n"
     "    condition: selection",
     "\"CommandLine\": \"powershell -enc AAA\"", 1},
    /* cased */
    {"cased", "    selection:\n        CommandLine|cased: 'Mimikatz'\n    condition: selection",
     "\"CommandLine\": \"Mimikatz\"", 1},
    {"cased: another case",
     "    selection:\n        CommandLine|cased: 'Mimikatz'\n    condition: selection",
     "\"CommandLine\": \"mimikatz\"", 0},
    {"contains|cased",
     "    selection:\n        CommandLine|contains|cased: 'Dump'\n    condition: selection",
     "\"CommandLine\": \"x dump\"", 0},
    /* windash: - / en dash, em dash, horizontal bar */
    {"windash: -",
     "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: "
     "selection",
     "\"CommandLine\": \"ps -exec bypass\"", 1},
    {"windash: /",
     "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: "
     "selection",
     "\"CommandLine\": \"ps /exec bypass\"", 1},
    {"windash: en dash",
     "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: "
     "selection",
     "\"CommandLine\": \"ps \\u2013exec bypass\"", 1},
    {"windash: em dash",
     "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: "
     "selection",
     "\"CommandLine\": \"ps \\u2014exec bypass\"", 1},
    {"windash: horizontal bar",
     "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: "
     "selection",
     "\"CommandLine\": \"ps \\u2015exec bypass\"", 1},
    {"windash: another character",
     "    selection:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: "
     "selection",
     "\"CommandLine\": \"ps +exec bypass\"", 0},
    {"windash: every dash of the value",
     "    selection:\n        CommandLine|windash|contains: ' -s -d '\n    condition: selection",
     "\"CommandLine\": \"x /s \\u2014d y\"", 1},
    /* re: case-sensitive unless i; found anywhere; m and s */
    {"re: case-sensitive",
     "    selection:\n        CommandLine|re: 'Invoke-[A-Z]'\n    condition: selection",
     "\"CommandLine\": \"x invoke-Mimikatz\"", 0},
    {"re: found anywhere",
     "    selection:\n        CommandLine|re: 'Invoke-[A-Z]'\n    condition: selection",
     "\"CommandLine\": \"x Invoke-Mimikatz y\"", 1},
    {"re|i", "    selection:\n        CommandLine|re|i: 'invoke-[a-z]+ '\n    condition: selection",
     "\"CommandLine\": \"x INVOKE-MIMIKATZ y\"", 1},
    {"re: anchors hold", "    selection:\n        CommandLine|re: '^cmd'\n    condition: selection",
     "\"CommandLine\": \"x cmd\"", 0},
    {"re: . does not match a newline",
     "    selection:\n        CommandLine|re: 'a.b'\n    condition: selection",
     "\"CommandLine\": \"a\\nb\"", 0},
    {"re|s: . matches a newline",
     "    selection:\n        CommandLine|re|s: 'a.b'\n    condition: selection",
     "\"CommandLine\": \"a\\nb\"", 1},
    {"re|m: ^ at a line start",
     "    selection:\n        CommandLine|re|m: '^b'\n    condition: selection",
     "\"CommandLine\": \"a\\nb\"", 1},
    {"re without m: ^ only at the start",
     "    selection:\n        CommandLine|re: '^b'\n    condition: selection",
     "\"CommandLine\": \"a\\nb\"", 0},
    /* base64, base64offset, utf16le/utf16be/utf16/wide */
    {"base64",
     "    selection:\n        CommandLine|base64: 'cmd.exe /c whoami'\n    condition: selection",
     "\"CommandLine\": \"Y21kLmV4ZSAvYyB3aG9hbWk=\"", 1},
    {"base64|contains",
     "    selection:\n        CommandLine|base64|contains: 'cmd.exe /c whoami'\n    condition: "
     "selection",
     "\"CommandLine\": \"-e Y21kLmV4ZSAvYyB3aG9hbWk= x\"", 1},
    {"base64offset: offset 0",
     "    selection:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: "
     "selection",
     "\"CommandLine\": \"-enc SW52b2tlLU1pbWlrYXR6IC1EdW1w\"", 1},
    {"base64offset: offset 1",
     "    selection:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: "
     "selection",
     "\"CommandLine\": \"-enc YUludm9rZS1NaW1pa2F0eiAtRHVtcA==\"", 1},
    {"base64offset: offset 2",
     "    selection:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: "
     "selection",
     "\"CommandLine\": \"-enc YWJJbnZva2UtTWltaWthdHogLUR1bXA=\"", 1},
    {"base64offset: another text",
     "    selection:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: "
     "selection",
     "\"CommandLine\": \"-enc SW52b2tlLUV4cHJlc3Npb24=\"", 0},
    {"utf16le|base64offset",
     "    selection:\n        CommandLine|utf16le|base64offset|contains: 'Invoke-Mimikatz'\n"
     "    condition: selection",
     "\"CommandLine\": \"-enc IAAgAEkAbgB2AG8AawBlAC0ATQBpAG0AaQBrAGEAdAB6AA==\"", 1},
    {"wide|base64offset (wide = utf16le)",
     "    selection:\n        CommandLine|wide|base64offset|contains: 'Invoke-Mimikatz'\n    "
     "condition: selection",
     "\"CommandLine\": \"-enc SQBuAHYAbwBrAGUALQBNAGkAbQBpAGsAYQB0AHoA\"", 1},
    {"utf16be|base64",
     "    selection:\n        CommandLine|utf16be|base64: 'Invoke'\n    condition: selection",
     "\"CommandLine\": \"AEkAbgB2AG8AawBl\"", 1},
    {"utf16 (a byte order mark, then little-endian)|base64",
     "    selection:\n        CommandLine|utf16|base64: 'cmd'\n    condition: selection",
     "\"CommandLine\": \"//5jAG0AZAA=\"", 1},
    /* cidr: IPv4 and IPv6 */
    {"cidr: IPv4 inside",
     "    selection:\n        DestinationIp|cidr: 10.0.0.0/8\n    condition: selection",
     "\"DestinationIp\": \"10.1.2.3\"", 1},
    {"cidr: IPv4 outside",
     "    selection:\n        DestinationIp|cidr: 10.0.0.0/8\n    condition: selection",
     "\"DestinationIp\": \"11.1.2.3\"", 0},
    {"cidr: IPv6",
     "    selection:\n        DestinationIp|cidr: 'fe80::/10'\n    condition: selection",
     "\"DestinationIp\": \"fe80::1\"", 1},
    /* numeric comparisons */
    {"gt", "    selection:\n        Count|gt: 10\n    condition: selection", "\"Count\": \"11\"",
     1},
    {"gt: equal is not greater", "    selection:\n        Count|gt: 10\n    condition: selection",
     "\"Count\": \"10\"", 0},
    {"gte", "    selection:\n        Count|gte: 10\n    condition: selection", "\"Count\": 10", 1},
    {"lt", "    selection:\n        Count|lt: 10\n    condition: selection", "\"Count\": \"9\"", 1},
    {"lte", "    selection:\n        Count|lte: 10\n    condition: selection", "\"Count\": \"11\"",
     0},
    /* neq */
    {"neq: different", "    selection:\n        User|neq: 'admin'\n    condition: selection",
     "\"User\": \"bob\"", 1},
    {"neq: equal", "    selection:\n        User|neq: 'admin'\n    condition: selection",
     "\"User\": \"Admin\"", 0},
    /* fieldref: compares two fields of the event */
    {"fieldref: equal",
     "    selection:\n        TargetFilename|fieldref: Image\n    condition: selection",
     "\"TargetFilename\": \"C:\\\\x.exe\", \"Image\": \"c:\\\\X.exe\"", 1},
    {"fieldref: different",
     "    selection:\n        TargetFilename|fieldref: Image\n    condition: selection",
     "\"TargetFilename\": \"C:\\\\y.exe\", \"Image\": \"C:\\\\x.exe\"", 0},
    {"fieldref in a filter, the other field absent",
     "    selection:\n        Image|endswith: 'x.exe'\n    filter:\n        User|fieldref: "
     "ParentUser\n"
     "    condition: selection and not filter",
     "\"Image\": \"C:\\\\x.exe\", \"User\": \"a\"", 1},
    /* Condition: and, or, not, brackets, precedence, 1/all of */
    {"condition: or", "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition: a or b",
     "\"Y\": \"1\"", 1},
    {"condition: and", "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition: a and b",
     "\"Y\": \"1\"", 0},
    {"condition: not on an absent field",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition: a and not b", "\"X\": \"1\"",
     1},
    {"condition: not excludes",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition: a and not b",
     "\"X\": \"1\", \"Y\": \"1\"", 0},
    {"condition: and binds tighter than or",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    c:\n        Z: '1'\n    condition: a or "
     "b and c",
     "\"X\": \"1\"", 1},
    {"condition: brackets",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    c:\n        Z: '1'\n    condition: (a or "
     "b) and c",
     "\"X\": \"1\"", 0},
    {"condition: not binds tighter than and",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition: not a and b", "\"Y\": \"1\"",
     1},
    {"condition: 1 of them",
     "    sel1:\n        X: '1'\n    sel2:\n        Y: '1'\n    condition: 1 of them",
     "\"Y\": \"1\"", 1},
    {"condition: all of them",
     "    sel1:\n        X: '1'\n    sel2:\n        Y: '1'\n    condition: all of them",
     "\"Y\": \"1\"", 0},
    {"condition: all of them leaves out _names",
     "    sel1:\n        X: '1'\n    _sel2:\n        Y: '1'\n    condition: all of them",
     "\"X\": \"1\"", 1},
    {"condition: 1 of selection*",
     "    selection_a:\n        X: '1'\n    selection_b:\n        Y: '1'\n    filter:\n        Z: "
     "'1'\n"
     "    condition: 1 of selection*",
     "\"Z\": \"1\", \"Y\": \"1\"", 1},
    {"condition: all of selection*",
     "    selection_a:\n        X: '1'\n    selection_b:\n        Y: '1'\n    condition: all of "
     "selection*",
     "\"X\": \"1\", \"Y\": \"1\"", 1},
    {"condition: any of (= 1 of)",
     "    selection_a:\n        X: '1'\n    selection_b:\n        Y: '1'\n    condition: any of "
     "selection_*",
     "\"Y\": \"1\"", 1},
    {"condition: 1 of selection* and not 1 of filter*",
     "    selection_a:\n        X: '1'\n    filter_a:\n        Y: '1'\n    filter_b:\n        Z: "
     "'1'\n"
     "    condition: 1 of selection* and not 1 of filter*",
     "\"X\": \"1\", \"Z\": \"1\"", 0},
    {"condition: not 1 of filter*, no filter field present",
     "    selection_a:\n        X: '1'\n    filter_a:\n        Y: '1'\n    filter_b:\n        Z: "
     "'1'\n"
     "    condition: 1 of selection* and not 1 of filter*",
     "\"X\": \"1\"", 1},
    {"condition: a list of conditions is OR",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition:\n        - a\n        - b",
     "\"Y\": \"1\"", 1},
    {"condition: keywords in upper case",
     "    a:\n        X: '1'\n    b:\n        Y: '1'\n    condition: a AND NOT b", "\"X\": \"1\"",
     1},
};

static const char RULE[] = "title: t\nid: 00000000-0000-4000-8000-0000000000%02d\n"
                           "logsource:\n    product: windows\ndetection:\n%s\n";

static void table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const tcase *c = &cases[i];
        char yaml[4096], ev[2048];
        snprintf(yaml, sizeof yaml, RULE, (int)(i % 100), c->det);
        /* "EventID": "N" in the table is event.code, where Sigma's EventID maps */
        char code[32] = "";
        const char *e = strstr(c->data, "\"EventID\": ");
        if (e) {
            e += 11;
            size_t k = 0;
            if (*e == '"') e++;
            while (*e >= '0' && *e <= '9' && k + 1 < sizeof code) code[k++] = *e++;
            code[k] = 0;
        }
        snprintf(ev, sizeof ev,
                 "{\"event\":{\"category\":\"process\",\"code\":\"%s\"},\"host\":{\"os\":"
                 "{\"type\":\"windows\"}},\"winlog\":{\"event_data\":{%s}}}",
                 code, c->data);
        size_t loaded, failed;
        modus_ruleset *rs = load(yaml, &loaded, &failed);
        CHECK(loaded == 1 && failed == 0, "%s: does not compile: %s", c->name, last_err);
        if (loaded == 1) {
            int hits = run(rs, 0, ev);
            modus_rule_info ri;
            modus_ruleset_rule(rs, 0, &ri);
            CHECK(hits == c->want, "%s: %s, want %s\n    EQL: %s", c->name,
                  hits > 0    ? "matched"
                  : hits == 0 ? "no match"
                              : "EQL error",
                  c->want ? "a match" : "no match", ri.query);
        }
        modus_ruleset_destroy(rs);
    }
}

/* ---- errors: file:line:col and the reason ------------------------------------------------ */

typedef struct ecase {
    const char *name, *yaml;
    unsigned line, col;
    const char *msg;
} ecase;

static const ecase errors[] = {
    {"unknown modifier",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n"
     "        Image|containz: x\n    condition: sel\n",
     6, 9, "unknown modifier 'containz'"},
    {"no such identifier",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n"
     "    condition: sel and not filter\n",
     7, 28, "no search identifier 'filter'"},
    {"pattern matches nothing",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n"
     "    condition: 1 of filter*\n",
     7, 21, "no search identifier matches 'filter*'"},
    {"obsolete aggregation",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n"
     "    condition: sel | count() > 5\n",
     7, 20, "aggregations"},
    {"bad regex",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n"
     "        Image|re: 'a(b'\n    condition: sel\n",
     6, 19, "bad regular expression"},
    {"missing title",
     "logsource:\n    product: windows\ndetection:\n    sel:\n        Image: x\n"
     "    condition: sel\n",
     1, 1, "missing 'title'"},
    {"no condition",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n"
     "        Image: x\n",
     5, 5, "the detection has no condition"},
    {"unmapped logsource",
     "title: t\nlogsource:\n    product: plan9\n    category: x\ndetection:\n"
     "    sel:\n        Image: x\n    condition: sel\n",
     3, 5, "logsource product=plan9,category=x is not in the Sigma mapping"},
    {"YAML syntax", "title: t\nlogsource: [\n", 3, 1, "did not find expected node content"},
    {"duplicate key",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n"
     "        Image: x\n        Image: y\n    condition: sel\n",
     7, 9, "duplicate key 'Image' (first at line 6)"},
    {"placeholders",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n"
     "        User|expand: '%Admins%'\n    condition: sel\n",
     6, 9, "expand"},
    {"utf16 needs base64",
     "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n"
     "        X|utf16le: 'cmd'\n    condition: sel\n",
     6, 20, "utf16 encodings need base64"},
};

static void error_positions(void)
{
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
        const ecase *e = &errors[i];
        size_t loaded, failed;
        modus_ruleset *rs = load(e->yaml, &loaded, &failed);
        char want[64];
        snprintf(want, sizeof want, "%u:%u: ", e->line, e->col);
        CHECK(loaded == 0 && failed == 1, "%s: loaded %zu failed %zu", e->name, loaded, failed);
        CHECK(!strncmp(last_err, want, strlen(want)) && strstr(last_err, e->msg),
              "%s: got '%s', want '%s%s'", e->name, last_err, want, e->msg);
        modus_ruleset_destroy(rs);
    }
}

/* ---- the mapping, metadata, several documents, correlations ------------------------------ */

static void mapping_and_meta(void)
{
    size_t loaded, failed;
    /* process_creation: Sigma's names read the ECS fields Sysmon 1, 4688 and Elastic
     * Defend share; tags become threat[]; level the severity */
    modus_ruleset *rs = load("title: Whoami\nid: 11111111-2222-4333-8444-555555555555\n"
                             "level: high\ntags:\n    - attack.discovery\n    - attack.t1033\n"
                             "    - attack.t1059.001\nlogsource:\n    category: process_creation\n"
                             "    product: windows\ndetection:\n    sel:\n"
                             "        Image|endswith: '\\whoami.exe'\n"
                             "        ParentImage|endswith: '\\cmd.exe'\n    condition: sel\n",
                             &loaded, &failed);
    CHECK(loaded == 1, "mapping rule: %s", last_err);
    if (loaded == 1) {
        modus_rule_info ri;
        modus_ruleset_rule(rs, 0, &ri);
        CHECK_STR(ri.id, "11111111-2222-4333-8444-555555555555");
        CHECK_STR(ri.name, "Whoami");
        CHECK_STR(ri.severity, "high");
        CHECK_STR(ri.language, "sigma");
        CHECK_STR(ri.logsource, "product=windows,category=process_creation");
        CHECK(ri.ntechniques == 2 && !strcmp(ri.techniques[0], "T1033") &&
                  !strcmp(ri.techniques[1], "T1059.001"),
              "techniques");
        const char *defend =
            "{\"event\":{\"category\":[\"process\"],\"type\":[\"start\"]},"
            "\"host\":{\"os\":{\"type\":\"windows\"}},\"process\":{\"executable\":"
            "\"C:\\\\Windows\\\\System32\\\\whoami.exe\",\"parent\":{\"executable\":"
            "\"C:\\\\Windows\\\\System32\\\\cmd.exe\"}}}";
        CHECK(run(rs, 0, defend) == 1, "an Elastic Defend process start matches");
        const char *end = "{\"event\":{\"category\":[\"process\"],\"type\":[\"end\"]},"
                          "\"host\":{\"os\":{\"type\":\"windows\"}},\"process\":{\"executable\":"
                          "\"C:\\\\Windows\\\\System32\\\\whoami.exe\",\"parent\":{\"executable\":"
                          "\"C:\\\\Windows\\\\System32\\\\cmd.exe\"}}}";
        CHECK(run(rs, 0, end) == 0, "a process end does not (the logsource selects starts)");
    }
    modus_ruleset_destroy(rs);

    /* modality.* as it is, and the rule's own tests */
    rs = load("title: Script modality writes a service key\nid: m1\nlogsource:\n"
              "    category: registry_set\n    product: windows\ndetection:\n    sel:\n"
              "        TargetObject|contains: '\\Services\\'\n"
              "        modality.name:\n            - powershell\n            - shellcode\n"
              "    condition: sel\n",
              &loaded, &failed);
    CHECK(loaded == 1, "modality rule: %s", last_err);
    if (loaded == 1) {
        modus_rule_info ri;
        modus_ruleset_rule(rs, 0, &ri);
        CHECK(strstr(ri.query, "modality.name : (\"powershell\", \"shellcode\")") != NULL,
              "modality.name is used as it is: %s", ri.query);
    }
    modus_ruleset_destroy(rs);

    /* documents: each compiles on its own; a bad one does not stop the others */
    rs = load(
        "title: a\nid: d1\nlogsource:\n    product: windows\ndetection:\n    s:\n        X: 1\n"
        "    condition: s\n---\ntitle: b\nid: d2\nlogsource:\n    product: windows\n"
        "detection:\n    s:\n        X|bogus: 1\n    condition: s\n---\ntitle: c\nid: d3\n"
        "logsource:\n    product: windows\ndetection:\n    s:\n        X: 3\n    condition: s\n",
        &loaded, &failed);
    CHECK(loaded == 2 && failed == 1, "three documents: %zu loaded, %zu failed", loaded, failed);
    CHECK(!strncmp(last_err, "16:9: ", 6), "the bad document's position: %s", last_err);
    modus_ruleset_destroy(rs);

    /* correlations: event_count -> a sequence with runs; temporal_ordered; the base
     * rules are part of the correlation, not rules of their own */
    const char *ev_fail = "{\"@timestamp\":\"2024-01-01T00:00:0%dZ\",\"event\":{\"category\":"
                          "\"authentication\",\"code\":\"4625\"},\"host\":{\"os\":{\"type\":"
                          "\"windows\"}},\"winlog\":{\"channel\":\"Security\",\"event_data\":{"
                          "\"TargetUserName\":\"%s\"}}}\n";
    char evs[4096] = "";
    for (int i = 0; i < 5; i++) {
        char one[512];
        snprintf(one, sizeof one, ev_fail, i, i < 4 ? "bob" : "eve");
        strcat(evs, one);
    }
    rs = load("title: failed logon\nname: failed_logon\nid: c0\nlogsource:\n    product: windows\n"
              "    service: security\ndetection:\n    s:\n        EventID: 4625\n    condition: s\n"
              "---\ntitle: brute force\nid: c1\nlevel: high\ncorrelation:\n    type: event_count\n"
              "    rules:\n        - failed_logon\n    group-by:\n        - TargetUserName\n"
              "    timespan: 5m\n    condition:\n        gte: 3\n",
              &loaded, &failed);
    CHECK(loaded == 1 && failed == 0, "event_count: %zu loaded, %zu failed (%s)", loaded, failed,
          last_err);
    if (loaded == 1) {
        modus_rule_info ri;
        modus_ruleset_rule(rs, 0, &ri);
        CHECK_STR(ri.id, "c1");
        CHECK(strstr(ri.query, "sequence by winlog.event_data.TargetUserName with maxspan=5m") &&
                  strstr(ri.query, "with runs=3"),
              "event_count query: %s", ri.query);
        /* EQL's sequence semantics: a match may start at every event, so four failures
         * hold two runs of three (events 1-3 and 2-4); eve's one failure none */
        CHECK(run(rs, 0, evs) == 2, "four failures of bob: two runs of three");
    }
    modus_ruleset_destroy(rs);
    rs = load(
        "title: A\nname: ra\nid: t0\nlogsource:\n    product: windows\ndetection:\n    s:\n"
        "        Step: a\n    condition: s\n---\ntitle: B\nname: rb\nid: t1\nlogsource:\n"
        "    product: windows\ndetection:\n    s:\n        Step: b\n    condition: s\n---\n"
        "title: A then B\nid: t2\ncorrelation:\n    type: temporal_ordered\n    rules:\n"
        "        - ra\n        - rb\n    group-by:\n        - Host\n    timespan: 10s\n---\n"
        "title: any order\nid: t3\ncorrelation:\n    type: temporal\n    rules:\n        - ra\n"
        "        - rb\n    group-by:\n        - Host\n    timespan: 10s\n",
        &loaded, &failed);
    CHECK(loaded == 1 && failed == 1, "temporal_ordered compiles, temporal is reported: %zu, %zu",
          loaded, failed);
    CHECK(strstr(last_err, "temporal (any order)") != NULL, "temporal's reason: %s", last_err);
    if (loaded == 1) {
        const char *ab =
            "{\"@timestamp\":\"2024-01-01T00:00:01Z\",\"host\":{\"os\":{\"type\":"
            "\"windows\"}},\"winlog\":{\"event_data\":{\"Step\":\"a\",\"Host\":\"h\"}}}\n"
            "{\"@timestamp\":\"2024-01-01T00:00:02Z\",\"host\":{\"os\":{\"type\":"
            "\"windows\"}},\"winlog\":{\"event_data\":{\"Step\":\"b\",\"Host\":\"h\"}}}\n";
        const char *ba =
            "{\"@timestamp\":\"2024-01-01T00:00:01Z\",\"host\":{\"os\":{\"type\":"
            "\"windows\"}},\"winlog\":{\"event_data\":{\"Step\":\"b\",\"Host\":\"h\"}}}\n"
            "{\"@timestamp\":\"2024-01-01T00:00:02Z\",\"host\":{\"os\":{\"type\":"
            "\"windows\"}},\"winlog\":{\"event_data\":{\"Step\":\"a\",\"Host\":\"h\"}}}\n";
        CHECK(run(rs, 0, ab) == 1, "temporal_ordered: a then b");
        CHECK(run(rs, 0, ba) == 0, "temporal_ordered: b then a");
    }
    modus_ruleset_destroy(rs);
}

int main(void)
{
    table();
    error_positions();
    mapping_and_meta();
    return check_done();
}
