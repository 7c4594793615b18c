/* rule_needs_dump.c - test driver for the per-rule field coverage test
 * (tests/live/test_field_coverage.sh): compiles each EQL query file named on
 * the command line with modus's own parser and prints one JSON object per
 * file with what the query needs from the events:
 *   {"file":..,"stages":[{"category":"process","actions":["exec",..]},..],
 *    "fields":["process.name",..]}
 * or {"file":..,"error":"line:col: message"}. A stage's actions are the
 * event.action values its where clause asks for (==, in, :, like), outside a
 * negation: the stage needs one of them ([] : any action). Lineage
 * sub-queries (descendant of [...]) are stages too: they need their events.
 * Fields are every field path the query reads ($variables and [N] indexes
 * dropped). Exit status 1 if any query failed to compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/eql.h"

static void put_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

typedef struct acts {
    const char *s[256];
    uint32_t n[256];
    int count;
} acts;

static bool is_action(const eql_node *f)
{
    return f && f->kind == N_FIELD && f->var < 0 && f->path_len == 12 &&
           !memcmp(f->path, "event.action", 12);
}

static void walk(const eql_node *e, bool negated, acts *a)
{
    if (!e) return;
    bool neg = negated || e->kind == N_NOT || e->kind == N_NE || (e->kind == N_IN && e->neg);
    if (!neg && e->nkids >= 2 && is_action(e->kids[0]) &&
        (e->kind == N_EQ || e->kind == N_IN || e->kind == N_COLON || e->kind == N_LIKE))
        for (uint32_t k = 1; k < e->nkids; k++) {
            const eql_node *l = e->kids[k];
            if (l->kind == N_LIT && l->val.t == V_STR && a->count < 256) {
                a->s[a->count] = l->val.s;
                a->n[a->count++] = l->val.n;
            }
        }
    if (e->kind == N_LINEAGE) return; /* its sub-query is a stage of its own */
    for (uint32_t k = 0; k < e->nkids; k++) walk(e->kids[k], neg, a);
}

static int nstages_out;

static void put_stage(const eql_stage *st)
{
    acts a = {.count = 0};
    walk(st->where, false, &a);
    if (nstages_out++) putchar(',');
    fputs("{\"category\":", stdout);
    put_str(st->category.p, st->category.n);
    fputs(",\"actions\":[", stdout);
    for (int i = 0; i < a.count; i++) {
        if (i) putchar(',');
        put_str(a.s[i], a.n[i]);
    }
    fputs("]}", stdout);
}

static void put_query_stages(const eql_query *q)
{
    for (uint32_t i = 0; i < q->nstages; i++) put_stage(&q->stages[i]);
    for (uint32_t i = 0; i < q->nlineage; i++)
        if (q->lineage[i]->sub) put_query_stages(q->lineage[i]->sub);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0;
    *len = b ? (size_t)n : 0;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rule_needs_dump QUERY_FILE...\n");
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        size_t len;
        char *text = slurp(argv[i], &len);
        if (!text) {
            perror(argv[i]);
            failed = 1;
            continue;
        }
        arena a;
        arena_init(&a, 1 << 16);
        eql_error err;
        eql_query *q = eql_compile(&a, text, len, &err);
        fputs("{\"file\":", stdout);
        put_str(argv[i], strlen(argv[i]));
        if (!q) {
            printf(",\"error\":\"%u:%u: ", err.line, err.col);
            for (const char *c = err.msg; *c; c++)
                if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20) putchar(*c);
            fputs("\"}\n", stdout);
            failed = 1;
        } else {
            fputs(",\"stages\":[", stdout);
            nstages_out = 0;
            put_query_stages(q);
            if (q->until) put_stage(q->until);
            fputs("],\"fields\":[", stdout);
            int nf = 0;
            for (uint32_t k = 0; k < q->nfields; k++) {
                const char *f = q->fields[k];
                if (!f || f[0] == '$') continue;
                char path[512];
                size_t o = 0;
                for (const char *c = f; *c && o < sizeof path - 1; c++) {
                    if (*c == '[') { /* drop [N] */
                        while (*c && *c != ']') c++;
                        if (!*c) break;
                        continue;
                    }
                    path[o++] = *c;
                }
                path[o] = 0;
                if (nf++) putchar(',');
                put_str(path, o);
            }
            fputs("]}\n", stdout);
            eql_query_free(q);
        }
        arena_free(&a);
        free(text);
    }
    return failed;
}
