/* cmd_baseline.c - `modus baseline learn|check|show|merge|report`: learn what
 * each modality normally does (per program, host and fleet) and flag what
 * deviates. The model is described in src/baseline/baseline.c. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "modus/baseline.h"

static void usage(FILE *f)
{
    fputs("usage: modus baseline learn  --db DB FILE...\n"
          "       modus baseline check  --db DB [--scope fleet|host] [--rare N] [--rules PATH]\n"
          "                             [--annotate] [--exit-status] FILE...\n"
          "       modus baseline show   --db DB [--json] [--top N]\n"
          "       modus baseline merge  --db OUT IN...\n"
          "       modus baseline report --db DB --html OUT [--top N]\n"
          "\n"
          "A profile counts, per host, each (program, signer, behaviour class, modality,\n"
          "call-stack shape) with first and last seen; the fleet view sums hosts. DB is a\n"
          "SQLite file or a postgresql:// URL (same schema).\n"
          "\n"
          "  learn    build or extend a profile (incremental, batched transactions)\n"
          "  check    one alert (JSON line) per event whose tuple is new, or seen at most\n"
          "           --rare N times (default 0), with baseline.* (seen_count, hosts,\n"
          "           first_seen, last_seen, reason, expected.{modalities,behaviours,shapes});\n"
          "           --scope host compares with the event's own host only (default fleet);\n"
          "           --rules PATH instead runs those EQL rules over every event annotated\n"
          "           with baseline.* and prints their alerts; --annotate prints the\n"
          "           annotated events themselves\n"
          "  show     totals, events per modality and per behaviour family, top tuples\n"
          "  merge    add host profiles IN... into OUT (hosts stay distinct)\n"
          "  report   one self-contained HTML page: modality x behaviour heat map, rarest\n"
          "           tuples, drill-down tables\n"
          "\n"
          "options: --modalities FILE, --max-line BYTES, -q/--quiet, -h/--help.\n"
          "learn and check read the fleet's events with --from nats://... (below).\n"
          "Exit status: 0, 1 deviations found (check --exit-status), 2 usage, input or\n"
          "database error, 3 rule error.\n",
          f);
    fprintf(f, "\n%s%s", cli_from_help, cli_nats_help);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void db_error(const char *db, const modus_diag *d, modus_status st)
{
    cli_error("baseline: %s: %s", db, d->message[0] ? d->message : modus_strerror(st));
}

typedef struct opts {
    const char *db, *html, *table;
    char *rules[64];
    int nrules;
    size_t max_line, top;
    bool json, quiet, annotate, exit_status;
    modus_baseline_check_opts check;
    cli_from from; /* --from: the fleet's events (cli/from.c) */
} opts;

/* The prologue of learn, check and merge: inputs given, the profile open. */
static modus_baseline *open_for(const opts *o, int argc, bool create, const char *what)
{
    if (optind >= argc) {
        cli_error("baseline %s", what);
        return NULL;
    }
    modus_diag d = {0};
    modus_baseline *b;
    modus_status st = modus_baseline_open(o->db, create, &b, &d);
    if (st != MODUS_OK) {
        db_error(o->db, &d, st);
        return NULL;
    }
    return b;
}

