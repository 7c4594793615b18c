/* ustack.c - unwind and symbolize a user stack copied by the Linux sensor.
 *
 * Design. The kernel sends registers at syscall entry and a copy of the
 * stack from sp. Starting from those registers (DWARF numbering: rbx 3,
 * rbp 6, rsp 7, r12-r15, rip 16), each step finds the frame's module in the
 * process's executable mappings (uproc.c), turns ip into an ELF vaddr and
 * asks the module's .eh_frame CFI (libdw, uelf.c) for the row at that
 * address - at ip-1 for every frame but the first, since a return address
 * may already belong to the next function. CFA and register rules are
 * evaluated against the register set; memory is read only from the copy, so
 * a rule that points outside it fails (past its end: USTACK_STOP_COPY).
 * Where there is no CFI (anonymous JIT code, [vdso], deleted files) or it
 * cannot be evaluated, a frame-pointer step is tried: ra=[bp+8], bp=[bp],
 * sp=bp+16. The walk stops when the CFI says the return address is
 * undefined (_start, clone), sp does not grow, the copy ends, or out[] is
 * full.
 *
 * Invariants. sp grows strictly every step, so a walk is at most
 * stack_len/8 + 1 frames even for hostile input; reads are bounds-checked
 * against the copy; the only state is bounded caches: USTACK_MAX_ELF parsed
 * files, USTACK_MAX_PROCS processes, USTACK_ROWS decoded CFI rows, and the
 * string arena (sized by the largest single unwind). Strings handed out are
 * copies in that arena, so evicting a file or a process never leaves a
 * frame pointing at freed memory; they are valid until the next ustack_*
 * call that takes u (ustack_format aside).
 *
 * Cost. Warm, a step is a binary search in the process's mappings, a
 * direct-mapped lookup of the decoded CFI row (libdw's dwarf_cfi_addrframe,
 * which mallocs, runs only on a row-cache miss), a binary search in the
 * symbols and two short copies; C++ names are demangled once per symbol.
 * Cold, the first frame in a module opens and maps the file (through
 * /proc/PID/root while the process lives) and sorts its symbols.
 */
#include "stack/ustack.h"

#include <dwarf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include "ustack_int.h"
#include "util/arena.h"

/* The registers a frame's rules may restore: rbx rbp r12 r13 r14 r15 rip. */
static const uint8_t tracked[] = {3, 6, 12, 13, 14, 15, 16};
#define NTRACK    (sizeof tracked)
#define REG_BP    6
#define REG_SP    7
#define REG_IP    16
#define NREGS     17
#define REGBIT(r) (1u << (r))

enum { ST_OK, ST_END, ST_COPY, ST_FAIL, ST_NOCFI };
enum { RK_UNDEF, RK_SAME, RK_AT_CFA, RK_VAL_CFA, RK_REG };
enum { ROW_EMPTY, ROW_NONE, ROW_OK, ROW_COMPLEX };

typedef struct crule {
    uint8_t kind, reg;
    int64_t off;
} crule;

/* A decoded CFI row for the common shapes: CFA = reg + off, registers saved
 * at CFA + off (or same / undefined). Anything else is ROW_COMPLEX and is
 * evaluated from libdw's expressions each time. */
typedef struct crow {
    uint64_t elf_id, pc;
    uint8_t state, cfa_reg;
    bool signal; /* a signal trampoline: the caller's ip is exact, not a return address */
    int64_t cfa_off;
    crule r[NTRACK];
} crow;

struct ustack {
    uprocs procs;
    uelf_cache elves;
    arena strs;
    ucode *code; /* ustack_set_code */
    char **code_strs;
    size_t ncode;
    crow rows[USTACK_ROWS];
};

typedef struct ustate {
    uint64_t r[NREGS];
    uint32_t valid;
} ustate;

typedef struct umem {
    uint64_t base;
    const uint8_t *p;
    size_t len;
} umem;

static int mem_read(const umem *m, uint64_t addr, unsigned size, uint64_t *out)
{
    if (addr < m->base) return ST_FAIL;
    uint64_t off = addr - m->base;
    if (off > m->len || m->len - off < size) return ST_COPY;
    uint64_t v = 0;
    memcpy(&v, m->p + off, size); /* x86-64: little-endian, as the copy */
    *out = v;
    return ST_OK;
}

