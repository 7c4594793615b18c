/* detect_needs.c - what the loaded rules need from the live sensor's file
 * events: the file policy the kernel applies before it reports a write-open,
 * a deletion or a chmod (bpf/sensor.bpf.c, "the policy").
 *
 * Every stage of category `file` (and `any` stages that read a file.* field)
 * of every rule that can run on Linux gets a *necessary* condition on the
 * file, a disjunction of atoms the kernel can test cheaply:
 *   name    file.name (or the last component of a file.path without wildcards);
 *   ext     file.extension, or a path / name pattern ending in ".EXT" after its
 *           last wildcard;
 *   dir     an ancestor directory: the literal prefix of a file.path pattern
 *           before its first wildcard, cut at its last '/' (EQL's * and ?
 *           cross '/', so nothing after a wildcard is a directory);
 *   all     no condition: the rule can match any file.
 * `a and b` keeps the side with the fewer, narrower atoms (names and
 * extensions before directories), `a or b` both, `not` and anything else
 * (other fields, functions of two fields, regexes) gives "all". Windows paths
 * (a drive letter, backslashes) can never be a Linux path and add nothing.
 * Everything is case-folded, so the conditions are supersets. The union over
 * all stages is the policy; one "all" makes the policy all, and its rule is
 * named (the sensor says so at start). `file.Ext.header_bytes` read by any rule
 * turns on the header capture.
 *
 * The same policy has a text form (--file-policy FILE, and what `print`
 * shows): one entry per line, `all`, `header`, `dir /PATH`, `dname NAME`,
 * `name NAME`, `ext EXT`; `#` comments.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rules/eql.h"
#include "../rules/eql_query.h"
#include "../rules/ruleset.h"
#include "../util/buf.h"
#include "needs.h"

/* ---- lists ------------------------------------------------------------------ */

static bool list_add(fpol_list *l, const char *s, size_t n, uint8_t mask)
{
    char *c = malloc(n + 1);
    if (!c) return false;
    for (size_t i = 0; i < n; i++) c[i] = (char)tolower((unsigned char)s[i]);
    c[n] = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], c)) {
            l->m[i] |= mask;
            free(c);
            return true;
        }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v) l->v = v;
        uint8_t *m = v ? realloc(l->m, cap) : NULL;
        if (!v || !m) {
            free(c);
            return false;
        }
        l->m = m;
        l->cap = cap;
    }
    l->v[l->n] = c;
    l->m[l->n++] = mask;
    return true;
}

static void list_free(fpol_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    free(l->m);
    memset(l, 0, sizeof *l);
}

typedef struct entry {
    char *s;
    uint8_t m;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->s, ((const entry *)b)->s);
}

static void list_sort(fpol_list *l)
{
    if (l->n < 2) return;
    entry *e = malloc(l->n * sizeof *e);
    if (!e) return;
    for (size_t i = 0; i < l->n; i++) e[i] = (entry){l->v[i], l->m[i]};
    qsort(e, l->n, sizeof *e, cmp_entry);
    for (size_t i = 0; i < l->n; i++) l->v[i] = e[i].s, l->m[i] = e[i].m;
    free(e);
}

/* mask 0: each entry's own */
static bool list_merge(fpol_list *into, const fpol_list *from, uint8_t mask)
{
    for (size_t i = 0; i < from->n; i++)
        if (!list_add(into, from->v[i], strlen(from->v[i]), mask ? mask : from->m[i])) return false;
    return true;
}

const char *fpol_ops_str(uint8_t ops, char *out, size_t n)
{
    static const char *const names[] = {"write", "delete", "chmod", "rename"};
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < 4; i++)
        if (ops & (1u << i)) {
            int w = snprintf(out + o, n - o, "%s%s", o ? "," : "", names[i]);
            if (w < 0 || (size_t)w >= n - o) break;
            o += (size_t)w;
        }
    return out;
}

void modus_file_policy_free(modus_file_policy *p)
{
    if (!p) return;
    list_free(&p->dirs);
    list_free(&p->dnames);
    list_free(&p->names);
    list_free(&p->exts);
    free(p);
}

modus_file_policy *modus_file_policy_new(void)
{
    return calloc(1, sizeof(modus_file_policy));
}