static int parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {{"db", required_argument, NULL, 'd'},
                                       {"html", required_argument, NULL, 'H'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"top", required_argument, NULL, 't'},
                                       {"scope", required_argument, NULL, 's'},
                                       {"rare", required_argument, NULL, 'r'},
                                       {"rules", required_argument, NULL, 'R'},
                                       {"annotate", no_argument, NULL, 'a'},
                                       {"exit-status", no_argument, NULL, 'x'},
                                       {"modalities", required_argument, NULL, 'm'},
                                       {"max-line", required_argument, NULL, 'L'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       CLI_FROM_LONGOPTS,
                                       CLI_NATS_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
    int c;
    o->top = 20;
    o->from.fleet.name = "modus baseline";
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd': o->db = optarg; break;
        case 'H': o->html = optarg; break;
        case 'j': o->json = true; break;
        case 't':
            o->top = strtoul(optarg, &end, 10);
            if (*end || !o->top || o->top > 100000) {
                cli_error("baseline: --top needs a number from 1 to 100000, not '%s'", optarg);
                return -1;
            }
            break;
        case 's':
            if (!strcmp(optarg, "host"))
                o->check.scope = MODUS_BASELINE_HOST;
            else if (!strcmp(optarg, "fleet"))
                o->check.scope = MODUS_BASELINE_FLEET;
            else {
                cli_error("baseline: --scope must be fleet or host, not '%s'", optarg);
                return -1;
            }
            break;
        case 'r':
            o->check.rare = strtoull(optarg, &end, 10);
            if (*end || optarg[0] < '0' || optarg[0] > '9') {
                cli_error("baseline: --rare needs a count, not '%s'", optarg);
                return -1;
            }
            break;
        case 'R':
            if (o->nrules == 64) {
                cli_error("baseline: at most 64 --rules");
                return -1;
            }
            o->rules[o->nrules++] = optarg;
            break;
        case 'a': o->annotate = true; break;
        case 'x': o->exit_status = true; break;
        case 'm': o->table = optarg; break;
        case 'L': {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v < 1024 || v > (1ull << 31)) {
                cli_error("baseline: --max-line needs a byte count from 1024 to 2147483648");
                return -1;
            }
            o->max_line = (size_t)v;
            break;
        }
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); return 1;
        default: {
            int r = cli_from_option(c, optarg, &o->from, "baseline");
            if (r > 0) break;
            if (!r) usage(stderr);
            return -1;
        }
        }
    }
    if (!o->db) {
        cli_error("baseline: --db DB is required");
        return -1;
    }
    return 0;
}

/* ---- learn ------------------------------------------------------------------- */

typedef struct learn_ctx {
    modus_baseline *b;
    const char *db;
    int failed;
} learn_ctx;

static int on_learn(const modus_event *ev, const char *file, uint64_t line, void *arg)
{
    learn_ctx *c = arg;
    modus_diag d = {0};
    modus_status st = modus_baseline_learn(c->b, ev, &d);
    if (st != MODUS_OK) {
        db_error(c->db, &d, st);
        c->failed = 1;
        return 1;
    }
    return 0;
}

static int do_learn(opts *o, int argc, char **argv)
{
    modus_baseline *b = open_for(o, argc, true, "learn: no input files");
    if (!b) return EXIT_USAGE;
    modus_diag d = {0};
    modus_status st;
    modus_engine *e = cli_engine(o->table);
    modus_scanner *sc = NULL;
    if (!e || modus_scanner_create(e, &sc) != MODUS_OK) {
        modus_engine_destroy(e);
        modus_baseline_close(b);
        return EXIT_USAGE;
    }
    double t0 = now();
    cli_counts n = {0};
    learn_ctx c = {b, o->db, 0};
    cli_input_opts io = {.max_line = o->max_line, .quiet = o->quiet};
    for (int i = optind; i < argc && !c.failed; i++)
        cli_each_event(sc, argv[i], &io, &n, on_learn, &c);
    if (!c.failed && (st = modus_baseline_flush(b, &d)) != MODUS_OK) {
        db_error(o->db, &d, st);
        c.failed = 1;
    }
    double dt = now() - t0;
    if (!o->quiet || c.failed)
        fprintf(stderr,
                "modus: baseline: learned %llu events into %s (%s) in %.2f s (%.0f events/s), "
                "%llu tuple rows written; errors: %llu\n",
                (unsigned long long)n.events, o->db, modus_baseline_backend(b), dt,
                dt > 0 ? (double)n.events / dt : 0.0, (unsigned long long)modus_baseline_written(b),
                (unsigned long long)cli_errors(&n));
    modus_scanner_destroy(sc);
    modus_engine_destroy(e);
    modus_baseline_close(b);
    return c.failed || cli_errors(&n) ? EXIT_USAGE : EXIT_OK;
}

/* ---- check ------------------------------------------------------------------- */

typedef struct check_ctx {
    modus_baseline *b;
    const opts *o;
    modus_scanner *rsc; /* decodes annotated events for --rules */
    modus_alerter *alerter;
    char *copy;
    size_t copy_cap;
    uint64_t deviant;
    int failed;
} check_ctx;

static void on_rule_alert(void *ctx, const char *json, size_t len, size_t rule)
{
    check_ctx *c = ctx;
    fwrite(json, 1, len, stdout);
    putchar('\n');
    c->deviant++;
}

