/* fuzz_file_policy.c - libFuzzer target: the file policy's text form
 * (modus live --file-policy FILE, detect_needs.c). Invariants: bad input is
 * an error with a line, never a crash; what parses formats to text that
 * parses back to the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/needs.h"
#include "modus/modus.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    modus_file_policy *p = NULL;
    modus_diag d;
    modus_status st = modus_file_policy_parse((const char *)data, size, "fuzz", &p, &d);
    if (st != MODUS_OK) {
        if (p || (st == MODUS_EPARSE && !d.line)) abort();
        return 0;
    }
    char *t = modus_file_policy_format(p);
    if (!t) abort();
    modus_file_policy *q = NULL;
    if (modus_file_policy_parse(t, strlen(t), "again", &q, &d) != MODUS_OK) {
        fprintf(stderr, "the formatted policy does not parse: %s\n%s", d.message, t);
        abort();
    }
    char *t2 = modus_file_policy_format(q);
    /* `all`'s reason (a file:line, the first line) differs: compare the rest */
    const char *a = strchr(t, '\n'), *b = t2 ? strchr(t2, '\n') : NULL;
    if (!t2 || (p->all ? (!a || !b || strcmp(a, b)) : strcmp(t, t2))) abort();
    (void)fpol_match(p, "/tmp/a/b.so", false, FOP_DELETE);
    free(t);
    free(t2);
    modus_file_policy_free(p);
    modus_file_policy_free(q);
    return 0;
}