/* a directory that covers everything below it makes its descendants redundant */
static void finish(modus_file_policy *p)
{
    list_sort(&p->dirs);
    size_t o = 0;
    for (size_t i = 0; i < p->dirs.n; i++) {
        const char *d = p->dirs.v[i];
        uint8_t m = p->dirs.m[i];
        /* the operations an ancestor already covers, and "all" */
        uint8_t covered = p->all;
        for (size_t k = 0; k < o; k++) {
            size_t n = strlen(p->dirs.v[k]);
            if (!strncmp(d, p->dirs.v[k], n) && d[n] == '/') covered |= p->dirs.m[k];
        }
        if ((m & ~covered) == 0)
            free(p->dirs.v[i]);
        else {
            p->dirs.v[o] = p->dirs.v[i];
            p->dirs.m[o++] = m;
        }
    }
    p->dirs.n = o;
    list_sort(&p->dnames);
    list_sort(&p->names);
    list_sort(&p->exts);
}

/* "NAME (delete)" appended to the reasons for "all" */
static void why_add(modus_file_policy *p, const char *name, uint8_t newops)
{
    if (!newops) return;
    char ob[64];
    size_t n = strlen(p->all_why);
    snprintf(p->all_why + n, sizeof p->all_why - n, "%s%s (%s)", n ? "; " : "", name,
             fpol_ops_str(newops, ob, sizeof ob));
}

bool modus_file_policy_merge(modus_file_policy *into, const modus_file_policy *from)
{
    if (from->all & ~into->all) {
        size_t n = strlen(into->all_why);
        snprintf(into->all_why + n, sizeof into->all_why - n, "%s%s", n ? "; " : "", from->all_why);
    }
    into->all |= from->all;
    into->header |= from->header;
    bool ok = list_merge(&into->dirs, &from->dirs, 0) &&
              list_merge(&into->dnames, &from->dnames, 0) &&
              list_merge(&into->names, &from->names, 0) && list_merge(&into->exts, &from->exts, 0);
    finish(into);
    return ok;
}

bool modus_file_policy_all(const modus_file_policy *p, const char **why, const char **ops)
{
    static char opsbuf[64];
    if (why) *why = p->all ? p->all_why : NULL;
    if (ops)
        *ops = p->all == FOP_ALL ? "every operation" : fpol_ops_str(p->all, opsbuf, sizeof opsbuf);
    return p->all != 0;
}

bool modus_file_policy_empty(const modus_file_policy *p)
{
    return !p->all && !p->dirs.n && !p->dnames.n && !p->names.n && !p->exts.n;
}

/* ---- hashing and matching (the kernel's view) ---------------------------------- */

uint64_t fpol_dir_hash(const char *dir)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const uint64_t P = 0x100000001b3ULL;
    const char *c = dir;
    while (*c) {
        while (*c == '/') c++;
        if (!*c) break;
        h = (h ^ '/') * P;
        size_t n = 0;
        for (; *c && *c != '/'; c++, n++)
            if (n < FPOL_COMP) h = (h ^ (uint8_t)tolower((unsigned char)*c)) * P;
    }
    return h;
}

static bool in_list(const fpol_list *l, const char *s, size_t n, uint8_t ops)
{
    for (size_t i = 0; i < l->n; i++)
        if ((l->m[i] & ops) && strlen(l->v[i]) == n && !strncasecmp(l->v[i], s, n)) return true;
    return false;
}

bool fpol_match(const modus_file_policy *p, const char *path, bool dirs_only, uint8_t ops)
{
    if (p->all & ops) return true;
    const char *slash = strrchr(path, '/');
    const char *leaf = slash ? slash + 1 : path;
    if (!dirs_only) {
        size_t ln = strlen(leaf);
        if (in_list(&p->names, leaf, ln < FPOL_NAME ? ln : FPOL_NAME, ops)) return true;
        const char *dot = strrchr(leaf, '.');
        if (dot && dot != leaf && dot[1] && in_list(&p->exts, dot + 1, strlen(dot + 1), ops))
            return true;
    }
    if (!slash) return false;
    for (size_t i = 0; i < p->dirs.n; i++) {
        size_t n = strlen(p->dirs.v[i]);
        if ((p->dirs.m[i] & ops) && !strncasecmp(path, p->dirs.v[i], n) && path[n] == '/')
            return true;
    }
    if (p->dnames.n && slash > path) {
        const char *ps = slash - 1;
        while (ps > path && *ps != '/') ps--;
        if (in_list(&p->dnames, ps + 1, (size_t)(slash - ps - 1), ops)) return true;
    }
    return false;
}

