/* test_stack_parse.c - every frame form of SPEC §2 and the derived Elastic fields. */
#include "check.h"
#include "stack/stack.h"

static arena A;

static frame parse_sym(const char *s, uint8_t os)
{
    frame f;
    memset(&f, 0, sizeof f);
    f.alloc_private = -1;
    CHECK(stack_parse_symbol_info(&f, &A, sv_cstr(s), os), "parse '%s'", s);
    return f;
}

static bool sveq(sv a, const char *b)
{
    return sv_eq(a, sv_cstr(b));
}

static void test_elastic_forms(void)
{
    frame f = parse_sym("c:\\windows\\system32\\ntdll.dll!NtProtectVirtualMemory+0x14", 0);
    CHECK(f.kind == FRAME_MODULE, "module frame");
    CHECK(sveq(f.path, "c:\\windows\\system32\\ntdll.dll"), "path");
    CHECK(sveq(f.name, "ntdll.dll"), "name");
    CHECK(sveq(f.symbol, "NtProtectVirtualMemory"), "symbol");
    CHECK(f.has_offset && f.offset == 0x14, "offset");

    f = parse_sym("c:\\windows\\system32\\KernelBase.dll+0x2c13e", 0);
    CHECK(sveq(f.name, "kernelbase.dll") && f.symbol.n == 0 && f.offset == 0x2c13e, "path+off");

    f = parse_sym("Unbacked+0x3b5c", 0);
    CHECK(f.kind == FRAME_UNBACKED && f.offset == 0x3b5c, "Unbacked+off");
    f = parse_sym("Unbacked", 0);
    CHECK(f.kind == FRAME_UNBACKED && !f.has_offset, "Unbacked");
    f = parse_sym("Unknown", 0);
    CHECK(f.kind == FRAME_UNKNOWN, "Unknown");

    /* '+' inside the path and the symbol */
    f = parse_sym("c:\\program files\\notepad++\\notepad++.exe!operator+=+0x10", 0);
    CHECK(sveq(f.name, "notepad++.exe") && sveq(f.symbol, "operator+=") && f.offset == 0x10,
          "plus signs: name '%.*s' symbol '%.*s'", (int)f.name.n, f.name.p, (int)f.symbol.n,
          f.symbol.p);
}

static void test_linux_forms(void)
{
    frame f = parse_sym("/usr/lib/x86_64-linux-gnu/libc.so.6!mprotect+0xb", 1);
    CHECK(sveq(f.name, "libc.so.6") && sveq(f.symbol, "mprotect") && f.offset == 0xb, "libc");
    f = parse_sym("/usr/bin/python3.11!_PyEval_EvalFrameDefault+0x1a2", 1);
    CHECK(sveq(f.name, "python3.11") && sveq(f.symbol, "_PyEval_EvalFrameDefault"), "python");
    f = parse_sym("/usr/lib/x86_64-linux-gnu/libstdc++.so.6+0x9a0c0", 1);
    CHECK(sveq(f.name, "libstdc++.so.6") && f.offset == 0x9a0c0 && !f.symbol.n, "libstdc++");
    f = parse_sym("/opt/App/Bin/Tool+0x10", 1);
    CHECK(sveq(f.name, "Tool"), "Linux names keep their case");
    f = parse_sym("Unbacked+0x1f0", 1);
    CHECK(f.kind == FRAME_UNBACKED && f.offset == 0x1f0, "linux unbacked");
}

static void test_sysmon_forms(void)
{
    stack s;
    memset(&s, 0, sizeof s);
    stack_init(&s, STACK_OS_WINDOWS, SRC_SYSMON);
    const char *ct = "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|"
                     "C:\\Windows\\System32\\KERNELBASE.dll+2c13e(wow64)|"
                     "C:\\Windows\\assembly\\NativeImages_v4.0.30319_64\\System.Manaa57fc8cc#\\"
                     "0123abcd\\System.Management.Automation.ni.dll+1e3a5b|"
                     "UNKNOWN(00007FFB1A2B3C4D)|UNKNOWN(1000249F)(wow64)|"
                     "C:\\Program Files\\Notepad++\\notepad++.exe+1234";
    stack_parse_calltrace(&s, &A, sv_cstr(ct));
    CHECK(s.n == 6 && s.errors == 0, "6 frames, no errors (n=%u errors=%u)", s.n, s.errors);
    CHECK(sveq(s.f[0].name, "ntdll.dll") && s.f[0].offset == 0x9d4c4 && !s.f[0].wow64, "frame 0");
    CHECK(sveq(s.f[1].name, "kernelbase.dll") && s.f[1].wow64, "wow64 suffix, mixed case");
    CHECK(sveq(s.f[2].name, "system.management.automation.ni.dll") &&
              memchr(s.f[2].path.p, '#', s.f[2].path.n),
          "'#' in a native-image path");
    CHECK(s.f[3].kind == FRAME_UNBACKED && s.f[3].address == 0x00007FFB1A2B3C4Dull, "16 digits");
    CHECK(s.f[4].kind == FRAME_UNBACKED && s.f[4].address == 0x1000249F && s.f[4].wow64,
          "8 digits + wow64");
    CHECK(sveq(s.f[5].name, "notepad++.exe") && s.f[5].offset == 0x1234, "'+' in a path");

    sv sum;
    stack_summary(&s, &A, &sum);
    CHECK(sveq(sum, "ntdll.dll|kernelbase.dll|system.management.automation.ni.dll|Unbacked|"
                    "notepad++.exe"),
          "summary collapses repeats: %.*s", (int)sum.n, sum.p);
    CHECK(stack_contains_unbacked(&s), "contains unbacked");

    /* malformed frames are kept, counted, located */
    stack_init(&s, STACK_OS_WINDOWS, SRC_SYSMON);
    stack_parse_calltrace(&s, &A, sv_cstr("C:\\a.dll+10||C:\\b.dll+zz|UNKNOWN(xyz)"));
    CHECK(s.n == 4 && s.errors == 3, "3 malformed of 4 (n=%u errors=%u)", s.n, s.errors);
    CHECK(s.err_frame == 1 && s.err_off == 12, "first error at frame 1, byte 12 (%u, %zu)",
          s.err_frame, s.err_off);
    CHECK(s.f[2].malformed && sveq(s.f[2].path, "C:\\b.dll+zz"), "bad frame text kept");
}

static void test_thread_start(void)
{
    stack s;
    memset(&s, 0, sizeof s);
    stack_init(&s, STACK_OS_WINDOWS, SRC_SYSMON);
    stack_parse_calltrace(&s, &A,
                          sv_cstr("C:\\w\\ntdll.dll+1|C:\\w\\kernel32.dll+2|C:\\w\\ntdll.dll+3"));
    CHECK(stack_ends_at_thread_start(&s), "ends at ntdll");
    stack_init(&s, STACK_OS_WINDOWS, SRC_SYSMON);
    stack_parse_calltrace(&s, &A, sv_cstr("C:\\w\\ntdll.dll+1|C:\\w\\app.exe+2"));
    CHECK(!stack_ends_at_thread_start(&s), "ends in app.exe");
}

int main(void)
{
    arena_init(&A, 4096);
    test_elastic_forms();
    test_linux_forms();
    test_sysmon_forms();
    test_thread_start();
    arena_free(&A);
    return check_done();
}
