/* test_rule_toml.c - the TOML rule loader: a full Elastic-style rule, exact
 * query positions for every string form, errors with their positions, and
 * the fast path for multi-line literal strings (rule_toml_fast) giving the
 * same result as toml++ alone, on made-up edge cases, the rule pack and
 * mutations of both. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "rules/rule_src_cmp.h"
#include "rules/rule_toml.h"

typedef struct parsed {
    int rc;
    rule_src r;
    uint32_t line, col;
    char msg[256];
} parsed;

static parsed P;

static int parse_len(const char *text, size_t len)
{
    rule_src_free(&P.r);
    P.rc = rule_toml_parse("t.toml", text, len, &P.r, &P.line, &P.col, P.msg, sizeof P.msg);
    return P.rc;
}

static int parse(const char *text)
{
    return parse_len(text, strlen(text));
}

/* parse text, expect an error at line:col whose message contains `want` */
static void expect_err(const char *what, const char *text, uint32_t line, uint32_t col,
                       const char *want)
{
    int rc = parse(text);
    CHECK(rc != 0, "%s: parsed, want an error", what);
    CHECK(P.line == line && P.col == col, "%s: error at %u:%u, want %u:%u (%s)", what, P.line,
          P.col, line, col, P.msg);
    CHECK(strstr(P.msg, want) != NULL, "%s: message '%s' lacks '%s'", what, P.msg, want);
    CHECK(P.r.name == NULL && P.r.query == NULL, "%s: out is zeroed on error", what);
}

static void expect_pos(const char *what, const char *text, const char *query, uint32_t line,
                       uint32_t col, int verbatim)
{
    int rc = parse(text);
    CHECK(rc == 0, "%s: %u:%u: %s", what, P.line, P.col, P.msg);
    if (rc) return;
    CHECK_STR(P.r.query, query);
    CHECK(P.r.query_line == line && P.r.query_col == col, "%s: query at %u:%u, want %u:%u", what,
          P.r.query_line, P.r.query_col, line, col);
    CHECK(!!P.r.query_verbatim == verbatim, "%s: verbatim %d, want %d", what, P.r.query_verbatim,
          verbatim);
}

static const char FULL[] = "# an endpoint behavior rule\n"                        /* 1 */
                           "[rule]\n"                                             /* 2 */
                           "description = \"\"\"\n"                               /* 3 */
                           "Finds \"things\".\n"                                  /* 4 */
                           "\"\"\"\n"                                             /* 5 */
                           "id = \"6f4e7c1a-0000-4000-8000-000000000001\"\n"      /* 6 */
                           "license = \"Elastic License v2\"\n"                   /* 7 */
                           "name = \"Memory API from a Script\"\n"                /* 8 */
                           "os_list = [\"windows\", \"linux\"]\n"                 /* 9 */
                           "version = \"1.0.21\"\n"                               /* 10 */
                           "language = \"eql\"\n"                                 /* 11 */
                           "severity = \"low\"\n"                                 /* 12 */
                           "\n"                                                   /* 13 */
                           "query = '''\n"                                        /* 14 */
                           "api where process.Ext.api.name : \"VirtualAlloc*\"\n" /* 15 */
                           "  and not process.name : \"a\\\\b.exe\"\n"            /* 16 */
                           "'''\n"                                                /* 17 */
                           "\n"
                           "min_endpoint_version = \"8.10.0\"\n"
                           "optional_actions = []\n"
                           "[[actions]]\n"
                           "action = \"kill_process\"\n"
                           "field = \"process.entity_id\"\n"
                           "state = 0\n"
                           "\n"
                           "[[threat]]\n"
                           "framework = \"MITRE ATT&CK\"\n"
                           "[[threat.technique]]\n"
                           "id = \"T1055\"\n"
                           "name = \"Process Injection\"\n"
                           "reference = \"https://attack.mitre.org/techniques/T1055/\"\n"
                           "[[threat.technique.subtechnique]]\n"
                           "id = \"T1055.012\"\n"
                           "name = \"Process Hollowing\"\n"
                           "reference = \"https://attack.mitre.org/techniques/T1055/012/\"\n"
                           "\n"
                           "[threat.tactic]\n"
                           "id = \"TA0005\"\n"
                           "name = \"Defense Evasion\"\n"
                           "reference = \"https://attack.mitre.org/tactics/TA0005/\"\n"
                           "\n"
                           "[[threat]]\n"
                           "framework = \"MITRE ATT&CK\"\n"
                           "[[threat.technique]]\n"
                           "id = \"T1055\"\n"
                           "name = \"Process Injection\"\n"
                           "[[threat.technique]]\n"
                           "id = \"T1059\"\n"
                           "[[threat.technique.subtechnique]]\n"
                           "id = \"T1059.001\"\n"
                           "name = \"PowerShell\"\n"
                           "[threat.tactic]\n"
                           "id = \"TA0004\"\n"
                           "name = \"Privilege Escalation\"\n"
                           "\n"
                           "[modus]\n"
                           "severity = \"high\"\n"
                           "modalities = [\"powershell\", \"dotnet\"]\n"
                           "weight = 1.5\n"
                           "[modus.test]\n"
                           "enabled = true\n"
                           "\n"
                           "[internal]\n"
                           "min_endpoint_version = \"8.10.0\"\n";

