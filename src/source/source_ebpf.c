/* source_ebpf.c - the live sensor's source: load bpf/sensor.bpf.c, read its
 * ring buffer, hand each record to the sensor decoder (decode_sensor.c).
 *
 * Start-up, in order:
 *   1. tracefs is mounted if it is not (syscall tracepoints need its ids);
 *   2. the backend is chosen: `lsm` needs BPF trampolines, so the probe loads
 *      a two-instruction lsm/ program; where the kernel refuses (these VMs:
 *      EPERM with an empty verifier log) or the caller asked for `tp`, the
 *      tracepoint backend runs. Where it accepts, the LSM programs load in
 *      place of the syscall tracepoints they replace; they have never met a
 *      verifier (no kernel here allows them), so if they fail to load the
 *      tracepoint backend runs and the start-up line says why;
 *   3. programs whose tracepoint does not exist are not loaded (module
 *      syscalls without CONFIG_MODULES: the raw sys_enter hook stands in,
 *      unless disabled);
 *   4. the watch lists (directory and file names of persistence locations)
 *      and the file policy (detect/needs.h: what the rules need of file
 *      events) go into the kernel's hash maps, the ring buffer is opened;
 *   5. the decoder gets the environment allow-list and redaction patterns
 *      and, given an engine, a scanner of its own that names the launch
 *      modality of each exec from the caller's stack (docs/sensor-events.md);
 *   6. the /proc scan seeds the process table and the module maps, so that
 *      processes that started earlier are named and symbolized.
 * Then the caller drops the capabilities it no longer needs.
 *
 * Polling: the kernel side only wakes us past wake_bytes pending, so
 * modus_sensor_poll waits at most timeout_ms and then consumes what is there,
 * for at most 200 ms from the first record: libbpf's consume loops until the ring is empty,
 * and a producer faster than us (a busy host, a sanitizer build) would keep
 * the caller from its periodic work (stats, metrics, the publisher's state)
 * for as long as the burst lasts. Past the budget the record in hand is
 * handled and the rest is left in the ring for the next call
 * (MODUS_POLL_BUDGET_MS sets the budget: tests make it tiny). Lost records
 * are counted in the kernel per type and summed here.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "decode/event.h"
#include "decode/sensor.h"
#include "detect/needs.h"
#include "modus/modus.h"
#include "sensor.skel.h"

struct modus_sensor {
    struct sensor_bpf *skel;
    struct ring_buffer *rb;
    msdec *dec;
    char backend[256];
    modus_sensor_fn fn;
    void *ctx;
    uint64_t records, events, bad;
    int ncpu;
    modus_scanner *launch; /* names exec callers' modality (opts.engine) */
    char launch_name[32];
    uint64_t deadline_ns; /* this poll's budget ends (CLOCK_MONOTONIC; 0: no record yet) */
    bool over;            /* the budget ran out: the rest waits in the ring */
};

