/* alert.h - alert documents (SPEC §6): a rule's alert (out_alert.c), and the
 * pieces every writer of alerts shares (the rules' alerter in
 * src/detect/detect.c, baseline checks). */
#ifndef MODUS_OUTPUT_ALERT_H
#define MODUS_OUTPUT_ALERT_H

#include <stddef.h>

#include <stdbool.h>
#include <stdint.h>

#include "modus/modus.h"
#include "../rules/rule_toml.h"
#include "../util/buf.h"

/* Opens the alert: {"@timestamp": the event's own, else now. */
void alert_put_head(buf *b, const char *event, size_t len);
/* ,"key": the raw JSON value at `path` in the event's text, if present. */
void alert_put_span(buf *b, const char *event, size_t len, const char *key, const char *path);

/* The alert's id (event.id of the alert): the first 128 bits of SHA-256 over
 * the rule id and, for each event of the match in order, its event.id (its
 * bytes when it has none), as 32 hex digits. Deterministic: the same match
 * has the same id on any host and after any redelivery, so a broker that
 * de-duplicates by message id stores it once. */
void alert_id(char out[33], const char *rule_id, const char *const *texts, const size_t *lens,
              uint32_t n);

/* The alert of one match of a rule: texts/lens are the events of the match
 * in order (n >= 1); robustness the rule's STP score ("" for none); last_ev
 * the last event decoded (from the same text, by a scanner of the same
 * engine), or NULL: then side, a scanner of the caller's, decodes it again.
 * False when out of memory. */
bool alert_render(buf *b, const rule_src *src, const char *robustness, modus_scanner *side,
                  const modus_event *last_ev, const char *const *texts, const size_t *lens,
                  uint32_t n);

#endif
