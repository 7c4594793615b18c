/* sigtab.c - load and match the modality signature table.
 *
 * The table is small (tens of lines) and text: it is parsed once into an
 * array of signatures pointing into an owned copy of the text. Matching
 * walks the array with a glob per alternative; the classifier caches the
 * result per module (classify.c), so the scan cost per frame in steady state
 * is one hash probe.
 */
#include "sigtab.h"

#include <stdio.h>
#include <stdlib.h>

#include "../stack/ustack.h"
#include "../util/limits.h"

static sv next_tok(sv *line)
{
    while (line->n && (*line->p == ' ' || *line->p == '\t')) {
        line->p++;
        line->n--;
    }
    size_t i = 0;
    while (i < line->n && line->p[i] != ' ' && line->p[i] != '\t') i++;
    sv t = {line->p, i};
    line->p += i;
    line->n -= i;
    return t;
}

int sigtab_modality(const sigtab *t, sv name)
{
    for (int i = 0; i < t->nmod; i++)
        if (sv_eq(sv_cstr(t->mod[i].name), name)) return i;
    return -1;
}

static bool fail(uint32_t *err_line, uint32_t line, char *msg, size_t cap, const char *fmt, sv arg)
{
    *err_line = line;
    snprintf(msg, cap, fmt, (int)arg.n, arg.p);
    return false;
}

