/* common.h - shared CLI helpers: messages, exit codes, option parsing. */
#ifndef MODUS_CLI_COMMON_H
#define MODUS_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "modus/modus.h"

/* Exit status (SPEC §6). */
enum { EXIT_OK = 0, EXIT_ALERTS = 1, EXIT_USAGE = 2, EXIT_RULES = 3 };

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "modus: FILE:LINE:COL: (byte N) MESSAGE" */
void cli_diag(const char *context, const modus_diag *d);
/* Engine from the embedded table or --modalities FILE; prints on failure. */
modus_engine *cli_engine(const char *modalities_path);
/* Whether option `arg` is --help or -h. */
bool cli_is_help(const char *arg);
/* --format json|text -> 0|1; -1 (and a message naming cmd) otherwise */
int cli_format(const char *cmd, const char *arg);

/* ---- reading telemetry (input.c) ---- */
#define CLI_MAX_REPORTED 20 /* errors printed per file; the rest are counted */

typedef struct cli_input_opts {
    size_t max_line; /* 0: default */
    bool quiet;      /* count errors, print none */
} cli_input_opts;

typedef struct cli_counts {
    uint64_t events, bad_json, too_long, io_errors, files_failed;
    uint64_t bytes_done, bytes_read; /* finished files; and including the current one */
} cli_counts;

static inline uint64_t cli_errors(const cli_counts *n)
{
    return n->bad_json + n->too_long + n->io_errors + n->files_failed;
}

/* Called for each decoded event; non-zero stops the file and is returned. */
typedef int (*cli_event_fn)(const modus_event *ev, const char *file, uint64_t line, void *ctx);
int cli_each_event(modus_scanner *sc, const char *path, const cli_input_opts *o, cli_counts *n,
                   cli_event_fn fn, void *ctx);
/* The lines of a file undecoded (modus scan -j): fn gets each line with its
 * place (file name borrowed for the run), note each reader error (too long,
 * unreadable) to count and report; the caller decodes. */
typedef int (*cli_line_fn)(const char *line, size_t len, const char *file, uint64_t lineno,
                           uint64_t offset, void *ctx);
typedef void (*cli_note_fn)(modus_status st, const modus_diag *d, void *ctx);
int cli_each_line(const char *path, const cli_input_opts *o, cli_counts *n, cli_line_fn fn,
                  cli_note_fn note, void *ctx);

/* ---- configuration files (config.c) ---- */
/* Replaces `--config FILE` in argv by the file's options (see config.c). */
int cli_config(int *argc, char ***argv);
/* The parser alone: key/value pointers into text (changed in place); -1
 * and a message naming the line on a bad line. */
int cli_config_parse(char *text, size_t len, char **keys, char **vals, int max, int *n, char *err,
                     size_t cap);

/* ---- the fleet: NATS options and counts shared by live, scan, baseline
 * and fleet (cmd_fleet.c), and --from (from.c) ---- */
#include "modus/fleet.h"
enum {
    OPT_NATS_USER = 0x1000,
    OPT_NATS_PASSWORD,
    OPT_NATS_TOKEN_FILE,
    OPT_NATS_CA,
    OPT_FROM,
    OPT_PARTITIONS,
    OPT_GROUP,
    OPT_DURATION,
    OPT_IDLE,
};
#define CLI_NATS_LONGOPTS                                                                          \
    {"nats-user", required_argument, NULL, OPT_NATS_USER},                                         \
        {"nats-password", required_argument, NULL, OPT_NATS_PASSWORD},                             \
        {"nats-token-file", required_argument, NULL, OPT_NATS_TOKEN_FILE},                         \
    {                                                                                              \
        "nats-ca", required_argument, NULL, OPT_NATS_CA                                            \
    }
/* The help lines of those options. */
extern const char cli_nats_help[];
/* Handles one of them: 1 handled, 0 not one of them. */
int cli_nats_option(int c, const char *arg, modus_fleet_opts *o);
/* Prints a fleet line on stderr ("modus: LINE"); the log callback. */
void cli_fleet_log(void *ctx, const char *line);
/* "published N, spooled N, replayed N, dropped N, backlog N" */
void cli_publisher_counts(char *out, size_t cap, const modus_publisher_stats *s);
/* One metric for a Prometheus text file. */
typedef struct cli_metric {
    const char *name, *help, *type; /* type: "counter" or "gauge" */
    uint64_t value;
} cli_metric;
/* Writes the metrics to path atomically (a temporary file renamed). */
bool cli_write_metrics(const char *path, const cli_metric *m, size_t n);

/* --from URL: modus scan and modus baseline learn|check consuming the
 * fleet's events instead of files (from.c). */
typedef struct cli_from {
    modus_fleet_opts fleet;
    unsigned partitions;
    const char *group;
    double duration;
    double idle; /* --idle: stop once the stream is quiet this long */
    size_t max_line;
    bool quiet;
} cli_from;
int cli_scan_from(const cli_from *f, const modus_engine *eng, const modus_ruleset *rs, int format);
struct modus_baseline_check_opts;
int cli_baseline_from(const cli_from *f, const char *db, bool learn,
                      const struct modus_baseline_check_opts *check, const char *table);
/* Parses --from/--partitions/--group/--duration/--idle: 1 handled, 0 not one of
 * them, -1 bad value (reported). */
int cli_from_option(int c, const char *arg, cli_from *f, const char *cmd);
extern const char cli_from_help[];
#define CLI_FROM_LONGOPTS                                                                          \
    {"from", required_argument, NULL, OPT_FROM},                                                   \
        {"partitions", required_argument, NULL, OPT_PARTITIONS},                                   \
        {"group", required_argument, NULL, OPT_GROUP},                                             \
        {"duration", required_argument, NULL, OPT_DURATION},                                       \
    {                                                                                              \
        "idle", required_argument, NULL, OPT_IDLE                                                  \
    }
int cmd_fleet(int argc, char **argv);

int cmd_scan(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_rules(int argc, char **argv);
/* cmd_rules.c: PATHs, or the default pack when n == 0 */
modus_ruleset *cli_load_rules(const char *cmd, char **paths, int n, size_t *loaded, size_t *failed,
                              int *rc);
/* One --rules PATH into rs; false (reported) when PATH does not exist or
 * holds no rule: the caller exits EXIT_RULES. */
bool cli_add_rules(modus_ruleset *rs, const char *cmd, const char *path, modus_rule_error_fn cb,
                   void *ctx, size_t *loaded, size_t *failed);
/* fopen(path, append ? "a" : "w"), but a file it creates is 0600. */
FILE *cli_fopen_private(const char *path, bool append);
/* --sigma-mapping FILE of the command being run (NULL: the embedded table) */
extern const char *cli_sigma_mapping;
int cmd_stack(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_baseline(int argc, char **argv);

#endif
