/* modus.h - libmodus public API.
 *
 * libmodus decodes security telemetry, parses call stacks and names the
 * execution modality (the runtime or tool that performed each behaviour).
 *
 * Objects and ownership
 *   modus_engine   immutable after creation (the modality signature table;
 *                  later the compiled rules); share it between threads.
 *   modus_scanner  per thread: parser, scratch memory, caches. Not thread-safe.
 *   modus_source   one input (file or stdin) read as lines; per thread.
 *   modus_event    borrowed from the scanner: valid until the next decode or
 *                  explain call on the same scanner. Every string a function
 *                  returns from an event is borrowed the same way.
 * Every *_create / *_open returns an object the caller owns and releases with
 * the matching *_destroy / *_close, which accept NULL.
 *
 * Errors
 *   Functions return enum modus_status; modus_strerror() names it. Functions
 *   that read input fill a modus_diag with the location (file, line, column,
 *   byte offset) and a message. The library never prints.
 */
#ifndef MODUS_MODUS_H
#define MODUS_MODUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MODUS_VERSION "0.1.0"

typedef enum modus_status {
    MODUS_OK = 0,
    MODUS_DONE,      /* end of input */
    MODUS_ENOMEM,    /* out of memory */
    MODUS_EINVAL,    /* invalid argument */
    MODUS_EIO,       /* cannot open or read */
    MODUS_EPARSE,    /* malformed input */
    MODUS_ETOOLONG,  /* a line exceeds the line cap */
    MODUS_ENOTFOUND, /* no such field */
    MODUS_ETABLE,    /* bad modality signature table */
} modus_status;

const char *modus_strerror(modus_status st);

typedef struct modus_diag {
    char file[256];  /* input name, "" if not from a file */
    uint64_t line;   /* 1-based line or record number, 0 if unknown */
    uint64_t column; /* 1-based byte column in the line, 0 if unknown */
    uint64_t offset; /* byte offset in the file, of the error where known */
    char message[256];
} modus_diag;

/* Bytes past the end of a JSON buffer that must be readable (any content). */
#define MODUS_PADDING 64

typedef enum modus_os { MODUS_OS_WINDOWS = 0, MODUS_OS_LINUX = 1 } modus_os;

/* ---- engine ------------------------------------------------------------ */

typedef struct modus_engine modus_engine;
typedef struct modus_query modus_query;
typedef struct modus_engine_opts {
    const char *modalities_path; /* NULL: the embedded table */
    /* queries that will run on this engine's events: their fields are
     * extracted while decoding (borrowed; must outlive the engine) */
    const modus_query *const *queries;
    size_t nqueries;
    const struct modus_ruleset *rules; /* borrowed, may be NULL: same, for a rule set */
} modus_engine_opts;

modus_status modus_engine_create(const modus_engine_opts *opts, modus_engine **out,
                                 modus_diag *diag);
void modus_engine_destroy(modus_engine *e);
/* The embedded modality signature table's text. */
const char *modus_default_modalities(size_t *len);

/* ---- input ------------------------------------------------------------- */

typedef struct modus_source modus_source;
typedef struct modus_source_opts {
    size_t max_line; /* 0: MODUS_MAX_LINE (16 MiB) */
} modus_source_opts;

/* path "-" reads stdin. */
modus_status modus_source_open(const char *path, const modus_source_opts *opts, modus_source **out,
                               modus_diag *diag);
/* Next line (without the newline), with MODUS_PADDING readable bytes after it.
 * MODUS_OK: a line; MODUS_DONE: end of input; MODUS_ETOOLONG / MODUS_EIO:
 * diag says where; after ETOOLONG the reader has skipped that line and the
 * next call goes on. Empty and blank lines are skipped. */
modus_status modus_source_next(modus_source *s, const char **line, size_t *len, modus_diag *diag);
void modus_source_close(modus_source *s);
typedef struct modus_source_stats {
    uint64_t lines, bytes, too_long;
} modus_source_stats;
void modus_source_stats_get(const modus_source *s, modus_source_stats *out);

