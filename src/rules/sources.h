/* sources.h - Elastic index patterns -> the sources modus reads (internal;
 * sources.c, data/sources.conf). */
#ifndef MODUS_SOURCES_H
#define MODUS_SOURCES_H

#include <stddef.h>

typedef struct sources_tab sources_tab;

/* The embedded table; NULL when out of memory (or the table is bad, which the
 * tests catch). */
sources_tab *sources_load(void);
void sources_free(sources_tab *t);
/* The sources a rule's index patterns name, comma-separated and in table
 * order ("endpoint,windows"); "" when none modus reads. malloc'd. */
char *sources_of(const sources_tab *t, char *const *indexes, size_t n);

#endif
