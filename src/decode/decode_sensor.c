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
 *   FILE_OPEN         file            creation, modification (persistence paths)
 *   FILE_OP           file            creation, modification, deletion,
 *                                     attributes_modified (chmod); header_bytes
 *                                     from the first write of a created file
 *   RENAME            file            rename (persistence, or the file policy)
 *   MMAP of a file    library         load (where the file policy looks)
 *   PTRACE, VM_WRITEV api             ptrace, process_vm_writev (Target.process.pid)
 *   PROC_MEM          api             proc_mem_write, proc_mem_read (Target.process.*)
 *   MEMFD             process, api    memfd_create        (type start, as Elastic Defend)
 *   MODULE            process, driver load_module         (type start; api.name finit_module...)
 *   BPF               api             bpf                 (BPF_PROG_LOAD)
 *   NET_CONNECT       network         connection_attempted  process.thread
 *   NET_ACCEPT        network         connection_accepted
 *   NET_LISTEN        network         listen, bind (UDP)
 *   NET_CLOSE         network         disconnect_received
 *   DNS               network         lookup_requested, lookup_result (dns.*)
 *   SETSID            process         session_id_change, uid_change, gid_change
 *   (* MMAP only when suspect: W+X, anonymous, deleted/memfd file)
 *
 * State kept here, all bounded:
 *   - a process table (tgid -> executable, args, parent, entity id, and the
 *     context Elastic's Linux rules read: working directory, terminal,
 *     session/group/entry leaders, credentials, allow-listed environment
 *     with secrets redacted, launch modality; docs/sensor-events.md), seeded
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
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <sys/random.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns_wire.h"
#include "detect/needs.h"
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
    /* process context (issue 15) */
    char *cwd; /* NULL: unknown */
    char *env; /* allow-listed NAME=value, NUL-separated, redacted */
    uint16_t env_len;
    uint8_t entry_type; /* enum entry_type */
    bool ctx_known;     /* sid/pgid/tty were read (exec or /proc), not guessed */
    uint32_t tty_major, tty_minor;
    uint32_t sid, pgid;
    uint32_t euid, gid, egid; /* with uid (real): valid when ctx_known */
    uint32_t entry_tgid;      /* the entry leader: tgid and start ticks */
    uint64_t entry_ticks;
    char launch[16]; /* modality of the code that exec'd it; "": unknown */
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
    char machine_id[40]; /* host.id, as Elastic Defend writes it */
    char instance[17];   /* event.id: this decoder's random prefix, then a count */
    uint64_t ndocs;
    int64_t boot_to_real; /* ns */
    proc *procs;          /* open addressing by tgid */
    uint32_t nprocs;
    pending exec_caller[MAX_PENDING], vfork[MAX_PENDING];
    uint64_t seq, unwound;
    const char *jit;  /* JIT runtime module on the last unwound stack */
    char **jit_names; /* runtimes by code that make JIT code (msdec_set_code) */
    size_t njit;
    buf out, tmp;
    const modus_file_policy *policy; /* borrowed; NULL: none */
    ustack_frame frames[MAX_FRAMES];
    char fbuf[1024];
    dns_msg dns;         /* the DNS message being decoded */
    uint64_t dns_errors; /* DNS messages that did not parse (whole or in part) */
    /* process context: env allow-list and redaction patterns (globs,
     * NUL-separated), the launch-modality classifier */
    char *env_allow, *env_redact;
    size_t env_allow_len, env_redact_len;
    msdec_launch_fn launch_fn;
    void *launch_ctx;
    struct idname {
        uint32_t id;
        bool valid;
        char name[33];
    } users[64], groups[64]; /* uid/gid -> name, direct-mapped */
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

static void proc_free(proc *p)
{
    free(p->exe);
    free(p->args);
    free(p->spawn_frames);
    free(p->cwd);
    free(p->env);
}

