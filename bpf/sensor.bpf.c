// SPDX-License-Identifier: GPL-2.0
/* sensor.bpf.c - modus live's kernel side.
 *
 * Two backends behind one record layout (sensor_abi.h):
 *   tracepoints  syscalls:sys_enter_* / sys_exit_* and sched:* (tp/, tp_btf/).
 *                Loads wherever eBPF tracing does; the one the tests exercise.
 *   lsm          on kernels that allow BPF trampolines, the `?lsm/` programs
 *                at the end of this file replace the syscall tracepoints for
 *                mprotect, write opens, renames, exec callers, bpf and module
 *                loads: no syscall slow path, kernel objects instead of user
 *                pointers (no TOCTOU), bpf_d_path for paths. Process
 *                lifecycle, mmap (module maps), vfork, ptrace requests,
 *                process_vm_writev and memfd_create stay on tracepoints. The
 *                loader probes for trampolines and says which backend runs
 *                (source_ebpf.c). UNVERIFIED: the machines this was written on
 *                refuse every trampoline, so the verifier has never seen these
 *                programs; if they fail to load, the loader falls back to
 *                tracepoints and says why.
 *
 * What reaches user space is filtered here, so that the hot paths (open,
 * mmap, mprotect) cost a few comparisons for the common case:
 *   - mprotect/pkey_mprotect only with PROT_EXEC, and only when the memory is
 *     writable now or before (W+X, W->X), anonymous, or a deleted/memfd file;
 *   - mmap with PROT_EXEC: a small header-only MSR_MMAP (module maps for the
 *     unwinder), with a stack only when W+X, anonymous or deleted/memfd;
 *   - open/openat/openat2/creat that succeeded for writing, only when the
 *     parent directory's name or the file's name is in the watch maps that
 *     user space fills (system, cron.d, .ssh, ld.so.preload...); user space
 *     then matches the full path exactly;
 *   - ptrace write/attach requests, process_vm_writev, writes to (and the
 *     first read of) another process's /proc/PID/mem, memfd_create,
 *     bpf(BPF_PROG_LOAD), module loads, execve, fork/exit of processes.
 * The sensor's own process is never reported.
 *
 * Stacks: registers from bpf_task_pt_regs and a copy of the user stack from
 * sp, page by page until the first unreadable page or stack_max, plus the 16
 * bytes before ip (is frame 0 right after a syscall instruction?). User
 * space unwinds the copy with .eh_frame (Debian builds without frame
 * pointers, so bpf_get_stack returns 1-2 useful frames).
 *
 * Delivery: one ring buffer; records are variable-length (a per-CPU scratch
 * copied out with bpf_ringbuf_output); wake-ups are batched: the consumer
 * is only woken when more than wake_bytes are pending, and polls otherwise.
 * Failed outputs are counted per record type in `drops`.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sensor_abi.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 self_tgid = 0;
const volatile __u32 stack_max = 8192;   /* <= MSR_STACK_MAX, multiple of 4096 */
const volatile __u64 wake_bytes = 65536; /* wake the consumer past this much */

#define PROT_WRITE    0x2
#define PROT_EXEC     0x4
#define MAP_ANONYMOUS 0x20
#define VM_READ       0x1
#define VM_WRITE      0x2
#define VM_EXEC       0x4
#define FMODE_WRITE   0x2
#define FMODE_CREATED 0x100000
#define CLONE_VFORK   0x4000
#define PATH_DEPTH    16

struct scratch {
    struct msr_hdr h;
    __u8 data[MSR_STACK_MAX + 4096];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 << 20);
} rb SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct scratch);
} scratch_map SEC(".maps");

/* all zeroes, never written: clears a header (too big for an inline memset) */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct msr_hdr);
} zero_hdr SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MSR_TYPE_MAX);
    __type(key, __u32);
    __type(value, __u64);
} drops SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MSR_TYPE_MAX);
    __type(key, __u32);
    __type(value, __u64);
} sent SEC(".maps");

/* one path component (NUL padded) -> 1; filled by user space */
struct name_key {
    char s[MSR_NAME];
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, struct name_key);
    __type(value, __u8);
} watch_dirs SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, struct name_key);
    __type(value, __u8);
} watch_names SEC(".maps");

struct mmap_args {
    __u64 len, pgoff;
    __s64 fd;
    __u32 prot, flags;
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);
    __type(value, struct mmap_args);
} mmap_pending SEC(".maps");

struct open_args {
    __u64 unused;
};

static __always_inline void count(void *map, __u32 type)
{
    __u64 *c = bpf_map_lookup_elem(map, &type);
    if (c) *c += 1;
}

static __always_inline struct scratch *begin(__u32 type)
{
    __u32 zero = 0;
    struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
    struct msr_hdr *z = bpf_map_lookup_elem(&zero_hdr, &zero);
    if (!s || !z) return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    __u64 pt = bpf_get_current_pid_tgid();
    bpf_probe_read_kernel(&s->h, sizeof(s->h), z);
    s->h.type = type;
    s->h.ts = bpf_ktime_get_boot_ns();
    s->h.tgid = pt >> 32;
    s->h.tid = (__u32)pt;
    s->h.uid = (__u32)bpf_get_current_uid_gid();
    struct task_struct *leader = BPF_CORE_READ(t, group_leader);
    s->h.start_ns = BPF_CORE_READ(leader, start_boottime);
    struct task_struct *parent = BPF_CORE_READ(t, real_parent, group_leader);
    s->h.ppid = BPF_CORE_READ(parent, tgid);
    s->h.pstart_ns = BPF_CORE_READ(parent, start_boottime);
    bpf_get_current_comm(s->h.comm, sizeof(s->h.comm));
    return s;
}

static __always_inline bool is_self(void)
{
    return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline void submit(void *ctx, struct scratch *s)
{
    __u64 len = sizeof(s->h) + s->h.data_len;
    if (len > sizeof(*s)) len = sizeof(*s);
    s->h.size = len;
    __u64 flags = BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wake_bytes) flags = BPF_RB_FORCE_WAKEUP;
    if (bpf_ringbuf_output(&rb, s, len, flags))
        count(&drops, s->h.type);
    else
        count(&sent, s->h.type);
}

struct vma_info {
    __u64 flags, start, end, pgoff;
    __u32 anon; /* 1 anonymous, 2 file without links (memfd, deleted) */
    __u32 found;
    struct file *file;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
    struct vma_info *vi = data;
    vi->found = 1;
    vi->flags = vma->vm_flags;
    vi->start = vma->vm_start;
    vi->end = vma->vm_end;
    vi->pgoff = vma->vm_pgoff << 12;
    struct file *f = vma->vm_file;
    vi->file = f;
    if (!f)
        vi->anon = 1;
    else if (BPF_CORE_READ(f, f_inode, __i_nlink) == 0)
        vi->anon = 2;
    return 0;
}

static __always_inline void vma_at(__u64 addr, struct vma_info *vi)
{
    __builtin_memset(vi, 0, sizeof(*vi));
    struct task_struct *t = bpf_get_current_task_btf();
    bpf_find_vma(t, addr, vma_cb, vi, 0);
}

/* The stack capture and the path walk are global functions: the verifier
 * checks each once per program, where an inlined copy was checked again on
 * every path through its caller, multiplied by the caller's branches (the
 * write-open exits verified 144,000 instructions each; the object 1.65
 * million, 2.4 s of the sensor's CPU at every start). They take scalars
 * and find the per-CPU scratch record themselves. */
static __always_inline struct scratch *scratch_rec(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&scratch_map, &zero);
}

/* Registers and the stack copy, at most max bytes (a multiple of 4096). */
__noinline int capture_max(__u32 max)
{
    struct scratch *s = scratch_rec();
    if (!s) return 0;
    struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
    s->h.regs.ip = BPF_CORE_READ(r, ip);
    s->h.regs.sp = BPF_CORE_READ(r, sp);
    s->h.regs.bp = BPF_CORE_READ(r, bp);
    s->h.regs.bx = BPF_CORE_READ(r, bx);
    s->h.regs.r12 = BPF_CORE_READ(r, r12);
    s->h.regs.r13 = BPF_CORE_READ(r, r13);
    s->h.regs.r14 = BPF_CORE_READ(r, r14);
    s->h.regs.r15 = BPF_CORE_READ(r, r15);
    s->h.flags |= MSR_F_STACK;
    if (s->h.regs.ip >= 16 &&
        bpf_probe_read_user(s->h.ip_bytes, 16, (void *)(s->h.regs.ip - 16)) == 0)
        s->h.flags |= MSR_F_IPBYTES;

    struct vma_info vi;
    vma_at(s->h.regs.ip, &vi);
    if (!vi.found)
        s->h.flags |= MSR_F_IP_NOVMA;
    else {
        if (vi.anon == 1) s->h.flags |= MSR_F_IP_ANON;
        if (vi.flags & VM_WRITE) s->h.flags |= MSR_F_IP_WRITE;
    }

    __u64 sp = s->h.regs.sp;
    __u32 off = 0;
    __u32 first = 4096 - (sp & 4095);
    if (first > max) first = max;
    barrier_var(first); /* max is not a constant here: keep the checks below */
    first &= 8191;
    if (first == 0 || first > 4096) return 0;
    if (bpf_probe_read_user(s->data, first, (void *)sp)) return 0;
    off = first;
    for (int i = 0; i < MSR_STACK_MAX / 4096; i++) {
        if (off + 4096 > max) break;
        __u32 o = off & (MSR_STACK_MAX - 1);
        if (bpf_probe_read_user(&s->data[o], 4096, (void *)(sp + off))) break;
        off += 4096;
    }
    s->h.data_len = off;
    return 0;
}

static __always_inline void capture(struct scratch *s)
{
    capture_max(stack_max);
}

/* Walk a dentry up to the root of its mount namespace, writing the
 * components leaf first, '\0'-separated, into the scratch record's
 * MSR_PATH bytes at `at` (an offsetof). One step per bpf_loop iteration:
 * the verifier checks the step once. */
struct wp_ctx {
    struct dentry *d;
    struct mount *mnt;
    __u64 at;
    __u32 off, flags;
};

/* One step of a walk up the dentries of *d across mounts: UP_NAME (*d has
 * a name; *parent is its parent), UP_MOUNT (*d, *mnt moved to the mount
 * point below), UP_ROOT (the root of the namespace). Both walks (the path,
 * the file policy) take their steps here. */
enum { UP_NAME, UP_MOUNT, UP_ROOT };

