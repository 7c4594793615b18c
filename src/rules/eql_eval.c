/* eql_eval.c - evaluate an EQL expression over one event.
 *
 * Values are typed (eql_val): null, bool, int, double, string, and arrays and
 * objects that stay references into the event's node table (no copying).
 * Semantics, as Elasticsearch EQL and the reference engine define them:
 *   - three-valued logic: a comparison with null (a missing field) is null;
 *     `and` is false if either side is false, `or` true if either is true,
 *     `not null` is null; a where clause holds only when it is true;
 *   - `==` / `!=` against the literal `null` test for absence (`x == null`,
 *     `f(x) != null`); otherwise a null operand makes them null like any
 *     comparison; `==` is case-sensitive and never expands wildcards;
 *   - `:` is case-insensitive with `*`/`?` wildcards, `like` the same with
 *     case (or without, `like~`), `regex` a full-string match (PCRE2 syntax,
 *     see eql_func.c), `in` equality against a list (`in~` case-insensitive);
 *   - a multi-valued field (an array) compares true when any element does, as
 *     an Elasticsearch term query on an array field;
 *   - arithmetic on ints stays integral (division truncates toward zero) unless
 *     an operand is a double; division by zero is null.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eql.h"

static eql_val from_node(const mj_doc *d, uint32_t i)
{
    eql_val v = eql_null();
    const mj_node *n = &d->nodes[i];
    switch (n->type) {
    case MJ_BOOL:
        v.t = V_BOOL;
        v.b = n->b;
        break;
    case MJ_INT:
        v.t = V_INT;
        v.i = n->v.i;
        break;
    case MJ_UINT:
        if (n->v.u <= INT64_MAX) {
            v.t = V_INT;
            v.i = (int64_t)n->v.u;
        } else {
            v.t = V_DOUBLE;
            v.d = (double)n->v.u;
        }
        break;
    case MJ_DOUBLE:
        v.t = V_DOUBLE;
        v.d = n->v.d;
        break;
    case MJ_STRING:
        v.t = V_STR;
        v.s = n->v.s;
        v.n = n->len;
        break;
    case MJ_ARRAY:
        v.t = V_ARR;
        v.ref = i;
        v.n = n->count;
        break;
    case MJ_OBJECT:
        v.t = V_OBJ;
        v.ref = i;
        v.n = n->count;
        break;
    default: break;
    }
    return v;
}

eql_val eql_field(const eql_ctx *c, const char *path, uint32_t len, uint32_t from)
{
    const mj_doc *d = c->doc;
    if (!d || !d->n) return eql_null();
    if (!memchr(path, '[', len)) {
        if (!len) return from_node(d, from);
        uint32_t i = mj_path(d, from, path, len);
        return i ? from_node(d, i) : eql_null();
    }
    /* a.b[2].c: walk component by component */
    uint32_t cur = from;
    size_t p = 0;
    while (p < len) {
        size_t e = p;
        while (e < len && path[e] != '.' && path[e] != '[') e++;
        if (e > p) {
            cur = mj_member(d, cur, path + p, e - p);
            if (!cur) return eql_null();
        }
        p = e;
        while (p < len && path[p] == '[') {
            size_t q = p + 1;
            uint32_t idx = 0;
            while (q < len && path[q] >= '0' && path[q] <= '9')
                idx = idx * 10 + (uint32_t)(path[q++] - '0');
            if (d->nodes[cur].type != MJ_ARRAY || idx >= d->nodes[cur].count) return eql_null();
            uint32_t k = cur + 1;
            for (uint32_t j = 0; j < idx; j++) k = d->nodes[k].next;
            cur = k;
            p = q + 1;
        }
        if (p < len && path[p] == '.') p++;
    }
    return from_node(d, cur);
}

uint32_t eql_field_node(const eql_ctx *c, int field_id, const char *path, uint32_t len)
{
    return eql_field_node_from(c, field_id, 0, path, len);
}