static uint64_t poll_budget_ns(void)
{
    static uint64_t ns;
    if (!ns) {
        const char *e = getenv("MODUS_POLL_BUDGET_MS");
        long ms = e ? strtol(e, NULL, 10) : 0;
        ns = (uint64_t)(ms > 0 ? ms : 200) * 1000000u;
    }
    return ns;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *launch_fn(void *ctx, const char *doc, size_t len)
{
    modus_sensor *s = ctx;
    const modus_event *ev;
    modus_diag d;
    if (modus_scanner_decode(s->launch, doc, len, &ev, &d) != MODUS_OK) return NULL;
    snprintf(s->launch_name, sizeof s->launch_name, "%s", modus_event_modality(ev));
    return s->launch_name;
}

/* The kernel's pre-filter of write-opens: the names decode_sensor.c keeps
 * next to the persistence paths they stand for. */
static void fill_watch(struct bpf_map *m, bool dirs)
{
    size_t n;
    const char *const *names = sensor_watch_names(dirs, &n);
    uint8_t one = 1;
    for (size_t i = 0; i < n; i++) {
        char k[MSR_NAME] = {0};
        strncpy(k, names[i], sizeof k - 1);
        bpf_map__update_elem(m, k, sizeof k, &one, 1, BPF_ANY);
    }
}

/* The file policy (detect/needs.h) into the kernel's maps: names,
 * extensions and parent-directory names as keys, directories as the hash the
 * kernel computes while walking a path; values are the operations (FOP_*). */
static void fill_policy(struct sensor_bpf *k, const modus_file_policy *p)
{
    struct {
        uint32_t on, all, header, ndirs;
    } cfg = {0};
    if (p && !modus_file_policy_empty(p)) {
        cfg.on = 1;
        cfg.all = p->all;
        cfg.header = p->header;
        cfg.ndirs = (uint32_t)(p->dirs.n + p->dnames.n);
        for (size_t i = 0; i < p->dirs.n; i++) {
            uint64_t h = fpol_dir_hash(p->dirs.v[i]);
            bpf_map__update_elem(k->maps.fpol_dirs, &h, sizeof h, &p->dirs.m[i], 1, BPF_ANY);
        }
        const fpol_list *keyed[] = {&p->names, &p->dnames};
        struct bpf_map *maps[] = {k->maps.fpol_names, k->maps.fpol_dnames};
        for (size_t m = 0; m < 2; m++)
            for (size_t i = 0; i < keyed[m]->n; i++) {
                char key[MSR_NAME] = {0};
                strncpy(key, keyed[m]->v[i], sizeof key - 1);
                bpf_map__update_elem(maps[m], key, sizeof key, &keyed[m]->m[i], 1, BPF_ANY);
            }
        for (size_t i = 0; i < p->exts.n; i++) {
            char key[16] = {0};
            strncpy(key, p->exts.v[i], sizeof key - 1);
            bpf_map__update_elem(k->maps.fpol_exts, key, sizeof key, &p->exts.m[i], 1, BPF_ANY);
        }
    }
    uint32_t zero = 0;
    bpf_map__update_elem(k->maps.fpol_cfg, &zero, sizeof zero, &cfg, sizeof cfg, BPF_ANY);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_WARN && getenv("MODUS_BPF_DEBUG")) return vfprintf(stderr, fmt, ap);
    if (level == LIBBPF_DEBUG && getenv("MODUS_BPF_DEBUG")) return vfprintf(stderr, fmt, ap);
    return 0;
}

static bool tp_exists(const char *cat, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "/sys/kernel/tracing/events/%s/%s", cat, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void ensure_tracefs(void)
{
    struct stat st;
    if (stat("/sys/kernel/tracing/events", &st) == 0) return;
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0 &&
        stat("/sys/kernel/debug/tracing/events", &st) != 0)
        mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
}

/* Does the kernel accept BPF LSM programs (trampolines)? */
static bool probe_lsm(char *why, size_t n)
{
    struct bpf_insn insns[] = {
        {.code = 0xb7, .dst_reg = 0, .imm = 0}, /* r0 = 0 */
        {.code = 0x95},                         /* exit */
    };
    int btf_id = -1;
    struct btf *vm = btf__load_vmlinux_btf();
    if (vm) {
        btf_id = btf__find_by_name_kind(vm, "bpf_lsm_file_mprotect", BTF_KIND_FUNC);
        btf__free(vm);
    }
    if (btf_id < 0) {
        snprintf(why, n, "no bpf_lsm_file_mprotect in the kernel's BTF");
        return false;
    }
    LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_LSM_MAC,
                .attach_btf_id = (uint32_t)btf_id);
    int fd = bpf_prog_load(BPF_PROG_TYPE_LSM, "modus_probe", "GPL", insns, 2, &o);
    if (fd < 0) {
        snprintf(why, n, "the kernel refuses BPF LSM programs (%s)", strerror(errno));
        return false;
    }
    close(fd);
    snprintf(why, n, "BPF LSM programs load");
    return true;
}

/* libbpf has moved the consumer past a record before it calls us: a
 * negative return stops the consumption after this record, which is
 * handled first (returning before handling it would lose it) */
static int on_record(void *ctx, void *data, size_t size)
{
    modus_sensor *s = ctx;
    int stop = 0;
    uint64_t t = mono_ns(); /* (a vDSO read: tens of ns, against microseconds a record) */
    if (!s->deadline_ns) {  /* the budget starts with the first record */
        s->deadline_ns = t + poll_budget_ns();
    } else if (t >= s->deadline_ns) {
        s->over = true;
        stop = -EAGAIN;
    }
    s->records++;
    const char *json;
    size_t len;
    int r = msdec_record(s->dec, data, size, &json, &len);
    if (r < 0) s->bad++;
    if (r > 0) {
        s->events++;
        s->fn(s->ctx, json, len);
    }
    return stop;
}

/* Open, configure, load and attach the skeleton for one backend; on failure
 * nothing is left loaded. Returns 0 or a negative errno. */
