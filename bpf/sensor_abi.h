/* sensor_abi.h - the one record layout shared by bpf/sensor.bpf.c and the
 * user-space consumer (src/source/source_ebpf.c). Fixed-width fields only.
 *
 * Schema version 1. Existing record types only gain fields at the end of
 * their union member; new behaviour gets a new type. A record is the header
 * followed by `data_len` bytes: the copy of the user stack (from regs.sp) for
 * records with MSR_F_STACK, the NUL-separated argv then the environment
 * (u.exec.env_len bytes) for MSR_EXEC.
 */
#ifndef MODUS_SENSOR_ABI_H
#define MODUS_SENSOR_ABI_H

#define MSR_SCHEMA 1

#define MSR_STACK_MAX 16384 /* largest stack copy; --stack-bytes picks less */
#define MSR_PATH      512   /* path buffers; components of a walked path */
#define MSR_ARGS      1024
#define MSR_NAME      32   /* watch-list keys: one path component */
#define MSR_DNS_MAX   512  /* bytes of a DNS message copied (the classic UDP limit) */
#define MSR_ENV       8192 /* environment bytes copied at exec (after argv) */

enum msr_type {
    MSR_EXEC = 1,        /* sched_process_exec: the new image */
    MSR_EXEC_CALLER = 2, /* execve entry: the stack of the caller */
    MSR_FORK = 3,        /* a new process (not a thread) */
    MSR_EXIT = 4,        /* the thread-group leader exits */
    MSR_VFORK = 5,       /* clone(CLONE_VFORK): the parent's stack for the child's exec */
    MSR_MPROTECT = 6,    /* PROT_EXEC on writable, anonymous or deleted-file memory */
    MSR_MMAP = 7,        /* an executable mapping (always; flags say if it matters) */
    MSR_FILE_OPEN = 8,   /* write/create open of a watched path */
    MSR_RENAME = 9,      /* rename*(): user-supplied new path */
    MSR_PTRACE = 10,     /* ptrace writes and attaches */
    MSR_VM_WRITEV = 11,  /* process_vm_writev */
    MSR_MEMFD = 12,      /* memfd_create */
    MSR_MODULE = 13,     /* init_module / finit_module attempt */
    MSR_BPF = 14,        /* bpf(BPF_PROG_LOAD) */
    /* 15..22 are reserved for the network, DNS, file and process-context
     * records (issues 12 and 15); each lands with its decoder. */
    MSR_NET_CONNECT = 15, /* connect() on an inet socket, with the result */
    MSR_NET_ACCEPT = 16,  /* accept()ed inet connection */
    MSR_NET_LISTEN = 17,  /* bind()/listen() on an inet socket */
    MSR_NET_CLOSE = 18,   /* an inet connection ends */
    MSR_DNS = 19,         /* a DNS message sent or received (port 53) */
    MSR_FILE_OP = 20,     /* create/modify/delete/chmod beyond the watch list */
    MSR_PROC_MEM = 21,    /* write/read of another process's /proc/PID/mem */
    MSR_SETSID = 22,      /* the process context changed: setsid(), set*uid(), set*gid() (u.ctx) */
    MSR_TYPE_MAX = 23,
};

