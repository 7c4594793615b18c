/* decode_sensor.c - the live sensor's kernel records as ECS documents.
 *
 * Each record from bpf/sensor.bpf.c becomes, at most, one document in the
 * shape Elastic Defend writes on Linux, so Elastic's Linux rules and modus's
 * own run on it unchanged:
 *
 *   record            event.category  event.action        stack in
 *   EXEC              process         exec                process.parent.thread (caller)
 *   FORK              process         fork                -
 *   EXIT              process         end                 -
 *   MPROTECT, MMAP*   api             mprotect, mmap      process.thread
 *   FILE_OPEN         file            creation, modification
 *   RENAME            file            rename
 *   PTRACE, VM_WRITEV api             ptrace, process_vm_writev (Target.process.*)
 *   PROC_MEM          api             proc_mem_write, proc_mem_read (Target.process.*)
 *   MEMFD             process, api    memfd_create        (type start, as Elastic Defend)
 *   MODULE            process, driver load_module         (type start; api.name finit_module...)
 *   BPF               api             bpf                 (BPF_PROG_LOAD)
 *   (* MMAP only when suspect: W+X, anonymous, deleted/memfd file)
 *
 * State kept here, all bounded:
 *   - a process table (tgid -> executable, args, parent, entity id), seeded
 *     from /proc at start and kept by FORK/EXEC/EXIT records; entity ids
 *     hash (host boot id, tgid, start time in clock ticks), so /proc-seeded
 *     and kernel-reported processes agree and pid reuse gives a new id;
 *   - module maps for the unwinder (ustack): MMAP records of executable
 *     file mappings, fork inheritance, /proc rereads;
 *   - anonymous executable regions labelled with the runtime that made them
 *     executable (node, java, luajit): their frames carry that
 *     protection_provenance, so JIT code is not mistaken for shellcode;
 *   - the execve caller's frames per thread until the EXEC record, and the
 *     parent's stack at clone(CLONE_VFORK) for posix_spawn children, whose
 *     own stack is a few hundred bytes.
 * Stacks are unwound when their record arrives: the maps of an exec caller
 * are gone once the new image runs.
 */
#include <ctype.h>
#include <dirent.h>
#include <sys/random.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sensor.h"
#include "stack/ustack.h"
#include "util/buf.h"

#define MAX_PROCS   65536u /* power of two */
#define MAX_PENDING 256u
#define MAX_FRAMES  128
#define ARGS_MAX    1024

/* A small fixed slot per process; its strings are allocated (exact size),
 * so the table costs ~4 MB however many processes pass through. */
typedef struct proc {
    uint32_t tgid, ppid; /* tgid 0: free slot */
    uint64_t ticks;      /* start time, clock ticks since boot */
    uint32_t uid;
    uint16_t args_len;
    char entity[17];
    char *exe;          /* NULL: unknown */
    char *args;         /* argv, NUL-separated, args_len bytes */
    char *spawn_frames; /* JSON array text of the parent's vfork stack */
} proc;

typedef struct pending {
    uint32_t tid; /* 0: free */
    uint64_t seq;
    char *frames; /* JSON array text */
    size_t nframes;
} pending;

struct msdec {
    ustack *u;
    char host[256];
    char boot_id[40];
    char instance[17]; /* event.id: this decoder's random prefix, then a count */
    uint64_t ndocs;
    int64_t boot_to_real; /* ns */
    proc *procs;          /* open addressing by tgid */
    uint32_t nprocs;
    pending exec_caller[MAX_PENDING], vfork[MAX_PENDING];
    uint64_t seq, unwound;
    const char *jit; /* JIT runtime module on the last unwound stack */
    buf out, tmp;
    ustack_frame frames[MAX_FRAMES];
    char fbuf[1024];
};

/* ---- process table --------------------------------------------------------------- */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint32_t proc_home(uint32_t tgid)
{
    return (uint32_t)mix(tgid) & (MAX_PROCS - 1);
}

/* Open addressing, linear probing, at most 3/4 full; deletion shifts the
 * following entries back, so there are no tombstones to slow lookups down
 * after millions of processes have come and gone. */
static proc *proc_find(msdec *d, uint32_t tgid, bool create)
{
    if (!tgid) return NULL;
    uint32_t i = proc_home(tgid);
    for (;; i = (i + 1) & (MAX_PROCS - 1)) {
        proc *p = &d->procs[i];
        if (p->tgid == tgid) return p;
        if (!p->tgid) {
            if (!create || d->nprocs >= MAX_PROCS * 3 / 4) return NULL;
            memset(p, 0, sizeof *p);
            p->tgid = tgid;
            d->nprocs++;
            return p;
        }
    }
}

static void proc_drop(msdec *d, proc *p)
{
    free(p->exe);
    free(p->args);
    free(p->spawn_frames);
    uint32_t i = (uint32_t)(p - d->procs);
    memset(p, 0, sizeof *p);
    d->nprocs--;
    for (uint32_t j = (i + 1) & (MAX_PROCS - 1); d->procs[j].tgid; j = (j + 1) & (MAX_PROCS - 1)) {
        uint32_t h = proc_home(d->procs[j].tgid);
        /* can the entry at j move back to the hole at i? (h not in (i, j]) */
        bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stays) continue;
        d->procs[i] = d->procs[j];
        memset(&d->procs[j], 0, sizeof d->procs[j]);
        i = j;
    }
}

/* exe may point into p's own strings: copy before freeing */
static void proc_set_exe(proc *p, const char *exe, size_t n)
{
    char *e = n ? strndup(exe, n) : NULL;
    free(p->exe);
    p->exe = e;
}

