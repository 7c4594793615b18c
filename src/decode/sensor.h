/* sensor.h - the live sensor's records (bpf/sensor_abi.h) to ECS documents. */
#ifndef MODUS_DECODE_SENSOR_H
#define MODUS_DECODE_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "../../bpf/sensor_abi.h"

typedef struct msdec msdec;

msdec *msdec_create(const char *hostname);
void msdec_destroy(msdec *d);
/* Runtimes by their code (ustack_set_code): n symbol patterns and the
 * runtime each stands for; jit[i]: that runtime makes JIT code, whose
 * anonymous regions are then labelled with its name. False when a pattern
 * is malformed (*bad: its index). */
bool msdec_set_code(msdec *d, const char *const *patterns, const char *const *names,
                    const bool *jit, size_t n, size_t *bad);
/* An installed runtime binary (ustack_add_known): its build-id names
 * stripped copies of it. */
bool msdec_add_known(msdec *d, const char *path, const char *name);
/* Seed the process table and the module maps from /proc. */
void msdec_scan_proc(msdec *d);
/* One ring-buffer record. 1: an event, *json (owned by d, valid until the
 * next call) holds it; 0: state only (maps, pending stacks); -1: malformed. */
int msdec_record(msdec *d, const void *rec, size_t size, const char **json, size_t *len);
/* The file policy the kernel applies (borrowed; NULL: none): renames and
 * library loads are filtered with it here. */
struct modus_file_policy;
void msdec_set_policy(msdec *d, const struct modus_file_policy *p);
void msdec_stats(const msdec *d, uint64_t *processes, uint64_t *unwound);
/* Process context (issue 15): the environment variables kept in
 * process.env_vars (comma-separated name globs, case-insensitive) and those
 * whose value is replaced by "<redacted>"; NULL: the defaults below. */
#define MSDEC_ENV_ALLOW                                                                            \
    "LD_PRELOAD,LD_LIBRARY_PATH,LD_AUDIT,GLIBC_TUNABLES,HTTP_PROXY,HTTPS_PROXY,ALL_PROXY,"         \
    "HISTFILE,HISTSIZE,HISTFILESIZE,HISTCONTROL"
#define MSDEC_ENV_REDACT                                                                           \
    "*TOKEN*,*SECRET*,*PASSWORD*,*PASSWD*,*PASS,*_KEY,*KEY_ID,*APIKEY*,*API_KEY*,"                 \
    "*CREDENTIAL*,*PRIVATE*,*COOKIE*,*AUTH*"
void msdec_set_context(msdec *d, const char *env_allow, const char *env_redact);
/* Names the modality of an exec's caller stack (the launch modality):
 * `doc` is a small process-start document whose process.parent.thread
 * holds the frames, with MODUS_PADDING bytes after len; returns a modality
 * name (copied) or NULL. */
typedef const char *(*msdec_launch_fn)(void *ctx, const char *doc, size_t len);
void msdec_set_launch_fn(msdec *d, msdec_launch_fn fn, void *ctx);
/* The persistence class of an absolute path ("systemd", "cron"...), NULL if
 * it is not a persistence location. */
const char *sensor_persist_class(const char *path);
/* The kernel's pre-filter: names of parent directories (dirs) or of files
 * whose write-opens may be persistence; n gets the count. */
const char *const *sensor_watch_names(bool dirs, size_t *n);

#endif
