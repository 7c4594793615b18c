/* ruleset.h - the rule set's insides, shared with the alerter (internal). */
#ifndef MODUS_RULESET_H
#define MODUS_RULESET_H

#include "modus/modus.h"
#include "../util/arena.h"
#include "rule_toml.h"

typedef struct rule {
    rule_src src;
    modus_query *q;
} rule;

/* a rule read but not compiled because it does not apply (not EQL) */
typedef struct skipped_rule {
    char *file, *why;
} skipped_rule;

struct sigma_map;
struct sources_tab;
struct modus_ruleset {
    rule *r;
    size_t n, cap;
    skipped_rule *skip;
    size_t nskip, capskip;
    struct sigma_map *sigma; /* the Sigma mapping table; NULL: the embedded one, loaded on use */
    struct sources_tab *sources; /* data/sources.conf, loaded on use */
    arena asts; /* the rules' query ASTs (query_compile_in): one arena for all, not a
                   4 KB block and its unused tail per rule */
};

#endif