/* ---- derivation ----------------------------------------------------------------- */

/* a condition: all, or a disjunction of atoms */
typedef struct need {
    bool all;
    fpol_list dirs, names, exts;
} need;

static void need_free(need *n)
{
    list_free(&n->dirs);
    list_free(&n->names);
    list_free(&n->exts);
}

static need need_all(void)
{
    need n = {0};
    n.all = true;
    return n;
}

static void need_union(need *a, need *b)
{
    if (a->all || b->all) {
        need_free(a);
        need_free(b);
        *a = need_all();
        return;
    }
    list_merge(&a->dirs, &b->dirs, FOP_ALL);
    list_merge(&a->names, &b->names, FOP_ALL);
    list_merge(&a->exts, &b->exts, FOP_ALL);
    need_free(b);
}

/* how many events a condition lets through, roughly: a directory is broad */
static double need_cost(const need *n)
{
    if (n->all) return 1e18;
    double c = (double)(n->names.n + n->exts.n);
    for (size_t i = 0; i < n->dirs.n; i++) {
        int depth = 0;
        for (const char *s = n->dirs.v[i]; *s; s++) depth += *s == '/';
        c += depth <= 1 ? 40 : depth == 2 ? 10 : 3;
    }
    return c;
}

enum { F_NONE, F_PATH, F_NAME, F_EXT };

static int file_field(const eql_node *n)
{
    if (!n || n->kind != N_FIELD || n->var >= 0 || n->alias >= 0) return F_NONE;
    sv p = {n->path, n->path_len};
    if (sv_ieq(p, SV_LIT("file.path"))) return F_PATH;
    if (sv_ieq(p, SV_LIT("file.name"))) return F_NAME;
    if (sv_ieq(p, SV_LIT("file.extension"))) return F_EXT;
    return F_NONE;
}

static bool is_wild(char c)
{
    return c == '*' || c == '?';
}

/* ".EXT" at the end of s after its last wildcard and last '/': EXT */
static bool tail_ext(const char *s, size_t n, const char **ext, size_t *en)
{
    size_t i = n;
    while (i > 0 && !is_wild(s[i - 1]) && s[i - 1] != '/' && s[i - 1] != '.') i--;
    if (i == 0 || s[i - 1] != '.' || i == n) return false;
    /* the dot must not start the name: something (literal or wildcard) before it */
    if (i < 2 || s[i - 2] == '/') return false;
    *ext = s + i;
    *en = n - i;
    return *en <= FPOL_EXT;
}

/* One literal compared with a field; wild: * and ? are wildcards. Adds to
 * out; false: no condition can be derived (the caller makes it "all"). */
static bool atom(need *out, int field, const char *s, size_t n, bool wild)
{
    bool has_wild = false;
    if (wild)
        for (size_t i = 0; i < n; i++) has_wild |= is_wild(s[i]);
    const char *ext;
    size_t en;
    switch (field) {
    case F_EXT:
        if (has_wild || !n || n > FPOL_EXT) return false;
        return list_add(&out->exts, s, n, FOP_ALL);
    case F_NAME:
        if (!has_wild) return n && n <= FPOL_NAME ? list_add(&out->names, s, n, FOP_ALL) : false;
        if (tail_ext(s, n, &ext, &en)) return list_add(&out->exts, ext, en, FOP_ALL);
        return false;
    case F_PATH: {
        /* a Windows path never names a Linux file */
        if ((n >= 2 && s[1] == ':') || (memchr(s, '\\', n) && !memchr(s, '/', n))) return true;
        if (n && !has_wild && s[0] != '/') return true; /* the sensor's paths are absolute */
        const char *slash = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == '/') slash = s + i;
        const char *leaf = slash ? slash + 1 : s;
        size_t ln = n - (size_t)(leaf - s);
        bool leaf_wild = false;
        for (size_t i = 0; i < ln; i++) leaf_wild |= wild && is_wild(leaf[i]);
        /* a literal leaf after the last '/' ends every match: the name */
        if (slash && !leaf_wild && ln && ln <= FPOL_NAME)
            return list_add(&out->names, leaf, ln, FOP_ALL);
        if (has_wild && tail_ext(s, n, &ext, &en)) return list_add(&out->exts, ext, en, FOP_ALL);
        size_t pre = 0;
        while (pre < n && !(wild && is_wild(s[pre]))) pre++;
        while (pre > 0 && s[pre - 1] != '/') pre--;
        if (pre > 0) pre--;         /* drop the '/' */
        if (pre == 0) return false; /* a wildcard right after the root: anywhere */
        /* components the kernel cannot hash whole: cut before them */
        size_t keep = pre, comp = 0;
        for (size_t i = 1; i < pre; i++) {
            if (s[i] == '/') {
                comp = 0;
                continue;
            }
            if (++comp > FPOL_COMP) {
                keep = i - comp;
                break;
            }
        }
        if (keep == 0) return false;
        return list_add(&out->dirs, s, keep, FOP_ALL);
    }
    }
    return false;
}

