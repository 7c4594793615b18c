/* ruleset.c - rule files into compiled rules; the default pack; rule tests.
 *
 * A rule file is read whole (capped by MODUS_MAX_RULE_FILE). A .toml file is
 * parsed by the TOML shim (rule_toml.cpp: Elastic's endpoint rules and its SIEM
 * rules, whose non-EQL kinds are recorded as not applicable, counted apart);
 * a .yml/.yaml file by the Sigma compiler (sigma.c), one rule per document.
 * Either way the rule's query is EQL text, compiled by eql_parse.c, so every
 * format runs on the same engine. A failure at any step is reported with the
 * file's own line and column (a query error at line L, column C of the query
 * maps to the file through the position where the query string starts; a
 * Sigma document's errors carry its YAML node's position) and the offending
 * line of the file, then the rule is skipped: one bad rule never stops the
 * others.
 * A directory's .toml files are read and parsed on up to 8 threads (the
 * TOML parse is a third of loading 787 rules, and it is pure), then their
 * queries compiled and the rules added in name order on the caller's
 * thread: the rule set, its order and its errors are those of one thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../decode/event.h"
#include "eql_query.h"
#include "rule_toml.h"
#include "ruleset.h"
#include "sigma.h"
#include "sources.h"

extern const char *const modus_pack_names[];
extern const char *const modus_pack_texts[];
extern const size_t modus_pack_lens[];
extern const size_t modus_pack_count;

modus_status modus_ruleset_create(modus_ruleset **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return MODUS_ENOMEM;
    arena_init(&(*out)->asts, 1 << 16);
    return MODUS_OK;
}

void modus_ruleset_destroy(modus_ruleset *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++) {
        rule_src_free(&rs->r[i].src);
        modus_query_destroy(rs->r[i].q);
    }
    free(rs->r);
    arena_free(&rs->asts);
    for (size_t i = 0; i < rs->nskip; i++) {
        free(rs->skip[i].file);
        free(rs->skip[i].why);
    }
    free(rs->skip);
    sigma_map_free(rs->sigma);
    sources_free(rs->sources);
    free(rs);
}

size_t modus_ruleset_skipped(const modus_ruleset *rs)
{
    return rs->nskip;
}

void modus_ruleset_skipped_get(const modus_ruleset *rs, size_t i, const char **file,
                               const char **why)
{
    *file = i < rs->nskip ? rs->skip[i].file : NULL;
    *why = i < rs->nskip ? rs->skip[i].why : NULL;
}

static modus_status add_skipped(modus_ruleset *rs, const char *file, const char *why)
{
    if (rs->nskip == rs->capskip) {
        size_t cap = rs->capskip ? rs->capskip * 2 : 64;
        skipped_rule *v = realloc(rs->skip, sizeof *v * cap);
        if (!v) return MODUS_ENOMEM;
        rs->skip = v;
        rs->capskip = cap;
    }
    skipped_rule *k = &rs->skip[rs->nskip];
    k->file = strdup(file ? file : "");
    k->why = strdup(why);
    if (!k->file || !k->why) {
        free(k->file);
        free(k->why);
        return MODUS_ENOMEM;
    }
    rs->nskip++;
    return MODUS_OK;
}

size_t modus_ruleset_count(const modus_ruleset *rs)
{
    return rs->n;
}

static void report(modus_rule_error_fn cb, void *ctx, const char *file, const char *text,
                   size_t len, uint32_t line, uint32_t col, const char *msg)
{
    if (!cb) return;
    modus_diag d;
    memset(&d, 0, sizeof d);
    snprintf(d.file, sizeof d.file, "%s", file);
    d.line = line;
    d.column = col;
    snprintf(d.message, sizeof d.message, "%s", msg);
    /* the offending line */
    const char *p = text, *end = text + len;
    for (uint32_t l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    const char *e = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (!e) e = end;
    if (line && p < end) d.offset = (uint64_t)(p - text) + (col ? col - 1 : 0);
    cb(ctx, &d, line ? p : "", line ? (size_t)(e - p) : 0);
}

