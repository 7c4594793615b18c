/* sv.h - string views: (pointer, length) into a buffer someone else owns. */
#ifndef MODUS_SV_H
#define MODUS_SV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct sv {
    const char *p;
    size_t n;
} sv;

#define SV_LIT(s) ((sv){(s), sizeof(s) - 1})

static inline sv sv_make(const char *p, size_t n)
{
    return (sv){p, n};
}

static inline sv sv_cstr(const char *s)
{
    return (sv){s, s ? strlen(s) : 0};
}

static inline bool sv_eq(sv a, sv b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* a 64-bit hash of n bytes, 8 at a time (multiply-xorshift), for caches
 * keyed by a string; seed tells the caches' keys apart */
static inline unsigned long long sv_hash64(const char *s, size_t n, unsigned long long seed)
{
    unsigned long long h = seed * 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    if (n) memcpy(&w, s, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

static inline char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static inline bool sv_ieq(sv a, sv b)
{
    if (a.n != b.n) return false;
    for (size_t i = 0; i < a.n; i++)
        if (ascii_lower(a.p[i]) != ascii_lower(b.p[i])) return false;
    return true;
}

static inline bool sv_istarts(sv a, sv prefix)
{
    return a.n >= prefix.n && sv_ieq((sv){a.p, prefix.n}, prefix);
}

static inline bool sv_iends(sv a, sv suffix)
{
    return a.n >= suffix.n && sv_ieq((sv){a.p + a.n - suffix.n, suffix.n}, suffix);
}

/* Case-insensitive glob: '*' any run, '?' one char. No escapes. */
/* The longest prefix of p[0, n) that does not end inside a UTF-8 sequence,
 * given that p[n] is readable or n is the string's end (cap = full length). */
static inline size_t utf8_cut(const char *p, size_t n, size_t full)
{
    while (n > 0 && n < full && ((unsigned char)p[n] & 0xc0) == 0x80) n--;
    return n;
}

bool sv_iglob(sv pattern, sv text);
bool sv_glob(sv pattern, sv text);

/* Last path component after '\\' or '/'. */
sv sv_basename(sv path);

/* Case-insensitive substring search; returns offset or (size_t)-1. */
size_t sv_ifind(sv hay, sv needle);

#endif
