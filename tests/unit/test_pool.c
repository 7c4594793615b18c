/* test_pool.c - `modus scan -j` (src/detect/detect_pool.c) and the state cap
 * (detect_query.c): a host's events take one lane whatever the JSON shape;
 * a pool of 1-4 workers gives the alerts of one alerter, in the same order -
 * with sequences by process and by host and lineage whose events span
 * chunks that different workers run (lanes move between workers), and with
 * stateless rules only (lanes by chunk); the state cap evicts, counts, and
 * keeps its bytes within the cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "detect/pool.h"
#include "modus/modus.h"

static unsigned lane(const char *s, unsigned n)
{
    return pool_lane(s, strlen(s), n);
}

static void test_lanes(void)
{
    const unsigned n = 64;
    unsigned a = lane("{\"host\":{\"name\":\"WS-01\"}}", n);
    CHECK(lane("{\"host\":{\"os\":{\"name\":\"x\"},\"id\":\"i\",\"name\":\"ws-01\"}}", n) == a,
          "nested, after other keys, another case");
    CHECK(lane("{\"a\":[1,{\"host\":2}],\"host.name\":\"WS-01\"}", n) == a, "dotted key");
    CHECK(lane("{\"host.id\":\"zz\",\"host.name\":\"WS-01\"}", n) == a, "host.name before host.id");
    CHECK(lane("{\"host\":{\"id\":\"zz\"},\"host.name\":\"WS-01\"}", n) == a,
          "host.name wins wherever it is");
    CHECK(lane("{\"winlog\":{\"computer_name\":\"WS-01\"}}", n) == a, "winlog.computer_name");
    CHECK(lane("{\"Computer\":\"WS-01\"}", n) == a, "Sysmon's Computer");
    CHECK(lane("{\"process\":{\"host\":{\"name\":\"other\"}}}", n) == 0, "only top-level host");
    CHECK(lane("{\"event\":{}}", n) == 0, "no host: lane 0");
    CHECK(lane("not json", n) == 0, "garbage: lane 0");
    CHECK(lane("{\"host\":{\"name\":\"WS-01", n) < n, "cut line");
    /* 200 hosts spread over 4 lanes */
    unsigned count[4] = {0};
    for (int i = 0; i < 200; i++) {
        char b[64];
        snprintf(b, sizeof b, "{\"host\":{\"name\":\"h%d\"}}", i);
        count[lane(b, 4)]++;
    }
    for (int i = 0; i < 4; i++) CHECK(count[i] >= 25, "lane %d holds %u of 200 hosts", i, count[i]);
}

typedef struct sink {
    char *p;
    size_t n, cap;
    unsigned alerts;
} sink;

static void on_alert(void *ctx, const char *json, size_t len, size_t rule)
{
    sink *s = ctx;
    if (s->n + len + 32 > s->cap) {
        s->cap = (s->n + len + 32) * 2;
        s->p = realloc(s->p, s->cap);
    }
    s->n += (size_t)sprintf(s->p + s->n, "%zu ", rule);
    memcpy(s->p + s->n, json, len);
    s->n += len;
    s->p[s->n++] = '\n';
    s->alerts++;
}

static void on_error(void *ctx, modus_status st, const modus_diag *d)
{
    sink *s = ctx;
    char b[400];
    int k = snprintf(b, sizeof b, "error %d %s:%llu:%llu\n", (int)st, d->file,
                     (unsigned long long)d->line, (unsigned long long)d->offset);
    on_alert(s, b, (size_t)k, 9999);
}

/* the events: 6 hosts and host-less ones; a start, then a later end, per
 * process (entity ids are a host's own, as in real telemetry: -j N does not
 * correlate across hosts); some malformed lines */
static char *event(int i, size_t *len)
{
    static char b[512];
    int host = i % 7, proc = i / 3;
    const char *type = i % 3 == 2 ? "end" : "start";
    int n;
    if (i % 50 == 49)
        n = snprintf(b, sizeof b, "{\"broken\": %d", i);
    else if (host == 6)
        n = snprintf(b, sizeof b,
                     "{\"@timestamp\":\"2026-01-01T00:00:%02d.%03dZ\",\"event\":{\"category\":"
                     "\"process\",\"type\":\"%s\"},\"process\":{\"entity_id\":\"p%d\",\"name\":"
                     "\"cmd.exe\"}}",
                     i / 1000 % 60, i % 1000, type, 1000 + proc % 40);
    else
        n = snprintf(b, sizeof b,
                     "{\"@timestamp\":\"2026-01-01T00:00:%02d.%03dZ\",\"host\":{\"name\":\"h%d\"},"
                     "\"event\":{\"category\":\"process\",\"type\":\"%s\"},\"process\":{\"entity_"
                     "id\":\"p%d\",\"name\":\"%s\",\"parent\":{\"entity_id\":\"p%d\"}}}",
                     i / 1000 % 60, i % 1000, host, type, host * 100 + proc % 40,
                     i % 5 ? "cmd.exe" : "powershell.exe", host * 100 + (proc + 39) % 40);
    *len = (size_t)n;
    return b;
}