uint32_t eql_field_node_from(const eql_ctx *c, int field_id, uint32_t from, const char *path,
                             uint32_t len)
{
    eql_cache *k = c->cache;
    uint32_t id = (uint32_t)field_id;
    if (!k || field_id < 0) return UINT32_MAX;
    if (id >= k->cap) {
        uint32_t cap = k->cap ? k->cap : 64;
        while (cap <= id) cap *= 2;
        uint32_t *nn = realloc(k->node, sizeof *nn * cap);
        uint64_t *ng = nn ? realloc(k->node_gen, sizeof *ng * cap) : NULL;
        if (nn) k->node = nn;
        if (ng) {
            memset(ng + k->cap, 0, sizeof *ng * (cap - k->cap));
            k->node_gen = ng;
            k->cap = cap;
        }
        if (id >= k->cap) return UINT32_MAX;
    }
    if (k->node_gen[id] != k->gen) {
        k->node_gen[id] = k->gen;
        k->node[id] = c->doc && c->doc->n ? mj_path(c->doc, from, path, len) : 0;
    }
    return k->node[id];
}

eql_val eql_field_cached(const eql_ctx *c, int field_id, const char *path, uint32_t len)
{
    uint32_t i = eql_field_node(c, field_id, path, len);
    if (i == UINT32_MAX) return eql_field(c, path, len, 0);
    return i ? from_node(c->doc, i) : eql_null();
}

/* element idx of an event array */
static eql_val elem(const eql_ctx *c, const eql_val *arr, uint32_t *cursor, bool first)
{
    const mj_doc *d = c->doc;
    *cursor = first ? arr->ref + 1 : d->nodes[*cursor].next;
    return from_node(d, *cursor);
}

static double num(const eql_val *v)
{
    return v->t == V_INT ? (double)v->i : v->d;
}

static bool is_num(const eql_val *v)
{
    return v->t == V_INT || v->t == V_DOUBLE;
}

int eql_compare(const eql_val *a, const eql_val *b, bool *ok)
{
    *ok = true;
    if (is_num(a) && is_num(b)) {
        if (a->t == V_INT && b->t == V_INT) return a->i < b->i ? -1 : a->i > b->i;
        double x = num(a), y = num(b);
        return x < y ? -1 : x > y;
    }
    if (a->t == V_STR && b->t == V_STR) {
        uint32_t n = a->n < b->n ? a->n : b->n;
        int r = memcmp(a->s, b->s, n);
        if (r) return r < 0 ? -1 : 1;
        return a->n < b->n ? -1 : a->n > b->n;
    }
    if (a->t == V_BOOL && b->t == V_BOOL) return (int)a->b - (int)b->b;
    *ok = false;
    return 0;
}

bool eql_equal(const eql_val *a, const eql_val *b, bool ci)
{
    if (a->t == V_NULL || b->t == V_NULL) return a->t == b->t;
    if (a->t == V_STR && b->t == V_STR)
        return ci ? sv_ieq((sv){a->s, a->n}, (sv){b->s, b->n})
                  : a->n == b->n && !memcmp(a->s, b->s, a->n);
    bool ok;
    int r = eql_compare(a, b, &ok);
    return ok && r == 0;
}

/* apply a two-valued test to a value that may be an array: any element */
typedef int (*test_fn)(eql_ctx *c, const eql_node *n, const eql_val *v, const eql_val *rhs);

static int any_of(eql_ctx *c, const eql_node *n, const eql_val *v, const eql_val *rhs, test_fn f)
{
    if (v->t != V_ARR) return f(c, n, v, rhs);
    int res = -1; /* null unless some element decides */
    uint32_t cur = 0;
    for (uint32_t k = 0; k < v->n; k++) {
        eql_val e = elem(c, v, &cur, k == 0);
        int r = f(c, n, &e, rhs);
        if (r == 1) return 1;
        if (r == 0) res = 0;
    }
    return v->n ? res : 0;
}

static eql_val tri(int r)
{
    return r < 0 ? eql_null() : eql_bool(r == 1);
}

static int test_order(eql_ctx *c, const eql_node *n, const eql_val *a, const eql_val *b)
{
    (void)c;
    if (a->t == V_NULL || b->t == V_NULL) return -1;
    bool ok;
    int r = eql_compare(a, b, &ok);
    if (!ok) return -1;
    switch (n->kind) {
    case N_LT: return r < 0;
    case N_LE: return r <= 0;
    case N_GT: return r > 0;
    default: return r >= 0;
    }
}

static int test_eq(eql_ctx *c, const eql_node *n, const eql_val *a, const eql_val *b)
{
    (void)c;
    (void)n;
    return eql_equal(a, b, false);
}

