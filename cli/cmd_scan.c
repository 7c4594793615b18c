/* cmd_scan.c - `modus scan`: read telemetry, classify, write events and a summary. */
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: modus scan [OPTIONS] FILE... | -\n"
          "\n"
          "Reads ECS NDJSON (Elastic Defend, the modus sensor) and flat Sysmon JSON, names\n"
          "the execution modality of every call stack, and runs detection rules: modus's\n"
          "built-in pack, or --rules. Alerts are one JSON object per line (a table on a\n"
          "terminal). With --enrich it writes the events themselves instead.\n"
          "\n"
          "options:\n"
          "  --rules PATH          a rule file or a directory of rules: Elastic's TOML\n"
          "                        (*.toml) and Sigma (*.yml, *.yaml) (repeatable;\n"
          "                        default: the built-in pack)\n"
          "  --sigma-mapping FILE  Sigma logsources and fields -> ECS (default: the embedded\n"
          "                        data/sigma.conf)\n"
          "  --strict              stop if any rule fails to compile (default: report, skip)\n"
          "  --exit-status         exit 1 when there are alerts\n"
          "  --profile             print the cost of the 25 most expensive rules at the end\n"
          "  -j, --jobs N          threads (default: the number of CPUs; 1: one thread).\n"
          "                        Events are shared out by host (host.name, host.hostname,\n"
          "                        host.id, winlog.computer_name, Computer; events without\n"
          "                        one go together); alerts come out as with one thread\n"
          "  --state-mb N          cap on sequence and process-tree state, all threads\n"
          "                        together (default 8); past it the stalest partial\n"
          "                        matches and processes are evicted, and counted\n"
          "  --no-rules            classify only (with --summary: the modality distribution)\n"
          "  --enrich              write every input event with the fields modus adds\n"
          "                        (modality.*, and call_stack_summary,\n"
          "                        call_stack_contains_unbacked, call_stack_final_user_module\n"
          "                        where the source lacks them); no rules run\n"
          "  --format json|text    json: one object per line; text: a readable table\n"
          "                        (default: text on a terminal, json otherwise)\n"
          "  --summary             print the modality distribution on stderr at the end\n"
          "  --max-line BYTES      longest line accepted (default 16 MiB); longer lines are\n"
          "                        reported and skipped\n"
          "  --modalities FILE     use this signature table instead of the embedded one\n"
          "  -q, --quiet           no progress line and no per-line error messages\n"
          "  -h, --help            this help\n"
          "\n"
          "Malformed lines are reported (file:line:column, byte offset) up to 20 per file,\n"
          "counted and skipped; the scan goes on. Exit status: 0, 1 alerts (--exit-status),\n"
          "2 an input error occurred, 3 a rule failed with --strict.\n",
          f);
    fprintf(f, "\nthe fleet's events instead of files (docs/fleet.md):\n%s%s", cli_from_help,
            cli_nats_help);
}

typedef struct stats {
    cli_counts in;
    uint64_t with_stack;
    uint64_t by_modality[64];
    const char *names[64];
    int nnames;
} stats;

static void count_modality(stats *st, const char *name)
{
    for (int i = 0; i < st->nnames; i++)
        if (st->names[i] == name || !strcmp(st->names[i], name)) {
            st->by_modality[i]++;
            return;
        }
    if (st->nnames < 64) {
        st->names[st->nnames] = name;
        st->by_modality[st->nnames++] = 1;
    }
}

