/* eql_query.h - a compiled query (the public modus_query); its runtime is
 * src/detect/detect_query.h. */
#ifndef MODUS_EQL_QUERY_H
#define MODUS_EQL_QUERY_H

#include "modus/modus.h"
#include "eql.h"

/* the public modus_query: a compiled query and the arena of its AST */
struct modus_query {
    arena a;
    eql_query *q;
};

#endif