static void entity_of(const msdec *d, uint32_t tgid, uint64_t ticks, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = d->boot_id; *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    h = mix(h ^ mix(tgid) ^ mix(ticks + 0x9e3779b97f4a7c15ULL));
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void proc_entity(msdec *d, proc *p)
{
    entity_of(d, p->tgid, p->ticks, p->entity);
}

static uint64_t ns_to_ticks(uint64_t ns)
{
    static long hz;
    if (!hz) hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    return ns / (1000000000ULL / (uint64_t)hz);
}

static void proc_set_args(proc *p, const char *a, size_t n)
{
    if (n > ARGS_MAX) n = ARGS_MAX;
    while (n && a[n - 1] == 0) n--;    /* trailing NULs */
    char *copy = n ? malloc(n) : NULL; /* a may be p->args itself */
    if (copy) memcpy(copy, a, n);
    free(p->args);
    p->args = copy;
    p->args_len = copy ? (uint16_t)n : 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool proc_from_procfs(msdec *d, uint32_t tgid)
{
    char path[64], b[4096];
    snprintf(path, sizeof path, "/proc/%u/stat", tgid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = 0;
    char *rp = strrchr(b, ')');
    if (!rp) return false;
    /* fields after comm: state ppid ... starttime is field 22 */
    unsigned ppid = 0;
    unsigned long long start = 0;
    char *s = rp + 2;
    int field = 3;
    for (char *tok = strtok(s, " "); tok; tok = strtok(NULL, " "), field++) {
        if (field == 4) ppid = (unsigned)strtoul(tok, NULL, 10);
        if (field == 22) {
            start = strtoull(tok, NULL, 10);
            break;
        }
    }
    proc *p = proc_find(d, tgid, true);
    if (!p) return false;
    p->ppid = ppid;
    p->ticks = start;
    snprintf(path, sizeof path, "/proc/%u/exe", tgid);
    char exe[MSR_PATH];
    ssize_t l = readlink(path, exe, sizeof exe - 1);
    proc_set_exe(p, exe, l > 0 ? (size_t)l : 0);
    snprintf(path, sizeof path, "/proc/%u/cmdline", tgid);
    f = fopen(path, "r");
    if (f) {
        n = fread(b, 1, sizeof b, f);
        fclose(f);
        proc_set_args(p, b, n);
    }
    snprintf(path, sizeof path, "/proc/%u/status", tgid);
    f = fopen(path, "r");
    if (f) {
        while (fgets(b, sizeof b, f))
            if (!strncmp(b, "Uid:", 4)) p->uid = (uint32_t)strtoul(b + 4, NULL, 10);
        fclose(f);
    }
    proc_entity(d, p);
    return true;
}

void msdec_scan_proc(msdec *d)
{
    DIR *dir = opendir("/proc");
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        proc_from_procfs(d, (uint32_t)strtoul(e->d_name, NULL, 10));
    }
    closedir(dir);
    ustack_scan_proc(d->u);
}

/* ---- lifecycle --------------------------------------------------------------------- */

msdec *msdec_create(const char *hostname)
{
    msdec *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->procs = calloc(MAX_PROCS, sizeof *d->procs);
    d->u = ustack_create();
    if (!d->procs || !d->u) {
        msdec_destroy(d);
        return NULL;
    }
    if (hostname)
        snprintf(d->host, sizeof d->host, "%s", hostname);
    else if (gethostname(d->host, sizeof d->host - 1) != 0)
        strcpy(d->host, "localhost");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(d->boot_id, sizeof d->boot_id, f)) d->boot_id[0] = 0;
        fclose(f);
        d->boot_id[strcspn(d->boot_id, "\n")] = 0;
    }
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = mix((uint64_t)time(NULL) ^ (uint64_t)getpid() << 32);
    snprintf(d->instance, sizeof d->instance, "%016llx", (unsigned long long)r);
    struct timespec rt, bt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    d->boot_to_real = (int64_t)(rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
    return d;
}

static void pending_clear(pending *p)
{
    free(p->frames);
    memset(p, 0, sizeof *p);
}

void msdec_destroy(msdec *d)
{
    if (!d) return;
    if (d->procs)
        for (uint32_t i = 0; i < MAX_PROCS; i++) {
            free(d->procs[i].exe);
            free(d->procs[i].args);
            free(d->procs[i].spawn_frames);
        }
    for (unsigned i = 0; i < MAX_PENDING; i++) {
        pending_clear(&d->exec_caller[i]);
        pending_clear(&d->vfork[i]);
    }
    ustack_destroy(d->u);
    free(d->procs);
    buf_free(&d->out);
    buf_free(&d->tmp);
    free(d);
}

void msdec_stats(const msdec *d, uint64_t *processes, uint64_t *unwound)
{
    *processes = d->nprocs;
    *unwound = d->unwound;
}

/* ---- pending stacks (per thread, oldest evicted) ------------------------------------ */

static pending *pending_put(msdec *d, pending *tab, uint32_t tid)
{
    pending *slot = NULL, *old = &tab[0];
    for (unsigned i = 0; i < MAX_PENDING; i++) {
        if (tab[i].tid == tid) {
            slot = &tab[i];
            break;
        }
        if (!tab[i].tid && !slot) slot = &tab[i];
        if (tab[i].seq < old->seq) old = &tab[i];
    }
    if (!slot) slot = old;
    pending_clear(slot);
    slot->tid = tid;
    slot->seq = ++d->seq;
    return slot;
}

static pending *pending_get(pending *tab, uint32_t tid)
{
    for (unsigned i = 0; i < MAX_PENDING; i++)
        if (tab[i].tid == tid) return &tab[i];
    return NULL;
}

/* ---- paths -------------------------------------------------------------------------- */

/* Components leaf first, '\0'-separated (sensor.bpf.c walk_path) -> path. */
static void path_join(const char *comp, size_t cap, char *out, size_t outcap)
{
    const char *parts[32];
    int n = 0;
    size_t i = 0;
    while (i < cap && comp[i] && n < 32) {
        parts[n++] = &comp[i];
        i += strnlen(&comp[i], cap - i) + 1;
    }
    size_t o = 0;
    out[0] = 0;
    for (int k = n - 1; k >= 0; k--) {
        int w = snprintf(out + o, outcap - o, "/%s", parts[k]);
        if (w < 0 || (size_t)w >= outcap - o) break;
        o += (size_t)w;
    }
    if (!o) snprintf(out, outcap, "/");
}

static const struct {
    const char *glob, *cls;
} persist[] = {
    {"/etc/systemd/system/*", "systemd"},
    {"/etc/systemd/user/*", "systemd"},
    {"/etc/systemd/system-generators/*", "systemd"},
    {"/etc/systemd/user-generators/*", "systemd"},
    {"/usr/lib/systemd/system/*", "systemd"},
    {"/usr/lib/systemd/user/*", "systemd"},
    {"/lib/systemd/system/*", "systemd"},
    {"/run/systemd/system/*", "systemd"},
    {"/root/.config/systemd/user/*", "systemd"},
    {"/home/*/.config/systemd/user/*", "systemd"},
    {"/etc/cron*", "cron"},
    {"/var/spool/cron/*", "cron"},
    {"/etc/anacrontab", "cron"},
    {"/etc/profile", "shell_profile"},
    {"/etc/profile.d/*", "shell_profile"},
    {"/etc/bash.bashrc", "shell_profile"},
    {"/etc/environment", "shell_profile"},
    {"/root/.bashrc", "shell_profile"},
    {"/root/.bash_profile", "shell_profile"},
    {"/root/.bash_login", "shell_profile"},
    {"/root/.bash_logout", "shell_profile"},
    {"/root/.profile", "shell_profile"},
    {"/root/.zshrc", "shell_profile"},
    {"/root/.zprofile", "shell_profile"},
    {"/home/*/.bashrc", "shell_profile"},
    {"/home/*/.bash_profile", "shell_profile"},
    {"/home/*/.bash_login", "shell_profile"},
    {"/home/*/.bash_logout", "shell_profile"},
    {"/home/*/.profile", "shell_profile"},
    {"/home/*/.zshrc", "shell_profile"},
    {"/home/*/.zprofile", "shell_profile"},
    {"/etc/ld.so.preload", "ld_preload"},
    {"/etc/ld.so.conf", "ld_preload"},
    {"/etc/ld.so.conf.d/*", "ld_preload"},
    {"/root/.ssh/authorized_keys*", "ssh_keys"},
    {"/home/*/.ssh/authorized_keys*", "ssh_keys"},
    {"/etc/sudoers", "sudoers"},
    {"/etc/sudoers.d/*", "sudoers"},
    {"/etc/udev/rules.d/*", "udev"},
    {"/lib/udev/rules.d/*", "udev"},
    {"/usr/lib/udev/rules.d/*", "udev"},
    {"/etc/rc.local", "init"},
    {"/etc/init.d/*", "init"},
    {"/etc/xdg/autostart/*", "autostart"},
    {"/root/.config/autostart/*", "autostart"},
    {"/home/*/.config/autostart/*", "autostart"},
    {"/etc/update-motd.d/*", "motd"},
};

/* The kernel's cheap pre-filter for the table above: a write-open is reported
 * when its parent directory's name or its own name is one of these (one
 * path component each); sensor_persist_class then decides on the whole path.
 * Keep them in step with persist[]. */
static const char *const watch_dirs[] = {
    "system",
    "user",
    "system.d",
    "cron.d",
    "cron.daily",
    "cron.hourly",
    "cron.weekly",
    "cron.monthly",
    "crontabs",
    "cron",
    "profile.d",
    "sudoers.d",
    "rules.d",
    ".ssh",
    "init.d",
    "autostart",
    "system-generators",
    "user-generators",
    "ld.so.conf.d",
    "update-motd.d",
};
static const char *const watch_names[] = {
    "ld.so.preload", "crontab",     "anacrontab", "sudoers",         ".bashrc",
    ".bash_profile", ".profile",    ".zshrc",     ".bash_login",     ".bash_logout",
    "bash.bashrc",   "profile",     "rc.local",   "authorized_keys", "authorized_keys2",
    ".zprofile",     "environment", "ld.so.conf",
};

const char *const *sensor_watch_names(bool dirs, size_t *n)
{
    *n = dirs ? sizeof watch_dirs / sizeof *watch_dirs : sizeof watch_names / sizeof *watch_names;
    return dirs ? watch_dirs : watch_names;
}

const char *sensor_persist_class(const char *path)
{
    for (size_t i = 0; i < sizeof persist / sizeof *persist; i++)
        if (!fnmatch(persist[i].glob, path, 0)) return persist[i].cls;
    return NULL;
}

/* ---- JSON helpers ------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    size_t l = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (!l || l > n || p[0] > 0xf4) return 0;
    for (size_t i = 1; i < l; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (l == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;
    if (l == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;
    return l;
}

/* Valid UTF-8 escaped as JSON string content, without the quotes. */
static void put_escaped(buf *b, const char *s, size_t n)
{
    if (!n) return;
    size_t at = b->n;
    buf_put_json_str(b, s, n);
    if (!b->oom && b->n >= at + 2) { /* drop the quotes buf_put_json_str adds */
        memmove(b->p + at, b->p + at + 1, b->n - at - 2);
        b->n -= 2;
    }
}

/* A JSON string from kernel bytes: Linux names and arguments are bytes,
 * not text; invalid UTF-8 becomes U+FFFD so the document stays valid. */
static void jstr(buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    buf_putc(b, '"');
    while (i < n) {
        size_t l = utf8_len(p + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        put_escaped(b, s + run, i - run);
        buf_puts(b, "\\ufffd");
        run = ++i;
    }
    put_escaped(b, s + run, n - run);
    buf_putc(b, '"');
}

static void key(buf *b, const char *k)
{
    buf_putc(b, ',');
    jstr(b, k, strlen(k));
    buf_putc(b, ':');
}

static void kstr(buf *b, const char *k, const char *v)
{
    key(b, k);
    jstr(b, v, strlen(v));
}

static void knum(buf *b, const char *k, uint64_t v)
{
    key(b, k);
    buf_put_u64(b, v);
}

static void khex(buf *b, const char *k, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "0x%llx", (unsigned long long)v);
    kstr(b, k, t);
}

static void put_args(buf *b, const char *a, size_t n, bool cmdline)
{
    if (cmdline) {
        /* args joined by spaces, as one JSON string */
        char line[ARGS_MAX + 1];
        size_t m = n < ARGS_MAX ? n : ARGS_MAX;
        for (size_t i = 0; i < m; i++) line[i] = a[i] ? a[i] : ' ';
        jstr(b, line, m);
        return;
    }
    buf_putc(b, '[');
    for (size_t i = 0, k = 0; i < n; k++) {
        size_t l = strnlen(a + i, n - i);
        if (k) buf_putc(b, ',');
        jstr(b, a + i, l);
        i += l + 1;
    }
    buf_putc(b, ']');
}

static size_t args_count(const char *a, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i += strnlen(a + i, n - i) + 1) c++;
    return c;
}