/* ---- scanner and events ------------------------------------------------ */

typedef struct modus_scanner modus_scanner;
typedef struct modus_event modus_event;

modus_status modus_scanner_create(const modus_engine *e, modus_scanner **out);
void modus_scanner_destroy(modus_scanner *s);

/* Decode one ECS JSON document (an Elastic Defend event, a modus sensor
 * event, or a flat Sysmon JSON record with CallTrace), parse its call stack
 * and classify it. `json` needs MODUS_PADDING readable bytes after len. On
 * MODUS_EPARSE diag->column/message tell where (the caller adds file/line). */
modus_status modus_scanner_decode(modus_scanner *s, const char *json, size_t len,
                                  const modus_event **out, modus_diag *diag);

typedef enum modus_stack_form {
    MODUS_STACK_CALLTRACE, /* Sysmon CallTrace: frames joined by '|' */
    MODUS_STACK_LINES,     /* one frame per line, any supported form */
} modus_stack_form;

/* Parse and classify a stack given as text. `image` (may be NULL) is the
 * acting process's executable. Malformed frames are kept and reported in
 * diag (MODUS_EPARSE is returned with the event still filled). */
modus_status modus_scanner_explain(modus_scanner *s, modus_os os, modus_stack_form form,
                                   const char *text, size_t len, const char *image,
                                   const modus_event **out, modus_diag *diag);

typedef enum modus_type {
    MODUS_T_MISSING,
    MODUS_T_NULL,
    MODUS_T_BOOL,
    MODUS_T_INT,
    MODUS_T_UINT,
    MODUS_T_DOUBLE,
    MODUS_T_STRING,
    MODUS_T_ARRAY,
    MODUS_T_OBJECT,
} modus_type;

/* A JSON integer is MODUS_T_INT when it fits int64_t, MODUS_T_UINT above. */
typedef struct modus_value {
    modus_type type;
    const char *str; /* MODUS_T_STRING: not NUL-terminated */
    size_t len;      /* string length, or element/member count of a container */
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    uint32_t ref; /* internal handle for containers */
} modus_value;

/* Field by dotted path ("process.thread.Ext.call_stack"); flattened keys
 * ("process.name" as one key) are found too. The fields modus adds (SPEC §3:
 * modality.*, derived call_stack_* fields) are not visible here; use the
 * modality accessors. MODUS_ENOTFOUND when absent. */
modus_status modus_event_get(const modus_event *ev, const char *path, modus_value *out);
/* Element idx of an array value, or member `path` of an object value. */
modus_status modus_value_index(const modus_event *ev, const modus_value *arr, size_t idx,
                               modus_value *out);
modus_status modus_value_get(const modus_event *ev, const modus_value *obj, const char *path,
                             modus_value *out);

/* The classification. */
const char *modus_event_modality(const modus_event *ev);
const char *modus_event_confidence(const modus_event *ev);
const char *modus_event_syscall(const modus_event *ev);
size_t modus_event_frame_count(const modus_event *ev);
/* Initiator module name and call_stack_summary ("" when there is no stack);
 * not NUL-terminated: *len gives the length. */
const char *modus_event_initiator(const modus_event *ev, size_t *len);
const char *modus_event_summary(const modus_event *ev, size_t *len);
/* The acting process's image the stack belongs to (process.executable, the
 * parent's for a process start, SourceImage for Sysmon); "" when unknown. */
const char *modus_event_image(const modus_event *ev, size_t *len);
bool modus_event_has_stack(const modus_event *ev);

typedef enum modus_render {
    MODUS_RENDER_ENRICHED, /* the input document with SPEC §3 fields added, one line */
    MODUS_RENDER_FIELDS,   /* one object with only the SPEC §3 fields, nested */
    MODUS_RENDER_EXPLAIN,  /* human-readable: frames, summary, layers, evidence */
} modus_render;

/* Render into scanner-owned memory (valid until the next call on the scanner). */
const char *modus_event_render(const modus_event *ev, modus_render kind, size_t *len);