static int on_check(const modus_event *ev, const char *file, uint64_t line, void *arg)
{
    check_ctx *c = arg;
    modus_diag d = {0};
    modus_baseline_verdict v;
    modus_status st = modus_baseline_check(c->b, ev, &c->o->check, &v, &d);
    if (st != MODUS_OK) {
        db_error(c->o->db, &d, st);
        c->failed = 1;
        return 1;
    }
    if (c->o->annotate) {
        fwrite(v.annotated, 1, v.annotated_len, stdout);
        putchar('\n');
        if (v.deviant) c->deviant++;
        return 0;
    }
    if (c->alerter) {
        if (v.annotated_len + MODUS_PADDING > c->copy_cap) {
            size_t cap = 2 * (v.annotated_len + MODUS_PADDING);
            char *p = realloc(c->copy, cap);
            if (!p) {
                cli_error("out of memory");
                c->failed = 1;
                return 1;
            }
            c->copy = p;
            c->copy_cap = cap;
        }
        memcpy(c->copy, v.annotated, v.annotated_len);
        memset(c->copy + v.annotated_len, ' ', MODUS_PADDING);
        const modus_event *aev;
        if (modus_scanner_decode(c->rsc, c->copy, v.annotated_len, &aev, &d) == MODUS_OK)
            modus_alerter_event(c->alerter, aev);
        return 0;
    }
    if (v.deviant) {
        fwrite(v.alert, 1, v.alert_len, stdout);
        putchar('\n');
        c->deviant++;
    }
    return 0;
}

static void on_rule_error(void *ctx, const modus_diag *d, const char *text, size_t len)
{
    fprintf(stderr, "modus: %s:%llu:%llu: %s (rule skipped)\n", d->file,
            (unsigned long long)d->line, (unsigned long long)d->column, d->message);
}

static int do_check(opts *o, int argc, char **argv)
{
    modus_baseline *b = open_for(o, argc, false, "check: no input files");
    if (!b) return EXIT_USAGE;
    modus_diag d = {0};
    int rc = EXIT_USAGE;
    modus_ruleset *rs = NULL;
    modus_engine *e = cli_engine(o->table), *re = NULL;
    modus_scanner *sc = NULL;
    check_ctx c = {b, o, NULL, NULL, NULL, 0, 0, 0};
    if (!e || modus_scanner_create(e, &sc) != MODUS_OK) goto out;
    if (o->nrules) {
        size_t loaded = 0, failed = 0;
        if (modus_ruleset_create(&rs) != MODUS_OK) goto out;
        for (int i = 0; i < o->nrules; i++)
            if (!cli_add_rules(rs, "baseline check", o->rules[i], on_rule_error, NULL, &loaded,
                               &failed)) {
                rc = EXIT_RULES;
                goto out;
            }
        if (!loaded) {
            cli_error("baseline check: no rule compiled");
            rc = EXIT_RULES;
            goto out;
        }
        modus_engine_opts eo = {.modalities_path = o->table, .rules = rs};
        if (modus_engine_create(&eo, &re, &d) != MODUS_OK ||
            modus_scanner_create(re, &c.rsc) != MODUS_OK ||
            modus_alerter_create(re, rs, on_rule_alert, &c, &c.alerter) != MODUS_OK) {
            cli_error("baseline check: cannot build the rule engine");
            goto out;
        }
    }
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    double t0 = now();
    cli_counts n = {0};
    cli_input_opts io = {.max_line = o->max_line, .quiet = o->quiet};
    for (int i = optind; i < argc && !c.failed; i++)
        cli_each_event(sc, argv[i], &io, &n, on_check, &c);
    if (c.alerter) modus_alerter_finish(c.alerter);
    fflush(stdout);
    double dt = now() - t0;
    char state[128] = ""; /* the rules' sequence and process state: evictions are never silent */
    if (c.alerter) {
        modus_state_stats ss;
        modus_alerter_state(c.alerter, &ss);
        snprintf(state, sizeof state, "; state: %llu evicted (peak %.1f MB of %.0f MB)",
                 (unsigned long long)(ss.evicted_partials + ss.evicted_procs), ss.peak / 1048576.0,
                 ss.limit / 1048576.0);
    }
    if (!o->quiet || c.failed)
        fprintf(stderr,
                "modus: baseline: checked %llu events against %s (%s) in %.2f s (%.0f "
                "events/s): %llu %s; errors: %llu%s\n",
                (unsigned long long)n.events, o->db, modus_baseline_backend(b), dt,
                dt > 0 ? (double)n.events / dt : 0.0, (unsigned long long)c.deviant,
                c.alerter ? "rule alerts" : "deviations", (unsigned long long)cli_errors(&n),
                state);
    if (c.failed || cli_errors(&n))
        rc = EXIT_USAGE;
    else
        rc = o->exit_status && c.deviant ? EXIT_ALERTS : EXIT_OK;
out:
    free(c.copy);
    modus_alerter_destroy(c.alerter);
    modus_scanner_destroy(c.rsc);
    modus_engine_destroy(re);
    modus_ruleset_destroy(rs);
    modus_scanner_destroy(sc);
    modus_engine_destroy(e);
    modus_baseline_close(b);
    return rc;
}

