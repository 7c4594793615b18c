/* winmap.c - a Windows event record as an ECS document.
 *
 * Design: table-driven. Each provider has a list of (event id, action,
 * category, type) and a list of (EventData name -> ECS path, conversion);
 * a name maps only for the event ids its row lists (0: every id of the
 * provider). Values are collected as (dotted path, JSON text) pairs, sorted,
 * and written as nested objects, so the tables stay flat and readable. Every
 * EventData pair is also kept under winlog.event_data, as winlogbeat does, so
 * rules written for Elastic's Windows integrations find their fields.
 * Decisions where the integrations differ or are silent are in SPEC notes:
 * event.action is Sysmon's own event name ("ProcessAccess"); image loads are
 * category "library" as Elastic Defend writes them; Sysmon 8/10 targets go to
 * Target.process.* (Elastic Defend's shape) as well as winlog.event_data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "winevt.h"

/* conversions */
enum {
    T_STR,
    T_INT,
    T_HEX,
    T_EXE,
    T_FILE,
    T_USER,
    T_HASHES,
    T_REG,
    T_BOOL,
    T_DIR,
    T_REGDATA,
    T_STACK
};

typedef struct fmap {
    const char *name, *path;
    uint8_t t;
    uint16_t ids[6];  /* event ids this applies to; {0}: all */
    uint8_t name_len; /* filled by M() */
} fmap;
#define M(name, path, t, ...)                                                                      \
    {                                                                                              \
        name, path, t, __VA_ARGS__, sizeof(name) - 1                                               \
    }

typedef struct emeta {
    uint16_t id;
    const char *action, *category, *type; /* category/type: JSON arrays */
} emeta;

typedef struct provider {
    const char *name, *module, *dataset;
    const emeta *meta;
    const fmap *map;
} provider;

/* ---- Sysmon ---- */
static const emeta sysmon_meta[] = {
    {1, "ProcessCreate", "[\"process\"]", "[\"start\"]"},
    {2, "FileCreateTime", "[\"file\"]", "[\"change\"]"},
    {3, "NetworkConnect", "[\"network\"]", "[\"connection\",\"start\"]"},
    {4, "SysmonServiceStateChange", "[\"process\"]", "[\"change\"]"},
    {5, "ProcessTerminate", "[\"process\"]", "[\"end\"]"},
    {6, "DriverLoad", "[\"driver\"]", "[\"start\"]"},
    {7, "ImageLoad", "[\"library\"]", "[\"start\"]"},
    {8, "CreateRemoteThread", "[\"process\"]", "[\"change\"]"},
    {9, "RawAccessRead", "[\"file\"]", "[\"access\"]"},
    {10, "ProcessAccess", "[\"process\"]", "[\"access\"]"},
    {11, "FileCreate", "[\"file\"]", "[\"creation\"]"},
    {12, "RegistryEvent", "[\"registry\"]", "[\"change\"]"},
    {13, "RegistryEvent", "[\"registry\"]", "[\"change\"]"},
    {14, "RegistryEvent", "[\"registry\"]", "[\"change\"]"},
    {15, "FileCreateStreamHash", "[\"file\"]", "[\"creation\"]"},
    {16, "SysmonConfigStateChange", "[\"configuration\"]", "[\"change\"]"},
    {17, "PipeCreated", "[\"file\"]", "[\"creation\"]"},
    {18, "PipeConnected", "[\"file\"]", "[\"access\"]"},
    {19, "WmiEventFilter", "[\"configuration\"]", "[\"creation\"]"},
    {20, "WmiEventConsumer", "[\"configuration\"]", "[\"creation\"]"},
    {21, "WmiEventConsumerToFilter", "[\"configuration\"]", "[\"creation\"]"},
    {22, "DnsQuery", "[\"network\"]", "[\"protocol\",\"info\"]"},
    {23, "FileDelete", "[\"file\"]", "[\"deletion\"]"},
    {24, "ClipboardChange", "[\"process\"]", "[\"change\"]"},
    {25, "ProcessTampering", "[\"process\"]", "[\"change\"]"},
    {26, "FileDeleteDetected", "[\"file\"]", "[\"deletion\"]"},
    {0, NULL, NULL, NULL},
};

