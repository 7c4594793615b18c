/* prog_check.h - random where clauses x random events: the compiled program
 * (src/detect/detect_program.c over the shared predicate table) must give
 * the tree walker's (eql_eval) answer, null included. Shared by the unit test
 * (tests/unit/test_program.c, seeded) and the libFuzzer target
 * (fuzz/fuzz_program.c, which drives the choices with its input).
 *
 * The bytes choose: a clause of up to depth 4 over three fields, with every
 * operator the compiler turns into leaves (==, !=, :, like, like~, regex,
 * regex~, in, in~, not in, startsWith..., wildcard, == null, != null) and
 * some it leaves to the tree walker (field-to-field, length(), numbers), and
 * four events whose fields are missing, null, strings, arrays of strings,
 * mixed arrays, numbers, booleans or objects.
 */
#ifndef MODUS_PROG_CHECK_H
#define MODUS_PROG_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/json.h"
#include "detect/program.h"
#include "rules/eql.h"
#include "util/buf.h"

typedef struct pc_in {
    const unsigned char *p;
    size_t n, at;
} pc_in;

static unsigned pc_pick(pc_in *in, unsigned n)
{
    unsigned v = in->at < in->n ? in->p[in->at++] : 0;
    return n ? v % n : 0;
}

static const char *const pc_fields[] = {"a", "b.c", "d"};
static const char *const pc_strs[] = {
    "x",           "X",    "abc", "ABC", "", "C:\\\\Win\\\\x.exe", "c:\\\\win\\\\X.EXE",
    "hello world", "te*t", "aXc"};
static const char *const pc_pats[] = {
    "x*",  "*x",  "*b*", "a?c",     "?:\\\\win*", "*.exe",          "*",    "?*",
    "abc", "ABC", "*bc", "hel*wo*", "te*t",       "c:\\\\win\\\\*", "*o w*"};
static const char *const pc_res[] = {"a.c", "x+", ".*exe", "[a-c]+", "hello.*"};

static void pc_str(pc_in *in, buf *b, const char *const *pool, unsigned n)
{
    buf_printf(b, "\"%s\"", pool[pc_pick(in, n)]);
}

static void pc_expr(pc_in *in, buf *b, int depth)
{
    unsigned k = pc_pick(in, depth < 4 ? 23 : 20);
    const char *f = pc_fields[pc_pick(in, 3)];
    switch (k) {
    case 0: buf_printf(b, "%s == ", f), pc_str(in, b, pc_strs, 10); break;
    case 1: buf_printf(b, "%s != ", f), pc_str(in, b, pc_strs, 10); break;
    case 2:
        buf_printf(b, "%s : (", f), pc_str(in, b, pc_pats, 15);
        buf_puts(b, ", "), pc_str(in, b, pc_strs, 10);
        if (pc_pick(in, 2)) /* three patterns: the tree walker's memo keeps such lists */
            buf_puts(b, ", "), pc_str(in, b, pc_pats, 15);
        buf_puts(b, ")");
        break;
    case 3: buf_printf(b, "%s like ", f), pc_str(in, b, pc_pats, 15); break;
    case 4: buf_printf(b, "%s like~ ", f), pc_str(in, b, pc_pats, 15); break;
    case 5: buf_printf(b, "%s regex ", f), pc_str(in, b, pc_res, 5); break;
    case 6: buf_printf(b, "%s regex~ ", f), pc_str(in, b, pc_res, 5); break;
    case 7:
        buf_printf(b, "%s in (", f), pc_str(in, b, pc_strs, 10);
        buf_puts(b, ", "), pc_str(in, b, pc_strs, 10), buf_puts(b, ")");
        break;
    case 8: buf_printf(b, "%s in~ (", f), pc_str(in, b, pc_strs, 10), buf_puts(b, ")"); break;
    case 9: buf_printf(b, "%s not in (", f), pc_str(in, b, pc_strs, 10), buf_puts(b, ")"); break;
    case 10:
        buf_printf(b, "%s(%s, ", pc_pick(in, 2) ? "startsWith" : "startsWith~", f);
        pc_str(in, b, pc_strs, 10), buf_puts(b, ")");
        break;
    case 11:
        buf_printf(b, "%s(%s, ", pc_pick(in, 2) ? "endsWith" : "endsWith~", f);
        pc_str(in, b, pc_strs, 10), buf_puts(b, ")");
        break;
    case 12:
        buf_printf(b, "%s(%s, ", pc_pick(in, 2) ? "stringContains" : "stringContains~", f);
        pc_str(in, b, pc_strs, 10), buf_puts(b, ")");
        break;
    case 13:
        buf_printf(b, "%s(%s, ", pc_pick(in, 2) ? "wildcard" : "wildcard~", f);
        pc_str(in, b, pc_pats, 15), buf_puts(b, ")");
        break;
    case 14: buf_printf(b, "%s %s null", f, pc_pick(in, 2) ? "==" : "!="); break;
    case 15: buf_printf(b, "%s == %s", f, pc_fields[pc_pick(in, 3)]); break;
    case 16: buf_printf(b, "length(%s) > 2", f); break;
    case 17: buf_printf(b, "%s == 5", f); break;
    case 18: buf_puts(b, pc_pick(in, 3) == 0 ? "true" : pc_pick(in, 2) ? "false" : "null"); break;
    case 19: /* a residual the witnesses evaluate with the tree walker */
        buf_printf(b, "arraySearch(%s, $x, $x : ", f), pc_str(in, b, pc_pats, 15), buf_puts(b, ")");
        break;
    case 20:
    case 21:
        buf_puts(b, "(");
        pc_expr(in, b, depth + 1);
        buf_puts(b, k == 20 ? " and " : " or ");
        pc_expr(in, b, depth + 1);
        buf_puts(b, ")");
        break;
    default:
        buf_puts(b, "not (");
        pc_expr(in, b, depth + 1);
        buf_puts(b, ")");
    }
}

