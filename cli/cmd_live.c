/* cmd_live.c - `modus live`: the Linux eBPF sensor, classified and detected as
 * events happen. Loads the kernel side (libmodus's modus_sensor), drops the
 * capabilities it no longer needs, then: every captured event goes through
 * the same decoder, classifier and rules as `modus scan`. */
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "modus/baseline.h"

static void usage(FILE *f)
{
    fputs("usage: modus live [OPTIONS]\n"
          "\n"
          "Captures kernel events with eBPF (process exec/fork/exit, memory made executable,\n"
          "writes to persistence files, file creations, changes, deletions and chmods where\n"
          "the rules look, libraries loaded from there, ptrace, process_vm_writev and\n"
          "/proc/PID/mem writes, memfd_create, module and bpf loads, inet connections,\n"
          "listens and closes, DNS queries and answers), each with the full user call stack\n"
          "of the thread that caused it, names its execution modality and runs detection\n"
          "rules: the built-in pack, or --rules. Needs root. Runs until SIGINT/SIGTERM or\n"
          "--duration.\n"
          "\n"
          "options:\n"
          "  --rules PATH          a rule file or directory of rules, TOML or Sigma YAML\n"
          "                        (repeatable; default: the built-in pack); Elastic's Linux\n"
          "                        rules load\n"
          "  --sigma-mapping FILE  Sigma logsources and fields -> ECS (default: embedded)\n"
          "  --output FILE         append alerts (NDJSON) to FILE instead of stdout\n"
          "  --all-events          also write every captured event, enriched with modality.*;\n"
          "                        file events also follow the default file policy\n"
          "  --file-policy WHAT    which files' creations, changes, deletions and chmods the\n"
          "                        kernel reports: derived from the rules (default), `print`\n"
          "                        shows it and exits, `all`, or a FILE of `dir /PATH`,\n"
          "                        `dname NAME`, `name NAME`, `ext EXT`, `header`, `all`\n"
          "                        lines (docs/sensor-events.md)\n"
          "  --duration SECONDS    stop after this long\n"
          "  --format json|text    stdout format (default: text on a terminal, else json)\n"
          "  --backend auto|tp|lsm kernel hooks (default auto: lsm where the kernel allows\n"
          "                        BPF trampolines, tracepoints otherwise)\n"
          "  --stack-bytes N       user stack copied per event, 4096..16384 (default 16384)\n"
          "  --modalities FILE     the modality signature table (default: embedded); its\n"
          "                        `code` lines name runtimes by their symbols\n"
          "  --ring-mb N           kernel-to-user ring buffer in MiB, a power of two up to\n"
          "                        1024 (default 16); raise it if the counts show losses\n"
          "  --state-mb N          cap on sequence and process-tree state (default 64: events\n"
          "                        with call stacks are large); the stalest is evicted and\n"
          "                        counted in the stop and interval lines\n"
          "  --module-attempts     on kernels built without module support, watch module\n"
          "                        load attempts anyway (a hook on every syscall, ~+100 ns)\n"
          "  --no-kill             do not carry out [[actions]] kill_process\n"
          "  --stats-interval S    print counts every S seconds (default 60, 0: never)\n"
          "  --baseline DB         also alert on events whose (program, behaviour, modality,\n"
          "                        stack shape) is new to this baseline profile (SQLite path\n"
          "                        or postgresql:// URL; see modus baseline)\n"
          "  --learn SECONDS       with --baseline: first add what is seen for this long to\n"
          "                        the profile, then check against it\n"
          "  --publish URL         also send every alert, and with --all-events every event,\n"
          "                        to the fleet's NATS JetStream (nats://HOST:PORT[,...]);\n"
          "                        events then go to stdout only with --output (docs/fleet.md)\n"
          "  --spool DIR           where documents wait while the server is unreachable or\n"
          "                        slow, resumed after a restart (default /var/lib/modus/spool)\n"
          "  --spool-mb N          the spool's bound in MiB (default 256); when full the\n"
          "                        oldest documents are dropped and counted\n"
          "  --metrics FILE        write the counts every 5 s as Prometheus text (node\n"
          "                        exporter's textfile collector reads it)\n"
          "  --host-name NAME      host.name of the events (default: the host's name)\n"
          "  --env-vars LIST       environment variables kept in process.env_vars (comma-\n"
          "                        separated name globs; default LD_PRELOAD, LD_LIBRARY_PATH,\n"
          "                        LD_AUDIT, GLIBC_TUNABLES, the proxy and HIST* variables)\n"
          "  --env-redact LIST     names whose values become \"<redacted>\" (globs; default\n"
          "                        *TOKEN*, *SECRET*, *PASSWORD*, *_KEY... docs/sensor-events.md)\n"
          "  -q, --quiet           no start-up and statistics lines\n"
          "  -h, --help            this help\n"
          "\n"
          "Exit status: 0, 2 the sensor could not start (not root, no BTF...), 3 rule error.\n",
          f);
    fprintf(f, "\nthe broker's options (--publish):\n%s", cli_nats_help);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct live {
    modus_scanner *sc, *asc;
    modus_alerter *alerter;
    const modus_ruleset *rs;
    FILE *out;
    int format; /* 0 json, 1 text */
    bool all_events, no_kill, quiet;
    uint64_t events, bad, killed;
    modus_baseline *bl; /* --baseline */
    double learn_until; /* monotonic time; learning before it, checking after */
    bool learning;
    uint64_t learned, deviations;
    char *abuf;
    size_t abuf_cap;
    modus_publisher *pub; /* --publish */
    bool write_events;    /* --all-events to the output (not only to the broker) */
} live;

static void field(const modus_event *ev, const char *path, char *out, size_t cap)
{
    modus_value v;
    out[0] = 0;
    if (modus_event_get(ev, path, &v) != MODUS_OK) return;
    if (v.type == MODUS_T_STRING)
        snprintf(out, cap, "%.*s", (int)v.len, v.str);
    else if (v.type == MODUS_T_INT)
        snprintf(out, cap, "%lld", (long long)v.i);
    else if (v.type == MODUS_T_UINT)
        snprintf(out, cap, "%llu", (unsigned long long)v.u);
}

/* [[actions]] kill_process: the process of the sequence stage `state`
 * (Elastic's convention), else the alert's process. */
static void do_actions(live *l, const modus_event *alert, size_t rule)
{
    modus_value acts, a;
    if (modus_event_get(alert, "actions", &acts) != MODUS_OK || acts.type != MODUS_T_ARRAY) return;
    for (size_t i = 0; i < acts.len; i++) {
        if (modus_value_index(alert, &acts, i, &a) != MODUS_OK) continue;
        modus_value act, state;
        if (modus_value_get(alert, &a, "action", &act) != MODUS_OK || act.type != MODUS_T_STRING ||
            act.len != 12 || memcmp(act.str, "kill_process", 12))
            continue;
        char pid[24] = "", name[64] = "";
        if (modus_value_get(alert, &a, "state", &state) == MODUS_OK &&
            (state.type == MODUS_T_INT || state.type == MODUS_T_UINT)) {
            char path[64];
            snprintf(path, sizeof path, "events.%lld.process.pid", (long long)state.i);
            modus_value evs, e1, pv;
            if (modus_event_get(alert, "events", &evs) == MODUS_OK &&
                modus_value_index(alert, &evs, (size_t)state.i, &e1) == MODUS_OK &&
                modus_value_get(alert, &e1, "process.pid", &pv) == MODUS_OK &&
                (pv.type == MODUS_T_INT || pv.type == MODUS_T_UINT))
                snprintf(pid, sizeof pid, "%lld", (long long)pv.i);
        }
        if (!pid[0]) field(alert, "process.pid", pid, sizeof pid);
        field(alert, "process.name", name, sizeof name);
        long p = strtol(pid, NULL, 10);
        modus_rule_info ri;
        modus_ruleset_rule(l->rs, rule, &ri);
        if (p <= 1 || p == getpid()) continue;
        if (l->no_kill) {
            fprintf(stderr, "modus live: rule '%s' asks to kill %ld (%s): not done (--no-kill)\n",
                    ri.name, p, name);
            continue;
        }
        if (kill((pid_t)p, SIGKILL) == 0) {
            l->killed++;
            fprintf(stderr, "modus live: killed %ld (%s): rule '%s'\n", p, name, ri.name);
        } else {
            fprintf(stderr, "modus live: cannot kill %ld (%s) for rule '%s': %s\n", p, name,
                    ri.name, strerror(errno));
        }
    }
}

static void on_alert(void *ctx, const char *json, size_t len, size_t rule)
{
    live *l = ctx;
    if (l->format == 0) {
        fwrite(json, 1, len, l->out);
        fputc('\n', l->out);
        fflush(l->out);
    }
    if (l->pub) modus_publisher_put(l->pub, MODUS_FLEET_ALERT, json, len);
    if (len + MODUS_PADDING > l->abuf_cap) {
        char *nb = realloc(l->abuf, len + MODUS_PADDING);
        if (!nb) return;
        l->abuf = nb;
        l->abuf_cap = len + MODUS_PADDING;
    }
    memcpy(l->abuf, json, len);
    memset(l->abuf + len, ' ', MODUS_PADDING);
    const modus_event *ev;
    modus_diag d;
    if (modus_scanner_decode(l->asc, l->abuf, len, &ev, &d) != MODUS_OK) return;
    if (l->format == 1) {
        modus_rule_info ri;
        modus_ruleset_rule(l->rs, rule, &ri);
        char ts[32], mod[16], proc[64], pid[16];
        field(ev, "@timestamp", ts, sizeof ts);
        field(ev, "modality.name", mod, sizeof mod);
        field(ev, "process.executable", proc, sizeof proc);
        if (!proc[0]) field(ev, "process.name", proc, sizeof proc);
        field(ev, "process.pid", pid, sizeof pid);
        fprintf(l->out, "%-26.26s  %-8s  %-10s  %7s  %-24.24s  %s\n", ts,
                ri.severity ? ri.severity : "-", mod[0] ? mod : "-", pid, proc, ri.name);
        fflush(l->out);
    }
    do_actions(l, ev, rule);
}

static double now(void);

/* --baseline: learn for --learn seconds, then report what the profile has
 * not seen (alerts as `modus baseline check` writes them) */
static void baseline_event(live *l, const modus_event *ev)
{
    modus_diag d = {0};
    if (l->learning && now() >= l->learn_until) {
        l->learning = false;
        if (modus_baseline_flush(l->bl, &d) != MODUS_OK)
            fprintf(stderr, "modus live: baseline: %s\n", d.message);
        if (!l->quiet)
            fprintf(stderr, "modus live: baseline: learned %llu events; checking from now on\n",
                    (unsigned long long)l->learned);
    }
    if (l->learning) {
        if (modus_baseline_learn(l->bl, ev, &d) == MODUS_OK) l->learned++;
        return;
    }
    modus_baseline_check_opts o = {.scope = MODUS_BASELINE_FLEET};
    modus_baseline_verdict v;
    if (modus_baseline_check(l->bl, ev, &o, &v, &d) != MODUS_OK || !v.deviant || !v.alert) return;
    l->deviations++;
    if (l->format == 0) {
        fwrite(v.alert, 1, v.alert_len, l->out);
        fputc('\n', l->out);
        fflush(l->out);
    } else {
        char proc[64];
        field(ev, "process.executable", proc, sizeof proc);
        fprintf(l->out, "%-26s  %-8s  %-10s  %7s  %-24.24s  baseline: %s\n", "-", "-",
                modus_event_modality(ev), "-", proc, v.reason ? v.reason : "deviation");
    }
}

static void on_event(void *ctx, const char *json, size_t len)
{
    live *l = ctx;
    const modus_event *ev;
    modus_diag d = {0};
    if (modus_scanner_decode(l->sc, json, len, &ev, &d) != MODUS_OK) {
        if (l->bad++ < 5)
            fprintf(stderr, "modus live: sensor event %llu unreadable: %s\n",
                    (unsigned long long)l->events + 1, d.message);
        return;
    }
    l->events++;
    if (l->all_events && (l->write_events || l->pub)) {
        size_t n;
        const char *out = modus_event_render(ev, MODUS_RENDER_ENRICHED, &n);
        if (out && l->write_events) {
            fwrite(out, 1, n, l->out);
            fputc('\n', l->out);
        }
        if (out && l->pub) modus_publisher_put(l->pub, MODUS_FLEET_EVENT, out, n);
    }
    modus_alerter_event(l->alerter, ev);
    if (l->bl) baseline_event(l, ev);
}

/* --metrics: the counts as Prometheus text */
static void write_metrics(const char *path, const modus_sensor *s, const live *l)
{
    modus_sensor_stats st;
    modus_sensor_stats_get(s, &st);
    modus_publisher_stats ps = {0};
    if (l->pub) modus_publisher_stats_get(l->pub, &ps);
    cli_metric m[] = {
        {"modus_live_events_total", "Events captured and decoded.", "counter", l->events},
        {"modus_live_alerts_total", "Alerts raised.", "counter", modus_alerter_count(l->alerter)},
        {"modus_live_kernel_lost_total", "Records the kernel could not hand over (ring full).",
         "counter", st.lost},
        {"modus_publish_queued_total", "Documents handed to the publisher.", "counter", ps.queued},
        {"modus_publish_published_total", "Documents the stream acknowledged.", "counter",
         ps.published},
        {"modus_publish_duplicates_total", "Acknowledged as already stored (resends).", "counter",
         ps.duplicates},
        {"modus_publish_spooled_total", "Documents that waited in the spool for the broker.",
         "counter", ps.spooled},
        {"modus_publish_replayed_total", "Spooled documents published since.", "counter",
         ps.replayed},
        {"modus_publish_dropped_total", "Documents dropped unpublished (spool full or damaged).",
         "counter", ps.dropped},
        {"modus_publish_resent_total", "Sends repeated after a timeout or a refusal.", "counter",
         ps.resent},
        {"modus_publish_backlog", "Documents in the spool not yet acknowledged.", "gauge",
         ps.backlog},
        {"modus_publish_spool_bytes", "The spool's size on disk.", "gauge", ps.spool_bytes},
        {"modus_publish_connected", "1 while connected to the broker.", "gauge", ps.connected},
    };
    if (!cli_write_metrics(path, m, l->pub ? sizeof m / sizeof *m : 3))
        fprintf(stderr, "modus live: cannot write %s\n", path);
}

static void print_stats(const modus_sensor *s, const live *l, double secs, const char *when)
{
    modus_sensor_stats st;
    modus_sensor_stats_get(s, &st);
    modus_state_stats ss; /* sequence and process-tree state: evictions are never silent */
    modus_alerter_state(l->alerter, &ss);
    fprintf(stderr,
            "modus live: %s%.0f s: %llu events, %llu alerts, %llu lost in the kernel, "
            "%llu records (%llu malformed), %llu stacks unwound, %llu processes tracked; "
            "state: %llu evicted (peak %.1f MB of %.0f MB)\n",
            when, secs, (unsigned long long)l->events,
            (unsigned long long)modus_alerter_count(l->alerter), (unsigned long long)st.lost,
            (unsigned long long)st.records, (unsigned long long)(st.bad + l->bad),
            (unsigned long long)st.unwound, (unsigned long long)st.processes,
            (unsigned long long)(ss.evicted_partials + ss.evicted_procs), ss.peak / 1048576.0,
            ss.limit / 1048576.0);
    if (l->pub) {
        modus_publisher_stats ps;
        char counts[512];
        modus_publisher_stats_get(l->pub, &ps);
        cli_publisher_counts(counts, sizeof counts, &ps);
        fprintf(stderr, "modus live: publish%s: %s\n", *when ? " at stop" : "", counts);
    }
}

/* After loading: keep only what the event loop needs. CAP_SYS_PTRACE and
 * CAP_DAC_READ_SEARCH read other users' /proc/PID/maps and binaries for
 * symbolization, CAP_KILL carries out kill_process. */
static void drop_caps(bool quiet)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    unsigned keep[] = {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_KILL};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        d[keep[i] / 32].effective |= 1u << (keep[i] % 32);
        d[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
    }
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        bool k = false;
        for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) k |= (unsigned)c == keep[i];
        if (!k) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    }
    if (syscall(SYS_capset, &h, d) != 0 && !quiet)
        fprintf(stderr, "modus live: could not drop capabilities: %s\n", strerror(errno));
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The file policy: what the rules need (with --all-events, and the default),
 * `all`, or a file that replaces it. 0 or -1 (said why). */
