/* sigma.c - Sigma rules compiled to EQL, so they run on the same engine.
 *
 * How it works. A Sigma file is one or more YAML documents (sigma_yaml.c
 * builds their trees with positions). Each rule document becomes one EQL
 * event query
 *
 *     CATEGORY where (LOGSOURCE) and (CONDITION)
 *
 * where CATEGORY and LOGSOURCE come from the mapping table's logsource line
 * for the rule's product/category/service (data/sigma.conf), and CONDITION is
 * the rule's condition with every search identifier replaced by its
 * detection: a map is the AND of its items, a list of maps their OR, a list
 * of plain values a keyword search. An item `Field|mod|mod: values` maps
 * Field through the table (Sigma's taxonomy -> ECS; unmapped Windows fields
 * read winlog.event_data.Field) and becomes one comparison over its values:
 *
 *   plain / contains / startswith / endswith   `F : ("a", "*b*")` (case-
 *       insensitive wildcards; `cased`: `like`); Sigma's escapes \* \? \\ are
 *       honoured, and a value with a literal * or ? becomes a regex
 *   all                 the values' AND instead of their OR
 *   windash             every flag dash as - / en dash, em dash, horizontal bar
 *   base64, base64offset, utf16le/utf16be/utf16/wide   encoded at compile time
 *   re (+ i m s)        `F regex "..."`, unanchored as Sigma means it
 *   cidr                cidrMatch(F, ...)
 *   exists              F != null / F == null
 *   fieldref            F : G (the other field, mapped too)
 *   lt lte gt gte       number(F) < N ...
 *   neq                 not equal (present and different)
 *   null, numbers, booleans   F == null; F in ("4688", 4688); true / "true"
 *
 * Negation: EQL comparisons with a missing field are null and `not null` is
 * null, whereas Sigma's `selection and not filter` expects a filter on an
 * absent field to be false. Every item under a `not` is therefore written
 * as `(F != null and ...)`, which is false, not null, when F is absent.
 *
 * Correlations (event_count, temporal_ordered) become sequences over the
 * rules they name (same file, or loaded before): `sequence by G with
 * maxspan=T [rule] with runs=N`, `sequence by G with maxspan=T [r1] [r2]`.
 * temporal (any order) and value_count have no sequence form: reported.
 *
 * Errors carry the YAML node's line and column; a document that does not
 * compile is reported and skipped, the file's other documents go on.
 * Cost: SigmaHQ's 2,617 Windows and Linux rules compile in well under a
 * second (BENCHMARKS.md). Work per document is capped (SIGMA_MAX_WORK) so
 * alias bombs and huge expansions fail instead of exhausting memory.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/table.h"
#include "eql.h"
#include "sigma.h"
#include "sigma_yaml.h"

extern const char modus_sigma_conf[];
extern const size_t modus_sigma_conf_len;

/* Generated EQL per document, and detection items expanded: beyond these the
 * document is reported as too large (util/limits.h). */
#define SIGMA_MAX_QUERY MODUS_SIGMA_MAX_QUERY
#define SIGMA_MAX_WORK  MODUS_SIGMA_MAX_WORK
/* windash variants of one value (5 per dash) */
#define SIGMA_MAX_DASH_VARIANTS 625
/* patterns per _anywildcard() call (EQL passes at most 64 arguments) */
#define SIGMA_ARGS_PER_CALL 60

/* ---- the mapping table ------------------------------------------------------------ */

enum { L_LOGSOURCE, L_FIELD, L_DEFAULT, L_KEYWORDS, L_TACTIC, L_STRINGS };

typedef struct skey {
    sv k, v;
} skey;

typedef struct sline {
    uint8_t kind;
    skey keys[4];
    uint8_t nkeys;
    sv w1, w2, rest;
    uint32_t lineno;
} sline;

struct sigma_map {
    char *text;
    sline *l;
    size_t n;
};

const char *sigma_map_default(size_t *len)
{
    *len = modus_sigma_conf_len;
    return modus_sigma_conf;
}

static const char *parse_keys(sv w, sline *l)
{
    l->nkeys = 0;
    if (sv_eq(w, SV_LIT("*"))) return NULL;
    size_t start = 0;
    for (size_t i = 0; i <= w.n; i++) {
        if (i < w.n && w.p[i] != ',') continue;
        sv kv = {w.p + start, i - start};
        start = i + 1;
        const char *eq = memchr(kv.p, '=', kv.n);
        if (!eq) return "KEYS needs key=value pairs (or *)";
        sv k = {kv.p, (size_t)(eq - kv.p)}, v = {eq + 1, kv.n - k.n - 1};
        if (!sv_eq(k, SV_LIT("product")) && !sv_eq(k, SV_LIT("category")) &&
            !sv_eq(k, SV_LIT("service")))
            return "KEYS are product, category and service";
        if (l->nkeys == 4) return "too many keys";
        l->keys[l->nkeys++] = (skey){k, v};
    }
    return NULL;
}

modus_status sigma_map_load(const char *path, sigma_map **out, modus_diag *diag)
{
    *out = NULL;
    sigma_map *m = calloc(1, sizeof *m);
    if (!m) return MODUS_ENOMEM;
    const char *name = path ? path : "<embedded sigma.conf>";
    size_t len = 0;
    m->text = table_text(path, modus_sigma_conf, modus_sigma_conf_len, MODUS_MAX_RULE_FILE, &len);
    if (!m->text) {
        table_diag(diag, name, 0, "cannot read the Sigma mapping");
        free(m);
        return path ? MODUS_EIO : MODUS_ENOMEM;
    }
    size_t cap = 0;
    uint32_t lineno = 0;
    const char *err = NULL;
    sv line;
    for (size_t pos = 0; !err && table_line(m->text, len, &pos, &line);) {
        lineno++;
        line = table_trim(line);
        sv kw = table_word(&line);
        if (!kw.n || kw.p[0] == '#') continue;
        sline l;
        memset(&l, 0, sizeof l);
        l.lineno = lineno;
        if (sv_eq(kw, SV_LIT("logsource"))) {
            l.kind = L_LOGSOURCE;
            err = parse_keys(table_word(&line), &l);
            l.w1 = table_word(&line);
            l.rest = table_trim(line);
            if (!err && (!l.w1.n || !l.rest.n)) err = "logsource needs KEYS CATEGORY CONDITION";
        } else if (sv_eq(kw, SV_LIT("field"))) {
            l.kind = L_FIELD;
            l.w1 = table_word(&line);
            l.w2 = table_word(&line);
            sv k = table_word(&line);
            if (k.n) err = parse_keys(k, &l);
            if (!err && (!l.w1.n || !l.w2.n)) err = "field needs NAME TARGET [KEYS]";
        } else if (sv_eq(kw, SV_LIT("default"))) {
            l.kind = L_DEFAULT;
            err = parse_keys(table_word(&line), &l);
            l.w1 = table_word(&line);
            if (!err && !l.w1.n) err = "default needs KEYS PREFIX";
        } else if (sv_eq(kw, SV_LIT("keywords"))) {
            l.kind = L_KEYWORDS;
            err = parse_keys(table_word(&line), &l);
            l.rest = table_trim(line);
            if (!err && !l.rest.n) err = "keywords needs KEYS FIELD...";
        } else if (sv_eq(kw, SV_LIT("tactic"))) {
            l.kind = L_TACTIC;
            l.w1 = table_word(&line);
            l.w2 = table_word(&line);
            l.rest = table_trim(line);
            if (!l.rest.n) err = "tactic needs TAG ID NAME";
        } else if (sv_eq(kw, SV_LIT("strings"))) {
            l.kind = L_STRINGS;
            l.rest = table_trim(line);
            if (!l.rest.n) err = "strings needs FIELD...";
        } else {
            err = "expected logsource, field, default, keywords, strings or tactic";
        }
        if (!err && !table_push((void **)&m->l, &m->n, &cap, &l, sizeof l)) err = "out of memory";
    }
    if (err) {
        table_diag(diag, name, lineno, err);
        sigma_map_free(m);
        return MODUS_ETABLE;
    }
    *out = m;
    return MODUS_OK;
}

void sigma_map_free(sigma_map *m)
{
    if (!m) return;
    free(m->text);
    free(m->l);
    free(m);
}

int sigma_is_file(const char *path)
{
    size_t n = strlen(path);
    return (n > 4 && !strcmp(path + n - 4, ".yml")) || (n > 5 && !strcmp(path + n - 5, ".yaml"));
}

/* ---- logsources --------------------------------------------------------------------- */

typedef struct lsrc {
    sv product, category, service;
} lsrc;

static sv ls_get(const lsrc *ls, sv k)
{
    if (sv_eq(k, SV_LIT("product"))) return ls->product;
    if (sv_eq(k, SV_LIT("category"))) return ls->category;
    return ls->service;
}

static bool keys_match(const sline *l, const lsrc *ls)
{
    for (int i = 0; i < l->nkeys; i++) {
        sv v = ls_get(ls, l->keys[i].k);
        if (!v.p || !sv_glob(l->keys[i].v, v)) return false;
    }
    return true;
}

static bool has_key(const sline *l, const char *k)
{
    for (int i = 0; i < l->nkeys; i++)
        if (sv_eq(l->keys[i].k, sv_cstr(k))) return true;
    return false;
}

static const sline *find_logsource(const sigma_map *m, const lsrc *ls)
{
    for (size_t i = 0; i < m->n; i++) {
        const sline *l = &m->l[i];
        if (l->kind != L_LOGSOURCE || !keys_match(l, ls)) continue;
        if (ls->category.p && !has_key(l, "category")) continue;
        if (ls->service.p && !has_key(l, "service")) continue;
        return l;
    }
    return NULL;
}

static const sline *find_line(const sigma_map *m, uint8_t kind, const lsrc *ls, sv name)
{
    for (size_t i = 0; i < m->n; i++) {
        const sline *l = &m->l[i];
        if (l->kind != kind || !keys_match(l, ls)) continue;
        if (kind == L_FIELD && !sv_eq(l->w1, name)) continue;
        return l;
    }
    return NULL;
}

/* ---- generation state ----------------------------------------------------------------- */

typedef struct gen {
    const sigma_map *m;
    lsrc ls;
    const ynode *det; /* the detection mapping */
    buf *o;
    bool failed;
    uint32_t eline, ecol;
    char msg[256];
    uint32_t work;
} gen;