static bool lit_str(const eql_node *n)
{
    return n && n->kind == N_LIT && n->val.t == V_STR;
}

static need derive(const eql_node *n);

static need derive_cmp(const eql_node *n)
{
    need out = {0};
    const eql_node *f = n->kids[0];
    uint32_t from = 1;
    if (n->kind == N_EQ && n->nkids == 2 && !file_field(f) && file_field(n->kids[1])) {
        f = n->kids[1];
        from = 0;
    }
    int field = file_field(f);
    if (!field) return need_all();
    bool wild = n->kind == N_COLON || n->kind == N_LIKE;
    for (uint32_t i = 0; i < n->nkids; i++) {
        if (i == (from ? 0u : 1u)) continue;
        if (!lit_str(n->kids[i]) ||
            !atom(&out, field, n->kids[i]->val.s, n->kids[i]->val.n, wild)) {
            need_free(&out);
            return need_all();
        }
    }
    return out;
}

static need derive_call(const eql_node *n)
{
    const eql_fn_def *fd = n->fn >= 0 ? eql_fn_get(n->fn) : NULL;
    if (!fd || n->nkids < 2) return need_all();
    int field = file_field(n->kids[0]);
    if (!field) return need_all();
    need out = {0};
    bool starts = !strcmp(fd->name, "startswith"), ends = !strcmp(fd->name, "endswith");
    bool wildcard = !strcmp(fd->name, "wildcard");
    if (!starts && !ends && !wildcard) return need_all();
    for (uint32_t i = 1; i < n->nkids; i++) {
        if (!lit_str(n->kids[i])) goto all;
        const char *s = n->kids[i]->val.s;
        size_t len = n->kids[i]->val.n;
        bool ok;
        if (wildcard)
            ok = atom(&out, field, s, len, true);
        else if (starts && field == F_PATH) {
            /* startsWith(file.path, "/tmp/x") is file.path like "/tmp/x*" */
            char b[1024];
            if (len + 1 >= sizeof b) goto all;
            memcpy(b, s, len);
            b[len] = '*';
            ok = atom(&out, field, b, len + 1, true);
        } else if (ends && (field == F_PATH || field == F_NAME)) {
            char b[1024];
            if (len + 1 >= sizeof b) goto all;
            b[0] = '*';
            memcpy(b + 1, s, len);
            ok = atom(&out, field, b, len + 1, true);
        } else
            ok = false;
        if (!ok) goto all;
    }
    return out;
all:
    need_free(&out);
    return need_all();
}

static need derive(const eql_node *n)
{
    if (!n) return need_all();
    switch (n->kind) {
    case N_AND: {
        need best = need_all();
        for (uint32_t i = 0; i < n->nkids; i++) {
            need k = derive(n->kids[i]);
            if (need_cost(&k) < need_cost(&best)) {
                need_free(&best);
                best = k;
            } else
                need_free(&k);
        }
        return best;
    }
    case N_OR: {
        need u = {0};
        for (uint32_t i = 0; i < n->nkids; i++) {
            need k = derive(n->kids[i]);
            need_union(&u, &k);
            if (u.all) break;
        }
        return u;
    }
    case N_EQ:
    case N_COLON:
    case N_LIKE: return derive_cmp(n);
    case N_IN:
        if (n->neg) return need_all();
        return derive_cmp(n);
    case N_CALL: return derive_call(n);
    default: return need_all();
    }
}

/* ---- which operations a stage can match: event.action / event.type ------------- */

