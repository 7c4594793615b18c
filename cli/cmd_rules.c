/* cmd_rules.c - `modus rules check|list|test`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs(
        "usage: modus rules check PATH...     compile rules, report every error\n"
        "       modus rules list [--query] [PATH...]\n"
        "                                     one line per rule (default: the built-in pack);\n"
        "                                     --query also prints each rule's EQL (for Sigma\n"
        "                                     rules, the query they compile to)\n"
        "       modus rules test [PATH...]    run the rules' [[modus.tests]] events\n"
        "       modus rules score [--json] [--min SCORE] [--observables FILE] [PATH...]\n"
        "                                     Summiting the Pyramid robustness of each rule\n"
        "                                     (e.g. 5K), the observable that decided it, and\n"
        "                                     a histogram; --min 3K exits 1 if any rule is lower\n"
        "\n"
        "PATH is a rule file (Elastic's TOML: endpoint or SIEM rules; Sigma YAML) or a\n"
        "directory searched recursively for *.toml, *.yml and *.yaml. --sigma-mapping FILE\n"
        "replaces the Sigma mapping table. Errors are printed as FILE:LINE:COL: message,\n"
        "followed by the offending line; check ends with 'N rules compiled, M failed'\n"
        "(SIEM rules that are not EQL are counted apart, on the line before).\n"
        "Exit status: 0 success, 3 a rule failed (or a test did).\n",
        f);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void on_error(void *ctx, const modus_diag *d, const char *text, size_t len)
{
    (void)ctx;
    if (d->line)
        fprintf(stderr, "%s:%llu:%llu: %s\n", d->file, (unsigned long long)d->line,
                (unsigned long long)d->column, d->message);
    else
        fprintf(stderr, "%s: %s\n", d->file, d->message);
    if (len) {
        fprintf(stderr, "    %.*s\n", (int)(len > 200 ? 200 : len), text);
        if (d->column && d->column <= len) fprintf(stderr, "    %*s^\n", (int)d->column - 1, "");
    }
}

const char *cli_sigma_mapping;

/* rules read but not applicable (not EQL), by kind, before the check's last line */
static void print_skipped(const modus_ruleset *rs)
{
    size_t n = modus_ruleset_skipped(rs);
    if (!n) return;
    const char *kinds[64];
    size_t counts[64], nk = 0;
    for (size_t i = 0; i < n; i++) {
        const char *file, *why;
        modus_ruleset_skipped_get(rs, i, &file, &why);
        size_t k = 0;
        while (k < nk && strcmp(kinds[k], why)) k++;
        if (k == nk && nk < 64) kinds[nk] = why, counts[nk++] = 0;
        if (k < nk) counts[k]++;
    }
    printf("%zu rules not applicable (not EQL):", n);
    for (size_t k = 0; k < nk; k++) printf("%s %zu %s", k ? "," : "", counts[k], kinds[k]);
    putchar('\n');
}

/* load PATHs (or the default pack when none); NULL on a path that does not
 * exist or holds no rule (reported; the caller exits EXIT_RULES) */
modus_ruleset *cli_load_rules(const char *cmd, char **paths, int n, size_t *loaded, size_t *failed,
                              int *rc)
{
    modus_ruleset *rs;
    if (modus_ruleset_create(&rs) != MODUS_OK) {
        cli_error("out of memory");
        return NULL;
    }
    *loaded = *failed = 0;
    *rc = EXIT_USAGE;
    if (cli_sigma_mapping) {
        modus_diag d;
        if (modus_ruleset_sigma_mapping(rs, cli_sigma_mapping, &d) != MODUS_OK) {
            cli_diag("sigma mapping", &d);
            modus_ruleset_destroy(rs);
            return NULL;
        }
    }
    if (!n) {
        modus_ruleset_add_default(rs, on_error, NULL, loaded, failed);
        return rs;
    }
    for (int i = 0; i < n; i++)
        if (!cli_add_rules(rs, cmd, paths[i], on_error, NULL, loaded, failed)) {
            modus_ruleset_destroy(rs);
            *rc = EXIT_RULES;
            return NULL;
        }
    return rs;
}

static void on_test(void *ctx, size_t rule, size_t test, bool ok, const char *why)
{
    const modus_ruleset *rs = ctx;
    if (ok) return;
    modus_rule_info ri;
    modus_ruleset_rule(rs, rule, &ri);
    fprintf(stderr, "FAIL: %s: \"%s\" test %zu: %s\n", ri.file, ri.name, test + 1, why);
}

/* "3K" -> rank (level * 3 + column), -1 if malformed; a bare level means column A */
static int parse_min(const char *s)
{
    if (s[0] < '1' || s[0] > '5') return -1;
    int col = 0;
    if (s[1]) {
        const char *p = strchr("AUK", s[1]);
        if (!p || s[2]) return -1;
        col = (int)(p - "AUK");
    }
    return (s[0] - '0') * 3 + col;
}