bool sigtab_parse(sigtab *t, const char *text, size_t len, uint32_t *err_line, char *msg,
                  size_t msgcap)
{
    memset(t, 0, sizeof *t);
    t->text = malloc(len + 1);
    t->sigs = calloc(MODUS_MAX_SIGNATURES, sizeof(sig));
    t->code = calloc(MODUS_MAX_SIGNATURES, sizeof(sigcode));
    if (!t->text || !t->sigs || !t->code)
        return fail(err_line, 0, msg, msgcap, "out of memory%.*s", SV_LIT(""));
    memcpy(t->text, text, len);
    t->text[len] = 0;
    /* over= names may refer forward: resolve after the pass */
    sv over_name[SIG_MAX_MODALITIES];
    uint32_t over_line[SIG_MAX_MODALITIES];
    uint32_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        size_t e = pos;
        while (e < len && t->text[e] != '\n') e++;
        sv line = {t->text + pos, e - pos};
        lineno++;
        pos = e + 1;
        if (line.n > MODUS_MAX_SIG_LINE)
            return fail(err_line, lineno, msg, msgcap, "line longer than %.*s bytes",
                        SV_LIT("1024"));
        while (line.n && (line.p[line.n - 1] == '\r' || line.p[line.n - 1] == ' ')) line.n--;
        sv kw = next_tok(&line);
        if (kw.n == 0 || kw.p[0] == '#') continue;
        if (sv_eq(kw, SV_LIT("modality"))) {
            sv name = next_tok(&line);
            if (!name.n || name.n >= sizeof t->mod[0].name)
                return fail(err_line, lineno, msg, msgcap, "bad modality name '%.*s'", name);
            if (sigtab_modality(t, name) >= 0)
                return fail(err_line, lineno, msg, msgcap, "modality '%.*s' declared twice", name);
            if (t->nmod == SIG_MAX_MODALITIES)
                return fail(err_line, lineno, msg, msgcap, "too many modalities%.*s", SV_LIT(""));
            modality_def *m = &t->mod[t->nmod];
            memcpy(m->name, name.p, name.n);
            m->over = -1;
            over_name[t->nmod] = (sv){NULL, 0};
            over_line[t->nmod] = lineno;
            for (sv a = next_tok(&line); a.n; a = next_tok(&line)) {
                if (sv_istarts(a, SV_LIT("rank="))) {
                    char *end;
                    char tmp[16] = {0};
                    memcpy(tmp, a.p + 5, a.n - 5 < 15 ? a.n - 5 : 15);
                    m->rank = (int)strtol(tmp, &end, 10);
                    if (*end || !tmp[0])
                        return fail(err_line, lineno, msg, msgcap, "bad rank '%.*s'", a);
                } else if (sv_eq(a, SV_LIT("jit"))) {
                    m->jit = true;
                } else if (sv_eq(a, SV_LIT("transport"))) {
                    m->transport = true;
                } else if (sv_istarts(a, SV_LIT("over="))) {
                    over_name[t->nmod] = (sv){a.p + 5, a.n - 5};
                } else {
                    return fail(err_line, lineno, msg, msgcap, "unknown modality attribute '%.*s'",
                                a);
                }
            }
            t->nmod++;
        } else if (sv_eq(kw, SV_LIT("sig"))) {
            sv os = next_tok(&line), role = next_tok(&line), mod = next_tok(&line);
            sv module = next_tok(&line), symbol = next_tok(&line), extra = next_tok(&line);
            if (!module.n)
                return fail(err_line, lineno, msg, msgcap,
                            "expected: sig OS ROLE MODALITY MODULE [SYMBOL]%.*s", SV_LIT(""));
            if (extra.n) return fail(err_line, lineno, msg, msgcap, "unexpected '%.*s'", extra);
            if (t->nsigs == MODUS_MAX_SIGNATURES)
                return fail(err_line, lineno, msg, msgcap, "too many signatures%.*s", SV_LIT(""));
            sig *s = &t->sigs[t->nsigs];
            if (sv_eq(os, SV_LIT("windows")))
                s->os = STACK_OS_WINDOWS;
            else if (sv_eq(os, SV_LIT("linux")))
                s->os = STACK_OS_LINUX;
            else if (sv_eq(os, SV_LIT("any")))
                s->os = SIG_OS_ANY;
            else
                return fail(err_line, lineno, msg, msgcap, "unknown OS '%.*s'", os);
            static const char *roles[] = {NULL,       "stub",       "api",  "kernel",  "runtime",
                                          "dispatch", "provenance", "host", "identity"};
            s->role = ROLE_NONE;
            for (unsigned r = 1; r < sizeof roles / sizeof *roles; r++)
                if (sv_eq(role, sv_cstr(roles[r]))) s->role = (uint8_t)r;
            if (s->role == ROLE_NONE)
                return fail(err_line, lineno, msg, msgcap, "unknown role '%.*s'", role);
            bool layerless = s->role == ROLE_STUB || s->role == ROLE_API || s->role == ROLE_KERNEL;
            if (sv_eq(mod, SV_LIT("-"))) {
                if (!layerless)
                    return fail(err_line, lineno, msg, msgcap, "role '%.*s' needs a modality",
                                role);
                s->modality = -1;
            } else {
                s->modality = (int16_t)sigtab_modality(t, mod);
                if (s->modality < 0)
                    return fail(err_line, lineno, msg, msgcap,
                                "unknown modality '%.*s' (declare it with a modality line first)",
                                mod);
            }
            s->module = module;
            s->symbol = symbol;
            s->on_path = memchr(module.p, '/', module.n) || memchr(module.p, '\\', module.n);
            s->line = lineno;
            if (s->on_path && s->os != SIG_OS_ANY) t->any_path[s->os] = true;
            if (s->on_path && s->os == SIG_OS_ANY) t->any_path[0] = t->any_path[1] = true;
            if (symbol.n && s->os != SIG_OS_ANY) t->any_symbol[s->os] = true;
            if (symbol.n && s->os == SIG_OS_ANY) t->any_symbol[0] = t->any_symbol[1] = true;
            t->nsigs++;
        } else if (sv_eq(kw, SV_LIT("code"))) {
            sv os = next_tok(&line), mod = next_tok(&line), syms = next_tok(&line);
            sv extra = next_tok(&line);
            if (!syms.n)
                return fail(err_line, lineno, msg, msgcap,
                            "expected: code OS MODALITY SYMBOL[|SYMBOL...]%.*s", SV_LIT(""));
            if (extra.n) return fail(err_line, lineno, msg, msgcap, "unexpected '%.*s'", extra);
            if (t->ncode == MODUS_MAX_SIGNATURES)
                return fail(err_line, lineno, msg, msgcap, "too many code lines%.*s", SV_LIT(""));
            sigcode *k = &t->code[t->ncode];
            if (sv_eq(os, SV_LIT("windows")))
                k->os = STACK_OS_WINDOWS;
            else if (sv_eq(os, SV_LIT("linux")))
                k->os = STACK_OS_LINUX;
            else if (sv_eq(os, SV_LIT("any")))
                k->os = SIG_OS_ANY;
            else
                return fail(err_line, lineno, msg, msgcap, "unknown OS '%.*s'", os);
            k->modality = (int16_t)sigtab_modality(t, mod);
            if (k->modality < 0)
                return fail(err_line, lineno, msg, msgcap,
                            "unknown modality '%.*s' (declare it with a modality line first)", mod);
            /* each alternative: name, name*, a::b, a::* (what the sensor can match) */
            size_t st = 0;
            for (size_t i = 0; i <= syms.n; i++) {
                if (i < syms.n && syms.p[i] != '|') continue;
                sv a = {syms.p + st, i - st};
                st = i + 1;
                if (!ustack_code_ok(a.p, a.n))
                    return fail(err_line, lineno, msg, msgcap,
                                "bad code symbol '%.*s' (name, prefix*, ns::name or ns::*)", a);
            }
            k->symbols = syms;
            k->line = lineno;
            t->ncode++;
        } else {
            return fail(err_line, lineno, msg, msgcap,
                        "unknown keyword '%.*s' (expected modality, sig or code)", kw);
        }
    }
    for (int i = 0; i < t->nmod; i++) {
        if (!over_name[i].p) continue;
        t->mod[i].over = sigtab_modality(t, over_name[i]);
        if (t->mod[i].over < 0)
            return fail(err_line, over_line[i], msg, msgcap, "over= names unknown modality '%.*s'",
                        over_name[i]);
    }
    static const char *required[] = {"unknown", "native", "shellcode", "kernel"};
    int *slot[] = {&t->m_unknown, &t->m_native, &t->m_shellcode, &t->m_kernel};
    for (int i = 0; i < 4; i++) {
        *slot[i] = sigtab_modality(t, sv_cstr(required[i]));
        if (*slot[i] < 0)
            return fail(err_line, lineno, msg, msgcap, "the table must declare modality '%.*s'",
                        sv_cstr(required[i]));
    }
    return true;
}

