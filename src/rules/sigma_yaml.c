/* sigma_yaml.c - YAML text into trees with positions (see sigma_yaml.h).
 *
 * How it works: libyaml's event parser (not its document loader, which keeps
 * no byte positions and resolves no types the way we need) drives a stack of
 * open containers; each event makes a node in the arena with its start mark.
 * libyaml counts marks in characters, so marks are turned into byte offsets
 * by walking the UTF-8 text forward (events come in text order, so the walk
 * is linear), then into 1-based lines and byte columns.
 *
 * Invariants: a finished tree holds only finished nodes; an alias may point
 * only at a finished anchored node (so no cycles); mapping keys that are
 * scalars are unique within their mapping. Caps: nesting SIGMA_MAX_DEPTH,
 * nodes SIGMA_MAX_NODES, anchors SIGMA_MAX_ANCHORS; the first one exceeded
 * ends the parse with an error at the node that exceeded it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sigma_yaml.h"

typedef struct open_node {
    ynode *n;
    ynode **kids;
    uint32_t nkids, cap;
    char *anchor; /* malloc'd, registered when the node is finished */
} open_node;

typedef struct anchor {
    char *name;
    ynode *n;
} anchor;

typedef struct builder {
    arena *a;
    const char *text;
    size_t len, base; /* base: 3 after a UTF-8 byte order mark */
    /* mark -> byte offset: the last conversion, to walk forward from */
    size_t last_chars, last_off;
    open_node stack[SIGMA_MAX_DEPTH + 1];
    int depth;
    uint32_t nodes;
    anchor anchors[SIGMA_MAX_ANCHORS];
    uint32_t nanchors;
    ynode **docs;
    uint32_t ndocs, capdocs;
    ynode *doc_root;
    yerr *err;
} builder;

static int fail(builder *b, size_t off, const char *fmt, const char *arg)
{
    uint32_t line = 1;
    size_t start = b->base;
    for (size_t i = b->base; i < off && i < b->len; i++)
        if (b->text[i] == '\n') line++, start = i + 1;
    b->err->line = line;
    b->err->col = (uint32_t)(off >= start ? off - start + 1 : 1);
    snprintf(b->err->msg, sizeof b->err->msg, fmt, arg ? arg : "");
    return -1;
}

/* character index (libyaml's mark.index) -> byte offset */
static size_t mark_offset(builder *b, size_t chars)
{
    if (chars < b->last_chars) {
        b->last_chars = 0;
        b->last_off = b->base;
    }
    size_t off = b->last_off;
    for (size_t c = b->last_chars; c < chars && off < b->len; c++) {
        off++;
        while (off < b->len && ((unsigned char)b->text[off] & 0xC0) == 0x80) off++;
    }
    b->last_chars = chars;
    b->last_off = off;
    return off;
}

static ynode *new_node(builder *b, uint8_t kind, const yaml_mark_t *m)
{
    if (++b->nodes > SIGMA_MAX_NODES) {
        fail(b, mark_offset(b, m->index), "more than %s YAML nodes in one file", "200000");
        return NULL;
    }
    ynode *n = arena_alloc(b->a, sizeof *n);
    if (!n) {
        fail(b, mark_offset(b, m->index), "out of memory%s", NULL);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->offset = mark_offset(b, m->index);
    return n;
}

/* the table of line starts: a node's line and column from its offset */
typedef struct lines {
    size_t *start;
    uint32_t n;
} lines;

static void set_pos(const lines *L, ynode *n)
{
    /* binary search the last line start <= offset */
    uint32_t lo = 0, hi = L->n;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (L->start[mid] <= n->offset)
            lo = mid;
        else
            hi = mid;
    }
    n->line = lo + 1;
    n->col = (uint32_t)(n->offset - L->start[lo] + 1);
}

static bool push_kid(builder *b, ynode *kid)
{
    if (b->depth == 0) {
        b->doc_root = kid;
        return true;
    }
    open_node *o = &b->stack[b->depth - 1];
    if (o->nkids == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 8;
        ynode **v = realloc(o->kids, sizeof *v * cap);
        if (!v) return false;
        o->kids = v;
        o->cap = cap;
    }
    o->kids[o->nkids++] = kid;
    return true;
}

static bool same_scalar(const ynode *x, const ynode *y)
{
    return x->kind == Y_SCALAR && y->kind == Y_SCALAR && x->n == y->n && !memcmp(x->s, y->s, x->n);
}

