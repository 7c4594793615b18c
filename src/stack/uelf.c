/* uelf.c - parsed ELF files for ustack: load segments, function symbols,
 * .eh_frame CFI and the raw image (for call-site bytes).
 *
 * While the symbols are read, each function name is checked against the
 * runtime patterns (ustack_set_code, from the table's `code` lines): the
 * first pattern a module defines names its runtime, recorded with the
 * function (demangled) that showed it. The check is one byte compare per
 * pattern for nearly every name, so recognising costs nothing measurable
 * next to the sort. The GNU build-id is kept as the file's identity.
 *
 * Files are mapped (ELF_C_READ_MMAP) and the descriptor is not kept. Entries
 * are keyed by dev+inode+mtime+size, so a rebuilt file is a new entry; at
 * most USTACK_MAX_ELF are kept, evicted by a clock sweep. Every entry gets an
 * id that is never reused: mappings and cached CFI rows hold (slot, id) and
 * notice eviction by comparing ids, without back-pointers.
 */
#include "ustack_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* libstdc++ (linked through the library's C++ sources) */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

void uelf_cache_init(uelf_cache *c)
{
    memset(c, 0, sizeof *c);
    c->next_id = 1;
    elf_version(EV_CURRENT);
}

static void uelf_free(uelf *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nsyms; i++)
        if (e->syms[i].dem && e->syms[i].dem != e->syms[i].name) free((char *)e->syms[i].dem);
    free(e->syms);
    free(e->rt_why);
    if (e->cfi) dwarf_cfi_end(e->cfi);
    if (e->elf) elf_end(e->elf);
    free(e);
}

void uelf_cache_fini(uelf_cache *c)
{
    for (unsigned i = 0; i < USTACK_MAX_ELF; i++) uelf_free(c->slot[i]);
    memset(c->slot, 0, sizeof c->slot);
}

static int bind_rank(unsigned char info)
{
    switch (GELF_ST_BIND(info)) {
    case STB_GLOBAL: return 0;
    case STB_WEAK: return 1;
    default: return 2;
    }
}

typedef struct sym_tmp {
    uelf_sym s;
    int rank;
} sym_tmp;

static int sym_cmp(const void *a, const void *b)
{
    const sym_tmp *x = a, *y = b;
    if (x->s.addr != y->s.addr) return x->s.addr < y->s.addr ? -1 : 1;
    /* among aliases: a sized one, then global before weak before local */
    if ((x->s.size == 0) != (y->s.size == 0)) return x->s.size == 0 ? 1 : -1;
    if (x->rank != y->rank) return x->rank - y->rank;
    return strcmp(x->s.name, y->s.name);
}

/* The first code pattern (table order) that the function `name` matches
 * better than *best; the cost is one byte compare per pattern for most
 * names. */
static void match_code(const uelf_cache *c, const char *name, int *best, const char **who)
{
    /* a later alias without a suffix (.cold, .part.0, .isra) reads better */
    bool tidy = *best >= 0 && strchr(*who, '.') && !strchr(name, '.');
    size_t lim = *best < 0 ? c->ncode : (size_t)*best + tidy;
    for (size_t i = 0; i < lim; i++) {
        const ucode *k = &c->code[i];
        if (name[0] != k->prefix[0]) continue;
        size_t n = strlen(k->prefix);
        if (strncmp(name, k->prefix, n) || (!k->any_tail && name[n])) continue;
        *best = (int)i;
        *who = name;
        return;
    }
}

