/* test_ustack.c - ustack on this process's own stack: CFI unwinding (this
 * file is built with -O2 -fomit-frame-pointer), the frame-pointer fallback
 * through anonymous memory, symbolization after the process exited, the
 * three frame forms, and garbage input. Prints µs per warm unwind. */
#include "check.h"
#include "stack/stack.h"
#include "stack/ustack.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

#define COPY_MAX 16384 /* what the sensor copies at most */
#define NF       64

typedef struct snap {
    ustack_regs r;
    uint64_t len;
    uint8_t stack[COPY_MAX];
} snap;

static uint64_t stack_top; /* end of the mapping holding the stack */
static snap self_snap;     /* captured by main, before anything else */
static char exe[4096];

static void find_stack_top(void)
{
    int local = 0;
    uint64_t a = (uint64_t)(uintptr_t)&local;
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long s, e;
        if (sscanf(line, "%llx-%llx", &s, &e) == 2 && a >= s && a < e) stack_top = e;
    }
    if (f) fclose(f);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
}

/* Reads the live stack above sp, other frames' redzones included. */
__attribute__((no_sanitize("address"))) NOINLINE static void copy_stack(snap *s)
{
    uint64_t n = stack_top - s->r.sp;
    if (n > COPY_MAX) n = COPY_MAX;
    const volatile uint8_t *src = (const volatile uint8_t *)(uintptr_t)s->r.sp;
    for (uint64_t i = 0; i < n; i++) s->stack[i] = src[i];
    s->len = n;
}

NOINLINE void capture(snap *s)
{
    __asm__ volatile("leaq 0(%%rip), %%rax\n\t"
                     "movq %%rax, 0(%0)\n\t"
                     "movq %%rsp, 8(%0)\n\t"
                     "movq %%rbp, 16(%0)\n\t"
                     "movq %%rbx, 24(%0)\n\t"
                     "movq %%r12, 32(%0)\n\t"
                     "movq %%r13, 40(%0)\n\t"
                     "movq %%r14, 48(%0)\n\t"
                     "movq %%r15, 56(%0)\n\t"
                     :
                     : "r"(&s->r)
                     : "rax", "memory");
    copy_stack(s);
}

NOINLINE int level_b(snap *s)
{
    capture(s);
    __asm__ volatile("" ::: "memory");
    return (int)s->len + 1;
}

NOINLINE int level_a(snap *s)
{
    int r = level_b(s);
    __asm__ volatile("" ::: "memory");
    return r + 2;
}

