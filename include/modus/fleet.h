/* fleet.h - libmodus's fleet tier: sensors publish their events and alerts
 * to a broker, scanners consume the events in partitions (issue #13).
 *
 * The broker is NATS JetStream (nats://HOST:PORT[,HOST:PORT...]); the
 * transport sits behind one small interface (src/fleet/fleet.h), so another
 * broker is a new backend, not a new publisher or consumer.
 *
 *   subjects  modus.events.<host>   every event (ECS JSON), message id = event.id
 *             modus.alerts.<host>   every alert, message id = the alert's event.id
 *             modus.dead.<kind>     messages a consumer could not read
 *   streams   MODUS_EVENTS (modus.events.*.*: the server maps each host into
 *             one of N partitions, see modus_fleet_init), MODUS_ALERTS,
 *             MODUS_DEAD; their duplicate window drops resends.
 *
 * <host> is the host name lowercased, with every byte outside [a-z0-9_-]
 * written %XX, so dots and wildcards cannot change the subject's shape.
 *
 * Ownership: *_open returns an object the caller releases with *_close
 * (NULL-safe). Strings passed in are copied. A publisher may be fed from
 * one thread while its own thread sends; a consumer runs its partitions on
 * threads of its own and calls the handler from them (one thread per
 * partition: a handler's state is never shared between threads).
 */
#ifndef MODUS_FLEET_H
#define MODUS_FLEET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modus/modus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most partitions of the events stream. */
#define MODUS_FLEET_MAX_PARTITIONS 64

typedef struct modus_fleet_opts {
    const char *url;        /* nats://HOST:PORT[,HOST:PORT...] */
    const char *user;       /* with password: user/password authentication */
    const char *password;   /*   (NULL: none) */
    const char *token_file; /* a file holding a token (NULL: none) */
    const char *ca_file;    /* PEM CA: TLS, and the server must present a certificate it signed */
    const char *name;       /* the connection's name on the server's monitoring pages */
} modus_fleet_opts;

/* Lines for the user (what was done, what was taken over...). */
typedef void (*modus_fleet_log_fn)(void *ctx, const char *line);

/* ---- streams ------------------------------------------------------------ */

typedef struct modus_fleet_init_opts {
    int replicas;            /* 1 or 3 (0: 1) */
    unsigned partitions;     /* of the events stream, 1..64 (0: 1) */
    double max_age;          /* seconds a message is kept (0: 7 days) */
    int64_t max_bytes;       /* per stream (0: no limit) */
    double duplicate_window; /* seconds (0: 120); at most max_age */
} modus_fleet_init_opts;

/* Creates the streams and key-value buckets, or updates them to these
 * settings (idempotent: running it again changes nothing). Reports each
 * step, the server-side subject mapping every node must carry, and whether
 * the server applies it. */
modus_status modus_fleet_init(const modus_fleet_opts *o, const modus_fleet_init_opts *io,
                              modus_fleet_log_fn log, void *ctx, modus_diag *d);

/* The subject token of a host name (see above). Returns its length;
 * writes at most cap bytes including the NUL (cut to fit). */
size_t modus_fleet_host_token(const char *host, size_t len, char *out, size_t cap);

/* ---- publishing ---------------------------------------------------------- */

typedef struct modus_publisher modus_publisher;
typedef struct modus_publisher_opts {
    const char *host;        /* host of documents without host.name (NULL: gethostname) */
    const char *spool_dir;   /* the on-disk spool (created 0700, files 0600); required */
    uint64_t spool_bytes;    /* its bound (0: 256 MiB); when full the oldest are dropped */
    uint32_t max_inflight;   /* messages sent but not acknowledged (0: 1024) */
    uint32_t ack_timeout_ms; /* a message not acknowledged by then is sent again (0: 5000) */
    modus_fleet_log_fn log;  /* connection lost/restored, spool resumed, drops */
    void *log_ctx;
} modus_publisher_opts;

typedef enum modus_fleet_kind { MODUS_FLEET_EVENT = 0, MODUS_FLEET_ALERT = 1 } modus_fleet_kind;

/* Connects in the background (a server that is down is not an error: the
 * documents wait in the spool) and resumes what a previous run left in the
 * spool. MODUS_EIO: the spool directory cannot be used. */
modus_status modus_publisher_open(const modus_fleet_opts *o, const modus_publisher_opts *po,
                                  modus_publisher **out, modus_diag *d);