static void load_symbols(const uelf_cache *c, uelf *e)
{
    Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
    GElf_Shdr sh, best;
    while ((scn = elf_nextscn(e->elf, scn))) {
        if (!gelf_getshdr(scn, &sh)) continue;
        if (sh.sh_type == SHT_SYMTAB && !symtab) symtab = scn;
        if (sh.sh_type == SHT_DYNSYM && !dynsym) dynsym = scn;
    }
    scn = symtab ? symtab : dynsym;
    if (!scn || !gelf_getshdr(scn, &best) || best.sh_entsize == 0) return;
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d) return;
    size_t n = d->d_size / best.sh_entsize;
    const char *who = NULL;
    sym_tmp *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        GElf_Sym s;
        if (!gelf_getsym(d, (int)i, &s)) break;
        int type = GELF_ST_TYPE(s.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
            s.st_value == 0)
            continue;
        const char *name = elf_strptr(e->elf, best.sh_link, s.st_name);
        if (!name || !*name) continue;
        if (c->ncode) match_code(c, name, &e->runtime, &who);
        t[k++] = (sym_tmp){{s.st_value, s.st_size, name, NULL}, bind_rank(s.st_info)};
    }
    qsort(t, k, sizeof *t, sym_cmp);
    uelf_sym *out = malloc((k ? k : 1) * sizeof *out);
    if (!out) {
        free(t);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || out[m - 1].addr != t[i].s.addr) out[m++] = t[i].s;
    free(t);
    e->syms = out;
    e->nsyms = m;
    if (who) {
        int status = -1;
        char *dm = who[0] == '_' && who[1] == 'Z' ? __cxa_demangle(who, NULL, NULL, &status) : NULL;
        const char *shown = dm && status == 0 ? dm : who;
        size_t wl = strlen(shown) + 8;
        e->rt_why = malloc(wl);
        if (e->rt_why) {
            snprintf(e->rt_why, wl, "symbol %s", shown);
            e->rt_name = c->code[e->runtime].name;
        }
        free(dm);
    }
}

/* A stripped file of a known runtime build: by its build-id. */
static void match_known(const uelf_cache *c, uelf *e)
{
    if (e->rt_name || !e->build_id_len) return;
    for (size_t i = 0; i < c->nknown; i++) {
        const uknown *k = &c->known[i];
        if (k->len != e->build_id_len || memcmp(k->id, e->build_id, k->len)) continue;
        size_t n = 2 * k->len + strlen(k->path) + 16;
        e->rt_why = malloc(n);
        if (!e->rt_why) return;
        size_t o = (size_t)snprintf(e->rt_why, n, "build-id ");
        for (unsigned j = 0; j < k->len; j++)
            o += (size_t)snprintf(e->rt_why + o, n - o, "%02x", k->id[j]);
        snprintf(e->rt_why + o, n - o, " of %s", k->path);
        e->rt_name = k->name;
        return;
    }
}

/* NT_GNU_BUILD_ID from the first note section that has one. */
static void load_build_id(uelf *e)
{
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;
    while ((scn = elf_nextscn(e->elf, scn))) {
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE) continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d) continue;
        GElf_Nhdr nh;
        size_t off = 0, noff, doff;
        while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
            if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
                memcmp((const char *)d->d_buf + noff, "GNU", 4) || nh.n_descsz == 0)
                continue;
            size_t n = nh.n_descsz < sizeof e->build_id ? nh.n_descsz : sizeof e->build_id;
            memcpy(e->build_id, (const uint8_t *)d->d_buf + doff, n);
            e->build_id_len = (uint8_t)n;
            return;
        }
    }
}

static uelf *uelf_parse(const uelf_cache *c, int fd, const struct stat *st)
{
    uelf *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->runtime = -1;
    e->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    GElf_Ehdr eh;
    if (!e->elf || elf_kind(e->elf) != ELF_K_ELF || !gelf_getehdr(e->elf, &eh) ||
        gelf_getclass(e->elf) != ELFCLASS64 || eh.e_machine != EM_X86_64)
        goto fail;
    /* everything is in the mapping; the descriptor is not needed after this */
    if (elf_cntl(e->elf, ELF_C_FDREAD) != 0) goto fail;
    e->raw = (const uint8_t *)elf_rawfile(e->elf, &e->rawlen);
    size_t nph;
    if (elf_getphdrnum(e->elf, &nph) != 0) goto fail;
    for (size_t i = 0; i < nph && e->nload < 16; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(e->elf, (int)i, &ph) && ph.p_type == PT_LOAD)
            e->load[e->nload++] =
                (uelf_load){ph.p_offset, ph.p_filesz, ph.p_vaddr, (ph.p_flags & PF_X) != 0};
    }
    load_symbols(c, e);
    load_build_id(e);
    match_known(c, e);
    e->cfi = dwarf_getcfi_elf(e->elf);
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    e->size = st->st_size;
    return e;