/* ---- merge ------------------------------------------------------------------- */

static int do_merge(opts *o, int argc, char **argv)
{
    modus_baseline *b = open_for(o, argc, true, "merge: no input profiles");
    if (!b) return EXIT_USAGE;
    modus_diag d = {0};
    modus_status st;
    int rc = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        modus_baseline *in;
        if ((st = modus_baseline_open(argv[i], false, &in, &d)) != MODUS_OK) {
            db_error(argv[i], &d, st);
            rc = EXIT_USAGE;
            continue;
        }
        if ((st = modus_baseline_merge(b, in, &d)) != MODUS_OK) {
            db_error(d.file[0] ? o->db : argv[i], &d, st);
            rc = EXIT_USAGE;
        }
        modus_baseline_close(in);
    }
    if (!o->quiet)
        fprintf(stderr, "modus: baseline: merged %d profiles into %s, %llu tuple rows written\n",
                argc - optind, o->db, (unsigned long long)modus_baseline_written(b));
    modus_baseline_close(b);
    return rc;
}

/* ---- show and report ------------------------------------------------------- */

typedef struct cell_v {
    char *modality, *family;
    uint64_t events, tuples, rare;
} cell_v;

typedef struct row_v {
    char *program, *signer, *behaviour, *modality, *shape;
    uint64_t count, hosts;
    int64_t first, last;
} row_v;

typedef struct summary {
    modus_baseline_totals tot;
    cell_v *cells;
    size_t ncells, capcells;
    row_v *top, *rare;
    size_t ntop, nrare, cap_top, cap_rare;
    bool oom;
} summary;

static void add_cell(void *ctx, const modus_baseline_cell *c)
{
    summary *s = ctx;
    if (s->ncells == s->capcells) {
        size_t cap = s->capcells ? 2 * s->capcells : 64;
        cell_v *v = realloc(s->cells, cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return;
        }
        s->cells = v;
        s->capcells = cap;
    }
    s->cells[s->ncells++] =
        (cell_v){strdup(c->modality), strdup(c->family), c->events, c->tuples, c->rare_tuples};
}

static void add_row(row_v **v, size_t *n, size_t *cap, const modus_baseline_row *r, bool *oom)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        row_v *p = realloc(*v, c * sizeof *p);
        if (!p) {
            *oom = true;
            return;
        }
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = (row_v){strdup(r->program),
                           strdup(r->signer),
                           strdup(r->behaviour),
                           strdup(r->modality),
                           strdup(r->shape),
                           r->count,
                           r->hosts,
                           r->first_ms,
                           r->last_ms};
}

static void add_top(void *ctx, const modus_baseline_row *r)
{
    summary *s = ctx;
    add_row(&s->top, &s->ntop, &s->cap_top, r, &s->oom);
}

static void add_rare(void *ctx, const modus_baseline_row *r)
{
    summary *s = ctx;
    add_row(&s->rare, &s->nrare, &s->cap_rare, r, &s->oom);
}

static void free_rows(row_v *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].program);
        free(v[i].signer);
        free(v[i].behaviour);
        free(v[i].modality);
        free(v[i].shape);
    }
    free(v);
}

