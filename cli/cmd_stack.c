/* cmd_stack.c - `modus stack`: explain one call stack. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: modus stack [OPTIONS] STACK\n"
          "       modus stack [OPTIONS] -              (frames one per line on stdin)\n"
          "       modus stack [OPTIONS] --event FILE   (every event with a stack in FILE)\n"
          "\n"
          "Explains a call stack: its frames (most recent first), Elastic's summary, the\n"
          "runtime layers, the modality and the evidence for it, and integrity anomalies.\n"
          "STACK is a Sysmon CallTrace (frames joined by '|'), or frames in Elastic or\n"
          "Linux form (path!symbol+0xoff, path+0xoff, Unbacked+0xoff, Unknown).\n"
          "\n"
          "options:\n"
          "  --os windows|linux   how to read module names (default: windows, or linux\n"
          "                       when frames have '/' paths)\n"
          "  --image PATH         the acting process's executable (e.g. powershell.exe)\n"
          "  --json               print one JSON object with the modality.* and derived\n"
          "                       call_stack_* fields, nested as in events\n"
          "  --event FILE         explain the stack of every event in an NDJSON file\n"
          "  --modalities FILE    use this signature table instead of the embedded one\n"
          "  -h, --help           this help\n",
          f);
}

static char *read_all(FILE *in, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *p = malloc(cap);
    if (!p) return NULL;
    for (size_t r; (r = fread(p + n, 1, cap - n, in)) > 0;) {
        n += r;
        if (n == cap) {
            if (cap >= (64u << 20)) break;
            char *q = realloc(p, cap * 2);
            if (!q) break;
            p = q;
            cap *= 2;
        }
    }
    *len = n;
    return p;
}

static void print_event(const modus_event *ev, bool json)
{
    size_t n;
    const char *out = modus_event_render(ev, json ? MODUS_RENDER_FIELDS : MODUS_RENDER_EXPLAIN, &n);
    if (out) {
        fwrite(out, 1, n, stdout);
        if (json) fputc('\n', stdout);
    }
}

typedef struct explain_ctx {
    bool json;
    int shown;
} explain_ctx;

static int on_event(const modus_event *ev, const char *file, uint64_t line, void *arg)
{
    explain_ctx *c = arg;
    if (!modus_event_has_stack(ev)) return 0;
    if (!c->json) printf("%s== %s:%llu\n", c->shown ? "\n" : "", file, (unsigned long long)line);
    print_event(ev, c->json);
    c->shown++;
    return 0;
}

static int explain_events(modus_scanner *sc, const char *path, bool json)
{
    explain_ctx ctx = {json, 0};
    cli_counts n = {0};
    cli_input_opts io = {0};
    cli_each_event(sc, path, &io, &n, on_event, &ctx);
    if (!ctx.shown && !n.files_failed) cli_error("%s: no event with a call stack", path);
    return cli_errors(&n) ? EXIT_USAGE : EXIT_OK;
}

int cmd_stack(int argc, char **argv)
{
    static const struct option opts[] = {{"os", required_argument, NULL, 'o'},
                                         {"image", required_argument, NULL, 'i'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"event", required_argument, NULL, 'e'},
                                         {"modalities", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *image = NULL, *event = NULL, *table = NULL;
    bool json = false;
    modus_os os = MODUS_OS_WINDOWS;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!strcmp(optarg, "windows"))
                os = MODUS_OS_WINDOWS;
            else if (!strcmp(optarg, "linux"))
                os = MODUS_OS_LINUX;
            else {
                cli_error("stack: --os must be windows or linux, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'i': image = optarg; break;
        case 'j': json = true; break;
        case 'e': event = optarg; break;
        case 'm': table = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (!event && optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    modus_engine *eng = cli_engine(table);
    if (!eng) return EXIT_USAGE;
    modus_scanner *sc;
    if (modus_scanner_create(eng, &sc) != MODUS_OK) {
        cli_error("out of memory");
        modus_engine_destroy(eng);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    if (event) {
        rc = explain_events(sc, event, json);
    } else {
        const char *arg = argv[optind];
        char *text;
        size_t len;
        modus_stack_form form;
        if (!strcmp(arg, "-")) {
            text = read_all(stdin, &len);
            form = MODUS_STACK_LINES;
        } else {
            len = strlen(arg);
            text = malloc(len + 1);
            if (text) memcpy(text, arg, len + 1);
            /* Sysmon CallTrace unless the frames use the Elastic/Linux form */
            bool elastic = strstr(arg, "+0x") || strchr(arg, '!') || strstr(arg, "Unbacked") ||
                           strchr(arg, '\n') || !strcmp(arg, "Unknown");
            form = elastic ? MODUS_STACK_LINES : MODUS_STACK_CALLTRACE;
            if (elastic && text)
                for (char *p = text; *p; p++)
                    if (*p == '|') *p = '\n';
        }
        if (!text) {
            cli_error("out of memory");
            rc = EXIT_USAGE;
        } else {
            const modus_event *ev;
            modus_diag d = {0};
            modus_status st = modus_scanner_explain(sc, os, form, text, len, image, &ev, &d);
            if (st == MODUS_EPARSE) {
                snprintf(d.file, sizeof d.file, "%s", strcmp(arg, "-") ? "stack" : "<stdin>");
                cli_diag(NULL, &d);
                rc = EXIT_USAGE;
            }
            if (!modus_event_has_stack(ev)) {
                cli_error("stack: no frames in the input");
                rc = EXIT_USAGE;
            } else {
                print_event(ev, json);
            }
            free(text);
        }
    }
    modus_scanner_destroy(sc);
    modus_engine_destroy(eng);
    return rc;
}