/* ---- the memo of pattern lists ------------------------------------------------
 * A string's answer against a comparison's literal patterns depends on the
 * two alone: kept per (node, string) across events, direct-mapped, strings
 * up to MEMO_LEN bytes, only for lists of MEMO_MIN patterns or more (or a
 * regex), where matching costs more than a hash and a compare. */
#define MEMO_SLOTS 4096
#define MEMO_LEN   128
#define MEMO_MIN   3

typedef struct memo_ent {
    const eql_node *n;
    uint64_t h;
    uint32_t len;
    int8_t r;
    char s[MEMO_LEN];
} memo_ent;

struct eql_memo {
    memo_ent *e[MEMO_SLOTS];
};

bool eql_cache_memo(eql_cache *c)
{
    if (!c->memo) c->memo = calloc(1, sizeof *c->memo);
    return c->memo != NULL;
}

static bool memo_worth(const eql_node *n)
{
    if (!n->pat) return false;
    for (uint32_t i = 1; i < n->nkids; i++)
        if (!n->pat[i]) return false;
    return n->nkids - 1 >= MEMO_MIN || n->kind == N_REGEX;
}

static int test_match_raw(eql_ctx *c, const eql_node *n, const eql_val *v);

/* : like regex against the node's rhs list */
static int test_match(eql_ctx *c, const eql_node *n, const eql_val *v, const eql_val *unused)
{
    (void)unused;
    struct eql_memo *mm = c->cache ? c->cache->memo : NULL;
    if (!mm || v->t != V_STR || v->n > MEMO_LEN || !memo_worth(n)) return test_match_raw(c, n, v);
    uint64_t h = sv_hash64(v->s, v->n, (uintptr_t)n);
    memo_ent **slot = &mm->e[h & (MEMO_SLOTS - 1)], *e = *slot;
    if (e && e->h == h && e->n == n && e->len == v->n && !memcmp(e->s, v->s, v->n)) return e->r;
    int r = test_match_raw(c, n, v);
    if (!e && !(e = *slot = malloc(sizeof *e))) return r;
    e->n = n, e->h = h, e->len = v->n, e->r = (int8_t)r;
    memcpy(e->s, v->s, v->n);
    return r;
}

static int test_match_raw(eql_ctx *c, const eql_node *n, const eql_val *v)
{
    if (v->t == V_NULL) return -1;
    for (uint32_t i = 1; i < n->nkids; i++) {
        if (n->pat[i]) {
            if (v->t != V_STR) continue;
            bool m = n->kind == N_REGEX ? eql_regex_match(n->pat[i], v->s, v->n)
                                        : eql_glob_match(n->pat[i], v->s, v->n);
            if (m) return 1;
        } else {
            eql_val r = eql_eval(c, n->kids[i]);
            if (r.t == V_ARR) {
                uint32_t cur = 0;
                for (uint32_t k = 0; k < r.n; k++) {
                    eql_val e = elem(c, &r, &cur, k == 0);
                    if (eql_equal(v, &e, n->kind == N_COLON || n->ci)) return 1;
                }
            } else if (eql_equal(v, &r, n->kind == N_COLON || n->ci)) {
                return 1;
            }
        }
    }
    return v->t == V_STR || n->kind == N_COLON ? 0 : -1;
}

static int test_in(eql_ctx *c, const eql_node *n, const eql_val *v, const eql_val *unused)
{
    (void)unused;
    for (uint32_t i = 1; i < n->nkids; i++) {
        eql_val r = eql_eval(c, n->kids[i]);
        if (eql_equal(v, &r, n->ci)) return 1;
    }
    return 0;
}

static eql_val arith(const eql_node *n, eql_val a, eql_val b)
{
    if (!is_num(&a) || !is_num(&b)) return eql_null();
    eql_val r = eql_null();
    if (a.t == V_INT && b.t == V_INT) {
        int64_t x = a.i, y = b.i;
        r.t = V_INT;
        switch (n->kind) {
        case N_ADD: r.i = (int64_t)((uint64_t)x + (uint64_t)y); break;
        case N_SUB: r.i = (int64_t)((uint64_t)x - (uint64_t)y); break;
        case N_MUL: r.i = (int64_t)((uint64_t)x * (uint64_t)y); break;
        case N_DIV:
            if (!y || (x == INT64_MIN && y == -1)) return eql_null();
            r.i = x / y;
            break;
        default:
            if (!y || (x == INT64_MIN && y == -1)) return eql_null();
            r.i = x % y;
        }
        return r;
    }
    double x = num(&a), y = num(&b);
    r.t = V_DOUBLE;
    switch (n->kind) {
    case N_ADD: r.d = x + y; break;
    case N_SUB: r.d = x - y; break;
    case N_MUL: r.d = x * y; break;
    case N_DIV:
        if (y == 0) return eql_null();
        r.d = x / y;
        break;
    default:
        if (y == 0) return eql_null();
        r.d = fmod(x, y);
    }
    return r;
}

