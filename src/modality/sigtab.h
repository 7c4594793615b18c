/* sigtab.h - the modality signature table (data/modalities.conf) in memory. */
#ifndef MODUS_SIGTAB_H
#define MODUS_SIGTAB_H

#include <stdbool.h>
#include <stdint.h>
#include "../util/sv.h"
#include "../stack/stack.h"

enum sig_role {
    ROLE_NONE,
    ROLE_STUB,
    ROLE_API,
    ROLE_KERNEL,
    ROLE_RUNTIME,
    ROLE_DISPATCH,
    ROLE_PROVENANCE,
    ROLE_HOST,
    ROLE_IDENTITY,
};

#define SIG_MAX_MODALITIES 48
#define SIG_OS_ANY         255

typedef struct modality_def {
    char name[24];
    int rank;
    bool jit;
    bool transport;
    int over; /* modality index of the hosting runtime, -1 */
} modality_def;

typedef struct sig {
    uint8_t os;   /* STACK_OS_* or SIG_OS_ANY */
    uint8_t role; /* enum sig_role */
    int16_t modality;
    bool on_path; /* MODULE pattern has a path separator: match the full path */
    sv module;    /* '|'-separated globs */
    sv symbol;    /* '|'-separated globs; empty = any */
    uint32_t line;
} sig;

/* `code OS MODALITY SYMBOLS`: a module that defines one of SYMBOLS is that
 * runtime, whatever its file name (the Linux sensor checks its symbols). */
typedef struct sigcode {
    uint8_t os;
    int16_t modality;
    sv symbols; /* '|'-separated: name, prefix*, ns::name, ns::* */
    uint32_t line;
} sigcode;

typedef struct sigtab {
    modality_def mod[SIG_MAX_MODALITIES];
    int nmod;
    sig *sigs;
    int nsigs;
    sigcode *code;
    int ncode;
    char *text; /* owned copy of the source; sigs point into it */
    int m_unknown, m_native, m_shellcode, m_kernel;
    bool any_symbol[2]; /* per OS: some signature has a symbol pattern */
    bool any_path[2];   /* per OS: some signature matches full paths */
} sigtab;

/* Parse a table. On error returns false and fills line/msg. */
bool sigtab_parse(sigtab *t, const char *text, size_t len, uint32_t *err_line, char *msg,
                  size_t msgcap);
void sigtab_free(sigtab *t);
int sigtab_modality(const sigtab *t, sv name);

/* Best signature (highest modality rank; stub/api/kernel beat nothing) for a
 * module frame among roles in `roles` (bit mask of 1 << ROLE_*); -1 if none. */
int sigtab_match_frame(const sigtab *t, uint8_t os, const frame *f, unsigned roles);
/* Best signature of role `role` whose MODULE matches `name` (a provenance
 * module name or a process image name); -1 if none. */
int sigtab_match_name(const sigtab *t, uint8_t os, uint8_t role, sv name);

#endif