static int rules_score(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"min", required_argument, NULL, 'm'},
                                         {"observables", required_argument, NULL, 'o'},
                                         {"sigma-mapping", required_argument, NULL, 'M'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool json = false;
    int min = -1;
    const char *table = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'm':
            if ((min = parse_min(optarg)) < 0) {
                cli_error("rules score: --min needs a score such as 3K or 4, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o': table = optarg; break;
        case 'M': cli_sigma_mapping = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    modus_scorer *sc;
    modus_diag d;
    if (modus_scorer_create(table, &sc, &d) != MODUS_OK) {
        cli_diag("observables table", &d);
        return EXIT_USAGE;
    }
    size_t loaded, failed;
    int lrc;
    modus_ruleset *rs =
        cli_load_rules("rules score", argv + optind, argc - optind, &loaded, &failed, &lrc);
    if (!rs) {
        modus_scorer_destroy(sc);
        return lrc;
    }
    size_t hist[6][3] = {{0}}, below = 0;
    for (size_t i = 0; i < modus_ruleset_count(rs); i++) {
        modus_rule_info ri;
        modus_score s;
        modus_ruleset_rule(rs, i, &ri);
        modus_scorer_rule(sc, rs, i, &s);
        int col = (int)(strchr("AUK", s.column) - "AUK");
        hist[s.level][col]++;
        if (min >= 0 && s.level * 3 + col < min) below++;
        if (json) {
            fputs("{\"rule\":{\"id\":", stdout);
            json_str(ri.id);
            fputs(",\"name\":", stdout);
            json_str(ri.name);
            printf("},\"robustness\":{\"level\":%d,\"column\":\"%c\",\"score\":\"%s\",\"reason\":",
                   s.level, s.column, s.score);
            json_str(s.reason);
            fputs("}}\n", stdout);
        } else {
            printf("%s  %s\n    %s\n", s.score, ri.name, s.reason);
        }
    }
    if (!json) {
        printf("\nrobustness of %zu rules (level x column):\n        A      U      K\n",
               modus_ruleset_count(rs));
        for (int l = 5; l >= 1; l--)
            printf("  %d  %5zu  %5zu  %5zu\n", l, hist[l][0], hist[l][1], hist[l][2]);
    }
    if (min >= 0 && below)
        fprintf(stderr, "modus: %zu rules score below %s\n", below, argv[0] ? "--min" : "");
    modus_ruleset_destroy(rs);
    modus_scorer_destroy(sc);
    if (failed) return EXIT_RULES;
    return below ? EXIT_ALERTS : EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "score")) return rules_score(argc - 1, argv + 1);
    if (strcmp(sub, "check") && strcmp(sub, "list") && strcmp(sub, "test")) {
        cli_error("rules: unknown subcommand '%s' (check, list, test or score)", sub);
        return EXIT_USAGE;
    }
    bool show_query = false;
    int first = 2;
    while (first < argc && argv[first][0] == '-' && argv[first][1]) {
        if (!strcmp(argv[first], "--query") && !strcmp(sub, "list")) {
            show_query = true;
        } else if (!strcmp(argv[first], "--sigma-mapping") && first + 1 < argc) {
            cli_sigma_mapping = argv[++first];
        } else {
            cli_error("rules %s: unknown option '%s'", sub, argv[first]);
            return EXIT_USAGE;
        }
        first++;
    }
    if (!strcmp(sub, "check") && first >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    size_t loaded, failed;
    int lrc;
    modus_ruleset *rs = cli_load_rules("rules", argv + first, argc - first, &loaded, &failed, &lrc);
    if (!rs) return lrc;
    int rc = failed ? EXIT_RULES : EXIT_OK;
    if (!strcmp(sub, "check")) {
        print_skipped(rs);
        size_t elsewhere = 0;
        for (size_t i = 0; i < modus_ruleset_count(rs); i++) {
            modus_rule_info ri;
            modus_ruleset_rule(rs, i, &ri);
            elsewhere += ri.sources && !ri.sources[0];
        }
        if (elsewhere)
            printf("%zu of the compiled rules read only indexes modus does not read "
                   "(data/sources.conf)\n",
                   elsewhere);
        printf("%zu rules compiled, %zu failed\n", loaded, failed);
    } else if (!strcmp(sub, "list")) {
        for (size_t i = 0; i < modus_ruleset_count(rs); i++) {
            modus_rule_info ri;
            modus_ruleset_rule(rs, i, &ri);
            printf("%-36s  %-8s  %s\n", ri.id ? ri.id : "-", ri.severity ? ri.severity : "-",
                   ri.name);
            char tech[256] = "";
            size_t k = 0;
            for (size_t t = 0; t < ri.ntechniques && k + 16 < sizeof tech; t++)
                k += (size_t)snprintf(tech + k, sizeof tech - k, "%s%s", t ? "," : "",
                                      ri.techniques[t]);
            printf("%-36s  %-8s  ATT&CK %s  tests %zu\n", "", "", tech[0] ? tech : "-", ri.ntests);
            if (ri.logsource) printf("%-36s  %-8s  logsource %s\n", "", "", ri.logsource);
            if (ri.sources)
                printf("%-36s  %-8s  reads %s\n", "", "",
                       ri.sources[0] ? ri.sources : "nothing modus reads");
            if (show_query) printf("    %s\n", ri.query ? ri.query : "-");
        }
        fprintf(stderr, "modus: %zu rules\n", loaded);
    } else {
        const modus_ruleset *rss = rs;
        modus_engine_opts eo = {.rules = rs};
        modus_engine *eng;
        modus_diag d;
        size_t passed = 0, tfailed = 0;
        if (modus_engine_create(&eo, &eng, &d) != MODUS_OK) {
            cli_error("rules: cannot create the engine: %s", d.message);
            rc = EXIT_USAGE;
        } else {
            modus_ruleset_test(rs, eng, on_test, (void *)rss, &passed, &tfailed);
            modus_engine_destroy(eng);
            printf("%zu passed, %zu failed\n", passed, tfailed);
            if (tfailed) rc = EXIT_RULES;
        }
    }
    modus_ruleset_destroy(rs);
    return rc;
}