static void gfail(gen *g, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void gfail(gen *g, const ynode *at, const char *fmt, ...)
{
    if (g->failed) return;
    g->failed = true;
    g->eline = at ? at->line : 0;
    g->ecol = at ? at->col : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof g->msg, fmt, ap);
    va_end(ap);
}

static bool budget(gen *g, const ynode *at, uint32_t n)
{
    g->work += n;
    if (g->work > SIGMA_MAX_WORK || g->o->n > SIGMA_MAX_QUERY) {
        gfail(g, at, "the rule expands to more than the limits allow (%u items, %u bytes of EQL)",
              SIGMA_MAX_WORK, SIGMA_MAX_QUERY);
        return false;
    }
    return !g->failed;
}

/* EQL text helpers */
static void put_str(buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                buf_puts(b, "\\u00");
                buf_putc(b, hex[c >> 4]);
                buf_putc(b, hex[c & 15]);
            } else {
                buf_putc(b, (char)c);
            }
        }
    }
    buf_putc(b, '"');
}

static bool path_plain(sv p)
{
    if (!p.n || !(isalpha((unsigned char)p.p[0]) || p.p[0] == '_' || p.p[0] == '@')) return false;
    for (size_t i = 0; i < p.n; i++) {
        char c = p.p[i];
        if (!(isalnum((unsigned char)c) || c == '_' || c == '@' || c == '.')) return false;
        if (c == '.' && (i + 1 == p.n || p.p[i + 1] == '.')) return false;
    }
    static const char *const kw[] = {"and",   "or",       "not",   "in",   "like",   "regex",
                                     "where", "sequence", "by",    "with", "until",  "join",
                                     "of",    "true",     "false", "null", "sample", NULL};
    for (int i = 0; kw[i]; i++)
        if (sv_ieq(p, sv_cstr(kw[i]))) return false;
    return true;
}

/* a field path: as it is, or `quoted` when it holds other characters */
static void put_field(buf *b, sv p)
{
    if (path_plain(p)) {
        buf_putsv(b, p);
        return;
    }
    buf_putc(b, '`');
    for (size_t i = 0; i < p.n; i++) {
        if (p.p[i] == '`') buf_putc(b, '`'); /* a back-tick is written twice */
        buf_putc(b, p.p[i]);
    }
    buf_putc(b, '`');
}

/* ---- field names ------------------------------------------------------------------------ */

typedef struct target {
    char path[256];
    bool any; /* P.*: any string value under path */
} target;

static bool map_field(gen *g, const ynode *at, sv name, target *t)
{
    memset(t, 0, sizeof *t);
    const sline *l = find_line(g->m, L_FIELD, &g->ls, name);
    sv out = name;
    char tmp[256];
    if (l) {
        out = l->w2;
    } else if (!memchr(name.p, '.', name.n)) {
        const sline *d = find_line(g->m, L_DEFAULT, &g->ls, name);
        if (d && !sv_eq(d->w1, SV_LIT("-"))) {
            if (d->w1.n + name.n >= sizeof tmp) {
                gfail(g, at, "field name too long");
                return false;
            }
            memcpy(tmp, d->w1.p, d->w1.n);
            memcpy(tmp + d->w1.n, name.p, name.n);
            out = (sv){tmp, d->w1.n + name.n};
        }
    }
    if (out.n >= sizeof t->path) {
        gfail(g, at, "field name too long");
        return false;
    }
    if (out.n >= 2 && out.p[out.n - 2] == '.' && out.p[out.n - 1] == '*') {
        t->any = true;
        out.n -= 2;
    }
    if (!out.n) {
        gfail(g, at, "empty field name");
        return false;
    }
    memcpy(t->path, out.p, out.n);
    t->path[out.n] = 0;
    return true;
}

/* ---- Sigma strings: bytes, some of them wildcards ------------------------------------- */

typedef struct sstr {
    char *b;
    char *w; /* per byte: 0 literal, '*' or '?' wildcard */
    size_t n, cap;
} sstr;

typedef struct svec {
    sstr *v;
    size_t n, cap;
} svec;

static bool sstr_put(sstr *s, char c, char wild)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char *b = realloc(s->b, cap), *w = b ? realloc(s->w, cap) : NULL;
        if (b) s->b = b;
        if (!w) return false;
        s->w = w;
        s->cap = cap;
    }
    s->b[s->n] = c;
    s->w[s->n] = wild;
    s->n++;
    return true;
}

static void sstr_free(sstr *s)
{
    free(s->b);
    free(s->w);
    memset(s, 0, sizeof *s);
}

static void svec_free(svec *v)
{
    for (size_t i = 0; i < v->n; i++) sstr_free(&v->v[i]);
    free(v->v);
    memset(v, 0, sizeof *v);
}

static bool svec_push(svec *v, sstr s)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        sstr *n = realloc(v->v, sizeof *n * cap);
        if (!n) return false;
        v->v = n;
        v->cap = cap;
    }
    v->v[v->n++] = s;
    return true;
}

/* Sigma's escaping: \* \? \\ are literal; other backslashes are themselves */
static bool sstr_parse(sstr *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok;
        if (c == '\\' && i + 1 < n && (p[i + 1] == '*' || p[i + 1] == '?' || p[i + 1] == '\\'))
            ok = sstr_put(s, p[++i], 0);
        else if (c == '*' || c == '?')
            ok = sstr_put(s, c, c);
        else
            ok = sstr_put(s, c, 0);
        if (!ok) return false;
    }
    return true;
}

static bool sstr_has_wild(const sstr *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i]) return true;
    return false;
}

/* a literal * or ?: a glob cannot say it */
static bool sstr_lit_wild(const sstr *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->w[i] && (s->b[i] == '*' || s->b[i] == '?')) return true;
    return false;
}

static bool is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* windash: a dash or slash that starts a word after a non-word (regex \B[-/]\b)
 * takes each of - / en dash, em dash, horizontal bar */
static const char *const dashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};

static bool windash(gen *g, const ynode *at, const sstr *in, svec *out)
{
    size_t pos[8], k = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (in->w[i] || (in->b[i] != '-' && in->b[i] != '/')) continue;
        bool before = i == 0 || in->w[i - 1] || !is_word(in->b[i - 1]);
        bool after = i + 1 < in->n && !in->w[i + 1] && is_word(in->b[i + 1]);
        if (!before || !after) continue;
        if (k == 4) {
            gfail(g, at, "windash: more than 4 flag dashes in one value");
            return false;
        }
        pos[k++] = i;
    }
    size_t total = 1;
    for (size_t i = 0; i < k; i++) total *= 5;
    if (!budget(g, at, (uint32_t)total)) return false;
    for (size_t v = 0; v < total; v++) {
        sstr s = {0};
        size_t code = v, next = 0;
        for (size_t i = 0; i < in->n; i++) {
            if (next < k && pos[next] == i) {
                const char *d = dashes[code % 5];
                code /= 5;
                next++;
                for (; *d; d++) sstr_put(&s, *d, 0);
            } else {
                sstr_put(&s, in->b[i], in->w[i]);
            }
        }
        if (!svec_push(out, s)) {
            sstr_free(&s);
            return false;
        }
    }
    return true;
}

/* UTF-8 -> UTF-16 (le, be; bom: FF FE then le) */
static bool utf16(gen *g, const ynode *at, const sstr *in, int form, sstr *out)
{
    if (sstr_has_wild(in)) {
        gfail(g, at, "wildcards cannot be UTF-16 encoded (use contains after the encoding)");
        return false;
    }
    memset(out, 0, sizeof *out);
    bool be = form == 1;
    if (form == 2) sstr_put(out, (char)0xff, 0), sstr_put(out, (char)0xfe, 0);
    const unsigned char *p = (const unsigned char *)in->b;
    for (size_t i = 0; i < in->n;) {
        uint32_t cp = p[i], len = 1;
        if (cp >= 0xf0 && i + 3 < in->n)
            cp = (cp & 7) << 18 | (p[i + 1] & 63u) << 12 | (p[i + 2] & 63u) << 6 | (p[i + 3] & 63u),
            len = 4;
        else if (cp >= 0xe0 && i + 2 < in->n)
            cp = (cp & 15) << 12 | (p[i + 1] & 63u) << 6 | (p[i + 2] & 63u), len = 3;
        else if (cp >= 0xc0 && i + 1 < in->n)
            cp = (cp & 31) << 6 | (p[i + 1] & 63u), len = 2;
        i += len;
        uint16_t u[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[0] = (uint16_t)(0xd800 | cp >> 10);
            u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
            nu = 2;
        } else {
            u[0] = (uint16_t)cp;
        }
        for (int k = 0; k < nu; k++) {
            char lo = (char)(u[k] & 0xff), hi = (char)(u[k] >> 8);
            sstr_put(out, be ? hi : lo, 0);
            sstr_put(out, be ? lo : hi, 0);
        }
    }
    return true;
}

static void b64(const unsigned char *p, size_t n, sstr *out)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        sstr_put(out, T[v >> 18 & 63], 0);
        sstr_put(out, T[v >> 12 & 63], 0);
        sstr_put(out, i + 1 < n ? T[v >> 6 & 63] : '=', 0);
        sstr_put(out, i + 2 < n ? T[v & 63] : '=', 0);
    }
}

/* base64: the whole value; base64offset: the three forms the value takes at
 * byte offsets 0, 1, 2 of an encoded text, without the characters its
 * neighbours change (as pySigma's SigmaBase64OffsetModifier) */
static bool base64(gen *g, const ynode *at, const sstr *in, bool offset, svec *out)
{
    if (sstr_has_wild(in)) {
        gfail(g, at, "wildcards cannot be base64 encoded (use contains after the encoding)");
        return false;
    }
    if (!offset) {
        sstr s = {0};
        b64((const unsigned char *)in->b, in->n, &s);
        return svec_push(out, s);
    }
    static const int start[3] = {0, 2, 3}, end_cut[3] = {0, 3, 2};
    for (int i = 0; i < 3; i++) {
        unsigned char *tmp = malloc(in->n + 3);
        if (!tmp) return false;
        memset(tmp, ' ', (size_t)i);
        memcpy(tmp + i, in->b, in->n);
        sstr e = {0};
        b64(tmp, in->n + (size_t)i, &e);
        free(tmp);
        size_t cut = (size_t)end_cut[(in->n + (size_t)i) % 3];
        size_t b = (size_t)start[i], n = e.n > cut + b ? e.n - cut - b : 0;
        sstr s = {0};
        for (size_t k = 0; k < n; k++) sstr_put(&s, e.b[b + k], 0);
        sstr_free(&e);
        if (!svec_push(out, s)) return false;
    }
    return true;
}

