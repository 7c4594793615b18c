/* test_classify.c - table-driven modality, syscall and anomaly assertions.
 * Stacks are written top (frame 0) first; '|' separates frames. Each row is
 * one hard distinction from the issue or SPEC §4. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "modus/modus.h"

static modus_scanner *SC;

#define W     "c:\\windows\\system32\\"
#define NT    W "ntdll.dll!NtProtectVirtualMemory+0x14"
#define KB    W "kernelbase.dll!VirtualProtect+0x3b"
#define K32   W "kernel32.dll!BaseThreadInitThunk+0x14"
#define START W "ntdll.dll!RtlUserThreadStart+0x21"
#define CLR   "c:\\windows\\microsoft.net\\framework64\\v4.0.30319\\clr.dll+0x1a2b"
#define SMA                                                                                        \
    "c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\system.manaa57fc8cc#\\0a1b\\"              \
    "system.management.automation.ni.dll+0x5e3f1"
#define RPC    W "rpcrt4.dll+0x7a1c"
#define COMB   W "combase.dll+0x45c2"
#define LIBC   "/usr/lib/x86_64-linux-gnu/libc.so.6!mprotect+0xb"
#define LSTART "/usr/lib/x86_64-linux-gnu/libc.so.6!__libc_start_call_main+0x7a"

typedef struct row {
    const char *what;
    modus_os os;
    const char *image;
    const char *stack; /* frames joined by '|' (Elastic/Linux form) */
    const char *modality, *syscall, *confidence;
} row;