static uint8_t op_of(sv field, sv v)
{
    static const struct {
        const char *field, *value;
        uint8_t ops;
    } tab[] = {
        {"event.action", "creation", FOP_WRITE},
        {"event.action", "modification", FOP_WRITE},
        {"event.action", "overwrite", FOP_WRITE},
        {"event.action", "deletion", FOP_DELETE},
        {"event.action", "rename", FOP_RENAME},
        {"event.action", "attributes_modified", FOP_CHMOD},
        {"event.type", "creation", FOP_WRITE},
        {"event.type", "change", FOP_WRITE | FOP_CHMOD | FOP_RENAME},
        {"event.type", "deletion", FOP_DELETE},
        {"event.type", "info", 0},
        {"event.type", "access", 0},
    };
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (sv_ieq(field, sv_cstr(tab[i].field)) && sv_ieq(v, sv_cstr(tab[i].value)))
            return tab[i].ops;
    return 0; /* an action or type the sensor never writes on a file event */
}

/* `field != v`: the operations left (those with another value for field) */
static uint8_t ops_not(sv field, sv v)
{
    if (sv_ieq(field, SV_LIT("event.action"))) {
        if (sv_ieq(v, SV_LIT("deletion"))) return FOP_ALL & ~FOP_DELETE;
        if (sv_ieq(v, SV_LIT("rename"))) return FOP_ALL & ~FOP_RENAME;
        if (sv_ieq(v, SV_LIT("attributes_modified"))) return FOP_ALL & ~FOP_CHMOD;
    }
    if (sv_ieq(field, SV_LIT("event.type"))) {
        if (sv_ieq(v, SV_LIT("deletion"))) return FOP_ALL & ~FOP_DELETE;
        if (sv_ieq(v, SV_LIT("change"))) return FOP_ALL & ~(FOP_CHMOD | FOP_RENAME);
    }
    return FOP_ALL;
}

/* A necessary condition on the operation: the ones the where clause allows. */
static uint8_t derive_ops(const eql_node *n)
{
    if (!n) return FOP_ALL;
    switch (n->kind) {
    case N_NE: {
        const eql_node *f = n->nkids == 2 ? n->kids[0] : NULL, *k = f ? n->kids[1] : NULL;
        if (!f || f->kind != N_FIELD || f->var >= 0 || f->alias >= 0 || !k || k->kind != N_LIT ||
            k->val.t != V_STR)
            return FOP_ALL;
        return ops_not((sv){f->path, f->path_len}, (sv){k->val.s, k->val.n});
    }
    case N_AND: {
        uint8_t m = FOP_ALL;
        for (uint32_t i = 0; i < n->nkids; i++) m &= derive_ops(n->kids[i]);
        return m;
    }
    case N_OR: {
        uint8_t m = 0;
        for (uint32_t i = 0; i < n->nkids; i++) m |= derive_ops(n->kids[i]);
        return m;
    }
    case N_EQ:
    case N_IN:
    case N_COLON:
    case N_LIKE: {
        if (n->neg || n->nkids < 2) return FOP_ALL;
        const eql_node *f = n->kids[0];
        if (!f || f->kind != N_FIELD || f->var >= 0 || f->alias >= 0) return FOP_ALL;
        sv field = {f->path, f->path_len};
        if (!sv_ieq(field, SV_LIT("event.action")) && !sv_ieq(field, SV_LIT("event.type")))
            return FOP_ALL;
        uint8_t m = 0;
        for (uint32_t i = 1; i < n->nkids; i++) {
            const eql_node *k = n->kids[i];
            if (!k || k->kind != N_LIT || k->val.t != V_STR) return FOP_ALL;
            sv v = {k->val.s, k->val.n};
            if (n->kind != N_EQ && n->kind != N_IN &&
                (memchr(v.p, '*', v.n) || memchr(v.p, '?', v.n)))
                return FOP_ALL;
            m |= op_of(field, v);
        }
        return m;
    }
    default: return FOP_ALL;
    }
}

static bool reads_field(const eql_node *n, const char *prefix)
{
    if (!n) return false;
    if (n->kind == N_FIELD && n->var < 0 && n->alias < 0 && n->path_len >= strlen(prefix) &&
        !strncasecmp(n->path, prefix, strlen(prefix)))
        return true;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (reads_field(n->kids[i], prefix)) return true;
    return false;
}

static bool rule_on_linux(const rule *r)
{
    if (!r->src.n_os) return true;
    for (size_t i = 0; i < r->src.n_os; i++)
        if (!strcasecmp(r->src.os_list[i], "linux")) return true;
    return false;
}

