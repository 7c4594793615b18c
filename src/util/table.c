/* table.c - data tables: text, lines, words (table.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

char *table_text(const char *path, const char *embedded, size_t embedded_len, size_t cap,
                 size_t *len)
{
    *len = 0;
    if (!path) {
        char *t = malloc(embedded_len + 1);
        if (!t) return NULL;
        memcpy(t, embedded, embedded_len);
        t[embedded_len] = 0;
        *len = embedded_len;
        return t;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *t = malloc(cap);
    if (t) {
        *len = fread(t, 1, cap - 1, f);
        t[*len] = 0;
    }
    fclose(f);
    return t;
}

bool table_push(void **v, size_t *n, size_t *cap, const void *item, size_t size)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void *nv = realloc(*v, size * c);
        if (!nv) return false;
        *v = nv;
        *cap = c;
    }
    memcpy((char *)*v + size * *n, item, size);
    (*n)++;
    return true;
}

void table_diag(modus_diag *diag, const char *file, uint32_t line, const char *msg)
{
    if (!diag) return;
    memset(diag, 0, sizeof *diag);
    snprintf(diag->file, sizeof diag->file, "%s", file);
    diag->line = line;
    snprintf(diag->message, sizeof diag->message, "%s", msg);
}

sv table_trim(sv s)
{
    while (s.n && (*s.p == ' ' || *s.p == '\t')) s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\r')) s.n--;
    return s;
}

bool table_line(const char *text, size_t len, size_t *pos, sv *line)
{
    if (*pos >= len) return false;
    size_t e = *pos;
    while (e < len && text[e] != '\n') e++;
    *line = (sv){text + *pos, e - *pos};
    while (line->n && (line->p[line->n - 1] == '\r' || line->p[line->n - 1] == ' ' ||
                       line->p[line->n - 1] == '\t'))
        line->n--;
    *pos = e + 1;
    return true;
}

sv table_word(sv *line)
{
    while (line->n && (*line->p == ' ' || *line->p == '\t')) line->p++, line->n--;
    if (line->n && *line->p == '"') {
        const char *e = memchr(line->p + 1, '"', line->n - 1);
        if (e) {
            sv t = {line->p + 1, (size_t)(e - line->p - 1)};
            line->n -= (size_t)(e + 1 - line->p);
            line->p = e + 1;
            return t;
        }
    }
    size_t i = 0;
    while (i < line->n && line->p[i] != ' ' && line->p[i] != '\t') i++;
    sv t = {line->p, i};
    line->p += i;
    line->n -= i;
    return t;
}
