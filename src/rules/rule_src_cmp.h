/* rule_src_cmp.h - tests only: whether two parses of one TOML rule file gave
 * the same result (return code, error position and message, every field of
 * the rule). Used by tests/unit/test_rule_toml.c and fuzz/fuzz_rule_toml.c to
 * check that rule_toml_fast changes nothing. */
#ifndef MODUS_RULE_SRC_CMP_H
#define MODUS_RULE_SRC_CMP_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rules/rule_toml.h"

typedef struct rule_parse_out {
    int rc;
    rule_src r;
    uint32_t line, col;
    char msg[256];
} rule_parse_out;

static inline int rule_cmp_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static inline int rule_cmp_strv(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (!rule_cmp_str(a[i], b[i])) return 0;
    return 1;
}

/* NULL if equal, else the name of the first field that differs */
static inline const char *rule_parse_diff(const rule_parse_out *x, const rule_parse_out *y)
{
    const rule_src *a = &x->r, *b = &y->r;
    if (x->rc != y->rc) return "rc";
    if (x->line != y->line || x->col != y->col) return "error position";
    if (strcmp(x->msg, y->msg)) return "error message";
#define S(f)                                                                                       \
    if (!rule_cmp_str(a->f, b->f)) return #f
    S(file);
    S(id);
    S(name);
    S(description);
    S(version);
    S(language);
    S(query);
    S(threat_json);
    S(actions_json);
    S(modus_json);
    S(severity);
    S(type);
    S(risk_score);
    S(maturity);
    S(sources);
    S(not_applicable);
    S(logsource);
    S(sigma_name);
    if (a->query_line != b->query_line || a->query_col != b->query_col ||
        a->query_offset != b->query_offset || a->query_verbatim != b->query_verbatim)
        return "query position";
    if (!rule_cmp_strv(a->os_list, a->n_os, b->os_list, b->n_os)) return "os_list";
    if (!rule_cmp_strv(a->indexes, a->n_indexes, b->indexes, b->n_indexes)) return "indexes";
    if (!rule_cmp_strv(a->technique_ids, a->n_technique_ids, b->technique_ids, b->n_technique_ids))
        return "technique_ids";
    if (a->n_techniques != b->n_techniques) return "techniques";
    for (size_t i = 0; i < a->n_techniques; i++) {
        S(techniques[i].id);
        S(techniques[i].name);
        S(techniques[i].tactic_id);
        S(techniques[i].tactic_name);
        S(techniques[i].parent_id);
    }
#undef S
    return NULL;
}

/* Parse text twice, with and without rule_toml_fast; the first differing
 * field or NULL. Both results are freed. */
static inline const char *rule_parse_fast_diff(const char *file, const char *text, size_t len)
{
    static rule_parse_out o[2];
    int saved = rule_toml_fast;
    for (int k = 0; k < 2; k++) {
        rule_toml_fast = !k;
        o[k].rc = rule_toml_parse(file, text, len, &o[k].r, &o[k].line, &o[k].col, o[k].msg,
                                  sizeof o[k].msg);
    }
    rule_toml_fast = saved;
    const char *d = rule_parse_diff(&o[0], &o[1]);
    rule_src_free(&o[0].r);
    rule_src_free(&o[1].r);
    return d;
}

#endif