static const fmap sysmon_map[] = {
    M("RuleName", "rule.name", T_STR, {0}),
    M("ProcessGuid", "process.entity_id", T_STR, {0}),
    M("ProcessId", "process.pid", T_INT, {0}),
    M("Image", "process", T_EXE, {0}),
    M("User", "user", T_USER, {0}),
    M("CommandLine", "process.command_line", T_STR, {0}),
    M("CurrentDirectory", "process.working_directory", T_STR, {0}),
    M("ParentProcessGuid", "process.parent.entity_id", T_STR, {0}),
    M("ParentProcessId", "process.parent.pid", T_INT, {0}),
    M("ParentImage", "process.parent", T_EXE, {0}),
    M("ParentCommandLine", "process.parent.command_line", T_STR, {0}),
    M("OriginalFileName", "process.pe.original_file_name", T_STR, {1}),
    M("Description", "process.pe.description", T_STR, {1}),
    M("Product", "process.pe.product", T_STR, {1}),
    M("Company", "process.pe.company", T_STR, {1}),
    M("FileVersion", "process.pe.file_version", T_STR, {1}),
    M("Hashes", "process", T_HASHES, {1}),
    /* network */
    M("Protocol", "network.transport", T_STR, {3}),
    M("Initiated", "network.direction", T_DIR, {3}),
    M("SourceIp", "source.ip", T_STR, {3}),
    M("SourcePort", "source.port", T_INT, {3}),
    M("SourceHostname", "source.domain", T_STR, {3}),
    M("DestinationIp", "destination.ip", T_STR, {3}),
    M("DestinationPort", "destination.port", T_INT, {3}),
    M("DestinationHostname", "destination.domain", T_STR, {3}),
    /* drivers and images */
    M("ImageLoaded", "file", T_FILE, {6, 7}),
    M("ImageLoaded", "dll", T_FILE, {7}),
    M("Hashes", "file", T_HASHES, {6, 7}),
    M("Hashes", "dll", T_HASHES, {7}),
    M("Signed", "file.code_signature.signed", T_BOOL, {6, 7}),
    M("Signature", "file.code_signature.subject_name", T_STR, {6, 7}),
    M("SignatureStatus", "file.code_signature.status", T_STR, {6, 7}),
    M("Signed", "dll.code_signature.signed", T_BOOL, {7}),
    M("Signature", "dll.code_signature.subject_name", T_STR, {7}),
    M("SignatureStatus", "dll.code_signature.status", T_STR, {7}),
    M("OriginalFileName", "dll.pe.original_file_name", T_STR, {7}),
    M("Description", "dll.pe.description", T_STR, {7}),
    M("Product", "dll.pe.product", T_STR, {7}),
    M("Company", "dll.pe.company", T_STR, {7}),
    M("FileVersion", "dll.pe.file_version", T_STR, {7}),
    /* process to process: the source is the actor */
    M("SourceProcessGuid", "process.entity_id", T_STR, {8, 10}),
    M("SourceProcessId", "process.pid", T_INT, {8, 10}),
    M("SourceThreadId", "process.thread.id", T_INT, {10}),
    M("SourceImage", "process", T_EXE, {8, 10}),
    M("SourceUser", "user", T_USER, {8, 10}),
    M("TargetProcessGuid", "Target.process.entity_id", T_STR, {8, 10}),
    M("TargetProcessId", "Target.process.pid", T_INT, {8, 10}),
    M("TargetImage", "Target.process", T_EXE, {8, 10}),
    M("NewThreadId", "Target.process.thread.id", T_INT, {8}),
    M("CallTrace", "process.thread.Ext.call_stack", T_STACK, {10}),
    /* files */
    M("TargetFilename", "file", T_FILE, {2, 11, 15, 23, 26}),
    M("Hashes", "file", T_HASHES, {23, 26}),
    M("Hash", "file", T_HASHES, {15}),
    M("PipeName", "file.name", T_STR, {17, 18}),
    M("Device", "file.path", T_STR, {9}),
    /* registry */
    M("TargetObject", "registry", T_REG, {12, 13, 14}),
    M("Details", "registry", T_REGDATA, {13}),
    /* dns */
    M("QueryName", "dns.question.name", T_STR, {22}),
    M("QueryResults", "dns.answers_text", T_STR, {22}),
    {NULL, NULL, 0, {0}, 0},
};

