/* fleet.c - what every backend shares: choosing one by the URL's scheme,
 * subjects and host tokens, and modus_fleet_init. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fleet.h"

int64_t fleet_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fleet_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void fleet_say(modus_fleet_log_fn log, void *ctx, const char *fmt, ...)
{
    if (!log) return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(ctx, line);
}

const fleet_backend *fleet_backend_for(const char *url, modus_diag *d)
{
    static const fleet_backend *const all[] = {&fleet_nats};
    const char *colon = url ? strstr(url, "://") : NULL;
    size_t n = colon ? (size_t)(colon - url) : 0;
    for (size_t i = 0; url && i < sizeof all / sizeof *all; i++) {
        /* nats://, tls:// (NATS over TLS), or host:port alone */
        if (!colon || (n == strlen(all[i]->scheme) && !memcmp(url, all[i]->scheme, n)) ||
            (n == 3 && !memcmp(url, "tls", 3)))
            return all[i];
    }
    if (d) {
        memset(d, 0, sizeof *d);
        snprintf(d->message, sizeof d->message,
                 "'%s': unknown broker (URLs are nats://HOST:PORT[,HOST:PORT...])", url ? url : "");
    }
    return NULL;
}

size_t modus_fleet_host_token(const char *host, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (!cap) return 0;
    if (!len) { /* no name: a token no real name encodes to */
        snprintf(out, cap, "%%00");
        return strlen(out);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        size_t need = keep ? 1 : 3;
        if (n + need + 1 > cap) break;
        if (keep) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = 0;
    return n;
}

bool fleet_subject(char *out, size_t cap, const char *prefix, const char *host, size_t hlen)
{
    size_t pl = strlen(prefix);
    if (pl + 4 > cap) return false;
    memcpy(out, prefix, pl);
    size_t room = cap - pl < FLEET_HOST_TOKEN ? cap - pl : FLEET_HOST_TOKEN;
    modus_fleet_host_token(host, hlen, out + pl, room);
    return true;
}

modus_status modus_fleet_init(const modus_fleet_opts *o, const modus_fleet_init_opts *io,
                              modus_fleet_log_fn log, void *ctx, modus_diag *d)
{
    if ((io->replicas != 0 && io->replicas != 1 && io->replicas != 3) ||
        io->partitions > MODUS_FLEET_MAX_PARTITIONS) {
        if (d) {
            memset(d, 0, sizeof *d);
            snprintf(d->message, sizeof d->message, "replicas must be 1 or 3 and partitions 1..%d",
                     MODUS_FLEET_MAX_PARTITIONS);
        }
        return MODUS_EINVAL;
    }
    const fleet_backend *b = fleet_backend_for(o->url, d);
    if (!b) return MODUS_EINVAL;
    fleet_link *l = NULL;
    modus_status st = b->open(o, true, log, ctx, &l, d);
    if (st != MODUS_OK) return st;
    st = b->init(l, io, log, ctx, d);
    b->close(l);
    return st;
}