static int load_file_policy(const modus_ruleset *rs, const char *what, bool all_events,
                            modus_file_policy **out)
{
    modus_diag d = {0};
    *out = NULL;
    if (what && strcmp(what, "print")) {
        if (!strcmp(what, "all")) {
            static const char all[] = "all\nheader\n";
            if (modus_file_policy_parse(all, sizeof all - 1, "--file-policy", out, &d) != MODUS_OK)
                return -1;
            return 0;
        }
        FILE *f = fopen(what, "rb");
        if (!f) {
            cli_error("live: --file-policy %s: %s", what, strerror(errno));
            return -1;
        }
        char *text = NULL;
        size_t n = 0, cap = 0;
        for (;;) {
            if (n + 4096 > cap) {
                char *t = realloc(text, cap = cap ? cap * 2 : 8192);
                if (!t) break;
                text = t;
            }
            size_t r = fread(text + n, 1, cap - n, f);
            n += r;
            if (!r) break;
        }
        fclose(f);
        modus_status st = modus_file_policy_parse(text ? text : "", n, what, out, &d);
        free(text);
        if (st != MODUS_OK) {
            cli_diag("live: --file-policy", &d);
            return -1;
        }
        return 0;
    }
    if (modus_file_policy_from_rules(rs, out) != MODUS_OK) {
        cli_error("out of memory");
        return -1;
    }
    if (all_events) {
        const char *t = modus_file_policy_default_text();
        modus_file_policy *def = NULL;
        if (modus_file_policy_parse(t, strlen(t), "default", &def, &d) != MODUS_OK ||
            !modus_file_policy_merge(*out, def)) {
            modus_file_policy_free(def);
            return -1;
        }
        modus_file_policy_free(def);
    }
    return 0;
}

