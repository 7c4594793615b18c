/* test_runtime_code.c - runtimes recognised by their code, on the real
 * interpreters of this machine (python3, perl, bash; node and libjvm when
 * installed) and on renamed copies of them (a new inode, a random name):
 * the embedded table's `code` lines must name each one, and name nothing in
 * an ordinary program. The exec-time mapping (ustack_image) must map every
 * executable segment of a binary from the one the kernel reports, with no
 * process behind it (as after the process exited). Then the classifier: a
 * frame marked module_runtime beats the file name, and the evidence says how
 * each runtime frame was recognised. */
#include "check.h"
#include "modality/sigtab.h"
#include "modus/modus.h"
#include "stack/ustack.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOPROC 0x7ffffff0u /* a tgid with no process: files are opened by path */

typedef struct seg {
    uint64_t off, vaddr, filesz;
} seg;

/* The executable PT_LOAD segments of a file. */
static size_t exec_segs(const char *path, seg *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    Elf64_Ehdr eh;
    size_t n = 0;
    if (fread(&eh, sizeof eh, 1, f) == 1 && !memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
        for (unsigned i = 0; i < eh.e_phnum && n < cap; i++) {
            Elf64_Phdr ph;
            if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * eh.e_phentsize), SEEK_SET) ||
                fread(&ph, sizeof ph, 1, f) != 1)
                break;
            if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && ph.p_filesz)
                out[n++] = (seg){ph.p_offset, ph.p_vaddr, ph.p_filesz};
        }
    }
    fclose(f);
    return n;
}

static char tmpdir[] = "/tmp/modus-code-XXXXXX";

/* A copy of src under a random name in tmpdir (a new inode). */
static const char *copy_of(const char *src, char *dst, size_t n)
{
    static unsigned k;
    snprintf(dst, n, "%s/q%x%x", tmpdir, (unsigned)getpid(), ++k);
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[1 << 16];
    ssize_t r = in >= 0 && out >= 0 ? 1 : -1;
    while (r > 0 && (r = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)r) != r) r = -1;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return r == 0 ? dst : NULL;
}

static ustack *with_table(void)
{
    size_t len;
    const char *text = modus_default_modalities(&len);
    sigtab t;
    uint32_t line;
    char msg[200];
    ustack *u = ustack_create();
    if (!u || !sigtab_parse(&t, text, len, &line, msg, sizeof msg)) return u;
    const char *pats[256], *names[256];
    char *own[256];
    size_t n = 0;
    for (int i = 0; i < t.ncode; i++) {
        if (t.code[i].os != STACK_OS_LINUX) continue;
        sv s = t.code[i].symbols;
        for (size_t st = 0, j = 0; j <= s.n && n < 256; j++) {
            if (j < s.n && s.p[j] != '|') continue;
            own[n] = strndup(s.p + st, j - st);
            pats[n] = own[n];
            names[n++] = t.mod[t.code[i].modality].name;
            st = j + 1;
        }
    }
    size_t bad = 0;
    CHECK(n >= 8, "the table has code lines (%zu patterns)", n);
    CHECK(ustack_set_code(u, pats, names, n, &bad), "the table's patterns load (bad: %zu)", bad);
    for (size_t i = 0; i < n; i++) free(own[i]);
    sigtab_free(&t);
    return u;
}

/* Map `path` as the kernel reports an exec image (its first executable
 * segment only) for a process that is gone, then resolve an address in
 * every executable segment. Returns the runtime of the module ("" none). */
