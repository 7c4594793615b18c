/* cmd_rules.c - `modus rules check|list|test`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: modus rules check PATH...     compile rules, report every error\n"
          "       modus rules list [PATH...]    one line per rule (default: the built-in pack)\n"
          "       modus rules test [PATH...]    run the rules' [[modus.tests]] events\n"
          "\n"
          "PATH is a rule file in Elastic's TOML format or a directory searched\n"
          "recursively for *.toml. Errors are printed as FILE:LINE:COL: message, followed\n"
          "by the offending line; check ends with 'N rules compiled, M failed'.\n"
          "Exit status: 0 success, 3 a rule failed (or a test did).\n",
          f);
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

/* load PATHs (or the default pack when none); returns the number of failures */
modus_ruleset *cli_load_rules(char **paths, int n, size_t *loaded, size_t *failed)
{
    modus_ruleset *rs;
    if (modus_ruleset_create(&rs) != MODUS_OK) return NULL;
    *loaded = *failed = 0;
    if (!n) {
        modus_ruleset_add_default(rs, on_error, NULL, loaded, failed);
        return rs;
    }
    for (int i = 0; i < n; i++)
        modus_ruleset_add_path(rs, paths[i], on_error, NULL, loaded, failed);
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

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "check") && strcmp(sub, "list") && strcmp(sub, "test")) {
        cli_error("rules: unknown subcommand '%s' (check, list or test)", sub);
        return EXIT_USAGE;
    }
    if (!strcmp(sub, "check") && argc < 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    size_t loaded, failed;
    modus_ruleset *rs = cli_load_rules(argv + 2, argc - 2, &loaded, &failed);
    if (!rs) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    int rc = failed ? EXIT_RULES : EXIT_OK;
    if (!strcmp(sub, "check")) {
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
