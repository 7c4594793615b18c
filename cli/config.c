/* config.c - `--config FILE`: a command's long options read from a file, so a
 * systemd unit needs no long command line (/etc/modus/live.conf...).
 *
 * Grammar, one option per line:
 *     # a comment (also after a value: " #" starts one)
 *     publish = nats://10.0.0.1:4222,10.0.0.2:4222
 *     all-events              (an option without a value)
 *     rules = /etc/modus/rules     (repeatable options repeat)
 * Keys are the command's long options without "--"; "key = value" and
 * "key value" both work; values are taken as they are, to the end of the
 * line (surrounding blanks and one pair of double quotes removed). The
 * file's options go before the command line's, so the command line wins
 * for options given once. A line that is not an option is an error with
 * its file and line; the command's own parser rejects unknown keys.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MAX_CONFIG_BYTES (1u << 20)
#define MAX_CONFIG_ARGS  512

static char **cfg_argv;
static char *cfg_text, *cfg_vals;

static void cfg_free(void)
{
    free(cfg_argv);
    free(cfg_text);
    free(cfg_vals);
}

int cli_config_parse(char *text, size_t len, char **keys, char **vals, int max, int *n, char *err,
                     size_t cap)
{
    *n = 0;
    unsigned line = 0;
    for (size_t b = 0; b < len;) {
        size_t e = b;
        while (e < len && text[e] != '\n') e++;
        line++;
        char *s = text + b, *end = text + e;
        *end = 0; /* the line, NUL-terminated in place */
        b = e + 1;
        for (char *h = s; *h; h++) /* a comment: at the start or after a blank */
            if (*h == '#' && (h == s || h[-1] == ' ' || h[-1] == '\t')) {
                *h = 0;
                end = h;
                break;
            }
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
        if (!*s) continue;
        char *k = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '=') s++;
        size_t kl = (size_t)(s - k);
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '=') s++;
        while (*s == ' ' || *s == '\t') s++;
        size_t vl = strlen(s);
        if (vl >= 2 && s[0] == '"' && s[vl - 1] == '"') {
            s[vl - 1] = 0;
            s++;
        }
        bool keyok = kl > 0 && kl < 64 && k[0] != '-';
        for (size_t i = 0; keyok && i < kl; i++)
            keyok = (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-';
        if (!keyok) {
            snprintf(err, cap, "line %u: expected 'option = value' or 'option'", line);
            return -1;
        }
        if (*n >= max) {
            snprintf(err, cap, "line %u: too many options (at most %d)", line, max);
            return -1;
        }
        k[kl] = 0;
        keys[*n] = k;
        vals[(*n)++] = *s ? s : NULL;
    }
    return 0;
}

int cli_config(int *argc, char ***argv)
{
    int at = -1;
    const char *path = NULL;
    for (int i = 2; i < *argc; i++) {
        if (!strcmp((*argv)[i], "--")) break;
        if (!strcmp((*argv)[i], "--config")) {
            if (i + 1 >= *argc) {
                cli_error("--config needs a file");
                return EXIT_USAGE;
            }
            at = i;
            path = (*argv)[i + 1];
            break;
        }
        if (!strncmp((*argv)[i], "--config=", 9)) {
            at = i;
            path = (*argv)[i] + 9;
            break;
        }
    }
    if (at < 0) return EXIT_OK;
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    char *text = malloc(MAX_CONFIG_BYTES + 1);
    size_t len = text ? fread(text, 1, MAX_CONFIG_BYTES + 1, f) : 0;
    fclose(f);
    if (!text || len > MAX_CONFIG_BYTES) {
        cli_error("%s: larger than 1 MiB", path);
        free(text);
        return EXIT_USAGE;
    }
    text[len] = 0;
    char *keys[MAX_CONFIG_ARGS], *vals[MAX_CONFIG_ARGS], err[128];
    int n = 0;
    if (cli_config_parse(text, len, keys, vals, MAX_CONFIG_ARGS, &n, err, sizeof err) != 0) {
        cli_error("%s: %s", path, err);
        free(text);
        return EXIT_USAGE;
    }
    /* argv[0], the command and its subcommand words (baseline learn), the
     * file's options (--key [value]), then the rest of the command line
     * without --config FILE */
    int skip = !strcmp((*argv)[at], "--config") ? 2 : 1;
    int words = 2;
    while (words < at && (*argv)[words][0] != '-') words++;
    size_t keybytes = 0;
    for (int i = 0; i < n; i++) keybytes += strlen(keys[i]) + 3;
    cfg_argv = calloc((size_t)(*argc + 2 * n + 1), sizeof *cfg_argv);
    cfg_text = malloc(keybytes + 1);
    if (!cfg_argv || !cfg_text) {
        free(text);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    int k = 0;
    for (int i = 0; i < words; i++) cfg_argv[k++] = (*argv)[i];
    char *w = cfg_text;
    size_t vbytes = 0;
    for (int i = 0; i < n; i++) vbytes += vals[i] ? strlen(vals[i]) + 1 : 0;
    char *vbuf = malloc(vbytes + 1), *vw = vbuf;
    if (!vbuf) {
        free(text);
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    for (int i = 0; i < n; i++) {
        size_t l = strlen(keys[i]);
        w[0] = '-';
        w[1] = '-';
        memcpy(w + 2, keys[i], l + 1);
        cfg_argv[k++] = w;
        w += l + 3;
        if (vals[i]) {
            size_t vl = strlen(vals[i]);
            memcpy(vw, vals[i], vl + 1);
            cfg_argv[k++] = vw;
            vw += vl + 1;
        }
    }
    free(text);
    for (int i = words; i < *argc; i++)
        if (i < at || i >= at + skip) cfg_argv[k++] = (*argv)[i];
    cfg_argv[k] = NULL;
    *argc = k;
    *argv = cfg_argv;
    cfg_vals = vbuf;
    atexit(cfg_free);
    return EXIT_OK;
}