static void proc_drop(msdec *d, proc *p)
{
    proc_free(p);
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

/* ---- process context (issue 15) ---------------------------------------------------- */

/* Elastic Defend's process.entry_leader: the first process of a session that
 * an entry point started, typed by that entry point (entry_meta.type). A
 * process whose parent is an entry point leads its own entry session;
 * everything else inherits its parent's entry leader at fork and keeps it
 * across exec. */
enum entry_type {
    ENTRY_UNKNOWN,
    ENTRY_INIT,
    ENTRY_SSHD,
    ENTRY_SSM,
    ENTRY_KUBELET,
    ENTRY_TELEPORT,
    ENTRY_TERMINAL,
    ENTRY_CONSOLE,
    ENTRY_CONTAINER
};
static const char *const entry_names[] = {"unknown",  "init",     "sshd",    "ssm",      "kubelet",
                                          "teleport", "terminal", "console", "container"};
static const struct {
    const char *name;
    uint8_t type;
} entry_points[] = {
    {"systemd", ENTRY_INIT},
    {"init", ENTRY_INIT},
    {"sshd", ENTRY_SSHD},
    {"sshd-session", ENTRY_SSHD},
    {"amazon-ssm-agent", ENTRY_SSM},
    {"ssm-session-worker", ENTRY_SSM},
    {"ssm-agent-worker", ENTRY_SSM},
    {"kubelet", ENTRY_KUBELET},
    {"teleport", ENTRY_TELEPORT},
    {"login", ENTRY_CONSOLE},
    {"agetty", ENTRY_CONSOLE},
    {"getty", ENTRY_CONSOLE},
    {"gnome-terminal-server", ENTRY_TERMINAL},
    {"konsole", ENTRY_TERMINAL},
    {"xterm", ENTRY_TERMINAL},
    {"xfce4-terminal", ENTRY_TERMINAL},
    {"alacritty", ENTRY_TERMINAL},
    {"kitty", ENTRY_TERMINAL},
    {"tilix", ENTRY_TERMINAL},
    {"terminator", ENTRY_TERMINAL},
    {"tmux", ENTRY_TERMINAL},
    {"screen", ENTRY_TERMINAL},
    {"runc", ENTRY_CONTAINER},
    {"crun", ENTRY_CONTAINER},
    {"conmon", ENTRY_CONTAINER},
    {"docker-init", ENTRY_CONTAINER},
};

static int entry_point(const proc *q)
{
    if (!q) return -1;
    if (q->tgid == 1) return ENTRY_INIT;
    if (!q->exe) return -1;
    const char *b = base_name(q->exe);
    if (!strncmp(b, "containerd-shim", 15)) return ENTRY_CONTAINER;
    for (size_t i = 0; i < sizeof entry_points / sizeof *entry_points; i++)
        if (!strcmp(b, entry_points[i].name)) return entry_points[i].type;
    return -1;
}

static void entry_self(proc *p, int type)
{
    p->entry_tgid = p->tgid;
    p->entry_ticks = p->ticks;
    p->entry_type = (uint8_t)type;
}

/* At fork (the child already holds its parent's context) and at exec. */
static void proc_entry(msdec *d, proc *p, bool exec)
{
    proc *q = p->ppid != p->tgid ? proc_find(d, p->ppid, false) : NULL;
    int t = p->tgid == 1 ? ENTRY_INIT : entry_point(q);
    if (t >= 0) {
        entry_self(p, t);
        return;
    }
    if (exec && p->entry_tgid) return; /* exec keeps the session's entry leader */
    if (q && q->entry_tgid) {
        p->entry_tgid = q->entry_tgid;
        p->entry_ticks = q->entry_ticks;
        p->entry_type = q->entry_type;
    } else if (!p->entry_tgid) {
        entry_self(p, ENTRY_UNKNOWN);
    }
}

/* The /proc seed: every process is in the table, parents may come later in
 * the directory than their children, so the entry leader is found by
 * walking up (memoised in each process on the way). */
static void seed_entry(msdec *d, proc *p, int depth)
{
    if (p->entry_tgid) return;
    proc *q = p->ppid != p->tgid ? proc_find(d, p->ppid, false) : NULL;
    int t = p->tgid == 1 ? ENTRY_INIT : entry_point(q);
    if (t >= 0) {
        entry_self(p, t);
        return;
    }
    if (q && depth < 64) seed_entry(d, q, depth + 1);
    if (q && q->entry_tgid) {
        p->entry_tgid = q->entry_tgid;
        p->entry_ticks = q->entry_ticks;
        p->entry_type = q->entry_type;
    } else {
        entry_self(p, ENTRY_UNKNOWN);
    }
}

/* name (n bytes, not NUL-terminated) against a NUL-separated glob list,
 * case-insensitively: http_proxy and HTTP_PROXY are the same variable to
 * the tools that read them. */
static bool glob_list(const char *list, size_t len, const char *name, size_t n)
{
    char nm[128];
    if (!list || n >= sizeof nm) return false;
    memcpy(nm, name, n);
    nm[n] = 0;
    for (size_t i = 0; i < len; i += strlen(list + i) + 1)
        if (list[i] && !fnmatch(list + i, nm, FNM_CASEFOLD)) return true;
    return false;
}

/* The allow-listed variables of an environment block (NAME=value, NUL-
 * separated), values of secret-looking names replaced by "<redacted>": what
 * leaves the process table never holds them. */
#define ENV_KEEP_MAX 2048
static void proc_set_env(msdec *d, proc *p, const char *env, size_t n)
{
    char out[ENV_KEEP_MAX];
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const char *e = env + i;
        size_t l = strnlen(e, n - i);
        i += l + 1;
        const char *eq = memchr(e, '=', l);
        if (!eq || eq == e) continue;
        size_t nl = (size_t)(eq - e);
        if (!glob_list(d->env_allow, d->env_allow_len, e, nl)) continue;
        bool secret = glob_list(d->env_redact, d->env_redact_len, e, nl);
        size_t vl = secret ? sizeof "<redacted>" - 1 : l - nl - 1;
        if (o + nl + 1 + vl + 1 > sizeof out) break;
        memcpy(out + o, e, nl + 1);
        memcpy(out + o + nl + 1, secret ? "<redacted>" : eq + 1, vl);
        o += nl + 1 + vl;
        out[o++] = 0;
    }
    char *copy = o ? malloc(o) : NULL;
    if (copy) memcpy(copy, out, o);
    free(p->env);
    p->env = copy;
    p->env_len = copy ? (uint16_t)o : 0;
}

static char *dup_n(const char *s, size_t n)
{
    if (!s) return NULL;
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

/* comma-separated list -> NUL-separated, blanks trimmed */
static void set_list(char **dst, size_t *len, const char *csv)
{
    free(*dst);
    *dst = NULL;
    *len = 0;
    size_t n = strlen(csv), o = 0;
    char *l = malloc(n + 1);
    if (!l) return;
    for (const char *c = csv; *c;) {
        size_t k = strcspn(c, ",");
        const char *a = c, *b = c + k;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) {
            memcpy(l + o, a, (size_t)(b - a));
            o += (size_t)(b - a);
            l[o++] = 0;
        }
        c += k + (c[k] == ',');
    }
    *dst = l;
    *len = o;
}

void msdec_set_context(msdec *d, const char *env_allow, const char *env_redact)
{
    set_list(&d->env_allow, &d->env_allow_len, env_allow ? env_allow : MSDEC_ENV_ALLOW);
    set_list(&d->env_redact, &d->env_redact_len, env_redact ? env_redact : MSDEC_ENV_REDACT);
}

void msdec_set_launch_fn(msdec *d, msdec_launch_fn fn, void *ctx)
{
    d->launch_fn = fn;
    d->launch_ctx = ctx;
}

static void jstr(buf *b, const char *s, size_t n);

/* user.name / group.name: the passwd and group databases through NSS,
 * cached (a direct-mapped table; a miss costs one lookup). "" if unknown. */
static const char *id_name(msdec *d, bool group, uint32_t id)
{
    struct idname *e = &(group ? d->groups : d->users)[id % 64];
    if (e->valid && e->id == id) return e->name;
    e->valid = true;
    e->id = id;
    e->name[0] = 0;
    char b[4096];
    if (group) {
        struct group g, *r = NULL;
        if (!getgrgid_r(id, &g, b, sizeof b, &r) && r)
            snprintf(e->name, sizeof e->name, "%s", r->gr_name);
    } else {
        struct passwd pw, *r = NULL;
        if (!getpwuid_r(id, &pw, b, sizeof b, &r) && r)
            snprintf(e->name, sizeof e->name, "%s", r->pw_name);
    }
    return e->name;
}