static bool stage_wants_files(const eql_stage *st)
{
    if (st->any) return reads_field(st->where, "file.");
    return sv_ieq(st->category, SV_LIT("file"));
}

modus_status modus_file_policy_from_rules(const modus_ruleset *rs, modus_file_policy **out)
{
    modus_file_policy *p = modus_file_policy_new();
    if (!p) return MODUS_ENOMEM;
    for (size_t r = 0; r < rs->n; r++) {
        const rule *ru = &rs->r[r];
        if (!ru->q || !ru->q->q || !rule_on_linux(ru)) continue;
        const eql_query *q = ru->q->q;
        for (uint32_t s = 0; s < q->nstages; s++) {
            const eql_stage *st = &q->stages[s];
            if (st->missing || !stage_wants_files(st)) continue;
            uint8_t ops = derive_ops(st->where);
            if (!ops) continue; /* no file operation the sensor reports can match */
            if (reads_field(st->where, "file.Ext.header_bytes") && (ops & FOP_WRITE))
                p->header = true;
            if ((p->all & ops) == ops) continue;
            need nd = derive(st->where);
            if (nd.all) {
                why_add(p,
                        ru->src.name   ? ru->src.name
                        : ru->src.file ? ru->src.file
                                       : "?",
                        ops & ~p->all);
                p->all |= ops;
            } else if (!list_merge(&p->dirs, &nd.dirs, ops) ||
                       !list_merge(&p->names, &nd.names, ops) ||
                       !list_merge(&p->exts, &nd.exts, ops)) {
                need_free(&nd);
                modus_file_policy_free(p);
                return MODUS_ENOMEM;
            }
            need_free(&nd);
        }
    }
    finish(p);
    *out = p;
    return MODUS_OK;
}

/* ---- the default (--all-events) --------------------------------------------------- */

/* What a responder wants to see whatever the rules say: world-writable
 * staging directories, system configuration, shell start-up and SSH files,
 * cron and systemd, libraries and scripts dropped anywhere, web roots. */
static const char *const default_text = "# modus's default file policy (--all-events)\n"
                                        "header\n"
                                        "dir /tmp\n"
                                        "dir /var/tmp\n"
                                        "dir /dev/shm\n"
                                        "dir /run/user\n"
                                        "dir /etc\n"
                                        "dir /var/spool/cron\n"
                                        "dir /usr/lib/systemd\n"
                                        "dir /lib/systemd\n"
                                        "dir /usr/local/bin\n"
                                        "dir /usr/local/lib\n"
                                        "dir /var/www\n"
                                        "dir /boot\n"
                                        "dname .ssh\n"
                                        "dname autostart\n"
                                        "dname systemd\n"
                                        "name .bashrc\n"
                                        "name .bash_profile\n"
                                        "name .bash_login\n"
                                        "name .bash_logout\n"
                                        "name .profile\n"
                                        "name .zshrc\n"
                                        "name .zprofile\n"
                                        "name .bash_history\n"
                                        "name .zsh_history\n"
                                        "name authorized_keys\n"
                                        "name authorized_keys2\n"
                                        "ext so\n"
                                        "ext sh\n"
                                        "ext service\n"
                                        "ext timer\n"
                                        "ext desktop\n"
                                        "ext pth\n";

const char *modus_file_policy_default_text(void)
{
    return default_text;
}

/* ---- text form -------------------------------------------------------------------- */

/* "write,delete": the mask, 0 if it is not an operations list */
static uint8_t parse_ops(const char *s, size_t n)
{
    static const char *const names[] = {"write", "delete", "chmod", "rename"};
    uint8_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && s[e] != ',') e++;
        uint8_t one = 0;
        for (int k = 0; k < 4; k++)
            if (strlen(names[k]) == e - i && !memcmp(s + i, names[k], e - i))
                one = (uint8_t)(1u << k);
        if (!one) return 0;
        m |= one;
        i = e + 1;
        if (e + 1 == n) return 0; /* a trailing comma */
    }
    return m;
}