fail:
    uelf_free(e);
    return NULL;
}

size_t uelf_read_build_id(int fd, uint8_t *out, size_t cap)
{
    uelf tmp = {0};
    elf_version(EV_CURRENT);
    tmp.elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t n = 0;
    if (tmp.elf && elf_kind(tmp.elf) == ELF_K_ELF) {
        load_build_id(&tmp);
        n = tmp.build_id_len < cap ? tmp.build_id_len : cap;
        memcpy(out, tmp.build_id, n);
    }
    if (tmp.elf) elf_end(tmp.elf);
    return n;
}

uelf *uelf_get(uelf_cache *c, int fd, unsigned *slot)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    for (unsigned i = 0; i < USTACK_MAX_ELF; i++) {
        uelf *e = c->slot[i];
        if (e && e->ino == st.st_ino && e->dev == st.st_dev && e->mtime_ns == mt &&
            e->size == st.st_size) {
            e->ref = true;
            *slot = i;
            return e;
        }
    }
    uelf *e = uelf_parse(c, fd, &st);
    if (!e) return NULL;
    e->id = c->next_id++;
    e->ref = true;
    /* clock: the first free slot, else the first one not used since the last sweep */
    for (;;) {
        unsigned i = c->hand;
        c->hand = (c->hand + 1) % USTACK_MAX_ELF;
        if (!c->slot[i] || !c->slot[i]->ref) {
            uelf_free(c->slot[i]);
            c->slot[i] = e;
            *slot = i;
            return e;
        }
        c->slot[i]->ref = false;
    }
}

uelf *uelf_at(uelf_cache *c, unsigned slot, uint64_t id)
{
    uelf *e = slot < USTACK_MAX_ELF ? c->slot[slot] : NULL;
    if (!e || e->id != id) return NULL;
    e->ref = true;
    return e;
}

static const uelf_load *load_of(const uelf *e, uint64_t off)
{
    for (unsigned i = 0; i < e->nload; i++)
        if (off >= e->load[i].off && off - e->load[i].off < e->load[i].filesz) return &e->load[i];
    return NULL;
}

bool uelf_vaddr(const uelf *e, uint64_t off, uint64_t *vaddr)
{
    const uelf_load *l = load_of(e, off);
    if (!l) return false;
    *vaddr = off - l->off + l->vaddr;
    return true;
}

uelf_sym *uelf_symbol(uelf *e, uint64_t vaddr)
{
    size_t lo = 0, hi = e->nsyms; /* first symbol above vaddr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->syms[mid].addr <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return NULL;
    uelf_sym *s = &e->syms[lo - 1];
    /* past the end of the nearest function: a static one with no symbol */
    if (vaddr - s->addr >= s->size && !(s->size == 0 && vaddr == s->addr)) return NULL;
    return s;
}

const char *uelf_sym_name(uelf_sym *s)
{
    if (!s->dem) {
        s->dem = s->name;
        if (s->name[0] == '_' && s->name[1] == 'Z') {
            int status = -1;
            char *d = __cxa_demangle(s->name, NULL, NULL, &status);
            if (d && status == 0)
                s->dem = d;
            else
                free(d);
        }
    }
    return s->dem;
}

size_t uelf_lead(const uelf *e, uint64_t off, uint8_t *out, size_t n)
{
    const uelf_load *l = load_of(e, off);
    if (!l || !e->raw || off > e->rawlen) return 0;
    uint64_t begin = off - l->off > n ? off - n : l->off;
    memcpy(out, e->raw + begin, off - begin);
    return off - begin;
}