static void pc_value(pc_in *in, buf *b)
{
    switch (pc_pick(in, 8)) {
    case 0: buf_puts(b, "null"); break;
    case 1:
    case 2: pc_str(in, b, pc_strs, 10); break;
    case 3: {
        unsigned n = pc_pick(in, 4);
        buf_puts(b, "[");
        for (unsigned i = 0; i < n; i++) buf_puts(b, i ? "," : ""), pc_str(in, b, pc_strs, 10);
        buf_puts(b, "]");
        break;
    }
    case 4: buf_puts(b, "["), pc_str(in, b, pc_strs, 10), buf_puts(b, ",5]"); break;
    case 5: buf_puts(b, "5"); break;
    case 6: buf_puts(b, "true"); break;
    default: buf_puts(b, "{}");
    }
}

/* an event: each field missing or with a value */
static void pc_event(pc_in *in, buf *b)
{
    buf_puts(b, "{\"event\":{\"category\":\"process\"}");
    if (pc_pick(in, 4)) buf_puts(b, ",\"a\":"), pc_value(in, b);
    if (pc_pick(in, 4)) {
        if (pc_pick(in, 3))
            buf_puts(b, ",\"b\":{\"c\":"), pc_value(in, b), buf_puts(b, "}");
        else
            buf_puts(b, ",\"b.c\":"), pc_value(in, b); /* a flattened key */
    }
    if (pc_pick(in, 4)) buf_puts(b, ",\"d\":"), pc_value(in, b);
    buf_puts(b, "}");
}

/* events on which a clause with witnesses was true (the witness check ran) */
static unsigned long pc_witnessed;

/* 0: the program agrees on every event; 1: it does not (printed); -1: the
 * clause did not compile (it always should) or out of memory */
