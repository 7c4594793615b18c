/* blob.h - an event's text, shared by reference count.
 *
 * Rules keep the events of partial sequence matches until the match
 * completes or expires. Hundreds of rules often keep the same event: they
 * share one copy, taken once per event (the scanner holds the event's blob
 * while the event is current). Single-threaded, like the scanner.
 */
#ifndef MODUS_BLOB_H
#define MODUS_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct blob {
    uint32_t refs;
    uint32_t len;
    uint32_t held; /* references from sequence state (its byte count: detect_query.c) */
    char text[];   /* len bytes, then padding for the JSON parser */
} blob;

blob *blob_new(const char *text, size_t len); /* refs = 1 */
static inline blob *blob_ref(blob *b)
{
    if (b) b->refs++;
    return b;
}
void blob_unref(blob *b);

#endif