static __always_inline int up_step(struct dentry **d, struct mount **mnt, struct dentry **parent)
{
    struct dentry *p = BPF_CORE_READ(*d, d_parent);
    struct dentry *mroot = BPF_CORE_READ(*mnt, mnt.mnt_root);
    if (*d != mroot && *d != p) {
        *parent = p;
        return UP_NAME;
    }
    struct mount *mp = BPF_CORE_READ(*mnt, mnt_parent);
    if (mp == *mnt || !mp) return UP_ROOT;
    *d = BPF_CORE_READ(*mnt, mnt_mountpoint);
    *mnt = mp;
    return UP_MOUNT;
}

static long wp_step(__u64 i, void *c)
{
    struct wp_ctx *w = c;
    struct dentry *d = w->d, *parent = NULL;
    int st = up_step(&w->d, &w->mnt, &parent);
    if (st == UP_ROOT) {
        w->flags = 0;
        return 1;
    }
    if (st == UP_MOUNT) return 0;
    /* each component gets up to MSR_PATH/2 bytes from an offset below
     * MSR_PATH/2: the verifier sees both bounds */
    __u32 off = w->off;
    if (off >= MSR_PATH / 2) return 1; /* truncated */
    struct scratch *s = scratch_rec();
    __u64 at = w->at;
    if (!s || at > sizeof(*s) - MSR_PATH) {
        w->flags = 0;
        return 1;
    }
    char *out = (char *)s + at;
    long n = bpf_probe_read_kernel_str(&out[off & (MSR_PATH / 2 - 1)], MSR_PATH / 2,
                                       BPF_CORE_READ(d, d_name.name));
    if (n <= 0) {
        w->flags = 0;
        return 1;
    }
    w->off = off + n;
    w->d = parent;
    return 0;
}

/* Returns the flags to add (MSR_F_PATH_TRUNC: deeper than PATH_DEPTH
 * components, or longer than the buffer). */
__noinline __u32 walk_path_at(__u64 dentry, __u64 vfsmount, __u32 at)
{
    struct wp_ctx w = {
        .d = (struct dentry *)dentry,
        .mnt = container_of((struct vfsmount *)vfsmount, struct mount, mnt),
        .at = at,
        .flags = MSR_F_PATH_TRUNC, /* cleared where the walk ends early for another reason */
    };
    bpf_loop(PATH_DEPTH, wp_step, &w, 0);
    return w.flags;
}

/* walk_path(d, mnt, s, field): the path into s->field, flags into s->h.flags */
#define walk_path(d, m, s, field)                                                                  \
    ((s)->h.flags |=                                                                               \
     walk_path_at((__u64)(d), (__u64)(m), __builtin_offsetof(struct scratch, field)))
#define walk_file(f, s, field)                                                                     \
    ({                                                                                             \
        struct file *f_ = (f);                                                                     \
        walk_path(BPF_CORE_READ(f_, f_path.dentry), BPF_CORE_READ(f_, f_path.mnt), s, field);      \
    })

static __always_inline bool name_in(void *map, const unsigned char *name)
{
    struct name_key k;
    __builtin_memset(&k, 0, sizeof(k));
    if (bpf_probe_read_kernel_str(k.s, sizeof(k.s), name) <= 0) return false;
    return bpf_map_lookup_elem(map, &k) != 0;
}

static __always_inline struct file *fd_file(long fd)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
    unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
    if (fd < 0 || fd >= max) return 0;
    struct file *f = 0;
    bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
    return f;
}

#define S_IFMT   0170000
#define S_IFSOCK 0140000

static __always_inline bool fd_is_socket(long fd)
{
    struct file *f = fd_file(fd);
    if (!f) return false;
    __u32 mode = BPF_CORE_READ(f, f_inode, i_mode);
    return (mode & S_IFMT) == S_IFSOCK;
}

/* ---- process lifecycle ---------------------------------------------------- */

/* execve entry: the caller's stack, before the old image is gone */
static __always_inline int exec_caller(void *ctx, const char *filename)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_EXEC_CALLER);
    if (!s) return 0;
    bpf_probe_read_user_str(s->h.u.exec.filename, sizeof(s->h.u.exec.filename), filename);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int tp_execve(struct trace_event_raw_sys_enter *ctx)
{
    return exec_caller(ctx, (const char *)ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_execveat")
int tp_execveat(struct trace_event_raw_sys_enter *ctx)
{
    return exec_caller(ctx, (const char *)ctx->args[1]);
}

/* Issue 15: the process context Elastic's Linux rules read, taken at exec
 * (a fork inherits it; setsid is MSR_SETSID): working directory,
 * controlling tty, session and group ids, and the environment, copied
 * whole up to MSR_ENV bytes (user space keeps the allow-listed variables
 * and redacts secrets; reading /proc/PID/environ later misses short-lived
 * processes such as `LD_PRELOAD=x ls`). */
static __always_inline void exec_context(struct task_struct *t, struct scratch *s)
{
    __u32 fl = 0;
    struct dentry *cd = BPF_CORE_READ(t, fs, pwd.dentry);
    struct vfsmount *cm = BPF_CORE_READ(t, fs, pwd.mnt);
    if (cd && cm)
        fl = walk_path_at((__u64)cd, (__u64)cm, __builtin_offsetof(struct scratch, h.u.exec.cwd));
    if (fl & MSR_F_PATH_TRUNC) s->h.flags |= MSR_F_CWD_TRUNC;
    struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
    if (tty) {
        s->h.u.exec.tty_major = BPF_CORE_READ(tty, driver, major);
        s->h.u.exec.tty_minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
    }
    s->h.u.exec.gid = BPF_CORE_READ(t, cred, gid.val);
    s->h.u.exec.euid = BPF_CORE_READ(t, cred, euid.val);
    s->h.u.exec.egid = BPF_CORE_READ(t, cred, egid.val);
    s->h.u.exec.sid = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID], numbers[0].nr);
    s->h.u.exec.pgid = BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID], numbers[0].nr);
    __u64 es = BPF_CORE_READ(t, mm, env_start), ee = BPF_CORE_READ(t, mm, env_end);
    __u64 n = ee > es ? ee - es : 0;
    if (n > MSR_ENV) {
        n = MSR_ENV;
        s->h.flags |= MSR_F_ENV_TRUNC;
    }
    __u32 off = s->h.data_len & (MSR_ARGS * 2 - 1);
    n &= (MSR_ENV * 2 - 1);
    if (n && n <= MSR_ENV && bpf_probe_read_user(&s->data[off], n, (void *)es) == 0) {
        s->h.u.exec.env_len = n;
        s->h.data_len = off + n;
    }
}

SEC("tp/sched/sched_process_exec")
int tp_exec(struct trace_event_raw_sched_process_exec *ctx)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_EXEC);
    if (!s) return 0;
    unsigned off = ctx->__data_loc_filename & 0xFFFF;
    bpf_probe_read_kernel_str(s->h.u.exec.filename, sizeof(s->h.u.exec.filename),
                              (void *)ctx + off);
    s->h.u.exec.old_tid = ctx->old_pid;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct file *exe = BPF_CORE_READ(t, mm, exe_file);
    if (exe) walk_file(exe, s, h.u.exec.path);
    /* the kernel mapped the program and its interpreter without an mmap
     * call: report their text, so short-lived processes can be unwound */
    struct vma_info vi;
    vma_at(BPF_CORE_READ(t, mm, start_code), &vi);
    if (vi.found && vi.file) {
        s->h.u.exec.text_start = vi.start;
        s->h.u.exec.text_end = vi.end;
        s->h.u.exec.text_pgoff = vi.pgoff;
    }
    struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
    vma_at(BPF_CORE_READ(r, ip), &vi);
    if (vi.found && vi.file && vi.start != s->h.u.exec.text_start) {
        s->h.u.exec.interp_start = vi.start;
        s->h.u.exec.interp_end = vi.end;
        s->h.u.exec.interp_pgoff = vi.pgoff;
        walk_file(vi.file, s, h.u.exec.interp);
    }
    __u64 as = BPF_CORE_READ(t, mm, arg_start), ae = BPF_CORE_READ(t, mm, arg_end);
    __u64 n = ae > as ? ae - as : 0;
    if (n > MSR_ARGS) {
        n = MSR_ARGS;
        s->h.u.exec.args_truncated = 1;
    }
    n &= (MSR_ARGS * 2 - 1);
    if (n && n <= MSR_ARGS && bpf_probe_read_user(s->data, n, (void *)as) == 0) s->h.data_len = n;
    if (fd_is_socket(0) || fd_is_socket(1)) s->h.flags |= MSR_F_STDIO_SOCK;
    exec_context(t, s);
    submit(ctx, s);
    return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_fork, struct task_struct *parent, struct task_struct *child)
{
    if (child->pid != child->tgid) return 0; /* a thread */
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_FORK);
    if (!s) return 0;
    s->h.u.fork.child = child->tgid;
    s->h.u.fork.child_tid = child->pid;
    s->h.u.fork.child_start_ns = child->start_boottime;
    submit(ctx, s);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tp_exit, struct task_struct *task)
{
    if (task->pid != task->tgid) return 0;
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_EXIT);
    if (!s) return 0;
    s->h.u.exit.code = task->exit_code;
    submit(ctx, s);
    return 0;
}

/* The process context changed: setsid() succeeded (it returns the new
 * session id, the caller's tgid: a new session and group led by the caller,
 * without a controlling tty), or a set*uid / set*gid call did (0); the
 * credentials after the call go with it. */
static __always_inline int ctx_change(void *ctx, long ret, __u32 kind)
{
    if (ret < 0 || (kind == MSR_CTX_SETSID && ret == 0) || is_self()) return 0;
    struct scratch *s = begin(MSR_SETSID);
    if (!s) return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    s->h.u.ctx.kind = kind;
    s->h.u.ctx.uid = BPF_CORE_READ(t, cred, uid.val);
    s->h.u.ctx.euid = BPF_CORE_READ(t, cred, euid.val);
    s->h.u.ctx.gid = BPF_CORE_READ(t, cred, gid.val);
    s->h.u.ctx.egid = BPF_CORE_READ(t, cred, egid.val);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_exit_setsid")
int tp_setsid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_SETSID);
}

SEC("tp/syscalls/sys_exit_setuid")
int tp_setuid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_UID);
}

SEC("tp/syscalls/sys_exit_setreuid")
int tp_setreuid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_UID);
}

SEC("tp/syscalls/sys_exit_setresuid")
int tp_setresuid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_UID);
}

