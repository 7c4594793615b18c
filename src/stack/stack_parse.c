/* stack_parse.c - call-stack text forms into frames.
 *
 * Three sources, one frame model (stack.h):
 *   Sysmon CallTrace   C:\...\ntdll.dll+9d4c4|...|UNKNOWN(00007FF6A1B2C3D4)
 *                      frames joined by '|', optional "(wow64)" suffix, 8 or
 *                      16 hex digits, mixed case, '#' and '+' inside paths
 *                      (.NET native images, "notepad++.exe"): the offset is
 *                      the hex run after the *last* '+'.
 *   Elastic symbol_info c:\...\ntdll.dll!NtProtectVirtualMemory+0x14,
 *                      c:\...\kernelbase.dll+0x2c13e, Unbacked+0x3b5c, Unknown
 *   Linux (modus live) /usr/lib/x86_64-linux-gnu/libc.so.6!mprotect+0xb,
 *                      /usr/bin/python3.11+0x1a2, Unbacked+0x1f0
 * Sysmon's UNKNOWN(addr) is memory outside every loaded image, i.e. what
 * Elastic calls Unbacked; it becomes FRAME_UNBACKED. Elastic's "Unknown" (the
 * sensor could not resolve the frame) stays FRAME_UNKNOWN.
 *
 * A malformed frame is kept (its text becomes the module path, so nothing is
 * lost), flagged, and counted in stack.errors with its frame index and byte
 * offset; parsing goes on with the next frame. Cost: one pass over the text,
 * one arena copy per frame for the lower-cased module name.
 */
#include "stack.h"

#include <stdlib.h>

#include "../util/limits.h"

void stack_init(stack *s, uint8_t os, uint8_t source)
{
    s->n = 0;
    s->cap = 0;
    s->f = NULL;
    s->os = os;
    s->source = source;
    s->cut = false;
    s->errors = 0;
    s->err_msg = NULL;
    s->err_frame = 0;
    s->err_off = 0;
}

frame *stack_push(stack *s, arena *a)
{
    if (s->n >= MODUS_MAX_FRAMES) {
        s->cut = true;
        return NULL;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 32;
        frame *f = arena_alloc(a, sizeof(frame) * cap);
        if (!f) return NULL;
        if (s->n) memcpy(f, s->f, sizeof(frame) * s->n);
        s->f = f;
        s->cap = cap;
    }
    frame *f = &s->f[s->n++];
    memset(f, 0, sizeof *f);
    f->alloc_private = -1;
    return f;
}

static sv trim(sv t)
{
    while (t.n && (t.p[0] == ' ' || t.p[0] == '\t' || t.p[0] == '\r' || t.p[0] == '\n')) {
        t.p++;
        t.n--;
    }
    while (t.n && (t.p[t.n - 1] == ' ' || t.p[t.n - 1] == '\t' || t.p[t.n - 1] == '\r' ||
                   t.p[t.n - 1] == '\n'))
        t.n--;
    return t;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 1..16 hex digits, nothing else. */
static bool parse_hex(sv t, uint64_t *out)
{
    if (t.n == 0 || t.n > 16) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        int h = hexval(t.p[i]);
        if (h < 0) return false;
        v = (v << 4) | (uint64_t)h;
    }
    *out = v;
    return true;
}

static void set_module(frame *f, arena *a, sv path, uint8_t os)
{
    f->kind = FRAME_MODULE;
    f->path = path;
    sv base = sv_basename(path);
    f->name = os == STACK_OS_WINDOWS ? arena_lower(a, base) : base;
}

static void mark_bad(frame *f, arena *a, sv text, uint8_t os)
{
    set_module(f, a, text, os);
    f->malformed = true;
}

static bool strip_wow64(sv *t)
{
    static const sv suf = {"(wow64)", 7};
    if (sv_iends(*t, suf)) {
        t->n -= suf.n;
        return true;
    }
    return false;
}