static modus_status push_rule(modus_ruleset *rs, rule *r)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        rule *v = realloc(rs->r, sizeof *v * cap);
        if (!v) return MODUS_ENOMEM;
        rs->r = v;
        rs->cap = cap;
    }
    rs->r[rs->n++] = *r;
    return MODUS_OK;
}

/* a .toml rule file read and parsed, to be added (add_parsed) */
typedef struct parsed {
    char *text; /* owned, unless the caller's */
    size_t len;
    const char *read_err; /* it could not be read: why (nothing else is set) */
    bool nomem;
    int rc; /* rule_toml_parse's: non-zero, the error el:ec msg */
    uint32_t el, ec;
    char msg[256];
    rule_src src;
} parsed;

static modus_status add_parsed(modus_ruleset *rs, const char *file, parsed *pr,
                               modus_rule_error_fn cb, void *ctx, size_t *loaded, size_t *failed)
{
    const char *text = pr->text;
    size_t len = pr->len;
    rule r;
    memset(&r, 0, sizeof r);
    if (pr->rc) {
        report(cb, ctx, file, text, len, pr->el, pr->ec, pr->msg);
        if (failed) (*failed)++;
        return MODUS_OK;
    }
    r.src = pr->src;
    if (r.src.not_applicable) { /* an Elastic SIEM rule that is not EQL: counted apart */
        modus_status st = add_skipped(rs, file, r.src.not_applicable);
        rule_src_free(&r.src);
        return st;
    }
    modus_diag qd;
    if (query_compile_in(&rs->asts, r.src.query, strlen(r.src.query), &r.q, &qd) != MODUS_OK) {
        uint32_t line = r.src.query_line + (uint32_t)(qd.line ? qd.line - 1 : 0);
        uint32_t col = qd.line <= 1 ? r.src.query_col + (uint32_t)(qd.column ? qd.column - 1 : 0)
                                    : (uint32_t)qd.column;
        report(cb, ctx, file, text, len, line, col, qd.message);
        rule_src_free(&r.src);
        if (failed) (*failed)++;
        return MODUS_OK;
    }
    if (r.src.n_indexes) { /* an Elastic SIEM rule: what modus reads of its indexes */
        if (!rs->sources) rs->sources = sources_load();
        if (rs->sources) r.src.sources = sources_of(rs->sources, r.src.indexes, r.src.n_indexes);
    }
    if (push_rule(rs, &r) != MODUS_OK) {
        rule_src_free(&r.src);
        modus_query_destroy(r.q);
        return MODUS_ENOMEM;
    }
    if (loaded) (*loaded)++;
    return MODUS_OK;
}

static void parse_text(const char *file, parsed *pr)
{
    memset(&pr->src, 0, sizeof pr->src);
    pr->rc = rule_toml_parse(file, pr->text, pr->len, &pr->src, &pr->el, &pr->ec, pr->msg,
                             sizeof pr->msg);
}

static modus_status add_text(modus_ruleset *rs, const char *file, const char *text, size_t len,
                             modus_rule_error_fn cb, void *ctx, size_t *loaded, size_t *failed)
{
    parsed pr = {.text = (char *)text, .len = len};
    parse_text(file, &pr);
    return add_parsed(rs, file, &pr, cb, ctx, loaded, failed);
}

/* ---- Sigma files ------------------------------------------------------------------- */

typedef struct sigma_ctx {
    modus_ruleset *rs;
    const char *file, *text;
    size_t len;
    modus_rule_error_fn cb;
    void *ctx;
    size_t *loaded, *failed;
} sigma_ctx;

