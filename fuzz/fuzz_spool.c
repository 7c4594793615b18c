/* fuzz_spool.c - libFuzzer target: a sensor's spool as a crash or a bad disk
 * may leave it (src/fleet/fleet_spool.c). The input is split into a cursor
 * file and two segment files; the spool is resumed from them and read to the
 * end, acknowledging as it goes. Invariants: no crash, every record read has
 * the sequence number the reader expects (damage is skipped, not returned),
 * and the resumed spool takes new records. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet/spool.h"

static char dir[64];

static void put_file(const char *name, const unsigned char *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    if (n && write(fd, p, n) != (ssize_t)n) abort();
    close(fd);
}

static void clear(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
}

__attribute__((destructor)) static void cleanup(void)
{
    if (!dir[0]) return;
    clear();
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/modus-fuzz-spool-%d", (int)getpid());
        mkdir(dir, 0700);
    }
    clear();
    /* [32-byte cursor][first segment][second segment], split at a byte the
     * input chooses */
    size_t cur = size < 32 ? size : 32, rest = size - cur;
    size_t cut = rest ? (size_t)data[0] * rest / 256 : 0;
    put_file("cursor", data, cur);
    put_file("0000000000000001.seg", data + cur, cut);
    put_file("0000000000000005.seg", data + cur + cut, rest - cut);
    spool *s;
    spool_info info;
    modus_diag d;
    if (spool_open(dir, 1 << 20, &s, &info, &d) != MODUS_OK) return 0;
    spool_rec r;
    spool_pos end;
    uint64_t damaged = 0;
    int got;
    uint64_t expect = spool_read_seq(s);
    while ((got = spool_next(s, &r, &end, &damaged)) != 0) {
        if (got == 1) {
            if (r.seq < expect) abort(); /* never backwards */
            expect = r.seq + 1;
            spool_ack(s, &end);
        } else {
            expect = spool_read_seq(s);
        }
    }
    uint64_t seq;
    spool_drop drop;
    if (spool_append(s, 0, 0, SV_LIT("modus.events.h"), SV_LIT("id"), SV_LIT("{}"), &seq, &drop) !=
        MODUS_OK)
        abort();
    spool_close(s);
    return 0;
}