SEC("tp/syscalls/sys_exit_setgid")
int tp_setgid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_GID);
}

SEC("tp/syscalls/sys_exit_setregid")
int tp_setregid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_GID);
}

SEC("tp/syscalls/sys_exit_setresgid")
int tp_setresgid_exit(struct trace_event_raw_sys_exit *ctx)
{
    return ctx_change(ctx, ctx->ret, MSR_CTX_GID);
}

static __always_inline int vfork_stack(void *ctx, __u64 flags)
{
    if (!(flags & CLONE_VFORK) || is_self()) return 0;
    struct scratch *s = begin(MSR_VFORK);
    if (!s) return 0;
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_clone")
int tp_clone(struct trace_event_raw_sys_enter *ctx)
{
    return vfork_stack(ctx, ctx->args[0]);
}

SEC("tp/syscalls/sys_enter_clone3")
int tp_clone3(struct trace_event_raw_sys_enter *ctx)
{
    __u64 flags = 0;
    bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[0]);
    return vfork_stack(ctx, flags);
}

/* ---- memory ----------------------------------------------------------------- */

static __always_inline int on_mprotect(void *ctx, __u64 addr, __u64 len, __u32 prot, __u32 pkey)
{
    if (!(prot & PROT_EXEC) || is_self()) return 0;
    struct vma_info vi;
    vma_at(addr, &vi);
    bool was_w = vi.found && (vi.flags & VM_WRITE) && !(vi.flags & VM_EXEC);
    if (!(prot & PROT_WRITE) && !was_w && !(vi.found && vi.anon)) return 0;
    struct scratch *s = begin(MSR_MPROTECT);
    if (!s) return 0;
    s->h.u.mem.addr = addr;
    s->h.u.mem.len = len;
    s->h.u.mem.prot = prot;
    s->h.u.mem.pkey = pkey;
    s->h.u.mem.old_vm_flags = vi.flags & (VM_READ | VM_WRITE | VM_EXEC);
    s->h.u.mem.vma_anon = vi.anon;
    s->h.u.mem.vma_start = vi.start;
    s->h.u.mem.vma_end = vi.end;
    if (vi.file) walk_file(vi.file, s, h.u.mem.path);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_mprotect")
int tp_mprotect(struct trace_event_raw_sys_enter *ctx)
{
    return on_mprotect(ctx, ctx->args[0], ctx->args[1], ctx->args[2], 0);
}

SEC("tp/syscalls/sys_enter_pkey_mprotect")
int tp_pkey_mprotect(struct trace_event_raw_sys_enter *ctx)
{
    return on_mprotect(ctx, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tp/syscalls/sys_enter_mmap")
int tp_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
    __u32 prot = ctx->args[2];
    if (!(prot & PROT_EXEC) || is_self()) return 0;
    struct mmap_args a = {
        .len = ctx->args[1],
        .prot = prot,
        .flags = ctx->args[3],
        .fd = (__s64)ctx->args[4],
        .pgoff = ctx->args[5],
    };
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&mmap_pending, &tid, &a, BPF_ANY);
    return 0;
}

SEC("tp/syscalls/sys_exit_mmap")
int tp_mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct mmap_args *a = bpf_map_lookup_elem(&mmap_pending, &tid);
    if (!a) return 0;
    struct mmap_args args = *a;
    bpf_map_delete_elem(&mmap_pending, &tid);
    long ret = ctx->ret;
    if (ret < 0 && ret > -4096) return 0;
    struct scratch *s = begin(MSR_MMAP);
    if (!s) return 0;
    s->h.u.mem.addr = ret;
    s->h.u.mem.len = args.len;
    s->h.u.mem.prot = args.prot;
    s->h.u.mem.vma_start = args.pgoff; /* file offset for MSR_MMAP */
    bool suspect = args.prot & PROT_WRITE;
    if ((args.flags & MAP_ANONYMOUS) || args.fd < 0) {
        s->h.u.mem.vma_anon = 1;
        suspect = true;
    } else {
        struct file *f = fd_file(args.fd);
        if (f) {
            if (BPF_CORE_READ(f, f_inode, __i_nlink) == 0) {
                s->h.u.mem.vma_anon = 2;
                suspect = true;
            }
            s->h.u.mem.vma_end = BPF_CORE_READ(f, f_inode, i_ino);
            walk_file(f, s, h.u.mem.path);
        }
    }
    if (suspect) {
        s->h.flags |= MSR_F_SUSPECT;
        capture(s);
    }
    submit(ctx, s);
    return 0;
}

/* ---- files ------------------------------------------------------------------- */

/* ---- file events beyond persistence: the policy (MSR_FILE_OP) -------------------
 *
 * User space derives from the loaded rules which files can matter (src/detect/
 * detect_needs.c) and fills these maps; a write-open, deletion or chmod is
 * reported when one of these holds, all compared case-folded (ASCII):
 *   fpol_names   the file's name (up to 31 bytes);
 *   fpol_exts    its extension: what follows the last '.' not at its start;
 *   fpol_dirs    an ancestor directory: FNV-1a 64 of "/a/b" (lower-cased,
 *                components cut at 63 bytes), checked for every prefix;
 *   fpol_dnames  the name of its parent directory;
 *   cfg.all      everything (a rule with no condition on the file).
 * Each entry (and cfg.all) holds the operations it is for (FOP_*: the
 * rules' event.action / event.type): a write-open, a deletion and a chmod
 * each look for their own bit.
 * Paths whose walk up takes more than FP_WALK steps (names and mount
 * crossings) pass (the prefix is unknown). */
#define FP_WALK 32
#define FP_COMP 64
#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_P   0x100000001b3ULL

/* map values and cfg.all: the operations an entry is for */
#define FOP_WRITE  0x1
#define FOP_DELETE 0x2
#define FOP_CHMOD  0x4

struct fpol_cfg {
    __u32 on;     /* anything beyond the persistence watch list */
    __u32 all;    /* every file, for these operations */
    __u32 header; /* keep the first bytes written to created files */
    __u32 ndirs;  /* fpol_dirs or fpol_dnames entries: walk the path */
};
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fpol_cfg);
} fpol_cfg SEC(".maps");
struct ext_key {
    char s[16];
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, __u8);
} fpol_dirs SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct name_key);
    __type(value, __u8);
} fpol_names SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct name_key);
    __type(value, __u8);
} fpol_dnames SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct ext_key);
    __type(value, __u8);
} fpol_exts SEC(".maps");

/* created files whose first write is awaited, by (tgid, inode): the fd may
 * be dup'ed (a shell's redirection writes through fd 1); fresh_tgids says
 * which processes have one, so that other writes cost one lookup */
struct fresh_key {
    __u64 tgid, ino;
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, struct fresh_key);
    __type(value, __u8);
} fresh_files SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, __u8);
} fresh_tgids SEC(".maps");

/* deletions and chmods that passed the policy at entry, reported at exit
 * when they succeeded */
struct fop_pending {
    __u32 op, mode;
    __s32 dfd;
    __u32 flags;
    char path[MSR_PATH / 2];
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct fop_pending);
} fop_pending SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fop_pending);
} fop_scratch SEC(".maps");

static __always_inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static __always_inline struct fpol_cfg *fpol(void)
{
    __u32 zero = 0;
    struct fpol_cfg *c = bpf_map_lookup_elem(&fpol_cfg, &zero);
    return c && c->on ? c : 0;
}

/* The byte loops below run under bpf_loop: the verifier checks a callback
 * once, where nested bounded loops would be walked iteration by iteration. */

/* the leaf's name and extension (x->nm, NUL-terminated within FP_COMP) */
struct leaf_ctx {
    char nm[FP_COMP];
    struct name_key k;
    struct ext_key e;
    int dot;
    __u32 op; /* FOP_* */
};

static __always_inline bool has_op(void *map, void *key, __u32 op)
{
    __u8 *v = bpf_map_lookup_elem(map, key);
    return v && (*v & op);
}

static long leaf_cb(__u64 i, void *c)
{
    struct leaf_ctx *x = c;
    if (i >= FP_COMP) return 1;
    char ch = x->nm[i & (FP_COMP - 1)];
    if (!ch) return 1;
    ch = lower(ch);
    if (i < MSR_NAME - 1) x->k.s[i & (MSR_NAME - 1)] = ch;
    if (ch == '.' && i > 0) x->dot = i;
    return 0;
}

static long ext_cb(__u64 j, void *c)
{
    struct leaf_ctx *x = c;
    if (j >= 15) return 1;
    __u64 i = x->dot + 1 + j;
    if (i >= FP_COMP) return 1;
    char ch = x->nm[i & (FP_COMP - 1)];
    if (!ch) return 1;
    x->e.s[j & 15] = lower(ch);
    return 0;
}

static __noinline bool fp_leaf(struct leaf_ctx *x)
{
    __builtin_memset(&x->k, 0, sizeof x->k);
    __builtin_memset(&x->e, 0, sizeof x->e);
    x->dot = -1;
    bpf_loop(FP_COMP, leaf_cb, x, 0);
    if (has_op(&fpol_names, &x->k, x->op)) return true;
    if (x->dot <= 0) return false;
    bpf_loop(15, ext_cb, x, 0);
    return x->e.s[0] && has_op(&fpol_exts, &x->e, x->op);
}

/* walking a directory's names from the root down */
struct dir_ctx {
    __u64 names[FP_WALK]; /* by step: a name, or 0 where the walk crossed a mount */
    __u64 h;
    int n, pass, bad, leaf;
    __u32 op;
    char buf[FP_COMP];
    struct name_key nk;
};

/* one byte of a component: into the hash and, for the leaf, its name key */
static long dir_byte_cb(__u64 j, void *c)
{
    struct dir_ctx *x = c;
    if (j >= FP_COMP) return 1;
    char ch = x->buf[j & (FP_COMP - 1)];
    if (!ch) return 1;
    ch = lower(ch);
    x->h = (x->h ^ (__u8)ch) * FNV_P;
    if (x->leaf && j < MSR_NAME - 1) x->nk.s[j & (MSR_NAME - 1)] = ch;
    return 0;
}

