/* fuzz_modalities.c - libFuzzer target: the modality signature table
 * (data/modalities.conf grammar, sigtab.c) and, for a table that parses, its
 * `code` lines compiled into the sensor's symbol patterns (ustack_set_code).
 * Invariants: a parse either fails with a line number within the text or
 * gives signatures and code lines whose strings lie inside the table's own
 * copy; every code alternative the parser accepts, the sensor compiles. */
#include <stdlib.h>
#include <string.h>

#include "modality/sigtab.h"
#include "stack/ustack.h"

static bool inside(const sigtab *t, size_t len, sv s)
{
    return !s.n || (s.p >= t->text && s.p + s.n <= t->text + len);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    sigtab t;
    uint32_t line = 0;
    char msg[200];
    if (!sigtab_parse(&t, (const char *)data, size, &line, msg, sizeof msg)) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
        if (line > lines) abort();
        sigtab_free(&t);
        return 0;
    }
    for (int i = 0; i < t.nsigs; i++)
        if (!inside(&t, size, t.sigs[i].module) || !inside(&t, size, t.sigs[i].symbol)) abort();
    const char *pats[64], *names[64];
    char *own[64];
    size_t n = 0;
    for (int i = 0; i < t.ncode && n < 64; i++) {
        sv s = t.code[i].symbols;
        if (!inside(&t, size, s) || t.code[i].modality < 0 || t.code[i].modality >= t.nmod) abort();
        for (size_t st = 0, j = 0; j <= s.n && n < 64; j++) {
            if (j < s.n && s.p[j] != '|') continue;
            own[n] = strndup(s.p + st, j - st);
            if (!own[n]) break;
            pats[n] = own[n];
            names[n++] = t.mod[t.code[i].modality].name;
            st = j + 1;
        }
    }
    ustack *u = ustack_create();
    size_t bad = 0;
    /* the table took only what the sensor compiles */
    if (u && !ustack_set_code(u, pats, names, n, &bad)) abort();
    ustack_destroy(u);
    for (size_t i = 0; i < n; i++) free(own[i]);
    sigtab_free(&t);
    return 0;
}