/* ---- Security ---- */
static const emeta security_meta[] = {
    {4688, "created-process", "[\"process\"]", "[\"start\"]"},
    {4689, "exited-process", "[\"process\"]", "[\"end\"]"},
    {4697, "service-installed", "[\"iam\",\"configuration\"]", "[\"admin\",\"change\"]"},
    {0, NULL, NULL, NULL},
};
static const fmap security_map[] = {
    M("SubjectUserName", "user.name", T_STR, {0}),
    M("SubjectDomainName", "user.domain", T_STR, {0}),
    M("SubjectUserSid", "user.id", T_STR, {0}),
    M("NewProcessId", "process.pid", T_HEX, {4688}),
    M("NewProcessName", "process", T_EXE, {4688}),
    M("CommandLine", "process.command_line", T_STR, {4688}),
    M("ProcessId", "process.parent.pid", T_HEX, {4688}),
    M("ParentProcessName", "process.parent", T_EXE, {4688}),
    M("ProcessId", "process.pid", T_HEX, {4689}),
    M("ProcessName", "process", T_EXE, {4689}),
    M("ServiceName", "service.name", T_STR, {4697}),
    {NULL, NULL, 0, {0}, 0},
};

/* ---- System: the service control manager ---- */
static const emeta scm_meta[] = {
    {7045, "service-installed", "[\"configuration\"]", "[\"creation\"]"},
    {7040, "service-start-type-changed", "[\"configuration\"]", "[\"change\"]"},
    {7036, "service-state-changed", "[\"configuration\"]", "[\"change\"]"},
    {0, NULL, NULL, NULL},
};
static const fmap scm_map[] = {
    M("ServiceName", "service.name", T_STR, {7045}),
    M("param1", "service.name", T_STR, {7040, 7036}),
    {NULL, NULL, 0, {0}, 0},
};

static const emeta no_meta[] = {{0, NULL, NULL, NULL}};
static const fmap no_map[] = {{NULL, NULL, 0, {0}, 0}};

static const provider providers[] = {
    {"Microsoft-Windows-Sysmon", "sysmon", "windows.sysmon_operational", sysmon_meta, sysmon_map},
    {"Microsoft-Windows-Security-Auditing", "security", "system.security", security_meta,
     security_map},
    {"Service Control Manager", "system", "system.system", scm_meta, scm_map},
};
static const provider other = {NULL, "windows", "windows.forwarded", no_meta, no_map};

/* ---- the document builder ---- */

#define WM_MAX_KV 1024
typedef struct kv {
    uint64_t key; /* the path's first 8 bytes, big-endian, zero-padded: most compares end here */
    uint32_t poff, plen, voff, vlen, seq;
} kv;

/* EventData name -> fmap rows, per provider: chained hash of the lower-case
 * name, rows kept in table order (the first mapping of a path wins). */
#define WM_BUCKETS 128
typedef struct pindex {
    int16_t head[WM_BUCKETS], tail[WM_BUCKETS], next[256];
} pindex;

struct winmap {
    pindex idx[sizeof providers / sizeof *providers];
    uint32_t esc_off[WINREC_MAX_DATA], esc_len[WINREC_MAX_DATA]; /* event_data values */
    kv kv[WM_MAX_KV];
    size_t n;
    buf paths, vals, tmp;
    char *pool_base; /* paths.p at sort time */
};

static unsigned name_hash(sv n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n.n; i++) h = (h ^ (uint8_t)ascii_lower(n.p[i])) * 16777619u;
    return h & (WM_BUCKETS - 1);
}

winmap *winmap_new(void)
{
    winmap *m = calloc(1, sizeof(winmap));
    if (!m) return NULL;
    for (size_t p = 0; p < sizeof providers / sizeof *providers; p++) {
        pindex *x = &m->idx[p];
        memset(x->head, -1, sizeof x->head);
        memset(x->tail, -1, sizeof x->tail);
        memset(x->next, -1, sizeof x->next);
        for (int i = 0; providers[p].map[i].name && i < 256; i++) {
            unsigned b = name_hash(sv_cstr(providers[p].map[i].name));
            if (x->tail[b] < 0)
                x->head[b] = (int16_t)i;
            else
                x->next[x->tail[b]] = (int16_t)i;
            x->tail[b] = (int16_t)i;
        }
    }
    return m;
}

void winmap_free(winmap *m)
{
    if (!m) return;
    buf_free(&m->paths);
    buf_free(&m->vals);
    buf_free(&m->tmp);
    free(m);
}

/* Adds path (prefix + suffix) with the JSON text now at vals[voff, end). */
static void add(winmap *m, const char *prefix, const char *suffix, size_t voff)
{
    if (m->n >= WM_MAX_KV) return;
    kv *k = &m->kv[m->n];
    k->poff = (uint32_t)m->paths.n;
    buf_puts(&m->paths, prefix);
    if (suffix) buf_puts(&m->paths, suffix);
    k->plen = (uint32_t)(m->paths.n - k->poff);
    k->voff = (uint32_t)voff;
    k->vlen = (uint32_t)(m->vals.n - voff);
    k->seq = (uint32_t)m->n;
    k->key = 0;
    for (uint32_t i = 0; i < 8; i++)
        k->key =
            k->key << 8 | (i < k->plen && !m->paths.oom ? (uint8_t)m->paths.p[k->poff + i] : 0);
    m->n++;
}