static bool sym_is(const ustack_frame *f, const char *name)
{
    return f->symbol && !strcmp(f->symbol, name);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void dump(const char *title, const ustack_frame *f, size_t n, ustack_stop stop)
{
    fprintf(stderr, "%s: %zu frames, stop %d\n", title, n, (int)stop);
    for (size_t i = 0; i < n; i++) {
        char buf[1024];
        ustack_format(&f[i], buf, sizeof buf);
        fprintf(stderr, "  %c %016llx %s%s%s\n", f[i].how, (unsigned long long)f[i].ip, buf,
                f[i].provenance ? " prov=" : "", f[i].provenance ? f[i].provenance : "");
    }
}

/* capture / level_b / level_a / main / libc start code, all through CFI */
static void check_own_stack(const char *title, ustack *u, uint32_t tgid, const snap *s,
                            const char *caller)
{
    ustack_frame f[NF];
    ustack_stop stop = USTACK_STOP_MAX;
    size_t n = ustack_unwind(u, tgid, &s->r, s->stack, s->len, f, NF, &stop);
    dump(title, f, n, stop);
    CHECK(n >= 5, "%s: %zu frames", title, n);
    if (n < 5) return;
    CHECK(f[0].how == 'S' && sym_is(&f[0], "capture"), "%s: frame 0 is capture", title);
    CHECK_STR(f[0].module, exe);
    CHECK(f[0].mapped && !f[0].anon_exec && !f[0].writable, "%s: frame 0 flags", title);
    CHECK(sym_is(&f[1], "level_b") && f[1].how == 'D', "%s: frame 1 level_b by CFI", title);
    CHECK(sym_is(&f[2], "level_a") && f[2].how == 'D', "%s: frame 2 level_a by CFI", title);
    CHECK(sym_is(&f[3], caller) && f[3].how == 'D', "%s: frame 3 %s by CFI", title, caller);
    /* level_b's return address follows its `call capture` (E8 rel32) */
    CHECK(f[1].nlead >= 5 && f[1].lead[f[1].nlead - 5] == 0xe8, "%s: lead bytes end in a call",
          title);
    bool libc = false;
    for (size_t i = 4; i < n; i++) libc |= ends_with(f[i].module, "/libc.so.6") && f[i].how == 'D';
    CHECK(libc, "%s: main's caller is in libc", title);
    CHECK(stop == USTACK_STOP_END, "%s: stops at the thread's first frame (%d)", title, (int)stop);
    CHECK(sym_is(&f[n - 1], "_start") || sym_is(&f[n - 1], "__libc_start_main"),
          "%s: ends in the start code, not '%s'", title, f[n - 1].symbol ? f[n - 1].symbol : "");

    /* out[] full */
    n = ustack_unwind(u, tgid, &s->r, s->stack, s->len, f, 2, &stop);
    CHECK(n == 2 && stop == USTACK_STOP_MAX, "%s: max 2 -> %zu, stop %d", title, n, (int)stop);
    /* an empty copy: the registers give frame 0, its return address is not there */
    n = ustack_unwind(u, tgid, &s->r, s->stack, 0, f, NF, &stop);
    CHECK(n == 1 && stop == USTACK_STOP_COPY, "%s: empty copy -> %zu, stop %d", title, n,
          (int)stop);
}

NOINLINE static void test_self(void)
{
    ustack *u = ustack_create();
    CHECK(u != NULL, "create");
    CHECK(ustack_load_pid(u, (uint32_t)getpid()), "load own maps");
    check_own_stack("self", u, (uint32_t)getpid(), &self_snap, "main");
    /* maps never loaded: read from /proc on first use */
    ustack *v = ustack_create();
    check_own_stack("self, lazy maps", v, (uint32_t)getpid(), &self_snap, "main");
    ustack_exec(v, (uint32_t)getpid()); /* stale: reread, same image */
    check_own_stack("self, after exec mark", v, (uint32_t)getpid(), &self_snap, "main");
    ustack_destroy(v);
    ustack_destroy(u);
}

/* Frame 0 in anonymous RWX memory registered by the sensor, with a frame
 * pointer chain through it back into level_a. */
NOINLINE static void test_fp_fallback(void)
{
    uint8_t *code =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(code != MAP_FAILED, "mmap rwx");
    if (code == MAP_FAILED) return;
    uint64_t base = (uint64_t)(uintptr_t)code;
    uint32_t me = (uint32_t)getpid();
    ustack *u = ustack_create();
    ustack_load_pid(u, me);
    ustack_map(u, me, base, base + 4096, 0, USTACK_PROT_R | USTACK_PROT_W | USTACK_PROT_X, NULL,
               "node");

    /* level_a's return address into main, from the real capture */
    ustack_frame real[NF];
    size_t nr = ustack_unwind(u, me, &self_snap.r, self_snap.stack, self_snap.len, real, NF, NULL);
    CHECK(nr >= 4 && sym_is(&real[2], "level_a"), "real stack for the fp test");
    if (nr < 4) goto out;
    uint64_t ra_level_a = real[2].ip;

    uint64_t words[64] = {0}, sp = 0x7ffd00001000ull;
    words[4] = sp + 0x40;   /* [bp1] = bp2 */
    words[5] = base + 0x20; /* [bp1+8]: back into the anonymous code */
    words[8] = 0;           /* [bp2] */
    words[9] = ra_level_a;  /* [bp2+8]: into level_a, which has CFI */
    ustack_regs r = {.ip = base + 0x10, .sp = sp, .bp = sp + 0x20};

    for (int pass = 0; pass < 2; pass++) {
        ustack_frame f[NF];
        ustack_stop stop;
        size_t n = ustack_unwind(u, me, &r, words, sizeof words, f, NF, &stop);
        dump("fp fallback", f, n, stop);
        CHECK(n >= 3, "fp: %zu frames", n);
        if (n < 3) break;
        char buf[256];
        ustack_format(&f[0], buf, sizeof buf);
        CHECK_STR(buf, "Unbacked+0x10");
        CHECK(f[0].how == 'S' && f[0].anon_exec && f[0].writable && f[0].mapped && !f[0].module &&
                  f[0].nlead == 0,
              "fp: frame 0 flags");
        CHECK_STR(f[0].provenance, "node");
        ustack_format(&f[1], buf, sizeof buf);
        CHECK_STR(buf, "Unbacked+0x20");
        CHECK(f[1].how == 'F' && f[1].provenance && f[1].anon_exec, "fp: frame 1 by FP");
        CHECK(f[2].how == 'F' && sym_is(&f[2], "level_a"), "fp: frame 2 is level_a by FP");
        CHECK(stop != USTACK_STOP_MAX, "fp: stops");
        /* a reread of /proc/PID/maps keeps what the sensor said about the region */
        ustack_load_pid(u, me);
    }
out:
    ustack_destroy(u);
    munmap(code, 4096);
}

static snap sig_snap;

NOINLINE static void on_signal(int sig)
{
    capture(&sig_snap);
    __asm__ volatile("" ::: "memory");
}

NOINLINE int sig_origin(void)
{
    int r = raise(SIGUSR1);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

/* Through a signal frame: libc's __restore_rt has CFI expressions that read
 * the registers back from the ucontext in the copy. */
NOINLINE static void test_signal(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    CHECK(sig_origin() == 1 && sig_snap.len > 0, "signal delivered");
    signal(SIGUSR1, SIG_DFL);
    ustack *u = ustack_create();
    ustack_frame f[NF];
    ustack_stop stop;
    size_t n = ustack_unwind(u, (uint32_t)getpid(), &sig_snap.r, sig_snap.stack, sig_snap.len, f,
                             NF, &stop);
    dump("signal", f, n, stop);
    size_t origin = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (sym_is(&f[i], "sig_origin") && f[i].how == 'D') origin = i;
        if (sym_is(&f[i], "main") && f[i].how == 'D') m = i;
    }
    CHECK(n >= 4 && sym_is(&f[1], "on_signal"), "signal: handler frame");
    CHECK(n >= 4 && ends_with(f[2].module, "/libc.so.6") && f[2].how == 'D',
          "signal: the trampoline in libc");
    CHECK(origin > 2 && m > origin, "signal: interrupted sig_origin, later main");
    CHECK(stop == USTACK_STOP_END, "signal: to the end (%d)", (int)stop);
    ustack_destroy(u);
}

/* The child captures its stack, hands it over and exits; the parent
 * symbolizes it afterwards from the inherited maps. */
NOINLINE void test_after_exit(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        static snap s;
        level_a(&s);
        size_t off = 0;
        while (off < sizeof s) {
            ssize_t w = write(p[1], (char *)&s + off, sizeof s - off);
            if (w <= 0) _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(p[1]);
    static snap s;
    size_t off = 0;
    while (off < sizeof s) {
        ssize_t r = read(p[0], (char *)&s + off, sizeof s - off);
        if (r <= 0) break;
        off += (size_t)r;
    }
    close(p[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child exit");
    CHECK(off == sizeof s, "child's capture received");
    CHECK(kill(pid, 0) == -1 && errno == ESRCH, "child is gone");
    ustack *u = ustack_create(); /* nothing cached: files are opened after the exit */
    CHECK(ustack_load_pid(u, (uint32_t)getpid()), "load parent maps");
    ustack_fork(u, (uint32_t)getpid(), (uint32_t)pid);
    check_own_stack("after exit", u, (uint32_t)pid, &s, "test_after_exit");

    /* once the sensor reports the exit, the maps are gone */
    ustack_exit(u, (uint32_t)pid);
    ustack_frame f[NF];
    ustack_stop stop;
    size_t n = ustack_unwind(u, (uint32_t)pid, &s.r, s.stack, s.len, f, NF, &stop);
    char buf[64], want[64];
    ustack_format(&f[0], buf, sizeof buf);
    snprintf(want, sizeof want, "Unknown"); /* no mapping: not code we can name */
    CHECK(n >= 1 && !f[0].mapped && !strcmp(buf, want), "after exit event: '%s'", buf);
    ustack_destroy(u);
}

NOINLINE static void test_format(void)
{
    static arena A;
    arena_init(&A, 0);
    char buf[512];
    ustack_frame f = {
        .module = "/usr/lib/x86_64-linux-gnu/libc.so.6", .symbol = "mprotect", .offset = 7};
    int n = ustack_format(&f, buf, sizeof buf);
    CHECK_STR(buf, "/usr/lib/x86_64-linux-gnu/libc.so.6!mprotect+0x7");
    CHECK(n == (int)strlen(buf), "length");
    frame pf;
    memset(&pf, 0, sizeof pf);
    pf.alloc_private = -1;
    CHECK(stack_parse_symbol_info(&pf, &A, sv_cstr(buf), 1) && pf.kind == FRAME_MODULE &&
              sv_eq(pf.symbol, sv_cstr("mprotect")) && pf.offset == 7,
          "module!symbol parses back");

    f = (ustack_frame){.module = "/usr/bin/bash", .offset = 0x9665a};
    ustack_format(&f, buf, sizeof buf);
    CHECK_STR(buf, "/usr/bin/bash+0x9665a");
    memset(&pf, 0, sizeof pf);
    pf.alloc_private = -1;
    CHECK(stack_parse_symbol_info(&pf, &A, sv_cstr(buf), 1) && pf.kind == FRAME_MODULE &&
              pf.symbol.n == 0 && pf.offset == 0x9665a,
          "module+vaddr parses back");

    f = (ustack_frame){.ip = 0x203000, .offset = 0x203000};
    ustack_format(&f, buf, sizeof buf);
    CHECK_STR(buf, "Unknown"); /* in no mapping: a garbage return address */

    f = (ustack_frame){.offset = 0x1f0, .anon_exec = true};
    ustack_format(&f, buf, sizeof buf);
    CHECK_STR(buf, "Unbacked+0x1f0");
    memset(&pf, 0, sizeof pf);
    pf.alloc_private = -1;
    CHECK(stack_parse_symbol_info(&pf, &A, sv_cstr(buf), 1) && pf.kind == FRAME_UNBACKED &&
              pf.offset == 0x1f0,
          "Unbacked parses back");

    char small[5];
    n = ustack_format(&f, small, sizeof small);
    CHECK(n == 14 && !strcmp(small, "Unba"), "truncated: %d '%s'", n, small);
    arena_free(&A);
}

static uint64_t xs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    xs ^= xs << 13;
    xs ^= xs >> 7;
    xs ^= xs << 17;
    return xs;
}

NOINLINE static void test_garbage(void)
{
    ustack *u = ustack_create();
    uint32_t me = (uint32_t)getpid();
    ustack_load_pid(u, me);
    static uint64_t words[1024];
    bool ok = true;
    for (int it = 0; it < 2000 && ok; it++) {
        for (size_t i = 0; i < 1024; i++) {
            words[i] = rnd();
            /* some words look like code addresses or like stack addresses */
            if (i % 3 == 0) words[i] = self_snap.r.ip + (words[i] & 0xfff) - 0x800;
            if (i % 7 == 0) words[i] = self_snap.r.sp + (words[i] & 0x1fff);
        }
        ustack_regs r = {.ip = it & 1 ? self_snap.r.ip + (rnd() & 0xff) : rnd(),
                         .sp = self_snap.r.sp,
                         .bp = self_snap.r.sp + (rnd() & 0x1fff),
                         .bx = rnd(),
                         .r12 = rnd()};
        if (!r.ip) r.ip = 1;
        ustack_frame f[NF];
        ustack_stop stop;
        size_t len = (size_t)(rnd() % sizeof words);
        size_t n = ustack_unwind(u, me, &r, words, len, f, NF, &stop);
        ok = n >= 1 && n <= NF && (int)stop >= 0 && stop <= USTACK_STOP_MAX;
        for (size_t i = 0; i < n && ok; i++) {
            char buf[2048];
            int l = ustack_format(&f[i], buf, sizeof buf);
            ok = l > 0 && (size_t)l < sizeof buf && strlen(buf) == (size_t)l;
        }
    }
    CHECK(ok, "garbage stacks: at least one frame, formats fit");
    ustack_destroy(u);
}

/* Another process, a stock Debian binary (stripped, no frame pointers):
 * `cat` blocked in read(2), registers and stack taken with ptrace, as the
 * sensor would. Skipped when ptrace is not allowed. */
NOINLINE static void test_foreign(void)
{
    int p[2];
    if (pipe(p) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[1]);
        execl("/bin/cat", "cat", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    /* wait until it sits in read(2): /proc/PID/syscall starts with "0 " */
    char fn[64], sc[64];
    snprintf(fn, sizeof fn, "/proc/%d/syscall", (int)pid);
    bool in_read = false;
    for (int i = 0; i < 500 && !in_read; i++) {
        int fd = open(fn, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, sc, sizeof sc - 1) : -1;
        if (fd >= 0) close(fd);
        in_read = n > 2 && !strncmp(sc, "0 ", 2);
        if (!in_read) usleep(10000);
    }
    struct user_regs_struct r;
    if (!in_read || ptrace(PTRACE_ATTACH, pid, 0, 0) != 0) {
        printf("skip: foreign process (%s)\n", in_read ? strerror(errno) : "cat not in read");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[1]);
        return;
    }
    waitpid(pid, NULL, 0);
    bool got = ptrace(PTRACE_GETREGS, pid, 0, &r) == 0;
    static uint8_t copy[COPY_MAX];
    size_t len = 0;
    while (got && len < sizeof copy) { /* page by page, up to the first fault */
        size_t want = 4096 - ((r.rsp + len) & 4095);
        if (want > sizeof copy - len) want = sizeof copy - len;
        struct iovec l = {copy + len, want}, rm = {(void *)(uintptr_t)(r.rsp + len), want};
        ssize_t n = process_vm_readv(pid, &l, 1, &rm, 1, 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    ustack *u = ustack_create();
    CHECK(ustack_load_pid(u, (uint32_t)pid), "load cat's maps");
    ustack_regs ur = {r.rip, r.rsp, r.rbp, r.rbx, r.r12, r.r13, r.r14, r.r15};
    ustack_frame f[NF];
    ustack_stop stop = USTACK_STOP_NOUNWIND;
    size_t n = got ? ustack_unwind(u, (uint32_t)pid, &ur, copy, len, f, NF, &stop) : 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[1]);
    dump("cat", f, n, stop);
    CHECK(got && n >= 5, "cat: %zu frames", n);
    if (n >= 5) {
        CHECK(ends_with(f[0].module, "/libc.so.6") && f[0].symbol && f[0].how == 'S',
              "cat: frame 0 in libc's read");
        size_t in_cat = 0;
        bool start_main = false;
        for (size_t i = 1; i < n; i++) {
            char buf[512];
            ustack_format(&f[i], buf, sizeof buf);
            /* stripped: no symbol, the ELF vaddr */
            if (ends_with(f[i].module, "/cat") && !f[i].symbol && f[i].how == 'D' &&
                strstr(buf, "/cat+0x"))
                in_cat++;
            start_main |= sym_is(&f[i], "__libc_start_main");
        }
        CHECK(in_cat >= 2, "cat: %zu frames in cat's static functions", in_cat);
        CHECK(start_main && stop == USTACK_STOP_END, "cat: through __libc_start_main to the end");
    }
    ustack_destroy(u);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Not a timed test: prints the figure for BENCHMARKS. */
NOINLINE static void bench(void)
{
    ustack_frame f[NF];
    uint32_t me = (uint32_t)getpid();
    double t0 = now_us();
    ustack *u = ustack_create();
    size_t n = ustack_unwind(u, me, &self_snap.r, self_snap.stack, self_snap.len, f, NF, NULL);
    double cold = now_us() - t0;
    int iters = 20000;
    t0 = now_us();
    for (int i = 0; i < iters; i++)
        ustack_unwind(u, me, &self_snap.r, self_snap.stack, self_snap.len, f, NF, NULL);
    double warm = (now_us() - t0) / iters;
    printf("bench: %zu frames, cold %.1f us (maps + ELF parse), warm %.2f us/unwind\n", n, cold,
           warm);
    ustack_destroy(u);
}

int main(void)
{
    find_stack_top();
    CHECK(level_a(&self_snap) > 0 && self_snap.len > 256, "capture");
    test_self();
    test_fp_fallback();
    test_signal();
    test_after_exit();
    test_format();
    test_garbage();
    test_foreign();
    bench();
    return check_done();
}
