/* Return-oriented mprotect: the program never calls mprotect. It pushes a
 * continuation address and libc's mprotect, loads the arguments, and jumps
 * to a `ret` found in libc's own code; that ret "returns" into mprotect,
 * which makes an anonymous page RWX and returns to the continuation - an
 * address no call instruction precedes. Built with gcc -O2 (no frame
 * pointers), as the test does. Exits 0 when the page became executable.
 * With --nomap the chain's continuation is an address in no mapping (a page
 * mapped and unmapped again): mprotect returns there, the SIGSEGV handler
 * jumps back, and the program lingers so the sensor can ask its maps. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf back;

static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(back, 1);
}

/* cont: where mprotect returns; NULL: the label right after the chain */
__attribute__((noinline)) static long rop_mprotect(void *page, void *fn, void *gadget, void *cont)
{
    long ret;
    __asm__ volatile("sub $128, %%rsp\n\t" /* step over the red zone */
                     "lea 1f(%%rip), %%rax\n\t"
                     "test %[cont], %[cont]\n\t"
                     "cmovnz %[cont], %%rax\n\t"
                     "push %%rax\n\t" /* where mprotect returns: no call precedes it */
                     "push %[fn]\n\t" /* the gadget's ret pops this */
                     "mov %[page], %%rdi\n\t"
                     "mov $4096, %%esi\n\t"
                     "mov $7, %%edx\n\t" /* PROT_READ | PROT_WRITE | PROT_EXEC */
                     "jmp *%[gadget]\n"
                     "1:\n\t"
                     "add $128, %%rsp\n\t"
                     : "=&a"(ret)
                     : [page] "r"(page), [fn] "r"(fn), [gadget] "r"(gadget), [cont] "r"(cont)
                     : "rdi", "rsi", "rdx", "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
    return ret;
}

int main(int argc, char **argv)
{
    int nomap = argc > 1 && !strcmp(argv[1], "--nomap");
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return perror("mmap"), 1;
    void *fn = (void *)&mprotect;
    /* a `ret` (c3) in libc: the first within mprotect's own bytes */
    uint8_t *gadget = NULL;
    for (uint8_t *p = fn; p < (uint8_t *)fn + 64; p++)
        if (*p == 0xc3) {
            gadget = p;
            break;
        }
    if (!gadget) return fprintf(stderr, "rop_mprotect: no ret gadget in mprotect\n"), 1;
    if (nomap) {
        void *hole = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (hole == MAP_FAILED || munmap(hole, 4096)) return perror("mmap"), 1;
        signal(SIGSEGV, on_segv);
        if (!sigsetjmp(back, 1)) {
            rop_mprotect(page, fn, gadget, hole);
            return fprintf(stderr, "rop_mprotect: came back from no mapping\n"), 1;
        }
        signal(SIGSEGV, SIG_DFL);
        printf("mprotect returned into no mapping at %p\n", hole);
        usleep(500000); /* alive while the sensor reads its maps */
        return 0;
    }
    long r = rop_mprotect(page, fn, gadget, NULL);
    if (r != 0) return fprintf(stderr, "rop_mprotect: mprotect returned %ld\n", r), 1;
    /* the page is executable now: run a `ret` placed in it */
    memcpy(page, "\xc3", 1);
    ((void (*)(void))page)();
    printf("rwx at %p through a ret gadget at %p\n", page, (void *)gadget);
    usleep(200000); /* stay alive a moment: the maps are read on a miss */
    return 0;
}
