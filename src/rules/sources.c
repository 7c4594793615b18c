/* sources.c - which data modus reads an Elastic index pattern holds.
 *
 * data/sources.conf (embedded) lists `index GLOB SOURCE reason` lines, the
 * first match winning. A SIEM rule's index patterns are matched one by one
 * (an index pattern is itself a glob: "logs-endpoint.events.process-*" is
 * matched as text against the table's globs) and the distinct sources kept.
 */
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/table.h"
#include "sources.h"

extern const char modus_sources_conf[];
extern const size_t modus_sources_conf_len;

typedef struct src_line {
    sv glob, source;
} src_line;

struct sources_tab {
    char *text;
    src_line *l;
    size_t n;
};

sources_tab *sources_load(void)
{
    sources_tab *t = calloc(1, sizeof *t);
    size_t len;
    if (!t || !(t->text = table_text(NULL, modus_sources_conf, modus_sources_conf_len, 0, &len))) {
        free(t);
        return NULL;
    }
    size_t cap = 0;
    sv line;
    for (size_t pos = 0; table_line(t->text, len, &pos, &line);) {
        sv kw = table_word(&line);
        if (!sv_eq(kw, SV_LIT("index"))) continue;
        src_line l;
        l.glob = table_word(&line);
        l.source = table_word(&line);
        if (l.glob.n && l.source.n && !table_push((void **)&t->l, &t->n, &cap, &l, sizeof l)) break;
    }
    return t;
}

void sources_free(sources_tab *t)
{
    if (!t) return;
    free(t->text);
    free(t->l);
    free(t);
}

char *sources_of(const sources_tab *t, char *const *indexes, size_t n)
{
    bool used[64] = {false};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < t->n && k < 64; k++)
            if (sv_glob(t->l[k].glob, sv_cstr(indexes[i]))) {
                used[k] = true;
                break;
            }
    buf b = {0};
    for (size_t k = 0; k < t->n && k < 64; k++) {
        if (!used[k] || sv_eq(t->l[k].source, SV_LIT("-"))) continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = used[j] && sv_eq(t->l[j].source, t->l[k].source);
        if (dup) continue;
        if (b.n) buf_putc(&b, ',');
        buf_putsv(&b, t->l[k].source);
    }
    buf_putc(&b, 0);
    char *s = b.oom ? NULL : strdup(b.p);
    buf_free(&b);
    return s;
}
