/* fuzz_sensor.c - libFuzzer target: the live sensor's kernel records
 * (bpf/sensor_abi.h) through the decoder that turns them into ECS documents.
 * Invariant: every document the decoder makes is JSON the scanner accepts.
 * Seeds: fuzz/seeds/sensor, among them fileop_* (MSR_FILE_OP records,
 * relative renames, library mappings under the default file policy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/sensor.h"
#include "detect/needs.h"
#include "fuzz_common.h"

/* the launch modality: the decoder's small document for the exec caller's
 * stack must be JSON the scanner accepts too */
static const char *launch(void *ctx, const char *doc, size_t len)
{
    (void)ctx;
    const modus_event *ev;
    modus_diag diag;
    if (modus_scanner_decode(fuzz_scanner(), doc, len, &ev, &diag) != MODUS_OK) {
        fprintf(stderr, "invalid launch document (%s):\n%.*s\n", diag.message, (int)len, doc);
        abort();
    }
    return modus_event_modality(ev);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static msdec *d;
    static modus_file_policy *pol;
    if (!d) {
        if (!(d = msdec_create("fuzz"))) abort();
        /* the default file policy: renames and library loads are decided by it */
        const char *t = modus_file_policy_default_text();
        if (modus_file_policy_parse(t, strlen(t), "default", &pol, NULL) != MODUS_OK) abort();
        msdec_set_policy(d, pol);
        msdec_set_launch_fn(d, launch, NULL);
        /* runtimes by their code and by build-id, as modus live sets them */
        const char *pats[] = {"_PyEval_EvalFrameDefault", "node::Start", "Builtins_*", "main"};
        const char *names[] = {"python", "node", "node", "native"};
        const bool jit[] = {false, true, true, false};
        if (!msdec_set_code(d, pats, names, jit, 4, NULL)) abort();
        msdec_add_known(d, "/bin/sh", "shell");
    }
    /* the ring buffer hands out 8-byte aligned records */
    unsigned char *rec = malloc(size ? size : 1);
    if (!rec) return 0;
    memcpy(rec, data, size);
    if (size >= sizeof(struct msr_hdr)) {
        struct msr_hdr *h = (struct msr_hdr *)rec;
        h->size = (uint32_t)size; /* the kernel always sets these two right */
        h->data_len = (uint32_t)(size - sizeof *h);
        h->tgid = 1 + h->tgid % 4; /* processes of our own, not the machine's */
    }
    const char *json;
    size_t len;
    if (msdec_record(d, rec, size, &json, &len) == 1) {
        const modus_event *ev;
        modus_diag diag;
        if (modus_scanner_decode(fuzz_scanner(), json, len, &ev, &diag) != MODUS_OK) {
            fprintf(stderr, "invalid document (column %llu: %s):\n%.*s\n",
                    (unsigned long long)diag.column, diag.message, (int)len, json);
            abort();
        }
    }
    free(rec);
    return 0;
}
