/* common.c - shared CLI helpers. */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("modus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_diag(const char *context, const modus_diag *d)
{
    fputs("modus: ", stderr);
    if (context && *context) fprintf(stderr, "%s: ", context);
    if (d->file[0]) fputs(d->file, stderr);
    if (d->line) fprintf(stderr, ":%llu", (unsigned long long)d->line);
    if (d->line && d->column) fprintf(stderr, ":%llu", (unsigned long long)d->column);
    if (d->file[0] || d->line) fputs(": ", stderr);
    if (d->file[0] && (d->column || d->offset))
        fprintf(stderr, "(byte %llu) ", (unsigned long long)d->offset);
    fprintf(stderr, "%s\n", d->message);
}

modus_engine *cli_engine(const char *modalities_path)
{
    modus_engine_opts o = {.modalities_path = modalities_path};
    modus_engine *e = NULL;
    modus_diag d = {0};
    modus_status st = modus_engine_create(&o, &e, &d);
    if (st != MODUS_OK) {
        if (d.message[0])
            cli_diag("modality table", &d);
        else
            cli_error("cannot create the engine: %s", modus_strerror(st));
        return NULL;
    }
    return e;
}

int cli_format(const char *cmd, const char *arg)
{
    if (!strcmp(arg, "json")) return 0;
    if (!strcmp(arg, "text")) return 1;
    cli_error("%s: --format must be json or text, not '%s'", cmd, arg);
    return -1;
}

bool cli_is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* Issue 15: a --rules path that does not exist, or holds no rule, is an
 * error (exit 3) and not a scan with fewer rules: with --exit-status in a
 * pipeline, "0 rules loaded" would otherwise read as "clean". "Holds no
 * rule": an empty file, or nothing compiled, failed or was skipped as not
 * applicable (a directory without one .toml/.yml/.yaml). A rule that fails
 * to compile is still a rule: reported and skipped as before (--strict
 * makes that an error too). */
bool cli_add_rules(modus_ruleset *rs, const char *cmd, const char *path, modus_rule_error_fn cb,
                   void *ctx, size_t *loaded, size_t *failed)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        cli_error("%s: rule path %s: %s", cmd, path, strerror(errno));
        (*failed)++;
        return false;
    }
    if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
        cli_error("%s: rule path %s holds no rule (an empty file)", cmd, path);
        (*failed)++;
        return false;
    }
    size_t l0 = *loaded, f0 = *failed, s0 = modus_ruleset_skipped(rs);
    modus_ruleset_add_path(rs, path, cb, ctx, loaded, failed);
    if (*loaded == l0 && *failed == f0 && modus_ruleset_skipped(rs) == s0) {
        cli_error("%s: rule path %s holds no rule (%s)", cmd, path,
                  S_ISDIR(sb.st_mode) ? "no .toml, .yml or .yaml file in it" : "not a rule file");
        (*failed)++;
        return false;
    }
    return true;
}

/* What modus writes holds command lines and environment values: files it
 * creates are owner-only (0600) whatever the umask. A file that exists
 * keeps the mode its owner gave it. */
FILE *cli_fopen_private(const char *path, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, append ? "a" : "w");
    if (!f) close(fd);
    return f;
}