static int load(modus_sensor *s, const modus_sensor_opts *opts, bool lsm, bool mod_tp)
{
    struct sensor_bpf *k = sensor_bpf__open();
    if (!k) return -errno;
    uint32_t sb = opts->stack_bytes ? opts->stack_bytes
                                    : 16384; /* node and java first events need more than 8 KB */
    if (sb > 16384) sb = 16384;
    sb = (sb + 4095) & ~4095u;
    k->rodata->stack_max = sb;
    uint32_t mb = opts->ring_mb ? opts->ring_mb : 16;
    bpf_map__set_max_entries(k->maps.rb, mb << 20);
    k->rodata->self_tgid = (uint32_t)getpid();
    bpf_program__set_autoload(k->progs.tp_init_module, mod_tp && !lsm);
    bpf_program__set_autoload(k->progs.tp_finit_module, mod_tp && !lsm);
    bpf_program__set_autoload(k->progs.tp_sys_enter_module,
                              !mod_tp && !lsm && opts->module_attempts);
    if (!tp_exists("syscalls", "sys_enter_pkey_mprotect"))
        bpf_program__set_autoload(k->progs.tp_pkey_mprotect, false);
    if (!tp_exists("syscalls", "sys_exit_openat2"))
        bpf_program__set_autoload(k->progs.tp_openat2_exit, false);
    if (!tp_exists("syscalls", "sys_enter_clone3"))
        bpf_program__set_autoload(k->progs.tp_clone3, false);
    if (!tp_exists("syscalls", "sys_enter_fchmodat2")) {
        bpf_program__set_autoload(k->progs.tp_fchmodat2, false);
        bpf_program__set_autoload(k->progs.tp_fchmodat2_exit, false);
    }
    /* file events beyond persistence: only with a policy; the write hook
     * (every write() on the host) only when a rule reads header bytes */
    const modus_file_policy *fp = opts->file_policy;
    bool fops = fp && !modus_file_policy_empty(fp);
    struct bpf_program *fprogs[] = {
        k->progs.tp_unlink,      k->progs.tp_unlinkat,      k->progs.tp_rmdir,
        k->progs.tp_chmod,       k->progs.tp_fchmodat,      k->progs.tp_fchmod,
        k->progs.tp_unlink_exit, k->progs.tp_unlinkat_exit, k->progs.tp_rmdir_exit,
        k->progs.tp_chmod_exit,  k->progs.tp_fchmodat_exit, k->progs.tp_fchmod_exit};
    if (!fops)
        for (size_t i = 0; i < sizeof fprogs / sizeof *fprogs; i++)
            bpf_program__set_autoload(fprogs[i], false);
    else {
        uint8_t ops = fp->all;
        const fpol_list *ls[] = {&fp->dirs, &fp->dnames, &fp->names, &fp->exts};
        for (size_t l = 0; l < 4; l++)
            for (size_t i = 0; i < ls[l]->n; i++) ops |= ls[l]->m[i];
        if (!(ops & FOP_DELETE))
            for (size_t i = 0; i < sizeof fprogs / sizeof *fprogs; i++)
                if (i % 6 < 3) bpf_program__set_autoload(fprogs[i], false);
        if (!(ops & FOP_CHMOD)) {
            for (size_t i = 0; i < sizeof fprogs / sizeof *fprogs; i++)
                if (i % 6 >= 3) bpf_program__set_autoload(fprogs[i], false);
            bpf_program__set_autoload(k->progs.tp_fchmodat2, false);
            bpf_program__set_autoload(k->progs.tp_fchmodat2_exit, false);
        }
    }
    if (!fops) {
        bpf_program__set_autoload(k->progs.tp_fchmodat2, false);
        bpf_program__set_autoload(k->progs.tp_fchmodat2_exit, false);
    }
    bpf_program__set_autoload(k->progs.tp_write_header, fops && fp->header && !lsm);
    if (lsm) {
        /* the LSM programs replace these tracepoints */
        struct bpf_program *off[] = {
            k->progs.tp_mprotect,  k->progs.tp_pkey_mprotect, k->progs.tp_openat_exit,
            k->progs.tp_open_exit, k->progs.tp_openat2_exit,  k->progs.tp_creat_exit,
            k->progs.tp_rename,    k->progs.tp_renameat,      k->progs.tp_renameat2,
            k->progs.tp_execve,    k->progs.tp_execveat,      k->progs.tp_bpf};
        for (size_t i = 0; i < sizeof off / sizeof *off; i++)
            bpf_program__set_autoload(off[i], false);
        struct bpf_program *on[] = {k->progs.lsm_mprotect,   k->progs.lsm_file_open,
                                    k->progs.lsm_rename,     k->progs.lsm_exec_caller,
                                    k->progs.lsm_bpf,        k->progs.lsm_module_file,
                                    k->progs.lsm_module_data};
        for (size_t i = 0; i < sizeof on / sizeof *on; i++) bpf_program__set_autoload(on[i], true);
    }
    int err = sensor_bpf__load(k);
    if (!err) err = sensor_bpf__attach(k);
    if (err) {
        sensor_bpf__destroy(k);
        return err < 0 ? err : -EINVAL;
    }
    s->skel = k;
    return 0;
}

