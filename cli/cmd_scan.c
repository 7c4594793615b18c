/* cmd_scan.c - `modus scan`: read telemetry, classify, write events and a summary. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: modus scan [OPTIONS] FILE... | -\n"
          "\n"
          "Reads ECS NDJSON (Elastic Defend, the modus sensor) and flat Sysmon JSON, parses\n"
          "every call stack and names its execution modality.\n"
          "\n"
          "options:\n"
          "  --enrich              write every input event with the fields modus adds\n"
          "                        (modality.*, and call_stack_summary,\n"
          "                        call_stack_contains_unbacked, call_stack_final_user_module\n"
          "                        where the source lacks them)\n"
          "  --format json|text    json: one event per line; text: a readable table\n"
          "                        (default: text on a terminal, json otherwise)\n"
          "  --summary             print the modality distribution (on stderr with --enrich,\n"
          "                        on stdout otherwise; the default without --enrich)\n"
          "  --max-line BYTES      longest line accepted (default 16 MiB); longer lines are\n"
          "                        reported and skipped\n"
          "  --modalities FILE     use this signature table instead of the embedded one\n"
          "  -q, --quiet           no progress line and no per-line error messages\n"
          "  -h, --help            this help\n"
          "\n"
          "Malformed lines are reported (file:line:column, byte offset) up to 20 per file,\n"
          "counted and skipped; the scan goes on. Exit status 2 if any input error occurred.\n",
          f);
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
    printf("%6llu  %-9.9s %-22.22s %-11s %-6s %-8s %-22.*s %.*s%s\n", (unsigned long long)lineno,
           cat[0] ? cat : "-", proc[0] ? proc : "-", modus_event_modality(ev),
           modus_event_confidence(ev), modus_event_syscall(ev), (int)(il ? (il > 22 ? 22 : il) : 1),
           il ? ini : "-", (int)(sl > 60 ? 57 : sl), sl ? sum : "-", sl > 60 ? "..." : "");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct scan_ctx {
    stats *st;
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

int cmd_scan(int argc, char **argv)
{
    static const struct option opts[] = {{"enrich", no_argument, NULL, 'e'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"summary", no_argument, NULL, 's'},
                                         {"max-line", required_argument, NULL, 'L'},
                                         {"modalities", required_argument, NULL, 'm'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool enrich = false, summary = false, quiet = false;
    int format = -1; /* 0 json, 1 text */
    const char *table = NULL;
    size_t max_line = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'e': enrich = true; break;
        case 'f':
            if (!strcmp(optarg, "json"))
                format = 0;
            else if (!strcmp(optarg, "text"))
                format = 1;
            else {
                cli_error("scan: --format must be json or text, not '%s'", optarg);
                return EXIT_USAGE;
            }
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
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!enrich) summary = true;
    if (format < 0) format = isatty(1) ? 1 : 0;
    modus_engine *eng = cli_engine(table);
    if (!eng) return EXIT_USAGE;
    modus_scanner *sc;
    if (modus_scanner_create(eng, &sc) != MODUS_OK) {
        cli_error("out of memory");
        modus_engine_destroy(eng);
        return EXIT_USAGE;
    }
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    bool progress = !quiet && isatty(2);
    double t0 = now();
    stats st = {0};
    if (enrich && format == 1)
        printf("%6s  %-9s %-22s %-11s %-6s %-8s %-22s %s\n", "LINE", "CATEGORY", "PROCESS",
               "MODALITY", "CONF", "SYSCALL", "INITIATOR", "SUMMARY");
    scan_ctx ctx = {&st, enrich, format, progress, t0, t0};
    cli_input_opts io = {.max_line = max_line, .quiet = quiet};
    for (int fi = optind; fi < argc; fi++)
        cli_each_event(sc, argv[fi], &io, &st.in, on_event, &ctx);
    if (progress && ctx.last != t0) fputs("\r\033[K", stderr);
    fflush(stdout);
    uint64_t errors = cli_errors(&st.in);
    if (summary) print_summary(enrich ? stderr : stdout, &st);
    fflush(stdout);
    if (errors || !quiet)
        fprintf(stderr,
                "modus: scanned %llu events (%.1f MB) in %.2f s; errors: %llu malformed, "
                "%llu too long, %llu unreadable files%s\n",
                (unsigned long long)st.in.events, (double)st.in.bytes_done / 1e6, now() - t0,
                (unsigned long long)st.in.bad_json, (unsigned long long)st.in.too_long,
                (unsigned long long)(st.in.files_failed + st.in.io_errors),
                errors ? " (skipped, see above)" : "");
    modus_scanner_destroy(sc);
    modus_engine_destroy(eng);
    return errors ? EXIT_USAGE : EXIT_OK;
}
