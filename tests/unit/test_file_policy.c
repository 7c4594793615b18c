/* test_file_policy.c - the live sensor's file policy (detect_needs.c): rules
 * in, the names, extensions and directories the kernel must pass out; a rule
 * with no condition on the file makes it "all" and is named; the text form
 * reads back and reports bad lines with their place; the directory hash is
 * FNV-1a 64 of the case-folded path, as the kernel computes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "detect/needs.h"
#include "modus/modus.h"

static char dir[64];
static int nfile;

/* a policy from rules given as (os_list, query) pairs */
static modus_file_policy *derive(const char *const *rules, size_t n)
{
    modus_ruleset *rs = NULL;
    if (modus_ruleset_create(&rs) != MODUS_OK) return NULL;
    for (size_t i = 0; i < n; i += 2) {
        char path[128];
        snprintf(path, sizeof path, "%s/r%03d.toml", dir, nfile++);
        FILE *f = fopen(path, "w");
        if (!f) return NULL;
        fprintf(f, "[rule]\nname = \"rule %zu\"\nid = \"id-%zu\"\n", i / 2, i / 2);
        if (rules[i]) fprintf(f, "os_list = [\"%s\"]\n", rules[i]);
        fprintf(f, "query = '''\n%s\n'''\n", rules[i + 1]);
        fclose(f);
        size_t loaded = 0, failed = 0;
        modus_ruleset_add_path(rs, path, NULL, NULL, &loaded, &failed);
        CHECK(loaded == 1 && failed == 0, "rule did not load: %s", rules[i + 1]);
        unlink(path);
    }
    modus_file_policy *p = NULL;
    CHECK(modus_file_policy_from_rules(rs, &p) == MODUS_OK, "derivation failed");
    modus_ruleset_destroy(rs);
    return p;
}

