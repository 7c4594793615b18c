/* arena.c - bump allocator with block reuse. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void arena_init(arena *a, size_t block_size)
{
    a->head = a->cur = NULL;
    a->block_size = block_size ? block_size : 65536;
}

void arena_free(arena *a)
{
    arena_block *b = a->head;
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = a->cur = NULL;
}

void arena_reset(arena *a)
{
    for (arena_block *b = a->head; b; b = b->next) b->used = 0;
    a->cur = a->head;
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_block *b = a->cur;
    while (b && b->used + n > b->size) {
        b = b->next;
        if (b) a->cur = b;
    }
    if (!b) {
        size_t size = n > a->block_size ? n : a->block_size;
        b = malloc(sizeof *b + size);
        if (!b) return NULL;
        b->size = size;
        b->used = 0;
        b->next = NULL;
        if (a->cur) {
            /* append after the current block, keeping later blocks */
            b->next = a->cur->next;
            a->cur->next = b;
            /* a block of one oversized allocation is full: the current one
               keeps its room for the next, unless it has almost none */
            if (size == a->block_size || a->cur->used + 64 > a->cur->size) a->cur = b;
        } else {
            a->head = a->cur = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *arena_strndup(arena *a, const char *p, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, p, n);
    d[n] = 0;
    return d;
}

sv arena_lower(arena *a, sv s)
{
    char *d = arena_alloc(a, s.n + 1);
    if (!d) return (sv){"", 0};
    for (size_t i = 0; i < s.n; i++) d[i] = ascii_lower(s.p[i]);
    d[s.n] = 0;
    return (sv){d, s.n};
}
