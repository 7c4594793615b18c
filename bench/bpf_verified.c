/* bpf_verified.c - what the kernel's verifier spends on each of the
 * sensor's programs: loads build/bpf/sensor.bpf.o (root) with verifier
 * statistics and prints, per program, the instructions it processed and its
 * verification time, then the totals. The sensor pays this at every start
 * (its sys time before "ready"); BENCHMARKS.md quotes the totals.
 *
 *   cc -O2 -o /tmp/bpf_verified bench/bpf_verified.c $(pkg-config --cflags --libs libbpf)
 *   sudo /tmp/bpf_verified build/bpf/sensor.bpf.o [PROGRAM]
 *
 * Every program in the object is loaded (the LSM ones are optional and stay
 * out), so the totals are those of the widest configuration: the file
 * policy's programs included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#define MAXPROG 160
#define LOGSZ   (1 << 16)

static char logs[MAXPROG][LOGSZ];

static long stat_after(const char *log, const char *label)
{
    const char *p = strstr(log, label);
    return p ? atol(p + strlen(label)) : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s sensor.bpf.o [PROGRAM]\n", argv[0]);
        return 2;
    }
    struct bpf_object *o = bpf_object__open_file(argv[1], NULL);
    if (!o) {
        perror(argv[1]);
        return 1;
    }
    struct bpf_program *p;
    int n = 0;
    bpf_object__for_each_program(p, o)
    {
        bool want = argc < 3 || !strcmp(bpf_program__name(p), argv[2]);
        if (!want || n == MAXPROG) {
            bpf_program__set_autoload(p, false);
            continue;
        }
        if (!bpf_program__autoload(p)) continue;
        bpf_program__set_log_level(p, 4); /* statistics only */
        bpf_program__set_log_buf(p, logs[n++], LOGSZ);
    }
    int err = bpf_object__load(o);
    long insns = 0, us = 0;
    int i = 0;
    bpf_object__for_each_program(p, o)
    {
        if (!bpf_program__autoload(p) || i == n) continue;
        const char *l = logs[i++];
        long pi = stat_after(l, "processed "), pu = stat_after(l, "verification time ");
        printf("%-24s %9ld insns %9ld us\n", bpf_program__name(p), pi, pu);
        insns += pi > 0 ? pi : 0;
        us += pu > 0 ? pu : 0;
    }
    printf("%-24s %9ld insns %9ld us (%d programs)\n", "total", insns, us, i);
    bpf_object__close(o);
    if (err) fprintf(stderr, "load failed: %s\n", strerror(-err));
    return err ? 1 : 0;
}
