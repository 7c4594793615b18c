/* self_delete.c - a process that deletes its own executable, then lingers a
 * moment (test_live_file.sh). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 1;
    exe[n] = 0;
    if (unlink(exe) != 0) return 1;
    usleep(100000);
    return 0;
}