/* ---- EQL queries ------------------------------------------------------- */

/* Compile an EQL query (Elasticsearch dialect: event queries, sequences,
 * joins, lineage, pipes). On MODUS_EPARSE diag has line, column, message. */
modus_status modus_query_compile(const char *text, size_t len, modus_query **out, modus_diag *diag);
void modus_query_destroy(modus_query *q);

/* Running a query over events, in order. `emit` receives each result: one
 * event, or every event of a sequence in order, as JSON texts (borrowed for
 * the call). */
typedef void (*modus_emit_fn)(void *ctx, const char *const *events, const size_t *lens, uint32_t n);
typedef struct modus_query_run modus_query_run;
modus_status modus_query_run_create(const modus_query *q, modus_emit_fn emit, void *ctx,
                                    modus_query_run **out);
void modus_query_run_event(modus_query_run *r, const modus_event *ev);
/* true once no later event can produce output (e.g. `| head` reached) */
bool modus_query_run_done(const modus_query_run *r);
/* A sequence or join has partial matches open (its later stages can advance). */
bool modus_query_run_open(const modus_query_run *r);
/* end of input: emit what pipes buffered (tail, sort, unique) */
void modus_query_run_finish(modus_query_run *r);
void modus_query_run_destroy(modus_query_run *r);

/* ---- rules ----------------------------------------------------------------- */

/* Rules in Elastic's TOML format ([rule] name, id, query...; [[threat]];
 * [[actions]]) with modus's own [modus] table (severity, modalities, tests);
 * Elastic's SIEM detection rules as they are (rule_id, [[rule.threat]],
 * type/language, index); and Sigma rules (.yml/.yaml, SigmaHQ's format),
 * compiled to EQL through a mapping table (data/sigma.conf). */
typedef struct modus_ruleset modus_ruleset;
/* One rule that failed: diag has file, line, column and message; `text` is
 * the offending line of the file (not NUL-terminated). */
typedef void (*modus_rule_error_fn)(void *ctx, const modus_diag *d, const char *text, size_t len);

modus_status modus_ruleset_create(modus_ruleset **out);
void modus_ruleset_destroy(modus_ruleset *rs);
/* A .toml, .yml or .yaml file, or a directory searched recursively for them
 * (in name order). Failed rules are reported and skipped; counts are added
 * to. A directory of 32 or more .toml files is read and parsed on up to 8
 * threads that end before the call returns; `cb` runs on the caller's
 * thread, in name order. */
modus_status modus_ruleset_add_path(modus_ruleset *rs, const char *path,
                                    modus_rule_error_fn on_error, void *ctx, size_t *loaded,
                                    size_t *failed);
/* The default pack embedded in modus (rules/ in the source tree). */
modus_status modus_ruleset_add_default(modus_ruleset *rs, modus_rule_error_fn on_error, void *ctx,
                                       size_t *loaded, size_t *failed);
size_t modus_ruleset_count(const modus_ruleset *rs);
/* Use this Sigma mapping table (data/sigma.conf's format) for the Sigma rules
 * added from now on, instead of the embedded one. */
modus_status modus_ruleset_sigma_mapping(modus_ruleset *rs, const char *path, modus_diag *diag);
/* Rules read but not applicable, counted apart from compiled and failed ones:
 * Elastic SIEM rules that are not EQL (KQL, ES|QL, threshold, new-terms,
 * machine-learning...). `why` names the kind ("type query, language kuery"). */
size_t modus_ruleset_skipped(const modus_ruleset *rs);
void modus_ruleset_skipped_get(const modus_ruleset *rs, size_t i, const char **file,
                               const char **why);