/* flags */
#define MSR_F_STACK      0x1     /* regs + stack copy present */
#define MSR_F_IP_ANON    0x2     /* regs.ip in anonymous memory (no vm_file) */
#define MSR_F_IP_WRITE   0x4     /* regs.ip's vma is writable */
#define MSR_F_IP_NOVMA   0x8     /* no vma at regs.ip */
#define MSR_F_CREATED    0x10    /* MSR_FILE_OPEN: the open created the file */
#define MSR_F_PATH_TRUNC 0x20    /* path longer than the walk or buffer */
#define MSR_F_SUSPECT    0x40    /* MSR_MMAP: W+X, anonymous exec or deleted/memfd file */
#define MSR_F_IPBYTES    0x80    /* ip_bytes[] holds the 16 bytes before regs.ip */
#define MSR_F_PATH_FULL  0x100   /* file.path is one absolute path (bpf_d_path), not components */
#define MSR_F_DNS_SENT   0x200   /* MSR_DNS: the process sent it (clear: received) */
#define MSR_F_STDIO_SOCK 0x400   /* MSR_EXEC: stdin or stdout is a socket */
#define MSR_F_NET_BIND   0x800   /* MSR_NET_LISTEN: bind() (clear: listen()) */
#define MSR_F_PMEM_WRITE 0x10000 /* MSR_PROC_MEM: a write (clear: a read) */
#define MSR_F_PMEM_VEC   0x20000 /* MSR_PROC_MEM: writev/readv family: len sums the first iovecs */
#define MSR_F_CWD_TRUNC  0x40000 /* MSR_EXEC: the working directory's walk was cut short */
#define MSR_F_ENV_TRUNC  0x80000 /* MSR_EXEC: the environment was longer than MSR_ENV */

/* MSR_SETSID's u.ctx.kind */
#define MSR_CTX_SETSID 0 /* a new session and group led by the caller, no tty */
#define MSR_CTX_UID    1 /* setuid, setreuid or setresuid succeeded */
#define MSR_CTX_GID    2 /* setgid, setregid or setresgid succeeded */

/* MSR_FILE_OP (issue 12) */
#define MSR_F_FOP_USER    0x1000 /* u.fop.path is the caller's string (relative to dfd) */
#define MSR_F_FOP_HEADER  0x2000 /* u.fop.header holds hdr_len bytes written at offset 0 */
#define MSR_F_FOP_DIR     0x4000 /* the object is a directory (rmdir, mkdir) */
#define MSR_F_FOP_PERSIST 0x8000 /* the persistence watch list matched as well */

/* MSR_FILE_OP operations */
enum msr_fop {
    MSR_FOP_CREATE = 1, /* an open created the file */
    MSR_FOP_MODIFY = 2, /* an existing file opened for writing */
    MSR_FOP_DELETE = 3, /* unlink, unlinkat, rmdir (after success) */
    MSR_FOP_CHMOD = 4,  /* chmod, fchmod, fchmodat (after success) */
    MSR_FOP_WRITE = 5,  /* the first write at offset 0 of a created file: header bytes */
};
#define MSR_FOP_HDR 16 /* header bytes kept */

/* vm_flags bits reported in old_vm_flags (kernel VM_* low bits) */
#define MSR_VM_READ  0x1
#define MSR_VM_WRITE 0x2
#define MSR_VM_EXEC  0x4

/* One inet endpoint pair. Ports in host order; addresses in network order,
 * IPv4 in the first 4 bytes. For a connection the process made, src is the
 * local end; for one it accepted, src is the remote peer (Elastic's shape). */
struct msr_net {
    __u16 family, proto; /* AF_INET 2 / AF_INET6 10; IPPROTO_TCP 6 / UDP 17 */
    __u16 sport, dport;
    __u8 saddr[16], daddr[16];
    __s32 result; /* connect(): 0 or -errno (-115 EINPROGRESS); accept: the fd */
    __s32 fd;
};

struct msr_regs {
    __u64 ip, sp, bp, bx, r12, r13, r14, r15;
};