static modus_status sigma_rule(void *arg, rule_src *src)
{
    sigma_ctx *c = arg;
    rule r;
    memset(&r, 0, sizeof r);
    r.src = *src;
    modus_diag qd;
    if (query_compile_in(&c->rs->asts, r.src.query, strlen(r.src.query), &r.q, &qd) != MODUS_OK) {
        /* the generated EQL should always compile: say what it was */
        char msg[256];
        size_t ql = strlen(r.src.query), at = qd.column ? (size_t)qd.column - 1 : 0;
        if (at > ql) at = ql;
        size_t from = at > 40 ? at - 40 : 0;
        snprintf(msg, sizeof msg,
                 "the EQL this rule compiles to does not compile: %.100s (EQL column %llu: "
                 "...%.60s)",
                 qd.message, (unsigned long long)qd.column, r.src.query + from);
        report(c->cb, c->ctx, c->file, c->text, c->len, r.src.query_line, r.src.query_col, msg);
        rule_src_free(&r.src);
        if (c->failed) (*c->failed)++;
        return MODUS_OK;
    }
    if (push_rule(c->rs, &r) != MODUS_OK) {
        rule_src_free(&r.src);
        modus_query_destroy(r.q);
        return MODUS_ENOMEM;
    }
    if (c->loaded) (*c->loaded)++;
    return MODUS_OK;
}

static void sigma_error(void *arg, uint32_t line, uint32_t col, const char *msg)
{
    sigma_ctx *c = arg;
    report(c->cb, c->ctx, c->file, c->text, c->len, line, col, msg);
    if (c->failed) (*c->failed)++;
}

static const rule_src *sigma_lookup(void *arg, const char *ref)
{
    const modus_ruleset *rs = ((sigma_ctx *)arg)->rs;
    for (size_t i = rs->n; i-- > 0;) {
        const rule_src *s = &rs->r[i].src;
        if (!s->logsource) continue;
        if ((s->id && !strcmp(s->id, ref)) || (s->sigma_name && !strcmp(s->sigma_name, ref)))
            return s;
    }
    return NULL;
}

modus_status modus_ruleset_sigma_mapping(modus_ruleset *rs, const char *path, modus_diag *diag)
{
    sigma_map *m;
    modus_status st = sigma_map_load(path, &m, diag);
    if (st != MODUS_OK) return st;
    sigma_map_free(rs->sigma);
    rs->sigma = m;
    return MODUS_OK;
}

static modus_status add_sigma(modus_ruleset *rs, const char *file, const char *text, size_t len,
                              modus_rule_error_fn cb, void *ctx, size_t *loaded, size_t *failed)
{
    if (!rs->sigma) {
        modus_status st = sigma_map_load(NULL, &rs->sigma, NULL);
        if (st != MODUS_OK) return st;
    }
    sigma_ctx c = {rs, file, text, len, cb, ctx, loaded, failed};
    sigma_sink sink = {&c, sigma_rule, sigma_error, sigma_lookup};
    return sigma_load(rs->sigma, file, text, len, &sink);
}

/* up to n bytes of fd into p, fewer at the end of the file or on an error */
static size_t read_full(int fd, char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

/* A rule file, whole, into pr->text (a buffer of its size, +1 to see it
 * grow, not of the limit: 4 MiB a file was an mmap, page faults and an
 * munmap per rule; read(2) straight into it: no stdio buffer, a fresh 4 KB
 * of heap per file); else pr->read_err or pr->nomem. */
static void read_rule_file(const char *path, parsed *pr)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pr->read_err = "cannot open the rule file";
        return;
    }
    struct stat sb;
    size_t want = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0 &&
                          (uint64_t)sb.st_size <= MODUS_MAX_RULE_FILE
                      ? (size_t)sb.st_size + 1
                      : MODUS_MAX_RULE_FILE + 1;
    char *text = malloc(want);
    size_t n = text ? read_full(fd, text, want) : 0;
    if (text && n == want && want <= MODUS_MAX_RULE_FILE) { /* it grew: read on to the limit */
        char *t = realloc(text, MODUS_MAX_RULE_FILE + 1);
        if (t) n += read_full(fd, t + n, MODUS_MAX_RULE_FILE + 1 - n);
        text = t ? t : text;
    }
    close(fd);
    if (!text) {
        pr->nomem = true;
    } else if (n > MODUS_MAX_RULE_FILE) {
        pr->read_err = "rule file larger than 4 MiB";
        free(text);
    } else {
        pr->text = text;
        pr->len = n;
    }
}

