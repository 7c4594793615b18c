/* winevt.h - Windows event records (EVTX, Sysmon/Windows XML) to ECS JSON.
 *
 * Two steps, both per record and allocation-free in steady state:
 *   winxml_parse   one <Event> element (as libevtx, wevtutil or evtxexport
 *                  write it) -> winrec: the System fields and the EventData /
 *                  UserData name-value pairs, text unescaped, UTF-8.
 *   winmap_ecs     winrec -> one ECS JSON document, mapped the way Elastic's
 *                  Windows and Sysmon integrations map them (event.code,
 *                  event.category/type/action, process.*, file.*, registry.*,
 *                  dll.*, network, dns) with every original field kept under
 *                  winlog.*. Sysmon 10's CallTrace stays in
 *                  winlog.event_data.CallTrace, where the ECS decoder finds it.
 * The JSON then goes through the same decoder as Elastic Defend documents, so
 * one classifier and one rule set serve both.
 */
#ifndef MODUS_WINEVT_H
#define MODUS_WINEVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/sv.h"

#define WINREC_MAX_DATA 256

typedef struct winrec {
    /* System */
    sv provider, channel, computer, time, user_sid, level, task, opcode, keywords, version;
    sv event_id_text, record_id_text;
    uint32_t event_id;
    uint64_t record_id;
    uint64_t exec_pid, exec_tid;
    bool has_exec;
    /* EventData / UserData */
    size_t ndata;
    sv data_name[WINREC_MAX_DATA], data_val[WINREC_MAX_DATA];
    /* flat JSON only: nested members kept as they were (raw JSON text) */
    size_t nraw;
    sv raw_name[16], raw_json[16];
} winrec;

typedef struct winxml winxml;
winxml *winxml_new(void);
void winxml_free(winxml *w);
/* Parse one <Event> element. 0 on success; -1 with msg and *err_off (byte
 * offset into xml) on malformed XML or a document that is not an event. The
 * record's strings live in w until the next call. */
int winxml_parse(winxml *w, const char *xml, size_t len, const winrec **out, char *msg, size_t msz,
                 size_t *err_off);

/* One flat Windows event as JSON (the OTRF/NXLog shape: {"EventID": 13,
 * "Channel": ..., "Image": ..., ...}) -> winrec. 1: mapped; 0: not a flat
 * Windows event (no numeric top-level EventID), pass it on as it is; -1: the
 * line is not valid JSON. Strings live in w until the next call. */
typedef struct winflat winflat;
winflat *winflat_new(void);
void winflat_free(winflat *w);
int winflat_parse(winflat *w, const char *json, size_t len, const winrec **out);

/* The same record from element events instead of text (the EVTX reader
 * walks binary XML): begin, start/text/end per node, finish. Names are
 * local names; atts is NULL-terminated name/value pairs, UTF-8. */
void winxml_sax_begin(winxml *w);
void winxml_sax_start(winxml *w, const char *name, const char **atts);
void winxml_sax_text(winxml *w, const char *s, size_t n);
void winxml_sax_end(winxml *w);
int winxml_sax_finish(winxml *w, const winrec **out, char *msg, size_t msz);

/* Append rec as one ECS JSON document (no newline) to out. */
typedef struct winmap winmap;
winmap *winmap_new(void);
void winmap_free(winmap *m);
void winmap_ecs(winmap *m, const winrec *rec, buf *out);

#endif