/* process.* (or process.parent.*) fields of p after the pid. */
static void put_proc_fields(buf *b, const proc *p)
{
    kstr(b, "entity_id", p->entity);
    if (p->exe) {
        kstr(b, "executable", p->exe);
        kstr(b, "name", base_name(p->exe));
    }
    if (p->args_len) {
        key(b, "args");
        put_args(b, p->args, p->args_len, false);
        knum(b, "args_count", args_count(p->args, p->args_len));
        key(b, "command_line");
        put_args(b, p->args, p->args_len, true);
    }
}

/* ---- stacks --------------------------------------------------------------------------- */

static const char *jit_runtime(const char *module)
{
    if (!module) return NULL;
    const char *b = base_name(module);
    if (!strcmp(b, "node") || !strcmp(b, "nodejs") || !strncmp(b, "libnode.so", 10)) return b;
    if (!strcmp(b, "libjvm.so")) return b;
    if (!strncmp(b, "libluajit", 9) || !strncmp(b, "luajit", 6)) return b;
    return NULL;
}

/* Is addr in none of the live process's mappings? false when that cannot be
 * told (the process is gone: the sensor's own maps may simply have missed
 * one). Asked only for an "Unknown" frame found by unwind info, which is
 * rare: it is what a return-oriented chain leaves above the syscall stub. */