modus_status modus_file_policy_parse(const char *text, size_t len, const char *file,
                                     modus_file_policy **out, modus_diag *d)
{
    *out = NULL;
    modus_file_policy *p = modus_file_policy_new();
    if (!p) return MODUS_ENOMEM;
    size_t line = 0, total = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        line++;
        const char *s = text + i, *end = text + e;
        size_t at = i;
        i = e + 1;
        while (s < end && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
        if (s == end || *s == '#') continue;
        const char *k = s;
        while (s < end && *s != ' ' && *s != '\t') s++;
        size_t kn = (size_t)(s - k);
        while (s < end && (*s == ' ' || *s == '\t')) s++;
        /* an optional last token: the operations (write,delete,chmod,rename) */
        uint8_t ops = FOP_ALL;
        const char *oe = end, *ob = end;
        while (ob > s && ob[-1] != ' ' && ob[-1] != '\t') ob--;
        bool all_kw = kn == 3 && !memcmp(k, "all", 3);
        if (ob < oe && (ob > s || all_kw)) {
            uint8_t m = parse_ops(ob, (size_t)(oe - ob));
            if (m) {
                ops = m;
                end = ob;
                while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
            }
        }
        size_t vn = (size_t)(end - s);
        const char *err = NULL;
        fpol_list *l = NULL;
        size_t max = 0;
        if (all_kw && !vn) {
            if (!p->all) {
                char where[300];
                snprintf(where, sizeof where, "%s:%zu", file ? file : "policy", line);
                why_add(p, where, ops & ~p->all);
            }
            p->all |= ops;
        } else if (kn == 6 && !memcmp(k, "header", 6) && !vn)
            p->header = true;
        else if (kn == 3 && !memcmp(k, "dir", 3)) {
            l = &p->dirs;
            max = 1024;
            if (!vn || *s != '/') err = "dir needs an absolute path";
            while (vn > 1 && s[vn - 1] == '/') vn--;
            if (!err && vn == 1) err = "dir / is everything: write `all`";
        } else if (kn == 5 && !memcmp(k, "dname", 5)) {
            l = &p->dnames;
            max = FPOL_NAME;
        } else if (kn == 4 && !memcmp(k, "name", 4)) {
            l = &p->names;
            max = FPOL_NAME;
        } else if (kn == 3 && !memcmp(k, "ext", 3)) {
            l = &p->exts;
            max = FPOL_EXT;
        } else
            err = "unknown entry (all, header, dir, dname, name, ext)";
        if (!err && l) {
            if (!vn)
                err = "missing value";
            else if (vn > max)
                err = "value too long for the kernel's key";
            else if (memchr(s, '/', vn) && l != &p->dirs)
                err = "a name holds no '/'";
            for (size_t c = 0; c < vn && !err; c++)
                if ((unsigned char)s[c] <= ' ' || s[c] == 0x7f)
                    err = "a value holds no spaces or control characters";
            if (!err && ++total > FPOL_MAX) err = "too many entries";
        }
        if (err) {
            if (d) {
                memset(d, 0, sizeof *d);
                snprintf(d->file, sizeof d->file, "%s", file ? file : "");
                d->line = line;
                d->column = (uint64_t)(k - (text + at)) + 1;
                d->offset = (uint64_t)(k - text);
                snprintf(d->message, sizeof d->message, "%s", err);
            }
            modus_file_policy_free(p);
            return MODUS_EPARSE;
        }
        if (l && !list_add(l, s, vn, ops)) {
            modus_file_policy_free(p);
            return MODUS_ENOMEM;
        }
    }
    finish(p);
    *out = p;
    return MODUS_OK;
}

char *modus_file_policy_format(const modus_file_policy *p)
{
    buf b = {0};
    char ob[64];
    if (p->all)
        buf_printf(&b, "# every file: %s\nall%s%s\n", p->all_why[0] ? p->all_why : "?",
                   p->all == FOP_ALL ? "" : " ",
                   p->all == FOP_ALL ? "" : fpol_ops_str(p->all, ob, sizeof ob));
    if (p->header) buf_puts(&b, "header\n");
    const struct {
        const char *k;
        const fpol_list *l;
    } ls[] = {{"dir", &p->dirs}, {"dname", &p->dnames}, {"name", &p->names}, {"ext", &p->exts}};
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < ls[i].l->n; k++) {
            uint8_t m = ls[i].l->m[k];
            buf_printf(&b, "%s %s%s%s\n", ls[i].k, ls[i].l->v[k], m == FOP_ALL ? "" : " ",
                       m == FOP_ALL ? "" : fpol_ops_str(m, ob, sizeof ob));
        }
    buf_putc(&b, 0);
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return b.p;
}