static long dir_cb(__u64 k, void *c)
{
    struct dir_ctx *x = c;
    int i = x->n - 1 - (int)k; /* the root's child first */
    if (i < 0 || i >= FP_WALK) return 1;
    __u64 name = x->names[i & (FP_WALK - 1)];
    if (!name) return 0; /* a mount crossing */
    if (bpf_probe_read_kernel_str(x->buf, sizeof x->buf, (void *)name) <= 0) {
        x->bad = 1;
        return 1;
    }
    x->h = (x->h ^ '/') * FNV_P;
    x->leaf = i == 0;
    __builtin_memset(&x->nk, 0, sizeof x->nk);
    bpf_loop(FP_COMP, dir_byte_cb, x, 0);
    if (has_op(&fpol_dirs, &x->h, x->op)) x->pass = 1;
    if (x->leaf && has_op(&fpol_dnames, &x->nk, x->op)) x->pass = 1;
    return 0;
}

/* Directory d on vmnt: 1 if it or an ancestor is in fpol_dirs or its name
 * in fpol_dnames, -1 if deeper than the walk (pass), 0 otherwise; *hout gets
 * its hash for callers that go on with a relative path. */
struct walk_ctx {
    struct dentry *d;
    struct mount *mnt;
    struct dir_ctx *x;
    int full;
};

/* one step up: a name, or a crossing to the mount below */
static long walk_cb(__u64 i, void *c)
{
    struct walk_ctx *w = c;
    struct dentry *d = w->d, *parent = NULL;
    int st = up_step(&w->d, &w->mnt, &parent);
    if (st == UP_ROOT) {
        w->full = 1;
        return 1;
    }
    if (st == UP_MOUNT) {
        w->x->names[i & (FP_WALK - 1)] = 0;
        w->x->n = i + 1;
        return 0;
    }
    /* indexed by the step, not by a count of names: a counter would be a
     * known constant at each step, and the verifier would check the code
     * after the loop once per value */
    struct dir_ctx *x = w->x;
    x->names[i & (FP_WALK - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
    x->n = i + 1;
    w->d = parent;
    return 0;
}

static __noinline int fp_dir(struct dentry *d, struct vfsmount *vmnt, __u64 *hout, __u32 op)
{
    struct dir_ctx x;
    __builtin_memset(&x, 0, sizeof x);
    x.op = op;
    struct walk_ctx w = {.d = d, .mnt = container_of(vmnt, struct mount, mnt), .x = &x};
    bpf_loop(FP_WALK, walk_cb, &w, 0);
    if (!w.full) return -1;
    x.h = FNV_OFF;
    bpf_loop(FP_WALK, dir_cb, &x, 0);
    if (x.bad) return -1;
    *hout = x.h;
    return x.pass;
}

/* an open file: does the policy want it? (global, like walk_path_at: the
 * verifier checks it once per program, not once per caller's path) */
__noinline int fp_file_at(__u64 file, __u32 op)
{
    struct fpol_cfg *cfg = fpol();
    if (!cfg) return 0;
    if (cfg->all & op) return 1;
    struct file *f = (struct file *)file;
    struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
    struct leaf_ctx x;
    x.op = op;
    if (bpf_probe_read_kernel_str(x.nm, sizeof x.nm, BPF_CORE_READ(d, d_name.name)) <= 0)
        return false;
    if (fp_leaf(&x)) return 1;
    if (!cfg->ndirs) return 0;
    __u64 h;
    return fp_dir(BPF_CORE_READ(d, d_parent), BPF_CORE_READ(f, f_path.mnt), &h, op) != 0;
}
#define fp_file(cfg, f, op) fp_file_at((__u64)(f), (op))

/* a path as the caller wrote it: fop_scratch's path */
struct upath_ctx {
    int last, clen, result;
    __u32 op;
    char c0, c1;
    __u64 h, h0;
};

static __always_inline struct fop_pending *fop_buf(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&fop_scratch, &zero);
}

static long last_slash_cb(__u64 i, void *c)
{
    struct upath_ctx *x = c;
    struct fop_pending *p = fop_buf();
    if (!p || i >= MSR_PATH / 2) return 1;
    char ch = p->path[i & (MSR_PATH / 2 - 1)];
    if (!ch) return 1;
    if (ch == '/') x->last = i;
    return 0;
}

/* one byte of the directory part; a component ends at '/' (or at the last
 * slash): its prefix hash is looked up */
static long comp_cb(__u64 i, void *c)
{
    struct upath_ctx *x = c;
    struct fop_pending *p = fop_buf();
    if (!p || i >= MSR_PATH / 2) return 1;
    char ch = (int)i < x->last ? p->path[i & (MSR_PATH / 2 - 1)] : '/';
    if (ch == '/') {
        if (x->clen == 1 && x->c0 == '.')
            x->h = x->h0;
        else if (x->clen == 2 && x->c0 == '.' && x->c1 == '.') {
            x->result = 1; /* "..": the prefix is not known here */
            return 1;
        } else if (x->clen) {
            if (has_op(&fpol_dirs, &x->h, x->op)) {
                x->result = 1;
                return 1;
            }
        } else
            x->h = x->h0;
        if ((int)i >= x->last) return 1;
        x->h0 = x->h;
        x->h = (x->h ^ '/') * FNV_P;
        x->clen = 0;
        return 0;
    }
    if (x->clen == 0) x->c0 = ch;
    if (x->clen == 1) x->c1 = ch;
    if (x->clen < 3) x->clen++; /* 3: longer than ".."; few values, few verifier states */
    x->h = (x->h ^ (__u8)lower(ch)) * FNV_P;
    return 0;
}

static long leaf_copy_cb(__u64 j, void *c)
{
    struct leaf_ctx *x = c;
    struct fop_pending *p = fop_buf();
    if (!p || j >= FP_COMP - 1) return 1;
    __u64 i = x->dot + 1 + j; /* dot holds the last slash here */
    if (i >= MSR_PATH / 2) return 1;
    char ch = p->path[i & (MSR_PATH / 2 - 1)];
    if (!ch) return 1;
    x->nm[j & (FP_COMP - 1)] = ch;
    return 0;
}

/* A path as the caller wrote it (fop_scratch, relative to its dfd): the leaf
 * and, walking the directory part from the root, cwd or dfd, every prefix. */
__noinline int fp_user_at(int dfd, int absolute, __u32 op)
{
    struct fpol_cfg *cfg = fpol();
    if (!cfg) return 0;
    if (cfg->all & op) return 1;
    struct upath_ctx u;
    __builtin_memset(&u, 0, sizeof u);
    u.last = -1;
    u.op = op;
    bpf_loop(MSR_PATH / 2, last_slash_cb, &u, 0);
    struct leaf_ctx x;
    __builtin_memset(x.nm, 0, sizeof x.nm);
    x.dot = u.last;
    x.op = op;
    bpf_loop(FP_COMP - 1, leaf_copy_cb, &x, 0);
    if (fp_leaf(&x)) return true;
    if (!cfg->ndirs) return false;
    __u64 h = FNV_OFF;
    if (!absolute) {
        struct dentry *d;
        struct vfsmount *m;
        struct task_struct *t = (struct task_struct *)bpf_get_current_task();
        if (dfd == -100) {
            d = BPF_CORE_READ(t, fs, pwd.dentry);
            m = BPF_CORE_READ(t, fs, pwd.mnt);
        } else {
            struct file *f = fd_file(dfd);
            if (!f) return true;
            d = BPF_CORE_READ(f, f_path.dentry);
            m = BPF_CORE_READ(f, f_path.mnt);
        }
        if (fp_dir(d, m, &h, op) != 0) return true;
    }
    if (u.last <= 0) return false;
    u.h = u.h0 = h;
    bpf_loop(MSR_PATH / 2, comp_cb, &u, 0);
    return u.result;
}
#define fp_user(cfg, dfd, absolute, op) fp_user_at((dfd), (absolute), (op))

static __always_inline int on_open_exit(void *ctx, long fd)
{
    if (fd < 0 || is_self()) return 0;
    struct file *f = fd_file(fd);
    if (!f) return 0;
    __u32 mode = BPF_CORE_READ(f, f_mode);
    if (!(mode & (FMODE_WRITE | FMODE_CREATED))) return 0;
    struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
    const unsigned char *name = BPF_CORE_READ(d, d_name.name);
    const unsigned char *pname = BPF_CORE_READ(d, d_parent, d_name.name);
    bool watch = name_in(&watch_dirs, pname) || name_in(&watch_names, name);
    struct fpol_cfg *cfg = fpol();
    bool pol = cfg && fp_file(cfg, f, FOP_WRITE);
    if (!watch && !pol) return 0;
    struct scratch *s = begin(pol ? MSR_FILE_OP : MSR_FILE_OPEN);
    if (!s) return 0;
    __u64 ino = BPF_CORE_READ(f, f_inode, i_ino);
    if (pol) {
        s->h.u.fop.op = (mode & FMODE_CREATED) ? MSR_FOP_CREATE : MSR_FOP_MODIFY;
        s->h.u.fop.mode = BPF_CORE_READ(f, f_inode, i_mode);
        s->h.u.fop.oflags = BPF_CORE_READ(f, f_flags);
        s->h.u.fop.ino = ino;
        if (watch) s->h.flags |= MSR_F_FOP_PERSIST;
        walk_file(f, s, h.u.fop.path);
        if ((mode & FMODE_CREATED) && cfg->header) {
            __u32 tgid = bpf_get_current_pid_tgid() >> 32;
            struct fresh_key fk = {.tgid = tgid, .ino = ino};
            __u8 one = 1;
            bpf_map_update_elem(&fresh_files, &fk, &one, BPF_ANY);
            bpf_map_update_elem(&fresh_tgids, &tgid, &one, BPF_ANY);
        }
    } else {
        s->h.u.file.mode = mode;
        s->h.u.file.oflags = BPF_CORE_READ(f, f_flags);
        s->h.u.file.ino = ino;
        if (mode & FMODE_CREATED) s->h.flags |= MSR_F_CREATED;
        walk_file(f, s, h.u.file.path);
    }
    capture(s);
    submit(ctx, s);
    return 0;
}

/* the first write to a created file, at offset 0: its leading bytes */
SEC("tp/syscalls/sys_enter_write")
int tp_write_header(struct trace_event_raw_sys_enter *ctx)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!bpf_map_lookup_elem(&fresh_tgids, &tgid)) return 0;
    struct file *f = fd_file(ctx->args[0]);
    if (!f) return 0;
    struct fresh_key fk = {.tgid = tgid, .ino = BPF_CORE_READ(f, f_inode, i_ino)};
    if (!bpf_map_lookup_elem(&fresh_files, &fk)) return 0;
    bpf_map_delete_elem(&fresh_files, &fk);
    if (BPF_CORE_READ(f, f_pos) != 0) return 0;
    __u64 n = ctx->args[2];
    if (!n) return 0;
    struct scratch *s = begin(MSR_FILE_OP);
    if (!s) return 0;
    if (n > MSR_FOP_HDR) n = MSR_FOP_HDR;
    n &= 31;
    if (n > MSR_FOP_HDR) n = MSR_FOP_HDR;
    if (bpf_probe_read_user(s->h.u.fop.header, n, (void *)ctx->args[1]) == 0) {
        s->h.u.fop.hdr_len = n;
        s->h.flags |= MSR_F_FOP_HEADER;
    }
    s->h.u.fop.op = MSR_FOP_WRITE;
    s->h.u.fop.mode = BPF_CORE_READ(f, f_inode, i_mode);
    s->h.u.fop.ino = fk.ino;
    walk_file(f, s, h.u.fop.path);
    capture(s);
    submit(ctx, s);
    return 0;
}

