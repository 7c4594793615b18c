/* rule_toml_dump.c - test driver for the TOML rule loader (until `modus rules`
 * exists): loads each file named on the command line and prints one JSON
 * object per rule,
 *   {"file":..,"id":..,"name":..,"version":..|null,"query_line":N,"query_col":N,
 *    "verbatim":true|false,"query":..}
 * so a test can compare every string exactly with jq. A file that fails is
 * reported on stderr as `file:line:col: message`; exit status 1 if any did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rule_toml.h"

static void put_json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        }
    }
    putchar('"');
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rule_toml_dump FILE.toml...\n");
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        char *text = slurp(argv[i], &len);
        if (!text) {
            perror(argv[i]);
            failed = 1;
            continue;
        }
        rule_src r;
        uint32_t line, col;
        char msg[512];
        if (rule_toml_parse(argv[i], text, len, &r, &line, &col, msg, sizeof msg)) {
            fprintf(stderr, "%s:%u:%u: %s\n", argv[i], line, col, msg);
            failed = 1;
        } else {
            fputs("{\"file\":", stdout);
            put_json_str(r.file);
            fputs(",\"id\":", stdout);
            put_json_str(r.id);
            fputs(",\"name\":", stdout);
            put_json_str(r.name);
            fputs(",\"version\":", stdout);
            put_json_str(r.version);
            printf(",\"query_line\":%u,\"query_col\":%u,\"verbatim\":%s,\"query\":", r.query_line,
                   r.query_col, r.query_verbatim ? "true" : "false");
            put_json_str(r.query);
            fputs("}\n", stdout);
            rule_src_free(&r);
        }
        free(text);
    }
    return failed;
}
