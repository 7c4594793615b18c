/* json.c - lookups over the node table (json.h). */
#include "json.h"

#include <stdlib.h>
#include <string.h>

uint32_t mj_member(const mj_doc *d, uint32_t obj, const char *key, size_t key_len)
{
    if (obj >= d->n || d->nodes[obj].type != MJ_OBJECT || !d->nodes[obj].count) return 0;
    for (uint32_t c = obj + 1; c; c = d->nodes[c].next) {
        const mj_node *n = &d->nodes[c];
        if (n->key_len == key_len && memcmp(n->key, key, key_len) == 0) return c;
    }
    return 0;
}

uint32_t mj_path(const mj_doc *d, uint32_t from, const char *path, size_t path_len)
{
    if (from >= d->n || d->nodes[from].type != MJ_OBJECT || !d->nodes[from].count) return 0;
    for (uint32_t c = from + 1; c; c = d->nodes[c].next) {
        const mj_node *n = &d->nodes[c];
        /* a key matches the whole path or the part before one of its dots:
         * its length and first byte rule out most keys without a memcmp */
        if (n->key_len > path_len || (n->key_len < path_len && path[n->key_len] != '.')) continue;
        if (n->key_len && (n->key[0] != path[0] || memcmp(n->key, path, n->key_len) != 0)) continue;
        if (n->key_len == path_len) return c;
        if (path[n->key_len] != '.') continue;
        uint32_t r = mj_path(d, c, path + n->key_len + 1, path_len - n->key_len - 1);
        if (r) return r;
    }
    return 0;
}

bool mj_want_add(mj_want *root, const char *path)
{
    mj_want *w = root;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        mj_want *kid = NULL;
        for (uint32_t i = 0; i < w->nkids && !kid; i++) /* keys are distinct */
            if (w->kids[i].key_len == n && memcmp(w->kids[i].key, p, n) == 0) kid = &w->kids[i];
        if (!kid) {
            if (w->nkids == w->cap) {
                uint32_t cap = w->cap ? w->cap * 2 : 4;
                mj_want *k = realloc(w->kids, sizeof *k * cap);
                if (!k) return false;
                w->kids = k;
                w->cap = cap;
            }
            char *key = malloc(n + 1);
            if (!key) return false;
            memcpy(key, p, n);
            key[n] = 0;
            kid = &w->kids[w->nkids++];
            memset(kid, 0, sizeof *kid);
            kid->key = key;
            kid->key_len = (uint32_t)n;
        }
        w = kid;
        if (!dot) break;
        p = dot + 1;
    }
    w->all = true;
    return true;
}

void mj_want_free(mj_want *w)
{
    for (uint32_t i = 0; i < w->nkids; i++) {
        mj_want_free(&w->kids[i]);
        free((char *)w->kids[i].key);
    }
    free(w->kids);
    w->kids = NULL;
    w->nkids = w->cap = 0;
}

static inline bool key_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

const mj_want *mj_want_find(const mj_want *w, const char *key, size_t len)
{
    /* the common case first: a plain key equal to a child */
    for (uint32_t i = 0; i < w->nkids; i++)
        if (w->kids[i].key_len == len && key_eq(w->kids[i].key, key, len)) return &w->kids[i];
    /* a flattened key, "process.thread.Ext": descend one component at a time */
    while (w && len) {
        size_t n = 0;
        while (n < len && key[n] != '.') n++;
        if (n == len) return NULL; /* no dot: the plain search above missed */
        const mj_want *kid = NULL;
        for (uint32_t i = 0; i < w->nkids; i++)
            if (w->kids[i].key_len == n && key_eq(w->kids[i].key, key, n)) {
                kid = &w->kids[i];
                break;
            }
        if (!kid) return NULL;
        if (kid->all) return kid; /* "a.b" inside a wanted subtree */
        w = kid;
        key += n + 1;
        len -= n + 1;
        for (uint32_t i = 0; i < w->nkids; i++)
            if (w->kids[i].key_len == len && key_eq(w->kids[i].key, key, len)) return &w->kids[i];
    }
    return NULL;
}

uint32_t mj_append(mj_doc *d, uint32_t parent, const char *key, size_t key_len, uint8_t type)
{
    if (parent >= d->n) return 0;
    mj_node *p = &d->nodes[parent];
    if ((p->type != MJ_OBJECT && p->type != MJ_ARRAY) || (!p->count && parent + 1 != d->n))
        return 0; /* an empty container's first child must directly follow it */
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 256;
        mj_node *nn = realloc(d->nodes, sizeof *nn * cap);
        if (!nn) return 0;
        d->nodes = nn;
        d->cap = cap;
    }
    uint32_t i = d->n++;
    mj_node *c = &d->nodes[i];
    memset(c, 0, sizeof *c);
    c->key = key;
    c->key_len = (uint32_t)key_len;
    c->type = type;
    c->parent = parent;
    p = &d->nodes[parent];
    if (p->count) {
        uint32_t last = parent + 1;
        while (d->nodes[last].next) last = d->nodes[last].next;
        d->nodes[last].next = i;
    }
    p->count++;
    return i;
}