/* the directory a relative path starts from: the cwd or dfd, walked into
 * the scratch record at `at`; the flags to add */
static __always_inline __u32 walk_base_at(long dfd, __u32 at)
{
    if (dfd == -100) {
        struct task_struct *t = (struct task_struct *)bpf_get_current_task();
        return walk_path_at((__u64)BPF_CORE_READ(t, fs, pwd.dentry),
                            (__u64)BPF_CORE_READ(t, fs, pwd.mnt), at);
    }
    struct file *f = fd_file(dfd);
    if (!f) return 0;
    return walk_path_at((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt),
                        at);
}
#define walk_base(dfd, s, field)                                                                   \
    ((s)->h.flags |= walk_base_at((dfd), __builtin_offsetof(struct scratch, field)))

/* deletions and chmods by path: the policy at entry, the record at exit */
static __always_inline int fop_enter(__u32 op, long dfd, const char *upath, __u32 mode, __u32 flags)
{
    /* a chmod matters when it leaves something executable (or set-id) */
    if (op == MSR_FOP_CHMOD && !(mode & 07111)) return 0;
    if (is_self()) return 0;
    struct fpol_cfg *cfg = fpol();
    if (!cfg) return 0;
    __u32 zero = 0;
    struct fop_pending *p = bpf_map_lookup_elem(&fop_scratch, &zero);
    if (!p) return 0;
    p->op = op;
    p->mode = mode;
    p->dfd = dfd;
    p->flags = flags;
    if (bpf_probe_read_user_str(p->path, sizeof p->path, upath) <= 0) return 0;
    if (!fp_user(cfg, dfd, p->path[0] == '/', op == MSR_FOP_DELETE ? FOP_DELETE : FOP_CHMOD))
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&fop_pending, &tid, p, BPF_ANY);
    return 0;
}

static __always_inline int fop_exit(void *ctx, long ret)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct fop_pending *p = bpf_map_lookup_elem(&fop_pending, &tid);
    if (!p) return 0;
    if (ret != 0) {
        bpf_map_delete_elem(&fop_pending, &tid);
        return 0;
    }
    struct scratch *s = begin(MSR_FILE_OP);
    if (!s) {
        bpf_map_delete_elem(&fop_pending, &tid);
        return 0;
    }
    s->h.u.fop.op = p->op;
    s->h.u.fop.mode = p->mode;
    s->h.u.fop.dfd = p->dfd;
    s->h.flags |= MSR_F_FOP_USER | p->flags;
    bpf_probe_read_kernel(s->h.u.fop.path, sizeof p->path, p->path);
    long dfd = p->dfd;
    bool rel = p->path[0] != '/';
    bpf_map_delete_elem(&fop_pending, &tid);
    if (rel) walk_base(dfd, s, h.u.fop.base);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_unlink")
int tp_unlink(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(MSR_FOP_DELETE, -100, (const char *)ctx->args[0], 0, 0);
}

SEC("tp/syscalls/sys_enter_unlinkat")
int tp_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
    /* AT_REMOVEDIR 0x200 */
    return fop_enter(MSR_FOP_DELETE, ctx->args[0], (const char *)ctx->args[1], 0,
                     (ctx->args[2] & 0x200) ? MSR_F_FOP_DIR : 0);
}

SEC("tp/syscalls/sys_enter_rmdir")
int tp_rmdir(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(MSR_FOP_DELETE, -100, (const char *)ctx->args[0], 0, MSR_F_FOP_DIR);
}

SEC("tp/syscalls/sys_enter_chmod")
int tp_chmod(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(MSR_FOP_CHMOD, -100, (const char *)ctx->args[0], ctx->args[1], 0);
}

SEC("tp/syscalls/sys_enter_fchmodat")
int tp_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(MSR_FOP_CHMOD, ctx->args[0], (const char *)ctx->args[1], ctx->args[2], 0);
}

SEC("tp/syscalls/sys_enter_fchmodat2")
int tp_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(MSR_FOP_CHMOD, ctx->args[0], (const char *)ctx->args[1], ctx->args[2], 0);
}

/* fchmod(fd): the file is at hand; the path is walked at exit */
SEC("tp/syscalls/sys_enter_fchmod")
int tp_fchmod(struct trace_event_raw_sys_enter *ctx)
{
    if (!(ctx->args[1] & 07111) || is_self()) return 0;
    struct fpol_cfg *cfg = fpol();
    if (!cfg) return 0;
    struct file *f = fd_file(ctx->args[0]);
    if (!f || !fp_file(cfg, f, FOP_CHMOD)) return 0;
    __u32 zero = 0;
    struct fop_pending *p = bpf_map_lookup_elem(&fop_scratch, &zero);
    if (!p) return 0;
    p->op = MSR_FOP_CHMOD;
    p->mode = ctx->args[1];
    p->dfd = ctx->args[0];
    p->flags = 0;
    p->path[0] = 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&fop_pending, &tid, p, BPF_ANY);
    return 0;
}

SEC("tp/syscalls/sys_exit_fchmod")
int tp_fchmod_exit(struct trace_event_raw_sys_exit *ctx)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct fop_pending *p = bpf_map_lookup_elem(&fop_pending, &tid);
    if (!p) return 0;
    long fd = p->dfd;
    __u32 mode = p->mode;
    bpf_map_delete_elem(&fop_pending, &tid);
    if (ctx->ret != 0) return 0;
    struct file *f = fd_file(fd);
    if (!f) return 0;
    struct scratch *s = begin(MSR_FILE_OP);
    if (!s) return 0;
    s->h.u.fop.op = MSR_FOP_CHMOD;
    s->h.u.fop.mode = mode;
    s->h.u.fop.ino = BPF_CORE_READ(f, f_inode, i_ino);
    walk_file(f, s, h.u.fop.path);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_exit_unlink")