static bool wrap(sstr *s, bool head, bool tail)
{
    if (head && !(s->n && s->w[0] == '*')) {
        sstr t = {0};
        sstr_put(&t, '*', '*');
        for (size_t i = 0; i < s->n; i++) sstr_put(&t, s->b[i], s->w[i]);
        sstr_free(s);
        *s = t;
    }
    if (tail && !(s->n && s->w[s->n - 1] == '*')) return sstr_put(s, '*', '*');
    return true;
}

static void put_regex_of(buf *b, const sstr *s)
{
    buf_reset(b);
    for (size_t i = 0; i < s->n; i++) {
        if (s->w[i] == '*')
            buf_puts(b, ".*");
        else if (s->w[i] == '?')
            buf_putc(b, '.');
        else if (strchr("\\.^$|?*+()[]{}", s->b[i]) && s->b[i])
            buf_putc(b, '\\'), buf_putc(b, s->b[i]);
        else if (!s->b[i])
            buf_puts(b, "\\x00");
        else
            buf_putc(b, s->b[i]);
    }
}

/* ---- detection items -------------------------------------------------------------------- */

enum {
    MD_CONTAINS = 1 << 0,
    MD_STARTS = 1 << 1,
    MD_ENDS = 1 << 2,
    MD_ALL = 1 << 3,
    MD_RE = 1 << 4,
    MD_CIDR = 1 << 5,
    MD_EXISTS = 1 << 6,
    MD_FIELDREF = 1 << 7,
    MD_CASED = 1 << 8,
    MD_NEQ = 1 << 9,
    MD_RE_I = 1 << 10,
    MD_RE_M = 1 << 11,
    MD_RE_S = 1 << 12,
    MD_CMP = 1 << 13,
};
enum { T_WINDASH = 1, T_B64, T_B64OFF, T_U16LE, T_U16BE, T_U16 };

typedef struct mods {
    uint32_t f;
    uint8_t tr[8]; /* transformations, in order */
    int ntr;
    const char *cmp; /* "<", "<=", ">", ">=" */
} mods;

static bool parse_mods(gen *g, const ynode *at, sv spec, mods *m)
{
    memset(m, 0, sizeof *m);
    if (!spec.n) return true;
    size_t start = 0;
    for (size_t i = 0; i <= spec.n; i++) {
        if (i < spec.n && spec.p[i] != '|') continue;
        sv w = {spec.p + start, i - start};
        start = i + 1;
        static const struct {
            const char *name;
            uint32_t f;
            uint8_t tr;
            const char *cmp;
        } T[] = {
            {"contains", MD_CONTAINS, 0, NULL},
            {"startswith", MD_STARTS, 0, NULL},
            {"endswith", MD_ENDS, 0, NULL},
            {"all", MD_ALL, 0, NULL},
            {"re", MD_RE, 0, NULL},
            {"cidr", MD_CIDR, 0, NULL},
            {"exists", MD_EXISTS, 0, NULL},
            {"fieldref", MD_FIELDREF, 0, NULL},
            {"cased", MD_CASED, 0, NULL},
            {"neq", MD_NEQ, 0, NULL},
            {"windash", 0, T_WINDASH, NULL},
            {"base64", 0, T_B64, NULL},
            {"base64offset", 0, T_B64OFF, NULL},
            {"utf16le", 0, T_U16LE, NULL},
            {"wide", 0, T_U16LE, NULL},
            {"utf16be", 0, T_U16BE, NULL},
            {"utf16", 0, T_U16, NULL},
            {"lt", MD_CMP, 0, "<"},
            {"lte", MD_CMP, 0, "<="},
            {"gt", MD_CMP, 0, ">"},
            {"gte", MD_CMP, 0, ">="},
        };
        bool found = false;
        for (size_t k = 0; k < sizeof T / sizeof *T && !found; k++) {
            if (!sv_eq(w, sv_cstr(T[k].name))) continue;
            found = true;
            m->f |= T[k].f;
            if (T[k].cmp) m->cmp = T[k].cmp;
            if (T[k].tr) {
                if (m->ntr == 8) {
                    gfail(g, at, "too many modifiers");
                    return false;
                }
                m->tr[m->ntr++] = T[k].tr;
            }
        }
        /* the regex flags follow re */
        if (!found && (m->f & MD_RE) && w.n == 1 && strchr("ims", w.p[0])) {
            m->f |= w.p[0] == 'i' ? MD_RE_I : w.p[0] == 'm' ? MD_RE_M : MD_RE_S;
            found = true;
        }
        if (!found) {
            if (sv_eq(w, SV_LIT("expand")))
                gfail(g, at,
                      "the expand modifier needs placeholder values (%%name%%) that modus has no "
                      "pipeline for");
            else if (sv_eq(w, SV_LIT("i")) || sv_eq(w, SV_LIT("m")) || sv_eq(w, SV_LIT("s")))
                gfail(g, at, "modifier '%.*s' is a flag of re and must follow it", (int)w.n, w.p);
            else
                gfail(g, at, "unknown modifier '%.*s'", (int)(w.n > 40 ? 40 : w.n), w.p);
            return false;
        }
    }
    return true;
}

/* A group of terms joined by and / or: parenthesised only when it has more
 * than one (a single term is a comparison, a call or a group already). */
typedef struct grp {
    size_t at, terms;
} grp;

static grp grp_open(const buf *o)
{
    return (grp){o->n, 0};
}

static void grp_sep(buf *o, grp *g, const char *join)
{
    if (g->terms++) buf_puts(o, join);
}

static void grp_close(buf *o, grp *g)
{
    if (g->terms < 2 || o->oom) return;
    buf_putc(o, ' '); /* room for the '(' */
    if (o->oom) return;
    memmove(o->p + g->at + 1, o->p + g->at, o->n - 1 - g->at);
    o->p[g->at] = '(';
    buf_putc(o, ')');
}

/* the leaf's null guard: under a `not`, a missing field must make the item
 * false, not null (see the top) */
static void guard_open(gen *g, bool guard, const char *path)
{
    if (!guard) return;
    buf_puts(g->o, "(");
    put_field(g->o, sv_cstr(path));
    buf_puts(g->o, " != null and ");
}

static void guard_close(gen *g, bool guard)
{
    if (guard) buf_putc(g->o, ')');
}

/* glob patterns and regexes over one field (or any value under it), joined
 * by or (or by and with `all`) */
static void emit_patterns(gen *g, const ynode *at, const target *t, svec *vals, const mods *md,
                          bool guard)
{
    buf *o = g->o;
    bool all = md->f & MD_ALL, cased = md->f & MD_CASED;
    const char *join = all ? " and " : " or ";
    buf re = {0};
    guard_open(g, guard, t->path);
    bool neq = md->f & MD_NEQ;
    if (neq) buf_puts(o, "not (");
    grp gr = grp_open(o);
    if (t->any) {
        /* any value under t->path: _anywildcard(), a few patterns per call */
        for (size_t i = 0; i < vals->n;) {
            if (sstr_lit_wild(&vals->v[i])) {
                gfail(g, at, "a literal * or ? cannot be searched for in %s.*", t->path);
                break;
            }
            grp_sep(o, &gr, join);
            buf_printf(o, "_anywildcard%s(", cased ? "" : "~");
            put_field(o, sv_cstr(t->path));
            for (size_t k = 0; i < vals->n && k < (all ? 1u : SIGMA_ARGS_PER_CALL); i++, k++) {
                buf_puts(o, ", ");
                put_str(o, vals->v[i].b, vals->v[i].n);
            }
            buf_putc(o, ')');
        }
    } else {
        size_t nglob = 0;
        for (size_t i = 0; i < vals->n; i++) nglob += !sstr_lit_wild(&vals->v[i]);
        if (nglob && !all) {
            /* one list: F : ("a", "b*") */
            grp_sep(o, &gr, join);
            put_field(o, sv_cstr(t->path));
            buf_puts(o, cased ? " like " : " : ");
            if (nglob > 1) buf_putc(o, '(');
            size_t k = 0;
            for (size_t i = 0; i < vals->n; i++) {
                if (sstr_lit_wild(&vals->v[i])) continue;
                if (k++) buf_puts(o, ", ");
                put_str(o, vals->v[i].b, vals->v[i].n);
            }
            if (nglob > 1) buf_putc(o, ')');
        }
        for (size_t i = 0; i < vals->n; i++) {
            bool lit = sstr_lit_wild(&vals->v[i]);
            if (!lit && !all) continue;
            grp_sep(o, &gr, join);
            put_field(o, sv_cstr(t->path));
            if (!lit) {
                buf_puts(o, cased ? " like " : " : ");
                put_str(o, vals->v[i].b, vals->v[i].n);
            } else {
                put_regex_of(&re, &vals->v[i]);
                buf_puts(o, cased ? " regex " : " regex~ ");
                put_str(o, re.p ? re.p : "", re.n);
            }
        }
    }
    grp_close(o, &gr);
    if (neq) buf_putc(o, ')');
    guard_close(g, guard);
    buf_free(&re);
}

/* a field every source modus reads holds as text (a `strings` line): a
 * number in a rule compares as its text only, which the rule programs run */
static bool strings_only(const sigma_map *m, const char *path)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->l[i].kind != L_STRINGS) continue;
        sv rest = m->l[i].rest;
        for (sv f = table_word(&rest); f.n; f = table_word(&rest))
            if (sv_glob(f, sv_cstr(path))) return true;
    }
    return false;
}

static bool is_number_node(const ynode *v)
{
    return yis_int(v) || yis_float(v);
}

