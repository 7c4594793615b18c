/* common.h - shared CLI helpers: messages, exit codes, option parsing. */
#ifndef MODUS_CLI_COMMON_H
#define MODUS_CLI_COMMON_H

#include <stdbool.h>
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

int cmd_scan(int argc, char **argv);
int cmd_stack(int argc, char **argv);

#endif
