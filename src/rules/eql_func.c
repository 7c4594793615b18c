/* eql_func.c - EQL functions, wildcard patterns and regular expressions.
 *
 * Every function returns null when a required argument is null (so that a
 * comparison with its result is null too), as the reference engine does.
 * `~` forms compare case-insensitively (ASCII). Strings are byte views; new
 * strings (concat, substring, string) are built in the per-event arena.
 *
 * Regular expressions (`regex`, `regex~`, match()) use PCRE2 and must match
 * the whole string, as Lucene regular expressions (Elasticsearch) do. The
 * syntax is PCRE's, which covers Lucene's (. * + ? {n,m} [] | ()) and adds
 * classes such as \d \s \w; Lucene's optional operators (@, &, ~, <n-m>) are
 * not supported.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eql.h"

/* ---- wildcard patterns ------------------------------------------------------ */

/* G_LEN: only wildcards ("?*": at least one byte); G_QEXACT, G_QPREFIX: one
 * '?' (one byte, as glob_impl counts) then a literal ("?:\\Windows\\x.exe"),
 * then '*' for the prefix */
enum { G_EXACT, G_PREFIX, G_SUFFIX, G_CONTAINS, G_ANY, G_GLOB, G_LEN, G_QEXACT, G_QPREFIX };

typedef struct glob {
    uint8_t kind;
    bool ci;
    bool star;    /* G_LEN: any length from min */
    uint32_t min; /* G_LEN: the number of '?' */
    sv lit;       /* the literal part, for the fast kinds */
    sv pat;       /* the whole pattern */
} glob;

/* the kind of a pattern from one pass: its wildcards (how many, how many
 * '?') and its ends */
void *eql_glob_compile(arena *a, const char *s, uint32_t n, bool ci)
{
    glob *g = arena_alloc(a, sizeof *g);
    if (!g) return NULL;
    memset(g, 0, sizeof *g);
    g->ci = ci;
    g->pat = (sv){s, n};
    g->kind = G_GLOB;
    uint32_t wild = 0, q = 0;
    for (uint32_t i = 0; i < n; i++) {
        wild += s[i] == '*' || s[i] == '?';
        q += s[i] == '?';
    }
    char first = n ? s[0] : 0, last = n ? s[n - 1] : 0;
    if (!wild) {
        g->kind = G_EXACT;
        g->lit = g->pat;
    } else if (n == 1 && first == '*') {
        g->kind = G_ANY;
    } else if (n >= 2 && wild == 2 && first == '*' && last == '*') {
        g->kind = G_CONTAINS;
        g->lit = (sv){s + 1, n - 2};
    } else if (wild == 1 && last == '*') {
        g->kind = G_PREFIX;
        g->lit = (sv){s, n - 1};
    } else if (wild == 1 && first == '*') {
        g->kind = G_SUFFIX;
        g->lit = (sv){s + 1, n - 1};
    } else if (wild == 1 && first == '?' && n >= 2) {
        g->kind = G_QEXACT;
        g->lit = (sv){s + 1, n - 1};
    } else if (wild == 2 && first == '?' && n >= 3 && last == '*') {
        g->kind = G_QPREFIX;
        g->lit = (sv){s + 1, n - 2};
    } else if (wild == n) {
        g->kind = G_LEN;
        g->min = q;
        g->star = q < n;
    }
    return g;
}

static bool find(sv hay, sv needle, bool ci)
{
    if (ci) return sv_ifind(hay, needle) != (size_t)-1;
    if (!needle.n) return true;
    if (needle.n > hay.n) return false;
    return memmem(hay.p, hay.n, needle.p, needle.n) != NULL;
}

