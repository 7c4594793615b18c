/* Return-oriented mprotect: the program never calls mprotect. It pushes a
 * continuation address and libc's mprotect, loads the arguments, and jumps
 * to a `ret` found in libc's own code; that ret "returns" into mprotect,
 * which makes an anonymous page RWX and returns to the continuation - an
 * address no call instruction precedes. Built with gcc -O2 (no frame
 * pointers), as the test does. Exits 0 when the page became executable. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) static long rop_mprotect(void *page, void *fn, void *gadget)
{
    long ret;
    __asm__ volatile("sub $128, %%rsp\n\t" /* step over the red zone */
                     "lea 1f(%%rip), %%rax\n\t"
                     "push %%rax\n\t" /* where mprotect returns: no call precedes it */
                     "push %[fn]\n\t" /* the gadget's ret pops this */
                     "mov %[page], %%rdi\n\t"
                     "mov $4096, %%esi\n\t"
                     "mov $7, %%edx\n\t" /* PROT_READ | PROT_WRITE | PROT_EXEC */
                     "jmp *%[gadget]\n"
                     "1:\n\t"
                     "add $128, %%rsp\n\t"
                     : "=&a"(ret)
                     : [page] "r"(page), [fn] "r"(fn), [gadget] "r"(gadget)
                     : "rdi", "rsi", "rdx", "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
    return ret;
}

int main(void)
{
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
    long r = rop_mprotect(page, fn, gadget);
    if (r != 0) return fprintf(stderr, "rop_mprotect: mprotect returned %ld\n", r), 1;
    /* the page is executable now: run a `ret` placed in it */
    memcpy(page, "\xc3", 1);
    ((void (*)(void))page)();
    printf("rwx at %p through a ret gadget at %p\n", page, (void *)gadget);
    usleep(200000); /* stay alive a moment: the maps are read on a miss */
    return 0;
}