/* Evaluate a DWARF expression (libdw form). *is_value false: the result is
 * the address where the value is saved. */
static int eval_ops(const Dwarf_Op *ops, size_t nops, const ustate *s, const umem *m, bool have_cfa,
                    uint64_t cfa, uint64_t *out, bool *is_value)
{
    uint64_t st[16];
    size_t sp = 0;
    *is_value = false;
    if (nops == 1 &&
        (ops[0].atom == DW_OP_regx || (ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31))) {
        uint64_t reg =
            ops[0].atom == DW_OP_regx ? ops[0].number : (uint64_t)(ops[0].atom - DW_OP_reg0);
        if (reg >= NREGS || !(s->valid & REGBIT(reg))) return ST_FAIL;
        *out = s->r[reg];
        *is_value = true;
        return ST_OK;
    }
#define PUSH(v)                                                                                    \
    do {                                                                                           \
        if (sp == 16) return ST_FAIL;                                                              \
        st[sp++] = (v);                                                                            \
    } while (0)
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (sp < (k)) return ST_FAIL;                                                              \
    } while (0)
    for (size_t i = 0; i < nops; i++) {
        const Dwarf_Op *op = &ops[i];
        uint8_t a = op->atom;
        if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
            PUSH((uint64_t)(a - DW_OP_lit0));
            continue;
        }
        if ((a >= DW_OP_breg0 && a <= DW_OP_breg31) || a == DW_OP_bregx) {
            uint64_t reg = a == DW_OP_bregx ? op->number : (uint64_t)(a - DW_OP_breg0);
            uint64_t off = a == DW_OP_bregx ? op->number2 : op->number;
            if (reg >= NREGS || !(s->valid & REGBIT(reg))) return ST_FAIL;
            PUSH(s->r[reg] + off);
            continue;
        }
        uint64_t x, y;
        int rc;
        switch (a) {
        case DW_OP_const1u:
        case DW_OP_const1s:
        case DW_OP_const2u:
        case DW_OP_const2s:
        case DW_OP_const4u:
        case DW_OP_const4s:
        case DW_OP_const8u:
        case DW_OP_const8s:
        case DW_OP_constu:
        case DW_OP_consts: PUSH(op->number); break;
        case DW_OP_dup:
            NEED(1);
            x = st[sp - 1];
            PUSH(x);
            break;
        case DW_OP_drop:
            NEED(1);
            sp--;
            break;
        case DW_OP_over:
            NEED(2);
            x = st[sp - 2];
            PUSH(x);
            break;
        case DW_OP_swap:
            NEED(2);
            x = st[sp - 1];
            st[sp - 1] = st[sp - 2];
            st[sp - 2] = x;
            break;
        case DW_OP_deref:
        case DW_OP_deref_size: {
            NEED(1);
            uint64_t size = a == DW_OP_deref ? 8 : op->number;
            if (size == 0 || size > 8) return ST_FAIL;
            if ((rc = mem_read(m, st[sp - 1], (unsigned)size, &st[sp - 1])) != ST_OK) return rc;
            break;
        }
        case DW_OP_plus_uconst:
            NEED(1);
            st[sp - 1] += op->number;
            break;
        case DW_OP_neg:
            NEED(1);
            st[sp - 1] = -st[sp - 1];
            break;
        case DW_OP_not:
            NEED(1);
            st[sp - 1] = ~st[sp - 1];
            break;
        case DW_OP_call_frame_cfa:
            if (!have_cfa) return ST_FAIL;
            PUSH(cfa);
            break;
        case DW_OP_stack_value:
            if (i != nops - 1) return ST_FAIL;
            *is_value = true;
            break;
        case DW_OP_nop: break;
        case DW_OP_plus:
        case DW_OP_minus:
        case DW_OP_mul:
        case DW_OP_and:
        case DW_OP_or:
        case DW_OP_xor:
        case DW_OP_shl:
        case DW_OP_shr:
        case DW_OP_shra:
        case DW_OP_eq:
        case DW_OP_ne:
        case DW_OP_lt:
        case DW_OP_gt:
        case DW_OP_le:
        case DW_OP_ge:
            NEED(2);
            y = st[--sp];
            x = st[sp - 1];
            switch (a) {
            case DW_OP_plus: x += y; break;
            case DW_OP_minus: x -= y; break;
            case DW_OP_mul: x *= y; break;
            case DW_OP_and: x &= y; break;
            case DW_OP_or: x |= y; break;
            case DW_OP_xor: x ^= y; break;
            case DW_OP_shl: x = y < 64 ? x << y : 0; break;
            case DW_OP_shr: x = y < 64 ? x >> y : 0; break;
            case DW_OP_shra:
                x = y < 64 ? (uint64_t)((int64_t)x >> y) : ((int64_t)x < 0 ? UINT64_MAX : 0);
                break;
            case DW_OP_eq: x = x == y; break;
            case DW_OP_ne: x = x != y; break;
            case DW_OP_lt: x = (int64_t)x < (int64_t)y; break;
            case DW_OP_gt: x = (int64_t)x > (int64_t)y; break;
            case DW_OP_le: x = (int64_t)x <= (int64_t)y; break;
            default: x = (int64_t)x >= (int64_t)y; break;
            }
            st[sp - 1] = x;
            break;
        default: return ST_FAIL; /* branches, DW_OP_addr (needs relocation), TLS... */
        }
    }