bool eql_glob_match(const void *pat, const char *s, uint32_t n)
{
    const glob *g = pat;
    sv t = {s, n};
    switch (g->kind) {
    case G_ANY: return true;
    case G_EXACT: return g->ci ? sv_ieq(t, g->lit) : sv_eq(t, g->lit);
    case G_PREFIX:
        return t.n >= g->lit.n &&
               (g->ci ? sv_istarts(t, g->lit) : !memcmp(t.p, g->lit.p, g->lit.n));
    case G_SUFFIX:
        return t.n >= g->lit.n &&
               (g->ci ? sv_iends(t, g->lit) : !memcmp(t.p + t.n - g->lit.n, g->lit.p, g->lit.n));
    case G_CONTAINS: return find(t, g->lit, g->ci);
    case G_LEN: return g->star ? t.n >= g->min : t.n == g->min;
    case G_QEXACT:
        return t.n == g->lit.n + 1 && (g->ci ? sv_ieq((sv){t.p + 1, t.n - 1}, g->lit)
                                             : !memcmp(t.p + 1, g->lit.p, g->lit.n));
    case G_QPREFIX:
        return t.n >= g->lit.n + 1 && (g->ci ? sv_istarts((sv){t.p + 1, t.n - 1}, g->lit)
                                             : !memcmp(t.p + 1, g->lit.p, g->lit.n));
    default: return g->ci ? sv_iglob(g->pat, t) : sv_glob(g->pat, t);
    }
}

/* ---- regular expressions ------------------------------------------------------ */

typedef struct regex {
    pcre2_code *code;
    pcre2_match_data *md;
} regex;

void *eql_regex_compile(const char *s, uint32_t n, bool ci, char *err, size_t errcap)
{
    int ec;
    PCRE2_SIZE eo;
    uint32_t opts = PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_ENDANCHORED | (ci ? PCRE2_CASELESS : 0);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)s, n, opts, &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR buf[120];
        pcre2_get_error_message(ec, buf, sizeof buf);
        snprintf(err, errcap, "%s at offset %zu", (char *)buf, (size_t)eo);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort */
    regex *r = malloc(sizeof *r);
    if (!r) {
        pcre2_code_free(code);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    r->code = code;
    r->md = pcre2_match_data_create_from_pattern(code, NULL);
    return r;
}

bool eql_regex_match(const void *re, const char *s, uint32_t n)
{
    const regex *r = re;
    return pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, r->md, NULL) >= 0;
}

void eql_regex_free(void *re)
{
    regex *r = re;
    if (!r) return;
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
    free(r);
}

/* ---- helpers ------------------------------------------------------------------ */

static eql_val vint(int64_t i)
{
    eql_val v = eql_null();
    v.t = V_INT;
    v.i = i;
    return v;
}

static eql_val vstr(const char *s, size_t n)
{
    eql_val v = eql_null();
    v.t = V_STR;
    v.s = s;
    v.n = (uint32_t)n;
    return v;
}

static bool any_null(const eql_val *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i].t == V_NULL) return true;
    return false;
}

/* A value as text (string(), concat()); false for arrays and objects. */
static bool to_text(eql_ctx *c, const eql_val *v, sv *out)
{
    char buf[64];
    int n;
    switch (v->t) {
    case V_STR: *out = (sv){v->s, v->n}; return true;
    case V_BOOL: *out = v->b ? SV_LIT("true") : SV_LIT("false"); return true;
    case V_INT: n = snprintf(buf, sizeof buf, "%lld", (long long)v->i); break;
    case V_DOUBLE:
        if (isnan(v->d)) {
            n = snprintf(buf, sizeof buf, "NaN");
            break;
        }
        /* the shortest text that reads back as the same double */
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(buf, sizeof buf, "%.*g", prec, v->d);
            if (strtod(buf, NULL) == v->d) break;
        }
        if (!strpbrk(buf, ".eEn") && n + 2 < (int)sizeof buf) {
            buf[n++] = '.';
            buf[n++] = '0';
            buf[n] = 0;
        }
        break;
    default: return false;
    }
    char *p = arena_strndup(c->scratch, buf, (size_t)n);
    if (!p) return false;
    *out = (sv){p, (size_t)n};
    return true;
}

static bool as_int(const eql_val *v, int64_t *out)
{
    if (v->t == V_INT) {
        *out = v->i;
        return true;
    }
    if (v->t == V_DOUBLE && v->d == floor(v->d) && fabs(v->d) < 9e18) {
        *out = (int64_t)v->d;
        return true;
    }
    return false;
}

/* ---- string functions ------------------------------------------------------------ */