/* a YAML int (decimal, 0x hex, with _ separators) as decimal text */
static bool int_text(const ynode *v, char *out, size_t cap)
{
    char tmp[64];
    size_t k = 0;
    for (size_t i = 0; i < v->n && k + 1 < sizeof tmp; i++)
        if (v->s[i] != '_') tmp[k++] = v->s[i];
    tmp[k] = 0;
    char *end;
    long long x = strtoll(tmp, &end, 0);
    if (*end) return false;
    snprintf(out, cap, "%lld", x);
    return true;
}

/* a YAML float as EQL writes it ("1.5", not ".5" or "1.5e3") */
static bool float_text(const ynode *v, char *out, size_t cap)
{
    char tmp[64], *end;
    if (v->n >= sizeof tmp) return false;
    memcpy(tmp, v->s, v->n);
    tmp[v->n] = 0;
    double d = strtod(tmp, &end);
    if (*end || d != d || d > 1e15 || d < -1e15) return false;
    snprintf(out, cap, "%.6f", d);
    return true;
}

/* one scalar under modifiers that compare rather than match strings */
static void emit_scalar_test(gen *g, const ynode *v, const target *t, const mods *md, bool guard)
{
    buf *o = g->o;
    sv path = sv_cstr(t->path);
    if (t->any && (md->f & (MD_EXISTS | MD_FIELDREF | MD_RE | MD_CIDR | MD_CMP))) {
        gfail(g, v, "only string matches can search every value under %s", t->path);
        return;
    }
    if (md->f & MD_EXISTS) {
        int b = yis_bool(v);
        if (b < 0 && (yscalar_is(v, "true") || yscalar_is(v, "false"))) b = yscalar_is(v, "true");
        if (b < 0) {
            gfail(g, v, "exists needs true or false");
            return;
        }
        buf_putc(o, '(');
        put_field(o, path);
        buf_puts(o, b ? " != null)" : " == null)");
        return;
    }
    if (md->f & MD_FIELDREF) {
        target other;
        if (v->kind != Y_SCALAR || !v->n) {
            gfail(g, v, "fieldref needs a field name");
            return;
        }
        if (!map_field(g, v, (sv){v->s, v->n}, &other)) return;
        buf_puts(o, "(");
        put_field(o, path);
        buf_puts(o, " != null and ");
        put_field(o, sv_cstr(other.path));
        buf_puts(o, " != null and ");
        if (md->f & MD_NEQ) buf_puts(o, "not ");
        const char *fn = md->f & MD_CONTAINS ? "stringContains"
                         : md->f & MD_STARTS ? "startsWith"
                         : md->f & MD_ENDS   ? "endsWith"
                                             : NULL;
        if (fn) {
            buf_printf(o, "%s%s(", fn, md->f & MD_CASED ? "" : "~");
            put_field(o, path);
            buf_puts(o, ", ");
            put_field(o, sv_cstr(other.path));
            buf_puts(o, "))");
        } else {
            put_field(o, path);
            buf_puts(o, md->f & MD_CASED ? " == " : " : ");
            put_field(o, sv_cstr(other.path));
            buf_putc(o, ')');
        }
        return;
    }
    if (md->f & MD_CMP) {
        if (!is_number_node(v)) {
            gfail(g, v, "%s needs a number", md->cmp);
            return;
        }
        char num[64];
        if (yis_int(v) ? !int_text(v, num, sizeof num) : !float_text(v, num, sizeof num)) {
            gfail(g, v, "a number out of range");
            return;
        }
        guard_open(g, guard, t->path);
        buf_puts(o, "(number(");
        put_field(o, path);
        buf_printf(o, ") %s %s)", md->cmp, num);
        guard_close(g, guard);
        return;
    }
    if (md->f & MD_CIDR) {
        guard_open(g, guard, t->path);
        buf_puts(o, "cidrMatch(");
        put_field(o, path);
        buf_puts(o, ", ");
        put_str(o, v->s, v->n);
        buf_putc(o, ')');
        guard_close(g, guard);
        return;
    }
    if (md->f & MD_RE) {
        if (md->f & (MD_CONTAINS | MD_STARTS | MD_ENDS) || md->ntr) {
            gfail(g, v, "re cannot be combined with string modifiers");
            return;
        }
        /* unanchored, as Sigma means it; `.` matches a newline only with the s flag */
        buf re = {0};
        buf_puts(&re, ".*?(?");
        if (md->f & MD_RE_I) buf_putc(&re, 'i');
        if (md->f & MD_RE_M) buf_putc(&re, 'm');
        if (md->f & MD_RE_S) buf_putc(&re, 's');
        if (!(md->f & MD_RE_S)) buf_puts(&re, "-s");
        buf_putc(&re, ':');
        buf_put(&re, v->s, v->n);
        buf_puts(&re, ").*");
        char err[160];
        void *rx = re.oom ? NULL : eql_regex_compile(re.p, (uint32_t)re.n, false, err, sizeof err);
        if (!rx) {
            gfail(g, v, "bad regular expression: %s", re.oom ? "out of memory" : err);
            buf_free(&re);
            return;
        }
        eql_regex_free(rx);
        guard_open(g, guard, t->path);
        if (md->f & MD_NEQ) buf_puts(o, "not ");
        buf_putc(o, '(');
        put_field(o, path);
        buf_puts(o, " regex ");
        put_str(o, re.p, re.n);
        buf_putc(o, ')');
        guard_close(g, guard);
        buf_free(&re);
        return;
    }
}

/* one detection item: FIELD|mods: value or [values] */
static void gen_item(gen *g, const ynode *key, const ynode *val, bool guard);
static void gen_keywords(gen *g, const ynode *at, const ynode *vals, const mods *md, bool guard);

static bool string_values(gen *g, const ynode *at, const ynode *const *vs, size_t nv,
                          const mods *md, svec *out)
{
    for (size_t i = 0; i < nv && !g->failed; i++) {
        const ynode *v = vs[i];
        if (v->kind != Y_SCALAR) {
            gfail(g, v, "a value must be a scalar, not a %s", v->kind == Y_MAP ? "map" : "list");
            return false;
        }
        svec cur = {0};
        sstr s = {0};
        if (!sstr_parse(&s, v->s, v->n) || !svec_push(&cur, s)) {
            sstr_free(&s);
            svec_free(&cur);
            gfail(g, v, "out of memory");
            return false;
        }
        for (int k = 0; k < md->ntr && !g->failed; k++) {
            svec next = {0};
            for (size_t j = 0; j < cur.n && !g->failed; j++) {
                uint8_t tr = md->tr[k];
                if (tr == T_WINDASH) {
                    windash(g, v, &cur.v[j], &next);
                } else if (tr == T_B64 || tr == T_B64OFF) {
                    base64(g, v, &cur.v[j], tr == T_B64OFF, &next);
                } else {
                    sstr u;
                    if (utf16(g, v, &cur.v[j],
                              tr == T_U16LE   ? 0
                              : tr == T_U16BE ? 1
                                              : 2,
                              &u) &&
                        !svec_push(&next, u))
                        sstr_free(&u);
                }
            }
            svec_free(&cur);
            cur = next;
        }
        bool encoded = false;
        for (int k = 0; k < md->ntr; k++)
            if (md->tr[k] == T_U16LE || md->tr[k] == T_U16BE || md->tr[k] == T_U16) encoded = true;
        for (int k = 0; k < md->ntr; k++)
            if (md->tr[k] == T_B64 || md->tr[k] == T_B64OFF) encoded = false;
        if (encoded && !g->failed)
            gfail(g, v, "utf16 encodings need base64 or base64offset after them");
        for (size_t j = 0; j < cur.n && !g->failed; j++) {
            if (!wrap(&cur.v[j], md->f & (MD_CONTAINS | MD_ENDS),
                      md->f & (MD_CONTAINS | MD_STARTS)) ||
                !svec_push(out, cur.v[j]))
                gfail(g, v, "out of memory");
            else
                cur.v[j] = (sstr){0};
        }
        svec_free(&cur);
        if (!budget(g, v, 1)) return false;
    }
    (void)at;
    return !g->failed;
}

static void gen_values(gen *g, const ynode *at, const target *t, const ynode *val, const mods *md,
                       bool guard)
{
    buf *o = g->o;
    const ynode *one[1] = {val};
    const ynode *const *vs = one;
    size_t nv = 1;
    if (val->kind == Y_SEQ) {
        vs = (const ynode *const *)val->kids;
        nv = val->nkids;
        if (!nv) {
            gfail(g, val, "an empty list of values");
            return;
        }
    } else if (val->kind == Y_MAP) {
        gfail(g, val, "a value must be a scalar or a list, not a map");
        return;
    }
    const char *join = md->f & MD_ALL ? " and " : " or ";
    uint32_t special = MD_EXISTS | MD_FIELDREF | MD_CMP | MD_CIDR | MD_RE;
    bool strmods = md->f & (MD_CONTAINS | MD_STARTS | MD_ENDS) || md->ntr;
    /* split: nulls, numbers and booleans apart; strings together */
    const ynode **strs = malloc(sizeof *strs * nv);
    if (!strs) {
        gfail(g, at, "out of memory");
        return;
    }
    size_t ns = 0;
    grp gr = grp_open(o);
    for (size_t i = 0; i < nv && !g->failed; i++) {
        const ynode *v = vs[i];
        if (!budget(g, v, 1)) break;
        if (v->kind != Y_SCALAR) {
            gfail(g, v, "a value must be a scalar, not a %s", v->kind == Y_MAP ? "map" : "list");
            break;
        }
        if (md->f & special) {
            grp_sep(o, &gr, join);
            emit_scalar_test(g, v, t, md, guard);
            continue;
        }
        if (yis_null(v)) {
            grp_sep(o, &gr, join);
            if (t->any) {
                gfail(g, v, "null cannot be tested under %s.*", t->path);
                break;
            }
            put_field(o, sv_cstr(t->path));
            buf_puts(o, md->f & MD_NEQ ? " != null" : " == null");
            continue;
        }
        int b = yis_bool(v);
        if (!strmods && !t->any && (b >= 0 || is_number_node(v))) {
            grp_sep(o, &gr, join);
            char num[64];
            guard_open(g, guard, t->path);
            if (md->f & MD_NEQ) buf_puts(o, "not ");
            if (b >= 0) { /* a JSON boolean, or its text */
                buf_putc(o, '(');
                put_field(o, sv_cstr(t->path));
                buf_printf(o, " == %s or ", b ? "true" : "false");
                put_field(o, sv_cstr(t->path));
                buf_printf(o, " : \"%s\")", b ? "true" : "false");
            } else { /* a JSON number, or its text */
                put_field(o, sv_cstr(t->path));
                if (strings_only(g->m, t->path)) {
                    buf_puts(o, " == ");
                    put_str(o, v->s, v->n);
                } else {
                    buf_puts(o, " in (");
                    put_str(o, v->s, v->n);
                    if (yis_int(v) && int_text(v, num, sizeof num))
                        buf_printf(o, ", %s", num);
                    else if (yis_float(v) && float_text(v, num, sizeof num))
                        buf_printf(o, ", %s", num);
                    buf_putc(o, ')');
                }
            }
            guard_close(g, guard);
            continue;
        }
        strs[ns++] = v;
    }
    if (ns && !g->failed) {
        svec sv_ = {0};
        if (string_values(g, at, strs, ns, md, &sv_) && sv_.n) {
            grp_sep(o, &gr, join);
            emit_patterns(g, at, t, &sv_, md, guard);
        }
        svec_free(&sv_);
    }
    grp_close(o, &gr);
    free(strs);
}

