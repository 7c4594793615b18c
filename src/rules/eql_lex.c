/* eql_lex.c - EQL tokens with their line and column.
 *
 * Strings: "..." and '...' with backslash escapes (\n \t \r \" \' \\ \/ \b \f
 * \uXXXX, \u{X...}), and """...""" raw strings (no escapes, as Elasticsearch
 * reads them). Identifiers carry dots and '@' (process.parent.name,
 * @timestamp); back-ticks quote a name or any part of a dotted path
 * (`my-field`, a.`0`.b; `` inside is one back-tick), and a quoted name is
 * never a keyword; ?name marks an optional field and $name a variable.
 * `!` alone is T_BANG (a missing-event stage, ![...]). Comments: // to end of
 * line and slash-star blocks. Names, raw strings and strings without escapes
 * point into the text (the AST's nodes keep them: the text must outlive the
 * query); a string with escapes is unescaped into the arena.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eql.h"

void eql_lex_init(eql_lexer *lx, arena *a, const char *text, size_t len)
{
    lx->p = lx->start = text;
    lx->end = text + len;
    lx->line = 1;
    lx->line_start = text;
    lx->a = a;
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '@';
}

/* ident_start, digits and '.', as a table: identifiers are a third of a query */
static const bool IDENT_CHAR[256] = {
    ['.'] = 1, ['0' ... '9'] = 1, ['@'] = 1, ['A' ... 'Z'] = 1, ['_'] = 1, ['a' ... 'z'] = 1,
};

static bool ident_char(char c)
{
    return IDENT_CHAR[(unsigned char)c];
}

/* the first byte of [p, end) that is q, '\\' or a line feed, or end; eight
 * bytes at a time (a byte is one of them when its XOR with it is zero) */
static const char *string_special(const char *p, const char *end, char q)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t mq = ones * (unsigned char)q, mb = ones * '\\', mn = ones * '\n';
    while (end - p >= 8) {
        uint64_t w, a, b, c;
        memcpy(&w, p, 8);
        a = w ^ mq;
        b = w ^ mb;
        c = w ^ mn;
        if (((a - ones) & ~a & highs) | ((b - ones) & ~b & highs) | ((c - ones) & ~c & highs))
            break;
        p += 8;
    }
    while (p < end && *p != q && *p != '\\' && *p != '\n') p++;
    return p;
}

static void skip_space(eql_lexer *lx)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->p++;
            lx->line++;
            lx->line_start = lx->p;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            do lx->p++; /* indentation: a run of spaces */
            while (lx->p < lx->end && *lx->p == ' ');
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n') lx->p++;
        } else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
            lx->p += 2;
            while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
                if (*lx->p == '\n') {
                    lx->line++;
                    lx->line_start = lx->p + 1;
                }
                lx->p++;
            }
            lx->p = lx->p + 2 <= lx->end ? lx->p + 2 : lx->end;
        } else {
            break;
        }
    }
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static eql_token error_tok(eql_token t, const char *msg)
{
    t.t = T_ERROR;
    t.s = msg;
    t.sn = (uint32_t)strlen(msg);
    return t;
}

