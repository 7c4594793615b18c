/* limits.h - every cap modus applies, in one place.
 *
 * Each limit bounds memory or time against hostile or broken input. A value
 * that exceeds a cap is reported (with its location) and skipped or cut, never
 * allowed to grow state without bound. Override at build time with -D.
 */
#ifndef MODUS_LIMITS_H
#define MODUS_LIMITS_H

/* Longest NDJSON line accepted; longer lines are reported and skipped
 * without being buffered. Also the default of `modus scan --max-line`. */
#ifndef MODUS_MAX_LINE
#define MODUS_MAX_LINE (16u << 20)
#endif

/* Read block for the line reader. */
#ifndef MODUS_READ_BLOCK
#define MODUS_READ_BLOCK (1u << 20)
#endif

/* Deepest JSON nesting accepted (ECS documents nest < 10 levels). */
#ifndef MODUS_MAX_JSON_DEPTH
#define MODUS_MAX_JSON_DEPTH 128
#endif

/* Most nodes (values) in one JSON document. */
#ifndef MODUS_MAX_JSON_NODES
#define MODUS_MAX_JSON_NODES (1u << 22)
#endif

/* Frames kept per stack; extra frames are dropped and `truncated` is set. */
#ifndef MODUS_MAX_FRAMES
#define MODUS_MAX_FRAMES 256
#endif

/* Sysmon's own cap on CallTrace frames. */
#define MODUS_SYSMON_FRAME_CAP 24

/* Longest string handled in a call-stack frame (path, symbol). */
#ifndef MODUS_MAX_FRAME_TEXT
#define MODUS_MAX_FRAME_TEXT 4096
#endif

/* Most evidence / anomaly strings attached to one classification. */
#define MODUS_MAX_EVIDENCE  12
#define MODUS_MAX_ANOMALIES 8
#define MODUS_MAX_LAYERS    8

/* Private executable bytes in an image from which its frames count as
 * private code (stomped / hollowed module); inline hooks make 4-8 KB. */
#ifndef MODUS_STOMPED_BYTES
#define MODUS_STOMPED_BYTES (64 * 1024)
#endif

/* Signature table: most entries and longest line. */
#define MODUS_MAX_SIGNATURES 4096
#define MODUS_MAX_SIG_LINE   1024

/* Errors printed per input file before they are only counted. */
#define MODUS_MAX_REPORTED_ERRORS 20

/* Baselines: distinct tuples aggregated in memory before a batch is written
 * (one transaction; bounds a learner's memory whatever the input size), and
 * verdicts cached by `baseline check` (the cache is emptied when full). */
#ifndef MODUS_BASELINE_MAX_PENDING
#define MODUS_BASELINE_MAX_PENDING (1u << 15)
#endif
#ifndef MODUS_BASELINE_MAX_CACHE
#define MODUS_BASELINE_MAX_CACHE (1u << 14)
#endif

/* Sigma rule files (src/rules/sigma*.c): YAML nesting, nodes and anchors per
 * file (aliases are shared, never copied); per document, the values expanded
 * (windash, lists, aliases) and the EQL text generated. */
#ifndef MODUS_SIGMA_MAX_DEPTH
#define MODUS_SIGMA_MAX_DEPTH 64
#endif
#ifndef MODUS_SIGMA_MAX_NODES
#define MODUS_SIGMA_MAX_NODES 200000
#endif
#define MODUS_SIGMA_MAX_ANCHORS 256
#ifndef MODUS_SIGMA_MAX_WORK
#define MODUS_SIGMA_MAX_WORK 200000
#endif
#ifndef MODUS_SIGMA_MAX_QUERY
#define MODUS_SIGMA_MAX_QUERY (1u << 20)
#endif

/* EQL samples and missing-event sequences (src/detect/detect_sample.c): join
 * keys and complete matches waiting for their window, per rule. */
#ifndef MODUS_SAMPLE_MAX_KEYS
#define MODUS_SAMPLE_MAX_KEYS 20000
#endif

/* The fleet tier (src/fleet): a publisher's default spool bound, the
 * documents sent and not yet acknowledged, how long an acknowledgement may
 * take before the window is sent again; a consumer's messages per batch. */
#ifndef MODUS_FLEET_SPOOL_BYTES
#define MODUS_FLEET_SPOOL_BYTES (256ull << 20)
#endif
#ifndef MODUS_FLEET_INFLIGHT
#define MODUS_FLEET_INFLIGHT 1024
#endif
#ifndef MODUS_FLEET_ACK_TIMEOUT_MS
#define MODUS_FLEET_ACK_TIMEOUT_MS 5000
#endif
#ifndef MODUS_FLEET_BATCH
#define MODUS_FLEET_BATCH 1024
#endif

/* Sequence partial matches and the process tree (lineage), every rule of an
 * alerter together (modus scan --state-mb; -j N shares it among threads):
 * past it the stalest entries are evicted and counted. */
#ifndef MODUS_STATE_BYTES
#define MODUS_STATE_BYTES (8ull << 20)
#endif

#endif