static bool confirmed_unmapped(uint32_t tgid, uint64_t addr)
{
    char path[48], line[512];
    snprintf(path, sizeof path, "/proc/%u/maps", tgid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool in = false, any = false;
    while (!in && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx", &lo, &hi) != 2) continue;
        any = true;
        in = addr >= lo && addr < hi;
    }
    fclose(f);
    return any && !in;
}

/* Unwind the record's stack into d->tmp as a JSON array of frames; returns
 * the frame count. d->jit is set to the JIT runtime on the stack, if any. */
static size_t unwind_json(msdec *d, const struct msr_hdr *h, const uint8_t *data)
{
    buf *b = &d->tmp;
    buf_reset(b);
    d->jit = NULL;
    if (!(h->flags & MSR_F_STACK) || !h->regs.ip) return 0;
    ustack_regs r = {h->regs.ip,  h->regs.sp,  h->regs.bp,  h->regs.bx,
                     h->regs.r12, h->regs.r13, h->regs.r14, h->regs.r15};
    ustack_stop stop;
    size_t n = ustack_unwind(d->u, h->tgid, &r, data, h->data_len, d->frames, MAX_FRAMES, &stop);
    d->unwound++;
    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        ustack_frame *f = &d->frames[i];
        /* the kernel saw frame 0's memory: trust it over the maps */
        if (i == 0 && (h->flags & MSR_F_IP_ANON) && f->module) {
            f->module = NULL;
            f->symbol = NULL;
            f->anon_exec = true;
            f->mapped = true;
        }
        ustack_format(f, d->fbuf, sizeof d->fbuf);
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"symbol_info\":");
        jstr(b, d->fbuf, strlen(d->fbuf));
        if (f->anon_exec || (i == 0 && (h->flags & MSR_F_IP_ANON))) {
            bool w = f->writable || (i == 0 && (h->flags & MSR_F_IP_WRITE));
            kstr(b, "protection", w ? "RWX" : "R-X");
            if (f->provenance) kstr(b, "protection_provenance", f->provenance);
        }
        const uint8_t *lead = NULL;
        size_t nl = 0;
        if (i == 0 && (h->flags & MSR_F_IPBYTES)) {
            lead = h->ip_bytes;
            nl = 16;
        } else if (i > 0 && f->nlead) {
            lead = f->lead;
            nl = f->nlead;
        }
        /* a frame-pointer step in code built without frame pointers reads
         * garbage: say so, so the classifier does not judge its return
         * address (stub_entered_by_return) */
        if (i > 0 && f->how == 'F') kstr(b, "unwind", "frame_pointer");
        /* a return address from unwind info in no mapping, and the process
         * says so too (the sensor's maps alone may have missed one) */
        if (i > 0 && f->how != 'F' && !f->mapped && !f->module &&
            confirmed_unmapped(h->tgid, f->ip))
            kstr(b, "mapping", "none");
        if (lead) {
            char hex[40];
            for (size_t k = 0; k < nl; k++) snprintf(hex + 2 * k, 3, "%02x", lead[k]);
            kstr(b, "callsite_leading_bytes", hex);
        }
        buf_putc(b, '}');
        if (!d->jit) d->jit = jit_runtime(f->module);
    }
    buf_putc(b, ']');
    buf_putc(b, 0); /* a C string for buf_puts; not counted */
    b->n--;
    (void)stop;
    return n;
}