static void add_anchor(builder *b, const yaml_char_t *name, ynode *n)
{
    if (!name) return;
    if (b->nanchors == SIGMA_MAX_ANCHORS) return; /* checked when the anchor was opened */
    char *copy = strdup((const char *)name);
    if (!copy) return;
    b->anchors[b->nanchors].name = copy;
    b->anchors[b->nanchors].n = n;
    b->nanchors++;
}

static ynode *find_anchor(builder *b, const yaml_char_t *name)
{
    for (uint32_t i = b->nanchors; i-- > 0;) /* a redefined anchor: the latest */
        if (!strcmp(b->anchors[i].name, (const char *)name)) return b->anchors[i].n;
    return NULL;
}

static int finish_container(builder *b)
{
    open_node *o = &b->stack[--b->depth];
    ynode *n = o->n;
    n->nkids = o->nkids;
    if (o->nkids) {
        n->kids = arena_alloc(b->a, sizeof *n->kids * o->nkids);
        if (!n->kids) {
            free(o->kids);
            free(o->anchor);
            return fail(b, n->offset, "out of memory%s", NULL);
        }
        memcpy(n->kids, o->kids, sizeof *n->kids * o->nkids);
    }
    free(o->kids);
    if (n->kind == Y_MAP) {
        for (uint32_t i = 2; i < n->nkids; i += 2)
            for (uint32_t j = 0; j < i; j += 2)
                if (same_scalar(n->kids[i], n->kids[j])) {
                    free(o->anchor);
                    char what[96];
                    snprintf(what, sizeof what, "%.60s' (first at line %u)", n->kids[i]->s,
                             n->kids[j]->line);
                    return fail(b, n->kids[i]->offset, "duplicate key '%s", what);
                }
    }
    if (o->anchor) {
        add_anchor(b, (const yaml_char_t *)o->anchor, n);
        free(o->anchor);
    }
    if (!push_kid(b, n)) return fail(b, n->offset, "out of memory%s", NULL);
    return 0;
}

static int event(builder *b, const lines *L, yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT: b->doc_root = NULL; return 0;
    case YAML_DOCUMENT_END_EVENT:
        if (b->ndocs == b->capdocs) {
            uint32_t cap = b->capdocs ? b->capdocs * 2 : 4;
            ynode **v = arena_alloc(b->a, sizeof *v * cap);
            if (!v) return fail(b, mark_offset(b, m->index), "out of memory%s", NULL);
            if (b->ndocs) memcpy(v, b->docs, sizeof *v * b->ndocs);
            b->docs = v;
            b->capdocs = cap;
        }
        b->docs[b->ndocs++] = b->doc_root;
        return 0;
    case YAML_ALIAS_EVENT: {
        ynode *target = find_anchor(b, ev->data.alias.anchor);
        if (!target)
            return fail(b, mark_offset(b, m->index), "alias *%s names no finished anchor",
                        (const char *)ev->data.alias.anchor);
        if (!push_kid(b, target)) return fail(b, mark_offset(b, m->index), "out of memory%s", NULL);
        return 0;
    }
    case YAML_SCALAR_EVENT: {
        ynode *n = new_node(b, Y_SCALAR, m);
        if (!n) return -1;
        set_pos(L, n);
        n->n = (uint32_t)ev->data.scalar.length;
        n->s = arena_strndup(b->a, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!n->s) return fail(b, n->offset, "out of memory%s", NULL);
        /* a tag (!!str) makes a plain scalar a string */
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
        if (ev->data.scalar.anchor) {
            if (b->nanchors == SIGMA_MAX_ANCHORS)
                return fail(b, n->offset, "more than %s anchors in one file", "256");
            add_anchor(b, ev->data.scalar.anchor, n);
        }
        if (!push_kid(b, n)) return fail(b, n->offset, "out of memory%s", NULL);
        return 0;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        ynode *n = new_node(b, seq ? Y_SEQ : Y_MAP, m);
        if (!n) return -1;
        set_pos(L, n);
        if (b->depth == SIGMA_MAX_DEPTH)
            return fail(b, n->offset, "YAML nested more than %s levels deep", "64");
        const yaml_char_t *an =
            seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        if (an && b->nanchors == SIGMA_MAX_ANCHORS)
            return fail(b, n->offset, "more than %s anchors in one file", "256");
        open_node *o = &b->stack[b->depth++];
        memset(o, 0, sizeof *o);
        o->n = n;
        o->anchor = an ? strdup((const char *)an) : NULL;
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0) return finish_container(b);
        return 0;
    default: return 0;
    }
}