static eql_val f_starts(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (any_null(a, na) || a[0].t != V_STR || a[1].t != V_STR) return eql_null();
    sv s = {a[0].s, a[0].n}, p = {a[1].s, a[1].n};
    return eql_bool(s.n >= p.n && (n->ci ? sv_istarts(s, p) : !memcmp(s.p, p.p, p.n)));
}

static eql_val f_ends(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (any_null(a, na) || a[0].t != V_STR || a[1].t != V_STR) return eql_null();
    sv s = {a[0].s, a[0].n}, p = {a[1].s, a[1].n};
    return eql_bool(s.n >= p.n && (n->ci ? sv_iends(s, p) : !memcmp(s.p + s.n - p.n, p.p, p.n)));
}

static eql_val f_contains(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (any_null(a, na) || a[0].t != V_STR || a[1].t != V_STR) return eql_null();
    return eql_bool(find((sv){a[0].s, a[0].n}, (sv){a[1].s, a[1].n}, n->ci));
}

static size_t find_from(sv hay, sv needle, size_t from, bool ci)
{
    if (from > hay.n) return (size_t)-1;
    sv rest = {hay.p + from, hay.n - from};
    size_t r;
    if (ci) {
        r = sv_ifind(rest, needle);
    } else if (!needle.n) {
        r = 0;
    } else {
        const char *m = needle.n <= rest.n ? memmem(rest.p, rest.n, needle.p, needle.n) : NULL;
        r = m ? (size_t)(m - rest.p) : (size_t)-1;
    }
    return r == (size_t)-1 ? r : r + from;
}

static eql_val f_indexof(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (a[0].t != V_STR || a[1].t != V_STR) return eql_null();
    int64_t start = 0;
    if (na > 2 && a[2].t != V_NULL && (!as_int(&a[2], &start))) return eql_null();
    if (start < 0) start = 0;
    size_t r = find_from((sv){a[0].s, a[0].n}, (sv){a[1].s, a[1].n}, (size_t)start, n->ci);
    return r == (size_t)-1 ? eql_null() : vint((int64_t)r);
}

static eql_val f_between(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (any_null(a, na < 3 ? na : 3) || a[0].t != V_STR || a[1].t != V_STR || a[2].t != V_STR)
        return eql_null();
    bool greedy = na > 3 && a[3].t == V_BOOL && a[3].b;
    if (na > 3 && a[3].t != V_BOOL) return eql_null();
    sv s = {a[0].s, a[0].n}, l = {a[1].s, a[1].n}, r = {a[2].s, a[2].n};
    size_t i = find_from(s, l, 0, n->ci);
    if (i == (size_t)-1) return eql_null();
    size_t from = i + l.n, j;
    if (greedy) {
        j = (size_t)-1;
        for (size_t k = from; (k = find_from(s, r, k, n->ci)) != (size_t)-1; k++) j = k;
    } else {
        j = find_from(s, r, from, n->ci);
    }
    if (j == (size_t)-1) return eql_null();
    return vstr(s.p + from, j - from);
}

static eql_val f_length(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    (void)n;
    (void)na;
    if (a[0].t == V_ARR) return vint(a[0].n);
    if (a[0].t != V_STR) return eql_null();
    int64_t chars = 0;
    for (uint32_t i = 0; i < a[0].n; i++)
        if (((unsigned char)a[0].s[i] & 0xc0) != 0x80) chars++;
    return vint(chars);
}

static eql_val f_concat(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)n;
    if (any_null(a, na)) return eql_null();
    size_t total = 0;
    sv parts[64];
    for (uint32_t i = 0; i < na && i < 64; i++) {
        if (!to_text(c, &a[i], &parts[i])) return eql_null();
        total += parts[i].n;
    }
    char *p = arena_alloc(c->scratch, total + 1);
    if (!p) return eql_null();
    size_t k = 0;
    for (uint32_t i = 0; i < na && i < 64; i++) {
        memcpy(p + k, parts[i].p, parts[i].n);
        k += parts[i].n;
    }
    return vstr(p, total);
}

static eql_val f_string(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)n;
    (void)na;
    sv t;
    if (a[0].t == V_NULL || !to_text(c, &a[0], &t)) return eql_null();
    return vstr(t.p, t.n);
}

