/* json.c - lookups over the node table (json.h). */
#include "json.h"

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
        if (n->key_len > path_len || memcmp(n->key, path, n->key_len) != 0) continue;
        if (n->key_len == path_len) return c;
        if (path[n->key_len] != '.') continue;
        uint32_t r = mj_path(d, c, path + n->key_len + 1, path_len - n->key_len - 1);
        if (r) return r;
    }
    return 0;
}
