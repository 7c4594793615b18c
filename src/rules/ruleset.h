/* ruleset.h - the rule set's insides, shared with the alerter (internal). */
#ifndef MODUS_RULESET_H
#define MODUS_RULESET_H

#include "modus/modus.h"
#include "rule_toml.h"

typedef struct rule {
    rule_src src;
    modus_query *q;
} rule;

struct modus_ruleset {
    rule *r;
    size_t n, cap;
};

#endif