/* One Sysmon frame. */
static bool parse_sysmon_frame(frame *f, arena *a, sv t, uint8_t os)
{
    t = trim(t);
    f->wow64 = strip_wow64(&t);
    static const sv unk = {"UNKNOWN(", 8};
    if (sv_istarts(t, unk)) {
        if (t.n > unk.n && t.p[t.n - 1] == ')' &&
            parse_hex((sv){t.p + unk.n, t.n - unk.n - 1}, &f->address)) {
            f->kind = FRAME_UNBACKED;
            f->has_address = true;
            return true;
        }
        mark_bad(f, a, t, os);
        return false;
    }
    size_t plus = t.n;
    while (plus > 0 && t.p[plus - 1] != '+') plus--;
    if (plus > 1 && parse_hex((sv){t.p + plus, t.n - plus}, &f->offset)) {
        set_module(f, a, (sv){t.p, plus - 1}, os);
        f->has_offset = true;
        return true;
    }
    mark_bad(f, a, t, os);
    return false;
}

static void note_error(stack *s, const char *msg, size_t off)
{
    if (!s->errors++) {
        s->err_msg = msg;
        s->err_frame = s->n ? s->n - 1 : 0;
        s->err_off = off;
    }
}

void stack_parse_calltrace(stack *s, arena *a, sv text)
{
    size_t start = 0;
    if (trim(text).n == 0) return;
    for (size_t i = 0; i <= text.n; i++) {
        if (i < text.n && text.p[i] != '|') continue;
        sv t = {text.p + start, i - start};
        frame *f = stack_push(s, a);
        if (!f) return;
        if (trim(t).n == 0) {
            mark_bad(f, a, t, STACK_OS_WINDOWS);
            note_error(s, "empty frame", start);
        } else if (!parse_sysmon_frame(f, a, t, STACK_OS_WINDOWS)) {
            note_error(s, "frame is neither PATH+HEX nor UNKNOWN(HEX)", start);
        }
        start = i + 1;
    }
}

bool stack_parse_symbol_info(frame *f, arena *a, sv text, uint8_t os)
{
    sv t = trim(text);
    if (t.n == 0) {
        mark_bad(f, a, t, os);
        return false;
    }
    if (sv_ieq(t, SV_LIT("Unknown"))) {
        f->kind = FRAME_UNKNOWN;
        return true;
    }
    /* offset: the last "+0x" followed only by hex digits */
    sv base = t;
    for (size_t i = t.n; i >= 3; i--) {
        if (t.p[i - 3] == '+' && t.p[i - 2] == '0' && (t.p[i - 1] == 'x' || t.p[i - 1] == 'X')) {
            if (parse_hex((sv){t.p + i, t.n - i}, &f->offset)) {
                f->has_offset = true;
                base = (sv){t.p, i - 3};
            }
            break;
        }
    }
    if (sv_ieq(base, SV_LIT("Unbacked"))) {
        f->kind = FRAME_UNBACKED;
        return true;
    }
    /* '!' after the last path separator splits module and symbol */
    sv name = sv_basename(base);
    size_t dir = (size_t)(name.p - base.p);
    const char *bang = memchr(name.p, '!', name.n);
    sv path = base;
    if (bang) {
        path = (sv){base.p, dir + (size_t)(bang - name.p)};
        f->symbol = (sv){bang + 1, base.n - path.n - 1};
    }
    if (path.n == 0) {
        mark_bad(f, a, t, os);
        return false;
    }
    set_module(f, a, path, os);
    return true;
}

bool stack_parse_any(frame *f, arena *a, sv text, uint8_t os)
{
    sv t = trim(text);
    sv u = t;
    bool w = strip_wow64(&u);
    if (sv_istarts(u, SV_LIT("UNKNOWN("))) return parse_sysmon_frame(f, a, t, os);
    /* Sysmon form: "+HEX" at the end without "0x" */
    size_t plus = u.n;
    while (plus > 0 && u.p[plus - 1] != '+') plus--;
    uint64_t dummy;
    if (plus > 1 && (w || !(u.n > plus + 1 && u.p[plus] == '0' && (u.p[plus + 1] | 32) == 'x')) &&
        parse_hex((sv){u.p + plus, u.n - plus}, &dummy) && !memchr(u.p, '!', u.n))
        return parse_sysmon_frame(f, a, t, os);
    return stack_parse_symbol_info(f, a, t, os);
}
