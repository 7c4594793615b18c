/* cmd_fleet.c - `modus fleet init|publish`, and what every command that talks
 * to the fleet's broker shares: the NATS options, the log line, the
 * publisher's counts and the metrics file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

const char cli_nats_help[] =
    "  --nats-user USER      NATS user (with --nats-password)\n"
    "  --nats-password PW    its password (better in a --config file than on the\n"
    "                        command line)\n"
    "  --nats-token-file F   a file holding a NATS token\n"
    "  --nats-ca FILE        TLS: the CA (PEM) the servers' certificates are checked\n"
    "                        against (tls:// URLs need it too)\n";

int cli_nats_option(int c, const char *arg, modus_fleet_opts *o)
{
    switch (c) {
    case OPT_NATS_USER: o->user = arg; return 1;
    case OPT_NATS_PASSWORD: o->password = arg; return 1;
    case OPT_NATS_TOKEN_FILE: o->token_file = arg; return 1;
    case OPT_NATS_CA: o->ca_file = arg; return 1;
    default: return 0;
    }
}

void cli_fleet_log(void *ctx, const char *line)
{
    fprintf(stderr, "modus: %s%s\n", ctx ? (const char *)ctx : "", line);
}

void cli_publisher_counts(char *out, size_t cap, const modus_publisher_stats *s)
{
    snprintf(out, cap,
             "published %llu (%llu duplicates), spooled %llu, replayed %llu, dropped %llu, "
             "resent %llu, backlog %llu (%.1f MB spool), %s",
             (unsigned long long)s->published, (unsigned long long)s->duplicates,
             (unsigned long long)s->spooled, (unsigned long long)s->replayed,
             (unsigned long long)s->dropped, (unsigned long long)s->resent,
             (unsigned long long)s->backlog, (double)s->spool_bytes / 1e6,
             s->connected ? "connected" : "NOT connected");
}

bool cli_write_metrics(const char *path, const cli_metric *m, size_t n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name, m[i].help, m[i].name,
                m[i].type, m[i].name, (unsigned long long)m[i].value);
    bool ok = fflush(f) == 0 && !ferror(f);
    fclose(f);
    return ok && rename(tmp, path) == 0;
}

static double parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    if (!*end || !strcmp(end, "s")) return v;
    if (!strcmp(end, "m")) return v * 60;
    if (!strcmp(end, "h")) return v * 3600;
    if (!strcmp(end, "d")) return v * 86400;
    return -1;
}

static int64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    if (!*end) return (int64_t)v;
    if (!strcasecmp(end, "k") || !strcasecmp(end, "kb")) return (int64_t)(v * 1e3);
    if (!strcasecmp(end, "m") || !strcasecmp(end, "mb")) return (int64_t)(v * 1e6);
    if (!strcasecmp(end, "g") || !strcasecmp(end, "gb")) return (int64_t)(v * 1e9);
    if (!strcasecmp(end, "t") || !strcasecmp(end, "tb")) return (int64_t)(v * 1e12);
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: modus fleet init nats://HOST:PORT[,HOST:PORT...] [OPTIONS]\n"
            "       modus fleet publish nats://HOST:PORT[,...] [OPTIONS] FILE...\n"
            "\n"
            "  init     create (or bring up to date: running it again changes nothing) the\n"
            "           streams MODUS_EVENTS (modus.events.<host>.<partition>), MODUS_ALERTS,\n"
            "           MODUS_DEAD and the buckets modus_leases and modus_fleet; print the\n"
            "           subject mapping every server must carry, and check that this one\n"
            "           does\n"
            "           --replicas 1|3          copies of every message (default 1)\n"
            "           --partitions N          of the events stream, 1..64 (default 1)\n"
            "           --max-age DURATION      how long messages are kept (default 7d)\n"
            "           --max-bytes SIZE        per stream (default: no limit), e.g. 50G\n"
            "           --duplicate-window D    resends within it are dropped (default 2m)\n"
            "  publish  send the events of NDJSON files (recorded telemetry, other hosts'\n"
            "           files) as a sensor would: spooled, in order, message id = event.id\n"
            "           (a hash of the line without one), host = host.name\n"
            "           --host NAME             the host for events without host.name\n"
            "           --spool DIR             the spool (default: a temporary directory)\n"
            "           --spool-mb N            its bound (default 256)\n"
            "           --wait SECONDS          for acknowledgements at the end (default 60)\n"
            "           --max-line BYTES        longest line read (default 16 MiB)\n"
            "\n"
            "%s"
            "  -q, --quiet, -h, --help\n"
            "\n"
            "Durations: 90s, 30m, 12h, 7d. Exit status: 0, 2 usage or server error (publish:\n"
            "documents left unpublished; they stay in the spool).\n",
            cli_nats_help);
}

static int do_init(int argc, char **argv)
{
    static const struct option lo[] = {{"replicas", required_argument, NULL, 'r'},
                                       {"partitions", required_argument, NULL, 'p'},
                                       {"max-age", required_argument, NULL, 'a'},
                                       {"max-bytes", required_argument, NULL, 'b'},
                                       {"duplicate-window", required_argument, NULL, 'w'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       CLI_NATS_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
    modus_fleet_opts fo = {.name = "modus fleet init"};
    modus_fleet_init_opts io = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        if (cli_nats_option(c, optarg, &fo)) continue;
        switch (c) {
        case 'r':
            io.replicas = atoi(optarg);
            if (strcmp(optarg, "1") && strcmp(optarg, "3")) {
                cli_error("fleet init: --replicas must be 1 or 3, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !v || v > MODUS_FLEET_MAX_PARTITIONS) {
                cli_error("fleet init: --partitions must be 1..%d, not '%s'",
                          MODUS_FLEET_MAX_PARTITIONS, optarg);
                return EXIT_USAGE;
            }
            io.partitions = (unsigned)v;
            break;
        }
        case 'a':
        case 'w': {
            double v = parse_duration(optarg);
            if (v <= 0) {
                cli_error("fleet init: --%s needs a duration (90s, 30m, 12h, 7d), not '%s'",
                          c == 'a' ? "max-age" : "duplicate-window", optarg);
                return EXIT_USAGE;
            }
            if (c == 'a')
                io.max_age = v;
            else
                io.duplicate_window = v;
            break;
        }
        case 'b':
            if ((io.max_bytes = parse_size(optarg)) <= 0) {
                cli_error("fleet init: --max-bytes needs a size (e.g. 50G), not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q': break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    fo.url = argv[optind];
    modus_diag d = {0};
    modus_status st = modus_fleet_init(&fo, &io, cli_fleet_log, "fleet init: ", &d);
    if (st != MODUS_OK) {
        cli_diag("fleet init", &d);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int do_publish(int argc, char **argv)
{
    static const struct option lo[] = {{"host", required_argument, NULL, 'H'},
                                       {"spool", required_argument, NULL, 's'},
                                       {"spool-mb", required_argument, NULL, 'm'},
                                       {"wait", required_argument, NULL, 'w'},
                                       {"max-line", required_argument, NULL, 'L'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       CLI_NATS_LONGOPTS,
                                       {NULL, 0, NULL, 0}};
    modus_fleet_opts fo = {.name = "modus fleet publish"};
    modus_publisher_opts po = {.log = cli_fleet_log, .log_ctx = "fleet publish: "};
    double wait = 60;
    bool quiet = false;
    size_t max_line = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        if (cli_nats_option(c, optarg, &fo)) continue;
        switch (c) {
        case 'H': po.host = optarg; break;
        case 's': po.spool_dir = optarg; break;
        case 'm': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !v || v > 1 << 20) {
                cli_error("fleet publish: --spool-mb must be 1..1048576, not '%s'", optarg);
                return EXIT_USAGE;
            }
            po.spool_bytes = (uint64_t)v << 20;
            break;
        }
        case 'w': {
            char *end;
            wait = strtod(optarg, &end);
            if (*end || wait < 0) {
                cli_error("fleet publish: --wait needs seconds, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'L': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v < 1024 || v > (1ull << 31)) {
                cli_error("fleet publish: --max-line needs 1024..2147483648, not '%s'", optarg);
                return EXIT_USAGE;
            }
            max_line = (size_t)v;
            break;
        }
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind + 2 > argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    fo.url = argv[optind++];
    char tmpdir[] = "/tmp/modus-spool.XXXXXX";
    bool own_spool = !po.spool_dir;
    if (own_spool) {
        if (!mkdtemp(tmpdir)) {
            cli_error("fleet publish: cannot make a spool directory: %s", strerror(errno));
            return EXIT_USAGE;
        }
        po.spool_dir = tmpdir;
    }
    modus_publisher *pub = NULL;
    modus_diag d = {0};
    if (modus_publisher_open(&fo, &po, &pub, &d) != MODUS_OK) {
        cli_diag("fleet publish", &d);
        if (own_spool) rmdir(tmpdir);
        return EXIT_USAGE;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t lines = 0, skipped = 0;
    int rc = EXIT_OK;
    for (int i = optind; i < argc && !stop_flag; i++) {
        modus_source *src;
        modus_source_opts so = {.max_line = max_line};
        if (modus_source_open(argv[i], &so, &src, &d) != MODUS_OK) {
            cli_diag(NULL, &d);
            rc = EXIT_USAGE;
            continue;
        }
        const char *line;
        size_t len;
        modus_status st;
        while (!stop_flag && (st = modus_source_next(src, &line, &len, &d)) != MODUS_DONE) {
            if (st != MODUS_OK || len < 2 || line[0] != '{') {
                if (skipped++ < 20) {
                    if (st == MODUS_OK)
                        fprintf(stderr, "modus: %s:%llu: not a JSON object (skipped)\n", argv[i],
                                (unsigned long long)d.line);
                    else
                        cli_diag(NULL, &d);
                }
                if (st == MODUS_EIO) break;
                continue;
            }
            if (modus_publisher_put(pub, MODUS_FLEET_EVENT, line, len) != MODUS_OK) {
                cli_error("fleet publish: the spool refused a document");
                rc = EXIT_USAGE;
                break;
            }
            lines++;
        }
        modus_source_close(src);
    }
    modus_publisher_flush(pub);
    /* wait for the acknowledgements, reporting progress */
    modus_publisher_stats s;
    for (double waited = 0; !stop_flag; waited += 0.1) {
        modus_publisher_stats_get(pub, &s);
        if (!s.backlog || waited >= wait) break;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    modus_publisher_close(pub, 2000);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    char counts[512];
    cli_publisher_counts(counts, sizeof counts, &s);
    if (!quiet || s.backlog || s.dropped)
        fprintf(stderr, "modus: fleet publish: %llu documents in %.2f s (%.0f/s): %s\n",
                (unsigned long long)lines, dt, dt > 0 ? (double)lines / dt : 0.0, counts);
    if (s.backlog) {
        cli_error("fleet publish: %llu documents not acknowledged; they stay in %s",
                  (unsigned long long)s.backlog, po.spool_dir);
        rc = EXIT_USAGE;
    } else if (own_spool) {
        char path[64];
        snprintf(path, sizeof path, "%s/cursor", tmpdir);
        unlink(path);
        rmdir(tmpdir);
    }
    if (skipped) rc = EXIT_USAGE;
    return rc;
}

int cmd_fleet(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "init")) return do_init(argc - 1, argv + 1);
    if (!strcmp(argv[1], "publish")) return do_publish(argc - 1, argv + 1);
    cli_error("fleet: unknown command '%s' (init, publish)", argv[1]);
    return EXIT_USAGE;
}