static void gen_item(gen *g, const ynode *key, const ynode *val, bool guard)
{
    if (key->kind != Y_SCALAR) {
        gfail(g, key, "a detection key must be a field name");
        return;
    }
    sv k = {key->s, key->n};
    const char *bar = memchr(k.p, '|', k.n);
    sv name = bar ? (sv){k.p, (size_t)(bar - k.p)} : k;
    sv spec = bar ? (sv){bar + 1, k.n - name.n - 1} : (sv){"", 0};
    mods md;
    if (!parse_mods(g, key, spec, &md)) return;
    if (!name.n) {
        gen_keywords(g, key, val, &md, guard);
        return;
    }
    target t;
    if (!map_field(g, key, name, &t)) return;
    gen_values(g, key, &t, val, &md, guard);
}

/* keyword search: every string value under the keywords line's fields */
static void gen_keywords(gen *g, const ynode *at, const ynode *vals, const mods *md_in, bool guard)
{
    const sline *l = find_line(g->m, L_KEYWORDS, &g->ls, (sv){NULL, 0});
    if (!l) {
        gfail(g, at, "keyword lists need a keywords line in the Sigma mapping for this logsource");
        return;
    }
    mods md = *md_in;
    if (md.f & (MD_RE | MD_CIDR | MD_EXISTS | MD_FIELDREF | MD_CMP)) {
        gfail(g, at, "keyword lists take string modifiers only");
        return;
    }
    if (!(md.f & (MD_STARTS | MD_ENDS))) md.f |= MD_CONTAINS; /* a keyword is found anywhere */
    buf *o = g->o;
    grp gr = grp_open(o);
    sv rest = l->rest;
    for (sv f = table_word(&rest); f.n && !g->failed; f = table_word(&rest)) {
        grp_sep(o, &gr, " or ");
        target t;
        memset(&t, 0, sizeof t);
        if (f.n >= sizeof t.path) {
            gfail(g, at, "keyword field too long");
            break;
        }
        memcpy(t.path, f.p, f.n);
        t.any = true;
        gen_values(g, at, &t, vals, &md, guard);
    }
    grp_close(o, &gr);
}

/* a search identifier's value */
static void gen_search(gen *g, const ynode *name, const ynode *v, bool guard)
{
    buf *o = g->o;
    if (!budget(g, v, 1)) return;
    if (v->kind == Y_MAP) {
        if (!v->nkids) {
            gfail(g, v, "an empty selection");
            return;
        }
        grp gr = grp_open(o);
        for (uint32_t i = 0; i + 1 < v->nkids && !g->failed; i += 2) {
            grp_sep(o, &gr, " and ");
            gen_item(g, v->kids[i], v->kids[i + 1], guard);
        }
        grp_close(o, &gr);
    } else if (v->kind == Y_SEQ) {
        if (!v->nkids) {
            gfail(g, v, "an empty selection");
            return;
        }
        bool maps = v->kids[0]->kind == Y_MAP;
        for (uint32_t i = 1; i < v->nkids; i++)
            if ((v->kids[i]->kind == Y_MAP) != maps) {
                gfail(g, v->kids[i], "a selection list mixes maps and plain values");
                return;
            }
        if (!maps) {
            mods md;
            memset(&md, 0, sizeof md);
            gen_keywords(g, v, v, &md, guard);
            return;
        }
        grp gr = grp_open(o);
        for (uint32_t i = 0; i < v->nkids && !g->failed; i++) {
            grp_sep(o, &gr, " or ");
            gen_search(g, name, v->kids[i], guard);
        }
        grp_close(o, &gr);
    } else if (!yis_null(v)) {
        mods md;
        memset(&md, 0, sizeof md);
        gen_keywords(g, v, v, &md, guard);
    } else {
        gfail(g, v, "search identifier '%.*s' is empty", (int)(name->n > 60 ? 60 : name->n),
              name->s);
    }
}

/* ---- the condition ------------------------------------------------------------------------ */

typedef struct cparse {
    gen *g;
    const ynode *node; /* the condition scalar */
    const char *s;
    size_t n, i;
    int depth;
    /* current token */
    sv tok;
    size_t tok_at;
} cparse;

static void cfail(cparse *c, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cfail(cparse *c, size_t at, const char *fmt, ...)
{
    gen *g = c->g;
    if (g->failed) return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ynode pos = *c->node;
    /* the column inside a one-line condition (a quoted one starts one later) */
    bool quoted = !c->node->plain;
    if (!memchr(c->s, '\n', at)) pos.col += (uint32_t)at + quoted;
    gfail(g, &pos, "condition: %s", msg);
}

static bool cid_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '*' || ch == '-' || ch == '.';
}

static void cnext(cparse *c)
{
    while (c->i < c->n && isspace((unsigned char)c->s[c->i])) c->i++;
    c->tok_at = c->i;
    if (c->i >= c->n) {
        c->tok = (sv){NULL, 0};
        return;
    }
    size_t b = c->i;
    if (c->s[b] == '(' || c->s[b] == ')' || c->s[b] == '|') {
        c->i++;
    } else if (cid_char(c->s[b])) {
        while (c->i < c->n && cid_char(c->s[c->i])) c->i++;
    } else {
        c->i++;
    }
    c->tok = (sv){c->s + b, c->i - b};
}

static bool ctok(const cparse *c, const char *kw)
{
    return c->tok.p && sv_ieq(c->tok, sv_cstr(kw));
}

static bool reserved_word(sv t)
{
    static const char *const kw[] = {"and", "or", "not", "of", "them", "all", "any", "1", NULL};
    for (int i = 0; kw[i]; i++)
        if (sv_ieq(t, sv_cstr(kw[i]))) return true;
    return false;
}

static bool is_ident_key(const ynode *k)
{
    return k->kind == Y_SCALAR && !yscalar_is(k, "condition") && !yscalar_is(k, "timeframe");
}

static void cor(cparse *c, int neg);

static void cprimary(cparse *c, int neg)
{
    gen *g = c->g;
    buf *o = g->o;
    if (g->failed) return;
    if (!c->tok.p) {
        cfail(c, c->tok_at, "unexpected end");
        return;
    }
    if (sv_eq(c->tok, SV_LIT("|"))) {
        cfail(
            c, c->tok_at,
            "aggregations ('| count() ...') are Sigma 1's obsolete form: write a correlation rule");
        return;
    }
    if (sv_eq(c->tok, SV_LIT("("))) {
        if (++c->depth > 64) {
            cfail(c, c->tok_at, "nested too deeply");
            return;
        }
        cnext(c);
        cor(c, neg);
        c->depth--;
        if (!sv_eq(c->tok, SV_LIT(")"))) {
            cfail(c, c->tok_at, "expected ')'");
            return;
        }
        cnext(c);
        return;
    }
    if (ctok(c, "1") || ctok(c, "any") || ctok(c, "all")) {
        bool all = ctok(c, "all");
        cnext(c);
        if (!ctok(c, "of")) {
            cfail(c, c->tok_at, "expected 'of' after '%s'", all ? "all" : "1");
            return;
        }
        cnext(c);
        if (!c->tok.p || sv_eq(c->tok, SV_LIT("(")) || sv_eq(c->tok, SV_LIT(")"))) {
            cfail(c, c->tok_at, "expected a search identifier pattern or 'them'");
            return;
        }
        bool them = ctok(c, "them");
        sv pat = c->tok;
        size_t pat_at = c->tok_at;
        cnext(c);
        grp gr = grp_open(o);
        for (uint32_t i = 0; i + 1 < g->det->nkids && !g->failed; i += 2) {
            const ynode *k = g->det->kids[i];
            if (!is_ident_key(k)) continue;
            sv name = {k->s, k->n};
            if (them ? (name.n && name.p[0] == '_') : !sv_glob(pat, name)) continue;
            grp_sep(o, &gr, all ? " and " : " or ");
            gen_search(g, k, g->det->kids[i + 1], neg > 0);
        }
        grp_close(o, &gr);
        if (!gr.terms)
            cfail(c, pat_at, "no search identifier matches '%.*s'", (int)(pat.n > 60 ? 60 : pat.n),
                  pat.p);
        return;
    }
    if (reserved_word(c->tok) || !cid_char(c->tok.p[0]) || sv_eq(c->tok, SV_LIT(")"))) {
        cfail(c, c->tok_at, "unexpected '%.*s'", (int)(c->tok.n > 30 ? 30 : c->tok.n), c->tok.p);
        return;
    }
    /* a search identifier */
    for (uint32_t i = 0; i + 1 < g->det->nkids; i += 2) {
        const ynode *k = g->det->kids[i];
        if (is_ident_key(k) && sv_eq((sv){k->s, k->n}, c->tok)) {
            cnext(c);
            gen_search(g, k, g->det->kids[i + 1], neg > 0);
            return;
        }
    }
    cfail(c, c->tok_at, "no search identifier '%.*s' in the detection",
          (int)(c->tok.n > 60 ? 60 : c->tok.n), c->tok.p);
}