static void print_summary(FILE *f, const stats *st)
{
    fprintf(f, "modality summary: %llu events, %llu with a call stack\n",
            (unsigned long long)st->in.events, (unsigned long long)st->with_stack);
    int order[64];
    for (int i = 0; i < st->nnames; i++) order[i] = i;
    for (int i = 1; i < st->nnames; i++)
        for (int j = i; j > 0 && st->by_modality[order[j]] > st->by_modality[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(f, "  %-12s %10s %7s\n", "modality", "events", "share");
    for (int i = 0; i < st->nnames; i++) {
        int k = order[i];
        fprintf(f, "  %-12s %10llu %6.1f%%\n", st->names[k], (unsigned long long)st->by_modality[k],
                st->in.events ? 100.0 * (double)st->by_modality[k] / (double)st->in.events : 0.0);
    }
}

static void field_text(const modus_event *ev, const char *path, char *out, size_t cap)
{
    modus_value v;
    out[0] = 0;
    if (modus_event_get(ev, path, &v) != MODUS_OK) return;
    if (v.type == MODUS_T_ARRAY && v.len) {
        modus_value arr = v;
        modus_value_index(ev, &arr, 0, &v);
    }
    if (v.type != MODUS_T_STRING) return;
    const char *s = v.str;
    size_t n = v.len;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == '\\' || s[i - 1] == '/') {
            s += i;
            n -= i;
            break;
        }
    snprintf(out, cap, "%.*s", (int)n, s);
}

static void print_row(uint64_t lineno, const modus_event *ev)
{
    char cat[24], proc[40];
    field_text(ev, "event.category", cat, sizeof cat);
    if (!cat[0]) field_text(ev, "EventID", cat, sizeof cat);
    size_t pl;
    const char *img = modus_event_image(ev, &pl);
    for (size_t i = pl; i > 0; i--)
        if (img[i - 1] == '\\' || img[i - 1] == '/') {
            img += i;
            pl -= i;
            break;
        }
    snprintf(proc, sizeof proc, "%.*s", (int)pl, img);
    if (!proc[0]) field_text(ev, "process.name", proc, sizeof proc);
    size_t il, sl;
    const char *ini = modus_event_initiator(ev, &il);
    const char *sum = modus_event_summary(ev, &sl);
    printf("%6llu  %-13.13s %-22.22s %-11s %-6s %-8s %-22.*s %.*s%s\n", (unsigned long long)lineno,
           cat[0] ? cat : "-", proc[0] ? proc : "-", modus_event_modality(ev),
           modus_event_confidence(ev), modus_event_syscall(ev), (int)(il ? (il > 22 ? 22 : il) : 1),
           il ? ini : "-", (int)(sl > 60 ? 57 : sl), sl ? sum : "-", sl > 60 ? "..." : "");
}

typedef struct alert_out {
    int format; /* 0 json, 1 text */
    const modus_ruleset *rs;
    modus_scanner *sc; /* to read fields of the alert for the table */
} alert_out;

static void on_alert(void *ctx, const char *json, size_t len, size_t rule)
{
    alert_out *o = ctx;
    if (o->format == 0) {
        fwrite(json, 1, len, stdout);
        putchar('\n');
        return;
    }
    modus_rule_info ri;
    modus_ruleset_rule(o->rs, rule, &ri);
    char *buf = malloc(len + MODUS_PADDING);
    if (!buf) return;
    memcpy(buf, json, len);
    memset(buf + len, ' ', MODUS_PADDING);
    const modus_event *ev;
    modus_diag d;
    char ts[32] = "-", mod[16] = "-", proc[40] = "-";
    if (modus_scanner_decode(o->sc, buf, len, &ev, &d) == MODUS_OK) {
        field_text(ev, "@timestamp", ts, sizeof ts);
        field_text(ev, "modality.name", mod, sizeof mod);
        field_text(ev, "process.executable", proc, sizeof proc);
        if (!proc[0] || !strcmp(proc, "-")) field_text(ev, "process.name", proc, sizeof proc);
    }
    printf("%-24.24s  %-8s  %-10s  %-22.22s  %s\n", ts[0] ? ts : "-",
           ri.severity ? ri.severity : "-", mod[0] ? mod : "-", proc[0] ? proc : "-", ri.name);
    free(buf);
}

static void on_rule_error(void *ctx, const modus_diag *d, const char *text, size_t len)
{
    (void)ctx;
    (void)text;
    (void)len;
    if (d->line)
        fprintf(stderr, "modus: %s:%llu:%llu: %s (rule skipped)\n", d->file,
                (unsigned long long)d->line, (unsigned long long)d->column, d->message);
    else
        fprintf(stderr, "modus: %s: %s\n", d->file, d->message);
}

typedef struct prof_row {
    size_t rule;
    uint64_t runs, ns, alerts;
} prof_row;

static int by_ns(const void *a, const void *b)
{
    const prof_row *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

/* --profile: the 25 most expensive rules, on stderr */
static void print_profile(const modus_alerter *a, const modus_ruleset *rs)
{
    size_t n = modus_ruleset_count(rs);
    prof_row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) return;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i].rule = i;
        modus_alerter_rule_stats(a, i, &rows[i].runs, &rows[i].ns, &rows[i].alerts);
        total += rows[i].ns;
    }
    qsort(rows, n, sizeof *rows, by_ns);
    double mean;
    uint64_t p95;
    modus_alerter_candidates(a, &mean, &p95);
    fprintf(stderr,
            "modus: candidate rules per event (--profile): mean %.1f, p95 %llu of %zu loaded\n",
            mean, (unsigned long long)p95, n);
    uint64_t vh, vm;
    modus_alerter_value_cache(a, &vh, &vm);
    fprintf(stderr,
            "modus: value cache (--profile): %llu of %llu strings matched from it (%.1f %%)\n",
            (unsigned long long)vh, (unsigned long long)(vh + vm),
            vh + vm ? 100.0 * (double)vh / (double)(vh + vm) : 0.0);
    /* what the compiled programs leave to the tree walker, rule by rule */
    fprintf(stderr, "modus: %zu rules keep part of a where clause for the tree walker\n",
            modus_alerter_residual(a));
    for (size_t i = 0; i < n && getenv("MODUS_PROFILE_ALL"); i++) {
        const char *why = modus_alerter_residual_why(a, i);
        modus_rule_info ri;
        if (!why) continue;
        modus_ruleset_rule(rs, i, &ri);
        fprintf(stderr, "  tree walker: %s  %s [rule %zu]\n", why, ri.name, i);
    }
    modus_state_stats ss;
    modus_alerter_state(a, &ss);
    fprintf(stderr,
            "modus: sequence and process state (--profile): peak %.1f MB of %.1f MB, %llu partial "
            "matches and %llu processes evicted, %llu partial matches expired (maxspan)\n",
            (double)ss.peak / 1048576.0, (double)ss.limit / 1048576.0,
            (unsigned long long)ss.evicted_partials, (unsigned long long)ss.evicted_procs,
            (unsigned long long)ss.expired);
    fprintf(stderr, "modus: rule cost (--profile), %.3f s in rules\n", (double)total / 1e9);
    fprintf(stderr, "  %10s %9s %7s %7s  %s\n", "events", "ms", "ns/ev", "alerts", "rule");
    size_t rows_max = getenv("MODUS_PROFILE_ALL") ? n : 25; /* every rule, for analysis */
    for (size_t i = 0; i < n && i < rows_max; i++) {
        modus_rule_info ri;
        modus_ruleset_rule(rs, rows[i].rule, &ri);
        fprintf(stderr, "  %10llu %9.1f %7.0f %7llu  %s", (unsigned long long)rows[i].runs,
                (double)rows[i].ns / 1e6,
                rows[i].runs ? (double)rows[i].ns / (double)rows[i].runs : 0.0,
                (unsigned long long)rows[i].alerts, ri.name);
        if (rows_max == n)
            fprintf(stderr, " [rule %zu]", rows[i].rule); /* as MODUS_PREFILTER=explain */
        fputc('\n', stderr);
    }
    free(rows);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct scan_ctx {
    stats *st;
    modus_alerter *alerter;
    bool enrich;
    int format;
    bool progress;
    double t0, last;
} scan_ctx;