static const row rows[] = {
    {"Unbacked in powershell.exe with no provenance: taken as the script, low", MODUS_OS_WINDOWS,
     "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", NT "|" KB "|Unbacked+0x3b5c",
     "powershell", "stub", "low"},
    {"PowerShell script: JIT under System.Management.Automation", MODUS_OS_WINDOWS, "pwsh.exe",
     NT "|" KB "|Unbacked+0x10|" SMA "|" CLR "|" W "powershell.exe+0x1200|" K32 "|" START,
     "powershell", "stub", "high"},
    {"PowerShell host's own native code", MODUS_OS_WINDOWS, "powershell.exe",
     NT "|" KB "|" W "windowspowershell\\v1.0\\powershell.exe+0x3a1c|" K32 "|" START, "native",
     "stub", "high"},
    {".NET assembly in a process named notepad.exe", MODUS_OS_WINDOWS, "notepad.exe",
     NT "|" KB "|" CLR "|Unbacked+0x99|c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\system\\"
        "1f2e\\system.ni.dll+0x3c|" W "notepad.exe+0x100|" K32 "|" START,
     "dotnet", "stub", "high"},
    {"RPC server dispatch: services.exe acting for a client", MODUS_OS_WINDOWS, "services.exe",
     NT "|" KB "|" W "services.exe+0x2b3c|" RPC "|" RPC "|" RPC "|" W "ntdll.dll+0x2f2d|" K32
        "|" START,
     "rpc", "stub", "high"},
    {"RPC client call just under ntdll is not the rpc modality", MODUS_OS_WINDOWS, "app.exe",
     W "ntdll.dll!NtAlpcSendWaitReceivePort+0x14|" RPC "|" RPC "|c:\\tools\\app.exe+0x1000|" K32
       "|" START,
     "native", "stub", "high"},
    {"COM server in dllhost: server code over combase over rpcrt4", MODUS_OS_WINDOWS, "dllhost.exe",
     NT "|" KB "|" W "cmlua.dll+0x4c1|" COMB "|" RPC "|" COMB "|" RPC "|" K32 "|" START, "com",
     "stub", "high"},
    {"in-process COM without rpcrt4 below is not the com modality", MODUS_OS_WINDOWS, "app.exe",
     NT "|" KB "|" W "scrrun.dll+0x44|" COMB "|c:\\tools\\app.exe+0x1000|" K32 "|" START, "native",
     "stub", "high"},
    {"WMI provider host", MODUS_OS_WINDOWS, "wmiprvse.exe",
     NT "|" KB "|" W "wbem\\cimwin32.dll+0x1c|" W "framedynos.dll+0x2d|" W
        "wbem\\wmiprvse.exe+0x3e|" COMB "|" RPC "|" K32 "|" START,
     "wmi", "stub", "high"},
    {"VBA macro", MODUS_OS_WINDOWS, "winword.exe",
     NT "|" KB "|c:\\program files\\common files\\microsoft shared\\vba\\vba7.1\\vbe7.dll+0x1f|"
        "c:\\program files\\microsoft office\\root\\office16\\winword.exe+0x10|" K32 "|" START,
     "vba", "stub", "high"},
    {"VBScript", MODUS_OS_WINDOWS, "wscript.exe",
     NT "|" KB "|" W "vbscript.dll+0x1a|" W "wscript.exe+0x2|" K32 "|" START, "vbscript", "stub",
     "high"},
    {"JScript", MODUS_OS_WINDOWS, "mshta.exe",
     NT "|" KB "|" W "jscript9.dll+0x1a|" W "mshtml.dll+0x1b|" W "mshta.exe+0x2|" K32 "|" START,
     "jscript", "stub", "high"},
    {"Python ctypes", MODUS_OS_WINDOWS, "python.exe",
     NT "|" KB "|c:\\python311\\dlls\\_ctypes.pyd+0xed6a|c:\\python311\\dlls\\libffi-8.dll+0x2|"
        "c:\\python311\\python311.dll+0x8f14c|c:\\python311\\python.exe+0x1|" K32 "|" START,
     "python", "stub", "high"},
    {"Java: JIT code over jvm.dll", MODUS_OS_WINDOWS, "java.exe",
     NT "|" KB "|Unbacked+0x77|c:\\jdk\\bin\\server\\jvm.dll+0x1234|c:\\jdk\\bin\\java.exe+0x1|" K32
        "|" START,
     "java", "stub", "high"},
    {"Lua", MODUS_OS_WINDOWS, "game.exe",
     NT "|" KB "|c:\\game\\lua54.dll+0x10|c:\\game\\game.exe+0x1|" K32 "|" START, "lua", "stub",
     "high"},
    {"AutoIt", MODUS_OS_WINDOWS, "AutoIt3.exe",
     NT "|" KB "|c:\\program files\\autoit3\\autoit3.exe+0x10|" K32 "|" START, "autoit", "stub",
     "high"},
    {"VB6", MODUS_OS_WINDOWS, "legacy.exe",
     NT "|" KB "|" W "msvbvm60.dll+0x10|c:\\app\\legacy.exe+0x1|" K32 "|" START, "vb6", "stub",
     "high"},
    {"node", MODUS_OS_WINDOWS, "node.exe",
     NT "|" KB "|Unbacked+0x5|c:\\program files\\nodejs\\node.exe+0x10|" K32 "|" START, "node",
     "stub", "high"},
    {"shellcode: Unbacked straight above kernelbase", MODUS_OS_WINDOWS, "notepad.exe",
     NT "|" KB "|Unbacked+0x1000", "shellcode", "stub", "high"},
    {"unresolved frames below an OS callback are not shellcode", MODUS_OS_WINDOWS, "app.exe",
     NT "|" KB "|c:\\app\\app.exe+0x10|" W "user32.dll+0x20|" W
        "ntdll.dll!KiUserCallbackDispatcher+0x24|" W "win32u.dll+0x14|Unbacked+0x1|Unbacked+0x2",
     "native", "stub", "high"},
    {"direct syscall from the tool's own code", MODUS_OS_WINDOWS, "outflank-dumpert.exe",
     "c:\\users\\a\\outflank-dumpert.exe+0x134da|c:\\users\\a\\outflank-dumpert.exe+0x12e6d|" K32
     "|" START,
     "native", "direct", "high"},
    {"direct syscall from private memory", MODUS_OS_WINDOWS, "x.exe", "Unbacked+0x14", "shellcode",
     "direct", "high"},
    {"indirect syscall: ntdll stub reached from Unbacked", MODUS_OS_WINDOWS, "x.exe",
     NT "|Unbacked+0x200|" K32 "|" START, "shellcode", "indirect", "high"},
    {"kernel", MODUS_OS_WINDOWS, "System",
     W "ntoskrnl.exe!NtCreateFile+0x10|" W "drivers\\evil.sys+0x20", "kernel", "unknown", "high"},
    {"linux python", MODUS_OS_LINUX, "/usr/bin/python3.11",
     LIBC "|/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so+0x1a|"
          "/usr/bin/python3.11!_PyEval_EvalFrameDefault+0x1a2|" LSTART,
     "python", "stub", "high"},
    {"linux perl", MODUS_OS_LINUX, "/usr/bin/perl",
     "/usr/lib/x86_64-linux-gnu/libc.so.6!syscall+0x19|/usr/bin/perl!Perl_pp_syscall+0x1b0|"
     "/usr/bin/perl!Perl_runops_standard+0x3b|" LSTART,
     "perl", "stub", "high"},
    {"linux shell redirection", MODUS_OS_LINUX, "/usr/bin/bash",
     "/usr/lib/x86_64-linux-gnu/libc.so.6!__open64+0x5b|/usr/bin/bash!do_redirections+0x1c2|"
     "/usr/bin/bash!execute_command_internal+0x9d|" LSTART,
     "shell", "stub", "high"},
    {"linux native", MODUS_OS_LINUX, "/usr/local/bin/agent",
     LIBC "|/usr/local/bin/agent!main+0x40|" LSTART, "native", "stub", "high"},
    {"linux java JIT", MODUS_OS_LINUX, "/usr/bin/java",
     "/usr/lib/x86_64-linux-gnu/libc.so.6!__open64+0x5b|/usr/lib/jvm/java-17/lib/libjava.so!"
     "fileOpen+0x4f|Unbacked+0x1f0|/usr/lib/jvm/java-17/lib/server/libjvm.so!"
     "_ZN9JavaCalls11call_helperEP9JavaValueRK12methodHandleP17JavaCallArgumentsP10JavaThread+"
     "0x2f3",
     "java", "stub", "high"},
    {"linux shellcode", MODUS_OS_LINUX, "/usr/bin/cat", LIBC "|Unbacked+0x40|" LSTART, "shellcode",
     "stub", "high"},
    {"linux direct syscall from anonymous memory", MODUS_OS_LINUX, "/tmp/x", "Unbacked+0x1f0",
     "shellcode", "direct", "high"},
};

