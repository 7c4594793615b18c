/* Writes into another process's memory through /proc/PID/mem, as injectors
 * do when ptrace and process_vm_writev are watched: a forked child waits on
 * a pipe; the parent reads the child's buffer (pread64, twice: only the
 * first read is an event), overwrites it (pwrite64, then lseek + write),
 * and patches a buffer of its own through /proc/self/mem. The child exits
 * 0 only if the bytes arrived. Prints "child PID ADDR" for the test. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char target_buf[64] = "original contents";
static char own_buf[64] = "own contents";

__attribute__((noinline)) static int inject(pid_t child)
{
    char path[64], seen[8];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)child);
    int fd = open(path, O_RDWR);
    if (fd < 0) return perror(path), 1;
    off_t at = (off_t)(uintptr_t)target_buf;
    if (pread(fd, seen, sizeof seen, at) != (ssize_t)sizeof seen) return perror("pread"), 1;
    if (pread(fd, seen, sizeof seen, at) != (ssize_t)sizeof seen) return perror("pread"), 1;
    if (pwrite(fd, "injected", 8, at) != 8) return perror("pwrite"), 1;
    if (lseek(fd, at + 8, SEEK_SET) < 0 || write(fd, " payload", 8) != 8) return perror("write"), 1;
    close(fd);
    return 0;
}

__attribute__((noinline)) static int patch_self(void)
{
    int fd = open("/proc/self/mem", O_RDWR);
    if (fd < 0) return perror("/proc/self/mem"), 1;
    char seen[4];
    /* reading one's own memory is not reported; writing it is */
    if (pread(fd, seen, sizeof seen, (off_t)(uintptr_t)own_buf) != (ssize_t)sizeof seen ||
        pwrite(fd, "patched", 7, (off_t)(uintptr_t)own_buf) != 7)
        return perror("/proc/self/mem"), 1;
    close(fd);
    return strncmp(own_buf, "patched", 7) != 0;
}

int main(void)
{
    int go[2];
    if (pipe(go)) return perror("pipe"), 1;
    pid_t child = fork();
    if (child < 0) return perror("fork"), 1;
    if (child == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1) _exit(3);
        _exit(memcmp(target_buf, "injected payload", 16) == 0 ? 0 : 2);
    }
    close(go[0]);
    printf("child %d 0x%lx\n", (int)child, (unsigned long)(uintptr_t)target_buf);
    fflush(stdout);
    int bad = inject(child);
    bad |= patch_self();
    if (write(go[1], "x", 1) != 1) bad = 1;
    int st = 0;
    waitpid(child, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "proc_mem: the child did not see the injected bytes\n");
        bad = 1;
    }
    usleep(200000); /* stay alive a moment: the maps are read on a miss */
    return bad;
}
