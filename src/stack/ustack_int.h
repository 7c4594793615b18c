/* ustack_int.h - internals shared by ustack.c, uproc.c and uelf.c. */
#ifndef MODUS_USTACK_INT_H
#define MODUS_USTACK_INT_H

#include <elfutils/libdw.h>
#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds (override with -D). */
#ifndef USTACK_MAX_ELF
#define USTACK_MAX_ELF 256 /* parsed ELF files kept */
#endif
#ifndef USTACK_MAX_PROCS
#define USTACK_MAX_PROCS 65536 /* tgids with module maps */
#endif
#ifndef USTACK_MAX_MAPS
#define USTACK_MAX_MAPS 65536 /* mappings per process (vm.max_map_count) */
#endif
#ifndef USTACK_ROWS
#define USTACK_ROWS 4096 /* decoded CFI rows, direct-mapped */
#endif

/* ELF files ---------------------------------------------------------------- */

typedef struct uelf_sym {
    uint64_t addr, size;
    const char *name; /* in the ELF image */
    const char *dem;  /* demangled, lazily: NULL not tried; == name: not mangled */
} uelf_sym;

typedef struct uelf_load {
    uint64_t off, filesz, vaddr;
    bool exec; /* PF_X */
} uelf_load;

/* A runtime recognised by its code: a module defining a function whose
 * name matches `prefix` (exactly, unless `any_tail`) is runtime `name`.
 * Built by ustack_set_code from the table's patterns. */
typedef struct ucode {
    char prefix[120];
    bool any_tail;
    const char *name;    /* runtime (modality) name, owned by the ustack */
    const char *pattern; /* as written in the table, owned by the ustack */
} ucode;

typedef struct uelf {
    uint64_t id; /* never reused: binds mappings and CFI rows to this parse */
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns, size;
    Elf *elf;
    Dwarf_CFI *cfi; /* .eh_frame; NULL when the file has none */
    const uint8_t *raw;
    size_t rawlen;
    uelf_load load[16];
    unsigned nload;
    uelf_sym *syms;
    size_t nsyms;
    int runtime;         /* index in the cache's code table, -1: none */
    const char *rt_name; /* runtime recognised by code or build-id, NULL: none */
    char *rt_why;        /* how: "symbol node::Start(int, char**)", "build-id HEX of PATH" */
    uint8_t build_id[20];
    uint8_t build_id_len;
    bool ref; /* clock bit */
} uelf;

/* A runtime's known build (ustack_add_known): this build-id is that runtime. */
typedef struct uknown {
    uint8_t id[20];
    uint8_t len;
    char *name, *path;
} uknown;

typedef struct uelf_cache {
    uelf *slot[USTACK_MAX_ELF];
    unsigned hand;
    uint64_t next_id;
    const ucode *code; /* runtime recognition by code, in table order */
    size_t ncode;
    uknown *known; /* by build-id, when the code says nothing (stripped files) */
    size_t nknown;
} uelf_cache;

/* The GNU build-id of the ELF file open on fd; its length, 0: none. */
size_t uelf_read_build_id(int fd, uint8_t *out, size_t cap);

void uelf_cache_init(uelf_cache *c);
void uelf_cache_fini(uelf_cache *c);
/* The parsed file open on fd (cached by dev+inode+mtime+size), or NULL
 * when it is not an x86-64 ELF file. *slot receives its slot. fd stays the
 * caller's. */
uelf *uelf_get(uelf_cache *c, int fd, unsigned *slot);
/* The entry bound earlier, or NULL when it was evicted since. */
uelf *uelf_at(uelf_cache *c, unsigned slot, uint64_t id);
bool uelf_vaddr(const uelf *e, uint64_t off, uint64_t *vaddr);
uelf_sym *uelf_symbol(uelf *e, uint64_t vaddr);
const char *uelf_sym_name(uelf_sym *s); /* demangled when C++ */
size_t uelf_lead(const uelf *e, uint64_t off, uint8_t *out, size_t n);

/* Module maps ---------------------------------------------------------------- */

enum { UMAP_ANON, UMAP_FILE, UMAP_NOELF }; /* NOELF: deleted, memfd, [vdso]... */
enum { UBIND_NONE, UBIND_OK, UBIND_FAIL };
#define USTR_NONE UINT32_MAX

typedef struct umap {
    uint64_t start, end, pgoff;
    uint64_t elf_id;
    uint32_t elf_slot;
    uint32_t path, prov; /* offsets in the process's string blob, or USTR_NONE */
    uint8_t prot, kind, bind;
} umap;

typedef struct uproc uproc;
struct uproc {
    uint32_t tgid;
    bool stale; /* exec seen: reread before use */
    umap *m;    /* sorted by start, disjoint */
    size_t n, cap;
    char *blob;
    size_t blen, bcap;
    uproc *hnext, *prev, *next; /* hash chain, LRU list (head: newest) */
};

typedef struct uprocs {
    uproc **bucket;
    size_t nbucket, n;
    uproc *head, *tail;
} uprocs;

bool uprocs_init(uprocs *p);
void uprocs_fini(uprocs *p);
uproc *uprocs_get(uprocs *p, uint32_t tgid, bool create);
void uprocs_drop(uprocs *p, uint32_t tgid);
bool uproc_read(uproc *pr); /* from /proc/PID/maps; keeps known provenance */
void uproc_set(uproc *pr, uint64_t start, uint64_t end, uint64_t pgoff, uint32_t prot,
               const char *path, const char *prov);
bool uproc_copy(uproc *dst, const uproc *src);
umap *uproc_find(uproc *pr, uint64_t pc);
static inline const char *uproc_str(const uproc *pr, uint32_t off)
{
    return off == USTR_NONE ? NULL : pr->blob + off;
}

#endif