static void run_row(const row *r)
{
    size_t n = strlen(r->stack);
    char *text = malloc(n + 1);
    memcpy(text, r->stack, n + 1);
    for (char *p = text; *p; p++)
        if (*p == '|') *p = '\n';
    const modus_event *ev;
    modus_diag d;
    modus_status st =
        modus_scanner_explain(SC, r->os, MODUS_STACK_LINES, text, n, r->image, &ev, &d);
    CHECK(st == MODUS_OK, "%s: status %s", r->what, modus_strerror(st));
    const char *m = modus_event_modality(ev), *s = modus_event_syscall(ev);
    CHECK(!strcmp(m, r->modality), "%s: modality %s, want %s", r->what, m, r->modality);
    CHECK(!strcmp(s, r->syscall), "%s: syscall %s, want %s", r->what, s, r->syscall);
    const char *c = modus_event_confidence(ev);
    CHECK(!strcmp(c, r->confidence), "%s: confidence %s, want %s", r->what, c, r->confidence);
    if (strcmp(m, r->modality)) fputs(modus_event_render(ev, MODUS_RENDER_EXPLAIN, NULL), stderr);
    free(text);
}

/* the host inference is medium confidence; the modality must still be powershell */
static void host_inference(void)
{
    const modus_event *ev;
    modus_diag d;
    /* provenance arrives only in JSON; test through decode */
    static char json[] =
        "{\"process\":{\"name\":\"powershell.exe\",\"thread\":{\"Ext\":{"
        "\"call_stack\":[{\"symbol_info\":\"c:\\\\windows\\\\system32\\\\ntdll.dll!"
        "NtProtectVirtualMemory+0x14\"},{\"symbol_info\":\"Unbacked+0x3b5c\","
        "\"protection\":\"RWX\",\"protection_provenance\":\"clr.dll\"}]}}}}"
        "                                                                  ";
    size_t len = strlen(json) - 66;
    CHECK(modus_scanner_decode(SC, json, len, &ev, &d) == MODUS_OK, "decode: %s", d.message);
    CHECK_STR(modus_event_modality(ev), "powershell");
    CHECK_STR(modus_event_confidence(ev), "medium");
    size_t n;
    const char *out = modus_event_render(ev, MODUS_RENDER_ENRICHED, &n);
    CHECK(out && strstr(out, "\"layers\":[\"powershell\",\"dotnet\"]"), "layers in %s",
          out ? out : "");
    CHECK(out && strstr(out, "protection_provenance clr.dll"), "evidence names clr.dll");
    CHECK(out && strstr(out, "\"rwx_frame\""), "rwx_frame anomaly");
    CHECK(out && strstr(out, "\"call_stack_summary\":\"ntdll.dll|Unbacked\""), "derived summary");
}