static void test_full(void)
{
    int rc = parse(FULL);
    CHECK(rc == 0, "full rule: %u:%u: %s", P.line, P.col, P.msg);
    if (rc) return;
    const rule_src *r = &P.r;
    CHECK_STR(r->file, "t.toml");
    CHECK_STR(r->name, "Memory API from a Script");
    CHECK_STR(r->id, "6f4e7c1a-0000-4000-8000-000000000001");
    CHECK_STR(r->description, "Finds \"things\".\n");
    CHECK_STR(r->version, "1.0.21");
    CHECK_STR(r->language, "eql");
    CHECK_STR(r->query, "api where process.Ext.api.name : \"VirtualAlloc*\"\n"
                        "  and not process.name : \"a\\\\b.exe\"\n");
    CHECK(r->query_line == 15 && r->query_col == 1, "query at %u:%u, want 15:1", r->query_line,
          r->query_col);
    CHECK(r->query_verbatim, "a literal query is verbatim");
    CHECK(!strncmp(FULL + r->query_offset, "api where", 9), "query_offset");
    CHECK(r->n_os == 2, "n_os %zu", r->n_os);
    if (r->n_os == 2) {
        CHECK_STR(r->os_list[0], "windows");
        CHECK_STR(r->os_list[1], "linux");
    }
    CHECK_STR(r->severity, "high"); /* [modus] wins over [rule] */
    CHECK_STR(r->modus_json, "{\"modalities\":[\"powershell\",\"dotnet\"],\"severity\":\"high\","
                             "\"test\":{\"enabled\":true},\"weight\":1.5}");
    CHECK_STR(r->actions_json,
              "[{\"action\":\"kill_process\",\"field\":\"process.entity_id\",\"state\":0}]");
    CHECK_STR(r->threat_json,
              "[{\"framework\":\"MITRE ATT&CK\","
              "\"tactic\":{\"id\":\"TA0005\",\"name\":\"Defense Evasion\","
              "\"reference\":\"https://attack.mitre.org/tactics/TA0005/\"},"
              "\"technique\":[{\"id\":\"T1055\",\"name\":\"Process Injection\","
              "\"reference\":\"https://attack.mitre.org/techniques/T1055/\","
              "\"subtechnique\":[{\"id\":\"T1055.012\",\"name\":\"Process Hollowing\","
              "\"reference\":\"https://attack.mitre.org/techniques/T1055/012/\"}]}]},"
              "{\"framework\":\"MITRE ATT&CK\","
              "\"tactic\":{\"id\":\"TA0004\",\"name\":\"Privilege Escalation\"},"
              "\"technique\":[{\"id\":\"T1055\",\"name\":\"Process Injection\"},"
              "{\"id\":\"T1059\",\"subtechnique\":[{\"id\":\"T1059.001\",\"name\":\"PowerShell\"}]}"
              "]}]");
    CHECK(r->n_technique_ids == 4, "n_technique_ids %zu", r->n_technique_ids);
    if (r->n_technique_ids == 4) {
        CHECK_STR(r->technique_ids[0], "T1055");
        CHECK_STR(r->technique_ids[1], "T1055.012");
        CHECK_STR(r->technique_ids[2], "T1059");
        CHECK_STR(r->technique_ids[3], "T1059.001");
    }
    CHECK(r->n_techniques == 5, "n_techniques %zu", r->n_techniques);
    if (r->n_techniques == 5) {
        const rule_threat_technique *t = r->techniques;
        CHECK_STR(t[0].id, "T1055");
        CHECK_STR(t[0].tactic_id, "TA0005");
        CHECK(t[0].parent_id == NULL, "a technique has no parent");
        CHECK_STR(t[1].id, "T1055.012");
        CHECK_STR(t[1].name, "Process Hollowing");
        CHECK_STR(t[1].parent_id, "T1055");
        CHECK_STR(t[1].tactic_name, "Defense Evasion");
        CHECK_STR(t[2].tactic_id, "TA0004");
        CHECK(t[3].name == NULL, "absent technique name is NULL");
        CHECK_STR(t[4].id, "T1059.001");
        CHECK_STR(t[4].parent_id, "T1059");
    }
}

