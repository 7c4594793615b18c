/* ustack.h - user call stacks of other processes (the Linux sensor's unwinder).
 *
 * The kernel side (bpf/sensor.bpf.c) hands over, per event: the user
 * registers at syscall entry (ip, sp, bp, bx, r12-r15) and a copy of the top
 * of the user stack, starting at sp (a few KB, cut at the first unreadable
 * page). This module turns that into frames in the SPEC §2 Linux form,
 * without the process having to be alive when the event is processed:
 *
 *   - module maps per process (tgid), seeded by a /proc scan at start-up,
 *     updated from the sensor's exec / fork / mmap / exit events, reread from
 *     /proc/PID/maps on a miss while the process lives;
 *   - per ELF file (cached by build-id, or by dev+inode+mtime when there is
 *     none): the load bias, .symtab/.dynsym for names, .eh_frame CFI (libdw)
 *     for unwinding, file bytes for call-site checks;
 *   - runtimes recognised by their code: a module that defines one of the
 *     table's marker functions (_PyEval_EvalFrameDefault, Perl_runops_standard,
 *     node::Start...) is that runtime whatever its file is called;
 *   - an unwinder that reads memory only from the stack copy: CFI where the
 *     module has it, a frame-pointer step (ra=[bp+8], bp=[bp]) where it does
 *     not (JIT code, anonymous memory), stopping when the return address is
 *     undefined (thread start), sp does not grow, or the copy ends.
 *
 * Not thread-safe: one ustack per consumer thread.
 */
#ifndef MODUS_USTACK_H
#define MODUS_USTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ustack ustack;

typedef struct ustack_regs {
    uint64_t ip, sp, bp, bx, r12, r13, r14, r15;
} ustack_regs;

/* ustack_map prot bits */
#define USTACK_PROT_R 1u
#define USTACK_PROT_W 2u
#define USTACK_PROT_X 4u

ustack *ustack_create(void);
void ustack_destroy(ustack *u);

/* Module maps ------------------------------------------------------------ */

/* Read /proc/PID/maps of every live process; returns how many were read. */
size_t ustack_scan_proc(ustack *u);
/* (Re)read one process's maps from /proc; false when it is gone. */
bool ustack_load_pid(ustack *u, uint32_t tgid);
/* A mapping seen by the sensor (mmap/mprotect with PROT_EXEC, or exec).
 * path NULL: anonymous. provenance (may be NULL): for anonymous executable
 * memory, the runtime that made it executable ("node", "libjvm.so"...); it
 * is reported on frames that fall in the region. Overlapping older entries
 * are replaced. */
void ustack_map(ustack *u, uint32_t tgid, uint64_t start, uint64_t end, uint64_t pgoff,
                uint32_t prot, const char *path, const char *provenance);
/* The image the kernel mapped at exec (the program, or its interpreter):
 * the reported executable segment [start, end) at file offset pgoff. The
 * file is opened and parsed now, while it is most likely still there, and
 * its other executable segments (the kernel reports only one) are added
 * from its program headers, so the first stack of a never-seen binary
 * unwinds even when the process is gone by the time it is decoded. */
void ustack_image(ustack *u, uint32_t tgid, uint64_t start, uint64_t end, uint64_t pgoff,
                  const char *path);
void ustack_fork(ustack *u, uint32_t parent, uint32_t child); /* child inherits */
void ustack_exec(ustack *u, uint32_t tgid);                   /* old image gone; reread lazily */
void ustack_exit(ustack *u, uint32_t tgid);

/* Runtimes by their code: n patterns, each a function name (exact), a
 * prefix (`Builtins_*`) or a C++ qualified name (`node::Start`,
 * `JavaCalls::call_helper`, `node::*`), with the runtime name it stands for.
 * The first pattern (in order) that a module's symbols match names it.
 * Call before any unwind. False (and *bad = the pattern's index) when a
 * pattern has another form. */
bool ustack_set_code(ustack *u, const char *const *patterns, const char *const *names, size_t n,
                     size_t *bad);
/* A runtime's installed build: files with the build-id of `path` are
 * runtime `name` when their symbols say nothing (stripped: dash). False
 * when path has no build-id or the build is known already. */
bool ustack_add_known(ustack *u, const char *path, const char *name);
/* Whether ustack_set_code takes the pattern p[0..n) (the table checks). */
bool ustack_code_ok(const char *p, size_t n);

/* Unwinding --------------------------------------------------------------- */

typedef struct ustack_frame {
    uint64_t ip;            /* return address (frame 0: the instruction pointer) */
    const char *module;     /* file path; NULL: anonymous memory or no mapping */
    const char *symbol;     /* demangled function name; NULL when none covers ip */
    uint64_t offset;        /* from symbol; else ELF vaddr in module (addr2line);
                               else from the start of the anonymous region */
    const char *provenance; /* anonymous region's provenance, NULL when unknown */
    bool anon_exec;         /* ip in anonymous executable memory */
    bool writable;          /* ip's page is also writable (rwx) */
    bool mapped;            /* ip lies in some known mapping */
    char how;               /* 'S' from registers, 'D' CFI, 'F' frame pointer */
    const char *runtime;    /* the module's runtime recognised by its code, NULL */
    const char *runtime_by; /* how: "symbol _PyEval_EvalFrameDefault", "build-id HEX of PATH" */
    uint8_t lead[16];       /* the code bytes just before ip (file-backed only) */
    uint8_t nlead;          /* how many of lead[] are valid (0: unreadable) */
} ustack_frame;

typedef enum ustack_stop {
    USTACK_STOP_END,      /* return address undefined: the thread's first frame */
    USTACK_STOP_COPY,     /* ran off the end of the stack copy */
    USTACK_STOP_NOUNWIND, /* no CFI and the frame-pointer step failed */
    USTACK_STOP_LOOP,     /* sp did not grow */
    USTACK_STOP_MAX,      /* out[] full */
} ustack_stop;

/* Unwind one stack. `stack` is the copy of user memory at regs->sp.
 * Strings in out[] are owned by u and valid until the next ustack_* call on
 * u other than ustack_format (they live in a per-call arena, so the bounded
 * file and process caches can evict freely). Returns the number of frames
 * (at least 1 when regs->ip != 0). */
size_t ustack_unwind(ustack *u, uint32_t tgid, const ustack_regs *regs, const void *stack,
                     size_t stack_len, ustack_frame *out, size_t max, ustack_stop *stop);

/* A frame in the SPEC §2 Linux form:
 *   /usr/lib/x86_64-linux-gnu/libc.so.6!mprotect+0x7
 *   /usr/bin/bash+0x9665a               (no symbol: ELF vaddr)
 *   Unbacked+0x1f0                      (anonymous: offset in the region)
 * Returns the length snprintf would have written. */
int ustack_format(const ustack_frame *f, char *buf, size_t n);

#endif