static void summary_free(summary *s)
{
    for (size_t i = 0; i < s->ncells; i++) {
        free(s->cells[i].modality);
        free(s->cells[i].family);
    }
    free(s->cells);
    free_rows(s->top, s->ntop);
    free_rows(s->rare, s->nrare);
}

static int load_summary(const opts *o, summary *s)
{
    modus_diag d = {0};
    modus_baseline *b;
    modus_status st = modus_baseline_open(o->db, false, &b, &d);
    if (st == MODUS_OK) st = modus_baseline_totals_get(b, &s->tot, &d);
    if (st == MODUS_OK) st = modus_baseline_cells(b, add_cell, s, &d);
    if (st == MODUS_OK) st = modus_baseline_top(b, false, o->top, add_top, s, &d);
    if (st == MODUS_OK) st = modus_baseline_top(b, true, o->top, add_rare, s, &d);
    if (st == MODUS_OK && s->oom) st = MODUS_ENOMEM;
    if (st != MODUS_OK) db_error(o->db, &d, st);
    modus_baseline_close(b);
    return st == MODUS_OK ? 0 : -1;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* events per modality, from the cells */
typedef struct mod_total {
    const char *name;
    uint64_t events;
} mod_total;

static size_t modality_totals(const summary *s, mod_total *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        size_t k = 0;
        while (k < n && strcmp(out[k].name, s->cells[i].modality)) k++;
        if (k == n) {
            if (n == cap) continue;
            out[n++] = (mod_total){s->cells[i].modality, 0};
        }
        out[k].events += s->cells[i].events;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j].events > out[j - 1].events; j--) {
            mod_total t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static void json_rows(FILE *f, const row_v *v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        char a[32], z[32];
        modus_baseline_iso(v[i].first, a);
        modus_baseline_iso(v[i].last, z);
        fputs(i ? ",{\"program\":" : "{\"program\":", f);
        json_str(f, v[i].program);
        fputs(",\"signer\":", f);
        json_str(f, v[i].signer);
        fputs(",\"behaviour\":", f);
        json_str(f, v[i].behaviour);
        fputs(",\"modality\":", f);
        json_str(f, v[i].modality);
        fputs(",\"shape\":", f);
        json_str(f, v[i].shape);
        fprintf(f,
                ",\"seen_count\":%llu,\"hosts\":%llu,\"first_seen\":\"%s\",\"last_seen\":\"%s\"}",
                (unsigned long long)v[i].count, (unsigned long long)v[i].hosts, a, z);
    }
    fputc(']', f);
}

static int do_show(opts *o)
{
    summary s = {0};
    if (load_summary(o, &s)) {
        summary_free(&s);
        return EXIT_USAGE;
    }
    mod_total mt[64];
    size_t nm = modality_totals(&s, mt, 64);
    if (o->json) {
        printf("{\"rows\":%llu,\"tuples\":%llu,\"events\":%llu,\"hosts\":%llu,\"programs\":%llu,"
               "\"modalities\":{",
               (unsigned long long)s.tot.rows, (unsigned long long)s.tot.tuples,
               (unsigned long long)s.tot.events, (unsigned long long)s.tot.hosts,
               (unsigned long long)s.tot.programs);
        for (size_t i = 0; i < nm; i++) {
            if (i) putchar(',');
            json_str(stdout, mt[i].name);
            printf(":%llu", (unsigned long long)mt[i].events);
        }
        fputs("},\"cells\":[", stdout);
        for (size_t i = 0; i < s.ncells; i++) {
            fputs(i ? ",{\"modality\":" : "{\"modality\":", stdout);
            json_str(stdout, s.cells[i].modality);
            fputs(",\"behaviour\":", stdout);
            json_str(stdout, s.cells[i].family);
            printf(",\"events\":%llu,\"tuples\":%llu,\"rare_tuples\":%llu}",
                   (unsigned long long)s.cells[i].events, (unsigned long long)s.cells[i].tuples,
                   (unsigned long long)s.cells[i].rare);
        }
        fputs("],\"top\":", stdout);
        json_rows(stdout, s.top, s.ntop);
        fputs(",\"rarest\":", stdout);
        json_rows(stdout, s.rare, s.nrare);
        fputs("}\n", stdout);
    } else {
        printf("profile %s: %llu events, %llu tuples (%llu host rows), %llu programs, %llu "
               "hosts\n\n",
               o->db, (unsigned long long)s.tot.events, (unsigned long long)s.tot.tuples,
               (unsigned long long)s.tot.rows, (unsigned long long)s.tot.programs,
               (unsigned long long)s.tot.hosts);
        printf("  %-12s %12s\n", "modality", "events");
        for (size_t i = 0; i < nm; i++)
            printf("  %-12s %12llu\n", mt[i].name, (unsigned long long)mt[i].events);
        printf("\n  %-12s %-40s %10s %8s %8s\n", "modality", "behaviour", "events", "tuples",
               "rare");
        for (size_t i = 0; i < s.ncells; i++)
            printf("  %-12s %-40.40s %10llu %8llu %8llu\n", s.cells[i].modality, s.cells[i].family,
                   (unsigned long long)s.cells[i].events, (unsigned long long)s.cells[i].tuples,
                   (unsigned long long)s.cells[i].rare);
        printf("\n  top tuples\n  %10s %5s  %-11s %-40s %s\n", "count", "hosts", "modality",
               "behaviour", "program");
        for (size_t i = 0; i < s.ntop; i++)
            printf("  %10llu %5llu  %-11s %-40.40s %s\n", (unsigned long long)s.top[i].count,
                   (unsigned long long)s.top[i].hosts, s.top[i].modality, s.top[i].behaviour,
                   s.top[i].program);
    }
    summary_free(&s);
    return EXIT_OK;
}

