/* fuzz_ustack.c - libFuzzer target: registers + a stack copy unwound against
 * this process's own maps (real ELF files, CFI, symbols), plus map edits on
 * a made-up process.
 *
 * Input: 8 registers (64 bytes), a flags byte, then the stack copy. Absolute
 * addresses are unguessable under ASLR, so words tagged in their top 16 bits
 * are rebased: 0xc0de... -> near one of a few code addresses (this binary,
 * libc, an anonymous RWX page), 0x5ac0... -> near the stack copy's base.
 * Flags bit 7: the tail is a list of ustack_map edits instead, applied to
 * tgid FAKE before unwinding against it.
 * Invariants: n <= max, n >= 1 when ip != 0, frame 0 is 'S', later frames
 * are 'D' or 'F', unmapped frames have no module, every frame formats in
 * full into a buffer of its reported size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stack/ustack.h"

#define FAKE 0x7ffffff0u
#define SP   0x7ffc00000000ull

static ustack *U;
static uint64_t bases[3];

static void setup(void)
{
    U = ustack_create();
    if (!U) abort();
    void *rwx =
        mmap(NULL, 65536, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rwx == MAP_FAILED) abort();
    ustack_load_pid(U, (uint32_t)getpid());
    ustack_map(U, (uint32_t)getpid(), (uint64_t)(uintptr_t)rwx, (uint64_t)(uintptr_t)rwx + 65536, 0,
               USTACK_PROT_R | USTACK_PROT_W | USTACK_PROT_X, NULL, "fuzz");
    bases[0] = (uint64_t)(uintptr_t)&setup;
    bases[1] = (uint64_t)(uintptr_t)&getpid;
    bases[2] = (uint64_t)(uintptr_t)rwx + 32768;
}

static uint64_t rebase(uint64_t w)
{
    switch (w >> 48) {
    case 0xc0de: return bases[(w >> 32) % 3] + (w & 0xffffff) - 0x800000;
    case 0x5ac0: return SP + (w & 0xffff);
    default: return w;
    }
}

static void check(const ustack_frame *f, size_t n, size_t max, uint64_t ip, ustack_stop stop)
{
    if (n > max || (ip && n == 0) || stop > USTACK_STOP_MAX) abort();
    for (size_t i = 0; i < n; i++) {
        if (f[i].how != (i ? f[i].how : 'S') || (i && f[i].how != 'D' && f[i].how != 'F')) abort();
        if (!f[i].mapped && (f[i].module || f[i].symbol || f[i].provenance)) abort();
        if (f[i].anon_exec && f[i].module) abort();
        if (f[i].nlead > sizeof f[i].lead) abort();
        int len = ustack_format(&f[i], NULL, 0);
        if (len <= 0) abort();
        char *buf = malloc((size_t)len + 1);
        if (!buf || ustack_format(&f[i], buf, (size_t)len + 1) != len || strlen(buf) != (size_t)len)
            abort();
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!U) setup();
    uint64_t r[8] = {0};
    memcpy(r, data, size < sizeof r ? size : sizeof r);
    uint8_t flags = size > 64 ? data[64] : 0;
    const uint8_t *tail = size > 65 ? data + 65 : NULL;
    size_t tlen = size > 65 ? size - 65 : 0;
    ustack_regs regs = {rebase(r[0]), SP,           rebase(r[2]), rebase(r[3]),
                        rebase(r[4]), rebase(r[5]), rebase(r[6]), rebase(r[7])};
    if (r[1] && (r[1] >> 48) != 0x5ac0) regs.sp = r[1]; /* sometimes a raw sp */
    size_t max = 1 + (flags & 0x3f);
    uint32_t tgid = (uint32_t)getpid();

    if (flags & 0x80) {
        /* map edits: start, length, prot|kind, 24 bytes each */
        static const char *paths[] = {NULL,
                                      "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                      "/memfd:x (deleted)",
                                      "[vdso]",
                                      "/nonexistent/file",
                                      "relative"};
        for (size_t i = 0; i + 24 <= tlen && i < 64 * 24; i += 24) {
            uint64_t st, len, k;
            memcpy(&st, tail + i, 8);
            memcpy(&len, tail + i + 8, 8);
            memcpy(&k, tail + i + 16, 8);
            st = rebase(st);
            len &= 0xfffffff;
            ustack_map(U, FAKE, st, st + len, k >> 32, (uint32_t)k & 7, paths[(k >> 8) % 6],
                       (k & 0x10000) ? "node" : NULL);
        }
        if (flags & 0x40) {
            ustack_fork(U, FAKE, FAKE + 1);
            ustack_exit(U, FAKE);
            tgid = FAKE + 1;
        } else {
            tgid = FAKE;
        }
        tail = NULL;
        tlen = 0;
    }

    size_t words = tlen / 8;
    uint64_t *stack = malloc(words ? words * 8 : 1);
    if (!stack) return 0;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, tail + i * 8, 8);
        stack[i] = rebase(w);
    }
    ustack_frame f[64];
    ustack_stop stop = USTACK_STOP_END;
    size_t n = ustack_unwind(U, tgid, &regs, stack, words * 8, f, max, &stop);
    check(f, n, max, regs.ip, stop);
    free(stack);
    if (tgid != (uint32_t)getpid()) ustack_exit(U, tgid);
    return 0;
}