static void expect(const char *what, const char *const *rules, size_t n, const char *want)
{
    modus_file_policy *p = derive(rules, n);
    char *t = p ? modus_file_policy_format(p) : NULL;
    CHECK(t && !strcmp(t, want), "%s:\n got:\n%s want:\n%s", what, t ? t : "(null)", want);
    free(t);
    modus_file_policy_free(p);
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/modus-fpol-%d", (int)getpid());
    mkdir(dir, 0700);

    const char *a[] = {NULL, "file where event.action == \"creation\" and "
                             "file.path like (\"/tmp/*\", \"/dev/shm/*\")"};
    expect("path prefixes become directories, for the operations event.action allows", a, 2,
           "dir /dev/shm write\ndir /tmp write\n");

    const char *b[] = {NULL, "file where file.name in (\"authorized_keys\", \"Tasks.json\")"};
    expect("names, case-folded", b, 2, "name authorized_keys\nname tasks.json\n");

    const char *c[] = {"linux", "file where file.extension : \"so\" or file.name like \"*.PTH\""};
    expect("extensions from file.extension and a name pattern", c, 2, "ext pth\next so\n");

    const char *d[] = {NULL, "file where file.path : \"?:\\\\Windows\\\\*\" or "
                             "file.path == \"/etc/ld.so.preload\""};
    expect("a Windows path adds nothing; an exact path is its name", d, 2, "name ld.so.preload\n");

    const char *e[] = {NULL, "file where file.path like \"/home/*/.ssh/authorized_keys2\""};
    expect("a literal leaf after wildcards is still the name", e, 2, "name authorized_keys2\n");

    const char *f[] = {NULL, "file where file.path like \"/etc/cron*/x*\""};
    expect("a directory stops before the first wildcard", f, 2, "dir /etc\n");

    const char *g[] = {NULL,
                       "file where file.path like \"/home/*\" and file.extension == \"desktop\""};
    expect("`and` keeps the narrower side", g, 2, "ext desktop\n");

    const char *h[] = {NULL, "sequence [process where process.name == \"curl\"] "
                             "[file where startsWith(file.path, \"/var/www/\")]"};
    expect("a sequence's file stage; startsWith", h, 2, "dir /var/www\n");

    const char *i[] = {NULL, "file where file.extension == \"pth\" and "
                             "file.Ext.header_bytes like \"696d706f7274*\""};
    expect("a rule reading header bytes turns the capture on", i, 2, "header\next pth\n");

    const char *j[] = {"windows", "file where event.type == \"deletion\"", NULL,
                       "file where file.path like (\"/tmp/*\", \"/tmp/x/*\", \"/tmpfoo/*\")"};
    expect("a Windows rule does not count; covered directories go", j, 4,
           "dir /tmp\ndir /tmpfoo\n");

    const char *k[] = {NULL, "process where process.name == \"bash\"",
                       NULL, "any where process.name == \"x\"",
                       NULL, "file where event.action == \"exec\""};
    expect("no file stage, or none a file operation can match: an empty policy", k, 6, "");

    const char *l[] = {
        NULL, "file where event.type == \"deletion\"",
        NULL, "file where event.action in (\"creation\", \"rename\") and file.path like \"/tmp/*\"",
        NULL, "file where event.type == \"change\" and file.name == \"x\"",
        NULL, "file where event.action == \"deletion\" and file.path like \"/var/log/*\""};
    const char *m[] = {NULL,
                       "file where event.action != \"deletion\" and file.path like~ \"/*X*\""};
    expect("operations: != takes away what only that value names", m, 2,
           "# every file: rule 0 (write,chmod,rename)\nall write,chmod,rename\n");
    const char *m2[] = {NULL, "file where event.type != \"change\" and event.type != \"deletion\" "
                              "and file.name == \"y\""};
    expect("operations: two != together", m2, 2, "name y write\n");
    expect("operations: a catch-all for deletions only; change is write, chmod, rename", l, 8,
           "# every file: rule 0 (delete)\nall delete\ndir /tmp write,rename\nname x "
           "write,chmod,rename\n");

    /* catch-alls */
    /* clang-format off */
    const char *const all_cases[] = {
        "file where event.type == \"deletion\" and process.name == \"rm\"",
        "file where not file.path like \"/tmp/*\"",
        "file where file.path like (\"/tmp/*\", \"*x\")",
        "file where file.name like \"x*\"",
        "file where file.path regex \"/tmp/.*\"",
        "sequence [process where true] as e0 [file where startsWith(file.path, e0.process.executable)]",
        "any where file.size > 10",
    };
    /* clang-format on */
    for (size_t n = 0; n < sizeof all_cases / sizeof *all_cases; n++) {
        const char *r[] = {NULL, "file where file.name == \"a\"", NULL, all_cases[n]};
        modus_file_policy *p = derive(r, 4);
        const char *why = NULL;
        CHECK(p && modus_file_policy_all(p, &why, NULL), "not all: %s", all_cases[n]);
        CHECK(why && !strncmp(why, "rule 1 (", 8), "the catch-all rule is named: got '%s' for %s",
              why ? why : "(null)", all_cases[n]);
        modus_file_policy_free(p);
    }

    /* text form: round trip, errors with their place */
    const char text[] = "# c\nheader\ndir /Tmp/\ndname .ssh\nname .bashrc\next so\n"
                        "dir /var/log delete,chmod\nall rename\n";
    modus_file_policy *p = NULL;
    modus_diag dg = {0};
    CHECK(modus_file_policy_parse(text, sizeof text - 1, "p.txt", &p, &dg) == MODUS_OK, "parse: %s",
          dg.message);
    char *t = p ? modus_file_policy_format(p) : NULL;
    CHECK_STR(
        t,
        "# every file: p.txt:8 (rename)\nall rename\nheader\ndir /tmp\ndir /var/log delete,chmod\n"
        "dname .ssh\nname .bashrc\next so\n");
    if (t) {
        modus_file_policy *q = NULL;
        CHECK(modus_file_policy_parse(t, strlen(t), NULL, &q, &dg) == MODUS_OK, "re-parse");
        char *t2 = q ? modus_file_policy_format(q) : NULL;
        /* the first line names where "all" came from: the rest reads back alike */
        CHECK(t2 && !strcmp(strchr(t, '\n'), strchr(t2, '\n')),
              "the text form reads back to itself");
        free(t2);
        modus_file_policy_free(q);
    }
    free(t);
    uint8_t W = FOP_WRITE;
    CHECK(fpol_match(p, "/tmp/a/b.txt", false, W), "below a directory");
    CHECK(fpol_match(p, "/TMP/a", false, W), "case-folded");
    CHECK(!fpol_match(p, "/tmpx/a", false, W), "a sibling with the same prefix is not below");
    CHECK(fpol_match(p, "/home/u/.ssh/id", false, W), "parent directory name");
    CHECK(fpol_match(p, "/srv/x/.bashrc", false, W), "name");
    CHECK(fpol_match(p, "/srv/x/libx.so", false, W), "extension");
    CHECK(!fpol_match(p, "/srv/x/libx.so", true, W), "directories only");
    CHECK(!fpol_match(p, "/srv/x/.so", false, W), "a leading dot is no extension");
    CHECK(fpol_match(p, "/var/log/syslog", false, FOP_DELETE), "an entry for deletions");
    CHECK(!fpol_match(p, "/var/log/syslog", false, W), "... is not one for writes");
    CHECK(fpol_match(p, "/srv/anything", false, FOP_RENAME), "all, for renames");
    modus_file_policy_free(p);

    const struct {
        const char *text;
        uint64_t line, column;
    } bad[] = {
        {"dir tmp\n", 1, 1},
        {"# ok\n  bogus x\n", 2, 3},
        {"ext\n", 1, 1},
        {"name a/b\n", 1, 1},
        {"ext abcdefghijklmnop\n", 1, 1},
        {"all x\n", 1, 1},
        {"header\ndir /\n", 2, 1},
        {"dir /a\tb\n", 1, 1},
        {"dir /tmp bogus\n", 1, 1},
        {"all write,\n", 1, 1},
    };
    for (size_t n = 0; n < sizeof bad / sizeof *bad; n++) {
        memset(&dg, 0, sizeof dg);
        p = NULL;
        modus_status st =
            modus_file_policy_parse(bad[n].text, strlen(bad[n].text), "bad.txt", &p, &dg);
        CHECK(st == MODUS_EPARSE && !p, "bad policy accepted: %s", bad[n].text);
        CHECK(dg.line == bad[n].line && dg.column == bad[n].column && !strcmp(dg.file, "bad.txt") &&
                  dg.message[0],
              "place of the error in '%s': %llu:%llu %s", bad[n].text, (unsigned long long)dg.line,
              (unsigned long long)dg.column, dg.message);
    }

    /* the kernel's directory hash */
    CHECK(fpol_dir_hash("/tmp") == fnv("/tmp"), "FNV-1a of the path");
    CHECK(fpol_dir_hash("/Dev//SHM/") == fnv("/dev/shm"), "case and repeated slashes folded");
    char longd[200] = "/a/";
    memset(longd + 3, 'x', 100);
    char cut[200] = "/a/";
    memset(cut + 3, 'x', FPOL_COMP);
    CHECK(fpol_dir_hash(longd) == fnv(cut), "components cut at %d bytes", FPOL_COMP);

    /* the default policy parses */
    const char *dt = modus_file_policy_default_text();
    p = NULL;
    CHECK(modus_file_policy_parse(dt, strlen(dt), "default", &p, &dg) == MODUS_OK && p &&
              !modus_file_policy_all(p, NULL, NULL) && fpol_match(p, "/dev/shm/x", false, FOP_ALL),
          "the default policy");
    modus_file_policy_free(p);
    rmdir(dir);
    return check_done();
}
