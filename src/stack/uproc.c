/* uproc.c - executable mappings per process (tgid) for ustack.
 *
 * Only executable mappings are kept: a frame's ip is in one of them or in
 * nothing that matters. Each process holds a sorted, disjoint array and one
 * string blob (paths, provenance); the blob is compacted when it has grown
 * to twice what the live mappings use, so replaced mappings do not
 * accumulate. Processes live in a fixed-size hash table with an LRU list;
 * past USTACK_MAX_PROCS the least recently used one is dropped.
 */
#include "ustack_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/ustack.h"

#define NBUCKET 16384u

bool uprocs_init(uprocs *p)
{
    memset(p, 0, sizeof *p);
    p->bucket = calloc(NBUCKET, sizeof *p->bucket);
    p->nbucket = NBUCKET;
    return p->bucket != NULL;
}

static void proc_free(uproc *pr)
{
    free(pr->m);
    free(pr->blob);
    free(pr);
}

void uprocs_fini(uprocs *p)
{
    uproc *pr = p->head;
    while (pr) {
        uproc *next = pr->next;
        proc_free(pr);
        pr = next;
    }
    free(p->bucket);
    memset(p, 0, sizeof *p);
}

static size_t bucket_of(const uprocs *p, uint32_t tgid)
{
    return (tgid * 2654435761u) & (p->nbucket - 1);
}

static void lru_unlink(uprocs *p, uproc *pr)
{
    if (pr->prev)
        pr->prev->next = pr->next;
    else
        p->head = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    else
        p->tail = pr->prev;
    pr->prev = pr->next = NULL;
}

static void lru_push(uprocs *p, uproc *pr)
{
    pr->next = p->head;
    if (p->head) p->head->prev = pr;
    p->head = pr;
    if (!p->tail) p->tail = pr;
}

void uprocs_drop(uprocs *p, uint32_t tgid)
{
    uproc **pp = &p->bucket[bucket_of(p, tgid)];
    for (; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->tgid != tgid) continue;
        uproc *pr = *pp;
        *pp = pr->hnext;
        lru_unlink(p, pr);
        proc_free(pr);
        p->n--;
        return;
    }
}

uproc *uprocs_get(uprocs *p, uint32_t tgid, bool create)
{
    size_t b = bucket_of(p, tgid);
    for (uproc *pr = p->bucket[b]; pr; pr = pr->hnext) {
        if (pr->tgid != tgid) continue;
        if (p->head != pr) {
            lru_unlink(p, pr);
            lru_push(p, pr);
        }
        return pr;
    }
    if (!create) return NULL;
    if (p->n >= USTACK_MAX_PROCS && p->tail) uprocs_drop(p, p->tail->tgid);
    uproc *pr = calloc(1, sizeof *pr);
    if (!pr) return NULL;
    pr->tgid = tgid;
    pr->hnext = p->bucket[b];
    p->bucket[b] = pr;
    lru_push(p, pr);
    p->n++;
    return pr;
}

/* Strings -------------------------------------------------------------------- */

static size_t live_bytes(const uproc *pr)
{
    size_t n = 0;
    for (size_t i = 0; i < pr->n; i++) {
        if (pr->m[i].path != USTR_NONE) n += strlen(pr->blob + pr->m[i].path) + 1;
        if (pr->m[i].prov != USTR_NONE) n += strlen(pr->blob + pr->m[i].prov) + 1;
    }
    return n;
}

static bool blob_reserve(uproc *pr, size_t need)
{
    if (pr->blen + need <= pr->bcap) return true;
    size_t live = live_bytes(pr), cap = pr->bcap ? pr->bcap : 256;
    while (cap < 2 * (live + need)) cap *= 2;
    if (cap > UINT32_MAX) return false;
    char *nb = malloc(cap);
    if (!nb) return false;
    size_t len = 0;
    /* compact: copy live strings (neighbours often share one) */
    for (size_t i = 0; i < pr->n; i++) {
        uint32_t *fields[2] = {&pr->m[i].path, &pr->m[i].prov};
        for (int f = 0; f < 2; f++) {
            uint32_t old = *fields[f];
            if (old == USTR_NONE) continue;
            if (i > 0 && pr->m[i - 1].path != USTR_NONE && f == 0 &&
                !strcmp(nb + pr->m[i - 1].path, pr->blob + old)) {
                *fields[f] = pr->m[i - 1].path;
                continue;
            }
            size_t l = strlen(pr->blob + old) + 1;
            memcpy(nb + len, pr->blob + old, l);
            *fields[f] = (uint32_t)len;
            len += l;
        }
    }
    free(pr->blob);
    pr->blob = nb;
    pr->blen = len;
    pr->bcap = cap;
    return true;
}

