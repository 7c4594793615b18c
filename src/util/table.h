/* table.h - the data tables modus loads (observables.conf, sigma.conf): read
 * from a file or the embedded copy, walked line by line and word by word. */
#ifndef MODUS_TABLE_H
#define MODUS_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "modus/modus.h"
#include "sv.h"

/* The text of `path` (at most cap - 1 bytes), or a copy of the embedded text
 * when path is NULL; NUL-terminated, malloc'd, *len set. NULL if it cannot be
 * read (or out of memory). */
char *table_text(const char *path, const char *embedded, size_t embedded_len, size_t cap,
                 size_t *len);
/* The next line from *pos (without its newline or trailing blanks and CR);
 * false at the end. */
bool table_line(const char *text, size_t len, size_t *pos, sv *line);
/* The next blank-separated word of a line; a word in double quotes may hold
 * blanks (the quotes are not part of it). Empty at the end of the line. */
sv table_word(sv *line);
/* The line without leading and trailing blanks. */
sv table_trim(sv s);
/* Append one item of `size` bytes to a growing array (*v, *n, *cap in items);
 * false when out of memory. */
bool table_push(void **v, size_t *n, size_t *cap, const void *item, size_t size);
/* A table error: diag (may be NULL) gets the file, line (0: none) and message. */
void table_diag(modus_diag *diag, const char *file, uint32_t line, const char *msg);

#endif