static const char rules_toml[] =
    "[rule]\nname = \"one\"\nid = \"11111111-1111-4111-8111-111111111111\"\n"
    "description = \"d\"\nversion = \"1\"\nquery = '''\nprocess where process.name == "
    "\"powershell.exe\"\n'''\n";
static const char seq_toml[] =
    "[rule]\nname = \"two\"\nid = \"22222222-2222-4222-8222-222222222222\"\n"
    "description = \"d\"\nversion = \"1\"\nquery = '''\nsequence by process.entity_id\n"
    "  [process where event.type == \"start\"]\n  [process where event.type == \"end\"]\n'''\n";
static const char byhost_toml[] =
    "[rule]\nname = \"three\"\nid = \"33333333-3333-4333-8333-333333333333\"\n"
    "description = \"d\"\nversion = \"1\"\nquery = '''\nsequence by host.name with maxspan=1s\n"
    "  [process where process.name == \"powershell.exe\"]\n"
    "  [process where event.type == \"end\"]\n'''\n";
static const char lineage_toml[] =
    "[rule]\nname = \"four\"\nid = \"44444444-4444-4444-8444-444444444444\"\n"
    "description = \"d\"\nversion = \"1\"\nquery = '''\nprocess where event.type == \"start\" "
    "and process.name == \"cmd.exe\" and\n  descendant of [process where process.name == "
    "\"powershell.exe\"]\n'''\n";

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* the events 0..nev-1 through one scanner and alerter (errors as the pool
 * reports them) */
static void one_thread(modus_engine *e, const modus_ruleset *rs, int nev, sink *out)
{
    modus_scanner *sc;
    modus_alerter *al;
    modus_scanner_create(e, &sc);
    modus_alerter_create(e, rs, on_alert, out, &al);
    for (int i = 0; i < nev; i++) {
        size_t len;
        char *t = event(i, &len);
        char *copy = malloc(len + MODUS_PADDING);
        memcpy(copy, t, len);
        memset(copy + len, ' ', MODUS_PADDING);
        const modus_event *ev;
        modus_diag dd = {0};
        if (modus_scanner_decode(sc, copy, len, &ev, &dd) == MODUS_OK)
            modus_alerter_event(al, ev);
        else {
            snprintf(dd.file, sizeof dd.file, "in");
            dd.line = (uint64_t)i + 1;
            dd.offset = dd.column ? dd.column - 1 : 0;
            on_error(out, MODUS_EPARSE, &dd);
        }
        free(copy);
    }
    modus_alerter_finish(al);
    modus_alerter_destroy(al);
    modus_scanner_destroy(sc);
}

/* the rules in `files` (of dir; `name` in messages) over nev events: pools of 1-4 workers write
 * what one alerter writes; returns one thread's alert count */
static unsigned compare(const char *dir, const char *name, const char *files, int nev)
{
    char sub[600];
    snprintf(sub, sizeof sub, "%s/set", dir);
    mkdir(sub, 0700);
    for (const char *f = files; *f; f += strlen(f) + 1) {
        char from[700], to[700];
        snprintf(from, sizeof from, "%s/%s", dir, f);
        snprintf(to, sizeof to, "%s/%s", sub, f);
        CHECK(link(from, to) == 0, "%s", to);
    }
    modus_ruleset *rs = NULL;
    size_t loaded = 0, failed = 0;
    modus_ruleset_create(&rs);
    modus_ruleset_add_path(rs, sub, NULL, NULL, &loaded, &failed);
    CHECK(loaded > 0 && failed == 0, "rules: %zu loaded, %zu failed", loaded, failed);
    size_t which;
    CHECK(modus_pool_unsafe(rs, &which) == NULL, "the rules can be partitioned");
    modus_engine_opts eo = {.rules = rs};
    modus_engine *e = NULL;
    modus_diag d;
    CHECK(modus_engine_create(&eo, &e, &d) == MODUS_OK, "engine");
    sink one = {0};
    one_thread(e, rs, nev, &one);
    for (unsigned th = 1; th <= 4; th++) {
        sink got = {0};
        modus_pool *p;
        modus_pool_opts po = {.threads = th};
        CHECK(modus_pool_create(e, rs, &po, on_alert, NULL, on_error, &got, &p) == MODUS_OK,
              "pool of %u", th);
        for (int i = 0; i < nev; i++) {
            size_t len;
            char *t = event(i, &len);
            modus_pool_line(p, t, len, "in", (uint64_t)i + 1, 0);
        }
        modus_pool_finish(p);
        uint64_t events, bad;
        modus_pool_counts(p, &events, &bad);
        CHECK(events + bad == (uint64_t)nev && bad == (uint64_t)nev / 50,
              "%u threads: %llu events, %llu malformed", th, (unsigned long long)events,
              (unsigned long long)bad);
        CHECK(modus_pool_alerts(p) + bad == got.alerts, "%u threads: alerts counted", th);
        CHECK(got.n == one.n && !memcmp(got.p, one.p, one.n),
              "%s, %d events, %u threads: the same alerts and errors, in the same order (%u vs "
              "%u)",
              name, nev, th, got.alerts, one.alerts);
        modus_pool_destroy(p);
        free(got.p);
    }
    modus_engine_destroy(e);
    modus_ruleset_destroy(rs);
    free(one.p);
    for (const char *f = files; *f; f += strlen(f) + 1) {
        char to[700];
        snprintf(to, sizeof to, "%s/%s", sub, f);
        unlink(to);
    }
    rmdir(sub);
    return one.alerts;
}

