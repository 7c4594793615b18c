/* eql.h - EQL (the Elasticsearch / Elastic Defend dialect): AST, compiler,
 * evaluator and query runtime (internal).
 *
 *   eql_lex.c    text -> tokens (line/column for every token)
 *   eql_parse.c  tokens -> AST in an arena; functions resolved, patterns compiled
 *   eql_eval.c   expression evaluation over one event, three-valued logic
 *   eql_func.c   the string, array, network and math functions
 *   ../detect/detect_query.c  running them: event queries, sequences, lineage, pipes
 */
#ifndef MODUS_EQL_H
#define MODUS_EQL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../decode/json.h"
#include "../util/arena.h"
#include "../util/sv.h"

/* ---- values ---------------------------------------------------------------- */

enum eql_vtype { V_NULL, V_BOOL, V_INT, V_DOUBLE, V_STR, V_ARR, V_OBJ };

typedef struct eql_val {
    uint8_t t;
    bool b;
    int64_t i;
    double d;
    const char *s; /* V_STR, not NUL-terminated */
    uint32_t n;
    uint32_t ref; /* V_ARR / V_OBJ: node in the event's node table */
} eql_val;

static inline eql_val eql_null(void)
{
    eql_val v;
    memset(&v, 0, sizeof v);
    return v;
}

static inline eql_val eql_bool(bool b)
{
    eql_val v = eql_null();
    v.t = V_BOOL;
    v.b = b;
    return v;
}

/* ---- AST -------------------------------------------------------------------- */

enum eql_kind {
    N_LIT,   /* val */
    N_FIELD, /* path; var >= 0: $var.path */
    N_NOT,
    N_NEG,
    N_AND,
    N_OR,
    N_EQ,
    N_NE,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_MOD,
    N_COLON,   /* kids[0] : kids[1..] (case-insensitive, wildcards) */
    N_LIKE,    /* kids[0] like[~] kids[1..] (wildcards) */
    N_REGEX,   /* kids[0] regex[~] kids[1..] */
    N_IN,      /* kids[0] in[~] (kids[1..]); neg: not in */
    N_CALL,    /* fn(kids...) */
    N_LINEAGE, /* descendant / child / event of [sub] */
};

enum { LIN_DESCENDANT, LIN_CHILD, LIN_EVENT };

struct eql_query;
/* 64 bytes: what every node has, then what its kind holds (read a member of
 * the union only for its kind: a literal's value shares the bytes of a
 * field's path). 68,000 nodes for 787 rules. */
typedef struct eql_node {
    uint8_t kind;
    bool ci;       /* ~ variant */
    bool neg;      /* not in */
    bool optional; /* ?field */
    uint32_t nkids;
    struct eql_node **kids;
    uint32_t line, col; /* where it was written */
    union {
        eql_val val;          /* N_LIT */
        struct {              /* N_FIELD */
            const char *path; /* dotted, may hold [N] indexes */
            uint32_t path_len;
            int field_id; /* interned path (eql_field_intern) for the per-event cache, -1 */
            int var;      /* $var index, -1 */
            int alias;    /* an earlier sequence stage's event (`[...] as event0`), -1 */
        };
        void **pat; /* N_LIKE/N_REGEX/N_COLON: compiled pattern per literal kid */
        int fn;     /* N_CALL: function id */
        struct {    /* N_LINEAGE */
            struct eql_query *sub;
            int lin_slot; /* index into the runtime's lineage marks */
            uint8_t lineage;
        };
    };
} eql_node;

/* One event query: CATEGORY where EXPR. */
typedef struct eql_stage {
    sv category; /* "any" matches every event */
    bool any;
    eql_node *where;
    eql_node **by; /* join keys: shared sequence keys first, then the stage's own */
    uint32_t nby;
    uint32_t runs;   /* with runs=N */
    bool fork;       /* fork=true: reaching this stage copies the partial match */
    sv alias;        /* `as NAME`, empty if none */
    bool uses_alias; /* the where clause reads an earlier stage's event */
    bool missing;    /* ![...]: a missing event (Elasticsearch): no such event may occur */
} eql_stage;

/* Q_SAMPLE: `sample by k [..] [..]`, Elasticsearch's unordered samples (one
 * event per stage sharing the join keys; see detect_sample.c). A Q_SEQUENCE
 * with missing stages (![...]) runs there too. */
enum { Q_EVENT, Q_SEQUENCE, Q_JOIN, Q_SAMPLE };
enum { P_HEAD, P_TAIL, P_FILTER, P_SORT, P_UNIQUE, P_UNIQUE_COUNT, P_COUNT };

typedef struct eql_pipe {
    uint8_t kind;
    int64_t n;       /* head / tail */
    eql_node **args; /* filter: 1; sort / unique: keys */
    uint32_t nargs;
} eql_pipe;

typedef struct eql_query {
    uint8_t kind;
    eql_stage *stages; /* Q_EVENT: 1 */
    uint32_t nstages;
    eql_stage *until;   /* NULL */
    int64_t maxspan_ns; /* 0: none */
    eql_pipe *pipes;
    uint32_t npipes;
    uint32_t nvars;            /* $ variables used by arraySearch / _arraysearch */
    uint32_t nlineage;         /* lineage sub-queries in the whole tree */
    struct eql_node **lineage; /* every N_LINEAGE node, by lin_slot */
    const char **fields;       /* every field path the query reads (for the decoder) */
    uint32_t nfields;
    void **regexes; /* every compiled regex (malloc'd: free with eql_query_free) */
    uint32_t nregexes;
} eql_query;