static char *dup_tmp(msdec *d)
{
    char *s = malloc(d->tmp.n + 1);
    if (!s) return NULL;
    memcpy(s, d->tmp.p, d->tmp.n);
    s[d->tmp.n] = 0;
    return s;
}

/* ---- documents -------------------------------------------------------------------------- */

static void begin_doc(msdec *d, const struct msr_hdr *h, const char *category, const char *type,
                      const char *action)
{
    buf *b = &d->out;
    buf_reset(b);
    /* boot time + the offset to the wall clock; a record claiming more than
     * ~290 years of uptime is garbage: take it as 0 */
    uint64_t boot_ns = h->ts < (1ULL << 62) ? h->ts : 0;
    int64_t ns = (int64_t)boot_ns + d->boot_to_real;
    if (ns < 0) ns = 0;
    time_t sec = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(b, "{\"@timestamp\":\"%s.%06lldZ\"", ts, (long long)(ns % 1000000000LL / 1000));
    /* category may name several, comma-separated: "process,api" */
    /* event.id: unique per event and stable once written (a spool replays the
     * same text), the message id a broker de-duplicates by (src/fleet) */
    buf_printf(b, ",\"event\":{\"kind\":\"event\",\"id\":\"%s%012llx\",\"category\":[", d->instance,
               (unsigned long long)++d->ndocs);
    for (const char *c = category; *c;) {
        size_t n = strcspn(c, ",");
        if (c != category) buf_putc(b, ',');
        jstr(b, c, n);
        c += n + (c[n] == ',');
    }
    buf_printf(b, "],\"type\":[\"%s\"]", type);
    kstr(b, "action", action);
    buf_puts(b, ",\"dataset\":\"modus.sensor\",\"module\":\"modus\"}");
    buf_puts(b, ",\"host\":{\"name\":");
    jstr(b, d->host, strlen(d->host));
    buf_puts(b, ",\"os\":{\"type\":\"linux\",\"family\":\"debian\"}}");
    buf_puts(b, ",\"agent\":{\"type\":\"modus\"}");
    buf_printf(b, ",\"user\":{\"id\":\"%u\"}", h->uid);
}

/* ,"process":{"pid":..,...,"parent":{...},"thread":{"id":N,"Ext":{"call_stack":[...]}}
 * The process object is left open for the caller to add to and close. */
static void put_process(msdec *d, const struct msr_hdr *h, const char *stack_json,
                        const char *parent_stack)
{
    buf *b = &d->out;
    proc *p = proc_find(d, h->tgid, false);
    buf_printf(b, ",\"process\":{\"pid\":%u", h->tgid);
    if (p) {
        put_proc_fields(b, p);
    } else {
        char comm[17];
        memcpy(comm, h->comm, 16);
        comm[16] = 0;
        kstr(b, "name", comm);
    }
    uint32_t ppid = p && p->ppid ? p->ppid : h->ppid;
    proc *pp = proc_find(d, ppid, false);
    buf_printf(b, ",\"parent\":{\"pid\":%u", ppid);
    if (pp) put_proc_fields(b, pp);
    if (parent_stack) {
        buf_puts(b, ",\"thread\":{\"Ext\":{\"call_stack\":");
        buf_puts(b, parent_stack);
        buf_puts(b, "}}");
    }
    buf_putc(b, '}');
    buf_printf(b, ",\"thread\":{\"id\":%u", h->tid);
    if (stack_json) {
        buf_puts(b, ",\"Ext\":{\"call_stack\":");
        buf_puts(b, stack_json);
        buf_putc(b, '}');
    }
    buf_putc(b, '}');
}

static const char *prot_str(uint32_t prot, char *o)
{
    o[0] = prot & 1 ? 'R' : '-';
    o[1] = prot & 2 ? 'W' : '-';
    o[2] = prot & 4 ? 'X' : '-';
    o[3] = 0;
    return o;
}

static int finish(msdec *d, const char **json, size_t *len)
{
    buf_putc(&d->out, '}');
    if (d->out.oom) return -1;
    buf_reserve(&d->out, 64); /* MODUS_PADDING for the JSON parser */
    if (d->out.oom) return -1;
    memset(d->out.p + d->out.n, ' ', 64);
    *json = d->out.p;
    *len = d->out.n;
    return 1;
}

static const char *ptrace_req(int64_t r)
{
    switch (r) {
    case 4: return "PTRACE_POKETEXT";
    case 5: return "PTRACE_POKEDATA";
    case 6: return "PTRACE_POKEUSER";
    case 13: return "PTRACE_SETREGS";
    case 15: return "PTRACE_SETFPREGS";
    case 16: return "PTRACE_ATTACH";
    case 0x4205: return "PTRACE_SETREGSET";
    case 0x4206: return "PTRACE_SEIZE";
    default: return "PTRACE_OTHER";
    }
}

static const char *pmem_syscall(uint32_t nr)
{
    switch (nr) {
    case 0: return "read";
    case 1: return "write";
    case 17: return "pread64";
    case 18: return "pwrite64";
    case 19: return "readv";
    case 20: return "writev";
    case 295: return "preadv";
    case 296: return "pwritev";
    case 327: return "preadv2";
    case 328: return "pwritev2";
    default: return "other";
    }
}

/* What backs the memory of an MPROTECT/MMAP record: the kernel says
 * "anonymous" or "file without links"; shared anonymous memory is a
 * linkless shmem file named dev/zero, memfds are named memfd:NAME. */
enum { MEM_FILE, MEM_ANON, MEM_MEMFD, MEM_DELETED };
static int mem_kind(const struct msr_hdr *h, const char *path)
{
    if (h->u.mem.vma_anon == 1) return MEM_ANON;
    if (h->u.mem.vma_anon != 2) return MEM_FILE;
    const char *b = base_name(path);
    if (!strncmp(b, "memfd:", 6)) return MEM_MEMFD;
    if (!strcmp(path, "/dev/zero") || !strcmp(path, "/") || !strncmp(path, "/SYSV", 5))
        return MEM_ANON;
    return MEM_DELETED;
}