#undef PUSH
#undef NEED
    if (sp == 0) return ST_FAIL;
    *out = st[sp - 1];
    return ST_OK;
}

/* libdw's rule for one register, as a compact rule when it has a common
 * shape; false when it must be evaluated as an expression. */
static bool decode_rule(const Dwarf_Op *ops, size_t nops, crule *r)
{
    if (nops == 0) {
        r->kind = ops ? RK_UNDEF : RK_SAME;
        return true;
    }
    if (ops[0].atom == DW_OP_call_frame_cfa) {
        size_t k = 1;
        r->off = 0;
        if (k < nops && ops[k].atom == DW_OP_plus_uconst) r->off = (int64_t)ops[k++].number;
        r->kind = RK_AT_CFA;
        if (k < nops && ops[k].atom == DW_OP_stack_value) {
            r->kind = RK_VAL_CFA;
            k++;
        }
        return k == nops;
    }
    if (nops == 1 && ops[0].atom == DW_OP_regx && ops[0].number < NREGS) {
        r->kind = RK_REG;
        r->reg = (uint8_t)ops[0].number;
        return true;
    }
    return false;
}

static void decode_row(Dwarf_Frame *fr, crow *row)
{
    Dwarf_Op *ops, mem[3];
    size_t nops;
    row->state = ROW_COMPLEX;
    row->signal = false;
    if (dwarf_frame_info(fr, NULL, NULL, &row->signal) != REG_IP) return;
    if (dwarf_frame_cfa(fr, &ops, &nops) != 0 || nops != 1) return;
    if (ops[0].atom == DW_OP_bregx && ops[0].number < NREGS) {
        row->cfa_reg = (uint8_t)ops[0].number;
        row->cfa_off = (int64_t)ops[0].number2;
    } else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg16) {
        row->cfa_reg = (uint8_t)(ops[0].atom - DW_OP_breg0);
        row->cfa_off = (int64_t)ops[0].number;
    } else {
        return;
    }
    for (size_t i = 0; i < NTRACK; i++)
        if (dwarf_frame_register(fr, tracked[i], mem, &ops, &nops) != 0 ||
            !decode_rule(ops, nops, &row->r[i]))
            return;
    row->state = ROW_OK;
}

/* Apply the caller's value of tracked[i]; a failed read of a callee-saved
 * register only makes it unknown, a failed read of rip ends the walk. */
static int restore(const crule *rule, size_t i, const ustate *s, const umem *m, uint64_t cfa,
                   ustate *nx)
{
    uint8_t reg = tracked[i];
    uint64_t v = 0;
    int rc = ST_OK;
    switch (rule->kind) {
    case RK_UNDEF: nx->valid &= ~REGBIT(reg); return reg == REG_IP ? ST_END : ST_OK;
    case RK_SAME: return ST_OK;
    case RK_AT_CFA: rc = mem_read(m, cfa + (uint64_t)rule->off, 8, &v); break;
    case RK_VAL_CFA: v = cfa + (uint64_t)rule->off; break;
    default:
        if (!(s->valid & REGBIT(rule->reg))) rc = ST_FAIL;
        v = s->r[rule->reg];
        break;
    }
    if (rc != ST_OK) {
        nx->valid &= ~REGBIT(reg);
        return reg == REG_IP ? rc : ST_OK;
    }
    nx->r[reg] = v;
    nx->valid |= REGBIT(reg);
    return ST_OK;
}