static int on_event(const modus_event *ev, const char *file, uint64_t line, void *arg)
{
    scan_ctx *c = arg;
    stats *st = c->st;
    if (modus_event_has_stack(ev)) st->with_stack++;
    count_modality(st, modus_event_modality(ev));
    if (c->alerter) modus_alerter_event(c->alerter, ev);
    if (c->enrich) {
        if (c->format == 0) {
            size_t n;
            const char *out = modus_event_render(ev, MODUS_RENDER_ENRICHED, &n);
            if (out) {
                fwrite(out, 1, n, stdout);
                putchar('\n');
            }
        } else {
            print_row(line, ev);
        }
    }
    if (c->progress && (st->in.events & 0xffff) == 0 && now() - c->last > 0.5) {
        c->last = now();
        fprintf(stderr, "\r  %s: %llu events, %.1f MB/s   ", file,
                (unsigned long long)st->in.events,
                (double)st->in.bytes_read / 1e6 / (c->last - c->t0));
    }
    return 0;
}

/* ---- -j N: the pool (src/detect/detect_pool.c) ---------------------------- */

typedef struct pool_ctx {
    modus_pool *pool;
    alert_out *ao;
    stats *st;  /* the totals */
    stats *wst; /* per worker (on_event runs on the workers) */
    bool quiet, progress;
    double t0, last;
    char err_file[256]; /* the file whose errors are being reported */
    unsigned reported;
} pool_ctx;

