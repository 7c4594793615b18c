/* pool.h - detect_pool.c's internals shared with tests (internal). */
#ifndef MODUS_DETECT_POOL_H
#define MODUS_DETECT_POOL_H

#include <stddef.h>

#include "modus/modus.h"

#include <stdbool.h>
#include <stdint.h>

/* the host of a raw JSON line, as a hash of its case-folded name; false: none */
bool pool_host(const char *line, size_t len, uint64_t *hash);
/* hash of its host % nlanes; 0 without a host */
unsigned pool_lane(const char *line, size_t len, unsigned nlanes);

/* detect.c: an alerter on base's compiled rules (base must outlive it) */
modus_status alerter_create_like(const modus_alerter *base, modus_alert_fn fn, void *ctx,
                                 modus_alerter **out);
/* detect.c: the bytes of a's value cache (detect_prefilter.c) */
void alerter_value_cache_limit(modus_alerter *a, size_t bytes);
/* detect.c: how many rules keep state across events (0: any thread may run
 * any event) */
size_t alerter_stateful(const modus_alerter *a);
/* detect.c: adds src's counts (profile, candidates, state) into dst */
void alerter_absorb(modus_alerter *dst, const modus_alerter *src);

#endif