int cmd_live(int argc, char **argv)
{
    static const struct option opts[] = {{"rules", required_argument, NULL, 'r'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"all-events", no_argument, NULL, 'a'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"backend", required_argument, NULL, 'b'},
                                         {"stack-bytes", required_argument, NULL, 'B'},
                                         {"ring-mb", required_argument, NULL, 'M'},
                                         {"state-mb", required_argument, NULL, 'Z'},
                                         {"module-attempts", no_argument, NULL, 'R'},
                                         {"no-kill", no_argument, NULL, 'K'},
                                         {"stats-interval", required_argument, NULL, 'i'},
                                         {"baseline", required_argument, NULL, 'D'},
                                         {"learn", required_argument, NULL, 'l'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"sigma-mapping", required_argument, NULL, 'G'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"publish", required_argument, NULL, 'P'},
                                         {"spool", required_argument, NULL, 'S'},
                                         {"spool-mb", required_argument, NULL, 'm'},
                                         {"metrics", required_argument, NULL, 'T'},
                                         {"host-name", required_argument, NULL, 'N'},
                                         {"modalities", required_argument, NULL, 'Y'},
                                         {"env-vars", required_argument, NULL, 'E'},
                                         {"env-redact", required_argument, NULL, 'X'},
                                         {"file-policy", required_argument, NULL, 'F'},
                                         CLI_NATS_LONGOPTS,
                                         {NULL, 0, NULL, 0}};
    modus_fleet_opts fo = {.name = "modus live"};
    modus_publisher_opts po = {
        .spool_dir = "/var/lib/modus/spool", .log = cli_fleet_log, .log_ctx = "live: "};
    const char *metrics = NULL, *file_policy = NULL;
    char *rule_paths[64];
    int nrules = 0, c, format = -1;
    const char *output = NULL, *bl_db = NULL, *modalities = NULL;
    double learn = 0;
    double duration = 0, interval = 60;
    live l = {0};
    modus_sensor_opts so = {0};
    optind = 1;
    unsigned long state_mb = 64;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (nrules == 64) {
                cli_error("live: at most 64 --rules");
                return EXIT_USAGE;
            }
            rule_paths[nrules++] = optarg;
            break;
        case 'o': output = optarg; break;
        case 'a': l.all_events = true; break;
        case 'D': bl_db = optarg; break;
        case 'd':
        case 'l':
        case 'i': {
            char *end;
            double v = strtod(optarg, &end);
            if (*end || v < 0) {
                cli_error("live: --%s needs a number of seconds, not '%s'",
                          c == 'd'   ? "duration"
                          : c == 'l' ? "learn"
                                     : "stats-interval",
                          optarg);
                return EXIT_USAGE;
            }
            if (c == 'd')
                duration = v;
            else if (c == 'l')
                learn = v;
            else
                interval = v;
            break;
        }
        case 'f':
            if ((format = cli_format("live", optarg)) < 0) return EXIT_USAGE;
            break;
        case 'b':
            if (strcmp(optarg, "auto") && strcmp(optarg, "tp") && strcmp(optarg, "lsm")) {
                cli_error("live: --backend must be auto, tp or lsm, not '%s'", optarg);
                return EXIT_USAGE;
            }
            so.backend = strcmp(optarg, "auto") ? optarg : NULL;
            break;
        case 'B': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 4096 || v > 16384) {
                cli_error("live: --stack-bytes must be 4096..16384, not '%s'", optarg);
                return EXIT_USAGE;
            }
            so.stack_bytes = (uint32_t)v;
            break;
        }
        case 'M': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !v || v > 1024 || (v & (v - 1))) {
                cli_error("live: --ring-mb must be a power of two from 1 to 1024, not '%s'",
                          optarg);
                return EXIT_USAGE;
            }
            so.ring_mb = (uint32_t)v;
            break;
        }
        case 'Z': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || v < 1 || v > 65536) {
                cli_error("live: --state-mb needs a number from 1 to 65536, not '%s'", optarg);
                return EXIT_USAGE;
            }
            state_mb = v;
            break;
        }
        case 'R': so.module_attempts = true; break;
        case 'K': l.no_kill = true; break;
        case 'q': l.quiet = true; break;
        case 'G': cli_sigma_mapping = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'P': fo.url = optarg; break;
        case 'S': po.spool_dir = optarg; break;
        case 'm': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !v || v > (1ul << 20)) {
                cli_error("live: --spool-mb must be 1..1048576, not '%s'", optarg);
                return EXIT_USAGE;
            }
            po.spool_bytes = (uint64_t)v << 20;
            break;
        }
        case 'T': metrics = optarg; break;
        case 'N': so.hostname = po.host = optarg; break;
        case 'Y': modalities = optarg; break;
        case 'E': so.env_vars = optarg; break;
        case 'X': so.env_redact = optarg; break;
        case 'F': file_policy = optarg; break;
        default:
            if (cli_nats_option(c, optarg, &fo)) break;
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("live: unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    if (learn > 0 && !bl_db) {
        cli_error("live: --learn needs --baseline DB (where to keep what is learned)");
        return EXIT_USAGE;
    }
    bool print_policy = file_policy && !strcmp(file_policy, "print");
    if (geteuid() != 0 && !print_policy) {
        cli_error("live: the sensor needs root (it loads eBPF programs)");
        return EXIT_USAGE;
    }
    size_t loaded = 0, failed = 0;
    int lrc;
    modus_ruleset *rs = cli_load_rules("live", rule_paths, nrules, &loaded, &failed, &lrc);
    if (!rs) return lrc == EXIT_USAGE ? EXIT_RULES : lrc; /* a bad mapping: a rule error here */
    modus_file_policy *fpol = NULL;
    if (load_file_policy(rs, file_policy, l.all_events, &fpol) != 0) {
        modus_ruleset_destroy(rs);
        return EXIT_USAGE;
    }
    so.file_policy = fpol;
    if (print_policy) {
        char *t = modus_file_policy_format(fpol);
        if (t) fputs(t, stdout);
        free(t);
        modus_file_policy_free(fpol);
        modus_ruleset_destroy(rs);
        return EXIT_OK;
    }
    l.rs = rs;
    modus_engine_opts eo = {.rules = rs, .modalities_path = modalities};
    modus_engine *eng = NULL;
    modus_diag d = {0};
    if (modus_engine_create(&eo, &eng, &d) != MODUS_OK) {
        cli_diag("engine", &d);
        modus_ruleset_destroy(rs);
        return EXIT_USAGE;
    }
    l.out = stdout;
    if (output) {
        l.out = cli_fopen_private(output, true); /* 0600: events are sensitive */
        if (!l.out) {
            cli_error("live: cannot open %s: %s", output, strerror(errno));
            modus_engine_destroy(eng);
            modus_ruleset_destroy(rs);
            return EXIT_USAGE;
        }
        format = 0;
    }
    if (format < 0) format = isatty(fileno(l.out)) ? 1 : 0;
    l.format = format;
    /* with --publish the events go to the broker; to the output as well only
     * when one was named */
    l.write_events = format == 0 && (!fo.url || output);
    int rc = EXIT_OK;
    modus_sensor *sensor = NULL;
    if (fo.url && modus_publisher_open(&fo, &po, &l.pub, &d) != MODUS_OK) {
        cli_diag("live: publish", &d);
        rc = EXIT_USAGE;
        goto done;
    }
    if (bl_db) {
        if (modus_baseline_open(bl_db, learn > 0, &l.bl, &d) != MODUS_OK) {
            cli_error("live: baseline: %s: %s", bl_db, d.message);
            rc = EXIT_USAGE;
            goto done;
        }
        l.learning = learn > 0;
        l.learn_until = now() + learn;
    }
    if (modus_scanner_create(eng, &l.sc) != MODUS_OK ||
        modus_scanner_create(eng, &l.asc) != MODUS_OK ||
        modus_alerter_create(eng, rs, on_alert, &l, &l.alerter) != MODUS_OK) {
        cli_error("out of memory");
        rc = EXIT_USAGE;
        goto done;
    }
    /* a sensor's events carry their call stacks (KBs each): a larger default
     * cap than a file scan's, so sequences are not evicted on a busy host */
    modus_alerter_state_limit(l.alerter, (size_t)state_mb << 20);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    double t0 = now();
    so.engine = eng; /* names the launch modality of each exec */
    if (modus_sensor_open(&so, &sensor, &d) != MODUS_OK) {
        cli_error("live: %s", d.message);
        rc = EXIT_USAGE;
        goto done;
    }
    drop_caps(l.quiet);
    if (!l.quiet) {
        fprintf(stderr,
                "modus live: backend %s; %zu rules%s; stack copy %u bytes; ring %u MiB; started "
                "in %.0f ms\n",
                modus_sensor_backend(sensor), loaded, nrules ? "" : " (built-in pack)",
                so.stack_bytes ? so.stack_bytes : 16384, so.ring_mb ? so.ring_mb : 16,
                (now() - t0) * 1e3);
        const char *why, *ops;
        if (modus_file_policy_all(fpol, &why, &ops))
            fprintf(stderr,
                    "modus live: file events: every file for %s: %s (no condition on file.path, "
                    "file.name or file.extension)\n",
                    ops, why);
        else if (!modus_file_policy_empty(fpol))
            fprintf(stderr,
                    "modus live: file events: where the rules look (--file-policy print)\n");
        fprintf(stderr, "modus live: ready\n");
    }
    if (l.format == 1)
        fprintf(l.out, "%-26s  %-8s  %-10s  %7s  %-24s  %s\n", "TIME", "SEVERITY", "MODALITY",
                "PID", "PROCESS", "RULE");
    double start = now(), last = start, last_metrics = start;
    while (!stop_flag) {
        if (modus_sensor_poll(sensor, 50, on_event, &l) != MODUS_OK) {
            cli_error("live: reading the ring buffer failed");
            rc = EXIT_USAGE;
            break;
        }
        modus_publisher_flush(l.pub);
        double t = now();
        if (metrics && t - last_metrics >= 5) {
            last_metrics = t;
            write_metrics(metrics, sensor, &l);
        }
        if (duration > 0 && t - start >= duration) break;
        if (interval > 0 && t - last >= interval && !l.quiet) {
            last = t;
            print_stats(sensor, &l, t - start, "");
        }
    }
    /* drain what the kernel already handed over: each poll stops after its
     * budget, so poll again while records come, for at most 30 s */
    uint64_t drained = UINT64_MAX;
    for (double t_drain = now(); now() - t_drain < 30;) {
        modus_sensor_stats ds;
        modus_sensor_stats_get(sensor, &ds);
        if (ds.records == drained) break; /* the last poll read nothing */
        drained = ds.records;
        modus_sensor_poll(sensor, 0, on_event, &l);
    }
    modus_alerter_finish(l.alerter);
    if (l.bl) {
        if (l.learning && modus_baseline_flush(l.bl, &d) != MODUS_OK)
            cli_error("live: baseline: %s", d.message);
        if (!l.quiet)
            fprintf(stderr, "modus live: baseline: %llu events learned, %llu deviations\n",
                    (unsigned long long)l.learned, (unsigned long long)l.deviations);
    }
    fflush(l.out);
    if (l.pub) { /* what is still unacknowledged after 5 s waits in the spool */
        modus_publisher_flush(l.pub);
        modus_publisher_stats ps;
        for (int i = 0; i < 50; i++) {
            modus_publisher_stats_get(l.pub, &ps);
            if (!ps.backlog || !ps.connected) break;
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    if (metrics) write_metrics(metrics, sensor, &l);
    print_stats(sensor, &l, now() - start, "stopped after ");
done:
    modus_publisher_close(l.pub, 0);
    modus_sensor_close(sensor);
    modus_baseline_close(l.bl);
    modus_alerter_destroy(l.alerter);
    modus_scanner_destroy(l.sc);
    modus_scanner_destroy(l.asc);
    modus_engine_destroy(eng);
    modus_ruleset_destroy(rs);
    modus_file_policy_free(fpol);
    free(l.abuf);
    if (l.out && l.out != stdout) fclose(l.out);
    return rc;
}
