/* baseline_class.c - the tuple of an event: acting program, signer,
 * behaviour class, modality, stack shape (see baseline.c for the model).
 *
 * Folding keeps what tells behaviours apart and drops what varies between
 * two runs of the same behaviour: user names (C:\Users\X, /home/X), SIDs,
 * GUIDs, long hex runs and numeric runs, names inside temp directories, and
 * (MODUS_FOLD_NAME) a created file's own name. Windows paths are
 * case-insensitive and lowercased; Linux paths keep their case. Every output
 * is bounded by the caller's buffer; input is any byte string (fuzzed).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "modus/baseline.h"

typedef struct out {
    char *p;
    size_t n, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
    /* control bytes (NUL included) never reach a class: they become '?' */
    for (size_t i = 0; i < n && o->n + 1 < o->cap; i++)
        o->p[o->n++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (o->cap) o->p[o->n < o->cap ? o->n : o->cap - 1] = 0;
}

static void putc1(out *o, char c)
{
    put(o, &c, 1);
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m) return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)lit[i])) return false;
    return true;
}

/* a GUID at s: 8-4-4-4-12 hex digits, optionally in braces; its length or 0 */
static size_t guid_len(const char *s, size_t n)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    bool brace = n && s[0] == '{';
    if (brace) i++;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, i++)
            if (i >= n || !is_hex(s[i])) return 0;
        if (g < 4) {
            if (i >= n || s[i] != '-') return 0;
            i++;
        }
    }
    if (brace) {
        if (i >= n || s[i] != '}') return 0;
        i++;
    }
    return i;
}

/* Fold one path component (no separators) into o. */
static void fold_component(out *o, const char *c, size_t n, bool lower)
{
    if (n > 4 && (c[0] == 'S' || c[0] == 's') && c[1] == '-' && c[2] == '1' && c[3] == '-') {
        put(o, "S-*", 3); /* a SID */
        return;
    }
    bool numeric = n > 0;
    for (size_t i = 0; i < n; i++)
        if (c[i] < '0' || c[i] > '9') numeric = false;
    if (numeric) {
        putc1(o, '#');
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t g = guid_len(c + i, n - i);
        if (g) {
            put(o, "{*}", 3);
            i += g;
            continue;
        }
        /* a run of hex digits with at least one decimal digit, 8 or longer,
         * or a run of 3+ decimal digits */
        size_t j = i, digits = 0;
        while (j < n && is_hex(c[j])) {
            if (c[j] >= '0' && c[j] <= '9') digits++;
            j++;
        }
        bool word_start = i == 0 || !isalnum((unsigned char)c[i - 1]);
        if (j - i >= 8 && digits && word_start) {
            putc1(o, '#');
            i = j;
            continue;
        }
        if (c[i] >= '0' && c[i] <= '9') {
            j = i;
            while (j < n && c[j] >= '0' && c[j] <= '9') j++;
            if (j - i >= 3) {
                putc1(o, '#');
                i = j;
                continue;
            }
            put(o, c + i, j - i);
            i = j;
            continue;
        }
        putc1(o, lower ? (char)tolower((unsigned char)c[i]) : c[i]);
        i++;
    }
}

/* "*" plus the extension of a file name (".service", ".dll"), if it has a
 * short alphanumeric one */
static void fold_name(out *o, const char *c, size_t n, bool lower)
{
    putc1(o, '*');
    const char *dot = NULL;
    for (size_t i = n; i > 0; i--)
        if (c[i - 1] == '.') {
            dot = c + i - 1;
            break;
        }
    if (!dot || dot == c) return;
    size_t el = (size_t)(c + n - dot);
    if (el < 2 || el > 9) return;
    for (size_t i = 1; i < el; i++)
        if (!isalnum((unsigned char)dot[i])) return;
    for (size_t i = 0; i < el; i++) putc1(o, lower ? (char)tolower((unsigned char)dot[i]) : dot[i]);
}

