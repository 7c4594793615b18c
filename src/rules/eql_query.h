/* eql_query.h - a compiled query (the public modus_query); its runtime is
 * src/detect/detect_query.h. */
#ifndef MODUS_EQL_QUERY_H
#define MODUS_EQL_QUERY_H

#include "modus/modus.h"
#include "eql.h"

/* the public modus_query: a compiled query and the arena of its AST */
struct modus_query {
    arena a; /* empty when the AST lives in the caller's arena */
    eql_query *q;
};

/* modus_query_compile with the AST in `asts`, which must outlive the query
 * (a failed compile may leave some of its nodes there) */
modus_status query_compile_in(arena *asts, const char *text, size_t len, modus_query **out,
                              modus_diag *diag);

#endif