static void cnot(cparse *c, int neg)
{
    if (ctok(c, "not")) {
        if (++c->depth > 64) {
            cfail(c, c->tok_at, "nested too deeply");
            return;
        }
        cnext(c);
        buf_puts(c->g->o, "not ");
        buf_putc(c->g->o, '(');
        cnot(c, neg + 1);
        buf_putc(c->g->o, ')');
        c->depth--;
        return;
    }
    cprimary(c, neg);
}

static void cand(cparse *c, int neg)
{
    grp gr = grp_open(c->g->o);
    grp_sep(c->g->o, &gr, " and ");
    cnot(c, neg);
    while (!c->g->failed && ctok(c, "and")) {
        cnext(c);
        grp_sep(c->g->o, &gr, " and ");
        cnot(c, neg);
    }
    grp_close(c->g->o, &gr);
}

static void cor(cparse *c, int neg)
{
    grp gr = grp_open(c->g->o);
    grp_sep(c->g->o, &gr, " or ");
    cand(c, neg);
    while (!c->g->failed && ctok(c, "or")) {
        cnext(c);
        grp_sep(c->g->o, &gr, " or ");
        cand(c, neg);
    }
    grp_close(c->g->o, &gr);
}

static void gen_condition(gen *g, const ynode *cond)
{
    cparse c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.node = cond;
    c.s = cond->s;
    c.n = cond->n;
    cnext(&c);
    if (!c.tok.p) {
        cfail(&c, 0, "empty");
        return;
    }
    cor(&c, 0);
    if (!g->failed && c.tok.p) {
        if (sv_eq(c.tok, SV_LIT("|")))
            cfail(&c, c.tok_at,
                  "aggregations ('| count() ...') are Sigma 1's obsolete form: write a correlation "
                  "rule");
        else
            cfail(&c, c.tok_at, "unexpected '%.*s'", (int)(c.tok.n > 30 ? 30 : c.tok.n), c.tok.p);
    }
}

/* ---- documents ------------------------------------------------------------------------------ */

typedef struct sdoc {
    const ynode *root;
    bool corr, failed, referenced, generate;
    const ynode *id, *name;
    lsrc ls;
    char *category; /* EQL category of the rule's stage */
    char *where;    /* its condition (logsource and detection) */
    rule_src src;   /* metadata, and the query once compiled */
} sdoc;

typedef struct sfile {
    const sigma_map *m;
    const char *file;
    const sigma_sink *sink;
    sdoc *d;
    uint32_t n;
} sfile;

static char *dupn(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static char *scalar_dup(const ynode *n)
{
    return n && n->kind == Y_SCALAR && !memchr(n->s, 0, n->n) ? dupn(n->s, n->n) : NULL;
}

static void doc_fail(sfile *f, sdoc *d, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void doc_fail(sfile *f, sdoc *d, const ynode *at, const char *fmt, ...)
{
    if (d->failed) return;
    d->failed = true;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (f->sink->error) f->sink->error(f->sink->ctx, at ? at->line : 0, at ? at->col : 0, msg);
}

static const ynode *want_scalar(sfile *f, sdoc *d, const ynode *m, const char *key, bool required)
{
    const ynode *v = ymap_get(m, key);
    if (!v) {
        if (required) doc_fail(f, d, m, "missing '%s'", key);
        return NULL;
    }
    if (v->kind != Y_SCALAR || yis_null(v)) {
        doc_fail(f, d, v, "'%s' must be a string", key);
        return NULL;
    }
    return v;
}

/* YAML -> JSON (the `modus:` custom section: severity, tests) */
static void to_json(buf *b, const ynode *n, int depth)
{
    if (depth > SIGMA_MAX_DEPTH || b->n > SIGMA_MAX_QUERY) {
        b->oom = true;
        return;
    }
    if (n->kind == Y_MAP) {
        buf_putc(b, '{');
        for (uint32_t i = 0; i + 1 < n->nkids; i += 2) {
            if (i) buf_putc(b, ',');
            const ynode *k = n->kids[i];
            if (k->kind == Y_SCALAR)
                buf_put_json_str(b, k->s, k->n);
            else
                buf_puts(b, "\"\"");
            buf_putc(b, ':');
            to_json(b, n->kids[i + 1], depth + 1);
        }
        buf_putc(b, '}');
    } else if (n->kind == Y_SEQ) {
        buf_putc(b, '[');
        for (uint32_t i = 0; i < n->nkids; i++) {
            if (i) buf_putc(b, ',');
            to_json(b, n->kids[i], depth + 1);
        }
        buf_putc(b, ']');
    } else if (yis_null(n)) {
        buf_puts(b, "null");
    } else if (yis_bool(n) >= 0) {
        buf_puts(b, yis_bool(n) ? "true" : "false");
    } else if (yis_int(n)) {
        char num[64];
        if (int_text(n, num, sizeof num))
            buf_puts(b, num);
        else
            buf_put_json_str(b, n->s, n->n);
    } else {
        buf_put_json_str(b, n->s, n->n);
    }
}

static const sline *find_tactic(const sigma_map *m, sv tag)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->l[i].kind == L_TACTIC && sv_ieq(m->l[i].w1, tag)) return &m->l[i];
    return NULL;
}

/* tags: attack.tNNNN[.NNN] techniques, attack.<tactic> tactics -> ECS threat[] */
static void read_tags(sfile *f, sdoc *d, const ynode *tags)
{
    rule_src *r = &d->src;
    if (!tags) return;
    if (tags->kind != Y_SEQ) {
        doc_fail(f, d, tags, "'tags' must be a list");
        return;
    }
    const sline *tactics[16];
    size_t nt = 0;
    char ids[64][16];
    size_t ni = 0;
    for (uint32_t i = 0; i < tags->nkids; i++) {
        const ynode *t = tags->kids[i];
        if (t->kind != Y_SCALAR || t->n < 8 || strncasecmp(t->s, "attack.", 7)) continue;
        sv rest = {t->s + 7, t->n - 7};
        if ((rest.p[0] == 't' || rest.p[0] == 'T') && rest.n >= 5 &&
            isdigit((unsigned char)rest.p[1])) {
            if (ni < 64 && rest.n < 16) {
                for (size_t k = 0; k < rest.n; k++)
                    ids[ni][k] = (char)toupper((unsigned char)rest.p[k]);
                ids[ni][rest.n] = 0;
                bool dup = false;
                for (size_t k = 0; k < ni; k++) dup = dup || !strcmp(ids[k], ids[ni]);
                if (!dup) ni++;
            }
        } else {
            const sline *ta = find_tactic(f->m, rest);
            if (ta && nt < 16) tactics[nt++] = ta;
        }
    }
    if (!ni && !nt) return;
    /* technique ids, and each technique entry under the first tactic */
    r->technique_ids = calloc(ni ? ni : 1, sizeof *r->technique_ids);
    r->techniques = calloc(ni ? ni : 1, sizeof *r->techniques);
    if (!r->technique_ids || !r->techniques) return;
    for (size_t i = 0; i < ni; i++) {
        r->technique_ids[r->n_technique_ids++] = strdup(ids[i]);
        rule_threat_technique *tt = &r->techniques[r->n_techniques++];
        tt->id = strdup(ids[i]);
        char *dot = strchr(ids[i], '.');
        if (dot) tt->parent_id = dupn(ids[i], (size_t)(dot - ids[i]));
        if (nt) {
            tt->tactic_id = dupn(tactics[0]->w2.p, tactics[0]->w2.n);
            tt->tactic_name = dupn(tactics[0]->rest.p, tactics[0]->rest.n);
        }
    }
    /* threat[]: one entry per tactic, each with every technique */
    buf b = {0};
    buf_putc(&b, '[');
    for (size_t e = 0; e < (nt ? nt : 1); e++) {
        if (e) buf_putc(&b, ',');
        buf_puts(&b, "{\"framework\":\"MITRE ATT&CK\"");
        if (nt) {
            const sline *ta = tactics[e];
            buf_puts(&b, ",\"tactic\":{\"id\":");
            buf_put_json_str(&b, ta->w2.p, ta->w2.n);
            buf_puts(&b, ",\"name\":");
            buf_put_json_str(&b, ta->rest.p, ta->rest.n);
            buf_printf(&b, ",\"reference\":\"https://attack.mitre.org/tactics/%.*s/\"}",
                       (int)ta->w2.n, ta->w2.p);
        }
        buf_puts(&b, ",\"technique\":[");
        size_t k = 0;
        for (size_t i = 0; i < ni; i++) {
            if (strchr(ids[i], '.')) continue;
            if (k++) buf_putc(&b, ',');
            buf_printf(&b,
                       "{\"id\":\"%s\",\"reference\":\"https://attack.mitre.org/techniques/%s/\"",
                       ids[i], ids[i]);
            size_t s = 0;
            for (size_t j = 0; j < ni; j++) {
                const char *dot = strchr(ids[j], '.');
                if (!dot || strncmp(ids[j], ids[i], (size_t)(dot - ids[j])) ||
                    strlen(ids[i]) != (size_t)(dot - ids[j]))
                    continue;
                buf_puts(&b, s++ ? "," : ",\"subtechnique\":[");
                buf_printf(
                    &b,
                    "{\"id\":\"%s\",\"reference\":\"https://attack.mitre.org/techniques/%s/%s/\"}",
                    ids[j], ids[i], dot + 1);
            }
            if (s) buf_putc(&b, ']');
            buf_putc(&b, '}');
        }
        /* subtechniques whose technique is not tagged: as techniques of their own */
        for (size_t j = 0; j < ni; j++) {
            const char *dot = strchr(ids[j], '.');
            if (!dot) continue;
            bool parent = false;
            for (size_t i = 0; i < ni; i++)
                parent =
                    parent || (!strchr(ids[i], '.') && strlen(ids[i]) == (size_t)(dot - ids[j]) &&
                               !strncmp(ids[i], ids[j], (size_t)(dot - ids[j])));
            if (parent) continue;
            if (k++) buf_putc(&b, ',');
            buf_printf(
                &b,
                "{\"id\":\"%.*s\",\"reference\":\"https://attack.mitre.org/techniques/%.*s/\","
                "\"subtechnique\":[{\"id\":\"%s\",\"reference\":\"https://attack.mitre.org/"
                "techniques/%.*s/%s/\"}]}",
                (int)(dot - ids[j]), ids[j], (int)(dot - ids[j]), ids[j], ids[j],
                (int)(dot - ids[j]), ids[j], dot + 1);
        }
        buf_puts(&b, "]}");
    }
    buf_putc(&b, ']');
    if (!b.oom) r->threat_json = dupn(b.p, b.n);
    buf_free(&b);
}

