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

/* Registers and the stack copy. */
static __always_inline void capture(struct scratch *s)
{
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
    if (first > stack_max) first = stack_max;
    first &= 8191;
    if (first == 0 || first > 4096) return;
    if (bpf_probe_read_user(s->data, first, (void *)sp)) return;
    off = first;
    for (int i = 0; i < MSR_STACK_MAX / 4096; i++) {
        if (off + 4096 > stack_max) break;
        __u32 o = off & (MSR_STACK_MAX - 1);
        if (bpf_probe_read_user(&s->data[o], 4096, (void *)(sp + off))) break;
        off += 4096;
    }
    s->h.data_len = off;
}

/* Walk a dentry up to the root of its mount namespace, writing the
 * components leaf first, '\0'-separated, into out[MSR_PATH]. */
static __always_inline void walk_path(struct dentry *d, struct vfsmount *vmnt, char *out,
                                      __u32 *flags)
{
    struct mount *mnt = container_of(vmnt, struct mount, mnt);
    __u32 off = 0;
    for (int i = 0; i < PATH_DEPTH; i++) {
        struct dentry *parent = BPF_CORE_READ(d, d_parent);
        struct dentry *mroot = BPF_CORE_READ(mnt, mnt.mnt_root);
        if (d == mroot || d == parent) {
            struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
            if (mp == mnt || !mp) return; /* the root */
            d = BPF_CORE_READ(mnt, mnt_mountpoint);
            mnt = mp;
            continue;
        }
        const unsigned char *name = BPF_CORE_READ(d, d_name.name);
        /* each component gets up to MSR_PATH/2 bytes from an offset below
         * MSR_PATH/2: the verifier sees both bounds */
        if (off >= MSR_PATH / 2) {
            *flags |= MSR_F_PATH_TRUNC;
            return;
        }
        long n = bpf_probe_read_kernel_str(&out[off & (MSR_PATH / 2 - 1)], MSR_PATH / 2, name);
        if (n <= 0) return;
        off += n;
        d = parent;
    }
    *flags |= MSR_F_PATH_TRUNC;
}

static __always_inline void walk_file(struct file *f, char *out, __u32 *flags)
{
    struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
    struct vfsmount *m = BPF_CORE_READ(f, f_path.mnt);
    walk_path(d, m, out, flags);
}

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
    if (exe) walk_file(exe, s->h.u.exec.path, &s->h.flags);
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
        walk_file(vi.file, s->h.u.exec.interp, &s->h.flags);
    }
    __u64 as = BPF_CORE_READ(t, mm, arg_start), ae = BPF_CORE_READ(t, mm, arg_end);
    __u64 n = ae > as ? ae - as : 0;
    if (n > MSR_ARGS) {
        n = MSR_ARGS;
        s->h.u.exec.args_truncated = 1;
    }
    n &= (MSR_ARGS * 2 - 1);
    if (n && n <= MSR_ARGS && bpf_probe_read_user(s->data, n, (void *)as) == 0) s->h.data_len = n;
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
    if (vi.file) walk_file(vi.file, s->h.u.mem.path, &s->h.flags);
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
            walk_file(f, s->h.u.mem.path, &s->h.flags);
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
    if (!name_in(&watch_dirs, pname) && !name_in(&watch_names, name)) return 0;
    struct scratch *s = begin(MSR_FILE_OPEN);
    if (!s) return 0;
    s->h.u.file.mode = mode;
    s->h.u.file.oflags = BPF_CORE_READ(f, f_flags);
    s->h.u.file.ino = BPF_CORE_READ(f, f_inode, i_ino);
    if (mode & FMODE_CREATED) s->h.flags |= MSR_F_CREATED;
    walk_file(f, s->h.u.file.path, &s->h.flags);
    capture(s);
    submit(ctx, s);
    return 0;
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
    if (f) walk_file(f, s->h.u.mem.path, &s->h.flags);
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
    if (!name_in(&watch_dirs, pname) && !name_in(&watch_names, name)) return 0;
    struct scratch *s = begin(MSR_FILE_OPEN);
    if (!s) return 0;
    s->h.u.file.mode = mode;
    s->h.u.file.oflags = file->f_flags;
    s->h.u.file.ino = BPF_CORE_READ(file, f_inode, i_ino);
    if (mode & FMODE_CREATED) s->h.flags |= MSR_F_CREATED;
    if (bpf_d_path((struct path *)&file->f_path, s->h.u.file.path, sizeof(s->h.u.file.path)) > 0)
        s->h.flags |= MSR_F_PATH_FULL;
    else
        walk_file(file, s->h.u.file.path, &s->h.flags);
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
    walk_path(new_dentry, m, s->h.u.rename.newpath, &s->h.flags);
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