static void anomalies(void)
{
    static char json[] = "{\"process\":{\"thread\":{\"Ext\":{\"call_stack\":["
                         "{\"symbol_info\":\"c:\\\\windows\\\\system32\\\\ntdll.dll+0x10\","
                         "\"allocation_private_bytes\":4096},"
                         "{\"symbol_info\":\"c:\\\\app\\\\a.exe+0x20\",\"callsite_leading_bytes\":"
                         "\"90909090909090909090\"},"
                         "{\"symbol_info\":\"c:\\\\app\\\\b.dll+0x30\",\"callsite_leading_bytes\":"
                         "\"4883ec28e8aabbccdd\"},"
                         "{\"symbol_info\":\"c:\\\\app\\\\c.dll+0x30\",\"callsite_leading_bytes\":"
                         "\"41c644240c00ffd0\"}"
                         "]}}}}                                                                  ";
    size_t len = strlen(json) - 66;
    const modus_event *ev;
    modus_diag d;
    CHECK(modus_scanner_decode(SC, json, len, &ev, &d) == MODUS_OK, "decode: %s", d.message);
    const char *out = modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
    CHECK(out && strstr(out, "\"module_overwritten\""), "module_overwritten: %s", out ? out : "");
    CHECK(out && strstr(out, "\"return_not_after_call\""), "return_not_after_call: %s",
          out ? out : "");
    CHECK(out && !strstr(out, "\"unbacked\""), "no unbacked anomaly: %s", out ? out : "");
}

/* Return-oriented entry into a libc stub (Linux sensor stacks): frame 0 is
 * libc's mprotect, and the frame it returns to is judged from the bytes
 * before its return address (real x86-64 encodings). */
typedef struct rop_case {
    const char *what;
    const char *os;     /* host.os.type */
    const char *frames; /* JSON frames after frame 0 */
    bool rop;           /* stub_entered_by_return expected */
} rop_case;

#define LIBC_MP "{\"symbol_info\":\"" LIBC "\",\"callsite_leading_bytes\":\"b80a0000000f05\"}"
#define PROG(b) "{\"symbol_info\":\"/opt/t/prog!run+0x2a\",\"callsite_leading_bytes\":\"" b "\"}"
#define JW      "c:\\\\windows\\\\system32\\\\" /* W, escaped for JSON */
#define TAIL    ",{\"symbol_info\":\"" LSTART "\"}"