static void pool_alert(void *arg, const char *json, size_t len, size_t rule)
{
    on_alert(((pool_ctx *)arg)->ao, json, len, rule);
}

static void pool_event(void *arg, unsigned worker, const modus_event *ev)
{
    pool_ctx *c = arg;
    stats *st = &c->wst[worker];
    if (modus_event_has_stack(ev)) st->with_stack++;
    count_modality(st, modus_event_modality(ev));
}

static void more_not_shown(pool_ctx *c)
{
    if (c->reported > CLI_MAX_REPORTED)
        cli_error("%s: %u more errors not shown", c->err_file, c->reported - CLI_MAX_REPORTED);
}

/* errors in input order, counted and reported as cli_each_event does */
static void pool_error(void *arg, modus_status s, const modus_diag *d)
{
    pool_ctx *c = arg;
    if (s == MODUS_ETOOLONG)
        c->st->in.too_long++;
    else if (s == MODUS_EPARSE)
        c->st->in.bad_json++;
    else
        c->st->in.io_errors++;
    if (c->quiet) return;
    if (strcmp(c->err_file, d->file)) {
        more_not_shown(c);
        snprintf(c->err_file, sizeof c->err_file, "%s", d->file);
        c->reported = 0;
    }
    if (c->reported++ < CLI_MAX_REPORTED) cli_diag(NULL, d);
}

static void pool_note(modus_status s, const modus_diag *d, void *arg)
{
    pool_ctx *c = arg;
    modus_pool_note(c->pool, s, d);
}

static int pool_line(const char *line, size_t len, const char *file, uint64_t lineno,
                     uint64_t offset, void *arg)
{
    pool_ctx *c = arg;
    if (modus_pool_line(c->pool, line, len, file, lineno, offset) != MODUS_OK) {
        cli_error("out of memory");
        return -1;
    }
    c->st->in.events++; /* lines; the malformed ones are taken off at the end */
    if (c->progress && (c->st->in.events & 0xffff) == 0 && now() - c->last > 0.5) {
        c->last = now();
        fprintf(stderr, "\r  %s: %llu events, %.1f MB/s   ", file,
                (unsigned long long)c->st->in.events,
                (double)c->st->in.bytes_read / 1e6 / (c->last - c->t0));
    }
    return 0;
}

static void merge_stats(stats *into, const stats *from)
{
    into->with_stack += from->with_stack;
    for (int i = 0; i < from->nnames; i++) {
        if (!from->by_modality[i]) continue;
        count_modality(into, from->names[i]); /* finds or adds the name: one */
        for (int k = 0; k < into->nnames; k++)
            if (into->names[k] == from->names[i] || !strcmp(into->names[k], from->names[i])) {
                into->by_modality[k] += from->by_modality[i] - 1;
                break;
            }
    }
}

/* Every line of every file through the pool, then its totals into st. */
static void scan_pool(pool_ctx *c, unsigned threads, char **files, int nfiles,
                      const cli_input_opts *io)
{
    for (int fi = 0; fi < nfiles; fi++)
        if (cli_each_line(files[fi], io, &c->st->in, pool_line, pool_note, c)) break;
    modus_pool_finish(c->pool);
    more_not_shown(c);
    uint64_t events, bad;
    modus_pool_counts(c->pool, &events, &bad);
    c->st->in.events = events;
    for (unsigned i = 0; i < threads; i++) merge_stats(c->st, &c->wst[i]);
    modus_pool_merge_profile(c->pool);
}