static void test_minimal(void)
{
    int rc = parse("[rule]\nname = \"n\"\nid = \"i\"\nquery = \"process where true\"\n");
    CHECK(rc == 0, "minimal: %s", P.msg);
    CHECK(P.r.description == NULL && P.r.version == NULL && P.r.language == NULL &&
              P.r.severity == NULL && P.r.threat_json == NULL && P.r.actions_json == NULL &&
              P.r.modus_json == NULL && P.r.n_os == 0 && P.r.n_technique_ids == 0,
          "absent keys are NULL");
    rc = parse("[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\nversion = 3\nseverity = 'medium'\n");
    CHECK(rc == 0, "integer version: %s", P.msg);
    CHECK_STR(P.r.version, "3");
    CHECK_STR(P.r.severity, "medium"); /* [rule].severity without [modus] */
    rc = parse("[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n[modus]\n"
               "when = 1979-05-27T07:32:00.5-07:30\nday = 1979-05-27\nat = 07:32:00\n"
               "utc = 1979-05-27T00:00:00Z\nbig = 1e300\nnot = nan\nneg = -4\n"
               "s = \"tab\\t \\u0001 \\u00e9 \\\"q\\\"\"\n");
    CHECK(rc == 0, "modus values: %s", P.msg);
    CHECK_STR(P.r.modus_json, "{\"at\":\"07:32:00\",\"big\":1e+300,\"day\":\"1979-05-27\","
                              "\"neg\":-4,\"not\":null,"
                              "\"s\":\"tab\\t \\u0001 \xc3\xa9 \\\"q\\\"\","
                              "\"utc\":\"1979-05-27T00:00:00Z\","
                              "\"when\":\"1979-05-27T07:32:00.5-07:30\"}");
    /* unknown keys and tables are fine */
    rc = parse("[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\nwhatever = [1, {a = 2}]\n"
               "[internal]\nx = 1\n[other.deep]\ny = 2\n");
    CHECK(rc == 0, "unknown keys: %s", P.msg);
}

