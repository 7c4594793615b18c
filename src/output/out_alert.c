/* out_alert.c - render an alert (SPEC §6): the rule, its threat and actions,
 * the modality of the triggering (last) event, host and process of that
 * event, and every event of the match in order.
 *
 * The last event is decoded again by the caller's side scanner to render its
 * modality, and the raw host and process objects are copied from its text
 * (json_locate.c): rendering costs nothing on the events that do not match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../decode/event.h"
#include "../util/sha256.h"
#include "alert.h"

void alert_put_span(buf *b, const char *text, size_t len, const char *key, const char *path)
{
    size_t end;
    long at = mj_locate_span(text, len, path, &end);
    if (at < 0 || end <= (size_t)at) return;
    buf_printf(b, ",\"%s\":", key);
    buf_put(b, text + at, end - (size_t)at);
}

void alert_put_head(buf *b, const char *event, size_t len)
{
    size_t tend;
    long ts = mj_locate_span(event, len, "@timestamp", &tend);
    buf_puts(b, "{\"@timestamp\":");
    if (ts >= 0 && event[ts] == '"') {
        buf_put(b, event + ts, tend - (size_t)ts);
        return;
    }
    char now[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
    buf_puts(b, now);
}

void alert_id(char out[33], const char *rule_id, const char *const *texts, const size_t *lens,
              uint32_t n)
{
    sha256 h;
    sha256_init(&h);
    sha256_update(&h, "modus-alert-1", 14); /* the version of this recipe, with its NUL */
    sha256_update(&h, rule_id ? rule_id : "", rule_id ? strlen(rule_id) + 1 : 1);
    for (uint32_t i = 0; i < n; i++) {
        size_t end;
        long at = mj_locate_span(texts[i], lens[i], "event.id", &end);
        if (at >= 0 && end > (size_t)at && texts[i][at] == '"') {
            sha256_update(&h, "i", 1);
            sha256_update(&h, texts[i] + at, end - (size_t)at);
        } else { /* no id of its own: the event is its bytes */
            sha256_update(&h, "b", 1);
            sha256_update(&h, texts[i], lens[i]);
        }
        sha256_update(&h, "", 1);
    }
    uint8_t d[32];
    sha256_final(&h, d);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) { /* as "%02x", without the printf machinery */
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[32] = 0;
}

static void put_str_or_null(buf *b, const char *s)
{
    if (s)
        buf_put_json_str(b, s, strlen(s));
    else
        buf_puts(b, "null");
}

bool alert_render(buf *b, const rule_src *src, const char *robustness, modus_scanner *side,
                  const modus_event *last_ev, const char *const *texts, const size_t *lens,
                  uint32_t n)
{
    buf_reset(b);
    const char *last = texts[n - 1];
    size_t last_len = lens[n - 1];
    alert_put_head(b, last, last_len);
    char id[33];
    alert_id(id, src->id, texts, lens, n);
    buf_printf(b, ",\"event\":{\"kind\":\"alert\",\"id\":\"%s\"},\"rule\":{\"id\":", id);
    put_str_or_null(b, src->id);
    buf_puts(b, ",\"name\":");
    put_str_or_null(b, src->name);
    buf_puts(b, ",\"description\":");
    put_str_or_null(b, src->description);
    buf_puts(b, ",\"version\":");
    put_str_or_null(b, src->version);
    if (src->severity) {
        buf_puts(b, ",\"severity\":");
        put_str_or_null(b, src->severity);
    }
    if (robustness[0]) buf_printf(b, ",\"robustness\":\"%s\"", robustness);
    buf_puts(b, "},\"threat\":");
    buf_puts(b, src->threat_json ? src->threat_json : "[]");
    /* the modality of the triggering (last) event: decoded already when it
     * is the caller's current event, else decoded again */
    char *copy = NULL;
    const modus_event *ev = last_ev;
    modus_diag d;
    if (!ev && (copy = malloc(last_len + MODUS_PADDING))) {
        memcpy(copy, last, last_len);
        memset(copy + last_len, ' ', MODUS_PADDING);
        if (modus_scanner_decode(side, copy, last_len, &ev, &d) != MODUS_OK) ev = NULL;
    }
    if (ev) {
        buf_putc(b, ',');
        render_modality(b, ev);
    }
    alert_put_span(b, last, last_len, "host", "host");
    alert_put_span(b, last, last_len, "process", "process");
    buf_puts(b, ",\"events\":[");
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        buf_put(b, texts[i], lens[i]);
    }
    buf_putc(b, ']');
    if (src->actions_json) {
        buf_puts(b, ",\"actions\":");
        buf_puts(b, src->actions_json);
    }
    buf_putc(b, '}');
    free(copy);
    return !b->oom;
}