/* The table's `code` lines for Linux, one pattern each, to the decoder. */
static bool set_code(msdec *dec, const sigtab *t, modus_diag *diag)
{
    size_t n = 0;
    for (int i = 0; i < t->ncode; i++)
        for (size_t j = 0; j < t->code[i].symbols.n; j++) n += t->code[i].symbols.p[j] == '|';
    n += (size_t)t->ncode;
    char **pat = calloc(n ? n : 1, sizeof *pat);
    const char **names = calloc(n ? n : 1, sizeof *names);
    bool *jit = calloc(n ? n : 1, sizeof *jit);
    uint32_t *line = calloc(n ? n : 1, sizeof *line);
    size_t k = 0, bad = 0;
    bool ok = pat && names && jit && line;
    for (int i = 0; ok && i < t->ncode; i++) {
        const sigcode *c = &t->code[i];
        if (c->os != STACK_OS_LINUX && c->os != SIG_OS_ANY) continue;
        size_t st = 0;
        for (size_t j = 0; ok && j <= c->symbols.n; j++) {
            if (j < c->symbols.n && c->symbols.p[j] != '|') continue;
            pat[k] = strndup(c->symbols.p + st, j - st);
            names[k] = t->mod[c->modality].name;
            jit[k] = t->mod[c->modality].jit;
            line[k] = c->line;
            ok = pat[k++] != NULL;
            st = j + 1;
        }
    }
    if (ok && !msdec_set_code(dec, (const char *const *)pat, names, jit, k, &bad)) {
        snprintf(diag->message, sizeof diag->message,
                 "modality table line %u: the sensor cannot match code symbol '%s'", line[bad],
                 pat[bad]);
        ok = false;
    }
    for (size_t i = 0; pat && i < k; i++) free(pat[i]);
    free(pat);
    free(names);
    free(jit);
    free(line);
    /* The interpreters installed here, found by the table's file-name
     * signatures: their build-ids name stripped copies (dash has no
     * symbols to recognise it by). */
    static const char *const dirs[] = {"/usr/bin", "/usr/sbin", "/usr/local/bin"};
    for (size_t i = 0; ok && i < sizeof dirs / sizeof *dirs; i++) {
        DIR *dir = opendir(dirs[i]);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
            if (de->d_name[0] == '.') continue;
            int g = sigtab_match_name(t, STACK_OS_LINUX, ROLE_RUNTIME, sv_cstr(de->d_name));
            if (g < 0) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dirs[i], de->d_name);
            msdec_add_known(dec, path, t->mod[t->sigs[g].modality].name);
        }
        if (dir) closedir(dir);
    }
    return ok;
}