static void html_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void html_rows(FILE *f, const char *id, const row_v *v, size_t n)
{
    fprintf(f,
            "<table id=\"%s\"><thead><tr><th>count</th><th>hosts</th><th>modality</th>"
            "<th>behaviour</th><th>program</th><th>signer</th><th>stack shape</th>"
            "<th>first seen</th><th>last seen</th></tr></thead><tbody>\n",
            id);
    for (size_t i = 0; i < n; i++) {
        char a[32], z[32];
        modus_baseline_iso(v[i].first, a);
        modus_baseline_iso(v[i].last, z);
        fputs("<tr data-modality=\"", f);
        html_str(f, v[i].modality);
        fputs("\" data-behaviour=\"", f);
        html_str(f, v[i].behaviour);
        fprintf(f, "\" data-count=\"%llu\"><td>%llu</td><td>%llu</td><td>",
                (unsigned long long)v[i].count, (unsigned long long)v[i].count,
                (unsigned long long)v[i].hosts);
        html_str(f, v[i].modality);
        fputs("</td><td>", f);
        html_str(f, v[i].behaviour);
        fputs("</td><td>", f);
        html_str(f, v[i].program);
        fputs("</td><td>", f);
        html_str(f, v[i].signer);
        fputs("</td><td class=\"shape\">", f);
        html_str(f, v[i].shape);
        fprintf(f, "</td><td>%s</td><td>%s</td></tr>\n", a, z);
    }
    fputs("</tbody></table>\n", f);
}