struct msr_hdr {
    __u32 type, flags;
    __u32 size;     /* whole record, header included */
    __u32 data_len; /* bytes after the header */
    __u64 ts;       /* bpf_ktime_get_boot_ns */
    __u32 tgid, tid, ppid, uid;
    __u64 start_ns;  /* process start (boot ns): entity ids survive pid reuse */
    __u64 pstart_ns; /* parent's */
    char comm[16];
    struct msr_regs regs;
    __u8 ip_bytes[16];
    union {
        struct {
            __u64 addr, len;
            __u32 prot, old_vm_flags;
            __u32 pkey, vma_anon; /* vma_anon: 1 anonymous, 2 deleted/memfd file */
            __u64 vma_start, vma_end;
            char path[MSR_PATH]; /* the vma's file, walked */
        } mem;                   /* MSR_MPROTECT, MSR_MMAP */
        struct {
            __u32 mode, oflags;
            __u64 ino;
            char path[MSR_PATH]; /* components leaf first, '\0'-separated */
        } file;                  /* MSR_FILE_OPEN */
        struct {
            __u32 op;       /* enum msr_fop */
            __u32 mode;     /* the inode's mode (chmod: the new mode) */
            __u32 oflags;   /* open flags */
            __u32 old_mode; /* chmod: the mode before */
            __u64 ino;
            __s32 dfd; /* MSR_F_FOP_USER: the directory fd (-100: cwd) */
            __u32 hdr_len;
            __u8 header[MSR_FOP_HDR];
            char path[MSR_PATH]; /* components leaf first, '\0'-separated, or the
                                    caller's string (MSR_F_FOP_USER) */
            char base[MSR_PATH]; /* MSR_F_FOP_USER, relative: the directory it is
                                    relative to (cwd or dfd), walked leaf first */
        } fop;                   /* MSR_FILE_OP */
        struct {
            __s32 olddfd, newdfd;
            char oldpath[MSR_PATH / 2];
            char newpath[MSR_PATH]; /* as the caller wrote it */
            char base[MSR_PATH];    /* a relative path's directory at AT_FDCWD: the
                                       cwd, walked leaf first (empty: none) */
        } rename;
        struct {
            __s64 request;
            __u32 target, pad;
            __u64 addr;
        } ptrace; /* MSR_PTRACE, MSR_VM_WRITEV (request = iovec count) */
        struct {
            __u32 flags, pad;
            char name[64];
        } memfd;
        struct {
            __s64 fd; /* finit_module's */
            __u64 len;
            char params[64];
            __u32 finit, pad;
        } module;
        struct {
            __u32 cmd, prog_type;
            char prog_name[16];
        } bpf;
        struct {
            __u32 child, child_tid;
            __u64 child_start_ns;
        } fork;
        struct {
            __s32 code, pad;
        } exit;
        struct {
            __u32 target;     /* the tgid whose memory is accessed */
            __u32 target_tid; /* the task the file names (/proc/PID/task/TID/mem) */
            __u64 target_start_ns;
            __u64 addr; /* the file offset: the address in the target */
            __u64 len;  /* bytes asked for */
            __s32 fd;
            __u32 nr; /* the syscall: write 1, pwrite64 18, writev 20... (x86-64) */
        } pmem;       /* MSR_PROC_MEM */
        struct {
            char path[MSR_PATH]; /* the new executable, walked leaf first */
            char filename[MSR_PATH / 2];
            __u32 old_tid, args_truncated;
            /* the executable mappings the kernel made itself (no mmap call
             * reports them): the program's text and the interpreter's */
            __u64 text_start, text_end, text_pgoff;
            __u64 interp_start, interp_end, interp_pgoff;
            char interp[MSR_PATH]; /* walked leaf first */
            /* process context (issue 15): the working directory, walked
             * leaf first; the controlling tty (0/0: none); session and
             * process-group ids; env_len bytes of the environment follow
             * the argv in the data (data_len - env_len bytes of argv) */
            char cwd[MSR_PATH];
            __u32 tty_major, tty_minor;
            __u32 sid, pgid;
            __u32 env_len;
            __u32 gid, euid, egid; /* credentials: real gid, effective uid and gid */
        } exec;
        struct msr_net net; /* MSR_NET_CONNECT, _ACCEPT, _LISTEN, _CLOSE */
        struct {
            struct msr_net net; /* sent: src local, dst server; received: the reverse */
            __u32 len;          /* the message's length; payload holds min(len, MSR_DNS_MAX) */
            __u32 pad;
            __u8 payload[MSR_DNS_MAX];
        } dns; /* MSR_DNS */
        struct {
            __u32 kind;      /* MSR_CTX_* */
            __u32 uid, euid; /* the credentials after the change */
            __u32 gid, egid;
        } ctx; /* MSR_SETSID */
    } u;
};

#endif