void sigtab_free(sigtab *t)
{
    if (!t) return;
    free(t->text);
    free(t->sigs);
    free(t->code);
    t->text = NULL;
    t->sigs = NULL;
    t->code = NULL;
}

/* '|'-separated alternatives */
static bool alt_match(sv pats, sv text, bool icase)
{
    size_t start = 0;
    for (size_t i = 0; i <= pats.n; i++) {
        if (i < pats.n && pats.p[i] != '|') continue;
        sv p = {pats.p + start, i - start};
        if (p.n && (icase ? sv_iglob(p, text) : sv_glob(p, text))) return true;
        start = i + 1;
    }
    return false;
}

static int role_rank(const sigtab *t, const sig *s)
{
    return s->modality >= 0 ? t->mod[s->modality].rank : 1;
}

int sigtab_match_frame(const sigtab *t, uint8_t os, const frame *f, unsigned roles)
{
    int best = -1;
    bool icase = os == STACK_OS_WINDOWS;
    for (int i = 0; i < t->nsigs; i++) {
        const sig *s = &t->sigs[i];
        if ((s->os != os && s->os != SIG_OS_ANY) || !(roles & (1u << s->role))) continue;
        if (!alt_match(s->module, s->on_path ? f->path : f->name, icase)) continue;
        if (s->symbol.n && !alt_match(s->symbol, f->symbol, false)) continue;
        if (best < 0 || role_rank(t, s) > role_rank(t, &t->sigs[best])) best = i;
    }
    return best;
}

int sigtab_match_name(const sigtab *t, uint8_t os, uint8_t role, sv name)
{
    sv base = sv_basename(name);
    int best = -1;
    for (int i = 0; i < t->nsigs; i++) {
        const sig *s = &t->sigs[i];
        if ((s->os != os && s->os != SIG_OS_ANY) || s->role != role) continue;
        if (!alt_match(s->module, s->on_path ? name : base, true)) continue;
        if (best < 0 || role_rank(t, s) > role_rank(t, &t->sigs[best])) best = i;
    }
    return best;
}