typedef struct modus_rule_info {
    const char *id, *name, *description, *version, *severity, *file, *query;
    const char *language;       /* "eql" (or NULL), "sigma" */
    const char *logsource;      /* Sigma: "product=windows,category=process_creation" */
    const char *const *indexes; /* Elastic SIEM rules: index patterns */
    size_t nindexes;
    const char *risk_score; /* Elastic SIEM rules */
    /* Elastic SIEM rules: what modus reads among the indexes ("endpoint,windows";
     * "" for none: the rule runs but nothing modus reads holds its data) */
    const char *sources;
    const char *const *techniques; /* ATT&CK ids */
    size_t ntechniques;
    size_t ntests; /* [[modus.tests]] entries */
} modus_rule_info;
void modus_ruleset_rule(const modus_ruleset *rs, size_t i, modus_rule_info *out);

/* Run every rule's [[modus.tests]] (expect = "match" | "no match", event =
 * one JSON document) on an engine created with this rule set. cb is called
 * for each test; `why` explains a failure. */
typedef void (*modus_rule_test_fn)(void *ctx, size_t rule, size_t test, bool ok, const char *why);
modus_status modus_ruleset_test(const modus_ruleset *rs, const modus_engine *e,
                                modus_rule_test_fn cb, void *ctx, size_t *passed, size_t *failed);

/* ---- robustness (Summiting the Pyramid) ------------------------------------- */

/* The observables table: data/observables.conf embedded, or a file. */
typedef struct modus_scorer modus_scorer;
modus_status modus_scorer_create(const char *observables_path, modus_scorer **out,
                                 modus_diag *diag);
void modus_scorer_destroy(modus_scorer *s);

typedef struct modus_score {
    int level;        /* 1..5 */
    char column;      /* 'A', 'U' or 'K' */
    char score[4];    /* "5K" */
    char reason[512]; /* the observable that decided it, and why */
} modus_score;
modus_status modus_scorer_rule(const modus_scorer *s, const modus_ruleset *rs, size_t rule,
                               modus_score *out);

/* ---- alerts ------------------------------------------------------------------ */

/* Evaluates a rule set over events (per thread). Each alert is one JSON
 * object (SPEC §6): @timestamp, event.kind "alert", rule.*, threat[],
 * modality.* of the triggering event, events[] (the event, or every event of
 * a sequence in order), host and process of the last event, actions[]. */
typedef struct modus_alerter modus_alerter;
typedef void (*modus_alert_fn)(void *ctx, const char *json, size_t len, size_t rule);
modus_status modus_alerter_create(const modus_engine *e, const modus_ruleset *rs, modus_alert_fn fn,
                                  void *ctx, modus_alerter **out);
void modus_alerter_event(modus_alerter *a, const modus_event *ev);
void modus_alerter_finish(modus_alerter *a);
uint64_t modus_alerter_count(const modus_alerter *a);
/* Rules that defeat the prefilter (no necessary condition could be derived
 * from their where clauses): evaluated on every event. */
size_t modus_alerter_unguarded(const modus_alerter *a);
/* Why a rule defeats the prefilter (or a later sequence stage does), or NULL. */
const char *modus_alerter_unguarded_why(const modus_alerter *a, size_t idx);
/* Per-rule cost: how often each rule ran, for how long, and its alerts. */
void modus_alerter_profile(modus_alerter *a, bool on);
void modus_alerter_rule_stats(const modus_alerter *a, size_t rule, uint64_t *runs, uint64_t *ns,
                              uint64_t *alerts);
/* Candidate rules per event (rules run on it): mean and 95th percentile. */
void modus_alerter_candidates(const modus_alerter *a, double *mean, uint64_t *p95);
/* --profile: strings whose matches came from the value cache, and the rest */
void modus_alerter_value_cache(const modus_alerter *a, uint64_t *hits, uint64_t *misses);
/* Rules that keep part of a where clause for the tree walker (field-to-field
 * comparisons, arithmetic, other functions...), and what the first such part
 * of rule `idx` is (NULL: the rule runs wholly as programs). */
size_t modus_alerter_residual(const modus_alerter *a);
const char *modus_alerter_residual_why(const modus_alerter *a, size_t idx);
void modus_alerter_destroy(modus_alerter *a);