eql_val eql_arith(const eql_node *n, eql_val a, eql_val b)
{
    return arith(n, a, b);
}

/* A value used as a condition: booleans as they are, null stays null, any
 * other value is true when non-empty / non-zero (the reference engine's
 * truthiness, so `where some_object and ...` works). */
static eql_val cond(eql_val v)
{
    switch (v.t) {
    case V_BOOL:
    case V_NULL: return v;
    case V_INT: return eql_bool(v.i != 0);
    case V_DOUBLE: return eql_bool(v.d != 0);
    default: return eql_bool(v.n != 0);
    }
}

eql_val eql_eval(eql_ctx *c, const eql_node *n)
{
    switch (n->kind) {
    case N_LIT: return n->val;
    case N_FIELD:
        if (n->alias >= 0) { /* an earlier stage's event: scalars only */
            if (!c->alias || !c->alias[n->alias]) return eql_null();
            eql_ctx ac = *c;
            ac.doc = c->alias[n->alias];
            eql_val v = eql_field(&ac, n->path, n->path_len, 0);
            return v.t == V_ARR || v.t == V_OBJ ? eql_null() : v;
        }
        if (n->field_id >= 0 && c->cache) {
            uint32_t i = eql_field_node(c, n->field_id, n->path, n->path_len);
            if (i != UINT32_MAX) return i ? from_node(c->doc, i) : eql_null();
        }
        if (n->var >= 0) {
            eql_val base = c->vars[n->var];
            if (!n->path_len) return base;
            if (base.t != V_OBJ) return eql_null();
            return eql_field(c, n->path, n->path_len, base.ref);
        }
        return eql_field(c, n->path, n->path_len, 0);
    case N_NOT: {
        eql_val v = cond(eql_eval(c, n->kids[0]));
        return v.t == V_BOOL ? eql_bool(!v.b) : eql_null();
    }
    case N_NEG: {
        eql_val v = eql_eval(c, n->kids[0]);
        if (v.t == V_INT)
            v.i = -v.i;
        else if (v.t == V_DOUBLE)
            v.d = -v.d;
        else
            return eql_null();
        return v;
    }
    case N_AND: {
        eql_val a = cond(eql_eval(c, n->kids[0]));
        if (a.t == V_BOOL && !a.b) return a;
        eql_val b = cond(eql_eval(c, n->kids[1]));
        if (b.t == V_BOOL && !b.b) return b;
        if (a.t == V_BOOL && b.t == V_BOOL) return eql_bool(true);
        return eql_null();
    }
    case N_OR: {
        eql_val a = cond(eql_eval(c, n->kids[0]));
        if (a.t == V_BOOL && a.b) return a;
        eql_val b = cond(eql_eval(c, n->kids[1]));
        if (b.t == V_BOOL && b.b) return b;
        if (a.t == V_BOOL && b.t == V_BOOL) return eql_bool(false);
        return eql_null();
    }
    case N_EQ:
    case N_NE: {
        eql_val a = eql_eval(c, n->kids[0]), b = eql_eval(c, n->kids[1]);
        int r;
        bool null_lit = (n->kids[0]->kind == N_LIT && n->kids[0]->val.t == V_NULL) ||
                        (n->kids[1]->kind == N_LIT && n->kids[1]->val.t == V_NULL);
        if (!null_lit && (a.t == V_NULL || b.t == V_NULL)) return eql_null();
        if (a.t == V_ARR && b.t != V_ARR)
            r = any_of(c, n, &a, &b, test_eq);
        else if (b.t == V_ARR && a.t != V_ARR)
            r = any_of(c, n, &b, &a, test_eq);
        else
            r = eql_equal(&a, &b, false);
        if (r < 0) return eql_null();
        return eql_bool(n->kind == N_EQ ? r == 1 : r != 1);
    }
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE: {
        eql_val a = eql_eval(c, n->kids[0]), b = eql_eval(c, n->kids[1]);
        return tri(any_of(c, n, &a, &b, test_order));
    }
    case N_ADD:
    case N_SUB:
    case N_MUL:
    case N_DIV:
    case N_MOD: return arith(n, eql_eval(c, n->kids[0]), eql_eval(c, n->kids[1]));
    case N_COLON:
    case N_LIKE:
    case N_REGEX: {
        eql_val v = eql_eval(c, n->kids[0]);
        return tri(any_of(c, n, &v, NULL, test_match));
    }
    case N_IN: {
        eql_val v = eql_eval(c, n->kids[0]);
        int r = any_of(c, n, &v, NULL, test_in);
        if (r < 0) return eql_null();
        return eql_bool(n->neg ? r != 1 : r == 1);
    }
    case N_CALL: {
        const eql_fn_def *def = eql_fn_get(n->fn);
        eql_val args[64];
        uint32_t na = n->nkids < 64 ? n->nkids : 64;
        if (!def->lazy)
            for (uint32_t i = 0; i < na; i++) args[i] = eql_eval(c, n->kids[i]);
        return def->impl(c, n, args, na);
    }
    case N_LINEAGE: return eql_bool(c->lineage && c->lineage[n->lin_slot]);
    }
    return eql_null();
}