static int do_report(opts *o)
{
    if (!o->html) {
        cli_error("baseline report: --html OUT is required");
        return EXIT_USAGE;
    }
    if (o->top == 20) o->top = 200;
    summary s = {0};
    if (load_summary(o, &s)) {
        summary_free(&s);
        return EXIT_USAGE;
    }
    FILE *f = cli_fopen_private(o->html, false);
    if (!f) {
        cli_error("baseline report: %s: cannot write", o->html);
        summary_free(&s);
        return EXIT_USAGE;
    }
    mod_total mt[64];
    size_t nm = modality_totals(&s, mt, 64);
    /* behaviour families, most events first */
    mod_total fam[512];
    size_t nf = 0;
    for (size_t i = 0; i < s.ncells; i++) {
        size_t k = 0;
        while (k < nf && strcmp(fam[k].name, s.cells[i].family)) k++;
        if (k == nf) {
            if (nf == 512) continue;
            fam[nf++] = (mod_total){s.cells[i].family, 0};
        }
        fam[k].events += s.cells[i].events;
    }
    for (size_t i = 1; i < nf; i++)
        for (size_t j = i; j > 0 && fam[j].events > fam[j - 1].events; j--) {
            mod_total t = fam[j];
            fam[j] = fam[j - 1];
            fam[j - 1] = t;
        }
    uint64_t maxc = 1;
    for (size_t i = 0; i < s.ncells; i++)
        if (s.cells[i].events > maxc) maxc = s.cells[i].events;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>modus baseline report</title>\n<style>\n"
          "body{font:13px/1.4 system-ui,sans-serif;margin:20px;color:#222;background:#fafafa}\n"
          "h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
          ".totals span{display:inline-block;margin-right:18px;padding:4px 8px;background:#fff;"
          "border:1px solid #ddd;border-radius:4px}\n"
          "table{border-collapse:collapse;background:#fff;margin:6px 0;table-layout:fixed;"
          "width:100%}"
          "td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;"
          "overflow-wrap:anywhere}"
          "th{background:#eee}td.shape{font-family:monospace;font-size:11px}\n"
          /* count hosts modality behaviour program signer shape first last */
          "th:nth-child(1),th:nth-child(2){width:48px}th:nth-child(3){width:80px}"
          "th:nth-child(4){width:17%}th:nth-child(5){width:17%}th:nth-child(6){width:7%}"
          "th:nth-child(8),th:nth-child(9){width:120px}td:nth-child(8),td:nth-child(9){"
          "font-size:11px}\n"
          "svg text{font-size:11px;font-family:system-ui,sans-serif}"
          "rect.cell{cursor:pointer;stroke:#fff}rect.cell:hover{stroke:#000}\n"
          ".hidden{display:none}\n</style></head><body>\n"
          "<h1>modus baseline report</h1>\n<p class=\"totals\">",
          f);
    fprintf(f,
            "<span>events <b id=\"t-events\">%llu</b></span><span>tuples <b "
            "id=\"t-tuples\">%llu</b></span><span>programs <b>%llu</b></span><span>hosts <b "
            "id=\"t-hosts\">%llu</b></span><span>profile <b>",
            (unsigned long long)s.tot.events, (unsigned long long)s.tot.tuples,
            (unsigned long long)s.tot.programs, (unsigned long long)s.tot.hosts);
    html_str(f, o->db);
    fputs("</b></span></p>\n<h2>Modality &times; behaviour</h2>\n"
          "<p>Cell colour: events (log scale); a red border marks cells where most tuples were "
          "seen once (rarity). Click a cell to list its tuples below.</p>\n",
          f);
    int cw = 26, ch = 22, left = 110, topm = 190;
    int w = left + (int)nf * cw + 20, h = topm + (int)nm * ch + 10;
    fprintf(f,
            "<svg id=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n",
            w, h, w, h);
    for (size_t j = 0; j < nf; j++) {
        fprintf(f, "<text transform=\"translate(%d,%d) rotate(-60)\">", left + (int)j * cw + 14,
                topm - 6);
        html_str(f, fam[j].name);
        fputs("</text>\n", f);
    }
    for (size_t i = 0; i < nm; i++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
                topm + (int)i * ch + 15);
        html_str(f, mt[i].name);
        fputs("</text>\n", f);
        for (size_t j = 0; j < nf; j++) {
            const cell_v *c = NULL;
            for (size_t k = 0; k < s.ncells; k++)
                if (!strcmp(s.cells[k].modality, mt[i].name) &&
                    !strcmp(s.cells[k].family, fam[j].name)) {
                    c = &s.cells[k];
                    break;
                }
            if (!c) continue;
            double v = log((double)c->events + 1) / log((double)maxc + 1);
            int r = (int)(255 - v * 200), g = (int)(255 - v * 120), bl = 255;
            bool rare = c->tuples && 2 * c->rare > c->tuples;
            fprintf(f,
                    "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                    "fill=\"rgb(%d,%d,%d)\"%s data-modality=\"",
                    left + (int)j * cw, topm + (int)i * ch, cw - 1, ch - 1, r, g, bl,
                    rare ? " style=\"stroke:#d00;stroke-width:2\"" : "");
            html_str(f, c->modality);
            fputs("\" data-behaviour=\"", f);
            html_str(f, c->family);
            fprintf(f, "\" data-count=\"%llu\" data-tuples=\"%llu\" data-rare=\"%llu\"><title>",
                    (unsigned long long)c->events, (unsigned long long)c->tuples,
                    (unsigned long long)c->rare);
            html_str(f, c->modality);
            fputs(" × ", f);
            html_str(f, c->family);
            fprintf(f, ": %llu events, %llu tuples, %llu seen once</title></rect>\n",
                    (unsigned long long)c->events, (unsigned long long)c->tuples,
                    (unsigned long long)c->rare);
        }
    }
    fputs("</svg>\n<h2>Top deviations (rarest tuples)</h2>\n", f);
    html_rows(f, "rarest", s.rare, s.nrare);
    fputs("<h2>Drill-down</h2>\n<p id=\"filter\">All modalities and behaviours. "
          "<a href=\"#\" id=\"clear\">clear filter</a></p>\n<h3>Cells</h3>\n"
          "<table id=\"cells\"><thead><tr><th>modality</th><th>behaviour</th><th>events</th>"
          "<th>tuples</th><th>seen once</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < s.ncells; i++) {
        fputs("<tr data-modality=\"", f);
        html_str(f, s.cells[i].modality);
        fputs("\" data-family=\"", f);
        html_str(f, s.cells[i].family);
        fputs("\"><td>", f);
        html_str(f, s.cells[i].modality);
        fputs("</td><td>", f);
        html_str(f, s.cells[i].family);
        fprintf(f, "</td><td>%llu</td><td>%llu</td><td>%llu</td></tr>\n",
                (unsigned long long)s.cells[i].events, (unsigned long long)s.cells[i].tuples,
                (unsigned long long)s.cells[i].rare);
    }
    fputs("</tbody></table>\n<h3>Most frequent tuples</h3>\n", f);
    html_rows(f, "top", s.top, s.ntop);
    fputs("<script>\n"
          "(function(){\n"
          "function fam(b){var p=b.split(':');return p.length>2?p[0]+':'+p[1]:b;}\n"
          "function show(m,f){\n"
          " document.querySelectorAll('#cells tbody tr,#top tbody tr,#rarest tbody tr')"
          ".forEach(function(tr){\n"
          "  var tf=tr.dataset.family||fam(tr.dataset.behaviour||'');\n"
          "  var ok=!m||(tr.dataset.modality===m&&tf===f);\n"
          "  tr.classList.toggle('hidden',!ok);});\n"
          " document.getElementById('filter').firstChild.textContent=m?('Filter: '+m+' × '+f+'. ')"
          ":'All modalities and behaviours. ';}\n"
          "document.querySelectorAll('rect.cell').forEach(function(r){\n"
          " r.addEventListener('click',function(){show(r.dataset.modality,r.dataset.behaviour);});"
          "});\n"
          "document.getElementById('clear').addEventListener('click',function(e){"
          "e.preventDefault();show(null,null);});\n"
          "})();\n</script>\n</body></html>\n",
          f);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        cli_error("baseline report: %s: write failed", o->html);
        summary_free(&s);
        return EXIT_USAGE;
    }
    if (!o->quiet)
        fprintf(stderr, "modus: baseline: report written to %s (%zu modalities x %zu behaviours)\n",
                o->html, nm, nf);
    summary_free(&s);
    return EXIT_OK;
}

int cmd_baseline(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    opts o = {0};
    int r = parse(argc - 1, argv + 1, &o);
    if (r) return r > 0 ? EXIT_OK : EXIT_USAGE;
    argc--;
    argv++;
    if (o.from.fleet.url) { /* the fleet's events instead of files */
        bool learn = !strcmp(sub, "learn");
        if ((!learn && strcmp(sub, "check")) || optind < argc || o.nrules || o.annotate) {
            cli_error("baseline: --from works with learn and check (no files, --rules or "
                      "--annotate)");
            return EXIT_USAGE;
        }
        o.from.max_line = o.max_line;
        o.from.quiet = o.quiet;
        return cli_baseline_from(&o.from, o.db, learn, &o.check, o.table);
    }
    if (!strcmp(sub, "learn")) return do_learn(&o, argc, argv);
    if (!strcmp(sub, "check")) return do_check(&o, argc, argv);
    if (!strcmp(sub, "merge")) return do_merge(&o, argc, argv);
    if (!strcmp(sub, "show")) return do_show(&o);
    if (!strcmp(sub, "report")) return do_report(&o);
    cli_error("baseline: unknown subcommand '%s' (learn, check, show, merge, report)", sub);
    return EXIT_USAGE;
}