/* Queue one document (an ECS JSON object): appended to the spool, sent in
 * order by the publisher's thread; never waits for the network. Its
 * event.id is the message id (without one, a hash of its bytes), its
 * host.name the subject's host (without one, the publisher's host). */
modus_status modus_publisher_put(modus_publisher *p, modus_fleet_kind kind, const char *json,
                                 size_t len);
/* Hand what was put so far to the sending thread (one write to the spool);
 * put() does it by itself every 64 KiB. */
void modus_publisher_flush(modus_publisher *p);

typedef struct modus_publisher_stats {
    uint64_t queued;      /* documents put */
    uint64_t published;   /* acknowledged by the stream (duplicates included) */
    uint64_t duplicates;  /* of which the stream had already stored (a resend) */
    uint64_t spooled;     /* put while the server was unreachable or stalled */
    uint64_t replayed;    /* spooled ones (or resumed from a previous run) published since */
    uint64_t dropped;     /* removed unpublished: the spool was full (oldest first) or damaged */
    uint64_t resent;      /* sends repeated after a timeout or a refusal */
    uint64_t backlog;     /* in the spool, not yet acknowledged */
    uint64_t spool_bytes; /* the spool's size on disk */
    uint64_t reconnects;
    bool connected;
} modus_publisher_stats;
void modus_publisher_stats_get(modus_publisher *p, modus_publisher_stats *out);

/* Stops: waits up to timeout_ms for the backlog to be acknowledged; what is
 * left stays in the spool and is sent by the next run. NULL-safe. */
void modus_publisher_close(modus_publisher *p, int timeout_ms);

/* ---- consuming ----------------------------------------------------------- */

typedef struct modus_consumer modus_consumer;
typedef struct modus_consume_emit modus_consume_emit;

/* How a consumer hands messages to its user. One state per partition,
 * created when the partition is taken and closed when it is given up. */
typedef struct modus_consumer_handler {
    void *(*open)(void *ctx, unsigned partition);
    /* One event (its JSON, MODUS_PADDING readable bytes after len).
     * MODUS_EPARSE (diag->message says why): the message is malformed and
     * goes to the dead-letter subject. Alerts it causes go to emit. */
    modus_status (*message)(void *state, const char *json, size_t len, modus_consume_emit *emit,
                            modus_diag *d);
    /* Before a batch is acknowledged: make its effects durable (a baseline
     * flushes its batch). May be NULL. */
    modus_status (*commit)(void *state, modus_diag *d);
    void (*close)(void *state);
    void *ctx;
} modus_consumer_handler;

/* From within message(): publish an alert on modus.alerts.<its host.name>,
 * its event.id as the message id. The event is acknowledged only once the
 * stream has stored every alert of its batch. */
void modus_consume_alert(modus_consume_emit *e, const char *json, size_t len);

typedef struct modus_consumer_opts {
    const char *group;   /* consumer group: durable names and leases (NULL: "scan") */
    unsigned partitions; /* of the events stream (0: as modus_fleet_init stored it) */
    size_t max_message;  /* larger messages are dead-lettered (0: MODUS_MAX_LINE) */
    uint32_t batch;      /* messages per fetch (0: 1024) */
    double idle_seconds; /* modus_consumer_run returns once nothing came for this
                            long while every partition is held here (0: never) */
    modus_fleet_log_fn log;
    void *log_ctx;
} modus_consumer_opts;

modus_status modus_consumer_open(const modus_fleet_opts *o, const modus_consumer_opts *co,
                                 const modus_consumer_handler *h, modus_consumer **out,
                                 modus_diag *d);
/* Consumes until *stop is set, `seconds` pass (0: no limit) or the stream
 * is idle (opts.idle_seconds), then
 * finishes the batches in hand (alerts stored, messages acknowledged),
 * gives its partitions up and returns. */
modus_status modus_consumer_run(modus_consumer *c, double seconds, volatile sig_atomic_t *stop);

typedef struct modus_consumer_stats {
    uint64_t messages;  /* messages handled */
    uint64_t alerts;    /* alerts stored */
    uint64_t dead;      /* malformed or oversized messages dead-lettered */
    uint64_t skipped;   /* redeliveries of messages already handled */
    uint64_t takeovers; /* partitions taken */
    unsigned held;      /* partitions held now */
} modus_consumer_stats;
void modus_consumer_stats_get(modus_consumer *c, modus_consumer_stats *out);
void modus_consumer_close(modus_consumer *c);

#ifdef __cplusplus
}
#endif
#endif
