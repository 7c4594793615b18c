/* eql_parse.c - EQL text into an AST, checked and ready to evaluate.
 *
 * A recursive-descent parser over the tokens of eql_lex.c, with the
 * precedence of the Elasticsearch grammar (low to high): or, and, not,
 * comparison (== != < <= > >= : like regex in), + -, * / %, unary -, primary.
 * The original (Endgame) EQL's `=` is accepted as `==`; its case-insensitive
 * `==` and wildcards in `==` are not: modus follows Elasticsearch there.
 * Compile-time work so evaluation does none: function names resolved to ids
 * (case-insensitive, `~` forms checked), argument counts checked, wildcard
 * and regex literals compiled, `-` folded into numeric literals, arraySearch
 * variables bound to slots, lineage sub-queries numbered, and every field the
 * query reads collected so the decoder extracts exactly those. Errors carry
 * the line and column of the offending token.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eql.h"

#define MAX_VARS  16
#define MAX_DEPTH 200

typedef struct parser {
    eql_lexer lx;
    eql_token tok, peek;
    bool has_peek;
    arena *a;
    eql_error *err;
    bool failed;
    int depth;
    /* variables in scope (arraySearch) */
    sv vars[MAX_VARS];
    int var_slot[MAX_VARS];
    int nvars_scope;
    uint32_t nvars_total;
    /* collected fields and lineage nodes */
    const char **fields;
    uint32_t *field_lens; /* strlen of each (the list is searched for every field node) */
    uint32_t nfields, capfields;
    eql_node **lineage;
    uint32_t nlineage, caplineage;
    void **regexes;
    uint32_t nregexes, capregexes;
    /* sequence stage aliases seen so far (`[...] as event0`) */
    sv aliases[64];
    uint32_t nalias;
    eql_stage *cur_stage;
} parser;

static void fail(parser *p, const eql_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(parser *p, const eql_token *t, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = true;
    p->err->line = t->line;
    p->err->col = t->col;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->t == T_EOF)
        snprintf(p->err->msg, sizeof p->err->msg, "%s, at the end of the query", msg);
    else
        snprintf(p->err->msg, sizeof p->err->msg, "%s, at '%.*s'", msg,
                 (int)(t->n > 40 ? 40 : t->n), t->p);
}

static void advance(parser *p)
{
    if (p->has_peek) {
        p->tok = p->peek;
        p->has_peek = false;
    } else {
        p->tok = eql_lex_next(&p->lx);
    }
    if (p->tok.t == T_ERROR) fail(p, &p->tok, "%.*s", (int)p->tok.sn, p->tok.s);
}

static const eql_token *peek(parser *p)
{
    if (!p->has_peek) {
        p->peek = eql_lex_next(&p->lx);
        p->has_peek = true;
    }
    return &p->peek;
}

static inline __attribute__((always_inline)) bool is_kw(const eql_token *t, const char *kw)
{
    return t->t == T_IDENT && !t->quoted && t->sn == strlen(kw) &&
           sv_ieq((sv){t->s, t->sn}, sv_cstr(kw));
}

static bool accept_kw(parser *p, const char *kw)
{
    if (!is_kw(&p->tok, kw)) return false;
    advance(p);
    return true;
}

static bool expect(parser *p, uint8_t t, const char *what)
{
    if (p->tok.t != t) {
        fail(p, &p->tok, "expected %s", what);
        return false;
    }
    advance(p);
    return true;
}

static bool expect_kw(parser *p, const char *kw)
{
    if (!accept_kw(p, kw)) {
        fail(p, &p->tok, "expected '%s'", kw);
        return false;
    }
    return true;
}

static const char *const keywords[] = {"and",   "or",       "not",   "in",   "like",  "regex",
                                       "where", "sequence", "by",    "with", "until", "join",
                                       "of",    "true",     "false", "null", NULL};

static bool reserved(const eql_token *t)
{
    if (t->t != T_IDENT || t->quoted || t->sn < 2 || t->sn > 8) return false;
    for (int i = 0; keywords[i]; i++)
        if (t->sn == strlen(keywords[i]) && sv_ieq((sv){t->s, t->sn}, sv_cstr(keywords[i])))
            return true;
    return false;
}

_Static_assert(sizeof(eql_node) == 64, "eql_node: one cache line");

