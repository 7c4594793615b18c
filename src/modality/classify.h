/* classify.h - name the execution modality of a call stack (internal). */
#ifndef MODUS_CLASSIFY_H
#define MODUS_CLASSIFY_H

#include "../util/arena.h"
#include "../util/limits.h"
#include "../stack/stack.h"
#include "sigtab.h"

/* Frame classes, from the signature table's roles. */
enum frame_class { C_STUB, C_API, C_KERNEL, C_RUNTIME, C_DISPATCH, C_USER, C_UNBACKED, C_UNKNOWN };

enum syscall_kind { SYSCALL_UNKNOWN, SYSCALL_STUB, SYSCALL_DIRECT, SYSCALL_INDIRECT };
enum confidence { CONF_LOW, CONF_MEDIUM, CONF_HIGH };

enum anomaly {
    ANOM_UNBACKED,
    ANOM_RWX_FRAME,
    ANOM_TRUNCATED,
    ANOM_NO_STUB,
    ANOM_MODULE_OVERWRITTEN,
    ANOM_RETURN_NOT_AFTER_CALL,
    ANOM_MALFORMED_FRAME,
    ANOM_NOT_AFTER_SYSCALL,
    ANOM_STUB_BY_RETURN,
    ANOM_COUNT
};
extern const char *const anomaly_names[ANOM_COUNT];
extern const char *const syscall_names[];
extern const char *const confidence_names[];

typedef struct modality_result {
    int name; /* modality index in the table */
    int layers[MODUS_MAX_LAYERS];
    int nlayers;
    uint8_t syscall;
    uint8_t confidence;
    int initiator; /* frame index, -1 */
    sv initiator_name, initiator_path;
    sv evidence[MODUS_MAX_EVIDENCE];
    int nevidence;
    uint32_t anomalies; /* 1 << ANOM_* */
    /* Elastic's derived fields */
    sv summary;
    bool contains_unbacked;
    int final_user; /* frame index, -1 */
} modality_result;

typedef struct classifier classifier;

classifier *classifier_create(const sigtab *t);
void classifier_destroy(classifier *c);
/* `image` is the acting process's executable or name (may be empty).
 * Strings in the result live in `a`. */
void classify_stack(classifier *c, const stack *s, sv image, arena *a, modality_result *r);
/* Modality from process identity alone (no stack): low confidence. */
void classify_identity(classifier *c, uint8_t os, sv image, const char *why, arena *a,
                       modality_result *r);

/* Per-frame class (enum frame_class) and modality index (-1) of the stack
 * classified last. */
const uint8_t *classifier_classes(const classifier *c);
const int16_t *classifier_frame_modalities(const classifier *c);

/* integrity.c */
void stack_anomalies(const stack *s, const uint8_t *cls, uint32_t *out);
bool x86_call_ends_at(const uint8_t *code, size_t n);
/* Linux stacks: the first frame above the libc stub layer when frame 0 is a stub and
 * that frame's return address follows no call (or lies in no
 * mapping): the stub was entered by a return. -1 when not. */
int stub_entered_by_return(const stack *s, const uint8_t *cls);
/* Decode hex text into bytes; false if not valid hex. */
bool hex_decode(sv hex, uint8_t *out, size_t cap, size_t *n);

#endif
