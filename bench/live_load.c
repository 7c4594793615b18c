/* live_load.c - syscall load for bench/live.sh: N operations of one kind,
 * prints ns per operation (CLOCK_MONOTONIC).
 *   rwx N      mprotect a page RW -> RWX -> RW: every RWX is an event
 *   rw N       mprotect a page R <-> RW: filtered in the kernel (no PROT_EXEC)
 *   open N     open(O_WRONLY|O_CREAT)+close of a file in /tmp: filtered
 *   getppid N  a syscall the sensor does not hook at all
 *   write N    write(2) of 64 bytes to /dev/null: the /proc/PID/mem hook on
 *              sys_enter_write, before any mem file was opened (one load)
 *   pmemwrite N  the same after opening /proc/self/mem (kept open): every
 *              write now looks its (tgid, fd) up in the kernel's map */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: live_load rwx|rw|open|getppid|write|pmemwrite N\n");
        return 2;
    }
    long n = atol(argv[2]);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/modus-bench-%d", getpid());
    int null = open("/dev/null", O_WRONLY);
    int self = !strcmp(argv[1], "pmemwrite") ? open("/proc/self/mem", O_RDONLY) : -1;
    char buf[64] = {0};
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (!strcmp(argv[1], "rwx")) {
            mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
            mprotect(p, 4096, PROT_READ | PROT_WRITE);
        } else if (!strcmp(argv[1], "rw")) {
            mprotect(p, 4096, PROT_READ);
            mprotect(p, 4096, PROT_READ | PROT_WRITE);
        } else if (!strcmp(argv[1], "open")) {
            int fd = open(path, O_WRONLY | O_CREAT, 0600);
            close(fd);
        } else if (!strcmp(argv[1], "write") || !strcmp(argv[1], "pmemwrite")) {
            if (write(null, buf, sizeof buf) < 0) return 1;
        } else {
            getppid();
        }
    }
    double t = now() - t0;
    unlink(path);
    if (self >= 0) close(self);
    close(null);
    int ops = strcmp(argv[1], "rwx") && strcmp(argv[1], "rw") ? 1 : 2;
    printf("%.1f\n", t / (double)n / ops);
    return 0;
}