static void test_pool(void)
{
    char dir[] = "/tmp/modus-test-pool-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    write_file(dir, "a.toml", rules_toml);
    write_file(dir, "b.toml", seq_toml);
    write_file(dir, "c.toml", byhost_toml);
    write_file(dir, "d.toml", lineage_toml);
    unsigned na = compare(dir, "three rules", "a.toml\0b.toml\0c.toml\0", 3000);
    CHECK(na > 100, "three rules: %u alerts", na);
    /* 12 chunks: a host's sequences and process trees span chunks, and
     * the workers take the lanes in turns */
    na = compare(dir, "four rules", "a.toml\0b.toml\0c.toml\0d.toml\0", 12000);
    CHECK(na > 400, "four rules, 12 chunks: %u alerts", na);
    na = compare(dir, "lineage", "d.toml\0", 12000);
    CHECK(na > 100, "lineage, 12 chunks: %u alerts", na);
    /* no rule keeps state: lanes by chunk, the host not read */
    na = compare(dir, "stateless", "a.toml\0", 12000);
    CHECK(na > 100, "one stateless rule, by chunk: %u alerts", na);

    modus_ruleset *rs = NULL;
    size_t loaded = 0, failed = 0;
    modus_ruleset_create(&rs);
    modus_ruleset_add_path(rs, dir, NULL, NULL, &loaded, &failed);
    modus_engine_opts eo = {.rules = rs};
    modus_engine *e = NULL;
    modus_diag d;
    CHECK(modus_engine_create(&eo, &e, &d) == MODUS_OK, "engine");
    modus_scanner *sc;
    modus_alerter *al;
    sink one = {0};
    modus_scanner_create(e, &sc);
    modus_alerter_create(e, rs, on_alert, &one, &al);

    /* the state cap: sequence partials of 2,000 processes that never end */
    modus_state_stats ss;
    modus_alerter_state(al, &ss);
    CHECK(ss.limit > 0 && ss.evicted_partials == 0, "default cap %zu, nothing evicted", ss.limit);
    modus_alerter_state_limit(al, 64 << 10);
    for (int i = 0; i < 2000; i++) {
        char b[256];
        int n = snprintf(b, sizeof b,
                         "{\"@timestamp\":\"2026-01-01T00:01:00Z\",\"host\":{\"name\":\"h\"},"
                         "\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process\":{"
                         "\"entity_id\":\"q%d\",\"name\":\"cmd.exe\"}}%*s",
                         i, MODUS_PADDING, "");
        const modus_event *ev;
        modus_diag dd;
        if (modus_scanner_decode(sc, b, (size_t)n - MODUS_PADDING, &ev, &dd) == MODUS_OK)
            modus_alerter_event(al, ev);
        modus_alerter_state(al, &ss);
        if (ss.bytes > ss.limit) break;
    }
    modus_alerter_state(al, &ss);
    CHECK(ss.bytes <= ss.limit, "state %zu bytes within the cap %zu", ss.bytes, ss.limit);
    CHECK(ss.evicted_partials > 1000, "partials evicted: %llu",
          (unsigned long long)ss.evicted_partials);

    modus_alerter_destroy(al);
    modus_scanner_destroy(sc);
    modus_engine_destroy(e);
    modus_ruleset_destroy(rs);
    free(one.p);
    char path[512];
    for (const char *f = "a.toml\0b.toml\0c.toml\0d.toml\0"; *f; f += strlen(f) + 1) {
        snprintf(path, sizeof path, "%s/%s", dir, f);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    test_lanes();
    test_pool();
    return check_done();
}
