/* common.c - shared CLI helpers. */
#include "common.h"

#include <stdarg.h>
#include <string.h>

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
