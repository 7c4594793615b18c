/* test_event.c - the public event API: typed access by dotted path (arrays,
 * flattened keys, fields outside what decoding reads), and anomalies that
 * need a stack shape (truncated, no_stub, unbacked). */
#include <stdlib.h>

#include "check.h"
#include "modus/modus.h"

static modus_scanner *SC;

static const modus_event *decode(const char *json)
{
    size_t n = strlen(json);
    char *buf = malloc(n + MODUS_PADDING);
    memcpy(buf, json, n);
    memset(buf + n, ' ', MODUS_PADDING);
    const modus_event *ev = NULL;
    modus_diag d;
    modus_status st = modus_scanner_decode(SC, buf, n, &ev, &d);
    CHECK(st == MODUS_OK, "decode %s: %s", json, d.message);
    /* the event borrows the buffer until the next decode: keep the last one */
    static char *keep;
    free(keep);
    keep = buf;
    return ev;
}

static void test_access(void)
{
    const modus_event *ev = decode(
        "{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"event\":{\"category\":[\"api\",\"process\"]},"
        "\"process\":{\"pid\":4242,\"name\":\"x.exe\",\"args\":[\"a\",\"b c\"],\"neg\":-3,"
        "\"ratio\":0.5,\"big\":18446744073709551615,\"ok\":true,\"none\":null,\"esc\":\"C:"
        "\\\\Windows\\\\\\u00e9\","
        "\"thread\":{\"Ext\":{\"call_stack\":[{\"symbol_info\":\"Unbacked+0x10\","
        "\"protection\":\"RWX\"}]}}},\"user.name\":\"flat\"}");
    modus_value v, e;
    CHECK(modus_event_get(ev, "process.pid", &v) == MODUS_OK && v.type == MODUS_T_INT &&
              v.i == 4242,
          "integers that fit int64 are MODUS_T_INT");
    CHECK(modus_event_get(ev, "process.big", &v) == MODUS_OK && v.type == MODUS_T_UINT &&
              v.u == UINT64_MAX,
          "above int64: MODUS_T_UINT");
    CHECK(modus_event_get(ev, "process.neg", &v) == MODUS_OK && v.type == MODUS_T_INT && v.i == -3,
          "int");
    CHECK(modus_event_get(ev, "process.ratio", &v) == MODUS_OK && v.type == MODUS_T_DOUBLE &&
              v.d == 0.5,
          "double");
    CHECK(modus_event_get(ev, "process.ok", &v) == MODUS_OK && v.type == MODUS_T_BOOL && v.b,
          "bool");
    CHECK(modus_event_get(ev, "process.none", &v) == MODUS_OK && v.type == MODUS_T_NULL, "null");
    CHECK(modus_event_get(ev, "process.esc", &v) == MODUS_OK && v.type == MODUS_T_STRING &&
              v.len == 13 && !memcmp(v.str, "C:\\Windows\\\xc3\xa9", 13),
          "unescaped string");
    CHECK(modus_event_get(ev, "process.args", &v) == MODUS_OK && v.type == MODUS_T_ARRAY &&
              v.len == 2,
          "array");
    CHECK(modus_value_index(ev, &v, 1, &e) == MODUS_OK && e.len == 3 && !memcmp(e.str, "b c", 3),
          "array element");
    CHECK(modus_value_index(ev, &v, 2, &e) == MODUS_ENOTFOUND, "past the end");
    CHECK(modus_event_get(ev, "event.category", &v) == MODUS_OK && v.len == 2, "category array");
    CHECK(modus_event_get(ev, "user.name", &v) == MODUS_OK && v.len == 4, "flattened key");
    CHECK(modus_event_get(ev, "@timestamp", &v) == MODUS_OK && v.len == 20, "@timestamp");
    CHECK(modus_event_get(ev, "process.thread.Ext.call_stack", &v) == MODUS_OK && v.len == 1,
          "call stack array");
    CHECK(modus_value_index(ev, &v, 0, &e) == MODUS_OK && e.type == MODUS_T_OBJECT, "frame");
    CHECK(modus_value_get(ev, &e, "protection", &v) == MODUS_OK && v.len == 3, "frame member");
    CHECK(modus_event_get(ev, "process.nosuch", &v) == MODUS_ENOTFOUND, "absent field");
    CHECK(modus_event_get(ev, "process", &v) == MODUS_OK && v.type == MODUS_T_OBJECT,
          "object value");
    CHECK_STR(modus_event_modality(ev), "shellcode");
}

static void test_anomalies(void)
{
    const modus_event *ev;
    modus_diag d;
    /* 24 Sysmon frames that do not end at the thread start: truncated */
    char ct[4096] = "C:\\w\\ntdll.dll+1|C:\\w\\kernelbase.dll+2";
    for (int i = 0; i < 22; i++) strcat(ct, "|C:\\app\\app.exe+10");
    CHECK(modus_scanner_explain(SC, MODUS_OS_WINDOWS, MODUS_STACK_CALLTRACE, ct, strlen(ct), NULL,
                                &ev, &d) == MODUS_OK,
          "explain");
    const char *out = modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
    CHECK(out && strstr(out, "\"truncated\""), "24 frames, no thread start: truncated");
    CHECK_STR(modus_event_confidence(ev), "medium");
    /* the same ending at ntdll: complete */
    char *last = strrchr(ct, '|');
    strcpy(last, "|C:\\w\\ntdll.dll+3");
    modus_scanner_explain(SC, MODUS_OS_WINDOWS, MODUS_STACK_CALLTRACE, ct, strlen(ct), NULL, &ev,
                          &d);
    out = modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
    CHECK(out && !strstr(out, "\"truncated\""), "ends at ntdll: not truncated");
    /* no_stub + unbacked */
    const char *s2 = "UNKNOWN(00007FF612340000)|C:\\w\\kernel32.dll+2|C:\\w\\ntdll.dll+3";
    modus_scanner_explain(SC, MODUS_OS_WINDOWS, MODUS_STACK_CALLTRACE, s2, strlen(s2), NULL, &ev,
                          &d);
    out = modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
    CHECK(out && strstr(out, "\"anomalies\":[\"unbacked\",\"no_stub\"]"), "no_stub, unbacked: %s",
          out ? out : "");
    CHECK_STR(modus_event_syscall(ev), "direct");
}

int main(void)
{
    modus_engine *e;
    modus_diag d;
    CHECK(modus_engine_create(NULL, &e, &d) == MODUS_OK, "engine");
    CHECK(modus_scanner_create(e, &SC) == MODUS_OK, "scanner");
    test_access();
    test_anomalies();
    modus_scanner_destroy(SC);
    modus_engine_destroy(e);
    return check_done();
}