static int api_event(msdec *d, const struct msr_hdr *h, const uint8_t *data, const char *category,
                     const char *action, const char *api, const char **json, size_t *len)
{
    size_t nf = unwind_json(d, h, data);
    /* Elastic Defend reports memfd_create and module loads as process
     * events of type start; modus keeps that shape so its rules run */
    begin_doc(d, h, category, strncmp(category, "process", 7) ? "change" : "start", action);
    put_process(d, h, nf ? d->tmp.p : NULL, NULL);
    buf *b = &d->out;
    buf_puts(b, ",\"Ext\":{\"api\":{\"name\":");
    jstr(b, api, strlen(api));
    buf_puts(b, ",\"parameters\":{");
    size_t params_at = b->n;
    char ps[8], os[8];
    switch (h->type) {
    case MSR_MPROTECT:
    case MSR_MMAP:
        khex(b, "address", h->u.mem.addr);
        knum(b, "size", h->u.mem.len);
        kstr(b, "protection", prot_str(h->u.mem.prot, ps));
        if (h->type == MSR_MPROTECT) kstr(b, "protection_old", prot_str(h->u.mem.old_vm_flags, os));
        break;
    case MSR_PTRACE:
        kstr(b, "request", ptrace_req(h->u.ptrace.request));
        khex(b, "address", h->u.ptrace.addr);
        break;
    case MSR_VM_WRITEV: knum(b, "iovec_count", (uint64_t)h->u.ptrace.request); break;
    case MSR_PROC_MEM:
        kstr(b, "syscall", pmem_syscall(h->u.pmem.nr));
        khex(b, "address", h->u.pmem.addr);
        knum(b, "size", h->u.pmem.len);
        knum(b, "fd", (uint64_t)(uint32_t)h->u.pmem.fd);
        break;
    case MSR_MEMFD: {
        char nm[65];
        memcpy(nm, h->u.memfd.name, 64);
        nm[64] = 0;
        kstr(b, "name", nm);
        knum(b, "flags", h->u.memfd.flags);
        break;
    }
    case MSR_BPF: {
        char nm[17];
        memcpy(nm, h->u.bpf.prog_name, 16);
        nm[16] = 0;
        kstr(b, "command", "BPF_PROG_LOAD");
        knum(b, "program_type", h->u.bpf.prog_type);
        kstr(b, "program_name", nm);
        break;
    }
    case MSR_MODULE: {
        char pr[65];
        memcpy(pr, h->u.module.params, 64);
        pr[64] = 0;
        if (h->u.module.finit) knum(b, "fd", (uint64_t)h->u.module.fd);
        kstr(b, "params", pr);
        break;
    }
    }
    /* fix the leading comma of the first parameter */
    if (b->n > params_at && b->p[params_at] == ',') {
        memmove(b->p + params_at, b->p + params_at + 1, b->n - params_at - 1);
        b->n--;
    }
    buf_putc(b, '}');
    /* behaviours */
    const char *beh[4];
    int nb = 0;
    char mpath[MSR_PATH * 2] = "";
    if ((h->type == MSR_MPROTECT || h->type == MSR_MMAP) && h->u.mem.path[0])
        path_join(h->u.mem.path, sizeof h->u.mem.path, mpath, sizeof mpath);
    if (h->type == MSR_MPROTECT || h->type == MSR_MMAP) {
        uint32_t prot = h->u.mem.prot;
        if ((prot & 2) && (prot & 4)) beh[nb++] = "write_execute";
        if (h->type == MSR_MPROTECT && (h->u.mem.old_vm_flags & 2) && !(h->u.mem.old_vm_flags & 4))
            beh[nb++] = "write_then_execute";
        switch (mem_kind(h, mpath)) {
        case MEM_ANON: beh[nb++] = "anonymous_execute"; break;
        case MEM_MEMFD: beh[nb++] = "memfd_execute"; break;
        case MEM_DELETED: beh[nb++] = "deleted_file_execute"; break;
        }
    }
    if (h->type == MSR_PTRACE || h->type == MSR_VM_WRITEV) beh[nb++] = "cross_process";
    /* /proc/self/mem: writes land even in read-only code (the kernel forces
     * them): patching code without mprotect. Not cross-process. */
    if (h->type == MSR_PROC_MEM)
        beh[nb++] = h->u.pmem.target != h->tgid ? "cross_process" : "self_modify";
    if (nb) {
        buf_puts(b, ",\"behaviors\":[");
        for (int i = 0; i < nb; i++) {
            if (i) buf_putc(b, ',');
            jstr(b, beh[i], strlen(beh[i]));
        }
        buf_putc(b, ']');
    }
    buf_puts(b, "}}}"); /* api, Ext, process */
    if (h->type == MSR_PTRACE || h->type == MSR_VM_WRITEV || h->type == MSR_PROC_MEM) {
        uint32_t tpid = h->type == MSR_PROC_MEM ? h->u.pmem.target : h->u.ptrace.target;
        proc *t = proc_find(d, tpid, false);
        buf_puts(b, ",\"Target\":{\"process\":{\"pid\":");
        buf_put_u64(b, tpid);
        if (t) {
            kstr(b, "entity_id", t->entity);
        } else if (h->type == MSR_PROC_MEM && h->u.pmem.target_start_ns) {
            char ent[17]; /* the kernel named the target's start: its entity id */
            entity_of(d, tpid, ns_to_ticks(h->u.pmem.target_start_ns), ent);
            kstr(b, "entity_id", ent);
        }
        if (t && t->exe) {
            kstr(b, "executable", t->exe);
            kstr(b, "name", base_name(t->exe));
        }
        if (h->type == MSR_PROC_MEM && h->u.pmem.target_tid &&
            h->u.pmem.target_tid != h->u.pmem.target) {
            buf_puts(b, ",\"thread\":{\"id\":");
            buf_put_u64(b, h->u.pmem.target_tid);
            buf_putc(b, '}');
        }
        buf_puts(b, "}}");
    }
    if (mpath[0] && mem_kind(h, mpath) != MEM_ANON) {
        buf_puts(b, ",\"file\":{\"path\":");
        jstr(b, mpath, strlen(mpath));
        buf_putc(b, '}');
    }
    return finish(d, json, len);
}