static int prog_check(const unsigned char *data, size_t size, bool verbose)
{
    pc_in in = {data, size, 0};
    buf q = {0};
    buf_puts(&q, "any where ");
    pc_expr(&in, &q, 0);
    arena a;
    arena_init(&a, 1 << 12);
    eql_error err;
    eql_query *eq = eql_compile(&a, q.p, q.n, &err);
    int rc = -1;
    prefilter pf;
    pf_scratch ps = {0};
    pf_prog prog;
    mj_parser *parser = mj_parser_create(1 << 20, 64, 1 << 12);
    eql_cache cache = {0}, mcache = {0}; /* mcache: with the pattern-list memo */
    (void)eql_cache_memo(&mcache);
    uint64_t *cand = NULL, *late = NULL;
    bool pf_ok = prefilter_init(&pf, 1, false);
    if (!eq) {
        if (verbose) fprintf(stderr, "does not compile: %.*s: %s\n", (int)q.n, q.p, err.msg);
        goto out;
    }
    /* the rule's prefilter conditions too: a test field whose path the
     * prefilter reads is matched by it (link_fields) */
    if (!pf_ok || !parser || !prog_compile(&pf, &a, eq->stages[0].where, &prog)) goto out;
    (void)prefilter_add(&pf, eq, 0, 0); /* false: no condition (not an error) */
    if (!prefilter_build(&pf) || !pf_scratch_init(&pf, &ps)) goto out;
    /* its witnesses: some member of each clause holds wherever it is true */
    pf_witness wit;
    bool has_wit = prog_witness(&pf, &a, &prog, &wit);
    cand = calloc(2 * pf.nwords, sizeof *cand);
    late = calloc(2 * pf.nwords, sizeof *late);
    if (!cand || !late) goto out;
    rc = 0;
    for (int e = 0; e < 4 && rc == 0; e++) {
        buf ev = {0};
        pc_event(&in, &ev);
        size_t len = ev.n;
        for (int i = 0; i < MJ_PADDING; i++) buf_puts(&ev, " ");
        mj_doc doc = {0};
        mj_error jerr;
        /* three times: a string is recorded in the value cache on its second
         * sighting and replayed from it on the third */
        for (int pass = 0; pass < 3 && rc == 0 && !ev.oom; pass++) {
            if (!mj_parse(parser, ev.p, len, NULL, &doc, &jerr)) {
                cache.gen++;
                memset(cand, 0, 2 * pf.nwords * sizeof *cand);
                memset(late, 0, 2 * pf.nwords * sizeof *late);
                prefilter_event(&pf, &doc, &cache, NULL, cand, late, &ps);
                arena scratch;
                arena_init(&scratch, 1 << 10);
                eql_val vars[64];
                eql_ctx c = {&doc, &scratch, vars, NULL, NULL, &cache};
                eql_val v = eql_eval(&c, eq->stages[0].where);
                int want = v.t == V_NULL ? -1 : eql_true(v);
                mcache.gen++;
                eql_ctx mc = {&doc, &scratch, vars, NULL, NULL, &mcache};
                eql_val mv = eql_eval(&mc, eq->stages[0].where);
                int mwant = mv.t == V_NULL ? -1 : eql_true(mv);
                if (mwant != want) {
                    if (verbose)
                        fprintf(stderr, "tree walker with the memo %d, without %d: %.*s on %.*s\n",
                                mwant, want, (int)q.n, q.p, (int)len, ev.p);
                    rc = 1;
                }
                pc_witnessed += want == 1 && has_wit;
                if (want == 1 && has_wit && !prog_witness_holds(&wit, &pf, &ps, &c)) {
                    if (verbose)
                        fprintf(stderr, "witnesses miss a true clause: %.*s on %.*s\n", (int)q.n,
                                q.p, (int)len, ev.p);
                    rc = 1;
                }
                int got = prog_run(&prog, &pf, &ps, &c);
                if (got != want) {
                    if (verbose)
                        fprintf(stderr, "program %d, tree walker %d: %.*s on %.*s\n", got, want,
                                (int)q.n, q.p, (int)len, ev.p);
                    rc = 1;
                }
                arena_free(&scratch);
            }
            mj_doc_free(&doc);
        }
        buf_free(&ev);
    }
out:
    free(cand);
    free(late);
    eql_cache_free(&cache);
    eql_cache_free(&mcache);
    mj_parser_destroy(parser);
    pf_scratch_free(&ps);
    if (pf_ok) prefilter_free(&pf);
    if (eq) eql_query_free(eq);
    arena_free(&a);
    buf_free(&q);
    return rc;
}

#endif