/* what every document carries: title, id, name, description, level, tags, modus */
static void read_meta(sfile *f, sdoc *d)
{
    const ynode *root = d->root;
    rule_src *r = &d->src;
    const ynode *title = want_scalar(f, d, root, "title", true);
    d->id = want_scalar(f, d, root, "id", false);
    d->name = want_scalar(f, d, root, "name", false);
    const ynode *desc = want_scalar(f, d, root, "description", false);
    const ynode *level = want_scalar(f, d, root, "level", false);
    if (d->failed) return;
    r->file = strdup(f->file);
    r->name = scalar_dup(title);
    r->id = scalar_dup(d->id ? d->id : d->name ? d->name : title);
    r->sigma_name = scalar_dup(d->name);
    r->description = scalar_dup(desc);
    r->severity = scalar_dup(level);
    r->language = strdup("sigma");
    read_tags(f, d, ymap_get(root, "tags"));
    const ynode *mo = ymap_get(root, "modus");
    if (mo) {
        if (mo->kind != Y_MAP) {
            doc_fail(f, d, mo, "'modus' must be a map");
            return;
        }
        buf b = {0};
        to_json(&b, mo, 0);
        if (b.oom) {
            doc_fail(f, d, mo, "'modus' is too large");
        } else {
            r->modus_json = dupn(b.p, b.n);
            const ynode *sev = ymap_get(mo, "severity");
            if (sev && sev->kind == Y_SCALAR) {
                free(r->severity);
                r->severity = scalar_dup(sev);
            }
        }
        buf_free(&b);
    }
}

static void read_logsource(sfile *f, sdoc *d, const ynode *ls)
{
    if (!ls || ls->kind != Y_MAP) {
        doc_fail(f, d, ls ? ls : d->root, "%s",
                 ls ? "'logsource' must be a map" : "missing 'logsource'");
        return;
    }
    const char *keys[3] = {"product", "category", "service"};
    sv *dst[3] = {&d->ls.product, &d->ls.category, &d->ls.service};
    buf b = {0};
    for (int i = 0; i < 3; i++) {
        const ynode *v = ymap_get(ls, keys[i]);
        if (!v || yis_null(v)) continue;
        if (v->kind != Y_SCALAR) {
            doc_fail(f, d, v, "logsource %s must be a string", keys[i]);
            break;
        }
        *dst[i] = (sv){v->s, v->n};
        if (b.n) buf_putc(&b, ',');
        buf_printf(&b, "%s=%.*s", keys[i], (int)v->n, v->s);
    }
    if (!d->failed && !b.oom) d->src.logsource = dupn(b.p ? b.p : "", b.n);
    buf_free(&b);
}

static void compile_rule(sfile *f, sdoc *d)
{
    read_meta(f, d);
    if (d->failed) return;
    const ynode *ls = ymap_get(d->root, "logsource");
    read_logsource(f, d, ls);
    if (d->failed) return;
    const ynode *det = ymap_get(d->root, "detection");
    if (!det || det->kind != Y_MAP) {
        doc_fail(f, d, det ? det : d->root, "%s",
                 det ? "'detection' must be a map" : "missing 'detection'");
        return;
    }
    const ynode *cond = ymap_get(det, "condition");
    if (!cond) {
        doc_fail(f, d, det, "the detection has no condition");
        return;
    }
    const sline *lsl = find_logsource(f->m, &d->ls);
    if (!lsl) {
        doc_fail(f, d, ls, "logsource %s is not in the Sigma mapping", d->src.logsource);
        return;
    }
    buf o = {0};
    gen g;
    memset(&g, 0, sizeof g);
    g.m = f->m;
    g.ls = d->ls;
    g.det = det;
    g.o = &o;
    /* the condition: a string, or a list of them (their OR) */
    if (cond->kind == Y_SCALAR) {
        gen_condition(&g, cond);
    } else if (cond->kind == Y_SEQ && cond->nkids) {
        buf_putc(&o, '(');
        for (uint32_t i = 0; i < cond->nkids && !g.failed; i++) {
            if (i) buf_puts(&o, ") or (");
            if (cond->kids[i]->kind != Y_SCALAR)
                gfail(&g, cond->kids[i], "condition must be a string or a list of strings");
            else
                gen_condition(&g, cond->kids[i]);
        }
        buf_putc(&o, ')');
    } else {
        gfail(&g, cond, "condition must be a string or a list of strings");
    }
    if (!g.failed && o.oom) gfail(&g, cond, "out of memory");
    if (g.failed) {
        ynode at;
        memset(&at, 0, sizeof at);
        at.line = g.eline;
        at.col = g.ecol;
        doc_fail(f, d, &at, "%s", g.msg);
        buf_free(&o);
        return;
    }
    buf w = {0};
    if (!sv_eq(table_trim(lsl->rest), SV_LIT("-"))) {
        buf_putc(&w, '(');
        buf_putsv(&w, lsl->rest);
        buf_puts(&w, ") and (");
        buf_putsv(&w, (sv){o.p, o.n});
        buf_putc(&w, ')');
    } else {
        buf_putsv(&w, (sv){o.p, o.n});
    }
    d->category = dupn(lsl->w1.p, lsl->w1.n);
    d->where = w.oom ? NULL : dupn(w.p, w.n);
    buf_free(&w);
    buf_free(&o);
    if (!d->category || !d->where) {
        doc_fail(f, d, det, "out of memory");
        return;
    }
    d->src.query_line = cond->line;
    d->src.query_col = cond->col;
    d->src.query_offset = cond->offset;
}

/* ---- correlations ------------------------------------------------------------------------------
 */

typedef struct stage_src {
    const char *category, *where;
    lsrc ls;
    const char *name; /* the rule's name, for aliases */
    char *owned_cat, *owned_where;
} stage_src;

/* a referenced rule: in this file, or loaded before */
static bool find_ref(sfile *f, sdoc *self, const ynode *ref, stage_src *out)
{
    memset(out, 0, sizeof *out);
    sv r = {ref->s, ref->n};
    for (uint32_t i = 0; i < f->n; i++) {
        sdoc *d = &f->d[i];
        if (d == self || d->corr) continue;
        if ((d->id && sv_eq(r, (sv){d->id->s, d->id->n})) ||
            (d->name && sv_eq(r, (sv){d->name->s, d->name->n}))) {
            if (d->failed) return false;
            d->referenced = true;
            out->category = d->category;
            out->where = d->where;
            out->ls = d->ls;
            out->name = d->name ? d->name->s : NULL;
            return true;
        }
    }
    if (!f->sink->lookup) return false;
    char *key = dupn(ref->s, ref->n);
    const rule_src *s = key ? f->sink->lookup(f->sink->ctx, key) : NULL;
    free(key);
    if (!s || !s->query || !s->logsource) return false;
    const char *w = strstr(s->query, " where ");
    if (!w || !strncmp(s->query, "sequence", 8)) return false;
    out->owned_cat = dupn(s->query, (size_t)(w - s->query));
    out->owned_where = strdup(w + 7);
    out->category = out->owned_cat;
    out->where = out->owned_where;
    out->name = s->sigma_name;
    /* its logsource, for mapping group-by fields */
    static const char *const keys[3] = {"product=", "category=", "service="};
    sv *dst[3] = {&out->ls.product, &out->ls.category, &out->ls.service};
    for (int k = 0; k < 3; k++) {
        const char *p = strstr(s->logsource, keys[k]);
        if (!p) continue;
        p += strlen(keys[k]);
        const char *e = strchr(p, ',');
        *dst[k] = (sv){p, e ? (size_t)(e - p) : strlen(p)};
    }
    return out->category && out->where;
}

static void stage_free(stage_src *s)
{
    free(s->owned_cat);
    free(s->owned_where);
}

/* "5m", "1h", "30s", "2d" -> the same EQL span (1 s to 366 days) */
static bool timespan(const ynode *t, char *out, size_t cap)
{
    if (!t || t->kind != Y_SCALAR || t->n < 2 || t->n > 10) return false;
    long long v = 0;
    for (size_t i = 0; i + 1 < t->n; i++) {
        if (!isdigit((unsigned char)t->s[i])) return false;
        v = v * 10 + (t->s[i] - '0');
    }
    const char *u = strchr("smhd", t->s[t->n - 1]);
    static const long long unit[] = {1, 60, 3600, 86400};
    if (!u || !t->s[t->n - 1] || v < 1 || v * unit[u - "smhd"] > 366ll * 86400) return false;
    snprintf(out, cap, "%lld%c", v, *u);
    return true;
}

/* the by keys of one stage: group-by names, through aliases or the rule's own mapping */
static bool stage_by(sfile *f, sdoc *d, const ynode *groupby, const ynode *aliases,
                     const stage_src *st, buf *o)
{
    if (!groupby) return true;
    for (uint32_t i = 0; i < groupby->nkids; i++) {
        const ynode *gname = groupby->kids[i];
        if (gname->kind != Y_SCALAR) {
            doc_fail(f, d, gname, "group-by must list field names");
            return false;
        }
        sv field = {gname->s, gname->n};
        const ynode *al = aliases ? ymap_get(aliases, gname->s) : NULL;
        if (al) {
            const ynode *v = al->kind == Y_MAP && st->name ? ymap_get(al, st->name) : NULL;
            if (!v || v->kind != Y_SCALAR) {
                doc_fail(f, d, al, "alias '%s' names no field for rule '%s'", gname->s,
                         st->name ? st->name : "(a rule without a name)");
                return false;
            }
            field = (sv){v->s, v->n};
        }
        gen g;
        memset(&g, 0, sizeof g);
        g.m = f->m;
        g.ls = st->ls;
        target t;
        if (!map_field(&g, gname, field, &t) || t.any) {
            doc_fail(f, d, gname, "%s", g.failed ? g.msg : "group-by needs a single field");
            return false;
        }
        buf_puts(o, i ? ", " : " by ");
        put_field(o, sv_cstr(t.path));
    }
    return true;
}