static int file_event(msdec *d, const struct msr_hdr *h, const uint8_t *data, const char *path,
                      const char *orig, const char *cls, const char **json, size_t *len)
{
    size_t nf = unwind_json(d, h, data);
    const char *action, *type;
    if (h->type == MSR_RENAME)
        action = "rename", type = "change";
    else if (h->flags & MSR_F_CREATED)
        action = "creation", type = "creation";
    else
        action = "modification", type = "change";
    begin_doc(d, h, "file", type, action);
    put_process(d, h, nf ? d->tmp.p : NULL, NULL);
    buf *b = &d->out;
    buf_putc(b, '}');
    buf_puts(b, ",\"file\":{\"path\":");
    jstr(b, path, strlen(path));
    const char *name = base_name(path);
    kstr(b, "name", name);
    char dir[MSR_PATH * 2];
    snprintf(dir, sizeof dir, "%.*s", (int)(name - path > 1 ? name - path - 1 : 1), path);
    kstr(b, "directory", dir);
    const char *dot = strrchr(name, '.');
    if (dot && dot != name && dot[1]) kstr(b, "extension", dot + 1);
    buf_puts(b, ",\"Ext\":{\"persistence\":");
    jstr(b, cls, strlen(cls));
    if (orig) {
        buf_puts(b, ",\"original\":{\"path\":");
        jstr(b, orig, strlen(orig));
        buf_putc(b, '}');
    }
    buf_puts(b, "}}");
    return finish(d, json, len);
}

/* A relative path resolved against the caller's cwd or directory fd. */
static void resolve(uint32_t tgid, int32_t dfd, const char *rel, char *out, size_t n)
{
    if (rel[0] == '/') {
        snprintf(out, n, "%s", rel);
        return;
    }
    char link[64], base[MSR_PATH * 2];
    if (dfd == -100)
        snprintf(link, sizeof link, "/proc/%u/cwd", tgid);
    else
        snprintf(link, sizeof link, "/proc/%u/fd/%d", tgid, dfd);
    ssize_t l = readlink(link, base, sizeof base - 1);
    if (l <= 0) {
        snprintf(out, n, "%s", rel);
        return;
    }
    base[l] = 0;
    int w = snprintf(out, n, "%s/%s", strcmp(base, "/") ? base : "", rel);
    if (w < 0 || (size_t)w >= n) snprintf(out, n, "%s", rel); /* too long: keep it relative */
}

