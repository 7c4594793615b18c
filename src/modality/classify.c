/* classify.c - which runtime or tool performed the behaviour in a call stack.
 *
 * Every frame first gets a class from the signature table (sigtab.h): the OS
 * syscall stub, the OS API layer, kernel, a runtime (with its modality), a
 * dispatcher (rpc, com, wmi), plain user code, unbacked memory, unknown.
 * Then, reading frame 0 (most recent) towards the thread start:
 *
 *  1. syscall   frame 0 in the stub layer is `stub`; anything else is `direct`;
 *               on Windows, an ntdll stub called straight from unexplained
 *               unbacked code, skipping the API layer, is `indirect`.
 *  2. initiator skip the stub and API layers, and dispatcher frames right under
 *               them: rpcrt4/combase there are a *client* call, not the rpc
 *               modality. The first frame left is the initiator.
 *  3. chain     from the initiator down to a boundary: an OS frame (a callback,
 *               the loader or the thread start) or a server dispatcher (one with
 *               the transport dispatcher, rpcrt4, at or below it). The runtimes
 *               met on the chain are its layers. Unbacked frames on the chain are
 *               JIT code when their protection_provenance names a runtime, or
 *               when a JIT runtime (dotnet, java, node...) is on the chain;
 *               otherwise they are shellcode. Unbacked frames past the boundary
 *               did not perform the call and are only an anomaly.
 *  4. host      in a host process of a script engine (powershell.exe...), JIT
 *               code of the runtime the engine runs on is that engine: a
 *               PowerShell script is JIT code in a PowerShell host. Unbacked
 *               code there with no provenance and no runtime frame (Sysmon
 *               often stops unwinding at JIT code) is taken as the script too,
 *               with confidence low: shellcode is not ruled out, and says so.
 *  5. dispatch  when the chain ends at a server dispatcher, the dispatchers
 *               below it are layers too (the code acted for a client).
 *  6. name      the layer with the highest rank (table), else `native`.
 *
 * A module frame whose image holds at least MODUS_STOMPED_BYTES of private
 * executable bytes (a stomped or hollowed module; hooks make a few KB) counts
 * as private code. Confidence drops to medium when anything was inferred
 * (host, stomping), the stack is truncated, or a return address does not
 * follow a call (forged frames); to low when the best explanation is a guess.
 *
 * A module frame that the source marked with the runtime its code shows
 * (module_runtime: the Linux sensor read the module's symbols) takes that
 * runtime before any file-name signature: renaming an interpreter does not
 * hide it. The evidence says which way each runtime frame was recognised.
 *
 * Return-oriented code: when frame 0 is a stub and the frame it returns to
 * follows no call (or lies in no mapping), the stack is `shellcode`
 * (syscall `indirect`) with that anomaly as evidence, whatever the borrowed
 * frames would otherwise say (step 8 in the code).
 *
 * Layers are listed outermost (thread start) first, a script engine before
 * the runtime it runs on. Each decision appends a line of evidence, so
 * `modus stack` shows a reviewer why. Cost: one table match per distinct
 * module (cached), then two passes over the frames; no allocation but the
 * evidence strings in the per-event arena.
 */
#include "classify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *const anomaly_names[ANOM_COUNT] = {
    "unbacked",        "rwx_frame",          "truncated",
    "no_stub",         "module_overwritten", "return_not_after_call",
    "malformed_frame", "not_after_syscall",  "stub_entered_by_return"};
const char *const syscall_names[] = {"unknown", "stub", "direct", "indirect"};
const char *const confidence_names[] = {"low", "medium", "high"};

#define CACHE_SLOTS 4096
#define CACHE_KEY   200

typedef struct cache_slot {
    uint32_t hash;
    uint8_t os, keylen;
    int16_t sig; /* the signature + 2: 1 none, 0 empty slot */
    char key[CACHE_KEY];
} cache_slot;

struct classifier {
    const sigtab *t;
    cache_slot *cache; /* zeroed on the first lookup (850 KB: most scanners never
                          classify, and a page is touched only when a slot is used) */
    uint8_t cls[MODUS_MAX_FRAMES];
    int16_t mod[MODUS_MAX_FRAMES];
    bool server[MODUS_MAX_FRAMES];
    bool stomped[MODUS_MAX_FRAMES];
    uint32_t line[MODUS_MAX_FRAMES]; /* table line that named a runtime frame; 0: its code */
};