static void compile_correlation(sfile *f, sdoc *d)
{
    read_meta(f, d);
    if (d->failed) return;
    const ynode *c = ymap_get(d->root, "correlation");
    if (c->kind != Y_MAP) {
        doc_fail(f, d, c, "'correlation' must be a map");
        return;
    }
    const ynode *type = ymap_get(c, "type"), *rules = ymap_get(c, "rules"),
                *groupby = ymap_get(c, "group-by"), *span = ymap_get(c, "timespan"),
                *cond = ymap_get(c, "condition"), *aliases = ymap_get(c, "aliases"),
                *gen_ = ymap_get(c, "generate");
    if (!gen_) gen_ = ymap_get(d->root, "generate");
    d->generate = gen_ && yis_bool(gen_) == 1;
    if (!type || type->kind != Y_SCALAR) {
        doc_fail(f, d, type ? type : c, "a correlation needs a type");
        return;
    }
    bool count = yscalar_is(type, "event_count"), ordered = yscalar_is(type, "temporal_ordered");
    if (yscalar_is(type, "temporal")) {
        doc_fail(f, d, type,
                 "temporal (any order) has no sequence form: modus sequences are ordered (use "
                 "temporal_ordered)");
        return;
    }
    if (yscalar_is(type, "value_count")) {
        doc_fail(f, d, type,
                 "value_count counts distinct values, which modus sequences do not (event_count "
                 "and temporal_ordered compile)");
        return;
    }
    if (!count && !ordered) {
        doc_fail(f, d, type, "unknown correlation type '%.*s'", (int)(type->n > 40 ? 40 : type->n),
                 type->s);
        return;
    }
    if (!rules || rules->kind != Y_SEQ || !rules->nkids) {
        doc_fail(f, d, rules ? rules : c, "a correlation needs a list of rules");
        return;
    }
    if (ordered && rules->nkids < 2) {
        doc_fail(f, d, rules, "temporal_ordered needs at least two rules");
        return;
    }
    if (groupby && groupby->kind == Y_SCALAR && !yis_null(groupby)) {
        /* one field written without a list */
    } else if (groupby && groupby->kind != Y_SEQ && !yis_null(groupby)) {
        doc_fail(f, d, groupby, "group-by must be a list");
        return;
    }
    if (groupby && yis_null(groupby)) groupby = NULL;
    ynode one;
    const ynode *onep[1];
    if (groupby && groupby->kind == Y_SCALAR) {
        one = *groupby;
        onep[0] = groupby;
        one.kind = Y_SEQ;
        one.kids = (ynode **)onep;
        one.nkids = 1;
        groupby = &one;
    }
    char ts[24];
    if (!timespan(span, ts, sizeof ts)) {
        doc_fail(f, d, span ? span : c,
                 "timespan must be a number and s, m, h or d, from 1s to 366d (e.g. 5m)");
        return;
    }
    /* the condition: event_count gte/gt N; temporal_ordered: all the rules */
    long need = ordered ? (long)rules->nkids : 0;
    if (cond) {
        if (cond->kind != Y_MAP || cond->nkids != 2) {
            doc_fail(f, d, cond, "the condition must be one of gte: N or gt: N");
            return;
        }
        const ynode *k = cond->kids[0], *v = cond->kids[1];
        long x = yis_int(v) ? strtol(v->s, NULL, 10) : -1;
        if (yscalar_is(k, "gte"))
            need = x;
        else if (yscalar_is(k, "gt"))
            need = x + 1;
        else {
            doc_fail(f, d, k,
                     "condition '%.*s' cannot be a sequence: a sequence fires at a count, so only "
                     "gte and gt compile",
                     (int)(k->n > 10 ? 10 : k->n), k->s);
            return;
        }
        if (x < 0) {
            doc_fail(f, d, v, "the count must be a number");
            return;
        }
    } else if (count) {
        doc_fail(f, d, c, "an event_count correlation needs a condition (gte: N)");
        return;
    }
    if (count && (need < 1 || need > 100)) {
        doc_fail(f, d, cond, "the count must be from 1 to 100 (a sequence's runs), not %ld", need);
        return;
    }
    if (ordered && need != (long)rules->nkids) {
        doc_fail(f, d, cond,
                 "temporal_ordered with a count below the number of rules has no sequence form");
        return;
    }
    stage_src st[32];
    uint32_t ns = rules->nkids;
    if (ns > 32) {
        doc_fail(f, d, rules, "more than 32 rules in a correlation");
        return;
    }
    for (uint32_t i = 0; i < ns; i++) {
        const ynode *ref = rules->kids[i];
        if (ref->kind != Y_SCALAR || !find_ref(f, d, ref, &st[i])) {
            for (uint32_t k = 0; k < i; k++) stage_free(&st[k]);
            doc_fail(f, d, ref, "no compiled Sigma rule with id or name '%.*s'",
                     (int)(ref->n > 60 ? 60 : ref->n), ref->s);
            return;
        }
    }
    buf o = {0};
    if (count) {
        /* one stage: the rules' OR */
        bool same = true;
        for (uint32_t i = 1; i < ns; i++) same = same && !strcmp(st[i].category, st[0].category);
        buf stage = {0};
        buf_printf(&stage, "%s where ", same ? st[0].category : "any");
        for (uint32_t i = 0; i < ns; i++) {
            if (i) buf_puts(&stage, " or ");
            buf_putc(&stage, '(');
            if (!same && strcmp(st[i].category, "any"))
                buf_printf(&stage, "event.category : \"%s\" and ", st[i].category);
            buf_puts(&stage, st[i].where);
            buf_putc(&stage, ')');
        }
        if (need == 1) {
            buf_putsv(&o, (sv){stage.p, stage.n});
        } else {
            buf_puts(&o, "sequence");
            buf by = {0};
            if (!stage_by(f, d, groupby, aliases, &st[0], &by)) {
                buf_free(&by);
                buf_free(&stage);
                goto out;
            }
            buf_putsv(&o, (sv){by.p ? by.p : "", by.n});
            buf_free(&by);
            buf_printf(&o, " with maxspan=%s [", ts);
            buf_putsv(&o, (sv){stage.p, stage.n});
            buf_printf(&o, "] with runs=%ld", need);
        }
        buf_free(&stage);
    } else {
        buf_printf(&o, "sequence with maxspan=%s", ts);
        for (uint32_t i = 0; i < ns; i++) {
            buf_printf(&o, " [%s where %s]", st[i].category, st[i].where);
            if (!stage_by(f, d, groupby, aliases, &st[i], &o)) goto out;
        }
    }
    if (o.oom) {
        doc_fail(f, d, c, "out of memory");
    } else {
        d->src.query = dupn(o.p, o.n);
        d->src.query_line = c->line;
        d->src.query_col = c->col;
        d->src.query_offset = c->offset;
        /* the logsource of the first rule (the scorer's column) */
        buf l = {0};
        sv *v[3] = {&st[0].ls.product, &st[0].ls.category, &st[0].ls.service};
        static const char *const k[3] = {"product", "category", "service"};
        for (int i = 0; i < 3; i++)
            if (v[i]->p) buf_printf(&l, "%s%s=%.*s", l.n ? "," : "", k[i], (int)v[i]->n, v[i]->p);
        d->src.logsource = dupn(l.p ? l.p : "", l.n);
        buf_free(&l);
    }
out:
    for (uint32_t i = 0; i < ns; i++) stage_free(&st[i]);
    buf_free(&o);
}

modus_status sigma_load(const sigma_map *m, const char *file, const char *text, size_t len,
                        const sigma_sink *sink)
{
    arena a;
    arena_init(&a, 1 << 16);
    ydocs docs;
    yerr ye;
    sfile f = {m, file, sink, NULL, 0};
    if (len > MODUS_MAX_RULE_FILE) {
        if (sink->error) sink->error(sink->ctx, 0, 0, "rule file larger than 4 MiB");
        arena_free(&a);
        return MODUS_OK;
    }
    if (yaml_load(&a, text, len, &docs, &ye)) {
        if (sink->error) sink->error(sink->ctx, ye.line, ye.col, ye.msg);
        arena_free(&a);
        return MODUS_OK;
    }
    f.d = calloc(docs.n ? docs.n : 1, sizeof *f.d);
    if (!f.d) {
        arena_free(&a);
        return MODUS_ENOMEM;
    }
    for (uint32_t i = 0; i < docs.n; i++) {
        const ynode *root = docs.docs[i];
        if (!root || yis_null(root)) continue; /* an empty document (a trailing ---) */
        sdoc *d = &f.d[f.n++];
        d->root = root;
        if (root->kind != Y_MAP) {
            doc_fail(&f, d, root,
                     "a Sigma document must be a map (title, logsource, detection...)");
            continue;
        }
        d->corr = ymap_get(root, "correlation") != NULL;
        if (!d->corr && ymap_get(root, "filter") && !ymap_get(root, "detection")) {
            doc_fail(&f, d, root, "Sigma filters (meta filters) are not supported");
            continue;
        }
        if (!d->corr) compile_rule(&f, d);
    }
    for (uint32_t i = 0; i < f.n; i++)
        if (f.d[i].corr && !f.d[i].failed) compile_correlation(&f, &f.d[i]);
    /* a rule a correlation of this file names is part of it, not a rule of its own
     * (unless the correlation says generate: true) */
    for (uint32_t i = 0; i < f.n; i++)
        if (f.d[i].corr && !f.d[i].failed && f.d[i].generate)
            for (uint32_t k = 0; k < f.n; k++) f.d[k].generate = true;
    modus_status st = MODUS_OK;
    for (uint32_t i = 0; i < f.n; i++) {
        sdoc *d = &f.d[i];
        if (!d->failed && !d->corr && (!d->referenced || d->generate)) {
            size_t cl = strlen(d->category), wl = strlen(d->where);
            d->src.query = malloc(cl + wl + 8);
            if (d->src.query) {
                memcpy(d->src.query, d->category, cl);
                memcpy(d->src.query + cl, " where ", 7);
                memcpy(d->src.query + cl + 7, d->where, wl + 1);
            }
        }
        if (!d->failed && d->src.query && st == MODUS_OK) {
            st = sink->rule(sink->ctx, &d->src);
            memset(&d->src, 0, sizeof d->src);
        }
        rule_src_free(&d->src);
        free(d->category);
        free(d->where);
    }
    free(f.d);
    arena_free(&a);
    return st;
}
