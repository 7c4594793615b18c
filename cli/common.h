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

int cmd_scan(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_rules(int argc, char **argv);
/* cmd_rules.c: PATHs, or the default pack when n == 0 */
modus_ruleset *cli_load_rules(char **paths, int n, size_t *loaded, size_t *failed);
/* --sigma-mapping FILE of the command being run (NULL: the embedded table) */
extern const char *cli_sigma_mapping;
int cmd_stack(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_baseline(int argc, char **argv);

#endif
