/* cmd_query.c - `modus query`: an ad-hoc EQL query over telemetry files. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: modus query [OPTIONS] 'EQL' FILE... | -\n"
          "       modus query [OPTIONS] RULE.yml|RULE.toml FILE... | -\n"
          "\n"
          "Runs one EQL query (Elasticsearch dialect: `process where ...`, sequences,\n"
          "joins, samples, `descendant of`, pipes such as `| head 5`) over ECS NDJSON files,\n"
          "in file order, and prints every match: each event of a sequence, in order. In\n"
          "place of the query, a rule file (Sigma YAML or Elastic TOML) holding one rule\n"
          "runs that rule's query (for Sigma, the EQL it compiles to).\n"
          "\n"
          "options:\n"
          "  --ids-field FIELD    print the value of FIELD for each matched event, one per\n"
          "                       line, instead of the whole event\n"
          "  --format json        print whole events, one JSON object per line (default)\n"
          "  --max-line BYTES     longest line accepted (default 16 MiB)\n"
          "  --sigma-mapping FILE Sigma logsources and fields -> ECS (default: embedded)\n"
          "  -q, --quiet          no per-line error messages\n"
          "  -h, --help           this help\n"
          "\n"
          "A query that does not compile is reported as query:LINE:COL: message, exit 3.\n",
          f);
}

typedef struct query_out {
    const char *ids_field;
    modus_scanner *sc; /* re-decodes matched events to print a field */
    uint64_t printed;
} query_out;

static void print_field(query_out *o, const char *text, size_t len)
{
    char *buf = malloc(len + MODUS_PADDING);
    if (!buf) return;
    memcpy(buf, text, len);
    memset(buf + len, ' ', MODUS_PADDING);
    const modus_event *ev;
    modus_diag d;
    modus_value v;
    if (modus_scanner_decode(o->sc, buf, len, &ev, &d) == MODUS_OK &&
        modus_event_get(ev, o->ids_field, &v) == MODUS_OK) {
        switch (v.type) {
        case MODUS_T_STRING: printf("%.*s\n", (int)v.len, v.str); break;
        case MODUS_T_INT: printf("%lld\n", (long long)v.i); break;
        case MODUS_T_UINT: printf("%llu\n", (unsigned long long)v.u); break;
        case MODUS_T_DOUBLE: printf("%.17g\n", v.d); break;
        case MODUS_T_BOOL: puts(v.b ? "true" : "false"); break;
        default: puts("null");
        }
    } else {
        puts("null");
    }
    free(buf);
}

static void emit(void *ctx, const char *const *texts, const size_t *lens, uint32_t n)
{
    query_out *o = ctx;
    for (uint32_t i = 0; i < n; i++) {
        if (o->ids_field) {
            print_field(o, texts[i], lens[i]);
        } else {
            fwrite(texts[i], 1, lens[i], stdout);
            putchar('\n');
        }
        o->printed++;
    }
}

/* the query argument names an existing rule file */
static bool is_rule_file(const char *s)
{
    size_t n = strlen(s);
    bool ext = (n > 4 && !strcmp(s + n - 4, ".yml")) || (n > 5 && !strcmp(s + n - 5, ".yaml")) ||
               (n > 5 && !strcmp(s + n - 5, ".toml"));
    struct stat sb;
    return ext && stat(s, &sb) == 0 && S_ISREG(sb.st_mode);
}

typedef struct run_ctx {
    modus_query_run *run;
} run_ctx;

static int on_event(const modus_event *ev, const char *file, uint64_t line, void *arg)
{
    (void)file, (void)line;
    run_ctx *r = arg;
    modus_query_run_event(r->run, ev);
    return modus_query_run_done(r->run) ? 1 : 0;
}

int cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {{"ids-field", required_argument, NULL, 'i'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"max-line", required_argument, NULL, 'L'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"sigma-mapping", required_argument, NULL, 'M'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    query_out out = {0};
    cli_input_opts io = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'i': out.ids_field = optarg; break;
        case 'f':
            if (strcmp(optarg, "json")) {
                cli_error("query: --format must be json, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'L': io.max_line = (size_t)strtoull(optarg, NULL, 10); break;
        case 'q': io.quiet = true; break;
        case 'M': cli_sigma_mapping = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *text = argv[optind];
    modus_query *q;
    modus_diag d = {0};
    char *rule_query = NULL;
    size_t tl = strlen(text);
    if (!is_rule_file(text) && !strpbrk(text, " \t\n") &&
        ((tl > 5 && !strcmp(text + tl - 5, ".toml")) ||
         (tl > 4 && !strcmp(text + tl - 4, ".yml")) ||
         (tl > 5 && !strcmp(text + tl - 5, ".yaml")))) {
        cli_error("query: rule file %s: %s", text, strerror(ENOENT));
        return EXIT_RULES;
    }
    if (is_rule_file(text)) { /* a rule file: its one rule's query */
        size_t loaded, failed;
        int lrc;
        modus_ruleset *rs = cli_load_rules("query", argv + optind, 1, &loaded, &failed, &lrc);
        if (!rs) return lrc;
        modus_rule_info ri;
        if (modus_ruleset_count(rs) == 1) {
            modus_ruleset_rule(rs, 0, &ri);
            rule_query = strdup(ri.query);
        } else {
            cli_error("query: %s holds %zu rules that compile, not one (modus scan --rules runs "
                      "them all)",
                      text, modus_ruleset_count(rs));
        }
        modus_ruleset_destroy(rs);
        if (!rule_query) return EXIT_RULES;
        text = rule_query;
    }
    if (modus_query_compile(text, strlen(text), &q, &d) != MODUS_OK) {
        fprintf(stderr, "modus: query:%llu:%llu: %s\n", (unsigned long long)d.line,
                (unsigned long long)d.column, d.message);
        return EXIT_RULES;
    }
    const modus_query *qs[1] = {q};
    modus_engine_opts eo = {.queries = qs, .nqueries = 1};
    modus_engine *eng = NULL;
    modus_scanner *sc = NULL;
    modus_query_run *run = NULL;
    int rc = EXIT_USAGE;
    if (modus_engine_create(&eo, &eng, &d) != MODUS_OK ||
        modus_scanner_create(eng, &sc) != MODUS_OK ||
        modus_scanner_create(eng, &out.sc) != MODUS_OK ||
        modus_query_run_create(q, emit, &out, &run) != MODUS_OK) {
        cli_error("query: cannot start: out of memory");
        goto done;
    }
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    cli_counts n = {0};
    run_ctx rc_ = {run};
    for (int i = optind + 1; i < argc && !modus_query_run_done(run); i++)
        cli_each_event(sc, argv[i], &io, &n, on_event, &rc_);
    modus_query_run_finish(run);
    fflush(stdout);
    rc = cli_errors(&n) ? EXIT_USAGE : EXIT_OK;
done:
    modus_query_run_destroy(run);
    modus_scanner_destroy(out.sc);
    modus_scanner_destroy(sc);
    modus_engine_destroy(eng);
    modus_query_destroy(q);
    free(rule_query);
    return rc;
}