static eql_node *node(parser *p, uint8_t kind, const eql_token *at)
{
    eql_node *n = arena_alloc(p->a, sizeof *n);
    if (!n) {
        fail(p, at, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = at->line;
    n->col = at->col;
    if (kind == N_FIELD) n->var = n->alias = n->field_id = -1;
    if (kind == N_CALL) n->fn = -1;
    if (kind == N_LINEAGE) n->lin_slot = -1;
    return n;
}

/* a growable array of nodes in the arena */
typedef struct nlist {
    eql_node **v;
    uint32_t n, cap;
} nlist;

static void nlist_push(parser *p, nlist *l, eql_node *n)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        eql_node **v = arena_alloc(p->a, sizeof *v * cap);
        if (!v) return;
        if (l->n) memcpy(v, l->v, sizeof *v * l->n);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

static void add_field(parser *p, const char *path, uint32_t n)
{
    for (uint32_t i = 0; i < p->nfields; i++)
        if (p->field_lens[i] == n && !memcmp(p->fields[i], path, n)) return;
    if (p->nfields == p->capfields) {
        uint32_t cap = p->capfields ? p->capfields * 2 : 16;
        const char **v = arena_alloc(p->a, sizeof *v * cap);
        uint32_t *l = realloc(p->field_lens, sizeof *l * cap);
        if (l) p->field_lens = l;
        if (!v || !l) return;
        if (p->nfields) memcpy(v, p->fields, sizeof *v * p->nfields);
        p->fields = v;
        p->capfields = cap;
    }
    p->field_lens[p->nfields] = n;
    p->fields[p->nfields++] = arena_strndup(p->a, path, n);
}

static eql_node *parse_expr(parser *p);
static eql_query *parse_query_body(parser *p, bool nested);

static eql_node *literal_str(parser *p, const eql_token *t)
{
    eql_node *n = node(p, N_LIT, t);
    if (!n) return NULL;
    n->val.t = V_STR;
    n->val.s = t->s;
    n->val.n = t->sn;
    return n;
}

/* a field; the first component may name an arraySearch variable */
static eql_node *field(parser *p, const eql_token *t, bool optional, bool is_var)
{
    eql_node *n = node(p, N_FIELD, t);
    if (!n) return NULL;
    n->optional = optional;
    sv path = {t->s, t->sn};
    size_t first = 0;
    while (first < path.n && path.p[first] != '.' && path.p[first] != '[') first++;
    for (int i = p->nvars_scope; i-- > 0;) {
        if (sv_eq(p->vars[i], (sv){path.p, first})) {
            n->var = p->var_slot[i];
            path.p += first;
            path.n -= first;
            if (path.n && path.p[0] == '.') path.p++, path.n--;
            break;
        }
    }
    if (is_var && n->var < 0) {
        fail(p, t, "unknown variable $%.*s", (int)first, t->s);
        return NULL;
    }
    n->alias = -1;
    if (n->var < 0)
        for (uint32_t i = 0; i < p->nalias; i++)
            if (p->aliases[i].n && sv_eq(p->aliases[i], (sv){path.p, first})) {
                n->alias = (int)i;
                path.p += first;
                path.n -= first;
                if (path.n && path.p[0] == '.') path.p++, path.n--;
                if (p->cur_stage) p->cur_stage->uses_alias = true;
                break;
            }
    n->path = path.p;
    n->path_len = (uint32_t)path.n;
    if (n->var < 0 && n->alias < 0) { /* the decoder extracts a[2].b as the whole of a */
        const char *br = memchr(path.p, '[', path.n);
        add_field(p, path.p, br ? (uint32_t)(br - path.p) : (uint32_t)path.n);
        if (!br && path.n) n->field_id = eql_field_intern(path.p, (uint32_t)path.n);
    }
    return n;
}

static eql_node *parse_call(parser *p, eql_token name, eql_node *self)
{
    bool ci = false;
    if (p->tok.t == T_TILDE) {
        ci = true;
        advance(p);
    }
    int fn = eql_fn_lookup(name.s, name.sn);
    if (fn < 0) {
        fail(p, &name, "unknown function '%.*s'", (int)name.sn, name.s);
        return NULL;
    }
    const eql_fn_def *def = eql_fn_get(fn);
    if (ci && !def->has_ci) {
        fail(p, &name, "function '%s' has no ~ (case-insensitive) form", def->name);
        return NULL;
    }
    eql_node *n = node(p, N_CALL, &name);
    if (!n) return NULL;
    n->fn = fn;
    n->ci = ci;
    expect(p, T_LP, "'('");
    nlist args = {0};
    int pushed = 0;
    if (self) nlist_push(p, &args, self);
    if (p->tok.t != T_RP) {
        for (;;) {
            if (def->lazy && args.n == 1 && !self) {
                /* arraySearch(array, var, predicate): bind the variable */
                eql_token v = p->tok;
                if ((v.t != T_IDENT && v.t != T_VAR) || reserved(&v) || memchr(v.s, '.', v.sn)) {
                    fail(p, &v, "expected a variable name");
                    return NULL;
                }
                if (p->nvars_scope == MAX_VARS) {
                    fail(p, &v, "too many nested variables");
                    return NULL;
                }
                p->vars[p->nvars_scope] = (sv){v.s, v.sn};
                p->var_slot[p->nvars_scope] = (int)p->nvars_total++;
                p->nvars_scope++;
                pushed++;
                eql_node *vn = node(p, N_LIT, &v);
                if (!vn) return NULL;
                vn->val.t = V_INT;
                vn->val.i = p->var_slot[p->nvars_scope - 1];
                nlist_push(p, &args, vn);
                advance(p);
            } else {
                nlist_push(p, &args, parse_expr(p));
            }
            if (p->failed) return NULL;
            if (p->tok.t != T_COMMA) break;
            advance(p);
        }
    }
    p->nvars_scope -= pushed;
    expect(p, T_RP, "')' after the arguments");
    if ((int)args.n < def->min_args || (def->max_args >= 0 && (int)args.n > def->max_args)) {
        if (def->max_args < 0)
            fail(p, &name, "%s takes at least %d arguments, not %u", def->name, def->min_args,
                 args.n);
        else if (def->min_args == def->max_args)
            fail(p, &name, "%s takes %d arguments, not %u", def->name, def->min_args, args.n);
        else
            fail(p, &name, "%s takes %d to %d arguments, not %u", def->name, def->min_args,
                 def->max_args, args.n);
        return NULL;
    }
    n->kids = args.v;
    n->nkids = args.n;
    return n;
}

static eql_node *parse_lineage(parser *p, uint8_t kind, const eql_token *at)
{
    eql_node *n = node(p, N_LINEAGE, at);
    if (!n) return NULL;
    n->lineage = kind;
    expect_kw(p, "of");
    expect(p, T_LB, "'[' after 'of'");
    if (p->failed) return NULL;
    n->sub = parse_query_body(p, true);
    expect(p, T_RB, "']'");
    if (p->nlineage == p->caplineage) {
        uint32_t cap = p->caplineage ? p->caplineage * 2 : 4;
        eql_node **v = arena_alloc(p->a, sizeof *v * cap);
        if (!v) return NULL;
        if (p->nlineage) memcpy(v, p->lineage, sizeof *v * p->nlineage);
        p->lineage = v;
        p->caplineage = cap;
    }
    n->lin_slot = (int)p->nlineage;
    p->lineage[p->nlineage++] = n;
    return n;
}

static eql_node *parse_primary(parser *p)
{
    eql_token t = p->tok;
    switch (t.t) {
    case T_STRING: advance(p); return literal_str(p, &t);
    case T_INT:
    case T_DOUBLE: {
        advance(p);
        eql_node *n = node(p, N_LIT, &t);
        if (!n) return NULL;
        n->val.t = t.t == T_INT ? V_INT : V_DOUBLE;
        n->val.i = t.i;
        n->val.d = t.d;
        return n;
    }
    case T_LP: {
        advance(p);
        eql_node *n = parse_expr(p);
        expect(p, T_RP, "')'");
        return n;
    }
    case T_QFIELD: advance(p); return field(p, &t, true, false);
    case T_VAR: advance(p); return field(p, &t, false, true);
    case T_IDENT: {
        if (is_kw(&t, "true") || is_kw(&t, "false")) {
            advance(p);
            eql_node *n = node(p, N_LIT, &t);
            if (!n) return NULL;
            n->val.t = V_BOOL;
            n->val.b = is_kw(&t, "true");
            return n;
        }
        if (is_kw(&t, "null")) {
            advance(p);
            return node(p, N_LIT, &t);
        }
        if ((is_kw(&t, "descendant") || is_kw(&t, "child") || is_kw(&t, "event")) &&
            is_kw(peek(p), "of")) {
            advance(p);
            return parse_lineage(p,
                                 is_kw(&t, "descendant") ? LIN_DESCENDANT
                                 : is_kw(&t, "child")    ? LIN_CHILD
                                                         : LIN_EVENT,
                                 &t);
        }
        if (reserved(&t)) {
            fail(p, &t, "unexpected keyword");
            return NULL;
        }
        advance(p);
        if ((p->tok.t == T_LP || p->tok.t == T_TILDE) && !memchr(t.s, '.', t.sn) && !t.quoted)
            return parse_call(p, t, NULL);
        return field(p, &t, false, false);
    }
    case T_EOF: fail(p, &t, "unexpected end of query"); return NULL;
    case T_BANG:
        fail(p, &t,
             "unexpected '!' (use 'not' or '!='; '![...]' is a missing event in a sequence)");
        return NULL;
    default: fail(p, &t, "expected a value, a field or a function"); return NULL;
    }
}

static eql_node *parse_unary(parser *p)
{
    if (p->tok.t == T_MINUS) {
        eql_token t = p->tok;
        advance(p);
        eql_node *k = parse_unary(p);
        if (!k) return NULL;
        if (k->kind == N_LIT && k->val.t == V_INT) {
            k->val.i = -k->val.i;
            return k;
        }
        if (k->kind == N_LIT && k->val.t == V_DOUBLE) {
            k->val.d = -k->val.d;
            return k;
        }
        if (k->kind == N_LIT && k->val.t != V_NULL) {
            fail(p, &t, "'-' needs a number");
            return NULL;
        }
        eql_node *n = node(p, N_NEG, &t);
        if (!n) return NULL;
        n->kids = arena_alloc(p->a, sizeof(eql_node *));
        n->kids[0] = k;
        n->nkids = 1;
        return n;
    }
    return parse_primary(p);
}

static eql_node *binary(parser *p, uint8_t kind, const eql_token *at, eql_node *l, eql_node *r)
{
    if (!l || !r) return NULL;
    eql_node *n = node(p, kind, at);
    if (!n) return NULL;
    n->kids = arena_alloc(p->a, sizeof(eql_node *) * 2);
    if (!n->kids) return NULL;
    n->kids[0] = l;
    n->kids[1] = r;
    n->nkids = 2;
    return n;
}

static bool is_string_lit(const eql_node *n)
{
    return n && n->kind == N_LIT && n->val.t == V_STR;
}

static void arith_check(parser *p, const eql_token *at, eql_node *n)
{
    for (uint32_t i = 0; n && i < n->nkids; i++)
        if (n->kids[i]->kind == N_LIT &&
            (n->kids[i]->val.t == V_STR || n->kids[i]->val.t == V_BOOL))
            fail(p, at, "arithmetic on a %s", n->kids[i]->val.t == V_STR ? "string" : "boolean");
}

static eql_node *parse_mul(parser *p)
{
    eql_node *l = parse_unary(p);
    while (!p->failed && (p->tok.t == T_STAR || p->tok.t == T_SLASH || p->tok.t == T_PCT)) {
        eql_token t = p->tok;
        advance(p);
        l = binary(p,
                   t.t == T_STAR    ? N_MUL
                   : t.t == T_SLASH ? N_DIV
                                    : N_MOD,
                   &t, l, parse_unary(p));
        arith_check(p, &t, l);
    }
    return l;
}

static eql_node *parse_add(parser *p)
{
    eql_node *l = parse_mul(p);
    while (!p->failed && (p->tok.t == T_PLUS || p->tok.t == T_MINUS)) {
        eql_token t = p->tok;
        advance(p);
        l = binary(p, t.t == T_PLUS ? N_ADD : N_SUB, &t, l, parse_mul(p));
        arith_check(p, &t, l);
    }
    return l;
}

/* rhs of : like regex in: one value or a parenthesised list */
static void parse_rhs_list(parser *p, nlist *l, bool paren_required)
{
    if (p->tok.t == T_LP) {
        advance(p);
        for (;;) {
            nlist_push(p, l, parse_expr(p));
            if (p->failed || p->tok.t != T_COMMA) break;
            advance(p);
        }
        expect(p, T_RP, "')' to close the list");
    } else if (paren_required) {
        fail(p, &p->tok, "expected '(' and a list after 'in'");
    } else {
        nlist_push(p, l, parse_add(p));
    }
}

static eql_node *match_op(parser *p, uint8_t kind, bool ci, const eql_token *at, eql_node *lhs)
{
    nlist l = {0};
    nlist_push(p, &l, lhs);
    parse_rhs_list(p, &l, kind == N_IN);
    if (p->failed) return NULL;
    eql_node *n = node(p, kind, at);
    if (!n) return NULL;
    n->ci = ci;
    n->kids = l.v;
    n->nkids = l.n;
    if (kind == N_LIKE || kind == N_REGEX || kind == N_COLON) {
        n->pat = arena_alloc(p->a, sizeof(void *) * l.n);
        if (!n->pat) return NULL;
        memset(n->pat, 0, sizeof(void *) * l.n);
        for (uint32_t i = 1; i < l.n; i++) {
            eql_node *k = l.v[i];
            if (kind != N_COLON && !is_string_lit(k)) {
                eql_token kt = {.line = k->line, .col = k->col, .p = "", .n = 0, .t = T_IDENT};
                fail(p, &kt, "%s needs string literals", kind == N_LIKE ? "like" : "regex");
                return NULL;
            }
            if (!is_string_lit(k)) continue;
            if (kind == N_REGEX) {
                char msg[160];
                n->pat[i] = eql_regex_compile(k->val.s, k->val.n, ci, msg, sizeof msg);
                if (n->pat[i]) {
                    if (p->nregexes == p->capregexes) {
                        uint32_t cap = p->capregexes ? p->capregexes * 2 : 8;
                        void **v = realloc(p->regexes, sizeof *v * cap);
                        if (!v) {
                            eql_regex_free(n->pat[i]);
                            n->pat[i] = NULL;
                        } else {
                            p->regexes = v;
                            p->capregexes = cap;
                        }
                    }
                    if (n->pat[i]) p->regexes[p->nregexes++] = n->pat[i];
                }
                if (!n->pat[i]) {
                    eql_token kt = {.line = k->line,
                                    .col = k->col,
                                    .p = k->val.s,
                                    .n = k->val.n,
                                    .t = T_STRING};
                    fail(p, &kt, "bad regular expression: %s", msg);
                    return NULL;
                }
            } else {
                n->pat[i] = eql_glob_compile(p->a, k->val.s, k->val.n, kind == N_COLON || ci);
            }
        }
    }
    return n;
}

static eql_node *parse_cmp(parser *p)
{
    eql_node *l = parse_add(p);
    if (p->failed) return NULL;
    eql_token t = p->tok;
    uint8_t k;
    switch (t.t) {
    case T_EQ: k = N_EQ; break;
    case T_NE: k = N_NE; break;
    case T_LT: k = N_LT; break;
    case T_LE: k = N_LE; break;
    case T_GT: k = N_GT; break;
    case T_GE: k = N_GE; break;
    case T_ASSIGN: k = N_EQ; break; /* the original EQL's `=`: read as `==` */
    case T_COLON:
        advance(p);
        if (p->tok.t == T_IDENT && !reserved(&p->tok) &&
            (peek(p)->t == T_LP || peek(p)->t == T_TILDE)) {
            /* the reference engine's method form: x:length() is length(x) */
            eql_token name = p->tok;
            advance(p);
            return parse_call(p, name, l);
        }
        return match_op(p, N_COLON, true, &t, l);
    default:
        if (is_kw(&t, "like") || is_kw(&t, "regex")) {
            advance(p);
            bool ci = false;
            if (p->tok.t == T_TILDE) {
                ci = true;
                advance(p);
            }
            return match_op(p, is_kw(&t, "like") ? N_LIKE : N_REGEX, ci, &t, l);
        }
        bool neg = false;
        if (is_kw(&t, "not") && is_kw(peek(p), "in")) {
            advance(p);
            neg = true;
        }
        if (is_kw(&p->tok, "in")) {
            eql_token at = p->tok;
            advance(p);
            bool ci = false;
            if (p->tok.t == T_TILDE) {
                ci = true;
                advance(p);
            }
            eql_node *n = match_op(p, N_IN, ci, &at, l);
            if (n) n->neg = neg;
            return n;
        }
        return l;
    }
    advance(p);
    return binary(p, k, &t, l, parse_add(p));
}

static eql_node *parse_not(parser *p)
{
    if (is_kw(&p->tok, "not")) {
        eql_token t = p->tok;
        advance(p);
        if (++p->depth > MAX_DEPTH) {
            fail(p, &t, "expression nested too deeply");
            return NULL;
        }
        eql_node *k = parse_not(p);
        p->depth--;
        if (!k) return NULL;
        eql_node *n = node(p, N_NOT, &t);
        if (!n) return NULL;
        n->kids = arena_alloc(p->a, sizeof(eql_node *));
        n->kids[0] = k;
        n->nkids = 1;
        return n;
    }
    return parse_cmp(p);
}

static eql_node *parse_and(parser *p)
{
    eql_node *l = parse_not(p);
    while (!p->failed && is_kw(&p->tok, "and")) {
        eql_token t = p->tok;
        advance(p);
        l = binary(p, N_AND, &t, l, parse_not(p));
    }
    return l;
}

static eql_node *parse_expr(parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        fail(p, &p->tok, "expression nested too deeply");
        return NULL;
    }
    eql_node *l = parse_and(p);
    while (!p->failed && is_kw(&p->tok, "or")) {
        eql_token t = p->tok;
        advance(p);
        l = binary(p, N_OR, &t, l, parse_and(p));
    }
    p->depth--;
    return p->failed ? NULL : l;
}

/* CATEGORY where EXPR */
static void parse_event_query(parser *p, eql_stage *st)
{
    eql_token t = p->tok;
    if (t.t == T_STRING || (t.t == T_IDENT && !reserved(&t))) {
        st->category = (sv){t.s, t.sn};
        st->any = is_kw(&t, "any");
        advance(p);
    } else {
        fail(p, &t, "expected an event category (process, file, any...)");
        return;
    }
    expect_kw(p, "where");
    if (p->failed) return;
    st->where = parse_expr(p);
    st->runs = 1;
}

static void parse_by(parser *p, nlist *keys)
{
    if (!accept_kw(p, "by")) return;
    for (;;) {
        nlist_push(p, keys, parse_expr(p));
        if (p->failed || p->tok.t != T_COMMA) break;
        advance(p);
    }
}

static int64_t parse_span(parser *p)
{
    eql_token t = p->tok;
    if (t.t != T_INT && t.t != T_DOUBLE) {
        fail(p, &t, "expected a time span such as 10s, 5m, 500ms");
        return 0;
    }
    double v = t.t == T_INT ? (double)t.i : t.d;
    /* the unit follows the number directly: "10s" lexes as 10 then the ident "s" */
    advance(p);
    static const struct {
        const char *u;
        double ns;
    } units[] = {{"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}};
    if (p->tok.t == T_IDENT && p->tok.p == t.p + t.n) {
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (p->tok.sn == strlen(units[i].u) && !memcmp(p->tok.s, units[i].u, p->tok.sn)) {
                advance(p);
                double ns = v * units[i].ns;
                if (!(ns >= 0 && ns < 9e18)) { /* ~285 years: beyond int64 nanoseconds */
                    fail(p, &t, "time span too large");
                    return 0;
                }
                return (int64_t)ns;
            }
        fail(p, &p->tok, "unknown time unit (use ms, s, m, h or d)");
        return 0;
    }
    fail(p, &t, "a time span needs a unit (ms, s, m, h or d)");
    return 0;
}

/* Elastic Defend's stage alias: later stages read this stage's event as NAME.field */
static void parse_alias(parser *p, eql_stage *st)
{
    if (p->failed || !is_kw(&p->tok, "as")) return;
    advance(p);
    if (p->tok.t != T_IDENT || reserved(&p->tok) || memchr(p->tok.s, '.', p->tok.sn) ||
        st->alias.n) {
        fail(p, &p->tok, st->alias.n ? "a stage has one alias" : "expected a name after 'as'");
        return;
    }
    st->alias = (sv){p->tok.s, p->tok.sn};
    advance(p);
}

static void parse_stage(parser *p, eql_stage *st, nlist *shared)
{
    eql_token at = p->tok;
    expect(p, T_LB, "'[' to open a sequence stage");
    if (p->failed) return;
    p->cur_stage = st;
    parse_event_query(p, st);
    p->cur_stage = NULL;
    expect(p, T_RB, "']' to close the stage");
    parse_alias(p, st);
    nlist keys = {0};
    for (uint32_t i = 0; i < shared->n; i++) nlist_push(p, &keys, shared->v[i]);
    /* the reference engine's fork=true|false, before or after `by` */
    for (int k = 0; k < 2 && !p->failed; k++) {
        if (is_kw(&p->tok, "fork")) {
            advance(p);
            expect(p, T_ASSIGN, "'=' after fork");
            if (!is_kw(&p->tok, "true") && !is_kw(&p->tok, "false")) {
                fail(p, &p->tok, "fork needs true or false");
                return;
            }
            st->fork = is_kw(&p->tok, "true");
            advance(p);
        }
        if (!k) parse_by(p, &keys);
    }
    while (!p->failed && is_kw(&p->tok, "with") && is_kw(peek(p), "runs")) {
        advance(p);
        advance(p);
        expect(p, T_ASSIGN, "'=' after runs");
        if (p->tok.t != T_INT || p->tok.i < 1 || p->tok.i > 100) {
            fail(p, &p->tok, "runs needs a count from 1 to 100");
            return;
        }
        st->runs = (uint32_t)p->tok.i;
        advance(p);
    }
    parse_alias(p, st); /* `[...] by key as event0` */
    st->by = keys.v;
    st->nby = keys.n;
    (void)at;
}

static bool pipe_name(parser *p, eql_pipe *pp)
{
    static const struct {
        const char *name;
        uint8_t kind;
    } names[] = {{"head", P_HEAD},  {"tail", P_TAIL},     {"filter", P_FILTER},
                 {"sort", P_SORT},  {"unique", P_UNIQUE}, {"unique_count", P_UNIQUE_COUNT},
                 {"count", P_COUNT}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (is_kw(&p->tok, names[i].name)) {
            pp->kind = names[i].kind;
            return true;
        }
    return false;
}

static void parse_pipes(parser *p, eql_query *q)
{
    uint32_t cap = 0;
    while (!p->failed && p->tok.t == T_PIPE) {
        advance(p);
        eql_pipe pp = {0};
        if (!pipe_name(p, &pp)) {
            fail(p, &p->tok,
                 "unknown pipe (head, tail, filter, sort, unique, unique_count, count)");
            return;
        }
        advance(p);
        nlist args = {0};
        if (pp.kind == P_HEAD || pp.kind == P_TAIL) {
            pp.n = 10;
            if (p->tok.t == T_INT) {
                pp.n = p->tok.i;
                advance(p);
            }
        } else if (pp.kind == P_FILTER) {
            nlist_push(p, &args, parse_expr(p));
        } else if (p->tok.t != T_PIPE && p->tok.t != T_EOF && p->tok.t != T_RB) {
            for (;;) {
                nlist_push(p, &args, parse_expr(p));
                if (p->failed) break;
                if (p->tok.t == T_COMMA) {
                    advance(p);
                    continue;
                }
                /* the original EQL separates pipe fields with spaces */
                if ((p->tok.t == T_IDENT && !reserved(&p->tok)) || p->tok.t == T_QFIELD) continue;
                break;
            }
        }
        if ((pp.kind == P_SORT || pp.kind == P_UNIQUE) && !args.n) {
            fail(p, &p->tok, "this pipe needs at least one field");
            return;
        }
        pp.args = args.v;
        pp.nargs = args.n;
        if (q->npipes == cap) {
            cap = cap ? cap * 2 : 4;
            eql_pipe *v = arena_alloc(p->a, sizeof *v * cap);
            if (!v) return;
            if (q->npipes) memcpy(v, q->pipes, sizeof *v * q->npipes);
            q->pipes = v;
        }
        q->pipes[q->npipes++] = pp;
    }
}

static eql_query *parse_query_body(parser *p, bool nested)
{
    eql_query *q = arena_alloc(p->a, sizeof *q);
    if (!q) return NULL;
    memset(q, 0, sizeof *q);
    bool seq = is_kw(&p->tok, "sequence"), join = is_kw(&p->tok, "join"),
         sample = is_kw(&p->tok, "sample") &&
                  (peek(p)->t == T_LB || is_kw(peek(p), "by")); /* a field named sample */
    if (!seq && !join && !sample) {
        q->kind = Q_EVENT;
        q->stages = arena_alloc(p->a, sizeof(eql_stage));
        memset(q->stages, 0, sizeof(eql_stage));
        q->nstages = 1;
        parse_event_query(p, q->stages);
        return q;
    }
    const char *what = seq ? "sequence" : join ? "join" : "sample";
    if (nested) {
        fail(p, &p->tok, "a lineage sub-query must be an event query");
        return NULL;
    }
    q->kind = seq ? Q_SEQUENCE : join ? Q_JOIN : Q_SAMPLE;
    advance(p);
    nlist shared = {0};
    for (int k = 0; k < 2 && !p->failed; k++) {
        if (is_kw(&p->tok, "by") && !shared.n) parse_by(p, &shared);
        if (is_kw(&p->tok, "with") && is_kw(peek(p), "maxspan")) {
            if (!seq) {
                fail(p, &p->tok, "maxspan applies to sequences");
                return NULL;
            }
            advance(p);
            advance(p);
            expect(p, T_ASSIGN, "'=' after maxspan");
            q->maxspan_ns = parse_span(p);
        }
    }
    uint32_t cap = 0, positive = 0, missing = 0;
    while (!p->failed && (p->tok.t == T_LB || (p->tok.t == T_BANG && peek(p)->t == T_LB))) {
        eql_token bang = p->tok;
        bool miss = p->tok.t == T_BANG;
        if (miss) {
            if (!seq) {
                fail(p, &bang, "missing events (![...]) apply to sequences");
                return NULL;
            }
            advance(p);
        }
        if (q->nstages == cap) {
            cap = cap ? cap * 2 : 4;
            eql_stage *v = arena_alloc(p->a, sizeof *v * cap);
            if (!v) return NULL;
            if (q->nstages) memcpy(v, q->stages, sizeof *v * q->nstages);
            q->stages = v;
        }
        eql_stage *st = &q->stages[q->nstages++];
        memset(st, 0, sizeof *st);
        parse_stage(p, st, &shared);
        st->missing = miss;
        if (miss && st->alias.n) fail(p, &bang, "a missing event cannot have an alias");
        if (sample && st->runs != 1) fail(p, &p->tok, "with runs does not apply to samples");
        positive += miss ? 0 : st->runs;
        missing += miss;
        if (q->nstages <= 64) {
            p->aliases[q->nstages - 1] = st->alias;
            p->nalias = q->nstages;
        }
    }
    if (!p->failed && q->nstages < 2) {
        uint32_t total = 0;
        for (uint32_t i = 0; i < q->nstages; i++) total += q->stages[i].runs;
        if (total < 2) fail(p, &p->tok, "a %s needs at least two stages", what);
    }
    if (!p->failed && missing && !positive)
        fail(p, &p->tok, "a sequence needs at least one stage that is not a missing event");
    if (!p->failed && missing && !q->maxspan_ns)
        fail(p, &p->tok, "a sequence with missing events (![...]) needs with maxspan");
    if (!p->failed && sample && is_kw(&p->tok, "until"))
        fail(p, &p->tok, "until does not apply to samples");
    if (!p->failed && missing && is_kw(&p->tok, "until"))
        fail(p, &p->tok, "until does not apply to sequences with missing events");
    if (!p->failed && accept_kw(p, "until")) {
        q->until = arena_alloc(p->a, sizeof(eql_stage));
        memset(q->until, 0, sizeof(eql_stage));
        parse_stage(p, q->until, &shared);
    }
    if (!p->failed) {
        for (uint32_t i = 1; i < q->nstages; i++)
            if (q->stages[i].nby != q->stages[0].nby) {
                fail(p, &p->tok, "every stage needs the same number of join keys");
                return NULL;
            }
        if (q->until && q->until->nby != q->stages[0].nby)
            fail(p, &p->tok, "the until stage needs the same number of join keys");
    }
    return q;
}

eql_query *eql_compile(arena *a, const char *text, size_t len, eql_error *err)
{
    parser p;
    memset(&p, 0, sizeof p);
    memset(err, 0, sizeof *err);
    p.a = a;
    p.err = err;
    eql_lex_init(&p.lx, a, text, len);
    advance(&p);
    eql_query *q = p.failed ? NULL : parse_query_body(&p, false);
    if (!p.failed) parse_pipes(&p, q);
    if (!p.failed && p.tok.t != T_EOF) fail(&p, &p.tok, "unexpected text after the query");
    free(p.field_lens);
    if (p.failed || !q) {
        for (uint32_t i = 0; i < p.nregexes; i++) eql_regex_free(p.regexes[i]);
        free(p.regexes);
        return NULL;
    }
    q->regexes = p.regexes;
    q->nregexes = p.nregexes;
    q->nvars = p.nvars_total;
    q->nlineage = p.nlineage;
    q->lineage = p.lineage;
    q->fields = p.fields;
    q->nfields = p.nfields;
    return q;
}

bool eql_query_has_missing(const eql_query *q)
{
    for (uint32_t i = 0; q->kind == Q_SEQUENCE && i < q->nstages; i++)
        if (q->stages[i].missing) return true;
    return false;
}

void eql_query_free(eql_query *q)
{
    if (!q) return;
    for (uint32_t i = 0; i < q->nregexes; i++) eql_regex_free(q->regexes[i]);
    free(q->regexes);
    q->regexes = NULL;
    q->nregexes = 0;
}
