/* modus.c - the command-line front end: one subcommand per file. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: modus COMMAND [OPTIONS] ...\n"
          "\n"
          "modus names the execution modality of security events from their call stacks:\n"
          "which runtime or tool performed each behaviour (powershell, dotnet, rpc,\n"
          "shellcode, python, shell, ...).\n"
          "\n"
          "commands:\n"
          "  scan    read telemetry (ECS NDJSON, Sysmon JSON), classify every call stack,\n"
          "          write enriched events (--enrich) and a modality summary\n"
          "  stack   explain one call stack: frames, summary, layers, modality, evidence\n"
          "  query   run an EQL query over telemetry files and print the matches\n"
          "  rules   check, list or test rule files (Elastic's TOML format)\n"
          "  live    the Linux eBPF sensor: kernel events with call stacks, detected live\n"
          "  baseline  learn what each modality normally does (per program, host, fleet)\n"
          "          and flag deviations: learn, check, show, merge, report\n"
          "  fleet   the fleet's broker (NATS JetStream): init the streams, publish files\n"
          "\n"
          "Run 'modus COMMAND --help' for a command's options; 'modus COMMAND --config\n"
          "FILE' reads options from FILE (one per line, as on the command line without\n"
          "the dashes). 'modus --version' prints\n"
          "the version. Exit status: 0 success, 1 alerts found (--exit-status), 2 usage\n"
          "or input error, 3 rule error.\n",
          f);
}

/* The heap in huge pages. Loading hundreds of rules touches tens of MB of
 * small allocations (syntax trees, tables, the value cache, sequence
 * state); on a virtual machine each 4 KB page's first touch is a costly
 * fault. The heap is grown 64 MB ahead (virtual: only what is touched is
 * resident) and that range asks the kernel for transparent huge pages
 * (where THP is "madvise" or "always"), as glibc's glibc.malloc.hugetlb=1
 * tunable does for every growth. What the main thread allocates beyond
 * 64 MB, and the -j worker threads' own arenas, stay in 4 KB pages. For
 * `modus scan` only: blocks under 32 MB come from the heap and freed memory
 * is kept for reuse, which a long-running sensor or consumer should not do.
 * MODUS_THP=off leaves the heap as it is. */
static void heap_thp(void)
{
    const char *e = getenv("MODUS_THP");
    if (e && !strcmp(e, "off")) return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* blocks under 32 MB from the heap too */
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    void *p = malloc(256 << 10); /* grows the heap now: by this and the pad */
    if (!p) return;
    uintptr_t hp = 2u << 20, lo = ((uintptr_t)p + hp - 1) & ~(hp - 1), hi = (uintptr_t)sbrk(0);
    if (hi > lo + hp) madvise((void *)lo, (hi - lo) & ~(hp - 1), MADV_HUGEPAGE);
    free(p);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd) || !strcmp(cmd, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("modus %s\n", MODUS_VERSION);
        return EXIT_OK;
    }
    int rc = cli_config(&argc, &argv);
    if (rc != EXIT_OK) return rc;
    if (!strcmp(cmd, "scan")) { /* (the long-running ones keep glibc's defaults) */
        bool from = false;
        for (int i = 2; i < argc; i++) from |= !strcmp(argv[i], "--from");
        if (!from) heap_thp();
        return cmd_scan(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "stack")) return cmd_stack(argc - 1, argv + 1);
    if (!strcmp(cmd, "query")) return cmd_query(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules")) return cmd_rules(argc - 1, argv + 1);
    if (!strcmp(cmd, "live")) return cmd_live(argc - 1, argv + 1);
    if (!strcmp(cmd, "baseline")) return cmd_baseline(argc - 1, argv + 1);
    if (!strcmp(cmd, "fleet")) return cmd_fleet(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try 'modus --help')", cmd);
    return EXIT_USAGE;
}