static int step_row(const crow *row, const ustate *s, const umem *m, ustate *nx)
{
    if (!(s->valid & REGBIT(row->cfa_reg))) return ST_FAIL;
    uint64_t cfa = s->r[row->cfa_reg] + (uint64_t)row->cfa_off;
    *nx = *s;
    nx->r[REG_SP] = cfa;
    for (size_t i = 0; i < NTRACK; i++) {
        int rc = restore(&row->r[i], i, s, m, cfa, nx);
        if (rc != ST_OK) return rc;
    }
    return ST_OK;
}

/* The slow path: whatever expressions the row has. */
static int step_frame(Dwarf_Frame *fr, const ustate *s, const umem *m, ustate *nx)
{
    Dwarf_Op *ops, mem[3];
    size_t nops;
    uint64_t cfa, v;
    bool is_value;
    if (dwarf_frame_info(fr, NULL, NULL, NULL) != REG_IP) return ST_FAIL;
    if (dwarf_frame_cfa(fr, &ops, &nops) != 0 || nops == 0) return ST_FAIL;
    int rc = eval_ops(ops, nops, s, m, false, 0, &cfa, &is_value);
    if (rc != ST_OK) return rc;
    *nx = *s;
    nx->r[REG_SP] = cfa;
    for (size_t i = 0; i < NTRACK; i++) {
        uint8_t reg = tracked[i];
        crule simple;
        if (dwarf_frame_register(fr, reg, mem, &ops, &nops) != 0) return ST_FAIL;
        if (nops == 0) {
            simple.kind = ops ? RK_UNDEF : RK_SAME;
            rc = restore(&simple, i, s, m, cfa, nx);
            if (rc != ST_OK) return rc;
            continue;
        }
        rc = eval_ops(ops, nops, s, m, true, cfa, &v, &is_value);
        if (rc == ST_OK && !is_value) rc = mem_read(m, v, 8, &v);
        if (rc != ST_OK) {
            nx->valid &= ~REGBIT(reg);
            if (reg == REG_IP) return rc;
            continue;
        }
        nx->r[reg] = v;
        nx->valid |= REGBIT(reg);
    }
    return ST_OK;
}

static int step_cfi(ustack *u, const uelf *e, uint64_t pc, const ustate *s, const umem *m,
                    ustate *nx, bool *signal)
{
    uint64_t h = (e->id * 0x9E3779B97F4A7C15ull) ^ (pc * 0xff51afd7ed558ccdull);
    crow *row = &u->rows[(h >> 40) % USTACK_ROWS];
    if (row->state != ROW_EMPTY && row->elf_id == e->id && row->pc == pc) {
        if (row->state == ROW_NONE) return ST_NOCFI;
        *signal = row->signal;
        if (row->state == ROW_OK) return step_row(row, s, m, nx);
    }
    Dwarf_Frame *fr = NULL;
    row->elf_id = e->id;
    row->pc = pc;
    if (dwarf_cfi_addrframe(e->cfi, pc, &fr) != 0) {
        row->state = ROW_NONE;
        return ST_NOCFI;
    }
    decode_row(fr, row);
    *signal = row->signal;
    int rc = row->state == ROW_OK ? step_row(row, s, m, nx) : step_frame(fr, s, m, nx);
    free(fr);
    return rc;
}

static int step_fp(const ustate *s, const umem *m, ustate *nx)
{
    if (!(s->valid & REGBIT(REG_BP))) return ST_FAIL;
    uint64_t bp = s->r[REG_BP], nbp, ra;
    if (bp < s->r[REG_SP] || bp > UINT64_MAX - 16) return ST_FAIL;
    int rc = mem_read(m, bp + 8, 8, &ra);
    if (rc == ST_OK) rc = mem_read(m, bp, 8, &nbp);
    if (rc != ST_OK) return rc;
    *nx = *s;
    /* what the skipped frames did with the callee-saved registers is unknown */
    nx->valid = REGBIT(REG_BP) | REGBIT(REG_SP) | REGBIT(REG_IP);
    nx->r[REG_BP] = nbp;
    nx->r[REG_SP] = bp + 16;
    nx->r[REG_IP] = ra;
    return ST_OK;
}

/* API: maps ------------------------------------------------------------------ */

