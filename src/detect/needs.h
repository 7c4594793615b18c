/* needs.h - the file policy: which files the live sensor's kernel side must
 * report, derived from the loaded rules (detect_needs.c); shared with the
 * sensor's loader (source_ebpf.c) and decoder (decode_sensor.c). */
#ifndef MODUS_NEEDS_H
#define MODUS_NEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modus/modus.h"

/* limits of the kernel's keys (bpf/sensor.bpf.c) */
#define FPOL_NAME 31 /* longest file or directory name */
#define FPOL_EXT  15 /* longest extension */
#define FPOL_COMP 63 /* directory components are hashed up to this many bytes */
#define FPOL_MAX  4096

typedef struct fpol_list {
    char **v; /* lower-cased, sorted, unique after fpol_finish */
    size_t n, cap;
} fpol_list;

struct modus_file_policy {
    bool all;                            /* every file */
    bool header;                         /* the first bytes written to created files */
    fpol_list dirs, dnames, names, exts; /* "/a/b"; parent-directory names; names; extensions */
    char all_why[256];                   /* the rule that made it "all" */
};

/* FNV-1a 64 of a directory path, case-folded, components cut at FPOL_COMP
 * bytes: what the kernel computes while walking a dentry chain. */
uint64_t fpol_dir_hash(const char *dir);
/* Does an absolute path pass the policy (in user space: renames, libraries)?
 * dirs_only: only the directory conditions. */
bool fpol_match(const modus_file_policy *p, const char *path, bool dirs_only);

#endif