static eql_val f_substring(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    (void)n;
    if (a[0].t != V_STR) return eql_null();
    int64_t len = a[0].n, s = 0, e = len;
    if (na > 1 && a[1].t != V_NULL && !as_int(&a[1], &s)) return eql_null();
    if (na > 2 && a[2].t != V_NULL && !as_int(&a[2], &e)) return eql_null();
    if (s < 0) s += len;
    if (e < 0) e += len;
    if (s < 0) s = 0;
    if (e > len) e = len;
    if (s > len) s = len;
    if (e < s) e = s;
    return vstr(a[0].s + s, (size_t)(e - s));
}

static eql_val f_number(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    (void)n;
    if (a[0].t == V_INT || a[0].t == V_DOUBLE) return a[0];
    if (a[0].t != V_STR || !a[0].n || a[0].n > 64) return eql_null();
    int64_t base = 10;
    bool explicit_base = na > 1 && a[1].t != V_NULL;
    if (explicit_base && (!as_int(&a[1], &base) || base < 2 || base > 36)) return eql_null();
    char buf[72];
    memcpy(buf, a[0].s, a[0].n);
    buf[a[0].n] = 0;
    char *end;
    const char *q = buf + (buf[0] == '+' || buf[0] == '-');
    bool hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
    if (hex && (!explicit_base || base == 16)) base = 16;
    if (base == 10 && !hex) {
        long long v = strtoll(buf, &end, 10);
        if (!*end) return vint(v);
        double d = strtod(buf, &end);
        if (!*end) {
            eql_val r = eql_null();
            r.t = V_DOUBLE;
            r.d = d;
            return r;
        }
        return eql_null();
    }
    long long v = strtoll(buf, &end, (int)base);
    return *end ? eql_null() : vint(v);
}

/* ---- arithmetic ------------------------------------------------------------------ */

eql_val eql_arith(const eql_node *n, eql_val a, eql_val b);

static eql_val arith_as(uint8_t kind, const eql_val *a)
{
    eql_node op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    return eql_arith(&op, a[0], a[1]);
}

static eql_val f_add(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n, (void)na;
    return arith_as(N_ADD, a);
}
static eql_val f_sub(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n, (void)na;
    return arith_as(N_SUB, a);
}
static eql_val f_mul(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n, (void)na;
    return arith_as(N_MUL, a);
}
static eql_val f_div(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n, (void)na;
    return arith_as(N_DIV, a);
}
static eql_val f_mod(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n, (void)na;
    return arith_as(N_MOD, a);
}

/* ---- network ------------------------------------------------------------------------ */

static bool parse_ip(const char *s, size_t n, unsigned char out[16], bool *v6)
{
    char buf[64];
    if (n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    /* dotted quad */
    unsigned v[4];
    int used = 0;
    if (sscanf(buf, "%u.%u.%u.%u%n", &v[0], &v[1], &v[2], &v[3], &used) == 4 && (size_t)used == n &&
        v[0] < 256 && v[1] < 256 && v[2] < 256 && v[3] < 256) {
        memset(out, 0, 16);
        for (int i = 0; i < 4; i++) out[i] = (unsigned char)v[i];
        *v6 = false;
        return true;
    }
    /* IPv6: groups of hex, one :: */
    uint16_t g[8] = {0};
    int ng = 0, gap = -1;
    const char *p = buf;
    if (p[0] == ':' && p[1] == ':') {
        gap = 0;
        p += 2;
    }
    while (*p) {
        if (ng >= 8) return false;
        char *e;
        unsigned long x = strtoul(p, &e, 16);
        if (e == p || e - p > 4 || x > 0xffff) return false;
        g[ng++] = (uint16_t)x;
        p = e;
        if (*p == ':') {
            p++;
            if (*p == ':') {
                if (gap >= 0) return false;
                gap = ng;
                p++;
            } else if (!*p) {
                return false;
            }
        } else if (*p) {
            return false;
        }
    }
    if (gap < 0 && ng != 8) return false;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : ng - gap;
    for (int i = 0; i < (gap < 0 ? ng : gap); i++)
        out[2 * i] = (unsigned char)(g[i] >> 8), out[2 * i + 1] = (unsigned char)g[i];
    for (int i = 0; i < tail; i++) {
        int k = 8 - tail + i;
        out[2 * k] = (unsigned char)(g[gap + i] >> 8);
        out[2 * k + 1] = (unsigned char)g[gap + i];
    }
    *v6 = true;
    return true;
}

static bool cidr_match(sv ip, sv cidr)
{
    const char *slash = memchr(cidr.p, '/', cidr.n);
    unsigned char a[16], b[16];
    bool a6, b6;
    if (!parse_ip(ip.p, ip.n, a, &a6)) return false;
    size_t an = slash ? (size_t)(slash - cidr.p) : cidr.n;
    if (!parse_ip(cidr.p, an, b, &b6) || a6 != b6) return false;
    int bits = a6 ? 128 : 32;
    if (slash) {
        char buf[8];
        size_t k = cidr.n - an - 1;
        if (!k || k >= sizeof buf) return false;
        memcpy(buf, slash + 1, k);
        buf[k] = 0;
        char *e;
        long v = strtol(buf, &e, 10);
        if (*e || v < 0 || v > bits) return false;
        bits = (int)v;
    }
    for (int i = 0; i < bits; i++) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((a[byte] >> bit) & 1) != ((b[byte] >> bit) & 1)) return false;
    }
    return true;
}