ustack *ustack_create(void)
{
    ustack *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    if (!uprocs_init(&u->procs)) {
        free(u);
        return NULL;
    }
    uelf_cache_init(&u->elves);
    arena_init(&u->strs, 16384);
    return u;
}

void ustack_destroy(ustack *u)
{
    if (!u) return;
    uprocs_fini(&u->procs);
    uelf_cache_fini(&u->elves);
    arena_free(&u->strs);
    for (size_t i = 0; i < 2 * u->ncode; i++) free(u->code_strs[i]);
    free(u->code_strs);
    free(u->code);
    for (size_t i = 0; i < u->elves.nknown; i++) {
        free(u->elves.known[i].name);
        free(u->elves.known[i].path);
    }
    free(u->elves.known);
    free(u);
}

bool ustack_add_known(ustack *u, const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    uknown k = {0};
    k.len = (uint8_t)uelf_read_build_id(fd, k.id, sizeof k.id);
    close(fd);
    if (!k.len) return false;
    for (size_t i = 0; i < u->elves.nknown; i++)
        if (u->elves.known[i].len == k.len && !memcmp(u->elves.known[i].id, k.id, k.len))
            return false; /* the same build under another name (sh -> dash) */
    uknown *nk = realloc(u->elves.known, (u->elves.nknown + 1) * sizeof *nk);
    if (!nk) return false;
    u->elves.known = nk;
    k.name = strdup(name);
    k.path = strdup(path);
    if (!k.name || !k.path) {
        free(k.name);
        free(k.path);
        return false;
    }
    nk[u->elves.nknown++] = k;
    uelf_cache_fini(&u->elves); /* files parsed before did not know it */
    return true;
}

/* A table pattern as a symbol-name prefix: C names as written (a trailing
 * '*' takes any tail), C++ qualified names as the start of their Itanium
 * mangling (_ZN4node5Start...: any parameters follow). */
static bool code_pattern(const char *p, ucode *k)
{
    size_t n = strlen(p), o = 0;
    bool star = n && p[n - 1] == '*';
    if (star) n--;
    if (!n || memchr(p, '?', n) || memchr(p, '*', n)) return false;
    if (!strstr(p, "::")) {
        if (n >= sizeof k->prefix) return false;
        memcpy(k->prefix, p, n);
        k->prefix[n] = 0;
        k->any_tail = star;
        return true;
    }
    o = (size_t)snprintf(k->prefix, sizeof k->prefix, "_ZN");
    for (size_t i = 0; i < n;) {
        const char *sep = strstr(p + i, "::");
        size_t end = sep && (size_t)(sep - p) < n ? (size_t)(sep - p) : n;
        size_t len = end - i;
        if (!len) {
            if (end == n && star) break; /* "node::*" */
            return false;
        }
        int w = snprintf(k->prefix + o, sizeof k->prefix - o, "%zu%.*s", len, (int)len, p + i);
        if (w < 0 || (size_t)w >= sizeof k->prefix - o) return false;
        o += (size_t)w;
        i = end < n ? end + 2 : n;
        if (i == n && end < n && !star) return false; /* trailing "::" */
    }
    if (star && p[n - 1] != ':') return false; /* "node::Sta*": lengths are unknown */
    k->any_tail = true;
    return true;
}

bool ustack_code_ok(const char *p, size_t n)
{
    char tmp[128];
    ucode k;
    if (n >= sizeof tmp || memchr(p, 0, n)) return false;
    memcpy(tmp, p, n);
    tmp[n] = 0;
    return code_pattern(tmp, &k);
}

bool ustack_set_code(ustack *u, const char *const *patterns, const char *const *names, size_t n,
                     size_t *bad)
{
    ucode *code = calloc(n ? n : 1, sizeof *code);
    char **strs = calloc(2 * n + 1, sizeof *strs);
    bool ok = code && strs;
    for (size_t i = 0; ok && i < n; i++) {
        strs[2 * i] = strdup(patterns[i]);
        strs[2 * i + 1] = strdup(names[i]);
        if (!strs[2 * i] || !strs[2 * i + 1] || !code_pattern(patterns[i], &code[i])) {
            if (bad) *bad = i;
            ok = false;
            break;
        }
        code[i].pattern = strs[2 * i];
        code[i].name = strs[2 * i + 1];
    }
    if (!ok) {
        for (size_t i = 0; strs && i < 2 * n; i++) free(strs[i]);
        free(strs);
        free(code);
        return false;
    }
    /* files parsed before knew other patterns */
    uelf_cache_fini(&u->elves);
    for (size_t i = 0; i < 2 * u->ncode; i++) free(u->code_strs[i]);
    free(u->code_strs);
    free(u->code);
    u->code = code;
    u->code_strs = strs;
    u->ncode = n;
    u->elves.code = code;
    u->elves.ncode = n;
    return true;
}