static const rop_case rops[] = {
    {"call rel32 (e8) before the return address", "linux", PROG("4889dfbe00100000e8a0f1ffff") TAIL,
     false},
    {"call [rip+disp32] (ff 15)", "linux", PROG("488b7b08ff15f2cf0000") TAIL, false},
    {"call rax (ff d0)", "linux", PROG("31f64889c7ffd0") TAIL, false},
    {"call r12 (41 ff d4)", "linux", PROG("4c89ef41ffd4") TAIL, false},
    {"call [rax+8] (ff 50 08)", "linux", PROG("4889dfff5008") TAIL, false},
    {"call [rsp+0x18] (ff 54 24 18)", "linux", PROG("4889c7ff542418") TAIL, false},
    {"add rsp; pop rdi; ret (a gadget's tail)", "linux", PROG("4883c4085fc3") TAIL, true},
    {"jmp rcx (ff e1: FF /4 is no call)", "linux", PROG("488d0d00000000ffe1") TAIL, true},
    {"a call that ends one byte early (e8 rel32; nop)", "linux", PROG("e80000000090") TAIL, true},
    {"the stub returns into no mapping (the process confirmed it)", "linux",
     "{\"symbol_info\":\"Unknown\",\"mapping\":\"none\"}" TAIL, true},
    {"Unknown above the stub, unconfirmed (the process was gone)", "linux",
     "{\"symbol_info\":\"Unknown\"}" TAIL, false},
    {"libc calls the stub, a gadget entered libc", "linux",
     "{\"symbol_info\":\"/usr/lib/x86_64-linux-gnu/libc.so.6!pkey_mprotect+0x2e\","
     "\"callsite_leading_bytes\":\"4489c2e8f1feffff\"}," PROG("4883c4085a5e5fc3") TAIL,
     true},
    {"too few bytes to judge", "linux", PROG("c3") TAIL, false},
    {"no mapping, but the frame was a frame-pointer guess (clone3)", "linux",
     "{\"symbol_info\":\"Unknown\",\"unwind\":\"frame_pointer\"}", false},
    {"no call before it, but the frame was a frame-pointer guess", "linux",
     "{\"symbol_info\":\"/opt/t/prog!run+0x2a\",\"unwind\":\"frame_pointer\","
     "\"callsite_leading_bytes\":\"4883c4085fc3\"}" TAIL,
     false},
    {"Windows stacks keep return_not_after_call only", "windows",
     "{\"symbol_info\":\"" JW
     "kernelbase.dll!VirtualProtect+0x3b\"},{\"symbol_info\":\"c:\\\\app\\\\prog.exe+0x2a\","
     "\"callsite_leading_bytes\":\"4883c4085fc3\"}",
     false},
};

static void rop_stacks(void)
{
    for (size_t i = 0; i < sizeof rops / sizeof *rops; i++) {
        const rop_case *r = &rops[i];
        char json[2048];
        int n = snprintf(json, sizeof json - 80,
                         "{\"host\":{\"os\":{\"type\":\"%s\"}},\"event\":{\"category\":[\"api\"]},"
                         "\"process\":{\"name\":\"prog\",\"executable\":\"/opt/t/prog\","
                         "\"thread\":{\"Ext\":{\"call_stack\":[%s,%s]}}}}",
                         r->os,
                         strcmp(r->os, "windows") ? LIBC_MP
                                                  : "{\"symbol_info\":\"" JW
                                                    "ntdll.dll!NtProtectVirtualMemory+0x14\"}",
                         r->frames);
        memset(json + n, ' ', 72);
        json[n + 72] = 0;
        const modus_event *ev;
        modus_diag d;
        CHECK(modus_scanner_decode(SC, json, (size_t)n, &ev, &d) == MODUS_OK, "%s: decode: %s",
              r->what, d.message);
        const char *out = modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
        bool has = out && strstr(out, "\"stub_entered_by_return\"");
        CHECK(has == r->rop, "%s: stub_entered_by_return %s: %s", r->what, has ? "set" : "not set",
              out ? out : "");
        const char *m = modus_event_modality(ev);
        if (r->rop) {
            CHECK(!strcmp(m, "shellcode"), "%s: modality %s, want shellcode", r->what, m);
            CHECK_STR(modus_event_syscall(ev), "indirect");
            CHECK_STR(modus_event_confidence(ev), "medium");
            CHECK(out && strstr(out, "return-oriented code"), "%s: evidence names it: %s", r->what,
                  out ? out : "");
        } else {
            CHECK(strcmp(m, "shellcode") != 0, "%s: modality %s", r->what, m);
        }
    }
}

int main(void)
{
    modus_engine *e;
    modus_diag d;
    CHECK(modus_engine_create(NULL, &e, &d) == MODUS_OK, "engine: %s", d.message);
    CHECK(modus_scanner_create(e, &SC) == MODUS_OK, "scanner");
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) run_row(&rows[i]);
    host_inference();
    anomalies();
    rop_stacks();
    modus_scanner_destroy(SC);
    modus_engine_destroy(e);
    return check_done();
}
