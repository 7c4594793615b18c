/* sigma.h - Sigma rules (SigmaHQ YAML) compiled to EQL (internal; sigma.c).
 *
 * A Sigma file (one or more YAML documents: rules and correlations) becomes
 * rule_src records whose query is EQL text over the ECS documents modus
 * writes; the rule set compiles that text like any TOML rule, so Sigma rules
 * run on the same engine. The mapping from Sigma's logsources and field
 * names to ECS is data (data/sigma.conf, embedded; replaceable).
 */
#ifndef MODUS_SIGMA_H
#define MODUS_SIGMA_H

#include <stddef.h>
#include <stdint.h>

#include "modus/modus.h"
#include "rule_toml.h"

typedef struct sigma_map sigma_map;

/* The mapping table from a file, or the embedded one (path NULL). On error
 * diag has the file, line and message. */
modus_status sigma_map_load(const char *path, sigma_map **out, modus_diag *diag);
void sigma_map_free(sigma_map *m);
/* The embedded table's text. */
const char *sigma_map_default(size_t *len);

typedef struct sigma_sink {
    void *ctx;
    /* a compiled rule: the callee owns src from here on (rule_src_free) */
    modus_status (*rule)(void *ctx, rule_src *src);
    /* a document that does not compile: position in the file and why */
    void (*error)(void *ctx, uint32_t line, uint32_t col, const char *msg);
    /* a Sigma rule loaded earlier (another file), by id or name, for
     * correlations: NULL if none */
    const rule_src *(*lookup)(void *ctx, const char *ref);
} sigma_sink;

/* Compile every document of one Sigma file. Any bytes are accepted. Returns
 * MODUS_OK, or what the sink's rule callback returned when that failed. */
modus_status sigma_load(const sigma_map *m, const char *file, const char *text, size_t len,
                        const sigma_sink *sink);

/* Whether a path names a Sigma file (.yml / .yaml). */
int sigma_is_file(const char *path);

#endif