int tp_unlink_exit(struct trace_event_raw_sys_exit *ctx)
{
    return fop_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_unlinkat")
int tp_unlinkat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return fop_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_rmdir")
int tp_rmdir_exit(struct trace_event_raw_sys_exit *ctx)
{
    return fop_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_chmod")
int tp_chmod_exit(struct trace_event_raw_sys_exit *ctx)
{
    return fop_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_fchmodat")
int tp_fchmodat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return fop_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_fchmodat2")
int tp_fchmodat2_exit(struct trace_event_raw_sys_exit *ctx)
{
    return fop_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat")
int tp_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_open_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_open")
int tp_open_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_open_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int tp_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_open_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_creat")
int tp_creat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_open_exit(ctx, ctx->ret);
}

static __always_inline int on_rename(void *ctx, long olddfd, const char *oldp, long newdfd,
                                     const char *newp)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_RENAME);
    if (!s) return 0;
    s->h.u.rename.olddfd = olddfd;
    s->h.u.rename.newdfd = newdfd;
    bpf_probe_read_user_str(s->h.u.rename.oldpath, sizeof(s->h.u.rename.oldpath), oldp);
    if (bpf_probe_read_user_str(s->h.u.rename.newpath, sizeof(s->h.u.rename.newpath), newp) <= 0)
        return 0;
    /* relative to the cwd: walk it now, the process may be gone when user
     * space reads the record */
    if (((int)newdfd == -100 && s->h.u.rename.newpath[0] != '/') ||
        ((int)olddfd == -100 && s->h.u.rename.oldpath[0] != '/'))
        walk_base(-100, s, h.u.rename.base);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_rename")
int tp_rename(struct trace_event_raw_sys_enter *ctx)
{
    return on_rename(ctx, -100, (const char *)ctx->args[0], -100, (const char *)ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_renameat")
int tp_renameat(struct trace_event_raw_sys_enter *ctx)
{
    return on_rename(ctx, ctx->args[0], (const char *)ctx->args[1], ctx->args[2],
                     (const char *)ctx->args[3]);
}

SEC("tp/syscalls/sys_enter_renameat2")
int tp_renameat2(struct trace_event_raw_sys_enter *ctx)
{
    return on_rename(ctx, ctx->args[0], (const char *)ctx->args[1], ctx->args[2],
                     (const char *)ctx->args[3]);
}

/* ---- other processes, the kernel ---------------------------------------------- */

SEC("tp/syscalls/sys_enter_ptrace")
int tp_ptrace(struct trace_event_raw_sys_enter *ctx)
{
    long req = ctx->args[0];
    /* POKETEXT POKEDATA POKEUSER SETREGS SETFPREGS ATTACH SETREGSET SEIZE */
    if (!(req == 4 || req == 5 || req == 6 || req == 13 || req == 15 || req == 16 ||
          req == 0x4205 || req == 0x4206))
        return 0;
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_PTRACE);
    if (!s) return 0;
    s->h.u.ptrace.request = req;
    s->h.u.ptrace.target = ctx->args[1];
    s->h.u.ptrace.addr = ctx->args[2];
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_process_vm_writev")
int tp_vm_writev(struct trace_event_raw_sys_enter *ctx)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_VM_WRITEV);
    if (!s) return 0;
    s->h.u.ptrace.target = ctx->args[0];
    s->h.u.ptrace.request = ctx->args[2];
    capture(s);
    submit(ctx, s);
    return 0;
}

/* /proc/PID/mem: an open of a procfs file named "mem" is remembered by its
 * struct file (the open file description) with the task it names (the proc
 * inode's struct pid, so /proc/self/mem, /proc/PID/task/TID/mem and opens
 * relative to a /proc directory fd all resolve). Keyed by the file, not the
 * fd, so dup2 (dd moves its input to fd 0), fork and SCM_RIGHTS keep it.
 * A later write, pwrite64, writev, pwritev(2) through it is a record, and so
 * is the first read of another process's memory per open file (a dump is
 * thousands of reads; one says what happened). Reads of a process's own
 * memory are not reported. A hit is checked to still be a procfs mem file
 * (a freed struct file may be reused), so close() needs no hook; the LRU
 * drops the stale ones. Until the first such open, the read/write hooks
 * cost one load; after it, the fd's file and a hash lookup. */
#define PROC_SUPER_MAGIC 0x9fa0

struct pmem_val {
    __u64 target_start_ns;
    __u32 target, target_tid;
    __u32 reads, pad;
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64); /* struct file * */
    __type(value, struct pmem_val);
} pmem_files SEC(".maps");

__u32 pmem_seen = 0; /* set at the first open of a mem file */

static __always_inline bool is_proc_mem(struct file *f)
{
    if (BPF_CORE_READ(f, f_inode, i_sb, s_magic) != PROC_SUPER_MAGIC) return false;
    char n[4] = {};
    bpf_probe_read_kernel_str(n, sizeof n, BPF_CORE_READ(f, f_path.dentry, d_name.name));
    return n[0] == 'm' && n[1] == 'e' && n[2] == 'm' && n[3] == 0;
}

static __always_inline int on_pmem_open(long fd)
{
    if (fd < 0 || is_self()) return 0;
    struct file *f = fd_file(fd);
    if (!f || !is_proc_mem(f)) return 0;
    struct inode *ino = BPF_CORE_READ(f, f_inode);
    struct proc_inode *pi =
        (struct proc_inode *)((char *)ino - bpf_core_field_offset(struct proc_inode, vfs_inode));
    struct pid *pid = BPF_CORE_READ(pi, pid);
    struct hlist_node *first = BPF_CORE_READ(pid, tasks[0].first);
    if (!first) return 0; /* the task is gone */
    struct task_struct *t =
        (struct task_struct *)((char *)first -
                               bpf_core_field_offset(struct task_struct, pid_links));
    __u64 k = (__u64)f;
    struct pmem_val v = {
        .target = BPF_CORE_READ(t, tgid),
        .target_tid = BPF_CORE_READ(t, pid),
        .target_start_ns = BPF_CORE_READ(t, group_leader, start_boottime),
    };
    bpf_map_update_elem(&pmem_files, &k, &v, BPF_ANY);
    pmem_seen = 1;
    return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int tp_pmem_openat(struct trace_event_raw_sys_exit *ctx)
{
    return on_pmem_open(ctx->ret);
}

SEC("tp/syscalls/sys_exit_open")
int tp_pmem_open(struct trace_event_raw_sys_exit *ctx)
{
    return on_pmem_open(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int tp_pmem_openat2(struct trace_event_raw_sys_exit *ctx)
{
    return on_pmem_open(ctx->ret);
}

/* pos < 0: the file position; iov: sum the first iovecs' lengths */
static __always_inline int on_pmem_rw(void *ctx, long fd, __u32 nr, bool write, __s64 pos,
                                      __u64 len, const struct iovec *iov, __u64 vlen)
{
    if (!pmem_seen || is_self()) return 0;
    struct file *f = fd_file(fd);
    if (!f) return 0;
    __u64 k = (__u64)f;
    struct pmem_val *v = bpf_map_lookup_elem(&pmem_files, &k);
    if (!v) return 0;
    if (!is_proc_mem(f)) { /* freed and reused for another file */
        bpf_map_delete_elem(&pmem_files, &k);
        return 0;
    }
    if (!write) {
        if (v->target == bpf_get_current_pid_tgid() >> 32) return 0;
        if (v->reads++) return 0;
    }
    struct scratch *s = begin(MSR_PROC_MEM);
    if (!s) return 0;
    if (write) s->h.flags |= MSR_F_PMEM_WRITE;
    s->h.u.pmem.target = v->target;
    s->h.u.pmem.target_tid = v->target_tid;
    s->h.u.pmem.target_start_ns = v->target_start_ns;
    s->h.u.pmem.fd = fd;
    s->h.u.pmem.nr = nr;
    s->h.u.pmem.addr = pos >= 0 ? (__u64)pos : (__u64)BPF_CORE_READ(f, f_pos);
    if (iov) {
        s->h.flags |= MSR_F_PMEM_VEC;
        __u64 sum = 0;
        for (int i = 0; i < 8; i++) {
            if (i >= vlen) break;
            __u64 l = 0;
            if (bpf_probe_read_user(&l, sizeof l, &iov[i].iov_len)) break;
            sum += l;
        }
        len = sum;
    }
    s->h.u.pmem.len = len;
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_write")
int tp_pmem_write(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 1, true, -1, ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_pwrite64")
int tp_pmem_pwrite64(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 18, true, ctx->args[3], ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_writev")
int tp_pmem_writev(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 20, true, -1, 0, (const struct iovec *)ctx->args[1],
                      ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_pwritev")
int tp_pmem_pwritev(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 296, true, ctx->args[3], 0,
                      (const struct iovec *)ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_pwritev2")
int tp_pmem_pwritev2(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 328, true, ctx->args[3], 0,
                      (const struct iovec *)ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_read")
int tp_pmem_read(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 0, false, -1, ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_pread64")
int tp_pmem_pread64(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 17, false, ctx->args[3], ctx->args[2], 0, 0);
}

SEC("tp/syscalls/sys_enter_readv")
int tp_pmem_readv(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 19, false, -1, 0, (const struct iovec *)ctx->args[1],
                      ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_preadv")
int tp_pmem_preadv(struct trace_event_raw_sys_enter *ctx)
{
    return on_pmem_rw(ctx, ctx->args[0], 295, false, ctx->args[3], 0,
                      (const struct iovec *)ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_memfd_create")
int tp_memfd(struct trace_event_raw_sys_enter *ctx)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_MEMFD);
    if (!s) return 0;
    bpf_probe_read_user_str(s->h.u.memfd.name, sizeof(s->h.u.memfd.name), (void *)ctx->args[0]);
    s->h.u.memfd.flags = ctx->args[1];
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_bpf")
int tp_bpf(struct trace_event_raw_sys_enter *ctx)
{
    if (ctx->args[0] != 5 /* BPF_PROG_LOAD */ || is_self()) return 0;
    struct scratch *s = begin(MSR_BPF);
    if (!s) return 0;
    s->h.u.bpf.cmd = 5;
    union bpf_attr *attr = (union bpf_attr *)ctx->args[1];
    bpf_probe_read_user(&s->h.u.bpf.prog_type, sizeof(__u32), &attr->prog_type);
    bpf_probe_read_user(s->h.u.bpf.prog_name, sizeof(s->h.u.bpf.prog_name), &attr->prog_name);
    capture(s);
    submit(ctx, s);
    return 0;
}

static __always_inline int on_module(void *ctx, bool finit, long fd, __u64 len, const char *params)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_MODULE);
    if (!s) return 0;
    s->h.u.module.finit = finit;
    s->h.u.module.fd = fd;
    s->h.u.module.len = len;
    bpf_probe_read_user_str(s->h.u.module.params, sizeof(s->h.u.module.params), params);
    capture(s);
    submit(ctx, s);
    return 0;
}

/* Kernels built with modules have these tracepoints; the loader attaches
 * them when they exist and tp_sys_enter_module otherwise. */
SEC("tp/syscalls/sys_enter_init_module")
int tp_init_module(struct trace_event_raw_sys_enter *ctx)
{
    return on_module(ctx, false, -1, ctx->args[1], (const char *)ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_finit_module")
int tp_finit_module(struct trace_event_raw_sys_enter *ctx)
{
    return on_module(ctx, true, ctx->args[0], 0, (const char *)ctx->args[1]);
}

/* Without CONFIG_MODULES there are no module tracepoints, but an attempt
 * is still worth seeing: the raw sys_enter hook, filtered on the two ids.
 * It runs on every syscall (+~100 ns here), so only --module-attempts
 * attaches it. */
SEC("raw_tp/sys_enter")
int tp_sys_enter_module(struct bpf_raw_tracepoint_args *ctx)
{
    long id = ctx->args[1];
    if (id != 175 && id != 313) return 0;
    struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
    __u64 a0 = BPF_CORE_READ(regs, di), a1 = BPF_CORE_READ(regs, si), a2 = BPF_CORE_READ(regs, dx);
    if (id == 313) return on_module(ctx, true, a0, 0, (const char *)a1);
    return on_module(ctx, false, -1, a1, (const char *)a2);
}

/* ---- network and DNS ------------------------------------------------------------ */

/* Inet connections on tracepoints (no kprobes here): the sockaddr a process
 * passes to connect()/bind() is kept per thread at the syscall's entry and
 * reported at its exit with the result; accept()/accept4() report the new
 * fd's socket; listen() the bound address. The kernel side of the socket
 * (local address, protocol) comes from struct sock through CO-RE reads.
 * Connections the process made or accepted are remembered per (tgid, fd)
 * so that close() of the last reference reports the disconnect without a
 * hook on every socket state change.
 *
 * DNS: a socket connected to port 53 (glibc's resolver connects its UDP
 * socket, then uses send/sendmmsg/recvfrom), or one that sent to port 53, is
 * remembered; its messages (sendto/sendmsg/sendmmsg, recvfrom/recvmsg) are
 * copied, at most MSR_DNS_MAX bytes, and parsed in user space
 * (src/decode/dns_wire.c). Plain write()/read() on a TCP DNS socket are not
 * hooked: they are the hottest syscalls there are. */

#define AF_INET     2
#define AF_INET6    10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define EINPROGRESS 115
#define DNS_PORT    53

enum { NP_CONNECT = 1, NP_BIND, NP_LISTEN, NP_RECVFROM, NP_RECVMSG };

struct net_args {
    __u32 kind;
    __s32 fd;
    __u64 ubuf, uaddr; /* recv: the caller's buffer / msghdr and address */
    __u8 sa[28];       /* connect/bind: the caller's sockaddr */
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);
    __type(value, struct net_args);
} net_pending SEC(".maps");

/* (tgid << 32 | fd) -> 1 connected by this process, 2 accepted */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u8);
} net_conns SEC(".maps");

/* (tgid << 32 | fd) of DNS client sockets */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, __u8);
} dns_socks SEC(".maps");

static __always_inline __u64 fd_key(long fd)
{
    return (bpf_get_current_pid_tgid() & 0xffffffff00000000ULL) | (__u32)fd;
}

static __always_inline struct sock *fd_sock(long fd)
{
    struct file *f = fd_file(fd);
    if (!f) return 0;
    __u32 mode = BPF_CORE_READ(f, f_inode, i_mode);
    if ((mode & S_IFMT) != S_IFSOCK) return 0;
    struct socket *so = BPF_CORE_READ(f, private_data);
    return BPF_CORE_READ(so, sk);
}

/* The socket's two ends into n; local_src: the local end is the source. */
static __always_inline bool sk_fill(struct sock *sk, struct msr_net *n, bool local_src)
{
    if (!sk) return false;
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (fam != AF_INET && fam != AF_INET6) return false;
    n->family = fam;
    n->proto = BPF_CORE_READ(sk, sk_protocol);
    __u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
    __u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    __u8 *l = local_src ? n->saddr : n->daddr;
    __u8 *r = local_src ? n->daddr : n->saddr;
    if (fam == AF_INET) {
        bpf_core_read(l, 4, &sk->__sk_common.skc_rcv_saddr);
        bpf_core_read(r, 4, &sk->__sk_common.skc_daddr);
    } else {
        bpf_core_read(l, 16, &sk->__sk_common.skc_v6_rcv_saddr);
        bpf_core_read(r, 16, &sk->__sk_common.skc_v6_daddr);
    }
    n->sport = local_src ? lport : rport;
    n->dport = local_src ? rport : lport;
    return true;
}

/* A caller's sockaddr (sockaddr_in / sockaddr_in6) as one end of n. */
static __always_inline void sa_fill(const __u8 *sa, struct msr_net *n, bool dst)
{
    __u16 fam = sa[0] | sa[1] << 8;
    __u16 port = sa[2] << 8 | sa[3];
    __u8 *a = dst ? n->daddr : n->saddr;
    if (fam == AF_INET)
        __builtin_memcpy(a, sa + 4, 4);
    else if (fam == AF_INET6)
        __builtin_memcpy(a, sa + 8, 16);
    else
        return;
    if (!n->family) n->family = fam;
    if (dst)
        n->dport = port;
    else
        n->sport = port;
}

static __always_inline __u16 sa_family(const __u8 *sa)
{
    return sa[0] | sa[1] << 8;
}

static __always_inline __u16 sa_port(const __u8 *sa)
{
    return sa[2] << 8 | sa[3];
}

static __always_inline int save_sa(long fd, const void *usa, __u32 kind)
{
    if (is_self() || !usa) return 0;
    struct net_args a = {.kind = kind, .fd = fd};
    if (bpf_probe_read_user(a.sa, sizeof(a.sa), usa)) {
        /* a short sockaddr_in near the end of a page */
        if (bpf_probe_read_user(a.sa, 16, usa)) return 0;
    }
    __u16 fam = sa_family(a.sa);
    if (fam != AF_INET && fam != AF_INET6) return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&net_pending, &tid, &a, BPF_ANY);
    return 0;
}

static __always_inline struct net_args *take_pending(__u32 kind, struct net_args *out)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct net_args *a = bpf_map_lookup_elem(&net_pending, &tid);
    if (!a) return 0;
    if (a->kind != kind) return 0;
    *out = *a;
    bpf_map_delete_elem(&net_pending, &tid);
    return out;
}

SEC("tp/syscalls/sys_enter_connect")
int tp_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
    return save_sa(ctx->args[0], (const void *)ctx->args[1], NP_CONNECT);
}

SEC("tp/syscalls/sys_exit_connect")
int tp_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
    long ret = ctx->ret;
    struct net_args a;
    if (!take_pending(NP_CONNECT, &a)) return 0;
    struct sock *sk = fd_sock(a.fd);
    if (!sk) return 0;
    __u16 proto = BPF_CORE_READ(sk, sk_protocol);
    __u16 dport = sa_port(a.sa);
    /* a UDP connect() to port 0 only picks a route (glibc's getaddrinfo
     * sorts its answers that way): no traffic, no event */
    if (proto == IPPROTO_UDP && dport == 0) return 0;
    __u64 k = fd_key(a.fd);
    __u8 v = 1;
    if (ret == 0 || ret == -EINPROGRESS) {
        if (proto == IPPROTO_TCP) bpf_map_update_elem(&net_conns, &k, &v, BPF_ANY);
        if (dport == DNS_PORT) bpf_map_update_elem(&dns_socks, &k, &v, BPF_ANY);
    }
    struct scratch *s = begin(MSR_NET_CONNECT);
    if (!s) return 0;
    struct msr_net *n = &s->h.u.net;
    sk_fill(sk, n, true);
    n->family = sa_family(a.sa);
    sa_fill(a.sa, n, true); /* what the caller asked for, whatever happened */
    n->result = ret;
    n->fd = a.fd;
    capture(s);
    submit(ctx, s);
    return 0;
}

static __always_inline int on_accept_exit(void *ctx, long fd)
{
    if (fd < 0 || is_self()) return 0;
    struct sock *sk = fd_sock(fd);
    if (!sk) return 0;
    struct scratch *s = begin(MSR_NET_ACCEPT);
    if (!s) return 0;
    if (!sk_fill(sk, &s->h.u.net, false)) return 0;
    s->h.u.net.result = fd;
    s->h.u.net.fd = fd;
    __u64 k = fd_key(fd);
    __u8 v = 2;
    bpf_map_update_elem(&net_conns, &k, &v, BPF_ANY);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int tp_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_accept_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int tp_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
    return on_accept_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_enter_bind")
int tp_bind_enter(struct trace_event_raw_sys_enter *ctx)
{
    return save_sa(ctx->args[0], (const void *)ctx->args[1], NP_BIND);
}

SEC("tp/syscalls/sys_exit_bind")
int tp_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
    long ret = ctx->ret;
    struct net_args a;
    if (!take_pending(NP_BIND, &a) || ret != 0) return 0;
    struct sock *sk = fd_sock(a.fd);
    /* TCP servers are reported by listen(); a UDP server never listens */
    if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP) return 0;
    struct scratch *s = begin(MSR_NET_LISTEN);
    if (!s) return 0;
    s->h.flags |= MSR_F_NET_BIND;
    sk_fill(sk, &s->h.u.net, true);
    s->h.u.net.fd = a.fd;
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("tp/syscalls/sys_enter_listen")
int tp_listen_enter(struct trace_event_raw_sys_enter *ctx)
{
    if (is_self()) return 0;
    struct net_args a = {.kind = NP_LISTEN, .fd = ctx->args[0]};
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&net_pending, &tid, &a, BPF_ANY);
    return 0;
}

SEC("tp/syscalls/sys_exit_listen")
int tp_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
    long ret = ctx->ret;
    struct net_args a;
    if (!take_pending(NP_LISTEN, &a) || ret != 0) return 0;
    struct sock *sk = fd_sock(a.fd);
    if (!sk) return 0;
    struct scratch *s = begin(MSR_NET_LISTEN);
    if (!s) return 0;
    if (!sk_fill(sk, &s->h.u.net, true)) return 0;
    s->h.u.net.fd = a.fd;
    capture(s);
    submit(ctx, s);
    return 0;
}

/* struct file's reference count: f_ref (6.13+, stored as count - 1) or f_count */
struct file___old {
    atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline long file_refs(struct file *f)
{
    if (bpf_core_field_exists(struct file___old, f_count))
        return BPF_CORE_READ((struct file___old *)f, f_count.counter);
    return BPF_CORE_READ(f, f_ref.refcnt.counter) + 1;
}

SEC("tp/syscalls/sys_enter_close")
int tp_close_enter(struct trace_event_raw_sys_enter *ctx)
{
    long fd = ctx->args[0];
    __u64 k = fd_key(fd);
    /* lookups first: a delete takes the bucket lock, and close() is frequent */
    if (bpf_map_lookup_elem(&dns_socks, &k)) bpf_map_delete_elem(&dns_socks, &k);
    __u8 *dir = bpf_map_lookup_elem(&net_conns, &k);
    if (!dir) return 0;
    __u8 d = *dir;
    bpf_map_delete_elem(&net_conns, &k);
    if (is_self()) return 0;
    struct file *f = fd_file(fd);
    if (!f || file_refs(f) > 1) return 0; /* another fd (dup2, a child) still holds it */
    struct sock *sk = fd_sock(fd);
    if (!sk) return 0;
    struct scratch *s = begin(MSR_NET_CLOSE);
    if (!s) return 0;
    if (!sk_fill(sk, &s->h.u.net, d == 1)) return 0;
    s->h.u.net.result = d;
    s->h.u.net.fd = fd;
    capture(s);
    submit(ctx, s);
    return 0;
}

/* one DNS message from the caller's buffer */
static __always_inline int dns_emit(void *ctx, long fd, const void *ubuf, __u64 len, bool sent,
                                    const __u8 *sa)
{
    struct sock *sk = fd_sock(fd);
    if (!sk) return 0;
    struct scratch *s = begin(MSR_DNS);
    if (!s) return 0;
    if (!sk_fill(sk, &s->h.u.dns.net, sent)) return 0;
    if (sa && (sa_family(sa) == AF_INET || sa_family(sa) == AF_INET6))
        sa_fill(sa, &s->h.u.dns.net, sent); /* sendto's destination, recvfrom's source */
    s->h.u.dns.net.fd = fd;
    if (sent) s->h.flags |= MSR_F_DNS_SENT;
    s->h.u.dns.len = len;
    __u32 n = len > MSR_DNS_MAX ? MSR_DNS_MAX : len;
    n &= (MSR_DNS_MAX * 2 - 1);
    if (n && bpf_probe_read_user(s->h.u.dns.payload, n, ubuf)) s->h.u.dns.len = 0;
    /* glibc's resolver sits ~9 KB deep below its caller (getaddrinfo's
     * buffers): the whole copy whatever --stack-bytes says; lookups are rare */
    capture_max(MSR_STACK_MAX);
    submit(ctx, s);
    return 0;
}

/* Is this send a DNS message? (a tracked socket, or addressed to port 53,
 * which then makes the socket tracked for the reply) */
static __always_inline bool dns_send(long fd, const void *uaddr, __u8 *sa)
{
    __u64 k = fd_key(fd);
    bool tracked = bpf_map_lookup_elem(&dns_socks, &k) != 0;
    if (uaddr && bpf_probe_read_user(sa, 16, uaddr) == 0) {
        __u16 fam = sa_family(sa);
        if ((fam == AF_INET || fam == AF_INET6) && sa_port(sa) == DNS_PORT) {
            if (fam == AF_INET6) bpf_probe_read_user(sa, 28, uaddr);
            if (!tracked) {
                __u8 v = 1;
                bpf_map_update_elem(&dns_socks, &k, &v, BPF_ANY);
            }
            return true;
        }
        sa[0] = sa[1] = 0;
    }
    return tracked;
}

SEC("tp/syscalls/sys_enter_sendto")
int tp_sendto(struct trace_event_raw_sys_enter *ctx)
{
    if (is_self()) return 0;
    __u8 sa[28] = {};
    if (!dns_send(ctx->args[0], (const void *)ctx->args[4], sa)) return 0;
    return dns_emit(ctx, ctx->args[0], (const void *)ctx->args[1], ctx->args[2], true, sa);
}

/* struct user_msghdr / mmsghdr as user space lays them out */
struct u_msghdr {
    __u64 name;
    __s32 namelen, pad;
    __u64 iov, iovlen, control, controllen;
    __u32 flags, pad2;
};
struct u_iovec {
    __u64 base, len;
};

static __always_inline int dns_sendmsg(void *ctx, long fd, const void *umsg)
{
    struct u_msghdr m;
    if (bpf_probe_read_user(&m, sizeof(m), umsg)) return 0;
    __u8 sa[28] = {};
    if (!dns_send(fd, (const void *)m.name, sa)) return 0;
    struct u_iovec v;
    if (!m.iovlen || bpf_probe_read_user(&v, sizeof(v), (const void *)m.iov)) return 0;
    return dns_emit(ctx, fd, (const void *)v.base, v.len, true, sa);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int tp_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
    if (is_self()) return 0;
    return dns_sendmsg(ctx, ctx->args[0], (const void *)ctx->args[1]);
}

/* glibc sends the A and AAAA queries in one sendmmsg */
SEC("tp/syscalls/sys_enter_sendmmsg")
int tp_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
    if (is_self()) return 0;
    __u64 n = ctx->args[2];
    const __u8 *vec = (const __u8 *)ctx->args[1];
    if (n > 0) dns_sendmsg(ctx, ctx->args[0], vec);
    if (n > 1) dns_sendmsg(ctx, ctx->args[0], vec + sizeof(struct u_msghdr) + 8);
    return 0;
}

static __always_inline int dns_recv_enter(long fd, __u64 ubuf, __u64 uaddr, __u32 kind)
{
    if (is_self()) return 0;
    __u64 k = fd_key(fd);
    if (!bpf_map_lookup_elem(&dns_socks, &k)) return 0;
    struct net_args a = {.kind = kind, .fd = fd, .ubuf = ubuf, .uaddr = uaddr};
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&net_pending, &tid, &a, BPF_ANY);
    return 0;
}

