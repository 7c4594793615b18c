/* A native program that makes a page writable and executable with mprotect:
 * the sensor must name it `native` (no script on its stack). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) static int make_rwx(void *p)
{
    return mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
}

int main(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || make_rwx(p)) return perror("mprotect"), 1;
    usleep(200000); /* stay alive a moment: the maps are read on a miss */
    return 0;
}
