/* Shellcode's view of the kernel: a `syscall` instruction issued from
 * anonymous executable memory, not through libc. The stub below is
 *   mov eax, 10 (mprotect) ; syscall ; ret
 * called with the mprotect arguments already in rdi, rsi, rdx. The sensor
 * must name it `shellcode` with modality.syscall `direct`. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    static const unsigned char stub[] = {0xb8, 0x0a, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3};
    unsigned char *code =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *target = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED || target == MAP_FAILED) return perror("mmap"), 1;
    memcpy(code + 0x40, stub, sizeof stub);
    if (mprotect(code, 4096, PROT_READ | PROT_EXEC)) return perror("mprotect"), 1;
    long (*fn)(void *, long, long) = (long (*)(void *, long, long))(code + 0x40);
    long r = fn(target, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    usleep(200000);
    return r == 0 ? 0 : 1;
}
