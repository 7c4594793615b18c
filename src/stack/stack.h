/* stack.h - a call stack as frames, frame 0 the most recent (internal). */
#ifndef MODUS_STACK_H
#define MODUS_STACK_H

#include <stdbool.h>
#include <stdint.h>
#include "../util/arena.h"
#include "../util/sv.h"

enum frame_kind {
    FRAME_MODULE,   /* code in a file-backed image */
    FRAME_UNBACKED, /* private executable memory: Elastic Unbacked, Sysmon UNKNOWN(addr) */
    FRAME_UNKNOWN,  /* the source could not resolve the frame: Elastic "Unknown" */
};

enum stack_os { STACK_OS_WINDOWS, STACK_OS_LINUX };
enum stack_source { SRC_SYSMON, SRC_ELASTIC, SRC_LINUX, SRC_TEXT };

typedef struct frame {
    uint8_t kind;
    bool wow64;
    bool has_offset;
    bool has_address;
    bool malformed; /* kept verbatim in `path`; counted as an error by the parser */
    bool guessed;   /* Linux sensor "unwind":"frame_pointer": found by the frame-pointer
                       heuristic, not unwind info: the return address may be garbage */
    bool unmapped;  /* Linux sensor "mapping":"none": "Unknown", and the live process
                       confirmed that no mapping holds the address */
    sv path;        /* module path as written; empty unless FRAME_MODULE */
    sv name;        /* module file name; lower-cased on Windows */
    sv symbol;      /* empty when absent */
    uint64_t offset;
    uint64_t address;
    /* Elastic Defend frame fields; empty / -1 when absent */
    sv protection, provenance, leading, trailing, module_path;
    /* modus live: the module's runtime recognised by its code, and how
     * ("symbol _PyEval_EvalFrameDefault"); empty when absent */
    sv runtime, origin;
    int64_t alloc_private;
} frame;

typedef struct stack {
    frame *f;
    uint32_t n, cap;
    uint8_t os;     /* enum stack_os */
    uint8_t source; /* enum stack_source */
    bool cut;       /* frames beyond MODUS_MAX_FRAMES were dropped */
    uint32_t errors;
    /* first parse error, for the caller's diagnostic */
    const char *err_msg;
    uint32_t err_frame;
    size_t err_off;
} stack;

void stack_init(stack *s, uint8_t os, uint8_t source);
/* Append a frame (zeroed, alloc_private = -1); NULL when the cap is reached. */
frame *stack_push(stack *s, arena *a);

/* Sysmon CallTrace: "path+hex[(wow64)]|UNKNOWN(hex)[(wow64)]|...". */
void stack_parse_calltrace(stack *s, arena *a, sv text);
/* One Elastic/Linux symbol_info ("path!sym+0xoff", "path+0xoff", "Unbacked+0xoff",
 * "Unknown") into frame f. Returns false (and keeps the text as path) if malformed. */
bool stack_parse_symbol_info(frame *f, arena *a, sv text, uint8_t os);
/* One frame in any form (CLI `modus stack -`). */
bool stack_parse_any(frame *f, arena *a, sv text, uint8_t os);

/* Derived Elastic fields (stack_derive.c); final_user_module is in classify.c. */
void stack_summary(const stack *s, arena *a, sv *out);
bool stack_contains_unbacked(const stack *s);
/* Whether the bottom frame is the OS's thread start. */
bool stack_ends_at_thread_start(const stack *s);
/* Token of a frame in the summary: module name, "Unbacked" or "Unknown". */
sv frame_token(const frame *f);

#endif
