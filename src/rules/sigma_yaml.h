/* sigma_yaml.h - YAML documents as trees, for the Sigma reader (internal).
 *
 * libyaml (the reference C parser) turns the text into events; sigma_yaml.c
 * builds one tree per document in an arena, every node with its 1-based line
 * and byte column in the file. Scalars keep their text and whether they
 * were plain (unquoted), so the reader can tell `null`, numbers and
 * booleans from the strings 'null', '4688', 'true' as YAML 1.1 does.
 * Anchors and aliases are resolved by sharing the anchored node (a tree may
 * then be a DAG; walkers bound their work, MODUS_SIGMA_MAX_WORK).
 */
#ifndef MODUS_SIGMA_YAML_H
#define MODUS_SIGMA_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/arena.h"

#include "../util/limits.h"

/* caps: util/limits.h */
#define SIGMA_MAX_DEPTH   MODUS_SIGMA_MAX_DEPTH
#define SIGMA_MAX_NODES   MODUS_SIGMA_MAX_NODES
#define SIGMA_MAX_ANCHORS MODUS_SIGMA_MAX_ANCHORS

enum { Y_SCALAR, Y_SEQ, Y_MAP };

typedef struct ynode {
    uint8_t kind;
    bool plain;          /* a plain (unquoted, not block) scalar: may be null, bool, number */
    const char *s;       /* scalar text, NUL-terminated (it may hold other NULs: see n) */
    uint32_t n;          /* scalar length */
    uint32_t line;       /* 1-based */
    uint32_t col;        /* 1-based byte column */
    size_t offset;       /* byte offset in the file */
    struct ynode **kids; /* Y_SEQ: items; Y_MAP: key, value, key, value... */
    uint32_t nkids;      /* Y_MAP: 2 * members */
} ynode;

typedef struct ydocs {
    ynode **docs;
    uint32_t n;
} ydocs;

typedef struct yerr {
    uint32_t line, col; /* 1-based, 0 if unknown */
    char msg[200];
} yerr;

/* Parse every document of a YAML text into trees allocated in `a`. Any bytes
 * are accepted. Returns 0, or -1 with err filled (the first problem: libyaml's
 * own description, a duplicate mapping key, a cap). */
int yaml_load(arena *a, const char *text, size_t len, ydocs *out, yerr *err);

/* The value of key `k` in mapping `m` (NULL if absent or m is not a mapping). */
const ynode *ymap_get(const ynode *m, const char *k);
/* Scalar helpers */
bool yscalar_is(const ynode *n, const char *s);
/* YAML 1.1 plain-scalar types, as PyYAML resolves them */
bool yis_null(const ynode *n);
int yis_bool(const ynode *n); /* -1 not a bool, 0 false, 1 true */
bool yis_int(const ynode *n);
bool yis_float(const ynode *n);

#endif
