/* rule_toml.h - one rule file in Elastic's TOML rule format (internal).
 *
 * The loader reads the keys modus uses and ignores the rest (Elastic files
 * also carry [internal], license, optional_actions...):
 *
 *   [rule]      name, id, query (required strings); description, language,
 *               severity (strings); version (string or integer, kept as
 *               text); os_list (array of strings)
 *   [[actions]] kept as a JSON array, for the alert
 *   [[threat]]  kept as ECS threat[] JSON; technique ids flattened
 *   [modus]     modus's own keys, kept as a JSON object; severity read here
 *
 * Elastic's SIEM detection rules (elastic/detection-rules) are read as they
 * are: the id is [rule].rule_id when [rule].id is absent, the threat is
 * [[rule.threat]], [rule].index (array of index patterns) and risk_score are
 * kept, [metadata] is read for its maturity. A rule whose [rule].type or
 * language is not EQL (KQL "query", ES|QL, threshold, new_terms,
 * machine_learning, threat_match...) is not an error: it is returned with
 * not_applicable set (and no query), for the caller to count apart.
 *
 * Positions are 1-based lines and 1-based byte columns in the file (a UTF-8
 * byte order mark is not counted). Everything a rule_src points to is owned
 * by it and freed by rule_src_free. See rule_toml.cpp (a shim over toml++).
 */
#ifndef MODUS_RULE_TOML_H
#define MODUS_RULE_TOML_H

#include <stddef.h>
#include <stdint.h>
#include "../util/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest rule file accepted (Elastic's are a few KB). */
#ifndef MODUS_MAX_RULE_FILE
#define MODUS_MAX_RULE_FILE (4u << 20)
#endif

/* Most dotted parts in one TOML key or table header ("a.b.c" has 3). toml++
 * builds one nested table per part and recurses over them, so an unbounded
 * key would overflow the stack; Elastic's files use at most 3. */
#ifndef MODUS_MAX_TOML_KEY_PARTS
#define MODUS_MAX_TOML_KEY_PARTS 64
#endif

/* One ATT&CK technique or subtechnique of a [[threat]] entry, with its tactic. */
typedef struct rule_threat_technique {
    char *id, *name;               /* "T1055.012", "Process Hollowing"; name NULL if absent */
    char *tactic_id, *tactic_name; /* "TA0005", "Defense Evasion"; NULL if absent */
    char *parent_id;               /* subtechniques: "T1055"; techniques: NULL */
} rule_threat_technique;

typedef struct rule_src {
    char *file; /* as given */
    /* NULL if absent; version kept as text ("1.0.21" or "3") */
    char *id, *name, *description, *version, *language;
    /* the EQL text exactly as the TOML string value */
    char *query;
    /* 1-based position in the file of the query's FIRST character (after TOML's trimming of
     * the newline that directly follows an opening ''' or """), and its byte offset */
    uint32_t query_line, query_col;
    size_t query_offset;
    /* nonzero when the query is byte for byte the file's text from query_offset on (a literal
     * string, no CRLF): then line/column n of the query is exactly there in the file. In a
     * basic string, escapes shift the columns after them. */
    int query_verbatim;
    char **os_list;
    size_t n_os;
    /* the [[threat]] array re-serialised as compact JSON (ECS threat[] shape:
     * [{"framework":..,"tactic":{"id","name","reference"},
     *   "technique":[{"id","name","reference","subtechnique":[...]}]}]), or NULL.
     * Object keys come out sorted (toml++ keeps tables sorted). */
    char *threat_json;
    char *actions_json; /* [[actions]] as a compact JSON array, or NULL */
    char *modus_json;   /* the [modus] table as a compact JSON object, or NULL */
    char *severity;     /* [modus].severity, else [rule].severity, else NULL */
    /* every technique and subtechnique id, e.g. "T1055", "T1055.012", once each, in file order */
    char **technique_ids;
    size_t n_technique_ids;
    /* every technique and subtechnique entry, with its tactic, in file order */
    rule_threat_technique *techniques;
    size_t n_techniques;
    /* Elastic SIEM rules: [rule].type ("eql", "query", "threshold"...), the index
     * patterns, risk_score (as text), [metadata].maturity; NULL / 0 if absent */
    char *type;
    char **indexes;
    size_t n_indexes;
    char *risk_score;
    char *maturity;
    /* what modus reads among the indexes (data/sources.conf): "endpoint,windows",
     * "" for none; set by the rule set, NULL when the rule names no index */
    char *sources;
    /* non-NULL: the rule is not EQL ("type query, language kuery"); nothing
     * else but the names is filled and the rule is not compiled */
    char *not_applicable;
    /* Sigma rules (sigma.c): the logsource as "product=P,category=C,service=S"
     * (the keys present), which the STP scorer reads for the column */
    char *logsource;
    char *sigma_name; /* the rule's `name` (correlations refer to rules by id or name) */
} rule_src;

/* Parse one TOML document holding one rule ([rule] table). On error returns non-zero and fills
 * *err_line, *err_col (1-based, in the file) and msg (NUL-terminated, a clear message naming
 * the problem, e.g. "missing [rule].query", "[rule].name must be a string", or the TOML
 * parser's own description). *out is zeroed first and left zeroed on error. err_line, err_col
 * and msg may be NULL. Any bytes are accepted: text need not be NUL-terminated or UTF-8. */
int rule_toml_parse(const char *file, const char *text, size_t len, rule_src *out,
                    uint32_t *err_line, uint32_t *err_col, char *msg, size_t msgcap);

/* 1 (the default): toml++ is given the bodies of plain multi-line literal
 * strings blanked and the values are taken from the text (rule_toml.cpp,
 * "Speed"); 0: toml++ reads them itself. The result is the same either way;
 * tests and the fuzz target set 0 to compare. Not to be changed while another
 * thread parses. */
extern int rule_toml_fast;

/* Free what r owns and zero it; NULL-safe, and safe on a zeroed rule_src. */
void rule_src_free(rule_src *r);

#ifdef __cplusplus
}
#endif

#endif
