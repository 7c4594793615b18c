/* json_locate.c - where a nested value starts in the text of a valid document.
 *
 * simdjson's DOM keeps no source positions, and enriched output needs one:
 * the '{' of the object that holds a call stack, to splice derived members
 * in without re-serialising the event. The document is already validated, so
 * this scanner only skips: strings to their closing quote (memchr), containers
 * by depth, scalars to the next delimiter. It stops at the first match and
 * runs only for events whose enriched output needs a splice.
 */
#include <string.h>

#include "json.h"

static size_t ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i;
}

/* i at an opening quote; returns the index after the closing quote */
size_t json_skip_string(const char *p, size_t n, size_t i)
{
    i++;
    for (;;) {
        const char *q = memchr(p + i, '"', n - i);
        if (!q) return n;
        size_t k = (size_t)(q - p), bs = 0;
        while (k - bs > i && p[k - bs - 1] == '\\') bs++;
        if (bs % 2 == 0) return k + 1;
        i = k + 1;
    }
}

/* bytes that matter inside a container being skipped */
static const unsigned char special[256] = {['"'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3};

size_t json_skip_value(const char *p, size_t n, size_t i)
{
    if (i >= n) return n;
    if (p[i] == '"') return json_skip_string(p, n, i);
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        while (i < n) {
            unsigned char k = special[(unsigned char)p[i]];
            if (!k) {
                i++;
                continue;
            }
            if (k == 1) {
                i = json_skip_string(p, n, i);
                continue;
            }
            if (k == 2)
                depth++;
            else if (--depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']') i++;
    return i;
}

long mj_locate(const char *p, size_t n, const char *path)
{
    size_t i = ws(p, n, 0);
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t klen = dot ? (size_t)(dot - path) : strlen(path);
        if (i >= n || p[i] != '{') return -1;
        i = ws(p, n, i + 1);
        bool found = false;
        while (i < n && p[i] == '"') {
            size_t kend = json_skip_string(p, n, i);
            bool match = kend - i - 2 == klen && memcmp(p + i + 1, path, klen) == 0;
            i = ws(p, n, kend);
            if (i >= n || p[i] != ':') return -1;
            i = ws(p, n, i + 1);
            if (match) {
                found = true;
                break;
            }
            i = ws(p, n, json_skip_value(p, n, i));
            if (i < n && p[i] == ',') i = ws(p, n, i + 1);
        }
        if (!found) return -1;
        path += klen + (dot ? 1 : 0);
    }
    return (long)i;
}

long mj_locate_span(const char *p, size_t n, const char *path, size_t *end)
{
    long at = mj_locate(p, n, path);
    if (at < 0) return -1;
    *end = json_skip_value(p, n, (size_t)at);
    return at;
}
