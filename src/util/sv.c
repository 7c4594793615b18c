/* sv.c - glob matching and small string helpers. */
#include "sv.h"

static bool glob_impl(const char *p, size_t pn, const char *t, size_t tn, bool icase)
{
    /* Iterative glob with single backtrack point: linear in practice. */
    size_t pi = 0, ti = 0, star_p = (size_t)-1, star_t = 0;
    while (ti < tn) {
        if (pi < pn && p[pi] == '*') {
            star_p = pi++;
            star_t = ti;
        } else if (pi < pn && (p[pi] == '?' || (icase ? ascii_lower(p[pi]) == ascii_lower(t[ti])
                                                      : p[pi] == t[ti]))) {
            pi++;
            ti++;
        } else if (star_p != (size_t)-1) {
            pi = star_p + 1;
            ti = ++star_t;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*') pi++;
    return pi == pn;
}

bool sv_iglob(sv pattern, sv text)
{
    return glob_impl(pattern.p, pattern.n, text.p, text.n, true);
}

bool sv_glob(sv pattern, sv text)
{
    return glob_impl(pattern.p, pattern.n, text.p, text.n, false);
}

sv sv_basename(sv path)
{
    const char *b = path.n ? memrchr(path.p, '\\', path.n) : NULL;
    const char *f =
        path.n ? memrchr(b ? b + 1 : path.p, '/', path.n - (size_t)(b ? b + 1 - path.p : 0)) : NULL;
    const char *last = f ? f : b;
    if (!last) return path;
    return (sv){last + 1, path.n - (size_t)(last + 1 - path.p)};
}

size_t sv_ifind(sv hay, sv needle)
{
    if (needle.n == 0) return 0;
    if (needle.n > hay.n) return (size_t)-1;
    for (size_t i = 0; i + needle.n <= hay.n; i++)
        if (sv_ieq((sv){hay.p + i, needle.n}, needle)) return i;
    return (size_t)-1;
}
