/* buf.h - growable byte buffer for output and scratch text. */
#ifndef MODUS_BUF_H
#define MODUS_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sv.h"

typedef struct buf {
    char *p;
    size_t n, cap;
    bool oom; /* sticky: an allocation failed, contents are incomplete */
} buf;

void buf_free(buf *b);
bool buf_reserve(buf *b, size_t extra);
void buf_put(buf *b, const void *p, size_t n);
void buf_putc(buf *b, char c);
void buf_puts(buf *b, const char *s);
void buf_putsv(buf *b, sv s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_put_u64(buf *b, uint64_t v);
/* JSON string literal with quotes, escaping as RFC 8259 requires. */
void buf_put_json_str(buf *b, const char *p, size_t n);
static inline void buf_reset(buf *b)
{
    b->n = 0;
    b->oom = false;
}

#endif