bool ustack_load_pid(ustack *u, uint32_t tgid)
{
    bool known = uprocs_get(&u->procs, tgid, false) != NULL;
    uproc *pr = uprocs_get(&u->procs, tgid, true);
    if (pr && uproc_read(pr)) return true;
    if (pr && !known) uprocs_drop(&u->procs, tgid);
    return false;
}

size_t ustack_scan_proc(ustack *u)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        unsigned long pid = strtoul(de->d_name, &end, 10);
        if (*end || !pid || pid > UINT32_MAX) continue;
        n += ustack_load_pid(u, (uint32_t)pid);
    }
    closedir(d);
    return n;
}

static uelf *bind_elf(ustack *u, const uproc *pr, umap *mp);

static bool system_lib(const char *path)
{
    static const char *const dirs[] = {"/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/",
                                       "/usr/lib32/"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (!strncmp(path, dirs[i], strlen(dirs[i])) && !strstr(path, "/../")) return true;
    return false;
}

void ustack_map(ustack *u, uint32_t tgid, uint64_t start, uint64_t end, uint64_t pgoff,
                uint32_t prot, const char *path, const char *provenance)
{
    uproc *pr = uprocs_get(&u->procs, tgid, true);
    if (!pr) return;
    uproc_set(pr, start, end, pgoff, prot, path, provenance);
    /* open the file now, while the process (and the file: a library
     * dropped in /tmp and deleted after loading) still exists. The system
     * library directories are left to the first unwind that needs them:
     * their files stay, and a build maps thousands of them a minute. */
    if (!path || !(prot & USTACK_PROT_X) || system_lib(path)) return;
    umap *mp = uproc_find(pr, start);
    if (mp && mp->start == start && mp->kind == UMAP_FILE) bind_elf(u, pr, mp);
}

void ustack_image(ustack *u, uint32_t tgid, uint64_t start, uint64_t end, uint64_t pgoff,
                  const char *path)
{
    uproc *pr = uprocs_get(&u->procs, tgid, true);
    if (!pr || !path || end <= start) return;
    uproc_set(pr, start, end, pgoff, USTACK_PROT_R | USTACK_PROT_X, path, NULL);
    umap *mp = uproc_find(pr, start);
    if (!mp || mp->start != start || mp->kind != UMAP_FILE) return;
    uelf *e = bind_elf(u, pr, mp);
    if (!e) return;
    uint32_t slot = mp->elf_slot;
    uint64_t id = e->id, page = 4096;
    /* the load bias, from the segment that holds the reported file offset */
    const uelf_load *seg = NULL;
    for (unsigned i = 0; i < e->nload && !seg; i++) {
        const uelf_load *l = &e->load[i];
        if (pgoff >= (l->off & ~(page - 1)) && pgoff < l->off + l->filesz) seg = l;
    }
    if (!seg) return;
    uint64_t bias = start - ((seg->vaddr & ~(page - 1)) + (pgoff - (seg->off & ~(page - 1))));
    for (unsigned i = 0; i < e->nload; i++) {
        const uelf_load *l = &e->load[i];
        if (!l->exec || !l->filesz) continue;
        uint64_t s0 = bias + (l->vaddr & ~(page - 1));
        uint64_t e0 = bias + ((l->vaddr + l->filesz + page - 1) & ~(page - 1));
        if (e0 <= s0 || (s0 < end && e0 > start)) continue; /* reported already */
        uproc_set(pr, s0, e0, l->off & ~(page - 1), USTACK_PROT_R | USTACK_PROT_X, path, NULL);
        umap *nm = uproc_find(pr, s0);
        if (nm && nm->start == s0 && nm->kind == UMAP_FILE) {
            nm->bind = UBIND_OK;
            nm->elf_slot = slot;
            nm->elf_id = id;
        }
    }
}

void ustack_fork(ustack *u, uint32_t parent, uint32_t child)
{
    uproc *src = uprocs_get(&u->procs, parent, false);
    if (!src) return; /* the child's maps are read from /proc on first use */
    uproc *dst = uprocs_get(&u->procs, child, true);
    if (dst && dst != src && !uproc_copy(dst, src)) uprocs_drop(&u->procs, child);
}

void ustack_exec(ustack *u, uint32_t tgid)
{
    /* the old image is gone: the sensor reports the new one's mappings as
     * they are made (its text, the interpreter, then every mmap), and a
     * miss rereads /proc while the process lives */
    uproc *pr = uprocs_get(&u->procs, tgid, false);
    if (pr) {
        pr->n = 0;
        pr->stale = false;
    }
}

void ustack_exit(ustack *u, uint32_t tgid)
{
    uprocs_drop(&u->procs, tgid);
}

/* API: unwinding --------------------------------------------------------------- */

static uelf *bind_elf(ustack *u, const uproc *pr, umap *mp)
{
    if (mp->bind == UBIND_OK) {
        uelf *e = uelf_at(&u->elves, mp->elf_slot, mp->elf_id);
        if (e) return e;
        mp->bind = UBIND_NONE; /* evicted: open it again */
    }
    if (mp->bind == UBIND_FAIL) return NULL;
    mp->bind = UBIND_FAIL;
    const char *path = uproc_str(pr, mp->path);
    if (!path) return NULL;
    char buf[4200];
    int fd = -1;
    /* the process's own view of the path (containers), while it lives */
    if (snprintf(buf, sizeof buf, "/proc/%u/root%s", pr->tgid, path) < (int)sizeof buf)
        fd = open(buf, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(buf, sizeof buf, "/proc/%u/root", pr->tgid);
        if (access(buf, F_OK) == 0) return NULL; /* alive, and the file is not there */
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return NULL;
    unsigned slot;
    uelf *e = uelf_get(&u->elves, fd, &slot);
    close(fd);
    if (!e) return NULL;
    mp->bind = UBIND_OK;
    mp->elf_slot = slot;
    mp->elf_id = e->id;
    return e;
}

static const char *keep(ustack *u, const char *s, const ustack_frame *prev)
{
    if (!s) return NULL;
    if (prev && prev->module && !strcmp(prev->module, s)) return prev->module;
    return arena_strndup(&u->strs, s, strlen(s));
}

typedef struct walk {
    ustack *u;
    uproc *pr;
    uint32_t tgid;
    bool reread; /* /proc/PID/maps was read during this unwind */
} walk;

/* Fill f for ip; returns the module's ELF (and ip's vaddr in it) when the
 * frame can be unwound with CFI. */
static uelf *fill(walk *w, ustack_frame *f, const ustack_frame *prev, uint64_t ip, char how,
                  bool exact, uint64_t *vaddr)
{
    memset(f, 0, sizeof *f);
    f->ip = ip;
    f->how = how;
    f->offset = ip;
    umap *mp = w->pr ? uproc_find(w->pr, ip) : NULL;
    /* a new mapping? only for addresses we trust (exact ip, CFI-derived): a
     * garbage return address must not cost a /proc read each time */
    if (!mp && !w->reread && (how == 'S' || how == 'D')) {
        w->reread = true;
        if (ustack_load_pid(w->u, w->tgid)) {
            w->pr = uprocs_get(&w->u->procs, w->tgid, false);
            mp = w->pr ? uproc_find(w->pr, ip) : NULL;
        }
    }
    if (!mp) return NULL;
    f->mapped = true;
    f->writable = (mp->prot & USTACK_PROT_W) != 0;
    if (mp->kind == UMAP_ANON) {
        f->anon_exec = true;
        f->offset = ip - mp->start;
        const char *prov = uproc_str(w->pr, mp->prov);
        if (prov) f->provenance = arena_strndup(&w->u->strs, prov, strlen(prov));
        return NULL;
    }
    uint64_t off = ip - mp->start + mp->pgoff;
    f->module = keep(w->u, uproc_str(w->pr, mp->path), prev);
    f->offset = off;
    if (mp->kind != UMAP_FILE) return NULL;
    uelf *e = bind_elf(w->u, w->pr, mp);
    if (e && e->rt_name && e->rt_why) {
        f->runtime = e->rt_name; /* owned by u's tables */
        f->runtime_by = prev && prev->runtime_by && !strcmp(prev->runtime_by, e->rt_why)
                            ? prev->runtime_by
                            : arena_strndup(&w->u->strs, e->rt_why, strlen(e->rt_why));
    }
    if (!e || !uelf_vaddr(e, off, vaddr)) return NULL;
    f->offset = *vaddr;
    /* a return address may be just past the end of its caller */
    uelf_sym *s = uelf_symbol(e, exact || *vaddr == 0 ? *vaddr : *vaddr - 1);
    if (s) {
        const char *name = uelf_sym_name(s);
        f->symbol = arena_strndup(&w->u->strs, name, strlen(name));
        f->offset = *vaddr - s->addr;
    }
    f->nlead = (uint8_t)uelf_lead(e, off, f->lead, sizeof f->lead);
    return e;
}

size_t ustack_unwind(ustack *u, uint32_t tgid, const ustack_regs *regs, const void *stack,
                     size_t stack_len, ustack_frame *out, size_t max, ustack_stop *stop)
{
    ustack_stop why = USTACK_STOP_NOUNWIND;
    size_t n = 0;
    arena_reset(&u->strs);
    if (!regs || !max || !out || regs->ip == 0) goto done;
    if (!stack) stack_len = 0;
    walk w = {u, uprocs_get(&u->procs, tgid, false), tgid, false};
    if (!w.pr || w.pr->stale) {
        w.reread = true;
        if (!ustack_load_pid(u, tgid) && w.pr && w.pr->stale) {
            w.pr->n = 0; /* exec'ed and gone: the old image is no guide */
            w.pr->stale = false;
        }
        w.pr = uprocs_get(&u->procs, tgid, false);
    }
    ustate s = {.r = {[3] = regs->bx,
                      [REG_BP] = regs->bp,
                      [REG_SP] = regs->sp,
                      [12] = regs->r12,
                      [13] = regs->r13,
                      [14] = regs->r14,
                      [15] = regs->r15,
                      [REG_IP] = regs->ip},
                .valid = REGBIT(3) | REGBIT(REG_BP) | REGBIT(REG_SP) | REGBIT(12) | REGBIT(13) |
                         REGBIT(14) | REGBIT(15) | REGBIT(REG_IP)};
    umem m = {regs->sp, stack, stack_len};
    char how = 'S';
    bool exact = true; /* frame 0's ip, or one interrupted by a signal */
    for (;;) {
        uint64_t vaddr = 0;
        uelf *e = fill(&w, &out[n], n ? &out[n - 1] : NULL, s.r[REG_IP], how, exact, &vaddr);
        n++;
        ustate nx;
        int rc = ST_NOCFI;
        bool signal = false;
        if (e && e->cfi)
            rc = step_cfi(u, e, exact || !vaddr ? vaddr : vaddr - 1, &s, &m, &nx, &signal);
        exact = signal;
        how = 'D';
        if (rc == ST_NOCFI || rc == ST_FAIL) {
            rc = step_fp(&s, &m, &nx);
            how = 'F';
        }
        if (rc == ST_OK && nx.r[REG_IP] == 0) rc = ST_END; /* a zeroed return address */
        if (rc != ST_OK) {
            why = rc == ST_END    ? USTACK_STOP_END
                  : rc == ST_COPY ? USTACK_STOP_COPY
                                  : USTACK_STOP_NOUNWIND;
            break;
        }
        if (nx.r[REG_SP] <= s.r[REG_SP]) {
            why = USTACK_STOP_LOOP;
            break;
        }
        if (n == max) {
            why = USTACK_STOP_MAX;
            break;
        }
        s = nx;
    }
done:
    if (stop) *stop = why;
    return n;
}

int ustack_format(const ustack_frame *f, char *buf, size_t n)
{
    if (f->module && f->symbol)
        return snprintf(buf, n, "%s!%s+0x%" PRIx64, f->module, f->symbol, f->offset);
    if (f->module) return snprintf(buf, n, "%s+0x%" PRIx64, f->module, f->offset);
    /* an address in no executable mapping is not code: a stale or forged
     * return address, not shellcode */
    if (!f->mapped && !f->anon_exec) return snprintf(buf, n, "Unknown");
    return snprintf(buf, n, "Unbacked+0x%" PRIx64, f->offset);
}