static eql_val f_cidr(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n;
    if (a[0].t != V_STR) return eql_null();
    for (uint32_t i = 1; i < na; i++)
        if (a[i].t == V_STR && cidr_match((sv){a[0].s, a[0].n}, (sv){a[i].s, a[i].n}))
            return eql_bool(true);
    return eql_bool(false);
}

/* ---- patterns as functions ------------------------------------------------------------ */

/* does s match one of the string patterns (general globs, compiled on the fly)? */
static bool glob_any(const eql_val *pat, uint32_t np, bool ci, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < np; i++) {
        if (pat[i].t != V_STR) continue;
        glob g;
        memset(&g, 0, sizeof g);
        g.kind = G_GLOB;
        g.ci = ci;
        g.pat = (sv){pat[i].s, pat[i].n};
        if (eql_glob_match(&g, s, n)) return true;
    }
    return false;
}

static eql_val f_wildcard(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (a[0].t != V_STR) return eql_null();
    return eql_bool(glob_any(a + 1, na - 1, n->ci, a[0].s, a[0].n));
}

/* _anywildcard(root, pattern...): does any string value under root (itself, or
 * the elements and members of an array or object, at any depth) match one of
 * the wildcard patterns? A search over a whole subtree, for Sigma's keyword
 * lists (every value of winlog.event_data). Null when root is absent. */
static bool any_string(const eql_ctx *c, uint32_t node, const eql_val *pat, uint32_t np, bool ci,
                       int depth)
{
    const mj_doc *d = c->doc;
    const mj_node *nd = &d->nodes[node];
    if (nd->type == MJ_STRING) return glob_any(pat, np, ci, nd->v.s, nd->len);
    if ((nd->type != MJ_ARRAY && nd->type != MJ_OBJECT) || depth > 32) return false;
    for (uint32_t k = nd->count ? node + 1 : 0, j = 0; k && j < nd->count;
         j++, k = d->nodes[k].next)
        if (any_string(c, k, pat, np, ci, depth + 1)) return true;
    return false;
}

static eql_val f_any_wildcard(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    if (a[0].t == V_NULL) return eql_null();
    if (a[0].t == V_STR) return eql_bool(glob_any(a + 1, na - 1, n->ci, a[0].s, a[0].n));
    if (a[0].t != V_ARR && a[0].t != V_OBJ) return eql_bool(false);
    return eql_bool(any_string(c, a[0].ref, a + 1, na - 1, n->ci, 0));
}

static eql_val f_match(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c;
    if (a[0].t != V_STR) return eql_null();
    for (uint32_t i = 1; i < na; i++) {
        if (a[i].t != V_STR) continue;
        char err[8];
        void *re = eql_regex_compile(a[i].s, a[i].n, n->ci, err, sizeof err);
        if (!re) continue;
        bool m = eql_regex_match(re, a[0].s, a[0].n);
        eql_regex_free(re);
        if (m) return eql_bool(true);
    }
    return eql_bool(false);
}