int yaml_load(arena *a, const char *text, size_t len, ydocs *out, yerr *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    builder b;
    memset(&b, 0, sizeof b);
    b.a = a;
    b.text = text ? text : "";
    b.len = text ? len : 0;
    b.err = err;
    if (b.len >= 3 && !memcmp(b.text, "\xEF\xBB\xBF", 3)) b.base = 3;
    b.last_off = b.base;

    lines L = {0};
    uint32_t cap = 64;
    L.start = malloc(sizeof *L.start * cap);
    if (!L.start) return fail(&b, 0, "out of memory%s", NULL);
    L.start[L.n++] = b.base;
    for (size_t i = b.base; i < b.len; i++)
        if (b.text[i] == '\n') {
            if (L.n == cap) {
                size_t *v = realloc(L.start, sizeof *v * (cap *= 2));
                if (!v) {
                    free(L.start);
                    return fail(&b, 0, "out of memory%s", NULL);
                }
                L.start = v;
            }
            L.start[L.n++] = i + 1;
        }

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(L.start);
        return fail(&b, 0, "out of memory%s", NULL);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)b.text, b.len);
    int rc = 0;
    for (bool done = false; !done && !rc;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            char msg[180];
            snprintf(msg, sizeof msg, "%s%s%s", p.problem ? p.problem : "malformed YAML",
                     p.context ? " " : "", p.context ? p.context : "");
            rc = fail(&b, mark_offset(&b, p.problem_mark.index), "%s", msg);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = event(&b, &L, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (b.depth > 0) {
        open_node *o = &b.stack[--b.depth];
        free(o->kids);
        free(o->anchor);
    }
    for (uint32_t i = 0; i < b.nanchors; i++) free(b.anchors[i].name);
    free(L.start);
    if (rc) return rc;
    out->docs = b.docs;
    out->n = b.ndocs;
    return 0;
}

const ynode *ymap_get(const ynode *m, const char *k)
{
    if (!m || m->kind != Y_MAP) return NULL;
    size_t kl = strlen(k);
    for (uint32_t i = 0; i + 1 < m->nkids; i += 2) {
        const ynode *key = m->kids[i];
        if (key->kind == Y_SCALAR && key->n == kl && !memcmp(key->s, k, kl)) return m->kids[i + 1];
    }
    return NULL;
}

bool yscalar_is(const ynode *n, const char *s)
{
    return n && n->kind == Y_SCALAR && n->n == strlen(s) && !memcmp(n->s, s, n->n);
}

static bool one_of(const ynode *n, const char *const *v)
{
    for (int i = 0; v[i]; i++)
        if (yscalar_is(n, v[i])) return true;
    return false;
}

bool yis_null(const ynode *n)
{
    static const char *const v[] = {"", "~", "null", "Null", "NULL", NULL};
    return !n || (n->kind == Y_SCALAR && n->plain && one_of(n, v));
}

int yis_bool(const ynode *n)
{
    static const char *const t[] = {"yes",  "Yes", "YES", "true", "True",
                                    "TRUE", "on",  "On",  "ON",   NULL};
    static const char *const f[] = {"no",    "No",  "NO",  "false", "False",
                                    "FALSE", "off", "Off", "OFF",   NULL};
    if (!n || n->kind != Y_SCALAR || !n->plain) return -1;
    if (one_of(n, t)) return 1;
    if (one_of(n, f)) return 0;
    return -1;
}

static bool digits(const char *s, size_t n, const char *set)
{
    if (!n) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]) || !s[i]) return false;
    return true;
}

bool yis_int(const ynode *n)
{
    if (!n || n->kind != Y_SCALAR || !n->plain || !n->n) return false;
    const char *s = n->s;
    size_t k = n->n;
    if (*s == '-' || *s == '+') s++, k--;
    if (k > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return digits(s + 2, k - 2, "0123456789abcdefABCDEF_");
    if (k > 2 && s[0] == '0' && (s[1] == 'b')) return digits(s + 2, k - 2, "01_");
    return digits(s, k, "0123456789_") && s[0] != '_';
}

bool yis_float(const ynode *n)
{
    if (!n || n->kind != Y_SCALAR || !n->plain || !n->n) return false;
    const char *s = n->s;
    size_t k = n->n, i = 0;
    if (s[0] == '-' || s[0] == '+') i++;
    bool dot = false, dig = false;
    for (; i < k; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            dig = true;
        else if (s[i] == '.' && !dot)
            dot = true;
        else if ((s[i] == 'e' || s[i] == 'E') && dig && dot) {
            i++;
            if (i < k && (s[i] == '+' || s[i] == '-')) i++;
            return i < k && digits(s + i, k - i, "0123456789");
        } else
            return false;
    }
    return dot && dig;
}