static unsigned cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int cmd_scan(int argc, char **argv)
{
    static const struct option opts[] = {{"enrich", no_argument, NULL, 'e'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"summary", no_argument, NULL, 's'},
                                         {"max-line", required_argument, NULL, 'L'},
                                         {"modalities", required_argument, NULL, 'm'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"rules", required_argument, NULL, 'r'},
                                         {"strict", no_argument, NULL, 'S'},
                                         {"exit-status", no_argument, NULL, 'x'},
                                         {"profile", no_argument, NULL, 'P'},
                                         {"no-rules", no_argument, NULL, 'N'},
                                         {"sigma-mapping", required_argument, NULL, 'M'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"state-mb", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         CLI_FROM_LONGOPTS,
                                         CLI_NATS_LONGOPTS,
                                         {NULL, 0, NULL, 0}};
    cli_from from = {.fleet.name = "modus scan"};
    bool enrich = false, summary = false, quiet = false, strict = false, exit_status = false;
    bool profile = false, no_rules = false;
    unsigned jobs = 0;   /* 0: the number of CPUs */
    size_t state_mb = 0; /* 0: the default */
    char *rule_paths[64];
    int nrules = 0;
    int format = -1; /* 0 json, 1 text */
    const char *table = NULL;
    size_t max_line = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qhj:", opts, NULL)) != -1) {
        switch (c) {
        case 'e': enrich = true; break;
        case 'f':
            if ((format = cli_format("scan", optarg)) < 0) return EXIT_USAGE;
            break;
        case 's': summary = true; break;
        case 'L': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || v < 1024 || v > (1ull << 31)) {
                cli_error("scan: --max-line needs a byte count from 1024 to 2147483648, not '%s'",
                          optarg);
                return EXIT_USAGE;
            }
            max_line = (size_t)v;
            break;
        }
        case 'm': table = optarg; break;
        case 'q': quiet = true; break;
        case 'r':
            if (nrules == 64) {
                cli_error("scan: at most 64 --rules");
                return EXIT_USAGE;
            }
            rule_paths[nrules++] = optarg;
            break;
        case 'S': strict = true; break;
        case 'x': exit_status = true; break;
        case 'P': profile = true; break;
        case 'N': no_rules = true; break;
        case 'M': cli_sigma_mapping = optarg; break;
        case 'j':
        case 'T': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || v < 1 ||
                v > (c == 'j' ? 256 : 65536)) {
                cli_error("scan: %s needs a number from 1 to %d, not '%s'",
                          c == 'j' ? "-j" : "--state-mb", c == 'j' ? 256 : 65536, optarg);
                return EXIT_USAGE;
            }
            if (c == 'j')
                jobs = (unsigned)v;
            else
                state_mb = v;
            break;
        }
        case 'h': usage(stdout); return EXIT_OK;
        default: {
            int r = cli_from_option(c, optarg, &from, "scan");
            if (r > 0) break;
            if (!r) usage(stderr);
            return EXIT_USAGE;
        }
        }
    }
    if (optind >= argc && !from.fleet.url) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (format < 0) format = isatty(1) ? 1 : 0;
    modus_ruleset *rs = NULL;
    if (!enrich && !no_rules) {
        modus_ruleset_create(&rs);
        size_t loaded = 0, failed = 0;
        if (!rs) return EXIT_USAGE;
        modus_diag md;
        if (cli_sigma_mapping &&
            modus_ruleset_sigma_mapping(rs, cli_sigma_mapping, &md) != MODUS_OK) {
            cli_diag("sigma mapping", &md);
            modus_ruleset_destroy(rs);
            return EXIT_USAGE;
        }
        if (!nrules) modus_ruleset_add_default(rs, on_rule_error, NULL, &loaded, &failed);
        for (int i = 0; i < nrules; i++)
            if (!cli_add_rules(rs, "scan", rule_paths[i], on_rule_error, NULL, &loaded, &failed)) {
                modus_ruleset_destroy(rs);
                return EXIT_RULES;
            }
        if (failed && strict) {
            cli_error("scan: %zu rules failed to compile (--strict)", failed);
            modus_ruleset_destroy(rs);
            return EXIT_RULES;
        }
        if (!quiet || failed)
            fprintf(stderr, "modus: %zu rules loaded%s", loaded, failed ? "" : "\n");
        if (failed) fprintf(stderr, ", %zu failed and skipped\n", failed);
    }
    modus_engine_opts eo = {.modalities_path = table, .rules = rs};
    modus_engine *eng = NULL;
    modus_diag ed = {0};
    if (modus_engine_create(&eo, &eng, &ed) != MODUS_OK) {
        if (ed.message[0]) cli_diag("modality table", &ed);
        modus_ruleset_destroy(rs);
        return EXIT_USAGE;
    }
    if (from.fleet.url) { /* the fleet's events: src/fleet, cli/from.c */
        from.max_line = max_line;
        from.quiet = quiet;
        int rc = EXIT_USAGE;
        if (optind < argc)
            cli_error("scan: --from reads no files");
        else
            rc = cli_scan_from(&from, eng, rs, format);
        modus_engine_destroy(eng);
        modus_ruleset_destroy(rs);
        return rc;
    }
    alert_out ao = {format, rs, NULL};
    modus_alerter *alerter = NULL;
    /* -j N: every thread, unless the rules need every event on one thread */
    bool jobs_given = jobs != 0;
    if (!jobs) jobs = cpus();
    if (enrich) jobs = 1; /* --enrich writes every event: one thread */
    size_t unsafe_rule;
    const char *unsafe = jobs > 1 && rs ? modus_pool_unsafe(rs, &unsafe_rule) : NULL;
    if (unsafe) {
        if (jobs_given && !quiet) {
            modus_rule_info ri;
            modus_ruleset_rule(rs, unsafe_rule, &ri);
            fprintf(stderr,
                    "modus: -j %u: rule '%s' needs every event on one thread (%s); "
                    "scanning on one thread\n",
                    jobs, ri.name, unsafe);
        }
        jobs = 1;
    }
    if (rs && (modus_scanner_create(eng, &ao.sc) != MODUS_OK ||
               (jobs == 1 && modus_alerter_create(eng, rs, on_alert, &ao, &alerter) != MODUS_OK))) {
        cli_error("out of memory");
        modus_scanner_destroy(ao.sc);
        modus_engine_destroy(eng);
        modus_ruleset_destroy(rs);
        return EXIT_USAGE;
    }
    modus_scanner *sc;
    if (alerter && profile) modus_alerter_profile(alerter, true);
    if (alerter && state_mb) modus_alerter_state_limit(alerter, state_mb << 20);
    /* rules that defeat the prefilter: every event (or every event while a
     * sequence is open); not said when the prefilter is off on purpose */
    bool progress = !quiet && isatty(2);
    double t0 = now();
    stats st = {0};
    pool_ctx pc = {
        .ao = &ao, .st = &st, .quiet = quiet, .progress = progress, .t0 = t0, .last = t0};
    if (jobs > 1) {
        modus_pool_opts po = {.threads = jobs, .state_bytes = state_mb << 20, .profile = profile};
        if (!(pc.wst = calloc(jobs, sizeof *pc.wst)) ||
            modus_pool_create(eng, rs, &po, pool_alert, pool_event, pool_error, &pc, &pc.pool) !=
                MODUS_OK) {
            cli_error("out of memory");
            free(pc.wst);
            modus_scanner_destroy(ao.sc);
            modus_engine_destroy(eng);
            modus_ruleset_destroy(rs);
            return EXIT_USAGE;
        }
    }
    const char *pf_env = getenv("MODUS_PREFILTER");
    modus_alerter *explain = pc.pool && rs ? modus_pool_alerter(pc.pool, 0) : alerter;
    for (size_t i = 0;
         explain && !quiet && !(pf_env && !strcmp(pf_env, "off")) && i < modus_ruleset_count(rs);
         i++) {
        const char *why = modus_alerter_unguarded_why(explain, i);
        modus_rule_info ri;
        if (!why) continue;
        modus_ruleset_rule(rs, i, &ri);
        fprintf(stderr, "modus: rule '%s' defeats the prefilter: %s\n", ri.name, why);
    }
    if (modus_scanner_create(eng, &sc) != MODUS_OK) {
        cli_error("out of memory");
        modus_pool_destroy(pc.pool);
        free(pc.wst);
        modus_alerter_destroy(alerter);
        modus_scanner_destroy(ao.sc);
        modus_engine_destroy(eng);
        modus_ruleset_destroy(rs);
        return EXIT_USAGE;
    }
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (!enrich && format == 1)
        printf("%-24s  %-8s  %-10s  %-22s  %s\n", "TIME", "SEVERITY", "MODALITY", "PROCESS",
               "RULE");
    if (enrich && format == 1)
        printf("%6s  %-13s %-22s %-11s %-6s %-8s %-22s %s\n", "LINE", "CATEGORY", "PROCESS",
               "MODALITY", "CONF", "SYSCALL", "INITIATOR", "SUMMARY");
    scan_ctx ctx = {&st, alerter, enrich, format, progress, t0, t0};
    cli_input_opts io = {.max_line = max_line, .quiet = quiet};
    modus_pool *pool = pc.pool;
    if (pool) {
        scan_pool(&pc, jobs, argv + optind, argc - optind, &io);
        ctx.last = pc.last;
    } else {
        for (int fi = optind; fi < argc; fi++)
            cli_each_event(sc, argv[fi], &io, &st.in, on_event, &ctx);
        if (alerter) modus_alerter_finish(alerter);
    }
    /* the alerter that holds the counts: the only one, or the pool's merged one */
    modus_alerter *counts = pool && rs ? modus_pool_alerter(pool, 0) : alerter;
    uint64_t nalerts = pool ? modus_pool_alerts(pool) : alerter ? modus_alerter_count(alerter) : 0;
    char state[160] = "";
    uint64_t evicted = 0;
    if (counts) {
        modus_state_stats ss;
        modus_alerter_state(counts, &ss);
        evicted = ss.evicted_partials + ss.evicted_procs;
        snprintf(state, sizeof state, "; state: %llu evicted (peak %.1f MB of %.0f MB)",
                 (unsigned long long)evicted, (double)ss.peak / 1048576.0,
                 (double)ss.limit / 1048576.0);
    }
    if (progress && ctx.last != t0) fputs("\r\033[K", stderr);
    fflush(stdout);
    uint64_t errors = cli_errors(&st.in);
    if (summary) print_summary(stderr, &st);
    fflush(stdout);
    if (errors || !quiet)
        fprintf(
            stderr,
            "modus: scanned %llu events (%.1f MB) in %.2f s, %llu alerts; errors: %llu malformed, "
            "%llu too long, %llu unreadable files%s%s\n",
            (unsigned long long)st.in.events, (double)st.in.bytes_done / 1e6, now() - t0,
            (unsigned long long)nalerts, (unsigned long long)st.in.bad_json,
            (unsigned long long)st.in.too_long,
            (unsigned long long)(st.in.files_failed + st.in.io_errors),
            errors ? " (skipped, see above)" : "", state);
    if (pool && rs && evicted && !quiet) /* README: "Every core, and bounded state" */
        fprintf(stderr,
                "modus: note: with -j %u each thread evicts from its share of the state cap, so "
                "the alerts may differ from -j 1's; --state-mb until 0 evicted for the same\n",
                jobs);
    if (pool && profile) {
        fprintf(stderr, "modus: -j %u (--profile): events per thread:", jobs);
        for (unsigned i = 0; i < jobs; i++)
            fprintf(stderr, " %llu", (unsigned long long)modus_pool_worker_events(pool, i));
        fputc('\n', stderr);
    }
    if (counts && profile) print_profile(counts, rs);
    uint64_t alerts = nalerts;
    modus_pool_destroy(pool);
    free(pc.wst);
    modus_alerter_destroy(alerter);
    modus_scanner_destroy(ao.sc);
    modus_scanner_destroy(sc);
    modus_engine_destroy(eng);
    modus_ruleset_destroy(rs);
    if (errors) return EXIT_USAGE;
    return exit_status && alerts ? EXIT_ALERTS : EXIT_OK;
}