static uint32_t add_str(uproc *pr, const char *s, size_t n)
{
    if (!blob_reserve(pr, n + 1)) return USTR_NONE;
    uint32_t off = (uint32_t)pr->blen;
    memcpy(pr->blob + off, s, n);
    pr->blob[off + n] = 0;
    pr->blen += n + 1;
    return off;
}

/* Mappings ------------------------------------------------------------------- */

/* Index of the first mapping that ends after addr (mappings are sorted). */
static size_t first_ending_after(const uproc *pr, uint64_t addr)
{
    size_t lo = 0, hi = pr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pr->m[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

umap *uproc_find(uproc *pr, uint64_t pc)
{
    size_t i = first_ending_after(pr, pc);
    return i < pr->n && pr->m[i].start <= pc ? &pr->m[i] : NULL;
}

static int classify(const char *path, size_t *len)
{
    size_t n = *len;
    if (n == 0) return UMAP_ANON;
    if (path[0] == '[') {
        if (!strncmp(path, "[stack", 6) || !strncmp(path, "[heap]", 6) ||
            !strncmp(path, "[anon", 5)) {
            *len = 0;
            return UMAP_ANON;
        }
        return UMAP_NOELF; /* [vdso], [vsyscall]: named, no file */
    }
    static const char del[] = " (deleted)";
    if (path[0] != '/' ||
        (n > sizeof del - 1 && !memcmp(path + n - (sizeof del - 1), del, sizeof del - 1)))
        return UMAP_NOELF; /* memfd:..., deleted files: a module without symbols */
    if (!strncmp(path, "/memfd:", 7)) return UMAP_NOELF;
    return UMAP_FILE;
}

/* Remove [start, end) from the map, splitting partial overlaps. Returns the
 * index where a mapping starting at `start` belongs. */
static size_t cut(uproc *pr, uint64_t start, uint64_t end, bool *ok)
{
    size_t i = first_ending_after(pr, start);
    size_t j = i;
    while (j < pr->n && pr->m[j].start < end) j++;
    *ok = true;
    if (i == j) return i;
    umap left = pr->m[i], right = pr->m[j - 1];
    bool has_l = left.start<start, has_r = right.end> end;
    size_t keep = (size_t)has_l + has_r;
    if (pr->n - (j - i) + keep + 1 > pr->cap) {
        size_t cap = pr->cap ? pr->cap * 2 : 16;
        while (cap < pr->n + keep + 1) cap *= 2;
        umap *nm = realloc(pr->m, cap * sizeof *nm);
        if (!nm) {
            *ok = false;
            return i;
        }
        pr->m = nm;
        pr->cap = cap;
    }
    memmove(pr->m + i + keep, pr->m + j, (pr->n - j) * sizeof *pr->m);
    pr->n = pr->n - (j - i) + keep;
    size_t at = i;
    if (has_l) {
        left.end = start;
        pr->m[at++] = left;
    }
    if (has_r) {
        right.pgoff += end - right.start;
        right.start = end;
        pr->m[at] = right;
    }
    return has_l ? i + 1 : i;
}

static void insert(uproc *pr, const umap *mp)
{
    bool ok;
    size_t at = cut(pr, mp->start, mp->end, &ok);
    if (!ok || pr->n >= USTACK_MAX_MAPS) return;
    if (pr->n + 1 > pr->cap) {
        size_t cap = pr->cap ? pr->cap * 2 : 16;
        umap *nm = realloc(pr->m, cap * sizeof *nm);
        if (!nm) return;
        pr->m = nm;
        pr->cap = cap;
    }
    memmove(pr->m + at + 1, pr->m + at, (pr->n - at) * sizeof *pr->m);
    pr->m[at] = *mp;
    pr->n++;
}

void uproc_set(uproc *pr, uint64_t start, uint64_t end, uint64_t pgoff, uint32_t prot,
               const char *path, const char *prov)
{
    if (end <= start) return;
    bool ok;
    if (!(prot & USTACK_PROT_X)) { /* no longer executable: nothing to resolve there */
        cut(pr, start, end, &ok);
        return;
    }
    size_t plen = path ? strlen(path) : 0, vlen = prov ? strlen(prov) : 0;
    umap mp = {.start = start, .end = end, .pgoff = pgoff, .prot = (uint8_t)prot};
    mp.kind = (uint8_t)classify(path, &plen);
    /* room for both first: a compaction between the two would drop the path,
     * which is not in the map yet */
    if (!blob_reserve(pr, plen + vlen + 2)) return;
    mp.path = plen ? add_str(pr, path, plen) : USTR_NONE;
    mp.prov = vlen ? add_str(pr, prov, vlen) : USTR_NONE;
    insert(pr, &mp);
}

bool uproc_copy(uproc *dst, const uproc *src)
{
    umap *m = malloc((src->n ? src->n : 1) * sizeof *m);
    char *b = malloc(src->blen ? src->blen : 1);
    if (!m || !b) {
        free(m);
        free(b);
        return false;
    }
    if (src->n) memcpy(m, src->m, src->n * sizeof *m);
    if (src->blen) memcpy(b, src->blob, src->blen);
    free(dst->m);
    free(dst->blob);
    dst->m = m;
    dst->n = dst->cap = src->n;
    dst->blob = b;
    dst->blen = dst->bcap = src->blen;
    dst->stale = src->stale;
    return true;
}

bool uproc_read(uproc *pr)
{
    char fn[64];
    snprintf(fn, sizeof fn, "/proc/%u/maps", pr->tgid);
    FILE *f = fopen(fn, "re");
    if (!f) return false;
    uproc old = *pr;
    pr->m = NULL;
    pr->n = pr->cap = 0;
    pr->blob = NULL;
    pr->blen = pr->bcap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    size_t o = 0; /* old mappings are sorted too: walk them alongside */
    while ((len = getline(&line, &lcap, f)) > 0) {
        unsigned long long s, e, off, ino;
        char perm[5];
        int pos = 0;
        if (sscanf(line, "%llx-%llx %4s %llx %*x:%*x %llu %n", &s, &e, perm, &off, &ino, &pos) <
                5 ||
            perm[2] != 'x')
            continue;
        while (len > 0 && line[len - 1] == '\n') line[--len] = 0;
        const char *path = pos > 0 && pos <= len ? line + pos : "";
        uint32_t prot = USTACK_PROT_X | (perm[0] == 'r' ? USTACK_PROT_R : 0) |
                        (perm[1] == 'w' ? USTACK_PROT_W : 0);
        size_t before = pr->n;
        uproc_set(pr, s, e, off, prot, path, NULL);
        if (pr->n != before + 1) continue;
        umap *nm = &pr->m[pr->n - 1];
        while (o < old.n && old.m[o].end <= s) o++;
        if (o < old.n && old.m[o].start == s && old.m[o].end == e && old.m[o].kind == nm->kind) {
            const umap *om = &old.m[o];
            /* the sensor told us who made this anonymous region executable */
            if (nm->kind == UMAP_ANON && om->prov != USTR_NONE)
                nm->prov = add_str(pr, old.blob + om->prov, strlen(old.blob + om->prov));
            /* same file, same place: keep the ELF binding */
            if (nm->kind == UMAP_FILE && om->pgoff == nm->pgoff && om->path != USTR_NONE &&
                !strcmp(old.blob + om->path, pr->blob + nm->path)) {
                nm->bind = om->bind;
                nm->elf_id = om->elf_id;
                nm->elf_slot = om->elf_slot;
            }
        }
    }
    free(line);
    fclose(f);
    free(old.m);
    free(old.blob);
    pr->stale = false;
    return true;
}