static eql_token lex_string(eql_lexer *lx, eql_token t)
{
    char q = *lx->p;
    if (q == '"' && lx->end - lx->p >= 6 && lx->p[1] == '"' && lx->p[2] == '"') {
        const char *b = lx->p + 3, *e = b;
        while (e + 2 < lx->end && !(e[0] == '"' && e[1] == '"' && e[2] == '"')) {
            if (*e == '\n') {
                lx->line++;
                lx->line_start = e + 1;
            }
            e++;
        }
        if (e + 2 >= lx->end) return error_tok(t, "unterminated \"\"\" string");
        while (e + 3 < lx->end && e[3] == '"') e++; /* """a"""" ends with a quote */
        t.t = T_STRING;
        t.s = b;
        t.sn = (uint32_t)(e - b);
        lx->p = e + 3;
        t.n = (uint32_t)(lx->p - t.p);
        return t;
    }
    const char *e = lx->p + 1;
    /* the unescaped text is never longer than the quoted one: find its end first */
    const char *stop = string_special(e, lx->end, q);
    if (stop < lx->end && *stop == q) { /* no escape: the text itself, as names are */
        lx->p = stop + 1;
        t.t = T_STRING;
        t.s = e;
        t.sn = (uint32_t)(stop - e);
        t.n = (uint32_t)(lx->p - t.p);
        return t;
    }
    while (stop < lx->end && *stop == '\\') /* an escape: skip the byte after it */
        stop = string_special(stop + 1 < lx->end ? stop + 2 : stop + 1, lx->end, q);
    char *o = arena_alloc(lx->a, (size_t)(stop - e) + 8);
    if (!o) return error_tok(t, "out of memory");
    size_t on = 0;
    /* [e, stop) holds no unescaped quote or line feed: copy the runs between
     * backslashes whole */
    while (e < stop) {
        const char *bs = memchr(e, '\\', (size_t)(stop - e));
        const char *run = bs ? bs : stop;
        memcpy(o + on, e, (size_t)(run - e));
        on += (size_t)(run - e);
        e = run;
        if (!bs) break;
        if (++e >= lx->end) break;
        char c = *e++;
        switch (c) {
        case 'n': o[on++] = '\n'; break;
        case 't': o[on++] = '\t'; break;
        case 'r': o[on++] = '\r'; break;
        case 'b': o[on++] = '\b'; break;
        case 'f': o[on++] = '\f'; break;
        case '"':
        case '\'':
        case '\\':
        case '/': o[on++] = c; break;
        case 'u': {
            uint32_t cp = 0;
            if (e < lx->end && *e == '{') {
                e++;
                int k = 0;
                while (e < lx->end && *e != '}' && hexv(*e) >= 0 && k < 8)
                    cp = cp << 4 | (uint32_t)hexv(*e++), k++;
                if (e >= lx->end || *e != '}' || !k || cp > 0x10ffff)
                    return error_tok(t, "bad \\u{...} escape");
                e++;
            } else {
                for (int k = 0; k < 4; k++) {
                    if (e >= lx->end || hexv(*e) < 0) return error_tok(t, "bad \\u escape");
                    cp = cp << 4 | (uint32_t)hexv(*e++);
                }
            }
            on += put_utf8(o + on, cp);
            break;
        }
        default: return error_tok(t, "unknown escape in string");
        }
    }
    if (e >= lx->end || *e != q) return error_tok(t, "unterminated string");
    lx->p = e + 1;
    t.t = T_STRING;
    t.s = o;
    t.sn = (uint32_t)on;
    t.n = (uint32_t)(lx->p - t.p);
    return t;
}

/* A path of plain and `quoted` parts joined by dots, into one name in the
 * arena; `` in a quoted part is one back-tick. */
static bool quoted_path(eql_lexer *lx, eql_token *t)
{
    size_t cap = 64, n = 0;
    char *o = arena_alloc(lx->a, cap);
    if (!o) return false;
    for (;;) {
        const char *b = lx->p;
        size_t add;
        if (*lx->p == '`') {
            b = ++lx->p;
            for (;;) {
                while (lx->p < lx->end && *lx->p != '`') lx->p++;
                if (lx->p >= lx->end) return false;
                if (lx->p + 1 < lx->end && lx->p[1] == '`') { /* `` */
                    lx->p += 2;
                    continue;
                }
                break;
            }
            add = (size_t)(lx->p - b);
            lx->p++;
        } else {
            while (lx->p < lx->end && ident_char(*lx->p)) lx->p++;
            add = (size_t)(lx->p - b);
        }
        if (n + add + 1 > cap) {
            size_t nc = (n + add + 1) * 2;
            char *no = arena_alloc(lx->a, nc);
            if (!no) return false;
            memcpy(no, o, n);
            o = no;
            cap = nc;
        }
        for (size_t i = 0; i < add; i++) {
            o[n++] = b[i];
            if (b[i] == '`' && i + 1 < add && b[i + 1] == '`') i++;
        }
        /* go on: "a.`b`", "`a`.b", "`a`.`b`" */
        if (lx->p < lx->end && *lx->p == '`' && n && o[n - 1] == '.') continue;
        if (lx->p + 1 < lx->end && *lx->p == '.' && lx->p[-1] == '`' &&
            (ident_char(lx->p[1]) || lx->p[1] == '`')) {
            o[n++] = '.';
            lx->p++;
            continue;
        }
        break;
    }
    t->s = o;
    t->sn = (uint32_t)n;
    t->quoted = true;
    return true;
}