/* a parsed file (read_err, nomem or parsed) into the rule set; frees its text */
static modus_status add_read(modus_ruleset *rs, const char *path, parsed *pr,
                             modus_rule_error_fn cb, void *ctx, size_t *loaded, size_t *failed)
{
    if (pr->nomem) return MODUS_ENOMEM;
    if (pr->read_err) {
        report(cb, ctx, path, "", 0, 0, 0, pr->read_err);
        if (failed) (*failed)++;
        return MODUS_OK;
    }
    modus_status st = add_parsed(rs, path, pr, cb, ctx, loaded, failed);
    free(pr->text);
    pr->text = NULL;
    return st;
}

static modus_status add_file(modus_ruleset *rs, const char *path, modus_rule_error_fn cb, void *ctx,
                             size_t *loaded, size_t *failed)
{
    parsed pr;
    memset(&pr, 0, sizeof pr);
    read_rule_file(path, &pr);
    if (!pr.read_err && !pr.nomem && sigma_is_file(path)) {
        modus_status st = add_sigma(rs, path, pr.text, pr.len, cb, ctx, loaded, failed);
        free(pr.text);
        return st;
    }
    if (!pr.read_err && !pr.nomem) parse_text(path, &pr);
    return add_read(rs, path, &pr, cb, ctx, loaded, failed);
}

/* ---- a directory's .toml files, read and parsed on several threads ---------- */

typedef struct parse_job {
    char **names;
    parsed *pr; /* per name; NULL entries of `toml` are not ours */
    const bool *toml;
    size_t n;
    atomic_size_t next;
} parse_job;

static void *parse_worker(void *arg)
{
    parse_job *j = arg;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        if (!j->toml[i]) continue;
        read_rule_file(j->names[i], &j->pr[i]);
        if (!j->pr[i].read_err && !j->pr[i].nomem) parse_text(j->names[i], &j->pr[i]);
    }
    return NULL;
}

#define PARSE_THREADS_MAX 8
#define PARSE_MIN_FILES   32 /* fewer: one thread */

/* the .toml files among names[0..n) read and parsed into pr[] (toml[i]
 * marks them); false: not done (then each is read as it is added) */
static bool parse_all(char **names, const bool *toml, size_t n, parsed *pr)
{
    size_t files = 0;
    for (size_t i = 0; i < n; i++) files += toml[i];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nth = cpus > 1 ? (size_t)cpus : 1;
    if (nth > PARSE_THREADS_MAX) nth = PARSE_THREADS_MAX;
    if (files < PARSE_MIN_FILES || nth < 2) return false;
    parse_job j = {names, pr, toml, n, 0};
    pthread_t th[PARSE_THREADS_MAX];
    size_t started = 0;
    for (; started < nth - 1; started++)
        if (pthread_create(&th[started], NULL, parse_worker, &j)) break;
    parse_worker(&j); /* this thread too; it ends the work if no thread started */
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static modus_status add_dir(modus_ruleset *rs, const char *path, int depth, modus_rule_error_fn cb,
                            void *ctx, size_t *loaded, size_t *failed)
{
    if (depth > 32) return MODUS_OK;
    DIR *d = opendir(path);
    if (!d) {
        report(cb, ctx, path, "", 0, 0, 0, "cannot read the directory");
        if (failed) (*failed)++;
        return MODUS_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = realloc(names, sizeof *v * cap);
            if (!v) break;
            names = v;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) break;
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    /* which are directories and which .toml files; the files parsed first */
    unsigned char *kind = calloc(n ? n : 1, 1); /* 0 skip, 1 dir, 2 .toml, 3 Sigma */
    bool *toml = calloc(n ? n : 1, sizeof *toml);
    parsed *pr = calloc(n ? n : 1, sizeof *pr);
    bool pre = false;
    if (kind && toml && pr) {
        for (size_t i = 0; i < n; i++) {
            struct stat sb;
            if (stat(names[i], &sb) != 0) continue;
            if (S_ISDIR(sb.st_mode))
                kind[i] = 1;
            else if (S_ISREG(sb.st_mode) && sigma_is_file(names[i]))
                kind[i] = 3;
            else if (S_ISREG(sb.st_mode) && ends_with(names[i], ".toml"))
                kind[i] = 2;
            toml[i] = kind[i] == 2;
        }
        pre = parse_all(names, toml, n, pr);
    }
    modus_status st = kind && toml && pr ? MODUS_OK : MODUS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (st == MODUS_OK) {
            if (kind[i] == 1)
                st = add_dir(rs, names[i], depth + 1, cb, ctx, loaded, failed);
            else if (kind[i] == 2 && pre)
                st = add_read(rs, names[i], &pr[i], cb, ctx, loaded, failed);
            else if (kind[i] >= 2)
                st = add_file(rs, names[i], cb, ctx, loaded, failed);
        }
        if (pr && pr[i].text) { /* not added (an earlier error): dropped */
            if (!pr[i].rc) rule_src_free(&pr[i].src);
            free(pr[i].text);
        }
        free(names[i]);
    }
    free(kind);
    free(toml);
    free(pr);
    free(names);
    return st;
}