SEC("tp/syscalls/sys_enter_recvfrom")
int tp_recvfrom_enter(struct trace_event_raw_sys_enter *ctx)
{
    return dns_recv_enter(ctx->args[0], ctx->args[1], ctx->args[4], NP_RECVFROM);
}

SEC("tp/syscalls/sys_exit_recvfrom")
int tp_recvfrom_exit(struct trace_event_raw_sys_exit *ctx)
{
    long ret = ctx->ret; /* read once: the verifier refuses a re-derived ctx pointer */
    struct net_args a;
    if (!take_pending(NP_RECVFROM, &a) || ret <= 0) return 0;
    __u8 sa[28] = {};
    if (a.uaddr) bpf_probe_read_user(sa, sizeof(sa), (const void *)a.uaddr);
    return dns_emit(ctx, a.fd, (const void *)a.ubuf, ret, false, a.uaddr ? sa : 0);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int tp_recvmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
    return dns_recv_enter(ctx->args[0], ctx->args[1], 0, NP_RECVMSG);
}

SEC("tp/syscalls/sys_exit_recvmsg")
int tp_recvmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
    long ret = ctx->ret;
    struct net_args a;
    if (!take_pending(NP_RECVMSG, &a) || ret <= 0) return 0;
    struct u_msghdr m;
    if (bpf_probe_read_user(&m, sizeof(m), (const void *)a.ubuf)) return 0;
    struct u_iovec v;
    if (!m.iovlen || bpf_probe_read_user(&v, sizeof(v), (const void *)m.iov)) return 0;
    __u8 sa[28] = {};
    if (m.name) bpf_probe_read_user(sa, sizeof(sa), (const void *)m.name);
    __u64 n = (__u64)ret < v.len ? (__u64)ret : v.len;
    return dns_emit(ctx, a.fd, (const void *)v.base, n, false, m.name ? sa : 0);
}

