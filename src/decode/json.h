/* json.h - one JSON document as a flat, pre-order table of nodes.
 *
 * The parser (json_simdjson.cpp, a thin shim over simdjson) validates a
 * document and records the values a caller wants: key, type, scalar value
 * and tree links. Lookups by dotted path then cost a few key comparisons per
 * level. Strings point into parser-owned memory (unescaped) and stay valid
 * until the next mj_parse on the same parser.
 */
#ifndef MODUS_JSON_H
#define MODUS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/sv.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mj_type { MJ_NULL, MJ_BOOL, MJ_INT, MJ_UINT, MJ_DOUBLE, MJ_STRING, MJ_ARRAY, MJ_OBJECT };

typedef struct mj_node {
    const char *key; /* member key, unescaped; NULL for array elements and the root */
    uint32_t key_len;
    uint8_t type;    /* enum mj_type */
    uint8_t b;       /* MJ_BOOL value */
    uint32_t parent; /* index of the parent container (root: 0) */
    uint32_t next;   /* index of the next sibling, 0 = none */
    uint32_t count;  /* containers: number of children; first child is index + 1 */
    uint32_t len;    /* MJ_STRING: length */
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
    } v;
} mj_node;

typedef struct mj_doc {
    mj_node *nodes;
    uint32_t n, cap;
} mj_doc;

typedef struct mj_error {
    int code;        /* 0 = ok */
    const char *msg; /* static text */
    size_t offset;   /* byte offset of the error in the input, best effort */
} mj_error;

/* Bytes that must be readable (any content) after the last byte of input. */
#define MJ_PADDING 64

/* The fields a caller needs: a trie of dotted paths. A node with `all` takes
 * its whole subtree; everything outside the trie is skipped by the parser
 * (simdjson's structural index makes skipping cheap) and left out of the
 * node table. NULL wants everything. */
typedef struct mj_want {
    const char *key;
    uint32_t key_len;
    bool all;
    struct mj_want *kids;
    uint32_t nkids, cap;
} mj_want;

/* Add a dotted path; returns false on allocation failure. */
bool mj_want_add(mj_want *root, const char *path);
void mj_want_free(mj_want *root);
/* Child of `w` for a member key, which may itself be dotted ("process.name"). */
const mj_want *mj_want_find(const mj_want *w, const char *key, size_t len);

typedef struct mj_parser mj_parser;

mj_parser *mj_parser_create(size_t max_doc_len, unsigned max_depth, uint32_t max_nodes);
void mj_parser_destroy(mj_parser *p);
/* Parse and validate a whole document; copy the fields in `want` (NULL: all)
 * into doc. Returns 0, or non-zero with err set (message and byte offset). */
int mj_parse(mj_parser *p, const char *buf, size_t len, const mj_want *want, mj_doc *doc,
             mj_error *err);
/* Every field of the document parsed last by `p`, into doc (no re-parse). */
int mj_parse_full(mj_parser *p, mj_doc *doc, mj_error *err);
void mj_doc_free(mj_doc *doc);

/* Append a child (type set, value zeroed) to an object or array; the key is
 * borrowed. An empty container can only gain a child while it is the last
 * node. Returns the new node, or 0. */
uint32_t mj_append(mj_doc *d, uint32_t parent, const char *key, size_t key_len, uint8_t type);

/* Byte offset of the value at a dotted path of nested keys in a valid JSON
 * document, or -1 (json_locate.c). Used to splice new members into the text. */
long mj_locate(const char *json, size_t len, const char *path);
/* The same, with *end set past the value's last byte. */
long mj_locate_span(const char *json, size_t len, const char *path, size_t *end);

/* Past the JSON string at p[i] (a '"'), or past the value starting at p[i]
 * (a string, object, array, or scalar up to its delimiter), without
 * validating it; n when the text ends first (json_locate.c). */
size_t json_skip_string(const char *p, size_t n, size_t i);
size_t json_skip_value(const char *p, size_t n, size_t i);

/* Member `key` of object node `obj`, or 0 when absent (0 is the root and never a member). */
uint32_t mj_member(const mj_doc *d, uint32_t obj, const char *key, size_t key_len);
/* Dotted path lookup from node `from`; keys that themselves contain dots
 * ("process.name": flattened documents) are matched too. 0 when absent. */
uint32_t mj_path(const mj_doc *d, uint32_t from, const char *path, size_t path_len);

static inline sv mj_str(const mj_doc *d, uint32_t i)
{
    if (i && d->nodes[i].type == MJ_STRING) return (sv){d->nodes[i].v.s, d->nodes[i].len};
    if (!i && d->n && d->nodes[0].type == MJ_STRING) return (sv){d->nodes[0].v.s, d->nodes[0].len};
    return (sv){NULL, 0};
}

#ifdef __cplusplus
}
#endif
#endif