modus_status modus_ruleset_add_path(modus_ruleset *rs, const char *path, modus_rule_error_fn cb,
                                    void *ctx, size_t *loaded, size_t *failed)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        report(cb, ctx, path, "", 0, 0, 0, "no such file or directory");
        if (failed) (*failed)++;
        return MODUS_EIO;
    }
    if (S_ISDIR(sb.st_mode)) return add_dir(rs, path, 0, cb, ctx, loaded, failed);
    return add_file(rs, path, cb, ctx, loaded, failed);
}

modus_status modus_ruleset_add_default(modus_ruleset *rs, modus_rule_error_fn cb, void *ctx,
                                       size_t *loaded, size_t *failed)
{
    for (size_t i = 0; i < modus_pack_count; i++) {
        modus_status st = add_text(rs, modus_pack_names[i], modus_pack_texts[i], modus_pack_lens[i],
                                   cb, ctx, loaded, failed);
        if (st != MODUS_OK) return st;
    }
    return MODUS_OK;
}

/* ---- [modus] tests ------------------------------------------------------------ */

typedef struct rule_tests {
    mj_parser *p;
    mj_doc doc;
    char *buf;
    uint32_t arr; /* node of the tests array, 0 none */
} rule_tests;

static bool tests_open(const rule *r, rule_tests *t)
{
    memset(t, 0, sizeof *t);
    if (!r->src.modus_json) return false;
    size_t n = strlen(r->src.modus_json);
    t->buf = malloc(n + MJ_PADDING);
    t->p = mj_parser_create(MODUS_MAX_RULE_FILE, 64, 1u << 20);
    if (!t->buf || !t->p) return false;
    memcpy(t->buf, r->src.modus_json, n);
    memset(t->buf + n, ' ', MJ_PADDING);
    mj_error err;
    if (mj_parse(t->p, t->buf, n, NULL, &t->doc, &err)) return false;
    t->arr = mj_member(&t->doc, 0, "tests", 5);
    if (t->arr && t->doc.nodes[t->arr].type != MJ_ARRAY) t->arr = 0;
    return t->arr != 0;
}

static void tests_close(rule_tests *t)
{
    mj_doc_free(&t->doc);
    mj_parser_destroy(t->p);
    free(t->buf);
}

void modus_ruleset_rule(const modus_ruleset *rs, size_t i, modus_rule_info *out)
{
    const rule *r = &rs->r[i];
    memset(out, 0, sizeof *out);
    out->id = r->src.id;
    out->name = r->src.name;
    out->description = r->src.description;
    out->version = r->src.version;
    out->severity = r->src.severity;
    out->file = r->src.file;
    out->query = r->src.query;
    out->language = r->src.language;
    out->logsource = r->src.logsource;
    out->indexes = (const char *const *)r->src.indexes;
    out->nindexes = r->src.n_indexes;
    out->risk_score = r->src.risk_score;
    out->sources = r->src.sources;
    out->techniques = (const char *const *)r->src.technique_ids;
    out->ntechniques = r->src.n_technique_ids;
    rule_tests t;
    if (tests_open(r, &t)) out->ntests = t.doc.nodes[t.arr].count;
    tests_close(&t);
}