/* ---- the LSM backend (autoload off: the loader turns it on) -------------------------- */

SEC("?lsm/file_mprotect")
int BPF_PROG(lsm_mprotect, struct vm_area_struct *vma, unsigned long reqprot, unsigned long prot)
{
    if (!(prot & PROT_EXEC) || is_self()) return 0;
    __u64 fl = vma->vm_flags;
    struct file *f = vma->vm_file;
    __u32 anon = !f ? 1 : (BPF_CORE_READ(f, f_inode, __i_nlink) == 0 ? 2 : 0);
    bool was_w = (fl & VM_WRITE) && !(fl & VM_EXEC);
    if (!(prot & PROT_WRITE) && !was_w && !anon) return 0;
    struct scratch *s = begin(MSR_MPROTECT);
    if (!s) return 0;
    s->h.u.mem.addr = vma->vm_start;
    s->h.u.mem.len = vma->vm_end - vma->vm_start;
    s->h.u.mem.prot = prot;
    s->h.u.mem.old_vm_flags = fl & (VM_READ | VM_WRITE | VM_EXEC);
    s->h.u.mem.vma_anon = anon;
    s->h.u.mem.vma_start = vma->vm_start;
    s->h.u.mem.vma_end = vma->vm_end;
    if (f) walk_file(f, s, h.u.mem.path);
    /* mmap_lock is held for writing here: capture's bpf_find_vma fails and
     * frame 0's memory is judged from the module maps in user space */
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("?lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
    if (is_self()) return 0;
    __u32 mode = file->f_mode;
    if (!(mode & (FMODE_WRITE | FMODE_CREATED))) return 0;
    struct dentry *d = file->f_path.dentry;
    const unsigned char *name = BPF_CORE_READ(d, d_name.name);
    const unsigned char *pname = BPF_CORE_READ(d, d_parent, d_name.name);
    bool watch = name_in(&watch_dirs, pname) || name_in(&watch_names, name);
    struct fpol_cfg *cfg = fpol();
    bool pol = cfg && fp_file(cfg, file, FOP_WRITE);
    if (!watch && !pol) return 0;
    struct scratch *s = begin(pol ? MSR_FILE_OP : MSR_FILE_OPEN);
    if (!s) return 0;
    if (pol) {
        /* the first write is not followed here (no fd yet) */
        s->h.u.fop.op = (mode & FMODE_CREATED) ? MSR_FOP_CREATE : MSR_FOP_MODIFY;
        s->h.u.fop.mode = BPF_CORE_READ(file, f_inode, i_mode);
        s->h.u.fop.oflags = file->f_flags;
        s->h.u.fop.ino = BPF_CORE_READ(file, f_inode, i_ino);
        if (watch) s->h.flags |= MSR_F_FOP_PERSIST;
        walk_file(file, s, h.u.fop.path);
        capture(s);
        submit(ctx, s);
        return 0;
    }
    s->h.u.file.mode = mode;
    s->h.u.file.oflags = file->f_flags;
    s->h.u.file.ino = BPF_CORE_READ(file, f_inode, i_ino);
    if (mode & FMODE_CREATED) s->h.flags |= MSR_F_CREATED;
    if (bpf_d_path((struct path *)&file->f_path, s->h.u.file.path, sizeof(s->h.u.file.path)) > 0)
        s->h.flags |= MSR_F_PATH_FULL;
    else
        walk_file(file, s, h.u.file.path);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("?lsm/path_rename")
int BPF_PROG(lsm_rename, const struct path *old_dir, struct dentry *old_dentry,
             const struct path *new_dir, struct dentry *new_dentry)
{
    if (is_self()) return 0;
    const unsigned char *name = BPF_CORE_READ(new_dentry, d_name.name);
    const unsigned char *pname = BPF_CORE_READ(new_dir, dentry, d_name.name);
    if (!name_in(&watch_dirs, pname) && !name_in(&watch_names, name)) return 0;
    struct scratch *s = begin(MSR_RENAME);
    if (!s) return 0;
    /* the new path as components (dentry walk): user space reads the
     * rename record's newpath as components when MSR_F_PATH_FULL is clear
     * and olddfd is -1 */
    s->h.u.rename.olddfd = -1;
    s->h.u.rename.newdfd = -1;
    struct vfsmount *m = BPF_CORE_READ(new_dir, mnt);
    walk_path(new_dentry, m, s, h.u.rename.newpath);
    bpf_probe_read_kernel_str(s->h.u.rename.oldpath, sizeof(s->h.u.rename.oldpath),
                              BPF_CORE_READ(old_dentry, d_name.name));
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("?lsm/bprm_creds_for_exec")
int BPF_PROG(lsm_exec_caller, struct linux_binprm *bprm)
{
    if (is_self()) return 0;
    struct scratch *s = begin(MSR_EXEC_CALLER);
    if (!s) return 0;
    bpf_probe_read_kernel_str(s->h.u.exec.filename, sizeof(s->h.u.exec.filename),
                              BPF_CORE_READ(bprm, filename));
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("?lsm/bpf")
int BPF_PROG(lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
    if (cmd != 5 /* BPF_PROG_LOAD */ || is_self()) return 0;
    struct scratch *s = begin(MSR_BPF);
    if (!s) return 0;
    s->h.u.bpf.cmd = 5;
    s->h.u.bpf.prog_type = BPF_CORE_READ(attr, prog_type);
    bpf_probe_read_kernel(s->h.u.bpf.prog_name, sizeof(s->h.u.bpf.prog_name), attr->prog_name);
    capture(s);
    submit(ctx, s);
    return 0;
}

SEC("?lsm/kernel_read_file")
int BPF_PROG(lsm_module_file, struct file *file, int id)
{
    if (id != 2 /* READING_MODULE */) return 0;
    return on_module(ctx, true, -1, 0, "");
}

SEC("?lsm/kernel_load_data")
int BPF_PROG(lsm_module_data, int id)
{
    if (id != 2 /* LOADING_MODULE */) return 0;
    return on_module(ctx, false, -1, 0, "");
}
