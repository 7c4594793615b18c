/* fleet.h - the broker behind one small interface.
 *
 * The publisher (fleet_pub.c) and the consumer (fleet_consume.c) know
 * subjects, message ids, partitions and acknowledgements; how a broker
 * stores, replicates, leases and redelivers is a backend's business. NATS
 * JetStream is the one backend (fleet_nats.c); a Kafka backend would map
 * subjects to topics and keys, send() to an idempotent producer, assign()
 * to its consumer-group protocol and commit() to offset commits.
 *
 * Threads: send() and the part_*() calls may run on different threads; one
 * fleet_part is used by one thread at a time. Acknowledgements of sends
 * arrive on the backend's own thread.
 */
#ifndef MODUS_FLEET_FLEET_H
#define MODUS_FLEET_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modus/fleet.h"

/* Subjects, streams and buckets (include/modus/fleet.h describes them). */
#define FLEET_EVENTS_PREFIX "modus.events."
#define FLEET_ALERTS_PREFIX "modus.alerts."
#define FLEET_DEAD_PREFIX   "modus.dead."
#define FLEET_EVENTS_STREAM "MODUS_EVENTS"
#define FLEET_ALERTS_STREAM "MODUS_ALERTS"
#define FLEET_DEAD_STREAM   "MODUS_DEAD"
#define FLEET_LEASES_BUCKET "modus_leases"
#define FLEET_CONFIG_BUCKET "modus_fleet"
/* A lease not renewed for this long is free; holders renew every second
 * and stop fetching once their last renewal is FLEET_LEASE_SAFE_MS old. */
#define FLEET_LEASE_TTL_MS  5000
#define FLEET_LEASE_SAFE_MS 3000
#define FLEET_HOST_TOKEN    512 /* longest host token kept in a subject */

typedef struct fleet_link fleet_link; /* one connection to the broker */
typedef struct fleet_part fleet_part; /* one partition being consumed */

typedef enum fleet_result {
    FLEET_STORED,    /* the stream stored it */
    FLEET_DUPLICATE, /* the stream had it already (same message id) */
    FLEET_REFUSED,   /* not stored: no stream, no leader, limits... */
} fleet_result;

/* The outcome of one send, on the backend's thread. */
typedef void (*fleet_ack_fn)(void *ctx, uint64_t tag, fleet_result r, const char *why);

typedef struct fleet_hdr {
    const char *key, *value;
} fleet_hdr;

typedef struct fleet_msg {
    const char *subject;
    const char *id; /* message id (de-duplication), NUL-terminated */
    const void *data;
    size_t len;
    const fleet_hdr *hdrs;
    size_t nhdrs;
} fleet_msg;

/* A consumed message; valid until the next part_fetch. */
typedef struct fleet_delivery {
    const char *data; /* MODUS_PADDING readable bytes follow */
    size_t len;
    const char *subject;
    uint64_t stream_seq;
} fleet_delivery;

typedef struct fleet_backend {
    const char *scheme; /* URL scheme, e.g. "nats" */
    /* wait: fail when the broker cannot be reached now (otherwise keep
     * trying in the background) */
    modus_status (*open)(const modus_fleet_opts *o, bool wait, modus_fleet_log_fn log, void *ctx,
                         fleet_link **out, modus_diag *d);
    void (*close)(fleet_link *l);
    bool (*connected)(fleet_link *l, uint64_t *reconnects);

    /* Producing. A sender is a callback for the acknowledgements of the
     * sends made under its number; send() never waits for them. */
    int (*sender)(fleet_link *l, fleet_ack_fn fn, void *ctx);
    modus_status (*send)(fleet_link *l, int sender, uint64_t tag, const fleet_msg *m);

    /* Consumer groups, called every second. assign() renews this member's
     * partitions (*held in/out, bit p; a partition whose lease was lost
     * leaves the set), gives up those in `release` (their batches are
     * done), takes free ones up to its share, and sets *surplus to those it
     * holds beyond its share (to finish and release). A partition whose
     * lease could not be renewed lately is fenced: part_fetch returns
     * MODUS_DONE without fetching until a renewal succeeds. */
    unsigned (*partitions)(fleet_link *l); /* as stored by init; 0: unknown */
    modus_status (*assign)(fleet_link *l, const char *group, const char *member, unsigned n,
                           uint64_t *held, uint64_t release, uint64_t *surplus, modus_diag *d);
    /* Gives up the partitions in `held` and leaves the group. */
    void (*leave)(fleet_link *l, const char *group, const char *member, unsigned n, uint64_t held);
    /* Starts consuming partition p after its last committed message. */
    modus_status (*part_open)(fleet_link *l, const char *group, unsigned p, fleet_part **out,
                              modus_diag *d);
    /* Up to max messages, in order, waiting at most timeout_ms. A message
     * seen before (a redelivery) is not returned again. */
    modus_status (*part_fetch)(fleet_part *p, size_t max, int timeout_ms, fleet_delivery **out,
                               size_t *n, uint64_t *skipped);
    /* Every message up to the last one fetched is done. */
    modus_status (*part_commit)(fleet_part *p);
    void (*part_close)(fleet_part *p);

    /* Streams and buckets (modus fleet init). */
    modus_status (*init)(fleet_link *l, const modus_fleet_init_opts *io, modus_fleet_log_fn log,
                         void *ctx, modus_diag *d);
} fleet_backend;

extern const fleet_backend fleet_nats;
/* For tests: the inbox a NATS partition pulls into, and the subject its pull
 * requests go to. */
const char *fleet_nats_part_inbox(const fleet_part *p);
const char *fleet_nats_part_next_subject(const fleet_part *p);
/* The backend of a URL's scheme, or NULL (diag says which schemes exist). */
const fleet_backend *fleet_backend_for(const char *url, modus_diag *d);

/* Monotonic milliseconds. */
int64_t fleet_now_ms(void);
/* A formatted line to a log callback (nothing without one). */
void fleet_say(modus_fleet_log_fn log, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sleeps ms milliseconds. */
void fleet_sleep_ms(int ms);

/* "modus.<kind>.<host token>" into out; false when it does not fit. */
bool fleet_subject(char *out, size_t cap, const char *prefix, const char *host, size_t hlen);

/* Parsing what the broker says (fleet_nats_parse.c; fuzzed). */
typedef struct fleet_ack_meta {
    uint64_t stream_seq, delivery_seq, delivered;
} fleet_ack_meta;
/* A JetStream reply subject "$JS.ACK.<stream>.<consumer>.<delivered>.
 * <stream seq>.<delivery seq>.<time>.<pending>" (or the longer form with a
 * domain and account); false when it is not one. */
bool fleet_parse_ack_subject(const char *s, size_t n, fleet_ack_meta *m);
/* A publish acknowledgement ({"stream":..,"seq":..[,"duplicate":true]} or
 * {"error":{...}}); why gets the server's description on refusal. */
fleet_result fleet_parse_puback(const char *json, size_t n, char *why, size_t cap);

#endif