static eql_val f_safe(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)c, (void)n, (void)na;
    return a[0];
}

/* ---- arrays ------------------------------------------------------------------------------ */

static eql_val elem_at(const eql_ctx *c, uint32_t node)
{
    return eql_field(c, "", 0, node);
}

static eql_val f_array_contains(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    if (a[0].t == V_NULL) return eql_null();
    if (a[0].t != V_ARR) {
        for (uint32_t i = 1; i < na; i++)
            if (eql_equal(&a[0], &a[i], n->ci)) return eql_bool(true);
        return eql_bool(false);
    }
    const mj_doc *d = c->doc;
    for (uint32_t k = a[0].n ? a[0].ref + 1 : 0, j = 0; j < a[0].n; j++, k = d->nodes[k].next) {
        eql_val e = elem_at(c, k);
        for (uint32_t i = 1; i < na; i++)
            if (eql_equal(&e, &a[i], n->ci)) return eql_bool(true);
    }
    return eql_bool(false);
}

/* arraySearch / arrayCount(array, var, predicate): kids[1] holds the var slot */
static eql_val search(eql_ctx *c, const eql_node *n, bool count)
{
    eql_val arr = eql_eval(c, n->kids[0]);
    int slot = (int)n->kids[1]->val.i;
    if (arr.t == V_NULL) return eql_null();
    eql_val saved = c->vars[slot];
    int64_t hits = 0;
    if (arr.t == V_ARR) {
        const mj_doc *d = c->doc;
        for (uint32_t k = arr.n ? arr.ref + 1 : 0, j = 0; j < arr.n; j++, k = d->nodes[k].next) {
            c->vars[slot] = elem_at(c, k);
            if (eql_true(eql_eval(c, n->kids[2]))) {
                hits++;
                if (!count) break;
            }
        }
    } else {
        c->vars[slot] = arr; /* a single value is a one-element array */
        hits = eql_true(eql_eval(c, n->kids[2]));
    }
    c->vars[slot] = saved;
    return count ? vint(hits) : eql_bool(hits > 0);
}

static eql_val f_array_search(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)a, (void)na;
    return search(c, n, false);
}

static eql_val f_array_count(eql_ctx *c, const eql_node *n, const eql_val *a, uint32_t na)
{
    (void)a, (void)na;
    return search(c, n, true);
}

/* ---- the table --------------------------------------------------------------------------- */

static const eql_fn_def fns[] = {
    {"add", 2, 2, false, false, f_add},
    {"between", 3, 4, true, false, f_between},
    {"cidrmatch", 2, -1, false, false, f_cidr},
    {"concat", 1, 64, false, false, f_concat},
    {"divide", 2, 2, false, false, f_div},
    {"endswith", 2, 2, true, false, f_ends},
    {"indexof", 2, 3, true, false, f_indexof},
    {"length", 1, 1, false, false, f_length},
    {"modulo", 2, 2, false, false, f_mod},
    {"multiply", 2, 2, false, false, f_mul},
    {"number", 1, 2, false, false, f_number},
    {"startswith", 2, 2, true, false, f_starts},
    {"string", 1, 1, false, false, f_string},
    {"stringcontains", 2, 2, true, false, f_contains},
    {"substring", 2, 3, false, false, f_substring},
    {"subtract", 2, 2, false, false, f_sub},
    {"arraycontains", 2, 64, true, false, f_array_contains},
    {"arraysearch", 3, 3, false, true, f_array_search},
    {"_arraysearch", 3, 3, false, true, f_array_search},
    {"arraycount", 3, 3, false, true, f_array_count},
    {"wildcard", 2, 64, true, false, f_wildcard},
    {"_anywildcard", 2, 64, true, false, f_any_wildcard},
    {"match", 2, 64, true, false, f_match},
    {"matchlite", 2, 64, true, false, f_match},
    {"safe", 1, 1, false, false, f_safe},
};

int eql_fn_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
        if (strlen(fns[i].name) == len && sv_ieq((sv){name, len}, sv_cstr(fns[i].name)))
            return (int)i;
    return -1;
}

const eql_fn_def *eql_fn_get(int id)
{
    return &fns[id];
}