static const char *recognise(ustack *u, uint32_t tgid, const char *path, char *by, size_t bycap)
{
    seg s[16];
    size_t ns = exec_segs(path, s, 16);
    CHECK(ns > 0, "%s: executable segments", path);
    if (!ns) return NULL;
    /* a PIE loads at a bias; a fixed-address binary at its vaddr */
    uint64_t bias = s[0].vaddr < 0x400000 ? 0x555555554000ull : 0;
    uint64_t start = bias + (s[0].vaddr & ~0xfffull);
    uint64_t end = bias + ((s[0].vaddr + s[0].filesz + 0xfff) & ~0xfffull);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ustack_image(u, tgid, start, end, s[0].off & ~0xfffull, path);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* the cost a never-seen binary adds at its exec record (open, parse the
     * ELF, sort its symbols, look for the runtime's functions) */
    printf("exec image %s: %.1f ms\n", path,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    static char rt[32];
    rt[0] = 0;
    by[0] = 0;
    for (size_t i = 0; i < ns; i++) {
        ustack_regs r = {.ip = bias + s[i].vaddr + s[i].filesz / 2, .sp = 0x7ffc00000000ull};
        uint8_t stk[64] = {0};
        ustack_frame f[2];
        ustack_stop stop;
        size_t n = ustack_unwind(u, tgid, &r, stk, sizeof stk, f, 2, &stop);
        CHECK(n >= 1 && f[0].module && !strcmp(f[0].module, path),
              "%s: segment %zu of %zu (vaddr 0x%llx) is mapped to the file", path, i + 1, ns,
              (unsigned long long)s[i].vaddr);
        if (n >= 1 && f[0].runtime && i == 0) {
            snprintf(rt, sizeof rt, "%s", f[0].runtime);
            snprintf(by, bycap, "%s", f[0].runtime_by ? f[0].runtime_by : "");
        }
    }
    return rt;
}

static void runtime_case(ustack *u, uint32_t *tgid, const char *src, const char *want,
                         const char *want_by)
{
    char real[4096], cp[4096], by[256];
    if (!realpath(src, real)) {
        printf("note: %s is not installed\n", src);
        return;
    }
    const char *got = recognise(u, (*tgid)++, real, by, sizeof by);
    CHECK(got && !strcmp(got, want), "%s: runtime '%s', want '%s'", real, got ? got : "?", want);
    if (want_by) CHECK(!strcmp(by, want_by), "%s: by '%s', want '%s'", real, by, want_by);
    const char *c = copy_of(real, cp, sizeof cp);
    CHECK(c != NULL, "copy %s", real);
    if (!c) return;
    got = recognise(u, (*tgid)++, cp, by, sizeof by);
    CHECK(got && !strcmp(got, want), "%s (a copy of %s): runtime '%s', want '%s'", cp, real,
          got ? got : "?", want);
    if (want_by) CHECK(!strcmp(by, want_by), "%s: by '%s', want '%s'", cp, by, want_by);
    unlink(cp);
}

static void classifier_cases(void)
{
    modus_engine *e = NULL;
    modus_scanner *sc = NULL;
    modus_diag d = {0};
    CHECK(modus_engine_create(NULL, &e, &d) == MODUS_OK, "engine");
    CHECK(e && modus_scanner_create(e, &sc) == MODUS_OK, "scanner");
    if (!sc) return;
    static const char *fmt =
        "{\"host\":{\"os\":{\"type\":\"linux\"}},\"process\":{\"executable\":\"/tmp/x/freshpy\","
        "\"thread\":{\"Ext\":{\"call_stack\":["
        "{\"symbol_info\":\"/usr/lib/x86_64-linux-gnu/libc.so.6!__open+0x51\"},"
        "{\"symbol_info\":\"/tmp/x/freshpy!_PyEval_EvalFrameDefault+0x8f0\"%s},"
        "{\"symbol_info\":\"/tmp/x/freshpy!main+0x1c\"%s}]}}}}";
    static const char *mark =
        ",\"module_runtime\":\"python\",\"module_origin\":\"symbol _PyEval_EvalFrameDefault\"";
    char doc[2048];
    const modus_event *ev = NULL;
    /* renamed, unmarked: the file name says nothing, the code is not seen */
    snprintf(doc, sizeof doc, fmt, "", "");
    CHECK(modus_scanner_decode(sc, doc, strlen(doc), &ev, &d) == MODUS_OK && ev, "decode");
    if (ev) CHECK_STR(modus_event_modality(ev), "native");
    /* marked by the sensor: python, by symbol */
    snprintf(doc, sizeof doc, fmt, mark, mark);
    ev = NULL;
    CHECK(modus_scanner_decode(sc, doc, strlen(doc), &ev, &d) == MODUS_OK && ev, "decode");
    if (ev) {
        CHECK_STR(modus_event_modality(ev), "python");
        CHECK_STR(modus_event_confidence(ev), "high");
        size_t n;
        const char *text = modus_event_render(ev, MODUS_RENDER_EXPLAIN, &n);
        CHECK(text && strstr(text, "is python code (by symbol _PyEval_EvalFrameDefault)"),
              "the evidence says the code named it: %s", text ? text : "(null)");
        CHECK(text && strstr(text, "[python by symbol _PyEval_EvalFrameDefault]"),
              "the frame list says it: %s", text ? text : "(null)");
    }
    /* a mark from the code beats the file name: bash renamed python3 is shell */
    snprintf(
        doc, sizeof doc,
        "{\"host\":{\"os\":{\"type\":\"linux\"}},\"process\":{\"thread\":{\"Ext\":{"
        "\"call_stack\":[{\"symbol_info\":\"/usr/lib/x86_64-linux-gnu/libc.so.6!__open+0x51\"},"
        "{\"symbol_info\":\"/tmp/x/python3!do_redirections+0x8e\",\"module_runtime\":"
        "\"shell\",\"module_origin\":\"symbol execute_command_internal\"}]}}}}");
    ev = NULL;
    CHECK(modus_scanner_decode(sc, doc, strlen(doc), &ev, &d) == MODUS_OK && ev, "decode");
    if (ev) CHECK_STR(modus_event_modality(ev), "shell");
    /* unmarked and named like the runtime: the name fallback, and it says so */
    snprintf(
        doc, sizeof doc,
        "{\"host\":{\"os\":{\"type\":\"linux\"}},\"process\":{\"thread\":{\"Ext\":{"
        "\"call_stack\":[{\"symbol_info\":\"/usr/lib/x86_64-linux-gnu/libc.so.6!__open+0x51\"},"
        "{\"symbol_info\":\"/usr/bin/perl!Perl_pp_open+0x122\"}]}}}}");
    ev = NULL;
    CHECK(modus_scanner_decode(sc, doc, strlen(doc), &ev, &d) == MODUS_OK && ev, "decode");
    if (ev) {
        CHECK_STR(modus_event_modality(ev), "perl");
        size_t n;
        const char *text = modus_event_render(ev, MODUS_RENDER_EXPLAIN, &n);
        CHECK(text && strstr(text, "is perl code (by name, table line"),
              "the evidence says the name named it: %s", text ? text : "(null)");
    }
    /* an unknown runtime name in the mark is ignored: the name decides */
    snprintf(doc, sizeof doc, fmt, ",\"module_runtime\":\"cobol\"", "");
    ev = NULL;
    CHECK(modus_scanner_decode(sc, doc, strlen(doc), &ev, &d) == MODUS_OK && ev, "decode");
    if (ev) CHECK_STR(modus_event_modality(ev), "native");
    modus_scanner_destroy(sc);
    modus_engine_destroy(e);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    ustack *u = with_table();
    uint32_t tgid = NOPROC;
    runtime_case(u, &tgid, "/usr/bin/python3", "python", "symbol _PyEval_EvalFrameDefault");
    runtime_case(u, &tgid, "/usr/bin/perl", "perl", "symbol Perl_runops_standard");
    runtime_case(u, &tgid, "/bin/bash", "shell", "symbol execute_command_internal");
    if (access("/usr/bin/node", X_OK) == 0)
        runtime_case(u, &tgid, "/usr/bin/node", "node", "symbol node::Start(int, char**)");
    char jvm[4096];
    size_t jl;
    /* the JVM of the java on PATH: .../bin/java -> .../lib/server/libjvm.so */
    if (realpath("/usr/bin/java", jvm) && (jl = strlen(jvm)) > 8 &&
        !strcmp(jvm + jl - 8, "bin/java")) {
        snprintf(jvm + jl - 8, sizeof jvm - (jl - 8), "lib/server/libjvm.so");
        if (access(jvm, R_OK) == 0) runtime_case(u, &tgid, jvm, "java", NULL);
    }
    /* an ordinary program is no runtime, whatever it is called */
    char cp[4096], by[256];
    const char *c = copy_of("/bin/true", cp, sizeof cp);
    if (c) {
        char py[4096];
        snprintf(py, sizeof py, "%s/python3", tmpdir);
        CHECK(rename(cp, py) == 0, "rename");
        const char *got = recognise(u, tgid++, py, by, sizeof by);
        CHECK(got && !strcmp(got, ""), "true named python3: runtime '%s', want none",
              got ? got : "?");
        unlink(py);
    }
    /* a stripped interpreter (dash) has no symbols to go by: by the build-id
     * of the installed one, once the sensor has read it */
    char dash[4096];
    if (realpath("/bin/dash", dash) && (c = copy_of(dash, cp, sizeof cp))) {
        const char *got = recognise(u, tgid++, cp, by, sizeof by);
        CHECK(got && !strcmp(got, ""), "a copy of dash, build unknown: runtime '%s', want none",
              got ? got : "?");
        CHECK(ustack_add_known(u, dash, "shell"), "dash's build-id is read");
        CHECK(!ustack_add_known(u, dash, "shell"), "the same build is not added twice");
        char cp2[4096];
        const char *c2 = copy_of(dash, cp2, sizeof cp2);
        got = c2 ? recognise(u, tgid++, cp2, by, sizeof by) : NULL;
        CHECK(got && !strcmp(got, "shell"), "a copy of dash, build known: runtime '%s', want shell",
              got ? got : "?");
        char want[4200];
        snprintf(want, sizeof want, " of %s", dash);
        CHECK(!strncmp(by, "build-id ", 9) && strstr(by, want), "by '%s'", by);
        unlink(cp);
        if (c2) unlink(cp2);
    } else {
        printf("note: dash is not installed\n");
    }
    /* malformed patterns are refused with their index */
    const char *bad[] = {"ok_name", "a*b"}, *nm[] = {"python", "python"};
    size_t at = 99;
    CHECK(!ustack_set_code(u, bad, nm, 2, &at) && at == 1, "'a*b' is refused (index %zu)", at);
    const char *cxx[] = {"node::", "node::Sta*"};
    CHECK(!ustack_set_code(u, cxx, nm, 1, &at), "'node::' is refused");
    CHECK(!ustack_set_code(u, cxx + 1, nm, 1, &at), "'node::Sta*' is refused");
    ustack_destroy(u);
    rmdir(tmpdir);
    classifier_cases();
    return check_done();
}