static void put_str(winmap *m, const char *prefix, const char *suffix, sv v)
{
    size_t o = m->vals.n;
    buf_put_json_str(&m->vals, v.p ? v.p : "", v.p ? v.n : 0);
    add(m, prefix, suffix, o);
}

static void put_raw(winmap *m, const char *path, const char *json)
{
    size_t o = m->vals.n;
    buf_puts(&m->vals, json);
    add(m, path, NULL, o);
}

static void put_u64(winmap *m, const char *path, uint64_t v)
{
    size_t o = m->vals.n;
    buf_put_u64(&m->vals, v);
    add(m, path, NULL, o);
}

static bool parse_num(sv s, int base, uint64_t *out)
{
    size_t i = 0;
    while (i < s.n && s.p[i] == ' ') i++;
    if (base == 16 && i + 1 < s.n && s.p[i] == '0' && (s.p[i + 1] == 'x' || s.p[i + 1] == 'X'))
        i += 2;
    size_t b = i;
    uint64_t v = 0;
    for (; i < s.n; i++) {
        char c = s.p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 99;
        if (d >= base) break;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    while (i < s.n && s.p[i] == ' ') i++;
    *out = v;
    return i > b && i == s.n;
}

static sv after_last(sv s, char c)
{
    for (size_t i = s.n; i > 0; i--)
        if (s.p[i - 1] == c) return (sv){s.p + i, s.n - i};
    return s;
}

static void map_file(winmap *m, const char *pre, sv v)
{
    put_str(m, pre, ".path", v);
    sv name = after_last(v, '\\');
    put_str(m, pre, ".name", name);
    if (name.n < v.n && name.n + 1 <= v.n)
        put_str(m, pre, ".directory", (sv){v.p, v.n - name.n - 1});
    sv ext = after_last(name, '.');
    if (ext.n < name.n && ext.n) put_str(m, pre, ".extension", ext);
}

static void map_hashes(winmap *m, const char *pre, sv v)
{
    /* SHA1=...,MD5=...,SHA256=...,IMPHASH=... (unknown algorithms stay in event_data) */
    size_t i = 0;
    while (i < v.n) {
        size_t e = i;
        while (e < v.n && v.p[e] != ',') e++;
        sv item = {v.p + i, e - i};
        const char *eq = memchr(item.p, '=', item.n);
        if (eq) {
            sv algo = {item.p, (size_t)(eq - item.p)};
            sv hex = {eq + 1, item.n - algo.n - 1};
            char low[136];
            size_t ln = utf8_cut(hex.p, hex.n < sizeof low ? hex.n : sizeof low, hex.n);
            for (size_t k = 0; k < ln; k++) low[k] = ascii_lower(hex.p[k]);
            sv lh = {low, ln};
            if (sv_ieq(algo, sv_cstr("IMPHASH")))
                put_str(m, pre, ".pe.imphash", lh);
            else if (sv_ieq(algo, sv_cstr("MD5")))
                put_str(m, pre, ".hash.md5", lh);
            else if (sv_ieq(algo, sv_cstr("SHA1")))
                put_str(m, pre, ".hash.sha1", lh);
            else if (sv_ieq(algo, sv_cstr("SHA256")))
                put_str(m, pre, ".hash.sha256", lh);
        }
        i = e + 1;
    }
}

/* HKLM\..., \REGISTRY\MACHINE\..., HKEY_LOCAL_MACHINE\... -> hive + key (+ value) */
static void map_reg(winmap *m, sv v, bool has_value)
{
    static const struct {
        const char *from, *hive;
    } hives[] = {
        {"\\REGISTRY\\MACHINE", "HKLM"},
        {"\\REGISTRY\\USER", "HKU"},
        {"HKEY_LOCAL_MACHINE", "HKLM"},
        {"HKEY_USERS", "HKU"},
        {"HKEY_CURRENT_USER", "HKCU"},
        {"HKEY_CLASSES_ROOT", "HKCR"},
        {"HKEY_CURRENT_CONFIG", "HKCC"},
        {"HKLM", "HKLM"},
        {"HKU", "HKU"},
        {"HKCU", "HKCU"},
        {"HKCR", "HKCR"},
        {"HKCC", "HKCC"},
    };
    const char *hive = NULL;
    sv rest = v;
    for (size_t i = 0; i < sizeof hives / sizeof *hives; i++) {
        sv f = sv_cstr(hives[i].from);
        if (sv_istarts(v, f) && (v.n == f.n || v.p[f.n] == '\\')) {
            hive = hives[i].hive;
            rest = v.n == f.n ? (sv){v.p + f.n, 0} : (sv){v.p + f.n + 1, v.n - f.n - 1};
            break;
        }
    }
    buf_reset(&m->tmp);
    if (hive) {
        buf_puts(&m->tmp, hive);
        if (rest.n) buf_putc(&m->tmp, '\\');
        buf_putsv(&m->tmp, rest);
        put_str(m, "registry.path", NULL, (sv){m->tmp.p, m->tmp.n});
        put_str(m, "registry.hive", NULL, sv_cstr(hive));
    } else {
        put_str(m, "registry.path", NULL, v);
    }
    sv key = rest;
    if (has_value) {
        sv val = after_last(rest, '\\');
        put_str(m, "registry.value", NULL, val);
        key = val.n < rest.n ? (sv){rest.p, rest.n - val.n - 1} : (sv){rest.p, 0};
    }
    if (hive) put_str(m, "registry.key", NULL, key);
    /* a write under SYSTEM\<ControlSet>\Services\<name>: the service it configures, so
     * rules can join it with the 7045/4697 install of the same service */
    static const char svc[] = "\\services\\";
    if (hive && !strcmp(hive, "HKLM")) {
        for (size_t i = 0; i + sizeof svc - 1 < rest.n; i++) {
            if (!sv_istarts((sv){rest.p + i, rest.n - i}, SV_LIT(svc))) continue;
            sv before = {rest.p, i}; /* SYSTEM\\CurrentControlSet or SYSTEM\\ControlSet00N */
            if (!sv_istarts(before, SV_LIT("SYSTEM\\"))) break;
            sv cs = {before.p + 7, before.n - 7};
            if (memchr(cs.p, '\\', cs.n) || !(sv_istarts(cs, SV_LIT("ControlSet")) ||
                                              sv_istarts(cs, SV_LIT("CurrentControlSet"))))
                break;
            sv name = {rest.p + i + sizeof svc - 1, rest.n - i - (sizeof svc - 1)};
            const char *bs = memchr(name.p, '\\', name.n);
            if (bs) name.n = (size_t)(bs - name.p);
            if (name.n && bs) put_str(m, "service.name", NULL, name);
            break;
        }
    }
}

static void map_regdata(winmap *m, sv v)
{
    /* Sysmon writes "DWORD (0x00000002)", "QWORD (0x...-0x...)", "Binary Data" or text */
    static const char *const dw = "DWORD (";
    uint64_t n;
    if (sv_istarts(v, sv_cstr(dw)) && v.n > 8 && v.p[v.n - 1] == ')' &&
        parse_num((sv){v.p + 7, v.n - 8}, 16, &n)) {
        put_str(m, "registry.data.type", NULL, sv_cstr("REG_DWORD"));
        char d[24];
        snprintf(d, sizeof d, "%llu", (unsigned long long)n);
        size_t o = m->vals.n;
        buf_putc(&m->vals, '[');
        buf_put_json_str(&m->vals, d, strlen(d));
        buf_putc(&m->vals, ']');
        add(m, "registry.data.strings", NULL, o);
        return;
    }
    if (sv_istarts(v, sv_cstr("QWORD ("))) {
        put_str(m, "registry.data.type", NULL, sv_cstr("REG_QWORD"));
    } else if (sv_ieq(v, sv_cstr("Binary Data"))) {
        put_str(m, "registry.data.type", NULL, sv_cstr("REG_BINARY"));
        return;
    } else {
        put_str(m, "registry.data.type", NULL, sv_cstr("REG_SZ"));
    }
    size_t o = m->vals.n;
    buf_putc(&m->vals, '[');
    buf_put_json_str(&m->vals, v.p, v.n);
    buf_putc(&m->vals, ']');
    add(m, "registry.data.strings", NULL, o);
}

/* Sysmon's CallTrace "C:\\...\\ntdll.dll+9c584|UNKNOWN(00000000025A1E3B)|..."
 * as Elastic's call_stack: [{"symbol_info": "C:\\...\\ntdll.dll+0x9c584"},
 * {"symbol_info": "Unbacked+0x25a1e3b"}], so the ECS decoder reads it. */
static void map_stack(winmap *m, const char *path, sv v)
{
    size_t o = m->vals.n;
    buf_putc(&m->vals, '[');
    size_t i = 0, nf = 0;
    while (i <= v.n) {
        size_t e = i;
        while (e < v.n && v.p[e] != '|') e++;
        sv f = {v.p + i, e - i};
        i = e + 1;
        if (!f.n) continue;
        buf_reset(&m->tmp);
        const char *plus = NULL;
        for (size_t k = f.n; k > 0; k--)
            if (f.p[k - 1] == '+') {
                plus = f.p + k - 1;
                break;
            }
        if (sv_istarts(f, sv_cstr("UNKNOWN(")) && f.p[f.n - 1] == ')') {
            sv hex = {f.p + 8, f.n - 9};
            while (hex.n > 1 && hex.p[0] == '0') hex.p++, hex.n--;
            buf_puts(&m->tmp, "Unbacked+0x");
            for (size_t k = 0; k < hex.n; k++) buf_putc(&m->tmp, ascii_lower(hex.p[k]));
        } else if (plus && !(plus + 2 < f.p + f.n && plus[1] == '0' && plus[2] == 'x')) {
            buf_put(&m->tmp, f.p, (size_t)(plus - f.p));
            buf_puts(&m->tmp, "+0x");
            buf_put(&m->tmp, plus + 1, f.n - (size_t)(plus - f.p) - 1);
        } else {
            buf_putsv(&m->tmp, f);
        }
        if (nf++) buf_putc(&m->vals, ',');
        buf_puts(&m->vals, "{\"symbol_info\":");
        buf_put_json_str(&m->vals, m->tmp.p, m->tmp.n);
        buf_putc(&m->vals, '}');
    }
    buf_putc(&m->vals, ']');
    add(m, path, NULL, o);
}

static bool applies(const fmap *f, uint32_t id)
{
    if (!f->ids[0]) return true;
    for (size_t i = 0; i < sizeof f->ids / sizeof *f->ids && f->ids[i]; i++)
        if (f->ids[i] == id) return true;
    return false;
}

/* A path whose value is JSON text already in vals (an event_data value). */
static void add_ref(winmap *m, const char *prefix, const char *suffix, uint32_t off, uint32_t len)
{
    if (m->n >= WM_MAX_KV) return;
    size_t end = m->vals.n;
    add(m, prefix, suffix, end);
    m->kv[m->n - 1].voff = off;
    m->kv[m->n - 1].vlen = len;
}

/* esc_off/esc_len: v already escaped in vals (0 length: not there) */
static void map_field(winmap *m, const fmap *f, uint32_t id, sv v, uint32_t esc_off,
                      uint32_t esc_len)
{
    if (!v.n || (v.n == 1 && v.p[0] == '-')) return;
    uint64_t n;
    switch (f->t) {
    case T_STR:
        if (esc_len)
            add_ref(m, f->path, NULL, esc_off, esc_len);
        else
            put_str(m, f->path, NULL, v);
        break;
    case T_INT:
        if (parse_num(v, 10, &n)) put_u64(m, f->path, n);
        break;
    case T_HEX:
        if (parse_num(v, 16, &n)) put_u64(m, f->path, n);
        break;
    case T_EXE:
        if (esc_len)
            add_ref(m, f->path, ".executable", esc_off, esc_len);
        else
            put_str(m, f->path, ".executable", v);
        put_str(m, f->path, ".name", after_last(v, '\\'));
        break;
    case T_FILE: map_file(m, f->path, v); break;
    case T_USER: {
        const char *bs = memchr(v.p, '\\', v.n);
        if (bs) {
            put_str(m, f->path, ".domain", (sv){v.p, (size_t)(bs - v.p)});
            put_str(m, f->path, ".name", (sv){bs + 1, v.n - (size_t)(bs - v.p) - 1});
        } else {
            put_str(m, f->path, ".name", v);
        }
        break;
    }
    case T_HASHES: map_hashes(m, f->path, v); break;
    case T_REG: map_reg(m, v, id != 12); break;
    case T_REGDATA: map_regdata(m, v); break;
    case T_STACK: map_stack(m, f->path, v); break;
    case T_BOOL: put_raw(m, f->path, sv_ieq(v, sv_cstr("true")) ? "true" : "false"); break;
    case T_DIR:
        put_str(m, f->path, NULL, sv_cstr(sv_ieq(v, sv_cstr("true")) ? "egress" : "ingress"));
        break;
    default: break;
    }
}

static int kv_cmp(const void *a, const void *b, void *ctx)
{
    const kv *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    const char *base = ctx;
    size_t n = x->plen < y->plen ? x->plen : y->plen;
    int c = n > 8 ? memcmp(base + x->poff + 8, base + y->poff + 8, n - 8) : 0;
    if (c) return c;
    if (x->plen != y->plen) return x->plen < y->plen ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Writes the sorted pairs as nested objects. */
static void emit(winmap *m, buf *out)
{
    const char *P = m->paths.p, *V = m->vals.p;
    qsort_r(m->kv, m->n, sizeof *m->kv, kv_cmp, (void *)P);
    /* open object path: segments of the previous key */
    const char *open[16];
    size_t open_len[16], depth = 0;
    bool first[17] = {true};
    buf_putc(out, '{');
    for (size_t i = 0; i < m->n; i++) {
        const kv *k = &m->kv[i];
        sv path = {P + k->poff, k->plen};
        if (i > 0 && m->kv[i - 1].plen == k->plen && !memcmp(P + m->kv[i - 1].poff, path.p, path.n))
            continue;       /* duplicate: the first mapping wins */
        if (i + 1 < m->n) { /* a leaf that is also an object prefix: keep the object */
            const kv *nx = &m->kv[i + 1];
            if (nx->plen > k->plen && !memcmp(P + nx->poff, path.p, path.n) &&
                P[nx->poff + path.n] == '.')
                continue;
        }
        /* split into segments */
        const char *seg[16];
        size_t seg_len[16], ns = 0, b = 0;
        for (size_t j = 0; j <= path.n && ns < 16; j++) {
            if (j == path.n || path.p[j] == '.') {
                seg[ns] = path.p + b;
                seg_len[ns++] = j - b;
                b = j + 1;
            }
        }
        size_t common = 0;
        while (common < depth && common + 1 < ns && open_len[common] == seg_len[common] &&
               !memcmp(open[common], seg[common], seg_len[common]))
            common++;
        while (depth > common) {
            buf_putc(out, '}');
            depth--;
        }
        for (size_t s = depth; s + 1 < ns; s++) {
            if (!first[depth]) buf_putc(out, ',');
            first[depth] = false;
            buf_put_json_str(out, seg[s], seg_len[s]);
            buf_puts(out, ":{");
            open[depth] = seg[s];
            open_len[depth] = seg_len[s];
            depth++;
            first[depth] = true;
        }
        if (!first[depth]) buf_putc(out, ',');
        first[depth] = false;
        buf_put_json_str(out, seg[ns - 1], seg_len[ns - 1]);
        buf_putc(out, ':');
        buf_put(out, V + k->voff, k->vlen);
    }
    while (depth > 0) {
        buf_putc(out, '}');
        depth--;
    }
    buf_putc(out, '}');
}

/* timestamps are copied by their first 23 bytes: only when those are ASCII */
static bool ascii23(const char *p)
{
    for (int i = 0; i < 23; i++)
        if ((unsigned char)p[i] >= 0x80) return false;
    return true;
}

void winmap_ecs(winmap *m, const winrec *r, buf *out)
{
    m->n = 0;
    buf_reset(&m->paths);
    buf_reset(&m->vals);
    const provider *pv = &other;
    for (size_t i = 0; i < sizeof providers / sizeof *providers; i++)
        if (r->provider.p && sv_eq(r->provider, sv_cstr(providers[i].name))) pv = &providers[i];
    const emeta *em = NULL;
    for (const emeta *e = pv->meta; e->id; e++)
        if (e->id == r->event_id) em = e;

    /* @timestamp: SystemTime to milliseconds */
    sv t = r->time;
    if (t.n >= 23 && t.p[19] == '.' && ascii23(t.p)) {
        char ts[32];
        memcpy(ts, t.p, 23);
        ts[23] = 'Z';
        put_str(m, "@timestamp", NULL, (sv){ts, 24});
    } else if (t.p) {
        put_str(m, "@timestamp", NULL, t);
    } else {
        /* Sysmon's UtcTime, "2020-06-10 02:50:55.941" */
        for (size_t i = 0; i < r->ndata; i++)
            if (sv_eq(r->data_name[i], sv_cstr("UtcTime")) && r->data_val[i].n == 23 &&
                r->data_val[i].p[10] == ' ' && ascii23(r->data_val[i].p)) {
                char ts[32];
                memcpy(ts, r->data_val[i].p, 23);
                ts[10] = 'T';
                ts[23] = 'Z';
                put_str(m, "@timestamp", NULL, (sv){ts, 24});
                break;
            }
    }
    char id[16];
    {
        int k = 15;
        uint32_t v = r->event_id;
        id[k] = 0;
        do id[--k] = (char)('0' + v % 10);
        while ((v /= 10) && k > 0);
        memmove(id, id + k, (size_t)(16 - k));
    }
    put_str(m, "event.code", NULL, sv_cstr(id));
    put_str(m, "event.kind", NULL, sv_cstr("event"));
    put_str(m, "event.module", NULL, sv_cstr(pv->module));
    put_str(m, "event.dataset", NULL, sv_cstr(pv->dataset));
    if (r->provider.p) put_str(m, "event.provider", NULL, r->provider);
    if (em) {
        put_str(m, "event.action", NULL, sv_cstr(em->action));
        put_raw(m, "event.category", em->category);
        const char *type = em->type;
        if (r->event_id == 12 && pv == &providers[0]) {
            for (size_t i = 0; i < r->ndata; i++)
                if (sv_eq(r->data_name[i], sv_cstr("EventType")))
                    type = sv_istarts(r->data_val[i], sv_cstr("Create"))   ? "[\"creation\"]"
                           : sv_istarts(r->data_val[i], sv_cstr("Delete")) ? "[\"deletion\"]"
                                                                           : type;
        }
        put_raw(m, "event.type", type);
    }
    put_str(m, "host.os.type", NULL, sv_cstr("windows"));
    put_str(m, "host.os.family", NULL, sv_cstr("windows"));
    if (r->computer.p) {
        put_str(m, "host.name", NULL, r->computer);
        put_str(m, "winlog.computer_name", NULL, r->computer);
    }
    if (r->channel.p) put_str(m, "winlog.channel", NULL, r->channel);
    put_str(m, "winlog.event_id", NULL, sv_cstr(id));
    if (r->provider.p) put_str(m, "winlog.provider_name", NULL, r->provider);
    if (r->record_id_text.p) put_u64(m, "winlog.record_id", r->record_id);
    if (r->has_exec) {
        put_u64(m, "winlog.process.pid", r->exec_pid);
        put_u64(m, "winlog.process.thread.id", r->exec_tid);
    }
    if (r->user_sid.p) put_str(m, "winlog.user.identifier", NULL, r->user_sid);
    if (r->version.p) put_str(m, "winlog.version", NULL, r->version);
    if (r->task.p) put_str(m, "winlog.task", NULL, r->task);
    if (r->opcode.p) put_str(m, "winlog.opcode", NULL, r->opcode);
    if (r->keywords.p) put_str(m, "winlog.keywords", NULL, r->keywords);
    if (r->level.p) put_str(m, "winlog.level", NULL, r->level);

    /* every pair, as winlogbeat keeps it: one object, written in record
     * order (a repeated name keeps its first value), not sorted with the rest */
    size_t ed = m->vals.n;
    bool any = false;
    for (size_t i = 0; i < r->ndata; i++) {
        sv name = r->data_name[i];
        m->esc_len[i] = 0;
        if (!name.n || name.n >= 64) continue;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) dup = sv_eq(r->data_name[j], name);
        if (dup) continue;
        buf_putc(&m->vals, any ? ',' : '{');
        any = true;
        char key[64];
        for (size_t k = 0; k < name.n; k++) key[k] = name.p[k] == '.' ? '_' : name.p[k];
        buf_put_json_str(&m->vals, key, name.n);
        buf_putc(&m->vals, ':');
        m->esc_off[i] = (uint32_t)m->vals.n;
        buf_put_json_str(&m->vals, r->data_val[i].p ? r->data_val[i].p : "", r->data_val[i].n);
        m->esc_len[i] = (uint32_t)(m->vals.n - m->esc_off[i]);
    }
    if (any) {
        buf_putc(&m->vals, '}');
        add(m, "winlog.event_data", NULL, ed);
    }
    for (size_t i = 0; i < r->ndata; i++) {
        sv name = r->data_name[i], v = r->data_val[i];
        if (pv == &other) continue;
        const pindex *x = &m->idx[pv - providers];
        for (int k = x->head[name_hash(name)]; k >= 0; k = x->next[k]) {
            const fmap *f = &pv->map[k];
            if (f->name_len == name.n && applies(f, r->event_id) && sv_ieq(name, sv_cstr(f->name)))
                map_field(m, f, r->event_id, v, m->esc_off[i], m->esc_len[i]);
        }
    }
    for (size_t i = 0; i < r->nraw; i++) {
        char key[96];
        if (r->raw_name[i].n >= sizeof key) continue;
        memcpy(key, r->raw_name[i].p, r->raw_name[i].n);
        key[r->raw_name[i].n] = 0;
        size_t o = m->vals.n;
        buf_putsv(&m->vals, r->raw_json[i]);
        add(m, key, NULL, o);
    }
    emit(m, out);
}
