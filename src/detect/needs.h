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

/* the operations an entry is for (the kernel's map values) */
#define FOP_WRITE  0x1 /* creation, modification, the first write's header */
#define FOP_DELETE 0x2
#define FOP_CHMOD  0x4
#define FOP_RENAME 0x8
#define FOP_ALL    0xf

typedef struct fpol_list {
    char **v;   /* lower-cased, sorted, unique */
    uint8_t *m; /* per entry: FOP_* */
    size_t n, cap;
} fpol_list;

struct modus_file_policy {
    uint8_t all;                         /* FOP_*: every file, for these operations */
    bool header;                         /* the first bytes written to created files */
    fpol_list dirs, dnames, names, exts; /* "/a/b"; parent-directory names; names; extensions */
    char all_why[512]; /* "RULE (delete); RULE (write,chmod)": who made it "all" */
};

/* "write,delete" for a mask */
const char *fpol_ops_str(uint8_t ops, char *out, size_t n);

/* FNV-1a 64 of a directory path, case-folded, components cut at FPOL_COMP
 * bytes: what the kernel computes while walking a dentry chain. */
uint64_t fpol_dir_hash(const char *dir);
/* Does an absolute path pass the policy for one of ops (in user space:
 * renames, libraries)? dirs_only: only the directory conditions. */
bool fpol_match(const modus_file_policy *p, const char *path, bool dirs_only, uint8_t ops);

#endif