size_t modus_baseline_fold(const char *in, size_t len, unsigned flags, char *buf, size_t cap)
{
    out o = {buf, 0, cap};
    if (cap) buf[0] = 0;
    if (!in) return 0;
    char sep = memchr(in, '\\', len) ? '\\' : '/';
    bool win = (flags & MODUS_FOLD_REGISTRY) || sep == '\\' ||
               (len >= 2 && in[1] == ':' && isalpha((unsigned char)in[0]));
    /* components */
    const char *prev = NULL, *prev2 = NULL;
    size_t prevn = 0, prev2n = 0;
    size_t i = 0;
    bool in_temp = false, first = true;
    while (i <= len) {
        size_t j = i;
        while (j < len && in[j] != sep) j++;
        const char *c = in + i;
        size_t n = j - i;
        bool last = j >= len;
        if (!first) putc1(&o, sep);
        if (n == 0) {
            /* leading or doubled separator: keep it as is */
        } else if ((flags & MODUS_FOLD_REGISTRY) && first &&
                   (ieq(c, n, "hkey_local_machine") || ieq(c, n, "hklm"))) {
            put(&o, "hklm", 4);
        } else if ((flags & MODUS_FOLD_REGISTRY) && first &&
                   (ieq(c, n, "hkey_users") || ieq(c, n, "hku") || ieq(c, n, "hkcu") ||
                    ieq(c, n, "hkey_current_user"))) {
            put(&o, "hku", 3);
        } else if ((flags & MODUS_FOLD_REGISTRY) && n > 10 && ieq(c, 10, "controlset")) {
            put(&o, "currentcontrolset", 17);
        } else if ((flags & MODUS_FOLD_REGISTRY) && prev && ieq(prev, prevn, "services") &&
                   !(prev2 && ieq(prev2, prev2n, "services"))) {
            putc1(&o, '*'); /* the service's own name */
        } else if (prev && !(flags & MODUS_FOLD_REGISTRY) &&
                   (ieq(prev, prevn, "users") || ieq(prev, prevn, "home")) &&
                   !(last && (flags & MODUS_FOLD_NAME))) {
            putc1(&o, '*'); /* a user name */
        } else if (last && (flags & MODUS_FOLD_NAME)) {
            fold_name(&o, c, n, win);
        } else if (in_temp && !last) {
            putc1(&o, '*'); /* a directory made up inside a temp directory */
        } else if (in_temp && last) {
            fold_name(&o, c, n, win);
        } else {
            fold_component(&o, c, n, win);
        }
        if (n && (ieq(c, n, "temp") || ieq(c, n, "tmp") || ieq(c, n, "shm"))) in_temp = true;
        if (n) {
            prev2 = prev;
            prev2n = prevn;
            prev = c;
            prevn = n;
        }
        first = false;
        i = j + 1;
    }
    return o.n;
}

/* ---- the tuple of an event ---------------------------------------------- */

/* String value of a field (the first element of an array), or NULL. */
static const char *field(const modus_event *ev, const char *path, size_t *len)
{
    modus_value v;
    if (modus_event_get(ev, path, &v) != MODUS_OK) return NULL;
    if (v.type == MODUS_T_ARRAY) {
        modus_value a = v;
        if (!a.len || modus_value_index(ev, &a, 0, &v) != MODUS_OK) return NULL;
    }
    if (v.type == MODUS_T_STRING) {
        *len = v.len;
        return v.str;
    }
    return NULL;
}

static void copy_to(char *dst, size_t cap, const char *s, size_t n, bool lower)
{
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((unsigned char)c < 0x20) c = ' ';
        dst[i] = lower ? (char)tolower((unsigned char)c) : c;
    }
    dst[n] = 0;
}

static bool has(const char *s, size_t n, const char *lit)
{
    return s && ieq(s, n, lit);
}

/* creation -> create, ... : the verb of a file or registry change */
static const char *verb(const char *a, size_t an, const char *t, size_t tn)
{
    const char *s[2] = {a, t};
    size_t l[2] = {an, tn};
    for (int k = 0; k < 2; k++) {
        if (!s[k]) continue;
        if (has(s[k], l[k], "creation") || has(s[k], l[k], "FileCreate") ||
            has(s[k], l[k], "created") || has(s[k], l[k], "CreateKey"))
            return "create";
        if (has(s[k], l[k], "deletion") || has(s[k], l[k], "FileDelete") ||
            has(s[k], l[k], "deleted") || has(s[k], l[k], "DeleteKey") ||
            has(s[k], l[k], "DeleteValue"))
            return "delete";
        if (has(s[k], l[k], "rename") || has(s[k], l[k], "RenameKey")) return "rename";
        if (has(s[k], l[k], "modification") || has(s[k], l[k], "change") ||
            has(s[k], l[k], "SetValue") || has(s[k], l[k], "overwrite"))
            return "modify";
    }
    return NULL;
}