/* ,"k":{"id":"N" without printf (several per event: the sensor's CPU) */
static void put_id_open(buf *b, const char *k, uint32_t id)
{
    buf_puts(b, ",\"");
    buf_puts(b, k);
    buf_puts(b, "\":{\"id\":\"");
    buf_put_u64(b, id);
    buf_putc(b, '"');
}

static void put_id(msdec *d, buf *b, const char *k, bool group, uint32_t id)
{
    const char *n = id_name(d, group, id);
    put_id_open(b, k, id);
    if (*n) {
        buf_puts(b, ",\"name\":");
        jstr(b, n, strlen(n));
    }
    buf_putc(b, '}');
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
    unsigned ppid = 0, pgid = 0, sid = 0, tty = 0;
    unsigned long long start = 0;
    char *s = rp + 2;
    int field = 3;
    for (char *tok = strtok(s, " "); tok; tok = strtok(NULL, " "), field++) {
        if (field == 4) ppid = (unsigned)strtoul(tok, NULL, 10);
        if (field == 5) pgid = (unsigned)strtoul(tok, NULL, 10);
        if (field == 6) sid = (unsigned)strtoul(tok, NULL, 10);
        if (field == 7) tty = (unsigned)strtoul(tok, NULL, 10);
        if (field == 22) {
            start = strtoull(tok, NULL, 10);
            break;
        }
    }
    proc *p = proc_find(d, tgid, true);
    if (!p) return false;
    p->ppid = ppid;
    p->ticks = start;
    p->pgid = pgid;
    p->sid = sid;
    p->tty_major = (tty >> 8) & 0xfff; /* the kernel's new_encode_dev */
    p->tty_minor = (tty & 0xff) | ((tty >> 12) & 0xfff00);
    p->ctx_known = true;
    snprintf(path, sizeof path, "/proc/%u/cwd", tgid);
    char cwd[MSR_PATH * 2];
    ssize_t cl = readlink(path, cwd, sizeof cwd - 1);
    free(p->cwd);
    p->cwd = cl > 0 ? dup_n(cwd, (size_t)cl) : NULL;
    snprintf(path, sizeof path, "/proc/%u/environ", tgid);
    f = fopen(path, "r");
    if (f) {
        char env[MSR_ENV];
        size_t en = fread(env, 1, sizeof env, f);
        fclose(f);
        proc_set_env(d, p, env, en);
    }
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
            if (!strncmp(b, "Uid:", 4) || !strncmp(b, "Gid:", 4)) {
                char *e;
                uint32_t real = (uint32_t)strtoul(b + 4, &e, 10);
                uint32_t eff = (uint32_t)strtoul(e, NULL, 10);
                if (b[0] == 'U')
                    p->uid = real, p->euid = eff;
                else
                    p->gid = real, p->egid = eff;
            }
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
    for (uint32_t i = 0; i < MAX_PROCS; i++)
        if (d->procs[i].tgid) seed_entry(d, &d->procs[i], 0);
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
    msdec_set_context(d, NULL, NULL);
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
    f = fopen("/etc/machine-id", "r");
    if (f) {
        if (!fgets(d->machine_id, sizeof d->machine_id, f)) d->machine_id[0] = 0;
        fclose(f);
        d->machine_id[strcspn(d->machine_id, "\n")] = 0;
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
        for (uint32_t i = 0; i < MAX_PROCS; i++) proc_free(&d->procs[i]);
    for (unsigned i = 0; i < MAX_PENDING; i++) {
        pending_clear(&d->exec_caller[i]);
        pending_clear(&d->vfork[i]);
    }
    ustack_destroy(d->u);
    for (size_t i = 0; i < d->njit; i++) free(d->jit_names[i]);
    free(d->jit_names);
    free(d->procs);
    free(d->env_allow);
    free(d->env_redact);
    buf_free(&d->out);
    buf_free(&d->tmp);
    free(d);
}

bool msdec_set_code(msdec *d, const char *const *patterns, const char *const *names,
                    const bool *jit, size_t n, size_t *bad)
{
    if (!ustack_set_code(d->u, patterns, names, n, bad)) return false;
    for (size_t i = 0; i < d->njit; i++) free(d->jit_names[i]);
    free(d->jit_names);
    d->jit_names = calloc(n ? n : 1, sizeof *d->jit_names);
    d->njit = 0;
    for (size_t i = 0; d->jit_names && i < n; i++)
        if (jit[i] && (d->jit_names[d->njit] = strdup(names[i]))) d->njit++;
    return true;
}

bool msdec_add_known(msdec *d, const char *path, const char *name)
{
    return ustack_add_known(d->u, path, name);
}

void msdec_set_policy(msdec *d, const modus_file_policy *p)
{
    d->policy = p && !modus_file_policy_empty(p) ? p : NULL;
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
    while (i < n && p[i] < 0x80) i++; /* nearly always ASCII: one escaping pass */
    if (i == n) {
        buf_put_json_str(b, s, n);
        return;
    }
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

static void put_leader(msdec *d, buf *b, const char *k, uint32_t tgid, uint64_t ticks, int type);

/* process.* (or process.parent.*) fields of p after the pid; the session,
 * group and entry leaders and the environment for process.* only. */
static void put_proc_fields(msdec *d, buf *b, const proc *p, bool leaders)
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
    if (p->cwd) kstr(b, "working_directory", p->cwd);
    if (p->ctx_known) {
        bool tty = p->tty_major || p->tty_minor;
        /* Elastic Defend: interactive when it has a controlling terminal */
        buf_puts(b, tty ? ",\"interactive\":true" : ",\"interactive\":false");
        if (tty)
            buf_printf(b, ",\"tty\":{\"char_device\":{\"major\":%u,\"minor\":%u}}", p->tty_major,
                       p->tty_minor);
    }
    if (p->ctx_known) { /* Elastic: user/group are the effective ids */
        put_id(d, b, "user", false, p->euid);
        put_id(d, b, "group", true, p->egid);
        put_id(d, b, "real_user", false, p->uid);
        put_id(d, b, "real_group", true, p->gid);
    }
    if (!leaders) return;
    if (p->env_len) {
        key(b, "env_vars");
        put_args(b, p->env, p->env_len, false);
    }
    if (p->ctx_known && p->sid) put_leader(d, b, "session_leader", p->sid, 0, -1);
    if (p->ctx_known && p->pgid) put_leader(d, b, "group_leader", p->pgid, 0, -1);
    if (p->entry_tgid)
        put_leader(d, b, "entry_leader", p->entry_tgid, p->entry_ticks, p->entry_type);
}

/* A leader's identity, from the table while it lives; an entry leader that
 * has gone keeps its pid, entity id and type (its start time is known).
 * type < 0: the session or group leader. */
static void put_leader(msdec *d, buf *b, const char *k, uint32_t tgid, uint64_t ticks, int type)
{
    proc *l = proc_find(d, tgid, false);
    if (l && ticks && l->ticks != ticks) l = NULL; /* pid reused */
    key(b, k);
    buf_puts(b, "{\"pid\":");
    buf_put_u64(b, tgid);
    if (l) {
        kstr(b, "entity_id", l->entity);
        if (l->exe) {
            kstr(b, "executable", l->exe);
            kstr(b, "name", base_name(l->exe));
        }
        /* args for the entry leader only: the one a rule reads, and every
         * event carries all three leaders (the sensor's CPU: bench/live.sh) */
        if (l->args_len && type >= 0) {
            key(b, "args");
            put_args(b, l->args, l->args_len, false);
        }
    } else if (ticks) {
        proc tmp = {.tgid = tgid, .ticks = ticks};
        proc_entity(d, &tmp);
        kstr(b, "entity_id", tmp.entity);
    }
    if (type >= 0 && (size_t)type < sizeof entry_names / sizeof *entry_names)
        buf_puts(b, ",\"entry_meta\":{\"type\":\""), buf_puts(b, entry_names[type]),
            buf_puts(b, "\"}");
    buf_putc(b, '}');
}

/* ---- stacks --------------------------------------------------------------------------- */

/* The JIT runtime a frame stands for, as the protection_provenance of the
 * memory it makes executable: its module's file name where that is a known
 * one (libjvm.so, node...), else the runtime its code shows (a renamed node
 * is "node"). */
static const char *jit_runtime(const msdec *d, const ustack_frame *f)
{
    const char *module = f->module;
    if (!module) return NULL;
    const char *b = base_name(module);
    if (!strcmp(b, "node") || !strcmp(b, "nodejs") || !strncmp(b, "libnode.so", 10)) return b;
    if (!strcmp(b, "libjvm.so")) return b;
    if (!strncmp(b, "libluajit", 9) || !strncmp(b, "luajit", 6)) return b;
    for (size_t i = 0; f->runtime && i < d->njit; i++)
        if (!strcmp(d->jit_names[i], f->runtime)) return d->jit_names[i];
    return NULL;
}

/* Is addr in none of the live process's mappings? false when that cannot be
 * told (the process is gone: the sensor's own maps may simply have missed
 * one). Asked only for an "Unknown" frame found by unwind info, which is
 * rare: it is what a return-oriented chain leaves above the syscall stub. */
static bool confirmed_unmapped(uint32_t tgid, uint64_t start_ns, uint64_t addr)
{
    char path[48], line[512];
    /* the same process, not a new one under a reused pid: its start time */
    snprintf(path, sizeof path, "/proc/%u/stat", tgid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    const char *p = strrchr(line, ')');
    unsigned long long start = 0;
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ') field++;
    if (!p || sscanf(p, "%llu", &start) != 1 || start != ns_to_ticks(start_ns)) return false;
    snprintf(path, sizeof path, "/proc/%u/maps", tgid);
    f = fopen(path, "r");
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
            confirmed_unmapped(h->tgid, h->start_ns, f->ip))
            kstr(b, "mapping", "none");
        if (lead) {
            static const char xd[] = "0123456789abcdef";
            char hex[40];
            for (size_t k = 0; k < nl; k++) {
                hex[2 * k] = xd[lead[k] >> 4];
                hex[2 * k + 1] = xd[lead[k] & 15];
            }
            hex[2 * nl] = 0;
            kstr(b, "callsite_leading_bytes", hex);
        }
        if (f->module && f->runtime) { /* recognised by its code, not its name */
            kstr(b, "module_runtime", f->runtime);
            if (f->runtime_by) kstr(b, "module_origin", f->runtime_by);
        }
        buf_putc(b, '}');
        if (!d->jit) d->jit = jit_runtime(d, f);
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
    if (d->machine_id[0]) kstr(b, "id", d->machine_id);
    buf_puts(b, ",\"os\":{\"type\":\"linux\",\"family\":\"debian\"}}");
    buf_puts(b, ",\"agent\":{\"type\":\"modus\"}");
    /* user.* and group.*: the acting process's effective ids (Elastic Defend),
     * the real ones in user.Ext.real / group.Ext.real; the header's uid (the
     * real one) when the process's credentials are not known */
    proc *p = proc_find(d, h->tgid, false);
    bool known = p && p->ctx_known;
    uint32_t uid = known ? p->euid : h->uid;
    const char *un = id_name(d, false, uid);
    put_id_open(b, "user", uid);
    if (*un) kstr(b, "name", un);
    if (known) {
        un = id_name(d, false, p->uid);
        buf_puts(b, ",\"Ext\":{\"real\":{\"id\":\"");
        buf_put_u64(b, p->uid);
        buf_putc(b, '"');
        if (*un) kstr(b, "name", un);
        buf_puts(b, "}}");
    }
    buf_putc(b, '}');
    if (known) {
        const char *gn = id_name(d, true, p->egid);
        put_id_open(b, "group", p->egid);
        if (*gn) kstr(b, "name", gn);
        gn = id_name(d, true, p->gid);
        buf_puts(b, ",\"Ext\":{\"real\":{\"id\":\"");
        buf_put_u64(b, p->gid);
        buf_putc(b, '"');
        if (*gn) kstr(b, "name", gn);
        buf_puts(b, "}}}");
    }
}

/* ,"process":{"pid":..,...,"parent":{...},"thread":{"id":N,"Ext":{"call_stack":[...]}}
 * The process object is left open for the caller to add to and close. */
static void put_process(msdec *d, const struct msr_hdr *h, const char *stack_json,
                        const char *parent_stack)
{
    buf *b = &d->out;
    proc *p = proc_find(d, h->tgid, false);
    buf_puts(b, ",\"process\":{\"pid\":");
    buf_put_u64(b, h->tgid);
    if (p) {
        put_proc_fields(d, b, p, true);
    } else {
        char comm[17];
        memcpy(comm, h->comm, 16);
        comm[16] = 0;
        kstr(b, "name", comm);
    }
    uint32_t ppid = p && p->ppid ? p->ppid : h->ppid;
    proc *pp = proc_find(d, ppid, false);
    buf_puts(b, ",\"parent\":{\"pid\":");
    buf_put_u64(b, ppid);
    if (pp) put_proc_fields(d, b, pp, false);
    /* the launch modality: the modality of the code that exec'd this
     * process (its exec caller's stack, process.parent.thread on the exec
     * event), carried on every event of the process (docs/sensor-events.md) */
    if (p && p->launch[0]) {
        buf_puts(b, ",\"modality\":{\"name\":");
        jstr(b, p->launch, strlen(p->launch));
        buf_putc(b, '}');
    }
    if (parent_stack) {
        buf_puts(b, ",\"thread\":{\"Ext\":{\"call_stack\":");
        buf_puts(b, parent_stack);
        buf_puts(b, "}}");
    }
    buf_putc(b, '}');
    buf_puts(b, ",\"thread\":{\"id\":");
    buf_put_u64(b, h->tid);
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
    buf_putc(b, '}');           /* api */
    if (h->type == MSR_MEMFD) { /* Elastic Defend's own memfd fields (issue 15) */
        char nm[65];
        memcpy(nm, h->u.memfd.name, 64);
        nm[64] = 0;
        buf_puts(b, ",\"memfd\":{\"name\":");
        jstr(b, nm, strlen(nm));
        uint32_t fl = h->u.memfd.flags; /* MFD_CLOEXEC 1, MFD_ALLOW_SEALING 2, MFD_HUGETLB 4 */
        buf_printf(b, ",\"flag_cloexec\":%s,\"flag_allow_seal\":%s,\"flag_hugetlb\":%s}",
                   fl & 1 ? "true" : "false", fl & 2 ? "true" : "false", fl & 4 ? "true" : "false");
    }
    buf_puts(b, "}}"); /* Ext, process */
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

/* what a file event says beyond its path */
typedef struct fextra {
    const char *action, *type;
    const char *orig; /* rename: the old path */
    const char *cls;  /* persistence class, or NULL */
    uint32_t mode;    /* inode mode bits, 0: unknown */
    bool mode_known, dir;
    const uint8_t *hdr; /* header bytes */
    uint32_t nhdr;
} fextra;

static int file_event(msdec *d, const struct msr_hdr *h, const uint8_t *data, const char *path,
                      const fextra *x, const char **json, size_t *len)
{
    size_t nf = unwind_json(d, h, data);
    begin_doc(d, h, "file", x->type, x->action);
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
    if (x->dir) kstr(b, "type", "dir");
    if (x->mode_known) {
        char m[8];
        snprintf(m, sizeof m, "0%o", x->mode & 07777);
        kstr(b, "mode", m);
    }
    buf_puts(b, ",\"Ext\":{");
    size_t at = b->n;
    if (x->cls) kstr(b, "persistence", x->cls);
    if (x->orig) {
        buf_puts(b, ",\"original\":{\"path\":");
        jstr(b, x->orig, strlen(x->orig));
        kstr(b, "name", base_name(x->orig));
        buf_putc(b, '}');
    }
    if (x->nhdr) {
        char hex[2 * MSR_FOP_HDR + 1];
        for (uint32_t k = 0; k < x->nhdr && k < MSR_FOP_HDR; k++)
            snprintf(hex + 2 * k, 3, "%02x", x->hdr[k]);
        kstr(b, "header_bytes", hex);
    }
    if (x->mode_known && !strcmp(x->action, "attributes_modified"))
        buf_printf(b, ",\"executable\":%s", x->mode & 0111 ? "true" : "false");
    /* drop the leading comma of the first member */
    if (b->n > at && b->p[at] == ',') {
        memmove(b->p + at, b->p + at + 1, b->n - at - 1);
        b->n--;
    }
    buf_puts(b, "}}");
    return finish(d, json, len);
}

/* ---- network and DNS ------------------------------------------------------------------ */

/* One end of a connection as ECS source/destination; v4-mapped IPv6
 * addresses (a dual-stack socket talking IPv4) are written as IPv4. */
static bool net_ip(uint16_t family, const uint8_t *a, char *out, size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == 10 && !memcmp(a, mapped, 12)) return inet_ntop(AF_INET, a + 12, out, n) != NULL;
    if (family == 10) return inet_ntop(AF_INET6, a, out, n) != NULL;
    if (family == 2) return inet_ntop(AF_INET, a, out, n) != NULL;
    out[0] = 0;
    return false;
}

static void put_endpoint(buf *b, const char *k, uint16_t family, const uint8_t *a, uint16_t port)
{
    char ip[INET6_ADDRSTRLEN];
    key(b, k);
    buf_putc(b, '{');
    if (net_ip(family, a, ip, sizeof ip)) { /* address: ECS's raw form, the IP here */
        buf_puts(b, "\"address\":");
        jstr(b, ip, strlen(ip));
        buf_puts(b, ",\"ip\":");
        jstr(b, ip, strlen(ip));
        buf_putc(b, ',');
    }
    buf_puts(b, "\"port\":");
    buf_put_u64(b, port);
    buf_putc(b, '}');
}

static const char *net_type(const struct msr_net *n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (n->family == 10 && !memcmp(n->daddr, mapped, 12) && !memcmp(n->saddr, mapped, 12))
        return "ipv4";
    return n->family == 10 ? "ipv6" : "ipv4";
}

static const char *net_transport(uint16_t proto)
{
    return proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 1 ? "icmp" : "other";
}

/* source, destination and the network object (left open for the caller) */
static void put_net(buf *b, const struct msr_net *n, const char *direction, bool local_only)
{
    put_endpoint(b, "source", n->family, n->saddr, n->sport);
    if (!local_only) put_endpoint(b, "destination", n->family, n->daddr, n->dport);
    buf_puts(b, ",\"network\":{\"transport\":");
    const char *t = net_transport(n->proto);
    jstr(b, t, strlen(t));
    kstr(b, "type", net_type(n));
    if (direction) kstr(b, "direction", direction);
}

static const char *errno_name(int e)
{
    switch (e) {
    case 0: return "success";
    case 115: return "EINPROGRESS";
    case 111: return "ECONNREFUSED";
    case 110: return "ETIMEDOUT";
    case 113: return "EHOSTUNREACH";
    case 101: return "ENETUNREACH";
    case 99: return "EADDRNOTAVAIL";
    case 13: return "EACCES";
    case 1: return "EPERM";
    case 4: return "EINTR";
    case 11: return "EAGAIN";
    case 106: return "EISCONN";
    case 114: return "EALREADY";
    default: return "error";
    }
}

/* CONNECT, ACCEPT, LISTEN, CLOSE -> event.category network:
 *   connection_attempted  start  egress   (source = this host)
 *   connection_accepted   start  ingress  (source = the remote peer)
 *   listen / bind         start  -        (source = the bound address)
 *   disconnect_received   end    as the connection was made */
static int net_event(msdec *d, const struct msr_hdr *h, const uint8_t *data, const char **json,
                     size_t *len)
{
    const struct msr_net *n = &h->u.net;
    const char *action, *type = "start", *dir = NULL;
    switch (h->type) {
    case MSR_NET_CONNECT: action = "connection_attempted", dir = "egress"; break;
    case MSR_NET_ACCEPT: action = "connection_accepted", dir = "ingress"; break;
    case MSR_NET_LISTEN: action = h->flags & MSR_F_NET_BIND ? "bind" : "listen"; break;
    default:
        action = "disconnect_received", type = "end";
        dir = n->result == 2 ? "ingress" : "egress";
        break;
    }
    size_t nf = unwind_json(d, h, data);
    begin_doc(d, h, "network", type, action);
    put_process(d, h, nf ? d->tmp.p : NULL, NULL);
    buf *b = &d->out;
    buf_putc(b, '}');
    put_net(b, n, dir, h->type == MSR_NET_LISTEN);
    buf_puts(b, ",\"Ext\":{");
    buf_puts(b, "\"fd\":");
    buf_put_u64(b, (uint64_t)(uint32_t)n->fd);
    if (h->type == MSR_NET_CONNECT) {
        int e = n->result < 0 ? -n->result : 0;
        kstr(b, "result", errno_name(e));
        if (e && e != 115) knum(b, "errno", (uint64_t)e);
    }
    buf_puts(b, "}}");
    return finish(d, json, len);
}

/* DNS -> event.category [network, dns], event.type [protocol, info]:
 * network as Elastic Defend writes it (Elastic's SIEM rules select these
 * with `network where dns.question.name ...`), dns as Elastic's endpoint
 * behaviour rules select them (`dns where ...`); lookup_requested for a query the process sent,
 * lookup_result for a response it received, with the answers. A message
 * that does not parse still makes an event, with dns.Ext.error naming the
 * byte offset (a malformed message to port 53 is itself worth seeing). */
static int dns_event(msdec *d, const struct msr_hdr *h, const uint8_t *data, const char **json,
                     size_t *len)
{
    const uint8_t *p = h->u.dns.payload;
    size_t n = h->u.dns.len < MSR_DNS_MAX ? h->u.dns.len : MSR_DNS_MAX;
    bool truncated = h->u.dns.len > MSR_DNS_MAX;
    /* DNS over TCP: a two-byte length first */
    if (h->u.dns.net.proto == 6 && n >= 2 && (size_t)((p[0] << 8) | p[1]) + 2 >= n) {
        p += 2;
        n -= 2;
    }
    dns_msg *m = &d->dns;
    dns_err err;
    bool ok = dns_parse(p, n, m, &err);
    if (!ok || err.msg) d->dns_errors++;
    bool sent = h->flags & MSR_F_DNS_SENT;
    bool result = ok ? m->response : !sent;
    size_t nf = unwind_json(d, h, data);
    /* begin_doc writes type verbatim between quotes: two types */
    begin_doc(d, h, "network,dns", "protocol\",\"info",
              result ? "lookup_result" : "lookup_requested");
    put_process(d, h, nf ? d->tmp.p : NULL, NULL);
    buf *b = &d->out;
    buf_putc(b, '}');
    put_net(b, &h->u.dns.net, sent ? "egress" : "ingress", false);
    kstr(b, "protocol", "dns");
    buf_putc(b, '}');
    buf_puts(b, ",\"dns\":{");
    char tb[16];
    if (ok) {
        buf_puts(b, "\"id\":");
        buf_put_u64(b, m->id);
        kstr(b, "type", m->response ? "answer" : "query");
        kstr(b, "op_code", m->opcode == 0 ? "QUERY" : m->opcode == 2 ? "STATUS" : "OTHER");
        buf_puts(b, ",\"question\":{\"name\":");
        jstr(b, m->qname, strlen(m->qname));
        kstr(b, "type", dns_type_name(m->qtype, tb));
        kstr(b, "class", m->qclass == 1 ? "IN" : "OTHER");
        buf_putc(b, '}');
        if (m->response) {
            kstr(b, "response_code", dns_rcode_name(m->rcode, tb));
            if (m->nanswers) {
                key(b, "answers");
                buf_putc(b, '[');
                for (unsigned i = 0; i < m->nanswers; i++) {
                    const dns_rr *r = &m->answers[i];
                    if (i) buf_putc(b, ',');
                    buf_puts(b, "{\"name\":");
                    jstr(b, r->name, strlen(r->name));
                    kstr(b, "type", dns_type_name(r->type, tb));
                    kstr(b, "class", r->klass == 1 ? "IN" : "OTHER");
                    knum(b, "ttl", r->ttl);
                    if (r->data[0]) kstr(b, "data", r->data);
                    buf_putc(b, '}');
                }
                buf_putc(b, ']');
                int nip = 0;
                for (unsigned i = 0; i < m->nanswers; i++) {
                    const dns_rr *r = &m->answers[i];
                    if ((r->type != 1 && r->type != 28) || !r->data[0]) continue;
                    buf_puts(b, nip++ ? "," : ",\"resolved_ip\":[");
                    jstr(b, r->data, strlen(r->data));
                }
                if (nip) buf_putc(b, ']');
            }
        }
    }
    buf_puts(b, ok ? ",\"Ext\":{" : "\"Ext\":{");
    buf_puts(b, "\"message_bytes\":");
    buf_put_u64(b, h->u.dns.len);
    if (truncated) buf_puts(b, ",\"truncated\":true");
    if (err.msg) {
        char e[160];
        snprintf(e, sizeof e, "byte %zu: %s", err.offset, err.msg);
        kstr(b, "error", e);
    }
    buf_puts(b, "}}");
    return finish(d, json, len);
}

/* A library (an executable mapping of a file) where the file policy looks:
 * its directories, or, with a policy of "all", the world-writable places. */
static bool library_watched(const msdec *d, const char *path)
{
    static const char *const staging[] = {"/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/", NULL};
    if (!d->policy || !path[0]) return false;
    if (!(d->policy->all & FOP_WRITE)) return fpol_match(d->policy, path, true, FOP_ALL);
    for (int i = 0; staging[i]; i++)
        if (!strncmp(path, staging[i], strlen(staging[i]))) return true;
    return false;
}

static int library_event(msdec *d, const struct msr_hdr *h, const char *path, const char **json,
                         size_t *len)
{
    begin_doc(d, h, "library", "start", "load");
    put_process(d, h, NULL, NULL);
    buf *b = &d->out;
    buf_putc(b, '}');
    const char *name = base_name(path);
    buf_puts(b, ",\"dll\":{\"path\":");
    jstr(b, path, strlen(path));
    kstr(b, "name", name);
    buf_puts(b, "},\"file\":{\"path\":");
    jstr(b, path, strlen(path));
    kstr(b, "name", name);
    const char *dot = strrchr(name, '.');
    if (dot && dot != name && dot[1]) kstr(b, "extension", dot + 1);
    buf_putc(b, '}');
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

/* The launch modality of p: the modality of the exec caller's frames,
 * named by the classifier the sensor was given (the same one that names
 * the exec event's modality.name); "" without a stack or a classifier. */
static void launch_modality(msdec *d, proc *p, const char *caller)
{
    p->launch[0] = 0;
    if (!d->launch_fn || !caller) return;
    buf *b = &d->tmp;
    buf_reset(b);
    buf_puts(b, "{\"event\":{\"category\":[\"process\"],\"type\":[\"start\"],\"action\":\"exec\"},"
                "\"host\":{\"os\":{\"type\":\"linux\"}},\"process\":{\"parent\":{");
    if (p->exe) { /* the image before the exec: the caller's */
        buf_puts(b, "\"executable\":");
        jstr(b, p->exe, strlen(p->exe));
        buf_putc(b, ',');
    }
    buf_puts(b, "\"thread\":{\"Ext\":{\"call_stack\":");
    buf_puts(b, caller);
    buf_puts(b, "}}}}}");
    size_t n = b->n;
    buf_reserve(b, 64);
    if (b->oom) return;
    memset(b->p + n, ' ', 64);
    const char *m = d->launch_fn(d->launch_ctx, b->p, n);
    if (m) snprintf(p->launch, sizeof p->launch, "%s", m);
}

/* A relative path against the directory the kernel walked for it (base:
 * components leaf first), or the caller's cwd / dfd now when it did not. */
static void resolve_base(uint32_t tgid, int32_t dfd, const char *rel, const char *base,
                         size_t basecap, char *out, size_t n)
{
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    if (rel[0] == '/' || !base[0]) {
        resolve(tgid, dfd, rel, out, n);
        return;
    }
    char dir[MSR_PATH * 2];
    path_join(base, basecap, dir, sizeof dir);
    int w = snprintf(out, n, "%s/%s", strcmp(dir, "/") ? dir : "", rel);
    if (w < 0 || (size_t)w >= n) snprintf(out, n, "%s", rel);
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
            if (parent && parent != c) { /* (a malformed record may name itself) */
                proc_set_exe(c, parent->exe, parent->exe ? strlen(parent->exe) : 0);
                proc_set_args(c, parent->args, parent->args_len);
                /* a fork runs its parent's code in its parent's context */
                free(c->cwd);
                c->cwd = parent->cwd ? dup_n(parent->cwd, strlen(parent->cwd)) : NULL;
                free(c->env);
                c->env = parent->env_len ? malloc(parent->env_len) : NULL;
                if (c->env) memcpy(c->env, parent->env, parent->env_len);
                c->env_len = c->env ? parent->env_len : 0;
                c->tty_major = parent->tty_major;
                c->tty_minor = parent->tty_minor;
                c->sid = parent->sid;
                c->pgid = parent->pgid;
                c->euid = parent->euid;
                c->gid = parent->gid;
                c->egid = parent->egid;
                c->ctx_known = parent->ctx_known;
                c->entry_tgid = parent->entry_tgid;
                c->entry_ticks = parent->entry_ticks;
                c->entry_type = parent->entry_type;
                memcpy(c->launch, parent->launch, sizeof c->launch);
            }
            proc_entity(d, c);
            proc_entry(d, c, false);
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
            if (!caller && pe && pe->frames) {
                caller = pe->frames;
                pe->frames = NULL;
            }
            launch_modality(d, p, caller);
            char exe[MSR_PATH * 2];
            if (h->u.exec.path[0])
                path_join(h->u.exec.path, sizeof h->u.exec.path, exe, sizeof exe);
            else
                snprintf(exe, sizeof exe, "%.*s", (int)sizeof h->u.exec.filename,
                         h->u.exec.filename);
            proc_set_exe(p, exe, strlen(exe));
            size_t envn = h->u.exec.env_len <= h->data_len ? h->u.exec.env_len : 0;
            proc_set_args(p, (const char *)data, h->data_len - envn);
            proc_set_env(d, p, (const char *)data + h->data_len - envn, envn);
            p->ppid = h->ppid;
            p->uid = h->uid;
            p->ticks = ns_to_ticks(h->start_ns);
            proc_entity(d, p);
            char cwd[MSR_PATH * 2];
            free(p->cwd);
            p->cwd = NULL;
            if (h->u.exec.cwd[0]) {
                path_join(h->u.exec.cwd, sizeof h->u.exec.cwd, cwd, sizeof cwd);
                p->cwd = dup_n(cwd, strlen(cwd));
            }
            p->tty_major = h->u.exec.tty_major;
            p->tty_minor = h->u.exec.tty_minor;
            p->sid = h->u.exec.sid;
            p->pgid = h->u.exec.pgid;
            p->gid = h->u.exec.gid;
            p->euid = h->u.exec.euid;
            p->egid = h->u.exec.egid;
            p->ctx_known = true;
            proc_entry(d, p, true);
        }
        if (!caller && pe) {
            caller = pe->frames;
            pe->frames = NULL;
        }
        if (pe) pending_clear(pe);
        ustack_exec(d->u, h->tgid);
        /* the program and its interpreter: parsed now, every executable
         * segment mapped, so the first stack of a new binary unwinds */
        if (p && p->exe && h->u.exec.text_end > h->u.exec.text_start)
            ustack_image(d->u, h->tgid, h->u.exec.text_start, h->u.exec.text_end,
                         h->u.exec.text_pgoff, p->exe);
        if (h->u.exec.interp_end > h->u.exec.interp_start && h->u.exec.interp[0]) {
            char ip[MSR_PATH * 2];
            path_join(h->u.exec.interp, sizeof h->u.exec.interp, ip, sizeof ip);
            ustack_image(d->u, h->tgid, h->u.exec.interp_start, h->u.exec.interp_end,
                         h->u.exec.interp_pgoff, ip);
        }
        begin_doc(d, h, "process", "start", "exec");
        put_process(d, h, NULL, caller);
        /* stdin or stdout is a socket: a shell on a connection */
        if (h->flags & MSR_F_STDIO_SOCK) buf_puts(&d->out, ",\"Ext\":{\"stdio_socket\":true}");
        buf_putc(&d->out, '}');
        free(caller);
        return finish(d, json, len);
    }
    case MSR_SETSID: {
        /* Elastic Defend's session_id_change, uid_change, gid_change */
        const char *action = h->u.ctx.kind == MSR_CTX_UID   ? "uid_change"
                             : h->u.ctx.kind == MSR_CTX_GID ? "gid_change"
                                                            : "session_id_change";
        proc *p = proc_find(d, h->tgid, false);
        if (p && h->u.ctx.kind == MSR_CTX_SETSID) { /* a new session and group, no terminal */
            p->sid = p->pgid = h->tgid;
            p->tty_major = p->tty_minor = 0;
        }
        if (p && h->u.ctx.kind != MSR_CTX_SETSID) {
            bool same = p->ctx_known && p->uid == h->u.ctx.uid && p->euid == h->u.ctx.euid &&
                        p->gid == h->u.ctx.gid && p->egid == h->u.ctx.egid;
            p->uid = h->u.ctx.uid;
            p->euid = h->u.ctx.euid;
            p->gid = h->u.ctx.gid;
            p->egid = h->u.ctx.egid;
            if (same) return 0; /* a call that changed nothing (daemons drop to what they are) */
        }
        begin_doc(d, h, "process", "change", action);
        put_process(d, h, NULL, NULL);
        buf_putc(&d->out, '}');
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
            if (path[0] == '/' && library_watched(d, path))
                return library_event(d, h, path, json, len);
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
        fextra x = {.cls = cls};
        x.action = h->flags & MSR_F_CREATED ? "creation" : "modification";
        x.type = h->flags & MSR_F_CREATED ? "creation" : "change";
        return file_event(d, h, data, path, &x, json, len);
    }
    case MSR_FILE_OP: {
        char path[MSR_PATH * 2];
        if (h->flags & MSR_F_FOP_USER) {
            char raw[MSR_PATH + 1];
            memcpy(raw, h->u.fop.path, MSR_PATH);
            raw[MSR_PATH] = 0;
            if (!raw[0]) return -1;
            resolve_base(h->tgid, h->u.fop.dfd, raw, h->u.fop.base, sizeof h->u.fop.base, path,
                         sizeof path);
        } else
            path_join(h->u.fop.path, sizeof h->u.fop.path, path, sizeof path);
        fextra x = {0};
        x.cls = sensor_persist_class(path);
        x.mode = h->u.fop.mode;
        /* S_IFDIR */
        x.dir = (h->flags & MSR_F_FOP_DIR) || (h->u.fop.mode & 0170000) == 0040000;
        switch (h->u.fop.op) {
        case MSR_FOP_CREATE: x.action = "creation", x.type = "creation", x.mode_known = true; break;
        case MSR_FOP_MODIFY:
            x.action = "modification", x.type = "change", x.mode_known = true;
            break;
        case MSR_FOP_WRITE:
            x.action = "modification", x.type = "change", x.mode_known = true;
            if (h->flags & MSR_F_FOP_HEADER) {
                x.hdr = h->u.fop.header;
                x.nhdr = h->u.fop.hdr_len < MSR_FOP_HDR ? h->u.fop.hdr_len : MSR_FOP_HDR;
            }
            break;
        case MSR_FOP_DELETE: x.action = "deletion", x.type = "deletion"; break;
        case MSR_FOP_CHMOD:
            x.action = "attributes_modified", x.type = "change", x.mode_known = true;
            x.dir = h->flags & MSR_F_FOP_DIR;
            break;
        default: return -1;
        }
        return file_event(d, h, data, path, &x, json, len);
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
            resolve_base(h->tgid, h->u.rename.newdfd, nraw,
                         h->u.rename.newdfd == -100 ? h->u.rename.base : "",
                         sizeof h->u.rename.base, np, sizeof np);
        const char *cls = sensor_persist_class(np);
        if (h->u.rename.olddfd == -1) /* LSM: the old name only */
            snprintf(op, sizeof op, "%s", oraw);
        else
            resolve_base(h->tgid, h->u.rename.olddfd, oraw,
                         h->u.rename.olddfd == -100 ? h->u.rename.base : "",
                         sizeof h->u.rename.base, op, sizeof op);
        /* beyond persistence: where the file policy looks, at either name */
        if (!cls &&
            !(d->policy && (fpol_match(d->policy, np, false, FOP_RENAME) ||
                            (op[0] == '/' && fpol_match(d->policy, op, false, FOP_RENAME)))))
            return 0;
        fextra x = {.action = "rename", .type = "change", .orig = op, .cls = cls};
        return file_event(d, h, data, np, &x, json, len);
    }
    case MSR_NET_CONNECT:
    case MSR_NET_ACCEPT:
    case MSR_NET_LISTEN:
    case MSR_NET_CLOSE: return net_event(d, h, data, json, len);
    case MSR_DNS: return dns_event(d, h, data, json, len);
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