int msdec_record(msdec *d, const void *rec, size_t size, const char **json, size_t *len)
{
    if (size < sizeof(struct msr_hdr)) return -1;
    const struct msr_hdr *h = rec;
    if (h->size > size || h->data_len > size - sizeof *h) return -1;
    const uint8_t *data = (const uint8_t *)rec + sizeof *h;

    switch (h->type) {
    case MSR_FORK: {
        proc *parent = proc_find(d, h->tgid, false);
        proc *c = proc_find(d, h->u.fork.child, true);
        if (c) {
            free(c->spawn_frames);
            c->spawn_frames = NULL;
            c->ppid = h->tgid;
            c->ticks = ns_to_ticks(h->u.fork.child_start_ns);
            c->uid = h->uid;
            if (parent) {
                proc_set_exe(c, parent->exe, parent->exe ? strlen(parent->exe) : 0);
                proc_set_args(c, parent->args, parent->args_len);
            }
            proc_entity(d, c);
            pending *v = pending_get(d->vfork, h->tid);
            if (v) {
                c->spawn_frames = v->frames;
                v->frames = NULL;
                pending_clear(v);
            }
        }
        ustack_fork(d->u, h->tgid, h->u.fork.child);
        struct msr_hdr ch = *h;
        ch.tgid = h->u.fork.child;
        ch.tid = h->u.fork.child_tid;
        ch.ppid = h->tgid;
        begin_doc(d, &ch, "process", "start", "fork");
        put_process(d, &ch, NULL, NULL);
        buf_putc(&d->out, '}');
        return finish(d, json, len);
    }
    case MSR_VFORK: {
        if (!unwind_json(d, h, data)) return 0;
        pending *v = pending_put(d, d->vfork, h->tid);
        v->frames = dup_tmp(d);
        return 0;
    }
    case MSR_EXEC_CALLER: {
        size_t n = unwind_json(d, h, data);
        pending *pe = pending_put(d, d->exec_caller, h->tid);
        pe->frames = n ? dup_tmp(d) : NULL;
        pe->nframes = n;
        return 0;
    }
    case MSR_EXEC: {
        proc *p = proc_find(d, h->tgid, true);
        char *caller = NULL;
        pending *pe = pending_get(d->exec_caller, h->u.exec.old_tid);
        if (!pe) pe = pending_get(d->exec_caller, h->tid);
        bool shallow = !pe || pe->nframes <= 3;
        if (p) {
            if (shallow && p->spawn_frames) {
                caller = p->spawn_frames; /* posix_spawn / vfork: the parent's stack */
                p->spawn_frames = NULL;
            }
            char exe[MSR_PATH * 2];
            if (h->u.exec.path[0])
                path_join(h->u.exec.path, sizeof h->u.exec.path, exe, sizeof exe);
            else
                snprintf(exe, sizeof exe, "%.*s", (int)sizeof h->u.exec.filename,
                         h->u.exec.filename);
            proc_set_exe(p, exe, strlen(exe));
            proc_set_args(p, (const char *)data, h->data_len);
            p->ppid = h->ppid;
            p->uid = h->uid;
            p->ticks = ns_to_ticks(h->start_ns);
            proc_entity(d, p);
        }
        if (!caller && pe) {
            caller = pe->frames;
            pe->frames = NULL;
        }
        if (pe) pending_clear(pe);
        ustack_exec(d->u, h->tgid);
        if (p && p->exe && h->u.exec.text_end > h->u.exec.text_start)
            ustack_map(d->u, h->tgid, h->u.exec.text_start, h->u.exec.text_end,
                       h->u.exec.text_pgoff, USTACK_PROT_R | USTACK_PROT_X, p->exe, NULL);
        if (h->u.exec.interp_end > h->u.exec.interp_start && h->u.exec.interp[0]) {
            char ip[MSR_PATH * 2];
            path_join(h->u.exec.interp, sizeof h->u.exec.interp, ip, sizeof ip);
            ustack_map(d->u, h->tgid, h->u.exec.interp_start, h->u.exec.interp_end,
                       h->u.exec.interp_pgoff, USTACK_PROT_R | USTACK_PROT_X, ip, NULL);
        }
        begin_doc(d, h, "process", "start", "exec");
        put_process(d, h, NULL, caller);
        buf_putc(&d->out, '}');
        free(caller);
        return finish(d, json, len);
    }
    case MSR_EXIT: {
        begin_doc(d, h, "process", "end", "end");
        put_process(d, h, NULL, NULL);
        buf *b = &d->out;
        knum(b, "exit_code", (uint64_t)((h->u.exit.code >> 8) & 0xff));
        buf_putc(b, '}');
        proc *p = proc_find(d, h->tgid, false);
        if (p) proc_drop(d, p);
        ustack_exit(d->u, h->tgid);
        return finish(d, json, len);
    }
    case MSR_MMAP: {
        char path[MSR_PATH * 2] = "";
        if (h->u.mem.path[0]) path_join(h->u.mem.path, sizeof h->u.mem.path, path, sizeof path);
        if (!(h->flags & MSR_F_SUSPECT)) {
            ustack_map(d->u, h->tgid, h->u.mem.addr, h->u.mem.addr + h->u.mem.len,
                       h->u.mem.vma_start, h->u.mem.prot, path[0] ? path : NULL, NULL);
            return 0;
        }
        int r = api_event(d, h, data, "api", "mmap", "mmap", json, len);
        ustack_map(d->u, h->tgid, h->u.mem.addr, h->u.mem.addr + h->u.mem.len, h->u.mem.vma_start,
                   h->u.mem.prot, h->u.mem.vma_anon == 1 ? NULL : (path[0] ? path : NULL), d->jit);
        return r;
    }
    case MSR_MPROTECT: {
        int r = api_event(d, h, data, "api", "mprotect", "mprotect", json, len);
        if (h->u.mem.vma_anon == 1)
            ustack_map(d->u, h->tgid, h->u.mem.vma_start, h->u.mem.vma_end, 0, h->u.mem.prot, NULL,
                       d->jit);
        return r;
    }
    case MSR_FILE_OPEN: {
        char path[MSR_PATH * 2];
        if (h->flags & MSR_F_PATH_FULL) /* the LSM backend: bpf_d_path */
            snprintf(path, sizeof path, "%.*s", (int)sizeof h->u.file.path, h->u.file.path);
        else
            path_join(h->u.file.path, sizeof h->u.file.path, path, sizeof path);
        const char *cls = sensor_persist_class(path);
        if (!cls) return 0;
        return file_event(d, h, data, path, NULL, cls, json, len);
    }
    case MSR_RENAME: {
        char np[MSR_PATH * 2], op[MSR_PATH * 2];
        char nraw[MSR_PATH + 1], oraw[MSR_PATH / 2 + 1];
        memcpy(nraw, h->u.rename.newpath, MSR_PATH);
        nraw[MSR_PATH] = 0;
        memcpy(oraw, h->u.rename.oldpath, MSR_PATH / 2);
        oraw[MSR_PATH / 2] = 0;
        if (h->u.rename.olddfd == -1 && h->u.rename.newdfd == -1) /* LSM: walked */
            path_join(h->u.rename.newpath, sizeof h->u.rename.newpath, np, sizeof np);
        else
            resolve(h->tgid, h->u.rename.newdfd, nraw, np, sizeof np);
        const char *cls = sensor_persist_class(np);
        if (!cls) return 0;
        if (h->u.rename.olddfd == -1) /* LSM: the old name only */
            snprintf(op, sizeof op, "%s", oraw);
        else
            resolve(h->tgid, h->u.rename.olddfd, oraw, op, sizeof op);
        return file_event(d, h, data, np, op, cls, json, len);
    }
    case MSR_PTRACE: return api_event(d, h, data, "api", "ptrace", "ptrace", json, len);
    case MSR_VM_WRITEV:
        return api_event(d, h, data, "api", "process_vm_writev", "process_vm_writev", json, len);
    case MSR_PROC_MEM: {
        const char *a = h->flags & MSR_F_PMEM_WRITE ? "proc_mem_write" : "proc_mem_read";
        return api_event(d, h, data, "api", a, a, json, len);
    }
    case MSR_MEMFD:
        return api_event(d, h, data, "process,api", "memfd_create", "memfd_create", json, len);
    case MSR_BPF: return api_event(d, h, data, "api", "bpf", "bpf", json, len);
    case MSR_MODULE:
        return api_event(d, h, data, "process,driver", "load_module",
                         h->u.module.finit ? "finit_module" : "init_module", json, len);
    default: return -1;
    }
}