/* the new protection of a memory API: parameters.protection, else the third
 * argument of the summary "VirtualProtect( mod, size, RWX, R-X )" */
static void protection(const modus_event *ev, char out3[8])
{
    size_t n;
    const char *p = field(ev, "process.Ext.api.parameters.protection", &n);
    out3[0] = 0;
    if (p && n && n < 8) {
        copy_to(out3, 8, p, n, false);
        return;
    }
    const char *s = field(ev, "process.Ext.api.summary", &n);
    if (!s) return;
    int arg = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',') {
            arg++;
            if (arg == 2) {
                size_t j = i + 1;
                while (j < n && s[j] == ' ') j++;
                size_t k = j;
                while (k < n && (s[k] == 'R' || s[k] == 'W' || s[k] == 'X' || s[k] == '-')) k++;
                if (k - j == 3) copy_to(out3, 8, s + j, 3, false);
                return;
            }
        }
    }
}

static int64_t parse_ts(const char *s, size_t n)
{
    if (!s || n < 19) return 0;
    struct tm tm = {0};
    int ms = 0;
    char tmp[40];
    copy_to(tmp, sizeof tmp, s, n, false);
    if (sscanf(tmp, "%4d-%2d-%2d%*c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    if (n > 20 && tmp[19] == '.') {
        int k = 0;
        for (size_t i = 20; i < n && i < 23 && tmp[i] >= '0' && tmp[i] <= '9'; i++, k++)
            ms = ms * 10 + (tmp[i] - '0');
        for (; k < 3; k++) ms *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

void modus_baseline_iso(int64_t ms, char out32[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out32, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    size_t n = strftime(out32, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out32 + n, 32 - n, ".%03dZ", (int)(ms % 1000 + 1000) % 1000);
}

static void behaviour(const modus_event *ev, char *dst, size_t cap)
{
    size_t cn = 0, an = 0, tn = 0, n = 0;
    const char *cat = field(ev, "event.category", &cn);
    const char *act = field(ev, "event.action", &an);
    const char *typ = field(ev, "event.type", &tn);
    char folded[400];
    const char *api = field(ev, "process.Ext.api.name", &n);
    if (api) {
        char prot[8];
        protection(ev, prot);
        snprintf(dst, cap, "api:%.*s%s%s", (int)(n > 128 ? 128 : n), api, prot[0] ? ":" : "", prot);
        return;
    }
    const char *v;
    if (has(act, an, "ProcessAccess")) {
        const char *t = field(ev, "Target.process.executable", &n);
        size_t gn = 0;
        const char *g = field(ev, "winlog.event_data.GrantedAccess", &gn);
        modus_baseline_fold(t, t ? n : 0, 0, folded, sizeof folded);
        const char *base = strrchr(folded, '\\');
        if (!base) base = strrchr(folded, '/');
        base = base ? base + 1 : folded;
        snprintf(dst, cap, "process:access:%s:%.*s", t ? base : "-", (int)(gn > 16 ? 16 : gn),
                 g ? g : "-");
        return;
    }
    if (has(cat, cn, "process") &&
        (has(typ, tn, "start") || has(act, an, "exec") || has(act, an, "start") ||
         has(act, an, "ProcessCreate") || has(act, an, "fork"))) {
        v = field(ev, "process.executable", &n);
        modus_baseline_fold(v, v ? n : 0, 0, folded, sizeof folded);
        snprintf(dst, cap, "process:%s:%s", has(act, an, "fork") ? "fork" : "exec",
                 v ? folded : "-");
        return;
    }
    if (has(cat, cn, "library") || has(cat, cn, "driver")) {
        v = field(ev, "dll.path", &n);
        if (!v) v = field(ev, "file.path", &n);
        modus_baseline_fold(v, v ? n : 0, 0, folded, sizeof folded);
        snprintf(dst, cap, "library:load:%s", v ? folded : "-");
        return;
    }
    if (has(cat, cn, "registry")) {
        v = field(ev, "registry.path", &n);
        const char *vb = verb(act, an, typ, tn);
        modus_baseline_fold(v, v ? n : 0, MODUS_FOLD_REGISTRY, folded, sizeof folded);
        const char *k = folded;
        const char *svc = strstr(folded, "\\services\\");
        if (svc) k = svc + 1; /* Services\*\ImagePath */
        snprintf(dst, cap, "registry:%s:%s", vb ? vb : "modify", v ? k : "-");
        return;
    }
    if (has(cat, cn, "file")) {
        v = field(ev, "file.path", &n);
        const char *vb = verb(act, an, typ, tn);
        modus_baseline_fold(v, v ? n : 0, MODUS_FOLD_NAME, folded, sizeof folded);
        snprintf(dst, cap, "file:%s:%s", vb ? vb : (act ? "access" : "-"), v ? folded : "-");
        return;
    }
    if (has(cat, cn, "network")) {
        snprintf(dst, cap, "network:%.*s", (int)(an > 64 ? 64 : an), act ? act : "-");
        return;
    }
    if (has(act, an, "service-installed")) {
        snprintf(dst, cap, "service:install");
        return;
    }
    size_t kn = 0;
    const char *code = field(ev, "event.code", &kn);
    snprintf(dst, cap, "%.*s:%.*s", (int)(cn > 64 ? 64 : cn), cat ? cat : "event",
             (int)(act ? (an > 64 ? 64 : an) : (kn > 64 ? 64 : kn)),
             act ? act : (code ? code : "-"));
}

void modus_baseline_tuple_of(const modus_event *ev, modus_baseline_tuple *t)
{
    size_t n = 0;
    const char *v = field(ev, "host.name", &n);
    if (!v) v = field(ev, "host.hostname", &n);
    if (v && n)
        copy_to(t->host, sizeof t->host, v, n, true);
    else
        snprintf(t->host, sizeof t->host, "-");
    const char *img = modus_event_image(ev, &n);
    if (!n) img = field(ev, "process.executable", &n);
    if (img && n)
        modus_baseline_fold(img, n, 0, t->program, sizeof t->program);
    else
        snprintf(t->program, sizeof t->program, "-");
    /* the signer of the acting process: the parent's for a process start */
    size_t an = 0, cn = 0, tn = 0;
    const char *act = field(ev, "event.action", &an);
    const char *cat = field(ev, "event.category", &cn);
    const char *typ = field(ev, "event.type", &tn);
    bool start = has(cat, cn, "process") &&
                 (has(typ, tn, "start") || has(act, an, "exec") || has(act, an, "ProcessCreate"));
    v = field(ev,
              start ? "process.parent.code_signature.subject_name"
                    : "process.code_signature.subject_name",
              &n);
    if (v)
        copy_to(t->signer, sizeof t->signer, v, n, false);
    else
        t->signer[0] = 0;
    behaviour(ev, t->behaviour, sizeof t->behaviour);
    snprintf(t->modality, sizeof t->modality, "%s", modus_event_modality(ev));
    const char *sum = modus_event_summary(ev, &n);
    if (n) {
        char low[MODUS_BASELINE_FIELD];
        copy_to(low, sizeof low, sum, n, true);
        /* module names: fold numeric runs (versions), not separators */
        out o = {t->shape, 0, sizeof t->shape};
        const char *p = low;
        while (*p) {
            const char *q = strchr(p, '|');
            size_t m = q ? (size_t)(q - p) : strlen(p);
            fold_component(&o, p, m, true);
            if (!q) break;
            putc1(&o, '|');
            p = q + 1;
        }
    } else {
        snprintf(t->shape, sizeof t->shape, "-");
    }
    v = field(ev, "@timestamp", &n);
    t->ts_ms = v ? parse_ts(v, n) : 0;
}