static void test_query_positions(void)
{
    expect_pos("''' on its own line",
               "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nabc\n  def\n'''\n", "abc\n  def\n", 5, 1,
               1);
    expect_pos("\"\"\" on its own line",
               "[rule]\nname = 'n'\nid = 'i'\nquery = \"\"\"\n  x : \\\"y\\\"\n\"\"\"\n",
               "  x : \"y\"\n", 5, 1, 0);
    expect_pos("\"\"\" without escapes is verbatim",
               "[rule]\nname = 'n'\nid = 'i'\nquery = \"\"\"\nx\n\"\"\"\n", "x\n", 5, 1, 1);
    expect_pos("''' text on the opening line", "[rule]\nname = 'n'\nid = 'i'\nquery = '''abc'''\n",
               "abc", 4, 12, 1);
    expect_pos("''' newline then blank line kept",
               "[rule]\nname = 'n'\nid = 'i'\nquery = '''\n\nabc'''\n", "\nabc", 5, 1, 1);
    expect_pos("single-line basic string",
               "[rule]\nname = 'n'\nid = 'i'\n  query   =   \"process where true\"\n",
               "process where true", 4, 16, 1);
    expect_pos("single-line literal string", "[rule]\nquery='a'\nname = 'n'\nid = 'i'\n", "a", 2, 8,
               1);
    expect_pos("CRLF after '''",
               "[rule]\r\nname = 'n'\r\nid = 'i'\r\nquery = '''\r\nabc\r\ndef'''\r\n", "abc\ndef",
               5, 1, 0);
    expect_pos("dotted keys, BOM not counted",
               "\xEF\xBB\xBFrule.query = 'x'\nrule.name = 'n'\nrule.id = 'i'\n", "x", 1, 15, 1);
    expect_pos("inline table, byte columns after UTF-8",
               "rule = { name = \"\xc3\xa9\xc3\xa9\", id = 'i', query = \"abc\" }\n", "abc", 1, 44,
               1);
}

static void test_errors(void)
{
    expect_err("missing query", "# c\n\n[rule]\nname = 'n'\nid = 'i'\n", 3, 1,
               "missing [rule].query");
    expect_err("missing name", "[rule]\nid = 'i'\nquery = 'q'\n", 1, 1, "missing [rule].name");
    expect_err("missing id", "[rule]\nname = 'x'\nquery = 'q'\n", 1, 1, "missing [rule].id");
    expect_err("non-string name", "[rule]\nid = 'i'\nname = 5\nquery = 'q'\n", 3, 8,
               "[rule].name must be a string");
    expect_err("non-string query", "[rule]\nid = 'i'\nname = 'n'\nquery = ['q']\n", 4, 9,
               "[rule].query must be a string");
    expect_err("NUL in name", "[rule]\nid = 'i'\nname = \"a\\u0000b\"\nquery = 'q'\n", 3, 8, "NUL");
    expect_err("empty input", "", 1, 1, "missing [rule] table");
    expect_err("no [rule]", "[internal]\nx = 1\n", 1, 1, "missing [rule] table");
    expect_err("[rule] not a table", "\nrule = 'x'\n", 2, 8, "[rule] must be a table");
    expect_err("bad version", "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\nversion = 1.5\n", 5, 11,
               "[rule].version must be a string or an integer");
    expect_err("bad os_list", "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\nos_list = ['a', 2]\n", 5,
               17, "[rule].os_list must be an array of strings");
    expect_err("os_list not an array", "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\nos_list = 'a'\n",
               5, 11, "os_list must be an array");
    expect_err("[modus] not a table", "modus = 1\n[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n", 1,
               9, "[modus] must be a table");
    expect_err("[modus].severity not a string",
               "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n[modus]\nseverity = 3\n", 6, 12,
               "[modus].severity must be a string");
    expect_err("threat not an array", "threat = 1\n[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n", 1,
               10, "[[threat]] must be an array of tables");
    expect_err("technique id not a string",
               "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n[[threat]]\n[[threat.technique]]\n"
               "id = 1055\n",
               7, 6, "[[threat.technique]] id must be a non-empty string");
    expect_err("actions not an array", "actions = {}\n[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n",
               1, 11, "[[actions]] must be an array");

    /* the TOML parser's own errors, positions in bytes */
    expect_err("malformed: unterminated string", "[rule]\nname = \"abc\nid = 'i'\n", 2, 12,
               "string");
    expect_err("malformed: bad key/value", "[rule]\nname = 'n' x\n", 2, 12, "");
    expect_err("malformed: after UTF-8", "[rule]\nname = '\xc3\xa9\xc3\xa9' = 1\n", 2, 15, "");
    expect_err("malformed: unterminated '''", "[rule]\nquery = '''\nabc\n", 3, 4, "end-of-file");
    expect_err("malformed: duplicate key", "[rule]\nname = 'a'\nname = 'b'\n", 3, 8, "name");
    expect_err("invalid UTF-8", "[rule]\nname = '\xff'\n", 2, 8, "utf-8");
    /* toml++ 3.3.0 asserts on these (upstream PR #301): an error, not an abort */
    expect_err("header starting with a dot", "[.ule]\nname = 2\n", 1, 2, "bare key");
    expect_err("triple bracket header", "[[[1]]]\n", 1, 3, "bare key");
    expect_err("header [[=", "\n[[=", 2, 3, "bare key");
    /* ... and reach __builtin_unreachable on these (upstream #190, #295) */
    expect_err("non-ASCII letter in a header",
               "[\xd2\x8a"
               "Eue]\n",
               1, 2, "");
    expect_err("non-ASCII after a key", "a\xcc\xaa = 1\n", 1, 2, "");
    int rc = parse("[rule]\nname = 'n'\nid = 'i'\nquery = \"\"\"\\\n   \xc2\xa7\"\"\"\n");
    CHECK(rc == 0, "line-ending backslash then U+00A7: %s", P.msg);
    CHECK_STR(P.r.query, "\xc2\xa7");
    rc = parse_len("[rule]\nname = 'a\0b'\n", 20);
    CHECK(rc != 0 && P.line == 2, "a raw NUL byte is an error (%s at %u:%u)", P.msg, P.line, P.col);
    rc = rule_toml_parse("x", NULL, 0, &P.r, NULL, NULL, NULL, 0);
    CHECK(rc != 0, "NULL text, NULL outputs");
    rc = parse_len("[rule]\nname = 'n'\nid = 'i'\nquery = 'q'", 30); /* not NUL-terminated */
    CHECK(rc != 0 && P.line == 4, "length is honoured (%s at %u:%u)", P.msg, P.line, P.col);
}