/* ---- interned field paths --------------------------------------------------- */

#include <pthread.h>

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static char **interned;
static uint32_t *interned_len;
static uint32_t ninterned, capinterned;
static uint32_t *intern_tab; /* ids + 1 by the path's hash, open addressing, at most half full */
static uint32_t intern_cap;

static uint32_t intern_hash(const char *p, uint32_t n)
{
    return (uint32_t)sv_hash64(p, n, 0);
}

/* the id of a path, or -1; with the lock held */
static int intern_find(const char *path, uint32_t len, uint32_t *slot)
{
    if (!intern_cap) return -1;
    uint32_t h = intern_hash(path, len) & (intern_cap - 1);
    for (; intern_tab[h]; h = (h + 1) & (intern_cap - 1)) {
        uint32_t i = intern_tab[h] - 1;
        if (interned_len[i] == len && !memcmp(interned[i], path, len)) return (int)i;
    }
    *slot = h;
    return -1;
}

/* room for one more id in the table; false: out of memory */
static bool intern_grow(void)
{
    if ((ninterned + 1) * 2 <= intern_cap) return true;
    uint32_t nc = intern_cap ? intern_cap * 2 : 512;
    uint32_t *t = calloc(nc, sizeof *t);
    if (!t) return false;
    for (uint32_t i = 0; i < ninterned; i++) {
        uint32_t h = intern_hash(interned[i], interned_len[i]) & (nc - 1);
        while (t[h]) h = (h + 1) & (nc - 1);
        t[h] = i + 1;
    }
    free(intern_tab);
    intern_tab = t;
    intern_cap = nc;
    return true;
}

int eql_field_intern(const char *path, uint32_t len)
{
    pthread_mutex_lock(&intern_lock);
    uint32_t slot = 0;
    int id = intern_find(path, len, &slot);
    if (id < 0 && ninterned < (1u << 20) && intern_grow()) {
        intern_find(path, len, &slot); /* the table may have grown */
        if (ninterned == capinterned) {
            uint32_t cap = capinterned ? capinterned * 2 : 256;
            char **v = realloc(interned, sizeof *v * cap);
            if (v) interned = v;
            uint32_t *l = v ? realloc(interned_len, sizeof *l * cap) : NULL;
            if (l) {
                interned_len = l;
                capinterned = cap;
            }
        }
        char *copy = ninterned < capinterned ? malloc(len + 1) : NULL;
        if (copy) {
            memcpy(copy, path, len);
            copy[len] = 0;
            interned[ninterned] = copy;
            interned_len[ninterned] = len;
            intern_tab[slot] = ninterned + 1;
            id = (int)ninterned++;
        }
    }
    pthread_mutex_unlock(&intern_lock);
    return id;
}

void eql_cache_free(eql_cache *c)
{
    for (uint32_t i = 0; c->memo && i < MEMO_SLOTS; i++) free(c->memo->e[i]);
    free(c->memo);
    free(c->node);
    free(c->node_gen);
    memset(c, 0, sizeof *c);
}
