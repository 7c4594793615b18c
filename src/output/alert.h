/* alert.h - pieces of an alert document (SPEC §6) shared by every writer
 * of alerts: the rules' alerter (out_alert.c) and baseline checks. */
#ifndef MODUS_OUTPUT_ALERT_H
#define MODUS_OUTPUT_ALERT_H

#include <stddef.h>

#include "../util/buf.h"

/* Opens the alert: {"@timestamp": the event's own, else now. */
void alert_put_head(buf *b, const char *event, size_t len);
/* ,"key": the raw JSON value at `path` in the event's text, if present. */
void alert_put_span(buf *b, const char *event, size_t len, const char *key, const char *path);

#endif
