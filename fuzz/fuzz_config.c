/* fuzz_config.c - libFuzzer target: --config files (cli/config.c). The parser
 * works in place on the text; invariants: every key it returns is a valid
 * option name and every pointer stays inside the text. */
#include <stdlib.h>
#include <string.h>

#include "../cli/common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *keys[64], *vals[64], err[128];
    int n = 0;
    if (cli_config_parse(text, size, keys, vals, 64, &n, err, sizeof err) == 0) {
        for (int i = 0; i < n; i++) {
            if (keys[i] < text || keys[i] > text + size) abort();
            if (vals[i] && (vals[i] < text || vals[i] > text + size)) abort();
            size_t kl = strlen(keys[i]);
            if (!kl || kl >= 64 || strspn(keys[i], "abcdefghijklmnopqrstuvwxyz0123456789-") != kl)
                abort();
        }
    } else if (!memchr(err, 0, sizeof err)) {
        abort();
    }
    free(text);
    return 0;
}