static void count_emit(void *ctx, const char *const *ev, const size_t *len, uint32_t n)
{
    (void)ev, (void)len, (void)n;
    (*(size_t *)ctx)++;
}

modus_status modus_ruleset_test(const modus_ruleset *rs, const modus_engine *e,
                                modus_rule_test_fn cb, void *ctx, size_t *passed, size_t *failed)
{
    modus_scanner *sc;
    if (modus_scanner_create(e, &sc) != MODUS_OK) return MODUS_ENOMEM;
    for (size_t i = 0; i < rs->n; i++) {
        rule_tests t;
        if (!tests_open(&rs->r[i], &t)) {
            tests_close(&t);
            continue;
        }
        const mj_doc *d = &t.doc;
        size_t k = 0;
        for (uint32_t c = d->nodes[t.arr].count ? t.arr + 1 : 0; c; c = d->nodes[c].next, k++) {
            sv expect = mj_str(d, mj_member(d, c, "expect", 6));
            sv event = mj_str(d, mj_member(d, c, "event", 5));
            bool many = false; /* events = NDJSON, one event a line, in order (sequences) */
            if (!event.p) {
                event = mj_str(d, mj_member(d, c, "events", 6));
                many = event.p != NULL;
            }
            bool want = sv_eq(expect, SV_LIT("match"));
            char why[400] = "";
            bool ok = false;
            if (!want && !sv_eq(expect, SV_LIT("no match"))) {
                snprintf(why, sizeof why, "expect must be \"match\" or \"no match\"");
            } else if (!event.p) {
                snprintf(why, sizeof why, "the test has no event");
            } else {
                char *ev = malloc(event.n + MODUS_PADDING);
                const modus_event *me;
                modus_diag dd;
                modus_query_run *run = NULL;
                size_t hits = 0;
                if (!ev) return MODUS_ENOMEM;
                memcpy(ev, event.p, event.n);
                memset(ev + event.n, ' ', MODUS_PADDING);
                bool bad = false;
                const char *last_modality = "unknown";
                if (modus_query_run_create(rs->r[i].q, count_emit, &hits, &run) == MODUS_OK) {
                    size_t at = 0, line = 0;
                    while (at < event.n && !bad) {
                        size_t end = event.n;
                        if (many) {
                            const char *nl = memchr(ev + at, '\n', event.n - at);
                            if (nl) end = (size_t)(nl - ev);
                        }
                        size_t b = at, len = end - at;
                        at = end + 1;
                        line++;
                        while (len && (ev[b] == ' ' || ev[b] == '\r' || ev[b] == '\t')) b++, len--;
                        if (!len) continue;
                        if (modus_scanner_decode(sc, ev + b, len, &me, &dd) != MODUS_OK) {
                            snprintf(why, sizeof why,
                                     "test event %zu is not valid JSON: %s (column %llu)", line,
                                     dd.message, (unsigned long long)dd.column);
                            bad = true;
                            break;
                        }
                        last_modality = modus_event_modality(me);
                        modus_query_run_event(run, me);
                    }
                    if (!bad) {
                        modus_query_run_finish(run);
                        ok = (hits > 0) == want;
                        if (!ok)
                            snprintf(why, sizeof why, "expected %s, got %s (modality %s)",
                                     want ? "a match" : "no match", hits ? "a match" : "none",
                                     last_modality);
                    }
                }
                modus_query_run_destroy(run);
                free(ev);
            }
            if (ok)
                (*passed)++;
            else
                (*failed)++;
            if (cb) cb(ctx, i, k, ok, why);
        }
        tests_close(&t);
    }
    modus_scanner_destroy(sc);
    return MODUS_OK;
}
