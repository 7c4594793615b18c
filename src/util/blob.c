/* blob.c - reference-counted event text (blob.h). */
#include "blob.h"

#include <stdlib.h>
#include <string.h>

#define BLOB_PADDING 64 /* = MJ_PADDING: stored events are parsed again by pipes */

blob *blob_new(const char *text, size_t len)
{
    if (len > UINT32_MAX - BLOB_PADDING) return NULL;
    blob *b = malloc(sizeof *b + len + BLOB_PADDING);
    if (!b) return NULL;
    b->refs = 1;
    b->held = 0;
    b->len = (uint32_t)len;
    memcpy(b->text, text, len);
    memset(b->text + len, ' ', BLOB_PADDING);
    return b;
}

void blob_unref(blob *b)
{
    if (b && --b->refs == 0) free(b);
}
