/* arena.h - bump allocator, reset per event: no malloc per event in steady state.
 *
 * Blocks are kept across resets; arena_reset() rewinds to the first block.
 * Memory is bounded by the largest event seen (each event's needs are capped
 * by limits.h).
 */
#ifndef MODUS_ARENA_H
#define MODUS_ARENA_H

#include <stddef.h>
#include "sv.h"

typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head, *cur;
    size_t block_size;
} arena;

void arena_init(arena *a, size_t block_size);
void arena_free(arena *a);
void arena_reset(arena *a);
void *arena_alloc(arena *a, size_t n); /* 8-byte aligned; NULL on OOM */
char *arena_strndup(arena *a, const char *p, size_t n);
sv arena_lower(arena *a, sv s); /* ASCII lower-case copy */

#endif