static void test_limits(void)
{
    /* a key of 100,000 dotted parts would overflow toml++'s stack */
    size_t n = 200000;
    char *t = malloc(n + 16);
    t[0] = '[';
    for (size_t i = 1; i < n; i += 2) t[i] = 'a', t[i + 1] = '.';
    memcpy(t + n - 1, "a]\n", 4);
    int rc = parse(t);
    CHECK(rc != 0 && strstr(P.msg, "dotted parts"), "deep table header: %s", P.msg);
    for (size_t i = 0; i < n - 1; i++) t[i] = (i & 1) ? '.' : 'a';
    memcpy(t + n - 1, "a=1\n", 5);
    rc = parse(t);
    CHECK(rc != 0 && strstr(P.msg, "dotted parts") && P.line == 1 && P.col == 128,
          "deep dotted key: %s at %u:%u", P.msg, P.line, P.col);
    /* dots in strings and comments do not count */
    const char *head = "[rule]\nname = 'n'\nid = 'i'\nquery = '''";
    memcpy(t, head, strlen(head));
    for (size_t i = strlen(head); i < n; i++) t[i] = '.';
    memcpy(t + n, "'''\n#...\n", 10);
    rc = parse(t);
    CHECK(rc == 0, "dots inside a string: %s", P.msg);
    free(t);
    const char *ok = "rule.a.b.c.d.e.f.g.h.i.j.k.l.m.n = 1\nrule.name = 'n'\n"
                     "rule.id = 'i'\nrule.query = \"\"\"..\\\"\"\"\"\"\"\n";
    CHECK(parse(ok) == 0, "a few dotted parts: %s", P.msg);
    CHECK_STR(P.r.query, "..\"\"\""); /* \" then two quotes before the closing """ */

    n = MODUS_MAX_RULE_FILE + 1;
    t = malloc(n);
    memset(t, ' ', n);
    rc = parse_len(t, n);
    CHECK(rc != 0 && strstr(P.msg, "too large"), "file size cap: %s", P.msg);
    free(t);
}