eql_token eql_lex_next(eql_lexer *lx)
{
    skip_space(lx);
    eql_token t = {0};
    t.p = lx->p;
    t.line = lx->line;
    t.col = (uint32_t)(lx->p - lx->line_start) + 1;
    if (lx->p >= lx->end) {
        t.t = T_EOF;
        return t;
    }
    char c = *lx->p;
    if (c == '"' || c == '\'') return lex_string(lx, t);
    if (ident_start(c) || c == '`' ||
        ((c == '?' || c == '$') && lx->p + 1 < lx->end &&
         (ident_start(lx->p[1]) || lx->p[1] == '`'))) {
        t.t = c == '?' ? T_QFIELD : c == '$' ? T_VAR : T_IDENT;
        if (c == '?' || c == '$') lx->p++;
        /* a plain run of identifier characters that ends in ".`": a path with
         * a quoted part */
        const char *run = lx->p;
        if (*run != '`')
            while (run < lx->end && ident_char(*run)) run++;
        if (*lx->p == '`' || (run < lx->end && *run == '`' && run[-1] == '.')) {
            if (!quoted_path(lx, &t)) return error_tok(t, "unterminated `identifier`");
        } else {
            const char *b = lx->p;
            lx->p = run;
            /* "process. command_line": a space after a dot, seen in real rules */
            if (lx->p > b && lx->p[-1] == '.' && lx->p < lx->end && *lx->p == ' ') {
                const char *q = lx->p;
                while (q < lx->end && *q == ' ') q++;
                if (q < lx->end && ident_start(*q)) {
                    size_t head = (size_t)(lx->p - b);
                    const char *r = q;
                    while (r < lx->end && ident_char(*r)) r++;
                    char *j = arena_alloc(lx->a, head + (size_t)(r - q));
                    if (j) {
                        memcpy(j, b, head);
                        memcpy(j + head, q, (size_t)(r - q));
                        t.s = j;
                        t.sn = (uint32_t)(head + (size_t)(r - q));
                        lx->p = r;
                        t.n = (uint32_t)(lx->p - t.p);
                        return t;
                    }
                }
            }
            /* array indexes inside a field: a.b[0].c */
            while (lx->p < lx->end && *lx->p == '[' && lx->p + 1 < lx->end && lx->p[1] >= '0' &&
                   lx->p[1] <= '9' && t.t != T_VAR) {
                const char *q = lx->p + 1;
                while (q < lx->end && *q >= '0' && *q <= '9') q++;
                if (q >= lx->end || *q != ']') break;
                lx->p = q + 1;
                while (lx->p < lx->end && ident_char(*lx->p)) lx->p++;
            }
            t.s = b;
            t.sn = (uint32_t)(lx->p - b);
        }
        t.n = (uint32_t)(lx->p - t.p);
        return t;
    }
    if (c >= '0' && c <= '9') {
        const char *b = lx->p;
        bool dbl = false;
        while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') lx->p++;
        if (lx->p + 1 < lx->end && *lx->p == '.' && lx->p[1] >= '0' && lx->p[1] <= '9') {
            dbl = true;
            lx->p++;
            while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') lx->p++;
        }
        if (lx->p < lx->end && (*lx->p == 'e' || *lx->p == 'E')) {
            const char *q = lx->p + 1;
            if (q < lx->end && (*q == '+' || *q == '-')) q++;
            if (q < lx->end && *q >= '0' && *q <= '9') {
                dbl = true;
                while (q < lx->end && *q >= '0' && *q <= '9') q++;
                lx->p = q;
            }
        }
        /* a unit suffix (maxspan=10s) is read by the parser from the raw text */
        char buf[64];
        size_t n = (size_t)(lx->p - b);
        if (n >= sizeof buf) return error_tok(t, "number too long");
        memcpy(buf, b, n);
        buf[n] = 0;
        t.n = (uint32_t)n;
        if (dbl) {
            t.t = T_DOUBLE;
            t.d = strtod(buf, NULL);
        } else {
            t.t = T_INT;
            char *end;
            unsigned long long v = strtoull(buf, &end, 10);
            if (v > (unsigned long long)INT64_MAX) {
                t.t = T_DOUBLE;
                t.d = strtod(buf, NULL);
            } else {
                t.i = (int64_t)v;
            }
        }
        return t;
    }
    lx->p++;
    t.n = 1;
    char d = lx->p < lx->end ? *lx->p : 0;
    switch (c) {
    case '(': t.t = T_LP; break;
    case ')': t.t = T_RP; break;
    case '[': t.t = T_LB; break;
    case ']': t.t = T_RB; break;
    case ',': t.t = T_COMMA; break;
    case '|': t.t = T_PIPE; break;
    case ':': t.t = T_COLON; break;
    case '+': t.t = T_PLUS; break;
    case '-': t.t = T_MINUS; break;
    case '*': t.t = T_STAR; break;
    case '/': t.t = T_SLASH; break;
    case '%': t.t = T_PCT; break;
    case '~': t.t = T_TILDE; break;
    case '.': t.t = T_DOT; break;
    case '=':
        if (d == '=') {
            lx->p++;
            t.t = T_EQ;
        } else {
            t.t = T_ASSIGN;
        }
        break;
    case '!':
        if (d == '=') {
            lx->p++;
            t.t = T_NE;
        } else {
            t.t = T_BANG;
        }
        break;
    case '<':
        if (d == '=')
            lx->p++, t.t = T_LE;
        else
            t.t = T_LT;
        break;
    case '>':
        if (d == '=')
            lx->p++, t.t = T_GE;
        else
            t.t = T_GT;
        break;
    default: return error_tok(t, "unexpected character");
    }
    t.n = (uint32_t)(lx->p - t.p);
    return t;
}