/* Sequence and process-tree (lineage) state is capped: past `bytes` (0: no
 * cap) the stalest partial matches and processes are evicted, and counted.
 * The default is MODUS_STATE_BYTES (src/util/limits.h). */
void modus_alerter_state_limit(modus_alerter *a, size_t bytes);
/* State now held, its peak, and evictions so far (partials, processes). */
typedef struct modus_state_stats {
    size_t bytes, peak, limit;
    uint64_t evicted_partials, evicted_procs, expired;
} modus_state_stats;
void modus_alerter_state(const modus_alerter *a, modus_state_stats *out);

/* ---- every core ----------------------------------------------------------- */

/* A rule set over lines on N threads (detect_pool.c): each worker decodes,
 * classifies and runs an alerter over the events of its lane (the host:
 * host.name, host.hostname, host.id, winlog.computer_name or Computer; lane 0
 * without one); alerts and decode errors come back on the caller's thread in
 * input order, as with one thread. Lines are copied; `file` is borrowed
 * until modus_pool_finish. */
typedef struct modus_pool modus_pool;
typedef struct modus_pool_opts {
    unsigned threads;   /* workers; 0 or 1: one */
    size_t state_bytes; /* the state cap of all workers together (0: MODUS_STATE_BYTES) */
    bool profile;       /* modus_alerter_profile on every worker */
} modus_pool_opts;
/* on a worker thread, for every decoded event: `worker` is 0..threads-1 */
typedef void (*modus_pool_event_fn)(void *ctx, unsigned worker, const modus_event *ev);
/* on the caller's thread, in input order: a malformed line or a note */
typedef void (*modus_pool_error_fn)(void *ctx, modus_status st, const modus_diag *d);
modus_status modus_pool_create(const modus_engine *e, const modus_ruleset *rs,
                               const modus_pool_opts *o, modus_alert_fn on_alert,
                               modus_pool_event_fn on_event, modus_pool_error_fn on_error,
                               void *ctx, modus_pool **out);
/* Why the rule set needs every event on one thread (pipes; samples and
 * sequences with missing events), and which rule; NULL when it can be
 * partitioned. With a pool, sequences and joins correlate within a host. */
const char *modus_pool_unsafe(const modus_ruleset *rs, size_t *rule);
modus_status modus_pool_line(modus_pool *p, const char *line, size_t len, const char *file,
                             uint64_t lineno, uint64_t offset);
/* A reader's error (too long, unreadable), reported in its place in the input. */
modus_status modus_pool_note(modus_pool *p, modus_status st, const modus_diag *d);
/* End of input: every line written back, the threads stopped, alerters finished. */
void modus_pool_finish(modus_pool *p);
uint64_t modus_pool_alerts(const modus_pool *p);
void modus_pool_counts(const modus_pool *p, uint64_t *events, uint64_t *malformed);
unsigned modus_pool_threads(const modus_pool *p);
/* events decoded by worker i (how evenly the hosts spread) */
uint64_t modus_pool_worker_events(const modus_pool *p, unsigned i);
/* worker i's alerter (its rules' explanations; after modus_pool_finish, its counts) */
modus_alerter *modus_pool_alerter(modus_pool *p, unsigned i);
/* After modus_pool_finish: adds every worker's counts (--profile, candidates,
 * state and evictions, alerts) into worker 0's alerter. */
void modus_pool_merge_profile(modus_pool *p);
void modus_pool_destroy(modus_pool *p);

/* ---- live sensor (Linux, root) --------------------------------------------- */

/* The file policy: the files the sensor's kernel side reports (created,
 * written, deleted, chmod'ed) beyond the persistence locations, derived from
 * the rules' necessary conditions on file.path, file.name, file.extension
 * (names, extensions, ancestor directories) or "all", each for the
 * operations the rules' event.action / event.type allow (write, delete,
 * chmod, rename). Text form: lines `all [OPS]`, `header`, `dir /PATH [OPS]`,
 * `dname NAME [OPS]`, `name NAME [OPS]`, `ext EXT [OPS]`; OPS is a comma
 * list of write,delete,chmod,rename (default: all four). */
