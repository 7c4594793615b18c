/* event.h - the decoded event and the scanner that owns it (internal). */
#ifndef MODUS_EVENT_H
#define MODUS_EVENT_H

#include "modus/modus.h"
#include "json.h"
#include "../modality/classify.h"
#include "../rules/eql.h"
#include "../util/buf.h"

/* Where the call stack of an event came from, and where derived fields go. */
enum stack_site {
    SITE_NONE,
    SITE_PROCESS,   /* process.thread.Ext.call_stack (Elastic, modus live) */
    SITE_PARENT,    /* process.parent.thread.Ext.call_stack (process start) */
    SITE_CALLTRACE, /* flat Sysmon JSON: CallTrace + SourceImage */
    SITE_WINLOG,    /* winlog.event_data.CallTrace */
    SITE_TEXT,      /* modus stack */
};

struct modus_engine {
    sigtab tab;
    mj_want want; /* the fields decoding needs (decode_ecs.c) */
    bool augment; /* queries run: add modus's fields to each event's node table */
};

struct modus_event {
    modus_scanner *sc;
    const char *text;
    size_t len;
    bool is_json;
    uint8_t site;
    uint8_t os;
    uint32_t ext; /* node of the Ext object the stack lives in, 0 none */
    bool src_summary, src_unbacked, src_final; /* already in the source */
    sv image;
    stack stk;
    modality_result mr;
};

struct modus_scanner {
    const modus_engine *eng;
    mj_parser *parser;
    mj_doc doc; /* the wanted fields */
    mj_parser *full_parser;
    mj_doc full; /* every field, parsed on first need (modus_event_get) */
    bool full_done;
    arena scratch; /* per event */
    classifier *cls;
    buf out;
    struct modus_event ev;
    struct blob *cur_blob; /* the current event's shared copy, if a rule kept it */
    eql_cache cache;       /* field nodes and time of the current event, for rules */
};

/* query_api.c: add a query's fields to the decoder's trie */
bool query_want(const modus_query *q, mj_want *w);

/* out_render.c: "modality":{...} of an event */
void render_modality(buf *b, const modus_event *ev);

/* decode_ecs.c */
bool decode_want_init(mj_want *w);
modus_status decode_event(modus_scanner *sc, const char *json, size_t len, modus_diag *diag);

#endif
