/* from.c - `--from nats://...`: the fleet's event stream as the input of modus
 * scan and modus baseline learn|check. The same engine and rules as for
 * files; each partition this process holds runs on its own thread with its
 * own scanner and alerter (libmodus's consumer, src/fleet/fleet_consume.c):
 * events in stream order, alerts stored in the alerts stream before the
 * events are acknowledged. Runs until SIGINT/SIGTERM, --duration or --idle. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "modus/baseline.h"

const char cli_from_help[] =
    "  --from URL            consume the fleet's events (nats://HOST:PORT[,...]) instead\n"
    "                        of files, until SIGINT/SIGTERM or --duration; partitions are\n"
    "                        shared with every other process of the same group\n"
    "  --partitions N        partitions of the events stream (default: as modus fleet\n"
    "                        init stored them)\n"
    "  --group NAME          consumer group (default: the command: scan, baseline-learn,\n"
    "                        baseline-check); each group sees every event once\n"
    "  --duration SECONDS    stop after this long\n"
    "  --idle SECONDS        stop once nothing came for this long while this process\n"
    "                        holds every partition (one process draining the stream)\n";

int cli_from_option(int c, const char *arg, cli_from *f, const char *cmd)
{
    char *end;
    switch (c) {
    case OPT_FROM: f->fleet.url = arg; return 1;
    case OPT_GROUP: f->group = arg; return 1;
    case OPT_PARTITIONS: {
        unsigned long v = strtoul(arg, &end, 10);
        if (*end || !v || v > MODUS_FLEET_MAX_PARTITIONS) {
            cli_error("%s: --partitions must be 1..%d, not '%s'", cmd, MODUS_FLEET_MAX_PARTITIONS,
                      arg);
            return -1;
        }
        f->partitions = (unsigned)v;
        return 1;
    }
    case OPT_DURATION:
    case OPT_IDLE: {
        double v = strtod(arg, &end);
        if (*end || v < 0 || end == arg) {
            cli_error("%s: --%s needs a number of seconds, not '%s'", cmd,
                      c == OPT_IDLE ? "idle" : "duration", arg);
            return -1;
        }
        *(c == OPT_IDLE ? &f->idle : &f->duration) = v;
        return 1;
    }
    default: return cli_nats_option(c, arg, &f->fleet);
    }
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* one alert line on stdout (lines from several partitions never mix) */
static void print_alert(const char *json, size_t len, int format)
{
    pthread_mutex_lock(&out_mu);
    if (format == 0) {
        fwrite(json, 1, len, stdout);
        putchar('\n');
    } else {
        /* text: the alert's time and its rule's name (the first "name" of
         * an alert is rule.name) */
        const char *keys[] = {"\"@timestamp\":\"", "\"name\":\""};
        char f[2][128] = {"-", "-"};
        for (int i = 0; i < 2; i++) {
            const char *at = NULL;
            for (size_t k = 0; k + strlen(keys[i]) <= len && !at; k++)
                if (!memcmp(json + k, keys[i], strlen(keys[i]))) at = json + k + strlen(keys[i]);
            if (at) {
                const char *e = memchr(at, '"', (size_t)(json + len - at));
                if (e) snprintf(f[i], sizeof f[i], "%.*s", (int)(e - at), at);
            }
        }
        printf("%-28.28s  %s\n", f[0], f[1]);
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void install_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void report(const char *what, modus_consumer *c, double secs, const cli_from *f)
{
    modus_consumer_stats st;
    modus_consumer_stats_get(c, &st);
    fprintf(stderr,
            "modus: %s: stopped after %.0f s: %llu events from %s, %llu alerts stored, %llu "
            "dead-lettered, %llu redeliveries skipped, %llu partitions taken\n",
            what, secs, (unsigned long long)st.messages, f->fleet.url,
            (unsigned long long)st.alerts, (unsigned long long)st.dead,
            (unsigned long long)st.skipped, (unsigned long long)st.takeovers);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs a consumer with handler h until a signal or the duration. */
static int run(const cli_from *f, const char *group, const char *what,
               const modus_consumer_handler *h)
{
    modus_consumer_opts co = {.group = f->group ? f->group : group,
                              .partitions = f->partitions,
                              .max_message = f->max_line,
                              .idle_seconds = f->idle,
                              .log = cli_fleet_log,
                              .log_ctx = NULL};
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", what);
    co.log_ctx = prefix;
    modus_consumer *c = NULL;
    modus_diag d = {0};
    if (modus_consumer_open(&f->fleet, &co, h, &c, &d) != MODUS_OK) {
        cli_diag(what, &d);
        return EXIT_USAGE;
    }
    install_signals();
    if (!f->quiet)
        fprintf(stderr, "modus: %s: consuming %s (group %s)\n", what, f->fleet.url, co.group);
    double t0 = now();
    modus_consumer_run(c, f->duration, &stop_flag);
    report(what, c, now() - t0, f);
    modus_consumer_close(c);
    return EXIT_OK;
}

/* A message the decoder refuses is malformed (dead-lettered); running out
 * of memory is not the message's fault. */
static modus_status decode(modus_scanner *sc, const char *json, size_t len, const modus_event **ev,
                           modus_diag *d)
{
    modus_status st = modus_scanner_decode(sc, json, len, ev, d);
    return st == MODUS_OK || st == MODUS_ENOMEM ? st : MODUS_EPARSE;
}

/* ---- modus scan --from ---------------------------------------------------------------- */

typedef struct scan_from {
    const modus_engine *eng;
    const modus_ruleset *rs;
    int format;
} scan_from;

typedef struct scan_part {
    scan_from *sf;
    modus_scanner *sc;
    modus_alerter *al;
    modus_consume_emit *emit;
} scan_part;

static void scan_alert(void *ctx, const char *json, size_t len, size_t rule)
{
    scan_part *p = ctx;
    (void)rule;
    modus_consume_alert(p->emit, json, len);
    print_alert(json, len, p->sf->format);
}

static void *scan_open(void *ctx, unsigned partition)
{
    (void)partition;
    scan_from *sf = ctx;
    scan_part *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->sf = sf;
    if (modus_scanner_create(sf->eng, &p->sc) != MODUS_OK ||
        modus_alerter_create(sf->eng, sf->rs, scan_alert, p, &p->al) != MODUS_OK) {
        modus_scanner_destroy(p->sc);
        free(p);
        return NULL;
    }
    return p;
}

static modus_status scan_message(void *state, const char *json, size_t len,
                                 modus_consume_emit *emit, modus_diag *d)
{
    scan_part *p = state;
    if (!p) return MODUS_ENOMEM;
    const modus_event *ev;
    modus_status st = decode(p->sc, json, len, &ev, d);
    if (st != MODUS_OK) return st;
    p->emit = emit;
    modus_alerter_event(p->al, ev);
    return MODUS_OK;
}

static void scan_close(void *state)
{
    scan_part *p = state;
    if (!p) return;
    modus_alerter_destroy(p->al);
    modus_scanner_destroy(p->sc);
    free(p);
}

int cli_scan_from(const cli_from *f, const modus_engine *eng, const modus_ruleset *rs, int format)
{
    if (!rs) {
        cli_error("scan --from: runs rules (no --enrich or --no-rules)");
        return EXIT_USAGE;
    }
    scan_from sf = {eng, rs, format};
    modus_consumer_handler h = {scan_open, scan_message, NULL, scan_close, &sf};
    return run(f, "scan", "scan", &h);
}

/* ---- modus baseline learn|check --from ------------------------------------------------ */

typedef struct base_from {
    const modus_engine *eng;
    const char *db;
    bool learn;
    modus_baseline_check_opts check;
    pthread_mutex_t mu;
    uint64_t learned, deviant;
} base_from;

typedef struct base_part {
    base_from *bf;
    modus_scanner *sc;
    modus_baseline *b;
} base_part;

static void *base_open(void *ctx, unsigned partition)
{
    (void)partition;
    base_from *bf = ctx;
    base_part *p = calloc(1, sizeof *p);
    modus_diag d = {0};
    if (!p) return NULL;
    p->bf = bf;
    if (modus_scanner_create(bf->eng, &p->sc) != MODUS_OK ||
        modus_baseline_open(bf->db, bf->learn, &p->b, &d) != MODUS_OK) {
        cli_error("baseline: %s: %s", bf->db, d.message);
        modus_scanner_destroy(p->sc);
        free(p);
        return NULL;
    }
    return p;
}

static modus_status base_message(void *state, const char *json, size_t len,
                                 modus_consume_emit *emit, modus_diag *d)
{
    base_part *p = state;
    if (!p) return MODUS_EIO;
    const modus_event *ev;
    modus_status st = decode(p->sc, json, len, &ev, d);
    if (st != MODUS_OK) return st;
    modus_diag bd = {0};
    if (p->bf->learn) {
        if (modus_baseline_learn(p->b, ev, &bd) != MODUS_OK) return MODUS_EIO;
        pthread_mutex_lock(&p->bf->mu);
        p->bf->learned++;
        pthread_mutex_unlock(&p->bf->mu);
        return MODUS_OK;
    }
    modus_baseline_verdict v;
    if (modus_baseline_check(p->b, ev, &p->bf->check, &v, &bd) != MODUS_OK) return MODUS_EIO;
    if (v.deviant && v.alert) {
        modus_consume_alert(emit, v.alert, v.alert_len);
        print_alert(v.alert, v.alert_len, 0);
        pthread_mutex_lock(&p->bf->mu);
        p->bf->deviant++;
        pthread_mutex_unlock(&p->bf->mu);
    }
    return MODUS_OK;
}

/* a learned batch is written before its events are acknowledged */
static modus_status base_commit(void *state, modus_diag *d)
{
    base_part *p = state;
    if (!p) return MODUS_EIO;
    return p->bf->learn ? modus_baseline_flush(p->b, d) : MODUS_OK;
}

static void base_close(void *state)
{
    base_part *p = state;
    if (!p) return;
    modus_baseline_close(p->b);
    modus_scanner_destroy(p->sc);
    free(p);
}

int cli_baseline_from(const cli_from *f, const char *db, bool learn,
                      const struct modus_baseline_check_opts *check, const char *table)
{
    modus_engine *eng = cli_engine(table);
    if (!eng) return EXIT_USAGE;
    base_from bf = {.eng = eng, .db = db, .learn = learn};
    if (check) bf.check = *check;
    pthread_mutex_init(&bf.mu, NULL);
    /* the profile must be usable before anything is consumed */
    modus_baseline *b = NULL;
    modus_diag d = {0};
    int rc = EXIT_USAGE;
    if (modus_baseline_open(db, learn, &b, &d) != MODUS_OK) {
        cli_error("baseline: %s: %s", db, d.message);
        goto out;
    }
    modus_baseline_close(b);
    modus_consumer_handler h = {base_open, base_message, base_commit, base_close, &bf};
    const char *what = learn ? "baseline learn" : "baseline check";
    rc = run(f, learn ? "baseline-learn" : "baseline-check", what, &h);
    if (rc == EXIT_OK && !f->quiet)
        fprintf(stderr, "modus: %s: %llu events %s\n", what,
                (unsigned long long)(learn ? bf.learned : bf.deviant),
                learn ? "learned" : "deviant");
out:
    pthread_mutex_destroy(&bf.mu);
    modus_engine_destroy(eng);
    return rc;
}