typedef struct modus_file_policy modus_file_policy;
modus_file_policy *modus_file_policy_new(void);
modus_status modus_file_policy_from_rules(const modus_ruleset *rs, modus_file_policy **out);
modus_status modus_file_policy_parse(const char *text, size_t len, const char *file,
                                     modus_file_policy **out, modus_diag *diag);
/* the documented default (--all-events), in the text form */
const char *modus_file_policy_default_text(void);
bool modus_file_policy_merge(modus_file_policy *into, const modus_file_policy *from);
/* every file for some operation? *why: the rule (or file:line) that asked for
 * it first; *ops: which operations ("delete", "every operation") */
bool modus_file_policy_all(const modus_file_policy *p, const char **why, const char **ops);
bool modus_file_policy_empty(const modus_file_policy *p);
/* the text form, malloc'd */
char *modus_file_policy_format(const modus_file_policy *p);
void modus_file_policy_free(modus_file_policy *p);

/* The eBPF sensor: kernel events with user call stacks, each turned into an
 * ECS document in the shape Elastic Defend uses on Linux (SPEC §2), ready
 * for modus_scanner_decode. Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN
 * to mount tracefs, CAP_SYS_PTRACE to read other processes' maps). */
typedef struct modus_sensor modus_sensor;
typedef struct modus_sensor_opts {
    const char *backend;  /* "auto" (NULL), "tp" or "lsm" */
    uint32_t stack_bytes; /* user stack copied per event: 4096..16384, 0: 16384 */
    uint32_t ring_mb;     /* ring buffer, MiB, a power of two 1..1024; 0: 16 */
    /* Kernels without module support (CONFIG_MODULES=n) have no module
     * syscall tracepoints: watch load attempts anyway through the raw
     * sys_enter hook, which runs on every syscall (~+100 ns each). */
    bool module_attempts;
    const char *hostname; /* host.name; NULL: gethostname() */
    /* The engine: its modality table names runtimes by their code (`code`
     * lines; NULL: the embedded table), and it names the launch modality
     * of each exec (process.parent.modality.name on every event of
     * the process); env_vars: the variables kept in process.env_vars and
     * env_redact: those whose value becomes "<redacted>" (comma-separated
     * name globs, case-insensitive; NULL: the defaults in
     * docs/sensor-events.md). */
    const modus_engine *engine;
    const char *env_vars, *env_redact;
    /* which files' creations, changes, deletions and chmods the kernel
     * reports beyond the persistence locations (NULL: none) */
    const struct modus_file_policy *file_policy;
} modus_sensor_opts;
typedef void (*modus_sensor_fn)(void *ctx, const char *json, size_t len);

modus_status modus_sensor_open(const modus_sensor_opts *opts, modus_sensor **out, modus_diag *diag);
/* Which backend runs, in words ("tracepoints (no lsm: ...)"). */
const char *modus_sensor_backend(const modus_sensor *s);
/* Wait up to timeout_ms for records, then hand the captured events to fn
 * (JSON borrowed for the call) for at most 200 ms more: what is left stays in
 * the ring for the next call, so the caller's periodic work goes on under a
 * burst. */
modus_status modus_sensor_poll(modus_sensor *s, int timeout_ms, modus_sensor_fn fn, void *ctx);
typedef struct modus_sensor_stats {
    uint64_t sent;      /* records the kernel handed over */
    uint64_t lost;      /* records the kernel could not hand over (ring full) */
    uint64_t records;   /* records read */
    uint64_t events;    /* ECS events made from them */
    uint64_t bad;       /* malformed records, skipped */
    uint64_t processes; /* processes tracked */
    uint64_t unwound;   /* stacks unwound */
} modus_sensor_stats;
void modus_sensor_stats_get(const modus_sensor *s, modus_sensor_stats *out);
void modus_sensor_close(modus_sensor *s);

#ifdef __cplusplus
}
#endif
#endif