/* documents where the fast path applies, or nearly: each must parse the
 * same with and without it */
static const char *const FAST_CASES[] = {
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nprocess where true\n'''\n",
    /* no newline after the opening quotes; tabs before them */
    "[rule]\nname = 'n'\nid = 'i'\nquery =\t '''process where\n true'''\n",
    /* code points before the opening quotes move toml++'s column */
    "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n[modus]\n\"k\xc3\xa9\xe2\x82\xac\" = "
    "'''\na\nb'''\nx = 1\n",
    /* a byte order mark and the string on line 1 */
    "\xef\xbb\xbfrule.query = '''\nx\ny\n'''\nrule.name = 'n'\nrule.id = 'i'\n",
    /* errors after the closing quotes, on their line and the next */
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\n  cd''' x\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\n  \xc3\xa9\xc3\xa9''' x\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\n'''\n= 3\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\n'''\nquery = '''\ncd\n'''\n",
    /* one or two quotes at the end, or inside */
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\ncd''''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\ncd'''''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\na'b\nc''d\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\ncd''''''\n",
    /* what toml++ must see itself: CR, control characters, bad UTF-8, surrogates */
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\r\nab\r\ncd\r\n'''\r\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\x01\ncd\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\x7f\ncd\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\xc3\ncd\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\xed\xa0\x80\ncd\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\xc0\xaf"
    "cd\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\xf4\x90\x80\x80\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\xf0\x9f\x98\x80\n\xe2\x82\xac'''\n",
    /* not values: in an array, as a key, in a comment, in another string */
    "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n[modus]\nx = ['''\na\n''']\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = 'q'\n'''\na\n''' = 1\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = 'q' # = '''\na\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = \"= '''\"\nx = '''\na\n'''\n",
    "[rule]\nname = 'n'\nid = 'i'\nquery = \"\"\"\n= '''\na\n\"\"\"\n",
    /* in the tables passed through as JSON, and as threat ids and names */
    "[rule]\nname = '''\nn\n'''\nid = '''\ni\n'''\nquery = 'q'\nversion = '''\n1\n'''\n"
    "os_list = ['a']\n[modus]\nnote = '''\nx\n\ty\n'''\n"
    "[[threat]]\n[threat.tactic]\nid = '''\nTA1\n'''\nname = '''\nt\n'''\n"
    "[[threat.technique]]\nid = '''\nT1\n'''\nname = '''\nm\n'''\n"
    "[[actions]]\nx = '''\na\n'''\n",
    /* one-line strings: the last thing on their line, or not */
    "[rule]\nname = \"n \xc3\xa9\"  \t\nid = 'i j'\nquery = \"q\"\n",
    "[rule]\nname = \"n\" # c\nid = 'i' x\nquery = \"q\"",
    "[rule]\nname = \"n\\\"x\"\nid = 'a\\b'\nquery = \"q\"\r\n",
    "[rule]\nname = \"n\"\nname = \"m\"\nid = 'i'\nquery = \"q\"\n",
    "[rule]\nname = \"n\x01\"\nid = 'i'\nquery = \"q\"\n",
    "[rule]\nname = \"n\xff\"\nid = 'i'\nquery = \"q\"\n",
    "[rule]\nname = \"n\nid = 'i'\nquery = \"q\"\n",
    "[rule]\nname = \"\"\nid = ''\nquery = \"q\"\nx = { a = \"b\" }\ny = [\"c\"]\n",
    "[rule]\nname = \"n\"\nid = 'i'\nquery = \"q\"\n[[threat]]\nframework = \"MITRE\"\n"
    "[threat.tactic]\nid = \"TA1\"\nname = \"t\"\n[[threat.technique]]\nid = \"T1\"\n"
    "name = 'm'\n[[threat.technique.subtechnique]]\nid = \"T1.001\"\n",
    /* unterminated */
    "[rule]\nname = 'n'\nid = 'i'\nquery = '''\nab\n''\n",
};

static void check_same(const char *what, const char *text, size_t len)
{
    const char *d = rule_parse_fast_diff("t.toml", text, len);
    CHECK(d == NULL, "%s: rule_toml_fast changes %s", what, d ? d : "");
}

