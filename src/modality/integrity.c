/* integrity.c - call-stack integrity findings that need no process memory.
 *
 *   unbacked               a frame in private executable memory
 *   rwx_frame              a frame whose page is writable and executable
 *   truncated              the stack was cut: Sysmon's 24-frame cap reached
 *                          without the thread start, or modus's own frame cap
 *   no_stub                frame 0 is not in the OS syscall stub layer
 *   module_overwritten     a backed module with private executable bytes
 *                          (allocation_private_bytes > 0: patched or hollowed)
 *   return_not_after_call  the bytes before a return address do not end with
 *                          an x86-64 call instruction (ROP, spoofed frames)
 *   malformed_frame        a frame the parser could not read
 *   not_after_syscall      Linux sensor events: the bytes just before frame 0
 *                          (where the thread entered the kernel) are not a
 *                          syscall instruction (0f 05, 0f 34, cd 80): the
 *                          registers or the frame were forged
 *   stub_entered_by_return Linux: frame 0 is the libc syscall stub, and the first
 *                          frame above the stub/API layer (the code the stub
 *                          returns to) is not preceded by a call, or lies
 *                          in no mapping ("Unknown" with "mapping":"none":
 *                          the live process confirmed it): nothing
 *                          called the stub, a `ret` reached it - a
 *                          return-oriented chain. Only that one frame is
 *                          judged, and only when its return address came
 *                          from the stub's unwind info: a frame the sensor
 *                          marks "unwind":"frame_pointer" is a guess (libc
 *                          has no frame pointers; clone3 ends its CFI
 *                          before the syscall) and is never judged.
 *
 * The call check decodes backwards: a return address is valid when some call
 * encoding ends exactly there: E8 rel32, or FF /2 (and FF /3) with any ModRM,
 * SIB and displacement, behind optional legacy and REX prefixes.
 */
#include "classify.h"

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool hex_decode(sv hex, uint8_t *out, size_t cap, size_t *n)
{
    if (hex.n % 2 || hex.n / 2 > cap) return false;
    for (size_t i = 0; i < hex.n; i += 2) {
        int h = hexv(hex.p[i]), l = hexv(hex.p[i + 1]);
        if (h < 0 || l < 0) return false;
        out[i / 2] = (uint8_t)(h << 4 | l);
    }
    *n = hex.n / 2;
    return true;
}

static bool is_prefix(uint8_t b)
{
    return (b >= 0x40 && b <= 0x4f) || b == 0x66 || b == 0x67 || b == 0x2e || b == 0x3e ||
           b == 0x26 || b == 0x36 || b == 0x64 || b == 0x65 || b == 0xf2 || b == 0xf3;
}

/* Length of FF /2|/3 starting at the ModRM byte, or 0 if not such a call. */
static size_t modrm_len(const uint8_t *m, size_t avail)
{
    if (!avail) return 0;
    uint8_t modrm = m[0], mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (reg != 2 && reg != 3) return 0;
    size_t len = 1;
    if (mod == 3) return len;
    if (rm == 4) {
        if (avail < 2) return 0;
        uint8_t base = m[1] & 7;
        len++;
        if (mod == 0 && base == 5) return len + 4;
    } else if (mod == 0 && rm == 5) {
        return len + 4; /* RIP-relative */
    }
    if (mod == 1) return len + 1;
    if (mod == 2) return len + 4;
    return len;
}

bool x86_call_ends_at(const uint8_t *code, size_t n)
{
    if (n >= 5 && code[n - 5] == 0xe8) return true;
    for (size_t l = 2; l <= 15 && l <= n; l++) {
        size_t start = n - l, i = start;
        while (i < n && is_prefix(code[i])) i++;
        if (i + 1 >= n || code[i] != 0xff) continue;
        size_t ml = modrm_len(code + i + 1, n - i - 1);
        if (ml && i + 1 + ml == n) return true;
    }
    return false;
}

/* Does the frame's callsite_leading_bytes end with a call? -1 when there
 * are too few bytes to tell. */
static int call_preceded(const frame *f)
{
    if (f->leading.n < 2 * 5 || f->leading.n % 2) return -1;
    /* a call is at most 15 bytes: decode only the tail */
    sv tail = f->leading;
    if (tail.n > 32) tail = (sv){tail.p + tail.n - 32, 32};
    uint8_t code[16];
    size_t len;
    if (!hex_decode(tail, code, sizeof code, &len)) return -1;
    return x86_call_ends_at(code, len);
}

int stub_entered_by_return(const stack *s, const uint8_t *cls)
{
    /* Linux sensor stacks only: on Windows, return_not_after_call and the
     * pack's stack-spoofing rule already judge such frames, and the Windows
     * sources' frames above kernelbase were reviewed as they are */
    if (s->os != STACK_OS_LINUX || s->n < 2 || cls[0] != C_STUB) return -1;
    uint32_t j = 1;
    while (j < s->n && (cls[j] == C_STUB || cls[j] == C_API)) j++;
    if (j == s->n) return -1;
    const frame *f = &s->f[j];
    if (f->guessed) return -1; /* the stub had no unwind info here (clone3's child path) */
    /* "Unknown" alone may be a mapping the sensor missed (a process gone
     * before its stack was unwound): only a confirmed one counts */
    if (f->kind == FRAME_UNKNOWN) return f->unmapped ? (int)j : -1;
    return call_preceded(f) == 0 ? (int)j : -1;
}

void stack_anomalies(const stack *s, const uint8_t *cls, uint32_t *out)
{
    uint32_t a = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const frame *f = &s->f[i];
        if (f->kind == FRAME_UNBACKED) a |= 1u << ANOM_UNBACKED;
        if (f->malformed) a |= 1u << ANOM_MALFORMED_FRAME;
        if (f->protection.n && memchr(f->protection.p, 'W', f->protection.n) &&
            memchr(f->protection.p, 'X', f->protection.n))
            a |= 1u << ANOM_RWX_FRAME;
        if (f->kind == FRAME_MODULE && f->alloc_private > 0) a |= 1u << ANOM_MODULE_OVERWRITTEN;
        /* frame 0 is where the thread entered the kernel: on Linux the
         * sensor copies the bytes before it, which end with the syscall */
        if (i == 0 && s->os == STACK_OS_LINUX && f->leading.n >= 4 && f->leading.n % 2 == 0) {
            uint8_t code[2];
            size_t len;
            sv tail = {f->leading.p + f->leading.n - 4, 4};
            if (hex_decode(tail, code, sizeof code, &len) &&
                !((code[0] == 0x0f && (code[1] == 0x05 || code[1] == 0x34)) ||
                  (code[0] == 0xcd && code[1] == 0x80)))
                a |= 1u << ANOM_NOT_AFTER_SYSCALL;
        }
        /* frame 0 is where the thread is, not a return address */
        if (i > 0 && call_preceded(f) == 0) a |= 1u << ANOM_RETURN_NOT_AFTER_CALL;
    }
    if (stub_entered_by_return(s, cls) >= 0) a |= 1u << ANOM_STUB_BY_RETURN;
    if (s->n && cls[0] != C_STUB && cls[0] != C_KERNEL) a |= 1u << ANOM_NO_STUB;
    if (s->cut) a |= 1u << ANOM_TRUNCATED;
    if (s->source == SRC_SYSMON && s->n >= MODUS_SYSMON_FRAME_CAP && !stack_ends_at_thread_start(s))
        a |= 1u << ANOM_TRUNCATED;
    *out = a;
}