classifier *classifier_create(const sigtab *t)
{
    classifier *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->t = t;
    return c;
}

/* the slot of hash h, NULL when the cache cannot be allocated (no caching) */
static cache_slot *slot_of(classifier *c, uint32_t h)
{
    if (!c->cache && !(c->cache = calloc(CACHE_SLOTS, sizeof(cache_slot)))) return NULL;
    return &c->cache[h & (CACHE_SLOTS - 1)];
}

void classifier_destroy(classifier *c)
{
    if (!c) return;
    free(c->cache);
    free(c);
}

static uint32_t fnv(const char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

#define FRAME_ROLES                                                                                \
    ((1u << ROLE_STUB) | (1u << ROLE_API) | (1u << ROLE_KERNEL) | (1u << ROLE_RUNTIME) |           \
     (1u << ROLE_DISPATCH))

/* Signature of a module frame, cached by (os, module name[, symbol]); by the
 * full path only when the table has path patterns for this OS. */
static int frame_sig(classifier *c, uint8_t os, const frame *f)
{
    sv k = c->t->any_path[os] ? f->path : f->name;
    bool with_sym = c->t->any_symbol[os] && f->symbol.n;
    size_t klen = k.n + (with_sym ? f->symbol.n + 1 : 0);
    if (klen > CACHE_KEY) return sigtab_match_frame(c->t, os, f, FRAME_ROLES);
    uint32_t h = fnv(k.p, k.n, 2166136261u ^ os);
    if (with_sym) h = fnv(f->symbol.p, f->symbol.n, h ^ '!');
    cache_slot *s = slot_of(c, h);
    if (!s) return sigtab_match_frame(c->t, os, f, FRAME_ROLES);
    if (s->sig && s->hash == h && s->os == os && s->keylen == klen &&
        memcmp(s->key, k.p, k.n) == 0 &&
        (!with_sym || memcmp(s->key + k.n + 1, f->symbol.p, f->symbol.n) == 0))
        return s->sig - 2;
    int g = sigtab_match_frame(c->t, os, f, FRAME_ROLES);
    s->hash = h;
    s->os = os;
    s->keylen = (uint8_t)klen;
    s->sig = (int16_t)(g + 2);
    memcpy(s->key, k.p, k.n);
    if (with_sym) {
        s->key[k.n] = '!';
        memcpy(s->key + k.n + 1, f->symbol.p, f->symbol.n);
    }
    return g;
}

/* protection_provenance and process image names repeat as much as modules:
 * cached the same way, tagged by role */
static int name_sig(classifier *c, uint8_t os, uint8_t role, sv name)
{
    if (name.n > CACHE_KEY) return sigtab_match_name(c->t, os, role, name);
    uint8_t tag = (uint8_t)(2 + os * 8 + role); /* frame entries use tags 0 and 1 */
    uint32_t h = fnv(name.p, name.n, 2166136261u ^ tag);
    cache_slot *s = slot_of(c, h);
    if (!s) return sigtab_match_name(c->t, os, role, name);
    if (s->sig && s->hash == h && s->os == tag && s->keylen == name.n &&
        memcmp(s->key, name.p, name.n) == 0)
        return s->sig - 2;
    int g = sigtab_match_name(c->t, os, role, name);
    s->hash = h;
    s->os = tag;
    s->keylen = (uint8_t)name.n;
    s->sig = (int16_t)(g + 2);
    memcpy(s->key, name.p, name.n);
    return g;
}

static void __attribute__((format(printf, 3, 4)))
evidence(modality_result *r, arena *a, const char *fmt, ...)
{
    if (r->nevidence >= MODUS_MAX_EVIDENCE) return;
    char tmp[320];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    char *p = arena_strndup(a, tmp, (size_t)n);
    if (p) r->evidence[r->nevidence++] = (sv){p, (size_t)n};
}

static bool has_layer(const modality_result *r, int m)
{
    for (int i = 0; i < r->nlayers; i++)
        if (r->layers[i] == m) return true;
    return false;
}

static void insert_layer(modality_result *r, int pos, int m)
{
    if (has_layer(r, m) || r->nlayers >= MODUS_MAX_LAYERS) return;
    for (int i = r->nlayers; i > pos; i--) r->layers[i] = r->layers[i - 1];
    r->layers[pos] = m;
    r->nlayers++;
}

/* Add layer m; a script engine goes just before the runtime it runs on. */
static void add_layer(const sigtab *t, modality_result *r, int m)
{
    if (has_layer(r, m)) return;
    int over = t->mod[m].over;
    if (over >= 0) {
        for (int i = 0; i < r->nlayers; i++)
            if (r->layers[i] == over) {
                insert_layer(r, i, m);
                return;
            }
        insert_layer(r, r->nlayers, m);
        insert_layer(r, r->nlayers, over);
        return;
    }
    insert_layer(r, r->nlayers, m);
}

/* Is `image` a host of a script engine that runs on a JIT runtime? */
static int name_sig(classifier *c, uint8_t os, uint8_t role, sv name);

static bool host_jit(classifier *c, uint8_t os, sv image, int *host)
{
    const sigtab *t = c->t;
    if (!image.n) return false;
    int h = name_sig(c, os, ROLE_HOST, image);
    if (h < 0) return false;
    int m = t->sigs[h].modality, over = t->mod[m].over;
    if (over < 0 || !t->mod[over].jit) return false;
    *host = m;
    return true;
}

static const char *tok(const frame *f, char *buf, size_t cap)
{
    sv t = frame_token(f);
    snprintf(buf, cap, "%.*s", (int)(t.n > 120 ? 120 : t.n), t.p);
    return buf;
}

static void init_result(const sigtab *t, modality_result *r)
{
    memset(r, 0, sizeof *r);
    r->name = t->m_unknown;
    r->initiator = -1;
    r->final_user = -1;
    r->syscall = SYSCALL_UNKNOWN;
    r->confidence = CONF_LOW;
}

void classify_identity(classifier *c, uint8_t os, sv image, const char *why, arena *a,
                       modality_result *r)
{
    const sigtab *t = c->t;
    init_result(t, r);
    sv base = sv_basename(image);
    if (!base.n) {
        evidence(r, a, "no call stack");
        return;
    }
    r->initiator_name = arena_lower(a, base);
    r->initiator_path = image;
    r->initiator = 0;
    int h = sigtab_match_name(t, os, ROLE_IDENTITY, image);
    int m = h >= 0 ? t->sigs[h].modality : t->m_native;
    r->name = m;
    add_layer(t, r, m);
    if (h >= 0)
        evidence(r, a, "no call stack: %s; modality from the identity of %.*s only (table line %u)",
                 why, (int)base.n, base.p, t->sigs[h].line);
    else
        evidence(r, a,
                 "no call stack: %s; %.*s is no script host or dispatcher in the table: taken as "
                 "native code",
                 why, (int)base.n, base.p);
}

void classify_stack(classifier *c, const stack *s, sv image, arena *a, modality_result *r)
{
    const sigtab *t = c->t;
    init_result(t, r);
    uint32_t n = s->n;
    char b1[128], b2[128];
    stack_summary(s, a, &r->summary);
    r->contains_unbacked = stack_contains_unbacked(s);
    if (n == 0) {
        evidence(r, a, "no call stack");
        return;
    }

    /* 1. frame classes */
    bool any_transport = false;
    for (uint32_t i = 0; i < n; i++) {
        const frame *f = &s->f[i];
        c->mod[i] = -1;
        c->stomped[i] = false;
        c->line[i] = 0;
        if (f->kind == FRAME_UNBACKED) {
            c->cls[i] = C_UNBACKED;
            if (f->provenance.n) {
                int p = name_sig(c, s->os, ROLE_PROVENANCE, f->provenance);
                if (p >= 0) c->mod[i] = t->sigs[p].modality;
            }
            continue;
        }
        if (f->kind == FRAME_UNKNOWN) {
            c->cls[i] = C_UNKNOWN;
            continue;
        }
        if (f->alloc_private >= MODUS_STOMPED_BYTES) {
            /* an image whose code is mostly private: a stomped or hollowed module
             * runs private code, whatever the file's name says */
            c->cls[i] = C_UNBACKED;
            c->stomped[i] = true;
            continue;
        }
        if (f->runtime.n) {
            /* the sensor recognised the module's runtime by its code: that
             * beats whatever its file is called */
            int m = sigtab_modality(t, f->runtime);
            if (m >= 0) {
                c->cls[i] = C_RUNTIME;
                c->mod[i] = m;
                continue;
            }
        }
        int g = frame_sig(c, s->os, f);
        if (g >= 0) c->line[i] = t->sigs[g].line;
        if (g < 0) {
            c->cls[i] = C_USER;
            continue;
        }
        const sig *sg = &t->sigs[g];
        c->mod[i] = sg->modality;
        switch (sg->role) {
        case ROLE_STUB: c->cls[i] = C_STUB; break;
        case ROLE_API: c->cls[i] = C_API; break;
        case ROLE_KERNEL: c->cls[i] = C_KERNEL; break;
        case ROLE_RUNTIME: c->cls[i] = C_RUNTIME; break;
        default: c->cls[i] = C_DISPATCH; break;
        }
    }
    /* server[i]: a transport dispatcher frame at or below i */
    for (uint32_t k = n; k-- > 0;) {
        if (c->cls[k] == C_DISPATCH && t->mod[c->mod[k]].transport) any_transport = true;
        c->server[k] = any_transport;
    }

    /* Elastic's derived fields */
    r->final_user = -1;
    for (uint32_t i = 0; i < n; i++)
        if (c->cls[i] != C_STUB && c->cls[i] != C_API) {
            r->final_user = (int)i;
            break;
        }
    if (r->final_user < 0) r->final_user = (int)n - 1;

    stack_anomalies(s, c->cls, &r->anomalies);

    /* 2. how the kernel was entered */
    if (c->cls[0] == C_STUB) {
        r->syscall = SYSCALL_STUB;
        /* on Linux libc is stub and API at once: calling it is the normal path */
        if (s->os == STACK_OS_WINDOWS && n > 1 && c->cls[1] == C_UNBACKED && c->mod[1] < 0) {
            r->syscall = SYSCALL_INDIRECT;
            evidence(r, a, "frame 1: Unbacked code calls the syscall stub %s directly (indirect)",
                     tok(&s->f[0], b1, sizeof b1));
        }
    } else if (c->cls[0] == C_KERNEL || c->cls[0] == C_UNKNOWN) {
        r->syscall = SYSCALL_UNKNOWN; /* kernel code, or a frame the source could not resolve */
    } else {
        r->syscall = SYSCALL_DIRECT;
        evidence(r, a, "frame 0: %s is not a syscall stub: the syscall was issued directly",
                 tok(&s->f[0], b1, sizeof b1));
    }

    /* 3. the initiator */
    uint32_t i = 0;
    int client = -1;
    bool all_kernel = true;
    while (i < n && (c->cls[i] == C_STUB || c->cls[i] == C_API || c->cls[i] == C_KERNEL ||
                     c->cls[i] == C_DISPATCH)) {
        if (c->cls[i] == C_DISPATCH && client < 0) client = (int)i;
        if (c->cls[i] != C_KERNEL) all_kernel = false;
        i++;
    }
    bool truncated = r->anomalies & (1u << ANOM_TRUNCATED);
    /* a frame not preceded by a call: the frames below it cannot be trusted */
    bool untrusted = r->anomalies & (1u << ANOM_RETURN_NOT_AFTER_CALL);
    if (i == n) {
        if (all_kernel) {
            r->name = t->m_kernel;
            r->confidence = CONF_HIGH;
            r->initiator = 0;
            evidence(r, a, "every frame is kernel code");
        } else if (client >= 0) {
            /* a dispatcher's own threads: internals of the server runtime */
            int best = -1;
            for (uint32_t k = n; k-- > 0;)
                if (c->cls[k] == C_DISPATCH) {
                    add_layer(t, r, c->mod[k]);
                    if (best < 0 || t->mod[c->mod[k]].rank > t->mod[best].rank) best = c->mod[k];
                }
            r->name = best;
            r->initiator = client;
            r->confidence = CONF_MEDIUM;
            evidence(r, a, "only OS and dispatcher frames: the %s runtime acted on its own",
                     t->mod[best].name);
        } else {
            r->name = t->m_native;
            r->initiator = (int)n - 1;
            r->confidence = CONF_MEDIUM;
            evidence(r, a, "only OS frames: the OS acted on its own behalf");
        }
        goto initiator;
    }
    uint32_t init = i;
    r->initiator = (int)init;
    if (client >= 0)
        evidence(r, a, "frame %d: %s under the OS layer is a client call, not the %s modality",
                 client, tok(&s->f[client], b1, sizeof b1), t->mod[c->mod[client]].name);

    /* 4. the acting chain */
    uint32_t end = init;
    int first_unexplained = -1, jit_runtime = -1, dispatch_at = -1;
    for (; end < n; end++) {
        uint8_t k = c->cls[end];
        if (k == C_STUB) break;
        if (k == C_DISPATCH) {
            if (c->server[end]) {
                dispatch_at = (int)end;
                break;
            }
            continue; /* in-process COM and the like: transparent */
        }
        if (k == C_RUNTIME) {
            if (t->mod[c->mod[end]].jit && jit_runtime < 0) jit_runtime = c->mod[end];
        } else if (k == C_UNBACKED && c->mod[end] < 0 && first_unexplained < 0) {
            first_unexplained = (int)end;
        }
    }
    /* layers of the chain, outermost first */
    for (uint32_t k = end; k-- > init;) {
        if (c->cls[k] == C_RUNTIME) add_layer(t, r, c->mod[k]);
        if (c->cls[k] == C_UNBACKED && c->mod[k] >= 0) add_layer(t, r, c->mod[k]);
    }
    bool inferred = false, weak = false;
    int host = -1;
    /* name the frame of each layer on the chain, most specific first */
    int named = 0;
    for (int l = r->nlayers; l-- > 0 && named < 2;) {
        int m = r->layers[l], best_k = -1;
        for (uint32_t k = init; k < end && best_k < 0; k++)
            if ((c->cls[k] == C_RUNTIME || c->cls[k] == C_UNBACKED) && c->mod[k] == m)
                best_k = (int)k;
        if (best_k < 0) continue;
        const frame *f = &s->f[best_k];
        if (c->cls[best_k] == C_UNBACKED)
            evidence(r, a, "frame %d: Unbacked, protection_provenance %.*s: JIT code of %s", best_k,
                     (int)f->provenance.n, f->provenance.p, t->mod[m].name);
        else if (c->line[best_k])
            evidence(r, a, "frame %d: %s is %s code (by name, table line %u)", best_k,
                     tok(f, b1, sizeof b1), t->mod[m].name, c->line[best_k]);
        else
            evidence(r, a, "frame %d: %s is %s code (by %.*s)", best_k, tok(f, b1, sizeof b1),
                     t->mod[m].name, (int)(f->origin.n ? f->origin.n : 4),
                     f->origin.n ? f->origin.p : "code");
        named++;
    }
    if (first_unexplained >= 0) {
        if (jit_runtime >= 0) {
            evidence(r, a, "frame %d: Unbacked on a %s stack: JIT code", first_unexplained,
                     t->mod[jit_runtime].name);
        } else if (host_jit(c, s->os, image, &host)) {
            /* no provenance, no runtime frame (e.g. Sysmon stopped unwinding at the
             * JIT code): in a host of a JIT-hosted script engine the best
             * explanation is the script, but shellcode cannot be ruled out */
            add_layer(t, r, host);
            weak = true;
            evidence(r, a,
                     "frame %d: Unbacked without provenance in %.*s, a %s host: taken as %s JIT "
                     "code, shellcode not ruled out",
                     first_unexplained, (int)sv_basename(image).n, sv_basename(image).p,
                     t->mod[host].name, t->mod[t->mod[host].over].name);
        } else {
            add_layer(t, r, t->m_shellcode);
            if (c->stomped[first_unexplained])
                evidence(r, a,
                         "frame %d: %s holds %lld private executable bytes: a stomped module "
                         "running private code",
                         first_unexplained, tok(&s->f[first_unexplained], b1, sizeof b1),
                         (long long)s->f[first_unexplained].alloc_private);
            else if (first_unexplained == 0)
                evidence(r, a, "frame 0: Unbacked code issued the syscall itself");
            else if ((uint32_t)first_unexplained == init)
                evidence(r, a,
                         "frame %d: Unbacked code calls the OS API layer with no runtime between",
                         first_unexplained);
            else
                evidence(r, a,
                         "frame %d: Unbacked code on the acting chain, no JIT runtime explains it",
                         first_unexplained);
            if ((uint32_t)first_unexplained != init || c->stomped[first_unexplained])
                inferred = true;
        }
    }

    /* 5. a script engine's host process */
    if (image.n) {
        int h = name_sig(c, s->os, ROLE_HOST, image);
        if (h >= 0) {
            int hm = t->sigs[h].modality, over = t->mod[hm].over;
            if (!has_layer(r, hm) && over >= 0 && has_layer(r, over)) {
                add_layer(t, r, hm);
                inferred = true;
                evidence(r, a, "process %.*s hosts %s: its %s code runs a %s script",
                         (int)sv_basename(image).n, sv_basename(image).p, t->mod[hm].name,
                         t->mod[over].name, t->mod[hm].name);
            }
        }
    }

    /* 6. server dispatch below the chain */
    if (dispatch_at >= 0) {
        int pos = 0;
        for (uint32_t k = n; k-- > (uint32_t)dispatch_at;)
            if (c->cls[k] == C_DISPATCH && !has_layer(r, c->mod[k]))
                insert_layer(r, pos++, c->mod[k]);
        evidence(r, a, "frame %d: %s dispatches a request from a client into the acting code",
                 dispatch_at, tok(&s->f[dispatch_at], b2, sizeof b2));
    }

    /* 7. the name */
    int best = -1;
    for (int l = 0; l < r->nlayers; l++)
        if (best < 0 || t->mod[r->layers[l]].rank > t->mod[best].rank) best = r->layers[l];
    if (best < 0 && c->cls[init] == C_UNKNOWN) {
        /* nothing recognised and the acting frame itself is unresolved */
        r->name = t->m_unknown;
        weak = true;
        evidence(r, a, "frame %u: unresolved by the source: the acting code cannot be named", init);
    } else if (best < 0) {
        r->name = t->m_native;
        evidence(r, a, "frame %u: %s is native code with no runtime or dispatcher under it", init,
                 tok(&s->f[init], b1, sizeof b1));
    } else {
        r->name = best;
    }
    /* 8. return-oriented code: nothing called the stub, a `ret` reached it.
     * The chain is code the attacker controls, whatever frames it borrowed */
    if (r->anomalies & (1u << ANOM_STUB_BY_RETURN)) {
        int j = stub_entered_by_return(s, c->cls);
        const frame *f = &s->f[j];
        add_layer(t, r, t->m_shellcode);
        r->name = t->m_shellcode;
        r->syscall = SYSCALL_INDIRECT;
        weak = false;
        inferred = true; /* from the unwinder's frame above the stub */
        if (f->kind == FRAME_UNKNOWN)
            evidence(r, a,
                     "frame %d: the syscall stub returns into no mapping: a return reached the "
                     "stub, not a call (return-oriented code)",
                     j);
        else
            evidence(r, a,
                     "frame %d: %s follows no call instruction: a return reached the syscall "
                     "stub, not a call (return-oriented code)",
                     j, tok(f, b1, sizeof b1));
    }
    r->confidence = weak                                   ? CONF_LOW
                    : (inferred || truncated || untrusted) ? CONF_MEDIUM
                                                           : CONF_HIGH;
    if (truncated) evidence(r, a, "stack is truncated: layers below the cut are not seen");
    if (untrusted)
        evidence(r, a, "a return address is not preceded by a call: frames may be forged");

initiator:
    if (r->initiator >= 0) {
        const frame *f = &s->f[r->initiator];
        r->initiator_name = frame_token(f);
        r->initiator_path = f->kind == FRAME_MODULE ? f->path : (sv){NULL, 0};
    }
}

const uint8_t *classifier_classes(const classifier *c)
{
    return c->cls;
}

const int16_t *classifier_frame_modalities(const classifier *c)
{
    return c->mod;
}