/* deterministic mutations of text: bytes replaced, inserted, deleted,
 * chunks duplicated, from an alphabet of TOML's structural bytes */
static void check_mutations(const char *what, const char *text, size_t len, unsigned rounds)
{
    static const char alpha[] = "'\"\n\r\\=#[]{}., \ta\xc3\xa9\xed\x7f\x01";
    const char *scale = getenv("RULE_TOML_MUTATION_SCALE"); /* more, by hand */
    if (scale && atoi(scale) > 0) rounds *= (unsigned)atoi(scale);
    uint64_t st = 0x9e3779b97f4a7c15ull ^ len;
    char *buf = malloc(2 * len + 64);
    int bad = 0;
    for (unsigned k = 0; k < rounds && !bad; k++) {
        memcpy(buf, text, len);
        size_t n = len;
        unsigned edits = 1 + k % 4;
        for (unsigned e = 0; e < edits; e++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t x = (uint32_t)(st >> 33);
            size_t at = n ? x % n : 0;
            char b = alpha[(x >> 12) % (sizeof alpha - 1)];
            switch ((x >> 20) % 4) {
            case 0:
                if (n) buf[at] = b;
                break;
            case 1:
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = b;
                n++;
                break;
            case 2:
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: {
                size_t l = (x >> 4) % 16;
                if (at + l > n) l = n - at;
                if (n + l <= 2 * len + 32) {
                    memmove(buf + at + l, buf + at, n - at);
                    n += l;
                }
            }
            }
        }
        const char *d = rule_parse_fast_diff("t.toml", buf, n);
        if (d) {
            bad = 1;
            CHECK(0, "%s, mutation %u: rule_toml_fast changes %s", what, k, d);
            if (getenv("RULE_TOML_DUMP_DIFF")) {
                FILE *f = fopen(getenv("RULE_TOML_DUMP_DIFF"), "wb");
                if (f) fwrite(buf, 1, n, f), fclose(f);
            }
        }
    }
    CHECK(!bad, "%s: %u mutations parse the same with and without the fast path", what, rounds);
    free(buf);
}

static void test_fast_path(void)
{
    char what[64];
    for (size_t i = 0; i < sizeof FAST_CASES / sizeof *FAST_CASES; i++) {
        snprintf(what, sizeof what, "fast case %zu", i);
        check_same(what, FAST_CASES[i], strlen(FAST_CASES[i]));
        check_mutations(what, FAST_CASES[i], strlen(FAST_CASES[i]), 400);
    }
    check_same("full", FULL, strlen(FULL));
    check_mutations("full", FULL, strlen(FULL), 2000);
    /* the values really come from the text: a query with a quote and tabs */
    const char *q = "[rule]\nname = 'n'\nid = 'i'\nquery = '''\n\ta'b\n  \xc3\xa9''x\n'''\n";
    CHECK(parse(q) == 0, "fast query: %s", P.msg);
    CHECK_STR(P.r.query, "\ta'b\n  \xc3\xa9''x\n");
    CHECK(P.r.query_line == 5 && P.r.query_col == 1 && P.r.query_verbatim, "fast query position");

    /* the rule pack, whole and mutated */
    const char *src = getenv("SRC");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rules", src ? src : ".");
    DIR *d = opendir(dir);
    CHECK(d != NULL, "rule pack at %s", dir);
    if (!d) return;
    unsigned files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 5, ".toml")) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static char text[1 << 20];
        size_t n = fread(text, 1, sizeof text, f);
        fclose(f);
        check_same(de->d_name, text, n);
        check_mutations(de->d_name, text, n, 300);
        files++;
    }
    closedir(d);
    CHECK(files >= 10, "rule pack: %u files compared", files);
}

int main(void)
{
    test_fast_path();
    test_full();
    test_minimal();
    test_query_positions();
    test_errors();
    test_limits();
    rule_src_free(&P.r);
    rule_src_free(NULL);
    return check_done();
}