typedef struct eql_error {
    uint32_t line, col; /* 1-based in the query text */
    char msg[256];
} eql_error;

/* Compile a query. The AST lives in `a`. Returns NULL with err filled. */
eql_query *eql_compile(arena *a, const char *text, size_t len, eql_error *err);
/* What the arena does not own (regexes). */
void eql_query_free(eql_query *q);
/* Whether a sequence has missing-event stages (![...]). */
bool eql_query_has_missing(const eql_query *q);

/* ---- lexer (eql_lex.c) --------------------------------------------------------- */

enum eql_tok {
    T_EOF,
    T_IDENT,
    T_STRING,
    T_INT,
    T_DOUBLE,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_PIPE,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_COLON,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PCT,
    T_TILDE,
    T_ASSIGN,
    T_DOT,
    T_VAR,
    T_QFIELD,
    T_BANG, /* `!` before `[`: a missing-event stage */
    T_ERROR
};

typedef struct eql_token {
    uint8_t t;
    const char *p; /* raw text */
    uint32_t n;
    uint32_t line, col;
    const char *s; /* T_STRING: unescaped (arena); T_IDENT: as written */
    uint32_t sn;
    bool quoted; /* T_IDENT with back-ticks: a field name, never a keyword or function */
    int64_t i;
    double d;
} eql_token;

typedef struct eql_lexer {
    const char *p, *end, *start;
    uint32_t line;
    const char *line_start;
    arena *a;
} eql_lexer;

void eql_lex_init(eql_lexer *lx, arena *a, const char *text, size_t len);
eql_token eql_lex_next(eql_lexer *lx);

/* ---- evaluation (eql_eval.c, eql_func.c) ------------------------------------- */

/* What one event's evaluation learns once and every rule reuses: the
 * node of each field path (by interned id) and the event's time. Owned by
 * the scanner; `gen` says which event it describes. */
typedef struct eql_cache {
    uint64_t gen;
    uint64_t time_gen;
    int64_t time;
    uint32_t *node;     /* per field id: node index + 1 (0: absent) */
    uint64_t *node_gen; /* per field id: the gen node[] was filled for */
    uint32_t cap;
    struct eql_memo *memo; /* across events: a string's answer against a list of
                              patterns (eql_cache_memo); NULL: none */
} eql_cache;

/* Keep, across the events of this cache, the answer of `: (patterns)`,
 * `like`, `regex` with several literal patterns for each string (the same
 * call-stack frames and paths come back event after event). false: out of
 * memory (no memo; evaluation is the same, slower). */
bool eql_cache_memo(eql_cache *c);

/* A process-wide id for a field path (thread-safe; ids are never reused). */
int eql_field_intern(const char *path, uint32_t len);
void eql_cache_free(eql_cache *c);

typedef struct eql_ctx {
    const mj_doc *doc;          /* the event */
    arena *scratch;             /* per-event strings */
    eql_val *vars;              /* $var bindings */
    const bool *lineage;        /* per lin_slot: does this event's process descend from a match */
    const mj_doc *const *alias; /* per stage: its event in the partial match, or NULL */
    eql_cache *cache;           /* may be NULL */
} eql_ctx;

eql_val eql_eval(eql_ctx *c, const eql_node *n);
/* A where clause holds only if it evaluates to true (null and false do not);
 * a non-boolean value counts when non-empty / non-zero. */
static inline bool eql_true(eql_val v)
{
    switch (v.t) {
    case V_BOOL: return v.b;
    case V_NULL: return false;
    case V_INT: return v.i != 0;
    case V_DOUBLE: return v.d != 0;
    default: return v.n != 0;
    }
}
eql_val eql_field(const eql_ctx *c, const char *path, uint32_t len, uint32_t from);
/* A top-level path through the event's cache (field_id from eql_field_intern):
 * the node, 0 if absent; UINT32_MAX when there is no cache. */
uint32_t eql_field_node(const eql_ctx *c, int field_id, const char *path, uint32_t len);
/* the same, looked up as path from node `from` when it is not cached: the
 * caller knows that this finds what the whole path from the root would */
uint32_t eql_field_node_from(const eql_ctx *c, int field_id, uint32_t from, const char *path,
                             uint32_t len);
/* eql_field(c, path, len, 0), through the cache when there is one */
eql_val eql_field_cached(const eql_ctx *c, int field_id, const char *path, uint32_t len);
int eql_compare(const eql_val *a, const eql_val *b,
                bool *ok); /* -1/0/1, ok=false if incomparable */
bool eql_equal(const eql_val *a, const eql_val *b, bool ci);

/* functions */
typedef eql_val (*eql_fn_impl)(eql_ctx *c, const eql_node *call, const eql_val *args,
                               uint32_t nargs);
typedef struct eql_fn_def {
    const char *name;       /* lower-case */
    int min_args, max_args; /* max -1: variadic */
    bool has_ci;            /* a ~ form exists */
    bool lazy;              /* arguments are evaluated by the function (arraySearch) */
    eql_fn_impl impl;
} eql_fn_def;
int eql_fn_lookup(const char *name, size_t len);
const eql_fn_def *eql_fn_get(int id);

/* wildcard and regex patterns */
void *eql_glob_compile(arena *a, const char *s, uint32_t n, bool ci);
bool eql_glob_match(const void *pat, const char *s, uint32_t n);
void *eql_regex_compile(const char *s, uint32_t n, bool ci, char *err, size_t errcap);
bool eql_regex_match(const void *re, const char *s, uint32_t n);
void eql_regex_free(void *re);

#endif