modus_status modus_sensor_open(const modus_sensor_opts *opts, modus_sensor **out, modus_diag *diag)
{
    *out = NULL;
    modus_sensor_opts def = {0};
    if (!opts) opts = &def;
    libbpf_set_print(libbpf_quiet);
    modus_sensor *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    s->ncpu = libbpf_num_possible_cpus();
    if (s->ncpu < 1) s->ncpu = 1;

    ensure_tracefs();
    char why[200] = "";
    bool want_lsm = opts->backend && !strcmp(opts->backend, "lsm");
    bool want_tp = opts->backend && !strcmp(opts->backend, "tp");
    bool lsm_ok = !want_tp && probe_lsm(why, sizeof why);
    if (want_lsm && !lsm_ok) {
        snprintf(diag->message, sizeof diag->message, "the lsm backend is not available: %s", why);
        free(s);
        return MODUS_EINVAL;
    }
    bool mod_tp = tp_exists("syscalls", "sys_enter_finit_module");
    int err = -1;
    if (lsm_ok) {
        err = load(s, opts, true, mod_tp);
        if (!err)
            snprintf(s->backend, sizeof s->backend,
                     "lsm (BPF LSM hooks; unverified before this kernel) + tracepoints");
        else if (want_lsm) {
            snprintf(diag->message, sizeof diag->message,
                     "the lsm programs failed to load: %s (MODUS_BPF_DEBUG=1 shows the verifier "
                     "log)",
                     strerror(-err));
            free(s);
            return MODUS_EIO;
        } else
            snprintf(why, sizeof why, "the lsm programs failed to load: %s", strerror(-err));
    }
    if (err) {
        err = load(s, opts, false, mod_tp);
        if (want_tp)
            snprintf(s->backend, sizeof s->backend, "tracepoints");
        else
            snprintf(s->backend, sizeof s->backend, "tracepoints (no lsm: %.160s)", why);
    }
    if (err) {
        snprintf(diag->message, sizeof diag->message,
                 "cannot load the eBPF programs: %s (run as root; MODUS_BPF_DEBUG=1 shows the "
                 "verifier log)",
                 strerror(-err));
        free(s);
        return MODUS_EIO;
    }
    if (!mod_tp)
        strncat(s->backend,
                opts->module_attempts
                    ? "; module load attempts through raw sys_enter (kernel without modules)"
                    : "; kernel without modules: load attempts not watched (--module-attempts)",
                sizeof s->backend - strlen(s->backend) - 1);

    fill_watch(s->skel->maps.watch_dirs, true);
    fill_watch(s->skel->maps.watch_names, false);
    fill_policy(s->skel, opts->file_policy);

    s->dec = msdec_create(opts->hostname);
    if (!s->dec) {
        modus_sensor_close(s);
        return MODUS_ENOMEM;
    }
    {
        modus_engine *own = NULL;
        const modus_engine *eng = opts->engine;
        if (!eng && modus_engine_create(NULL, &own, diag) == MODUS_OK) eng = own;
        bool ok = eng && set_code(s->dec, &eng->tab, diag);
        modus_engine_destroy(own);
        if (!ok) {
            modus_sensor_close(s);
            return MODUS_ETABLE;
        }
    }
    msdec_set_context(s->dec, opts->env_vars, opts->env_redact);
    if (opts->engine) {
        if (modus_scanner_create(opts->engine, &s->launch) != MODUS_OK) {
            modus_sensor_close(s);
            return MODUS_ENOMEM;
        }
        msdec_set_launch_fn(s->dec, launch_fn, s);
    }
    msdec_set_policy(s->dec, opts->file_policy);
    s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.rb), on_record, s, NULL);
    if (!s->rb) {
        snprintf(diag->message, sizeof diag->message, "cannot open the ring buffer: %s",
                 strerror(errno));
        modus_sensor_close(s);
        return MODUS_EIO;
    }
    msdec_scan_proc(s->dec);
    *out = s;
    return MODUS_OK;
}

const char *modus_sensor_backend(const modus_sensor *s)
{
    return s->backend;
}

modus_status modus_sensor_poll(modus_sensor *s, int timeout_ms, modus_sensor_fn fn, void *ctx)
{
    s->fn = fn;
    s->ctx = ctx;
    s->over = false;
    s->deadline_ns = 0;
    int r = ring_buffer__poll(s->rb, timeout_ms);
    if (r >= 0 && !s->over) r = ring_buffer__consume(s->rb);
    /* (-EAGAIN from on_record: the budget, not an error) */
    return r < 0 && r != -EINTR && !s->over ? MODUS_EIO : MODUS_OK;
}

static uint64_t sum_map(int fd, uint32_t key, int ncpu)
{
    uint64_t v[ncpu], t = 0;
    if (bpf_map_lookup_elem(fd, &key, v)) return 0;
    for (int i = 0; i < ncpu; i++) t += v[i];
    return t;
}

void modus_sensor_stats_get(const modus_sensor *s, modus_sensor_stats *o)
{
    memset(o, 0, sizeof *o);
    o->records = s->records;
    o->events = s->events;
    o->bad = s->bad;
    int dfd = bpf_map__fd(s->skel->maps.drops), sfd = bpf_map__fd(s->skel->maps.sent);
    for (uint32_t t = 1; t < MSR_TYPE_MAX; t++) {
        o->lost += sum_map(dfd, t, s->ncpu);
        o->sent += sum_map(sfd, t, s->ncpu);
    }
    msdec_stats(s->dec, &o->processes, &o->unwound);
}

void modus_sensor_close(modus_sensor *s)
{
    if (!s) return;
    ring_buffer__free(s->rb);
    if (s->skel) sensor_bpf__destroy(s->skel);
    msdec_destroy(s->dec);
    modus_scanner_destroy(s->launch);
    free(s);
}
