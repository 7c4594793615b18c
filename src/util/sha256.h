/* sha256.h - SHA-256 (FIPS 180-4), for identifiers that must be the same
 * wherever they are computed: alert ids (src/output/out_alert.c). */
#ifndef MODUS_SHA256_H
#define MODUS_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t block[64];
    size_t nblock;
} sha256;

void sha256_init(sha256 *s);
void sha256_update(sha256 *s, const void *p, size_t n);
void sha256_final(sha256 *s, uint8_t out[32]);

#endif
