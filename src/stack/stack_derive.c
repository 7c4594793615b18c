/* stack_derive.c - the fields Elastic Defend computes from a stack, computed
 * the same way for sources that lack them (Sysmon, the Linux sensor):
 *
 *   call_stack_summary            module tokens top (frame 0) to bottom, a run
 *                                 of the same token collapsed to one, joined
 *                                 by '|'; private memory is "Unbacked", an
 *                                 unresolved frame "Unknown". Windows module
 *                                 names are lower-case, as Elastic writes them.
 *   call_stack_contains_unbacked  any Unbacked frame.
 *   call_stack_final_user_module  (classify.c, which knows the OS layers from
 *                                 the signature table) the first frame from the
 *                                 top outside the stub and API layers (ntdll,
 *                                 kernelbase, kernel32, win32u, wow64...; libc
 *                                 on Linux). Where every frame is OS code we
 *                                 name the bottom frame's module (Elastic's
 *                                 "ntdll.dll" case).
 */
#include "stack.h"

sv frame_token(const frame *f)
{
    switch (f->kind) {
    case FRAME_UNBACKED: return SV_LIT("Unbacked");
    case FRAME_UNKNOWN: return SV_LIT("Unknown");
    default: return f->name;
    }
}

void stack_summary(const stack *s, arena *a, sv *out)
{
    size_t len = 0;
    for (uint32_t i = 0; i < s->n; i++) len += frame_token(&s->f[i]).n + 1;
    char *p = arena_alloc(a, len + 1);
    if (!p) {
        *out = (sv){"", 0};
        return;
    }
    size_t n = 0;
    sv prev = {NULL, 0};
    for (uint32_t i = 0; i < s->n; i++) {
        sv t = frame_token(&s->f[i]);
        if (prev.p && sv_eq(prev, t)) continue;
        if (n) p[n++] = '|';
        memcpy(p + n, t.p, t.n);
        n += t.n;
        prev = t;
    }
    p[n] = 0;
    *out = (sv){p, n};
}

bool stack_contains_unbacked(const stack *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->f[i].kind == FRAME_UNBACKED) return true;
    return false;
}

bool stack_ends_at_thread_start(const stack *s)
{
    if (!s->n) return false;
    const frame *f = &s->f[s->n - 1];
    if (f->kind != FRAME_MODULE) return false;
    if (s->os == STACK_OS_WINDOWS)
        return sv_ieq(f->name, SV_LIT("ntdll.dll")) ||
               sv_ieq(f->symbol, SV_LIT("RtlUserThreadStart"));
    return sv_eq(f->symbol, SV_LIT("_start")) || sv_istarts(f->symbol, SV_LIT("__libc_start")) ||
           sv_eq(f->symbol, SV_LIT("start_thread")) || sv_istarts(f->symbol, SV_LIT("clone")) ||
           sv_istarts(f->symbol, SV_LIT("__clone")) || sv_istarts(f->name, SV_LIT("libc.so")) ||
           sv_istarts(f->name, SV_LIT("libc-"));
}
